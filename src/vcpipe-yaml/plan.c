/*
 * plan.c: from a checked configuration to vcpipe's plan (vcpipe(1), "The
 * plan").  Every default is applied here, once; bin/vcpipe only starts,
 * watches and restarts what the plan says.
 *
 * For each pair of provider and processor, one pipeline: its stages as
 * argument arrays (RUN/u/NAME/stages, read by vcpipe-group: nothing is
 * ever parsed by a shell), its secrets in 0600 files next to them, and a
 * line of RUN/plan with its restart policy.  --dry-run prints the same
 * stages as shell, every word quoted.
 *
 * The mapping from configuration keys to stage options is a table per
 * provider and per processor type, made by the build from config.tab, where
 * each key is declared once with its schema and the option it becomes
 * (rows/vcpipe-yaml-plan.h, included below the functions its rows name):
 * a new key is a new line there.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "jq.h"
#include "plan.h"
#include "vp.h"

#define MAX_STAGES 8
#define MAX_SECRETS 4

struct word {
	char *s;
	size_t run;		/* a path in the run directory: its prefix */
};

struct stage {
	const char *name;	/* for logs and DIR/exit */
	struct word *w;
	size_t n, cap;
};

struct secret {
	char *path;
	size_t run;
	int aws;		/* an AWS shared credentials file */
	const char *user;	/* username or access key id */
	json_t *a;		/* the section holding one of the three keys */
	const char *kv, *kf, *ke;	/* value, file and env key names */
};

struct unit;

/*
 * A row: the option flag and where its value comes from.
 *   A_STR    the string at key (a dotted path in the section), or def
 *   A_INT    the integer at key, in decimal
 *   A_FLAG   the flag alone when the boolean at key is true
 *   A_CONST  the flag, then key as it is when key is not NULL
 *   A_FN     the flag, then what fn returns (NULL: neither)
 *   A_CA     the flag and the string at key (the section's caFile, where it
 *            has one), else the bundle of certificates.rootCAs (neither: no
 *            flag)
 *   A_CRED   the flag and the section's credentialsFile, else its
 *            auth.basicAuth written to the run file named key
 *   A_BASIC  the flag and the section's auth.basicAuth, written to the run
 *            file named key
 *   A_SETS   "--set NAME=VALUE" for each member of the map at key
 *   A_EACH   the flag and each string of the list at key
 *   A_IF     the flag alone when fn returns a word
 */
enum how { A_STR, A_INT, A_FLAG, A_CONST, A_FN, A_CA, A_CRED, A_BASIC,
	A_SETS, A_EACH, A_IF };
struct arg {
	const char *flag;
	enum how how;
	const char *key;
	const char *def;
	struct word (*fn)(struct unit *);
};
#define ROW_END { NULL, A_CONST, NULL, NULL, NULL }

struct provider_kind {
	const char *type;	/* the provider's type and section */
	const char *prog;	/* its source stage */
	const struct arg *args;
	int vcenter;		/* sharded by address; router type style */
};

struct sink_kind {
	const char *type;	/* the processor's type */
	const char *section;	/* its section, NULL for none */
	const char *prog;	/* its sink stage, NULL: vcpipe's stdout */
	const struct arg *args;
	char *(*address)(struct unit *);	/* for /stats */
};

struct unit {
	const struct plan_opts *o;
	json_t *cfg;		/* the whole configuration */
	int native;
	char *name;		/* provider.processor, made a file name */
	char *dir;		/* RUN/u/NAME */
	json_t *p, *q;		/* provider, processor */
	json_t *src;		/* the provider's section */
	json_t *s;		/* the processor's section (or an empty one) */
	const struct provider_kind *pk;
	const struct sink_kind *sk;
	int keep;		/* checkpoints outlive vcpipe */
	char *ck, *dlq, *rej;	/* checkpoint, dead letters, ce-encode's rejects */
	size_t ck_run, dlq_run, rej_run;	/* in the run directory: its prefix */
	struct stage st[MAX_STAGES];
	int nst;
	struct secret sec[MAX_SECRETS];
	int nsec;
};

/* ---- small helpers ---------------------------------------------------------- */

static char *
fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

static char *
fmt(const char *f, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, f);
	n = vsnprintf(NULL, 0, f, ap);
	va_end(ap);
	s = vp_xmalloc((size_t)n + 1);
	va_start(ap, f);
	vsnprintf(s, (size_t)n + 1, f, ap);
	va_end(ap);
	return s;
}

/* The value at a dotted path ("auth.basicAuth.username"), or NULL. */
static json_t *
jat(json_t *o, const char *path)
{
	char key[128];

	while (o && *path) {
		size_t n = strcspn(path, ".");

		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		o = json_is_object(o) ? json_object_get(o, key) : NULL;
		path += n + (path[n] == '.');
	}
	return o;
}

static const char *
jstr(json_t *o, const char *path)
{
	return json_string_value(jat(o, path));
}

static struct word
plain(char *s)
{
	return (struct word){ s, 0 };
}

/*
 * A setting vcpipe adds: in vcpipe/v1, the key in the provider's encode
 * section; in a RouterConfig, which must stay the router's, the
 * metadata.labels entry "vcpipe/LABEL" (vcpipe.yaml(5), "Labels").
 */
static const char *
setting(struct unit *u, const char *encode_key, const char *label)
{
	char k[128];

	if (u->native) {
		snprintf(k, sizeof(k), "encode.%s", encode_key);
		return jstr(u->p, k);
	}
	snprintf(k, sizeof(k), "vcpipe/%s", label);
	return json_string_value(json_object_get(jat(u->cfg,
	    "metadata.labels"), k));
}

