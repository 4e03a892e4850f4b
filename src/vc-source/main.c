/*
 * vc-source: read vCenter events over the vim25 SOAP API and write one raw
 * event per NDJSON line on stdout, oldest first, following until stopped.
 *
 * Reading model (right on real vCenter, still right on govmomi's simulator):
 * an EventHistoryCollector is read forward with ReadNextEvents, and the
 * collector's latestPage property is watched with WaitForUpdatesEx so new
 * events wake the reader at once instead of a fixed poll. Events from both
 * paths are deduplicated by key and emitted in creation order. Keys are
 * compared with serial-number arithmetic so int32 wrap-around is harmless,
 * and nothing assumes keys are contiguous, so gaps cannot stall the reader.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <libxml/parser.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>

#include "soap.h"
#include "vimjson.h"
#include "vp.h"

#define DEFAULT_PAGE 100
/* 250 reads as fast as 1000 and holds a quarter of the XML tree (-5 MB RSS) */
#define DEFAULT_READ 250
#define DEFAULT_WAIT 30
#define SEEN_CAP 8192		/* recent keys kept for deduplication */
/*
 * A new collector starts this long before the newest event emitted: an
 * event vCenter made visible late (created earlier, committed later) is
 * still read, and what was already emitted is dropped by key.
 */
#define REREAD_MARGIN_S 60
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
	int once;
	int page;
	int read_size;
	int wait_s;
	struct vp_tls tls;
};

/* A candidate event: parsed enough to order and filter it. */
struct cand {
	int64_t sec;
	int32_t nsec;
	int32_t key;
	xmlNodePtr node;
	unsigned idx;		/* arrival order, for a stable sort */
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
	char filter[128];	/* property filter on its latestPage */
	char pc_version[256];	/* WaitForUpdatesEx version */
	struct pos start;	/* resume point: events at or after it */
	struct pos newest;	/* emitted event created last */
	struct pos forgot;	/* latest createdTime the key ring forgot */
	struct pos until;
	unsigned long emitted;
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

static const char usage_text[] =
    "usage: vc-source --url URL [--begin DURATION | --since TIME] [--until TIME]\n"
    "                 [--checkpoint FILE] [--credentials-file FILE] [--insecure]\n"
    "                 [--ca-file FILE] [--once] [--page-size N] [--read-size N]\n"
    "                 [--wait-seconds N] [--log-level LEVEL] [--log-json]\n"
    "       vc-source --help | --version\n";

static void
usage_help(void)
{
	fputs(usage_text, stdout);
	fputs("\nRead vCenter events and write one raw event per line on stdout.\n"
	    "Credentials: --credentials-file (two lines, or a directory with\n"
	    "username and password files), else VC_USERNAME and VC_PASSWORD.\n"
	    "See vc-source(1) and vcpipe-formats(5).\n", stdout);
}

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

static int
cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	int c = time_cmp(x->sec, x->nsec, y->sec, y->nsec);

	if (c == 0)
		c = key_cmp(x->key, y->key);
	if (c == 0)
		c = x->idx < y->idx ? -1 : x->idx > y->idx;
	return c;
}

