/*
 * pool.c: sink-http --url with several requests in flight (--inflight N).
 *
 * Up to N events are read ahead into a window, in input order. Each is
 * delivered on its own easy handle of one multi handle (libcurl opens
 * HTTP/1.1 connections as needed, up to N, and multiplexes HTTP/2 streams
 * on one connection), retried by deliver()'s rules (attempt_done()), and
 * settled strictly in input order: the window's first event is settled
 * (acknowledged, dead-lettered, or the end of the run) before the second,
 * so dead-letter records keep the input order and the checkpoint moves only
 * over the contiguous prefix of events that are done. An event that ends
 * the run leaves the checkpoint just before it, as with one request at a
 * time; events after it that were already sent come again after the
 * restart (at least once, as always). With N = 1 this is exactly the old
 * order: the next line is read only when the event before it is done.
 *
 * The loop waits in one poll (vp_poll, through src/lib/curlmulti.c) on
 * curl's sockets and stdin, so a stop signal ends the wait at once; that
 * poll is also how the loop learns that stdin has more (no poll of its own).
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "curlmulti.h"
#include "sink.h"

enum { SL_WAIT, SL_RUN, SL_DONE };

struct slot {
	struct event ev;	/* its own copies: the reader is reused */
	char *line;		/* the line as read, NULL when not kept */
	size_t len;
	char *body;
	int state;
	int64_t due_ms;		/* SL_WAIT: when the next attempt may start */
	struct attempt a;
	struct xfer x;
	struct result r;
	struct vp_sink_ctl ctl;	/* a line of the jq stage (sinkcore.h) */
};

struct pool {
	struct vp_multi M;
	struct http *h;
	const struct vp_retry *p;
	const char *url;
	struct slot *s;		/* ring of cap slots; n from head are in use */
	size_t cap, head, n;
	FILE *in;
	int in_ready;		/* the last wait found stdin readable */
	int eof;
};

#define AT(P, i) (&(P)->s[((P)->head + (i)) % (P)->cap])

/* ---- slots -------------------------------------------------------------------- */

static void
slot_clear(struct slot *sl)
{
	event_free(&sl->ev);
	free(sl->line);
	free(sl->body);
	sl->line = sl->body = NULL;
	sl->len = 0;
	vp_buf_free(&sl->r.resp);
	memset(&sl->r, 0, sizeof(sl->r));
	sl->r.resp.max = SINK_RESP_KEEP;
	vp_sink_ctl_free(&sl->ctl);
}

/* Take a line into the next slot: waiting to be sent, or done (invalid). */
static void
slot_fill(struct pool *P, struct vp_linereader *lr, size_t len, int toolong)
{
	struct slot *sl = AT(P, P->n);
	char err[512];

	P->n++;
	slot_clear(sl);
	sl->ev.lineno = lr->lineno;
	if (!toolong) {
		sl->line = vp_xmalloc(len + 1);
		memcpy(sl->line, lr->buf, len + 1);
		sl->len = len;
	}
	if (!toolong && vp_sink_ctl_read(sl->line, len, &sl->ctl) !=
	    VP_CTL_NONE) {
		/* filtered out, or the filter failed on it: not sent */
		sl->state = SL_DONE;
		return;
	}
	if (toolong) {
		snprintf(err, sizeof(err), "line longer than %u bytes",
		    VP_SINK_MAX_LINE);
	} else if (event_parse(&sl->ev, sl->line, len, err,
	    sizeof(err)) == 0) {
		/* the body may live in the reader's buffers: keep a copy,
		 * unless it is the line's own text (structured mode) */
		if ((uintptr_t)sl->ev.body < (uintptr_t)sl->line ||
		    (uintptr_t)sl->ev.body > (uintptr_t)sl->line + len) {
			sl->body = vp_xmalloc(sl->ev.body_len + 1);
			memcpy(sl->body, sl->ev.body, sl->ev.body_len);
			sl->ev.body = sl->body;
		}
		sl->ev.ce = NULL;
		sl->state = SL_WAIT;
		sl->due_ms = 0;
		sl->r.attempts = 0;
		attempt_init(&sl->a, P->h, P->p, AUTH_BASIC | AUTH_BEARER);
		return;
	}
	sl->ev.ce = NULL;
	sl->state = SL_DONE;
	sl->r.out = VP_OUT_INVALID;
	sl->r.status = -1;
	snprintf(sl->r.error, sizeof(sl->r.error), "%s", err);
}

