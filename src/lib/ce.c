/*
 * ce.c: read CloudEvent lines (structured and binary shapes) and binary-mode
 * HTTP requests; write events as structured or binary lines.
 *
 * One pass validates the line (json.c) and records where its members are;
 * attributes are decoded into ev->strs, data stays a span of the input. The
 * rules are those of vcpipe-formats(5), "Reading CloudEvent lines".
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ce.h"

/* with their lengths: every member of every line is looked up here */
#define NAME(s) { s, sizeof(s) - 1 }
static const struct {
	const char *s;
	size_t n;
} reserved[] = {
	NAME("specversion"), NAME("id"), NAME("source"), NAME("type"),
	NAME("subject"), NAME("time"), NAME("datacontenttype"),
	NAME("dataschema"), NAME("data"), NAME("data_base64"),
	NAME("eventkey"), NAME("deadletter")
};
#undef NAME

/* ---- rules ----------------------------------------------------------------- */

int
ce_ext_name_ok(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
			return 0;
	return 1;
}

int
ce_name_reserved(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (reserved[i].n == n && memcmp(reserved[i].s, s, n) == 0)
			return 1;
	return 0;
}

/* RFC 3986 URI-reference characters: what the SDKs' uri-reference check allows. */
int
ce_uri_ok(const char *s, size_t n)
{
	static const char extra[] = "-._~:/?#[]@!$&'()*+,;=%";

	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || (c != '\0' && strchr(extra, c)))
			continue;
		return 0;
	}
	return 1;
}

int
ce_time_ok(const char *s, size_t n)
{
	char buf[64];
	int64_t sec;
	int32_t nsec;

	if (n < 20 || n >= sizeof(buf) || s[10] != 'T' || s[n - 1] == 'z')
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return vp_parse_rfc3339(buf, &sec, &nsec) == 0;
}

int
ce_int32(const char *p, size_t n, long *out)
{
	const char *d = p;
	long long v = 0;
	int neg = 0;

	if (n > 0 && *d == '-') {
		neg = 1;
		d++;
		n--;
	}
	/* "0", or digits without a leading zero; "-0" is not canonical */
	if (n == 0 || n > 10 || (d[0] == '0' && (n > 1 || neg)))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (d[i] < '0' || d[i] > '9')
			return -1;
		v = v * 10 + (d[i] - '0');
	}
	if (neg)
		v = -v;
	if (v < INT32_MIN || v > INT32_MAX)
		return -1;
	*out = (long)v;
	return 0;
}

/* The media type of s without parameters and surrounding blanks. */
static void
media_base(const char *s, size_t n, const char **b, size_t *k)
{
	size_t i = 0, e;

	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	e = i;
	while (e < n && s[e] != ';')
		e++;
	while (e > i && (s[e - 1] == ' ' || s[e - 1] == '\t'))
		e--;
	*b = s + i;
	*k = e - i;
}

int
ce_media_is(const char *s, size_t n, const char *want)
{
	const char *b;
	size_t k;

	media_base(s, n, &b, &k);
	return k == strlen(want) && strncasecmp(b, want, k) == 0;
}

int
ce_media_is_json(const char *s, size_t n)
{
	const char *b;
	size_t k;

	media_base(s, n, &b, &k);
	return (k == 16 && strncasecmp(b, "application/json", 16) == 0) ||
	    (k == 9 && strncasecmp(b, "text/json", 9) == 0) ||
	    (k > 5 && strncasecmp(b + k - 5, "+json", 5) == 0);
}

/* Text that a JSON string can carry: text types, XML. */
static int
media_is_text(const char *s, size_t n)
{
	const char *b;
	size_t k;

	media_base(s, n, &b, &k);
	return (k > 5 && strncasecmp(b, "text/", 5) == 0) ||
	    (k == 15 && strncasecmp(b, "application/xml", 15) == 0) ||
	    (k > 4 && strncasecmp(b + k - 4, "+xml", 4) == 0);
}

/* ---- events ---------------------------------------------------------------- */

/* Buffers allocated from the start: no NULL data pointers to special-case. */
static void
alloc_bufs(struct ce_event *ev)
{
	struct vp_buf *bufs[] = { &ev->strs, &ev->names, &ev->name, &ev->tmp,
	    &ev->data, &ev->bodybuf, &ev->hbuf, &ev->textbuf, &ev->ebody };

	for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
		vp_buf_append(bufs[i], "", 0);
}

void
ce_event_init(struct ce_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	alloc_bufs(ev);
}

void
ce_event_free(struct ce_event *ev)
{
	vp_buf_free(&ev->strs);
	vp_buf_free(&ev->names);
	vp_buf_free(&ev->name);
	vp_buf_free(&ev->tmp);
	vp_buf_free(&ev->data);
	vp_buf_free(&ev->bodybuf);
	vp_buf_free(&ev->hbuf);
	vp_buf_free(&ev->textbuf);
	vp_buf_free(&ev->ebody);
	free(ev->m);
	free(ev->ext);
	free(ev->hdr);
	memset(ev, 0, sizeof(*ev));
}

enum ce_result
ce_bad(struct ce_event *ev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ev->err, sizeof(ev->err), fmt, ap);
	va_end(ap);
	return CE_BAD;
}

/* s as a JSON string literal for a message, cut short when long. */
static const char *
quoted(char *buf, size_t cap, const char *s, size_t n)
{
	struct vp_buf b = { 0 };

	js_quote(&b, s, n < 64 ? n : 64);
	if (n > 64)
		vp_buf_append(&b, "...", 3);
	snprintf(buf, cap, "%s", b.data);
	vp_buf_free(&b);
	return buf;
}

