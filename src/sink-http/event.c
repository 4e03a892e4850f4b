/*
 * event.c: reading CloudEvent lines (formats 2 and 3 of vcpipe-formats(5))
 * and writing dead-letter records.
 *
 * A dead-letter record is the original line with one more top-level member,
 * "deadletter", an object saying why. An object is never a valid CloudEvents
 * extension value, so the member cannot be mistaken for one; sink-http drops
 * it again when the record comes back on stdin, which is how a dead-letter
 * file is replayed. The member is edited as text, so the rest of the record
 * is the original line byte for byte.
 *
 * jansson is used to read attributes only: what is sent (structured mode)
 * and what is dead-lettered is always the line's own text, never the parsed
 * tree written out again, which would change numbers beyond 64 bits and
 * duplicate keys inside data.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sink.h"

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

char *
pct_decode(const char *s)
{
	char *out = vp_xmalloc(strlen(s) + 1), *o = out;

	while (*s) {
		int a, b;
		if (s[0] == '%' && (a = hexval(s[1])) >= 0 &&
		    (b = hexval(s[2])) >= 0) {
			*o++ = (char)(a * 16 + b);
			s += 3;
		} else
			*o++ = *s++;
	}
	*o = '\0';
	return out;
}

static int
token_char(int c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Headers a line may not set: they frame the message or belong to sink-http. */
static int
forbidden_header(const char *name)
{
	static const char *const bad[] = { "authorization", "connection",
	    "content-length", "expect", "host", "keep-alive", "te",
	    "trailer", "transfer-encoding", "upgrade", NULL };

	for (int i = 0; bad[i]; i++)
		if (strcasecmp(name, bad[i]) == 0)
			return 1;
	return strncasecmp(name, "proxy-", 6) == 0;
}

/*
 * Top-level members of a JSON object, as text. jansson tells values, not
 * where they are in the line, and the sink needs both. The text has been
 * parsed by jansson already, so the scanner only finds boundaries; it still
 * checks bounds and returns -1 on anything odd.
 */
struct scan {
	const char *s;
	size_t len, pos;
	size_t open;		/* just past the opening brace */
	size_t close;		/* the closing brace, once reached */
	int first;
};

/* One member: key token [ks, ke) with its quotes, value [vs, ve). */
struct member {
	size_t ks, ke, vs, ve;
};

static int
json_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void
skip_ws(struct scan *sc)
{
	while (sc->pos < sc->len && json_ws(sc->s[sc->pos]))
		sc->pos++;
}

/* Past the string that starts at pos. */
static int
skip_string(struct scan *sc)
{
	if (sc->pos >= sc->len || sc->s[sc->pos] != '"')
		return -1;
	for (sc->pos++; sc->pos < sc->len; sc->pos++) {
		if (sc->s[sc->pos] == '\\')
			sc->pos++;
		else if (sc->s[sc->pos] == '"') {
			sc->pos++;
			return 0;
		}
	}
	return -1;
}

static int
skip_value(struct scan *sc)
{
	size_t start = sc->pos;
	int depth = 0;

	if (sc->pos >= sc->len)
		return -1;
	if (strchr("{[\"", sc->s[sc->pos]) == NULL || sc->s[sc->pos] == '\0') {
		/* number, true, false or null */
		while (sc->pos < sc->len && !json_ws(sc->s[sc->pos]) &&
		    sc->s[sc->pos] != ',' && sc->s[sc->pos] != '}' &&
		    sc->s[sc->pos] != ']')
			sc->pos++;
		return sc->pos > start ? 0 : -1;
	}
	do {
		if (sc->pos >= sc->len)
			return -1;
		if (sc->s[sc->pos] == '"') {
			if (skip_string(sc) != 0)
				return -1;
			continue;
		}
		if (sc->s[sc->pos] == '{' || sc->s[sc->pos] == '[')
			depth++;
		else if (sc->s[sc->pos] == '}' || sc->s[sc->pos] == ']')
			depth--;
		sc->pos++;
	} while (depth > 0);
	return depth == 0 ? 0 : -1;
}

