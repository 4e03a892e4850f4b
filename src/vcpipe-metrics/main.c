/*
 * vcpipe-metrics: serve vcpipe's counters over HTTP.
 *
 *   /stats    the VMware event router's expvar JSON (system.* and
 *             vmware.event.router.stats with one entry per provider and
 *             processor), so existing dashboards keep working
 *   /metrics  the same and more in the Prometheus text format
 *
 * Nothing is kept in memory: every request reads the files vcpipe and its
 * stages already write under the run directory (units.json from vcpipe,
 * the vcpipe-tap counters, the restart counts) and the sinks' checkpoint
 * and dead-letter files.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "vp.h"

static const char usage_text[] =
    "usage: vcpipe-metrics --listen IP:PORT --dir RUNDIR\n"
    "                      [--credentials-file FILE] [--log-level LEVEL]\n"
    "                      [--log-json]\n"
    "       vcpipe-metrics --help | --version\n";

static struct {
	const char *dir;
	char *user, *pass;
	time_t started;
	char started_s[64];
} M;

static json_t *
read_json(const char *dir, const char *name)
{
	char path[4096];
	json_t *j;
	char *s;

	if (name)
		snprintf(path, sizeof(path), "%s/%s", dir, name);
	else
		snprintf(path, sizeof(path), "%s", dir);
	if ((s = vp_read_file(path, 1 << 22, NULL)) == NULL)
		return NULL;
	j = json_loads(s, JSON_DECODE_ANY, NULL);
	free(s);
	return j;
}

static long long
count_lines(const char *path)
{
	char buf[65536];
	long long n = 0;
	size_t got;
	FILE *fp;

	if (path == NULL || (fp = fopen(path, "r")) == NULL)
		return 0;
	while ((got = fread(buf, 1, sizeof(buf), fp)) > 0)
		for (char *p = buf; (p = memchr(p, '\n', (size_t)(buf + got - p)));
		    p++)
			n++;
	fclose(fp);
	return n;
}

static long long
jint(json_t *o, const char *k)
{
	return o ? (long long)json_integer_value(json_object_get(o, k)) : 0;
}

static const char *
jstr(json_t *o, const char *k)
{
	const char *s = o ? json_string_value(json_object_get(o, k)) : NULL;

	return s ? s : "";
}

/* One unit's numbers, gathered from its files. */
struct unit {
	json_t *u, *read, *encoded, *ck, *state;
	long long restarts, delivered, deadlettered, retried;
	int has_retried;
};

static void
unit_load(struct unit *x, json_t *u)
{
	const char *d = jstr(u, "dir");
	json_t *v;

	memset(x, 0, sizeof(*x));
	x->u = u;
	x->read = read_json(d, "read.json");
	x->encoded = read_json(d, "encoded.json");
	x->state = read_json(d, "state.json");
	x->restarts = jint(x->state, "restarts");
	if (*jstr(u, "checkpoint"))
		x->ck = read_json(jstr(u, "checkpoint"), NULL);
	/*
	 * The checkpoint counts what this run of the sink delivered; vcpipe
	 * adds up earlier runs in state.json when it restarts the pipeline,
	 * and names the checkpoint it already counted, until the new run
	 * writes its own.
	 */
	x->delivered = jint(x->state, "delivered");
	if (x->ck && strcmp(jstr(x->ck, "updated"),
	    jstr(x->state, "counted")) != 0)
		x->delivered += jint(x->ck, "delivered");
	/* sinks that report these in their checkpoint are believed */
	if (x->ck && (v = json_object_get(x->ck, "deadlettered")))
		x->deadlettered = jint(x->state, "deadlettered") +
		    (long long)json_integer_value(v);
	else
		x->deadlettered = count_lines(*jstr(u, "dlq") ?
		    jstr(u, "dlq") : NULL);
	if (x->ck && (v = json_object_get(x->ck, "retried"))) {
		x->has_retried = 1;
		x->retried = jint(x->state, "retried") +
		    (long long)json_integer_value(v);
	}
}

