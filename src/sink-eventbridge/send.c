/*
 * send.c: one PutEvents call for the first pending events of the queue,
 * and what becomes of each entry: done, sent again after a backoff (failed
 * entries that AWS calls retryable), or dead-lettered.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eb.h"

/*
 * The record is sink-http's: the input line with a "deadletter" member
 * appended ({"invalid": LINE, "deadletter": ...} when the line is not a JSON
 * object), so either sink replays the other's dead letters.
 */
void
eb_dead_letter(struct eb *eb, struct ev *e, const char *reason,
    const char *code, const char *error)
{
	json_t *meta;
	char now[64], *m;
	struct vp_buf b = { 0 };
	struct timespec ts;
	size_t n = e->len;

	if (eb->o.dlq == NULL) {
		vp_error("line %lu: event %s %s: %s%s%s", e->lineno,
		    e->id ? e->id : "?", reason, code ? code : "",
		    code ? ": " : "", error);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	vp_format_rfc3339(ts.tv_sec, 0, now, sizeof(now));
	meta = json_pack("{s:s, s:s, s:i, s:s, s:i, s:s}", "reason", reason,
	    "error", error, "attempts", (json_int_t)e->attempts, "url", eb->url,
	    "line", (json_int_t)e->lineno, "time", now);
	if (code)
		json_object_set_new(meta, "code", json_string(code));
	m = json_dumps(meta, JSON_COMPACT);
	json_decref(meta);
	while (n > 0 && (e->line[n - 1] == ' ' || e->line[n - 1] == '\t' ||
	    e->line[n - 1] == '\r' || e->line[n - 1] == '\n'))
		n--;
	if (e->appendable && n > 0 && e->line[n - 1] == '}') {
		/* up to the closing brace; blanks after it stay after it */
		vp_buf_append(&b, e->line, n - 1);
		if (e->nmembers > 0)
			vp_buf_append(&b, ",", 1);
		vp_buf_printf(&b, "\"deadletter\":%s}", m);
		vp_buf_append(&b, e->line + n, e->len - n);
	} else {
		json_t *o = json_pack("{s:s%}", "invalid", e->line, e->len);
		char *enc;

		if (o == NULL)	/* not UTF-8: the line cannot be kept */
			o = json_pack("{s:s}", "invalid",
			    "(line is not valid UTF-8)");
		json_object_set_new(o, "deadletter", json_loads(m, 0, NULL));
		enc = json_dumps(o, JSON_COMPACT);
		vp_buf_append(&b, enc, strlen(enc));
		free(enc);
		json_decref(o);
	}
	free(m);
	if (vp_append_line_sync(eb->o.dlq, b.data, b.len) != 0)
		vp_die(VP_EXIT_IOERR, "%s: %s", eb->o.dlq, strerror(errno));
	vp_warn("line %lu: event %s %s: %s%s%s; dead-lettered to %s",
	    e->lineno, e->id ? e->id : "?", reason, code ? code : "",
	    code ? ": " : "", error, eb->o.dlq);
	eb->dead++;
	vp_buf_free(&b);
}

static int
retries_exhausted(const struct eb *eb, const struct ev *e)
{
	if (eb->o.max_retries >= 0 &&
	    e->attempts > (unsigned long)eb->o.max_retries)
		return 1;
	return eb->o.max_retry_ms > 0 &&
	    vp_now_ms() - e->first_try_ms >= eb->o.max_retry_ms;
}

/* A retryable failure of e; 0 when it should be sent again. */
static int
retry_or_give_up(struct eb *eb, struct ev *e, const char *code,
    const char *why)
{
	if (!retries_exhausted(eb, e) && !vp_stop_requested)
		return 0;
	if (eb->o.dlq == NULL) {
		eb_write_checkpoint(eb);
		vp_die(VP_EXIT_TEMPFAIL, "line %lu: event %s not delivered: "
		    "%s%s%s", e->lineno, e->id, code ? code : "",
		    code ? ": " : "", why);
	}
	eb_dead_letter(eb, e, vp_stop_requested ? "stopped while retrying" :
	    "retries exhausted", code, why);
	e->state = ST_DONE;
	return 1;
}

void
eb_reject(struct eb *eb, struct ev *e, const char *code, const char *why)
{
	if (eb->o.dlq == NULL) {
		eb_dead_letter(eb, e, "rejected", code, why);
		eb_pop_done(eb);
		eb_write_checkpoint(eb);
		exit(VP_EXIT_DATAERR);
	}
	eb_dead_letter(eb, e, "rejected", code, why);
	e->state = ST_DONE;
}

static char *
batch_body(const struct eb *eb, struct ev **b, size_t n)
{
	json_t *req = json_object(), *arr = json_array();
	char *s;

	for (size_t i = 0; i < n; i++) {
		json_t *en = json_object();

		if (b[i]->has_time)
			json_object_set_new(en, "Time",
			    json_integer((json_int_t)b[i]->tsec));
		json_object_set_new(en, "Source", json_string(b[i]->source));
		json_object_set_new(en, "DetailType", json_string(b[i]->dtype));
		json_object_set_new(en, "Detail",
		    json_stringn(b[i]->detail, b[i]->detail_len));
		json_object_set_new(en, "EventBusName", json_string(eb->o.bus));
		json_array_append_new(arr, en);
	}
	json_object_set_new(req, "Entries", arr);
	s = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	return s;
}

/*
 * While single_until counts down, one entry per request: that finds the
 * entry that made a whole request invalid.
 */
void
eb_send_batch(struct eb *eb)
{
	struct ev *b[MAX_ENTRIES];
	size_t n = 0, bytes = 0, limit = (size_t)eb->o.batch;
	struct resp r;
	char *body, why[600];
	int c, any_retry = 0;
	json_t *j = NULL, *entries = NULL;

	if (eb->single_until > 0)
		limit = 1;
	for (size_t i = 0; i < eb->qlen && n < limit; i++) {
		if (eb->q[i]->state != ST_PENDING)
			continue;
		if (n > 0 && bytes + eb->q[i]->size > eb->o.max_bytes)
			break;
		bytes += eb->q[i]->size;
		b[n++] = eb->q[i];
	}
	if (n == 0)
		return;
	if (eb->single_until > 0)
		eb->single_until--;
	for (size_t i = 0; i < n; i++) {
		if (b[i]->attempts++ == 0)
			b[i]->first_try_ms = vp_now_ms();
	}
	body = batch_body(eb, b, n);
	aws_call(eb, "AWSEvents.PutEvents", body, strlen(body), &r);
	free(body);
	c = aws_classify(&r);
	aws_describe(&r, why, sizeof(why));
	if (c == RES_AUTH) {
		eb_write_checkpoint(eb);
		vp_die(VP_EXIT_NOPERM, "PutEvents: %s (credentials from %s)",
		    why, eb->creds.where);
	}
	if (c == RES_CONFIG) {
		eb_write_checkpoint(eb);
		vp_die(VP_EXIT_CONFIG, "PutEvents: %s", why);
	}
	if (c == RES_REJECT) {
		vp_buf_free(&r.body);
		if (n > 1) {
			/* one bad entry spoils the request: find it alone */
			vp_warn("PutEvents: %s; sending the %zu entries one "
			    "by one", why, n);
			for (size_t i = 0; i < n; i++)
				b[i]->attempts--;
			eb->single_until = (int)n;
			return;
		}
		eb_reject(eb, b[0], r.errtype[0] ? r.errtype : NULL, why);
		return;
	}
	if (c == RES_OK) {
		j = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0,
		    NULL);
		entries = j ? json_object_get(j, "Entries") : NULL;
		if (!json_is_array(entries) || json_array_size(entries) != n) {
			snprintf(why, sizeof(why), "PutEvents: response without "
			    "one result per entry");
			c = RES_RETRY;
		}
	}
	vp_buf_free(&r.body);
	if (c == RES_RETRY) {
		vp_warn("PutEvents (%zu entries): %s", n, why);
		for (size_t i = 0; i < n; i++)
			any_retry |= !retry_or_give_up(eb, b[i],
			    r.errtype[0] ? r.errtype : NULL, why);
	} else {
		for (size_t i = 0; i < n; i++) {
			json_t *res = json_array_get(entries, i);
			const char *code = json_str_member(res, "ErrorCode");
			const char *msg = json_str_member(res, "ErrorMessage");

			if (code == NULL && json_str_member(res, "EventId")) {
				b[i]->state = ST_DONE;
				eb->delivered++;
				continue;
			}
			snprintf(why, sizeof(why), "%s", msg ? msg : "failed");
			if (code && (strcmp(code, "InternalFailure") == 0 ||
			    strcmp(code, "ThrottlingException") == 0)) {
				vp_info("line %lu: entry %s: %s: %s, retrying",
				    b[i]->lineno, b[i]->id, code, why);
				any_retry |= !retry_or_give_up(eb, b[i], code,
				    why);
			} else
				eb_reject(eb, b[i], code ? code : "Unknown",
				    why);
		}
	}
	json_decref(j);
	if (any_retry) {
		int64_t d = vp_backoff_next(&eb->backoff);

		if (r.retry_after_ms > d)
			d = r.retry_after_ms;
		eb_pop_done(eb);
		if (eb->need_checkpoint)
			eb_write_checkpoint(eb);
		vp_debug("retrying in %lld ms", (long long)d);
		vp_sleep_ms(d);
	} else
		vp_backoff_reset(&eb->backoff);
}

