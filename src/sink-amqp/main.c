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
#include <jansson.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ceamqp.h"
#include "sinkcore.h"
#include "vpamqp.h"
#include "help/sink-amqp.h"

static const char *const extypes[] = { NULL, "direct", "topic", "fanout",
    "headers" };

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
	struct vp_evpos pos;	/* the event, for the checkpoint */
};

struct sent {			/* publishes in sequence order */
	uint64_t seq;
	struct msg *m;
};

static struct {
	struct vp_sink core;
	struct vp_amqp amqp;
	const char *exchange, *rkey, *cred_path;
	int extype;		/* index in extypes; 0: not declared */
	int structured, no_mandatory;
	int naming;		/* enum ce_amqp_naming */
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
	int renew;		/* a nack came: publish again on a new channel */
	int64_t renew_ms;	/* since then */
	int64_t reconnect_ms;
	struct vp_backoff conn_bo;
	int fatal;		/* the exit code that ends the run */
	struct ce_event ev;
	const struct msg *ev_of;	/* the message ev holds, or NULL */
	struct ce_amqp_msg am;
	struct vp_buf rk;
	unsigned long published, republished;
} S;

/* ---- routing keys ------------------------------------------------------------ */

/* --routing-key: a template of {name}s, name [a-z0-9]+. */
static int
rkey_arg(void *dest, const char *t, char *err, size_t errlen)
{
	for (const char *p = t; *p; p++) {
		const char *e;

		if (*p == '}') {
			snprintf(err, errlen, "'}' without '{'");
			return -1;
		}
		if (*p != '{')
			continue;
		e = strchr(p, '}');
		if (e == NULL) {
			snprintf(err, errlen, "'{' without '}'");
			return -1;
		}
		if (e == p + 1 || !ce_ext_name_ok(p + 1, (size_t)(e - p - 1))) {
			snprintf(err, errlen, "bad attribute name in \"%.*s\"",
			    (int)(e - p + 1), p);
			return -1;
		}
		p = e;
	}
	*(const char **)dest = t;
	return 0;
}

/* An attribute's value by name, or NULL (absent). */
static const char *
attr(struct ce_event *ev, const char *n, size_t nl, size_t *len)
{
	const struct ce_str *s = ce_attr(ev, n, nl);

	if (nl == 11 && memcmp(n, "specversion", 11) == 0) {
		*len = 3;
		return "1.0";
	}
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
rkey_expand(struct ce_event *ev)
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

/* Publishes on this channel not confirmed yet. */
static size_t
in_flight(void)
{
	size_t n = 0;

	for (size_t i = 0; i < S.scount; i++)
		n += sent_live(&S.sent[(S.shead + i) % S.scap]);
	return n;
}

/*
 * A nack came: the channel is renewed once the broker has confirmed what
 * is in flight on it (a confirm lost with the old channel would publish
 * its message twice, and fill a bounded queue with copies), or after
 * --timeout without them.
 */
static int
renew_due(int64_t now)
{
	return S.renew && (in_flight() == 0 ||
	    now - S.renew_ms >= S.amqp.timeout_ms);
}

static void
msg_free(struct msg *m)
{
	if (S.ev_of == m)
		S.ev_of = NULL;
	free(m->line);
	vp_evpos_free(&m->pos);
	free(m);
}

/* The line's text for a dead-letter record. */
static int
settle_undelivered(struct msg *m, enum vp_outcome out, const char *error)
{
	struct vp_dl_why why = { .error = error && *error ? error : NULL,
	    .status = -1, .attempts = m->attempts, .line = m->lineno,
	    .url = out == VP_OUT_INVALID ? NULL : vp_amqp_where(&S.amqp) };
	struct vp_sink_event sev = { .line = m->lineno, .id = m->pos.id,
	    .text = m->line, .len = m->len, .is_object = 0 };
	const char *p;
	size_t n;

	S.ev_of = NULL;
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
	if (!ack) {
		refused(m, "the broker refused the message (basic.nack)");
		if (!S.renew)
			S.renew_ms = vp_now_ms();
		S.renew = 1;
	}
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
		const char *mid = sent_live(s) ? s->m->pos.id : NULL;

		if (mid == NULL || s->m->returned || strlen(mid) != id.len ||
		    memcmp(mid, id.bytes, id.len) != 0)
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
		vp_ckpt_note(&S.core.ck, &m->pos);
		msg_free(m);
		S.head = (S.head + 1) % S.window;
		S.count--;
	}
}

/* ---- the connection ------------------------------------------------------------- */