static void
unit_free(struct unit *x)
{
	json_decref(x->read);
	json_decref(x->encoded);
	json_decref(x->ck);
	json_decref(x->state);
}

static double
load1(int i)
{
	double l[3] = { 0, 0, 0 };

	if (getloadavg(l, 3) < 0)
		return 0;
	return l[i];
}

static char *
render_stats(void)
{
	json_t *units = read_json(M.dir, "units.json"), *all, *stats;
	time_t up = time(NULL) - M.started;
	size_t i;
	json_t *u;
	char *s;

	stats = json_object();
	json_array_foreach(units, i, u) {
		struct unit x;
		json_t *p, *inv;
		const char *pname = jstr(u, "provider");

		unit_load(&x, u);
		/* a provider feeding several processors appears once */
		if ((p = json_object_get(stats, pname)) == NULL) {
			p = json_pack("{s:s, s:s, s:s, s:I, s:I, s:f}",
			    "type", "EventProvider",
			    "address", jstr(u, "providerAddress"),
			    "started", M.started_s,
			    "events_total", (json_int_t)jint(x.read, "lines"),
			    "events_err", (json_int_t)0,
			    "events_per_sec", up > 0 ?
			    (double)jint(x.read, "lines") / (double)up : 0.0);
			json_object_set_new(stats, pname, p);
		}
		inv = json_object_get(x.encoded, "subjects");
		json_object_set_new(stats, jstr(u, "processor"), json_pack(
		    "{s:s, s:s, s:s, s:o}", "type", "EventProcessor",
		    "address", jstr(u, "address"), "started", M.started_s,
		    "invocations", inv ? json_incref(inv) : json_object()));
		unit_free(&x);
	}
	all = json_pack("{s:[s], s:{s:f, s:f, s:f}, s:f, s:I, s:s, s:o}",
	    "cmdline", "vcpipe",
	    "system.allLoad", "Load1", load1(0), "Load5", load1(1),
	    "Load15", load1(2),
	    "system.lastLoad", load1(0),
	    "system.numberOfSeconds", (json_int_t)up,
	    "system.programName", "vcpipe",
	    "vmware.event.router.stats", stats);
	s = json_dumps(all, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(all);
	json_decref(units);
	return s;
}

/* Prometheus label values: backslash, quote and newline escaped. */
static void
label(struct vp_buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			vp_buf_printf(b, "\\%c", *s);
		else if (*s == '\n')
			vp_buf_printf(b, "\\n");
		else
			vp_buf_append(b, s, 1);
	}
}

static double
rfc3339_secs(const char *s)
{
	int64_t sec;
	int32_t nsec;

	if (*s == '\0' || vp_parse_rfc3339(s, &sec, &nsec) != 0)
		return 0;
	return (double)sec + nsec / 1e9;
}

#define HELP(b, name, type, text) vp_buf_printf(b, \
	"# HELP " name " " text "\n# TYPE " name " " type "\n")