/* Is the event at or after the start position (and not past --until)? */
static int
in_window(const struct state *s, const struct cand *c)
{
	if (s->start.has_time) {
		int t = time_cmp(c->sec, c->nsec, s->start.sec, s->start.nsec);
		if (t < 0)
			return 0;
		/* a checkpoint names the last delivered event: skip it and its
		 * elders at the same instant */
		if (t == 0 && s->start.has_key &&
		    key_cmp(c->key, s->start.key) <= 0)
			return 0;
	}
	if (s->until.has_time &&
	    time_cmp(c->sec, c->nsec, s->until.sec, s->until.nsec) > 0)
		return 0;
	return 1;
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
		if (!s->forgot.has_time || time_cmp(s->ring[i].sec,
		    s->ring[i].nsec, s->forgot.sec, s->forgot.nsec) > 0) {
			s->forgot.has_time = 1;
			s->forgot.sec = s->ring[i].sec;
			s->forgot.nsec = s->ring[i].nsec;
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
	xmlNodePtr ret;

	if (!s->logged_in)
		return;
	memcpy(saved, s->soap.error, sizeof(saved));
	s->soap.cleanup = 1;
	if (destroy && s->filter[0])
		soap_call(&s->soap, "DestroyPropertyFilter", "PropertyFilter",
		    s->filter, NULL, CLEANUP_MS, &ret);
	if (destroy && s->collector[0])
		soap_call(&s->soap, "DestroyCollector", "EventHistoryCollector",
		    s->collector, NULL, CLEANUP_MS, &ret);
	soap_call(&s->soap, "Logout", "SessionManager", s->session_manager,
	    NULL, CLEANUP_MS, &ret);
	s->soap.cleanup = 0;
	memcpy(s->soap.error, saved, sizeof(saved));
	s->logged_in = 0;
	s->collector[0] = '\0';
	s->filter[0] = '\0';
	soap_reset_session(&s->soap);
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
xsi_type(xmlNodePtr n, char *buf, size_t len)
{
	xmlChar *t = xmlGetNsProp(n, (const xmlChar *)"type",
	    (const xmlChar *)"http://www.w3.org/2001/XMLSchema-instance");
	const char *colon;

	if (t == NULL)
		return NULL;
	colon = strchr((const char *)t, ':');
	snprintf(buf, len, "%s", colon ? colon + 1 : (const char *)t);
	xmlFree(t);
	return buf;
}

/* Key and creation time, the two things ordering needs. */
static int
event_position(xmlNodePtr ev, struct cand *c, char *err, size_t errlen)
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
	c->node = ev;
	return 0;
}

/* The line for an event govmomi's mapping refused: never drop an event. */
static void
fallback_line(struct state *s, const struct cand *c, const char *why)
{
	char type[256], ts[64];
	json_t *o;
	char *text;

	if (xsi_type(c->node, type, sizeof(type)) == NULL)
		snprintf(type, sizeof(type), "%s", (const char *)c->node->name);
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
	vp_buf_reset(&s->line);
	vp_buf_append(&s->line, text, strlen(text));
	free(text);
}

static void
emit(struct state *s, const struct cand *c)
{
	struct vim_source src = { s->o.url, s->instance_uuid, s->api_version };
	char err[512];

	vp_buf_reset(&s->line);
	if (vim_raw_line(&src, c->node, &s->line, NULL, err, sizeof(err)) != 0)
		fallback_line(s, c, err);
	if (vp_write_line(stdout, s->line.data, s->line.len) != 0) {
		if (errno == EPIPE)
			die_clean(s, VP_EXIT_IOERR, "stdout: the next stage is "
			    "gone");
		die_clean(s, VP_EXIT_IOERR, "stdout: %s", strerror(errno));
	}
	seen_add(s, c);
	if (!s->newest.has_time || time_cmp(c->sec, c->nsec, s->newest.sec,
	    s->newest.nsec) >= 0) {
		s->newest.has_time = s->newest.has_key = 1;
		s->newest.sec = c->sec;
		s->newest.nsec = c->nsec;
		s->newest.key = c->key;
	}
	s->emitted++;
}

/*
 * Take every event element under parent (named elname, or any element when
 * NULL), drop what was already emitted or lies outside the window, and emit
 * the rest in creation order.
 */
static void
emit_batch(struct state *s, xmlNodePtr first, const char *elname)
{
	struct cand *v = NULL;
	size_t n = 0, cap = 0;
	char err[256];

	for (xmlNodePtr e = first; e; e = soap_next_named(e, elname)) {
		struct cand c;

		if (e->type != XML_ELEMENT_NODE)
			continue;
		if (event_position(e, &c, err, sizeof(err)) != 0) {
			vp_error("%s: %s", s->o.url, err);
			continue;
		}
		if (seen_has(s, c.key) || !in_window(s, &c))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = vp_xrealloc(v, cap * sizeof(*v));
		}
		c.idx = (unsigned)n;
		v[n++] = c;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cand_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && v[i].key == v[i - 1].key)
			continue;	/* the same event twice in one page */
		if (s->newest.has_time && time_cmp(v[i].sec, v[i].nsec,
		    s->newest.sec, s->newest.nsec) < 0)
			vp_warn("event %d is older than event %d already "
			    "emitted; emitting it late rather than losing it",
			    (int)v[i].key, (int)s->newest.key);
		emit(s, &v[i]);
	}
	free(v);
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
	s->logged_in = 0;
	s->collector[0] = '\0';
	s->filter[0] = '\0';
	soap_reset_session(&s->soap);
	return STEP_RETRY;
}

