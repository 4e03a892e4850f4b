/*
 * sink-amqp: publish CloudEvent lines from stdin to a RabbitMQ (AMQP 0-9-1)
 * exchange, at least once, with publisher confirms.
 *
 * Up to --window messages are in flight: each line is published as soon as
 * it is read, and the broker's confirms (basic.ack / basic.nack, with
 * basic.return before them for an unroutable mandatory message) settle
 * them in any order. The checkpoint moves only over the contiguous prefix
 * of settled events, so it never names an event while an earlier one may
 * still be lost. A refused or unroutable message is published again under
 * the shared retry rules and dead-lettered when they run out; a lost
 * connection is not the events' fault: sink-amqp reconnects with backoff
 * and publishes every unconfirmed message again (the same id: receivers
 * drop the duplicates).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ceamqp.h"
#include "sinkcore.h"
#include "vpamqp.h"

#define MAX_LINE (4 * 1024 * 1024)
#define DEFAULT_WINDOW 256
#define DEFAULT_TIMEOUT "30s"
#define DEFAULT_HEARTBEAT "30s"

static const char usage_text[] =
    "usage: sink-amqp --url URL [--exchange NAME] [--exchange-type TYPE]\n"
    "           [--routing-key TEMPLATE] [--mode binary|structured]\n"
    "           [--headers knative|cloudevents] [--no-mandatory]\n"
    "           [--window N] " VP_SINK_USAGE "\n"
    "           [--credentials-file FILE] [--insecure] [--ca-file FILE]\n"
    "           [--timeout DURATION] [--heartbeat DURATION]\n"
    "           [--log-level LEVEL] [--log-json]\n"
    "       sink-amqp --help | --version\n";

enum mstate { M_WAIT, M_SENT, M_DONE };

struct msg {
	char *line;
	size_t len;
	unsigned long lineno;
	enum mstate st;
	uint64_t seq;		/* publish sequence number while M_SENT */
	int returned;		/* basic.return seen for this publish */
	char why[256];		/* the last refusal */
	unsigned attempts;	/* publishes the broker refused */
	int64_t first_ms, next_ms;
	struct vp_backoff bo;
	int acked;		/* done: confirmed (1) or dead-lettered (0) */
	char *id, *source, *time;	/* for the checkpoint */
	int has_key;
	long long key;
};

struct sent {			/* publishes in sequence order */
	uint64_t seq;
	struct msg *m;
};

static struct {
	struct vp_sink core;
	struct vp_amqp amqp;
	const char *exchange, *exchange_type, *rkey;
	int structured, mandatory;
	enum ce_amqp_naming naming;
	size_t window;
	/* the window: events in input order */
	struct msg **q;
	size_t head, count;
	/* publishes awaiting a confirm, in sequence order */
	struct sent *sent;
	size_t shead, scount, scap;
	size_t waiting;		/* events in M_WAIT */
	uint64_t next_seq;
	int connected;
	int64_t reconnect_ms;
	struct vp_backoff conn_bo;
	int fatal;		/* the exit code that ends the run */
	struct ce_event ev;
	struct ce_amqp_msg am;
	struct vp_buf rk;
	unsigned long published, republished;
} S;

static void
usage_help(void)
{
	fputs(usage_text, stdout);
	fputs("\nPublish CloudEvent lines (ce-encode output) from stdin to a\n"
	    "RabbitMQ exchange with publisher confirms, at least once, with\n"
	    "retries, a dead-letter file and a checkpoint. See sink-amqp(1) and\n"
	    "vcpipe-formats(5).\n", stdout);
}

/* ---- routing keys ------------------------------------------------------------ */

/* Check a --routing-key template: {name} with name [a-z0-9]+. */
static void
rkey_check(const char *t)
{
	for (const char *p = t; *p; p++) {
		const char *e;

		if (*p == '}')
			vp_usage_error("--routing-key: '}' without '{'");
		if (*p != '{')
			continue;
		e = strchr(p, '}');
		if (e == NULL)
			vp_usage_error("--routing-key: '{' without '}'");
		if (e == p + 1 || !ce_ext_name_ok(p + 1, (size_t)(e - p - 1)))
			vp_usage_error("--routing-key: bad attribute name in "
			    "\"%.*s\"", (int)(e - p + 1), p);
		p = e;
	}
}

