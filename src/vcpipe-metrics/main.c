/*
 * vcpipe-metrics: serve vcpipe's counters over HTTP.
 *
 *   /stats    the VMware event router's expvar page byte for byte in
 *             its layout (cmdline, memstats, system.*, and
 *             vmware.event.router.stats with one entry per provider and
 *             processor: events_total/events_err/events_per_sec, and
 *             invocations by subject as the sinks counted them at delivery),
 *             so dashboards written for the router keep working
 *   /metrics  the same and more in the Prometheus text format
 *
 * Nothing is kept in memory: every request reads the files vcpipe and its
 * stages already write under the run directory (units.json from vcpipe,
 * the vcpipe-tap counters, the restart counts) and the sinks' checkpoint
 * and dead-letter files.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "httpd.h"
#include "json.h"
#include "opt.h"
#include "vp.h"
#include "help/vcpipe-metrics.h"

static struct httpd_conf srv = { .basic_opt = "--credentials-file" };

static struct {
	const char *dir;
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
	long long restarts, delivered, deadlettered, retried, rejected;
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
	/* lines ce-encode refused (vcpipe's --reject file) */
	x->rejected = count_lines(*jstr(u, "reject") ? jstr(u, "reject") :
	    NULL);
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

/* ---- /stats: the event router's expvar page -------------------------------- */

static int
strcmp_p(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * A float as Go prints it: encoding/json ('f', shortest) or expvar.Float
 * ('g', shortest). The values here (loads, rates rounded to 2 places) have
 * at most a few decimals, so %.2f with its trailing zeros cut is shortest.
 */
static void
go_float(struct vp_buf *b, double v)
{
	char t[64];
	size_t n;

	if (v != v || v > 1e15 || v < -1e15)
		v = 0;
	n = (size_t)snprintf(t, sizeof(t), "%.2f", v);
	while (n > 0 && t[n - 1] == '0')
		n--;
	if (n > 0 && t[n - 1] == '.')
		n--;
	if (n == 2 && t[0] == '-' && t[1] == '0')
		t[0] = '0', n = 1;
	vp_buf_append(b, t, n);
}

static void
go_str(struct vp_buf *b, const char *s)
{
	js_quote_go(b, s, strlen(s));
}

/*
 * The memory of vcpipe's processes as runtime.MemStats' fields, summed over
 * the process tree of metrics' parent (vcpipe) from /proc/PID/status:
 * HeapAlloc/HeapInuse/HeapSys/Alloc the anonymous resident memory without
 * the stacks, StackInuse/StackSys the stacks, OtherSys the resident file and
 * shared pages, Sys their sum. C programs keep no Go allocator or collector
 * counts: those fields are 0 (EnableGC false).
 */
struct mem {
	unsigned long long anon, stack, file;
	unsigned nproc;
};

static unsigned long long
status_kb(const char *text, const char *field)
{
	const char *p = strstr(text, field);

	return p ? strtoull(p + strlen(field), NULL, 10) : 0;
}

static void
mem_of_tree(pid_t root, struct mem *m)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t *pid = NULL, *ppid = NULL;
	size_t n = 0, cap = 0;

	memset(m, 0, sizeof(*m));
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char path[300], buf[512], *cl;
		FILE *fp;
		size_t got;
		long pp;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if ((fp = fopen(path, "r")) == NULL)
			continue;
		got = fread(buf, 1, sizeof(buf) - 1, fp);
		fclose(fp);
		buf[got] = '\0';
		/* pid (comm) state ppid: comm may hold anything but ')' ends it */
		if ((cl = strrchr(buf, ')')) == NULL ||
		    sscanf(cl + 1, " %*c %ld", &pp) != 1)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			pid = vp_xrealloc(pid, cap * sizeof(*pid));
			ppid = vp_xrealloc(ppid, cap * sizeof(*ppid));
		}
		pid[n] = (pid_t)atol(de->d_name);
		ppid[n++] = (pid_t)pp;
	}
	closedir(d);
	for (size_t i = 0; i < n; i++) {
		char path[64], *text;
		pid_t p = pid[i];
		int depth = 0;

		/* is root an ancestor (or itself)? */
		while (p != root && p > 1 && depth++ < 64) {
			size_t j;
			for (j = 0; j < n && pid[j] != p; j++)
				;
			p = j < n ? ppid[j] : 0;
		}
		if (p != root)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid[i]);
		if ((text = vp_read_file(path, 1 << 16, NULL)) == NULL)
			continue;
		m->anon += status_kb(text, "RssAnon:") * 1024;
		m->file += (status_kb(text, "RssFile:") +
		    status_kb(text, "RssShmem:")) * 1024;
		m->stack += status_kb(text, "VmStk:") * 1024;
		m->nproc++;
		free(text);
	}
	free(pid);
	free(ppid);
}

