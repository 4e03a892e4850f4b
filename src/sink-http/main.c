/*
 * sink-http: deliver CloudEvent lines from stdin over HTTP, in order, at
 * least once: to any CloudEvents receiver (Knative broker, Knative service,
 * a CloudEvents SDK), or to OpenFaaS functions chosen by topic.
 *
 * One event at a time: the next line is read only when the current event is
 * acknowledged or dead-lettered, so a slow or absent receiver stops the
 * pipeline (the pipe fills and the upstream stages wait) instead of growing a
 * buffer. The checkpoint only ever names an event that is done.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "opt.h"
#include "sink.h"

struct sink {
	const char *url;
	const char *dlq;
	const char *checkpoint;
	int64_t ckpt_interval_ms;
	struct openfaas *of;
	struct http http;
	struct retry_policy policy;
	/* the last event done, for the checkpoint */
	char *ck_source, *ck_id, *ck_time;
	int ck_has_key;
	long long ck_key;
	int ck_dirty;
	int64_t ck_written_ms;
	unsigned long done;		/* acknowledged or dead-lettered */
	unsigned long delivered, deadlettered;
};

static struct sink S;

/* ---- checkpoint ------------------------------------------------------------ */

static int
checkpoint_write(void)
{
	json_t *o;
	char now[64], *s;
	struct timespec ts;
	int rc;

	if (S.checkpoint == NULL || !S.ck_dirty)
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	vp_format_rfc3339(ts.tv_sec, (int32_t)ts.tv_nsec / 1000000 * 1000000,
	    now, sizeof(now));
	o = json_object();
	json_object_set_new(o, "version", json_integer(1));
	json_object_set_new(o, "source", json_string(S.ck_source));
	json_object_set_new(o, "id", json_string(S.ck_id));
	if (S.ck_time)
		json_object_set_new(o, "time", json_string(S.ck_time));
	if (S.ck_has_key)
		json_object_set_new(o, "key", json_integer(S.ck_key));
	json_object_set_new(o, "delivered", json_integer((json_int_t)S.done));
	json_object_set_new(o, "updated", json_string(now));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (s == NULL)
		vp_die(VP_EXIT_SOFTWARE, "out of memory");
	{
		size_t n = strlen(s);
		s = vp_xrealloc(s, n + 2);
		s[n] = '\n';
		s[n + 1] = '\0';
		rc = vp_write_file_atomic(S.checkpoint, s, n + 1);
	}
	free(s);
	if (rc != 0) {
		vp_error("%s: %s", S.checkpoint, strerror(errno));
		return -1;
	}
	S.ck_dirty = 0;
	S.ck_written_ms = vp_now_ms();
	return 0;
}

/* Remember ev as done; the checkpoint names it from the next write on. */
static void
checkpoint_note(const struct event *ev)
{
	S.done++;
	if (ev->id == NULL || ev->source == NULL)
		return;	/* an unreadable line moves nothing */
	free(S.ck_source);
	free(S.ck_id);
	free(S.ck_time);
	S.ck_source = vp_xstrdup(ev->source);
	S.ck_id = vp_xstrdup(ev->id);
	S.ck_time = ev->time ? vp_xstrdup(ev->time) : NULL;
	S.ck_has_key = ev->has_key;
	S.ck_key = ev->key;
	S.ck_dirty = 1;
}

/* Is another line ready without blocking? */
static int
input_pending(FILE *fp)
{
	struct pollfd pfd;

#ifdef __GLIBC__
	if (fp->_IO_read_ptr < fp->_IO_read_end)
		return 1;
#else
	return 1;	/* cannot tell: rely on the interval alone */
#endif
	pfd.fd = fileno(fp);
	pfd.events = POLLIN;
	return poll(&pfd, 1, 0) > 0;
}

/*
 * Write the checkpoint when the interval has passed, or when the input is
 * idle (so a quiet stream is checkpointed at once and a busy one in batches).
 */
static int
checkpoint_maybe(FILE *in)
{
	if (S.checkpoint == NULL || !S.ck_dirty)
		return 0;
	if (vp_now_ms() - S.ck_written_ms >= S.ckpt_interval_ms ||
	    !input_pending(in))
		return checkpoint_write();
	return 0;
}

