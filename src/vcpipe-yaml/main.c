/*
 * vcpipe-yaml: read a vcpipe configuration (the event router's RouterConfig
 * or vcpipe's own Config), check it against its schema and print it as one
 * line of JSON, so a shell script can query it with jq.  Every error names
 * the file, line, column and key, before anything starts.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <yaml.h>

#include "bound.h"
#include "jq.h"
#include "opt.h"
#include "plan.h"
#include "schema.h"
#include "vp.h"
#include "help/vcpipe-yaml.h"

#define MAX_ERRORS 20

struct err {
	unsigned long line, col;
	int seq;
	char *msg;
};

struct ctx {
	const char *file;
	yaml_document_t doc;
	int errors;
	int raw;
	struct err errs[MAX_ERRORS];
	const yaml_node_t *at;	/* the key of the mapping being checked */
};

static void
err_at(struct ctx *c, const yaml_node_t *n, const char *path,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
err_at(struct ctx *c, const yaml_node_t *n, const char *path,
    const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->errors < MAX_ERRORS) {
		struct err *e = &c->errs[c->errors];
		struct vp_buf b = { 0 };

		e->line = n ? (unsigned long)n->start_mark.line + 1 : 1UL;
		e->col = n ? (unsigned long)n->start_mark.column + 1 : 1UL;
		e->seq = c->errors;
		vp_buf_printf(&b, "%s: %s", *path ? path : "(top)", msg);
		e->msg = b.data;
	}
	c->errors++;
}

static int
err_cmp(const void *a, const void *b)
{
	const struct err *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return x->seq - y->seq;
}

/* Errors in file order, the way an editor shows them. */
static void
print_errors(struct ctx *c)
{
	int n = c->errors < MAX_ERRORS ? c->errors : MAX_ERRORS;

	qsort(c->errs, (size_t)n, sizeof(c->errs[0]), err_cmp);
	for (int i = 0; i < n; i++) {
		vp_error("%s:%lu:%lu: %s", c->file, c->errs[i].line,
		    c->errs[i].col, c->errs[i].msg);
		free(c->errs[i].msg);
	}
	if (c->errors > MAX_ERRORS)
		vp_error("%s: %d more errors", c->file, c->errors - MAX_ERRORS);
}

static const char *
node_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE: return "a scalar";
	case YAML_SEQUENCE_NODE: return "a list";
	case YAML_MAPPING_NODE: return "a mapping";
	default: return "nothing";
	}
}

