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

#define DEFAULT_PREFETCH 500
#define DEFAULT_TIMEOUT "30s"
#define DEFAULT_HEARTBEAT "30s"
#define OFFSET_INTERVAL_MS 100
#define MAX_BINDS 16

static const char usage_text[] =
    "usage: amqp-source --url URL --queue NAME\n"
    "           (--sink-checkpoint FILE | --ack-on-write)\n"
    "           [--declare classic|quorum|stream] [--bind EXCHANGE[:KEY]]...\n"
    "           [--exchange-type TYPE] [--offset first|last|next|N|TIME]\n"
    "           [--offset-file FILE] [--prefetch N] [--mode structured|binary]\n"
    "           [--wrap] [--dlq FILE] [--credentials-file FILE] [--insecure]\n"
    "           [--ca-file FILE] [--timeout DURATION] [--heartbeat DURATION]\n"
    "           [--log-level LEVEL] [--log-json]\n"
    "       amqp-source --help | --version\n";

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
	const char *queue, *declare, *exchange_type;
	const char *binds[MAX_BINDS];
	int nbinds;
	const char *offset;	/* --offset as given */
	const char *offset_file;
	int64_t saved_offset;	/* next offset from --offset-file, or -1 */
	unsigned prefetch;
	int binary, wrap, ack_on_write;
	const char *sink_ck;	/* the next stage's checkpoint */
	const char *dlq;
	struct vp_sink dl;	/* dead letters of unreadable messages */
	/* what is with the sink, in the order written */
	struct inflight *q;
	size_t head, count, cap;
	unsigned gen;
	int connected;
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
	char *ck_last;		/* the content last applied */
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

static void
usage_help(void)
{
	fputs(usage_text, stdout);
	fputs("\nConsume a RabbitMQ queue or stream and write its CloudEvents to\n"
	    "stdout, acknowledging each message only after the next stage's\n"
	    "checkpoint names it as done. See amqp-source(1) and\n"
	    "vcpipe-formats(5).\n", stdout);
}

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

/*
 * Read the sink's checkpoint and acknowledge what it covers. The file that
 * was there at start is from an earlier run and names an event of that
 * run: it is ignored until the sink replaces it (a replacement is a new
 * file: the old one stays linked until the rename, so the new one cannot
 * have its inode). A content already applied is not applied twice.
 */
static void
ck_poll(void)
{
	struct stat st;
	json_t *o;
	json_error_t je;
	char *text;
	size_t len;
	const char *src, *id;
	struct inflight *f;

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
	text = vp_read_file(S.sink_ck, 1 << 20, &len);
	if (text == NULL)
		return;
	if (S.ck_last && strcmp(S.ck_last, text) == 0) {
		free(text);
		return;
	}
	o = json_loadb(text, len, 0, &je);
	src = json_string_value(json_object_get(o, "source"));
	id = json_string_value(json_object_get(o, "id"));
	if (o == NULL || src == NULL || id == NULL) {
		vp_warn("%s: not a checkpoint (%s)", S.sink_ck,
		    o ? "no source or id" : je.text);
		json_decref(o);
		free(text);
		return;
	}
	free(S.ck_last);
	S.ck_last = text;
	f = find_event(src, strlen(src), id, strlen(id));
	if (f != NULL)
		settle((size_t)(f - S.q + S.cap - S.head) % S.cap + 1);
	json_decref(o);
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
	int was = S.connected;
	int64_t delay;

	if (rc != VP_EXIT_TEMPFAIL) {
		vp_error("%s", S.amqp.err);
		S.fatal = rc;
		return;
	}
	vp_amqp_close(&S.amqp);
	S.connected = 0;
	S.gen++;	/* every unacknowledged message goes back to the queue */
	delay = was ? 0 : vp_backoff_next(&S.bo);
	vp_warn("%s; %s", S.amqp.err, was ? "reconnecting" : "trying again");
	S.reconnect_ms = vp_now_ms() + delay;
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
	vp_backoff_reset(&S.bo);
}

