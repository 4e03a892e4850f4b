/*
 * sink-http: deliver CloudEvent lines from stdin over HTTP, at least once:
 * to any CloudEvents receiver (Knative broker, Knative service, a
 * CloudEvents SDK), or to OpenFaaS functions chosen by topic.
 *
 * --url keeps up to --inflight events in flight (pool.c); OpenFaaS takes one
 * event at a time. Either way at most that many lines are read ahead of the
 * oldest event not done, so a slow or absent receiver stops the pipeline
 * (the pipe fills and the upstream stages wait) instead of growing a
 * buffer, and the checkpoint only ever names an event that is done with
 * every event before it.
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
#include "help/sink-http.h"

struct sink {
	const char *url;
	struct vp_sink core;	/* options, checkpoint, dead letters */
	struct k8s *k8s;		/* --ref: where url comes from */
	int64_t k8s_tried_ms;
	struct openfaas *of;
	struct http http;
};

static struct sink S;
static char inbuf[65536];

/* ---- one line ---------------------------------------------------------------- */

/* Is no other line ready without blocking? */
static int
input_idle(void *arg)
{
	FILE *fp = arg;
	struct pollfd pfd;

	if (vp_input_buffered(fp))
		return 0;
	pfd.fd = fileno(fp);
	pfd.events = POLLIN;
	return poll(&pfd, 1, 0) <= 0;
}

/* A delivery that failed: dead-lettered (0), or the exit code. */
static int
settle(const struct event *ev, struct result *r, const char *url,
    const char *function)
{
	struct vp_dl_why why = { .error = r->error[0] ? r->error : NULL,
	    .status = r->status, .attempts = r->attempts,
	    .response = r->resp.data, .response_len = r->resp.len,
	    .url = url, .function = function };
	struct vp_sink_event sev = { .line = ev->lineno, .id = ev->pos.id };
	char *text = event_dl_text(ev, &sev.len, &sev.is_object);
	int rc;

	sev.text = text;
	rc = vp_sink_undelivered(&S.core, r->out, &sev, &why);
	free(text);
	return rc;
}

/* ---- a Knative ref -------------------------------------------------------------- */

/* Resolve again at most this often while deliveries fail. */
#define RERESOLVE_MS 1000

/* Delivery failed to connect, or found nothing at the path: ask again. */
static const char *
reresolve(void *arg, long status)
{
	struct k8s *k = arg;
	char err[1024];

	if ((status != 0 && status != 404) ||
	    vp_now_ms() - S.k8s_tried_ms < RERESOLVE_MS)
		return NULL;
	S.k8s_tried_ms = vp_now_ms();
	if (k8s_resolve(k, err, sizeof(err)) != 0)
		vp_warn("%s; still delivering to %s", err, k8s_url(k));
	return k8s_url(k);
}

/* The first resolution: retried like a delivery while it can get better. */
static void
resolve_first(const char *spec)
{
	struct vp_backoff bo;
	int64_t start = vp_now_ms();
	char err[1024];
	int code;

	if ((S.k8s = k8s_new(spec, err, sizeof(err), &code)) == NULL)
		vp_die(code, "--ref %s", err);
	vp_backoff_init(&bo, S.core.o.retry.base_ms, S.core.o.retry.cap_ms);
	for (unsigned attempt = 1;; attempt++) {
		int64_t delay;

		S.k8s_tried_ms = vp_now_ms();
		if ((code = k8s_resolve(S.k8s, err, sizeof(err))) == 0)
			break;
		if (code != VP_EXIT_TEMPFAIL)
			vp_die(code, "%s", err);
		delay = vp_backoff_next(&bo);
		if ((int)attempt > S.core.o.retry.max_retries ||
		    (S.core.o.retry.max_retry_ms > 0 && vp_now_ms() + delay - start >
		    S.core.o.retry.max_retry_ms))
			vp_die(VP_EXIT_TEMPFAIL, "%s; giving up", err);
		vp_warn("%s; retry in %lld ms", err, (long long)delay);
		if (vp_sleep_ms(delay))
			vp_die(VP_EXIT_TEMPFAIL, "%s; stopped before the "
			    "address was known", err);
	}
	S.url = k8s_url(S.k8s);
	S.http.reresolve = reresolve;
	S.http.reresolve_arg = S.k8s;
}

