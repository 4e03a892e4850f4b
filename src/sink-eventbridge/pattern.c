/*
 * pattern.c: compile and evaluate EventBridge event patterns.
 *
 * Semantics follow EventBridge (aws/event-ruler): fields at one level are
 * ANDed, the values of a leaf array are ORed, an array in the event matches
 * when any element does, and only leaf values (not objects) exist for the
 * purpose of "exists".  A pattern that uses something not understood here
 * fails to compile.
 */
#include <arpa/inet.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pattern.h"

#define MAX_DEPTH 64

enum mtype {
	M_EQUAL, M_PREFIX, M_PREFIX_IC, M_SUFFIX,
	M_SUFFIX_IC, M_EIC, M_WILDCARD, M_NUMERIC, M_EXISTS, M_CIDR, M_NOT
};

struct matcher {
	enum mtype type;
	char *s;		/* string operand */
	size_t slen;
	json_t *val;		/* M_EQUAL: the pattern's value */
	int flag;		/* M_EXISTS wanted */
	/* M_NUMERIC: bounds, present when has_lo / has_hi */
	int has_lo, lo_incl, has_hi, hi_incl;
	double lo, hi;
	/* M_CIDR */
	int family, bits;
	unsigned char addr[16];
	/* M_NOT (anything-but): matches when none of these match */
	struct matcher *sub;
	size_t nsub;
};

struct field {
	char *key;
	struct pnode *obj;	/* nested object, or NULL for a leaf */
	struct matcher *m;
	size_t nm;
};

struct pnode {
	struct field *f;
	size_t nf;
	struct pnode **alt;	/* $or alternatives */
	size_t nalt;
};

struct eb_pattern {
	struct pnode *root;
};

struct cctx {
	char *err;
	size_t errlen;
	int failed;
};

static void cerr(struct cctx *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
cerr(struct cctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->failed)
		return;
	c->failed = 1;
	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
}

static void
matcher_clear(struct matcher *m)
{
	free(m->s);
	json_decref(m->val);
	for (size_t i = 0; i < m->nsub; i++)
		matcher_clear(&m->sub[i]);
	free(m->sub);
}

static void
pnode_free(struct pnode *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->nf; i++) {
		free(n->f[i].key);
		pnode_free(n->f[i].obj);
		for (size_t j = 0; j < n->f[i].nm; j++)
			matcher_clear(&n->f[i].m[j]);
		free(n->f[i].m);
	}
	free(n->f);
	for (size_t i = 0; i < n->nalt; i++)
		pnode_free(n->alt[i]);
	free(n->alt);
	free(n);
}

void
eb_pattern_free(struct eb_pattern *p)
{
	if (p == NULL)
		return;
	pnode_free(p->root);
	free(p);
}

static int
set_string(struct matcher *m, const json_t *v)
{
	m->slen = json_string_length(v);
	m->s = malloc(m->slen + 1);
	if (m->s == NULL)
		return -1;
	memcpy(m->s, json_string_value(v), m->slen + 1);
	return 0;
}

/*
 * Wildcards: '*' matches any run of characters, "\*" a literal star and
 * "\\" a backslash.  EventBridge refuses consecutive stars and other
 * escapes, and so do we.
 */
static int
wildcard_valid(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\') {
			if (i + 1 >= n || (s[i + 1] != '*' && s[i + 1] != '\\'))
				return 0;
			i++;
		} else if (s[i] == '*' && i + 1 < n && s[i + 1] == '*')
			return 0;
	}
	return 1;
}

static int
parse_cidr(struct matcher *m, const char *s)
{
	char buf[64], *slash, *end;
	long bits;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash == NULL)
		return -1;
	*slash = '\0';
	bits = strtol(slash + 1, &end, 10);
	if (*end != '\0' || end == slash + 1)
		return -1;
	if (inet_pton(AF_INET, buf, m->addr) == 1) {
		m->family = AF_INET;
		if (bits < 0 || bits > 32)
			return -1;
	} else if (inet_pton(AF_INET6, buf, m->addr) == 1) {
		m->family = AF_INET6;
		if (bits < 0 || bits > 128)
			return -1;
	} else
		return -1;
	m->bits = (int)bits;
	return 0;
}

static int
op_is(const char *op, const char *s)
{
	return strcmp(op, s) == 0;
}

