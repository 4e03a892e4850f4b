/*
 * vc-source: read vCenter events over the vim25 SOAP API and write one raw
 * event per NDJSON line on stdout, in vCenter's order, following until
 * stopped.
 *
 * Reading model (right on real vCenter, still right on govmomi's simulator):
 * an EventHistoryCollector is read forward with ReadNextEvents, and the
 * collector's latestPage property is watched with WaitForUpdatesEx so new
 * events wake the reader at once instead of a fixed poll. Events are
 * deduplicated by key and written in the order the collector returns them
 * (creation order); keys are compared with serial-number arithmetic so
 * int32 wrap-around is harmless, and nothing assumes keys are contiguous,
 * so gaps cannot stall the reader.
 *
 * Answers are parsed as they arrive: each event is mapped to its line as
 * soon as its end tag is parsed and its XML freed, so memory does not grow
 * with the page size; a call's lines are written once the call succeeded.
 *
 * Servers whose collectors do not move forward and ignore the time filter
 * (govmomi's simulator: a ring of the newest events) are found by asking
 * for events created in 1970: such a server returns events anyway. Their
 * collectors are then read whole (a page of 1000, all the server holds) at
 * every wake-up and sorted by key.
 *
 * Resuming from a checkpoint (the last event a sink delivered) reads from
 * its time (never from the future) and drops what is not after it in both
 * key and time. Every collector's time filter opens --look-back before
 * where reading resumes, so an event with a newer key and an older time (a
 * clock stepped back, a late commit) is still in its view, before or after
 * the collector was made; what was delivered is dropped by key. Before any
 * checkpoint exists, the first start position is kept next to where the
 * checkpoint will be.
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <curl/curl.h>

#include "checkpoint.h"
#include "connector.h"
#include "opt.h"
#include "soap.h"
#include "vimjson.h"
#include "vp.h"
#include "help/vc-source.h"

#define SEEN_CAP 8192		/* recent keys kept for deduplication */
/*
 * An event stamped this far past vCenter's clock is not used as a place to
 * resume from: a clock stepped back (or one bad stamp) must not move the
 * resume point into the future.
 */
#define FUTURE_SLACK_S 60
#define RING_PAGE 1000		/* the largest page: all a ring server holds */
#define TRIM_EVENTS 1000	/* malloc_trim at least this often when busy */
#define CHECK_MS 10000		/* an update's latestPage checked at least
				 * this often (see wait_and_read) */
#define SCAN_MAX 1000000	/* events scrolled back at most, looking for keys */
/* keys further apart than this are taken as wrapped, not as newer */
#define KEY_AFTER_MAX (1 << 30)
#define CLEANUP_MS 5000		/* per cleanup call: a stop must not hang */

struct pos {
	int has_time, has_key;
	int64_t sec;
	int32_t nsec;
	int32_t key;
};

struct opts {
	const char *url;
	const char *cred_path;
	const char *checkpoint;
	const char *since;
	const char *until;
	int64_t begin_ms;	/* -1 = not given */
	int64_t max_replay_ms;	/* 0: resume from any checkpoint age */
	int64_t look_back_ms;	/* collectors' time filters open this far back */
	int once;
	int xml;		/* add the "xml" member (VSphereSource's XML) */
	int connector;		/* add the "connector" member (OpenFaaS) */
	int page;
	int read_size;
	int wait_s;
	struct vp_tls tls;
};

/* An event of the answer being read: its line waits in the batch. */
struct cand {
	int64_t sec;
	int32_t nsec;
	int32_t key;
	size_t off, len;	/* its line in batch.lines */
	unsigned idx;		/* arrival order, for a stable sort */
};

/* The lines of one answer (a whole latest page on a ring server). */
struct batch {
	struct cand *v;
	size_t n, cap;
	struct vp_buf lines;
};

struct state {
	struct opts o;
	struct soap_client soap;
	char *user, *pass;
	int logged_in;
	int worked;		/* a session of this process has logged in */
	char instance_uuid[128];
	char api_version[64];
	char event_manager[128];
	char property_collector[128];
	char session_manager[128];
	char collector[128];	/* current EventHistoryCollector, "" if none */
	char wake[128];		/* on a ring server: a page-of-1 collector
				 * watched for wake-ups, else "" */
	char filter[128];	/* property filter on its latestPage */
	char wait_pc[128];	/* our own PropertyCollector, for the filter
				 * and WaitForUpdatesEx, "" if none */
	char pc_version[256];	/* WaitForUpdatesEx version */
	struct pos start;	/* events at or after it (with a key: after it) */
	struct pos begin;	/* where the first collector starts */
	struct pos ck_updated;	/* when the sink wrote the checkpoint */
	int from_ck;		/* the start came from a checkpoint */
	int capped;		/* --max-replay skipped events: the gap by
				 * key is told with the first event */
	int32_t capped_key;	/* the checkpoint's key then */
	struct pos newest;	/* emitted event created last (not in the future) */
	struct pos clock;	/* vCenter's clock at clock_ms (monotonic) */
	int64_t clock_ms;
	int ring_server;	/* collectors are rings of the newest events */
	char *start_file;	/* the first start position, next to --checkpoint */
	struct connector conn;	/* --connector: the event categories */
	int write_start;	/* record the start position there once resolved */
	struct batch b;
	struct {		/* unseen events a latestPage update showed */
		int32_t key;
		int64_t sec;
		int32_t nsec;
	} *upd;
	size_t nupd;
	/*
	 * What is not after this in both key and time was emitted (or was
	 * never wanted): the checkpoint at first, then what the key ring
	 * forgets. top: the newest key emitted (or the checkpoint's).
	 */
	struct pos done;
	struct pos top;
	struct pos reach;	/* oldest time of an event newer than top */
	long scan_n;		/* events the scan read */
	int scan_hit;		/* the scan reached top */
	struct pos until;
	unsigned long emitted;
	unsigned long trimmed_at;	/* emitted at the last malloc_trim */
	int wait_idle;		/* the last wake-up emitted nothing */
	/* latestPage checks for events reading forward missed */
	int check_due;		/* at the next update (a new collector) */
	unsigned unchecked;	/* updates since the last check */
	unsigned long checked_at;	/* emitted at the last check */
	int64_t checked_ms;	/* when (monotonic) */
	struct vp_buf wait_raw;	/* the last unchecked update, unparsed */
	struct vp_buf wait_next;	/* the answer being read, the same way */
	struct vp_backoff bo;
	/* recent keys: a FIFO ring plus an open-addressing set over it */
	struct {
		int32_t key;
		int32_t nsec;
		int64_t sec;
	} ring[SEEN_CAP];
	unsigned ring_len, ring_head;
	int32_t *set_keys;
	unsigned char *set_used;
	unsigned set_cap;
	struct vp_buf line;
};

/* ---- positions and keys -------------------------------------------------- */

/* Serial-number order on int32 keys: survives the wrap to negative values. */
static int
key_cmp(int32_t a, int32_t b)
{
	int32_t d = (int32_t)((uint32_t)a - (uint32_t)b);

	return d < 0 ? -1 : d > 0;
}

static int
time_cmp(int64_t as, int32_t an, int64_t bs, int32_t bn)
{
	if (as != bs)
		return as < bs ? -1 : 1;
	return an < bn ? -1 : an > bn;
}

/* Is key a after b, and not so far after that it must have wrapped? */
static int
key_after(int32_t a, int32_t b)
{
	int32_t d = (int32_t)((uint32_t)a - (uint32_t)b);

	return d > 0 && d < KEY_AFTER_MAX;
}

/* A ring server's page is unordered: key order is posting order. */
static int
cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	int c = key_cmp(x->key, y->key);

	if (c == 0)
		c = x->idx < y->idx ? -1 : x->idx > y->idx;
	return c;
}

/* Is the event in the window, and not already emitted by the rule of done? */
static int
in_window(const struct state *s, const struct cand *c)
{
	/* (an event newer by key than one emitted is new, whatever its
	 * time: the clock stepped back) */
	if (s->start.has_time &&
	    time_cmp(c->sec, c->nsec, s->start.sec, s->start.nsec) < 0 &&
	    !(s->top.has_key && key_after(c->key, s->top.key)))
		return 0;
	/*
	 * A checkpoint names the last event delivered; what is after it
	 * neither by key nor by time went out before it (keys grow as events
	 * become visible; a late event has an older time and a newer key, a
	 * stepped clock the other way round).
	 */
	if (s->done.has_time && s->done.has_key && time_cmp(c->sec, c->nsec,
	    s->done.sec, s->done.nsec) <= 0 && !key_after(c->key, s->done.key))
		return 0;
	if (s->until.has_time &&
	    time_cmp(c->sec, c->nsec, s->until.sec, s->until.nsec) > 0)
		return 0;
	return 1;
}

