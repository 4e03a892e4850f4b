/*
 * awsxml.c: read the few values sink-eventbridge needs from STS's XML.
 *
 * libxml2 would bring ICU and libstdc++ into the sink (about 35 MB mapped)
 * for four strings.  This reader still checks the whole document as expat
 * does (t/0521 compares them on thousands of mangled answers): a truncated
 * or mangled answer is refused rather than half read.  It knows UTF-8, the
 * XML declaration, elements, attributes, namespace prefixes, comments,
 * processing instructions, CDATA, the five predefined entities and
 * character references; it refuses a DOCTYPE, so there are no entity
 * definitions to expand.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "awsxml.h"
#include "vp.h"

#define MAX_DEPTH 32
#define PATH_LEN 512
#define MAX_ATTRS 32
#define MAX_PREFIXES 64

struct px {
	const char *start, *p, *end;
	char *err;
	size_t errlen;
	int depth, roots;
	const char *qname[MAX_DEPTH];	/* open elements, for the end tags */
	size_t qlen[MAX_DEPTH];
	char path[PATH_LEN];		/* local names joined by '/' */
	size_t plen[MAX_DEPTH + 1];
	struct eb_xml_want *w;
	size_t n;
	struct {			/* per want: the element being read */
		int depth;		/* 0: none */
		char *buf;		/* its text so far (doc length + 1) */
		size_t len;
	} col[EB_XML_MAX_WANT];
	size_t doclen;
	struct {			/* namespace prefixes in scope */
		const char *name;
		size_t len;
		int depth;
	} pfx[MAX_PREFIXES];
	int npfx;
};

static int
fail(struct px *x, const char *what)
{
	snprintf(x->err, x->errlen, "XML at byte %zu: %s",
	    (size_t)(x->p - x->start), what);
	return -1;
}

/* Decode one UTF-8 sequence (already validated); returns its length. */
static size_t
utf8_at(const char *s, uint32_t *cp)
{
	const unsigned char *u = (const unsigned char *)s;

	if (u[0] < 0x80) {
		*cp = u[0];
		return 1;
	}
	if (u[0] < 0xe0) {
		*cp = (uint32_t)(u[0] & 0x1f) << 6 | (u[1] & 0x3f);
		return 2;
	}
	if (u[0] < 0xf0) {
		*cp = (uint32_t)(u[0] & 0x0f) << 12 |
		    (uint32_t)(u[1] & 0x3f) << 6 | (u[2] & 0x3f);
		return 3;
	}
	*cp = (uint32_t)(u[0] & 0x07) << 18 | (uint32_t)(u[1] & 0x3f) << 12 |
	    (uint32_t)(u[2] & 0x3f) << 6 | (u[3] & 0x3f);
	return 4;
}

/* XML 1.0 (fifth edition) NameStartChar, ':' aside */
static int
name_start(uint32_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	    (c >= 0xc0 && c <= 0xd6) || (c >= 0xd8 && c <= 0xf6) ||
	    (c >= 0xf8 && c <= 0x2ff) || (c >= 0x370 && c <= 0x37d) ||
	    (c >= 0x37f && c <= 0x1fff) || (c >= 0x200c && c <= 0x200d) ||
	    (c >= 0x2070 && c <= 0x218f) || (c >= 0x2c00 && c <= 0x2fef) ||
	    (c >= 0x3001 && c <= 0xd7ff) || (c >= 0xf900 && c <= 0xfdcf) ||
	    (c >= 0xfdf0 && c <= 0xfffd) || (c >= 0x10000 && c <= 0xeffff);
}

static int
name_char(uint32_t c)
{
	return name_start(c) || (c >= '0' && c <= '9') || c == '.' ||
	    c == '-' || c == 0xb7 || (c >= 0x300 && c <= 0x36f) ||
	    (c >= 0x203f && c <= 0x2040);
}

static int
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void
skip_ws(struct px *x)
{
	while (x->p < x->end && is_ws(*x->p))
		x->p++;
}

/* Does the input continue with s? */
static int
at(const struct px *x, const char *s)
{
	size_t n = strlen(s);

	return (size_t)(x->end - x->p) >= n && memcmp(x->p, s, n) == 0;
}