static void
memstats(struct vp_buf *b)
{
	/* runtime.MemStats.BySize: Go's size classes (BySize[i].Size) */
	static const unsigned sizes[61] = { 0, 8, 16, 24, 32, 48, 64, 80, 96,
	    112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320, 352,
	    384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280,
	    1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864,
	    5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880,
	    12288, 13568, 14336, 16384, 18432 };
	struct mem m;
	unsigned long long heap, sys;

	mem_of_tree(getppid(), &m);
	heap = m.anon > m.stack ? m.anon - m.stack : 0;
	sys = heap + m.stack + m.file;
	vp_buf_printf(b, "{\"Alloc\":%llu,\"TotalAlloc\":0,\"Sys\":%llu,"
	    "\"Lookups\":0,\"Mallocs\":0,\"Frees\":0,\"HeapAlloc\":%llu,"
	    "\"HeapSys\":%llu,\"HeapIdle\":0,\"HeapInuse\":%llu,"
	    "\"HeapReleased\":0,\"HeapObjects\":0,\"StackInuse\":%llu,"
	    "\"StackSys\":%llu,\"MSpanInuse\":0,\"MSpanSys\":0,"
	    "\"MCacheInuse\":0,\"MCacheSys\":0,\"BuckHashSys\":0,\"GCSys\":0,"
	    "\"OtherSys\":%llu,\"NextGC\":0,\"LastGC\":0,\"PauseTotalNs\":0,"
	    "\"PauseNs\":[", heap, sys, heap, heap, heap, m.stack, m.stack,
	    m.file);
	for (int i = 0; i < 256; i++)
		vp_buf_append(b, i ? ",0" : "0", i ? 2 : 1);
	vp_buf_append(b, "],\"PauseEnd\":[", 14);
	for (int i = 0; i < 256; i++)
		vp_buf_append(b, i ? ",0" : "0", i ? 2 : 1);
	vp_buf_printf(b, "],\"NumGC\":0,\"NumForcedGC\":0,\"GCCPUFraction\":0,"
	    "\"EnableGC\":false,\"DebugGC\":false,\"BySize\":[");
	for (int i = 0; i < 61; i++)
		vp_buf_printf(b, "%s{\"Size\":%u,\"Mallocs\":0,\"Frees\":0}",
		    i ? "," : "", sizes[i]);
	vp_buf_append(b, "]}", 2);
}

/*
 * The key of a provider's or processor's entry: its type, as the router
 * has one of each ("vcenter", "knative"); its name when the configuration
 * has two of that type.
 */
static const char *
entry_key(json_t *units, json_t *u, const char *type_k, const char *name_k)
{
	const char *type = jstr(u, type_k), *name = jstr(u, name_k);
	size_t i;
	json_t *o;

	json_array_foreach(units, i, o)
		if (strcmp(jstr(o, type_k), type) == 0 &&
		    strcmp(jstr(o, name_k), name) != 0)
			return name;
	return type;
}