/* certificates.rootCAs, as one bundle in the run directory (plan_write). */
static struct word
root_cas(struct unit *u)
{
	if (json_array_size(jat(u->cfg, "certificates.rootCAs")) == 0)
		return plain(NULL);
	return (struct word){ fmt("%s/rootcas.pem", u->o->run_dir),
	    strlen(u->o->run_dir) };
}

/* A file in the pipeline's run directory. */
static struct word
runfile(struct unit *u, const char *name)
{
	return (struct word){ fmt("%s/%s", u->dir, name),
	    strlen(u->o->run_dir) };
}

static void
add(struct stage *st, struct word w)
{
	if (st->n == st->cap) {
		st->cap = st->cap ? st->cap * 2 : 16;
		st->w = vp_xrealloc(st->w, st->cap * sizeof(*st->w));
	}
	st->w[st->n++] = w;
}

static void
addv(struct stage *st, const char *s)
{
	add(st, plain(vp_xstrdup(s)));
}

static struct stage *
new_stage(struct unit *u, const char *name, const char *prog)
{
	struct stage *st = &u->st[u->nst++];

	st->name = name;
	addv(st, prog);
	return st;
}

/* --log-level and --log-json as vcpipe has them, for every stage. */
static void
add_log(struct stage *st)
{
	addv(st, "--log-level");
	addv(st, vp_log_level_name());
	if (vp_log_json())
		addv(st, "--log-json");
}

static struct word root_cas(struct unit *);
static struct word basic_secret(struct unit *, json_t *, const char *);
static struct word file_or_basic(struct unit *, json_t *, const char *);

/* The word of an A_FN, A_CA, A_CRED or A_BASIC row; NULL: no flag. */
static struct word
row_word(struct unit *u, json_t *sec, const struct arg *a)
{
	const char *f;

	switch (a->how) {
	case A_CA:
		f = a->key ? jstr(sec, a->key) : NULL;
		return f ? plain(vp_xstrdup(f)) : root_cas(u);
	case A_CRED:
		return file_or_basic(u, sec, a->key);
	case A_BASIC:
		return basic_secret(u, sec, a->key);
	default:
		return a->fn(u);
	}
}

static void
add_rows(struct unit *u, struct stage *st, json_t *sec, const struct arg *a)
{
	for (; a->flag; a++) {
		const char *v;
		json_t *m, *val;
		const char *k;
		struct word w;

		switch (a->how) {
		case A_STR:
			if ((v = jstr(sec, a->key)) == NULL)
				v = a->def;
			if (v) {
				addv(st, a->flag);
				addv(st, v);
			}
			break;
		case A_INT:
			if (json_is_integer(val = jat(sec, a->key))) {
				addv(st, a->flag);
				add(st, plain(fmt("%lld",
				    (long long)json_integer_value(val))));
			}
			break;
		case A_FLAG:
			if (json_is_true(jat(sec, a->key)))
				addv(st, a->flag);
			break;
		case A_CONST:
			addv(st, a->flag);
			if (a->key)
				addv(st, a->key);
			break;
		case A_FN:
		case A_CA:
		case A_CRED:
		case A_BASIC:
			w = row_word(u, sec, a);
			if (w.s) {
				addv(st, a->flag);
				add(st, w);
			}
			break;
		case A_EACH:
			m = jat(sec, a->key);
			for (size_t i = 0; i < json_array_size(m); i++) {
				addv(st, a->flag);
				addv(st, json_string_value(
				    json_array_get(m, i)));
			}
			break;
		case A_IF:
			w = a->fn(u);
			if (w.s) {
				addv(st, a->flag);
				free(w.s);
			}
			break;
		case A_SETS:
			m = jat(sec, a->key);
			json_object_foreach(m, k, val) {
				addv(st, a->flag);
				add(st, plain(fmt("%s=%s", k,
				    json_string_value(val))));
			}
			break;
		}
	}
}

/* ---- secrets ----------------------------------------------------------------- */

static struct word
secret(struct unit *u, const char *file, json_t *a, const char *user,
    int aws)
{
	struct secret *sc = &u->sec[u->nsec++];
	struct word w = runfile(u, file);

	sc->path = vp_xstrdup(w.s);
	sc->run = w.run;
	sc->aws = aws;
	sc->user = user;
	sc->a = a;
	if (aws) {
		sc->kv = "secretKey";
		sc->kf = "secretKeyFile";
		sc->ke = "secretKeyEnv";
	} else {
		sc->kv = "password";
		sc->kf = "passwordFile";
		sc->ke = "passwordEnv";
	}
	return w;
}

static struct word
basic_secret(struct unit *u, json_t *sec, const char *file)
{
	json_t *a = jat(sec, "auth.basicAuth");

	if (a == NULL)
		return plain(NULL);
	return secret(u, file, a, jstr(a, "username"), 0);
}

/* ---- the rows: providers ------------------------------------------------------ */

static struct word
source_checkpoint(struct unit *u)
{
	if (u->sk->prog == NULL)
		return plain(NULL);
	return (struct word){ vp_xstrdup(u->ck), u->ck_run };
}

/* credentialsFile as it is, or a file vcpipe writes from auth.basicAuth */
static struct word
file_or_basic(struct unit *u, json_t *sec, const char *file)
{
	const char *f = jstr(sec, "credentialsFile");

	if (f)
		return plain(vp_xstrdup(f));
	return basic_secret(u, sec, file);
}

static struct word
horizon_credentials(struct unit *u)
{
	json_t *a = jat(u->src, "auth.activeDirectoryAuth");

	return secret(u, "horizon.cred", a, jstr(a, "username"), 0);
}