static const char *
stext(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static int
plain(const yaml_node_t *n)
{
	return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ||
	    n->data.scalar.style == YAML_ANY_SCALAR_STYLE;
}

/* YAML 1.1 as yaml.v2 (the router's parser) reads a plain scalar. */
static const char *const yes_words[] = { "true", "True", "TRUE", "yes", "Yes",
	"YES", "on", "On", "ON", "y", "Y", NULL };
static const char *const no_words[] = { "false", "False", "FALSE", "no", "No",
	"NO", "off", "Off", "OFF", "n", "N", NULL };
static const char *const null_words[] = { "", "~", "null", "Null", "NULL",
	NULL };

static int
is_int(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	if (!isdigit((unsigned char)*s))
		return 0;
	while (isdigit((unsigned char)*s))
		s++;
	return *s == '\0';
}

static int
is_float(const char *s)
{
	char *end;

	if (!*s || !(isdigit((unsigned char)*s) || *s == '-' || *s == '+' ||
	    *s == '.'))
		return 0;
	errno = 0;
	(void)strtod(s, &end);
	return *end == '\0' && errno == 0;
}

static json_t *
scalar_json(const yaml_node_t *n)
{
	const char *s = stext(n);

	if (!plain(n))
		return json_stringn(s, n->data.scalar.length);
	if (vp_str_in(s, null_words))
		return json_null();
	if (vp_str_in(s, yes_words) && strlen(s) > 1)
		return json_true();
	if (vp_str_in(s, no_words) && strlen(s) > 1)
		return json_false();
	if (is_int(s))
		return json_integer(strtoll(s, NULL, 10));
	if (is_float(s))
		return json_real(strtod(s, NULL));
	return json_stringn(s, n->data.scalar.length);
}

static void
join(char *out, size_t len, const char *path, const char *key)
{
	if (*path)
		snprintf(out, len, "%s.%s", path, key);
	else
		snprintf(out, len, "%s", key);
}

/* Any YAML to JSON, scalars resolved as YAML 1.1 does. */
static json_t *
generic(struct ctx *c, yaml_node_t *n, const char *path, json_t *pos,
    int depth)
{
	char sub[1024], lc[32];
	json_t *j;

	if (pos) {
		snprintf(lc, sizeof(lc), "%lu:%lu",
		    (unsigned long)n->start_mark.line + 1,
		    (unsigned long)n->start_mark.column + 1);
		json_object_set_new(pos, *path ? path : ".", json_string(lc));
	}
	if (depth > 64) {
		err_at(c, n, path, "nested too deeply");
		return json_null();
	}
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return scalar_json(n);
	case YAML_SEQUENCE_NODE:
		j = json_array();
		for (yaml_node_item_t *i = n->data.sequence.items.start;
		    i < n->data.sequence.items.top; i++) {
			snprintf(sub, sizeof(sub), "%s[%ld]", path,
			    (long)(i - n->data.sequence.items.start));
			json_array_append_new(j, generic(c,
			    yaml_document_get_node(&c->doc, *i), sub, pos,
			    depth + 1));
		}
		return j;
	case YAML_MAPPING_NODE:
		j = json_object();
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		    p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(&c->doc, p->key);
			if (k->type != YAML_SCALAR_NODE) {
				err_at(c, k, path, "a key must be a scalar");
				continue;
			}
			join(sub, sizeof(sub), path, stext(k));
			if (json_object_get(j, stext(k)))
				err_at(c, k, sub, "duplicate key");
			json_object_set_new(j, stext(k), generic(c,
			    yaml_document_get_node(&c->doc, p->value), sub, pos,
			    depth + 1));
		}
		return j;
	default:
		return json_null();
	}
}

/* ---- checks on scalars ------------------------------------------------ */

static int
valid_envname(const char *s)
{
	if (!(isalpha((unsigned char)*s) || *s == '_'))
		return 0;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_'))
			return 0;
	return 1;
}

static int
valid_name(const char *s)
{
	if (!*s || *s == '.')
		return 0;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '-' ||
		    *s == '.'))
			return 0;
	return 1;
}

static int
valid_httpurl(const char *s)
{
	if (strncmp(s, "https://", 8) == 0)
		s += 8;
	else if (strncmp(s, "http://", 7) == 0)
		s += 7;
	else
		return 0;
	return *s && *s != '/';
}

/*
 * A vCenter address as govmomi's soap.ParseURL accepts it (vc-source fills
 * in https:// and /sdk the same way): an http(s) URL, or a host name with
 * an optional port and path and no scheme.
 */
static int
valid_vcurl(const char *s)
{
	const char *p = s;

	while (isalnum((unsigned char)*p) || *p == '_')
		p++;
	if (p > s && strncmp(p, "://", 3) == 0) {
		if (!((p - s == 5 && strncasecmp(s, "https", 5) == 0) ||
		    (p - s == 4 && strncasecmp(s, "http", 4) == 0)))
			return 0;
		s = p + 3;
	}
	return *s && strchr("/?#", *s) == NULL && !strpbrk(s, " \t\r\n");
}

/* user info in a URL's authority (it may hold a password: never echoed) */
static int
has_userinfo(const char *s, const char *ends)
{
	const char *h = strstr(s, "://");

	h = h ? h + 3 : s;
	return memchr(h, '@', strcspn(h, ends)) != NULL;
}