/* Take every frame that is there (up to the prefetch window). */
static void
read_frames(void)
{
	struct timeval zero = { 0, 0 };
	amqp_frame_t f;
	int st, rc;

	while (S.connected && !S.fatal) {
		st = amqp_simple_wait_frame_noblock(S.amqp.conn, &f, &zero);
		if (st == AMQP_STATUS_TIMEOUT)
			break;
		if (st != AMQP_STATUS_OK) {
			disconnect(vp_amqp_status(&S.amqp, st,
			    vp_amqp_where(&S.amqp)));
			return;
		}
		if (f.frame_type != AMQP_FRAME_METHOD)
			continue;
		if (f.payload.method.id == AMQP_BASIC_DELIVER_METHOD) {
			amqp_basic_deliver_t *d = f.payload.method.decoded;
			uint64_t tag = d->delivery_tag;
			amqp_message_t msg;

			rc = vp_amqp_reply(&S.amqp, amqp_read_message(
			    S.amqp.conn, f.channel, &msg, 0), "delivery");
			if (rc != 0) {
				disconnect(rc);
				return;
			}
			delivered(tag, &msg);
			amqp_destroy_message(&msg);
		} else if (f.payload.method.id == AMQP_BASIC_CANCEL_METHOD) {
			/* the queue was deleted, or a quorum queue lost its
			 * leader: consume again (or learn why not) */
			snprintf(S.amqp.err, sizeof(S.amqp.err), "%s: the "
			    "broker cancelled the consumer", S.queue);
			disconnect(VP_EXIT_TEMPFAIL);
			return;
		} else if ((rc = vp_amqp_closing_frame(&S.amqp, &f)) != 0) {
			disconnect(rc);
			return;
		}
		amqp_maybe_release_buffers(S.amqp.conn);
	}
}

/* ---- options --------------------------------------------------------------- */

static int64_t
duration_arg(const char *opt, const char *v)
{
	int64_t ms = vp_parse_duration_ms(v);

	if (ms < 0)
		vp_usage_error("--%s: bad duration \"%s\"", opt, v);
	return ms;
}

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