/* A string operand, or {"equals-ignore-case": string} when ic_ok. */
static int
string_operand(struct cctx *c, struct matcher *m, const json_t *v,
    const char *what, enum mtype plain, enum mtype ic)
{
	if (json_is_string(v)) {
		m->type = plain;
		return set_string(m, v);
	}
	if (json_is_object(v) && json_object_size(v) == 1 &&
	    json_is_string(json_object_get(v, "equals-ignore-case"))) {
		m->type = ic;
		return set_string(m, json_object_get(v, "equals-ignore-case"));
	}
	cerr(c, "%s: needs a string or {\"equals-ignore-case\": string}", what);
	return -1;
}

static int compile_value(struct cctx *, struct matcher *, const json_t *, int);

static int
compile_numeric(struct cctx *c, struct matcher *m, const json_t *v)
{
	size_t n;

	m->type = M_NUMERIC;
	if (!json_is_array(v) || ((n = json_array_size(v)) != 2 && n != 4)) {
		cerr(c, "numeric: needs [op, number] or [op, number, op, number]");
		return -1;
	}
	for (size_t i = 0; i < n; i += 2) {
		const json_t *o = json_array_get(v, i), *x = json_array_get(v, i + 1);
		const char *op;
		double d;

		if (!json_is_string(o) || !json_is_number(x)) {
			cerr(c, "numeric: needs operator strings and numbers");
			return -1;
		}
		op = json_string_value(o);
		d = json_number_value(x);
		if (!isfinite(d)) {
			cerr(c, "numeric: bad number");
			return -1;
		}
		if (op_is(op, "=")) {
			if (n != 2) {
				cerr(c, "numeric: \"=\" cannot be combined");
				return -1;
			}
			m->has_lo = m->has_hi = m->lo_incl = m->hi_incl = 1;
			m->lo = m->hi = d;
		} else if (op_is(op, ">") || op_is(op, ">=") || op_is(op, "<") ||
		    op_is(op, "<=")) {
			int lower = op[0] == '>';
			int *has = lower ? &m->has_lo : &m->has_hi;

			if (*has) {
				cerr(c, "numeric: two %s bounds",
				    lower ? "lower" : "upper");
				return -1;
			}
			*has = 1;
			*(lower ? &m->lo_incl : &m->hi_incl) = op[1] == '=';
			*(lower ? &m->lo : &m->hi) = d;
		} else {
			cerr(c, "numeric: unknown operator \"%s\"", op);
			return -1;
		}
	}
	if (m->has_lo && m->has_hi && m->lo > m->hi) {
		cerr(c, "numeric: empty range");
		return -1;
	}
	return 0;
}

/* Grow m->sub by one zeroed matcher and return it. */
static struct matcher *
add_sub(struct matcher *m)
{
	struct matcher *p = realloc(m->sub, (m->nsub + 1) * sizeof(*p));

	if (p == NULL)
		return NULL;
	m->sub = p;
	memset(&p[m->nsub], 0, sizeof(*p));
	return &p[m->nsub++];
}

