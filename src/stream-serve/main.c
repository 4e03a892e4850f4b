/*
 * stream-serve: the vSphere Event Streaming API as a pipeline sink.
 *
 * CloudEvent lines from stdin (structured or binary, vcpipe-formats(5); read
 * by src/lib/ce.c as every stage reads them) go into a bounded log of
 * structured events whose offsets are the events' keys (the eventkey
 * extension), so offsets
 * stay equal to vCenter event keys even when keys have gaps.  The log is
 * served with the HTTP API and error responses of
 * vmware-samples/vsphere-event-streaming: GET /api/v1/range,
 * /api/v1/events (last page), /api/v1/events/{id} and
 * /api/v1/events?watch=true[&offset=N] (NDJSON stream), plus a live event
 * viewer page at /.  Watchers are suspended connections on a thread pool:
 * an idle watcher costs no thread, and every append wakes them.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ce.h"
#include "httpd.h"
#include "opt.h"
#include "vp.h"
#include "help/stream-serve.h"

extern const char viewer_html[];

#define API "/api/v1"

static struct {
	const char *state;
	size_t max_events, max_record, page;
	int threads, max_watchers;
	int64_t watch_ms;
} opt;

/* no request takes a body (max_body 0) */
static struct httpd_conf srv;

struct rec {
	long long off;
	char *data;
	size_t len;
};

