/*
 * send.c: PutEvents calls for the pending events of the queue, up to
 * --inflight of them on the wire at once (one multi handle, src/lib's
 * curlmulti), and what becomes of each entry: done, sent again after its
 * backoff (failed entries that AWS calls retryable), or failed (batch.c
 * settles it in input order).
 *
 * With --inflight 1 a batch is sent only when the one before it has ended
 * and the first pending event is due, so events reach EventBridge in input
 * order, retries included, as they always did.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "eb.h"

void
eb_fail(struct ev *e, enum vp_outcome out, const char *code,
    const char *error, long status)
{
	e->state = ST_FAILED;
	e->out = out;
	e->status = status;
	free(e->code);
	free(e->why);
	e->code = code ? vp_xstrdup(code) : NULL;
	e->why = error ? vp_xstrdup(error) : NULL;
}

int
eb_settle(struct eb *eb, struct ev *e)
{
	struct vp_dl_why why = { .error = e->why, .code = e->code,
	    .status = e->status, .attempts = e->attempts, .url = eb->url };
	struct vp_sink_event sev = { .line = e->lineno, .id = e->pos.id,
	    .text = e->len > 0 ? e->line : NULL, .len = e->len,
	    .is_object = e->is_object };
	int rc;

	if (e->ctl) {
		/* the jq stage's error line: its id and text are the ctl's */
		e->ctl->pos.id = e->pos.id;
		rc = vp_sink_ctl_settle(&eb->core, e->ctl, e->lineno);
		e->ctl->pos.id = NULL;
		return rc;
	}
	if (e->out == VP_OUT_INVALID)
		why.url = NULL;	/* never sent */
	rc = vp_sink_undelivered(&eb->core, e->out, &sev, &why);
	if (rc == 0 && e->out != VP_OUT_INVALID)
		vp_ckpt_count(&eb->core.ck, e->dtype, 0);
	return rc;
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
		json_object_set_new(en, "Source", json_string(b[i]->pos.source));
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

void
eb_send_init(struct eb *eb)
{
	size_t n = (size_t)eb->o.inflight;

	vp_multi_init(&eb->multi, (long)n);
	eb->slots = vp_xmalloc(n * sizeof(*eb->slots));
	memset(eb->slots, 0, n * sizeof(*eb->slots));
	for (size_t i = 0; i < n; i++) {
		struct batch *b = &eb->slots[i];

		if ((b->curl = curl_easy_init()) == NULL)
			vp_die(VP_EXIT_SOFTWARE, "libcurl: cannot initialise");
		vp_curl_common(b->curl, &eb->o.tls);
		vp_curl_stop_grace(b->curl);
		curl_easy_setopt(b->curl, CURLOPT_PRIVATE, b);
		b->r = vp_xmalloc(sizeof(*b->r));
		memset(b->r, 0, sizeof(*b->r));
	}
}

void
eb_send_free(struct eb *eb)
{
	for (size_t i = 0; eb->slots && i < (size_t)eb->o.inflight; i++) {
		struct batch *b = &eb->slots[i];

		if (b->n)
			curl_multi_remove_handle(eb->multi.m, b->curl);
		curl_easy_cleanup(b->curl);
		curl_slist_free_all(b->hdrs);
		free(b->body);
		vp_buf_free(&b->r->body);
		free(b->r);
	}
	free(eb->slots);
	eb->slots = NULL;
	vp_multi_free(&eb->multi);
}

/* The backoff before an entry's next attempt (full jitter, its own). */
static int64_t
entry_delay(const struct eb *eb, const struct ev *e, int64_t retry_after_ms)
{
	struct vp_backoff bo;

	vp_backoff_init(&bo, eb->core.o.retry.base_ms, eb->core.o.retry.cap_ms);
	bo.attempt = e->attempts > 0 ? e->attempts - 1 : 0;
	return vp_retry_delay(&bo, retry_after_ms);
}

