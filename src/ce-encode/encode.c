/*
 * encode.c: turn a raw event line, a structured CloudEvent or a binary-mode
 * line into one CloudEvent 1.0 line, structured or binary.
 *
 * Output is written as JSON text straight into a reused buffer; event data
 * is copied from the input line as it is (minus insignificant whitespace),
 * so the cost per event is one validating pass plus one copy.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "sha1.h"

/* The vcpipe namespace for UUID v5 event ids (fixed forever: ids must not change). */
static const unsigned char vcpipe_ns[16] = {
	0xc6, 0x5a, 0xe1, 0xb9, 0x3c, 0x78, 0x4e, 0xc2,
	0x8b, 0x7c, 0xaa, 0x7d, 0x60, 0x9f, 0x0d, 0x9b
};

static const char *const reserved[] = {
	"specversion", "id", "source", "type", "subject", "time",
	"datacontenttype", "dataschema", "data", "data_base64", "eventkey"
};

int
ce_ext_name_ok(const char *s, size_t n)
{
	if (n == 0 || n > 20)
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
		if (strlen(reserved[i]) == n && memcmp(reserved[i], s, n) == 0)
			return 1;
	return 0;
}

void
ce_encoder_init(struct ce_encoder *e, const struct ce_config *cfg)
{
	struct vp_buf *bufs[] = { &e->out, &e->names, &e->strs, &e->name,
	    &e->tmp, &e->body, &e->data, &e->ebody };

	memset(e, 0, sizeof(*e));
	e->cfg = cfg;
	/* allocated from the start: no NULL data pointers to special-case */
	for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
		vp_buf_append(bufs[i], "", 0);
}

void
ce_encoder_free(struct ce_encoder *e)
{
	vp_buf_free(&e->out);
	vp_buf_free(&e->names);
	vp_buf_free(&e->strs);
	vp_buf_free(&e->name);
	vp_buf_free(&e->tmp);
	vp_buf_free(&e->body);
	vp_buf_free(&e->data);
	vp_buf_free(&e->ebody);
	free(e->m);
	free(e->ext);
	e->m = NULL;
	e->ext = NULL;
}

static enum ce_result
bad(struct ce_encoder *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static enum ce_result
bad(struct ce_encoder *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->err, sizeof(e->err), fmt, ap);
	va_end(ap);
	return CE_BAD;
}

/* a decoded string; strs.data is NULL until the first append */
#define S(e, s) ((e)->strs.data ? (e)->strs.data + (s).off : "")

/* ---- member table -------------------------------------------------------- */

static const struct js_span *
member(const struct ce_encoder *e, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < e->nm; i++)
		if (e->m[i].nlen == n &&
		    memcmp(e->names.data + e->m[i].noff, name, n) == 0)
			return &e->m[i].v;
	return NULL;
}

/* Read the members of the object at j into e->m; reject duplicates. */
static enum ce_result
read_members(struct ce_encoder *e, struct js *j)
{
	struct js_span v;
	int count = 0, rc;

	e->nm = 0;
	vp_buf_reset(&e->names);
	if (js_object_begin(j) != 0)
		return bad(e, "%s", j->err);
	while ((rc = js_object_next(j, &count, &e->name, &v)) == 1) {
		for (size_t i = 0; i < e->nm; i++)
			if (e->m[i].nlen == e->name.len &&
			    memcmp(e->names.data + e->m[i].noff, e->name.data,
			    e->name.len) == 0) {
				vp_buf_reset(&e->tmp);
				js_quote(&e->tmp, e->name.data, e->name.len);
				return bad(e, "duplicate member %s", e->tmp.data);
			}
		if (e->nm == CE_MAX_MEMBERS)
			return bad(e, "more than %d members", CE_MAX_MEMBERS);
		if (e->nm == e->cap_m) {
			e->cap_m = e->cap_m ? e->cap_m * 2 : 16;
			e->m = vp_xrealloc(e->m, e->cap_m * sizeof(*e->m));
		}
		e->m[e->nm].noff = e->names.len;
		e->m[e->nm].nlen = e->name.len;
		e->m[e->nm].v = v;
		js_put(&e->names, e->name.data, e->name.len);
		e->nm++;
	}
	if (rc < 0)
		return bad(e, "%s", j->err);
	return CE_OK;
}

