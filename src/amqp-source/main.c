/*
 * amqp-source: consume a RabbitMQ queue (classic, quorum, or a stream from
 * an offset) and write its CloudEvents to stdout, one line each,
 * acknowledging a message to the broker only once the next stage is done
 * with it.
 *
 * The handshake (vcpipe-formats(5), "The acknowledgement handshake"): the
 * sink downstream writes a checkpoint file naming the last event it is done
 * with (sink-http, sink-eventbridge and sink-amqp all do, atomically, after
 * the event was acknowledged or dead-lettered). amqp-source watches that
 * file (--sink-checkpoint) and, since the sink takes events in the order
 * they were written, acknowledges every message up to the one named.
 * Nothing else is needed from the sink, and a crash anywhere loses nothing:
 * a message is acknowledged only after the sink wrote that it was done, and
 * every unacknowledged message goes back to the queue when amqp-source's
 * connection closes (the sink dying closes the pipe, and amqp-source with
 * it). Messages redelivered while an earlier copy of the same event (same
 * source and id) is still with the sink are not written twice: they are
 * acknowledged with it.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ceamqp.h"
#include "checkpoint.h"
#include "sinkcore.h"
#include "vpamqp.h"
#include "help/amqp-source.h"

#define OFFSET_INTERVAL_MS 100
#define MAX_BINDS 16

/* A message written to stdout and not yet acknowledged. */
struct inflight {
	char *source, *id;	/* NULL for a line that names no event */
	uint64_t *tags;		/* deliveries to acknowledge with it */
	size_t ntags;
	unsigned gen;		/* the connection the tags belong to */
	int64_t offset;		/* stream offset, -1 when none */
	size_t out_end;		/* stdout bytes written when it is out */
};

static struct {
	struct vp_amqp amqp;
	const char *queue, *declare, *exchange_type, *cred_path;
	int declare_i, extype_i;	/* the options' enum values */
	struct vp_strlist bindl;
	const char **binds;
	int nbinds;
	const char *offset;	/* --offset as given */
	const char *offset_file;
	int64_t saved_offset;	/* next offset from --offset-file, or -1 */
	int prefetch;
	int binary, wrap, ack_on_write;
	const char *sink_ck;	/* the next stage's checkpoint */
	const char *dlq;
	struct vp_sink dl;	/* dead letters of unreadable messages */
	/* what is with the sink, in the order written */
	struct inflight *q;
	size_t head, count, cap;
	unsigned gen;
	int connected;
	int consuming;		/* the connection got as far as basic.consume */
	int64_t reconnect_ms;
	struct vp_backoff bo;
	int fatal;
	/* stdout, written without ever blocking on a slow sink */
	struct vp_buf out;
	size_t out_off;		/* bytes of out already written */
	size_t out_total;	/* bytes written since the start */
	int out_closed;
	/* the sink's checkpoint */
	int ino_fd, ino_wd;
	struct stat ck_start;	/* the file as it was at start */
	int ck_start_seen, ck_fresh;
	struct vp_ckpt ck_last;	/* the record last applied */
	int64_t ck_polled_ms;
	/* stream offsets */
	int64_t done_offset;	/* next offset to resume from, -1 none */
	int offset_dirty;
	int64_t offset_written_ms;
	struct ce_event ev;
	struct ce_amqp_msg am;
	char *wrap_source;
	unsigned long lines, acked, deduped, deadlettered;
} S;

/* ---- the in-flight queue ------------------------------------------------------ */

static struct inflight *
qat(size_t i)
{
	return &S.q[(S.head + i) % S.cap];
}

static struct inflight *
qpush(void)
{
	struct inflight *f;

	if (S.count == S.cap) {
		size_t ncap = S.cap ? S.cap * 2 : 256;
		struct inflight *n = vp_xmalloc(ncap * sizeof(*n));

		for (size_t i = 0; i < S.count; i++)
			n[i] = *qat(i);
		free(S.q);
		S.q = n;
		S.cap = ncap;
		S.head = 0;
	}
	f = &S.q[(S.head + S.count++) % S.cap];
	memset(f, 0, sizeof(*f));
	f->offset = -1;
	return f;
}

