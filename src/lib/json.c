/*
 * json.c: validate JSON text in place; decode, compact and quote strings;
 * UTF-8, base64 and percent-decoding.
 */
#include <stdarg.h>
#include <string.h>

#include "json.h"

static int
fail(struct js *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
fail(struct js *j, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (j->err[0])
		return -1;	/* keep the innermost, most precise message */
	va_start(ap, fmt);
	n = vsnprintf(j->err, sizeof(j->err), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(j->err))
		snprintf(j->err + n, sizeof(j->err) - n, " at byte %zu",
		    (size_t)(j->p - j->start) + 1);
	return -1;
}

static int
unexpected(struct js *j, const char *what)
{
	if (j->p >= j->end)
		return fail(j, "not JSON: unexpected end of line, %s", what);
	unsigned char c = (unsigned char)*j->p;
	if (c >= 0x21 && c < 0x7f)
		return fail(j, "not JSON: unexpected '%c', %s", c, what);
	return fail(j, "not JSON: unexpected byte 0x%02x, %s", c, what);
}

void
js_init(struct js *j, const char *s, size_t len)
{
	j->p = j->start = s;
	j->end = s + len;
	j->err[0] = '\0';
	j->depth = 0;
	j->ws = 0;
}

void
js_skip_ws(struct js *j)
{
	const char *p = j->p;

	if (p < j->end && (unsigned char)*p > ' ')
		return;

	while (p < j->end && (*p == ' ' || *p == '\t' || *p == '\n' ||
	    *p == '\r'))
		p++;
	if (p != j->p)
		j->ws = 1;
	j->p = p;
}

/*
 * Length of the UTF-8 sequence at p (1..4), or 0 when it is malformed:
 * overlong forms, UTF-16 surrogates and code points past U+10FFFF included.
 * The well-formed sequences of the Unicode standard's table 3-7: the lead
 * byte gives the length and the range of the second byte; the others are
 * 80..BF.
 */
static size_t
utf8_seq(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0];
	size_t n = (size_t)(end - p), len;
	unsigned char lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c < 0xc2 || c > 0xf4)
		return 0;
	len = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	if (c == 0xe0)
		lo = 0xa0;		/* overlong */
	else if (c == 0xed)
		hi = 0x9f;		/* surrogates */
	else if (c == 0xf0)
		lo = 0x90;		/* overlong */
	else if (c == 0xf4)
		hi = 0x8f;		/* past U+10FFFF */
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t k = 2; k < len; k++)
		if ((p[k] & 0xc0) != 0x80)
			return 0;
	return len;
}

size_t
vp_utf8_valid_prefix(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;

	while (p < end) {
		size_t k;

		if (*p < 0x80) {	/* ASCII runs are the common case */
			p++;
			continue;
		}
		if ((k = utf8_seq(p, end)) == 0)
			break;
		p += k;
	}
	return (size_t)(p - (const unsigned char *)s);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Four hex digits after "\u" at p; -1 when malformed. */
static long
hex4(const char *p, const char *end)
{
	long v = 0;

	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int h = hexval((unsigned char)p[i]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/* Bytes a string scan must stop at: controls, '"', '\\', non-ASCII. */
static const unsigned char stop[256] = {
	[0x00] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0x10] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	['"'] = 1, ['\\'] = 1,
	[0x80] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0x90] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0xa0] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0xb0] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0xc0] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0xd0] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0xe0] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0xf0] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