/* A subject's counts in a checkpoint's "invocations": [delivered, failed]. */
static void
add_invocations(json_t *acc, json_t *ck)
{
	json_t *inv = json_object_get(ck, "invocations"), *v, *a;
	const char *k;

	json_object_foreach(inv, k, v) {
		if ((a = json_object_get(acc, k)) == NULL) {
			a = json_pack("[I,I]", (json_int_t)0, (json_int_t)0);
			json_object_set_new(acc, k, a);
		}
		json_array_set_new(a, 0, json_integer(json_integer_value(
		    json_array_get(a, 0)) + json_integer_value(
		    json_array_get(v, 0))));
		json_array_set_new(a, 1, json_integer(json_integer_value(
		    json_array_get(a, 1)) + json_integer_value(
		    json_array_get(v, 1))));
	}
}

static long long
failures(json_t *acc)
{
	const char *k;
	json_t *v;
	long long n = 0;

	json_object_foreach(acc, k, v)
		n += (long long)json_integer_value(json_array_get(v, 1));
	return n;
}

/* One EventStats value, as json.Marshal writes the router's struct. */
static void
event_stats(struct vp_buf *b, const char *type, const char *address,
    json_t *provider, json_t *inv, time_t up)
{
	vp_buf_append(b, "{\"type\":", 8);
	go_str(b, type);
	vp_buf_append(b, ",\"address\":", 11);
	go_str(b, address);
	vp_buf_append(b, ",\"started\":", 11);
	go_str(b, M.started_s);
	if (provider) {
		long long total = (long long)json_integer_value(json_object_get(
		    provider, "total"));
		vp_buf_printf(b, ",\"events_total\":%lld,\"events_err\":%lld,"
		    "\"events_per_sec\":", total, (long long)json_integer_value(
		    json_object_get(provider, "err")));
		go_float(b, up > 0 ? (double)total / (double)up : 0);
	}
	/* omitempty: no invocations, no member */
	if (json_object_size(inv) > 0) {
		const char **keys = vp_xmalloc(json_object_size(inv) *
		    sizeof(*keys));
		size_t n = 0;
		const char *k;
		json_t *v;

		json_object_foreach(inv, k, v)
			keys[n++] = k;
		qsort(keys, n, sizeof(*keys), strcmp_p);
		vp_buf_append(b, ",\"invocations\":{", 16);
		for (size_t i = 0; i < n; i++) {
			v = json_object_get(inv, keys[i]);
			if (i)
				vp_buf_append(b, ",", 1);
			go_str(b, keys[i]);
			vp_buf_printf(b, ":{\"SuccessCount\":%lld,"
			    "\"FailureCount\":%lld}",
			    (long long)json_integer_value(json_array_get(v, 0)),
			    (long long)json_integer_value(json_array_get(v, 1)));
		}
		vp_buf_append(b, "}", 1);
		free(keys);
	}
	vp_buf_append(b, "}", 1);
}

