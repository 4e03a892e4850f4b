/*
 * checkpoint.h: checkpoint files (vcpipe-formats(5)), the one place that
 * writes them (sink-http, sink-eventbridge, sink-amqp) and reads them
 * (vc-source, horizon-source, amqp-source).
 *
 *   {"version":1,"source":S,"id":ID,"time":T,"key":K,"delivered":N,
 *    "updated":U}
 *
 * The record names the last event a sink is done with.  Files are replaced
 * atomically (temporary file, fsync, rename, fsync of the directory), mode
 * 0600: they name events.
 */
#ifndef VP_CHECKPOINT_H
#define VP_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

/*
 * "key" is written only when the event's eventkey fits a vCenter event key
 * (xsd:int, what vc-source accepts); a reader without a key resumes at the
 * time and may send the events of that instant again, with their ids.
 */
#define VP_CKPT_KEY_MIN (-2147483647LL - 1)
#define VP_CKPT_KEY_MAX 2147483647LL

/* A source's --checkpoint, where it resumes: "use resume-checkpoint"
 * (src/lib/opt.tab). */

/*
 * An event's place in its source's stream: what a checkpoint names, and
 * what each sink keeps of an event until it is done.
 */
struct vp_evpos {
	char *source, *id;	/* NULL when absent */
	char *time;		/* RFC 3339 as the event had it, or NULL */
	int has_key;
	long long key;
};

/* Free its strings; p is empty after. */
void vp_evpos_free(struct vp_evpos *p);
/* Hand src's strings to dst (whose own are freed); src is empty after. */
void vp_evpos_move(struct vp_evpos *dst, struct vp_evpos *src);

struct vp_ckpt {
	struct vp_evpos ev;	/* the event named */
	int64_t sec;		/* ev.time, parsed (when it is set) */
	int32_t nsec;
	unsigned long delivered; /* events acknowledged by the receiver */
	int has_updated;	/* when the sink wrote it (read only) */
	int64_t updated_sec;
	int32_t updated_nsec;
};

void vp_ckpt_clear(struct vp_ckpt *c);

/*
 * Read a checkpoint file.  Returns 0 (c filled), 1 when there is no file
 * yet, or an exit code with a message in err ("PATH: what"):
 * VP_EXIT_NOINPUT when it cannot be read, VP_EXIT_DATAERR when it is not a
 * checkpoint (not JSON, no RFC 3339 "time", a "key" that is not an integer).
 */
int vp_ckpt_read(const char *path, struct vp_ckpt *c, char *err,
    size_t errlen);
/*
 * The same for a reader that needs only the event named (amqp-source's
 * acknowledgement handshake): "time" may be absent (an event without one),
 * "source" and "id" must be there (else VP_EXIT_DATAERR).
 */
int vp_ckpt_read_event(const char *path, struct vp_ckpt *c, char *err,
    size_t errlen);

/*
 * Make sure a state file (checkpoint, dead-letter file) can be written, at
 * start rather than after the first delivery: a missing directory is
 * created (0700, with its parents), and a file is tried in it.  Returns 0,
 * or an exit code with a message in err: VP_EXIT_NOPERM when the directory
 * cannot be written (permission, read-only file system), VP_EXIT_CONFIG
 * when the path cannot be a file (a directory, a part that is not one),
 * VP_EXIT_IOERR for anything else (temporary).
 */
int vp_state_path_check(const char *path, char *err, size_t errlen);

/* The sinks' side: the position, written when due. */
struct vp_ckpt_bg;
struct vp_ckpt_writer {
	const char *path;	/* NULL: no checkpoint */
	int64_t interval_ms;	/* longest time between writes while busy */
	struct vp_ckpt pos;	/* last event done */
	int dirty;		/* pos moved since the last write */
	int64_t written_ms;
	void *inv;		/* "invocations": subject -> [acked, failed] */
	/*
	 * A write handed to the writer's thread is under way: a loop that
	 * waits should look again within interval_ms (a failed write ends
	 * the run at the next vp_ckpt_maybe).
	 */
	int pending;
	struct vp_ckpt_bg *bg;	/* the thread, once started */
};

/*
 * The event named is done (delivered, dead-lettered, filtered out): the
 * next write names it.  An event without an id or source moves nothing.
 */
void vp_ckpt_note(struct vp_ckpt_writer *w, const struct vp_evpos *p);
/* The same, taking p's strings (p is empty after, unless it moved nothing). */
void vp_ckpt_note_move(struct vp_ckpt_writer *w, struct vp_evpos *p);
/*
 * Write now if the position moved, after the writes handed to the thread:
 * 0, or -1 logged ("PATH: why"). The file is current when it returns 0.
 */
int vp_ckpt_flush(struct vp_ckpt_writer *w);
/*
 * Write if the position moved and either the interval has passed or the
 * input is idle (input_idle(arg) says no more input is ready): a quiet
 * stream is checkpointed at once, a busy one without an fsync per event.
 * The write itself is done by a thread (interval 0: here, before the next
 * event), so the loop does not wait for the disk; -1 (logged) when an
 * earlier write failed.
 */
int vp_ckpt_maybe(struct vp_ckpt_writer *w, int (*input_idle)(void *),
    void *arg);
void vp_ckpt_writer_free(struct vp_ckpt_writer *w);
/*
 * Count an event done at delivery, by subject (NULL counts as ""): ok when
 * the receiver acknowledged it, else it failed (dead-lettered).  The counts
 * go in the checkpoint as "invocations": {"SUBJECT": [ok, failed]}, which
 * vcpipe-metrics serves as the router's /stats invocations; they carry on
 * from the checkpoint already there (vp_ckpt_counts_load).
 */
void vp_ckpt_count(struct vp_ckpt_writer *w, const char *subject, int ok);
void vp_ckpt_counts_load(struct vp_ckpt_writer *w);

#endif