static int
scan_string(struct js *j)
{
	const unsigned char *p = (const unsigned char *)j->p + 1;
	const unsigned char *end = (const unsigned char *)j->end;

	for (;;) {
		/* printable ASCII is the common case: take it in one loop */
		while (end - p >= 4 && !stop[p[0]] && !stop[p[1]] &&
		    !stop[p[2]] && !stop[p[3]])
			p += 4;
		while (p < end && !stop[*p])
			p++;
		if (p >= end) {
			j->p = (const char *)p;
			return fail(j, "not JSON: unterminated string");
		}
		unsigned char c = (unsigned char)*p;
		if (c == '"') {
			j->p = (const char *)p + 1;
			return 0;
		}
		if (c == '\\') {
			if (p + 1 >= end) {
				j->p = (const char *)p;
				return fail(j, "not JSON: unterminated string");
			}
			switch (p[1]) {
			case '"': case '\\': case '/': case 'b': case 'f':
			case 'n': case 'r': case 't':
				p += 2;
				continue;
			case 'u':
				break;
			default:
				j->p = (const char *)p;
				return fail(j, "not JSON: invalid escape in string");
			}
			long u = hex4((const char *)p + 2, (const char *)end);
			if (u < 0) {
				j->p = (const char *)p;
				return fail(j, "not JSON: invalid \\u escape");
			}
			if (u == 0) {
				/* jansson, which the sinks parse with, refuses it */
				j->p = (const char *)p;
				return fail(j, "\\u0000 (NUL) in a string");
			}
			if (u >= 0xdc00 && u <= 0xdfff) {
				j->p = (const char *)p;
				return fail(j, "invalid Unicode: lone low surrogate \\u%04lX", u);
			}
			if (u >= 0xd800 && u <= 0xdbff) {
				long lo = end - p >= 12 && p[6] == '\\' &&
				    p[7] == 'u' ? hex4((const char *)p + 8, (const char *)end) : -1;
				if (lo < 0xdc00 || lo > 0xdfff) {
					j->p = (const char *)p;
					return fail(j, "invalid Unicode: lone high surrogate \\u%04lX", u);
				}
				p += 12;
			} else
				p += 6;
			continue;
		}
		if (c < 0x20) {
			j->p = (const char *)p;
			return fail(j, "not JSON: control character 0x%02x in string", c);
		}
		size_t k = utf8_seq(p, end);
		if (k == 0) {
			j->p = (const char *)p;
			return fail(j, "invalid UTF-8");
		}
		p += k;
	}
}

static int
digits(const char **pp, const char *end)
{
	const char *p = *pp;

	while (p < end && *p >= '0' && *p <= '9')
		p++;
	if (p == *pp)
		return -1;
	*pp = p;
	return 0;
}

static int
scan_number(struct js *j, int *integer)
{
	const char *p = j->p, *end = j->end;

	*integer = 1;
	if (p < end && *p == '-')
		p++;
	if (p < end && *p == '0')
		p++;
	else if (p < end && *p >= '1' && *p <= '9')
		digits(&p, end);
	else {
		j->p = p;
		return unexpected(j, "expected a digit");
	}
	if (p < end && *p == '.') {
		p++;
		*integer = 0;
		if (digits(&p, end) != 0) {
			j->p = p;
			return unexpected(j, "expected a digit after '.'");
		}
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		*integer = 0;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (digits(&p, end) != 0) {
			j->p = p;
			return unexpected(j, "expected an exponent");
		}
	}
	j->p = p;
	return 0;
}

static int
literal(struct js *j, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
		return unexpected(j, "expected a value");
	j->p += n;
	return 0;
}

static int scan_value(struct js *j, enum js_type *type, int *integer);

/* Past the opening bracket c ('{' or '['), one level deeper. */
static int
open_container(struct js *j, char c)
{
	js_skip_ws(j);
	if (j->p >= j->end || *j->p != c)
		return unexpected(j, c == '{' ? "expected '{'" : "expected '['");
	if (++j->depth > JS_MAX_DEPTH)
		return fail(j, "JSON nested deeper than %d levels", JS_MAX_DEPTH);
	j->p++;
	js_skip_ws(j);
	return 0;
}

/*
 * Before the next element of a container that has count of them so far:
 * 0 at its closing bracket (taken, one level up), 1 when an element
 * follows (its comma taken), -1 on an error.
 */
static int
next_element(struct js *j, int count, char close)
{
	js_skip_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		j->depth--;
		return 0;
	}
	if (count > 0) {
		if (j->p >= j->end || *j->p != ',')
			return unexpected(j, close == '}' ? "expected ',' or '}'" :
			    "expected ',' or ']'");
		j->p++;
		js_skip_ws(j);
	}
	return 1;
}

/* An element's value into v, counted: 1, or -1 on an error. */
static int
element_value(struct js *j, int *count, struct js_span *v)
{
	if (js_value(j, v) != 0)
		return -1;
	(*count)++;
	return 1;
}

