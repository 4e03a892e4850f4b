/*
 * tap.h: the metrics tap between two stages of a pipeline, shared by
 * vcpipe-tap (a program, for a pipeline run by hand) and vcpipe-group
 * (which relays its pipeline's pipes itself, so the taps cost no process).
 *
 * A tap counts the lines that pass, their bytes and the CloudEvent subjects
 * (the vCenter event classes) in a small JSON file for vcpipe-metrics:
 *   {"lines":N,"bytes":N,"last":"RFC 3339","updated":"RFC 3339",
 *    "subjects":{"SUBJECT":N,...}}
 * written atomically at most once per interval and at the end; an existing
 * file is continued, so totals survive the pipeline's restarts.
 *
 * A relay moves whole lines from one descriptor to another through a
 * buffer that grows to hold the longest line (up to VP_RELAY_MAX_LINE;
 * longer ones pass in pieces), so each line reaches the next stage in one
 * piece or not at all.  libc only: vcpipe-group links nothing else.
 */
#ifndef VP_TAP_H
#define VP_TAP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define VP_TAP_MAX_SUBJECTS 512
#define VP_RELAY_MAX_LINE (64 * 1024 * 1024)

struct vp_tap_subject {
	char *name;
	size_t len;
	unsigned long long n;
};

struct vp_tap {
	const char *stats, *copy;	/* files; copy may be NULL */
	int64_t interval_ms;
	FILE *copyfp;
	unsigned long long lines, bytes;
	char last[64];		/* wall time of the last line */
	struct vp_tap_subject subj[VP_TAP_MAX_SUBJECTS];	/* as first seen */
	size_t nsubj, hit;	/* hit: the one found last (runs of a class) */
	int dirty;
	int64_t saved_ms;
};

/*
 * Open --copy (0600, appended) and continue the stats file.  0, or -1
 * with errno when the copy file cannot be opened.
 */
int vp_tap_open(struct vp_tap *t);
/*
 * Count n bytes that passed: whole lines, except that the first one is
 * the end of a line already counted in pieces when cont is set.
 */
void vp_tap_count(struct vp_tap *t, const char *p, size_t n, int cont);
/* Write the stats file if it is due; ms until it is next due, or -1. */
int vp_tap_tick(struct vp_tap *t);
/* Write the stats file now; close the copy; free the table. */
void vp_tap_close(struct vp_tap *t);

struct vp_relay {
	int in, out;		/* -1 once closed */
	struct vp_tap *tap;	/* or NULL */
	int keep_tail;		/* at the end, a last line without a newline
				 * goes on with one; else it is dropped */
	char *buf;
	size_t cap, have;	/* bytes in buf */
	size_t ready;		/* buf[0..ready): whole lines (or a piece of
				 * a long one) to write */
	size_t off;		/* of those, written */
	int piece;		/* the line at buf's start began in a piece
				 * already written */
	int cont;		/* the next count starts inside a line */
	int eof;
	size_t torn;		/* bytes of a last line dropped at the end */
	int err;		/* errno of a failed read or write, or 0 */
};

void vp_relay_init(struct vp_relay *r, int in, int out, struct vp_tap *tap,
    int keep_tail);
/* poll(2) events to wait for on r->in and r->out (0: none). */
short vp_relay_want_in(const struct vp_relay *r);
short vp_relay_want_out(const struct vp_relay *r);
/*
 * Write what is ready, then read once when can_read (poll said so, or the
 * input does not block), then write again.  Returns 1 while there is more
 * to do, 0 once the input ended and everything was written, or the output
 * is gone (r->err EPIPE): both descriptors are closed then.
 */
int vp_relay_step(struct vp_relay *r, int can_read);
void vp_relay_free(struct vp_relay *r);

#endif