void
ce_clear(struct ce_event *ev)
{
	vp_buf_reset(&ev->strs);
	ev->next = 0;
	ev->id.set = ev->source.set = ev->type.set = ev->subject.set = 0;
	ev->time.set = ev->dct.set = ev->dataschema.set = 0;
	ev->has_key = 0;
	ev->key = 0;
	ev->dkind = CE_DATA_NONE;
	ev->dp = NULL;
	ev->dlen = 0;
	ev->dstring = 0;
	ev->nhdr = 0;
	vp_buf_reset(&ev->hbuf);
	ev->body = NULL;
	ev->body_len = 0;
}

static void
reset(struct ce_event *ev)
{
	if (ev->strs.data == NULL)	/* a zeroed struct, never initialised */
		alloc_bufs(ev);
	ev->err[0] = '\0';
	ev->shape = CE_SHAPE_STRUCTURED;
	ev->object = ev->record = 0;
	ev->text = NULL;
	ev->text_len = 0;
	ev->nm = 0;
	vp_buf_reset(&ev->names);
	ce_clear(ev);
}

struct ce_str *
ce_attr(struct ce_event *ev, const char *n, size_t nl)
{
	static const struct {
		const char *name;
		size_t off;
	} attrs[] = {
		{ "id", offsetof(struct ce_event, id) },
		{ "source", offsetof(struct ce_event, source) },
		{ "type", offsetof(struct ce_event, type) },
		{ "subject", offsetof(struct ce_event, subject) },
		{ "time", offsetof(struct ce_event, time) },
		{ "dataschema", offsetof(struct ce_event, dataschema) },
		{ "datacontenttype", offsetof(struct ce_event, dct) },
	};

	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
		if (strlen(attrs[i].name) == nl &&
		    memcmp(attrs[i].name, n, nl) == 0)
			return (struct ce_str *)((char *)ev + attrs[i].off);
	return NULL;
}

char *
ce_strdup(const struct ce_event *ev, const struct ce_str *s)
{
	char *p;

	if (!s->set)
		return NULL;
	p = vp_xmalloc(s->len + 1);
	memcpy(p, CE_S(ev, *s), s->len);
	p[s->len] = '\0';
	return p;
}

int
ce_record_text(const struct ce_event *ev, const char **p, size_t *n)
{
	if (!ev->object || ce_member(ev, "deadletter") != NULL)
		return 0;
	*p = ev->text;
	*n = ev->text_len;
	return 1;
}

/* ---- attribute values -------------------------------------------------------- */

void
ce_set_str(struct ce_event *ev, struct ce_str *s, const char *p, size_t n)
{
	s->off = ev->strs.len;
	s->len = n;
	s->set = 1;
	js_put(&ev->strs, p, n);
}

static void
str_decode(struct ce_event *ev, struct ce_str *s, const struct js_span *v)
{
	s->off = ev->strs.len;
	js_decode_string(v, &ev->strs);
	s->len = ev->strs.len - s->off;
	s->set = 1;
}

static int
has_nul(const char *p, size_t n)
{
	return memchr(p, '\0', n) != NULL;
}

/*
 * The index of the member named name (n bytes), or ev->nm when there is
 * none. Several names have the same length ("type", "time", "data"): the
 * first byte settles most of them without a memcmp call.
 */
static size_t
member_index(const struct ce_event *ev, const char *name, size_t n)
{
	size_t i;

	for (i = 0; i < ev->nm; i++) {
		const char *mn = ev->names.data + ev->m[i].noff;

		if (ev->m[i].nlen == n && (n == 0 || (mn[0] == name[0] &&
		    memcmp(mn, name, n) == 0)))
			break;
	}
	return i;
}

static const struct js_span *
member_n(const struct ce_event *ev, const char *name, size_t n)
{
	size_t i = member_index(ev, name, n);

	return i < ev->nm ? &ev->m[i].v : NULL;
}

/* A member named by a string literal. */
#define MEMBER(ev, lit) member_n(ev, lit, sizeof(lit) - 1)

const struct js_span *
ce_member(const struct ce_event *ev, const char *name)
{
	return member_n(ev, name, strlen(name));
}

enum ce_result
ce_get_string(struct ce_event *ev, const char *name, struct ce_str *s,
    int required, int allow_empty)
{
	const struct js_span *v = ce_member(ev, name);

	s->set = 0;
	if (v == NULL || (!required && v->type == JS_NULL)) {
		if (required)
			return ce_bad(ev, "missing \"%s\"", name);
		return CE_OK;
	}
	if (v->type != JS_STRING)
		return ce_bad(ev, "\"%s\" is not a string", name);
	str_decode(ev, s, v);
	if (s->len == 0 && !allow_empty)
		return ce_bad(ev, "\"%s\" is empty", name);
	if (has_nul(CE_S(ev, *s), s->len))
		return ce_bad(ev, "\"%s\" contains NUL", name);
	return CE_OK;
}

void
ce_add_ext(struct ce_event *ev, const char *name, size_t nlen,
    enum ce_ext_kind kind, const char *val, size_t vlen)
{
	struct ce_ext *x;