/* A member's name (its text into n, when not NULL) and colon, up to its value. */
static int
member_name(struct js *j, struct js_span *n)
{
	const char *p = j->p;

	if (j->p >= j->end || *j->p != '"')
		return unexpected(j, "expected a member name");
	if (scan_string(j) != 0)
		return -1;
	if (n) {
		n->p = p;
		n->len = (size_t)(j->p - p);
		n->type = JS_STRING;
		n->ws = n->integer = 0;
	}
	js_skip_ws(j);
	if (j->p >= j->end || *j->p != ':')
		return unexpected(j, "expected ':'");
	j->p++;
	js_skip_ws(j);
	return 0;
}

/* Blanks between tokens: the four JSON allows; ws notes that there were. */
#define FAST_WS(c) ((c) == ' ' || (c) == '\n' || (c) == '\t' || (c) == '\r')
#define SKIP_WS() do {							\
	while (p < end && FAST_WS(*p)) {				\
		p++;							\
		ws = 1;							\
	}								\
} while (0)

/*
 * The object or array at the cursor, validated in one loop: an event's
 * "data" is most of a line, and the scanner below spends a call or three
 * per token on it. Only what is common is taken here (escapes other than
 * \uXXXX, well-formed UTF-8, any nesting within JS_MAX_DEPTH); at anything
 * else, valid or not, it gives up and leaves the container to the scanner
 * below, which has the last word and the error messages. 1 when the
 * container was valid (j->p past it, j->ws set when it held blanks), 0
 * when given up (j unchanged).
 */
static int
scan_fast(struct js *j)
{
	const unsigned char *p = (const unsigned char *)j->p;
	const unsigned char *end = (const unsigned char *)j->end;
	unsigned char open[JS_MAX_DEPTH];	/* '{' or '[' per level */
	int d = 0, ws = 0, isname = 0;

	for (;;) {
		/* a value */
		SKIP_WS();
		if (p >= end)
			return 0;
		switch (*p) {
		case '{':
		case '[':
			if (j->depth + d + 1 > JS_MAX_DEPTH)
				return 0;
			open[d++] = *p++;
			SKIP_WS();
			if (p >= end)
				return 0;
			if (*p == (open[d - 1] == '{' ? '}' : ']')) {
				p++;
				d--;
				goto after;
			}
			if (open[d - 1] == '[')
				continue;
			goto name;
		case '"':
			isname = 0;
			goto string;
		case 't':
		case 'f':
		case 'n': {
			const char *w = *p == 't' ? "true" : *p == 'f' ?
			    "false" : "null";
			size_t k = strlen(w);

			if ((size_t)(end - p) < k || memcmp(p, w, k) != 0)
				return 0;
			p += k;
			goto after;
		}
		default:
			break;
		}
		/* a number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
		if (*p == '-')
			p++;
		if (p < end && *p == '0')
			p++;
		else if (p < end && *p >= '1' && *p <= '9')
			while (p < end && *p >= '0' && *p <= '9')
				p++;
		else
			return 0;
		if (p < end && *p == '.') {
			if (++p >= end || *p < '0' || *p > '9')
				return 0;
			while (p < end && *p >= '0' && *p <= '9')
				p++;
		}
		if (p < end && (*p == 'e' || *p == 'E')) {
			if (++p < end && (*p == '+' || *p == '-'))
				p++;
			if (p >= end || *p < '0' || *p > '9')
				return 0;
			while (p < end && *p >= '0' && *p <= '9')
				p++;
		}
		goto after;

	name:
		/* at a member name: a string, then a colon, then a value */
		if (*p != '"')
			return 0;
		isname = 1;
	string:
		p++;
		for (;;) {
			size_t k;

			while (end - p >= 4 && !stop[p[0]] && !stop[p[1]] &&
			    !stop[p[2]] && !stop[p[3]])
				p += 4;
			while (p < end && !stop[*p])
				p++;
			if (p >= end)
				return 0;
			if (*p == '"')
				break;
			if (*p == '\\') {
				if (end - p < 2 || memchr("\"\\/bfnrt", p[1], 8) ==
				    NULL || p[1] == '\0')
					return 0;
				p += 2;
				continue;
			}
			if (*p < 0x80 || (k = utf8_seq(p, end)) == 0)
				return 0;
			p += k;
		}
		p++;
		if (isname) {
			SKIP_WS();
			if (p >= end || *p != ':')
				return 0;
			p++;
			continue;
		}
	after:
		/* after a value: the end of the outermost container, or , } ] */
		if (d == 0) {
			j->p = (const char *)p;
			if (ws)
				j->ws = 1;
			return 1;
		}
		SKIP_WS();
		if (p >= end)
			return 0;
		if (*p == ',') {
			p++;
			if (open[d - 1] == '[')
				continue;
			SKIP_WS();
			if (p >= end)
				return 0;
			goto name;
		}
		if (*p != (open[d - 1] == '{' ? '}' : ']'))
			return 0;
		p++;
		d--;
		goto after;
	}
}