static void
scalar_flags(struct ctx *c, const yaml_node_t *n, const struct field *f,
    const char *path)
{
	const char *s = stext(n);

	if ((f->flags & F_ENVNAME) && !valid_envname(s))
		err_at(c, n, path, "not an environment variable name: \"%s\"",
		    s);
	if ((f->flags & F_NAME) && !valid_name(s))
		err_at(c, n, path, "\"%s\": use letters, digits, '-', '_' and "
		    "'.' only (it names files)", s);
	if ((f->flags & F_HTTPURL) && !valid_httpurl(s))
		err_at(c, n, path, "expected an http:// or https:// URL, got "
		    "\"%s\"", s);
	/* a cluster's nodes: a comma-separated list, tried in turn */
	for (const char *u = s; (f->flags & F_AMQPURL) && u; ) {
		const char *comma = strchr(u, ',');
		int ul = comma ? (int)(comma - u) : (int)strlen(u);

		if (strncmp(u, "amqp://", 7) != 0 &&
		    strncmp(u, "amqps://", 8) != 0) {
			err_at(c, n, path, "expected an amqp:// or amqps:// "
			    "URL (or a comma-separated list), got \"%.*s\"",
			    ul, u);
			break;
		}
		if (has_userinfo(u, "/?#,")) {
			err_at(c, n, path, "a user name or password in the URL "
			    "is refused: use auth or credentialsFile");
			break;
		}
		u = comma ? comma + 1 : NULL;
	}
	if ((f->flags & F_VCURL) && has_userinfo(s, "/?#"))
		err_at(c, n, path, "a user name or password in the address is "
		    "refused: use auth or credentialsFile");
	else if ((f->flags & F_VCURL) && !valid_vcurl(s))
		err_at(c, n, path, "expected a vCenter address (https://VC/sdk, "
		    "https://VC or VC), got \"%s\"", s);
	if (f->flags & F_HOSTPORT) {
		/* what webhook-source and vcpipe-metrics --listen accept */
		struct vp_listen l;
		char why[256];

		if (vp_listen_parse(s, &l, why, sizeof(why)) != 0)
			err_at(c, n, path, "%s", why);
	}
	if ((f->flags & F_DURATION) && vp_parse_duration_ms(s) < 0)
		err_at(c, n, path, "expected a duration (like 90s, 10m, 1h), "
		    "got \"%s\"", s);
	if (f->flags & F_JQ) {
		char why[1024];

		if (jq_check(s, why, sizeof(why)) != 0)
			err_at(c, n, path, "jq: %s", why);
	}
	if (f->flags & F_PEMCA) {
		/* the router's check (govmomi SetRootCAs): every file a CA */
		char *text = vp_read_file(s, 16 << 20, NULL);

		if (text == NULL)
			err_at(c, n, path, "%s: %s", s, strerror(errno));
		else if (strstr(text, "-----BEGIN CERTIFICATE-----") == NULL)
			err_at(c, n, path, "invalid certificate '%s', cannot be "
			    "used as a trusted CA certificate (no PEM "
			    "certificate in it)", s);
		free(text);
	}
}

/* ---- schema walk ------------------------------------------------------ */

static json_t *check(struct ctx *, yaml_node_t *, const struct field *,
    const char *);

static yaml_node_t *
map_get(struct ctx *c, const yaml_node_t *m, const char *key)
{
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start;
	    p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(&c->doc, p->key);
		if (k->type == YAML_SCALAR_NODE && strcmp(stext(k), key) == 0)
			return yaml_document_get_node(&c->doc, p->value);
	}
	return NULL;
}

static int
is_null(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE && plain(n) &&
	    vp_str_in(stext(n), null_words);
}

/* Present and not null. */
static yaml_node_t *
has(struct ctx *c, const yaml_node_t *m, const char *key)
{
	yaml_node_t *v = map_get(c, m, key);

	return v && !is_null(v) ? v : NULL;
}