	if (ev->next == ev->cap_ext) {
		ev->cap_ext = ev->cap_ext ? ev->cap_ext * 2 : 8;
		ev->ext = vp_xrealloc(ev->ext, ev->cap_ext * sizeof(*ev->ext));
	}
	x = &ev->ext[ev->next++];
	x->kind = kind;
	x->nlen = nlen;
	x->vlen = vlen;
	if (val == NULL)
		val = "";
	/* val may point into strs, which the appends below can move */
	if (ev->strs.data && val >= ev->strs.data &&
	    val < ev->strs.data + ev->strs.len) {
		x->voff = (size_t)(val - ev->strs.data);
		x->noff = ev->strs.len;
		js_put(&ev->strs, name, nlen);
		return;
	}
	x->noff = ev->strs.len;
	js_put(&ev->strs, name, nlen);
	x->voff = ev->strs.len;
	js_put(&ev->strs, val, vlen);
}

void
ce_set_ext(struct ce_event *ev, const char *name, const char *val)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < ev->next; i++)
		if (ev->ext[i].nlen == n &&
		    memcmp(ev->strs.data + ev->ext[i].noff, name, n) == 0) {
			memmove(&ev->ext[i], &ev->ext[i + 1],
			    (ev->next - i - 1) * sizeof(*ev->ext));
			ev->next--;
			break;
		}
	ce_add_ext(ev, name, n, CE_EXT_STRING, val, strlen(val));
	if (n == 8 && memcmp(name, "eventkey", 8) == 0)
		ev->has_key = ce_int32(val, strlen(val), &ev->key) == 0;
}

void
ce_set_json_data(struct ce_event *ev, const struct js_span *v)
{
	ev->dkind = CE_DATA_JSON;
	ev->dstring = v->type == JS_STRING;
	if (!v->ws) {
		ev->dp = v->p;
		ev->dlen = v->len;
		return;
	}
	vp_buf_reset(&ev->data);
	js_compact(v, &ev->data);
	ev->dp = ev->data.data;
	ev->dlen = ev->data.len;
}

/* eventkey as an int32, for checkpoints: an Integer, or canonical digits. */
static void
find_key(struct ce_event *ev)
{
	for (size_t i = 0; i < ev->next; i++) {
		const struct ce_ext *x = &ev->ext[i];

		if (x->nlen == 8 &&
		    memcmp(ev->strs.data + x->noff, "eventkey", 8) == 0) {
			ev->has_key = ce_int32(ev->strs.data + x->voff, x->vlen,
			    &ev->key) == 0;
			return;
		}
	}
}

static enum ce_result
check_optional(struct ce_event *ev)
{
	if (ev->time.set && !ce_time_ok(CE_S(ev, ev->time), ev->time.len))
		return ce_bad(ev, "\"time\" is not an RFC 3339 time");
	if (ev->dataschema.set && !ce_uri_ok(CE_S(ev, ev->dataschema),
	    ev->dataschema.len))
		return ce_bad(ev, "\"dataschema\" is not a URI");
	if (!ce_uri_ok(CE_S(ev, ev->source), ev->source.len))
		return ce_bad(ev, "\"source\" is not a URI reference");
	return CE_OK;
}

/* ---- the line's members ---------------------------------------------------------- */

/*
 * Read the members of the object at j into ev->m. A JSON error ends the
 * read; a repeated name is remembered in dup and the read goes on, so the
 * line is still known to be an object (dead-letter records need that).
 */
static enum ce_result
read_members(struct ce_event *ev, struct js *j, char *dup, size_t duplen)
{
	struct js_span k, v;
	int count = 0, rc;

	if (js_object_begin(j) != 0)
		return ce_bad(ev, "%s", j->err);
	while ((rc = js_object_next(j, &count, &ev->name, &k, &v)) == 1) {
		if (!dup[0])
			for (size_t i = 0; i < ev->nm; i++)
				if (ev->m[i].nlen == ev->name.len &&
				    memcmp(ev->names.data + ev->m[i].noff,
				    ev->name.data, ev->name.len) == 0) {
					char q[160];

					snprintf(dup, duplen, "duplicate member %s",
					    quoted(q, sizeof(q), ev->name.data,
					    ev->name.len));
					break;
				}
		if (ev->nm == CE_MAX_MEMBERS)
			return ce_bad(ev, "more than %d members", CE_MAX_MEMBERS);
		if (ev->nm == ev->cap_m) {
			ev->cap_m = ev->cap_m ? ev->cap_m * 2 : 16;
			ev->m = vp_xrealloc(ev->m, ev->cap_m * sizeof(*ev->m));
		}
		ev->m[ev->nm].noff = ev->names.len;
		ev->m[ev->nm].nlen = ev->name.len;
		ev->m[ev->nm].key = k;
		ev->m[ev->nm].v = v;
		js_put(&ev->names, ev->name.data, ev->name.len);
		ev->nm++;
	}
	if (rc < 0)
		return ce_bad(ev, "%s", j->err);
	return CE_OK;
}

/*
 * Take member i (the record's "deadletter") out of the text, every other
 * byte as it was: from its comma on (blanks before the comma stay), or when
 * it comes first, up to the next member's name.
 */
static void
cut_member(struct ce_event *ev, size_t i, const char *line, size_t len)
{
	const struct ce_member *d = &ev->m[i];
	const char *from = d->key.p, *to = d->v.p + d->v.len;

	if (i > 0) {
		from = ev->m[i - 1].v.p + ev->m[i - 1].v.len;
		while (*from != ',')
			from++;
	} else if (ev->nm > 1)
		to = ev->m[1].key.p;
	vp_buf_reset(&ev->textbuf);
	js_put(&ev->textbuf, line, (size_t)(from - line));
	js_put(&ev->textbuf, to, (size_t)(line + len - to));
	ev->text = ev->textbuf.data;
	ev->text_len = ev->textbuf.len;
	memmove(&ev->m[i], &ev->m[i + 1], (ev->nm - i - 1) * sizeof(*ev->m));
	ev->nm--;
}

