/*
 * batch.c: input lines into the queue, batches out of it, and the
 * checkpoint over the queue's finished prefix.
 *
 * The checkpoint only ever names the last event of a prefix of the input
 * that is entirely acknowledged, dead-lettered or filtered out, so a restart
 * never skips an event that a retried middle entry still holds.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eb.h"

enum { RL_LINE, RL_NONE, RL_EOF, RL_TOOLONG };

static int
read_line(struct eb_input *in, char **line, size_t *len)
{
	for (;;) {
		char *start = in->buf + in->off;
		char *nl = in->off < in->len ?
		    memchr(start, '\n', in->len - in->off) : NULL;

		if (nl) {
			size_t n = (size_t)(nl - start);
			int skipped = in->skipping;

			in->off += n + 1;
			in->lineno++;
			in->skipping = 0;
			if (skipped)
				return RL_TOOLONG;
			if (n > 0 && start[n - 1] == '\r')
				n--;
			start[n] = '\0';
			*line = start;
			*len = n;
			return RL_LINE;
		}
		if (in->len - in->off > LINE_MAX_BYTES) {
			in->skipping = 1;
			in->off = in->len;
		}
		if (in->eof) {
			if (in->off < in->len && !in->skipping) {
				/* a last line without a newline still counts */
				if (in->len == in->cap)
					in->buf = vp_xrealloc(in->buf, ++in->cap);
				in->buf[in->len] = '\n';
				in->len++;
				continue;
			}
			if (in->skipping) {
				in->skipping = 0;
				in->lineno++;
				return RL_TOOLONG;
			}
			return RL_EOF;
		}
		return RL_NONE;
	}
}

/* Read what is available on stdin (after poll said so). -1 on error. */
static int
fill_input(struct eb_input *in)
{
	ssize_t n;

	if (in->off > 0) {
		memmove(in->buf, in->buf + in->off, in->len - in->off);
		in->len -= in->off;
		in->off = 0;
	}
	if (in->cap - in->len < 65536) {
		in->cap = in->cap ? in->cap * 2 : 131072;
		in->buf = vp_xrealloc(in->buf, in->cap);
	}
	n = read(0, in->buf + in->len, in->cap - in->len - 1);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -1;
	if (n == 0)
		in->eof = 1;
	in->len += (size_t)n;
	return 0;
}

void
eb_checkpoint(struct eb *eb)
{
	if (vp_ckpt_flush(&eb->core.ck) != 0)
		exit(VP_EXIT_IOERR);
}

/* No more input ready right now (buffered or in the pipe)? */
static int
input_idle(void *arg)
{
	const struct eb_input *in = arg;
	struct pollfd pfd = { 0, POLLIN, 0 };

	if (in->off < in->len &&
	    memchr(in->buf + in->off, '\n', in->len - in->off))
		return 0;
	return in->eof || poll(&pfd, 1, 0) <= 0;
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

	while (n < eb->qlen && eb->q[n]->state == ST_DONE)
		n++;
	if (n == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct ev *e = eb->q[i];

		vp_ckpt_note(&eb->core.ck, e->source, e->id, e->time,
		    e->has_key, e->key);
		ev_free(e);
	}
	memmove(eb->q, eb->q + n, (eb->qlen - n) * sizeof(*eb->q));
	eb->qlen -= n;
}

size_t
eb_pending(const struct eb *eb, size_t *bytes)
{
	size_t n = 0;

	*bytes = 0;
	for (size_t i = 0; i < eb->qlen; i++)
		if (eb->q[i]->state == ST_PENDING) {
			n++;
			*bytes += eb->q[i]->size;
		}
	return n;
}

/*
 * A line of the jq stage in place of an event (sinkcore.h): done in its
 * turn, after the events before it; one the program failed on is
 * dead-lettered first.
 */