/* vcenter.maxReplay, else the vcpipe/max-replay label, else vc-source's 1h. */
static struct word
max_replay(struct unit *u)
{
	const char *v = jstr(u->src, "maxReplay");

	if (v == NULL && !u->native)
		v = setting(u, "maxReplay", "max-replay");
	return plain(v ? vp_xstrdup(v) : NULL);
}

static const char *
payload(struct unit *u)
{
	return setting(u, "payloadEncoding", "payload-encoding");
}

static struct word
want_xml(struct unit *u)
{
	const char *pe = payload(u);

	return plain(pe && strcmp(pe, "application/xml") == 0 ?
	    vp_xstrdup("1") : NULL);
}

static struct word
want_connector(struct unit *u)
{
	const char *pe = payload(u);

	return plain(pe && strcmp(pe, "vcenter-connector") == 0 ?
	    vp_xstrdup("1") : NULL);
}

/*
 * webhook.path as the router's validatePath has it: slashes trimmed at
 * both ends, lower-cased, "" is /webhook ("/" is refused by unit_check).
 */
static char *
webhook_path(json_t *src)
{
	const char *p = jstr(src, "path");
	size_t n;
	char *s;

	if (p == NULL || *p == '\0')
		return vp_xstrdup("/webhook");
	while (*p == '/')
		p++;
	n = strlen(p);
	while (n > 0 && p[n - 1] == '/')
		n--;
	s = fmt("/%.*s", (int)n, p);
	for (char *c = s; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return s;
}

static struct word
webhook_path_arg(struct unit *u)
{
	return plain(webhook_path(u->src));
}

/* Without a sink (stdout) nothing writes a checkpoint to wait for. */
static struct word
amqp_ack_on_write(struct unit *u)
{
	return plain(u->sk->prog ? NULL : vp_xstrdup("yes"));
}

/* ---- the rows: ce-encode ---------------------------------------------------------- */

static struct word
encode_mode(struct unit *u)
{
	const char *m = jstr(u->p, "encode.mode"), *pe = payload(u);

	if (m == NULL && strcmp(u->sk->type, "knative") == 0)
		m = jstr(u->s, "encoding");
	/* the connector's functions read its message as the whole body */
	if (m == NULL && pe && strcmp(pe, "vcenter-connector") == 0)
		m = "binary";
	return plain(m ? vp_xstrdup(m) : NULL);
}

/*
 * The CloudEvent type names: encode.typeStyle or the vcpipe/type-style
 * label; a RouterConfig keeps the router's for vCenter events.
 */
static struct word
type_style(struct unit *u)
{
	const char *t = setting(u, "typeStyle", "type-style");

	if (t == NULL && !u->native && u->pk->vcenter)
		t = "router";
	return plain(t ? vp_xstrdup(t) : NULL);
}

static struct word
encode_reject(struct unit *u)
{
	return (struct word){ vp_xstrdup(u->rej), u->rej_run };
}

static struct word
encode_id(struct unit *u)
{
	const char *v = setting(u, "id", "id");

	return plain(v ? vp_xstrdup(v) : NULL);
}

static struct word
encode_payload(struct unit *u)
{
	const char *v = payload(u);

	return plain(v && u->pk->vcenter ? vp_xstrdup(v) : NULL);
}


/* ---- the rows: sinks ------------------------------------------------------------ */

static struct word
sink_checkpoint(struct unit *u)
{
	return (struct word){ vp_xstrdup(u->ck), u->ck_run };
}

static struct word
sink_dlq(struct unit *u)
{
	return (struct word){ vp_xstrdup(u->dlq), u->dlq_run };
}

static struct word
aws_credentials(struct unit *u)
{
	json_t *a = jat(u->s, "auth.awsAccessKeyAuth");

	if (a == NULL)
		return plain(NULL);
	return secret(u, "aws.cred", a, jstr(a, "accessKey"), 1);
}

/*
 * A Knative destination: a URI (a string, or net/url's scheme/host/path),
 * or a ref, which sink-http --ref resolves through the Kubernetes API as
 * the router does (APIVERSION/KIND/NAMESPACE/NAME; GROUP/... for
 * ref.group).
 */
static char *
knative_ref(struct unit *u)
{
	json_t *r = jat(u->s, "destination.ref");
	const char *av = jstr(r, "apiVersion");

	if (r == NULL)
		return NULL;
	return fmt("%s/%s/%s/%s", av ? av : jstr(r, "group"), jstr(r, "kind"),
	    jstr(r, "namespace"), jstr(r, "name"));
}

static char *
knative_url(struct unit *u)
{
	json_t *d = jat(u->s, "destination"), *uri = jat(d, "uri");

	if (json_is_string(uri))
		return vp_xstrdup(json_string_value(uri));
	if (uri)
		return fmt("%s://%s%s", jstr(uri, "scheme"), jstr(uri, "host"),
		    jstr(uri, "path") ? jstr(uri, "path") : "");
	return knative_ref(u);
}

static struct word
knative_url_arg(struct unit *u)
{
	return plain(jat(u->s, "destination.uri") ? knative_url(u) : NULL);
}

static struct word
knative_ref_arg(struct unit *u)
{
	return plain(knative_ref(u));
}

static char *
openfaas_address(struct unit *u)
{
	return vp_xstrdup(jstr(u->s, "address"));
}

static char *
eventbridge_address(struct unit *u)
{
	const char *e = jstr(u->s, "endpointUrl");

	return e ? vp_xstrdup(e) : fmt("https://events.%s.amazonaws.com",
	    jstr(u->s, "region"));
}

static char *
stdout_address(struct unit *u)
{
	(void)u;
	return vp_xstrdup("stdout");
}

static char *
amqp_address(struct unit *u)
{
	return vp_xstrdup(jstr(u->s, "url"));
}

/* ---- the tables: each stage's rows, from config.tab ----------------------------- */

#include "rows/vcpipe-yaml-plan.h"

static const struct provider_kind providers[] = {
	{ "vcenter", "vc-source", vcenter_args, 1 },
	{ "vcsim", "vc-source", vcenter_args, 1 },
	{ "webhook", "webhook-source", webhook_args, 0 },
	{ "horizon", "horizon-source", horizon_args, 0 },
	{ "amqp", "amqp-source", amqp_source_args, 0 },
	{ NULL, NULL, NULL, 0 }
};

static const struct sink_kind sinks[] = {
	{ "knative", "knative", "sink-http", knative_args, knative_url },
	{ "openfaas", "openfaas", "sink-http", openfaas_args,
	    openfaas_address },
	{ "aws_event_bridge", "awsEventBridge", "sink-eventbridge",
	    eventbridge_args, eventbridge_address },
	{ "amqp", "amqp", "sink-amqp", amqp_sink_args, amqp_address },
	{ "stdout", NULL, NULL, NULL, stdout_address },
	{ NULL, NULL, NULL, NULL, NULL }
};

/* ---- one pipeline --------------------------------------------------------------- */

static void
tap(struct unit *u, const char *name, const char *stats, const char *copy)
{
	struct stage *st = new_stage(u, name, "vcpipe-tap");

	addv(st, "--stats");
	add(st, runfile(u, stats));
	if (u->o->tee_dir) {
		addv(st, "--copy");
		add(st, plain(fmt("%s/%s.%s", u->o->tee_dir, u->name, copy)));
	}
	add_log(st);
}

static void
build_stages(struct unit *u)
{
	struct stage *st;

	st = new_stage(u, u->pk->prog, u->pk->prog);
	add_rows(u, st, u->src, u->pk->args);
	add_log(st);
	tap(u, "tap-read", "read.json", "raw.ndjson");
	st = new_stage(u, "ce-encode", "ce-encode");
	add_rows(u, st, jat(u->p, "encode"), encode_args);
	add_log(st);
	tap(u, "tap-encoded", "encoded.json", "ce.ndjson");
	if (jstr(u->q, "filter") || jstr(u->q, "transform")) {
		/* one more process, only where a processor asks for it */
		st = new_stage(u, "jq", "jq");
		addv(st, "-c");
		addv(st, "--unbuffered");
		add(st, plain(jq_program(jstr(u->q, "filter"),
		    jstr(u->q, "transform"), u->sk->prog != NULL)));
	}
	if (u->sk->prog) {
		st = new_stage(u, u->sk->prog, u->sk->prog);
		add_rows(u, st, u->s, u->sk->args);
		add_log(st);
	}
}

/* Characters that make a file name out of provider.processor. */
static char *
unit_name(const char *p, const char *q)
{
	char *s = fmt("%s.%s", p, q);

	for (char *c = s; *c; c++)
		if (!(isalnum((unsigned char)*c) || strchr("_.-", *c)))
			*c = '_';
	return s;
}

/*
 * Where checkpoints and dead letters live: --state-dir, else vcpipe/v1's
 * stateDir (default /var/lib/vcpipe), else, for a RouterConfig, the
 * router's checkpointDir (default ./checkpoints) when checkpoint is true;
 * "" keeps them in the run directory (lost when vcpipe exits).
 */
static const char *
state_dir(json_t *cfg, int native, const struct plan_opts *o)
{
	json_t *v;

	if (o->state_dir)
		return o->state_dir;
	if (native)
		return jstr(cfg, "stateDir") ? jstr(cfg, "stateDir") :
		    "/var/lib/vcpipe";
	v = jat(cfg, "eventProvider.vcenter");
	if (v == NULL)
		v = jat(cfg, "eventProvider.vcsim");
	if (json_is_true(jat(v, "checkpoint")))
		return jstr(v, "checkpointDir") ? jstr(v, "checkpointDir") :
		    "./checkpoints";
	return "";
}

/*
 * The sharding rule (vcpipe(1), "Sharding"): a vCenter belongs to shard
 * h mod N, h the address's code points folded as h = (h * 31 + c) mod
 * 2147483647 from h = 0.  Other providers run on shard 0 only.
 */
static long
shard_of(const char *s, long n)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned long long h = 0;

	while (*p) {
		unsigned long c = *p++;
		int more = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;

		if (more)
			c &= 0x3fUL >> more;
		while (more-- > 0 && (*p & 0xc0) == 0x80)
			c = (c << 6) | (*p++ & 0x3f);
		h = (h * 31 + c) % 2147483647ULL;
	}
	return (long)(h % (unsigned long long)n);
}