static char *
render_stats(void)
{
	json_t *units = read_json(M.dir, "units.json"), *entries, *u, *e;
	time_t up = time(NULL) - M.started;
	struct vp_buf b = { 0 };
	const char **keys;
	size_t i, n;
	const char *k;

	/* entries: key -> {kind, type, address, provider {total, err}, inv} */
	entries = json_object();
	json_array_foreach(units, i, u) {
		struct unit x;
		const char *pk = entry_key(units, u, "providerType", "provider");
		const char *qk = entry_key(units, u, "processorType",
		    "processor");
		json_t *p, *q;

		unit_load(&x, u);
		if ((p = json_object_get(entries, pk)) == NULL) {
			/* a provider feeding several processors appears once */
			p = json_pack("{s:s, s:s, s:{s:I, s:I}, s:{}}", "type",
			    "EventProvider", "address", jstr(u,
			    "providerAddress"), "provider", "total",
			    (json_int_t)jint(x.read, "lines"), "err",
			    (json_int_t)0, "inv");
			json_object_set_new(entries, pk, p);
		}
		if ((q = json_object_get(entries, qk)) == NULL) {
			q = json_pack("{s:s, s:s, s:{}}", "type",
			    "EventProcessor", "address", jstr(u, "address"),
			    "inv");
			json_object_set_new(entries, qk, q);
		}
		if (x.ck) {
			json_t *pi = json_object_get(p, "provider");
			json_t *acc = json_object();

			add_invocations(acc, x.ck);
			add_invocations(json_object_get(q, "inv"), x.ck);
			/* events_err: what its processors failed to deliver */
			json_object_set_new(pi, "err", json_integer(
			    json_integer_value(json_object_get(pi, "err")) +
			    failures(acc)));
			json_decref(acc);
		}
		unit_free(&x);
	}

	/* expvar's handler: "{\n", "name": value joined by ",\n", "\n}\n",
	 * names sorted; expvar.Map the same inline with ", " */
	vp_buf_append(&b, "{\n\"cmdline\": [\"vcpipe\"],\n\"memstats\": ", 37);
	memstats(&b);
	vp_buf_printf(&b, ",\n\"system.allLoad\": {\"Load1\":");
	go_float(&b, load1(0));
	vp_buf_append(&b, ",\"Load5\":", 9);
	go_float(&b, load1(1));
	vp_buf_append(&b, ",\"Load15\":", 10);
	go_float(&b, load1(2));
	vp_buf_append(&b, "},\n\"system.lastLoad\": ", 22);
	go_float(&b, load1(0));
	vp_buf_printf(&b, ",\n\"system.numberOfSeconds\": %lld,\n"
	    "\"system.programName\": \"vcpipe\",\n"
	    "\"vmware.event.router.stats\": {", (long long)up);
	n = json_object_size(entries);
	keys = vp_xmalloc((n ? n : 1) * sizeof(*keys));
	n = 0;
	json_object_foreach(entries, k, e)
		keys[n++] = k;
	qsort(keys, n, sizeof(*keys), strcmp_p);
	for (i = 0; i < n; i++) {
		e = json_object_get(entries, keys[i]);
		if (i)
			vp_buf_append(&b, ", ", 2);
		go_str(&b, keys[i]);
		vp_buf_append(&b, ": ", 2);
		event_stats(&b, jstr(e, "type"), jstr(e, "address"),
		    json_object_get(e, "provider"), json_object_get(e, "inv"),
		    up);
	}
	vp_buf_append(&b, "}\n}\n", 4);
	free(keys);
	json_decref(entries);
	json_decref(units);
	return b.data;
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
	PER_UNIT("vcpipe_events_rejected_total", "counter",
	    "Lines ce-encode refused (kept in the pipeline's reject file).",
	    x->rejected, 1);
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
handle(struct MHD_Connection *conn, const struct httpd_req *q)
{
	const char *url = q->url, *method = q->method;

	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
		    vp_xstrdup("only GET\n"));
	if (strcmp(url, "/stats") == 0)
		return reply(conn, MHD_HTTP_OK,
		    "application/json; charset=utf-8", render_stats());
	if (strcmp(url, "/metrics") == 0)
		return reply(conn, MHD_HTTP_OK,
		    "text/plain; version=0.0.4; charset=utf-8",
		    render_prometheus());
	return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain",
	    vp_xstrdup("not found: try /stats or /metrics\n"));
}

/* options: src/vcpipe-metrics/options.tab */
#include "opts/vcpipe-metrics.h"

/* --help: help/vcpipe-metrics.h, made of man/vcpipe.1 */
static const struct vp_cmd cmd = VP_PROGRAM(options,
    VP_LIBS(VP_LIB_MHD, VP_LIB_JANSSON));

int
main(int argc, char **argv)
{
	struct MHD_Daemon *d;
	sigset_t set;
	int sig;

	vp_opt_parse(&cmd, argc, argv);
	httpd_load(&srv);
	M.started = time(NULL);
	vp_format_rfc3339(M.started, 0, M.started_s, sizeof(M.started_s));

	/* block the signals before the server thread starts, then sigwait */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	srv.cb = handle;
	d = httpd_listen(&srv, "serving /stats and /metrics");
	sigwait(&set, &sig);
	httpd_stop(d);
	return VP_EXIT_OK;
}