/* The object or array at the cursor ('{' or '['), validated. */
static int
scan_container(struct js *j, char open)
{
	char close = open == '{' ? '}' : ']';
	enum js_type t;
	int integer, count = 0, rc;

	if (open_container(j, open) != 0)
		return -1;
	while ((rc = next_element(j, count++, close)) == 1)
		if ((open == '{' && member_name(j, NULL) != 0) ||
		    scan_value(j, &t, &integer) != 0)
			return -1;
	return rc;
}

static int
scan_value(struct js *j, enum js_type *type, int *integer)
{
	*integer = 0;
	if (j->p >= j->end)
		return unexpected(j, "expected a value");
	switch (*j->p) {
	case '{':
	case '[':
		*type = *j->p == '{' ? JS_OBJECT : JS_ARRAY;
		if (scan_fast(j))
			return 0;
		return scan_container(j, *j->p);
	case '"':
		*type = JS_STRING;
		return scan_string(j);
	case 't':
		*type = JS_TRUE;
		return literal(j, "true");
	case 'f':
		*type = JS_FALSE;
		return literal(j, "false");
	case 'n':
		*type = JS_NULL;
		return literal(j, "null");
	case '-': case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		*type = JS_NUMBER;
		return scan_number(j, integer);
	default:
		return unexpected(j, "expected a value");
	}
}

int
js_value(struct js *j, struct js_span *v)
{
	int saved = j->ws;

	js_skip_ws(j);
	j->ws = 0;
	v->p = j->p;
	if (scan_value(j, &v->type, &v->integer) != 0)
		return -1;
	v->len = (size_t)(j->p - v->p);
	v->ws = j->ws;
	j->ws |= saved;
	return 0;
}

int
js_object_begin(struct js *j)
{
	return open_container(j, '{');
}

int
js_object_next(struct js *j, int *count, struct vp_buf *name,
    struct js_span *key, struct js_span *v)
{
	struct js_span n;
	int rc;

	if ((rc = next_element(j, *count, '}')) != 1)
		return rc;
	if (member_name(j, &n) != 0)
		return -1;
	if (name) {
		vp_buf_reset(name);
		js_decode_string(&n, name);
	}
	if (key)
		*key = n;
	return element_value(j, count, v);
}

int
js_array_begin(struct js *j)
{
	return open_container(j, '[');
}

int
js_array_next(struct js *j, int *count, struct js_span *v)
{
	int rc;

	if ((rc = next_element(j, *count, ']')) != 1)
		return rc;
	return element_value(j, count, v);
}

int
js_end(struct js *j)
{
	js_skip_ws(j);
	if (j->p != j->end)
		return unexpected(j, "expected the end of the line");
	return 0;
}

static void
put_utf8(struct vp_buf *out, unsigned long c)
{
	unsigned char b[4];
	size_t n;

	if (c < 0x80) {
		b[0] = (unsigned char)c;
		n = 1;
	} else if (c < 0x800) {
		b[0] = (unsigned char)(0xc0 | c >> 6);
		b[1] = (unsigned char)(0x80 | (c & 0x3f));
		n = 2;
	} else if (c < 0x10000) {
		b[0] = (unsigned char)(0xe0 | c >> 12);
		b[1] = (unsigned char)(0x80 | (c >> 6 & 0x3f));
		b[2] = (unsigned char)(0x80 | (c & 0x3f));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xf0 | c >> 18);
		b[1] = (unsigned char)(0x80 | (c >> 12 & 0x3f));
		b[2] = (unsigned char)(0x80 | (c >> 6 & 0x3f));
		b[3] = (unsigned char)(0x80 | (c & 0x3f));
		n = 4;
	}
	js_put(out, b, n);
}