/* pos moved by delta_s seconds */
static struct pos
pos_add(struct pos p, int64_t delta_s)
{
	p.sec += delta_s;
	return p;
}

/* pos moved ms milliseconds back */
static struct pos
pos_sub_ms(struct pos p, int64_t ms)
{
	int64_t ns = (int64_t)p.nsec - (ms % 1000) * 1000000;

	p.sec -= ms / 1000;
	if (ns < 0) {
		ns += 1000000000;
		p.sec--;
	}
	p.nsec = (int32_t)ns;
	return p;
}

static int
pos_cmp(const struct pos *a, const struct pos *b)
{
	return time_cmp(a->sec, a->nsec, b->sec, b->nsec);
}

/* vCenter's clock now, from its last CurrentTime and our monotonic clock. */
static struct pos
vc_now(const struct state *s)
{
	struct pos p = s->clock;
	int64_t ms = vp_now_ms() - s->clock_ms;

	p.sec += ms / 1000;
	p.nsec += (int32_t)(ms % 1000) * 1000000;
	if (p.nsec >= 1000000000) {
		p.sec++;
		p.nsec -= 1000000000;
	}
	return p;
}

static unsigned
set_slot(const struct state *s, int32_t key)
{
	uint32_t h = (uint32_t)key * 2654435761u;

	return h & (s->set_cap - 1);
}

static int
seen_has(const struct state *s, int32_t key)
{
	for (unsigned i = set_slot(s, key); s->set_used[i];
	    i = (i + 1) & (s->set_cap - 1))
		if (s->set_keys[i] == key)
			return 1;
	return 0;
}

static void
set_remove(struct state *s, int32_t key)
{
	unsigned i = set_slot(s, key), j;

	while (s->set_used[i] && s->set_keys[i] != key)
		i = (i + 1) & (s->set_cap - 1);
	if (!s->set_used[i])
		return;
	s->set_used[i] = 0;
	/* backward-shift deletion keeps linear probing chains intact */
	for (j = (i + 1) & (s->set_cap - 1); s->set_used[j];
	    j = (j + 1) & (s->set_cap - 1)) {
		unsigned home = set_slot(s, s->set_keys[j]);
		int between = i <= j ? (home > i && home <= j) :
		    (home > i || home <= j);
		if (!between) {
			s->set_keys[i] = s->set_keys[j];
			s->set_used[i] = 1;
			s->set_used[j] = 0;
			i = j;
		}
	}
}

static void
seen_add(struct state *s, const struct cand *c)
{
	unsigned i;
	int32_t key = c->key;

	if (seen_has(s, key))
		return;
	if (s->ring_len == SEEN_CAP) {
		/* forget the oldest key, remembering how recent it was */
		i = s->ring_head;
		set_remove(s, s->ring[i].key);
		if (!s->done.has_time || time_cmp(s->ring[i].sec,
		    s->ring[i].nsec, s->done.sec, s->done.nsec) > 0) {
			s->done.has_time = 1;
			s->done.sec = s->ring[i].sec;
			s->done.nsec = s->ring[i].nsec;
		}
		if (!s->done.has_key || key_after(s->ring[i].key, s->done.key)) {
			s->done.has_key = 1;
			s->done.key = s->ring[i].key;
		}
		s->ring_head = (s->ring_head + 1) % SEEN_CAP;
		s->ring_len--;
	}
	i = (s->ring_head + s->ring_len) % SEEN_CAP;
	s->ring[i].key = key;
	s->ring[i].sec = c->sec;
	s->ring[i].nsec = c->nsec;
	s->ring_len++;
	for (i = set_slot(s, key); s->set_used[i];
	    i = (i + 1) & (s->set_cap - 1))
		;
	s->set_keys[i] = key;
	s->set_used[i] = 1;
}

/* ---- session cleanup ---------------------------------------------------- */

/* The session and what lived in it are gone: the next run starts over. */
static void
forget_session(struct state *s)
{
	s->logged_in = 0;
	s->collector[0] = '\0';
	s->wake[0] = '\0';
	s->filter[0] = '\0';
	s->wait_pc[0] = '\0';
	soap_reset_session(&s->soap);
}

/*
 * Best effort: end the session (and with destroy, its collector and
 * filter first) so neither lingers on vCenter until its idle timeout.
 * Runs even after a stop was requested, with a short timeout per call;
 * the error of the call that failed before is kept for the logs.
 */
static void
end_session(struct state *s, int destroy)
{
	char saved[sizeof(s->soap.error)];
	struct vim_node *ret;

	if (!s->logged_in)
		return;
	memcpy(saved, s->soap.error, sizeof(saved));
	s->soap.cleanup = 1;
	if (destroy && s->filter[0])
		soap_call(&s->soap, "DestroyPropertyFilter", "PropertyFilter",
		    s->filter, NULL, CLEANUP_MS, &ret);
	if (destroy && s->wake[0])
		soap_call(&s->soap, "DestroyCollector", "EventHistoryCollector",
		    s->wake, NULL, CLEANUP_MS, &ret);
	if (destroy && s->collector[0])
		soap_call(&s->soap, "DestroyCollector", "EventHistoryCollector",
		    s->collector, NULL, CLEANUP_MS, &ret);
	if (destroy && s->wait_pc[0])
		soap_call(&s->soap, "DestroyPropertyCollector",
		    "PropertyCollector", s->wait_pc, NULL, CLEANUP_MS, &ret);
	soap_call(&s->soap, "Logout", "SessionManager", s->session_manager,
	    NULL, CLEANUP_MS, &ret);
	s->soap.cleanup = 0;
	memcpy(s->soap.error, saved, sizeof(saved));
	forget_session(s);
}

/* vp_die, after ending the session. */
static void
die_clean(struct state *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

static void
die_clean(struct state *s, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vp_vlog(VP_ERROR, fmt, ap);
	va_end(ap);
	end_session(s, 1);
	exit(code);
}

/* ---- event parsing and emission ---------------------------------------------- */

static const char *
xsi_type(struct vim_node *n, char *buf, size_t len)
{
	const char *t = vim_node_attr(n, "type",
	    "http://www.w3.org/2001/XMLSchema-instance");
	const char *colon;

	if (t == NULL)
		return NULL;
	colon = strchr(t, ':');
	snprintf(buf, len, "%s", colon ? colon + 1 : t);
	return buf;
}

/* Key and creation time, the two things ordering needs. */
static int
event_position(struct vim_node *ev, struct cand *c, char *err, size_t errlen)
{
	char kbuf[32], tbuf[64], *end;
	long long k;

	if (soap_child_text(ev, "key", kbuf, sizeof(kbuf)) == NULL) {
		snprintf(err, errlen, "event without a key");
		return -1;
	}
	errno = 0;
	k = strtoll(kbuf, &end, 10);
	if (errno || end == kbuf || *end || k < INT32_MIN || k > INT32_MAX) {
		snprintf(err, errlen, "event key \"%.20s\" is not an xsd:int", kbuf);
		return -1;
	}
	if (soap_child_text(ev, "createdTime", tbuf, sizeof(tbuf)) == NULL ||
	    vp_parse_rfc3339(tbuf, &c->sec, &c->nsec) != 0) {
		snprintf(err, errlen, "event %lld: missing or bad createdTime", k);
		return -1;
	}
	c->key = (int32_t)k;
	return 0;
}

/* The line for an event govmomi's mapping refused: never drop an event. */
static void
fallback_line(struct state *s, struct vim_node *ev, const struct cand *c,
    const char *why)
{
	char type[256], ts[64];
	json_t *o;
	char *text;

	if (xsi_type(ev, type, sizeof(type)) == NULL)
		snprintf(type, sizeof(type), "%s", (const char *)ev->name);
	vp_format_rfc3339(c->sec, c->nsec, ts, sizeof(ts));
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:n}",
	    "vcenter", s->o.url, "instanceUuid", s->instance_uuid,
	    "apiVersion", s->api_version, "class", type, "category", "event",
	    "key", (json_int_t)c->key, "createdTime", ts, "data");
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (text == NULL)
		die_clean(s, VP_EXIT_SOFTWARE, "event %d: cannot encode JSON",
		    (int)c->key);
	vp_error("%s: event %d (%s): %s; emitted with \"data\":null", s->o.url,
	    (int)c->key, type, why);
	vp_buf_append(&s->b.lines, text, strlen(text));
	free(text);
}