static void
take_ctl(struct eb *eb, struct ev *e, struct vp_sink_ctl *c)
{
	int rc;

	e->id = c->id;
	e->source = c->source;
	e->time = c->time;
	e->has_key = c->has_key;
	e->key = c->key;
	c->id = c->source = c->time = NULL;
	e->line = vp_xstrdup("");
	if ((rc = vp_sink_ctl_settle(&eb->core, c, e->lineno)) != 0) {
		/* not done: the checkpoint stays before it (eb_settle) */
		vp_sink_ctl_free(c);
		e->state = ST_PENDING;
		eb_pop_done(eb);
		eb_checkpoint(eb);
		exit(rc);
	}
	vp_sink_ctl_free(c);
}

/* Take one input line into the queue (or straight to done). */
static void
take_line(struct eb *eb, char *line, size_t len, int toolong)
{
	struct ev *e = vp_xmalloc(sizeof(*e));
	struct vp_sink_ctl ctl;
	char err[512];

	memset(e, 0, sizeof(*e));
	e->lineno = eb->in.lineno;
	e->state = ST_DONE;
	eb->q[eb->qlen++] = e;
	if (toolong) {
		char why[64];

		e->line = vp_xstrdup("");
		snprintf(why, sizeof(why), "line longer than %u bytes",
		    LINE_MAX_BYTES);
		eb_settle(eb, e, VP_OUT_INVALID, NULL, why, -1);
		return;
	}
	if (vp_sink_ctl_read(line, len, &ctl) != VP_CTL_NONE) {
		take_ctl(eb, e, &ctl);
		return;
	}
	e->line = vp_xmalloc(len + 1);
	memcpy(e->line, line, len);
	e->line[len] = '\0';
	e->len = len;
	if (ev_parse(e, err, sizeof(err)) != 0) {
		eb_settle(eb, e, VP_OUT_INVALID, NULL, err, -1);
		free(e->id);
		e->id = NULL;	/* no position to checkpoint */
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
		eb_settle(eb, e, VP_OUT_REJECTED, "EntryTooLarge", why, -1);
		return;
	}
	e->state = ST_PENDING;
}

/*
 * Until a batch is full, the linger time since the first waiting event has
 * passed, or input ends.
 */
void
eb_gather(struct eb *eb)
{
	int64_t first = -1;

	for (;;) {
		size_t bytes, np = eb_pending(eb, &bytes);
		char *line = NULL;
		size_t len = 0;
		int rl, timeout;
		struct pollfd pfd = { 0, POLLIN, 0 };

		if (np > 0 && first < 0)
			first = vp_now_ms();
		if (np >= (size_t)eb->o.batch || bytes >= eb->o.max_bytes ||
		    eb->qlen >= QUEUE_MAX || vp_stop_requested)
			return;
		rl = read_line(&eb->in, &line, &len);
		if (rl == RL_LINE && vp_sink_blank_line(line, len))
			continue;
		if (rl == RL_LINE || rl == RL_TOOLONG) {
			take_line(eb, line, len, rl == RL_TOOLONG);
			continue;
		}
		if (rl == RL_EOF)
			return;
		if (np == 0) {
			eb_pop_done(eb);
			eb_checkpoint(eb);
			timeout = -1;
			if (eb->pattern && eb->rule_name) {
				int64_t left = eb->next_refresh_ms - vp_now_ms();

				if (left <= 0)
					return;
				timeout = left > 60000 ? 60000 : (int)left;
			}
		} else {
			int64_t left = first + eb->o.linger_ms - vp_now_ms();

			if (left <= 0)
				timeout = 0;
			else
				timeout = (int)left;
		}
		rl = vp_poll(&pfd, 1, timeout);
		if (rl < 0 && errno != EINTR)
			vp_die(VP_EXIT_IOERR, "stdin: poll: %s", strerror(errno));
		if (rl == 0 && np > 0)
			return;
		if (rl > 0 && fill_input(&eb->in) != 0)
			vp_die(VP_EXIT_IOERR, "stdin: %s", strerror(errno));
	}
}


int
eb_input_done(const struct eb *eb)
{
	return eb->in.eof && eb->in.off >= eb->in.len && !eb->in.skipping;
}
