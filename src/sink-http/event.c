/*
 * event.c: reading CloudEvent lines (src/lib/ce.c, as every stage reads
 * them) into what sink-http sends, and the text a dead-letter record keeps
 * (src/lib/sinkcore writes the record).
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

/* The headers of every structured-mode request. */
static struct curl_slist *structured;

/*
 * What every POST's header list ends with: no 100-continue round trip (a
 * full RTT, or 1 s, per event); no "Accept" header (the answer's type does
 * not matter); the User-Agent, unless the event's headers have one.
 * deliver.c leaves CURLOPT_USERAGENT unset for POSTs: libcurl 7.88 prints
 * that one twice per request, a byte at a time.
 */
static struct curl_slist *
request_tail(struct curl_slist *h, int ua)
{
	if ((h = curl_slist_append(h, "Expect:")) == NULL ||
	    (h = curl_slist_append(h, "Accept:")) == NULL ||
	    (ua && (h = curl_slist_append(h, "User-Agent: " VP_USER_AGENT)) ==
	    NULL))
		vp_die(VP_EXIT_SOFTWARE, "out of memory");
	return h;
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
		int ct = 0, ua = 1;

		/* the headers as the line has them: already percent-encoded */
		for (size_t i = 0; i < ce->nhdr; i++) {
			const char *n = ce->hbuf.data + ce->hdr[i].noff;
			const char *v = ce->hbuf.data + ce->hdr[i].voff;
			struct vp_buf b = { 0 };

			if (ce->hdr[i].nlen == 12 &&
			    strncasecmp(n, "content-type", 12) == 0)
				ct = 1;
			if (ce->hdr[i].nlen == 10 &&
			    strncasecmp(n, "user-agent", 10) == 0)
				ua = 0;
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
		ev->headers = request_tail(ev->headers, ua);
		ev->binary = 1;
		ev->body = ce->body ? ce->body : "";
		ev->body_len = ce->body_len;
	} else {
		/* the same for every event: built once */
		if (structured == NULL)
			structured = request_tail(curl_slist_append(NULL,
			    "Content-Type: application/cloudevents+json"), 1);
		ev->headers = structured;
		ev->shared_headers = 1;
		ev->body = ce->text;
		ev->body_len = ce->text_len;
	}
	vp_evpos_from_ce(&ev->pos, ce);
	ev->subject = ce_strdup(ce, &ce->subject);
	return 0;
}

void
event_free(struct event *ev)
{
	if (!ev->shared_headers)
		curl_slist_free_all(ev->headers);
	vp_evpos_free(&ev->pos);
	free(ev->subject);
	free(ev->dlq_function);
	memset(ev, 0, sizeof(*ev));
}

char *
event_dl_text(const struct event *ev, size_t *lenp, int *is_object)
{
	const char *text;
	char *out;
	size_t tlen;

	*is_object = 0;
	*lenp = 0;
	if (ev->ce && ce_record_text(ev->ce, &text, &tlen)) {
		/* the line without any "deadletter" member: a replayed
		 * record's old reason is replaced, never written twice */
		*is_object = 1;
	} else if (ev->line) {
		/* not a JSON object: the text is kept as a string */
		text = ev->line;
		tlen = ev->len;
	} else
		return NULL;
	out = vp_xmalloc(tlen + 1);
	memcpy(out, text, tlen);
	out[tlen] = '\0';
	*lenp = tlen;
	return out;
}