/*
 * The "xml" member ends the line: what VSphereSource sends as its
 * application/xml payload, or null when the event cannot be put that way.
 */
static void
add_xml(struct state *s, struct vim_node *ev, const struct cand *c)
{
	struct vp_buf *l = &s->b.lines;
	char err[512];

	l->len--;		/* the line's closing brace */
	vp_buf_reset(&s->line);
	vp_buf_append(l, ",\"xml\":", 7);
	if (vim_event_xml(ev, &s->line, err, sizeof(err)) == 0)
		vim_json_string(l, s->line.data ? s->line.data : "", s->line.len);
	else {
		vp_error("%s: event %d: no XML: %s; \"xml\":null", s->o.url,
		    (int)c->key, err);
		vp_buf_append(l, "null", 4);
	}
	vp_buf_append(l, "}", 1);
}

/*
 * The "connector" member ends the line: the OpenFaaS vcenter-connector's
 * message (connector.c), or null when the event cannot be put that way.
 */
static void
add_connector(struct state *s, struct vim_node *ev, const struct cand *c)
{
	struct vp_buf *l = &s->b.lines;
	size_t at;
	char err[512];

	l->len--;		/* the line's closing brace */
	vp_buf_append(l, ",\"connector\":", 13);
	at = l->len;
	if (connector_message(&s->conn, s->o.url, ev, l, err, sizeof(err))
	    != 0) {
		l->len = at;
		vp_error("%s: event %d: no connector message: %s; "
		    "\"connector\":null", s->o.url, (int)c->key, err);
		vp_buf_append(l, "null", 4);
	}
	vp_buf_append(l, "}", 1);
}

/*
 * soap_call_events' callback: an event of the answer being read, about to
 * be freed. What was emitted already or lies outside the window costs only
 * its key and time; the rest is mapped to its line at once.
 */
static int
take_event(struct vim_node *ev, void *arg)
{
	struct state *s = arg;
	struct vim_source src = { s->o.url, s->instance_uuid, s->api_version };
	struct batch *b = &s->b;
	struct cand c;
	char err[512];

	if (event_position(ev, &c, err, sizeof(err)) != 0) {
		vp_error("%s: %s", s->o.url, err);
		return 0;
	}
	if (seen_has(s, c.key) || !in_window(s, &c))
		return 0;
	c.off = b->lines.len;
	if (vim_raw_line(&src, ev, &b->lines, NULL, err, sizeof(err)) != 0)
		fallback_line(s, ev, &c, err);
	if (s->o.xml)
		add_xml(s, ev, &c);
	if (s->o.connector)
		add_connector(s, ev, &c);
	c.len = b->lines.len - c.off;
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->v = vp_xrealloc(b->v, b->cap * sizeof(*b->v));
	}
	c.idx = (unsigned)b->n;
	b->v[b->n++] = c;
	return 0;
}

/* Forget an answer's lines (the call failed: it will be read again). */
static void
batch_drop(struct state *s)
{
	s->b.n = 0;
	vp_buf_reset(&s->b.lines);
	/* an answer of a thousand big events must not stay allocated */
	if (s->b.lines.cap > (1u << 20))
		vp_buf_free(&s->b.lines);
}

static void
emit(struct state *s, const struct cand *c)
{
	if (vp_write_line(stdout, s->b.lines.data + c->off, c->len) != 0) {
		if (errno == EPIPE)
			die_clean(s, VP_EXIT_IOERR, "stdout: the next stage is "
			    "gone");
		die_clean(s, VP_EXIT_IOERR, "stdout: %s", strerror(errno));
	}
	seen_add(s, c);
	s->emitted++;
	if (s->capped) {
		s->capped = 0;
		if (key_after(c->key, s->capped_key))
			vp_warn("%s: the first event after --max-replay has key "
			    "%d: about %lld events after the checkpoint's (key "
			    "%d) were skipped", s->o.url, (int)c->key,
			    (long long)c->key - s->capped_key - 1,
			    (int)s->capped_key);
	}
	if (!s->top.has_key || key_after(c->key, s->top.key)) {
		s->top.has_key = 1;
		s->top.key = c->key;
	}
	if (s->newest.has_time && time_cmp(c->sec, c->nsec, s->newest.sec,
	    s->newest.nsec) < 0)
		return;
	{
		struct pos limit = pos_add(vc_now(s), FUTURE_SLACK_S);
		if (time_cmp(c->sec, c->nsec, limit.sec, limit.nsec) > 0) {
			char ts[64];
			vp_format_rfc3339(c->sec, c->nsec, ts, sizeof(ts));
			vp_warn("%s: event %d is stamped %s, ahead of vCenter's "
			    "clock: not taken as a point to resume from",
			    s->o.url, (int)c->key, ts);
			return;
		}
	}
	s->newest.has_time = s->newest.has_key = 1;
	s->newest.sec = c->sec;
	s->newest.nsec = c->nsec;
	s->newest.key = c->key;
}

/*
 * Write an answer's lines, in the server's order (sorted by key on ring
 * servers, whose pages are unordered), each key once.
 */
static void
batch_flush(struct state *s, int sort)
{
	struct batch *b = &s->b;

	if (sort && b->n > 1)
		qsort(b->v, b->n, sizeof(*b->v), cand_cmp);
	for (size_t i = 0; i < b->n; i++) {
		const struct cand *c = &b->v[i];

		if (seen_has(s, c->key))
			continue;	/* the same event twice in one answer */
		if (s->newest.has_time && time_cmp(c->sec, c->nsec,
		    s->newest.sec, s->newest.nsec) < 0)
			vp_warn("event %d is older than event %d already "
			    "emitted; emitting it late rather than losing it",
			    (int)c->key, (int)s->newest.key);
		emit(s, c);
	}
	batch_drop(s);
}

/* ---- the vim25 conversation ---------------------------------------------------- */

enum step { STEP_OK, STEP_RETRY, STEP_DONE };

/* Exit code for a failed call: permanent faults end the program. */
static enum step
call_failed(struct state *s, enum soap_result r)
{
	const char *f = s->soap.fault_type;

	if (r == SOAP_STOPPED)
		return STEP_DONE;
	/* retrying cannot fix trust: say how to, and stop for good */
	if (r == SOAP_TLS)
		vp_die(VP_EXIT_CONFIG, "%s: %s (give --ca-file with the CA that "
		    "signed vCenter's certificate, or --insecure)", s->o.url,
		    s->soap.error);
	if (r == SOAP_FAULT && (strcmp(f, "InvalidLogin") == 0 ||
	    strcmp(f, "NoPermission") == 0 || strcmp(f, "InvalidLocale") == 0))
		die_clean(s, VP_EXIT_NOPERM, "%s: %s", s->o.url, s->soap.error);
	/* vCenter refused what we asked (a page size over its limit, say):
	 * asking again cannot help */
	if (r == SOAP_FAULT && (strcmp(f, "InvalidRequest") == 0 ||
	    strcmp(f, "InvalidArgument") == 0))
		die_clean(s, VP_EXIT_CONFIG, "%s: %s", s->o.url, s->soap.error);
	/*
	 * Nothing answers SOAP at this URL: a wrong address, not an outage.
	 * Once a session has worked, a 404 is taken as a passing state of a
	 * restarting vCenter instead.
	 */
	if (r == SOAP_HTTP && s->soap.http_status == 404 && !s->worked)
		die_clean(s, VP_EXIT_CONFIG, "%s: HTTP 404: no vSphere SOAP API "
		    "at this URL (expected https://VCENTER/sdk)", s->o.url);
	if (r == SOAP_FAULT && strcmp(f, "NotAuthenticated") == 0) {
		vp_warn("%s: session lost (%s); logging in again", s->o.url,
		    s->soap.error);
		s->logged_in = 0;	/* nothing left to log out of */
	} else
		vp_warn("%s: %s", s->o.url, s->soap.error);
	/*
	 * Whatever went wrong, start over with a fresh session and collector;
	 * the old session is probably still valid: log it out rather than
	 * leave it to vCenter's session limit.
	 */
	end_session(s, 0);
	forget_session(s);
	return STEP_RETRY;
}

/* RetrievePropertiesEx's arguments for one property of one object. */
static void
retrieve_spec(struct vp_buf *b, const char *type, const char *obj,
    const char *path)
{
	vp_buf_printf(b, "<specSet><propSet><type>%s</type><pathSet>%s"
	    "</pathSet></propSet><objectSet><obj type=\"%s\">", type, path,
	    type);
	soap_xml_escape(b, obj);
	vp_buf_printf(b, "</obj></objectSet></specSet><options/>");
}

