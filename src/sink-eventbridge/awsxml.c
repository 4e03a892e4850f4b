/*
 * awsxml.c: read the few values sink-eventbridge needs from STS's XML.
 *
 * libxml2 would bring ICU and libstdc++ into the sink (about 35 MB mapped)
 * for four strings.  This reader still checks the whole document: a
 * truncated or mangled answer is refused rather than half read.  It knows
 * elements, attributes, comments, processing instructions, CDATA, the five
 * predefined entities and character references; it refuses a DOCTYPE, so
 * there are no entity definitions to expand.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "awsxml.h"
#include "vp.h"

#define MAX_DEPTH 32
#define PATH_LEN 512

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
	int collect, collect_depth;	/* the want whose text is read */
	char *buf;			/* its text so far (doc length + 1) */
	size_t blen;
};

static int
fail(struct px *x, const char *what)
{
	snprintf(x->err, x->errlen, "XML at byte %zu: %s",
	    (size_t)(x->p - x->start), what);
	return -1;
}

static int
name_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	    c == ':' || c >= 0x80;
}

static int
name_char(unsigned char c)
{
	return name_start(c) || (c >= '0' && c <= '9') || c == '.' || c == '-';
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

static int
parse_name(struct px *x, const char **name, size_t *len)
{
	const char *s = x->p;

	if (x->p >= x->end || !name_start((unsigned char)*x->p))
		return fail(x, "a name was expected");
	while (x->p < x->end && name_char((unsigned char)*x->p))
		x->p++;
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
	if (x->collect >= 0 && x->depth == x->collect_depth) {
		memcpy(x->buf + x->blen, s, n);
		x->blen += n;
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
		} else if (bad_char((unsigned char)*x->p)) {
			return fail(x, "control character");
		} else
			o[0] = *x->p++;
		if (x->depth == 0 && !(n == 1 && is_ws(o[0])))
			return fail(x, "text outside the root element");
		keep(x, o, n);
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

static int
attributes(struct px *x, int *empty)
{
	for (;;) {
		const char *name;
		size_t len;
		char q, o[4];
		size_t n;

		if (x->p < x->end && !is_ws(*x->p) && *x->p != '>' &&
		    *x->p != '/')
			return fail(x, "space expected between attributes");
		skip_ws(x);
		if (at(x, "/>")) {
			x->p += 2;
			*empty = 1;
			return 0;
		}
		if (at(x, ">")) {
			x->p++;
			*empty = 0;
			return 0;
		}
		if (parse_name(x, &name, &len) != 0)
			return -1;
		skip_ws(x);
		if (!at(x, "="))
			return fail(x, "'=' expected after an attribute name");
		x->p++;
		skip_ws(x);
		if (x->p >= x->end || (*x->p != '"' && *x->p != '\''))
			return fail(x, "attribute value not quoted");
		q = *x->p++;
		while (x->p < x->end && *x->p != q) {
			if (*x->p == '<')
				return fail(x, "'<' in an attribute value");
			if (*x->p == '&') {
				if (parse_ref(x, o, &n) != 0)
					return -1;
			} else if (bad_char((unsigned char)*x->p++))
				return fail(x, "control character");
		}
		if (x->p >= x->end)
			return fail(x, "unterminated attribute value");
		x->p++;
	}
}

static void
store(struct px *x)
{
	size_t b = 0, e = x->blen;

	while (b < e && is_ws(x->buf[b]))
		b++;
	while (e > b && is_ws(x->buf[e - 1]))
		e--;
	x->w[x->collect].text = vp_xmalloc(e - b + 1);
	memcpy(x->w[x->collect].text, x->buf + b, e - b);
	x->w[x->collect].text[e - b] = '\0';
	explicit_bzero(x->buf, x->blen);
	x->blen = 0;
	x->collect = -1;
}

static int
start_tag(struct px *x)
{
	const char *name, *local, *colon;
	size_t len, llen, pl;
	int empty;

	if (x->depth == 0 && x->roots++ > 0)
		return fail(x, "a second root element");
	x->p++;
	if (parse_name(x, &name, &len) != 0)
		return -1;
	if (attributes(x, &empty) != 0)
		return -1;
	if (x->depth == MAX_DEPTH)
		return fail(x, "elements nested too deep");
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
	if (x->collect < 0)
		for (size_t i = 0; i < x->n; i++)
			if (x->w[i].text == NULL &&
			    strcmp(x->w[i].path, x->path) == 0) {
				x->collect = (int)i;
				x->collect_depth = x->depth;
				x->blen = 0;
				break;
			}
	if (empty) {
		if (x->collect >= 0 && x->collect_depth == x->depth)
			store(x);
		x->depth--;
	}
	return 0;
}

static int
end_tag(struct px *x)
{
	const char *name;
	size_t len;

	x->p += 2;
	if (parse_name(x, &name, &len) != 0)
		return -1;
	skip_ws(x);
	if (!at(x, ">"))
		return fail(x, "'>' expected");
	x->p++;
	if (x->depth == 0)
		return fail(x, "end tag without a start tag");
	if (len != x->qlen[x->depth - 1] ||
	    memcmp(name, x->qname[x->depth - 1], len) != 0)
		return fail(x, "end tag does not match its start tag");
	if (x->collect >= 0 && x->collect_depth == x->depth)
		store(x);
	x->depth--;
	return 0;
}

static int
parse(struct px *x)
{
	if (at(x, "\xef\xbb\xbf"))
		x->p += 3;
	while (x->p < x->end) {
		if (*x->p != '<') {
			if (text(x) != 0)
				return -1;
			continue;
		}
		if (at(x, "<?")) {
			if (skip_past(x, "?>", "unterminated processing "
			    "instruction") != 0)
				return -1;
		} else if (at(x, "<!--")) {
			if (skip_past(x, "-->", "unterminated comment") != 0)
				return -1;
		} else if (at(x, "<![CDATA[")) {
			const char *s;

			if (x->depth == 0)
				return fail(x, "CDATA outside the root element");
			x->p += 9;
			s = x->p;
			if (skip_past(x, "]]>", "unterminated CDATA") != 0)
				return -1;
			keep(x, s, (size_t)(x->p - 3 - s));
		} else if (at(x, "<!")) {
			return fail(x, "DOCTYPE and declarations are not "
			    "accepted");
		} else if (at(x, "</")) {
			if (end_tag(x) != 0)
				return -1;
		} else if (start_tag(x) != 0)
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
	x.err = err;
	x.errlen = errlen;
	x.w = w;
	x.n = n;
	x.collect = -1;
	x.buf = vp_xmalloc(len + 1);
	for (size_t i = 0; i < n; i++)
		w[i].text = NULL;
	if (memchr(doc, '\0', len) != NULL) {
		x.p = memchr(doc, '\0', len);
		rc = fail(&x, "NUL byte");
	} else
		rc = parse(&x);
	explicit_bzero(x.buf, len + 1);
	free(x.buf);
	if (rc != 0)
		eb_xml_free(w, n);
	return rc;
}