/* An attribute's value by name, or NULL (absent). */
static const char *
attr(const struct ce_event *ev, const char *n, size_t nl, size_t *len)
{
	const struct ce_str *s = NULL;

#define IS(lit) (nl == sizeof(lit) - 1 && memcmp(n, lit, nl) == 0)
	if (IS("id"))
		s = &ev->id;
	else if (IS("source"))
		s = &ev->source;
	else if (IS("type"))
		s = &ev->type;
	else if (IS("subject"))
		s = &ev->subject;
	else if (IS("time"))
		s = &ev->time;
	else if (IS("dataschema"))
		s = &ev->dataschema;
	else if (IS("datacontenttype"))
		s = &ev->dct;
	else if (IS("specversion")) {
		*len = 3;
		return "1.0";
	}
#undef IS
	if (s) {
		*len = s->len;
		return s->set ? CE_S(ev, *s) : NULL;
	}
	for (size_t i = 0; i < ev->next; i++)
		if (ev->ext[i].nlen == nl &&
		    memcmp(ev->strs.data + ev->ext[i].noff, n, nl) == 0) {
			*len = ev->ext[i].vlen;
			return ev->strs.data + ev->ext[i].voff;
		}
	return NULL;
}

/* The routing key for ev in S.rk; -1 when it is longer than AMQP allows. */
static int
rkey_expand(const struct ce_event *ev)
{
	vp_buf_reset(&S.rk);
	vp_buf_append(&S.rk, "", 0);
	for (const char *p = S.rkey; *p; p++) {
		const char *e, *v;
		size_t vl;

		if (*p != '{') {
			vp_buf_append(&S.rk, p, 1);
			continue;
		}
		e = strchr(p, '}');
		v = attr(ev, p + 1, (size_t)(e - p - 1), &vl);
		if (v)
			vp_buf_append(&S.rk, v, vl);
		p = e;
	}
	return S.rk.len > 255 ? -1 : 0;
}

/* ---- the window ------------------------------------------------------------------ */

static struct msg *
qat(size_t i)
{
	return S.q[(S.head + i) % S.window];
}

static void
sent_push(struct msg *m)
{
	if (S.scount == S.scap) {
		size_t ncap = S.scap ? S.scap * 2 : 64;
		struct sent *n = vp_xmalloc(ncap * sizeof(*n));

		for (size_t i = 0; i < S.scount; i++)
			n[i] = S.sent[(S.shead + i) % S.scap];
		free(S.sent);
		S.sent = n;
		S.scap = ncap;
		S.shead = 0;
	}
	S.sent[(S.shead + S.scount++) % S.scap] = (struct sent){ m->seq, m };
}

static int
sent_live(const struct sent *s)
{
	return s->m != NULL && s->m->st == M_SENT && s->m->seq == s->seq;
}

static void
msg_free(struct msg *m)
{
	free(m->line);
	free(m->id);
	free(m->source);
	free(m->time);
	free(m);
}

/* The line's text for a dead-letter record. */
static int
settle_undelivered(struct msg *m, enum vp_outcome out, const char *error)
{
	struct vp_dl_why why = { .error = error && *error ? error : NULL,
	    .status = -1, .attempts = m->attempts, .line = m->lineno,
	    .url = out == VP_OUT_INVALID ? NULL : vp_amqp_where(&S.amqp) };
	struct vp_sink_event sev = { .line = m->lineno, .id = m->id,
	    .text = m->line, .len = m->len, .is_object = 0 };
	const char *p;
	size_t n;

	if (ce_read(&S.ev, m->line, m->len, 0) != CE_BAD || S.ev.object) {
		if (ce_record_text(&S.ev, &p, &n)) {
			sev.text = p;
			sev.len = n;
			sev.is_object = 1;
		}
	}
	return vp_sink_undelivered(&S.core, out, &sev, &why);
}