static void
add_tag(struct inflight *f, uint64_t tag)
{
	if (f->gen != S.gen) {
		f->ntags = 0;	/* the old connection took its tags along */
		f->gen = S.gen;
	}
	f->tags = vp_xrealloc(f->tags, (f->ntags + 1) * sizeof(*f->tags));
	f->tags[f->ntags++] = tag;
}

/* An earlier copy of the event still with the sink, or NULL. */
static struct inflight *
find_event(const char *source, size_t sl, const char *id, size_t il)
{
	for (size_t i = 0; i < S.count; i++) {
		struct inflight *f = qat(i);

		if (f->id && strlen(f->id) == il && memcmp(f->id, id, il) == 0 &&
		    strlen(f->source) == sl && memcmp(f->source, source, sl) == 0)
			return f;
	}
	return NULL;
}

static void
note_offset(int64_t off)
{
	if (off < 0)
		return;
	S.done_offset = off + 1;
	S.offset_dirty = 1;
}

/* The sink is done with the first n entries: acknowledge them. */
static void
settle(size_t n)
{
	for (size_t i = 0; i < n && S.count > 0; i++) {
		struct inflight *f = qat(0);

		if (f->gen == S.gen && S.connected)
			for (size_t k = 0; k < f->ntags; k++) {
				int st = amqp_basic_ack(S.amqp.conn,
				    VP_AMQP_CHANNEL, f->tags[k], 0);

				if (st != AMQP_STATUS_OK) {
					/* redelivered later: a duplicate */
					vp_warn("acknowledging: %s",
					    amqp_error_string2(st));
					break;
				}
				S.acked++;
			}
		note_offset(f->offset);
		free(f->source);
		free(f->id);
		free(f->tags);
		S.head = (S.head + 1) % S.cap;
		S.count--;
	}
}

/* ---- the sink's checkpoint ------------------------------------------------------ */

static void
ck_watch_init(void)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(S.sink_ck, '/');

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == S.sink_ck)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - S.sink_ck),
		    S.sink_ck);
	/* only what is written from now on counts (see ck_poll) */
	S.ck_start_seen = stat(S.sink_ck, &S.ck_start) == 0;
	S.ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (S.ino_fd >= 0)
		S.ino_wd = inotify_add_watch(S.ino_fd, dir,
		    IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE);
	if (S.ino_fd < 0 || S.ino_wd < 0)
		vp_warn("%s: cannot watch (%s): polling it", dir,
		    strerror(errno));
}

/* Are a and b the same record (same event, same write)? */
static int
ck_same(const struct vp_ckpt *a, const struct vp_ckpt *b)
{
	return a->ev.id && b->ev.id && strcmp(a->ev.id, b->ev.id) == 0 &&
	    strcmp(a->ev.source, b->ev.source) == 0 &&
	    a->delivered == b->delivered &&
	    a->has_updated == b->has_updated &&
	    a->updated_sec == b->updated_sec &&
	    a->updated_nsec == b->updated_nsec;
}

/*
 * Read the sink's checkpoint and acknowledge what it covers. The file that
 * was there at start is from an earlier run and names an event of that
 * run: it is ignored until the sink replaces it (a replacement is a new
 * file: the old one stays linked until the rename, so the new one cannot
 * have its inode). A record already applied is not applied twice (a
 * redelivered copy of its event may be with the sink again).
 */