/* ---- structured shape ---------------------------------------------------------------- */

static enum ce_result
from_structured(struct ce_event *ev)
{
	struct ce_str sv;
	const struct js_span *d, *b;

	if (ce_get_string(ev, "specversion", &sv, 1, 0) != CE_OK)
		return CE_BAD;
	if (sv.len != 3 || memcmp(CE_S(ev, sv), "1.0", 3) != 0)
		return ce_bad(ev, "unsupported \"specversion\" (only 1.0)");
	if (ce_get_string(ev, "id", &ev->id, 1, 0) != CE_OK ||
	    ce_get_string(ev, "source", &ev->source, 1, 0) != CE_OK ||
	    ce_get_string(ev, "type", &ev->type, 1, 0) != CE_OK ||
	    ce_get_string(ev, "subject", &ev->subject, 0, 0) != CE_OK ||
	    ce_get_string(ev, "time", &ev->time, 0, 0) != CE_OK ||
	    ce_get_string(ev, "datacontenttype", &ev->dct, 0, 0) != CE_OK ||
	    ce_get_string(ev, "dataschema", &ev->dataschema, 0, 0) != CE_OK)
		return CE_BAD;
	if (check_optional(ev) != CE_OK)
		return CE_BAD;
	d = MEMBER(ev, "data");
	b = MEMBER(ev, "data_base64");
	if (d && d->type == JS_NULL)
		d = NULL;
	if (b && b->type == JS_NULL)
		b = NULL;
	if (d && b)
		return ce_bad(ev, "both \"data\" and \"data_base64\"");
	if (d)
		ce_set_json_data(ev, d);
	if (b) {
		if (b->type != JS_STRING)
			return ce_bad(ev, "\"data_base64\" is not a string");
		vp_buf_reset(&ev->tmp);
		if (vp_b64_decode(&ev->tmp, b->p + 1, b->len - 2) != 0)
			return ce_bad(ev, "\"data_base64\" is not base64");
		ev->dkind = CE_DATA_BASE64;
		ev->dp = b->p + 1;
		ev->dlen = b->len - 2;
	}
	for (size_t i = 0; i < ev->nm; i++) {
		const char *n = ev->names.data + ev->m[i].noff;
		size_t nl = ev->m[i].nlen;
		const struct js_span *v = &ev->m[i].v;
		char q[160];

		if (ce_name_reserved(n, nl) && !(nl == 8 &&
		    memcmp(n, "eventkey", 8) == 0))
			continue;
		if (!ce_ext_name_ok(n, nl))
			return ce_bad(ev, "invalid extension name %s (want [a-z0-9]+)",
			    quoted(q, sizeof(q), n, nl));
		if (v->type == JS_NULL)
			continue;
		if (v->type == JS_STRING) {
			struct ce_str s;
			long x;

			str_decode(ev, &s, v);
			if (has_nul(CE_S(ev, s), s.len))
				return ce_bad(ev, "extension \"%.*s\" contains NUL",
				    (int)(nl < 64 ? nl : 64), n);
			/* eventkey is an Integer: digits in a string are one,
			 * as they are in a binary-mode header */
			ce_add_ext(ev, n, nl, nl == 8 && memcmp(n, "eventkey",
			    8) == 0 && ce_int32(CE_S(ev, s), s.len, &x) == 0 ?
			    CE_EXT_LITERAL : CE_EXT_STRING, CE_S(ev, s), s.len);
		} else if (v->type == JS_TRUE || v->type == JS_FALSE) {
			ce_add_ext(ev, n, nl, CE_EXT_LITERAL, v->p, v->len);
		} else if (v->type == JS_NUMBER) {
			long x;

			/* the Integer type is 32 bits; "-0", "007" are not canonical */
			if (!v->integer || ce_int32(v->p, v->len, &x) != 0)
				return ce_bad(ev, "extension \"%.*s\" is not a 32-bit integer",
				    (int)(nl < 64 ? nl : 64), n);
			ce_add_ext(ev, n, nl, CE_EXT_LITERAL, v->p, v->len);
		} else
			return ce_bad(ev, "extension \"%.*s\" is not a string, integer or boolean",
			    (int)(nl < 64 ? nl : 64), n);
	}
	find_key(ev);
	return CE_OK;
}

/* ---- binary shape: lines and HTTP requests -------------------------------------------- */

static void
add_hdr(struct ce_event *ev, const char *n, size_t nl, const char *v,
    size_t vl)
{
	struct ce_hdr *h;

	if (ev->nhdr == ev->cap_hdr) {
		ev->cap_hdr = ev->cap_hdr ? ev->cap_hdr * 2 : 16;
		ev->hdr = vp_xrealloc(ev->hdr, ev->cap_hdr * sizeof(*ev->hdr));
	}
	h = &ev->hdr[ev->nhdr++];
	h->noff = ev->hbuf.len;
	h->nlen = nl;
	js_put(&ev->hbuf, n, nl);
	h->voff = ev->hbuf.len;
	h->vlen = vl;
	js_put(&ev->hbuf, v, vl);
}