static int
scan_open(struct scan *sc, const char *s, size_t len)
{
	memset(sc, 0, sizeof(*sc));
	sc->s = s;
	sc->len = len;
	sc->first = 1;
	skip_ws(sc);
	if (sc->pos >= len || s[sc->pos] != '{')
		return -1;
	sc->open = ++sc->pos;
	return 0;
}

/* 1 with the next member in m, 0 at the closing brace, -1 on odd text. */
static int
scan_next(struct scan *sc, struct member *m)
{
	skip_ws(sc);
	if (sc->pos >= sc->len)
		return -1;
	if (sc->s[sc->pos] == '}') {
		sc->close = sc->pos++;
		return 0;
	}
	if (!sc->first) {
		if (sc->s[sc->pos] != ',')
			return -1;
		sc->pos++;
		skip_ws(sc);
	}
	sc->first = 0;
	m->ks = sc->pos;
	if (skip_string(sc) != 0)
		return -1;
	m->ke = sc->pos;
	skip_ws(sc);
	if (sc->pos >= sc->len || sc->s[sc->pos] != ':')
		return -1;
	sc->pos++;
	skip_ws(sc);
	m->vs = sc->pos;
	if (skip_value(sc) != 0)
		return -1;
	m->ve = sc->pos;
	return 1;
}

/* A member's key, unescaped; NULL if it does not decode. */
static char *
member_key(const struct scan *sc, const struct member *m)
{
	const char *k = sc->s + m->ks + 1;
	size_t n = m->ke - m->ks - 2;
	json_t *v;
	char *out;

	if (memchr(k, '\\', n) == NULL) {
		out = vp_xmalloc(n + 1);
		memcpy(out, k, n);
		out[n] = '\0';
		return out;
	}
	v = json_loadb(sc->s + m->ks, m->ke - m->ks, JSON_DECODE_ANY, NULL);
	out = json_is_string(v) ? vp_xstrdup(json_string_value(v)) : NULL;
	json_decref(v);
	return out;
}

static int
member_is(const struct scan *sc, const struct member *m, const char *name)
{
	char *k = member_key(sc, m);
	int r = k != NULL && strcmp(k, name) == 0;

	free(k);
	return r;
}

/*
 * A key given twice among the object's own members (not deeper): 1 with
 * a message in err, 0 when there is none, -1 on odd text.
 */
static int
duplicate_key(const char *s, size_t len, const char *what, char *err,
    size_t errlen)
{
	struct scan sc;
	struct member m;
	json_t *seen = json_object();
	int r;

	if (scan_open(&sc, s, len) != 0) {
		json_decref(seen);
		return -1;
	}
	while ((r = scan_next(&sc, &m)) == 1) {
		char *k = member_key(&sc, &m);

		if (k == NULL) {
			r = -1;
			break;
		}
		if (json_object_get(seen, k)) {
			snprintf(err, errlen, "%s \"%s\" given twice", what, k);
			free(k);
			break;
		}
		json_object_set_new(seen, k, json_null());
		free(k);
	}
	json_decref(seen);
	return r;
}

/* Where the value of the member name is; -1 when there is none. */
static int
member_span(const char *s, size_t len, const char *name, size_t *vs,
    size_t *ve)
{
	struct scan sc;
	struct member m;

	if (scan_open(&sc, s, len) != 0)
		return -1;
	while (scan_next(&sc, &m) == 1)
		if (member_is(&sc, &m, name)) {
			*vs = m.vs;
			*ve = m.ve;
			return 0;
		}
	return -1;
}

/*
 * The object's text without its members called name, every other byte as
 * it was; *nleft says how many members remain. NULL on odd text.
 */