/*
 * The categories govmomi's EventCategory reads (the EventManager's
 * description.eventInfo), once per run as the connector's Manager caches
 * them. A server that has none leaves the categories out.
 */
static enum step
load_categories(struct state *s)
{
	struct vp_buf b = { 0 };
	struct vim_node *ret;
	enum soap_result r;

	if (!s->o.connector || s->conn.loaded)
		return STEP_OK;
	retrieve_spec(&b, "EventManager", s->event_manager,
	    "description.eventInfo");
	r = soap_call(&s->soap, "RetrievePropertiesEx", "PropertyCollector",
	    s->property_collector, b.data, 0, &ret);
	vp_buf_free(&b);
	if (r == SOAP_FAULT) {
		vp_warn("%s: description.eventInfo: a fault; connector "
		    "messages go without a category", s->o.url);
		s->conn.loaded = 1;
		return STEP_OK;
	}
	if (r != SOAP_OK)
		return call_failed(s, r);
	connector_load(&s->conn, ret);
	vp_debug("%s: %zu event categories", s->o.url, s->conn.n);
	return STEP_OK;
}

static enum step server_time(struct state *, int64_t *, int32_t *);

static enum step
login(struct state *s)
{
	struct vim_node *ret, *about;
	struct vp_buf b = { 0 };
	char *sm = s->session_manager, buf[128];
	enum soap_result r;

	switch (soap_discover_version(&s->soap)) {
	case -2:
		return STEP_DONE;
	case -3:
		return call_failed(s, SOAP_TLS);
	}
	r = soap_call(&s->soap, "RetrieveServiceContent", "ServiceInstance",
	    "ServiceInstance", NULL, 0, &ret);
	if (r != SOAP_OK)
		return call_failed(s, r);
	about = soap_child(ret, "about");
	if (soap_child_text(ret, "sessionManager", sm,
	    sizeof(s->session_manager)) == NULL ||
	    soap_child_text(ret, "eventManager", s->event_manager,
	    sizeof(s->event_manager)) == NULL ||
	    soap_child_text(ret, "propertyCollector", s->property_collector,
	    sizeof(s->property_collector)) == NULL || about == NULL) {
		vp_warn("%s: RetrieveServiceContent: no sessionManager, "
		    "eventManager or propertyCollector (not a vCenter?)", s->o.url);
		return STEP_RETRY;
	}
	if (soap_child_text(about, "instanceUuid", s->instance_uuid,
	    sizeof(s->instance_uuid)) == NULL)
		s->instance_uuid[0] = '\0';
	if (soap_child_text(about, "apiVersion", s->api_version,
	    sizeof(s->api_version)) == NULL)
		s->api_version[0] = '\0';
	if (soap_child_text(about, "apiType", buf, sizeof(buf)) &&
	    strcmp(buf, "VirtualCenter") != 0)
		vp_warn("%s: apiType is %s, not VirtualCenter; ESXi hosts keep "
		    "few events", s->o.url, buf);

	vp_buf_append(&b, "<userName>", 10);
	soap_xml_escape(&b, s->user);
	vp_buf_append(&b, "</userName><password>", 21);
	soap_xml_escape(&b, s->pass);
	vp_buf_append(&b, "</password>", 11);
	r = soap_call(&s->soap, "Login", "SessionManager", sm, b.data, 0, &ret);
	/* the request held the password: wipe it */
	memset(b.data, 0, b.len);
	vp_buf_free(&b);
	memset(s->soap.req.data, 0, s->soap.req.len);
	if (r != SOAP_OK)
		return call_failed(s, r);
	s->logged_in = 1;
	s->worked = 1;
	vp_info("%s: logged in (instance %s, API %s)", s->o.url,
	    s->instance_uuid, s->api_version);
	{
		enum step st = load_categories(s);
		if (st != STEP_OK)
			return st;
	}
	{
		/* vCenter's clock: where "now" is, and what is in the future */
		int64_t sec;
		int32_t nsec;
		return server_time(s, &sec, &nsec);
	}
}

/* vCenter's own clock, so --begin does not depend on ours. */
static enum step
server_time(struct state *s, int64_t *sec, int32_t *nsec)
{
	struct vim_node *ret;
	enum soap_result r;
	char t[128];

	r = soap_call(&s->soap, "CurrentTime", "ServiceInstance",
	    "ServiceInstance", NULL, 0, &ret);
	if (r != SOAP_OK)
		return call_failed(s, r);
	if (ret == NULL || vim_node_text(ret, t, sizeof(t)) >= sizeof(t) ||
	    vp_parse_rfc3339(t, sec, nsec) != 0) {
		vp_warn("%s: CurrentTime: unparsable time", s->o.url);
		return STEP_RETRY;
	}
	s->clock.has_time = 1;
	s->clock.sec = *sec;
	s->clock.nsec = *nsec;
	s->clock_ms = vp_now_ms();
	return STEP_OK;
}

/*
 * Destroy a collector (method DestroyCollector) or a property filter
 * (DestroyPropertyFilter) and forget its reference; a fault means it is
 * gone already.
 */
static enum step
destroy(struct state *s, const char *method, char *ref)
{
	struct vim_node *ret;
	enum soap_result r;

	if (ref[0] == '\0')
		return STEP_OK;
	r = soap_call(&s->soap, method, method[7] == 'P' ? "PropertyFilter" :
	    "EventHistoryCollector", ref, NULL, 0, &ret);
	if (r != SOAP_OK && r != SOAP_FAULT)
		return call_failed(s, r);
	ref[0] = '\0';
	return STEP_OK;
}

/* CreateCollectorForEvents with filter (its XML); the reference in out. */
static enum soap_result
new_collector(struct state *s, const char *filter, char *out, size_t len)
{
	struct vim_node *ret;
	enum soap_result r;

	r = soap_call(&s->soap, "CreateCollectorForEvents", "EventManager",
	    s->event_manager, filter, 0, &ret);
	if (r != SOAP_OK)
		return r;
	vim_node_text(ret, out, len);
	if (out[0] == '\0') {
		snprintf(s->soap.error, sizeof(s->soap.error), "CreateCollector"
		    "ForEvents returned nothing");
		return SOAP_BADRESPONSE;
	}
	return SOAP_OK;
}

/*
 * Does this server ignore the collector's time filter, serving a ring of
 * its newest events instead (govmomi's simulator)? Ask for the events of
 * one instant in 1970: vCenter has none, a ring server returns some anyway
 * (it always holds at least our own login). Once known, it stays known.
 */
static enum step
probe_ring(struct state *s)
{
	struct vim_node *ret;
	enum soap_result r;
	char coll[128];

	r = new_collector(s, "<filter><time><beginTime>1970-01-01T00:00:00Z"
	    "</beginTime><endTime>1970-01-01T00:00:00Z</endTime></time>"
	    "</filter>", coll, sizeof(coll));
	if (r == SOAP_FAULT) {
		/* a server may refuse such a filter: it then honours it */
		vp_debug("%s: probe: %s", s->o.url, s->soap.error);
		return STEP_OK;
	}
	if (r != SOAP_OK)
		return call_failed(s, r);
	r = soap_call_events(&s->soap, "ReadNextEvents", "EventHistoryCollector",
	    coll, "<maxCount>1</maxCount>", 0, NULL, NULL, &ret);
	if (r == SOAP_OK && s->soap.nevents > 0) {
		s->ring_server = 1;
		vp_info("%s: this server's collectors ignore their time filter "
		    "and do not move forward (govmomi's simulator): reading "
		    "its newest %d events whole at every wake-up", s->o.url,
		    RING_PAGE);
	}
	if (r != SOAP_OK && r != SOAP_FAULT)
		return call_failed(s, r);
	return destroy(s, "DestroyCollector", coll);
}

/*
 * Key and time for a callback that only looks at them: 0 when the event
 * has none (it is never mapped here; take_event logs such events).
 */
static int
has_position(struct vim_node *ev, struct cand *c)
{
	char err[256];

	return event_position(ev, c, err, sizeof(err)) == 0;
}

/* The scan's callback: keys and times only, nothing is mapped. */
static int
scan_event(struct vim_node *ev, void *arg)
{
	struct state *s = arg;
	struct cand c;

	if (!has_position(ev, &c))
		return 0;
	s->scan_n++;
	if (!key_after(c.key, s->top.key))
		s->scan_hit = 1;	/* back where we were */
	else if (!s->reach.has_time || time_cmp(c.sec, c.nsec, s->reach.sec,
	    s->reach.nsec) < 0) {
		s->reach.has_time = 1;
		s->reach.sec = c.sec;
		s->reach.nsec = c.nsec;
	}
	return 0;
}