static int
mine(const struct provider_kind *pk, json_t *src, const struct plan_opts *o)
{
	if (pk->vcenter)
		return shard_of(jstr(src, "address"), o->shard_n) == o->shard_i;
	/* workers on one queue share it: every shard runs them */
	if (strcmp(pk->type, "amqp") == 0)
		return 1;
	return o->shard_i == 0;
}

/* ---- output --------------------------------------------------------------------- */

static int
is_safe(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || strchr("_./:=@%+,-", *s)))
			return 0;
	return 1;
}

/* One word as a POSIX shell reads it back, whatever it holds. */
static void
sh_quote(struct vp_buf *b, const char *s)
{
	if (is_safe(s)) {
		vp_buf_append(b, s, strlen(s));
		return;
	}
	vp_buf_append(b, "'", 1);
	for (; *s; s++)
		if (*s == '\'')
			vp_buf_append(b, "'\\''", 4);
		else
			vp_buf_append(b, s, 1);
	vp_buf_append(b, "'", 1);
}

static void
sh_word(struct vp_buf *b, const struct word *w)
{
	if (w->run) {
		vp_buf_append(b, "\"$RUN\"", 6);
		if (w->s[w->run])
			sh_quote(b, w->s + w->run);
	} else {
		sh_quote(b, w->s);
	}
}

