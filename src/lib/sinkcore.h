/*
 * sinkcore.h: what sink-http and sink-eventbridge share, so that they
 * differ only in how they send: the delivery options, the retry policy,
 * dead-letter records and files, the checkpoint, and what becomes of an
 * event that was not delivered.
 *
 * The rule both sinks follow (sink-http(1), sink-eventbridge(1)):
 *   acknowledged                    done; the checkpoint may name it
 *   refused for good (rejected)     dead-lettered, or exit 65 without --dlq
 *   out of retries or retry time    dead-lettered, or exit 75 without --dlq
 *   an input line that is not one   dead-lettered, or exit 65 without --dlq
 *   stopped before it was delivered never dead-lettered: exit 75, the
 *                                   checkpoint before it, so it comes again
 *                                   from the source after the restart
 *   bad credentials                 exit 77, certificate not trusted exit 78
 * A dead-letter file that cannot take a record stops the sink (exit 74)
 * with the checkpoint before that event, and the file as it was.
 */
#ifndef VP_SINKCORE_H
#define VP_SINKCORE_H

#include <stddef.h>
#include <stdint.h>

#include "ce.h"
#include "checkpoint.h"
#include "opt.h"
#include "vp.h"

/* ---- retry policy --------------------------------------------------------- */

struct vp_retry {
	int max_retries;	/* retries after the first attempt */
	int64_t max_retry_ms;	/* 0: no time limit */
	int64_t base_ms, cap_ms;	/* full-jitter backoff */
	long extra[16];		/* statuses retried besides the standard ones */
	int nextra;
};

/* Is an HTTP status (0: a transport error) worth another attempt? */
int vp_retry_status(const struct vp_retry *p, long status);
/*
 * The wait before the next attempt: what the receiver asked for with
 * Retry-After (retry_after_ms >= 0), else the next full-jitter backoff.
 */
int64_t vp_retry_delay(struct vp_backoff *b, int64_t retry_after_ms);
/*
 * Give up rather than wait delay_ms for another attempt?  attempts made so
 * far, the first of them at first_ms (vp_now_ms).  0: try again; 1: the
 * retries are used up; 2: the next attempt would come after the retry time.
 */
int vp_retry_over(const struct vp_retry *p, unsigned attempts,
    int64_t first_ms, int64_t delay_ms);

/* ---- the options both sinks take ------------------------------------------ */

struct vp_sink_opts {
	const char *dlq;
	const char *checkpoint;
	int64_t ckpt_interval_ms;
	int strict;		/* an invalid line ends the run even with --dlq */
	struct vp_retry retry;
};

/*
 * --dlq --checkpoint --checkpoint-interval --max-retries --max-retry-time
 * --retry-base --retry-cap --retry-on --strict, with their defaults: one
 * group of rows (opt.h) whose base is the program's struct vp_sink_opts,
 * declared in src/lib/sinkcore.tab; a sink's table takes it with "use
 * sink-group &s.core.o", and its --inflight row with "use inflight".
 */
extern const struct vp_opt vp_sink_opts[];
/*
 * The most requests a sink keeps in flight (also vcpipe-yaml's bound).
 * --inflight N: requests on the wire at once; 1, the default, one at a time
 * in input order.  Whatever N, events are settled and checkpointed in input
 * order.
 */
#define VP_SINK_INFLIGHT_MAX 1024
/* --retry-on CODES (VP_OPT_CALL, dest a struct vp_retry): add statuses. */
int vp_sink_retry_on(void *dest, const char *codes, char *err, size_t errlen);
/* Checks that span the options (from the program's check hook; exits 64). */
void vp_sink_opts_check(const struct vp_sink_opts *o);

/* ---- dead-letter records --------------------------------------------------- */

/* Why an event was dead-lettered: the record's "deadletter" member. */
struct vp_dl_why {
	const char *reason;	/* vp_outcome_reason(), or "invalid line" */
	const char *error;	/* the last failure, for people; NULL: none */
	const char *code;	/* the receiver's error code, or NULL */
	long status;		/* last HTTP status; 0 transport error; -1 none */
	unsigned attempts;
	const char *response;	/* start of the last response body, or NULL */
	size_t response_len;
	const char *url;	/* where it was sent, or NULL */
	const char *function;	/* OpenFaaS function, or NULL */
	unsigned long line;	/* input line number */
};

/*
 * The record (vcpipe-formats(5)): when is_object, text is a JSON object
 * without a "deadletter" member (the reader has stripped a replayed
 * record's) and the record is that text byte for byte with the member
 * appended; otherwise {"invalid":TEXT,"deadletter":{...}}, TEXT NULL or not
 * UTF-8 when the line could not be kept.  Returns the record (no newline),
 * its length in *lenp.
 */