/*
 * Before a collector resumes after key top: do events with newer keys
 * carry times before where it would begin (a clock stepped back, events
 * committed late)? vCenter filters by time, not by key, so scroll a
 * collector without a time filter back from its newest event until the
 * keys are no longer newer than top; the oldest time among the newer ones
 * (s->reach) is where reading must begin. Only keys and times are read.
 */
static enum step
scan_newer(struct state *s)
{
	struct vim_node *ret;
	enum soap_result r;
	char coll[128], body[64];
	const char *method = "ReadNextEvents";

	memset(&s->reach, 0, sizeof(s->reach));
	s->scan_n = 0;
	s->scan_hit = 0;
	if ((r = new_collector(s, "<filter></filter>", coll,
	    sizeof(coll))) != SOAP_OK)
		return call_failed(s, r);
	snprintf(body, sizeof(body), "<maxCount>%d</maxCount>", RING_PAGE);
	/* to the latest page, through to the end, then back page by page */
	r = soap_call(&s->soap, "ResetCollector", "EventHistoryCollector", coll,
	    NULL, 0, &ret);
	while (r == SOAP_OK && !vp_stop_requested) {
		r = soap_call_events(&s->soap, method, "EventHistoryCollector",
		    coll, body, 0, scan_event, s, &ret);
		if (r != SOAP_OK || s->scan_hit || s->scan_n >= SCAN_MAX)
			break;
		if (s->soap.nevents == 0) {
			if (method[4] == 'P')
				break;	/* the oldest event: nothing older */
			method = "ReadPreviousEvents";
		}
	}
	if (r != SOAP_OK)
		return call_failed(s, r);
	if (destroy(s, "DestroyCollector", coll) != STEP_OK)
		return STEP_RETRY;
	if (!s->scan_hit && s->scan_n >= SCAN_MAX)
		vp_warn("%s: more than %d events are newer than key %d; "
		    "reading from the oldest time among them", s->o.url,
		    SCAN_MAX, (int)s->top.key);
	return vp_stop_requested ? STEP_DONE : STEP_OK;
}

/*
 * Where a collector resuming at p begins: --look-back before it, so that
 * events vCenter stamps before p from now on (a clock stepped back, events
 * committed late) are in its view and pass by key. A checkpoint's
 * --max-replay bound is not crossed for it.
 */
static struct pos
look_back(const struct state *s, struct pos p)
{
	struct pos b = pos_sub_ms(p, s->o.look_back_ms), bound;

	if (s->from_ck && s->o.max_replay_ms > 0) {
		bound = pos_sub_ms(vc_now(s), s->o.max_replay_ms);
		if (pos_cmp(&b, &bound) < 0)
			b = pos_cmp(&p, &bound) < 0 ? p : bound;
	}
	return b;
}

static enum step
create_collector(struct state *s)
{
	struct vp_buf b = { 0 };
	struct vim_node *ret;
	enum soap_result r;
	char ts[64], body[512];
	struct pos begin = s->begin;

	/* again from the newest event emitted (what was emitted comes again
	 * and is dropped by key) */
	if (s->newest.has_time && (!begin.has_time ||
	    pos_cmp(&s->newest, &begin) > 0))
		begin = s->newest;
	if (begin.has_time)
		begin = look_back(s, begin);
	/* and from the oldest time an event with a newer key carries */
	if (s->reach.has_time && begin.has_time && pos_cmp(&s->reach,
	    &begin) < 0) {
		begin = s->reach;
		vp_format_rfc3339(begin.sec, begin.nsec, ts, sizeof(ts));
		vp_info("%s: events newer than key %d go back to %s: reading "
		    "from there", s->o.url, (int)s->top.key, ts);
	}

	vp_buf_append(&b, "<filter>", 8);
	if (begin.has_time || s->until.has_time) {
		vp_buf_append(&b, "<time>", 6);
		if (begin.has_time) {
			/* inclusive: events at that instant come again and
			 * are dropped by key */
			vp_format_rfc3339(begin.sec, begin.nsec, ts, sizeof(ts));
			vp_buf_printf(&b, "<beginTime>%s</beginTime>", ts);
		}
		if (s->until.has_time) {
			vp_format_rfc3339(s->until.sec, s->until.nsec, ts,
			    sizeof(ts));
			vp_buf_printf(&b, "<endTime>%s</endTime>", ts);
		}
		vp_buf_append(&b, "</time>", 7);
	}
	vp_buf_append(&b, "</filter>", 9);
	r = new_collector(s, b.data, s->collector, sizeof(s->collector));
	vp_buf_free(&b);
	if (r != SOAP_OK)
		return call_failed(s, r);
	snprintf(body, sizeof(body), "<maxCount>%d</maxCount>",
	    s->ring_server ? RING_PAGE : s->o.page);
	r = soap_call(&s->soap, "SetCollectorPageSize", "EventHistoryCollector",
	    s->collector, body, 0, &ret);
	if (r != SOAP_OK)
		return call_failed(s, r);
	/*
	 * A ring server (govmomi's simulator) sends a latestPage change per
	 * event, each with the whole page: watch a page of one instead (its
	 * maxCount at creation; it resizes its pages wrongly).
	 */
	if (s->ring_server && (r = new_collector(s, "<filter><maxCount>1"
	    "</maxCount></filter>", s->wake, sizeof(s->wake))) != SOAP_OK)
		return call_failed(s, r);
	/*
	 * Wait on a property collector of our own, as govmomi's property.Wait
	 * does, not on the session's root one: govmomi's simulator keeps one
	 * update listener for every session's root collector, so with two
	 * readers only the last to wait was woken (the other waited out its
	 * --wait-seconds for every event).
	 */
	if (!s->wait_pc[0]) {
		r = soap_call(&s->soap, "CreatePropertyCollector",
		    "PropertyCollector", s->property_collector, NULL, 0, &ret);
		if (r != SOAP_OK)
			return call_failed(s, r);
		vim_node_text(ret, s->wait_pc, sizeof(s->wait_pc));
		if (!s->wait_pc[0]) {
			snprintf(s->soap.error, sizeof(s->soap.error),
			    "CreatePropertyCollector returned nothing");
			return call_failed(s, SOAP_BADRESPONSE);
		}
	}

	b = (struct vp_buf){ 0 };
	vp_buf_printf(&b, "<spec><propSet><type>EventHistoryCollector</type>"
	    "<all>false</all><pathSet>latestPage</pathSet></propSet>"
	    "<objectSet><obj type=\"EventHistoryCollector\">");
	soap_xml_escape(&b, s->wake[0] ? s->wake : s->collector);
	vp_buf_printf(&b, "</obj><skip>false</skip></objectSet></spec>"
	    "<partialUpdates>false</partialUpdates>");
	r = soap_call(&s->soap, "CreateFilter", "PropertyCollector",
	    s->wait_pc, b.data, 0, &ret);
	vp_buf_free(&b);
	if (r != SOAP_OK)
		return call_failed(s, r);
	vim_node_text(ret, s->filter, sizeof(s->filter));
	s->pc_version[0] = '\0';
	s->check_due = 1;
	s->unchecked = 0;
	vp_debug("collector %s, filter %s", s->collector, s->filter);
	return STEP_OK;
}

/* Drop the collector and its filter (a new one is made next). */
static enum step
drop_collector(struct state *s)
{
	enum step st;

	if ((st = destroy(s, "DestroyPropertyFilter", s->filter)) != STEP_OK ||
	    (st = destroy(s, "DestroyCollector", s->wake)) != STEP_OK)
		return st;
	return destroy(s, "DestroyCollector", s->collector);
}

static int upd_pending(const struct state *);

/*
 * ReadNextEvents until the collector says there is nothing more; each
 * answer's lines are written once it is whole. On a ring server the
 * collector is rewound first and the whole page written at the end, in
 * key order. After an update (short_ends), an answer shorter than asked
 * for ends it too, unless latestPage showed events still unread: the
 * collector was at its end, and what comes after that answer changes
 * latestPage again, so the next wait returns at once (one call fewer per
 * wake-up than reading until an empty answer).
 */