static void
print_stage(struct vp_buf *b, const struct stage *st)
{
	for (size_t i = 0; i < st->n; i++) {
		if (i)
			vp_buf_append(b, " ", 1);
		sh_word(b, &st->w[i]);
	}
}

/* RUN/u/NAME/stages: name, count, words; each NUL-terminated. */
static void
stages_file(struct vp_buf *b, const struct stage *st, int n)
{
	for (int i = 0; i < n; i++) {
		vp_buf_printf(b, "%s%c%zu%c", st[i].name, 0, st[i].n, 0);
		for (size_t k = 0; k < st[i].n; k++)
			vp_buf_append(b, st[i].w[k].s, strlen(st[i].w[k].s) + 1);
	}
}

static int
mkdirs(const char *path, mode_t mode)
{
	char *p = vp_xstrdup(path);

	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			if (mkdir(p, mode) != 0 && errno != EEXIST)
				goto fail;
			*s = '/';
		}
	if (mkdir(p, mode) != 0 && errno != EEXIST)
		goto fail;
	free(p);
	return 0;
fail:
	free(p);
	return -1;
}

/*
 * The directory of a file a stage will write (a checkpoint, dead letters,
 * rejects): created 0700 when missing, then a file is tried in it, so an
 * unwritable one is found at start and by --check, not by a stage that has
 * already delivered an event.  --check creates nothing: it tries the
 * nearest directory that exists.  0, or the exit code with the reason logged:
 * 77 no permission or a read-only file system, 78 a path that cannot be a
 * directory, 74 anything else.
 */
static int
probe_dir_of(const char *file, const char *what, int create)
{
	char *d = vp_xmalloc(strlen(file) + 2), *probe;
	struct stat sb;
	int fd, e = 0, rc = 0;

	strcpy(d, file);
	while (vp_dir_of(d) && !create && strcmp(d, "/") != 0 &&
	    stat(d, &sb) != 0 && errno == ENOENT)
		;
	if (create ? mkdirs(d, 0700) != 0 : stat(d, &sb) != 0 ||
	    (!S_ISDIR(sb.st_mode) && (errno = ENOTDIR)))
		e = errno;
	else {
		probe = fmt("%s/.vcpipe-probe.%ld", d, (long)getpid());
		if ((fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0600)) < 0)
			e = errno;
		else {
			close(fd);
			unlink(probe);
		}
		free(probe);
	}
	if (e) {
		rc = e == EACCES || e == EPERM || e == EROFS ? VP_EXIT_NOPERM :
		    e == ENOTDIR || e == EISDIR || e == EEXIST ? VP_EXIT_CONFIG :
		    VP_EXIT_IOERR;
		vp_error("%s: cannot write %s there: %s", d, what, strerror(e));
	}
	free(d);
	return rc;
}

static int
write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ssize_t w = 0;

	if (fd < 0)
		return -1;
	if (fchmod(fd, 0600) != 0)
		goto fail;
	while ((size_t)w < len) {
		ssize_t n = write(fd, data + w, len - (size_t)w);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		w += n;
	}
	return close(fd);
fail:
	close(fd);
	return -1;
}

/*
 * The secret a section names: the value, a file's first content (trailing
 * newlines dropped, as $(cat) would), or a variable of our environment.
 * Returns an exit code with the message logged, or 0.
 */
static int
secret_value(const struct plan_opts *o, const struct secret *sc, char **out)
{
	const char *v;

	*out = NULL;
	if ((v = jstr(sc->a, sc->kv)) != NULL) {
		*out = vp_xstrdup(v);
	} else if ((v = jstr(sc->a, sc->kf)) != NULL) {
		size_t n;

		if ((*out = vp_read_file(v, 65536, &n)) == NULL) {
			vp_error("%s: %s: cannot read the secret file: %s",
			    o->file, v, strerror(errno));
			return VP_EXIT_NOINPUT;
		}
		while (n > 0 && ((*out)[n - 1] == '\n' || (*out)[n - 1] == '\r'))
			(*out)[--n] = '\0';
	} else {
		v = jstr(sc->a, sc->ke);
		if (v == NULL || getenv(v) == NULL || *getenv(v) == '\0') {
			vp_error("%s: the environment variable %s (a %s) is not "
			    "set", o->file, v ? v : "?", sc->ke);
			return VP_EXIT_CONFIG;
		}
		*out = vp_xstrdup(getenv(v));
	}
	if (strpbrk(*out, "\r\n") || strpbrk(sc->user, "\r\n")) {
		vp_error("%s: the %s of %s holds a line break: it cannot be "
		    "passed on in a credentials file", o->file,
		    sc->aws ? "secret key" : "password", sc->user);
		vp_free_secret(*out);
		*out = NULL;
		return VP_EXIT_CONFIG;
	}
	return 0;
}

static int
write_secret(const struct plan_opts *o, const struct secret *sc)
{
	struct vp_buf b = { 0 };
	char *pw;
	int rc;

	if ((rc = secret_value(o, sc, &pw)) != 0)
		return rc;
	if (sc->aws)
		vp_buf_printf(&b, "[default]\naws_access_key_id = %s\n"
		    "aws_secret_access_key = %s\n", sc->user, pw);
	else
		vp_buf_printf(&b, "%s\n%s\n", sc->user, pw);
	vp_free_secret(pw);
	rc = write_file(sc->path, b.data, b.len);
	if (rc != 0)
		vp_error("%s: cannot write: %s", sc->path, strerror(errno));
	explicit_bzero(b.data, b.len);
	vp_buf_free(&b);
	return rc ? VP_EXIT_IOERR : 0;
}

