/*
 * batch.c: input lines into the queue, and the queue's finished prefix
 * settled in input order.
 *
 * The checkpoint only ever names the last event of a prefix of the input
 * that is entirely acknowledged, dead-lettered or filtered out, so a restart
 * never skips an event that a retried middle entry, or a batch still on the
 * wire, holds.  Failed events are dead-lettered when they reach the head of
 * the queue, so the dead-letter file keeps the input order whatever the
 * order the requests in flight end in.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eb.h"

void
eb_checkpoint(struct eb *eb)
{
	if (vp_ckpt_flush(&eb->core.ck) != 0)
		exit(VP_EXIT_IOERR);
}

/* Can a line be read without waiting for the writer? */
static int
input_ready(const struct eb_input *in)
{
	return vp_input_buffered(in->lr.fp) || in->ready;
}

/*
 * No more input ready right now?  The queue takes what is ready whenever
 * it has room, and the last wait said whether stdin was readable: no poll
 * of its own.  At the end of input, no: the checkpoint is written on the
 * way out, and by the interval while the last requests run (a write per
 * event there cost a checkpoint write per request).
 */
static int
input_idle(void *arg)
{
	const struct eb_input *in = arg;

	return !in->eof && !input_ready(in);
}

void
eb_checkpoint_maybe(struct eb *eb)
{
	if (vp_ckpt_maybe(&eb->core.ck, input_idle, &eb->in) != 0)
		exit(VP_EXIT_IOERR);
}

void
eb_pop_done(struct eb *eb)
{
	size_t n = 0;

	for (; n < eb->qlen; n++) {
		struct ev *e = eb->q[n];

		if (e->state == ST_FAILED) {
			int rc = eb_settle(eb, e);

			if (rc != 0) {
				/* not done: the checkpoint stays before it */
				memmove(eb->q, eb->q + n, (eb->qlen - n) *
				    sizeof(*eb->q));
				eb->qlen -= n;
				eb_checkpoint(eb);
				exit(rc);
			}
			e->state = ST_DONE;
		}
		if (e->state != ST_DONE)
			break;
		/* an invalid line names no event: no position to note */
		if (e->out != VP_OUT_INVALID)
			vp_ckpt_note(&eb->core.ck, &e->pos);
		ev_free(e);
	}
	if (n == 0)
		return;
	memmove(eb->q, eb->q + n, (eb->qlen - n) * sizeof(*eb->q));
	eb->qlen -= n;
}

/*
 * A line of the jq stage in place of an event (sinkcore.h): done in its
 * turn, after the events before it; one the program failed on is
 * dead-lettered in its turn too (eb_settle), as failed events are.
 */
static void
take_ctl(struct ev *e, struct vp_sink_ctl *c)
{
	vp_evpos_move(&e->pos, &c->pos);
	e->line = vp_xstrdup("");
	if (c->kind != VP_CTL_ERROR) {
		vp_sink_ctl_free(c);
		return;		/* done */
	}
	e->ctl = vp_xmalloc(sizeof(*e->ctl));
	*e->ctl = *c;
	e->state = ST_FAILED;
}

/* Take one input line into the queue (or straight to done). */
static void
take_line(struct eb *eb, char *line, size_t len, int toolong)
{
	struct ev *e = vp_xmalloc(sizeof(*e));
	struct vp_sink_ctl ctl;
	char err[512];

	memset(e, 0, sizeof(*e));
	e->lineno = eb->in.lr.lineno;
	e->state = ST_DONE;
	e->status = -1;
	eb->q[eb->qlen++] = e;
	if (toolong) {
		char why[64];

		e->line = vp_xstrdup("");
		snprintf(why, sizeof(why), "line longer than %u bytes",
		    VP_SINK_MAX_LINE);
		eb_fail(e, VP_OUT_INVALID, NULL, why, -1);
		return;
	}
	if (vp_sink_ctl_read(line, len, &ctl) != VP_CTL_NONE) {
		take_ctl(e, &ctl);
		return;
	}
	e->line = vp_xmalloc(len + 1);
	memcpy(e->line, line, len);
	e->line[len] = '\0';
	e->len = len;
	if (ev_parse(e, err, sizeof(err)) != 0) {
		eb_fail(e, VP_OUT_INVALID, NULL, err, -1);
		return;
	}
	if (eb->pattern) {
		json_t *doc = ev_match_document(eb, e);
		int m = eb_pattern_match(eb->pattern, doc);

		json_decref(doc);
		if (!m) {
			eb->filtered++;
			return;
		}
	}
	if (e->size > eb->o.max_bytes) {
		char why[128];

		snprintf(why, sizeof(why), "entry is %zu bytes, over the %zu "
		    "byte limit", e->size, eb->o.max_bytes);
		eb_fail(e, VP_OUT_REJECTED, "EntryTooLarge", why, -1);
		return;
	}
	e->state = ST_PENDING;
	e->ready_ms = e->due_ms = vp_now_ms();
}

size_t
eb_take_input(struct eb *eb)
{
	struct eb_input *in = &eb->in;
	size_t n = 0;

	while (eb->qlen < eb->qmax && !in->eof && input_ready(in)) {
		size_t len;
		enum vp_line_status st;

		/* a read past the buffer uses up what the wait saw */
		if (!vp_input_buffered(in->lr.fp))
			in->ready = 0;
		st = vp_read_line(&in->lr, &len);
		if (st == VP_LINE_ERROR)
			vp_die(VP_EXIT_IOERR, "stdin: %s", strerror(errno));
		if (st == VP_LINE_TORN)
			eb->torn = in->lr.lineno;	/* the end: see run() */
		if (st == VP_LINE_EOF || st == VP_LINE_TORN) {
			in->eof = 1;
			break;
		}
		if (st == VP_LINE_OK && vp_sink_blank_line(in->lr.buf, len))
			continue;
		take_line(eb, in->lr.buf, len, st == VP_LINE_TOOLONG);
		n++;
	}
	return n;
}

int
eb_input_done(const struct eb *eb)
{
	return eb->in.eof;
}