void
js_decode_string(const struct js_span *v, struct vp_buf *out)
{
	const char *p = v->p + 1, *end = v->p + v->len - 1, *run = p;

	while (p < end) {
		if ((p = memchr(p, '\\', (size_t)(end - p))) == NULL) {
			p = end;
			break;
		}
		js_put(out, run, (size_t)(p - run));
		switch (p[1]) {
		case 'b': js_put(out, "\b", 1); break;
		case 'f': js_put(out, "\f", 1); break;
		case 'n': js_put(out, "\n", 1); break;
		case 'r': js_put(out, "\r", 1); break;
		case 't': js_put(out, "\t", 1); break;
		case 'u': {
			unsigned long c = (unsigned long)hex4(p + 2, end);
			if (c >= 0xd800 && c <= 0xdbff) {
				unsigned long lo = (unsigned long)hex4(p + 8, end);
				c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
				p += 6;
			}
			put_utf8(out, c);
			p += 4;
			break;
		}
		default: js_put(out, p + 1, 1); break;
		}
		p += 2;
		run = p;
	}
	js_put(out, run, (size_t)(p - run));
}

void
js_compact(const struct js_span *v, struct vp_buf *out)
{
	const char *p = v->p, *end = v->p + v->len, *run = p;
	int instr = 0;

	if (!v->ws) {
		js_put(out, v->p, v->len);
		return;
	}
	while (p < end) {
		char c = *p;
		if (instr) {
			if (c == '\\')
				p++;
			else if (c == '"')
				instr = 0;
		} else if (c == '"') {
			instr = 1;
		} else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			js_put(out, run, (size_t)(p - run));
			run = p + 1;
		}
		p++;
	}
	js_put(out, run, (size_t)(end - run));
}

void
js_escape(struct vp_buf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const char *p = s, *end = s + len, *run = s;

	for (; p < end; p++) {
		unsigned char c = (unsigned char)*p;
		char esc[6];
		size_t n = 2;

		if (!stop[c] || c >= 0x80)
			continue;
		js_put(out, run, (size_t)(p - run));
		esc[0] = '\\';
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			n = 6;
		}
		js_put(out, esc, n);
		run = p + 1;
	}
	js_put(out, run, (size_t)(end - run));
}

void
js_quote(struct vp_buf *out, const char *s, size_t len)
{
	js_put(out, "\"", 1);
	js_escape(out, s, len);
	js_put(out, "\"", 1);
}

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void
vp_b64_encode(struct vp_buf *out, const void *data, size_t n)
{
	const unsigned char *p = data;
	char q[4];

	for (; n >= 3; n -= 3, p += 3) {
		q[0] = b64[p[0] >> 2];
		q[1] = b64[(p[0] & 3) << 4 | p[1] >> 4];
		q[2] = b64[(p[1] & 15) << 2 | p[2] >> 6];
		q[3] = b64[p[2] & 63];
		js_put(out, q, 4);
	}
	if (n) {
		q[0] = b64[p[0] >> 2];
		q[1] = b64[(p[0] & 3) << 4 | (n > 1 ? p[1] >> 4 : 0)];
		q[2] = n > 1 ? b64[(p[1] & 15) << 2] : '=';
		q[3] = '=';
		js_put(out, q, 4);
	}
}

/* The value of a base64 digit (its place in b64), or -1. */
static int
b64val(unsigned char c)
{
	const char *d = memchr(b64, c, 64);

	return d ? (int)(d - b64) : -1;
}

int
vp_b64_decode(struct vp_buf *out, const char *s, size_t n)
{
	unsigned acc = 0;
	int bits = 0;
	size_t i, pad = 0;

	if (n % 4 != 0)
		return -1;
	for (i = 0; i < n; i++) {
		int v;
		unsigned char b;

		if (s[i] == '=') {
			if (i + 2 < n)
				return -1;
			pad++;
			continue;
		}
		if (pad || (v = b64val((unsigned char)s[i])) < 0)
			return -1;
		acc = acc << 6 | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			b = (unsigned char)(acc >> bits);
			js_put(out, &b, 1);
		}
	}
	return 0;
}

int
vp_pct_decode(struct vp_buf *out, const char *s, size_t n,
    enum vp_pct_mode mode)
{
	size_t start = out->len;
	const char *run = s, *end = s + n;

