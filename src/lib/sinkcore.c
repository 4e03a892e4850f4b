/* sinkcore.c: what sink-http and sink-eventbridge share (see sinkcore.h). */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sinkcore.h"

/* ---- retry policy ---------------------------------------------------------- */

int
vp_retry_status(const struct vp_retry *p, long status)
{
	if (vp_http_status_retryable(status))
		return 1;
	for (int i = 0; i < p->nextra; i++)
		if (p->extra[i] == status)
			return 1;
	return 0;
}

int64_t
vp_retry_delay(struct vp_backoff *b, int64_t retry_after_ms)
{
	int64_t d = vp_backoff_next(b);

	/* the receiver knows best when it can take more */
	return retry_after_ms >= 0 ? retry_after_ms : d;
}

int
vp_retry_over(const struct vp_retry *p, unsigned attempts, int64_t first_ms,
    int64_t delay_ms)
{
	if (p->max_retries >= 0 && attempts > (unsigned)p->max_retries)
		return 1;
	/* waiting past the limit only to give up then would hold the line */
	if (p->max_retry_ms > 0 &&
	    vp_now_ms() + delay_ms - first_ms > p->max_retry_ms)
		return 2;
	return 0;
}

/* ---- options ---------------------------------------------------------------- */

/* vp_sink_opts: src/lib/sinkcore.tab */
#include "opts/lib-sinkcore.h"

int
vp_sink_retry_on(void *dest, const char *codes, char *err, size_t errlen)
{
	struct vp_retry *p = dest;
	char *copy = vp_xstrdup(codes), *tok, *save, *end;
	int rc = 0;

	for (tok = strtok_r(copy, ",", &save); tok && rc == 0;
	    tok = strtok_r(NULL, ",", &save)) {
		long st = strtol(tok, &end, 10);

		if (*end != '\0' || st < 100 || st > 599) {
			snprintf(err, errlen, "expected HTTP statuses from 100 "
			    "to 599 (like 404,409), got \"%s\"", tok);
			rc = -1;
		} else if (st >= 200 && st < 300) {
			snprintf(err, errlen, "%ld is success", st);
			rc = -1;
		} else if (p->nextra >= (int)(sizeof(p->extra) /
		    sizeof(p->extra[0]))) {
			snprintf(err, errlen, "too many statuses");
			rc = -1;
		} else
			p->extra[p->nextra++] = st;
	}
	free(copy);
	return rc;
}

void
vp_sink_opts_check(const struct vp_sink_opts *o)
{
	if (o->retry.cap_ms < o->retry.base_ms)
		vp_usage_error("--retry-base must be at most --retry-cap");
	if (o->dlq && o->checkpoint && strcmp(o->dlq, o->checkpoint) == 0)
		vp_usage_error("--dlq and --checkpoint name the same file");
}

/* ---- dead-letter records ------------------------------------------------------ */

static int
json_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