/* ---- dead letters ----------------------------------------------------------- */

static int
dead_letter(const struct event *ev, const char *reason,
    const struct result *r, const char *url, const char *function)
{
	size_t len;
	char *rec = event_deadletter(ev, reason, r, url, function, &len);

	if (vp_append_line_sync(S.dlq, rec, len) != 0) {
		vp_error("%s: %s", S.dlq, strerror(errno));
		free(rec);
		return VP_EXIT_IOERR;
	}
	free(rec);
	S.deadlettered++;
	/* an invalid line has no URL: "stdin:N: invalid line: why" */
	vp_warn("stdin:%lu: %s%s%s%s%s%s%s; dead-lettered to %s", ev->lineno,
	    url ? url : "", url && function ? " " : "",
	    function ? function : "", url || function ? ": " : "", reason,
	    r && r->error[0] ? ": " : "", r ? r->error : "", S.dlq);
	return 0;
}

/* ---- one line ---------------------------------------------------------------- */

static int
handle_line(struct vp_linereader *lr, const char *line, size_t len, int toolong)
{
	struct event ev;
	char err[512];
	int rc = 0;

	memset(&ev, 0, sizeof(ev));
	ev.lineno = lr->lineno;
	if (toolong) {
		snprintf(err, sizeof(err), "line longer than %d bytes",
		    SINK_MAX_LINE);
		goto invalid;
	}
	if (event_parse(&ev, line, len, err, sizeof(err)) != 0)
		goto invalid;
	if (S.of)
		rc = openfaas_deliver(S.of, &S.http, &S.policy, &ev,
		    S.dlq != NULL, dead_letter);
	else {
		struct result r;

		memset(&r, 0, sizeof(r));
		r.resp.max = SINK_RESP_KEEP;
		deliver(&S.http, &S.policy, S.url, &ev, NULL,
		    AUTH_BASIC | AUTH_BEARER, &r);
		switch (r.out) {
		case OUT_OK:
			S.delivered++;
			break;
		case OUT_AUTH:
			/* not the event's fault: dead-lettering would empty
			 * the stream into the file */
			vp_error("stdin:%lu: %s: %s", ev.lineno, S.url, r.error);
			rc = VP_EXIT_NOPERM;
			break;
		default:
			if (S.dlq)
				rc = dead_letter(&ev, outcome_reason(r.out), &r,
				    S.url, NULL);
			else {
				vp_error("stdin:%lu: %s: %s: %s", ev.lineno,
				    S.url, outcome_reason(r.out), r.error);
				rc = r.out == OUT_REJECTED ? VP_EXIT_DATAERR :
				    VP_EXIT_TEMPFAIL;
			}
		}
		vp_buf_free(&r.resp);
	}
	if (rc == 0)
		checkpoint_note(&ev);
	event_free(&ev);
	return rc;
invalid:
	/* logged once: by dead_letter, or here when the run ends */
	if (S.dlq) {
		struct result r;

		memset(&r, 0, sizeof(r));
		snprintf(r.error, sizeof(r.error), "%s", err);
		if (toolong) {
			ev.line = NULL;
			ev.len = 0;
		}
		rc = dead_letter(&ev, "invalid line", &r, NULL, NULL);
		if (rc == 0)
			checkpoint_note(&ev);
	} else {
		vp_error("stdin:%lu: %s", ev.lineno, err);
		rc = VP_EXIT_DATAERR;
	}
	event_free(&ev);
	return rc;
}

/* ---- options ----------------------------------------------------------------- */

static struct {
	const char *cred_path, *token_path, *gateway, *connector;
	int64_t refresh_ms;
	int async;
} O;