static void
slot_start(struct pool *P, struct slot *sl)
{
	vp_buf_reset(&sl->r.resp);
	sl->x.resp = &sl->r.resp;
	post_prepare(P->h, &sl->x, P->url, &sl->ev, NULL,
	    AUTH_BASIC | AUTH_BEARER);
	curl_easy_setopt(sl->x.curl, CURLOPT_PRIVATE, sl);
	vp_multi_add(&P->M, sl->x.curl);
	sl->state = SL_RUN;
}

/* A request of sl ended with rc: done, or waiting for its next attempt. */
static void
slot_ended(struct pool *P, struct slot *sl, CURLcode rc)
{
	int64_t delay;
	long status;

	status = post_status(&sl->x, rc);
	sl->x.resp = NULL;
	if (attempt_done(P->h, P->p, &sl->a, &sl->x, &P->url, sl->ev.lineno,
	    status, &sl->r, &delay)) {
		sl->state = SL_DONE;
		return;
	}
	sl->state = SL_WAIT;
	sl->due_ms = vp_now_ms() + delay;
}

/* A stop: an event not acknowledged by now is not done. */
static void
slot_stop(struct pool *P, struct slot *sl)
{
	if (sl->state == SL_RUN) {
		curl_multi_remove_handle(P->M.m, sl->x.curl);
		curl_slist_free_all(sl->x.hdrs);
		sl->x.hdrs = NULL;
		sl->x.resp = NULL;
		if (sl->r.error[0] == '\0')
			snprintf(sl->r.error, sizeof(sl->r.error),
			    "stopped before an answer came");
	}
	sl->state = SL_DONE;
	sl->r.out = VP_OUT_STOPPED;
	if (sl->r.attempts == 0)
		sl->r.status = -1;
}

/* ---- the loop ------------------------------------------------------------------- */

/* The window's first event is done: settle it. 0, or the exit code. */
static int
settle_head(struct pool *P, struct vp_sink *core, settle_fn settle)
{
	struct vp_ckpt_writer *ck = &core->ck;
	struct slot *sl = AT(P, 0);
	int rc = 0;

	if (sl->ctl.kind != VP_CTL_NONE) {
		/* done in its turn: noted after the events before it */
		if ((rc = vp_sink_ctl_settle(core, &sl->ctl,
		    sl->ev.lineno)) == 0)
			vp_ckpt_note(ck, &sl->ctl.pos);
	} else if (sl->r.out == VP_OUT_OK)
		ck->pos.delivered++;
	else {
		/* the dead-letter text comes from the reader: read it again */
		struct event ev;
		char err[512];

		memset(&ev, 0, sizeof(ev));
		ev.lineno = sl->ev.lineno;
		if (sl->line)
			(void)event_parse(&ev, sl->line, sl->len, err,
			    sizeof(err));
		ev.line = sl->line;
		ev.len = sl->len;
		if (ev.pos.id == NULL && sl->ev.pos.id)
			ev.pos.id = vp_xstrdup(sl->ev.pos.id);
		rc = settle(&ev, &sl->r, sl->r.out == VP_OUT_INVALID ? NULL :
		    P->url, NULL);
		event_free(&ev);
	}
	/* an unreadable line moves no checkpoint: it names no event */
	if (rc == 0 && sl->ctl.kind == VP_CTL_NONE &&
	    sl->r.out != VP_OUT_INVALID) {
		vp_ckpt_count(ck, sl->ev.subject, sl->r.out == VP_OUT_OK);
		vp_ckpt_note_move(ck, &sl->ev.pos);	/* the slot is cleared next */
	}
	slot_clear(sl);
	P->head = (P->head + 1) % P->cap;
	P->n--;
	return rc;
}

/* Is input there without waiting (buffered, or stdin was readable)? */
static int
input_ready(const struct pool *P)
{
	return vp_input_buffered(P->in) || P->in_ready;
}

/*
 * For the checkpoint: no input ready, so write it now.  At the end of
 * input, no: it is written on the way out, and by the interval while the
 * last requests run.
 */
static int
input_idle(void *arg)
{
	const struct pool *P = arg;

	return !P->eof && !input_ready(P);
}