static int
compile_anything_but(struct cctx *c, struct matcher *m, const json_t *v)
{
	struct matcher *s;

	m->type = M_NOT;
	if (json_is_string(v) || json_is_number(v))
		return (s = add_sub(m)) ? compile_value(c, s, v, 0) : -1;
	if (json_is_array(v)) {
		size_t i, n = json_array_size(v), nstr = 0;
		const json_t *x;

		if (n == 0) {
			cerr(c, "anything-but: empty list");
			return -1;
		}
		json_array_foreach(v, i, x) {
			if (json_is_string(x))
				nstr++;
			else if (!json_is_number(x)) {
				cerr(c, "anything-but: a list holds only strings "
				    "or only numbers");
				return -1;
			}
		}
		if (nstr != 0 && nstr != n) {
			cerr(c, "anything-but: a list holds only strings or "
			    "only numbers");
			return -1;
		}
		json_array_foreach(v, i, x)
			if ((s = add_sub(m)) == NULL || compile_value(c, s, x, 0))
				return -1;
		return 0;
	}
	if (json_is_object(v) && json_object_size(v) == 1) {
		const char *op = json_object_iter_key(json_object_iter((json_t *)v));
		const json_t *x = json_object_get(v, op);

		if (op_is(op, "prefix") || op_is(op, "suffix")) {
			if (!json_is_string(x) || json_string_length(x) == 0) {
				cerr(c, "anything-but %s: needs a non-empty string", op);
				return -1;
			}
			if ((s = add_sub(m)) == NULL)
				return -1;
			s->type = op_is(op, "prefix") ? M_PREFIX : M_SUFFIX;
			return set_string(s, x);
		}
		if (op_is(op, "equals-ignore-case") || op_is(op, "wildcard")) {
			enum mtype t = op_is(op, "wildcard") ? M_WILDCARD : M_EIC;
			size_t i, n = json_is_array(x) ? json_array_size(x) : 1;

			if (n == 0 || (!json_is_string(x) && !json_is_array(x))) {
				cerr(c, "anything-but %s: needs a string or a "
				    "list of strings", op);
				return -1;
			}
			for (i = 0; i < n; i++) {
				const json_t *e = json_is_array(x) ?
				    json_array_get(x, i) : x;
				if (!json_is_string(e)) {
					cerr(c, "anything-but %s: needs strings", op);
					return -1;
				}
				if (t == M_WILDCARD && !wildcard_valid(
				    json_string_value(e), json_string_length(e))) {
					cerr(c, "wildcard: invalid \"%s\"",
					    json_string_value(e));
					return -1;
				}
				if ((s = add_sub(m)) == NULL)
					return -1;
				s->type = t;
				if (set_string(s, e))
					return -1;
			}
			return 0;
		}
	}
	cerr(c, "anything-but: unsupported operand");
	return -1;
}

/*
 * One element of a leaf array.  top is 1 for elements of the pattern's own
 * arrays (where operators are allowed) and 0 for anything-but operands.
 */
static int
compile_value(struct cctx *c, struct matcher *m, const json_t *v, int top)
{
	const char *op;
	const json_t *x;

	/* anything-but's operands are strings and numbers, no operators */
	if (!top && !json_is_string(v) && !json_is_number(v))
		goto unsupported;
	switch (json_typeof(v)) {
	case JSON_STRING:
	case JSON_INTEGER:
	case JSON_REAL:
	case JSON_NULL:
	case JSON_TRUE:
	case JSON_FALSE:
		m->type = M_EQUAL;
		m->val = json_incref((json_t *)v);
		return 0;
	case JSON_OBJECT:
		if (json_object_size(v) != 1) {
			cerr(c, "a matching object has exactly one operator");
			return -1;
		}
		op = json_object_iter_key(json_object_iter((json_t *)v));
		x = json_object_get(v, op);
		if (op_is(op, "prefix"))
			return string_operand(c, m, x, "prefix", M_PREFIX, M_PREFIX_IC);
		if (op_is(op, "suffix"))
			return string_operand(c, m, x, "suffix", M_SUFFIX, M_SUFFIX_IC);
		if (op_is(op, "equals-ignore-case")) {
			if (!json_is_string(x)) {
				cerr(c, "equals-ignore-case: needs a string");
				return -1;
			}
			m->type = M_EIC;
			return set_string(m, x);
		}
		if (op_is(op, "wildcard")) {
			if (!json_is_string(x) || !wildcard_valid(
			    json_string_value(x), json_string_length(x))) {
				cerr(c, "wildcard: needs a valid pattern string");
				return -1;
			}
			m->type = M_WILDCARD;
			return set_string(m, x);
		}
		if (op_is(op, "exists")) {
			if (!json_is_boolean(x)) {
				cerr(c, "exists: needs true or false");
				return -1;
			}
			m->type = M_EXISTS;
			m->flag = json_is_true(x);
			return 0;
		}
		if (op_is(op, "numeric"))
			return compile_numeric(c, m, x);
		if (op_is(op, "anything-but"))
			return compile_anything_but(c, m, x);
		if (op_is(op, "cidr")) {
			m->type = M_CIDR;
			if (!json_is_string(x) || parse_cidr(m, json_string_value(x))) {
				cerr(c, "cidr: needs \"address/bits\"");
				return -1;
			}
			return 0;
		}
		cerr(c, "unsupported operator \"%s\"", op);
		return -1;
	default:
		break;
	}
unsupported:
	cerr(c, "unsupported value in a matching list");
	return -1;
}

static struct pnode *compile_object(struct cctx *, const json_t *, int);