static int
retry_on_arg(void *dest, const char *v, char *err, size_t errlen)
{
	struct retry_policy *p = dest;
	char *copy = vp_xstrdup(v), *tok, *save, *end;
	int rc = 0;

	for (tok = strtok_r(copy, ",", &save); tok && rc == 0;
	    tok = strtok_r(NULL, ",", &save)) {
		long st = strtol(tok, &end, 10);

		if (*end != '\0' || st < 100 || st > 599) {
			snprintf(err, errlen, "expected HTTP statuses from 100 "
			    "to 599 (like 404,409), got \"%s\"", tok);
			rc = -1;
		} else if (st >= 200 && st < 300) {
			snprintf(err, errlen, "%ld is success", st);
			rc = -1;
		} else if (p->nextra >= (int)(sizeof(p->extra) /
		    sizeof(p->extra[0]))) {
			snprintf(err, errlen, "too many statuses");
			rc = -1;
		} else
			p->extra[p->nextra++] = st;
	}
	free(copy);
	return rc;
}

static int
knative_arg(void *dest, const char *v, char *err, size_t errlen)
{
	(void)v;
	return retry_on_arg(dest, "404,409", err, errlen);
}

static int
connector_arg(void *dest, const char *v, char *err, size_t errlen)
{
	if (strpbrk(v, "\r\n") || *v == '\0') {
		snprintf(err, errlen, "not a header value");
		return -1;
	}
	*(const char **)dest = v;
	return 0;
}

static const struct vp_opt options[] = {
	VP_OPT("url", VP_OPT_URL, &S.url, "URL",
	    "POST every event to this CloudEvents receiver."),
	VP_OPT("openfaas", VP_OPT_URL, &O.gateway, "GATEWAY",
	    "Invoke the OpenFaaS functions whose topic annotation matches the "
	    "event, through this gateway."),
	VP_OPT("async", VP_OPT_FLAG, &O.async, NULL,
	    "OpenFaaS: call /async-function/ (202 is success)."),
	VP_OPT("refresh", VP_OPT_DURATION, &O.refresh_ms, "DURATION",
	    "OpenFaaS: how often the function list is read again.",
	    .def = "30s", .min = 1),
	VP_OPT("connector", VP_OPT_CALL, &O.connector, "NAME",
	    "OpenFaaS: the X-Connector header.", .def = "vcpipe",
	    .fn = connector_arg),
	VP_OPT_END
};

static const struct vp_opt delivery_options[] = {
	VP_OPT("dlq", VP_OPT_STRING, &S.dlq, "FILE",
	    "Append events that are refused or run out of retries to FILE "
	    "(else such an event stops the sink)."),
	VP_OPT("checkpoint", VP_OPT_STRING, &S.checkpoint, "FILE",
	    "Keep the last event done in FILE, replaced atomically."),
	VP_OPT("checkpoint-interval", VP_OPT_DURATION, &S.ckpt_interval_ms,
	    "DURATION", "Longest time between checkpoint writes while busy.",
	    .def = "100ms"),
	VP_OPT("max-retries", VP_OPT_INT, &S.policy.max_retries, "N",
	    "Retries of one event.", .def = "10", .min = 0, .max = 1000000),
	VP_OPT("max-retry-time", VP_OPT_DURATION, &S.policy.max_retry_ms,
	    "DURATION", "Longest time one event is retried (0: no limit).",
	    .def = "5m"),
	VP_OPT("retry-base", VP_OPT_DURATION, &S.policy.base_ms, "DURATION",
	    "First backoff ceiling; it doubles with each retry.",
	    .def = "200ms", .min = 1),
	VP_OPT("retry-cap", VP_OPT_DURATION, &S.policy.cap_ms, "DURATION",
	    "Largest backoff.", .def = "30s", .min = 1),
	VP_OPT("retry-on", VP_OPT_CALL, &S.policy, "CODES",
	    "Also retry these HTTP statuses (comma-separated).",
	    .fn = retry_on_arg),
	VP_OPT("knative", VP_OPT_CALL, &S.policy, NULL,
	    "Also retry 404 and 409, as Knative's dispatcher does.",
	    .fn = knative_arg),
	VP_OPT("timeout", VP_OPT_DURATION, &S.http.timeout_ms, "DURATION",
	    "Longest time for one request.", .def = "30s", .min = 1),
	VP_OPT_END
};