static void
ck_poll(void)
{
	struct stat st;
	struct vp_ckpt c;
	char err[512];
	struct inflight *f;
	int rc;

	S.ck_polled_ms = vp_now_ms();
	if (stat(S.sink_ck, &st) != 0)
		return;
	if (!S.ck_fresh) {
		if (S.ck_start_seen && st.st_ino == S.ck_start.st_ino &&
		    st.st_dev == S.ck_start.st_dev &&
		    st.st_mtim.tv_sec == S.ck_start.st_mtim.tv_sec &&
		    st.st_mtim.tv_nsec == S.ck_start.st_mtim.tv_nsec)
			return;
		S.ck_fresh = 1;
	}
	if ((rc = vp_ckpt_read_event(S.sink_ck, &c, err, sizeof(err))) != 0) {
		if (rc != 1)
			vp_warn("%s", err);
		return;
	}
	if (ck_same(&c, &S.ck_last)) {
		vp_ckpt_clear(&c);
		return;
	}
	vp_ckpt_clear(&S.ck_last);
	S.ck_last = c;
	f = find_event(c.ev.source, strlen(c.ev.source), c.ev.id,
	    strlen(c.ev.id));
	if (f != NULL)
		settle((size_t)(f - S.q + S.cap - S.head) % S.cap + 1);
}

static void
ck_inotify_drain(void)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	while (S.ino_fd >= 0 && read(S.ino_fd, buf, sizeof(buf)) > 0)
		;
}

/* --ack-on-write: what is fully written is done. */
static void
written_poll(void)
{
	size_t n = 0;

	while (n < S.count && qat(n)->out_end <= S.out_total)
		n++;
	settle(n);
}

/* ---- stream offsets ------------------------------------------------------------ */

static int
offset_flush(int force)
{
	char buf[64];
	int n;

	if (S.offset_file == NULL || !S.offset_dirty)
		return 0;
	if (!force && vp_now_ms() - S.offset_written_ms < OFFSET_INTERVAL_MS)
		return 0;
	n = snprintf(buf, sizeof(buf), "%lld\n", (long long)S.done_offset);
	if (vp_write_file_atomic(S.offset_file, buf, (size_t)n) != 0) {
		vp_error("%s: %s", S.offset_file, strerror(errno));
		return -1;
	}
	S.offset_dirty = 0;
	S.offset_written_ms = vp_now_ms();
	return 0;
}

/* ---- output ------------------------------------------------------------------- */

/* Write what stdout takes now (a pipe takes PIPE_BUF when it polls writable). */
static void
out_flush(int block)
{
	while (S.out_off < S.out.len && !S.out_closed) {
		struct pollfd p = { .fd = STDOUT_FILENO, .events = POLLOUT };
		size_t n = S.out.len - S.out_off;
		ssize_t w;

		if (!block && poll(&p, 1, 0) <= 0)
			return;
		if (p.revents & (POLLERR | POLLHUP)) {
			errno = EPIPE;
			w = -1;
		} else
			w = write(STDOUT_FILENO, S.out.data + S.out_off,
			    block || n < PIPE_BUF ? n : PIPE_BUF);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			vp_error("stdout: %s", strerror(errno));
			S.out_closed = 1;
			S.fatal = VP_EXIT_IOERR;
			return;
		}
		S.out_off += (size_t)w;
		S.out_total += (size_t)w;
	}
	if (S.out_off == S.out.len) {
		vp_buf_reset(&S.out);
		S.out_off = 0;
	}
}

/* ---- messages -------------------------------------------------------------- */

static int64_t
stream_offset(const amqp_basic_properties_t *p)
{
	if (!(p->_flags & AMQP_BASIC_HEADERS_FLAG))
		return -1;
	for (int i = 0; i < p->headers.num_entries; i++) {
		const amqp_table_entry_t *e = &p->headers.entries[i];

		if (e->key.len == 15 && memcmp(e->key.bytes, "x-stream-offset",
		    15) == 0 && e->value.kind == AMQP_FIELD_KIND_I64)
			return e->value.value.i64;
	}
	return -1;
}