int
pool_run(struct http *h, const struct vp_retry *p, const char *url,
    unsigned inflight, struct vp_linereader *lr, struct vp_sink *core,
    settle_fn settle)
{
	struct vp_ckpt_writer *ck = &core->ck;
	struct pool P;
	int rc = 0, in;
	unsigned long torn = 0;	/* the line input ended inside */
	int64_t stop_ms = -1;

	memset(&P, 0, sizeof(P));
	P.h = h;
	P.p = p;
	P.url = url;
	P.in = lr->fp;
	P.cap = inflight;
	P.s = vp_xmalloc(P.cap * sizeof(*P.s));
	memset(P.s, 0, P.cap * sizeof(*P.s));
	vp_multi_init(&P.M, (long)P.cap);
	for (size_t i = 0; i < P.cap; i++) {
		if ((P.s[i].x.curl = curl_easy_init()) == NULL)
			vp_die(VP_EXIT_SOFTWARE, "curl_easy_init failed");
		P.s[i].x.retry_after_ms = -1;
		P.s[i].x.pooled = 1;
		P.s[i].r.resp.max = SINK_RESP_KEEP;
	}

	for (;;) {
		int64_t now, wait;
		int reading;
		CURL *e;
		CURLcode cc;

		/* settle the finished prefix, in input order */
		while (P.n > 0 && AT(&P, 0)->state == SL_DONE)
			if ((rc = settle_head(&P, core, settle)) != 0)
				goto out;
		if (vp_ckpt_maybe(ck, input_idle, &P) != 0) {
			rc = VP_EXIT_IOERR;
			goto out;
		}
		if (vp_stop_requested) {
			/* what waits for a retry is not done; what is on the
			 * wire gets its grace (VP_STOP_GRACE_MS) */
			if (stop_ms < 0)
				stop_ms = vp_now_ms();
			for (size_t i = 0; i < P.n; i++) {
				struct slot *sl = AT(&P, i);

				if (sl->state == SL_WAIT ||
				    (sl->state == SL_RUN && vp_now_ms() -
				    stop_ms > VP_STOP_GRACE_MS))
					slot_stop(&P, sl);
			}
			if (P.n > 0 && AT(&P, 0)->state == SL_DONE)
				continue;
		}
		if (P.n == 0 && (P.eof || vp_stop_requested)) {
			if (torn)
				rc = vp_sink_torn_line(torn);
			break;
		}

		/* read ahead while there is room: block only when idle */
		while (!P.eof && !vp_stop_requested && P.n < P.cap &&
		    (P.n == 0 || input_ready(&P))) {
			size_t len;
			enum vp_line_status st;

			/* a read past the buffer uses up what the wait saw */
			if (!vp_input_buffered(P.in))
				P.in_ready = 0;
			st = vp_read_line(lr, &len);
			if (st == VP_LINE_EOF) {
				P.eof = 1;
				break;
			}
			if (st == VP_LINE_ERROR) {
				vp_error("stdin: %s", strerror(errno));
				rc = VP_EXIT_IOERR;
				goto out;
			}
			if (st == VP_LINE_TORN) {
				/* ends the run once the events before it are
				 * settled */
				torn = lr->lineno;
				P.eof = 1;
				break;
			}
			if (st == VP_LINE_OK && vp_sink_blank_line(lr->buf, len))
				continue;
			slot_fill(&P, lr, len, st == VP_LINE_TOOLONG);
		}
		if (P.n == 0 || AT(&P, 0)->state == SL_DONE)
			continue;

		/* start what is due */
		now = vp_now_ms();
		wait = -1;
		for (size_t i = 0; i < P.n && !vp_stop_requested; i++) {
			struct slot *sl = AT(&P, i);

			if (sl->state != SL_WAIT)
				continue;
			if (sl->due_ms <= now)
				slot_start(&P, sl);
			else if (wait < 0 || sl->due_ms - now < wait)
				wait = sl->due_ms - now;
		}

		/* wait for curl, a retry, more input, or the stop's grace */
		if (ck->path && (ck->dirty || ck->pending) &&
		    (wait < 0 || ck->interval_ms < wait))
			wait = ck->interval_ms;
		if (stop_ms >= 0 && (wait < 0 || wait > 100))
			wait = 100;
		reading = !P.eof && !vp_stop_requested && P.n < P.cap;
		if (reading && input_ready(&P))
			wait = 0;
		in = vp_multi_wait(&P.M, reading ? fileno(P.in) : -1, wait,
		    stop_ms >= 0);
		if (in < 0) {
			vp_error("poll: %s", strerror(errno));
			rc = VP_EXIT_SOFTWARE;
			goto out;
		}
		if (reading)
			P.in_ready = in;
		while ((e = vp_multi_done(&P.M, &cc)) != NULL) {
			struct slot *sl;

			curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&sl);
			slot_ended(&P, sl, cc);
		}
	}
out:
	for (size_t i = 0; i < P.cap; i++) {
		if (P.s[i].state == SL_RUN)
			curl_multi_remove_handle(P.M.m, P.s[i].x.curl);
		slot_clear(&P.s[i]);
		vp_buf_free(&P.s[i].r.resp);
		xfer_free(&P.s[i].x);
		curl_easy_cleanup(P.s[i].x.curl);
	}
	vp_multi_free(&P.M);
	free(P.s);
	return rc;
}