/* RFC 7230 token: tchar, of which letters, digits and '-' are the usual */
static int
token_ok(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || (c >= 'A' && c <= 'Z'))
			continue;
		if (c == '\0' || strchr("!#$%&'*+.^_`|~", c) == NULL)
			return 0;
	}
	return 1;
}

/* Headers that frame the message or carry the sender's credentials. */
static int
forbidden_header(const char *s, size_t n)
{
	static const struct { const char *name; size_t len; } bad[] = {
		{ "authorization", 13 }, { "connection", 10 },
		{ "content-length", 14 }, { "expect", 6 }, { "host", 4 },
		{ "keep-alive", 10 }, { "te", 2 }, { "trailer", 7 },
		{ "transfer-encoding", 17 }, { "upgrade", 7 }
	};

	if ((s[0] | 0x20) == 'c' && n > 3 && s[2] == '-')
		return 0;	/* ce-*: the common case */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (bad[i].len == n && strncasecmp(s, bad[i].name, n) == 0)
			return 1;
	return n >= 6 && strncasecmp(s, "proxy-", 6) == 0;
}

/*
 * RFC 7230 quoted-string, which the binding says receivers MUST unquote:
 * into out, 1 when v is one, 0 when it is not (out untouched).
 */
static int
unquote(const char *v, size_t n, struct vp_buf *out)
{
	if (n < 2 || v[0] != '"' || v[n - 1] != '"')
		return 0;
	for (size_t i = 1; i < n - 1; i++) {
		if (v[i] == '"')
			return 0;
		if (v[i] == '\\' && ++i == n - 1)
			return 0;
	}
	vp_buf_reset(out);
	for (size_t i = 1; i < n - 1; i++) {
		if (v[i] == '\\')
			i++;
		js_put(out, v + i, 1);
	}
	return 1;
}

/* The body as data, by its Content-Type (ct unset: JSON, as the JSON format says). */
static enum ce_result
body_data(struct ce_event *ev, const struct ce_str *ct)
{
	const char *b = ev->body;
	size_t n = ev->body_len;

	if (n == 0)
		return CE_OK;
	if (!ct->set || ce_media_is_json(CE_S(ev, *ct), ct->len)) {
		struct js bj;
		struct js_span bv;

		js_init(&bj, b, n);
		if (js_value(&bj, &bv) != 0 || js_end(&bj) != 0)
			return ce_bad(ev, ct->set ? "body: %s" : "body without "
			    "a Content-Type, so JSON: %s", bj.err);
		ce_set_json_data(ev, &bv);
		return CE_OK;
	}
	vp_buf_reset(&ev->data);
	if (media_is_text(CE_S(ev, *ct), ct->len) && !has_nul(b, n) &&
	    vp_utf8_valid_prefix(b, n) == n) {
		js_quote(&ev->data, b, n);
		ev->dkind = CE_DATA_JSON;
		ev->dstring = 1;
	} else {
		vp_b64_encode(&ev->data, b, n);
		ev->dkind = CE_DATA_BASE64;
	}
	ev->dp = ev->data.data;
	ev->dlen = ev->data.len;
	return CE_OK;
}