/* The channel is gone: whatever it did not confirm goes again. */
static void
unconfirmed_again(void)
{
	S.renew = 0;
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
disconnect(int rc)
{
	if ((rc = vp_amqp_lost(&S.amqp, rc, S.connected, &S.conn_bo,
	    &S.reconnect_ms)) != 0) {
		S.fatal = rc;
		return;
	}
	S.connected = 0;
	unconfirmed_again();
}

/*
 * A nack is the queue's refusal on this channel, and the channel may keep
 * refusing: a RabbitMQ channel (before 3.12.5) takes a quorum queue's
 * leader from the queue's record at its first publish there, and if that
 * node is down it nacks every publish from then on (t/0904: the retries
 * ran out, events were dead-lettered). A new channel reads the record
 * again. The connection is fine: a queue that stays full (t/0907) costs a
 * channel per retry, not a connection.
 */
static void
renew_channel(void)
{
	int rc;

	vp_info("%s: the broker refused a message (basic.nack); publishing "
	    "again on a new channel", vp_amqp_where(&S.amqp));
	unconfirmed_again();
	rc = vp_amqp_new_channel(&S.amqp);
	if (rc == 0) {
		amqp_confirm_select(S.amqp.conn, S.amqp.channel);
		rc = vp_amqp_reply(&S.amqp, amqp_get_rpc_reply(S.amqp.conn),
		    "confirm.select");
	}
	if (rc != 0) {
		disconnect(rc);
		return;
	}
	S.next_seq = 1;
}

static void
connect_broker(void)
{
	int rc = vp_amqp_connect(&S.amqp);
	amqp_connection_state_t c = S.amqp.conn;

	if (rc == 0) {
		amqp_confirm_select(c, S.amqp.channel);
		rc = vp_amqp_reply(&S.amqp, amqp_get_rpc_reply(c),
		    "confirm.select");
	}
	if (rc == 0 && S.exchange[0] != '\0') {
		/* a missing exchange is a configuration error now rather
		 * than a closed channel at the first publish */
		amqp_exchange_declare(c, S.amqp.channel,
		    amqp_cstring_bytes(S.exchange),
		    vp_amqp_str(S.extype ? extypes[S.extype] : "direct"),
		    S.extype == 0, 1, 0, 0, amqp_empty_table);
		rc = vp_amqp_reply(&S.amqp, amqp_get_rpc_reply(c),
		    S.extype ? "declaring the exchange" :
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

	/* (a line is read when it is taken: most are published then) */
	if (S.ev_of != m) {
		S.ev_of = NULL;
		if (ce_read(&S.ev, m->line, m->len, 0) == CE_OK)
			S.ev_of = m;
	}
	if (S.ev_of != m ||
	    ce_to_amqp(&S.ev, S.structured, (enum ce_amqp_naming)S.naming,
	    &S.am) != CE_OK || rkey_expand(&S.ev) != 0) {
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
	vp_amqp_cork(&S.amqp, 1);	/* until the loop waits */
	st = amqp_basic_publish(S.amqp.conn, S.amqp.channel,
	    vp_amqp_str(S.exchange), amqp_cstring_bytes(S.rk.data),
	    !S.no_mandatory, 0, &S.am.props, S.am.body);
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

	if (S.renew)
		return;		/* not on the channel that refused */
	for (size_t i = 0; S.waiting > 0 && i < S.count && S.connected &&
	    !S.fatal; i++) {
		struct msg *m = qat(i);

		if (m->st != M_WAIT || m->next_ms > now)
			continue;
		S.waiting--;
		if (publish(m) != 0) {
			S.waiting++;	/* not sent: it waits still */
			return;
		}
	}
}

/* One method frame from the broker: 0, -1 (the run ends), or an exit code. */
static int
on_method(void *arg, const amqp_frame_t *f)
{
	(void)arg;
	if (f->channel != S.amqp.channel)
		return 0;	/* of a channel closed since (renew_channel) */
	switch (f->payload.method.id) {
	case AMQP_BASIC_ACK_METHOD: {
		amqp_basic_ack_t *a = f->payload.method.decoded;

		confirm(a->delivery_tag, a->multiple, 1);
		break;
	}
	case AMQP_BASIC_NACK_METHOD: {
		amqp_basic_nack_t *a = f->payload.method.decoded;

		confirm(a->delivery_tag, a->multiple, 0);
		break;
	}
	case AMQP_BASIC_RETURN_METHOD: {
		amqp_basic_return_t r =
		    *(amqp_basic_return_t *)f->payload.method.decoded;
		amqp_message_t msg;
		int rc = vp_amqp_reply(&S.amqp, amqp_read_message(S.amqp.conn,
		    f->channel, &msg, 0), "basic.return");

		if (rc != 0)
			return rc;
		returned(&r, &msg);
		amqp_destroy_message(&msg);
		break;
	}
	}
	return S.fatal ? -1 : 0;
}

/* Handle every frame that is there without waiting. */
static void
read_frames(void)
{
	int rc;

	if (S.connected && !S.fatal &&
	    (rc = vp_amqp_methods(&S.amqp, on_method, NULL)) > 0)
		disconnect(rc);
}

/* ---- input ------------------------------------------------------------------- */

/* Is a line (or EOF) there without blocking? */
static int
input_ready(void)
{
	struct pollfd pfd = { .fd = fileno(stdin), .events = POLLIN };

	if (vp_input_buffered(stdin))
		return 1;
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
	struct vp_sink_ctl ctl;

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
	S.ev_of = NULL;
	if (!toolong && vp_sink_ctl_read(m->line, m->len, &ctl) !=
	    VP_CTL_NONE) {
		/* filtered out, or the filter failed on it: done in its turn */
		int rc = vp_sink_ctl_settle(&S.core, &ctl, m->lineno);

		if (rc != 0)
			S.fatal = rc;
		vp_evpos_move(&m->pos, &ctl.pos);
		vp_sink_ctl_free(&ctl);
		m->st = M_DONE;
		return;
	}
	if (toolong || ce_read(&S.ev, m->line, m->len, 0) != CE_OK) {
		char err[300];
		int rc;

		if (toolong)
			snprintf(err, sizeof(err), "line longer than %u bytes",
			    VP_SINK_MAX_LINE);
		else
			snprintf(err, sizeof(err), "%s", S.ev.err);
		rc = settle_undelivered(m, VP_OUT_INVALID, err);
		if (rc != 0)
			S.fatal = rc;
		m->st = M_DONE;
		return;
	}
	S.ev_of = m;
	vp_evpos_from_ce(&m->pos, &S.ev);
	m->st = M_WAIT;
	S.waiting++;
	if (S.connected)
		publish_due();
}

/* ---- options ------------------------------------------------------------------ */

/* options, groups: src/sink-amqp/options.tab */
#include "opts/sink-amqp.h"

static void
check(void)
{
	vp_sink_opts_check(&S.core.o);
	if (vp_opt_given("retry-on"))
		vp_usage_error("--retry-on: AMQP has no HTTP statuses to "
		    "retry (refusals and returns are always retried)");
	if (S.exchange[0] == '\0' && S.extype)
		vp_usage_error("--exchange-type needs --exchange (the default "
		    "exchange is always there)");
}

/* --help: help/sink-amqp.h, made of man/sink-amqp.1 */
static const struct vp_cmd cmd = VP_PROGRAM(options,
    VP_LIBS(VP_LIB_RABBITMQ, VP_LIB_JANSSON),
    .groups = groups,
    .check = check);

int
main(int argc, char *argv[])
{
	struct vp_linereader lr;
	int eof = 0, rc;
	unsigned long torn = 0;	/* the line input ended inside */
	int64_t stop_by = 0;

	S.exchange = "";
	S.rkey = "";
	vp_opt_parse(&cmd, argc, argv);
	vp_amqp_setup(&S.amqp, S.cred_path, "SINK_AMQP_USERNAME",
	    "SINK_AMQP_PASSWORD");

	vp_signals_init();
	vp_sink_start(&S.core);
	S.q = vp_xmalloc(S.window * sizeof(*S.q));
	ce_event_init(&S.ev);
	ce_amqp_msg_init(&S.am);
	vp_buf_append(&S.rk, "", 0);
	vp_backoff_init(&S.conn_bo, S.core.o.retry.base_ms,
	    S.core.o.retry.cap_ms);
	vp_linereader_init(&lr, stdin, VP_SINK_MAX_LINE);
	lr.whole_lines = 1;

	while (!S.fatal) {
		struct pollfd pfd[2];
		int64_t now = vp_now_ms(), wait_ms = 1000;
		int want_input, n = 0;

		if (vp_stop_requested && stop_by == 0) {
			/* no new lines; what is in flight gets --timeout */
			stop_by = now + S.amqp.timeout_ms;
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
		if (S.connected && !stop_by && renew_due(now)) {
			renew_channel();
			continue;
		}
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
			else if (st == VP_LINE_TORN) {
				/* the events before it are confirmed first */
				eof = 1;
				torn = lr.lineno;
			} else if (st == VP_LINE_ERROR) {
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
		if (S.renew && S.connected) {
			int64_t d = S.renew_ms + S.amqp.timeout_ms - now;

			if (d < wait_ms)
				wait_ms = d < 0 ? 0 : d;
		}
		for (size_t i = 0; S.waiting && S.connected && !S.renew &&
		    i < S.count; i++)
			if (qat(i)->st == M_WAIT) {
				int64_t d = qat(i)->next_ms - now;

				if (d < wait_ms)
					wait_ms = d < 0 ? 0 : d;
			}
		if ((S.core.ck.dirty || S.core.ck.pending) &&
		    wait_ms > S.core.ck.interval_ms)
			wait_ms = S.core.ck.interval_ms;
		if (want_input)
			pfd[n++] = (struct pollfd){ fileno(stdin), POLLIN, 0 };
		if (S.connected)
			pfd[n++] = (struct pollfd){ vp_amqp_fd(&S.amqp), POLLIN,
			    0 };
		if (wait_ms > 1000)
			wait_ms = 1000;	/* heartbeats */
		vp_amqp_cork(&S.amqp, 0);
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
	if (rc == 0 && torn)
		rc = vp_sink_torn_line(torn);
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