/* ---- attribute values ------------------------------------------------------ */

static void
str_put(struct ce_encoder *e, struct ce_str *s, const char *p, size_t n)
{
	s->off = e->strs.len;
	s->len = n;
	s->set = 1;
	js_put(&e->strs, p, n);
}

static void
str_decode(struct ce_encoder *e, struct ce_str *s, const struct js_span *v)
{
	s->off = e->strs.len;
	js_decode_string(v, &e->strs);
	s->len = e->strs.len - s->off;
	s->set = 1;
}

static int
has_nul(const char *p, size_t n)
{
	return memchr(p, '\0', n) != NULL;
}

/*
 * A string member: required (error when absent), optional (absent or null
 * is fine). Attribute values may not hold NUL (no header can carry it) and,
 * except where allow_empty, may not be empty (CloudEvents 1.0).
 */
static enum ce_result
get_string(struct ce_encoder *e, const char *name, struct ce_str *s,
    int required, int allow_empty)
{
	const struct js_span *v = member(e, name);

	s->set = 0;
	if (v == NULL || (!required && v->type == JS_NULL)) {
		if (required)
			return bad(e, "missing \"%s\"", name);
		return CE_OK;
	}
	if (v->type != JS_STRING)
		return bad(e, "\"%s\" is not a string", name);
	str_decode(e, s, v);
	if (s->len == 0 && !allow_empty)
		return bad(e, "\"%s\" is empty", name);
	if (has_nul(S(e, *s), s->len))
		return bad(e, "\"%s\" contains NUL", name);
	return CE_OK;
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

/* RFC 3339 with an upper-case 'T' separator, as the JSON Schema date-time format wants. */
static int
time_ok(const char *s, size_t n)
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

/* Parse an integer span as int32. */
static int
int32_of(const char *p, size_t n, long *out)
{
	char buf[24];
	char *end;
	long long v;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (errno != 0 || *end != '\0' || v < INT32_MIN || v > INT32_MAX)
		return -1;
	*out = (long)v;
	return 0;
}

/* Is a media type JSON (application/json, text/json, anything +json)? */
static int
json_media(const char *s, size_t n)
{
	size_t k = 0;

	while (k < n && s[k] != ';')
		k++;
	while (k > 0 && (s[k - 1] == ' ' || s[k - 1] == '\t'))
		k--;
	if ((k == 16 && strncasecmp(s, "application/json", 16) == 0) ||
	    (k == 9 && strncasecmp(s, "text/json", 9) == 0) ||
	    (k >= 5 && strncasecmp(s + k - 5, "+json", 5) == 0))
		return 1;
	return 0;
}

/* ---- extensions ------------------------------------------------------------ */

static void
ext_add(struct ce_encoder *e, const char *name, size_t nlen,
    enum ce_ext_kind kind, const char *val, size_t vlen)
{
	struct ce_ext *x;

	if (e->next == e->cap_ext) {
		e->cap_ext = e->cap_ext ? e->cap_ext * 2 : 8;
		e->ext = vp_xrealloc(e->ext, e->cap_ext * sizeof(*e->ext));
	}
	x = &e->ext[e->next++];
	x->kind = kind;
	x->nlen = nlen;
	x->vlen = vlen;
	if (val == NULL)
		val = "";
	/* val may point into strs, which the appends below can move */
	if (e->strs.data && val >= e->strs.data &&
	    val < e->strs.data + e->strs.len) {
		x->voff = (size_t)(val - e->strs.data);
		x->noff = e->strs.len;
		js_put(&e->strs, name, nlen);
		return;
	}
	x->noff = e->strs.len;
	js_put(&e->strs, name, nlen);
	x->voff = e->strs.len;
	js_put(&e->strs, val, vlen);
}

/* Does --set name this extension? Then --set's value replaces the event's. */
static int
overridden(const struct ce_encoder *e, const char *name, size_t n)
{
	for (size_t i = 0; i < e->cfg->nset; i++)
		if (strlen(e->cfg->set[i].name) == n &&
		    memcmp(e->cfg->set[i].name, name, n) == 0)
			return 1;
	return 0;
}

static void
ext_add_checked(struct ce_encoder *e, const char *name, enum ce_ext_kind kind,
    const char *val, size_t vlen)
{
	if (!overridden(e, name, strlen(name)))
		ext_add(e, name, strlen(name), kind, val, vlen);
}

static void
add_set(struct ce_encoder *e)
{
	for (size_t i = 0; i < e->cfg->nset; i++)
		ext_add(e, e->cfg->set[i].name, strlen(e->cfg->set[i].name),
		    EXT_STRING, e->cfg->set[i].value,
		    strlen(e->cfg->set[i].value));
}

/* Point the event data at a validated JSON value, compacted if needed. */
static void
set_json_data(struct ce_encoder *e, const struct js_span *v)
{
	e->dkind = DATA_JSON;
	e->dstring = v->type == JS_STRING;
	if (!v->ws) {
		e->dp = v->p;
		e->dlen = v->len;
		return;
	}
	vp_buf_reset(&e->data);
	js_compact(v, &e->data);
	e->dp = e->data.data;
	e->dlen = e->data.len;
}

static void
reset_event(struct ce_encoder *e)
{
	vp_buf_reset(&e->strs);
	e->next = 0;
	e->id.set = e->source.set = e->type.set = e->subject.set = 0;
	e->time.set = e->dct.set = e->dataschema.set = 0;
	e->dkind = DATA_NONE;
	e->dp = NULL;
	e->dlen = 0;
	e->dstring = 0;
}

static enum ce_result
check_source(struct ce_encoder *e, const char *what)
{
	if (!ce_uri_ok(S(e, e->source), e->source.len))
		return bad(e, "%s is not a URI reference", what);
	return CE_OK;
}

/* ---- raw event lines --------------------------------------------------------- */

static enum ce_result
from_raw(struct ce_encoder *e)
{
	static const char *const cats[] = { "event", "eventex", "extendedevent" };
	static const char *const types[] = { "com.vmware.event.router/event",
	    "com.vmware.event.router/eventex",
	    "com.vmware.event.router/extendedevent" };
	struct ce_str vc, uuid, api, cls, cat;
	const struct js_span *k, *d;
	char keybuf[16];
	long key;
	int ci;

	if (get_string(e, "class", &cls, 1, 0) != CE_OK ||
	    get_string(e, "category", &cat, 1, 0) != CE_OK ||
	    get_string(e, "instanceUuid", &uuid, 1, 0) != CE_OK ||
	    get_string(e, "apiVersion", &api, 1, 1) != CE_OK ||
	    get_string(e, "createdTime", &e->time, 1, 0) != CE_OK)
		return CE_BAD;
	if ((k = member(e, "key")) == NULL)
		return bad(e, "missing \"key\"");
	if (k->type != JS_NUMBER || !k->integer)
		return bad(e, "\"key\" is not an integer");
	if (int32_of(k->p, k->len, &key) != 0)
		return bad(e, "\"key\" %.*s is outside the int32 range",
		    (int)(k->len < 24 ? k->len : 24), k->p);
	if ((d = member(e, "data")) == NULL)
		return bad(e, "missing \"data\"");
	for (ci = 0; ci < 3; ci++)
		if (cat.len == strlen(cats[ci]) &&
		    memcmp(S(e, cat), cats[ci], cat.len) == 0)
			break;
	if (ci == 3)
		return bad(e, "\"category\" is not event, eventex or extendedevent");
	if (!time_ok(S(e, e->time), e->time.len))
		return bad(e, "\"createdTime\" is not an RFC 3339 time");
	if (e->cfg->source) {
		str_put(e, &e->source, e->cfg->source, strlen(e->cfg->source));
		if (member(e, "vcenter") && member(e, "vcenter")->type != JS_STRING)
			return bad(e, "\"vcenter\" is not a string");
	} else {
		if (get_string(e, "vcenter", &vc, 1, 0) != CE_OK)
			return CE_BAD;
		e->source = vc;
		if (check_source(e, "\"vcenter\"") != CE_OK)
			return CE_BAD;
	}
	snprintf(keybuf, sizeof(keybuf), "%ld", key);

	/* id */
	switch (e->cfg->id) {
	case CE_ID_V5: {
		unsigned char u[16];
		char s[37];

		/* createdTime too: a key reused after int32 wrap-around gets a new id */
		vp_buf_reset(&e->tmp);
		js_put(&e->tmp, S(e, uuid), uuid.len);
		vp_buf_printf(&e->tmp, "/%s/", keybuf);
		js_put(&e->tmp, S(e, e->time), e->time.len);
		uuid_v5(vcpipe_ns, e->tmp.data, e->tmp.len, u);
		uuid_format(u, s);
		str_put(e, &e->id, s, 36);
		break;
	}
	case CE_ID_UUID: {
		unsigned char u[16];
		char s[37];

		if (uuid_v4(u) != 0)
			return bad(e, "getrandom: %s", strerror(errno));
		uuid_format(u, s);
		str_put(e, &e->id, s, 36);
		break;
	}
	case CE_ID_KEY:
		str_put(e, &e->id, keybuf, strlen(keybuf));
		break;
	}

	if (e->cfg->style == CE_ROUTER) {
		str_put(e, &e->type, types[ci], strlen(types[ci]));
	} else {
		vp_buf_reset(&e->tmp);
		js_put(&e->tmp, "com.vmware.vsphere.", 19);
		js_put(&e->tmp, S(e, cls), cls.len);
		js_put(&e->tmp, ".v0", 3);
		str_put(e, &e->type, e->tmp.data, e->tmp.len);
	}
	e->subject = cls;

	ext_add(e, "eventkey", 8, EXT_LITERAL, keybuf, strlen(keybuf));
	/* VSphereSource adds both: the class, then the server's API version */
	if (e->cfg->style == CE_VSPHERE)
		ext_add_checked(e, "eventclass", EXT_STRING, cats[ci],
		    strlen(cats[ci]));
	if (api.len > 0)
		ext_add_checked(e, "vsphereapiversion", EXT_STRING, S(e, api),
		    api.len);
	add_set(e);

	/* VSphereSource's application/xml: the xml member vc-source --xml adds */
	if (e->cfg->payload == CE_PAYLOAD_XML) {
		const struct js_span *x = member(e, "xml");

		if (x == NULL)
			return bad(e, "no \"xml\" member for application/xml "
			    "(run vc-source with --xml)");
		if (x->type == JS_STRING) {
			set_json_data(e, x);
			str_put(e, &e->dct, "application/xml", 15);
		} else if (x->type != JS_NULL)
			return bad(e, "\"xml\" is not a string");
		return CE_OK;
	}
	/* null data: vc-source could not map the event; it is sent without data */
	if (d->type != JS_NULL) {
		set_json_data(e, d);
		str_put(e, &e->dct, "application/json", 16);
	}
	return CE_OK;
}

/* ---- structured CloudEvents ---------------------------------------------------- */

static enum ce_result
check_optional(struct ce_encoder *e)
{
	if (e->time.set && !time_ok(S(e, e->time), e->time.len))
		return bad(e, "\"time\" is not an RFC 3339 time");
	if (e->dataschema.set && !ce_uri_ok(S(e, e->dataschema), e->dataschema.len))
		return bad(e, "\"dataschema\" is not a URI");
	if (e->cfg->source) {
		e->source.set = 0;
		str_put(e, &e->source, e->cfg->source, strlen(e->cfg->source));
	}
	return check_source(e, "\"source\"");
}

static enum ce_result
from_structured(struct ce_encoder *e)
{
	struct ce_str sv;
	const struct js_span *d, *b;

	if (get_string(e, "specversion", &sv, 1, 0) != CE_OK)
		return CE_BAD;
	if (sv.len != 3 || memcmp(S(e, sv), "1.0", 3) != 0)
		return bad(e, "unsupported \"specversion\" (only 1.0)");
	if (get_string(e, "id", &e->id, 1, 0) != CE_OK ||
	    get_string(e, "source", &e->source, 1, 0) != CE_OK ||
	    get_string(e, "type", &e->type, 1, 0) != CE_OK ||
	    get_string(e, "subject", &e->subject, 0, 0) != CE_OK ||
	    get_string(e, "time", &e->time, 0, 0) != CE_OK ||
	    get_string(e, "datacontenttype", &e->dct, 0, 0) != CE_OK ||
	    get_string(e, "dataschema", &e->dataschema, 0, 0) != CE_OK)
		return CE_BAD;
	if (check_optional(e) != CE_OK)
		return CE_BAD;
	d = member(e, "data");
	b = member(e, "data_base64");
	if (d && d->type == JS_NULL)
		d = NULL;
	if (b && b->type == JS_NULL)
		b = NULL;
	if (d && b)
		return bad(e, "both \"data\" and \"data_base64\"");
	if (d)
		set_json_data(e, d);
	if (b) {
		if (b->type != JS_STRING)
			return bad(e, "\"data_base64\" is not a string");
		vp_buf_reset(&e->tmp);
		if (b64_decode(&e->tmp, b->p + 1, b->len - 2) != 0)
			return bad(e, "\"data_base64\" is not base64");
		e->dkind = DATA_BASE64;
		e->dp = b->p + 1;
		e->dlen = b->len - 2;
	}
	for (size_t i = 0; i < e->nm; i++) {
		const char *n = e->names.data + e->m[i].noff;
		size_t nl = e->m[i].nlen;
		const struct js_span *v = &e->m[i].v;

		if (ce_name_reserved(n, nl) && !(nl == 8 &&
		    memcmp(n, "eventkey", 8) == 0))
			continue;
		if (!ce_ext_name_ok(n, nl)) {
			vp_buf_reset(&e->tmp);
			js_quote(&e->tmp, n, nl);
			return bad(e, "invalid extension name %s (want [a-z0-9]{1,20})",
			    e->tmp.data);
		}
		if (v->type == JS_NULL || overridden(e, n, nl))
			continue;
		if (v->type == JS_STRING) {
			struct ce_str s;
			str_decode(e, &s, v);
			if (has_nul(S(e, s), s.len))
				return bad(e, "extension \"%.*s\" contains NUL",
				    (int)nl, n);
			/* copy the name after the value: ext_add appends both */
			vp_buf_reset(&e->tmp);
			js_put(&e->tmp, S(e, s), s.len);
			ext_add(e, n, nl, EXT_STRING, e->tmp.data, e->tmp.len);
		} else if (v->type == JS_TRUE || v->type == JS_FALSE) {
			ext_add(e, n, nl, EXT_LITERAL, v->p, v->len);
		} else if (v->type == JS_NUMBER) {
			long x;
			char nb[16];
			if (!v->integer || int32_of(v->p, v->len, &x) != 0)
				return bad(e, "extension \"%.*s\" is not a 32-bit integer",
				    (int)nl, n);
			snprintf(nb, sizeof(nb), "%ld", x);
			ext_add(e, n, nl, EXT_LITERAL, nb, strlen(nb));
		} else
			return bad(e, "extension \"%.*s\" is not a string, integer or boolean",
			    (int)nl, n);
	}
	add_set(e);
	return CE_OK;
}

/* ---- binary-mode lines ---------------------------------------------------------- */

/* Percent-decode into strs; -1 on a malformed escape or invalid UTF-8. */
static int
pct_decode(struct ce_encoder *e, struct ce_str *s, const char *p, size_t n)
{
	s->off = e->strs.len;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '%') {
			int hi, lo;
			if (i + 2 >= n)
				return -1;
			hi = p[i + 1] >= '0' && p[i + 1] <= '9' ? p[i + 1] - '0' :
			    (p[i + 1] | 0x20) >= 'a' && (p[i + 1] | 0x20) <= 'f' ?
			    (p[i + 1] | 0x20) - 'a' + 10 : -1;
			lo = p[i + 2] >= '0' && p[i + 2] <= '9' ? p[i + 2] - '0' :
			    (p[i + 2] | 0x20) >= 'a' && (p[i + 2] | 0x20) <= 'f' ?
			    (p[i + 2] | 0x20) - 'a' + 10 : -1;
			if (hi < 0 || lo < 0)
				return -1;
			c = (unsigned char)(hi * 16 + lo);
			i += 2;
		}
		js_put(&e->strs, &c, 1);
	}
	s->len = e->strs.len - s->off;
	s->set = 1;
	if (utf8_valid_prefix(S(e, *s), s->len) != s->len ||
	    has_nul(S(e, *s), s->len))
		return -1;
	return 0;
}