static char *
render_prometheus(void)
{
	json_t *units = read_json(M.dir, "units.json"), *u;
	struct vp_buf b = { 0 };
	struct unit *xs;
	size_t i, n = json_array_size(units);

	xs = vp_xmalloc((n ? n : 1) * sizeof(*xs));
	json_array_foreach(units, i, u)
		unit_load(&xs[i], u);
	HELP(&b, "vcpipe_up", "gauge", "1 while vcpipe runs.");
	vp_buf_printf(&b, "vcpipe_up 1\n");
	HELP(&b, "vcpipe_start_time_seconds", "gauge",
	    "When vcpipe started, seconds since the epoch.");
	vp_buf_printf(&b, "vcpipe_start_time_seconds %lld\n",
	    (long long)M.started);

#define PER_UNIT(name, type, text, expr, cond) do {			\
	HELP(&b, name, type, text);					\
	for (i = 0; i < n; i++) {					\
		struct unit *x = &xs[i];				\
		if (!(cond))						\
			continue;					\
		vp_buf_printf(&b, name "{pipeline=\"");			\
		label(&b, jstr(x->u, "unit"));				\
		vp_buf_printf(&b, "\",provider=\"");			\
		label(&b, jstr(x->u, "provider"));			\
		vp_buf_printf(&b, "\",sink=\"");			\
		label(&b, jstr(x->u, "processor"));			\
		vp_buf_printf(&b, "\",sink_type=\"");			\
		label(&b, jstr(x->u, "processorType"));			\
		vp_buf_printf(&b, "\"} %.17g\n", (double)(expr));	\
	}								\
} while (0)

	PER_UNIT("vcpipe_events_read_total", "counter",
	    "Raw events vc-source wrote.", jint(x->read, "lines"), 1);
	PER_UNIT("vcpipe_events_encoded_total", "counter",
	    "CloudEvents ce-encode wrote.", jint(x->encoded, "lines"), 1);
	PER_UNIT("vcpipe_events_delivered_total", "counter",
	    "Events the sink had acknowledged (from its checkpoint).",
	    x->delivered, 1);
	PER_UNIT("vcpipe_events_deadlettered_total", "counter",
	    "Events in the sink's dead-letter file.", x->deadlettered, 1);
	PER_UNIT("vcpipe_events_retried_total", "counter",
	    "Delivery retries, where the sink reports them.", x->retried,
	    x->has_retried);
	PER_UNIT("vcpipe_stream_bytes_total", "counter",
	    "Bytes of CloudEvents passed to the sink.",
	    jint(x->encoded, "bytes"), 1);
	PER_UNIT("vcpipe_last_event_read_timestamp_seconds", "gauge",
	    "When the last raw event was read.",
	    rfc3339_secs(jstr(x->read, "last")), *jstr(x->read, "last"));
	PER_UNIT("vcpipe_last_event_encoded_timestamp_seconds", "gauge",
	    "When the last CloudEvent was encoded.",
	    rfc3339_secs(jstr(x->encoded, "last")), *jstr(x->encoded, "last"));
	PER_UNIT("vcpipe_last_event_delivered_timestamp_seconds", "gauge",
	    "The CloudEvent time of the last event the sink checkpointed.",
	    rfc3339_secs(jstr(x->ck, "time")), *jstr(x->ck, "time"));
	PER_UNIT("vcpipe_restarts_total", "counter",
	    "Times vcpipe restarted the pipeline.", x->restarts, 1);
	PER_UNIT("vcpipe_pipeline_running", "gauge",
	    "1 while the pipeline's stages run.",
	    strcmp(jstr(x->state, "status"), "running") == 0, 1);

	HELP(&b, "vcpipe_events_by_class_total", "counter",
	    "CloudEvents encoded, by subject (event class).");
	for (i = 0; i < n; i++) {
		json_t *subj = json_object_get(xs[i].encoded, "subjects"), *v;
		const char *k;
		json_object_foreach(subj, k, v) {
			vp_buf_printf(&b, "vcpipe_events_by_class_total"
			    "{pipeline=\"");
			label(&b, jstr(xs[i].u, "unit"));
			vp_buf_printf(&b, "\",class=\"");
			label(&b, k);
			vp_buf_printf(&b, "\"} %lld\n",
			    (long long)json_integer_value(v));
		}
	}
	for (i = 0; i < n; i++)
		unit_free(&xs[i]);
	free(xs);
	json_decref(units);
	return b.data ? b.data : vp_xstrdup("");
}