/* The broker refused m (nack) or could not route it (return). */
static void
refused(struct msg *m, const char *why)
{
	int64_t delay;

	m->attempts++;
	if (why != m->why)
		snprintf(m->why, sizeof(m->why), "%s", why);
	delay = vp_retry_delay(&m->bo, -1);
	if (vp_retry_over(&S.core.o.retry, m->attempts, m->first_ms, delay)) {
		int rc = settle_undelivered(m, VP_OUT_EXHAUSTED, m->why);

		if (rc != 0) {
			S.fatal = rc;
			return;
		}
		m->st = M_DONE;
		m->acked = 0;
		return;
	}
	vp_debug("stdin:%lu: %s; again in %lld ms", m->lineno, why,
	    (long long)delay);
	m->st = M_WAIT;
	m->next_ms = vp_now_ms() + delay;
	S.waiting++;
}

static void
confirmed(struct msg *m, int ack)
{
	if (!ack)
		refused(m, "the broker refused the message (basic.nack)");
	else if (m->returned)
		refused(m, m->why);
	else {
		m->st = M_DONE;
		m->acked = 1;
	}
}

/* basic.ack / basic.nack for tag (and every earlier one when multiple). */
static void
confirm(uint64_t tag, int multiple, int ack)
{
	while (S.scount > 0 && (!sent_live(&S.sent[S.shead]) ||
	    (multiple && S.sent[S.shead].seq <= tag))) {
		struct sent s = S.sent[S.shead];

		S.shead = (S.shead + 1) % S.scap;
		S.scount--;
		if (sent_live(&s))
			confirmed(s.m, ack);
	}
	if (multiple)
		return;
	for (size_t i = 0; i < S.scount; i++) {
		struct sent *s = &S.sent[(S.shead + i) % S.scap];

		if (s->seq == tag) {
			if (sent_live(s))
				confirmed(s->m, ack);
			s->m = NULL;
			break;
		}
		if (s->seq > tag)
			break;
	}
}

/* basic.return: the oldest live publish of that message id was returned. */
static void
returned(const amqp_basic_return_t *r, const amqp_message_t *msg)
{
	const amqp_bytes_t id = msg->properties.message_id;

	for (size_t i = 0; i < S.scount; i++) {
		struct sent *s = &S.sent[(S.shead + i) % S.scap];

		if (!sent_live(s) || s->m->returned || s->m->id == NULL ||
		    strlen(s->m->id) != id.len ||
		    memcmp(s->m->id, id.bytes, id.len) != 0)
			continue;
		s->m->returned = 1;
		snprintf(s->m->why, sizeof(s->m->why), "returned by the "
		    "broker: %d %.*s (exchange \"%.*s\", routing key \"%.*s\")",
		    r->reply_code, (int)r->reply_text.len,
		    (const char *)r->reply_text.bytes, (int)r->exchange.len,
		    (const char *)r->exchange.bytes, (int)r->routing_key.len,
		    (const char *)r->routing_key.bytes);
		return;
	}
	vp_warn("a returned message matches no message in flight (id %.*s)",
	    (int)id.len, (const char *)id.bytes);
}

/* Pop the settled prefix into the checkpoint. */
static void
advance(void)
{
	while (S.count > 0 && qat(0)->st == M_DONE) {
		struct msg *m = qat(0);

		if (m->acked)
			S.core.ck.pos.delivered++;
		vp_ckpt_note(&S.core.ck, m->source, m->id, m->time,
		    m->has_key, m->key);
		msg_free(m);
		S.head = (S.head + 1) % S.window;
		S.count--;
	}
}

/* ---- the connection ------------------------------------------------------------- */

