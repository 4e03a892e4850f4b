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
#include <getopt.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sink.h"

#define DEFAULT_MAX_RETRIES 10
#define DEFAULT_MAX_RETRY_TIME "5m"
#define DEFAULT_RETRY_BASE "200ms"
#define DEFAULT_RETRY_CAP "30s"
#define DEFAULT_TIMEOUT "30s"
#define DEFAULT_REFRESH "30s"
#define DEFAULT_CHECKPOINT_INTERVAL "100ms"
#define DEFAULT_CONNECTOR "vcpipe"

static const char usage_text[] =
    "usage: sink-http --url URL | --openfaas GATEWAY [--async] [--refresh DURATION]\n"
    "                 [--connector NAME] [--dlq FILE] [--checkpoint FILE]\n"
    "                 [--checkpoint-interval DURATION] [--max-retries N]\n"
    "                 [--max-retry-time DURATION] [--retry-base DURATION]\n"
    "                 [--retry-cap DURATION] [--retry-on CODES] [--knative]\n"
    "                 [--timeout DURATION] [--credentials-file FILE]\n"
    "                 [--token-file FILE] [--insecure] [--ca-file FILE]\n"
    "                 [--http1.1] [--log-level LEVEL] [--log-json]\n"
    "       sink-http --help | --version\n";

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

static void
usage_help(void)
{
	fputs(usage_text, stdout);
	fputs("\nDeliver CloudEvent lines (ce-encode output) from stdin over HTTP,\n"
	    "in order, at least once, with retries, a dead-letter file and a\n"
	    "checkpoint. See sink-http(1) and vcpipe-formats(5).\n", stdout);
}

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
		} else if (ev.root && !json_is_object(ev.root)) {
			json_decref(ev.root);
			ev.root = NULL;
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

/* Can path be opened and read (a directory cannot)? */
static int
file_readable(const char *path, char *err, size_t errlen)
{
	char c;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || read(fd, &c, 1) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 0;
	}
	close(fd);
	return 1;
}

static int64_t
duration_arg(const char *opt, const char *v)
{
	int64_t ms = vp_parse_duration_ms(v);

	if (ms < 0)
		vp_usage_error("--%s: bad duration \"%s\"", opt, v);
	return ms;
}

static void
retry_on_arg(struct retry_policy *p, const char *v)
{
	char *copy = vp_xstrdup(v), *tok, *save, *end;

	for (tok = strtok_r(copy, ",", &save); tok;
	    tok = strtok_r(NULL, ",", &save)) {
		long st = strtol(tok, &end, 10);

		if (*end != '\0' || st < 100 || st > 599)
			vp_usage_error("--retry-on: bad status \"%s\"", tok);
		if (st >= 200 && st < 300)
			vp_usage_error("--retry-on: %ld is success", st);
		if (p->nextra >= (int)(sizeof(p->extra) / sizeof(p->extra[0])))
			vp_usage_error("--retry-on: too many statuses");
		p->extra[p->nextra++] = st;
	}
	free(copy);
}

static int
url_ok(const char *u)
{
	return strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0;
}

