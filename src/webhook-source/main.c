/*
 * webhook-source: receive CloudEvents over HTTP and write each to stdout as
 * one structured-mode JSON line (stream format 2).
 *
 * Binary mode (ce-* headers), structured mode (application/cloudevents+json)
 * and batches (application/cloudevents-batch+json) are accepted, plus the
 * CloudEvents webhook OPTIONS handshake.  The sender gets its 2xx only after
 * the line is written and flushed, so a slow or stopped next stage pushes
 * back on the sender instead of piling events up in memory.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cevent.h"
#include "httpd.h"
#include "opt.h"
#include "vp.h"

#define MAX_ORIGINS 16
#define MAX_HEADERS 64

static struct {
	const char *listen, *path, *authfile;
	size_t max_body;
	int max_conn;
	int64_t timeout_ms, drain_ms;
	struct vp_strlist origins;
	const char *rate;
	long rate_n;		/* requests per minute; 0 = no limit */
} opt = {
	.rate = "*",
};

static char *auth_user, *auth_pass;
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
	struct ce_header h[MAX_HEADERS];
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

/* Decode "Authorization: Basic ..." and compare both parts in constant time. */
static int
authorized(struct MHD_Connection *c)
{
	const char *h;
	unsigned char *dec;
	size_t n;
	char *colon;
	int ok;

	if (auth_user == NULL)
		return 1;
	h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	if (h == NULL || strncasecmp(h, "Basic ", 6) != 0)
		return 0;
	h += 6;
	while (*h == ' ')
		h++;
	if (ce_base64_decode(h, strlen(h), &dec, &n) != 0)
		return 0;
	colon = memchr(dec, ':', n);
	if (colon == NULL) {
		free(dec);
		return 0;
	}
	/* both comparisons always run: no hint which part was wrong */
	ok = httpd_ct_equal((char *)dec, (size_t)(colon - (char *)dec),
	    auth_user, strlen(auth_user));
	ok &= httpd_ct_equal(colon + 1, n - (size_t)(colon + 1 - (char *)dec),
	    auth_pass, strlen(auth_pass));
	memset(dec, 0, n);
	free(dec);
	return ok;
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

/* Write the events as lines, all under one lock so batches stay together. */
static int
emit(json_t **evs, size_t n)
{
	int rc = 0;

	pthread_mutex_lock(&out_lock);
	for (size_t i = 0; i < n && rc == 0; i++) {
		char *s = json_dumps(evs[i], JSON_COMPACT | JSON_ENCODE_ANY);

		if (s == NULL || vp_write_line(stdout, s, strlen(s)) != 0) {
			if (s != NULL && !out_failed)
				vp_error("stdout: %s", errno == EPIPE ?
				    "the next stage is gone" : strerror(errno));
			rc = -1;
		}
		free(s);
	}
	pthread_mutex_unlock(&out_lock);
	if (rc != 0) {
		out_failed = 1;
		vp_stop_requested = 1;
	}
	return rc;
}

static enum MHD_Result
process(struct MHD_Connection *c, struct req *r)
{
	const char *ct;
	json_t *doc = NULL, **evs = NULL;
	size_t n = 0;
	char err[256];
	json_error_t jerr;
	enum MHD_Result ret;

	ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	if (ct && (ce_media_is(ct, "application/cloudevents+json") ||
	    ce_media_is(ct, "application/cloudevents-batch+json"))) {
		int batch = ce_media_is(ct, "application/cloudevents-batch+json");

		doc = json_loadb(r->body.data ? r->body.data : "", r->body.len,
		    JSON_DECODE_ANY, &jerr);
		if (doc == NULL) {
			snprintf(err, sizeof(err), "body is not valid JSON: %s "
			    "at line %d column %d", jerr.text, jerr.line,
			    jerr.column);
			return reject(c, MHD_HTTP_BAD_REQUEST, err);
		}
		if (batch && !json_is_array(doc)) {
			json_decref(doc);
			return reject(c, MHD_HTTP_BAD_REQUEST,
			    "a CloudEvents batch is a JSON array");
		}
		n = batch ? json_array_size(doc) : 1;
		evs = vp_xmalloc((n ? n : 1) * sizeof(*evs));
		for (size_t i = 0; i < n; i++) {
			evs[i] = batch ? json_array_get(doc, i) : doc;
			if (ce_validate(evs[i], err, sizeof(err)) != 0) {
				char msg[300];

				if (batch)
					snprintf(msg, sizeof(msg), "event %zu: %s",
					    i, err);
				else
					snprintf(msg, sizeof(msg), "%s", err);
				free(evs);
				json_decref(doc);
				return reject(c, MHD_HTTP_BAD_REQUEST, msg);
			}
			ce_fix_eventkey(evs[i]);
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
		if (ce_from_binary(hs.h, hs.n, r->body.data, r->body.len, &doc,
		    err, sizeof(err)) != 0)
			return reject(c, MHD_HTTP_BAD_REQUEST, err);
		evs = vp_xmalloc(sizeof(*evs));
		evs[0] = doc;
		n = 1;
	} else if (ct) {
		return reject(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
		    "not a CloudEvent: no ce-specversion header (binary mode) "
		    "and Content-Type is not application/cloudevents+json "
		    "(structured mode)");
	} else {
		return reject(c, MHD_HTTP_BAD_REQUEST, "not a CloudEvent: no "
		    "ce-specversion header and no Content-Type");
	}
	if (emit(evs, n) != 0) {
		ret = httpd_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "event not accepted: output closed");
	} else {
		accepted += n;
		ret = httpd_reply(c, MHD_HTTP_NO_CONTENT, NULL, "", 0);
	}
	free(evs);
	json_decref(doc);
	return ret;
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	struct req *r = *con_cls;

	(void)cls;
	(void)version;
	if (r == NULL) {
		const char *cl;
		int wait;

		r = calloc(1, sizeof(*r));
		if (r == NULL)
			return MHD_NO;
		r->body.max = opt.max_body;
		*con_cls = r;
		inflight++;
		/* reject early: no body is read for a request we refuse */
		if (strcmp(url, opt.path) != 0)
			return reject(c, MHD_HTTP_NOT_FOUND, "404 page not found");
		if (strcmp(method, "POST") != 0 &&
		    strcmp(method, "OPTIONS") != 0) {
			struct MHD_Response *resp;
			enum MHD_Result ret;

			resp = MHD_create_response_from_buffer(
			    sizeof("Method Not Allowed\n") - 1,
			    (void *)"Method Not Allowed\n",
			    MHD_RESPMEM_PERSISTENT);
			if (resp == NULL)
				return MHD_NO;
			MHD_add_response_header(resp, "Allow", "POST, OPTIONS");
			MHD_add_response_header(resp,
			    MHD_HTTP_HEADER_CONTENT_TYPE,
			    "text/plain; charset=utf-8");
			rejected++;
			ret = MHD_queue_response(c,
			    MHD_HTTP_METHOD_NOT_ALLOWED, resp);
			MHD_destroy_response(resp);
			return ret;
		}
		if (!authorized(c)) {
			struct MHD_Response *resp;
			enum MHD_Result ret;

			resp = MHD_create_response_from_buffer(
			    sizeof("Unauthorized\n") - 1,
			    (void *)"Unauthorized\n", MHD_RESPMEM_PERSISTENT);
			if (resp == NULL)
				return MHD_NO;
			MHD_add_response_header(resp, "WWW-Authenticate",
			    "Basic realm=\"webhook-source\", charset=\"UTF-8\"");
			MHD_add_response_header(resp,
			    MHD_HTTP_HEADER_CONTENT_TYPE,
			    "text/plain; charset=utf-8");
			rejected++;
			vp_info("%s %s: 401 bad or missing credentials", method,
			    url);
			ret = MHD_queue_response(c, MHD_HTTP_UNAUTHORIZED,
			    resp);
			MHD_destroy_response(resp);
			return ret;
		}
		if (stopping)
			return httpd_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
			    "shutting down");
		if (strcmp(method, "OPTIONS") == 0)
			return handshake(c);
		if ((wait = rate_exceeded()) > 0) {
			struct MHD_Response *resp;
			enum MHD_Result ret;
			char ra[16];

			resp = MHD_create_response_from_buffer(
			    sizeof("rate limit exceeded\n") - 1,
			    (void *)"rate limit exceeded\n",
			    MHD_RESPMEM_PERSISTENT);
			if (resp == NULL)
				return MHD_NO;
			snprintf(ra, sizeof(ra), "%d", wait);
			MHD_add_response_header(resp, "Retry-After", ra);
			MHD_add_response_header(resp,
			    MHD_HTTP_HEADER_CONTENT_TYPE,
			    "text/plain; charset=utf-8");
			rejected++;
			vp_info("POST %s: 429 over --allowed-rate", url);
			ret = MHD_queue_response(c, MHD_HTTP_TOO_MANY_REQUESTS,
			    resp);
			MHD_destroy_response(resp);
			return ret;
		}
		cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    "Content-Length");
		if (cl && strtoull(cl, NULL, 10) > opt.max_body)
			return reject(c, MHD_HTTP_CONTENT_TOO_LARGE,
			    "request body too large");
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (!r->too_large &&
		    vp_buf_append(&r->body, upload, *upload_size) != 0) {
			r->too_large = 1;
			vp_buf_free(&r->body);
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->too_large)
		return reject(c, MHD_HTTP_CONTENT_TOO_LARGE,
		    "request body too large");
	return process(c, r);
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct req *r = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (r == NULL)
		return;
	vp_buf_free(&r->body);
	free(r);
	*con_cls = NULL;
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

static const struct vp_opt options[] = {
	VP_OPT("listen", VP_OPT_LISTEN, &opt.listen, "ADDR",
	    "Listen on ADDR: HOST:PORT, [IPv6]:PORT or :PORT (every "
	    "interface); port 0 picks a free one.", .def = "127.0.0.1:8080"),
	VP_OPT("path", VP_OPT_CALL, &opt.path, "PATH",
	    "The path events are POSTed to.", .def = "/webhook",
	    .fn = path_arg),
	VP_OPT("basic-auth-file", VP_OPT_STRING, &opt.authfile, "FILE",
	    "Require Basic authentication with the user name and password "
	    "in FILE (two lines, or a directory with username and password "
	    "files)."),
	VP_OPT("max-body", VP_OPT_SIZE, &opt.max_body, "SIZE",
	    "Largest request body; larger ones get 413.", .def = "1m",
	    .min = 1),
	VP_OPT("max-connections", VP_OPT_INT, &opt.max_conn, "N",
	    "Connections served at once.", .def = "64", .min = 1,
	    .max = 65536),
	VP_OPT("timeout", VP_OPT_DURATION, &opt.timeout_ms, "DURATION",
	    "Idle time after which a connection is closed.", .def = "30s",
	    .min = 1),
	VP_OPT("drain-timeout", VP_OPT_DURATION, &opt.drain_ms, "DURATION",
	    "On SIGTERM, how long requests in flight may finish.",
	    .def = "10s"),
	VP_OPT("allowed-origin", VP_OPT_LIST, &opt.origins, "ORIGIN",
	    "Answer the webhook handshake only for this origin (default: any).",
	    .max = MAX_ORIGINS),
	VP_OPT("allowed-rate", VP_OPT_CALL, NULL, "N",
	    "Requests per minute, announced in the handshake and enforced "
	    "(default: no limit).", .fn = rate_arg),
	VP_OPT_END
};

static const struct vp_cmd cmd = {
	.name = "webhook-source",
	.about = "Receive CloudEvents over HTTP (binary, structured and batch "
	    "mode, and the webhook handshake) and write each to stdout as one "
	    "structured-mode line. The sender gets its 2xx only once the line "
	    "is written.",
	.see = "webhook-source(1) and vcpipe-formats(5)",
	.opts = options,
	.libs = VP_LIBS(VP_LIB_MHD, VP_LIB_JANSSON),
};

int
main(int argc, char **argv)
{
	struct MHD_OptionItem mopts[4];
	struct MHD_Daemon *d;
	char err[512];
	int code = VP_EXIT_OK;
	int64_t deadline;

	vp_opt_parse(&cmd, argc, argv);
	if (opt.authfile)
		vp_load_credentials("--basic-auth-file", opt.authfile, NULL,
		    NULL, &auth_user, &auth_pass);

	vp_signals_init();
	mopts[0] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)opt.max_conn, NULL };
	mopts[1] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT,
	    (intptr_t)((opt.timeout_ms + 999) / 1000), NULL };
	mopts[2] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED,
	    (intptr_t)completed, NULL };
	mopts[3] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	/* a thread per connection: a connection blocked on a full pipe
	 * holds only itself, and the pipe's pressure reaches its sender */
	d = httpd_start(opt.listen, MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ITC,
	    handle, NULL, mopts, err, sizeof(err));
	if (d == NULL)
		vp_die(VP_EXIT_TEMPFAIL, "--listen: %s", err);
	vp_info("listening on %s (port %u), path %s", opt.listen,
	    httpd_port(d), opt.path);

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
	MHD_stop_daemon(d);
	vp_info("stopped: %lu event(s) accepted, %lu request(s) rejected",
	    (unsigned long)accepted, (unsigned long)rejected);
	if (out_failed)
		code = VP_EXIT_IOERR;
	if (vp_close_stdout() != 0 && code == VP_EXIT_OK)
		code = VP_EXIT_IOERR;
	vp_free_secret(auth_user);
	vp_free_secret(auth_pass);
	free(opt.origins.v);
	return code;
}