static void
disconnect(int rc)
{
	int64_t delay;
	int was = S.connected;

	if (rc != VP_EXIT_TEMPFAIL) {
		vp_error("%s", S.amqp.err);
		S.fatal = rc;
		return;
	}
	vp_amqp_close(&S.amqp);
	delay = vp_backoff_next(&S.conn_bo);
	if (was)	/* a connection that worked: at once */
		vp_warn("%s; reconnecting", S.amqp.err);
	else
		vp_warn("%s; again in %lld ms", S.amqp.err, (long long)delay);
	S.connected = 0;
	S.reconnect_ms = vp_now_ms() + (was ? 0 : delay);
	/* whatever was unconfirmed goes again on the next connection */
	for (size_t i = 0; i < S.count; i++)
		if (qat(i)->st == M_SENT) {
			qat(i)->st = M_WAIT;
			qat(i)->next_ms = 0;
			qat(i)->returned = 0;
			S.waiting++;
		}
	S.scount = S.shead = 0;
}

static void
connect_broker(void)
{
	int rc = vp_amqp_connect(&S.amqp);
	amqp_connection_state_t c = S.amqp.conn;

	if (rc == 0) {
		amqp_confirm_select(c, VP_AMQP_CHANNEL);
		rc = vp_amqp_reply(&S.amqp, amqp_get_rpc_reply(c),
		    "confirm.select");
	}
	if (rc == 0 && S.exchange[0] != '\0') {
		/* a missing exchange is a configuration error now rather
		 * than a closed channel at the first publish */
		amqp_exchange_declare(c, VP_AMQP_CHANNEL,
		    amqp_cstring_bytes(S.exchange),
		    vp_amqp_str(S.exchange_type ? S.exchange_type : "direct"),
		    S.exchange_type == NULL, 1, 0, 0, amqp_empty_table);
		rc = vp_amqp_reply(&S.amqp, amqp_get_rpc_reply(c),
		    S.exchange_type ? "declaring the exchange" :
		    "checking the exchange");
	}
	if (rc != 0) {
		disconnect(rc);
		return;
	}
	vp_info("connected to %s", vp_amqp_where(&S.amqp));
	S.connected = 1;
	S.next_seq = 1;
	vp_backoff_reset(&S.conn_bo);
}

/* Publish m now; 0, or the connection failed (disconnect done). */
static int
publish(struct msg *m)
{
	int st;

	if (ce_read(&S.ev, m->line, m->len, 0) != CE_OK ||
	    ce_to_amqp(&S.ev, S.structured, S.naming, &S.am) != CE_OK ||
	    rkey_expand(&S.ev) != 0) {
		/* the line was read before: only the message can be wrong */
		int rc = settle_undelivered(m, VP_OUT_REJECTED,
		    S.rk.len > 255 ? "routing key longer than 255 bytes" :
		    S.ev.err);

		if (rc != 0)
			S.fatal = rc;
		m->st = M_DONE;
		m->acked = 0;
		return 0;
	}
	st = amqp_basic_publish(S.amqp.conn, VP_AMQP_CHANNEL,
	    vp_amqp_str(S.exchange), amqp_cstring_bytes(S.rk.data),
	    S.mandatory, 0, &S.am.props, S.am.body);
	if (st != AMQP_STATUS_OK) {
		disconnect(vp_amqp_status(&S.amqp, st, "publish"));
		return -1;
	}
	if (m->attempts > 0 || m->seq > 0)
		S.republished++;
	S.published++;
	m->seq = S.next_seq++;
	m->st = M_SENT;
	m->returned = 0;
	sent_push(m);
	return 0;
}

/* Publish what is due (input order). */
static void
publish_due(void)
{
	int64_t now = vp_now_ms();

	for (size_t i = 0; S.waiting > 0 && i < S.count && S.connected &&
	    !S.fatal; i++) {
		struct msg *m = qat(i);

		if (m->st != M_WAIT || m->next_ms > now)
			continue;
		S.waiting--;
		if (publish(m) != 0)
			return;
	}
}