/* A secret from exactly one of KEY, KEYFile and KEYEnv. */
static void
one_secret(struct ctx *c, const yaml_node_t *at, yaml_node_t *n,
    const char *path, const char *key)
{
	char sub[1024], file[64], env[64];
	int k;

	snprintf(file, sizeof(file), "%sFile", key);
	snprintf(env, sizeof(env), "%sEnv", key);
	k = !!has(c, n, key) + !!has(c, n, file) + !!has(c, n, env);
	join(sub, sizeof(sub), path, key);
	if (k > 1)
		err_at(c, at, sub, "give only one of %s, %s and %s", key, file,
		    env);
	else if (k == 0)
		err_at(c, at, sub, "required (or %s, or %s)", file, env);
}

/* Rules across a mapping's keys; errors point at the mapping's key (at). */
static void
map_rules(struct ctx *c, const yaml_node_t *at, yaml_node_t *n,
    const struct field *f, const char *path)
{
	char sub[1024];
	yaml_node_t *v;
	int k;

	if (f->variants) {
		yaml_node_t *t = map_get(c, n, "type");
		const char *type = t && t->type == YAML_SCALAR_NODE ?
		    stext(t) : NULL;
		for (const struct variant *va = f->variants; va->value; va++) {
			if (va->section == NULL)
				continue;
			v = has(c, n, va->section);
			join(sub, sizeof(sub), path, va->section);
			if (type && strcmp(type, va->value) == 0 && v == NULL)
				err_at(c, at, sub, "required for type %s", type);
			else if (type && strcmp(type, va->value) != 0 && v)
				vp_warn("%s:%lu:%lu: %s: ignored: type is %s",
				    c->file,
				    (unsigned long)v->start_mark.line + 1,
				    (unsigned long)v->start_mark.column + 1,
				    sub, type);
		}
	}
	switch (f->check) {
	case CHECK_SECRET_ONE:
		one_secret(c, at, n, path, "password");
		break;
	case CHECK_AWS_ONE:
		one_secret(c, at, n, path, "secretKey");
		break;
	case CHECK_DEST:
		k = !!has(c, n, "uri") + !!has(c, n, "ref");
		if (k != 1)
			err_at(c, at, path, "give exactly one of uri and ref");
		break;
	case CHECK_REF:
		/* knative.dev/pkg's KReference: apiVersion, or the group */
		if (!has(c, n, "apiVersion") && !has(c, n, "group")) {
			join(sub, sizeof(sub), path, "apiVersion");
			err_at(c, at, sub, "required (or group)");
		}
		break;
	case CHECK_VCAUTH:
		k = !!has(c, n, "auth") + !!has(c, n, "credentialsFile");
		join(sub, sizeof(sub), path, "auth");
		if (k != 1)
			err_at(c, at, sub, k ? "give only one of auth and "
			    "credentialsFile" : "required (or credentialsFile)");
		break;
	default:
		break;
	}
}

static json_t *
check_map(struct ctx *c, yaml_node_t *n, const struct field *f,
    const char *path)
{
	char sub[1024];
	json_t *obj = json_object();
	const yaml_node_t *at = c->at ? c->at : n;

	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	    p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(&c->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(&c->doc, p->value);
		const struct field *sf;

		if (k->type != YAML_SCALAR_NODE) {
			err_at(c, k, path, "a key must be a scalar");
			continue;
		}
		join(sub, sizeof(sub), path, stext(k));
		for (sf = f->sub; sf->key; sf++)
			if (strcmp(sf->key, stext(k)) == 0)
				break;
		if (sf->key == NULL) {
			struct vp_buf known = { 0 };
			for (sf = f->sub; sf->key; sf++)
				vp_buf_printf(&known, "%s%s", known.len ? ", " :
				    "", sf->key);
			err_at(c, k, sub, "unknown key (known here: %s)",
			    known.data ? known.data : "none");
			vp_buf_free(&known);
			continue;
		}
		if (json_object_get(obj, sf->key)) {
			err_at(c, k, sub, "duplicate key");
			continue;
		}
		if (is_null(v))
			continue;	/* as if absent, like yaml.v2 */
		c->at = k;
		json_object_set_new(obj, sf->key, check(c, v, sf, sub));
	}
	c->at = at;
	for (const struct field *sf = f->sub; sf->key; sf++)
		if ((sf->flags & F_REQUIRED) && !json_object_get(obj, sf->key)) {
			join(sub, sizeof(sub), path, sf->key);
			err_at(c, at, sub, "required key is missing");
		}
	map_rules(c, at, n, f, path);
	return obj;
}