static enum step
read_all(struct state *s, int short_ends)
{
	struct vim_node *ret;
	enum soap_result r;
	char body[64];

	if (s->ring_server && (r = soap_call(&s->soap, "RewindCollector",
	    "EventHistoryCollector", s->collector, NULL, 0, &ret)) != SOAP_OK)
		return call_failed(s, r);
	/* a ring is read in one call: what it holds fits one page */
	snprintf(body, sizeof(body), "<maxCount>%d</maxCount>",
	    s->ring_server ? RING_PAGE : s->o.read_size);
	for (;;) {
		r = soap_call_events(&s->soap, "ReadNextEvents",
		    "EventHistoryCollector", s->collector, body, 0, take_event, s,
		    &ret);
		if (r != SOAP_OK) {
			batch_drop(s);
			return call_failed(s, r);
		}
		vp_debug("ReadNextEvents: %zu events, %zu new", s->soap.nevents,
		    s->b.n);
		if (!s->ring_server)
			batch_flush(s, 0);
		if (s->soap.nevents == 0 ||
		    (s->ring_server && s->soap.nevents < RING_PAGE))
			break;
		if (short_ends && !s->ring_server &&
		    s->soap.nevents < (size_t)s->o.read_size && !upd_pending(s))
			break;
		if (vp_stop_requested) {
			batch_drop(s);
			return STEP_DONE;
		}
	}
	if (s->ring_server)
		batch_flush(s, 1);
	return STEP_OK;
}

/* WaitForUpdatesEx's callback: note what latestPage shows that is new. */
static int
note_update(struct vim_node *ev, void *arg)
{
	struct state *s = arg;
	struct cand c;

	if (!has_position(ev, &c) || seen_has(s, c.key) || !in_window(s, &c) || s->nupd >= RING_PAGE)
		return 0;
	if (s->upd == NULL)
		s->upd = vp_xmalloc(RING_PAGE * sizeof(*s->upd));
	s->upd[s->nupd].key = c.key;
	s->upd[s->nupd].sec = c.sec;
	s->upd[s->nupd].nsec = c.nsec;
	s->nupd++;
	return 0;
}

/* Did latestPage show an event not yet emitted (and wanted)? */
static int
upd_pending(const struct state *s)
{
	for (size_t i = 0; i < s->nupd; i++) {
		struct cand c = { .sec = s->upd[i].sec, .nsec = s->upd[i].nsec,
		    .key = s->upd[i].key };
		if (!seen_has(s, c.key) && in_window(s, &c))
			return 1;
	}
	return 0;
}

/*
 * Check the latestPage of the last update, kept unparsed (keys and times
 * only), noting what it shows unseen.
 */
static enum step
check_page(struct state *s)
{
	struct vim_stream *vs;
	struct vim_doc *doc;
	char err[256];

	s->nupd = 0;
	if ((vs = vim_stream_new(note_update, s)) == NULL)
		die_clean(s, VP_EXIT_SOFTWARE, "out of memory");
	vim_stream_keys_only(vs);
	vim_stream_feed(vs, s->wait_raw.data ? s->wait_raw.data : "",
	    s->wait_raw.len);
	doc = vim_stream_end(vs, err, sizeof(err));
	vim_stream_free(vs);
	vim_doc_free(doc);
	vp_buf_reset(&s->wait_raw);
	if (doc == NULL) {
		snprintf(s->soap.error, sizeof(s->soap.error),
		    "WaitForUpdatesEx: %s", err);
		return call_failed(s, SOAP_BADRESPONSE);
	}
	s->unchecked = 0;
	s->checked_at = s->emitted;
	s->checked_ms = vp_now_ms();
	return STEP_OK;
}

/* RetrievePropertiesEx's callback: take only the events the read missed. */
static int
take_missed(struct vim_node *ev, void *arg)
{
	struct state *s = arg;
	struct cand c;
	size_t i;

	if (!has_position(ev, &c))
		return 0;
	for (i = 0; i < s->nupd; i++)
		if (s->upd[i].key == c.key)
			return take_event(ev, arg);
	return 0;
}

/*
 * latestPage showed events that reading forward did not return: the
 * collector did not move forward. A ring server is read whole from now
 * on; elsewhere the events are taken from latestPage itself (late rather
 * than lost).
 */
static enum step
read_missed(struct state *s)
{
	struct vp_buf b = { 0 };
	struct vim_node *ret;
	enum soap_result r;
	enum step st;
	size_t n = 0;

	for (size_t i = 0; i < s->nupd; i++) {
		struct cand c = { .sec = s->upd[i].sec, .nsec = s->upd[i].nsec,
		    .key = s->upd[i].key };
		if (!seen_has(s, c.key) && in_window(s, &c))
			s->upd[n++] = s->upd[i];
	}
	if ((s->nupd = n) == 0)
		return STEP_OK;
	vp_warn("%s: latestPage shows %zu event%s (key %d) that ReadNextEvents "
	    "did not return", s->o.url, n, n == 1 ? "" : "s",
	    (int)s->upd[0].key);
	if ((st = probe_ring(s)) != STEP_OK)
		return st;
	if (s->ring_server) {
		if ((st = drop_collector(s)) != STEP_OK ||
		    (st = create_collector(s)) != STEP_OK)
			return st;
		return read_all(s, 0);
	}
	retrieve_spec(&b, "EventHistoryCollector", s->collector, "latestPage");
	r = soap_call_events(&s->soap, "RetrievePropertiesEx",
	    "PropertyCollector", s->property_collector, b.data, 0, take_missed,
	    s, &ret);
	vp_buf_free(&b);
	if (r != SOAP_OK) {
		batch_drop(s);
		return call_failed(s, r);
	}
	batch_flush(s, 1);
	s->nupd = 0;
	return STEP_OK;
}

/*
 * Wait for latestPage to change (or the wait to time out), then read.
 *
 * latestPage wakes the reader; it is also the safety net for events that
 * reading forward missed, checked by key and time (note_update, then
 * read_missed). Tokenizing a page of 100 events was four fifths of a
 * wake-up's CPU when events come one at a time, so an update's page is
 * checked as it arrives only for the first update of a collector, then at
 * least every CHECK_MS or half a page of events emitted. Other
 * answers are parsed up to their version and kept as bytes: their page is
 * checked after all when reading emitted nothing (what the net is for: a
 * collector that did not move forward, or an event latestPage shows before
 * reading returns it), or when the next wait times out. A page holds the
 * newest events whatever was checked before, so an event that reading
 * missed is still taken, by then at the latest.
 */
static enum step
wait_and_read(struct state *s, int wait_s)
{
	unsigned long emitted;
	struct vp_buf b = { 0 };
	struct vim_node *ret;
	enum soap_result r;
	enum step st;
	int check;

	vp_buf_append(&b, "<version>", 9);
	soap_xml_escape(&b, s->pc_version);
	vp_buf_printf(&b, "</version><options><maxWaitSeconds>%d</maxWaitSeconds>"
	    "</options>", wait_s);
	/* the answer is silent for up to wait_s by design: not a stall */
	s->soap.quiet_s = wait_s;
	s->nupd = 0;
	check = !s->ring_server && (s->check_due ||
	    vp_now_ms() - s->checked_ms >= CHECK_MS ||
	    (s->emitted - s->checked_at) * 2 >= (unsigned long)s->o.page);
	if (check)	/* events by key and time only: nothing else is built */
		s->soap.keys_only = 1;
	else if (!s->ring_server) {
		s->soap.stop_at = "filterSet";
		s->soap.keep = &s->wait_next;
		vp_buf_reset(&s->wait_next);
	}
#ifdef __GLIBC__
	/*
	 * Idle (the last wake-up emitted nothing) or after many events: the
	 * pages the answers' parsing freed go back to the system (glibc keeps
	 * those below the heap's top: ~120 kB of an idle vc-source's 2 MB
	 * private). Not before every wait: the next parse faults them in
	 * again, half of a wake-up's CPU when events come one at a time.
	 */
	if (s->wait_idle || s->emitted - s->trimmed_at >= TRIM_EVENTS) {
		if (s->unchecked == 0) {
			vp_buf_free(&s->wait_raw);
			vp_buf_free(&s->wait_next);
		}
		malloc_trim(0);
		s->trimmed_at = s->emitted;
	}
#endif
	emitted = s->emitted;
	r = soap_call_events(&s->soap, "WaitForUpdatesEx", "PropertyCollector",
	    s->wait_pc, b.data,
	    (long)(wait_s + s->soap.stall_s) * 1000, s->ring_server ? NULL :
	    note_update, s, &ret);
	vp_buf_free(&b);
	if (r != SOAP_OK)
		return call_failed(s, r);
	/* a wait that timed out returns nothing; an update, its version */
	if (ret != NULL) {
		char v[256];

		if (soap_child_text(ret, "version", v, sizeof(v)))
			snprintf(s->pc_version, sizeof(s->pc_version), "%s", v);
		if (check) {
			s->check_due = 0;
			s->unchecked = 0;
			s->checked_at = s->emitted;
			s->checked_ms = vp_now_ms();
		} else if (!s->ring_server) {
			struct vp_buf t = s->wait_raw;

			s->wait_raw = s->wait_next;
			s->wait_next = t;
			s->unchecked++;
		}
	}
	if ((st = read_all(s, wait_s > 0 && ret != NULL)) != STEP_OK)
		return st;
	/* the update kept unparsed, or the last one (the page since) */
	if (s->unchecked > 0 && s->wait_raw.len > 0 &&
	    (ret == NULL || s->emitted == emitted) &&
	    (st = check_page(s)) != STEP_OK)
		return st;
	st = s->nupd > 0 ? read_missed(s) : STEP_OK;
	s->wait_idle = s->emitted == emitted;
	return st;
}