/* A name (a QName: at most one ':', not at either end). */
static int
parse_name(struct px *x, const char **name, size_t *len)
{
	const char *s = x->p;
	int colons = 0, first = 1;

	while (x->p < x->end) {
		uint32_t c;
		size_t n = utf8_at(x->p, &c);

		if (c == ':') {
			if (first || colons++)
				return fail(x, "bad name");
		} else if (!(first ? name_start(c) : name_char(c)))
			break;
		first = 0;
		x->p += n;
	}
	if (first)
		return fail(x, "a name was expected");
	if (x->p[-1] == ':')
		return fail(x, "bad name");
	*name = s;
	*len = (size_t)(x->p - s);
	return 0;
}

static size_t
put_utf8(uint32_t cp, char *o)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A reference at x->p ('&'); its characters go to o (4 bytes room) */
static int
parse_ref(struct px *x, char *o, size_t *olen)
{
	static const struct {
		const char *name;
		char c;
	} ents[] = {
		{ "lt;", '<' }, { "gt;", '>' }, { "amp;", '&' },
		{ "quot;", '"' }, { "apos;", '\'' }
	};
	uint32_t cp = 0;
	int hex, digits = 0;

	x->p++;
	for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++)
		if (at(x, ents[i].name)) {
			x->p += strlen(ents[i].name);
			o[0] = ents[i].c;
			*olen = 1;
			return 0;
		}
	if (x->p >= x->end || *x->p != '#')
		return fail(x, "unknown entity (only the predefined five exist)");
	x->p++;
	hex = x->p < x->end && *x->p == 'x';
	if (hex)
		x->p++;
	for (; x->p < x->end && *x->p != ';'; x->p++, digits++) {
		char c = *x->p;
		int v;

		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (hex && c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else if (hex && c >= 'A' && c <= 'F')
			v = c - 'A' + 10;
		else
			return fail(x, "bad character reference");
		cp = cp * (hex ? 16 : 10) + (uint32_t)v;
		if (cp > 0x10ffff)
			return fail(x, "character reference out of range");
	}
	if (x->p >= x->end || digits == 0)
		return fail(x, "bad character reference");
	x->p++;
	if (!(cp == 0x9 || cp == 0xa || cp == 0xd || (cp >= 0x20 &&
	    cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || cp >= 0x10000))
		return fail(x, "reference to a character XML forbids");
	*olen = put_utf8(cp, o);
	return 0;
}

static int
bad_char(unsigned char c)
{
	return c < 0x20 && c != '\t' && c != '\n' && c != '\r';
}

static void
keep(struct px *x, const char *s, size_t n)
{
	for (size_t i = 0; i < x->n; i++)
		if (x->col[i].depth > 0 && x->col[i].depth == x->depth) {
			memcpy(x->col[i].buf + x->col[i].len, s, n);
			x->col[i].len += n;
		}
}

/* CDATA with XML's line ends: CR LF and a lone CR read as LF. */
static void
keep_text(struct px *x, const char *s, size_t n)
{
	while (n > 0) {
		const char *cr = memchr(s, '\r', n);
		size_t k = cr ? (size_t)(cr - s) : n;

		keep(x, s, k);
		if (cr == NULL)
			return;
		keep(x, "\n", 1);
		k += k + 1 < n && cr[1] == '\n' ? 2 : 1;
		s += k;
		n -= k;
	}
}

/* Character data up to the next '<' (or the end). */
static int
text(struct px *x)
{
	while (x->p < x->end && *x->p != '<') {
		char o[4];
		size_t n = 1;

		if (*x->p == '&') {
			if (parse_ref(x, o, &n) != 0)
				return -1;
			keep(x, o, n);
			if (x->depth == 0)
				return fail(x, "text outside the root element");
			continue;
		}
		if (at(x, "]]>"))
			return fail(x, "\"]]>\" in text");
		if (x->depth == 0 && !is_ws(*x->p))
			return fail(x, "text outside the root element");
		if (*x->p == '\r') {
			/* XML's line ends: CR LF and a lone CR read as LF */
			keep(x, "\n", 1);
			if (++x->p < x->end && *x->p == '\n')
				x->p++;
		} else
			keep(x, x->p++, 1);
	}
	return 0;
}

/* Skip to just after the terminator. */
static int
skip_past(struct px *x, const char *term, const char *what)
{
	size_t n = strlen(term);

	for (; x->p + n <= x->end; x->p++) {
		if (memcmp(x->p, term, n) == 0) {
			x->p += n;
			return 0;
		}
		if (bad_char((unsigned char)*x->p))
			return fail(x, "control character");
	}
	return fail(x, what);
}

/* After a name: '=' (spaces around it) and an opening quote, kept in *q. */
static int
value_start(struct px *x, char *q, const char *what)
{
	skip_ws(x);
	if (!at(x, "="))
		return fail(x, what);
	x->p++;
	skip_ws(x);
	if (x->p >= x->end || (*x->p != '"' && *x->p != '\''))
		return fail(x, what);
	*q = *x->p++;
	return 0;
}

static int
bound(struct px *x, const char *name, size_t len)
{
	const char *c = memchr(name, ':', len);
	size_t pl;

	if (c == NULL)
		return 1;
	pl = (size_t)(c - name);
	if (pl == 3 && memcmp(name, "xml", 3) == 0)
		return 1;
	for (int i = x->npfx - 1; i >= 0; i--)
		if (x->pfx[i].len == pl && memcmp(x->pfx[i].name, name, pl) == 0)
			return 1;
	return 0;
}

/*
 * The attributes of a start tag: quoted, unique, their references known;
 * xmlns:P declarations come into scope for this element (depth).
 */
static int
attributes(struct px *x, int depth, int *empty)
{
	const char *names[MAX_ATTRS];
	size_t lens[MAX_ATTRS];
	int n = 0;

	for (;;) {
		const char *name, *v;
		size_t len;
		char q, o[4];
		size_t ol;

		if (x->p < x->end && !is_ws(*x->p) && *x->p != '>' &&
		    *x->p != '/')
			return fail(x, "space expected between attributes");
		skip_ws(x);
		if (at(x, "/>") || at(x, ">")) {
			*empty = *x->p == '/';
			x->p += *empty ? 2 : 1;
			break;
		}
		if (x->p >= x->end)
			return fail(x, "document ends inside a tag");
		if (parse_name(x, &name, &len) != 0)
			return -1;
		if (n == MAX_ATTRS)
			return fail(x, "too many attributes");
		for (int i = 0; i < n; i++)
			if (lens[i] == len && memcmp(names[i], name, len) == 0)
				return fail(x, "duplicate attribute");
		names[n] = name;
		lens[n++] = len;
		if (value_start(x, &q, "an attribute without '=' and a quoted "
		    "value") != 0)
			return -1;
		v = x->p;
		while (x->p < x->end && *x->p != q) {
			if (*x->p == '<')
				return fail(x, "'<' in an attribute value");
			if (*x->p == '&') {
				if (parse_ref(x, o, &ol) != 0)
					return -1;
			} else if (bad_char((unsigned char)*x->p++))
				return fail(x, "control character");
		}
		if (x->p >= x->end)
			return fail(x, "unterminated attribute value");
		if (len > 6 && memcmp(name, "xmlns:", 6) == 0) {
			if (x->p == v)
				return fail(x, "a namespace prefix undeclared");
			if (x->npfx == MAX_PREFIXES)
				return fail(x, "too many namespace prefixes");
			x->pfx[x->npfx].name = name + 6;
			x->pfx[x->npfx].len = len - 6;
			x->pfx[x->npfx++].depth = depth;
		}
		x->p++;
	}
	for (int i = 0; i < n; i++)
		if (!(lens[i] > 6 && memcmp(names[i], "xmlns:", 6) == 0) &&
		    !bound(x, names[i], lens[i]))
			return fail(x, "unbound namespace prefix");
	return 0;
}

static void
store(struct px *x, size_t i)
{
	char *b = x->col[i].buf;
	size_t s = 0, e = x->col[i].len;

	while (s < e && is_ws(b[s]))
		s++;
	while (e > s && is_ws(b[e - 1]))
		e--;
	x->w[i].text = vp_xmalloc(e - s + 1);
	memcpy(x->w[i].text, b + s, e - s);
	x->w[i].text[e - s] = '\0';
	explicit_bzero(b, x->col[i].len);
	x->col[i].len = 0;
	x->col[i].depth = 0;
}

static void
close_element(struct px *x)
{
	for (size_t i = 0; i < x->n; i++)
		if (x->col[i].depth == x->depth)
			store(x, i);
	while (x->npfx > 0 && x->pfx[x->npfx - 1].depth >= x->depth)
		x->npfx--;
	x->depth--;
}

/* "<name" read: its attributes and the rest of the start tag */
static int
start_tag(struct px *x, const char *name, size_t len)
{
	const char *local, *colon;
	size_t llen, pl;
	int empty;

	if (x->depth == 0 && x->roots++ > 0) {
		x->p = name - 1;	/* at its '<' */
		return fail(x, "a second root element");
	}
	if (x->depth == MAX_DEPTH)
		return fail(x, "elements nested too deep");
	if (attributes(x, x->depth + 1, &empty) != 0)
		return -1;
	if (!bound(x, name, len) || (len > 6 && memcmp(name, "xmlns:", 6) == 0))
		return fail(x, "unbound namespace prefix");
	colon = memrchr(name, ':', len);
	local = colon ? colon + 1 : name;
	llen = len - (size_t)(local - name);
	pl = x->plen[x->depth];
	if (pl + llen + 2 > sizeof(x->path))
		return fail(x, "element path too long");
	if (x->depth > 0)
		x->path[pl++] = '/';
	memcpy(x->path + pl, local, llen);
	pl += llen;
	x->path[pl] = '\0';
	x->qname[x->depth] = name;
	x->qlen[x->depth] = len;
	x->depth++;
	x->plen[x->depth] = pl;
	for (size_t i = 0; i < x->n; i++)
		if (x->w[i].text == NULL && x->col[i].depth == 0 &&
		    strcmp(x->w[i].path, x->path) == 0) {
			if (x->col[i].buf == NULL)
				x->col[i].buf = vp_xmalloc(x->doclen + 1);
			x->col[i].depth = x->depth;
		}
	if (empty)
		close_element(x);
	return 0;
}

/* "</name" read */
static int
end_tag(struct px *x, const char *name, size_t len)
{
	skip_ws(x);
	if (!at(x, ">"))
		return fail(x, "'>' expected");
	x->p++;
	if (x->depth == 0)
		return fail(x, "end tag without a start tag");
	if (len != x->qlen[x->depth - 1] ||
	    memcmp(name, x->qname[x->depth - 1], len) != 0)
		return fail(x, "end tag does not match its start tag");
	close_element(x);
	return 0;
}

/* Valid UTF-8 of characters XML allows (C0 controls but tab, CR, LF not). */
static int
check_chars(struct px *x)
{
	const unsigned char *u = (const unsigned char *)x->start;
	size_t len = (size_t)(x->end - x->start);

	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n;

		x->p = x->start + i;
		if (u[i] < 0x80) {
			if (bad_char(u[i]))
				return fail(x, "control character");
			i++;
			continue;
		}
		n = u[i] >= 0xf0 ? 4 : u[i] >= 0xe0 ? 3 : u[i] >= 0xc2 ? 2 : 0;
		if (n == 0 || u[i] > 0xf4 || i + n > len)
			return fail(x, "not UTF-8");
		for (size_t k = 1; k < n; k++)
			if ((u[i + k] & 0xc0) != 0x80)
				return fail(x, "not UTF-8");
		utf8_at((const char *)u + i, &cp);
		if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 ||
		    cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff) ||
		    cp == 0xfffe || cp == 0xffff)
			return fail(x, "not UTF-8");
		i += n;
	}
	x->p = x->start;
	return 0;
}