static const struct vp_opt http_options[] = {
	VP_OPT("credentials-file", VP_OPT_STRING, &O.cred_path, "FILE",
	    "Basic authentication: a file of two lines (user name, password) "
	    "or a directory with username and password files (else "
	    "SINK_HTTP_USERNAME and SINK_HTTP_PASSWORD)."),
	VP_OPT("token-file", VP_OPT_STRING, &O.token_path, "FILE",
	    "Bearer token authentication: the token is the file's first line."),
	VP_OPT("http1.1", VP_OPT_FLAG, &S.http.http1, NULL,
	    "Never negotiate HTTP/2."),
	VP_OPT_END
};

static const struct vp_optgroup groups[] = {
	{ "Delivery options", delivery_options, NULL },
	{ "HTTP options", http_options, NULL },
	{ "TLS options", vp_tls_opts, &S.http.tls },
	{ NULL, NULL, NULL }
};

/* What spans options. */
static void
check(void)
{
	if ((S.url == NULL) == (O.gateway == NULL))
		vp_usage_error("give exactly one of --url and --openfaas");
	if (S.url && (O.async || vp_opt_given("connector")))
		vp_usage_error("--async and --connector go with --openfaas");
	if (S.url && O.cred_path && O.token_path)
		vp_usage_error("give one of --credentials-file and --token-file");
	if (S.policy.cap_ms < S.policy.base_ms)
		vp_usage_error("--retry-base must be at most --retry-cap");
}

static const struct vp_cmd cmd = {
	.name = "sink-http",
	.synopsis = "--url URL | --openfaas GATEWAY [OPTION]...",
	.about = "Deliver CloudEvent lines (ce-encode output) from stdin over "
	    "HTTP, in order, at least once, with retries, a dead-letter file "
	    "and a checkpoint.",
	.see = "sink-http(1) and vcpipe-formats(5)",
	.opts = options,
	.groups = groups,
	.libs = VP_LIBS(VP_LIB_CURL, VP_LIB_JANSSON),
	.check = check,
};

int
main(int argc, char *argv[])
{
	struct vp_linereader lr;
	int rc = 0;

	vp_opt_parse(&cmd, argc, argv);

	vp_signals_init();
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		vp_die(VP_EXIT_SOFTWARE, "curl_global_init failed");
	{
		/* half a pair must not quietly mean no authentication */
		int env = getenv("SINK_HTTP_USERNAME") != NULL ||
		    getenv("SINK_HTTP_PASSWORD") != NULL;

		if (O.cred_path || (env && !O.token_path))
			vp_load_credentials("--credentials-file", O.cred_path,
			    "SINK_HTTP_USERNAME", "SINK_HTTP_PASSWORD",
			    &S.http.user, &S.http.pass);
		if (O.token_path) {
			S.http.token = vp_load_secret("--token-file",
			    O.token_path);
			S.http.token_file = O.token_path;
		}
		S.http.cred_file = O.cred_path;
	}
	http_init(&S.http);
	if (O.gateway)
		S.of = openfaas_new(O.gateway, O.async, O.refresh_ms,
		    O.connector);

	vp_linereader_init(&lr, stdin, SINK_MAX_LINE);
	while (rc == 0 && !vp_stop_requested) {
		size_t len;
		enum vp_line_status st;

		if (checkpoint_maybe(stdin) != 0) {
			rc = VP_EXIT_IOERR;
			break;
		}
		st = vp_read_line(&lr, &len);
		if (st == VP_LINE_EOF)
			break;
		if (st == VP_LINE_ERROR) {
			vp_error("stdin: %s", strerror(errno));
			rc = VP_EXIT_IOERR;
			break;
		}
		if (st == VP_LINE_OK && strspn(lr.buf, " \t") == len)
			continue;	/* blank lines carry nothing */
		rc = handle_line(&lr, lr.buf, len, st == VP_LINE_TOOLONG);
	}
	if (checkpoint_write() != 0 && rc == 0)
		rc = VP_EXIT_IOERR;
	vp_info("%lu delivered, %lu dead-lettered%s", S.delivered,
	    S.deadlettered, vp_stop_requested ? " (stopped)" : "");
	vp_linereader_free(&lr);
	openfaas_free(S.of);
	http_free(&S.http);
	free(S.ck_source);
	free(S.ck_id);
	free(S.ck_time);
	curl_global_cleanup();
	return rc;
}