/* ---- start position ------------------------------------------------------------ */

/*
 * Read a position file: a sink's checkpoint, or the start file vc-source
 * keeps beside it (vcpipe-formats(5)). 0 found, 1 absent. The checkpoint's
 * "updated" (when the sink wrote it) goes to *updated when given.
 */
static int
read_position(struct state *s, const char *path, const char *what,
    struct pos *p, struct pos *updated)
{
	struct vp_ckpt c;
	char err[1200];
	int rc = vp_ckpt_read(path, &c, err, sizeof(err));

	if (rc == 1)
		return 1;
	if (rc != 0)
		vp_die(rc, "%s", err);
	memset(p, 0, sizeof(*p));
	p->sec = c.sec;
	p->nsec = c.nsec;
	p->has_time = 1;
	if (c.ev.has_key) {
		/* vCenter event keys are xsd:int; the sinks write no other */
		if (c.ev.key < INT32_MIN || c.ev.key > INT32_MAX)
			vp_die(VP_EXIT_DATAERR, "%s: %s: \"key\" is not an "
			    "int32", path, what);
		p->has_key = 1;
		p->key = (int32_t)c.ev.key;
	}
	if (updated != NULL && c.has_updated) {
		updated->sec = c.updated_sec;
		updated->nsec = c.updated_nsec;
		updated->has_time = 1;
	}
	if (c.ev.source && strcmp(c.ev.source, s->o.url) != 0)
		vp_warn("%s: %s source %s is not %s; resuming from its time "
		    "anyway", path, what, c.ev.source, s->o.url);
	vp_ckpt_clear(&c);
	return 0;
}

/* mkdir -p, each new directory 0700 (checkpoints hold event data) */
static int
make_dirs(const char *dir)
{
	char *d = vp_xstrdup(dir), *p = d;
	int rc = 0;

	while (rc == 0 && (p = strchr(p + 1, '/')) != NULL) {
		*p = '\0';
		if (mkdir(d, 0700) != 0 && errno != EEXIST)
			rc = -1;
		*p = '/';
	}
	if (rc == 0 && mkdir(d, 0700) != 0 && errno != EEXIST)
		rc = -1;
	free(d);
	return rc;
}

/*
 * Record where this first start reads from, before anything is written:
 * until a sink has delivered an event (and so written the checkpoint), a
 * restart resumes here instead of at "now".
 */
static void
write_start_file(struct state *s, const char *from)
{
	char ts[64], *dir = vp_xstrdup(s->start_file), *slash;
	json_t *o;
	char *text;
	int saved;

	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (make_dirs(dir) != 0)
			die_clean(s, errno == ENOSPC || errno == EIO ?
			    VP_EXIT_IOERR : VP_EXIT_CONFIG, "%s: cannot create "
			    "the checkpoint directory: %s", dir, strerror(errno));
	}
	free(dir);
	vp_format_rfc3339(s->start.sec, s->start.nsec, ts, sizeof(ts));
	o = json_pack("{s:i, s:s, s:s, s:s}", "version", 1, "source",
	    s->o.url, "time", ts, "from", from);
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (text == NULL)
		die_clean(s, VP_EXIT_SOFTWARE, "cannot encode the start file");
	vp_buf_reset(&s->line);
	vp_buf_printf(&s->line, "%s\n", text);
	free(text);
	if (vp_write_file_atomic(s->start_file, s->line.data, s->line.len) != 0) {
		saved = errno;
		die_clean(s, saved == ENOSPC || saved == EIO ? VP_EXIT_IOERR :
		    VP_EXIT_CONFIG, "%s: cannot record the start position: %s",
		    s->start_file, strerror(saved));
	}
	vp_info("%s: first start position recorded (until a checkpoint "
	    "exists, restarts resume from %s)", s->start_file, ts);
}

/*
 * A checkpoint older than --max-replay (the event router's 1 h
 * checkpointMaxEventAge, VSphereSource's maxAgeSeconds): reading starts
 * that long before vCenter's clock, and the span skipped is said. 1 when
 * capped (s->start and s->begin set), 0 when the checkpoint is recent.
 */
static int
replay_cap(struct state *s, const struct pos *ck, struct pos now)
{
	int64_t ms = s->o.max_replay_ms, span_ms;
	struct pos limit = pos_sub_ms(now, ms);
	char from[64], to[64], span[64], cap[64];

	if (pos_cmp(ck, &limit) >= 0)
		return 0;
	span_ms = (limit.sec - ck->sec) * 1000 +
	    (limit.nsec - ck->nsec) / 1000000;
	vp_format_rfc3339(ck->sec, ck->nsec, from, sizeof(from));
	vp_format_rfc3339(limit.sec, limit.nsec, to, sizeof(to));
	vp_format_duration(span_ms, span, sizeof(span));
	vp_format_duration(ms, cap, sizeof(cap));
	vp_warn("%s: the checkpoint (%s) is older than --max-replay %s: "
	    "skipping the events from %s to %s (%s)", s->o.url, from, cap,
	    from, to, span);
	s->capped = s->done.has_key;
	s->capped_key = s->done.key;
	/* nothing before the cap, whatever its key */
	memset(&s->done, 0, sizeof(s->done));
	memset(&s->top, 0, sizeof(s->top));
	s->start = limit;
	s->start.has_time = 1;
	s->start.has_key = 0;
	s->begin = limit;
	return 1;
}

/*
 * Work out where reading starts and where the first collector begins;
 * needs a session (vCenter's clock) for --begin, "now" and the margin.
 */
static enum step
resolve_start(struct state *s)
{
	const char *from = "now";

	if (s->begin.has_time)
		return STEP_OK;
	if (s->from_ck) {
		/*
		 * From a checkpoint (the collector opens --look-back before
		 * it); never from the future, whatever time the last event
		 * carried: not after vCenter's clock, nor after the time the
		 * sink wrote the checkpoint.
		 */
		struct pos b = s->done.has_key ? s->done : s->start, now = vc_now(s);

		if (s->o.max_replay_ms > 0 && replay_cap(s, &b, now))
			return STEP_OK;
		if (s->ck_updated.has_time && pos_cmp(&s->ck_updated, &b) < 0)
			b = s->ck_updated;
		if (pos_cmp(&now, &b) < 0)
			b = now;
		s->begin = b;
		s->begin.has_key = 0;
		return STEP_OK;
	}
	if (s->start.has_time) {
		s->begin = s->start;
		return STEP_OK;
	}
	if (s->o.since) {
		if (vp_parse_rfc3339(s->o.since, &s->start.sec,
		    &s->start.nsec) != 0)
			vp_usage_error("--since: not an RFC 3339 time: %s",
			    s->o.since);
		from = "since";
	} else {
		s->start = vc_now(s);
		if (s->o.begin_ms >= 0) {
			s->start = pos_sub_ms(s->start, s->o.begin_ms);
			from = "begin";
		}
		{
			char ts[64];
			vp_format_rfc3339(s->start.sec, s->start.nsec, ts,
			    sizeof(ts));
			vp_info("%s: reading events from %s (vCenter's clock)",
			    s->o.url, ts);
		}
	}
	s->start.has_time = 1;
	s->begin = s->start;
	if (s->write_start) {
		write_start_file(s, from);
		s->write_start = 0;
	}
	return STEP_OK;
}

/* ---- main loop ------------------------------------------------------------------- */