static json_t *
check(struct ctx *c, yaml_node_t *n, const struct field *f, const char *path)
{
	char sub[1024];
	json_t *j;
	long long ll;

	switch (f->kind) {
	case F_STR:
	case F_ENUM:
	case F_BOOL:
	case F_INT:
		if (n->type != YAML_SCALAR_NODE) {
			err_at(c, n, path, "expected %s, got %s",
			    f->kind == F_BOOL ? "true or false" :
			    f->kind == F_INT ? "a number" : "a string",
			    node_kind(n));
			return json_null();
		}
		break;
	case F_URI:
		if (n->type == YAML_SCALAR_NODE) {
			if (!valid_httpurl(stext(n)))
				err_at(c, n, path, "expected an http:// or "
				    "https:// URL, got \"%s\"", stext(n));
			return json_string(stext(n));
		}
		/* FALLTHROUGH */
	case F_MAP:
	case F_STRMAP:
	case F_LIST:
		if (n->type != (f->kind == F_LIST ? YAML_SEQUENCE_NODE :
		    YAML_MAPPING_NODE)) {
			err_at(c, n, path, "expected %s, got %s", f->kind ==
			    F_LIST ? "a list" : "a mapping", node_kind(n));
			return json_null();
		}
		break;
	}
	switch (f->kind) {
	case F_STR:
		scalar_flags(c, n, f, path);
		return json_stringn(stext(n), n->data.scalar.length);
	case F_ENUM:
		if (!vp_str_in(stext(n), f->choices)) {
			struct vp_buf b = { 0 };
			for (const char *const *ch = f->choices; *ch; ch++)
				vp_buf_printf(&b, "%s%s", b.len ? ", " : "", *ch);
			err_at(c, n, path, "expected one of %s, got \"%s\"",
			    b.data, stext(n));
			vp_buf_free(&b);
		}
		return json_string(stext(n));
	case F_BOOL:
		if (plain(n) && vp_str_in(stext(n), yes_words))
			return json_true();
		if (plain(n) && vp_str_in(stext(n), no_words))
			return json_false();
		err_at(c, n, path, "expected true or false, got %s\"%s\"",
		    plain(n) ? "" : "the string ", stext(n));
		return json_null();
	case F_INT:
		if (!plain(n) || !is_int(stext(n))) {
			err_at(c, n, path, "expected a number, got \"%s\"",
			    stext(n));
			return json_null();
		}
		errno = 0;
		ll = strtoll(stext(n), NULL, 10);
		if (f->max > 0 && (errno || ll < f->min || ll > f->max)) {
			err_at(c, n, path, "expected a number from %lld to "
			    "%lld, got %s", f->min, f->max, stext(n));
			return json_null();
		}
		return json_integer(ll);
	case F_URI:
	case F_MAP:
		return check_map(c, n, f, path);
	case F_STRMAP:
		j = json_object();
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		    p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(&c->doc, p->key);
			yaml_node_t *v = yaml_document_get_node(&c->doc,
			    p->value);
			if (k->type != YAML_SCALAR_NODE) {
				err_at(c, k, path, "a key must be a scalar");
				continue;
			}
			join(sub, sizeof(sub), path, stext(k));
			if (v->type != YAML_SCALAR_NODE) {
				err_at(c, v, sub, "expected a string, got %s",
				    node_kind(v));
				continue;
			}
			json_object_set_new(j, stext(k), json_string(stext(v)));
		}
		return j;
	case F_LIST:
		j = json_array();
		for (yaml_node_item_t *i = n->data.sequence.items.start;
		    i < n->data.sequence.items.top; i++) {
			yaml_node_t *el = yaml_document_get_node(&c->doc, *i);
			long idx = (long)(i - n->data.sequence.items.start);
			snprintf(sub, sizeof(sub), "%s[%ld]", path, idx);
			c->at = NULL;	/* an element is its own position */
			json_array_append_new(j, check(c, el, f->sub, sub));
			if (f->check == CHECK_UNIQUE_NAMES &&
			    el->type == YAML_MAPPING_NODE) {
				yaml_node_t *nm = has(c, el, "name");
				for (long o = 0; nm && nm->type ==
				    YAML_SCALAR_NODE && o < idx; o++) {
					json_t *prev = json_object_get(
					    json_array_get(j, o), "name");
					if (json_is_string(prev) && strcmp(
					    json_string_value(prev),
					    stext(nm)) == 0) {
						snprintf(sub, sizeof(sub),
						    "%s[%ld].name", path, idx);
						err_at(c, nm, sub, "\"%s\" is "
						    "already used by %s[%ld]",
						    stext(nm), path, o);
					}
				}
			}
		}
		if (json_array_size(j) == 0 && (f->flags & F_REQUIRED))
			err_at(c, n, path, "needs at least one element");
		return j;
	}
	return json_null();
}

