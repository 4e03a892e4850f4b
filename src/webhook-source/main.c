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
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cevent.h"
#include "httpd.h"
#include "vp.h"

static const char usage_text[] =
"usage: webhook-source [--listen ADDR] [--path PATH] [--basic-auth-file FILE]\n"
"           [--max-body BYTES] [--max-connections N] [--timeout DURATION]\n"
"           [--drain-timeout DURATION] [--allowed-origin ORIGIN]...\n"
"           [--allowed-rate N] [--log-level LEVEL] [--log-json]\n"
"       webhook-source --help | --version\n";

#define MAX_ORIGINS 16
#define MAX_HEADERS 64

static struct {
	const char *listen, *path, *authfile;
	size_t max_body;
	unsigned max_conn;
	int64_t timeout_ms, drain_ms;
	const char *origins[MAX_ORIGINS];
	int norigins;
	const char *rate;
	long rate_n;		/* requests per minute; 0 = no limit */
} opt = {
	.listen = ":8080",
	.path = "/webhook",
	.max_body = 1u << 20,
	.max_conn = 64,
	.timeout_ms = 30000,
	.drain_ms = 10000,
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
	int allowed = opt.norigins == 0;

	origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    "WebHook-Request-Origin");
	r = MHD_create_response_from_buffer(0, (void *)"",
	    MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Allow", "POST, OPTIONS");
	if (origin) {
		for (int i = 0; i < opt.norigins; i++)
			if (strcasecmp(origin, opt.origins[i]) == 0)
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

static size_t
parse_size(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (end == s || errno)
		vp_usage_error("%s: not a number: %s", what, s);
	if (*end == 'k' || *end == 'K')
		v <<= 10, end++;
	else if (*end == 'M')
		v <<= 20, end++;
	if (*end != '\0' || v == 0)
		vp_usage_error("%s: not a positive size: %s", what, s);
	return (size_t)v;
}

int
main(int argc, char **argv)
{
	enum {
		O_ALLOWED_ORIGIN = 256, O_ALLOWED_RATE, O_BASIC_AUTH_FILE,
		O_DRAIN_TIMEOUT, O_HELP, O_LISTEN, O_LOG_JSON, O_LOG_LEVEL,
		O_MAX_BODY, O_MAX_CONNECTIONS, O_PATH, O_TIMEOUT, O_VERSION
	};
	static const struct option longopts[] = {
		{ "allowed-origin", required_argument, NULL, O_ALLOWED_ORIGIN },
		{ "allowed-rate", required_argument, NULL, O_ALLOWED_RATE },
		{ "basic-auth-file", required_argument, NULL, O_BASIC_AUTH_FILE },
		{ "drain-timeout", required_argument, NULL, O_DRAIN_TIMEOUT },
		{ "help", no_argument, NULL, O_HELP },
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "log-json", no_argument, NULL, O_LOG_JSON },
		{ "log-level", required_argument, NULL, O_LOG_LEVEL },
		{ "max-body", required_argument, NULL, O_MAX_BODY },
		{ "max-connections", required_argument, NULL, O_MAX_CONNECTIONS },
		{ "path", required_argument, NULL, O_PATH },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 }
	};
	struct MHD_OptionItem mopts[4];
	struct MHD_Daemon *d;
	char err[512], ver[64];
	int ch, code = VP_EXIT_OK;
	int64_t deadline;
	MHD_socket ls;

	vp_log_init(argv[0]);
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case O_ALLOWED_ORIGIN:
			if (opt.norigins == MAX_ORIGINS)
				vp_usage_error("--allowed-origin: at most %d",
				    MAX_ORIGINS);
			opt.origins[opt.norigins++] = optarg;
			break;
		case O_ALLOWED_RATE:
			if (strspn(optarg, "0123456789") != strlen(optarg) ||
			    *optarg == '\0' || strtol(optarg, NULL, 10) <= 0)
				vp_usage_error("--allowed-rate: not a number: %s",
				    optarg);
			opt.rate = optarg;
			opt.rate_n = strtol(optarg, NULL, 10);
			break;
		case O_BASIC_AUTH_FILE:
			opt.authfile = optarg;
			break;
		case O_DRAIN_TIMEOUT:
			if ((opt.drain_ms = vp_parse_duration_ms(optarg)) < 0)
				vp_usage_error("--drain-timeout: bad duration: %s",
				    optarg);
			break;
		case O_HELP:
			fputs(usage_text, stdout);
			return VP_EXIT_OK;
		case O_LISTEN:
			opt.listen = optarg;
			break;
		case O_LOG_JSON:
			vp_log_set_json(1);
			break;
		case O_LOG_LEVEL:
			vp_log_level_option(optarg);
			break;
		case O_MAX_BODY:
			opt.max_body = parse_size(optarg, "--max-body");
			break;
		case O_MAX_CONNECTIONS:
			opt.max_conn = (unsigned)parse_size(optarg,
			    "--max-connections");
			break;
		case O_PATH:
			if (optarg[0] != '/')
				vp_usage_error("--path: must start with /");
			opt.path = optarg;
			break;
		case O_TIMEOUT:
			if ((opt.timeout_ms = vp_parse_duration_ms(optarg)) <= 0)
				vp_usage_error("--timeout: bad duration: %s",
				    optarg);
			break;
		case O_VERSION:
			snprintf(ver, sizeof(ver), "libmicrohttpd %s",
			    MHD_get_version());
			vp_print_versions("webhook-source", ver);
			return VP_EXIT_OK;
		default:
			fputs(usage_text, stderr);
			return VP_EXIT_USAGE;
		}
	}
	if (optind < argc)
		vp_usage_error("unexpected argument: %s", argv[optind]);
	if (opt.authfile && vp_read_credentials(opt.authfile, NULL, NULL,
	    &auth_user, &auth_pass, err, sizeof(err)) != 0)
		vp_die(VP_EXIT_CONFIG, "--basic-auth-file: %s", err);

	vp_signals_init();
	mopts[0] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT,
	    opt.max_conn, NULL };
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
	ls = MHD_quiesce_daemon(d);
	if (ls != MHD_INVALID_SOCKET)
		close(ls);
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
	return code;
}