/* Attributes from ev->hdr and data from ev->body: both binary-mode forms. */
static enum ce_result
from_headers(struct ce_event *ev)
{
	struct ce_str sv = { 0, 0, 0 }, ct = { 0, 0, 0 };
	char q[160];

	ev->shape = CE_SHAPE_BINARY;
	for (size_t i = 0; i < ev->nhdr; i++) {
		const char *n = ev->hbuf.data + ev->hdr[i].noff;
		const char *v = ev->hbuf.data + ev->hdr[i].voff;
		size_t nl = ev->hdr[i].nlen, vl = ev->hdr[i].vlen;
		struct ce_str s, *dst = NULL;
		char *a;
		size_t al;

		if (!token_ok(n, nl))
			return ce_bad(ev, "bad header name %s",
			    quoted(q, sizeof(q), n, nl));
		if (forbidden_header(n, nl))
			return ce_bad(ev, "header %s may not be set by an event",
			    quoted(q, sizeof(q), n, nl));
		for (size_t k = 0; k < vl; k++)
			if (((unsigned char)v[k] < 0x20 && v[k] != '\t') ||
			    v[k] == 0x7f)
				return ce_bad(ev, "header %s has a control character "
				    "in its value", quoted(q, sizeof(q), n, nl));
		for (size_t k = 0; k < i; k++)
			if (ev->hdr[k].nlen == nl && strncasecmp(ev->hbuf.data +
			    ev->hdr[k].noff, n, nl) == 0)
				return ce_bad(ev, "duplicate header %s",
				    quoted(q, sizeof(q), n, nl));
		/* what HTTP would do: optional blanks around a value go */
		while (vl > 0 && (v[0] == ' ' || v[0] == '\t'))
			v++, vl--;
		while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
			vl--;
		if (nl == 12 && strncasecmp(n, "content-type", 12) == 0) {
			if (vl == 0)
				return ce_bad(ev, "header \"content-type\" is empty");
			ce_set_str(ev, &ct, v, vl);
			continue;
		}
		if (nl <= 3 || strncasecmp(n, "ce-", 3) != 0)
			continue;	/* other HTTP headers are not attributes */
		/* the attribute's name: case does not count in HTTP */
		vp_buf_reset(&ev->name);
		js_put(&ev->name, n + 3, nl - 3);
		a = ev->name.data;
		al = ev->name.len;
		for (size_t k = 0; k < al; k++)
			if (a[k] >= 'A' && a[k] <= 'Z')
				a[k] = (char)(a[k] + 32);
		/*
		 * Lenient percent-decoding: a '%' that starts no %XY stands for
		 * itself. The binding gives no rule for it, and senders that do
		 * not encode at all (the JavaScript SDK) send "100% done" as it
		 * is; refusing it would lose their events, and every reader
		 * must give a line the same verdict.
		 */
		if (unquote(v, vl, &ev->tmp)) {
			v = ev->tmp.data;
			vl = ev->tmp.len;
		}
		s.off = ev->strs.len;
		if (vp_pct_decode(&ev->strs, v, vl, VP_PCT_LENIENT) != 0)
			return ce_bad(ev, "header %s: not UTF-8 after "
			    "percent-decoding", quoted(q, sizeof(q), n, nl));
		s.len = ev->strs.len - s.off;
		s.set = 1;
		if (has_nul(CE_S(ev, s), s.len))
			return ce_bad(ev, "header %s: NUL in the value",
			    quoted(q, sizeof(q), n, nl));
#define IS(lit) (al == sizeof(lit) - 1 && memcmp(a, lit, al) == 0)
		if (IS("specversion"))
			dst = &sv;
		else if (IS("datacontenttype") || IS("data"))
			return ce_bad(ev, "header %s is not allowed (Content-Type "
			    "and the body carry it)", quoted(q, sizeof(q), n, nl));
		else if (IS("deadletter"))
			return ce_bad(ev, "header %s: \"deadletter\" is reserved "
			    "for dead-letter records", quoted(q, sizeof(q), n, nl));
		else
			dst = ce_attr(ev, a, al);
		if (dst) {
			if (s.len == 0)
				return ce_bad(ev, "header %s is empty",
				    quoted(q, sizeof(q), n, nl));
			*dst = s;
			continue;
		}
		if (!ce_ext_name_ok(a, al))
			return ce_bad(ev, "invalid extension header %s (want "
			    "ce- and [a-z0-9]+)", quoted(q, sizeof(q), n, nl));
		{
			long x;
			/* headers carry strings; eventkey is an Integer again,
			 * as ce-encode writes it, when it is one */
			int lit = IS("eventkey") &&
			    ce_int32(CE_S(ev, s), s.len, &x) == 0;

			/* the name is in ev->name, which ce_add_ext does not touch */
			ce_add_ext(ev, a, al, lit ? CE_EXT_LITERAL : CE_EXT_STRING,
			    CE_S(ev, s), s.len);
		}
#undef IS
	}
	if (!sv.set)
		return ce_bad(ev, "missing header \"ce-specversion\"");
	if (sv.len != 3 || memcmp(CE_S(ev, sv), "1.0", 3) != 0)
		return ce_bad(ev, "unsupported \"ce-specversion\" (only 1.0)");
	if (!ev->id.set)
		return ce_bad(ev, "missing header \"ce-id\"");
	if (!ev->source.set)
		return ce_bad(ev, "missing header \"ce-source\"");
	if (!ev->type.set)
		return ce_bad(ev, "missing header \"ce-type\"");
	if (ct.set)
		ev->dct = ct;
	if (check_optional(ev) != CE_OK || body_data(ev, &ct) != CE_OK)
		return CE_BAD;
	find_key(ev);
	return CE_OK;
}

static enum ce_result
from_binary_line(struct ce_event *ev)
{
	const struct js_span *h = MEMBER(ev, "headers");
	const struct js_span *b = MEMBER(ev, "body");
	struct js j;
	struct js_span v;
	int count = 0, rc;
	char q[160];

	if (h->type != JS_OBJECT)
		return ce_bad(ev, "\"headers\" is not an object");
	if (b && b->type != JS_STRING && b->type != JS_NULL)
		return ce_bad(ev, "\"body\" is not a string");
	js_init(&j, h->p, h->len);
	if (js_object_begin(&j) != 0)
		return ce_bad(ev, "\"headers\": %s", j.err);
	while ((rc = js_object_next(&j, &count, &ev->name, NULL, &v)) == 1) {
		if (count > CE_MAX_MEMBERS)
			return ce_bad(ev, "more than %d headers", CE_MAX_MEMBERS);
		if (v.type != JS_STRING)
			return ce_bad(ev, "header %s is not a string",
			    quoted(q, sizeof(q), ev->name.data, ev->name.len));
		vp_buf_reset(&ev->tmp);
		js_decode_string(&v, &ev->tmp);
		add_hdr(ev, ev->name.data, ev->name.len, ev->tmp.data,
		    ev->tmp.len);
	}
	if (rc < 0)
		return ce_bad(ev, "\"headers\": %s", j.err);
	if (b && b->type == JS_STRING) {
		vp_buf_reset(&ev->bodybuf);
		js_decode_string(b, &ev->bodybuf);
		ev->body = ev->bodybuf.data;
		ev->body_len = ev->bodybuf.len;
	}
	return from_headers(ev);
}