/* The variables secrets came from: bin/vcpipe unsets them before it starts anything. */
static void
note_env(struct vp_buf *plan, json_t *j)
{
	const char *k;
	json_t *v;
	size_t i;

	if (json_is_object(j)) {
		json_object_foreach(j, k, v) {
			if ((strcmp(k, "passwordEnv") == 0 ||
			    strcmp(k, "secretKeyEnv") == 0) && json_is_string(v))
				vp_buf_printf(plan, "unset %s\n",
				    json_string_value(v));
			else
				note_env(plan, v);
		}
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			note_env(plan, v);
	}
}

static long
env_seconds(const char *name, long def, long min)
{
	const char *v = getenv(name);
	char *e;
	long n;

	if (v == NULL || *v == '\0')
		return def;
	errno = 0;
	n = strtol(v, &e, 10);
	if (*e != '\0' || errno || n < min || n > 86400)
		vp_die(VP_EXIT_CONFIG, "%s: expected whole seconds (%ld to "
		    "86400), got \"%s\"", name, min, v);
	return n;
}

static void
unit_free(struct unit *u)
{
	for (int i = 0; i < u->nst; i++) {
		for (size_t k = 0; k < u->st[i].n; k++)
			free(u->st[i].w[k].s);
		free(u->st[i].w);
	}
	for (int i = 0; i < u->nsec; i++)
		free(u->sec[i].path);
	free(u->name);
	free(u->dir);
	free(u->ck);
	free(u->dlq);
	free(u->rej);
}

/* Everything a pipeline needs on disk, in the run directory and beside its checkpoint. */
static int
write_unit(struct unit *u, struct vp_buf *units)
{
	struct vp_buf b = { 0 };
	char path[4096];
	int rc;

	if (mkdirs(u->dir, 0700) != 0) {
		vp_error("%s: cannot create: %s", u->dir, strerror(errno));
		return VP_EXIT_IOERR;
	}
	for (int i = 0; i < u->nsec; i++)
		if ((rc = write_secret(u->o, &u->sec[i])) != 0)
			return rc;
	stages_file(&b, u->st, u->nst);
	snprintf(path, sizeof(path), "%s/stages", u->dir);
	rc = write_file(path, b.data, b.len);
	vp_buf_free(&b);
	if (rc != 0) {
		vp_error("%s: cannot write: %s", path, strerror(errno));
		return VP_EXIT_IOERR;
	}
	if (u->sk->prog && !u->keep) {
		vp_log_set_tag("pipeline", u->name);
		vp_warn("checkpoint is off: events are kept across restarts "
		    "of a stage, not of vcpipe");
		vp_log_set_tag(NULL, NULL);
	}
	{
		json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, "
		    "s:s, s:s, s:s}", "unit", u->name, "dir", u->dir,
		    "provider", jstr(u->p, "name"), "providerType",
		    jstr(u->p, "type"), "providerAddress", "",
		    "processor", jstr(u->q, "name"), "processorType",
		    jstr(u->q, "type"), "address", "", "checkpoint",
		    u->sk->prog ? u->ck : "", "dlq", u->sk->prog ? u->dlq : "",
		    "reject", u->rej);
		char *addr = u->sk->address(u), *s;

		if (strcmp(u->pk->type, "webhook") == 0) {
			char *wp = webhook_path(u->src);
			char *a = fmt("http://%s%s", jstr(u->src, "bindAddress"),
			    wp);
			free(wp);
			json_object_set_new(j, "providerAddress",
			    json_string(a));
			free(a);
		} else {
			json_object_set_new(j, "providerAddress",
			    json_string(jstr(u->src, "address")));
		}
		json_object_set_new(j, "address", json_string(addr));
		free(addr);
		s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
		vp_buf_printf(units, "%s%s", units->len > 1 ? "," : "", s);
		free(s);
		json_decref(j);
	}
	return 0;
}

/*
 * What the run would refuse, said before anything starts (also at
 * --check): a webhook path the router refuses, a ref outside a cluster
 * (probe_dir_of checks the state directories).
 */
static int
unit_check(struct unit *u)
{
	const struct plan_opts *o = u->o;

	if (strcmp(u->pk->type, "webhook") == 0) {
		const char *p = jstr(u->src, "path");

		if (p && strcmp(p, "/") == 0) {
			vp_error("%s: eventProvider.webhook.path: \"/\": invalid "
			    "webhook endpoint path (the router refuses the root "
			    "path too)", o->file);
			return VP_EXIT_CONFIG;
		}
	}
	if (jat(u->s, "destination.ref") && o->mode != PLAN_DRY) {
		const char *h = getenv("KUBERNETES_SERVICE_HOST");
		const char *pt = getenv("KUBERNETES_SERVICE_PORT");

		if (h == NULL || *h == '\0' || pt == NULL || *pt == '\0') {
			vp_error("%s: %s: knative.destination.ref is resolved "
			    "through the Kubernetes API, and this is not a "
			    "Kubernetes pod (KUBERNETES_SERVICE_HOST and "
			    "KUBERNETES_SERVICE_PORT are not set); outside a "
			    "cluster give knative.destination.uri", o->file,
			    u->name);
			return VP_EXIT_CONFIG;
		}
	}
	return 0;
}