static char *
drop_member(const char *s, size_t len, const char *name, size_t *outlen,
    size_t *nleft)
{
	struct scan sc;
	struct member m;
	struct vp_buf b = { 0 };
	size_t prev;
	int r, gap = 0;

	*nleft = 0;
	if (scan_open(&sc, s, len) != 0)
		return NULL;
	vp_buf_append(&b, s, sc.open);
	prev = sc.open;
	while ((r = scan_next(&sc, &m)) == 1) {
		if (member_is(&sc, &m, name)) {
			/* blanks before its comma stay: replays are exact */
			if (!gap) {
				size_t e = prev;

				while (e < m.ks && json_ws(s[e]))
					e++;
				vp_buf_append(&b, s + prev, e - prev);
			}
			gap = 1;
			continue;
		}
		/* the separator as written, unless a member was dropped */
		if (!gap)
			vp_buf_append(&b, s + prev, m.ks - prev);
		else if (*nleft > 0)
			vp_buf_append(&b, ",", 1);
		vp_buf_append(&b, s + m.ks, m.ve - m.ks);
		prev = m.ve;
		gap = 0;
		(*nleft)++;
	}
	if (r != 0) {
		vp_buf_free(&b);
		return NULL;
	}
	if (gap)
		prev = sc.close;
	vp_buf_append(&b, s + prev, len - prev);
	*outlen = b.len;
	return b.data;
}