/* The request of b ended: settle what each of its entries became. */
static void
batch_ended(struct eb *eb, struct batch *b)
{
	struct resp *r = b->r;
	size_t n = b->n;
	char why[600];
	int c;
	int64_t delay = -1;
	json_t *j = NULL, *entries = NULL;

	curl_slist_free_all(b->hdrs);
	b->hdrs = NULL;
	free(b->body);
	b->body = NULL;
	b->n = 0;
	eb->busy--;
	c = aws_classify(r, &eb->core.o.retry);
	aws_describe(r, why, sizeof(why));
	if (c == RES_AUTH) {
		eb_pop_done(eb);
		eb_checkpoint(eb);
		vp_die(VP_EXIT_NOPERM, "PutEvents: %s (credentials from %s)",
		    why, eb->creds.where);
	}
	if (c == RES_CONFIG) {
		eb_pop_done(eb);
		eb_checkpoint(eb);
		vp_die(VP_EXIT_CONFIG, "PutEvents: %s", why);
	}
	if (c == RES_REJECT) {
		vp_buf_free(&r->body);
		if (n > 1) {
			/* one bad entry spoils the request: find it alone */
			vp_warn("PutEvents: %s; sending the %zu entries one "
			    "by one", why, n);
			for (size_t i = 0; i < n; i++) {
				b->e[i]->attempts--;
				b->e[i]->state = ST_PENDING;
			}
			eb->single_until += (int)n;
			return;
		}
		eb_fail(b->e[0], VP_OUT_REJECTED,
		    r->errtype[0] ? r->errtype : NULL, why, r->status);
		return;
	}
	if (c == RES_OK) {
		j = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0,
		    NULL);
		entries = j ? json_object_get(j, "Entries") : NULL;
		if (!json_is_array(entries) || json_array_size(entries) != n) {
			snprintf(why, sizeof(why), "PutEvents: response without "
			    "one result per entry");
			c = RES_RETRY;
		}
	}
	vp_buf_free(&r->body);
	if (c == RES_RETRY)
		vp_warn("PutEvents (%zu entries): %s", n, why);
	for (size_t i = 0; i < n; i++) {
		struct ev *e = b->e[i];
		json_t *res = c == RES_OK ? json_array_get(entries, i) : NULL;
		const char *code = json_str_member(res, "ErrorCode");
		const char *msg = json_str_member(res, "ErrorMessage");
		char ewhy[600];
		int over;

		if (c == RES_OK) {
			if (code == NULL && json_str_member(res, "EventId")) {
				e->state = ST_DONE;
				eb->core.ck.pos.delivered++;
				vp_ckpt_count(&eb->core.ck, e->dtype, 1);
				continue;
			}
			snprintf(ewhy, sizeof(ewhy), "%s", msg ? msg : "failed");
			if (code == NULL || (strcmp(code, "InternalFailure") != 0 &&
			    strcmp(code, "ThrottlingException") != 0)) {
				eb_fail(e, VP_OUT_REJECTED,
				    code ? code : "Unknown", ewhy, r->status);
				continue;
			}
			vp_info("line %lu: entry %s: %s: %s, retrying",
			    e->lineno, e->pos.id, code, ewhy);
		} else {
			code = r->errtype[0] ? r->errtype : NULL;
			snprintf(ewhy, sizeof(ewhy), "%s", why);
		}
		/* a retryable failure: again after its delay, or give up */
		if (vp_stop_requested) {
			/* it comes again from the source after the restart */
			eb_fail(e, VP_OUT_STOPPED, NULL, why, r->status);
			continue;
		}
		/* one delay for the request's retried entries: they go out
		 * together again */
		if (delay < 0)
			delay = entry_delay(eb, e, r->retry_after_ms);
		over = vp_retry_over(&eb->core.o.retry, e->attempts,
		    e->first_try_ms, delay);
		if (over == 2)
			snprintf(ewhy + strlen(ewhy), sizeof(ewhy) - strlen(ewhy),
			    " (next retry past --max-retry-time)");
		if (over) {
			eb_fail(e, VP_OUT_EXHAUSTED, code, ewhy, r->status);
			continue;
		}
		vp_debug("line %lu: retrying in %lld ms", e->lineno,
		    (long long)delay);
		e->state = ST_PENDING;
		e->ready_ms = e->due_ms = vp_now_ms() + delay;
	}
	json_decref(j);
}

