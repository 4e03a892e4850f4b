/*
 * event.c: an input line as an EventBridge entry.
 *
 * Structured CloudEvents go out as the Detail byte for byte; binary-mode
 * lines (headers and body) are rebuilt as a structured CloudEvent; a
 * dead-letter record replays as the event it holds.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eb.h"

void
ev_free(struct ev *e)
{
	if (e == NULL)
		return;
	free(e->line);
	free(e->source);
	free(e->dtype);
	free(e->detail);
	free(e->id);
	free(e->time);
	free(e);
}

static char *
xstrdup_or_null(const char *s)
{
	return s ? vp_xstrdup(s) : NULL;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Undo the CloudEvents HTTP binding's percent-encoding of header values. */
static char *
pct_decode(const char *s)
{
	char *out = vp_xmalloc(strlen(s) + 1), *o = out;

	while (*s) {
		if (s[0] == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
			*o++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
			s += 3;
		} else
			*o++ = *s++;
	}
	*o = '\0';
	return out;
}

static int
is_json_type(const char *ct)
{
	size_t n;
	const char *semi;

	if (ct == NULL)
		return 1;	/* CloudEvents: JSON unless said otherwise */
	semi = strchr(ct, ';');
	n = semi ? (size_t)(semi - ct) : strlen(ct);
	while (n > 0 && ct[n - 1] == ' ')
		n--;
	return (n == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
	    (n == 9 && strncasecmp(ct, "text/json", 9) == 0) ||
	    (n > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0);
}

static int
parse_intstr(const char *s, long long *v)
{
	char *end;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	*v = strtoll(s, &end, 10);
	return errno || *end != '\0' ? -1 : 0;
}

/* Structured CloudEvent JSON from a binary-mode line (format 3). */
static json_t *
rebuild_structured(json_t *headers, json_t *body, char *err, size_t errlen)
{
	json_t *ce = json_object(), *v;
	const char *k, *ct = NULL;
	long long key;

	json_object_foreach(headers, k, v) {
		char *val;

		if (!json_is_string(v)) {
			snprintf(err, errlen, "header %s is not a string", k);
			json_decref(ce);
			return NULL;
		}
		if (strcasecmp(k, "content-type") == 0) {
			ct = json_string_value(v);
			json_object_set_new(ce, "datacontenttype", json_string(ct));
			continue;
		}
		if (strncasecmp(k, "ce-", 3) != 0 || k[3] == '\0')
			continue;
		val = pct_decode(json_string_value(v));
		/* ce-encode's eventkey is an Integer attribute */
		if (strcasecmp(k + 3, "eventkey") == 0 && parse_intstr(val, &key) == 0)
			json_object_set_new(ce, k + 3, json_integer(key));
		else
			json_object_set_new(ce, k + 3, json_string(val));
		free(val);
	}
	if (json_string_length(body) > 0) {
		json_t *data = NULL;

		if (is_json_type(ct))
			data = json_loadb(json_string_value(body),
			    json_string_length(body), JSON_DECODE_ANY, NULL);
		json_object_set_new(ce, "data", data ? data : json_copy(body));
	}
	return ce;
}

const char *
json_str_member(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/*
 * Drop the "deadletter" member from a dead-letter record: cut the text where
 * it was appended when the cut gives the same object (so the CloudEvent is
 * sent byte for byte), else re-encode without it.
 */
static void
strip_deadletter(struct ev *e, json_t *root)
{
	static const char mark[] = ",\"deadletter\":{";
	const char *p = NULL, *cur = e->line;
	json_t *cut = NULL;
	char *s;

	json_object_del(root, "deadletter");
	while ((cur = strstr(cur, mark)) != NULL)
		p = cur++;
	if (p) {
		size_t n = (size_t)(p - e->line);

		s = vp_xmalloc(n + 2);
		memcpy(s, e->line, n);
		s[n] = '}';
		s[n + 1] = '\0';
		cut = json_loadb(s, n + 1, 0, NULL);
		if (cut && json_equal(cut, root)) {
			json_decref(cut);
			free(e->line);
			e->line = s;
			e->len = n + 1;
			return;
		}
		json_decref(cut);
		free(s);
	}
	s = json_dumps(root, JSON_COMPACT);
	free(e->line);
	e->line = s;
	e->len = strlen(s);
}

json_t *
ev_parse(struct ev *e, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root, *ce, *hdr, *body, *k;
	const char *subject, *type;

	root = json_loadb(e->line, e->len, 0, &je);
	if (root == NULL) {
		snprintf(err, errlen, "not JSON: %s", je.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "not a JSON object");
		json_decref(root);
		return NULL;
	}
	/* a dead-letter record (sink-http's format) replays as its event */
	if (json_is_object(json_object_get(root, "deadletter"))) {
		if (json_object_get(root, "invalid")) {
			snprintf(err, errlen, "a dead letter of an invalid line");
			json_decref(root);
			return NULL;
		}
		strip_deadletter(e, root);
	}
	hdr = json_object_get(root, "headers");
	body = json_object_get(root, "body");
	if (json_is_object(hdr) && json_is_string(body)) {
		ce = rebuild_structured(hdr, body, err, errlen);
		json_decref(root);
		if (ce == NULL)
			return NULL;
		e->detail = json_dumps(ce, JSON_COMPACT);
	} else {
		ce = root;
		e->detail = vp_xmalloc(e->len + 1);
		memcpy(e->detail, e->line, e->len + 1);
	}
	e->detail_len = strlen(e->detail);
	e->id = xstrdup_or_null(json_str_member(ce, "id"));
	e->source = xstrdup_or_null(json_str_member(ce, "source"));
	type = json_str_member(ce, "type");
	subject = json_str_member(ce, "subject");
	if (e->id == NULL || e->source == NULL || type == NULL ||
	    *e->source == '\0' || *type == '\0') {
		snprintf(err, errlen, "not a CloudEvent: id, source and type "
		    "are required");
		json_decref(ce);
		return NULL;
	}
	e->dtype = vp_xstrdup(subject && *subject ? subject : type);
	e->time = xstrdup_or_null(json_str_member(ce, "time"));
	if (e->time) {
		int32_t ns;

		if (vp_parse_rfc3339(e->time, &e->tsec, &ns) != 0) {
			snprintf(err, errlen, "bad time \"%s\"", e->time);
			json_decref(ce);
			return NULL;
		}
		e->has_time = 1;
	}
	k = json_object_get(ce, "eventkey");
	if (json_is_integer(k)) {
		e->key = json_integer_value(k);
		e->has_key = 1;
	} else if (json_is_string(k) &&
	    parse_intstr(json_string_value(k), &e->key) == 0)
		e->has_key = 1;
	e->size = (e->has_time ? ENTRY_TIME_BYTES : 0) + strlen(e->source) +
	    strlen(e->dtype) + e->detail_len;
	return ce;
}

json_t *
ev_match_document(const struct eb *eb, const struct ev *e, json_t *ce)
{
	json_t *d = json_object();
	char tbuf[64];

	json_object_set_new(d, "version", json_string("0"));
	json_object_set_new(d, "detail-type", json_string(e->dtype));
	json_object_set_new(d, "source", json_string(e->source));
	if (eb->account)
		json_object_set_new(d, "account", json_string(eb->account));
	if (e->has_time) {
		vp_format_rfc3339(e->tsec, 0, tbuf, sizeof(tbuf));
		json_object_set_new(d, "time", json_string(tbuf));
	}
	json_object_set_new(d, "region", json_string(eb->o.region));
	json_object_set_new(d, "resources", json_array());
	json_object_set(d, "detail", ce);
	return d;
}