static const char *
str_member(json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* eventkey as an integer: a JSON integer, or digits (binary-mode header). */
static int
parse_key(json_t *v, const char *s, long long *key)
{
	char *end;

	if (v && json_is_integer(v)) {
		*key = json_integer_value(v);
		return 1;
	}
	if (v && json_is_string(v))
		s = json_string_value(v);
	if (s == NULL || *s == '\0')
		return 0;
	errno = 0;
	*key = strtoll(s, &end, 10);
	return errno == 0 && *end == '\0';
}

/*
 * A replayed record: the text without its "deadletter" member, which is the
 * original line when sink-http wrote the record.
 */
static int
strip_deadletter(struct event *ev, char *err, size_t errlen)
{
	json_t *dl = json_object_get(ev->root, "deadletter");
	json_t *fn = json_object_get(dl, "function");
	size_t nleft;

	if (fn) {
		/* it becomes part of the gateway URL: a path in it would reach
		 * the gateway's own API with the token */
		if (!json_is_string(fn) || json_string_length(fn) !=
		    strlen(json_string_value(fn)) ||
		    !function_name_ok(json_string_value(fn))) {
			snprintf(err, errlen, "dead-letter record with a bad "
			    "\"function\"");
			return -1;
		}
		ev->dlq_function = vp_xstrdup(json_string_value(fn));
	}
	ev->body_owned = drop_member(ev->line, ev->len, "deadletter",
	    &ev->body_len_owned, &nleft);
	if (ev->body_owned == NULL) {
		snprintf(err, errlen, "cannot find the \"deadletter\" member");
		return -1;
	}
	return 0;
}

static int
parse_binary(struct event *ev, json_t *hdrs, json_t *body, char *err,
    size_t errlen)
{
	const char *k;
	json_t *v;
	const char *need[] = { "ce-specversion", "ce-id", "ce-source",
	    "ce-type", NULL };

	for (int i = 0; need[i]; i++)
		if (!json_is_string(json_object_get(hdrs, need[i]))) {
			snprintf(err, errlen, "binary-mode line without a "
			    "string header \"%s\"", need[i]);
			return -1;
		}
	json_object_foreach(hdrs, k, v) {
		const char *s;
		struct vp_buf b = { 0 };

		if (!json_is_string(v)) {
			snprintf(err, errlen, "header \"%s\" is not a string", k);
			return -1;
		}
		if (*k == '\0') {
			snprintf(err, errlen, "empty header name");
			return -1;
		}
		for (const char *c = k; *c; c++)
			if (!token_char((unsigned char)*c)) {
				snprintf(err, errlen, "bad header name \"%s\"", k);
				return -1;
			}
		if (forbidden_header(k)) {
			snprintf(err, errlen, "header \"%s\" may not be set "
			    "by an event", k);
			return -1;
		}
		s = json_string_value(v);
		if (json_string_length(v) != strlen(s) || strpbrk(s, "\r\n")) {
			snprintf(err, errlen, "header \"%s\" has a control "
			    "character in its value", k);
			return -1;
		}
		/* "Name;" is curl's way to send a header with an empty value */
		if (*s == '\0')
			vp_buf_printf(&b, "%s;", k);
		else
			vp_buf_printf(&b, "%s: %s", k, s);
		ev->headers = curl_slist_append(ev->headers, b.data);
		vp_buf_free(&b);
	}
	/* without it libcurl would claim a form body */
	if (json_object_get(hdrs, "content-type") == NULL)
		ev->headers = curl_slist_append(ev->headers, "Content-Type:");
	ev->body = json_string_value(body);
	ev->body_len = json_string_length(body);
	ev->id = pct_decode(str_member(hdrs, "ce-id"));
	ev->source = pct_decode(str_member(hdrs, "ce-source"));
	if (str_member(hdrs, "ce-time"))
		ev->time = pct_decode(str_member(hdrs, "ce-time"));
	if (str_member(hdrs, "ce-subject"))
		ev->subject = pct_decode(str_member(hdrs, "ce-subject"));
	ev->has_key = parse_key(NULL, str_member(hdrs, "ce-eventkey"), &ev->key);
	return 0;
}

static int
parse_structured(struct event *ev, char *err, size_t errlen)
{
	json_t *o = ev->root;
	const char *need[] = { "specversion", "id", "source", "type", NULL };

	for (int i = 0; need[i]; i++)
		if (!json_is_string(json_object_get(o, need[i]))) {
			snprintf(err, errlen, "structured-mode line without a "
			    "string attribute \"%s\"", need[i]);
			return -1;
		}
	if (ev->body_owned) {
		ev->body = ev->body_owned;
		ev->body_len = ev->body_len_owned;
	} else {
		ev->body = ev->line;
		ev->body_len = ev->len;
	}
	ev->headers = curl_slist_append(NULL,
	    "Content-Type: application/cloudevents+json");
	ev->id = vp_xstrdup(str_member(o, "id"));
	ev->source = vp_xstrdup(str_member(o, "source"));
	if (str_member(o, "time"))
		ev->time = vp_xstrdup(str_member(o, "time"));
	if (str_member(o, "subject"))
		ev->subject = vp_xstrdup(str_member(o, "subject"));
	ev->has_key = parse_key(json_object_get(o, "eventkey"), NULL, &ev->key);
	if (ev->ints_as_reals && json_is_real(json_object_get(o, "eventkey"))) {
		/* read as a real only because of a huge integer elsewhere:
		 * take the integer from the text */
		size_t vs, ve;
		char num[32];

		if (member_span(ev->line, ev->len, "eventkey", &vs, &ve) == 0 &&
		    ve - vs < sizeof(num)) {
			memcpy(num, ev->line + vs, ve - vs);
			num[ve - vs] = '\0';
			ev->has_key = parse_key(NULL, num, &ev->key);
		}
	}
	return 0;
}

int
event_parse(struct event *ev, const char *line, size_t len, char *err,
    size_t errlen)
{
	json_error_t je;
	json_t *hdrs, *body, *dl;
	int r;

	ev->line = line;
	ev->len = len;
	/* duplicate keys deeper down are data, and passed on as they are */
	ev->root = json_loadb(line, len, 0, &je);
	if (ev->root == NULL && strstr(je.text, "too big") != NULL) {
		/* an integer beyond 64 bits is still JSON */
		ev->root = json_loadb(line, len, JSON_DECODE_INT_AS_REAL, &je);
		ev->ints_as_reals = 1;
	}
	if (ev->root == NULL) {
		snprintf(err, errlen, "not JSON: %s (column %d)", je.text,
		    je.column);
		return -1;
	}
	if (!json_is_object(ev->root)) {
		snprintf(err, errlen, "not a JSON object");
		return -1;
	}
	/* top-level members are the attributes: one of each */
	if ((r = duplicate_key(line, len, "member", err, errlen)) != 0) {
		if (r < 0)
			snprintf(err, errlen, "cannot read the members");
		return -1;
	}
	dl = json_object_get(ev->root, "deadletter");
	if (json_is_object(dl) && strip_deadletter(ev, err, errlen) != 0)
		return -1;
	hdrs = json_object_get(ev->root, "headers");
	body = json_object_get(ev->root, "body");
	if (json_object_get(ev->root, "specversion") == NULL &&
	    (hdrs || body)) {
		size_t vs, ve;

		if (!json_is_object(hdrs) || !json_is_string(body)) {
			snprintf(err, errlen, "binary-mode line needs "
			    "\"headers\" (object) and \"body\" (string)");
			return -1;
		}
		/* the headers are the attributes in binary mode */
		if (member_span(line, len, "headers", &vs, &ve) != 0 ||
		    (r = duplicate_key(line + vs, ve - vs, "header", err,
		    errlen)) < 0) {
			snprintf(err, errlen, "cannot read the headers");
			return -1;
		}
		if (r > 0)
			return -1;
		ev->binary = 1;
		return parse_binary(ev, hdrs, body, err, errlen);
	}
	if (json_object_get(ev->root, "specversion") == NULL) {
		snprintf(err, errlen, "neither a structured-mode CloudEvent "
		    "(no \"specversion\") nor a binary-mode line (no "
		    "\"headers\" and \"body\")");
		return -1;
	}
	return parse_structured(ev, err, errlen);
}

void
event_free(struct event *ev)
{
	json_decref(ev->root);
	curl_slist_free_all(ev->headers);
	free(ev->body_owned);
	free(ev->id);
	free(ev->source);
	free(ev->time);
	free(ev->subject);
	free(ev->dlq_function);
	memset(ev, 0, sizeof(*ev));
}

char *
event_deadletter(const struct event *ev, const char *reason,
    const struct result *r, const char *url, const char *function,
    size_t *lenp)
{
	json_t *dl = json_object(), *resp;
	char now[64], *dls;
	struct timespec ts;
	struct vp_buf out = { 0 };
	const char *line = ev->line;
	size_t len = ev->len, tlen, nleft;
	char *text;

	clock_gettime(CLOCK_REALTIME, &ts);
	vp_format_rfc3339(ts.tv_sec, 0, now, sizeof(now));
	json_object_set_new(dl, "reason", json_string(reason));
	if (r) {
		json_t *e = r->error[0] ? json_string(r->error) : NULL;

		if (e)
			json_object_set_new(dl, "error", e);
		json_object_set_new(dl, "status", json_integer(r->status));
		json_object_set_new(dl, "attempts", json_integer(r->attempts));
		/* invalid UTF-8 makes json_stringn return NULL: then leave it out */
		if (r->resp.len > 0 &&
		    (resp = json_stringn(r->resp.data, r->resp.len)) != NULL)
			json_object_set_new(dl, "response", resp);
	}
	if (url)
		json_object_set_new(dl, "url", json_string(url));
	if (function)
		json_object_set_new(dl, "function", json_string(function));
	json_object_set_new(dl, "line", json_integer((json_int_t)ev->lineno));
	json_object_set_new(dl, "time", json_string(now));
	dls = json_dumps(dl, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(dl);
	if (dls == NULL)
		vp_die(VP_EXIT_SOFTWARE, "out of memory");
	if (ev->root && json_is_object(ev->root) && (text = drop_member(
	    ev->body_owned ? ev->body_owned : line, ev->body_owned ?
	    ev->body_len_owned : len, "deadletter", &tlen, &nleft)) != NULL) {
		/* any "deadletter" member is replaced: a replayed record's
		 * old reason, or an event's own member of that name, which
		 * would otherwise be there twice */
		size_t end = tlen;

		while (end > 0 && json_ws(text[end - 1]))
			end--;
		/* up to the closing brace; blanks after it stay after it */
		vp_buf_append(&out, text, end - 1);
		vp_buf_printf(&out, "%s\"deadletter\":%s}",
		    nleft > 0 ? "," : "", dls);
		vp_buf_append(&out, text + end, tlen - end);
		free(text);
	} else {
		/* not a JSON object: keep the text as a string so nothing is lost */
		json_t *o = json_object(), *t = line ? json_stringn(line, len) : NULL;
		char *s;

		json_object_set_new(o, "invalid", t ? t : json_string(
		    "(line not kept: too long or not UTF-8)"));
		s = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		vp_buf_append(&out, s, strlen(s) - 1);
		free(s);
		vp_buf_printf(&out, ",\"deadletter\":%s}", dls);
	}
	free(dls);
	*lenp = out.len;
	return out.data;
}