static enum step
login(struct state *s)
{
	xmlNodePtr ret, about;
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
	return STEP_OK;
}

/* vCenter's own clock, so --begin does not depend on ours. */
static enum step
server_time(struct state *s, int64_t *sec, int32_t *nsec)
{
	xmlNodePtr ret;
	enum soap_result r;
	xmlChar *t;
	int bad;

	r = soap_call(&s->soap, "CurrentTime", "ServiceInstance",
	    "ServiceInstance", NULL, 0, &ret);
	if (r != SOAP_OK)
		return call_failed(s, r);
	t = ret ? xmlNodeGetContent(ret) : NULL;
	bad = t == NULL || vp_parse_rfc3339((const char *)t, sec, nsec) != 0;
	xmlFree(t);
	if (bad) {
		vp_warn("%s: CurrentTime: unparsable time", s->o.url);
		return STEP_RETRY;
	}
	return STEP_OK;
}

static enum step
create_collector(struct state *s)
{
	struct vp_buf b = { 0 };
	xmlNodePtr ret;
	enum soap_result r;
	char ts[64], body[512];
	struct pos begin = s->start;

	if (s->newest.has_time) {
		/* again from a margin before the newest event emitted, but
		 * not from before what the key ring still holds: older keys
		 * are forgotten and would be emitted twice */
		begin.sec = s->newest.sec - REREAD_MARGIN_S;
		begin.nsec = s->newest.nsec;
		if (s->forgot.has_time && time_cmp(begin.sec, begin.nsec,
		    s->forgot.sec, s->forgot.nsec) <= 0) {
			begin.sec = s->forgot.sec;
			begin.nsec = s->forgot.nsec + 1;
			if (begin.nsec == 1000000000) {
				begin.sec++;
				begin.nsec = 0;
			}
		}
		if (s->start.has_time && time_cmp(begin.sec, begin.nsec,
		    s->start.sec, s->start.nsec) < 0)
			begin = s->start;
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
	r = soap_call(&s->soap, "CreateCollectorForEvents", "EventManager",
	    s->event_manager, b.data, 0, &ret);
	vp_buf_free(&b);
	if (r != SOAP_OK)
		return call_failed(s, r);
	if (ret == NULL) {
		vp_warn("%s: CreateCollectorForEvents returned nothing", s->o.url);
		return STEP_RETRY;
	}
	{
		xmlChar *t = xmlNodeGetContent(ret);
		snprintf(s->collector, sizeof(s->collector), "%s",
		    t ? (const char *)t : "");
		xmlFree(t);
	}
	snprintf(body, sizeof(body), "<maxCount>%d</maxCount>", s->o.page);
	r = soap_call(&s->soap, "SetCollectorPageSize", "EventHistoryCollector",
	    s->collector, body, 0, &ret);
	if (r != SOAP_OK)
		return call_failed(s, r);

	b = (struct vp_buf){ 0 };
	vp_buf_printf(&b, "<spec><propSet><type>EventHistoryCollector</type>"
	    "<all>false</all><pathSet>latestPage</pathSet></propSet>"
	    "<objectSet><obj type=\"EventHistoryCollector\">");
	soap_xml_escape(&b, s->collector);
	vp_buf_printf(&b, "</obj><skip>false</skip></objectSet></spec>"
	    "<partialUpdates>false</partialUpdates>");
	r = soap_call(&s->soap, "CreateFilter", "PropertyCollector",
	    s->property_collector, b.data, 0, &ret);
	vp_buf_free(&b);
	if (r != SOAP_OK)
		return call_failed(s, r);
	{
		xmlChar *t = ret ? xmlNodeGetContent(ret) : NULL;
		snprintf(s->filter, sizeof(s->filter), "%s",
		    t ? (const char *)t : "");
		xmlFree(t);
	}
	s->pc_version[0] = '\0';
	vp_debug("collector %s, filter %s", s->collector, s->filter);
	return STEP_OK;
}

/* ReadNextEvents until the collector says there is nothing more. */
static enum step
read_forward(struct state *s)
{
	char body[64];

	snprintf(body, sizeof(body), "<maxCount>%d</maxCount>", s->o.read_size);
	for (;;) {
		xmlNodePtr ret;
		enum soap_result r = soap_call(&s->soap, "ReadNextEvents",
		    "EventHistoryCollector", s->collector, body, 0, &ret);

		if (r != SOAP_OK)
			return call_failed(s, r);
		if (ret == NULL)
			return STEP_OK;
		emit_batch(s, ret, "returnval");
		if (vp_stop_requested)
			return STEP_DONE;
	}
}

/*
 * Wait for latestPage to change (or the wait to time out), then read
 * forward; events seen only in latestPage (servers whose collectors do not
 * move forward, like govmomi's simulator) are emitted from the update.
 */
static enum step
wait_and_read(struct state *s, int wait_s)
{
	struct vp_buf b = { 0 };
	xmlNodePtr ret, page = NULL;
	enum soap_result r;
	enum step st;
	xmlDocPtr keep = NULL;

	vp_buf_append(&b, "<version>", 9);
	soap_xml_escape(&b, s->pc_version);
	vp_buf_printf(&b, "</version><options><maxWaitSeconds>%d</maxWaitSeconds>"
	    "</options>", wait_s);
	/* the answer is silent for up to wait_s by design: not a stall */
	s->soap.quiet_s = wait_s;
	r = soap_call(&s->soap, "WaitForUpdatesEx", "PropertyCollector",
	    s->property_collector, b.data,
	    (long)(wait_s + s->soap.stall_s) * 1000, &ret);
	vp_buf_free(&b);
	if (r != SOAP_OK)
		return call_failed(s, r);
	if (ret != NULL) {
		char v[256];

		if (soap_child_text(ret, "version", v, sizeof(v)))
			snprintf(s->pc_version, sizeof(s->pc_version), "%s", v);
		for (xmlNodePtr fs = soap_child(ret, "filterSet"); fs;
		    fs = soap_next_named(fs, "filterSet"))
			for (xmlNodePtr os = soap_child(fs, "objectSet"); os;
			    os = soap_next_named(os, "objectSet"))
				for (xmlNodePtr cs = soap_child(os, "changeSet");
				    cs; cs = soap_next_named(cs, "changeSet")) {
					char name[64];
					if (soap_child_text(cs, "name", name,
					    sizeof(name)) &&
					    strcmp(name, "latestPage") == 0)
						page = soap_child(cs, "val");
				}
		if (page) {
			/* keep the update's document alive across the reads */
			keep = s->soap.doc;
			s->soap.doc = NULL;
		}
	}
	st = read_forward(s);
	if (st == STEP_OK && page)
		emit_batch(s, soap_child(page, NULL), NULL);
	if (keep)
		xmlFreeDoc(keep);
	return st;
}

/* ---- start position ------------------------------------------------------------ */

/* Read a checkpoint written by a sink (vcpipe-formats(5)). 0 found, 1 absent. */
static int
read_checkpoint(struct state *s, const char *path)
{
	json_error_t je;
	json_t *o, *t, *k, *src;
	size_t len;
	char *text = vp_read_file(path, 1 << 20, &len);

	if (text == NULL) {
		if (errno == ENOENT)
			return 1;
		vp_die(VP_EXIT_NOINPUT, "%s: %s", path, strerror(errno));
	}
	o = json_loadb(text, len, 0, &je);
	free(text);
	if (o == NULL || !json_is_object(o))
		vp_die(VP_EXIT_DATAERR, "%s:%d: not a checkpoint: %s", path,
		    o ? 1 : je.line, o ? "not a JSON object" : je.text);
	t = json_object_get(o, "time");
	k = json_object_get(o, "key");
	src = json_object_get(o, "source");
	if (!json_is_string(t) || vp_parse_rfc3339(json_string_value(t),
	    &s->start.sec, &s->start.nsec) != 0)
		vp_die(VP_EXIT_DATAERR, "%s: checkpoint: \"time\" is not an "
		    "RFC 3339 string", path);
	s->start.has_time = 1;
	if (k != NULL && !json_is_null(k)) {
		json_int_t kv = json_is_integer(k) ? json_integer_value(k) : 0;
		if (!json_is_integer(k) || kv < INT32_MIN || kv > INT32_MAX)
			vp_die(VP_EXIT_DATAERR, "%s: checkpoint: \"key\" is not "
			    "an int32", path);
		s->start.has_key = 1;
		s->start.key = (int32_t)kv;
	}
	if (json_is_string(src) && strcmp(json_string_value(src), s->o.url) != 0)
		vp_warn("%s: checkpoint source %s is not %s; resuming from its "
		    "time anyway", path, json_string_value(src), s->o.url);
	json_decref(o);
	return 0;
}

/* Work out where reading starts; needs a session for --begin and "now". */
static enum step
resolve_start(struct state *s)
{
	int64_t sec;
	int32_t nsec;
	enum step st;

	if (s->start.has_time)
		return STEP_OK;
	if (s->o.since) {
		if (vp_parse_rfc3339(s->o.since, &s->start.sec,
		    &s->start.nsec) != 0)
			vp_usage_error("--since: not an RFC 3339 time: %s",
			    s->o.since);
		s->start.has_time = 1;
		return STEP_OK;
	}
	if ((st = server_time(s, &sec, &nsec)) != STEP_OK)
		return st;
	if (s->o.begin_ms >= 0) {
		int64_t ns = (int64_t)nsec - (s->o.begin_ms % 1000) * 1000000;
		sec -= s->o.begin_ms / 1000;
		if (ns < 0) {
			ns += 1000000000;
			sec--;
		}
		nsec = (int32_t)ns;
	}
	s->start.sec = sec;
	s->start.nsec = nsec;
	s->start.has_time = 1;
	{
		char ts[64];
		vp_format_rfc3339(sec, nsec, ts, sizeof(ts));
		vp_info("%s: reading events from %s (vCenter's clock)", s->o.url,
		    ts);
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
	if (!s->collector[0] && (st = create_collector(s)) != STEP_OK)
		return st;
	if ((st = read_forward(s)) != STEP_OK)
		return st;
	/* logged in, collector made, read: this session works */
	vp_backoff_reset(&s->bo);
	if (s->o.once)
		return STEP_DONE;
	for (;;) {
		if (vp_stop_requested)
			return STEP_DONE;
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
		}
		if ((st = wait_and_read(s, s->o.wait_s)) != STEP_OK)
			return st;
	}
}

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

static int
parse_int(const char *opt, const char *v, int lo, int hi)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < lo || n > hi)
		vp_usage_error("%s: expected a number from %d to %d, got \"%s\"",
		    opt, lo, hi, v);
	return (int)n;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "begin", required_argument, NULL, 'b' },
		{ "ca-file", required_argument, NULL, 'A' },
		{ "checkpoint", required_argument, NULL, 'c' },
		{ "credentials-file", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "insecure", no_argument, NULL, 'k' },
		{ "log-json", no_argument, NULL, 'J' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "once", no_argument, NULL, '1' },
		{ "page-size", required_argument, NULL, 'p' },
		{ "read-size", required_argument, NULL, 'r' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "url", required_argument, NULL, 'U' },
		{ "version", no_argument, NULL, 'V' },
		{ "wait-seconds", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	static struct state st;
	struct state *s = &st;
	char err[512];
	int ch, failures = 0;
	long stall_s = 0;
	const char *e;
	enum step step;

	vp_log_init(argv[0]);
	s->o.begin_ms = -1;
	s->o.page = DEFAULT_PAGE;
	s->o.read_size = DEFAULT_READ;
	s->o.wait_s = DEFAULT_WAIT;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case '1':
			s->o.once = 1;
			break;
		case 'A':
			s->o.tls.ca_file = optarg;
			break;
		case 'b':
			if ((s->o.begin_ms = vp_parse_duration_ms(optarg)) < 0)
				vp_usage_error("--begin: not a duration (like "
				    "90s, 10m, 1h): %s", optarg);
			break;
		case 'C':
			s->o.cred_path = optarg;
			break;
		case 'c':
			s->o.checkpoint = optarg;
			break;
		case 'h':
			usage_help();
			return VP_EXIT_OK;
		case 'J':
			vp_log_set_json(1);
			break;
		case 'k':
			s->o.tls.insecure = 1;
			break;
		case 'L':
			vp_log_level_option(optarg);
			break;
		case 'p':
			s->o.page = parse_int("--page-size", optarg, 1, 1000);
			break;
		case 'r':
			s->o.read_size = parse_int("--read-size", optarg, 1,
			    1000);
			break;
		case 's':
			s->o.since = optarg;
			break;
		case 'u':
			s->o.until = optarg;
			break;
		case 'U':
			s->o.url = optarg;
			break;
		case 'V':
			vp_print_versions("vc-source", vim_libxml2_version());
			return VP_EXIT_OK;
		case 'w':
			s->o.wait_s = parse_int("--wait-seconds", optarg, 1, 3600);
			break;
		default:
			fputs(usage_text, stderr);
			return VP_EXIT_USAGE;
		}
	}
	if (optind != argc)
		vp_usage_error("unexpected argument \"%s\"", argv[optind]);
	if (s->o.url == NULL)
		vp_usage_error("--url is required (https://VCENTER/sdk)");
	s->o.url = url_arg(s->o.url);
	if ((e = getenv("VC_SOURCE_STALL_SECONDS")) != NULL)
		stall_s = parse_int("VC_SOURCE_STALL_SECONDS", e, 1, 3600);
	if (s->o.since && s->o.begin_ms >= 0)
		vp_usage_error("--since and --begin exclude each other");
	if (s->o.until) {
		if (vp_parse_rfc3339(s->o.until, &s->until.sec,
		    &s->until.nsec) != 0)
			vp_usage_error("--until: not an RFC 3339 time: %s",
			    s->o.until);
		s->until.has_time = 1;
	}
	if (s->o.since) {
		int64_t sec;
		int32_t nsec;
		if (vp_parse_rfc3339(s->o.since, &sec, &nsec) != 0)
			vp_usage_error("--since: not an RFC 3339 time: %s",
			    s->o.since);
	}
	switch (vp_read_credentials(s->o.cred_path, "VC_USERNAME", "VC_PASSWORD",
	    &s->user, &s->pass, err, sizeof(err))) {
	case 0:
		break;
	case -1:
		vp_die(s->o.cred_path ? VP_EXIT_NOINPUT : VP_EXIT_CONFIG,
		    "credentials: %s", err);
	default:
		vp_die(VP_EXIT_CONFIG, "credentials: %s", err);
	}
	/* a checkpoint wins over --begin/--since: it is where we left off */
	if (s->o.checkpoint && read_checkpoint(s, s->o.checkpoint) == 1)
		vp_info("%s: no checkpoint yet; starting as if none was given",
		    s->o.checkpoint);

	vp_signals_init();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	xmlInitParser();
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
	vp_buf_free(&s->line);
	xmlCleanupParser();
	curl_global_cleanup();
	vp_info("%s: %lu events emitted", s->o.url, s->emitted);
	free((char *)s->o.url);
	if (vp_close_stdout() != 0)
		return VP_EXIT_IOERR;
	return VP_EXIT_OK;
}