enum ce_result
ce_from_http(struct ce_event *ev, const struct ce_http_header *h, size_t nh,
    const char *body, size_t len)
{
	reset(ev);
	for (size_t i = 0; i < nh; i++) {
		const char *v = h[i].value ? h[i].value : "";
		size_t vl = strlen(v);

		if (strcasecmp(h[i].name, "content-type") != 0 &&
		    strncasecmp(h[i].name, "ce-", 3) != 0)
			continue;
		if (ev->nhdr == CE_MAX_MEMBERS)
			return ce_bad(ev, "more than %d headers", CE_MAX_MEMBERS);
		/*
		 * Header bytes outside ASCII are ISO-8859-1 (RFC 7230
		 * obs-text), and that is what Node.js sends for an unencoded
		 * "é": a raw value that is not UTF-8 is read as Latin-1.
		 * Percent-encoded bytes are UTF-8 by the binding.
		 */
		if (vp_utf8_valid_prefix(v, vl) != vl) {
			vp_buf_reset(&ev->tmp);
			for (size_t k = 0; k < vl; k++) {
				unsigned char c = (unsigned char)v[k], u[2];

				if (c < 0x80)
					js_put(&ev->tmp, &c, 1);
				else {
					u[0] = (unsigned char)(0xc0 | c >> 6);
					u[1] = (unsigned char)(0x80 | (c & 0x3f));
					js_put(&ev->tmp, u, 2);
				}
			}
			v = ev->tmp.data;
			vl = ev->tmp.len;
		}
		add_hdr(ev, h[i].name, strlen(h[i].name), v, vl);
	}
	ev->body = body ? body : "";
	ev->body_len = len;
	return from_headers(ev);
}

/* ---- entry -------------------------------------------------------------------------- */

enum ce_result
ce_read(struct ce_event *ev, const char *line, size_t len, unsigned flags)
{
	struct js j;
	char dup[192];
	const struct js_span *dl;

	reset(ev);
	dup[0] = '\0';
	js_init(&j, line, len);
	js_skip_ws(&j);
	if (j.p < j.end && *j.p != '{') {
		struct js_span v;

		if (js_value(&j, &v) != 0)
			return ce_bad(ev, "%s", j.err);
		if (js_end(&j) != 0)
			return ce_bad(ev, "%s", j.err);
		return ce_bad(ev, "not a JSON object");
	}
	if (read_members(ev, &j, dup, sizeof(dup)) != CE_OK)
		return CE_BAD;
	if (js_end(&j) != 0)
		return ce_bad(ev, "%s", j.err);
	ev->object = 1;
	ev->text = line;
	ev->text_len = len;
	if (!dup[0] && (dl = MEMBER(ev, "deadletter")) != NULL) {
		/*
		 * An object is never an extension value, so an object member
		 * "deadletter" marks a dead-letter record; any other value
		 * would be overwritten by the next dead-letter record.
		 */
		if (dl->type != JS_OBJECT)
			return ce_bad(ev, "member \"deadletter\" is reserved for "
			    "dead-letter records (an object)");
		ev->record = 1;
		ev->deadletter = *dl;
		cut_member(ev, member_index(ev, "deadletter", 10), line, len);
	}
	if (dup[0])
		return ce_bad(ev, "%s", dup);
	if (MEMBER(ev, "specversion"))
		return from_structured(ev);
	if (ev->record && MEMBER(ev, "invalid") && !MEMBER(ev, "headers"))
		return ce_bad(ev, "a dead-letter record of a line that was no "
		    "CloudEvent (kept in \"invalid\")");
	if (flags & CE_READ_STRUCTURED)
		return ce_bad(ev, "missing \"specversion\"");
	if (MEMBER(ev, "headers"))
		return from_binary_line(ev);
	ce_bad(ev, "neither a structured-mode CloudEvent (no \"specversion\") "
	    "nor a binary-mode line (no \"headers\")");
	return CE_NOT_CE;
}

/* ---- output ------------------------------------------------------------------------ */

static void
put_member(struct vp_buf *o, const char *name, const char *v, size_t n)
{
	js_put(o, ",\"", 2);
	js_put(o, name, strlen(name));
	js_put(o, "\":", 2);
	js_quote(o, v, n);
}

void
ce_write_structured(struct ce_event *ev, struct vp_buf *o)
{
	js_put(o, "{\"specversion\":\"1.0\"", 20);
	put_member(o, "id", CE_S(ev, ev->id), ev->id.len);
	put_member(o, "source", CE_S(ev, ev->source), ev->source.len);
	put_member(o, "type", CE_S(ev, ev->type), ev->type.len);
	if (ev->subject.set)
		put_member(o, "subject", CE_S(ev, ev->subject), ev->subject.len);
	if (ev->time.set)
		put_member(o, "time", CE_S(ev, ev->time), ev->time.len);
	if (ev->dct.set)
		put_member(o, "datacontenttype", CE_S(ev, ev->dct), ev->dct.len);
	if (ev->dataschema.set)
		put_member(o, "dataschema", CE_S(ev, ev->dataschema),
		    ev->dataschema.len);
	for (size_t i = 0; i < ev->next; i++) {
		const struct ce_ext *x = &ev->ext[i];

		js_put(o, ",", 1);
		js_quote(o, ev->strs.data + x->noff, x->nlen);
		js_put(o, ":", 1);
		if (x->kind == CE_EXT_LITERAL)
			js_put(o, ev->strs.data + x->voff, x->vlen);
		else
			js_quote(o, ev->strs.data + x->voff, x->vlen);
	}
	if (ev->dkind == CE_DATA_JSON) {
		js_put(o, ",\"data\":", 8);
		js_put(o, ev->dp, ev->dlen);
	} else if (ev->dkind == CE_DATA_BASE64) {
		js_put(o, ",\"data_base64\":\"", 16);
		js_put(o, ev->dp, ev->dlen);
		js_put(o, "\"", 1);
	}
	js_put(o, "}", 1);
}

