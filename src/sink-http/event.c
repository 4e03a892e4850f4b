/*
 * event.c: reading CloudEvent lines (formats 2 and 3 of vcpipe-formats(5))
 * and writing dead-letter records.
 *
 * A dead-letter record is the original line with one more top-level member,
 * "deadletter", an object saying why. An object is never a valid CloudEvents
 * extension value, so the member cannot be mistaken for one; sink-http drops
 * it again when the record comes back on stdin, which is how a dead-letter
 * file is replayed. The member is appended as text, so the rest of the record
 * is the original line byte for byte.
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
 * The record without its "deadletter" member: cut the text where sink-http
 * appended it, and check the cut really gives the same object; otherwise
 * fall back to re-encoding.
 */
static void
strip_deadletter(struct event *ev)
{
	/* sets ev->body_owned/body_len to the original line's text */
	static const char mark[] = ",\"deadletter\":{";
	const char *p = NULL, *q = ev->line;
	json_t *dl = json_object_get(ev->root, "deadletter"), *fn, *cut;
	json_t *copy;

	if ((fn = json_object_get(dl, "function")) && json_is_string(fn))
		ev->dlq_function = vp_xstrdup(json_string_value(fn));
	copy = json_deep_copy(ev->root);
	json_object_del(copy, "deadletter");
	while ((q = strstr(q, mark)) != NULL)
		p = q++;
	if (p) {
		size_t n = (size_t)(p - ev->line);
		char *s = vp_xmalloc(n + 2);

		memcpy(s, ev->line, n);
		s[n] = '}';
		s[n + 1] = '\0';
		cut = json_loadb(s, n + 1, 0, NULL);
		if (cut && json_equal(cut, copy)) {
			json_decref(cut);
			json_decref(copy);
			ev->body_owned = s;
			ev->body_len_owned = n + 1;
			return;
		}
		json_decref(cut);
		free(s);
	}
	ev->body_owned = json_dumps(copy, JSON_COMPACT);
	json_decref(copy);
	if (ev->body_owned == NULL)
		vp_die(VP_EXIT_SOFTWARE, "out of memory");
	ev->body_len_owned = strlen(ev->body_owned);
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
	return 0;
}

int
event_parse(struct event *ev, const char *line, size_t len, char *err,
    size_t errlen)
{
	json_error_t je;
	json_t *hdrs, *body, *dl;

	ev->line = line;
	ev->len = len;
	ev->root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (ev->root == NULL) {
		snprintf(err, errlen, "not JSON: %s (column %d)", je.text,
		    je.column);
		return -1;
	}
	if (!json_is_object(ev->root)) {
		snprintf(err, errlen, "not a JSON object");
		return -1;
	}
	dl = json_object_get(ev->root, "deadletter");
	if (json_is_object(dl))
		strip_deadletter(ev);
	hdrs = json_object_get(ev->root, "headers");
	body = json_object_get(ev->root, "body");
	if (json_object_get(ev->root, "specversion") == NULL &&
	    (hdrs || body)) {
		if (!json_is_object(hdrs) || !json_is_string(body)) {
			snprintf(err, errlen, "binary-mode line needs "
			    "\"headers\" (object) and \"body\" (string)");
			return -1;
		}
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
	size_t len = ev->len;

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
	if (ev->root && json_is_object(ev->root)) {
		/* a replayed record: the new reason replaces the old one */
		if (ev->body_owned)
			vp_buf_append(&out, ev->body_owned, ev->body_len_owned);
		else
			vp_buf_append(&out, line, len);
		while (out.len > 0 && (out.data[out.len - 1] == ' ' ||
		    out.data[out.len - 1] == '\t'))
			out.len--;
		out.len--;	/* the closing brace */
		vp_buf_printf(&out, "%s\"deadletter\":%s}",
		    out.len > 1 ? "," : "", dls);
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