/* A message that carries no readable CloudEvent: dead-letter or stop. */
static int
unreadable(const amqp_message_t *msg, uint64_t tag, const char *why)
{
	struct vp_dl_why w = { .error = why, .status = -1, .attempts = 1,
	    .url = vp_amqp_where(&S.amqp) };
	struct vp_sink_event sev = { .line = S.lines + 1, .text = NULL,
	    .len = 0, .is_object = 0 };
	int rc;

	if (vp_utf8_valid_prefix(msg->body.bytes, msg->body.len) ==
	    msg->body.len) {
		sev.text = msg->body.bytes;
		sev.len = msg->body.len;
	}
	if (msg->properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) {
		static char id[256];

		snprintf(id, sizeof(id), "%.*s",
		    (int)msg->properties.message_id.len,
		    (const char *)msg->properties.message_id.bytes);
		sev.id = id;
	}
	rc = vp_sink_undelivered(&S.dl, VP_OUT_INVALID, &sev, &w);
	if (rc != 0)
		return rc;
	/* recorded: the broker can forget it */
	S.deadlettered++;
	amqp_basic_ack(S.amqp.conn, VP_AMQP_CHANNEL, tag, 0);
	return 0;
}

static void
delivered(uint64_t tag, const amqp_message_t *msg)
{
	enum ce_result r;
	struct inflight *f;
	int64_t off = stream_offset(&msg->properties);

	r = ce_from_amqp(&S.ev, &msg->properties, msg->body, &S.am);
	if (r == CE_NOT_CE && S.wrap)
		r = ce_wrap_amqp(&S.ev, &msg->properties, msg->body,
		    S.wrap_source, &S.am);
	if (r != CE_OK) {
		int rc = unreadable(msg, tag, S.ev.err);

		if (rc != 0)
			S.fatal = rc;
		return;
	}
	f = find_event(CE_S(&S.ev, S.ev.source), S.ev.source.len,
	    CE_S(&S.ev, S.ev.id), S.ev.id.len);
	if (f != NULL) {
		/* the same event is still with the sink: done with it */
		add_tag(f, tag);
		S.deduped++;
		return;
	}
	f = qpush();
	f->source = ce_strdup(&S.ev, &S.ev.source);
	f->id = ce_strdup(&S.ev, &S.ev.id);
	f->gen = S.gen;
	f->offset = off;
	add_tag(f, tag);
	if (S.binary) {
		if (ce_write_binary(&S.ev, &S.out) != CE_OK) {
			/* data binary mode cannot carry: structured it is */
			vp_warn("event %s: %s; written in structured mode",
			    f->id, S.ev.err);
			ce_write_structured(&S.ev, &S.out);
		}
	} else
		ce_write_structured(&S.ev, &S.out);
	vp_buf_append(&S.out, "\n", 1);
	S.lines++;
	f->out_end = S.out_total + (S.out.len - S.out_off);
}

/* ---- the connection ------------------------------------------------------------ */

static void
disconnect(int rc)
{
	/* a connection lost before it consumed (a queue declaration the
	 * cluster refused for now) waits out the backoff, or it would spin */
	int was = S.consuming;

	S.connected = S.consuming = 0;
	S.gen++;	/* every unacknowledged message goes back to the queue */
	if ((rc = vp_amqp_lost(&S.amqp, rc, was, &S.bo, &S.reconnect_ms)))
		S.fatal = rc;
}

static int
rpc_ok(const char *what)
{
	int rc = vp_amqp_reply(&S.amqp, amqp_get_rpc_reply(S.amqp.conn), what);

	if (rc != 0)
		disconnect(rc);
	return rc == 0;
}

/* x-stream-offset: a number, a timestamp, or first/last/next. */
static void
offset_arg(amqp_table_entry_t *e)
{
	int64_t sec;
	int32_t nsec;
	char *end;
	long long n;

	e->key = amqp_cstring_bytes("x-stream-offset");
	if (S.saved_offset >= 0) {
		e->value.kind = AMQP_FIELD_KIND_I64;
		e->value.value.i64 = S.saved_offset;
		return;
	}
	n = strtoll(S.offset, &end, 10);
	if (*end == '\0' && end != S.offset) {
		e->value.kind = AMQP_FIELD_KIND_I64;
		e->value.value.i64 = n;
	} else if (vp_parse_rfc3339(S.offset, &sec, &nsec) == 0) {
		e->value.kind = AMQP_FIELD_KIND_TIMESTAMP;
		e->value.value.u64 = (uint64_t)sec;
	} else {
		e->value.kind = AMQP_FIELD_KIND_UTF8;
		e->value.value.bytes = amqp_cstring_bytes(S.offset);
	}
}