/* Handle every frame that is there without waiting. */
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
		switch (f.payload.method.id) {
		case AMQP_BASIC_ACK_METHOD: {
			amqp_basic_ack_t *a = f.payload.method.decoded;

			confirm(a->delivery_tag, a->multiple, 1);
			break;
		}
		case AMQP_BASIC_NACK_METHOD: {
			amqp_basic_nack_t *a = f.payload.method.decoded;

			confirm(a->delivery_tag, a->multiple, 0);
			break;
		}
		case AMQP_BASIC_RETURN_METHOD: {
			amqp_basic_return_t r =
			    *(amqp_basic_return_t *)f.payload.method.decoded;
			amqp_message_t msg;
			amqp_rpc_reply_t rr = amqp_read_message(S.amqp.conn,
			    f.channel, &msg, 0);

			if ((rc = vp_amqp_reply(&S.amqp, rr, "basic.return"))) {
				disconnect(rc);
				return;
			}
			returned(&r, &msg);
			amqp_destroy_message(&msg);
			break;
		}
		default:
			if ((rc = vp_amqp_closing_frame(&S.amqp, &f)) != 0) {
				disconnect(rc);
				return;
			}
		}
	}
	if (S.amqp.conn)
		amqp_maybe_release_buffers(S.amqp.conn);
}

/* ---- input ------------------------------------------------------------------- */

/* Is a line (or EOF) there without blocking? */
static int
input_ready(void)
{
	struct pollfd pfd = { .fd = fileno(stdin), .events = POLLIN };

#ifdef __GLIBC__
	if (stdin->_IO_read_ptr < stdin->_IO_read_end)
		return 1;
#endif
	return poll(&pfd, 1, 0) > 0;
}

static int
input_idle(void *arg)
{
	(void)arg;
	return !input_ready();
}

/* Take one line into the window. */
static void
take_line(struct vp_linereader *lr, size_t len, int toolong)
{
	struct msg *m = vp_xmalloc(sizeof(*m));

	memset(m, 0, sizeof(*m));
	m->lineno = lr->lineno;
	m->line = toolong ? vp_xstrdup("") : vp_xmalloc(len + 1);
	if (!toolong) {
		memcpy(m->line, lr->buf, len + 1);
		m->len = len;
	}
	m->first_ms = vp_now_ms();
	vp_backoff_init(&m->bo, S.core.o.retry.base_ms, S.core.o.retry.cap_ms);
	S.q[(S.head + S.count++) % S.window] = m;
	if (toolong || ce_read(&S.ev, m->line, m->len, 0) != CE_OK) {
		char err[300];
		int rc;

		snprintf(err, sizeof(err), "%s", toolong ?
		    "line longer than 4194304 bytes" : S.ev.err);
		rc = settle_undelivered(m, VP_OUT_INVALID, err);
		if (rc != 0)
			S.fatal = rc;
		m->st = M_DONE;
		return;
	}
	m->id = ce_strdup(&S.ev, &S.ev.id);
	m->source = ce_strdup(&S.ev, &S.ev.source);
	m->time = ce_strdup(&S.ev, &S.ev.time);
	m->has_key = S.ev.has_key;
	m->key = S.ev.key;
	m->st = M_WAIT;
	S.waiting++;
	if (S.connected)
		publish_due();
}

/* ---- options ------------------------------------------------------------------ */

static int64_t
duration_arg(const char *opt, const char *v)
{
	int64_t ms = vp_parse_duration_ms(v);

	if (ms < 0)
		vp_usage_error("--%s: bad duration \"%s\"", opt, v);
	return ms;
}