static int
compile_or(struct cctx *c, struct pnode *n, const json_t *v, int depth)
{
	size_t i;
	const json_t *x;

	if (!json_is_array(v) || json_array_size(v) < 2) {
		cerr(c, "$or: needs a list of at least two patterns");
		return -1;
	}
	n->alt = calloc(json_array_size(v), sizeof(*n->alt));
	if (n->alt == NULL)
		return -1;
	json_array_foreach(v, i, x) {
		if ((n->alt[i] = compile_object(c, x, depth + 1)) == NULL)
			return -1;
		n->nalt++;
	}
	return 0;
}

static struct pnode *
compile_object(struct cctx *c, const json_t *o, int depth)
{
	struct pnode *n;
	const char *key;
	json_t *v;

	if (depth > MAX_DEPTH) {
		cerr(c, "pattern nested too deeply");
		return NULL;
	}
	if (!json_is_object(o) || json_object_size(o) == 0) {
		cerr(c, "a pattern is a non-empty JSON object");
		return NULL;
	}
	if ((n = calloc(1, sizeof(*n))) == NULL ||
	    (n->f = calloc(json_object_size(o), sizeof(*n->f))) == NULL) {
		free(n);
		cerr(c, "out of memory");
		return NULL;
	}
	json_object_foreach((json_t *)o, key, v) {
		struct field *f;

		if (strcmp(key, "$or") == 0) {
			if (compile_or(c, n, v, depth))
				goto fail;
			continue;
		}
		f = &n->f[n->nf++];
		if ((f->key = strdup(key)) == NULL)
			goto fail;
		if (json_is_object(v)) {
			if ((f->obj = compile_object(c, v, depth + 1)) == NULL)
				goto fail;
		} else if (json_is_array(v)) {
			size_t i;
			const json_t *x;

			if (json_array_size(v) == 0) {
				cerr(c, "\"%s\": an empty list matches nothing", key);
				goto fail;
			}
			if ((f->m = calloc(json_array_size(v), sizeof(*f->m))) == NULL)
				goto fail;
			json_array_foreach(v, i, x) {
				f->nm++;
				if (compile_value(c, &f->m[i], x, 1))
					goto fail;
			}
		} else {
			cerr(c, "\"%s\": needs a list of values or an object", key);
			goto fail;
		}
	}
	return n;
fail:
	cerr(c, "out of memory");
	pnode_free(n);
	return NULL;
}

struct eb_pattern *
eb_pattern_compile(const char *text, size_t len, char *err, size_t errlen)
{
	struct cctx c = { err, errlen, 0 };
	json_error_t je;
	json_t *j;
	struct eb_pattern *p;

	j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (j == NULL) {
		snprintf(err, errlen, "not JSON: %s (offset %d)", je.text,
		    je.position);
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL || (p->root = compile_object(&c, j, 0)) == NULL) {
		free(p);
		json_decref(j);
		return NULL;
	}
	json_decref(j);
	return p;
}

/* ---- matching ------------------------------------------------------------ */

static int
ascii_lower(int ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch + ('a' - 'A') : ch;
}

static int
eq_ic(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
			return 0;
	return 1;
}

/* Glob match with '*' and the escapes "\*" and "\\". */
static int
wild(const char *p, size_t pn, const char *s, size_t sn)
{
	size_t pi = 0, si = 0, star_p = (size_t)-1, star_s = 0;

	while (si < sn) {
		if (pi < pn && p[pi] == '*') {
			star_p = ++pi;
			star_s = si;
			continue;
		}
		if (pi < pn) {
			char lit = p[pi];
			size_t step = 1;

			if (lit == '\\' && pi + 1 < pn) {
				lit = p[pi + 1];
				step = 2;
			}
			if (lit == s[si]) {
				pi += step;
				si++;
				continue;
			}
		}
		if (star_p == (size_t)-1)
			return 0;
		pi = star_p;
		si = ++star_s;
	}
	while (pi < pn && p[pi] == '*')
		pi++;
	return pi == pn;
}

static int
cidr_match(const struct matcher *m, const char *s)
{
	unsigned char a[16];
	int full, rest;

	if (inet_pton(m->family, s, a) != 1)
		return 0;
	full = m->bits / 8;
	rest = m->bits % 8;
	if (memcmp(a, m->addr, (size_t)full) != 0)
		return 0;
	if (rest) {
		unsigned char mask = (unsigned char)(0xff << (8 - rest));
		if ((a[full] & mask) != (m->addr[full] & mask))
			return 0;
	}
	return 1;
}