static void
connect_broker(void)
{
	amqp_connection_state_t c;
	amqp_table_entry_t qa[1], ca[1];
	amqp_table_t qargs = { 0, qa }, cargs = { 0, ca };
	int rc = vp_amqp_connect(&S.amqp);

	if (rc != 0) {
		disconnect(rc);
		return;
	}
	c = S.amqp.conn;
	S.connected = 1;
	if (S.declare && strcmp(S.declare, "classic") != 0) {
		qa[0].key = amqp_cstring_bytes("x-queue-type");
		qa[0].value.kind = AMQP_FIELD_KIND_UTF8;
		qa[0].value.value.bytes = amqp_cstring_bytes(S.declare);
		qargs.num_entries = 1;
	}
	/* without --declare the queue must be there (passive) */
	amqp_queue_declare(c, VP_AMQP_CHANNEL, amqp_cstring_bytes(S.queue),
	    S.declare == NULL, 1, 0, 0, qargs);
	if (!rpc_ok(S.declare ? "declaring the queue" : "checking the queue"))
		return;
	for (int i = 0; i < S.nbinds; i++) {
		const char *colon = strchr(S.binds[i], ':');
		amqp_bytes_t ex = { colon ? (size_t)(colon - S.binds[i]) :
		    strlen(S.binds[i]), (void *)S.binds[i] };

		if (S.exchange_type) {
			amqp_exchange_declare(c, VP_AMQP_CHANNEL, ex,
			    amqp_cstring_bytes(S.exchange_type), 0, 1, 0, 0,
			    amqp_empty_table);
			if (!rpc_ok("declaring the exchange"))
				return;
		}
		amqp_queue_bind(c, VP_AMQP_CHANNEL, amqp_cstring_bytes(S.queue),
		    ex, amqp_cstring_bytes(colon ? colon + 1 : ""),
		    amqp_empty_table);
		if (!rpc_ok("binding the queue"))
			return;
	}
	amqp_basic_qos(c, VP_AMQP_CHANNEL, 0, (uint16_t)S.prefetch, 0);
	if (!rpc_ok("basic.qos"))
		return;
	if (S.offset || S.saved_offset >= 0) {
		offset_arg(&ca[0]);
		cargs.num_entries = 1;
	}
	amqp_basic_consume(c, VP_AMQP_CHANNEL, amqp_cstring_bytes(S.queue),
	    amqp_empty_bytes, 0, 0, 0, cargs);
	if (!rpc_ok("basic.consume"))
		return;
	vp_info("consuming %s on %s", S.queue, vp_amqp_where(&S.amqp));
	S.consuming = 1;
	vp_backoff_reset(&S.bo);
}

/* A delivery, or a cancel: 0, -1 (the run ends), or an exit code. */
static int
on_method(void *unused, const amqp_frame_t *f)
{
	(void)unused;
	if (f->payload.method.id == AMQP_BASIC_DELIVER_METHOD) {
		amqp_basic_deliver_t *d = f->payload.method.decoded;
		uint64_t tag = d->delivery_tag;
		amqp_message_t msg;
		int rc = vp_amqp_reply(&S.amqp, amqp_read_message(S.amqp.conn,
		    f->channel, &msg, 0), "delivery");

		if (rc != 0)
			return rc;
		delivered(tag, &msg);
		amqp_destroy_message(&msg);
	} else if (f->payload.method.id == AMQP_BASIC_CANCEL_METHOD) {
		/* the queue was deleted, or a quorum queue lost its leader:
		 * consume again (or learn why not) */
		snprintf(S.amqp.err, sizeof(S.amqp.err), "%s: the broker "
		    "cancelled the consumer", S.queue);
		return VP_EXIT_TEMPFAIL;
	}
	return S.fatal ? -1 : 0;
}

/* Take every frame that is there (up to the prefetch window). */
static void
read_frames(void)
{
	int rc;

	if ((rc = vp_amqp_methods(&S.amqp, on_method, NULL)) > 0)
		disconnect(rc);
}

