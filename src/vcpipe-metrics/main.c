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
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "httpd.h"
#include "opt.h"
#include "vp.h"

static struct {
	const char *dir, *listen, *cred;
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
	/* no sink stage: what reached vcpipe's stdout is delivered */
	if (strcmp(jstr(u, "processorType"), "stdout") == 0)
		x->delivered = jint(x->encoded, "lines");
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
	    "Events the sink had acknowledged (its checkpoint), or printed (stdout).",
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

/* Reply with body (malloc'd by the renderers, freed here). */
static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned status, const char *type,
    char *body)
{
	enum MHD_Result ret;

	ret = httpd_reply(conn, status, type, body, strlen(body));
	free(body);
	return ret;
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
	if (M.user && !httpd_basic_auth_ok(conn, M.user, M.pass))
		return httpd_auth_fail(conn, "Restricted");
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

static const struct vp_opt options[] = {
	VP_OPT("listen", VP_OPT_LISTEN, &M.listen, "ADDR",
	    "Listen on ADDR: HOST:PORT, [IPv6]:PORT or :PORT (every "
	    "interface).", .flags = VP_OPT_REQUIRED),
	VP_OPT("dir", VP_OPT_STRING, &M.dir, "RUNDIR",
	    "vcpipe's run directory, where the counters are.",
	    .flags = VP_OPT_REQUIRED),
	VP_OPT("credentials-file", VP_OPT_STRING, &M.cred, "FILE",
	    "Require Basic authentication with the user name and password "
	    "in FILE (two lines, or a directory with username and password "
	    "files)."),
	VP_OPT_END
};

static const struct vp_cmd cmd = {
	.name = "vcpipe-metrics",
	.synopsis = "--listen ADDR --dir RUNDIR [OPTION]...",
	.about = "Serve vcpipe's counters over HTTP: /stats (the event "
	    "router's expvar JSON) and /metrics (Prometheus). vcpipe runs it "
	    "when the configuration has a metricsProvider.",
	.see = "vcpipe(1)",
	.opts = options,
	.libs = VP_LIBS(VP_LIB_MHD, VP_LIB_JANSSON),
};

int
main(int argc, char **argv)
{
	struct MHD_OptionItem mopts[] = {
		{ MHD_OPTION_CONNECTION_TIMEOUT, 10, NULL },
		{ MHD_OPTION_END, 0, NULL }
	};
	struct MHD_Daemon *d;
	sigset_t set;
	char err[512];
	int sig;

	vp_opt_parse(&cmd, argc, argv);
	if (M.cred)
		vp_load_credentials("--credentials-file", M.cred, NULL, NULL,
		    &M.user, &M.pass);
	M.started = time(NULL);
	vp_format_rfc3339(M.started, 0, M.started_s, sizeof(M.started_s));

	/* block the signals before the server thread starts, then sigwait */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	d = httpd_start(M.listen, 0, handle, NULL, mopts, err, sizeof(err));
	if (d == NULL)
		vp_die(VP_EXIT_TEMPFAIL, "--listen: %s", err);
	vp_info("serving /stats and /metrics on http://%s (port %u)", M.listen,
	    httpd_port(d));
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	vp_free_secret(M.user);
	vp_free_secret(M.pass);
	return VP_EXIT_OK;
}