/* --check: every secret can be had (passwordEnv set, passwordFile readable). */
static int
secrets_check(struct unit *u)
{
	for (int i = 0; i < u->nsec; i++) {
		char *pw;
		int rc = secret_value(u->o, &u->sec[i], &pw);

		vp_free_secret(pw);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* certificates.rootCAs, concatenated into RUN/rootcas.pem (0600). */
static int
write_root_cas(json_t *cfg, const struct plan_opts *o)
{
	json_t *list = jat(cfg, "certificates.rootCAs"), *f;
	struct vp_buf b = { 0 };
	char path[4096];
	size_t i;
	int rc = 0;

	if (json_array_size(list) == 0)
		return 0;
	json_array_foreach(list, i, f) {
		size_t n;
		char *t = vp_read_file(json_string_value(f), 16 << 20, &n);

		if (t == NULL) {
			vp_error("%s: certificates.rootCAs: %s: %s", o->file,
			    json_string_value(f), strerror(errno));
			vp_buf_free(&b);
			return VP_EXIT_NOINPUT;
		}
		vp_buf_append(&b, t, n);
		if (n && t[n - 1] != '\n')
			vp_buf_append(&b, "\n", 1);
		free(t);
	}
	snprintf(path, sizeof(path), "%s/rootcas.pem", o->run_dir);
	if (write_file(path, b.data, b.len) != 0) {
		vp_error("%s: cannot write: %s", path, strerror(errno));
		rc = VP_EXIT_IOERR;
	}
	vp_buf_free(&b);
	return rc;
}

int
plan_write(json_t *cfg, const struct plan_opts *o)
{
	int native = strcmp(jstr(cfg, "apiVersion"), "vcpipe/v1") == 0;
	const char *sd = state_dir(cfg, native, o);
	json_t *provs, *p, *q, *procs = NULL;
	struct vp_buf plan = { 0 }, dry = { 0 }, units = { 0 };
	long stop_s = env_seconds("VCPIPE_STOP_TIMEOUT", 10, 0);
	long cap_s = env_seconds("VCPIPE_BACKOFF_CAP", 60, 1);
	size_t i, k;
	int rc = 0;

	if (native) {
		provs = json_incref(json_object_get(cfg, "providers"));
	} else {
		/* a RouterConfig is one provider with one processor */
		p = json_deep_copy(json_object_get(cfg, "eventProvider"));
		procs = json_pack("[O]", json_object_get(cfg,
		    "eventProcessor"));
		json_object_set_new(p, "processors", procs);
		provs = json_pack("[o]", p);
	}
	if (o->mode == PLAN_RUN && mkdirs(o->run_dir, 0700) != 0) {
		vp_error("%s: cannot create: %s", o->run_dir, strerror(errno));
		json_decref(provs);
		return VP_EXIT_IOERR;
	}
	if (o->mode == PLAN_RUN && (rc = write_root_cas(cfg, o)) != 0) {
		json_decref(provs);
		return rc;
	}
	vp_buf_printf(&plan, "# vcpipe's plan, written by vcpipe-yaml from %s "
	    "for bin/vcpipe: see vcpipe(1), \"The plan\"\n", o->file);
	note_env(&plan, cfg);
	vp_buf_append(&units, "[", 1);
	if (o->mode == PLAN_DRY)
		vp_buf_printf(&dry, "# the pipelines of %s; RUN is vcpipe's "
		    "run directory (--run-dir), which holds the secret files\n",
		    o->file);
	json_array_foreach(provs, i, p) {
		const struct provider_kind *pk = providers;
		json_t *src;

		while (pk->type && strcmp(pk->type, jstr(p, "type")) != 0)
			pk++;
		if (pk->type == NULL)
			continue;	/* the schema knows every type */
		src = json_object_get(p, pk->type);
		if (!mine(pk, src, o))
			continue;
		if (strcmp(pk->type, "amqp") == 0 &&
		    json_array_size(json_object_get(p, "processors")) != 1) {
			/* two consumers of one queue split its messages */
			vp_error("%s: provider %s: an amqp provider takes one "
			    "processor (consumers of one queue share its "
			    "messages): declare a queue for each processor, "
			    "bound to the same exchange", o->file,
			    jstr(p, "name"));
			rc = VP_EXIT_CONFIG;
			goto out;
		}
		json_array_foreach(json_object_get(p, "processors"), k, q) {
			struct unit u = { 0 };
			const char *base_dir;
			int mk;

			u.o = o;
			u.cfg = cfg;
			u.native = native;
			u.p = p;
			u.q = q;
			u.pk = pk;
			u.src = src;
			u.sk = sinks;
			while (u.sk->type && strcmp(u.sk->type, jstr(q, "type")))
				u.sk++;
			if (u.sk->type == NULL)
				continue;
			u.s = u.sk->section ? json_object_get(q, u.sk->section) :
			    NULL;
			u.name = unit_name(jstr(p, "name"), jstr(q, "name"));
			u.dir = fmt("%s/u/%s", o->run_dir, u.name);
			u.keep = *sd && (native ?
			    !json_is_false(json_object_get(src, "checkpoint")) :
			    (o->state_dir != NULL ||
			    json_is_true(json_object_get(src, "checkpoint"))));
			base_dir = u.keep ? sd : NULL;
			if (base_dir) {
				u.ck = fmt("%s/%s.checkpoint", base_dir, u.name);
				u.dlq = fmt("%s/%s.dlq", base_dir, u.name);
				u.rej = fmt("%s/%s.reject", base_dir, u.name);
			} else {
				u.ck = fmt("%s/state.checkpoint", u.dir);
				u.dlq = fmt("%s/state.dlq", u.dir);
				u.rej = fmt("%s/state.reject", u.dir);
				u.ck_run = u.dlq_run = u.rej_run = strlen(o->run_dir);
			}
			if (jstr(q, "deadLetterFile")) {
				free(u.dlq);
				u.dlq = vp_xstrdup(jstr(q, "deadLetterFile"));
				u.dlq_run = 0;
			}
			if (strchr(u.ck, '\n') || strchr(u.dlq, '\n') ||
			    strchr(u.rej, '\n')) {
				vp_error("%s: %s: a checkpoint or dead-letter "
				    "path holds a line break", o->file, u.name);
				unit_free(&u);
				rc = VP_EXIT_CONFIG;
				goto out;
			}
			if ((rc = unit_check(&u)) != 0) {
				unit_free(&u);
				goto out;
			}
			/* the stages write files, not the directories they go in */
			mk = o->mode == PLAN_RUN;
			if (o->mode != PLAN_DRY && ((rc = probe_dir_of(u.rej,
			    "rejected lines", mk)) != 0 || (u.sk->prog &&
			    ((rc = probe_dir_of(u.ck, "checkpoints", mk)) != 0 ||
			    (rc = probe_dir_of(u.dlq, "dead letters", mk)) != 0)))) {
				unit_free(&u);
				goto out;
			}
			build_stages(&u);
			if (o->mode == PLAN_CHECK &&
			    (rc = secrets_check(&u)) != 0) {
				unit_free(&u);
				goto out;
			}
			if (o->mode == PLAN_DRY) {
				vp_buf_printf(&dry, "# pipeline %s\n", u.name);
				for (int s = 0; s < u.nst; s++) {
					if (s)
						vp_buf_append(&dry, " | ", 3);
					print_stage(&dry, &u.st[s]);
				}
				vp_buf_append(&dry, "\n", 1);
			} else if (o->mode == PLAN_RUN) {
				if ((rc = write_unit(&u, &units)) != 0) {
					unit_free(&u);
					goto out;
				}
				/* the checkpoint last: the rest of the line */
				vp_buf_printf(&plan, "pipeline %s %s 1 %ld %ld%s%s\n",
				    u.name, u.sk->prog ? "null" : "stdout",
				    cap_s, stop_s, u.sk->prog ? " " : "",
				    u.sk->prog ? u.ck : "");
			}
			unit_free(&u);
		}
	}
	vp_buf_append(&units, "]\n", 2);
	if ((p = jat(cfg, "metricsProvider.default")) != NULL) {
		struct unit m = { 0 };
		struct stage *st;
		struct word w;

		m.o = o;
		m.cfg = cfg;
		m.dir = fmt("%s/metrics", o->run_dir);
		m.name = vp_xstrdup("metrics");
		st = new_stage(&m, "vcpipe-metrics", "vcpipe-metrics");
		addv(st, "--listen");
		addv(st, jstr(p, "bindAddress"));
		addv(st, "--dir");
		add(st, (struct word){ vp_xstrdup(o->run_dir),
		    strlen(o->run_dir) });
		add_log(st);
		w = basic_secret(&m, p, "metrics.cred");
		if (w.s) {
			addv(st, "--credentials-file");
			add(st, w);
		}
		if (o->mode == PLAN_CHECK && (rc = secrets_check(&m)) != 0) {
			unit_free(&m);
			goto out;
		}
		if (o->mode == PLAN_DRY) {
			vp_buf_append(&dry, "# metrics\n", 10);
			print_stage(&dry, st);
			vp_buf_append(&dry, "\n", 1);
		} else if (o->mode == PLAN_RUN) {
			struct vp_buf b = { 0 };
			char path[4096];

			if (mkdirs(m.dir, 0700) != 0) {
				vp_error("%s: cannot create: %s", m.dir,
				    strerror(errno));
				rc = VP_EXIT_IOERR;
			}
			for (int s = 0; rc == 0 && s < m.nsec; s++)
				rc = write_secret(o, &m.sec[s]);
			stages_file(&b, m.st, m.nst);
			snprintf(path, sizeof(path), "%s/stages", m.dir);
			if (rc == 0 && write_file(path, b.data, b.len) != 0) {
				vp_error("%s: cannot write: %s", path,
				    strerror(errno));
				rc = VP_EXIT_IOERR;
			}
			vp_buf_free(&b);
			vp_buf_printf(&plan, "metrics 1 %ld %ld\n", cap_s,
			    stop_s);
		}
		unit_free(&m);
		if (rc != 0)
			goto out;
	}
	if (o->mode == PLAN_DRY) {
		if (dry.len && vp_write_line(stdout, dry.data, dry.len - 1) != 0) {
			vp_error("stdout: %s", strerror(errno));
			rc = VP_EXIT_IOERR;
		}
	} else if (o->mode == PLAN_RUN) {
		char path[4096];

		if (o->tee_dir && mkdirs(o->tee_dir, 0700) != 0) {
			vp_error("%s: cannot create: %s", o->tee_dir,
			    strerror(errno));
			rc = VP_EXIT_IOERR;
			goto out;
		}
		snprintf(path, sizeof(path), "%s/units.json", o->run_dir);
		if (vp_write_file_atomic(path, units.data, units.len) != 0) {
			vp_error("%s: cannot write: %s", path, strerror(errno));
			rc = VP_EXIT_IOERR;
			goto out;
		}
		snprintf(path, sizeof(path), "%s/plan", o->run_dir);
		if (vp_write_file_atomic(path, plan.data, plan.len) != 0) {
			vp_error("%s: cannot write: %s", path, strerror(errno));
			rc = VP_EXIT_IOERR;
		}
	}
out:
	vp_buf_free(&plan);
	vp_buf_free(&dry);
	vp_buf_free(&units);
	json_decref(provs);
	return rc;
}