/* One session's worth of work: STEP_DONE when finished or stopped. */
static enum step
run(struct state *s)
{
	enum step st;

	if (!s->logged_in && (st = login(s)) != STEP_OK)
		return st;
	if ((st = resolve_start(s)) != STEP_OK)
		return st;
	if (!s->ring_server && !s->collector[0] && (st = probe_ring(s)) != STEP_OK)
		return st;
	if (!s->collector[0] && !s->ring_server && s->top.has_key &&
	    (st = scan_newer(s)) != STEP_OK)
		return st;
	if (!s->collector[0] && (st = create_collector(s)) != STEP_OK)
		return st;
	if ((st = read_all(s, 0)) != STEP_OK)
		return st;
	/* logged in, collector made, read: this session works */
	vp_backoff_reset(&s->bo);
	if (s->o.once)
		return STEP_DONE;
	for (;;) {
		if (vp_stop_requested)
			return STEP_DONE;
		int wait_s = s->o.wait_s;

		if (s->until.has_time) {
			int64_t sec;
			int32_t nsec;
			if ((st = server_time(s, &sec, &nsec)) != STEP_OK)
				return st;
			/* an event created before --until may have become
			 * visible after the last read: read once more */
			if (time_cmp(sec, nsec, s->until.sec, s->until.nsec) > 0)
				return (st = wait_and_read(s, 0)) == STEP_OK ?
				    STEP_DONE : st;
			/* wake up soon after the clock passes --until */
			if (s->until.sec - sec + 1 < wait_s)
				wait_s = (int)(s->until.sec - sec + 1);
		}
		if ((st = wait_and_read(s, wait_s)) != STEP_OK)
			return st;
	}
}

/* ---- options ----------------------------------------------------------------------- */

/*
 * --url as govmomi's soap.ParseURL reads it (what the router and its Helm
 * chart pass on): no scheme means https://, no path means /sdk; "/" alone
 * is taken as no path too. Returns the URL every line will carry.
 */
static char *
url_arg(const char *in)
{
	const char *p = in, *host, *rest;
	size_t hl, sl = 5;
	char *u;

	while (isalnum((unsigned char)*p) || *p == '_')
		p++;
	if (p > in && strncmp(p, "://", 3) == 0) {
		sl = (size_t)(p - in);
		if (!((sl == 5 && strncasecmp(in, "https", 5) == 0) ||
		    (sl == 4 && strncasecmp(in, "http", 4) == 0)))
			vp_usage_error("--url: expected an http:// or https:// "
			    "URL or a host name, got \"%.*s://...\"", (int)sl,
			    in);
		host = p + 3;
	} else
		host = in;
	hl = strcspn(host, "/?#");
	/* it would be logged and copied into every line: refuse it,
	 * without echoing the URL, which may hold a password */
	if (memchr(host, '@', hl) != NULL)
		vp_usage_error("--url: user name and password in the URL are "
		    "refused; use --credentials-file or VC_USERNAME and "
		    "VC_PASSWORD");
	if (hl == 0 || host[strcspn(host, " \t\r\n")] != '\0')
		vp_usage_error("--url: expected https://VCENTER/sdk or a host "
		    "name, got \"%s\"", in);
	rest = host + hl;
	if (rest[0] == '/' && (rest[1] == '\0' || rest[1] == '?' ||
	    rest[1] == '#'))
		rest++;
	u = vp_xmalloc(sl + 3 + hl + 4 + strlen(rest) + 1);
	sprintf(u, "%s://%.*s%s%s", sl == 4 ? "http" : "https", (int)hl, host,
	    *rest == '/' ? "" : "/sdk", rest);
	return u;
}

static struct state st;

static int
time_arg(void *dest, const char *v, char *err, size_t errlen)
{
	int64_t sec;
	int32_t nsec;

	if (vp_parse_rfc3339(v, &sec, &nsec) != 0) {
		snprintf(err, errlen, "expected an RFC 3339 time (like "
		    "2026-11-23T09:00:00Z), got \"%s\"", v);
		return -1;
	}
	*(const char **)dest = v;
	return 0;
}

/* options, groups: src/vc-source/options.tab */
#include "opts/vc-source.h"

/* --help: help/vc-source.h, made of man/vc-source.1 */
static const struct vp_cmd cmd = VP_PROGRAM(options,
    VP_LIBS(VP_LIB_CURL, { NULL, vim_expat_version }, VP_LIB_JANSSON),
    .groups = groups);

int
main(int argc, char **argv)
{
	struct state *s = &st;
	int failures = 0;
	long long stall_s = 0;
	char err[256];
	const char *e;
	enum step step;

	vp_opt_parse(&cmd, argc, argv);
	if (!vp_opt_given("begin"))
		s->o.begin_ms = -1;
	s->o.url = url_arg(s->o.url);
	if ((e = getenv("VC_SOURCE_STALL_SECONDS")) != NULL &&
	    vp_parse_int(e, 1, 3600, &stall_s, err, sizeof(err)) != 0)
		vp_usage_error("VC_SOURCE_STALL_SECONDS: expected a whole "
		    "number from 1 to 3600, got \"%s\"", e);
	if (s->o.since && s->o.begin_ms >= 0)
		vp_usage_error("--since and --begin exclude each other");
	if (s->o.until) {
		vp_parse_rfc3339(s->o.until, &s->until.sec, &s->until.nsec);
		s->until.has_time = 1;
	}
	vp_load_credentials("--credentials-file", s->o.cred_path,
	    "VC_USERNAME", "VC_PASSWORD", &s->user, &s->pass);
	/*
	 * A checkpoint wins over --begin/--since: it is where we left off.
	 * Before the first one, the start file beside it keeps where the
	 * first start began.
	 */
	if (s->o.checkpoint && read_position(s, s->o.checkpoint, "checkpoint",
	    &s->done, &s->ck_updated) == 0) {
		s->from_ck = 1;
		if (s->done.has_key)
			s->top = s->done;
		else {
			/* no key (not from a vCenter): after its time */
			s->start = s->done;
			s->start.nsec++;
			if (s->start.nsec == 1000000000) {
				s->start.sec++;
				s->start.nsec = 0;
			}
			memset(&s->done, 0, sizeof(s->done));
		}
	} else if (s->o.checkpoint) {
		size_t n = strlen(s->o.checkpoint) + 8;
		struct pos p;

		s->start_file = vp_xmalloc(n);
		snprintf(s->start_file, n, "%s.start", s->o.checkpoint);
		if (read_position(s, s->start_file, "start file", &p,
		    NULL) == 0) {
			char ts[64];

			p.has_key = 0;
			s->start = p;
			vp_format_rfc3339(p.sec, p.nsec, ts, sizeof(ts));
			vp_info("%s: no checkpoint yet; resuming the first start, "
			    "from %s (%s)", s->o.checkpoint, ts, s->start_file);
		} else {
			vp_info("%s: no checkpoint yet; starting as if none was "
			    "given", s->o.checkpoint);
			s->write_start = 1;
		}
	}

	vp_signals_init();
	vp_watch_stdout();
	(void)vp_curl_global_init();
	s->set_cap = SEEN_CAP * 2;
	s->set_keys = vp_xmalloc(s->set_cap * sizeof(*s->set_keys));
	s->set_used = calloc(s->set_cap, 1);
	if (s->set_used == NULL || soap_init(&s->soap, s->o.url, &s->o.tls) != 0)
		vp_die(VP_EXIT_SOFTWARE, "cannot initialise");
	if (stall_s > 0)
		s->soap.stall_s = stall_s;

	vp_backoff_init(&s->bo, 500, 30000);
	for (;;) {
		unsigned long before = s->emitted;

		step = run(s);
		if (step == STEP_DONE || vp_stop_requested)
			break;
		/* progress since the last failure resets the count */
		if (s->emitted != before)
			vp_backoff_reset(&s->bo), failures = 0;
		if (s->o.once && ++failures >= 5)
			die_clean(s, VP_EXIT_TEMPFAIL, "%s: giving up after %d "
			    "attempts: %s", s->o.url, failures, s->soap.error);
		if (vp_sleep_ms(vp_backoff_next(&s->bo)))
			break;
	}
	end_session(s, 1);
	soap_free(&s->soap);
	vp_free_secret(s->user);
	vp_free_secret(s->pass);
	free(s->set_keys);
	free(s->set_used);
	free(s->b.v);
	free(s->upd);
	free(s->start_file);
	connector_free(&s->conn);
	vp_buf_free(&s->b.lines);
	vp_buf_free(&s->line);
	vp_buf_free(&s->wait_raw);
	vp_buf_free(&s->wait_next);
	curl_global_cleanup();
	vp_info("%s: %lu event%s emitted", s->o.url, s->emitted,
	    s->emitted == 1 ? "" : "s");
	free((char *)s->o.url);
	if (vp_close_stdout() != 0)
		return VP_EXIT_IOERR;
	return VP_EXIT_OK;
}