int
main(int argc, char *argv[])
{
	enum { O_URL = 1, O_QUEUE, O_DECLARE, O_BIND, O_EXTYPE, O_OFFSET,
	    O_OFFSETFILE, O_PREFETCH, O_MODE, O_WRAP, O_DLQ, O_SINKCK,
	    O_ACKWRITE, O_CRED, O_INSECURE, O_CAFILE, O_TIMEOUT, O_HEARTBEAT,
	    O_LOGLEVEL, O_LOGJSON, O_HELP, O_VERSION };
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, O_URL },
		{ "queue", required_argument, NULL, O_QUEUE },
		{ "declare", required_argument, NULL, O_DECLARE },
		{ "bind", required_argument, NULL, O_BIND },
		{ "exchange-type", required_argument, NULL, O_EXTYPE },
		{ "offset", required_argument, NULL, O_OFFSET },
		{ "offset-file", required_argument, NULL, O_OFFSETFILE },
		{ "prefetch", required_argument, NULL, O_PREFETCH },
		{ "mode", required_argument, NULL, O_MODE },
		{ "wrap", no_argument, NULL, O_WRAP },
		{ "dlq", required_argument, NULL, O_DLQ },
		{ "sink-checkpoint", required_argument, NULL, O_SINKCK },
		{ "ack-on-write", no_argument, NULL, O_ACKWRITE },
		{ "credentials-file", required_argument, NULL, O_CRED },
		{ "insecure", no_argument, NULL, O_INSECURE },
		{ "ca-file", required_argument, NULL, O_CAFILE },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "heartbeat", required_argument, NULL, O_HEARTBEAT },
		{ "log-level", required_argument, NULL, O_LOGLEVEL },
		{ "log-json", no_argument, NULL, O_LOGJSON },
		{ "help", no_argument, NULL, O_HELP },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 }
	};
	const char *url = NULL, *cred = NULL;
	int64_t timeout_ms = vp_parse_duration_ms(DEFAULT_TIMEOUT);
	int64_t heartbeat_ms = vp_parse_duration_ms(DEFAULT_HEARTBEAT);
	int64_t stop_by = 0;
	int ch, rc;
	char *end;
	unsigned long ul;

	vp_log_init(argv[0]);
	S.prefetch = DEFAULT_PREFETCH;
	S.saved_offset = -1;
	S.done_offset = -1;
	S.ino_fd = -1;
	vp_sink_opts_init(&S.dl.o);
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case O_URL:
			url = optarg;
			break;
		case O_QUEUE:
			if (*optarg == '\0' || strlen(optarg) > 255)
				vp_usage_error("--queue: 1 to 255 bytes");
			S.queue = optarg;
			break;
		case O_DECLARE:
			if (strcmp(optarg, "classic") && strcmp(optarg,
			    "quorum") && strcmp(optarg, "stream"))
				vp_usage_error("--declare: classic, quorum or "
				    "stream");
			S.declare = optarg;
			break;
		case O_BIND:
			if (S.nbinds == MAX_BINDS)
				vp_usage_error("--bind: at most %d", MAX_BINDS);
			if (*optarg == ':' || *optarg == '\0')
				vp_usage_error("--bind: EXCHANGE[:KEY] (the "
				    "default exchange takes no bindings)");
			S.binds[S.nbinds++] = optarg;
			break;
		case O_EXTYPE:
			if (strcmp(optarg, "direct") && strcmp(optarg, "topic") &&
			    strcmp(optarg, "fanout") && strcmp(optarg, "headers"))
				vp_usage_error("--exchange-type: direct, topic, "
				    "fanout or headers");
			S.exchange_type = optarg;
			break;
		case O_OFFSET:
			S.offset = optarg;
			break;
		case O_OFFSETFILE:
			S.offset_file = optarg;
			break;
		case O_PREFETCH:
			errno = 0;
			ul = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || ul < 1 ||
			    ul > 65535)
				vp_usage_error("--prefetch: a number from 1 to "
				    "65535");
			S.prefetch = (unsigned)ul;
			break;
		case O_MODE:
			if (strcmp(optarg, "binary") == 0)
				S.binary = 1;
			else if (strcmp(optarg, "structured") == 0)
				S.binary = 0;
			else
				vp_usage_error("--mode: structured or binary");
			break;
		case O_WRAP:
			S.wrap = 1;
			break;
		case O_DLQ:
			S.dl.o.dlq = optarg;
			break;
		case O_SINKCK:
			S.sink_ck = optarg;
			break;
		case O_ACKWRITE:
			S.ack_on_write = 1;
			break;
		case O_CRED:
			cred = optarg;
			break;
		case O_INSECURE:
			S.amqp.tls.insecure = 1;
			break;
		case O_CAFILE:
			S.amqp.tls.ca_file = optarg;
			break;
		case O_TIMEOUT:
			timeout_ms = duration_arg("timeout", optarg);
			if (timeout_ms == 0)
				vp_usage_error("--timeout: must be more than 0");
			break;
		case O_HEARTBEAT:
			heartbeat_ms = duration_arg("heartbeat", optarg);
			break;
		case O_LOGLEVEL:
			vp_log_level_option(optarg);
			break;
		case O_LOGJSON:
			vp_log_set_json(1);
			break;
		case O_HELP:
			usage_help();
			return 0;
		case O_VERSION: {
			char v[64];

			snprintf(v, sizeof(v), "librabbitmq %s", amqp_version());
			vp_print_versions("amqp-source", v);
			return 0;
		}
		default:
			fputs(usage_text, stderr);
			return VP_EXIT_USAGE;
		}
	}
	if (optind != argc)
		vp_usage_error("unexpected argument \"%s\"", argv[optind]);
	if (url == NULL || S.queue == NULL)
		vp_usage_error("--url and --queue are required");
	if ((S.sink_ck == NULL) == !S.ack_on_write)
		vp_usage_error("give one of --sink-checkpoint FILE (the next "
		    "stage's --checkpoint) and --ack-on-write");
	if ((S.offset || S.offset_file) &&
	    (S.declare == NULL || strcmp(S.declare, "stream") != 0) &&
	    S.declare != NULL)
		vp_usage_error("--offset and --offset-file go with streams");
	if (S.nbinds && S.declare == NULL)
		vp_usage_error("--bind goes with --declare");
	if (S.exchange_type && S.nbinds == 0)
		vp_usage_error("--exchange-type goes with --bind");
	S.amqp.timeout_ms = timeout_ms;
	S.amqp.heartbeat_s = (int)((heartbeat_ms + 999) / 1000);
	if ((rc = vp_amqp_config(&S.amqp, url, cred, "AMQP_SOURCE_USERNAME",
	    "AMQP_SOURCE_PASSWORD")) != 0) {
		if (rc == VP_EXIT_USAGE)
			vp_usage_error("%s", S.amqp.err);
		vp_die(rc, "%s", S.amqp.err);
	}
	if (S.amqp.tls.ca_file && access(S.amqp.tls.ca_file, R_OK) != 0)
		vp_die(VP_EXIT_NOINPUT, "--ca-file: %s: %s", S.amqp.tls.ca_file,
		    strerror(errno));
	if (!S.amqp.ssl && (S.amqp.tls.ca_file || S.amqp.tls.insecure))
		vp_usage_error("--ca-file and --insecure go with amqps:// URLs");
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
			stop_by = now + timeout_ms;
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
	free(S.ck_last);
	free(S.wrap_source);
	vp_buf_free(&S.out);
	ce_amqp_msg_free(&S.am);
	ce_event_free(&S.ev);
	vp_sink_free(&S.dl);
	if (S.ino_fd >= 0)
		close(S.ino_fd);
	return rc;
}