/* ---- options --------------------------------------------------------------- */

static void
read_offset_file(void)
{
	size_t len;
	char *t = vp_read_file(S.offset_file, 64, &len), *end;
	long long n;

	S.saved_offset = -1;
	if (t == NULL) {
		if (errno != ENOENT)
			vp_die(VP_EXIT_NOINPUT, "--offset-file: %s: %s",
			    S.offset_file, strerror(errno));
		return;
	}
	n = strtoll(t, &end, 10);
	if (end == t || (*end != '\n' && *end != '\0') || n < 0)
		vp_die(VP_EXIT_DATAERR, "--offset-file: %s: not an offset",
		    S.offset_file);
	free(t);
	S.saved_offset = n;
	vp_info("resuming the stream at offset %lld", n);
}

/* --queue: AMQP's short string. */
static int
queue_arg(void *dest, const char *v, char *err, size_t errlen)
{
	if (strlen(v) > 255) {
		snprintf(err, errlen, "1 to 255 bytes");
		return -1;
	}
	*(const char **)dest = v;
	return 0;
}

static const char *const declares[] = { NULL, "classic", "quorum", "stream" };
static const char *const extypes[] = { NULL, "direct", "topic", "fanout",
    "headers" };

/* options, groups: src/amqp-source/options.tab */
#include "opts/amqp-source.h"

static void
check(void)
{
	S.declare = declares[S.declare_i];
	S.exchange_type = extypes[S.extype_i];
	S.binds = S.bindl.v;
	S.nbinds = S.bindl.n;
	if ((S.sink_ck == NULL) == !S.ack_on_write)
		vp_usage_error("give one of --sink-checkpoint FILE (the next "
		    "stage's --checkpoint) and --ack-on-write");
	if ((S.offset || S.offset_file) && S.declare != NULL &&
	    strcmp(S.declare, "stream") != 0)
		vp_usage_error("--offset and --offset-file go with streams");
	for (int i = 0; i < S.nbinds; i++)
		if (S.binds[i][0] == ':')
			vp_usage_error("--bind: EXCHANGE[:KEY] (the default "
			    "exchange takes no bindings)");
	if (S.nbinds && S.declare == NULL)
		vp_usage_error("--bind goes with --declare");
	if (S.exchange_type && S.nbinds == 0)
		vp_usage_error("--exchange-type goes with --bind");
}

/* --help: help/amqp-source.h, made of man/amqp-source.1 */
static const struct vp_cmd cmd = VP_PROGRAM(options,
    VP_LIBS(VP_LIB_RABBITMQ, VP_LIB_JANSSON),
    .groups = groups, .check = check);