/* user:password@ in a URL would put a secret in argv and in every log line. */
static int
url_has_userinfo(const char *u)
{
	const char *host = strstr(u, "://") + 3;
	size_t n = strcspn(host, "/?#");

	return memchr(host, '@', n) != NULL;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "async", no_argument, NULL, 'a' },
		{ "ca-file", required_argument, NULL, 'A' },
		{ "checkpoint", required_argument, NULL, 'c' },
		{ "checkpoint-interval", required_argument, NULL, 'I' },
		{ "connector", required_argument, NULL, 'n' },
		{ "credentials-file", required_argument, NULL, 'C' },
		{ "dlq", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "http1.1", no_argument, NULL, '1' },
		{ "insecure", no_argument, NULL, 'k' },
		{ "knative", no_argument, NULL, 'K' },
		{ "log-json", no_argument, NULL, 'J' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "max-retries", required_argument, NULL, 'r' },
		{ "max-retry-time", required_argument, NULL, 'R' },
		{ "openfaas", required_argument, NULL, 'o' },
		{ "refresh", required_argument, NULL, 'f' },
		{ "retry-base", required_argument, NULL, 'b' },
		{ "retry-cap", required_argument, NULL, 'B' },
		{ "retry-on", required_argument, NULL, 'O' },
		{ "timeout", required_argument, NULL, 't' },
		{ "token-file", required_argument, NULL, 'T' },
		{ "url", required_argument, NULL, 'U' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char *cred_path = NULL, *token_path = NULL, *gateway = NULL;
	const char *connector = DEFAULT_CONNECTOR;
	int64_t refresh_ms = vp_parse_duration_ms(DEFAULT_REFRESH);
	int async = 0, connector_set = 0, ch, rc = 0;
	char *end;
	struct vp_linereader lr;

	vp_log_init(argv[0]);
	memset(&S, 0, sizeof(S));
	S.policy.max_retries = DEFAULT_MAX_RETRIES;
	S.policy.max_retry_ms = vp_parse_duration_ms(DEFAULT_MAX_RETRY_TIME);
	S.policy.base_ms = vp_parse_duration_ms(DEFAULT_RETRY_BASE);
	S.policy.cap_ms = vp_parse_duration_ms(DEFAULT_RETRY_CAP);
	S.ckpt_interval_ms = vp_parse_duration_ms(DEFAULT_CHECKPOINT_INTERVAL);
	S.http.timeout_ms = vp_parse_duration_ms(DEFAULT_TIMEOUT);
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case '1':
			S.http.http1 = 1;
			break;
		case 'A':
			S.http.tls.ca_file = optarg;
			break;
		case 'a':
			async = 1;
			break;
		case 'B':
			S.policy.cap_ms = duration_arg("retry-cap", optarg);
			break;
		case 'b':
			S.policy.base_ms = duration_arg("retry-base", optarg);
			break;
		case 'C':
			cred_path = optarg;
			break;
		case 'c':
			S.checkpoint = optarg;
			break;
		case 'd':
			S.dlq = optarg;
			break;
		case 'f':
			refresh_ms = duration_arg("refresh", optarg);
			break;
		case 'h':
			usage_help();
			return 0;
		case 'I':
			S.ckpt_interval_ms = duration_arg("checkpoint-interval",
			    optarg);
			break;
		case 'J':
			vp_log_set_json(1);
			break;
		case 'K':
			retry_on_arg(&S.policy, "404,409");
			break;
		case 'k':
			S.http.tls.insecure = 1;
			break;
		case 'L':
			vp_log_level_option(optarg);
			break;
		case 'n':
			if (strpbrk(optarg, "\r\n") || *optarg == '\0')
				vp_usage_error("--connector: bad name");
			connector = optarg;
			connector_set = 1;
			break;
		case 'O':
			retry_on_arg(&S.policy, optarg);
			break;
		case 'o':
			gateway = optarg;
			break;
		case 'R':
			S.policy.max_retry_ms = duration_arg("max-retry-time",
			    optarg);
			break;
		case 'r':
			errno = 0;
			{
				long v = strtol(optarg, &end, 10);
				if (errno || *end || end == optarg || v < 0 ||
				    v > 1000000)
					vp_usage_error("--max-retries: bad "
					    "number \"%s\"", optarg);
				S.policy.max_retries = (int)v;
			}
			break;
		case 'T':
			token_path = optarg;
			break;
		case 't':
			S.http.timeout_ms = duration_arg("timeout", optarg);
			if (S.http.timeout_ms == 0)
				vp_usage_error("--timeout: must be more than 0");
			break;
		case 'U':
			S.url = optarg;
			break;
		case 'V':
			vp_print_versions("sink-http", NULL);
			return 0;
		default:
			fputs(usage_text, stderr);
			return VP_EXIT_USAGE;
		}
	}
	if (optind != argc)
		vp_usage_error("unexpected argument \"%s\"", argv[optind]);
	if ((S.url == NULL) == (gateway == NULL))
		vp_usage_error("give exactly one of --url and --openfaas");
	if (S.url && !url_ok(S.url))
		vp_usage_error("--url: not an http:// or https:// URL");
	if (gateway && !url_ok(gateway))
		vp_usage_error("--openfaas: not an http:// or https:// URL");
	if (url_has_userinfo(S.url ? S.url : gateway))
		vp_usage_error("credentials do not go in the URL: use "
		    "--credentials-file or --token-file");
	if (S.url && (async || connector_set))
		vp_usage_error("--async and --connector go with --openfaas");
	if (S.url && cred_path && token_path)
		vp_usage_error("give one of --credentials-file and --token-file");
	if (S.policy.base_ms == 0 || S.policy.cap_ms < S.policy.base_ms)
		vp_usage_error("--retry-base must be more than 0 and at most "
		    "--retry-cap");
	if (refresh_ms == 0)
		vp_usage_error("--refresh: must be more than 0");

	vp_signals_init();
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		vp_die(VP_EXIT_SOFTWARE, "curl_global_init failed");
	{
		char err[512];
		/* half a pair must not quietly mean no authentication */
		int env = getenv("SINK_HTTP_USERNAME") != NULL ||
		    getenv("SINK_HTTP_PASSWORD") != NULL;

		if ((cred_path || (env && !token_path)) &&
		    vp_read_credentials(cred_path,
		    "SINK_HTTP_USERNAME", "SINK_HTTP_PASSWORD", &S.http.user,
		    &S.http.pass, err, sizeof(err)) != 0)
			vp_die(cred_path ? VP_EXIT_NOINPUT : VP_EXIT_CONFIG,
			    "credentials: %s", err);
		if (token_path) {
			S.http.token = vp_read_secret_file(token_path, err,
			    sizeof(err));
			if (S.http.token == NULL)
				vp_die(VP_EXIT_NOINPUT, "token: %s", err);
			S.http.token_file = token_path;
		}
		S.http.cred_file = cred_path;
		/* else every event would fail on it and be dead-lettered */
		if (S.http.tls.ca_file && !file_readable(S.http.tls.ca_file,
		    err, sizeof(err)))
			vp_die(VP_EXIT_NOINPUT, "--ca-file: %s", err);
	}
	http_init(&S.http);
	if (gateway)
		S.of = openfaas_new(gateway, async, refresh_ms, connector);

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