int
main(int argc, char *argv[])
{
	enum { O_URL = 1, O_EXCHANGE, O_EXTYPE, O_RKEY, O_MODE, O_HEADERS,
	    O_NOMAND, O_WINDOW, O_CRED, O_INSECURE, O_CAFILE, O_TIMEOUT,
	    O_HEARTBEAT, O_LOGLEVEL, O_LOGJSON, O_HELP, O_VERSION };
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, O_URL },
		{ "exchange", required_argument, NULL, O_EXCHANGE },
		{ "exchange-type", required_argument, NULL, O_EXTYPE },
		{ "routing-key", required_argument, NULL, O_RKEY },
		{ "mode", required_argument, NULL, O_MODE },
		{ "headers", required_argument, NULL, O_HEADERS },
		{ "no-mandatory", no_argument, NULL, O_NOMAND },
		{ "window", required_argument, NULL, O_WINDOW },
		VP_SINK_LONGOPTS,
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
	int ch, eof = 0, rc;
	char *end;
	struct vp_linereader lr;

	vp_log_init(argv[0]);
	vp_sink_opts_init(&S.core.o);
	S.exchange = "";
	S.rkey = "";
	S.mandatory = 1;
	S.window = DEFAULT_WINDOW;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case O_URL:
			url = optarg;
			break;
		case O_EXCHANGE:
			S.exchange = optarg;
			break;
		case O_EXTYPE:
			if (strcmp(optarg, "direct") && strcmp(optarg, "topic") &&
			    strcmp(optarg, "fanout") && strcmp(optarg, "headers"))
				vp_usage_error("--exchange-type: direct, topic, "
				    "fanout or headers");
			S.exchange_type = optarg;
			break;
		case O_RKEY:
			rkey_check(optarg);
			S.rkey = optarg;
			break;
		case O_MODE:
			if (strcmp(optarg, "binary") == 0)
				S.structured = 0;
			else if (strcmp(optarg, "structured") == 0)
				S.structured = 1;
			else
				vp_usage_error("--mode: binary or structured");
			break;
		case O_HEADERS:
			if (strcmp(optarg, "knative") == 0)
				S.naming = CE_AMQP_KNATIVE;
			else if (strcmp(optarg, "cloudevents") == 0)
				S.naming = CE_AMQP_CLOUDEVENTS;
			else
				vp_usage_error("--headers: knative or "
				    "cloudevents");
			break;
		case O_NOMAND:
			S.mandatory = 0;
			break;
		case O_WINDOW:
			errno = 0;
			S.window = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || S.window < 1 ||
			    S.window > 100000)
				vp_usage_error("--window: a number from 1 to "
				    "100000");
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
		case O_VERSION:
			{ char v[64]; snprintf(v, sizeof(v), "librabbitmq %s", amqp_version()); vp_print_versions("sink-amqp", v); }
			return 0;
		default:
			if (ch == VP_SINK_OPT_RETRYON)
				vp_usage_error("--retry-on: AMQP has no HTTP "
				    "statuses to retry");
			if (ch != '?' && vp_sink_option(&S.core.o, ch, optarg))
				break;
			fputs(usage_text, stderr);
			return VP_EXIT_USAGE;
		}
	}
	if (optind != argc)
		vp_usage_error("unexpected argument \"%s\"", argv[optind]);
	if (url == NULL)
		vp_usage_error("--url is required");
	vp_sink_opts_check(&S.core.o);
	if (S.exchange[0] == '\0' && S.exchange_type)
		vp_usage_error("--exchange-type needs --exchange (the default "
		    "exchange is always there)");
	S.amqp.timeout_ms = timeout_ms;
	S.amqp.heartbeat_s = (int)((heartbeat_ms + 999) / 1000);
	if ((rc = vp_amqp_config(&S.amqp, url, cred, "SINK_AMQP_USERNAME",
	    "SINK_AMQP_PASSWORD")) != 0) {
		if (rc == VP_EXIT_USAGE)
			vp_usage_error("%s", S.amqp.err);
		vp_die(rc, "%s", S.amqp.err);
	}
	if (S.amqp.tls.ca_file && access(S.amqp.tls.ca_file, R_OK) != 0)
		vp_die(VP_EXIT_NOINPUT, "--ca-file: %s: %s", S.amqp.tls.ca_file,
		    strerror(errno));
	if (!S.amqp.ssl && (S.amqp.tls.ca_file || S.amqp.tls.insecure))
		vp_usage_error("--ca-file and --insecure go with amqps:// URLs");

	vp_signals_init();
	vp_sink_start(&S.core);
	S.q = vp_xmalloc(S.window * sizeof(*S.q));
	ce_event_init(&S.ev);
	ce_amqp_msg_init(&S.am);
	vp_buf_append(&S.rk, "", 0);
	vp_backoff_init(&S.conn_bo, S.core.o.retry.base_ms,
	    S.core.o.retry.cap_ms);
	vp_linereader_init(&lr, stdin, MAX_LINE);

	while (!S.fatal) {
		struct pollfd pfd[2];
		int64_t now = vp_now_ms(), wait_ms = 1000;
		int want_input, n = 0;

		if (vp_stop_requested && stop_by == 0) {
			/* no new lines; what is in flight gets --timeout */
			stop_by = now + timeout_ms;
			vp_info("stopping: waiting for %zu confirm(s)", S.count);
		}
		if (!S.connected && now >= S.reconnect_ms && stop_by == 0)
			connect_broker();
		if (S.connected)
			publish_due();
		read_frames();
		advance();
		if (S.fatal)
			break;
		if (vp_ckpt_maybe(&S.core.ck, input_idle, NULL) != 0) {
			S.fatal = VP_EXIT_IOERR;
			break;
		}
		if ((eof || stop_by) && S.count == 0)
			break;
		if (stop_by && (now >= stop_by || !S.connected ||
		    S.waiting == S.count))
			break;
		want_input = !eof && !stop_by && S.count < S.window;
		if (want_input && input_ready()) {
			size_t len;
			enum vp_line_status st = vp_read_line(&lr, &len);

			if (st == VP_LINE_EOF)
				eof = 1;
			else if (st == VP_LINE_ERROR) {
				vp_error("stdin: %s", strerror(errno));
				S.fatal = VP_EXIT_IOERR;
			} else if (st == VP_LINE_TOOLONG ||
			    !vp_sink_blank_line(lr.buf, len))
				take_line(&lr, len, st == VP_LINE_TOOLONG);
			continue;
		}
		/* sleep until input, a frame, a retry or a reconnect is due */
		if (vp_amqp_buffered(&S.amqp))
			wait_ms = 0;
		if (!S.connected && !stop_by)
			wait_ms = S.reconnect_ms > now ? S.reconnect_ms - now : 0;
		for (size_t i = 0; S.waiting && S.connected && i < S.count; i++)
			if (qat(i)->st == M_WAIT) {
				int64_t d = qat(i)->next_ms - now;

				if (d < wait_ms)
					wait_ms = d < 0 ? 0 : d;
			}
		if (S.core.ck.dirty && wait_ms > S.core.ck.interval_ms)
			wait_ms = S.core.ck.interval_ms;
		if (want_input)
			pfd[n++] = (struct pollfd){ fileno(stdin), POLLIN, 0 };
		if (S.connected)
			pfd[n++] = (struct pollfd){ vp_amqp_fd(&S.amqp), POLLIN,
			    0 };
		if (wait_ms > 1000)
			wait_ms = 1000;	/* heartbeats */
		if (vp_poll(pfd, (unsigned)n, (int)wait_ms) < 0 &&
		    errno != EINTR) {
			vp_error("poll: %s", strerror(errno));
			S.fatal = VP_EXIT_SOFTWARE;
		}
	}
	rc = S.fatal;
	if (rc == 0 && S.count > 0) {
		/* stopped with events unconfirmed: they come again from the
		 * source after the restart, never dead-lettered */
		vp_warn("stopped with %zu event(s) unconfirmed, from stdin:%lu "
		    "on; the checkpoint is before them", S.count,
		    qat(0)->lineno);
		rc = VP_EXIT_TEMPFAIL;
	}
	if (vp_ckpt_flush(&S.core.ck) != 0 && rc == 0)
		rc = VP_EXIT_IOERR;
	vp_info("%lu delivered, %lu dead-lettered, %lu published again%s",
	    S.core.ck.pos.delivered, S.core.deadlettered, S.republished,
	    vp_stop_requested ? " (stopped)" : "");
	vp_amqp_free(&S.amqp);
	while (S.count > 0) {
		msg_free(qat(0));
		S.head = (S.head + 1) % S.window;
		S.count--;
	}
	free(S.q);
	free(S.sent);
	vp_buf_free(&S.rk);
	ce_amqp_msg_free(&S.am);
	ce_event_free(&S.ev);
	vp_linereader_free(&lr);
	vp_sink_free(&S.core);
	return rc;
}
