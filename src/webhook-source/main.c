/*
 * webhook-source: receive CloudEvents over HTTP and write each to stdout as
 * one structured-mode CloudEvent line (vcpipe-formats(5)).
 *
 * Binary mode (ce-* headers), structured mode (application/cloudevents+json)
 * and batches (application/cloudevents-batch+json) are accepted, plus the
 * CloudEvents webhook OPTIONS handshake.  Requests are read by src/lib/ce.c,
 * as every stage reads lines, so an event refused here (400) is exactly one
 * the pipeline would refuse.  The sender gets its 2xx only after the line is
 * written and flushed, so a slow or stopped next stage pushes back on the
 * sender instead of piling events up in memory.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "ce.h"
#include "httpd.h"
#include "opt.h"
#include "vp.h"
#include "help/webhook-source.h"

#define MAX_ORIGINS 16
#define MAX_HEADERS 64

static struct httpd_conf srv;

static struct {
	const char *path;
	int64_t drain_ms;
	struct vp_strlist origins;
	const char *rate;
	long rate_n;		/* requests per minute; 0 = no limit */
} opt = {
	.rate = "*",
};

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int inflight;
static atomic_int stopping;
static atomic_int out_failed;
static atomic_ulong accepted, rejected;

/* the --allowed-rate window: requests counted per wall-clock minute */
static pthread_mutex_t rate_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t rate_window;
static long rate_count;

/* Count a request; seconds until the next window when over the limit. */
static int
rate_exceeded(void)
{
	int64_t now = vp_now_ms(), win = now / 60000;
	int wait = 0;

	if (opt.rate_n == 0)
		return 0;
	pthread_mutex_lock(&rate_lock);
	if (win != rate_window) {
		rate_window = win;
		rate_count = 0;
	}
	if (++rate_count > opt.rate_n)
		wait = (int)((win + 1) * 60000 - now + 999) / 1000;
	pthread_mutex_unlock(&rate_lock);
	return wait;
}

struct req {
	struct vp_buf body;
	int too_large;
};

struct hdrs {
	struct ce_http_header h[MAX_HEADERS];
	size_t n;
	int overflow;
};

static enum MHD_Result
collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct hdrs *hs = cls;

	(void)kind;
	if (strncasecmp(key, "ce-", 3) != 0 &&
	    strcasecmp(key, "content-type") != 0)
		return MHD_YES;
	if (hs->n == MAX_HEADERS) {
		hs->overflow = 1;
		return MHD_NO;
	}
	hs->h[hs->n].name = key;
	hs->h[hs->n].value = value ? value : "";
	hs->n++;
	return MHD_YES;
}

static enum MHD_Result
reject(struct MHD_Connection *c, unsigned status, const char *msg)
{
	char peer[64];

	httpd_peer(c, peer, sizeof(peer));
	rejected++;
	vp_info("%s: %u %s", peer, status, msg);
	return httpd_error(c, status, msg);
}

/* The CloudEvents webhook abuse-protection handshake (HTTP Webhook spec 4). */
static enum MHD_Result
handshake(struct MHD_Connection *c)
{
	const char *origin, *cb;
	struct MHD_Response *r;
	enum MHD_Result ret;
	int allowed = opt.origins.n == 0;

	origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    "WebHook-Request-Origin");
	r = MHD_create_response_from_buffer(0, (void *)"",
	    MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Allow", "POST, OPTIONS");
	if (origin) {
		for (int i = 0; i < opt.origins.n; i++)
			if (strcasecmp(origin, opt.origins.v[i]) == 0)
				allowed = 1;
		if (!allowed) {
			MHD_destroy_response(r);
			return reject(c, MHD_HTTP_FORBIDDEN,
			    "webhook origin not allowed");
		}
		cb = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    "WebHook-Request-Callback");
		if (cb)
			vp_info("handshake from %s: answered directly, "
			    "callback URL not used", origin);
		MHD_add_response_header(r, "WebHook-Allowed-Origin", origin);
		MHD_add_response_header(r, "WebHook-Allowed-Rate", opt.rate);
	}
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* Write the lines, all under one lock so batches stay together. */
static int
emit(const struct vp_buf *out, size_t n)
{
	const char *p = out->data;
	int rc = 0;

	pthread_mutex_lock(&out_lock);
	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *nl = memchr(p, '\n', out->len - (size_t)(p - out->data));

		if (vp_write_line(stdout, p, (size_t)(nl - p)) != 0) {
			if (!out_failed)
				vp_error("stdout: %s", errno == EPIPE ?
				    "the next stage is gone" : strerror(errno));
			rc = -1;
		}
		p = nl + 1;
	}
	pthread_mutex_unlock(&out_lock);
	if (rc != 0) {
		out_failed = 1;
		vp_stop_requested = 1;
	}
	return rc;
}