/* OpenFaaS: one line, delivered to its functions one at a time. */
static int
handle_line(struct vp_linereader *lr, const char *line, size_t len, int toolong)
{
	struct event ev;
	struct vp_sink_ctl ctl;
	char err[512];
	int rc = 0, acked = 0;

	memset(&ev, 0, sizeof(ev));
	ev.lineno = lr->lineno;
	if (toolong) {
		snprintf(err, sizeof(err), "line longer than %u bytes",
		    VP_SINK_MAX_LINE);
		goto invalid;
	}
	if (vp_sink_ctl_read(line, len, &ctl) != VP_CTL_NONE) {
		/* filtered out, or the filter failed on it: not sent */
		if ((rc = vp_sink_ctl_settle(&S.core, &ctl, ev.lineno)) == 0)
			vp_ckpt_note(&S.core.ck, &ctl.pos);
		vp_sink_ctl_free(&ctl);
		return rc;
	}
	if (event_parse(&ev, line, len, err, sizeof(err)) != 0)
		goto invalid;
	rc = openfaas_deliver(S.of, &S.http, &S.core.o.retry, &ev, settle,
	    &acked);
	if (rc == 0) {
		S.core.ck.pos.delivered += acked;
		vp_ckpt_count(&S.core.ck, ev.subject, acked);
		vp_ckpt_note(&S.core.ck, &ev.pos);
	}
	event_free(&ev);
	return rc;
invalid:
	{
		struct result r;

		memset(&r, 0, sizeof(r));
		r.out = VP_OUT_INVALID;
		r.status = -1;
		snprintf(r.error, sizeof(r.error), "%s", err);
		if (toolong) {
			ev.line = NULL;
			ev.len = 0;
		}
		/* an unreadable line moves no checkpoint: it names no event */
		rc = settle(&ev, &r, NULL, NULL);
	}
	event_free(&ev);
	return rc;
}

/* ---- options ----------------------------------------------------------------- */

static struct {
	const char *cred_path, *token_path, *gateway, *connector, *ref;
	int64_t refresh_ms;
	int async, resolve;
	int inflight;
} O;

static int
knative_arg(void *dest, const char *v, char *err, size_t errlen)
{
	(void)v;
	return vp_sink_retry_on(dest, "404,409", err, errlen);
}

static int
ref_arg(void *dest, const char *v, char *err, size_t errlen)
{
	if (k8s_ref_check(v, err, errlen) != 0)
		return -1;
	*(const char **)dest = v;
	return 0;
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

/* options, http_options, groups: src/sink-http/options.tab */
#include "opts/sink-http.h"

/* What spans options. */
static void
check(void)
{
	if ((S.url != NULL) + (O.ref != NULL) + (O.gateway != NULL) != 1)
		vp_usage_error("give exactly one of --url, --ref and --openfaas");
	if (O.gateway == NULL && (O.async || vp_opt_given("connector")))
		vp_usage_error("--async and --connector go with --openfaas");
	if (O.resolve && O.ref == NULL)
		vp_usage_error("--resolve goes with --ref");
	if (O.gateway && vp_opt_given("inflight") && O.inflight != 1)
		vp_usage_error("--inflight goes with --url (functions are "
		    "invoked one at a time)");
	if (O.gateway == NULL && O.cred_path && O.token_path)
		vp_usage_error("give one of --credentials-file and --token-file");
	vp_sink_opts_check(&S.core.o);
}

/* --help: help/sink-http.h, made of man/sink-http.1 */
static const struct vp_cmd cmd = VP_PROGRAM(options,
    VP_LIBS(VP_LIB_CURL, VP_LIB_JANSSON), .check = check, .groups = groups);

int
main(int argc, char *argv[])
{
	struct vp_linereader lr;
	int rc = 0;

	vp_opt_parse(&cmd, argc, argv);

	vp_signals_init();
	if (vp_curl_global_init() != 0)
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
	vp_sink_start(&S.core);
	http_init(&S.http);
	if (O.ref) {
		resolve_first(O.ref);
		if (O.resolve) {
			int rc2 = vp_write_line(stdout, S.url, strlen(S.url)) ?
			    VP_EXIT_IOERR : VP_EXIT_OK;
			k8s_free(S.k8s);
			vp_sink_free(&S.core);
			http_free(&S.http);
			curl_global_cleanup();
			return rc2;
		}
	}
	if (O.gateway)
		S.of = openfaas_new(O.gateway, O.async, O.refresh_ms,
		    O.connector);

	/* fewer, larger reads than stdio's 4 KiB (about 1 KiB an event);
	 * glibc takes the size only with a buffer */
	setvbuf(stdin, inbuf, _IOFBF, sizeof(inbuf));
	vp_linereader_init(&lr, stdin, VP_SINK_MAX_LINE);
	lr.whole_lines = 1;
	if (S.url)
		rc = pool_run(&S.http, &S.core.o.retry, S.url,
		    (unsigned)O.inflight, &lr, &S.core, settle);
	while (S.of && rc == 0 && !vp_stop_requested) {
		size_t len;
		enum vp_line_status st;

		if (vp_ckpt_maybe(&S.core.ck, input_idle, stdin) != 0) {
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
		if (st == VP_LINE_TORN) {
			rc = vp_sink_torn_line(lr.lineno);
			break;
		}
		if (st == VP_LINE_OK && vp_sink_blank_line(lr.buf, len))
			continue;
		rc = handle_line(&lr, lr.buf, len, st == VP_LINE_TOOLONG);
	}
	if (vp_ckpt_flush(&S.core.ck) != 0 && rc == 0)
		rc = VP_EXIT_IOERR;
	vp_info("%lu delivered, %lu dead-lettered%s", S.core.ck.pos.delivered,
	    S.core.deadlettered, vp_stop_requested ? " (stopped)" : "");
	vp_linereader_free(&lr);
	openfaas_free(S.of);
	k8s_free(S.k8s);
	http_free(&S.http);
	vp_sink_free(&S.core);
	curl_global_cleanup();
	return rc;
}