static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned status, const char *type,
    char *body)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(strlen(body), body,
	    MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(r, "Content-Type", type);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Constant-time string compare, so a wrong password takes as long. */
static int
same(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = la != lb;

	for (size_t i = 0; i < la; i++)
		d |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
	return d == 0;
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_len, void **req)
{
	(void)cls; (void)version; (void)upload; (void)upload_len; (void)req;

	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
		    vp_xstrdup("only GET\n"));
	if (M.user) {
		char *pw = NULL, *u;
		int good;

		u = MHD_basic_auth_get_username_password(conn, &pw);
		good = u && pw && same(u, M.user) && same(pw, M.pass);
		if (u)
			MHD_free(u);
		if (pw)
			MHD_free(pw);
		if (!good) {
			struct MHD_Response *r;
			enum MHD_Result ret;
			static char msg[] = "invalid credentials";

			r = MHD_create_response_from_buffer(strlen(msg), msg,
			    MHD_RESPMEM_PERSISTENT);
			ret = MHD_queue_basic_auth_fail_response(conn,
			    "Restricted", r);
			MHD_destroy_response(r);
			return ret;
		}
	}
	if (strcmp(url, "/stats") == 0)
		return reply(conn, MHD_HTTP_OK, "application/json",
		    render_stats());
	if (strcmp(url, "/metrics") == 0)
		return reply(conn, MHD_HTTP_OK,
		    "text/plain; version=0.0.4; charset=utf-8",
		    render_prometheus());
	return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain",
	    vp_xstrdup("not found: try /stats or /metrics\n"));
}

/* IP:PORT or [IPv6]:PORT into a socket address. */
static int
parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[128];
	const char *colon = strrchr(s, ':');
	long port;
	char *end;
	size_t hl;

	if (colon == NULL || colon == s)
		return -1;
	port = strtol(colon + 1, &end, 10);
	if (*end || colon[1] == '\0' || port < 0 || port > 65535)
		return -1;
	hl = (size_t)(colon - s);
	if (s[0] == '[' && hl >= 2 && s[hl - 1] == ']') {
		s++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		*len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
		return 0;
	}
	return -1;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "credentials-file", required_argument, NULL, 'C' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "listen", required_argument, NULL, 'l' },
		{ "log-json", no_argument, NULL, 'J' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char *listen = NULL, *cred = NULL;
	struct sockaddr_storage ss;
	struct MHD_Daemon *d;
	socklen_t sslen = 0;
	sigset_t set;
	char err[512];
	int ch, sig;

	vp_log_init(argv[0]);
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'C':
			cred = optarg;
			break;
		case 'd':
			M.dir = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			fputs("\nServe vcpipe's counters: /stats (the event "
			    "router's JSON) and /metrics\n(Prometheus).  See "
			    "vcpipe(1).\n", stdout);
			return VP_EXIT_OK;
		case 'J':
			vp_log_set_json(1);
			break;
		case 'L':
			vp_log_level_option(optarg);
			break;
		case 'l':
			listen = optarg;
			break;
		case 'V':
			snprintf(err, sizeof(err), "libmicrohttpd %s",
			    MHD_get_version());
			vp_print_versions("vcpipe-metrics", err);
			return VP_EXIT_OK;
		default:
			fputs(usage_text, stderr);
			return VP_EXIT_USAGE;
		}
	}
	if (optind != argc)
		vp_usage_error("unexpected argument \"%s\"", argv[optind]);
	if (listen == NULL || M.dir == NULL)
		vp_usage_error("--listen and --dir are required");
	if (parse_listen(listen, &ss, &sslen) != 0)
		vp_usage_error("--listen: expected IP:PORT, got \"%s\"", listen);
	if (cred && vp_read_credentials(cred, NULL, NULL, &M.user, &M.pass,
	    err, sizeof(err)) != 0)
		vp_die(VP_EXIT_NOINPUT, "credentials: %s", err);
	M.started = time(NULL);
	vp_format_rfc3339(M.started, 0, M.started_s, sizeof(M.started_s));

	/* block the signals before the server thread starts, then sigwait */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0), 0, NULL, NULL,
	    handle, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
	if (d == NULL)
		vp_die(VP_EXIT_TEMPFAIL, "%s: cannot listen (in use?)", listen);
	(void)sslen;
	vp_info("serving /stats and /metrics on http://%s", listen);
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	vp_free_secret(M.user);
	vp_free_secret(M.pass);
	return VP_EXIT_OK;
}