/*
 * A webhook provider is a server: its events cannot be read twice, so it
 * feeds exactly one processor (a RouterConfig has only one anyway).
 */
/*
 * A RouterConfig keeps the router's keys; what vcpipe adds to it and the
 * router would refuse as unknown keys goes in metadata.labels, which the
 * router accepts and ignores (vcpipe.yaml(5), "Labels").
 */
static const struct {
	const char *label;
	const char *const *choices;	/* NULL: a duration */
} vcpipe_labels[] = {
	{ "vcpipe/type-style", schema_type_styles },
	{ "vcpipe/id", schema_ids },
	{ "vcpipe/payload-encoding", schema_payloads },
	{ "vcpipe/max-replay", NULL },
	{ NULL, NULL }
};

static void
check_labels(struct ctx *c, yaml_node_t *root)
{
	yaml_node_t *md = has(c, root, "metadata"), *labels;
	char path[512];

	if (md == NULL || md->type != YAML_MAPPING_NODE ||
	    (labels = has(c, md, "labels")) == NULL ||
	    labels->type != YAML_MAPPING_NODE)
		return;
	for (yaml_node_pair_t *p = labels->data.mapping.pairs.start;
	    p < labels->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(&c->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(&c->doc, p->value);
		int i;

		if (k->type != YAML_SCALAR_NODE || v->type != YAML_SCALAR_NODE ||
		    strncmp(stext(k), "vcpipe/", 7) != 0)
			continue;
		snprintf(path, sizeof(path), "metadata.labels.%s", stext(k));
		for (i = 0; vcpipe_labels[i].label; i++)
			if (strcmp(vcpipe_labels[i].label, stext(k)) == 0)
				break;
		if (vcpipe_labels[i].label == NULL) {
			err_at(c, k, path, "unknown vcpipe label (known: "
			    "vcpipe/type-style, vcpipe/id, "
			    "vcpipe/payload-encoding, vcpipe/max-replay)");
		} else if (vcpipe_labels[i].choices == NULL) {
			if (vp_parse_duration_ms(stext(v)) < 0)
				err_at(c, v, path, "expected a duration (like "
				    "90s, 10m, 1h), got \"%s\"", stext(v));
		} else if (!vp_str_in(stext(v), vcpipe_labels[i].choices)) {
			struct vp_buf b = { 0 };
			for (const char *const *ch = vcpipe_labels[i].choices;
			    *ch; ch++)
				vp_buf_printf(&b, "%s%s", b.len ? ", " : "", *ch);
			err_at(c, v, path, "expected one of %s, got \"%s\"",
			    b.data, stext(v));
			vp_buf_free(&b);
		}
	}
}

static void
check_runnable(struct ctx *c, yaml_node_t *root)
{
	char path[128];
	yaml_node_t *list, *p, *t, *procs;

	check_labels(c, root);

	if ((list = has(c, root, "providers")) == NULL ||
	    list->type != YAML_SEQUENCE_NODE)
		return;
	for (yaml_node_item_t *i = list->data.sequence.items.start;
	    i < list->data.sequence.items.top; i++) {
		p = yaml_document_get_node(&c->doc, *i);
		snprintf(path, sizeof(path), "providers[%ld].processors",
		    (long)(i - list->data.sequence.items.start));
		if (p->type == YAML_MAPPING_NODE && (t = has(c, p, "type")) &&
		    t->type == YAML_SCALAR_NODE &&
		    strcmp(stext(t), "webhook") == 0 &&
		    (procs = has(c, p, "processors")) != NULL &&
		    procs->type == YAML_SEQUENCE_NODE &&
		    procs->data.sequence.items.top -
		    procs->data.sequence.items.start > 1)
			err_at(c, procs, path, "a webhook provider feeds one "
			    "processor: its events cannot be read twice");
	}
}

static int
load(struct ctx *c, FILE *fp)
{
	yaml_parser_t parser;
	yaml_document_t extra;
	unsigned long line, col;
	char msg[128];
	int rc = 0;

	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, fp);
	if (!yaml_parser_load(&parser, &c->doc)) {
		vp_error("%s:%lu:%lu: %s%s%s", c->file,
		    (unsigned long)parser.problem_mark.line + 1,
		    (unsigned long)parser.problem_mark.column + 1,
		    parser.context ? parser.context : "",
		    parser.context ? ": " : "",
		    parser.problem ? parser.problem : "YAML syntax error");
		yaml_parser_delete(&parser);
		return -1;
	}
	if (yaml_document_get_root_node(&c->doc) == NULL) {
		vp_error("%s: empty: no YAML document", c->file);
		rc = -1;
	} else if (yaml_bound_check(&c->doc, &line, &col, msg,
	    sizeof(msg)) != 0) {
		vp_error("%s:%lu:%lu: %s", c->file, line, col, msg);
		rc = -1;
	} else if (!yaml_parser_load(&parser, &extra)) {
		vp_error("%s:%lu:%lu: %s", c->file,
		    (unsigned long)parser.problem_mark.line + 1,
		    (unsigned long)parser.problem_mark.column + 1,
		    parser.problem ? parser.problem : "YAML syntax error");
		rc = -1;
	} else {
		if (yaml_document_get_root_node(&extra)) {
			vp_error("%s:%lu:%lu: a second YAML document; give one",
			    c->file,
			    (unsigned long)extra.start_mark.line + 1,
			    (unsigned long)extra.start_mark.column + 1);
			rc = -1;
		}
		yaml_document_delete(&extra);
	}
	if (rc != 0)
		yaml_document_delete(&c->doc);
	yaml_parser_delete(&parser);
	return rc;
}