/* Does m match one leaf value v (never an object or array)? */
static int
match_leaf(const struct matcher *m, const json_t *v)
{
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;
	size_t n = s ? json_string_length(v) : 0;
	double d;

	switch (m->type) {
	case M_EQUAL:
		/* numbers by value (1 matches 1.0); strings byte for byte;
		 * null, true and false are jansson's singletons */
		if (json_is_number(m->val))
			return json_is_number(v) &&
			    json_number_value(v) == json_number_value(m->val);
		return json_equal(m->val, v);
	case M_PREFIX:
		return s && n >= m->slen && memcmp(s, m->s, m->slen) == 0;
	case M_PREFIX_IC:
		return s && n >= m->slen && eq_ic(s, m->s, m->slen);
	case M_SUFFIX:
		return s && n >= m->slen &&
		    memcmp(s + n - m->slen, m->s, m->slen) == 0;
	case M_SUFFIX_IC:
		return s && n >= m->slen && eq_ic(s + n - m->slen, m->s, m->slen);
	case M_EIC:
		return s && n == m->slen && eq_ic(s, m->s, n);
	case M_WILDCARD:
		return s && wild(m->s, m->slen, s, n);
	case M_NUMERIC:
		if (!json_is_number(v))
			return 0;
		d = json_number_value(v);
		if (m->has_lo && (m->lo_incl ? d < m->lo : d <= m->lo))
			return 0;
		if (m->has_hi && (m->hi_incl ? d > m->hi : d >= m->hi))
			return 0;
		return 1;
	case M_CIDR:
		return s && cidr_match(m, s);
	case M_NOT:
		for (size_t i = 0; i < m->nsub; i++)
			if (match_leaf(&m->sub[i], v))
				return 0;
		return 1;
	case M_EXISTS:
		return m->flag;
	}
	return 0;
}

static int
is_leaf(const json_t *v)
{
	return v != NULL && !json_is_object(v) && !json_is_array(v);
}

/* Leaf values at a path: the value itself, or the leaf elements of an array. */
static int
field_match(const struct field *f, const json_t *v)
{
	int any_leaf = 0;

	if (json_is_array(v)) {
		size_t i;
		const json_t *x;

		json_array_foreach(v, i, x)
			if (is_leaf(x))
				any_leaf = 1;
	} else
		any_leaf = is_leaf(v);
	for (size_t k = 0; k < f->nm; k++) {
		const struct matcher *m = &f->m[k];

		if (m->type == M_EXISTS) {
			if (m->flag == any_leaf)
				return 1;
			continue;
		}
		if (json_is_array(v)) {
			size_t i;
			const json_t *x;

			json_array_foreach(v, i, x)
				if (is_leaf(x) && match_leaf(m, x))
					return 1;
		} else if (is_leaf(v) && match_leaf(m, v))
			return 1;
	}
	return 0;
}

static int match_node(const struct pnode *, const json_t *);

/* A nested pattern against a value: objects directly, arrays element-wise. */
static int
nested_match(const struct pnode *n, const json_t *v)
{
	if (json_is_object(v))
		return match_node(n, v);
	if (json_is_array(v)) {
		size_t i;
		const json_t *x;
		int any_obj = 0;

		json_array_foreach(v, i, x)
			if (json_is_object(x)) {
				any_obj = 1;
				if (match_node(n, x))
					return 1;
			}
		if (any_obj)
			return 0;
	}
	/* nothing below this path exists: only "exists": false can hold */
	return match_node(n, NULL);
}

static int
match_node(const struct pnode *n, const json_t *o)
{
	for (size_t i = 0; i < n->nf; i++) {
		const struct field *f = &n->f[i];
		const json_t *v = o ? json_object_get(o, f->key) : NULL;

		if (f->obj ? !nested_match(f->obj, v) : !field_match(f, v))
			return 0;
	}
	if (n->nalt) {
		for (size_t i = 0; i < n->nalt; i++)
			if (match_node(n->alt[i], o))
				return 1;
		return 0;
	}
	return 1;
}

int
eb_pattern_match(const struct eb_pattern *p, const json_t *event)
{
	return match_node(p->root, event);
}