/* Send the entries b holds as one PutEvents request. */
static void
batch_start(struct eb *eb, struct batch *b)
{
	int64_t now = vp_now_ms();

	if (eb->single_until > 0)
		eb->single_until--;
	for (size_t i = 0; i < b->n; i++) {
		b->e[i]->state = ST_SENDING;
		if (b->e[i]->attempts++ == 0)
			b->e[i]->first_try_ms = now;
	}
	b->body = batch_body(eb, b->e, b->n);
	eb->busy++;
	if (aws_prepare(eb, b->curl, "AWSEvents.PutEvents", b->body,
	    strlen(b->body), b->r, &b->hdrs) != 0) {
		/* no credentials to sign with: settled as if it had ended */
		batch_ended(eb, b);
		return;
	}
	vp_multi_add(&eb->multi, b->curl);
}

int64_t
eb_send_ready(struct eb *eb, int flush)
{
	for (;;) {
		struct batch *b = NULL;
		size_t limit = eb->single_until > 0 ? 1 : (size_t)eb->o.batch;
		size_t bytes = 0, n = 0;
		int64_t now = vp_now_ms(), oldest = -1, next = -1;
		struct ev *pick[MAX_ENTRIES];

		if (eb->busy >= (size_t)eb->o.inflight)
			return -1;
		for (size_t i = 0; i < eb->qlen && n < limit; i++) {
			struct ev *e = eb->q[i];

			if (e->state != ST_PENDING)
				continue;
			/* after a stop only what was never tried goes out */
			if (vp_stop_requested && e->attempts > 0)
				continue;
			if (e->due_ms > now) {
				if (next < 0 || e->due_ms - now < next)
					next = e->due_ms - now;
				/* one request at a time keeps input order */
				if (eb->o.inflight == 1)
					break;
				continue;
			}
			if (n > 0 && bytes + e->size > eb->o.max_bytes)
				break;
			bytes += e->size;
			if (oldest < 0 || e->ready_ms < oldest)
				oldest = e->ready_ms;
			pick[n++] = e;
		}
		if (n == 0)
			return next;
		if (n < limit && bytes < eb->o.max_bytes && !flush &&
		    !vp_stop_requested && eb->qlen < eb->qmax &&
		    now - oldest < eb->o.linger_ms) {
			int64_t left = oldest + eb->o.linger_ms - now;

			return next < 0 || left < next ? left : next;
		}
		for (size_t i = 0; i < (size_t)eb->o.inflight; i++)
			if (eb->slots[i].n == 0) {
				b = &eb->slots[i];
				break;
			}
		memcpy(b->e, pick, n * sizeof(*pick));
		b->n = n;
		batch_start(eb, b);
	}
}

void
eb_send_wait(struct eb *eb, int reading, int64_t wait_ms)
{
	CURL *c;
	CURLcode cc;
	int r = vp_multi_wait(&eb->multi, reading ? 0 : -1, wait_ms,
	    vp_stop_requested);

	if (r < 0)
		vp_die(VP_EXIT_SOFTWARE, "poll: %s", strerror(errno));
	if (r > 0)
		eb->in.ready = 1;
	while ((c = vp_multi_done(&eb->multi, &cc)) != NULL) {
		struct batch *b;

		curl_easy_getinfo(c, CURLINFO_PRIVATE, (char **)&b);
		aws_finish(c, b->r, cc);
		batch_ended(eb, b);
	}
}

void
eb_send_abandon(struct eb *eb)
{
	for (size_t i = 0; i < (size_t)eb->o.inflight; i++) {
		struct batch *b = &eb->slots[i];

		if (b->n == 0)
			continue;
		curl_multi_remove_handle(eb->multi.m, b->curl);
		b->r->cc = CURLE_ABORTED_BY_CALLBACK;
		snprintf(b->r->curlerr, sizeof(b->r->curlerr),
		    "stopped before an answer came");
		batch_ended(eb, b);
	}
}