char *
vp_dl_record(const char *text, size_t len, int is_object,
    const struct vp_dl_why *w, size_t *lenp)
{
	json_t *dl = json_object(), *v;
	struct vp_buf out = { 0 };
	struct timespec ts;
	char now[64], *dls;
	size_t end = len;

	clock_gettime(CLOCK_REALTIME, &ts);
	vp_format_rfc3339(ts.tv_sec, 0, now, sizeof(now));
	json_object_set_new(dl, "reason", json_string(w->reason));
	if (w->error && (v = json_string(w->error)) != NULL)
		json_object_set_new(dl, "error", v);
	if (w->code && (v = json_string(w->code)) != NULL)
		json_object_set_new(dl, "code", v);
	if (w->status >= 0)
		json_object_set_new(dl, "status", json_integer(w->status));
	json_object_set_new(dl, "attempts", json_integer(w->attempts));
	/* a response that is not UTF-8 is left out */
	if (w->response && w->response_len > 0 &&
	    (v = json_stringn(w->response, w->response_len)) != NULL)
		json_object_set_new(dl, "response", v);
	if (w->url)
		json_object_set_new(dl, "url", json_string(w->url));
	if (w->function)
		json_object_set_new(dl, "function", json_string(w->function));
	json_object_set_new(dl, "line", json_integer((json_int_t)w->line));
	json_object_set_new(dl, "time", json_string(now));
	dls = json_dumps(dl, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(dl);
	if (dls == NULL)
		vp_die(VP_EXIT_SOFTWARE, "out of memory");
	while (is_object && end > 0 && json_ws(text[end - 1]))
		end--;
	if (is_object && end > 0 && text[end - 1] == '}') {
		size_t b = end - 1;

		/* "{ }" has no member to follow with a comma */
		while (b > 0 && json_ws(text[b - 1]))
			b--;
		/* the text up to its closing brace; blanks after it stay */
		vp_buf_append(&out, text, end - 1);
		vp_buf_printf(&out, "%s\"deadletter\":%s}",
		    b > 0 && text[b - 1] == '{' ? "" : ",", dls);
		vp_buf_append(&out, text + end, len - end);
	} else {
		/* not an object: the text as a string, so nothing is lost */
		json_t *o = json_object();
		json_t *t = text ? json_stringn(text, len) : NULL;
		char *s;

		json_object_set_new(o, "invalid", t ? t : json_string(
		    "(line not kept: too long or not UTF-8)"));
		s = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		if (s == NULL)
			vp_die(VP_EXIT_SOFTWARE, "out of memory");
		vp_buf_append(&out, s, strlen(s) - 1);
		free(s);
		vp_buf_printf(&out, ",\"deadletter\":%s}", dls);
	}
	free(dls);
	*lenp = out.len;
	return out.data;
}

/* ---- one sink's run ------------------------------------------------------------- */

const char *
vp_outcome_reason(enum vp_outcome o)
{
	switch (o) {
	case VP_OUT_OK: return "delivered";
	case VP_OUT_REJECTED: return "rejected";
	case VP_OUT_EXHAUSTED: return "retries exhausted";
	case VP_OUT_STOPPED: return "stopped before delivery";
	case VP_OUT_INVALID: return "invalid line";
	case VP_OUT_AUTH: return "not authorized";
	case VP_OUT_CONFIG: return "not deliverable as configured";
	}
	return "?";
}

void
vp_sink_start(struct vp_sink *s)
{
	char err[1024];
	int rc;

	s->ck.path = s->o.checkpoint;
	s->ck.interval_ms = s->o.ckpt_interval_ms;
	if (s->o.checkpoint &&
	    (rc = vp_state_path_check(s->o.checkpoint, err, sizeof(err))) != 0)
		vp_die(rc, "--checkpoint: %s", err);
	if (s->o.dlq &&
	    (rc = vp_state_path_check(s->o.dlq, err, sizeof(err))) != 0)
		vp_die(rc, "--dlq: %s", err);
	vp_ckpt_counts_load(&s->ck);
}

int
vp_sink_undelivered(struct vp_sink *s, enum vp_outcome out,
    const struct vp_sink_event *ev, struct vp_dl_why *why)
{
	struct vp_buf m = { 0 };
	const char *what;
	char *rec;
	size_t len;
	int rc, e;

	if (why->reason == NULL)
		why->reason = vp_outcome_reason(out);
	why->line = ev->line;
	/* stdin:7: event ID: URL FUNCTION: reason: code: error */
	vp_buf_printf(&m, "stdin:%lu: ", ev->line);
	if (ev->id)
		vp_buf_printf(&m, "event %s: ", ev->id);
	if (why->url)
		vp_buf_printf(&m, "%s%s", why->url, why->function ? " " : ": ");
	if (why->function)
		vp_buf_printf(&m, "%s: ", why->function);
	/* the error of an invalid line that ends the run says what it is */
	if (out != VP_OUT_INVALID || why->error == NULL ||
	    (s->o.dlq && !s->o.strict))
		vp_buf_printf(&m, "%s%s", why->reason,
		    why->code || why->error ? ": " : "");
	if (why->code)
		vp_buf_printf(&m, "%s%s", why->code, why->error ? ": " : "");
	if (why->error)
		vp_buf_printf(&m, "%s", why->error);
	what = m.data;
	rc = 0;
	switch (out) {
	case VP_OUT_REJECTED:
	case VP_OUT_EXHAUSTED:
	case VP_OUT_INVALID:
		if (s->o.dlq && !(out == VP_OUT_INVALID && s->o.strict))
			break;
		vp_error("%s", what);
		rc = out == VP_OUT_EXHAUSTED ? VP_EXIT_TEMPFAIL :
		    VP_EXIT_DATAERR;
		goto out;
	case VP_OUT_STOPPED:
		vp_error("%s; not done: it comes again after a restart", what);
		rc = VP_EXIT_TEMPFAIL;
		goto out;
	case VP_OUT_AUTH:
		vp_error("%s", what);
		rc = VP_EXIT_NOPERM;
		goto out;
	case VP_OUT_CONFIG:
		vp_error("%s", what);
		rc = VP_EXIT_CONFIG;
		goto out;
	case VP_OUT_OK:
		goto out;
	}
	rec = vp_dl_record(ev->text, ev->len, ev->is_object, why, &len);
	rc = vp_append_line_sync(s->o.dlq, rec, len);
	e = errno;
	free(rec);
	if (rc != 0) {
		/* the file is as it was; the event is not done */
		vp_error("%s; cannot dead-letter it: %s: %s", what, s->o.dlq,
		    strerror(e));
		rc = VP_EXIT_IOERR;
		goto out;
	}
	s->deadlettered++;
	vp_warn("%s; dead-lettered to %s", what, s->o.dlq);
out:
	vp_buf_free(&m);
	return rc;
}

/* ---- lines from a processor's jq stage ---------------------------------------- */

enum vp_ctl_kind
vp_sink_ctl_read(const char *line, size_t len, struct vp_sink_ctl *c)
{
	static const char mark[] = "{\"vcpipe\":\"";
	static struct ce_event ev;	/* its buffers serve every line */
	const char *kind, *text, *p;
	json_t *j, *m;
	size_t n;

	memset(c, 0, sizeof(*c));
	/* jq -c writes the members in the order the program gives them */
	if (len < sizeof(mark) || memcmp(line, mark, sizeof(mark) - 1) != 0)
		return VP_CTL_NONE;
	if ((j = json_loadb(line, len, 0, NULL)) == NULL)
		return VP_CTL_NONE;
	kind = json_string_value(json_object_get(j, "vcpipe"));
	m = json_object_get(j, "event");
	if (kind == NULL || !json_is_string(m) || (strcmp(kind, "skip") != 0 &&
	    (strcmp(kind, "error") != 0 ||
	    !json_is_string(json_object_get(j, "error"))))) {
		json_decref(j);
		return VP_CTL_NONE;
	}
	c->kind = strcmp(kind, "skip") == 0 ? VP_CTL_SKIP : VP_CTL_ERROR;
	text = json_string_value(m);
	n = json_string_length(m);
	if (ce_read(&ev, text, n, 0) == CE_OK) {
		vp_evpos_from_ce(&c->pos, &ev);
		c->subject = ce_strdup(&ev, &ev.subject);
	}
	if (c->kind == VP_CTL_ERROR) {
		c->error = vp_xstrdup(json_string_value(json_object_get(j,
		    "error")));
		/* a replayed dead letter is dead-lettered without its member */
		if (ce_record_text(&ev, &p, &n))
			c->is_object = 1;
		else
			p = text;
		c->text = vp_xmalloc(n + 1);
		memcpy(c->text, p, n);
		c->text[n] = '\0';
		c->len = n;
	}
	json_decref(j);
	return c->kind;
}

int
vp_sink_ctl_settle(struct vp_sink *s, struct vp_sink_ctl *c,
    unsigned long line)
{
	struct vp_dl_why why = { .reason = "filter error", .error = c->error,
	    .status = -1 };
	struct vp_sink_event ev = { .line = line, .id = c->pos.id, .text = c->text,
	    .len = c->len, .is_object = c->is_object };

	if (c->kind != VP_CTL_ERROR)
		return 0;
	return vp_sink_undelivered(s, VP_OUT_INVALID, &ev, &why);
}

void
vp_evpos_from_ce(struct vp_evpos *p, const struct ce_event *ev)
{
	p->source = ce_strdup(ev, &ev->source);
	p->id = ce_strdup(ev, &ev->id);
	p->time = ce_strdup(ev, &ev->time);
	p->has_key = ev->has_key;
	p->key = ev->key;
}

void
vp_sink_ctl_free(struct vp_sink_ctl *c)
{
	vp_evpos_free(&c->pos);
	free(c->subject);
	free(c->error);
	free(c->text);
	memset(c, 0, sizeof(*c));
}

int
vp_sink_torn_line(unsigned long lineno)
{
	vp_error("stdin:%lu: input ended inside this line (its writer was "
	    "stopped mid-line): not delivered and not dead-lettered; it comes "
	    "again, whole, after the restart", lineno);
	return VP_EXIT_TEMPFAIL;
}

int
vp_sink_blank_line(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!json_ws((unsigned char)line[i]))
			return 0;
	return 1;
}

void
vp_sink_free(struct vp_sink *s)
{
	vp_ckpt_writer_free(&s->ck);
}
