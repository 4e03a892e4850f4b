/*
 * event.c: reading CloudEvent lines (src/lib/ce.c, as every stage reads
 * them) into what sink-http sends, and writing dead-letter records.
 *
 * A dead-letter record is the original line with one more top-level member,
 * "deadletter", an object saying why. An object is never a valid CloudEvents
 * extension value, so the member cannot be mistaken for one; the reader
 * takes it out again when the record comes back on stdin, which is how a
 * dead-letter file is replayed. The member is edited as text, so the rest of
 * the record is the original line byte for byte.
 *
 * What is sent is always the line's own text (structured mode) or its
 * headers and body (binary mode), never a parsed tree written out again,
 * which would change numbers beyond 64 bits and repeated keys inside data.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ce.h"
#include "sink.h"

/* One reader for the whole run: its buffers are reused line after line. */
static struct ce_event reader;

/*
 * The function a replayed record names (OpenFaaS mode): it becomes part of
 * the gateway URL, so a path in it would reach the gateway's own API with
 * the token.
 */
static int
record_function(struct event *ev, const struct js_span *dl, char *err,
    size_t errlen)
{
	struct vp_buf name = { 0 }, val = { 0 };
	struct js j;
	struct js_span v;
	int count = 0, rc, bad = 0;

	js_init(&j, dl->p, dl->len);
	if (js_object_begin(&j) != 0)
		return 0;
	while ((rc = js_object_next(&j, &count, &name, NULL, &v)) == 1) {
		if (name.len != 8 || memcmp(name.data, "function", 8) != 0)
			continue;
		vp_buf_reset(&val);
		if (v.type == JS_STRING)
			js_decode_string(&v, &val);
		if (v.type != JS_STRING || val.data == NULL ||
		    memchr(val.data, '\0', val.len) != NULL ||
		    !function_name_ok(val.data))
			bad = 1;
		else {
			free(ev->dlq_function);
			ev->dlq_function = vp_xstrdup(val.data);
		}
	}
	vp_buf_free(&name);
	vp_buf_free(&val);
	if (bad) {
		snprintf(err, errlen, "dead-letter record with a bad \"function\"");
		return -1;
	}
	return 0;
}

int
event_parse(struct event *ev, const char *line, size_t len, char *err,
    size_t errlen)
{
	struct ce_event *ce = &reader;

	ev->ce = ce;
	ev->line = line;
	ev->len = len;
	if (ce_read(ce, line, len, 0) != CE_OK) {
		snprintf(err, errlen, "%s", ce->err);
		return -1;
	}
	if (ce->record && record_function(ev, &ce->deadletter, err,
	    errlen) != 0)
		return -1;
	if (ce->shape == CE_SHAPE_BINARY) {
		int ct = 0;

		/* the headers as the line has them: already percent-encoded */
		for (size_t i = 0; i < ce->nhdr; i++) {
			const char *n = ce->hbuf.data + ce->hdr[i].noff;
			const char *v = ce->hbuf.data + ce->hdr[i].voff;
			struct vp_buf b = { 0 };

			if (ce->hdr[i].nlen == 12 &&
			    strncasecmp(n, "content-type", 12) == 0)
				ct = 1;
			/* "Name;" is curl's way to send a header with an empty value */
			if (ce->hdr[i].vlen == 0)
				vp_buf_printf(&b, "%.*s;", (int)ce->hdr[i].nlen, n);
			else
				vp_buf_printf(&b, "%.*s: %.*s", (int)ce->hdr[i].nlen,
				    n, (int)ce->hdr[i].vlen, v);
			ev->headers = curl_slist_append(ev->headers, b.data);
			vp_buf_free(&b);
		}
		/* without it libcurl would claim a form body */
		if (!ct)
			ev->headers = curl_slist_append(ev->headers,
			    "Content-Type:");
		ev->binary = 1;
		ev->body = ce->body ? ce->body : "";
		ev->body_len = ce->body_len;
	} else {
		ev->headers = curl_slist_append(NULL,
		    "Content-Type: application/cloudevents+json");
		ev->body = ce->text;
		ev->body_len = ce->text_len;
	}
	ev->id = ce_strdup(ce, &ce->id);
	ev->source = ce_strdup(ce, &ce->source);
	ev->time = ce_strdup(ce, &ce->time);
	ev->subject = ce_strdup(ce, &ce->subject);
	ev->has_key = ce->has_key;
	ev->key = ce->key;
	return 0;
}

void
event_free(struct event *ev)
{
	curl_slist_free_all(ev->headers);
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
	size_t len = ev->len, tlen;
	const char *text;

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
	if (ev->ce && ce_record_text(ev->ce, &text, &tlen)) {
		/* the line without any "deadletter" member: a replayed
		 * record's old reason is replaced, never written twice */
		size_t end = tlen;

		while (end > 0 && (text[end - 1] == ' ' ||
		    text[end - 1] == '\t' || text[end - 1] == '\r' ||
		    text[end - 1] == '\n'))
			end--;
		/* up to the closing brace; blanks after it stay after it */
		vp_buf_append(&out, text, end - 1);
		vp_buf_printf(&out, "%s\"deadletter\":%s}",
		    ev->ce->nm > 0 ? "," : "", dls);
		vp_buf_append(&out, text + end, tlen - end);
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