char *vp_dl_record(const char *text, size_t len, int is_object,
    const struct vp_dl_why *why, size_t *lenp);

/* ---- one sink's run ---------------------------------------------------------- */

enum vp_outcome {
	VP_OUT_OK,		/* acknowledged */
	VP_OUT_REJECTED,	/* refused for good */
	VP_OUT_EXHAUSTED,	/* retries or retry time used up */
	VP_OUT_STOPPED,		/* a stop came before it was delivered */
	VP_OUT_INVALID,		/* the input line is not an event */
	VP_OUT_AUTH,		/* credentials refused: exit 77 */
	VP_OUT_CONFIG		/* certificate not trusted, no such bus: 78 */
};

/* "rejected", "retries exhausted", ... for logs and dead letters. */
const char *vp_outcome_reason(enum vp_outcome o);

struct vp_sink {
	struct vp_sink_opts o;
	struct vp_ckpt_writer ck;	/* ck.pos.delivered counts acks */
	unsigned long deadlettered;
};

/*
 * At start: the checkpoint's and the dead-letter file's directories exist
 * (created 0700) and take files; exits 77/78/74 when not, before anything
 * is read or sent.
 */
void vp_sink_start(struct vp_sink *s);

/* The event being settled, as the log and the dead-letter record see it. */
struct vp_sink_event {
	unsigned long line;
	const char *id;		/* for the log, or NULL */
	const char *text;	/* see vp_dl_record() */
	size_t len;
	int is_object;
};

/*
 * An event that was not delivered (out is not VP_OUT_OK): dead-letter it
 * when the rule above says so and returns 0 (the event is done: note it in
 * the checkpoint), else log why and return the exit code that ends the run
 * (the checkpoint stays before the event).  why->reason is filled in from
 * out when NULL.
 */
int vp_sink_undelivered(struct vp_sink *s, enum vp_outcome out,
    const struct vp_sink_event *ev, struct vp_dl_why *why);

/* ---- lines from a processor's jq stage ---------------------------------------- */

/*
 * A processor's filter and transform (vcpipe.yaml(5)) run in a jq stage
 * before the sink.  For an event it does not pass on, the stage writes a
 * line in its place, so that the sink keeps its place in the stream
 * (vcpipe-formats(5), "Filtered events"):
 *   {"vcpipe":"skip","event":LINE}              filtered out: done, not
 *                                               sent (LINE without data)
 *   {"vcpipe":"error","error":MSG,"event":LINE} the program failed on it:
 *                                               dead-lettered, then done
 * LINE is the event's line as a JSON string.  A sink reads the position
 * from it (the checkpoint moves over a filtered event as over a delivered
 * one: a restart replays none of them).
 */
enum vp_ctl_kind { VP_CTL_NONE, VP_CTL_SKIP, VP_CTL_ERROR };

struct vp_sink_ctl {
	enum vp_ctl_kind kind;
	struct vp_evpos pos;	/* the event's (NULL strings: unreadable) */
	char *subject;		/* or NULL */
	char *error;		/* VP_CTL_ERROR: the program's message */
	char *text;		/* VP_CTL_ERROR: what is dead-lettered */
	size_t len;
	int is_object;		/* see vp_dl_record() */
};

/*
 * Is the line one of those?  VP_CTL_NONE (an event, or anything else:
 * read it as the sink reads any line), or its kind with c filled (free it
 * with vp_sink_ctl_free).
 */
enum vp_ctl_kind vp_sink_ctl_read(const char *line, size_t len,
    struct vp_sink_ctl *c);
/*
 * Settle it: a skip is done at once; an error is dead-lettered as an
 * invalid line (reason "filter error"; exit 65 without --dlq).  Returns 0
 * when the line is done (the sink then notes c's position in the
 * checkpoint, in its order), else the exit code (vp_sink_undelivered).
 */
int vp_sink_ctl_settle(struct vp_sink *s, struct vp_sink_ctl *c,
    unsigned long line);
void vp_sink_ctl_free(struct vp_sink_ctl *c);

/* The position of an event read by ce_read (strings to free). */
void vp_evpos_from_ce(struct vp_evpos *p, const struct ce_event *ev);

/*
 * Input ended inside line lineno (no newline: the writer was killed
 * mid-line).  The line is neither delivered nor dead-lettered; logs why
 * and returns 75, so the run ends with the checkpoint before it and the
 * restarted pipeline reads it again, whole, from the source.
 */
int vp_sink_torn_line(unsigned long lineno);

/* Lines made only of blanks carry nothing: every sink skips them. */
int vp_sink_blank_line(const char *line, size_t len);

void vp_sink_free(struct vp_sink *s);

#endif