struct watcher {
	struct MHD_Connection *c;
	long long next;		/* lowest offset not yet sent */
	int any;		/* empty log at start: the first event, any key */
	int64_t deadline;	/* monotonic ms; 0 = none */
	char *pend;		/* a record larger than one write, in parts */
	size_t plen, poff;
	int suspended;
	struct watcher *snext;	/* on the suspended list */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct rec *ring;
static size_t rhead, rcount;
static long long last_purged = LLONG_MIN;
static int have_purged;
static struct watcher *suspended;
static int stopping;
static int state_fd = -1;
static size_t state_lines;
static atomic_ulong nwatchers;

/* ---- the log -------------------------------------------------------------- */

static struct rec *
rec_at(size_t i)
{
	return &ring[(rhead + i) % opt.max_events];
}

/* Index of the first record with offset >= off (rcount when none). */
static size_t
lower_bound(long long off)
{
	size_t lo = 0, hi = rcount;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rec_at(mid)->off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Rewrite the state file from the log (it only ever holds the log twice). */
static void
state_compact(void)
{
	struct vp_buf b = { 0 };

	for (size_t i = 0; i < rcount; i++) {
		struct rec *r = rec_at(i);

		vp_buf_printf(&b, "%lld\t", r->off);
		vp_buf_append(&b, r->data, r->len);
		vp_buf_append(&b, "\n", 1);
	}
	if (vp_write_file_atomic(opt.state, b.data ? b.data : "", b.len) != 0) {
		vp_warn("%s: cannot rewrite: %s", opt.state, strerror(errno));
	} else {
		close(state_fd);
		state_fd = open(opt.state, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (state_fd < 0)
			vp_warn("%s: %s", opt.state, strerror(errno));
		state_lines = rcount;
	}
	vp_buf_free(&b);
}

static void
state_append(long long off, const char *data, size_t len)
{
	struct vp_buf b = { 0 };

	if (state_fd < 0)
		return;
	vp_buf_printf(&b, "%lld\t", off);
	vp_buf_append(&b, data, len);
	vp_buf_append(&b, "\n", 1);
	/* one write per record: a crash leaves at most one torn last line */
	if (write(state_fd, b.data, b.len) != (ssize_t)b.len)
		vp_warn("%s: %s", opt.state, strerror(errno));
	vp_buf_free(&b);
	if (++state_lines >= 2 * opt.max_events)
		state_compact();
}

/*
 * Append a record (data is taken over).  Returns 0, or -1 when the offset
 * is not past the latest one (a replayed or out-of-order event).
 * Called with the lock held.
 */
static int
log_append(long long off, char *data, size_t len, int persist)
{
	struct rec *r;

	if (rcount > 0 && off <= rec_at(rcount - 1)->off)
		return -1;
	if (rcount == opt.max_events) {
		r = rec_at(0);
		last_purged = r->off;
		have_purged = 1;
		free(r->data);
		rhead = (rhead + 1) % opt.max_events;
		rcount--;
	}
	r = rec_at(rcount);
	r->off = off;
	r->data = data;
	r->len = len;
	rcount++;
	if (persist)
		state_append(off, data, len);
	return 0;
}

static void
state_load(void)
{
	size_t len, bad = 0;
	char *buf = vp_read_file(opt.state, SIZE_MAX, &len), *p, *nl;

	if (buf == NULL && errno != ENOENT)
		vp_die(VP_EXIT_NOINPUT, "%s: %s", opt.state, strerror(errno));
	for (p = buf; p && p < buf + len; p = nl + 1) {
		char *tab, *end;
		long long off;

		if ((nl = memchr(p, '\n', (size_t)(buf + len - p))) == NULL)
			break;	/* a torn last line from a crash */
		*nl = '\0';
		errno = 0;
		off = strtoll(p, &end, 10);
		tab = end;
		if (errno || *tab != '\t' || end == p || nl - tab < 3) {
			bad++;
			continue;
		}
		if (log_append(off, vp_xstrdup(tab + 1), (size_t)(nl - tab - 1),
		    0) != 0)
			bad++;
		state_lines++;
	}
	free(buf);
	if (bad)
		vp_warn("%s: %zu unusable line(s) skipped", opt.state, bad);
	if (rcount)
		vp_info("%s: %zu event(s) restored, offsets %lld..%lld",
		    opt.state, rcount, rec_at(0)->off, rec_at(rcount - 1)->off);
	state_fd = open(opt.state, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0600);
	if (state_fd < 0)
		vp_die(VP_EXIT_NOINPUT, "%s: %s", opt.state, strerror(errno));
	/* drop what the bound purged and any torn tail */
	state_compact();
}

/* Wake every suspended watcher (after an append, a tick, or to stop). */
static void
wake_all(void)
{
	struct watcher *w, *list;

	pthread_mutex_lock(&lock);
	list = suspended;
	suspended = NULL;
	for (w = list; w; w = w->snext)
		w->suspended = 0;
	pthread_mutex_unlock(&lock);
	/* a suspended connection cannot go away, so the list stays valid */
	while (list) {
		w = list;
		list = w->snext;
		MHD_resume_connection(w->c);
	}
}

/* ---- input ---------------------------------------------------------------- */

/* One input line to the record text and its offset; -1 to skip it. */
static int
parse_line(struct ce_event *ev, const char *line, size_t len,
    unsigned long lineno, char **data, size_t *dlen, long long *off,
    int *has_off)
{
	struct vp_buf b = { 0 };

	if (ce_read(ev, line, len, 0) != CE_OK) {
		vp_warn("stdin:%lu: %s", lineno, ev->err);
		return -1;
	}
	*has_off = ev->has_key;
	*off = ev->key;
	if (ev->shape == CE_SHAPE_STRUCTURED) {
		/* the event as it was written, without blanks */
		struct js_span t = { ev->text, ev->text_len, JS_OBJECT, 1, 0 };

		js_compact(&t, &b);
	} else	/* binary-mode lines: the structured event they hold */
		ce_write_structured(ev, &b);
	if (b.len > opt.max_record) {
		vp_warn("stdin:%lu: event of %zu bytes is over --max-record",
		    lineno, b.len);
		vp_buf_free(&b);
		return -1;
	}
	*data = b.data;
	*dlen = b.len;
	return 0;
}

static atomic_int input_done;

static void *
reader(void *arg)
{
	struct vp_linereader lr;
	struct ce_event ev;
	enum vp_line_status st;
	size_t len;
	unsigned long n = 0, skipped = 0;

	(void)arg;
	ce_event_init(&ev);
	vp_linereader_init(&lr, stdin, opt.max_record + 4096);
	while ((st = vp_read_line(&lr, &len)) != VP_LINE_EOF) {
		char *data;
		size_t dlen;
		long long off = 0;
		int has_off, rc;

		if (st == VP_LINE_ERROR) {
			vp_error("stdin: %s", strerror(errno));
			break;
		}
		if (st == VP_LINE_TOOLONG) {
			vp_warn("stdin:%lu: line over --max-record skipped",
			    lr.lineno);
			skipped++;
			continue;
		}
		if (len == 0)
			continue;
		if (parse_line(&ev, lr.buf, len, lr.lineno, &data, &dlen, &off,
		    &has_off) != 0) {
			skipped++;
			continue;
		}
		pthread_mutex_lock(&lock);
		if (!has_off)	/* no key: the next offset */
			off = rcount ? rec_at(rcount - 1)->off + 1 : 0;
		rc = log_append(off, data, dlen, 1);
		pthread_mutex_unlock(&lock);
		if (rc != 0) {
			vp_info("stdin:%lu: offset %lld is not after the latest "
			    "one: replayed event skipped", lr.lineno, off);
			free(data);
			skipped++;
			continue;
		}
		n++;
		wake_all();
	}
	vp_linereader_free(&lr);
	ce_event_free(&ev);
	vp_info("input ended after %lu event(s) (%lu skipped); still serving",
	    n, skipped);
	input_done = 1;
	return NULL;
}

/* ---- HTTP ----------------------------------------------------------------- */

static enum MHD_Result
reply_json(struct MHD_Connection *c, const char *body, size_t len)
{
	return httpd_reply(c, MHD_HTTP_OK, "application/json", body, len);
}

static enum MHD_Result
get_range(struct MHD_Connection *c)
{
	char buf[96];
	int n;

	pthread_mutex_lock(&lock);
	if (rcount == 0) {
		pthread_mutex_unlock(&lock);
		return httpd_reply(c, MHD_HTTP_NO_CONTENT, NULL, "", 0);
	}
	n = snprintf(buf, sizeof(buf), "{\"earliest\":%lld,\"latest\":%lld}\n",
	    rec_at(0)->off, rec_at(rcount - 1)->off);
	pthread_mutex_unlock(&lock);
	return reply_json(c, buf, (size_t)n);
}

static enum MHD_Result
get_page(struct MHD_Connection *c)
{
	struct vp_buf b = { 0 };
	enum MHD_Result ret;
	size_t first;

	pthread_mutex_lock(&lock);
	if (rcount == 0) {
		pthread_mutex_unlock(&lock);
		return httpd_reply(c, MHD_HTTP_NO_CONTENT, NULL, "", 0);
	}
	/* the last page: up to page-size offsets ending at the latest */
	first = lower_bound(rec_at(rcount - 1)->off - (long long)opt.page + 1);
	vp_buf_append(&b, "[", 1);
	for (size_t i = first; i < rcount; i++) {
		if (i > first)
			vp_buf_append(&b, ",", 1);
		vp_buf_append(&b, rec_at(i)->data, rec_at(i)->len);
	}
	pthread_mutex_unlock(&lock);
	vp_buf_append(&b, "]", 1);
	ret = reply_json(c, b.data, b.len);
	vp_buf_free(&b);
	return ret;
}

/* strconv.Atoi's grammar: optional sign, decimal digits. */
static int
parse_offset(const char *s, long long *v)
{
	char *end;

	if (s == NULL || *s == '\0' || (*s != '-' && *s != '+' &&
	    (*s < '0' || *s > '9')))
		return -1;
	errno = 0;
	*v = strtoll(s, &end, 10);
	return (*end != '\0' || errno) ? -1 : 0;
}

static enum MHD_Result
get_event(struct MHD_Connection *c, const char *id)
{
	long long off;
	size_t i;
	struct rec *r;
	enum MHD_Result ret;
	char *copy;
	size_t len;
	char msg[96];

	if (parse_offset(id, &off) != 0)
		return httpd_error(c, MHD_HTTP_BAD_REQUEST, "invalid offset");
	pthread_mutex_lock(&lock);
	if (rcount == 0 || off > rec_at(rcount - 1)->off) {
		pthread_mutex_unlock(&lock);
		return httpd_error(c, MHD_HTTP_BAD_REQUEST,
		    "invalid offset: future offset");
	}
	if (off < rec_at(0)->off) {
		pthread_mutex_unlock(&lock);
		return httpd_error(c, MHD_HTTP_BAD_REQUEST,
		    "invalid offset: offset out of range");
	}
	i = lower_bound(off);
	r = rec_at(i);
	if (r->off != off) {
		pthread_mutex_unlock(&lock);
		snprintf(msg, sizeof(msg), "no event with offset %lld (a gap "
		    "in the event keys)", off);
		return httpd_error(c, MHD_HTTP_NOT_FOUND, msg);
	}
	len = r->len;
	copy = vp_xmalloc(len);
	memcpy(copy, r->data, len);
	pthread_mutex_unlock(&lock);
	ret = reply_json(c, copy, len);
	free(copy);
	return ret;
}

static ssize_t
watch_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct watcher *w = cls;
	size_t n = 0, i;

	(void)pos;
	if (w->poff < w->plen) {
		n = w->plen - w->poff < max ? w->plen - w->poff : max;
		memcpy(buf, w->pend + w->poff, n);
		w->poff += n;
		return (ssize_t)n;
	}
	pthread_mutex_lock(&lock);
	if (stopping || (w->deadline && vp_now_ms() >= w->deadline)) {
		pthread_mutex_unlock(&lock);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	if (!w->any && have_purged && last_purged >= w->next) {
		/* the watcher fell behind the bound: do not skip silently */
		pthread_mutex_unlock(&lock);
		vp_warn("watcher at offset %lld fell behind the log (purged up "
		    "to %lld): stream ended", w->next, last_purged);
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	i = w->any ? 0 : lower_bound(w->next);
	if (i == rcount) {
		w->suspended = 1;
		w->snext = suspended;
		suspended = w;
		MHD_suspend_connection(w->c);
		pthread_mutex_unlock(&lock);
		return 0;
	}
	w->any = 0;
	for (; i < rcount; i++) {
		struct rec *r = rec_at(i);

		if (r->len + 1 > max - n)
			break;
		memcpy(buf + n, r->data, r->len);
		buf[n + r->len] = '\n';
		n += r->len + 1;
		w->next = r->off + 1;
	}
	if (n == 0) {
		/* a record larger than MHD's buffer goes out in parts */
		struct rec *r = rec_at(i);

		free(w->pend);
		w->pend = vp_xmalloc(r->len + 1);
		memcpy(w->pend, r->data, r->len);
		w->pend[r->len] = '\n';
		w->plen = r->len + 1;
		w->next = r->off + 1;
		n = max < w->plen ? max : w->plen;
		memcpy(buf, w->pend, n);
		w->poff = n;
	}
	pthread_mutex_unlock(&lock);
	return (ssize_t)n;
}

static void
watch_free(void *cls)
{
	struct watcher *w = cls;

	free(w->pend);
	free(w);
	nwatchers--;
}

static enum MHD_Result
watch(struct MHD_Connection *c, const char *offset)
{
	struct watcher *w;
	struct MHD_Response *r;
	enum MHD_Result ret;
	long long off = 0;

	if (offset && *offset && parse_offset(offset, &off) != 0)
		return httpd_error(c, MHD_HTTP_BAD_REQUEST, "invalid offset");
	/* watchers hold their connection for long: keep room for the rest */
	if (atomic_fetch_add(&nwatchers, 1) >= (unsigned long)opt.max_watchers) {
		char peer[64];

		nwatchers--;
		httpd_peer(c, peer, sizeof(peer));
		vp_info("%s: 503 watch refused: %d watchers already "
		    "(--max-watchers)", peer, opt.max_watchers);
		return httpd_error_hdr(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "too many watchers", "Retry-After", "10");
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL) {
		nwatchers--;
		return MHD_NO;
	}
	w->c = c;
	pthread_mutex_lock(&lock);
	if (offset && *offset) {
		if (rcount > 0 && off < rec_at(0)->off) {
			pthread_mutex_unlock(&lock);
			free(w);
			nwatchers--;
			return httpd_error(c, MHD_HTTP_BAD_REQUEST,
			    "invalid offset: offset out of range");
		}
		w->next = off;
	} else if (rcount > 0)
		w->next = rec_at(rcount - 1)->off + 1;
	else
		w->any = 1;	/* nothing yet: whatever key comes first */
	pthread_mutex_unlock(&lock);
	if (opt.watch_ms > 0)
		w->deadline = vp_now_ms() + opt.watch_ms;
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024,
	    watch_read, w, watch_free);
	if (r == NULL) {
		free(w);
		nwatchers--;
		return MHD_NO;
	}
	if (w->any)
		vp_debug("watch started: from the first event to come");
	else
		vp_debug("watch started: from offset %lld", w->next);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "application/json");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Cache-Control", "no-cache");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
handle(struct MHD_Connection *c, const struct httpd_req *q)
{
	static int first_call_marker;
	const char *url = q->url, *method = q->method, *w;

	if (*q->ctx == NULL) {
		/* answer once the request (and any body) is in */
		*q->ctx = &first_call_marker;
		return MHD_YES;
	}
	if (*q->upload_size) {
		*q->upload_size = 0;	/* GET bodies are ignored */
		return MHD_YES;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return httpd_error_hdr(c, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "Method Not Allowed", "Allow", "GET, HEAD");
	if (strcmp(url, "/") == 0)
		return httpd_reply(c, MHD_HTTP_OK, "text/html; charset=utf-8",
		    viewer_html, strlen(viewer_html));
	if (strcmp(url, API "/range") == 0)
		return get_range(c);
	if (strcmp(url, API "/events") == 0) {
		w = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
		    "watch");
		if (w == NULL || *w == '\0')
			return get_page(c);
		if (strcmp(w, "true") != 0)
			return httpd_error(c, MHD_HTTP_BAD_REQUEST,
			    "invalid watch parameter");
		if (stopping)
			return httpd_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
			    "shutting down");
		return watch(c, MHD_lookup_connection_value(c,
		    MHD_GET_ARGUMENT_KIND, "offset"));
	}
	if (strncmp(url, API "/events/", sizeof(API "/events/") - 1) == 0 &&
	    url[sizeof(API "/events/") - 1] != '\0' &&
	    strchr(url + sizeof(API "/events/") - 1, '/') == NULL)
		return get_event(c, url + sizeof(API "/events/") - 1);
	return httpd_error(c, MHD_HTTP_NOT_FOUND, "404 page not found");
}

/* Ask watchers past their deadline to finish; they re-check when woken. */
static void
tick(void)
{
	int64_t now = vp_now_ms();
	int due = 0;

	pthread_mutex_lock(&lock);
	for (struct watcher *w = suspended; w; w = w->snext)
		if (w->deadline && now >= w->deadline)
			due = 1;
	pthread_mutex_unlock(&lock);
	if (due)
		wake_all();
}

/* options: src/stream-serve/options.tab */
#include "opts/stream-serve.h"

/* --help: help/stream-serve.h, made of man/stream-serve.1 */
static const struct vp_cmd cmd = VP_PROGRAM(options, VP_LIBS(VP_LIB_MHD));

int
main(int argc, char **argv)
{
	struct MHD_OptionItem mopts[2];
	struct MHD_Daemon *d;
	pthread_t rt;
	sigset_t block, old;
	int64_t deadline;

	vp_opt_parse(&cmd, argc, argv);
	httpd_load(&srv);
	ring = vp_xmalloc(opt.max_events * sizeof(*ring));
	if (opt.state)
		state_load();

	vp_signals_init();
	mopts[0] = (struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE,
	    (unsigned)opt.threads, NULL };
	mopts[1] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	srv.cb = handle;
	srv.flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
	srv.opts = mopts;
	d = httpd_listen(&srv, "%zu event(s) kept", opt.max_events);

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	if (pthread_create(&rt, NULL, reader, NULL) != 0)
		vp_die(VP_EXIT_SOFTWARE, "cannot start the input thread");
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_detach(rt);

	while (!vp_stop_requested) {
		vp_sleep_ms(1000);
		tick();
	}

	/* end every stream, then stop; suspended watchers must be resumed */
	pthread_mutex_lock(&lock);
	stopping = 1;
	pthread_mutex_unlock(&lock);
	httpd_quiesce(d);
	wake_all();
	deadline = vp_now_ms() + 2000;
	while (nwatchers > 0 && vp_now_ms() < deadline) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		wake_all();
		nanosleep(&ts, NULL);
	}
	httpd_stop(d);
	pthread_mutex_lock(&lock);
	/* leave exactly the kept events behind (the rewrite is fsynced) */
	if (state_fd >= 0)
		state_compact();
	vp_info("stopped with %zu event(s) in the log", rcount);
	pthread_mutex_unlock(&lock);
	return VP_EXIT_OK;
}