static enum ce_result
from_binary(struct ce_encoder *e)
{
	const struct js_span *h = member(e, "headers"), *b = member(e, "body");
	struct js j;
	struct js_span v;
	struct ce_str sv = { 0, 0, 0 }, ct = { 0, 0, 0 };
	int count = 0, rc;

	if (h->type != JS_OBJECT)
		return bad(e, "\"headers\" is not an object");
	if (b && b->type != JS_STRING && b->type != JS_NULL)
		return bad(e, "\"body\" is not a string");
	js_init(&j, h->p, h->len);
	if (js_object_begin(&j) != 0)
		return bad(e, "%s", j.err);
	while ((rc = js_object_next(&j, &count, &e->name, &v)) == 1) {
		struct ce_str s, *dst = NULL;
		char *n = e->name.data;
		size_t nl = e->name.len;

		if (count > CE_MAX_MEMBERS)
			return bad(e, "more than %d headers", CE_MAX_MEMBERS);
		for (size_t i = 0; i < nl; i++)
			if (n[i] >= 'A' && n[i] <= 'Z')
				n[i] = (char)(n[i] + 32);
		if (nl == 12 && memcmp(n, "content-type", 12) == 0) {
			if (v.type != JS_STRING)
				return bad(e, "header \"content-type\" is not a string");
			str_decode(e, &ct, &v);
			continue;
		}
		if (nl < 4 || memcmp(n, "ce-", 3) != 0)
			continue;	/* other HTTP headers are not attributes */
		if (v.type != JS_STRING)
			return bad(e, "header \"%.*s\" is not a string", (int)nl, n);
		vp_buf_reset(&e->tmp);
		js_decode_string(&v, &e->tmp);
		if (pct_decode(e, &s, e->tmp.data, e->tmp.len) != 0)
			return bad(e, "header \"%.*s\": bad percent-encoding or UTF-8",
			    (int)nl, n);
		n += 3;
		nl -= 3;
#define IS(lit) (nl == sizeof(lit) - 1 && memcmp(n, lit, nl) == 0)
		if (IS("specversion"))
			dst = &sv;
		else if (IS("id"))
			dst = &e->id;
		else if (IS("source"))
			dst = &e->source;
		else if (IS("type"))
			dst = &e->type;
		else if (IS("subject"))
			dst = &e->subject;
		else if (IS("time"))
			dst = &e->time;
		else if (IS("dataschema"))
			dst = &e->dataschema;
		else if (IS("datacontenttype") || IS("data") || IS("data_base64"))
			return bad(e, "header \"ce-%.*s\" is not allowed", (int)nl, n);
#undef IS
		if (dst) {
			if (dst->set)
				return bad(e, "duplicate header \"ce-%.*s\"", (int)nl, n);
			if (s.len == 0)
				return bad(e, "header \"ce-%.*s\" is empty", (int)nl, n);
			*dst = s;
			continue;
		}
		if (!ce_ext_name_ok(n, nl))
			return bad(e, "invalid extension header \"ce-%.*s\" (want [a-z0-9]{1,20})",
			    (int)nl, n);
		for (size_t i = 0; i < e->next; i++)
			if (e->ext[i].nlen == nl &&
			    memcmp(e->strs.data + e->ext[i].noff, n, nl) == 0)
				return bad(e, "duplicate header \"ce-%.*s\"", (int)nl, n);
		if (overridden(e, n, nl))
			continue;
		{
			long x;
			/* binary mode carries strings only; eventkey is an
			 * integer again so sinks can checkpoint from it */
			int lit = nl == 8 && memcmp(n, "eventkey", 8) == 0 &&
			    int32_of(S(e, s), s.len, &x) == 0;
			char nb[16], nm[21];

			if (lit)
				snprintf(nb, sizeof(nb), "%ld", x);
			/* n points into e->name and s into strs, which ext_add grows */
			memcpy(nm, n, nl);
			vp_buf_reset(&e->tmp);
			js_put(&e->tmp, S(e, s), s.len);
			ext_add(e, nm, nl, lit ? EXT_LITERAL : EXT_STRING,
			    lit ? nb : e->tmp.data, lit ? strlen(nb) : e->tmp.len);
		}
	}
	if (rc < 0)
		return bad(e, "\"headers\": %s", j.err);
	if (!sv.set)
		return bad(e, "missing header \"ce-specversion\"");
	if (sv.len != 3 || memcmp(S(e, sv), "1.0", 3) != 0)
		return bad(e, "unsupported \"ce-specversion\" (only 1.0)");
	if (!e->id.set)
		return bad(e, "missing header \"ce-id\"");
	if (!e->source.set)
		return bad(e, "missing header \"ce-source\"");
	if (!e->type.set)
		return bad(e, "missing header \"ce-type\"");
	if (ct.set) {
		if (ct.len == 0 || has_nul(S(e, ct), ct.len))
			return bad(e, "header \"content-type\" is empty or holds NUL");
		e->dct = ct;
	}
	if (check_optional(e) != CE_OK)
		return CE_BAD;
	if (b && b->type == JS_STRING && b->len > 2) {
		struct js bj;
		struct js_span bv;

		if (!ct.set)
			return bad(e, "\"body\" without a \"content-type\" header");
		vp_buf_reset(&e->body);
		js_decode_string(b, &e->body);
		if (json_media(S(e, ct), ct.len)) {
			js_init(&bj, e->body.data, e->body.len);
			if (js_value(&bj, &bv) != 0 || js_end(&bj) != 0)
				return bad(e, "\"body\": %s", bj.err);
			set_json_data(e, &bv);
		} else {
			if (has_nul(e->body.data, e->body.len))
				return bad(e, "\"body\" text contains NUL");
			vp_buf_reset(&e->data);
			js_quote(&e->data, e->body.data, e->body.len);
			e->dkind = DATA_JSON;
			e->dstring = 1;
			e->dp = e->data.data;
			e->dlen = e->data.len;
		}
	}
	add_set(e);
	return CE_OK;
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

static void
emit_structured(struct ce_encoder *e)
{
	struct vp_buf *o = &e->out;

	js_put(o, "{\"specversion\":\"1.0\"", 20);
	put_member(o, "id", S(e, e->id), e->id.len);
	put_member(o, "source", S(e, e->source), e->source.len);
	put_member(o, "type", S(e, e->type), e->type.len);
	if (e->subject.set)
		put_member(o, "subject", S(e, e->subject), e->subject.len);
	if (e->time.set)
		put_member(o, "time", S(e, e->time), e->time.len);
	if (e->dct.set)
		put_member(o, "datacontenttype", S(e, e->dct), e->dct.len);
	if (e->dataschema.set)
		put_member(o, "dataschema", S(e, e->dataschema),
		    e->dataschema.len);
	for (size_t i = 0; i < e->next; i++) {
		const struct ce_ext *x = &e->ext[i];
		js_put(o, ",", 1);
		js_quote(o, e->strs.data + x->noff, x->nlen);
		js_put(o, ":", 1);
		if (x->kind == EXT_LITERAL)
			js_put(o, e->strs.data + x->voff, x->vlen);
		else
			js_quote(o, e->strs.data + x->voff, x->vlen);
	}
	if (e->dkind == DATA_JSON) {
		js_put(o, ",\"data\":", 8);
		js_put(o, e->dp, e->dlen);
	} else if (e->dkind == DATA_BASE64) {
		js_put(o, ",\"data_base64\":\"", 16);
		js_put(o, e->dp, e->dlen);
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

static enum ce_result
emit_binary(struct ce_encoder *e)
{
	struct vp_buf *o = &e->out;
	const char *ct = NULL;
	size_t ctlen = 0;

	if (e->dct.set) {
		ct = S(e, e->dct);
		ctlen = e->dct.len;
		/* Content-Type is a plain HTTP header: no percent-encoding */
		for (size_t i = 0; i < ctlen; i++)
			if ((unsigned char)ct[i] < 0x20 || (unsigned char)ct[i] > 0x7e)
				return bad(e, "\"datacontenttype\" is not a valid "
				    "Content-Type header value");
	} else if (e->dkind == DATA_JSON) {
		ct = "application/json";	/* what the JSON format implies */
		ctlen = 16;
	} else if (e->dkind == DATA_BASE64) {
		ct = "application/octet-stream";	/* bytes of no stated type */
		ctlen = 24;
	}
	/* the body is the data as bytes; write it to body before the headers */
	vp_buf_reset(&e->ebody);
	if (e->dkind == DATA_JSON) {
		if (ct != NULL && !json_media(ct, ctlen) && e->dstring) {
			struct js_span s = { e->dp, e->dlen, JS_STRING, 0, 0 };
			vp_buf_reset(&e->tmp);
			js_decode_string(&s, &e->tmp);
			if (has_nul(e->tmp.data, e->tmp.len))
				return bad(e, "text \"data\" contains NUL, which "
				    "binary-mode lines cannot carry");
			js_escape(&e->ebody, e->tmp.data, e->tmp.len);
		} else
			js_escape(&e->ebody, e->dp, e->dlen);
	} else if (e->dkind == DATA_BASE64) {
		vp_buf_reset(&e->tmp);
		b64_decode(&e->tmp, e->dp, e->dlen);
		if (utf8_valid_prefix(e->tmp.data, e->tmp.len) != e->tmp.len ||
		    has_nul(e->tmp.data, e->tmp.len))
			return bad(e, "\"data_base64\" is not UTF-8 text, which "
			    "binary-mode lines cannot carry");
		if (json_media(ct, ctlen)) {
			/* a JSON content type promises JSON: hold the body to it */
			struct js bj;
			struct js_span bv;

			js_init(&bj, e->tmp.data, e->tmp.len);
			if (js_value(&bj, &bv) != 0 || js_end(&bj) != 0)
				return bad(e, "\"data_base64\" is not the JSON its "
				    "datacontenttype says: %s", bj.err);
			vp_buf_reset(&e->data);
			js_compact(&bv, &e->data);
			js_escape(&e->ebody, e->data.data, e->data.len);
		} else
			js_escape(&e->ebody, e->tmp.data, e->tmp.len);
	}

	js_put(o, "{\"headers\":{\"ce-specversion\":\"1.0\"", 34);
	put_header(o, "id", 2, S(e, e->id), e->id.len);
	put_header(o, "source", 6, S(e, e->source), e->source.len);
	put_header(o, "type", 4, S(e, e->type), e->type.len);
	if (e->subject.set)
		put_header(o, "subject", 7, S(e, e->subject), e->subject.len);
	if (e->time.set)
		put_header(o, "time", 4, S(e, e->time), e->time.len);
	if (e->dataschema.set)
		put_header(o, "dataschema", 10, S(e, e->dataschema),
		    e->dataschema.len);
	for (size_t i = 0; i < e->next; i++)
		put_header(o, e->strs.data + e->ext[i].noff, e->ext[i].nlen,
		    e->strs.data + e->ext[i].voff, e->ext[i].vlen);
	if (ct != NULL) {
		js_put(o, ",\"content-type\":", 16);
		js_quote(o, ct, ctlen);
	}
	js_put(o, "},\"body\":\"", 10);
	if (e->ebody.len)
		js_put(o, e->ebody.data, e->ebody.len);
	js_put(o, "\"}", 2);
	return CE_OK;
}

/* ---- entry ------------------------------------------------------------------------- */

enum ce_result
ce_encode_line(struct ce_encoder *e, const char *line, size_t len)
{
	struct js j;
	size_t i;
	enum ce_result rc;

	e->err[0] = '\0';
	vp_buf_reset(&e->out);
	for (i = 0; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
			break;
	if (i == len)
		return CE_SKIP;
	reset_event(e);
	js_init(&j, line, len);
	js_skip_ws(&j);
	if (j.p < j.end && *j.p != '{') {
		struct js_span v;
		if (js_value(&j, &v) != 0)
			return bad(e, "%s", j.err);
		return bad(e, "not a JSON object");
	}
	if ((rc = read_members(e, &j)) != CE_OK)
		return rc;
	if (js_end(&j) != 0)
		return bad(e, "%s", j.err);

	if (member(e, "specversion"))
		rc = from_structured(e);
	else if (member(e, "headers"))
		rc = from_binary(e);
	else
		rc = from_raw(e);
	if (rc != CE_OK)
		return rc;
	if (e->cfg->mode == CE_BINARY)
		return emit_binary(e);
	emit_structured(e);
	return CE_OK;
}