/* "<?xml version=... encoding=... standalone=...?>", first in the document */
static int
declaration(struct px *x)
{
	static const char *const order[] = { "version", "encoding",
	    "standalone" };
	int next = 0;

	x->p += 5;
	for (;;) {
		const char *name, *v;
		size_t len, vl;
		char q;
		int i;

		if (at(x, "?>") && next > 0) {
			x->p += 2;
			return 0;
		}
		if (x->p >= x->end || !is_ws(*x->p))
			return fail(x, "bad XML declaration");
		skip_ws(x);
		if (at(x, "?>") && next > 0)
			continue;
		if (parse_name(x, &name, &len) != 0)
			return -1;
		for (i = next; i < 3; i++)
			if (strlen(order[i]) == len &&
			    memcmp(order[i], name, len) == 0)
				break;
		if (i == 3 || (next == 0 && i != 0))
			return fail(x, "bad XML declaration");
		next = i + 1;
		if (value_start(x, &q, "bad XML declaration") != 0)
			return -1;
		v = x->p;
		while (x->p < x->end && *x->p != q)
			x->p++;
		if (x->p >= x->end)
			return fail(x, "bad XML declaration");
		vl = (size_t)(x->p++ - v);
		if ((i == 0 && (vl == 0 || strspn(v, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-") < vl)) ||
		    (i == 1 && !((vl == 5 && strncasecmp(v, "utf-8", 5) == 0) ||
		    (vl == 8 && strncasecmp(v, "us-ascii", 8) == 0))) ||
		    (i == 2 && !((vl == 3 && memcmp(v, "yes", 3) == 0) ||
		    (vl == 2 && memcmp(v, "no", 2) == 0))))
			return fail(x, i == 1 ? "not a UTF-8 document" :
			    "bad XML declaration");
	}
}

/* "<?target" read ("<?target data?>"); not "xml" (the declaration) */
static int
instruction(struct px *x, const char *name, size_t len)
{
	if (len == 3 && strncasecmp(name, "xml", 3) == 0)
		return fail(x, "XML declaration not at the start");
	if (!at(x, "?>") && (x->p >= x->end || !is_ws(*x->p)))
		return fail(x, "bad processing instruction");
	return skip_past(x, "?>", "unterminated processing instruction");
}

static int
comment(struct px *x)
{
	x->p += 4;
	for (; x->p + 1 < x->end; x->p++)
		if (x->p[0] == '-' && x->p[1] == '-') {
			if (x->p + 2 < x->end && x->p[2] == '>') {
				x->p += 3;
				return 0;
			}
			return fail(x, "\"--\" inside a comment");
		}
	return fail(x, "unterminated comment");
}

static int
cdata(struct px *x)
{
	const char *s;

	if (x->depth == 0)
		return fail(x, "CDATA outside the root element");
	x->p += 9;
	s = x->p;
	if (skip_past(x, "]]>", "unterminated CDATA") != 0)
		return -1;
	keep_text(x, s, (size_t)(x->p - 3 - s));
	return 0;
}

static int
doctype(struct px *x)
{
	return fail(x, "DOCTYPE and declarations are not accepted");
}

/*
 * Markup, by how it opens (the first that matches). A named one has its
 * opening skipped and its name read before it is called; the others read
 * their opening themselves.
 */
static const struct markup {
	const char *open;
	int (*named)(struct px *, const char *, size_t);
	int (*plain)(struct px *);
} markups[] = {
	{ "<?", instruction, NULL },
	{ "<!--", NULL, comment },
	{ "<![CDATA[", NULL, cdata },
	{ "<!", NULL, doctype },
	{ "</", end_tag, NULL },
	{ "<", start_tag, NULL },
};

static int
markup(struct px *x)
{
	const struct markup *m = markups;
	const char *name;
	size_t len;

	while (!at(x, m->open))
		m++;		/* "<" is there: the caller saw it */
	if (m->plain)
		return m->plain(x);
	x->p += strlen(m->open);
	if (parse_name(x, &name, &len) != 0)
		return -1;
	return m->named(x, name, len);
}

static int
parse(struct px *x)
{
	if (check_chars(x) != 0)
		return -1;
	if (at(x, "\xef\xbb\xbf"))
		x->p += 3;
	if (at(x, "<?xml") && x->p + 5 < x->end && (is_ws(x->p[5]) ||
	    x->p[5] == '?') && declaration(x) != 0)
		return -1;
	while (x->p < x->end) {
		if (*x->p != '<') {
			if (text(x) != 0)
				return -1;
			continue;
		}
		if (markup(x) != 0)
			return -1;
	}
	if (x->depth > 0)
		return fail(x, "document ends inside an element");
	if (x->roots == 0)
		return fail(x, "no root element");
	return 0;
}

void
eb_xml_free(struct eb_xml_want *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		vp_free_secret(w[i].text);
		w[i].text = NULL;
	}
}

int
eb_xml_extract(const char *doc, size_t len, struct eb_xml_want *w, size_t n,
    char *err, size_t errlen)
{
	struct px x;
	int rc;

	memset(&x, 0, sizeof(x));
	x.start = x.p = doc;
	x.end = doc + len;
	x.doclen = len;
	x.err = err;
	x.errlen = errlen;
	x.w = w;
	x.n = n;
	for (size_t i = 0; i < n; i++)
		w[i].text = NULL;
	if (n > EB_XML_MAX_WANT) {
		snprintf(err, errlen, "more than %d paths", EB_XML_MAX_WANT);
		return -1;
	}
	rc = parse(&x);
	for (size_t i = 0; i < n; i++)
		if (x.col[i].buf) {
			explicit_bzero(x.col[i].buf, len + 1);
			free(x.col[i].buf);
		}
	if (rc != 0)
		eb_xml_free(w, n);
	return rc;
}