/* HTTP binding 1.0.2 3.1.3.2: space, '"', '%' and bytes outside 0x21..0x7E as %XY. */
static void
pct_encode(struct vp_buf *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *run = s, *end = s + n;

	for (const char *p = s; p < end; p++) {
		unsigned char c = (unsigned char)*p;
		char q[3];

		if (c > 0x20 && c < 0x7f && c != '"' && c != '%')
			continue;
		js_escape(o, run, (size_t)(p - run));
		q[0] = '%';
		q[1] = hex[c >> 4];
		q[2] = hex[c & 15];
		js_put(o, q, 3);
		run = p + 1;
	}
	js_escape(o, run, (size_t)(end - run));
}

static void
put_header(struct vp_buf *o, const char *name, size_t nlen, const char *v,
    size_t n)
{
	js_put(o, ",\"ce-", 5);
	js_put(o, name, nlen);
	js_put(o, "\":\"", 3);
	pct_encode(o, v, n);
	js_put(o, "\"", 1);
}

enum ce_result
ce_write_binary(struct ce_event *ev, struct vp_buf *o)
{
	const char *ct = NULL;
	size_t ctlen = 0;

	if (ev->dct.set) {
		ct = CE_S(ev, ev->dct);
		ctlen = ev->dct.len;
		/* Content-Type is a plain HTTP header: no percent-encoding,
		 * and no blank around it (a reader drops it, so the event
		 * would not read back as written) */
		for (size_t i = 0; i < ctlen; i++)
			if ((unsigned char)ct[i] < 0x20 || (unsigned char)ct[i] > 0x7e ||
			    (ct[i] == ' ' && (i == 0 || i == ctlen - 1)))
				return ce_bad(ev, "\"datacontenttype\" is not a valid "
				    "Content-Type header value");
	} else if (ev->dkind == CE_DATA_JSON) {
		ct = "application/json";	/* what the JSON format implies */
		ctlen = 16;
	} else if (ev->dkind == CE_DATA_BASE64) {
		ct = "application/octet-stream";	/* bytes of no stated type */
		ctlen = 24;
	}
	/* the body is the data as bytes; write it to ebody before the headers */
	vp_buf_reset(&ev->ebody);
	if (ev->dkind == CE_DATA_JSON) {
		if (ct != NULL && !ce_media_is_json(ct, ctlen) && ev->dstring) {
			struct js_span s = { ev->dp, ev->dlen, JS_STRING, 0, 0 };

			vp_buf_reset(&ev->tmp);
			js_decode_string(&s, &ev->tmp);
			if (has_nul(ev->tmp.data, ev->tmp.len))
				return ce_bad(ev, "text \"data\" contains NUL, which "
				    "binary-mode lines cannot carry");
			js_escape(&ev->ebody, ev->tmp.data, ev->tmp.len);
		} else
			js_escape(&ev->ebody, ev->dp, ev->dlen);
	} else if (ev->dkind == CE_DATA_BASE64) {
		vp_buf_reset(&ev->tmp);
		vp_b64_decode(&ev->tmp, ev->dp, ev->dlen);
		if (vp_utf8_valid_prefix(ev->tmp.data, ev->tmp.len) != ev->tmp.len ||
		    has_nul(ev->tmp.data, ev->tmp.len))
			return ce_bad(ev, "\"data_base64\" is not UTF-8 text, which "
			    "binary-mode lines cannot carry");
		if (ce_media_is_json(ct, ctlen)) {
			/* a JSON content type promises JSON: hold the body to it */
			struct js bj;
			struct js_span bv;

			js_init(&bj, ev->tmp.data, ev->tmp.len);
			if (js_value(&bj, &bv) != 0 || js_end(&bj) != 0)
				return ce_bad(ev, "\"data_base64\" is not the JSON its "
				    "datacontenttype says: %s", bj.err);
			vp_buf_reset(&ev->data);
			js_compact(&bv, &ev->data);
			js_escape(&ev->ebody, ev->data.data, ev->data.len);
		} else
			js_escape(&ev->ebody, ev->tmp.data, ev->tmp.len);
	}

	js_put(o, "{\"headers\":{\"ce-specversion\":\"1.0\"", 34);
	put_header(o, "id", 2, CE_S(ev, ev->id), ev->id.len);
	put_header(o, "source", 6, CE_S(ev, ev->source), ev->source.len);
	put_header(o, "type", 4, CE_S(ev, ev->type), ev->type.len);
	if (ev->subject.set)
		put_header(o, "subject", 7, CE_S(ev, ev->subject),
		    ev->subject.len);
	if (ev->time.set)
		put_header(o, "time", 4, CE_S(ev, ev->time), ev->time.len);
	if (ev->dataschema.set)
		put_header(o, "dataschema", 10, CE_S(ev, ev->dataschema),
		    ev->dataschema.len);
	for (size_t i = 0; i < ev->next; i++)
		put_header(o, ev->strs.data + ev->ext[i].noff, ev->ext[i].nlen,
		    ev->strs.data + ev->ext[i].voff, ev->ext[i].vlen);
	if (ct != NULL) {
		js_put(o, ",\"content-type\":", 16);
		js_quote(o, ct, ctlen);
	}
	js_put(o, "},\"body\":\"", 10);
	if (ev->ebody.len)
		js_put(o, ev->ebody.data, ev->ebody.len);
	js_put(o, "\"}", 2);
	return CE_OK;
}