	for (const char *p = s; p < end; p++) {
		int hi, lo;
		unsigned char c;

		if (*p != '%')
			continue;
		if (end - p < 3 || (hi = hexval((unsigned char)p[1])) < 0 ||
		    (lo = hexval((unsigned char)p[2])) < 0) {
			if (mode == VP_PCT_STRICT)
				return -1;
			continue;	/* lenient: the '%' is itself */
		}
		js_put(out, run, (size_t)(p - run));
		c = (unsigned char)(hi * 16 + lo);
		js_put(out, &c, 1);
		p += 2;
		run = p + 1;
	}
	js_put(out, run, (size_t)(end - run));
	if (out->len > start && vp_utf8_valid_prefix(out->data + start,
	    out->len - start) != out->len - start)
		return -1;
	return 0;
}

/* ---- Go's encoding/json strings -------------------------------------------- */

size_t
js_go_rune_len(const unsigned char *p, size_t n, uint32_t *r)
{
	if (n >= 2 && p[0] >= 0xc2 && p[0] <= 0xdf && (p[1] & 0xc0) == 0x80) {
		*r = ((uint32_t)(p[0] & 0x1f) << 6) | (p[1] & 0x3f);
		return 2;
	}
	if (n >= 3 && (p[0] & 0xf0) == 0xe0 && (p[1] & 0xc0) == 0x80 &&
	    (p[2] & 0xc0) == 0x80) {
		*r = ((uint32_t)(p[0] & 0x0f) << 12) |
		    ((uint32_t)(p[1] & 0x3f) << 6) | (p[2] & 0x3f);
		if (*r < 0x800 || (*r >= 0xd800 && *r <= 0xdfff))
			return 0;
		return 3;
	}
	if (n >= 4 && p[0] >= 0xf0 && p[0] <= 0xf4 && (p[1] & 0xc0) == 0x80 &&
	    (p[2] & 0xc0) == 0x80 && (p[3] & 0xc0) == 0x80) {
		*r = ((uint32_t)(p[0] & 0x07) << 18) |
		    ((uint32_t)(p[1] & 0x3f) << 12) |
		    ((uint32_t)(p[2] & 0x3f) << 6) | (p[3] & 0x3f);
		if (*r < 0x10000 || *r > 0x10ffff)
			return 0;
		return 4;
	}
	return 0;
}

int
js_quote_go(struct vp_buf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	const unsigned char *run;
	char esc[8];

	if (vp_buf_append(out, "\"", 1) != 0)
		return -1;
	run = p;
	while (p < end) {
		unsigned char ch = *p;
		size_t n;
		uint32_t r;
		const char *e = NULL;
		size_t elen = 0;

		if (ch < 0x80) {
			/* encoding/json's htmlSafeSet: escape <, >, & too. */
			if (ch >= 0x20 && ch != '"' && ch != '\\' && ch != '<' &&
			    ch != '>' && ch != '&') {
				p++;
				continue;
			}
			switch (ch) {
			case '"': e = "\\\""; elen = 2; break;
			case '\\': e = "\\\\"; elen = 2; break;
			case '\n': e = "\\n"; elen = 2; break;
			case '\r': e = "\\r"; elen = 2; break;
			case '\t': e = "\\t"; elen = 2; break;
			default:
				esc[0] = '\\'; esc[1] = 'u'; esc[2] = '0';
				esc[3] = '0'; esc[4] = hex[ch >> 4];
				esc[5] = hex[ch & 0xf];
				e = esc; elen = 6;
			}
			n = 1;
		} else {
			n = js_go_rune_len(p, (size_t)(end - p), &r);
			if (n == 0) {
				e = "\\ufffd"; elen = 6; n = 1;
			} else if (r == 0x2028 || r == 0x2029) {
				e = r == 0x2028 ? "\\u2028" : "\\u2029";
				elen = 6;
			} else {
				p += n;
				continue;
			}
		}
		if (vp_buf_append(out, run, (size_t)(p - run)) != 0 ||
		    vp_buf_append(out, e, elen) != 0)
			return -1;
		p += n;
		run = p;
	}
	if (vp_buf_append(out, run, (size_t)(p - run)) != 0 ||
	    vp_buf_append(out, "\"", 1) != 0)
		return -1;
	return 0;
}