int
main(int argc, char *argv[])
{
	int64_t stop_by = 0;
	int rc;

	S.saved_offset = -1;
	S.done_offset = -1;
	S.ino_fd = -1;
	vp_opt_parse(&cmd, argc, argv);
	vp_amqp_setup(&S.amqp, S.cred_path, "AMQP_SOURCE_USERNAME",
	    "AMQP_SOURCE_PASSWORD");
	if (S.offset_file)
		read_offset_file();
	{
		size_t n = strlen(vp_amqp_where(&S.amqp)) + strlen(S.queue) + 2;

		S.wrap_source = vp_xmalloc(n);
		snprintf(S.wrap_source, n, "%s#%s", vp_amqp_where(&S.amqp),
		    S.queue);
	}

	vp_signals_init();
	vp_sink_start(&S.dl);
	if (S.offset_file) {
		char err[512];

		if ((rc = vp_state_path_check(S.offset_file, err,
		    sizeof(err))) != 0)
			vp_die(rc, "--offset-file: %s", err);
	}
	if (S.sink_ck)
		ck_watch_init();
	ce_event_init(&S.ev);
	ce_amqp_msg_init(&S.am);
	vp_buf_append(&S.out, "", 0);
	vp_backoff_init(&S.bo, 200, 30000);

	while (!S.fatal) {
		struct pollfd pfd[3];
		int64_t now = vp_now_ms(), wait_ms = 1000;
		int n = 0;

		if (vp_stop_requested && stop_by == 0) {
			/* the sink gets what it has and EOF; its final
			 * checkpoint says what to acknowledge */
			stop_by = now + S.amqp.timeout_ms;
			out_flush(1);
			close(STDOUT_FILENO);
			S.out_closed = 1;
			vp_info("stopping: %zu message(s) with the sink",
			    S.count);
		}
		if (!S.connected && now >= S.reconnect_ms && stop_by == 0)
			connect_broker();
		/* no new deliveries while the sink has a backlog here */
		if (S.connected && stop_by == 0 && S.out.len - S.out_off <
		    (size_t)1 << 20)
			read_frames();
		out_flush(0);
		if (S.sink_ck) {
			ck_inotify_drain();
			if (S.count > 0)
				ck_poll();
		} else
			written_poll();
		if (offset_flush(stop_by != 0) != 0)
			S.fatal = VP_EXIT_IOERR;
		if (S.fatal)
			break;
		if (stop_by && (S.count == 0 || now >= stop_by))
			break;
		if (vp_amqp_buffered(&S.amqp))
			wait_ms = 0;
		if (!S.connected && !stop_by)
			wait_ms = S.reconnect_ms > now ? S.reconnect_ms - now : 0;
		if (S.connected && stop_by == 0)
			pfd[n++] = (struct pollfd){ vp_amqp_fd(&S.amqp), POLLIN,
			    0 };
		/* always watched: POLLERR says the sink is gone even when
		 * there is nothing to write */
		if (!S.out_closed)
			pfd[n++] = (struct pollfd){ STDOUT_FILENO,
			    S.out_off < S.out.len ? POLLOUT : 0, 0 };
		if (S.ino_fd >= 0 && S.count > 0)
			pfd[n++] = (struct pollfd){ S.ino_fd, POLLIN, 0 };
		/* a missed inotify event (another file system) costs 1 s */
		if (S.count > 0 && wait_ms > 200 && S.ino_fd < 0)
			wait_ms = 200;
		if (S.offset_dirty && wait_ms > OFFSET_INTERVAL_MS)
			wait_ms = OFFSET_INTERVAL_MS;
		if (vp_poll(pfd, (unsigned)n, (int)wait_ms) < 0 &&
		    errno != EINTR) {
			vp_error("poll: %s", strerror(errno));
			S.fatal = VP_EXIT_SOFTWARE;
		}
		for (int i = 0; i < n; i++)
			if (pfd[i].fd == STDOUT_FILENO &&
			    (pfd[i].revents & (POLLERR | POLLHUP))) {
				vp_error("stdout: the next stage is gone");
				S.out_closed = 1;
				S.fatal = VP_EXIT_IOERR;
			}
	}
	/* what the sink finished meanwhile is acknowledged before leaving */
	if (S.sink_ck && S.count > 0 && S.connected)
		ck_poll();
	if (offset_flush(1) != 0 && S.fatal == 0)
		S.fatal = VP_EXIT_IOERR;
	rc = S.fatal;
	if (rc == 0 && !S.out_closed) {
		out_flush(1);
		rc = S.fatal;
	}
	vp_info("%lu written, %lu acknowledged, %lu duplicate(s) dropped, "
	    "%lu dead-lettered, %zu left to the broker%s", S.lines, S.acked,
	    S.deduped, S.deadlettered, S.count,
	    vp_stop_requested ? " (stopped)" : "");
	vp_amqp_free(&S.amqp);
	settle(0);
	while (S.count > 0) {
		free(qat(0)->source);
		free(qat(0)->id);
		free(qat(0)->tags);
		S.head = (S.head + 1) % S.cap;
		S.count--;
	}
	free(S.q);
	vp_ckpt_clear(&S.ck_last);
	free(S.wrap_source);
	vp_buf_free(&S.out);
	ce_amqp_msg_free(&S.am);
	ce_event_free(&S.ev);
	vp_sink_free(&S.dl);
	if (S.ino_fd >= 0)
		close(S.ino_fd);
	return rc;
}