/*
 * A structured-mode body (one event) or a batch (an array of them) as lines
 * in out: 0 and the count, or -1 with the reason in err.
 */
static int
read_structured(struct ce_event *ev, const char *body, size_t len, int batch,
    struct vp_buf *out, size_t *n, char *err, size_t errlen)
{
	struct js j;
	struct js_span v;
	int count = 0, rc;

	*n = 0;
	if (!batch) {
		if (ce_read(ev, body, len, CE_READ_STRUCTURED) != CE_OK) {
			snprintf(err, errlen, "%s", ev->err);
			return -1;
		}
		ce_write_structured(ev, out);
		vp_buf_append(out, "\n", 1);
		*n = 1;
		return 0;
	}
	js_init(&j, body, len);
	js_skip_ws(&j);
	if (j.p < j.end && *j.p != '[') {
		snprintf(err, errlen, "a CloudEvents batch is a JSON array");
		return -1;
	}
	if (js_array_begin(&j) != 0) {
		snprintf(err, errlen, "%s", j.err);
		return -1;
	}
	while ((rc = js_array_next(&j, &count, &v)) == 1) {
		if (ce_read(ev, v.p, v.len, CE_READ_STRUCTURED) != CE_OK) {
			snprintf(err, errlen, "event %d: %s", count - 1, ev->err);
			return -1;
		}
		ce_write_structured(ev, out);
		vp_buf_append(out, "\n", 1);
		(*n)++;
	}
	if (rc < 0 || js_end(&j) != 0) {
		snprintf(err, errlen, "%s", j.err);
		return -1;
	}
	return 0;
}

static enum MHD_Result
process(struct MHD_Connection *c, struct req *r)
{
	const char *ct, *body = r->body.data ? r->body.data : "";
	struct ce_event ev;
	struct vp_buf out = { 0 };
	size_t n = 0;
	char err[300];
	enum MHD_Result ret;
	int bad;

	ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	if (ct && (ce_media_is(ct, strlen(ct), "application/cloudevents+json") ||
	    ce_media_is(ct, strlen(ct), "application/cloudevents-batch+json"))) {
		ce_event_init(&ev);
		bad = read_structured(&ev, body, r->body.len, ce_media_is(ct,
		    strlen(ct), "application/cloudevents-batch+json"), &out, &n,
		    err, sizeof(err));
		ce_event_free(&ev);
		if (bad) {
			vp_buf_free(&out);
			return reject(c, MHD_HTTP_BAD_REQUEST, err);
		}
	} else if (ct && strncasecmp(ct, "application/cloudevents", 23) == 0) {
		return reject(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
		    "unsupported event format (only JSON: "
		    "application/cloudevents+json)");
	} else if (MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    "ce-specversion") != NULL) {
		struct hdrs hs = { .n = 0 };

		MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header,
		    &hs);
		if (hs.overflow)
			return reject(c, MHD_HTTP_BAD_REQUEST,
			    "too many ce- headers");
		ce_event_init(&ev);
		bad = ce_from_http(&ev, hs.h, hs.n, body, r->body.len) != CE_OK;
		if (bad)
			snprintf(err, sizeof(err), "%s", ev.err);
		else {
			ce_write_structured(&ev, &out);
			vp_buf_append(&out, "\n", 1);
			n = 1;
		}
		ce_event_free(&ev);
		if (bad)
			return reject(c, MHD_HTTP_BAD_REQUEST, err);
	} else if (ct) {
		return reject(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
		    "not a CloudEvent: no ce-specversion header (binary mode) "
		    "and Content-Type is not application/cloudevents+json "
		    "(structured mode)");
	} else {
		return reject(c, MHD_HTTP_BAD_REQUEST, "not a CloudEvent: no "
		    "ce-specversion header and no Content-Type");
	}
	if (emit(&out, n) != 0) {
		ret = httpd_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "event not accepted: output closed");
	} else {
		accepted += n;
		ret = httpd_reply(c, MHD_HTTP_NO_CONTENT, NULL, "", 0);
	}
	vp_buf_free(&out);
	return ret;
}

