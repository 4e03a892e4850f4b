/*
 * send.c: one PutEvents call for the first pending events of the queue,
 * and what becomes of each entry: done, sent again after a backoff (failed
 * entries that AWS calls retryable), or dead-lettered.
 */
#include <stdlib.h>
#include <string.h>

#include "eb.h"

void
eb_settle(struct eb *eb, struct ev *e, enum vp_outcome out, const char *code,
    const char *error, long status)
{
	struct vp_dl_why why = { .error = error, .code = code,
	    .status = status, .attempts = e->attempts, .url = eb->url };
	struct vp_sink_event sev = { .line = e->lineno, .id = e->id,
	    .text = e->len > 0 ? e->line : NULL, .len = e->len,
	    .is_object = e->is_object };
	int rc;

	if (out == VP_OUT_INVALID)
		why.url = NULL;	/* never sent */
	rc = vp_sink_undelivered(&eb->core, out, &sev, &why);
	if (rc == 0) {
		if (out != VP_OUT_INVALID)
			vp_ckpt_count(&eb->core.ck, e->dtype, 0);
		e->state = ST_DONE;
		return;
	}
	/* not done: the checkpoint stays before it */
	e->state = ST_PENDING;
	eb_pop_done(eb);
	eb_checkpoint(eb);
	exit(rc);
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
	int64_t delay = -1;
	json_t *j = NULL, *entries = NULL;
	struct ev *stopped = NULL;

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
	if (vp_stop_requested && b[0]->attempts > 0)
		eb_settle(eb, b[0], VP_OUT_STOPPED, NULL, "not sent again after "
		    "the stop request", -1);
	if (eb->single_until > 0)
		eb->single_until--;
	for (size_t i = 0; i < n; i++) {
		if (b[i]->attempts++ == 0)
			b[i]->first_try_ms = vp_now_ms();
	}
	body = batch_body(eb, b, n);
	aws_call(eb, "AWSEvents.PutEvents", body, strlen(body), &r);
	free(body);
	c = aws_classify(&r, &eb->core.o.retry);
	aws_describe(&r, why, sizeof(why));
	if (c == RES_AUTH) {
		eb_checkpoint(eb);
		vp_die(VP_EXIT_NOPERM, "PutEvents: %s (credentials from %s)",
		    why, eb->creds.where);
	}
	if (c == RES_CONFIG) {
		eb_checkpoint(eb);
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
		eb_settle(eb, b[0], VP_OUT_REJECTED,
		    r.errtype[0] ? r.errtype : NULL, why, r.status);
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
	if (c == RES_RETRY)
		vp_warn("PutEvents (%zu entries): %s", n, why);
	for (size_t i = 0; i < n; i++) {
		json_t *res = c == RES_OK ? json_array_get(entries, i) : NULL;
		const char *code = json_str_member(res, "ErrorCode");
		const char *msg = json_str_member(res, "ErrorMessage");
		char ewhy[600];
		int over;

		if (c == RES_OK) {
			if (code == NULL && json_str_member(res, "EventId")) {
				b[i]->state = ST_DONE;
				eb->core.ck.pos.delivered++;
				vp_ckpt_count(&eb->core.ck, b[i]->dtype, 1);
				continue;
			}
			snprintf(ewhy, sizeof(ewhy), "%s", msg ? msg : "failed");
			if (code == NULL || (strcmp(code, "InternalFailure") != 0 &&
			    strcmp(code, "ThrottlingException") != 0)) {
				eb_settle(eb, b[i], VP_OUT_REJECTED,
				    code ? code : "Unknown", ewhy, r.status);
				continue;
			}
			vp_info("line %lu: entry %s: %s: %s, retrying",
			    b[i]->lineno, b[i]->id, code, ewhy);
		} else {
			code = r.errtype[0] ? r.errtype : NULL;
			snprintf(ewhy, sizeof(ewhy), "%s", why);
		}
		/* a retryable failure: again after the delay, or give up */
		if (delay < 0)
			delay = vp_retry_delay(&eb->backoff, r.retry_after_ms);
		if (vp_stop_requested) {
			if (stopped == NULL)
				stopped = b[i];
			continue;
		}
		over = vp_retry_over(&eb->core.o.retry, b[i]->attempts,
		    b[i]->first_try_ms, delay);
		if (over == 2)
			snprintf(ewhy + strlen(ewhy), sizeof(ewhy) - strlen(ewhy),
			    " (next retry past --max-retry-time)");
		if (over)
			eb_settle(eb, b[i], VP_OUT_EXHAUSTED, code, ewhy,
			    r.status);
		else
			any_retry = 1;
	}
	json_decref(j);
	if (stopped) {
		/* it comes again from the source after the restart */
		eb_settle(eb, stopped, VP_OUT_STOPPED, NULL, why, r.status);
	}
	if (any_retry) {
		/* the checkpoint before each backoff */
		eb_pop_done(eb);
		eb_checkpoint(eb);
		vp_debug("retrying in %lld ms", (long long)delay);
		vp_sleep_ms(delay);
	} else
		vp_backoff_reset(&eb->backoff);
}