static struct {
	int raw, positions, check, dry;
	const char *plan, *state_dir, *tee_dir, *name;
	long shard_i, shard_n;
} opt = { .shard_n = 1 };

/* --shard I/N with I < N: bin/vcpipe has resolved auto/N already */
static int
shard_arg(void *dest, const char *v, char *err, size_t errlen)
{
	char *e;
	long i, n;

	(void)dest;
	errno = 0;
	i = strtol(v, &e, 10);
	if (e == v || *e != '/' || errno)
		goto bad;
	v = e + 1;
	n = strtol(v, &e, 10);
	if (e == v || *e != '\0' || errno || i < 0 || n < 1 || i >= n)
		goto bad;
	opt.shard_i = i;
	opt.shard_n = n;
	return 0;
bad:
	snprintf(err, errlen, "expected I/N with 0 <= I < N");
	return -1;
}

/* options: src/vcpipe-yaml/options.tab */
#include "opts/vcpipe-yaml.h"

/* --help: help/vcpipe-yaml.h, made of man/vcpipe.1 */
static const struct vp_cmd cmd = VP_PROGRAM(options,
    VP_LIBS(VP_LIB_YAML, VP_LIB_JANSSON));

int
main(int argc, char **argv)
{
	struct ctx c = { 0 };
	enum { OUT_DOC, OUT_POS } out = OUT_DOC;
	yaml_node_t *root, *api;
	json_t *j, *pos = NULL;
	FILE *fp;
	char *s;
	int native;

	vp_opt_parse(&cmd, argc, argv);
	if (opt.positions + opt.check + opt.raw + opt.dry + !!opt.plan > 1)
		vp_usage_error("give one of --positions, --raw, --check, "
		    "--dry-run and --plan");
	if (opt.name)
		vp_progname = opt.name;
	c.raw = opt.raw;
	out = opt.positions ? OUT_POS : OUT_DOC;
	c.file = argv[1];
	if (strcmp(c.file, "-") == 0)
		fp = stdin;
	else if ((fp = fopen(c.file, "r")) == NULL)
		vp_die(VP_EXIT_NOINPUT, "%s: %s", c.file, strerror(errno));
	if (load(&c, fp) != 0)
		return VP_EXIT_CONFIG;
	if (fp != stdin)
		fclose(fp);
	root = yaml_document_get_root_node(&c.doc);
	if (out == OUT_POS) {
		pos = json_object();
		j = generic(&c, root, "", pos, 0);
		json_decref(j);
		j = pos;
	} else if (c.raw) {
		j = generic(&c, root, "", NULL, 0);
	} else if (root->type != YAML_MAPPING_NODE) {
		err_at(&c, root, "", "expected a mapping with apiVersion and "
		    "kind, got %s", node_kind(root));
		j = json_null();
	} else {
		api = map_get(&c, root, "apiVersion");
		native = api && api->type == YAML_SCALAR_NODE &&
		    strcmp(stext(api), "vcpipe/v1") == 0;
		struct field top = { .key = "", .kind = F_MAP,
		    .sub = native ? schema_native : schema_router };
		j = check(&c, root, &top, "");
		if (c.errors == 0)
			check_runnable(&c, root);
	}
	yaml_document_delete(&c.doc);
	print_errors(&c);
	if (c.errors) {
		json_decref(j);
		return VP_EXIT_CONFIG;
	}
	if (out == OUT_DOC && !c.raw && (opt.plan || opt.dry || opt.check)) {
		struct plan_opts po = {
			.mode = opt.plan ? PLAN_RUN : opt.dry ? PLAN_DRY :
			    PLAN_CHECK,
			.file = c.file,
			.run_dir = opt.plan ? opt.plan : "$RUN",
			.state_dir = opt.state_dir,
			.tee_dir = opt.tee_dir,
			.shard_i = opt.shard_i,
			.shard_n = opt.shard_n,
		};
		int rc;

		/* a process that reads passwords: no core dump of it */
		if (po.mode == PLAN_RUN)
			vp_secret_guard();
		rc = plan_write(j, &po);
		json_decref(j);
		if (rc != 0)
			return rc;
		return vp_close_stdout() == 0 ? VP_EXIT_OK : VP_EXIT_IOERR;
	}
	{
		s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY |
		    (out == OUT_POS ? JSON_SORT_KEYS : JSON_PRESERVE_ORDER));
		if (s == NULL)
			vp_die(VP_EXIT_SOFTWARE, "out of memory");
		if (vp_write_line(stdout, s, strlen(s)) != 0) {
			vp_free_secret(s);
			json_decref(j);
			vp_die(VP_EXIT_IOERR, "stdout: %s", strerror(errno));
		}
		vp_free_secret(s);
	}
	json_decref(j);
	return vp_close_stdout() == 0 ? VP_EXIT_OK : VP_EXIT_IOERR;
}