static enum MHD_Result
handle(struct MHD_Connection *c, const struct httpd_req *q)
{
	const char *url = q->url, *method = q->method;
	struct req *r = *q->ctx;

	if (r == NULL) {
		int wait;

		r = calloc(1, sizeof(*r));
		if (r == NULL)
			return MHD_NO;
		r->body.max = srv.max_body;
		*q->ctx = r;
		inflight++;
		/* reject early: no body is read for a request we refuse */
		if (strcmp(url, opt.path) != 0)
			return reject(c, MHD_HTTP_NOT_FOUND, "404 page not found");
		if (strcmp(method, "POST") != 0 &&
		    strcmp(method, "OPTIONS") != 0) {
			rejected++;
			return httpd_error_hdr(c, MHD_HTTP_METHOD_NOT_ALLOWED,
			    "Method Not Allowed", "Allow", "POST, OPTIONS");
		}
		if (stopping)
			return httpd_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
			    "shutting down");
		if (strcmp(method, "OPTIONS") == 0)
			return handshake(c);
		if ((wait = rate_exceeded()) > 0) {
			char ra[16];

			snprintf(ra, sizeof(ra), "%d", wait);
			rejected++;
			vp_info("POST %s: 429 over --allowed-rate", url);
			return httpd_error_hdr(c, MHD_HTTP_TOO_MANY_REQUESTS,
			    "rate limit exceeded", "Retry-After", ra);
		}
		return MHD_YES;
	}
	if (*q->upload_size > 0) {
		if (!r->too_large &&
		    vp_buf_append(&r->body, q->upload, *q->upload_size) != 0) {
			r->too_large = 1;
			vp_buf_free(&r->body);
		}
		*q->upload_size = 0;
		return MHD_YES;
	}
	if (r->too_large)
		return reject(c, MHD_HTTP_CONTENT_TOO_LARGE,
		    "request body too large");
	return process(c, r);
}

static void
completed(void *ctx)
{
	struct req *r = ctx;

	vp_buf_free(&r->body);
	free(r);
	inflight--;
}

/* ---- options ----------------------------------------------------------------- */

static int
path_arg(void *dest, const char *v, char *err, size_t errlen)
{
	if (v[0] != '/') {
		snprintf(err, errlen, "must start with /");
		return -1;
	}
	*(const char **)dest = v;
	return 0;
}

static int
rate_arg(void *dest, const char *v, char *err, size_t errlen)
{
	long long n;

	(void)dest;
	if (vp_parse_int(v, 1, LONG_MAX, &n, err, errlen) != 0) {
		snprintf(err, errlen, "expected requests per minute, a whole "
		    "number of at least 1, got \"%s\"", v);
		return -1;
	}
	opt.rate = v;
	opt.rate_n = (long)n;
	return 0;
}

/* options: src/webhook-source/options.tab */
#include "opts/webhook-source.h"

/* --help: help/webhook-source.h, made of man/webhook-source.1 */
static const struct vp_cmd cmd = VP_PROGRAM(options, VP_LIBS(VP_LIB_MHD));

int
main(int argc, char **argv)
{
	struct MHD_Daemon *d;
	int code = VP_EXIT_OK;
	int64_t deadline;

	vp_opt_parse(&cmd, argc, argv);
	httpd_load(&srv);

	vp_signals_init();
	vp_watch_stdout();
	srv.cb = handle;
	srv.completed = completed;
	/* a thread per connection: a connection blocked on a full pipe
	 * holds only itself, and the pipe's pressure reaches its sender */
	srv.flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ITC;
	d = httpd_listen(&srv, "path %s", opt.path);

	while (!vp_stop_requested)
		vp_sleep_ms(1000);

	/* drain: stop accepting, let requests in flight finish */
	stopping = 1;
	httpd_quiesce(d);
	deadline = vp_now_ms() + opt.drain_ms;
	while (inflight > 0 && vp_now_ms() < deadline) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	if (inflight > 0)
		vp_warn("drain: %d request(s) still in flight after %lld ms",
		    (int)inflight, (long long)opt.drain_ms);
	httpd_stop(d);
	vp_info("stopped: %lu event(s) accepted, %lu request(s) rejected",
	    (unsigned long)accepted, (unsigned long)rejected);
	if (out_failed)
		code = VP_EXIT_IOERR;
	if (vp_close_stdout() != 0 && code == VP_EXIT_OK)
		code = VP_EXIT_IOERR;
	free(opt.origins.v);
	return code;
}
