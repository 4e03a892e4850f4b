/*
 * vimjson.c: vim25 event XML -> govmomi 0.24 JSON (see vimjson.h).
 *
 * Every rule here mirrors one in govmomi's vim25/xml decoder (read.go,
 * extras.go), strconv, time.Parse(RFC3339) of Go 1.19, or encoding/json,
 * so that the bytes match json.Marshal of what govmomi decodes. The JSON is
 * written as text: jansson could not print Go's float, uint64 and string
 * forms, and text is faster.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "json.h"
#include "vimjson.h"
#include "vimtypes.h"

#define XSI_NS "http://www.w3.org/2001/XMLSchema-instance"

struct ctx {
	struct vp_buf *out;
	struct vp_buf tmp;	/* text of an element split over several nodes */
	char *err;
	size_t errlen;
	int depth;
	int failed;
	int xml;		/* encoding/xml's rules, not encoding/json's */
	size_t start, oldmax;	/* out as it was before this event */
};

/* ---- errors and output ---------------------------------------------------- */

static const char *
lname(const struct vim_node *n)
{
	const char *p;

	/* An unbound prefix stays in the name; Go's decoder matches the local part. */
	if ((p = strchr(n->name, ':')) != NULL)
		return p + 1;
	return n->name;
}

static int
fail(struct ctx *c, struct vim_node *n, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (c->failed)
		return -1;
	c->failed = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n != NULL)
		snprintf(c->err, c->errlen, "line %ld: <%.64s>: %s",
		    n->line, lname(n), msg);
	else
		snprintf(c->err, c->errlen, "%s", msg);
	return -1;
}

static int
too_long(struct ctx *c)
{
	return fail(c, NULL, "event JSON longer than %zu bytes", c->out->max);
}

static int
put(struct ctx *c, const void *p, size_t n)
{
	return vp_buf_append(c->out, p, n) != 0 ? too_long(c) : 0;
}

#define PUTS(c, s) put((c), (s), sizeof(s) - 1)

static int
putc1(struct ctx *c, char ch)
{
	struct vp_buf *b = c->out;

	if (b->len + 2 <= b->cap && (b->max == 0 || b->len + 1 <= b->max)) {
		b->data[b->len++] = ch;
		b->data[b->len] = '\0';
		return 0;
	}
	return put(c, &ch, 1);
}

/* ---- Go's JSON strings ------------------------------------------------------ */

int
vim_json_string(struct vp_buf *out, const char *s, size_t len)
{
	return js_quote_go(out, s, len);
}

static int
put_str(struct ctx *c, const char *s, size_t len)
{
	return vim_json_string(c->out, s, len) != 0 ? too_long(c) : 0;
}

static int
put_key(struct ctx *c, const char *name, int comma)
{
	size_t n = strlen(name);

	if (comma && putc1(c, ',') != 0)
		return -1;
	if (putc1(c, '"') != 0 || put(c, name, n) != 0 || PUTS(c, "\":") != 0)
		return -1;
	return 0;
}

/* ---- element text ------------------------------------------------------- */

/*
 * The character data directly inside n, as Go's decoder collects it for a
 * scalar (text of child elements is skipped, CDATA counts).
 */
static int
node_text(struct ctx *c, struct vim_node *n, const char **s, size_t *len)
{
	struct vim_node *k, *only = NULL;
	int count = 0;

	for (k = n->children; k != NULL; k = k->next)
		if (k->type == VIM_TEXT) {
			count++;
			only = k;
		}
	if (count == 0) {
		*s = "";
		*len = 0;
		return 0;
	}
	if (count == 1) {
		*s = only->content;
		*len = strlen(*s);
		return 0;
	}
	vp_buf_reset(&c->tmp);
	for (k = n->children; k != NULL; k = k->next)
		if (k->type == VIM_TEXT && vp_buf_append(&c->tmp, k->content,
		    strlen(k->content)) != 0)
			return fail(c, n, "text too long");
	*s = c->tmp.data ? c->tmp.data : "";
	*len = c->tmp.len;
	return 0;
}

/* xsi:type as written (Go's decoder also takes an undeclared "xsi" prefix). */
static const char *
xsi_raw(const struct vim_node *n)
{
	const struct vim_attr *a;

	for (a = n->attrs; a != NULL; a = a->next) {
		if (a->ns != NULL) {
			if (strcmp(a->name, "type") == 0 &&
			    strcmp(a->ns, XSI_NS) == 0)
				return a->value;
		} else if (strcmp(a->name, "xsi:type") == 0)
			return a->value;
	}
	return NULL;
}

const char *
vim_node_xsi_type(const struct vim_node *n)
{
	const char *t = xsi_raw(n), *p;

	if (t == NULL)
		return NULL;
	if ((p = strrchr(t, ':')) != NULL)
		return p + 1;
	return t;
}

/* ---- Go's strconv ------------------------------------------------------- */

/* Width of the Unicode space (unicode.IsSpace) at p, 0 if none. */
static size_t
space_at(const unsigned char *p, size_t n)
{
	if (n >= 1 && (p[0] == ' ' || (p[0] >= '\t' && p[0] <= '\r')))
		return 1;
	if (n >= 2 && p[0] == 0xc2 && (p[1] == 0x85 || p[1] == 0xa0))
		return 2;
	if (n >= 3) {
		if (p[0] == 0xe1 && p[1] == 0x9a && p[2] == 0x80)
			return 3;
		if (p[0] == 0xe2 && p[1] == 0x80 &&
		    ((p[2] >= 0x80 && p[2] <= 0x8a) || p[2] == 0xa8 ||
		    p[2] == 0xa9 || p[2] == 0xaf))
			return 3;
		if (p[0] == 0xe2 && p[1] == 0x81 && p[2] == 0x9f)
			return 3;
		if (p[0] == 0xe3 && p[1] == 0x80 && p[2] == 0x80)
			return 3;
	}
	return 0;
}

/* strings.TrimSpace */
static void
trim_space(const char **s, size_t *len)
{
	const unsigned char *p = (const unsigned char *)*s;
	size_t n = *len, w;

	while (n > 0 && (w = space_at(p, n)) > 0) {
		p += w;
		n -= w;
	}
	for (;;) {
		if (n >= 1 && space_at(p + n - 1, 1) == 1)
			n--;
		else if (n >= 2 && space_at(p + n - 2, 2) == 2)
			n -= 2;
		else if (n >= 3 && space_at(p + n - 3, 3) == 3)
			n -= 3;
		else
			break;
	}
	*s = (const char *)p;
	*len = n;
}

/* strconv.ParseUint(s, 10, bits) */
static int
go_parse_uint(const char *s, size_t n, int bits, uint64_t *v)
{
	uint64_t max = bits == 64 ? UINT64_MAX : ((uint64_t)1 << bits) - 1;
	uint64_t u = 0;
	size_t i;

	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned d = (unsigned char)s[i] - '0';

		if (d > 9)
			return -1;
		if (u > (UINT64_MAX - d) / 10)
			return -1;
		u = u * 10 + d;
	}
	if (u > max)
		return -1;
	*v = u;
	return 0;
}

/* strconv.ParseInt(s, 10, bits) */
static int
go_parse_int(const char *s, size_t n, int bits, int64_t *v)
{
	uint64_t u, lim = (uint64_t)1 << (bits - 1);
	int neg = 0;

	if (n > 0 && (s[0] == '+' || s[0] == '-')) {
		neg = s[0] == '-';
		s++;
		n--;
	}
	if (go_parse_uint(s, n, 64, &u) != 0)
		return -1;
	if (neg ? u > lim : u >= lim)
		return -1;
	*v = neg ? (int64_t)(0 - u) : (int64_t)u;
	return 0;
}

static int
go_parse_bool(const char *s, size_t n, int *v)
{
	static const char *const t[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const f[] = { "0", "f", "F", "FALSE", "false", "False" };
	size_t i;

	for (i = 0; i < 6; i++) {
		if (strlen(t[i]) == n && memcmp(t[i], s, n) == 0) {
			*v = 1;
			return 0;
		}
		if (strlen(f[i]) == n && memcmp(f[i], s, n) == 0) {
			*v = 0;
			return 0;
		}
	}
	return -1;
}

static int
is_digit(int ch)
{
	return ch >= '0' && ch <= '9';
}

static int
is_xdigit(int ch)
{
	return is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/*
 * strconv.ParseFloat(s, bits). NaN and Inf parse in Go, but json.Marshal
 * then fails, so the event could not be printed: refused unless naninf
 * (encoding/xml prints them).
 */
static int
go_parse_float_x(const char *s, size_t n, int bits, double *v, const char **why,
    int naninf)
{
	char buf[512], *end;
	size_t i = 0, nd = 0;

	*why = "invalid number";
	if (n == 0 || n >= sizeof(buf))
		return -1;
	if (s[i] == '+' || s[i] == '-')
		i++;
	if (i + 1 < n && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
		i += 2;
		for (; i < n && is_xdigit(s[i]); i++)
			nd++;
		if (i < n && s[i] == '.')
			for (i++; i < n && is_xdigit(s[i]); i++)
				nd++;
		if (nd == 0 || i >= n || (s[i] != 'p' && s[i] != 'P'))
			return -1;
		i++;
	} else {
		for (; i < n && is_digit(s[i]); i++)
			nd++;
		if (i < n && s[i] == '.')
			for (i++; i < n && is_digit(s[i]); i++)
				nd++;
		if (nd == 0) {
			size_t k = s[0] == '+' || s[0] == '-';

			if ((n - k == 3 && strncasecmp(s + k, "inf", 3) == 0) ||
			    (n - k == 8 && strncasecmp(s + k, "infinity", 8) == 0)) {
				*v = s[0] == '-' ? -INFINITY : INFINITY;
				*why = "NaN or Inf cannot be printed as JSON";
				return naninf ? 0 : -1;
			}
			if (n == 3 && strncasecmp(s, "nan", 3) == 0) {
				*v = NAN;
				*why = "NaN or Inf cannot be printed as JSON";
				return naninf ? 0 : -1;
			}
			return -1;
		}
		if (i == n)
			goto digits_done;
		if (s[i] != 'e' && s[i] != 'E')
			return -1;
		i++;
	}
	if (i < n && (s[i] == '+' || s[i] == '-'))
		i++;
	nd = 0;
	for (; i < n && is_digit(s[i]); i++)
		nd++;
	if (nd == 0)
		return -1;
digits_done:
	if (i != n)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	errno = 0;
	if (bits == 32) {
		float f = strtof(buf, &end);

		if (errno == ERANGE && isinf(f)) {
			*why = "number out of range";
			return -1;
		}
		*v = f;
	} else {
		*v = strtod(buf, &end);
		if (errno == ERANGE && isinf(*v)) {
			*why = "number out of range";
			return -1;
		}
	}
	return *end == '\0' ? 0 : -1;
}

static int
go_parse_float(const char *s, size_t n, int bits, double *v, const char **why)
{
	return go_parse_float_x(s, n, bits, v, why, 0);
}

/*
 * The shortest decimal digits that read back as v (as float32 when bits is
 * 32), without trailing zeros; *e is the exponent of the first digit.
 */
static int
shortest_digits(double v, int bits, char digits[24], int *e)
{
	char tmp[48], *q;
	int p, nd = 0;

	for (p = 1; p <= 17; p++) {
		snprintf(tmp, sizeof(tmp), "%.*e", p - 1, v);
		if (bits == 32 ? strtof(tmp, NULL) == (float)v :
		    strtod(tmp, NULL) == v)
			break;
	}
	/* tmp is [-]d[.ddd]e[+-]xx */
	q = tmp;
	if (*q == '-')
		q++;
	for (; *q != 'e'; q++)
		if (*q != '.')
			digits[nd++] = *q;
	digits[nd] = '\0';
	*e = atoi(q + 1);
	while (nd > 1 && digits[nd - 1] == '0')
		digits[--nd] = '\0';
	return nd;
}

/* digits (nd of them, the first at 10^e) without an exponent: 1500, 0.015 */
static int
fixed_notation(char *out, const char *digits, int nd, int e)
{
	int i, o = 0;

	if (e >= 0) {
		for (i = 0; i <= e || i < nd; i++) {
			if (i == e + 1)
				out[o++] = '.';
			out[o++] = i < nd ? digits[i] : '0';
		}
		return o;
	}
	out[o++] = '0';
	out[o++] = '.';
	for (i = 0; i < -e - 1; i++)
		out[o++] = '0';
	for (i = 0; i < nd; i++)
		out[o++] = digits[i];
	return o;
}

/* the same with an exponent of at least two digits, as %e: 1.5e+03 */
static int
exp_notation(char *out, size_t len, const char *digits, int nd, int e)
{
	int i, o = 0;

	out[o++] = digits[0];
	if (nd > 1) {
		out[o++] = '.';
		for (i = 1; i < nd; i++)
			out[o++] = digits[i];
	}
	return o + snprintf(out + o, len - (size_t)o, "e%c%02d",
	    e < 0 ? '-' : '+', e < 0 ? -e : e);
}

/* encoding/json's float format: shortest round trip, 'f' or cleaned 'e'. */
static int
put_float(struct ctx *c, double v, int bits)
{
	char digits[24], out[400];
	double a = fabs(v);
	int e, nd, o = 0, use_e;

	if (isnan(v) || isinf(v))
		return fail(c, NULL, "NaN or Inf cannot be printed as JSON");
	nd = shortest_digits(v, bits, digits, &e);
	if (bits == 32)
		use_e = a != 0 && ((float)a < (float)1e-6 || (float)a >= (float)1e21);
	else
		use_e = a != 0 && (a < 1e-6 || a >= 1e21);
	if (signbit(v))
		out[o++] = '-';
	if (use_e) {
		o += exp_notation(out + o, sizeof(out) - (size_t)o, digits, nd, e);
		if (o >= 4 && out[o - 4] == 'e' && out[o - 3] == '-' &&
		    out[o - 2] == '0') {
			out[o - 2] = out[o - 1];
			o--;
		}
	} else if (digits[0] == '0') {
		out[o++] = '0';
	} else
		o += fixed_notation(out + o, digits, nd, e);
	return put(c, out, (size_t)o);
}

/* ---- time (Go 1.19 time.Parse(time.RFC3339, s) and MarshalJSON) ---------- */

struct gotime {
	int year, mon, day, hour, min, sec;
	int32_t nsec;
	int off;		/* seconds east of UTC; 0 prints as Z */
};

static int
days_in(int mon, int year)
{
	static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (mon == 2 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))
		return 29;
	return d[mon - 1];
}

static int
num2(const char *s, size_t n, size_t *i, int fixed, int *v)
{
	if (*i >= n || !is_digit(s[*i]))
		return -1;
	if (*i + 1 >= n || !is_digit(s[*i + 1])) {
		if (fixed)
			return -1;
		*v = s[(*i)++] - '0';
		return 0;
	}
	*v = (s[*i] - '0') * 10 + (s[*i + 1] - '0');
	*i += 2;
	return 0;
}

/* Go's time.atoi on a two-byte zone field: an optional sign, then digits. */
static int
atoi2(const char *s, int *v)
{
	int neg = 0, k = 0;

	if (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-';
		k = 1;
	}
	if (!is_digit(s[k]) || (k == 0 && !is_digit(s[1])))
		return -1;
	*v = k ? s[1] - '0' : (s[0] - '0') * 10 + (s[1] - '0');
	if (neg)
		*v = -*v;
	return 0;
}

static int
go_parse_time(const char *s, size_t n, struct gotime *t)
{
	size_t i = 0;
	int hr, mm;

	memset(t, 0, sizeof(*t));
	if (n < 4 || !is_digit(s[0]) || !is_digit(s[1]) || !is_digit(s[2]) ||
	    !is_digit(s[3]))
		return -1;
	t->year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
	    (s[3] - '0');
	i = 4;
	if (i >= n || s[i++] != '-' || num2(s, n, &i, 1, &t->mon) != 0 ||
	    t->mon < 1 || t->mon > 12)
		return -1;
	if (i >= n || s[i++] != '-' || num2(s, n, &i, 1, &t->day) != 0)
		return -1;
	if (i >= n || s[i++] != 'T' || num2(s, n, &i, 0, &t->hour) != 0 ||
	    t->hour >= 24)
		return -1;
	if (i >= n || s[i++] != ':' || num2(s, n, &i, 1, &t->min) != 0 ||
	    t->min >= 60)
		return -1;
	if (i >= n || s[i++] != ':' || num2(s, n, &i, 1, &t->sec) != 0 ||
	    t->sec >= 60)
		return -1;
	if (i + 1 < n && (s[i] == '.' || s[i] == ',') && is_digit(s[i + 1])) {
		size_t j = i + 1, k;
		int32_t ns = 0;

		while (j < n && is_digit(s[j]))
			j++;
		/* More than nine digits are cut, not rounded. */
		for (k = 0; k < 9; k++)
			ns = ns * 10 + (i + 1 + k < j ? s[i + 1 + k] - '0' : 0);
		t->nsec = ns;
		i = j;
	}
	if (i < n && s[i] == 'Z') {
		i++;
	} else {
		if (n - i < 6 || s[i + 3] != ':')
			return -1;
		if (atoi2(s + i + 1, &hr) != 0 || atoi2(s + i + 4, &mm) != 0)
			return -1;
		t->off = (hr * 60 + mm) * 60;
		if (s[i] == '-')
			t->off = -t->off;
		else if (s[i] != '+')
			return -1;
		i += 6;
	}
	if (i != n)
		return -1;
	if (t->day < 1 || t->day > days_in(t->mon, t->year))
		return -1;
	return 0;
}

static size_t
format_time(const struct gotime *t, int utc_only, char *buf, size_t len)
{
	char frac[16] = "", zone[24] = "Z";
	int n;

	if (t->nsec > 0) {
		snprintf(frac, sizeof(frac), ".%09d", (int)t->nsec);
		n = (int)strlen(frac);
		while (frac[n - 1] == '0')
			frac[--n] = '\0';
	}
	if (t->off != 0 && !utc_only) {
		int z = t->off / 60;

		snprintf(zone, sizeof(zone), "%c%02d:%02d", z < 0 ? '-' : '+',
		    abs(z) / 60, abs(z) % 60);
	}
	n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d%s%s", t->year,
	    t->mon, t->day, t->hour, t->min, t->sec, frac, zone);
	return n < 0 ? 0 : (size_t)n;
}

static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static int64_t
time_unix(const struct gotime *t)
{
	return days_from_civil(t->year, t->mon, t->day) * 86400 +
	    t->hour * 3600 + t->min * 60 + t->sec - t->off;
}

static void
time_to_utc(struct gotime *t)
{
	int64_t u = time_unix(t), days, rem;

	days = u >= 0 ? u / 86400 : -((-u + 86399) / 86400);
	rem = u - days * 86400;
	civil_from_days(days, &t->year, &t->mon, &t->day);
	t->hour = (int)(rem / 3600);
	t->min = (int)(rem % 3600 / 60);
	t->sec = (int)(rem % 60);
	t->off = 0;
}

/* ---- base64 ---------------------------------------------------------------- */

static int
put_base64(struct ctx *c, const unsigned char *p, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char q[4];
	size_t i;

	if (putc1(c, '"') != 0)
		return -1;
	for (i = 0; i + 2 < n; i += 3) {
		q[0] = tab[p[i] >> 2];
		q[1] = tab[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		q[2] = tab[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
		q[3] = tab[p[i + 2] & 63];
		if (put(c, q, 4) != 0)
			return -1;
	}
	if (i < n) {
		q[0] = tab[p[i] >> 2];
		if (i + 1 < n) {
			q[1] = tab[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
			q[2] = tab[(p[i + 1] & 15) << 2];
		} else {
			q[1] = tab[(p[i] & 3) << 4];
			q[2] = '=';
		}
		q[3] = '=';
		if (put(c, q, 4) != 0)
			return -1;
	}
	return putc1(c, '"');
}

/* ---- the type table -------------------------------------------------------- */

static int
name_cmp(const void *k, const void *e)
{
	return strcmp(k, VIM_STR(((const struct vim_name *)e)->name));
}

/* types.TypeFunc(): the registry name, then without a "vim25:" prefix. */
static int
type_by_name(const char *name)
{
	const struct vim_name *r;

	r = bsearch(name, vim_names, vim_nnames, sizeof(vim_names[0]), name_cmp);
	if (r == NULL && strncmp(name, "vim25:", 6) == 0)
		r = bsearch(name + 6, vim_names, vim_nnames,
		    sizeof(vim_names[0]), name_cmp);
	return r ? r->type : -1;
}

static int
u16_cmp(const void *k, const void *e)
{
	return (int)*(const uint16_t *)k - (int)*(const uint16_t *)e;
}

static int
iface_has(int iface, int type)
{
	const struct vim_iface *f = &vim_ifaces[iface];
	uint16_t k = (uint16_t)type;

	if (iface == vim_iface_any)
		return 1;
	return bsearch(&k, vim_iface_members + f->first, f->n,
	    sizeof(uint16_t), u16_cmp) != NULL;
}

/* extras.go's stringToTypeMap */
static const struct {
	const char *name;
	uint8_t kind;
} xsd_types[] = {
	{ "xsd:base64Binary", VK_BYTES }, { "xsd:boolean", VK_BOOL },
	{ "xsd:byte", VK_INT8 }, { "xsd:dateTime", VK_TIME },
	{ "xsd:double", VK_FLOAT64 }, { "xsd:float", VK_FLOAT32 },
	{ "xsd:int", VK_INT32 }, { "xsd:long", VK_INT64 },
	{ "xsd:short", VK_INT16 }, { "xsd:string", VK_STRING },
	{ "xsd:unsignedByte", VK_UINT8 }, { "xsd:unsignedInt", VK_UINT32 },
	{ "xsd:unsignedLong", VK_UINT64 }, { "xsd:unsignedShort", VK_UINT16 },
};

/* What an interface-typed element decodes to. */
struct resolved {
	int kind;		/* 0: nil (govmomi leaves the field nil) */
	int type;		/* vim_types index for VK_STRUCT/VK_MOR/VK_ENUM */
	int byvalue;		/* stored by value: later elements are skipped */
};

/* Decoder.typeForElement plus the Implements check of unmarshal(). */
static struct resolved
resolve(struct vim_node *n, int iface)
{
	struct resolved r = { 0, -1, 0 };
	const char *t = xsi_raw(n);
	size_t i;
	int ti;

	if (t == NULL || t[0] == '\0')
		t = VIM_STR(vim_ifaces[iface].name);
	for (i = 0; i < sizeof(xsd_types) / sizeof(xsd_types[0]); i++)
		if (strcmp(t, xsd_types[i].name) == 0) {
			/* A primitive only fits AnyType (govmomi panics otherwise). */
			if (iface == vim_iface_any) {
				r.kind = xsd_types[i].kind;
				r.byvalue = 1;
			}
			return r;
		}
	if ((ti = type_by_name(t)) < 0 || !iface_has(iface, ti))
		return r;
	r.type = ti;
	switch (vim_types[ti].kind) {
	case TK_MOR: r.kind = VK_MOR; break;
	case TK_ENUM: r.kind = VK_ENUM; break;
	default: r.kind = VK_STRUCT; break;
	}
	/* AnyType holds T itself; a BaseXxx interface holds *T. */
	r.byvalue = iface == vim_iface_any;
	return r;
}

/* ---- mapping ---------------------------------------------------------------- */

static int emit_struct(struct ctx *, int, struct vim_node **, size_t, int);
static int emit_elem(struct ctx *, int, int, struct vim_node **, size_t);

/* What encoding/json prints for a zero value of each kind; numbers: 0. */
static const char *const json_zero[] = {
	[VK_STRING] = "\"\"",
	[VK_ENUM] = "\"\"",
	[VK_BOOL] = "false",
	[VK_TIME] = "\"0001-01-01T00:00:00Z\"",
	[VK_BYTES] = "null",
	[VK_IFACE] = "null",
	[VK_MOR] = "{\"Type\":\"\",\"Value\":\"\"}",
};

static int
emit_zero(struct ctx *c, int kind, int ref)
{
	const char *z;

	if (kind == VK_STRUCT)
		return emit_struct(c, ref, NULL, 0, 0);
	z = kind > 0 && (size_t)kind < sizeof(json_zero) / sizeof(json_zero[0]) &&
	    json_zero[kind] ? json_zero[kind] : "0";
	return put(c, z, strlen(z));
}

static int
bits_of(int kind)
{
	switch (kind) {
	case VK_INT8: case VK_UINT8: return 8;
	case VK_INT16: case VK_UINT16: return 16;
	case VK_INT32: case VK_UINT32: case VK_FLOAT32: return 32;
	default: return 64;
	}
}

/* A scalar value as govmomi's decoder leaves it. */
struct scalar {
	const char *s;		/* VK_STRING, VK_ENUM, VK_BYTES */
	size_t len;
	int64_t iv;
	uint64_t uv;
	double fv;
	int bv;
	struct gotime tv;
};

/* A scalar decoded from each element in turn (each must parse); the last wins. */
static int
decode_scalar(struct ctx *c, int kind, struct vim_node **m, size_t nm,
    struct scalar *v)
{
	const char *s, *ts;
	size_t len, tl, i;
	const char *why;

	memset(v, 0, sizeof(*v));
	if (kind == VK_STRING || kind == VK_ENUM || kind == VK_BYTES) {
		if (node_text(c, m[nm - 1], &v->s, &v->len) != 0)
			return -1;
		return 0;
	}
	for (i = 0; i < nm; i++) {
		if (node_text(c, m[i], &s, &len) != 0)
			return -1;
		ts = s;
		tl = len;
		trim_space(&ts, &tl);
		switch (kind) {
		case VK_BOOL:
			if (len > 0 && go_parse_bool(ts, tl, &v->bv) != 0)
				return fail(c, m[i], "invalid boolean \"%.40s\"", s);
			if (len == 0)
				v->bv = 0;
			break;
		case VK_INT8: case VK_INT16: case VK_INT32: case VK_INT64:
			if (len == 0)
				v->iv = 0;
			else if (go_parse_int(ts, tl, bits_of(kind), &v->iv) != 0)
				return fail(c, m[i], "invalid int%d \"%.40s\"",
				    bits_of(kind), s);
			break;
		case VK_UINT8: case VK_UINT16: case VK_UINT32: case VK_UINT64:
			if (len > 0 && s[0] == '-') {
				/* Two's complement, as read.go reinterprets it. */
				if (go_parse_int(s, len, bits_of(kind), &v->iv) != 0)
					return fail(c, m[i], "invalid uint%d \"%.40s\"",
					    bits_of(kind), s);
				v->uv = (uint64_t)v->iv;
				if (bits_of(kind) < 64)
					v->uv &= ((uint64_t)1 << bits_of(kind)) - 1;
			} else if (len == 0)
				v->uv = 0;
			else if (go_parse_uint(ts, tl, bits_of(kind), &v->uv) != 0)
				return fail(c, m[i], "invalid uint%d \"%.40s\"",
				    bits_of(kind), s);
			break;
		case VK_FLOAT32: case VK_FLOAT64:
			if (len == 0)
				v->fv = 0;
			else if (go_parse_float_x(ts, tl, bits_of(kind), &v->fv,
			    &why, c->xml) != 0)
				return fail(c, m[i], "%s \"%.40s\"", why, s);
			break;
		case VK_TIME:
			if (go_parse_time(s, len, &v->tv) != 0)
				return fail(c, m[i], "invalid xsd:dateTime \"%.40s\"", s);
			break;
		default:
			return fail(c, m[i], "internal: kind %d", kind);
		}
	}
	return 0;
}

static int
emit_scalar(struct ctx *c, int kind, struct vim_node **m, size_t nm)
{
	struct scalar v;
	char num[48];
	size_t len;

	if (decode_scalar(c, kind, m, nm, &v) != 0)
		return -1;
	switch (kind) {
	case VK_STRING: case VK_ENUM:
		return put_str(c, v.s, v.len);
	case VK_BYTES:
		return put_base64(c, (const unsigned char *)v.s, v.len);
	case VK_BOOL:
		return v.bv ? PUTS(c, "true") : PUTS(c, "false");
	case VK_INT8: case VK_INT16: case VK_INT32: case VK_INT64:
		len = (size_t)snprintf(num, sizeof(num), "%lld", (long long)v.iv);
		return put(c, num, len);
	case VK_UINT8: case VK_UINT16: case VK_UINT32: case VK_UINT64:
		len = (size_t)snprintf(num, sizeof(num), "%llu",
		    (unsigned long long)v.uv);
		return put(c, num, len);
	case VK_FLOAT32: case VK_FLOAT64:
		return put_float(c, v.fv, bits_of(kind));
	default:
		len = format_time(&v.tv, 0, num + 1, sizeof(num) - 2);
		num[0] = '"';
		num[len + 1] = '"';
		return put(c, num, len + 2);
	}
}

/*
 * A ManagedObjectReference's parts as the decoder takes them: type from
 * the last element with a "type" attribute (never xsi:type), value from
 * the last element's text.
 */
static int
mor_parts(struct ctx *c, struct vim_node **m, size_t nm, const char **type,
    const char **s, size_t *len)
{
	size_t i;
	const struct vim_attr *a;

	*type = "";
	*s = "";
	*len = 0;
	for (i = 0; i < nm; i++)
		for (a = m[i]->attrs; a != NULL; a = a->next) {
			if (strcmp(a->name, "type") != 0)
				continue;
			if (a->ns != NULL && strcmp(a->ns, XSI_NS) == 0)
				continue;
			*type = a->value;
		}
	return nm > 0 ? node_text(c, m[nm - 1], s, len) : 0;
}

static int
emit_mor(struct ctx *c, struct vim_node **m, size_t nm)
{
	const char *type, *s;
	size_t len;

	if (mor_parts(c, m, nm, &type, &s, &len) != 0)
		return -1;
	if (PUTS(c, "{\"Type\":") != 0 || put_str(c, type, strlen(type)) != 0 ||
	    PUTS(c, ",\"Value\":") != 0 || put_str(c, s, len) != 0)
		return -1;
	return putc1(c, '}');
}

static int emit_loose(struct ctx *, struct vim_node *);

/* An element among its siblings, for grouping them by name. */
struct named {
	const char *name;
	size_t pos;		/* index among the siblings */
	size_t n;		/* group size (set on a group's first entry) */
};

static int
named_cmp(const void *a, const void *b)
{
	const struct named *x = a, *y = b;
	int r = strcmp(x->name, y->name);

	if (r != 0)
		return r;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int
pos_cmp(const void *a, const void *b)
{
	const struct named *x = *(struct named *const *)a;
	const struct named *y = *(struct named *const *)b;

	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/*
 * Group kids (those not skipped) by name in O(n log n): *ents sorted by
 * name then position, *groups pointing at each group's first entry in
 * order of first appearance. Returns the number of groups; free(*ents)
 * frees both.
 */
static size_t
group_by_name(struct vim_node **kids, size_t nk, const int *skip,
    struct named **ents, struct named ***groups)
{
	struct named *e;
	struct named **g;
	size_t i, n = 0, ng = 0, room = nk ? nk : 1;

	e = vp_xmalloc(room * (sizeof(*e) + sizeof(*g)));
	g = (struct named **)(e + room);
	for (i = 0; i < nk; i++)
		if (skip == NULL || !skip[i]) {
			e[n].name = lname(kids[i]);
			e[n].pos = i;
			e[n].n = 0;
			n++;
		}
	qsort(e, n, sizeof(*e), named_cmp);
	for (i = 0; i < n; i++) {
		if (i == 0 || strcmp(e[i].name, e[i - 1].name) != 0)
			g[ng++] = &e[i];
		g[ng - 1]->n++;
	}
	qsort(g, ng, sizeof(*g), pos_cmp);
	*ents = e;
	*groups = g;
	return ng;
}

/* Children of n grouped by name as extra members: one value, or an array. */
static int
emit_extras(struct ctx *c, struct vim_node **kids, size_t nk, const int *skip,
    int type, int comma)
{
	struct named *ents, **groups;
	size_t ng, i, j;
	int rc = -1;

	ng = group_by_name(kids, nk, skip, &ents, &groups);
	for (i = 0; i < ng; i++) {
		struct named *g = groups[i];
		const char *nm = g->name;
		size_t len = strlen(nm);
		int clash = 0;

		/* Named the way govmomi names fields: first letter upper-cased. */
		vp_buf_reset(&c->tmp);
		if (vp_buf_append(&c->tmp, nm, len) != 0)
			goto out;
		if (c->tmp.data[0] >= 'a' && c->tmp.data[0] <= 'z')
			c->tmp.data[0] = (char)(c->tmp.data[0] - 'a' + 'A');
		if (type >= 0) {
			const struct vim_type *t = &vim_types[type];

			for (j = 0; j < t->nfields; j++)
				if (strcmp(VIM_STR(vim_fields[t->first + j].json),
				    c->tmp.data) == 0)
					clash = 1;
		}
		if (clash && vp_buf_append(&c->tmp, "_", 1) != 0)
			goto out;
		if ((comma && putc1(c, ',') != 0) ||
		    put_str(c, c->tmp.data, c->tmp.len) != 0 || putc1(c, ':') != 0)
			goto out;
		comma = 1;
		if (g->n > 1 && putc1(c, '[') != 0)
			goto out;
		for (j = 0; j < g->n; j++) {
			if (j > 0 && putc1(c, ',') != 0)
				goto out;
			if (emit_loose(c, kids[g[j].pos]) != 0)
				goto out;
		}
		if (g->n > 1 && putc1(c, ']') != 0)
			goto out;
	}
	rc = 0;
out:
	free(ents);
	return rc;
}

/* Element children of one or more elements: on the stack while few. */
struct kids {
	struct vim_node **v;
	size_t n, cap;
	struct vim_node *stack[32];
};

static void
kids_init(struct kids *k)
{
	k->v = k->stack;
	k->n = 0;
	k->cap = sizeof(k->stack) / sizeof(k->stack[0]);
}

static void
kids_add(struct kids *k, const struct vim_node *n)
{
	struct vim_node *c;

	for (c = n->children; c != NULL; c = c->next) {
		if (c->type != VIM_ELEMENT)
			continue;
		if (k->n == k->cap) {
			k->cap *= 2;
			if (k->v == k->stack) {
				k->v = vp_xmalloc(k->cap * sizeof(*k->v));
				memcpy(k->v, k->stack, sizeof(k->stack));
			} else
				k->v = vp_xrealloc(k->v, k->cap * sizeof(*k->v));
		}
		k->v[k->n++] = c;
	}
}

static void
kids_free(struct kids *k)
{
	if (k->v != k->stack)
		free(k->v);
}

/*
 * An element no govmomi type describes: an object of its children (by
 * name, upper-cased first letter), or its text when it has none.
 */
static int
emit_generic(struct ctx *c, struct vim_node *n)
{
	struct kids kl;
	const char *s;
	size_t len;
	int rc;

	kids_init(&kl);
	kids_add(&kl, n);
	if (kl.n == 0) {
		if (node_text(c, n, &s, &len) != 0)
			return -1;
		return put_str(c, s, len);
	}
	if (c->depth + 1 > VIM_MAX_DEPTH)
		rc = fail(c, n, "nested deeper than %d elements", VIM_MAX_DEPTH);
	else {
		c->depth++;
		rc = putc1(c, '{');
		if (rc == 0)
			rc = emit_extras(c, kl.v, kl.n, NULL, -1, 0);
		if (rc == 0)
			rc = putc1(c, '}');
		c->depth--;
	}
	kids_free(&kl);
	return rc;
}

static int
has_element_child(struct vim_node *n)
{
	struct vim_node *k;

	for (k = n->children; k != NULL; k = k->next)
		if (k->type == VIM_ELEMENT)
			return 1;
	return 0;
}

/*
 * Whether element n would decode into field f without error: the test for
 * guessing the type of an unknown class, so a guess never fails an event.
 */
static int
fits(const struct vim_field *f, struct vim_node *n)
{
	struct vim_node *k;
	const char *s;
	size_t len;
	struct gotime tv;
	int64_t iv;
	uint64_t uv;
	double fv;
	int bv;
	const char *why;

	if (f->kind == VK_STRUCT || f->kind == VK_IFACE) {
		const char *t = xsi_raw(n);

		if (has_element_child(n) || (f->kind == VK_IFACE && t && *t))
			return 1;
		/* Text in a struct would be dropped: not this field. */
		for (k = n->children; k != NULL; k = k->next)
			if (k->type == VIM_TEXT) {
				s = k->content;
				len = strlen(s);
				trim_space(&s, &len);
				if (len > 0)
					return 0;
			}
		return 1;
	}
	if (has_element_child(n))
		return 0;
	/* Text of a single node (several only come with comments). */
	k = n->children;
	s = k != NULL && k->next == NULL && k->type == VIM_TEXT ?
	    k->content : "";
	len = strlen(s);
	if (k != NULL && k->next != NULL && f->kind != VK_STRING &&
	    f->kind != VK_ENUM && f->kind != VK_BYTES && f->kind != VK_MOR)
		return 0;
	if (len == 0)
		return f->kind != VK_TIME;
	trim_space(&s, &len);
	switch (f->kind) {
	case VK_BOOL:
		return go_parse_bool(s, len, &bv) == 0;
	case VK_INT8: case VK_INT16: case VK_INT32: case VK_INT64:
		return go_parse_int(s, len, bits_of(f->kind), &iv) == 0;
	case VK_UINT8: case VK_UINT16: case VK_UINT32: case VK_UINT64:
		return go_parse_uint(s, len, bits_of(f->kind), &uv) == 0;
	case VK_FLOAT32: case VK_FLOAT64:
		return go_parse_float(s, len, bits_of(f->kind), &fv, &why) == 0;
	case VK_TIME:
		return go_parse_time(s, len, &tv) == 0;
	default:
		return 1;
	}
}

/*
 * vSphere names a subclass after its base (HostFutureEvent < HostEvent):
 * the length of t's stem (its name less "Event") when it starts u, else -1.
 */
static int
stem_match(const char *t, const char *u)
{
	size_t n = strlen(t);

	if (n >= 5 && strcmp(t + n - 5, "Event") == 0)
		n -= 5;
	return strncmp(t, u, n) == 0 ? (int)n : -1;
}

/* Distinct child names scored when guessing a type (more is not a real event). */
#define VIM_MAX_GUESS_NAMES 128

/* Score candidates of an interface family against n's child element names. */
static int
nearest_type(int iface, struct vim_node *n)
{
	const struct vim_iface *f = &vim_ifaces[iface];
	struct kids kl;
	struct named *ents, **groups;
	size_t ng, i, j, k;
	int best = -1, bscore = -1, bfields = 0, bdepth = 0, bprefix = -2;
	const char *name = vim_node_xsi_type(n);
	int prefix;

	if (name == NULL)
		name = "";
	kids_init(&kl);
	kids_add(&kl, n);
	ng = group_by_name(kl.v, kl.n, NULL, &ents, &groups);
	if (ng > VIM_MAX_GUESS_NAMES)
		ng = VIM_MAX_GUESS_NAMES;
	for (i = 0; i < f->n; i++) {
		int ti = vim_iface_members[f->first + i];
		const struct vim_type *t = &vim_types[ti];
		int score = 0, depth = 0, b;

		for (j = 0; j < ng; j++) {
			const char *nm = groups[j]->name;

			for (k = 0; k < t->nfields; k++) {
				const struct vim_field *fl = &vim_fields[t->first + k];
				const char *x = VIM_STR(fl->xml);

				if (x[0] == nm[0] && strcmp(x, nm) == 0) {
					score += fits(fl, kl.v[groups[j]->pos]);
					break;
				}
			}
		}
		for (b = t->base; b >= 0 && depth < 64; b = vim_types[b].base)
			depth++;
		prefix = stem_match(VIM_STR(t->name), name);
		/*
		 * Most children explained; then the most general such type;
		 * then the one named as its base; then the shallowest.
		 */
		if (score > bscore || (score == bscore &&
		    (t->nfields < bfields || (t->nfields == bfields &&
		    (prefix > bprefix || (prefix == bprefix &&
		    depth < bdepth)))))) {
			best = ti;
			bscore = score;
			bfields = t->nfields;
			bdepth = depth;
			bprefix = prefix;
		}
	}
	free(ents);
	kids_free(&kl);
	return best;
}

static int
emit_unknown(struct ctx *c, int iface, struct vim_node *n)
{
	int t;

	if (iface != vim_iface_any && (t = nearest_type(iface, n)) >= 0)
		return emit_struct(c, t, &n, 1, 1);
	return emit_generic(c, n);
}

/* A child with no field of its own: typed by its xsi:type if known. */
static int
emit_loose(struct ctx *c, struct vim_node *n)
{
	struct resolved r = resolve(n, vim_iface_any);

	if (r.kind == 0)
		return emit_generic(c, n);
	return emit_elem(c, r.kind, r.type, &n, 1);
}

/*
 * An interface field: the first element whose type resolves sets the value;
 * a pointer value (BaseXxx) takes the later elements merged in, a value held
 * directly (AnyType) ignores them, as govmomi's decoder does.
 */
static int
emit_iface(struct ctx *c, int iface, struct vim_node **m, size_t nm)
{
	size_t i;

	for (i = 0; i < nm; i++) {
		struct resolved r = resolve(m[i], iface);

		if (r.kind == 0)
			continue;
		return emit_elem(c, r.kind, r.type, m + i, r.byvalue ? 1 : nm - i);
	}
	for (i = 0; i < nm; i++) {
		const char *t = xsi_raw(m[i]);

		/* A class govmomi does not know (yet): still map it. */
		if (t != NULL && t[0] != '\0')
			return emit_unknown(c, iface, m[i]);
	}
	if (nm > 0 && iface != vim_iface_any)
		return emit_unknown(c, iface, m[0]);
	return PUTS(c, "null");
}

static int
emit_elem(struct ctx *c, int kind, int ref, struct vim_node **m, size_t nm)
{
	switch (kind) {
	case VK_STRUCT:
		return emit_struct(c, ref, m, nm, 0);
	case VK_IFACE:
		return emit_iface(c, ref, m, nm);
	case VK_MOR:
		return emit_mor(c, m, nm);
	default:
		if (nm == 0)
			return emit_zero(c, kind, ref);
		return emit_scalar(c, kind, m, nm);
	}
}

static int
emit_field(struct ctx *c, const struct vim_field *f, struct vim_node **m, size_t nm)
{
	size_t i;

	if (f->flags & VF_SLICE) {
		if (nm == 0)
			return PUTS(c, "null");
		if (putc1(c, '[') != 0)
			return -1;
		for (i = 0; i < nm; i++) {
			if (i > 0 && putc1(c, ',') != 0)
				return -1;
			if (emit_elem(c, f->kind, f->ref, m + i, 1) != 0)
				return -1;
		}
		return putc1(c, ']');
	}
	if (nm == 0)
		return (f->flags & VF_PTR) ? PUTS(c, "null") :
		    emit_zero(c, f->kind, f->ref);
	return emit_elem(c, f->kind, f->ref, m, nm);
}

/*
 * Struct type t decoded from elements m (several when the decoder merges
 * repeated elements into one value). extras: also print unmatched children.
 */
static int
emit_struct(struct ctx *c, int t, struct vim_node **m, size_t nm, int extras)
{
	const struct vim_type *ty = &vim_types[t];
	const struct vim_field *fs = &vim_fields[ty->first];
	struct kids kl;
	struct vim_node *sstack[32], **sel = sstack;
	int fstack[32], *fidx = fstack;
	size_t i, j, ns;
	int rc = -1;

	if (ty->kind == TK_MOR)
		return emit_mor(c, m, nm);
	if (++c->depth > VIM_MAX_DEPTH) {
		c->depth--;
		return fail(c, nm ? m[0] : NULL, "nested deeper than %d elements",
		    VIM_MAX_DEPTH);
	}
	kids_init(&kl);
	for (i = 0; i < nm; i++)
		kids_add(&kl, m[i]);
	if (kl.n > 32) {
		sel = vp_xmalloc(kl.n * sizeof(*sel));
		fidx = vp_xmalloc(kl.n * sizeof(*fidx));
	}
	for (i = 0; i < kl.n; i++) {
		const char *nm1 = lname(kl.v[i]);

		fidx[i] = -1;
		for (j = 0; j < ty->nfields; j++) {
			const char *x = VIM_STR(fs[j].xml);

			if (x[0] == nm1[0] && strcmp(x, nm1) == 0) {
				/* A guessed type takes only what fits it. */
				if (!extras || fits(&fs[j], kl.v[i]))
					fidx[i] = (int)j;
				break;
			}
		}
	}
	if (putc1(c, '{') != 0)
		goto out;
	for (j = 0; j < ty->nfields; j++) {
		if (put_key(c, VIM_STR(fs[j].json), j > 0) != 0)
			goto out;
		ns = 0;
		for (i = 0; i < kl.n; i++)
			if (fidx[i] == (int)j)
				sel[ns++] = kl.v[i];
		if (emit_field(c, &fs[j], sel, ns) != 0)
			goto out;
	}
	if (extras) {
		for (i = 0; i < kl.n; i++)
			fidx[i] = fidx[i] >= 0;
		if (emit_extras(c, kl.v, kl.n, fidx, t, ty->nfields > 0) != 0)
			goto out;
	}
	rc = putc1(c, '}');
out:
	c->depth--;
	if (sel != sstack) {
		free(sel);
		free(fidx);
	}
	kids_free(&kl);
	return rc;
}

/* ---- VSphereSource's XML: encoding/xml.Marshal of what govmomi decoded ------ */

/* encoding/xml's EscapeString: five entities, \t \n \r as references, U+FFFD for the rest. */
static int
xput_text(struct ctx *c, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	const unsigned char *run = p;

	while (p < end) {
		const char *e = NULL;
		size_t n = 1;
		uint32_t r = *p;

		if (*p >= 0x80) {
			n = js_go_rune_len(p, (size_t)(end - p), &r);
			if (n == 0) {		/* invalid UTF-8: one byte, U+FFFD */
				e = "\xef\xbf\xbd";
				n = 1;
			} else if (r == 0xfffe || r == 0xffff)
				e = "\xef\xbf\xbd";
		} else {
			switch (*p) {
			case '"': e = "&#34;"; break;
			case '\'': e = "&#39;"; break;
			case '&': e = "&amp;"; break;
			case '<': e = "&lt;"; break;
			case '>': e = "&gt;"; break;
			case '\t': e = "&#x9;"; break;
			case '\n': e = "&#xA;"; break;
			case '\r': e = "&#xD;"; break;
			default:
				if (*p < 0x20)
					e = "\xef\xbf\xbd";
			}
		}
		if (e == NULL) {
			p += n;
			continue;
		}
		if (put(c, run, (size_t)(p - run)) != 0 || put(c, e, strlen(e)) != 0)
			return -1;
		p += n;
		run = p;
	}
	return put(c, run, (size_t)(p - run));
}

static int
xopen(struct ctx *c, const char *name)
{
	return putc1(c, '<') || put(c, name, strlen(name)) || putc1(c, '>');
}

static int
xclose(struct ctx *c, const char *name)
{
	return PUTS(c, "</") || put(c, name, strlen(name)) || putc1(c, '>');
}

/* strconv.FormatFloat(v, 'g', -1, bits), as encoding/xml prints floats. */
static int
xput_float(struct ctx *c, double v, int bits)
{
	char digits[24], out[64];
	int e, nd, o = 0;

	if (isnan(v))
		return PUTS(c, "NaN");
	if (isinf(v))
		return v > 0 ? PUTS(c, "+Inf") : PUTS(c, "-Inf");
	if (signbit(v))
		out[o++] = '-';
	if (v == 0) {
		out[o++] = '0';
		return put(c, out, (size_t)o);
	}
	nd = shortest_digits(v, bits, digits, &e);
	if (e < -4 || e >= 6)
		o += exp_notation(out + o, sizeof(out) - (size_t)o, digits, nd, e);
	else
		o += fixed_notation(out + o, digits, nd, e);
	return put(c, out, (size_t)o);
}

/* Is this value what encoding/xml's omitempty leaves out? */
static int
scalar_empty(int kind, const struct scalar *v)
{
	switch (kind) {
	case VK_STRING: case VK_ENUM: case VK_BYTES:
		return v->len == 0;
	case VK_BOOL:
		return !v->bv;
	case VK_INT8: case VK_INT16: case VK_INT32: case VK_INT64:
		return v->iv == 0;
	case VK_UINT8: case VK_UINT16: case VK_UINT32: case VK_UINT64:
		return v->uv == 0;
	case VK_FLOAT32: case VK_FLOAT64:
		return v->fv == 0;
	default:
		return 0;	/* time.Time is a struct: never empty */
	}
}

static int
xput_scalar(struct ctx *c, int kind, const struct scalar *v)
{
	char num[48];
	size_t len;

	switch (kind) {
	case VK_STRING: case VK_ENUM: case VK_BYTES:
		return xput_text(c, v->s, v->len);
	case VK_BOOL:
		return v->bv ? PUTS(c, "true") : PUTS(c, "false");
	case VK_INT8: case VK_INT16: case VK_INT32: case VK_INT64:
		len = (size_t)snprintf(num, sizeof(num), "%lld", (long long)v->iv);
		return put(c, num, len);
	case VK_UINT8: case VK_UINT16: case VK_UINT32: case VK_UINT64:
		len = (size_t)snprintf(num, sizeof(num), "%llu",
		    (unsigned long long)v->uv);
		return put(c, num, len);
	case VK_FLOAT32: case VK_FLOAT64:
		return xput_float(c, v->fv, bits_of(kind));
	default:
		len = format_time(&v->tv, 0, num, sizeof(num));
		return put(c, num, len);
	}
}

static int xemit_struct(struct ctx *, int, struct vim_node **, size_t, int,
    const char *);
static int xemit_elem(struct ctx *, int, int, struct vim_node **, size_t,
    const char *, int);

/* <name type="T">V</name>, from the elements as emit_mor reads them */
static int
xemit_mor(struct ctx *c, struct vim_node **m, size_t nm, const char *name)
{
	const char *type, *s;
	size_t len;

	if (mor_parts(c, m, nm, &type, &s, &len) != 0)
		return -1;
	if (putc1(c, '<') || put(c, name, strlen(name)) ||
	    PUTS(c, " type=\"") || xput_text(c, type, strlen(type)) ||
	    PUTS(c, "\">") || xput_text(c, s, len))
		return -1;
	return xclose(c, name);
}

/* A scalar element named name (none where omitempty leaves it out). */
static int
xemit_value(struct ctx *c, int kind, const struct scalar *v,
    const char *name, int omit)
{
	if (omit && scalar_empty(kind, v))
		return 0;
	if (xopen(c, name) || xput_scalar(c, kind, v))
		return -1;
	return xclose(c, name);
}

/* A zero value where no element came: what xml.Marshal prints for it. */
static int
xemit_zero(struct ctx *c, int kind, int ref, const char *name, int omit)
{
	struct scalar v;

	switch (kind) {
	case VK_IFACE:
		return 0;		/* nil */
	case VK_MOR:
		return xemit_mor(c, NULL, 0, name);
	case VK_STRUCT:
		return xemit_struct(c, ref, NULL, 0, 0, name);
	}
	memset(&v, 0, sizeof(v));
	v.s = "";
	v.tv.year = v.tv.mon = v.tv.day = 1;
	return xemit_value(c, kind, &v, name, omit);
}

/* An interface field: the value emit_iface would print, named name. */
static int
xemit_iface(struct ctx *c, int iface, struct vim_node **m, size_t nm,
    const char *name)
{
	size_t i;
	int t;

	for (i = 0; i < nm; i++) {
		struct resolved r = resolve(m[i], iface);

		if (r.kind == 0)
			continue;
		return xemit_elem(c, r.kind, r.type, m + i,
		    r.byvalue ? 1 : nm - i, name, 0);
	}
	/* a class govmomi does not know: its nearest known family member */
	for (i = 0; i < nm && iface != vim_iface_any; i++) {
		const char *x = xsi_raw(m[i]);

		if (x != NULL && x[0] != '\0' &&
		    (t = nearest_type(iface, m[i])) >= 0)
			return xemit_struct(c, t, m + i, 1, 1, name);
	}
	if (nm > 0 && iface != vim_iface_any &&
	    (t = nearest_type(iface, m[0])) >= 0)
		return xemit_struct(c, t, m, 1, 1, name);
	return 0;			/* nil */
}

static int
xemit_elem(struct ctx *c, int kind, int ref, struct vim_node **m, size_t nm,
    const char *name, int omit)
{
	struct scalar v;

	switch (kind) {
	case VK_STRUCT:
		if (vim_types[ref].kind == TK_MOR)
			return xemit_mor(c, m, nm, name);
		return xemit_struct(c, ref, m, nm, 0, name);
	case VK_IFACE:
		return xemit_iface(c, ref, m, nm, name);
	case VK_MOR:
		return xemit_mor(c, m, nm, name);
	}
	if (nm == 0)
		return xemit_zero(c, kind, ref, name, omit);
	if (decode_scalar(c, kind, m, nm, &v) != 0)
		return -1;
	return xemit_value(c, kind, &v, name, omit);
}

static int
xemit_field(struct ctx *c, const struct vim_field *f, struct vim_node **m,
    size_t nm)
{
	const char *name = VIM_STR(f->xml);
	size_t i;

	if (f->flags & VF_SLICE) {
		for (i = 0; i < nm; i++)
			if (xemit_elem(c, f->kind, f->ref, m + i, 1, name, 0) != 0)
				return -1;
		return 0;
	}
	if (nm == 0)
		return (f->flags & VF_PTR) ? 0 :
		    xemit_zero(c, f->kind, f->ref, name, f->flags & VF_OMIT);
	/* a pointer is never empty; a value field may be */
	return xemit_elem(c, f->kind, f->ref, m, nm, name,
	    !(f->flags & VF_PTR) && (f->flags & VF_OMIT));
}

/*
 * Struct type t decoded from elements m, as <name> holding its fields in
 * Go order. guessed: t stands for an unknown class (take only what fits).
 */
static int
xemit_struct(struct ctx *c, int t, struct vim_node **m, size_t nm, int guessed,
    const char *name)
{
	const struct vim_type *ty = &vim_types[t];
	const struct vim_field *fs = &vim_fields[ty->first];
	struct vim_node **sel = NULL, *k;
	size_t i, j, ns;
	int rc = -1;

	if (ty->kind == TK_MOR)
		return xemit_mor(c, m, nm, name);
	if (++c->depth > VIM_MAX_DEPTH) {
		c->depth--;
		return fail(c, nm ? m[0] : NULL, "nested deeper than %d elements",
		    VIM_MAX_DEPTH);
	}
	for (i = 0, ns = 0; i < nm; i++)
		for (k = m[i]->children; k != NULL; k = k->next)
			ns += k->type == VIM_ELEMENT;
	sel = vp_xmalloc((ns ? ns : 1) * sizeof(*sel));
	if (xopen(c, name) != 0)
		goto out;
	for (j = 0; j < ty->nfields; j++) {
		const char *x = VIM_STR(fs[j].xml);

		ns = 0;
		for (i = 0; i < nm; i++)
			for (k = m[i]->children; k != NULL; k = k->next)
				if (k->type == VIM_ELEMENT &&
				    strcmp(lname(k), x) == 0 &&
				    (!guessed || fits(&fs[j], k)))
					sel[ns++] = k;
		if (xemit_field(c, &fs[j], sel, ns) != 0)
			goto out;
	}
	rc = xclose(c, name);
out:
	c->depth--;
	free(sel);
	return rc;
}

/*
 * Start writing one event to out (its size capped at VIM_MAX_EVENT_JSON):
 * -1 with err set when ev is not an element.
 */
static int
event_begin(struct ctx *c, struct vim_node *ev, struct vp_buf *out, char *err,
    size_t errlen)
{
	memset(c, 0, sizeof(*c));
	c->out = out;
	c->err = err;
	c->errlen = errlen;
	c->start = out->len;
	c->oldmax = out->max;
	if (errlen > 0)
		err[0] = '\0';
	if (ev == NULL || ev->type != VIM_ELEMENT) {
		snprintf(err, errlen, "not an element");
		return -1;
	}
	if (c->oldmax == 0 || c->oldmax - c->start > VIM_MAX_EVENT_JSON)
		out->max = c->start + VIM_MAX_EVENT_JSON;
	return 0;
}

/* Done with the event: out as it was when rc says it failed. */
static int
event_end(struct ctx *c, int rc)
{
	struct vp_buf *out = c->out;

	out->max = c->oldmax;
	vp_buf_free(&c->tmp);
	if (rc != 0) {
		out->len = c->start;
		if (out->data)
			out->data[c->start] = '\0';
	}
	return rc;
}

int
vim_event_xml(struct vim_node *ev, struct vp_buf *out, char *err, size_t errlen)
{
	struct ctx c;
	struct resolved r;
	const char *x;
	int rc, type;

	if (event_begin(&c, ev, out, err, errlen) != 0)
		return -1;
	c.xml = 1;
	r = resolve(ev, vim_iface_event);
	if (r.kind == VK_STRUCT)
		rc = xemit_struct(&c, r.type, &ev, 1, 0,
		    VIM_STR(vim_types[r.type].name));
	else if ((type = nearest_type(vim_iface_event, ev)) >= 0) {
		/* named as vCenter named it; its fields as the nearest class */
		x = vim_node_xsi_type(ev);
		rc = xemit_struct(&c, type, &ev, 1, 1, x != NULL && *x &&
		    strspn(x, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789_") == strlen(x) ? x :
		    VIM_STR(vim_types[type].name));
	} else
		rc = fail(&c, ev, "not an event");
	return event_end(&c, rc);
}

/* ---- events ---------------------------------------------------------------- */

static int
has_base(int t, const char *name)
{
	int d;

	for (d = 0; t >= 0 && d < 64; t = vim_types[t].base, d++)
		if (strcmp(VIM_STR(vim_types[t].name), name) == 0)
			return 1;
	return 0;
}

/* Text of the last child element called name, NULL when there is none. */
static struct vim_node *
last_child(struct vim_node *n, const char *name)
{
	struct vim_node *k, *last = NULL;

	for (k = n->children; k != NULL; k = k->next)
		if (k->type == VIM_ELEMENT && strcmp(lname(k), name) == 0)
			last = k;
	return last;
}

void
vim_event_meta_free(struct vim_event_meta *m)
{
	if (m != NULL) {
		free(m->class);
		m->class = NULL;
	}
}

static int
fill_meta(struct ctx *c, struct vim_node *ev, int type, int known,
    struct vim_event_meta *m)
{
	const char *t = vim_node_xsi_type(ev), *s, *ts;
	struct vim_node *k;
	size_t len, tl;
	struct gotime tv;
	int64_t iv;

	memset(m, 0, sizeof(*m));
	snprintf(m->mapped, sizeof(m->mapped), "%s",
	    type >= 0 ? VIM_STR(vim_types[type].name) : "");
	snprintf(m->type, sizeof(m->type), "%s", t && *t ? t : m->mapped);
	m->known = known;
	m->category = "event";
	if ((k = last_child(ev, "key")) != NULL) {
		if (node_text(c, k, &s, &len) != 0)
			return -1;
		ts = s;
		tl = len;
		trim_space(&ts, &tl);
		if (len > 0 && go_parse_int(ts, tl, 32, &iv) != 0)
			return fail(c, k, "invalid int32 \"%.40s\"", s);
		m->key = len > 0 ? (int32_t)iv : 0;
	}
	memset(&tv, 0, sizeof(tv));
	tv.year = 1;
	tv.mon = 1;
	tv.day = 1;
	if ((k = last_child(ev, "createdTime")) != NULL) {
		if (node_text(c, k, &s, &len) != 0)
			return -1;
		if (go_parse_time(s, len, &tv) != 0)
			return fail(c, k, "invalid xsd:dateTime \"%.40s\"", s);
	}
	time_to_utc(&tv);
	m->created_sec = time_unix(&tv);
	m->created_nsec = tv.nsec;
	format_time(&tv, 1, m->created, sizeof(m->created));
	k = NULL;
	if (has_base(type, "EventEx")) {
		m->category = "eventex";
		k = last_child(ev, "eventTypeId");
	} else if (has_base(type, "ExtendedEvent")) {
		/* govmomi 0.24 (and the WSDL) call ExtendedEvent's id eventTypeId. */
		m->category = "extendedevent";
		if ((k = last_child(ev, "eventTypeId")) == NULL)
			k = last_child(ev, "eventId");
	}
	s = "";
	len = 0;
	if (k != NULL && node_text(c, k, &s, &len) != 0)
		return -1;
	if (len > 0) {
		m->class = vp_xmalloc(len + 1);
		memcpy(m->class, s, len);
		m->class[len] = '\0';
	} else	/* the whole name: m->type may be cut short */
		m->class = vp_xstrdup(t && *t ? t : m->mapped);
	return 0;
}

int
vim_event_json(struct vim_node *ev, struct vp_buf *out, struct vim_event_meta *m,
    char *err, size_t errlen)
{
	struct ctx c;
	struct resolved r;
	int rc, type, known;

	if (m != NULL)
		memset(m, 0, sizeof(*m));
	if (event_begin(&c, ev, out, err, errlen) != 0)
		return -1;
	r = resolve(ev, vim_iface_event);
	known = r.kind == VK_STRUCT;
	if (known) {
		type = r.type;
		rc = emit_struct(&c, type, &ev, 1, 0);
	} else {
		type = nearest_type(vim_iface_event, ev);
		rc = emit_struct(&c, type, &ev, 1, 1);
	}
	if (rc == 0 && m != NULL)
		rc = fill_meta(&c, ev, type, known, m);
	if (rc != 0 && m != NULL)
		vim_event_meta_free(m);
	return event_end(&c, rc);
}

int
vim_event_meta(struct vim_node *ev, struct vim_event_meta *m, char *err,
    size_t errlen)
{
	struct vp_buf b = { 0 };
	int rc = vim_event_json(ev, &b, m, err, errlen);

	vp_buf_free(&b);
	return rc;
}

json_t *
vim_event_to_json(struct vim_node *ev, char *err, size_t errlen)
{
	struct vp_buf b = { 0 };
	json_error_t je;
	json_t *j = NULL;

	if (vim_event_json(ev, &b, NULL, err, errlen) == 0) {
		j = json_loadb(b.data, b.len, JSON_DECODE_ANY, &je);
		if (j == NULL)	/* an unsigned long past int64 */
			j = json_loadb(b.data, b.len, JSON_DECODE_ANY |
			    JSON_DECODE_INT_AS_REAL, &je);
		if (j == NULL)
			snprintf(err, errlen, "jansson: %s", je.text);
	}
	vp_buf_free(&b);
	return j;
}

static const char *
nz(const char *s)
{
	return s ? s : "";
}

int
vim_raw_line(const struct vim_source *src, struct vim_node *ev, struct vp_buf *out,
    struct vim_event_meta *m, char *err, size_t errlen)
{
	struct vim_event_meta local;
	struct vp_buf data = { 0 };
	size_t start = out->len;
	int rc = -1;

	if (m == NULL)
		m = &local;
	data.max = out->max;
	if (vim_event_json(ev, &data, m, err, errlen) != 0)
		goto done;
#define STR(s) nz(s), strlen(nz(s))
	if (vp_buf_append(out, "{\"vcenter\":", 11) != 0 ||
	    vim_json_string(out, STR(src->vcenter)) != 0 ||
	    vp_buf_append(out, ",\"instanceUuid\":", 16) != 0 ||
	    vim_json_string(out, STR(src->instance_uuid)) != 0 ||
	    vp_buf_append(out, ",\"apiVersion\":", 14) != 0 ||
	    vim_json_string(out, STR(src->api_version)) != 0 ||
	    vp_buf_append(out, ",\"class\":", 9) != 0 ||
	    vim_json_string(out, STR(m->class)) != 0 ||
	    vp_buf_printf(out, ",\"category\":\"%s\",\"key\":%ld,\"createdTime\":\"%s\",\"data\":",
	    m->category, (long)m->key, m->created) != 0 ||
	    vp_buf_append(out, data.data, data.len) != 0 ||
	    vp_buf_append(out, "}", 1) != 0) {
		snprintf(err, errlen, "event line longer than %zu bytes", out->max);
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
		vim_event_meta_free(m);
		goto done;
	}
#undef STR
	rc = 0;
	if (m == &local)
		vim_event_meta_free(m);
done:
	vp_buf_free(&data);
	return rc;
}

/* ---- documents ---------------------------------------------------------------- */

/* Is v a character XML 1.0 allows? */
static int
xml_char_ok(unsigned long v)
{
	if (v < 0x20)
		return v == 0x9 || v == 0xa || v == 0xd;
	return (v < 0xd800 || v > 0xdfff) && v != 0xfffe && v != 0xffff &&
	    v <= 0x10ffff;
}

/* Length of the forbidden character (raw or a reference) at p, else 0. */
static size_t
bad_char_len(const unsigned char *p, const unsigned char *end)
{
	const unsigned char *q;
	unsigned long v = 0;
	int hex, digits = 0;

	if (*p < 0x20)
		return xml_char_ok(*p) ? 0 : 1;
	if (*p == 0xef)		/* U+FFFE and U+FFFF in UTF-8 */
		return end - p >= 3 && p[1] == 0xbf &&
		    (p[2] == 0xbe || p[2] == 0xbf) ? 3 : 0;
	if (*p != '&' || end - p < 4 || p[1] != '#')
		return 0;
	hex = p[2] == 'x';
	for (q = p + 2 + hex; q < end && *q != ';'; q++, digits++) {
		int d;

		if (*q >= '0' && *q <= '9')
			d = *q - '0';
		else if (hex && (*q | 0x20) >= 'a' && (*q | 0x20) <= 'f')
			d = (*q | 0x20) - 'a' + 10;
		else
			return 0;	/* not a reference: parser's call */
		v = v * (hex ? 16 : 10) + (unsigned long)d;
		if (v > 0x110000)
			v = 0x110000;	/* out of range either way */
	}
	if (q == end || digits == 0)
		return 0;
	return xml_char_ok(v) ? 0 : (size_t)(q + 1 - p);
}

/*
 * Whether any of the eight bytes in w may start a forbidden character: a
 * control character, '&' or 0xEF (bit tricks: a byte below 0x20, a byte
 * equal to '&' or to 0xEF sets its top bit in the result).
 */
static int
maybe_bad(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ULL;
	const uint64_t high = 0x8080808080808080ULL;
	uint64_t a = w ^ (ones * '&'), e = w ^ (ones * 0xef);

	return ((((w - ones * 0x20) & ~w) | ((a - ones) & ~a) |
	    ((e - ones) & ~e)) & high) != 0;
}

size_t
vim_scrub_xml(const char *buf, size_t len, struct vp_buf *out)
{
	const unsigned char *p = (const unsigned char *)buf, *end = p + len;
	const unsigned char *from = p;
	size_t n = 0, l;
	uint64_t w;

	for (; p < end; p++) {
		/* the fast path: eight bytes at a time while none needs a look */
		for (; end - p >= 8; p += 8) {
			memcpy(&w, p, sizeof(w));
			if (maybe_bad(w))
				break;
		}
		if (p == end)
			break;
		/* only three kinds of byte need a look */
		if (*p >= 0x20 && *p != '&' && *p != 0xef)
			continue;
		if ((l = bad_char_len(p, end)) == 0)
			continue;
		if (n++ == 0)
			vp_buf_reset(out);
		if (vp_buf_append(out, from, (size_t)(p - from)) != 0 ||
		    vp_buf_append(out, "&#xFFFD;", 8) != 0)
			goto full;
		p += l - 1;
		from = p + 1;
	}
	if (n > 0 && vp_buf_append(out, from, (size_t)(end - from)) != 0)
		goto full;
	return n;
full:
	vp_buf_reset(out);
	return 0;
}

/* ---- parsing: whole documents and streams -------------------------------- */

/*
 * libexpat tokenizes; the tree is ours. Namespaces are resolved here, not
 * by expat's namespace mode, because that mode refuses an unbound prefix
 * (xsi:type without xmlns:xsi) which Go's decoder, and so govmomi, reads.
 */

/* libxml2's limits, which this parser had before (XML_PARSE_HUGE off). */
#define VIM_MAX_XML_DEPTH	257
#define VIM_MAX_TEXT		10000000u
#define XMLNS_XML_URI		"http://www.w3.org/XML/1998/namespace"

/* Nodes are carved from chunks: a tree is freed at once, never node by node. */
#define ARENA_CHUNK		(32768 - sizeof(struct chunk))

struct chunk {
	struct chunk *next;
	size_t size;
	/* data follows, aligned as malloc aligns */
};

struct arena {
	struct chunk *head;
	size_t used;
};

struct vim_doc {
	struct vim_node *root;
	struct arena arena;
};

/* A prefix bound by an xmlns:p attribute, until its element ends. */
struct binding {
	char *prefix;
	char *uri;
	int depth;
};

struct vim_stream {
	XML_Parser p;
	struct vim_doc *doc;
	struct arena evarena;	/* the event being parsed (cb != NULL) */
	int (*cb)(struct vim_node *, void *);	/* NULL: keep events in the tree */
	void *arg;
	struct vim_node *cur;	/* innermost element built */
	struct vim_node *ev;	/* the event being parsed, if any */
	struct vim_node *ev_prev; /* its parent's last child before it */
	struct binding *ns;
	size_t nns, nsalloc;
	struct vp_buf text;	/* character data not yet in a node */
	int depth;		/* open elements built */
	int found;		/* an event container was seen */
	int dtd;		/* a DTD was refused */
	int failed;		/* not well-formed, or past a limit: msg */
	int stopped;		/* cb asked to stop: its value */
	int ended;		/* the last chunk was pushed */
	int keys_only;		/* events carry only key and createdTime */
	const char *stop_at;	/* element where parsing ends (or NULL) */
	int enough;		/* it was reached: the rest is not parsed */
	int skip;		/* depth inside an element left unbuilt */
	size_t events;
	size_t replaced;	/* forbidden characters replaced */
	struct vp_buf pend;	/* tail that may start an unfinished reference */
	struct vp_buf scrub;
	char msg[256];
};

static void *
arena_alloc(struct arena *a, size_t n)
{
	struct chunk *c;
	size_t size;

	n = (n + 15) & ~(size_t)15;
	if (a->head == NULL || a->head->size - a->used < n) {
		size = n > ARENA_CHUNK ? n : ARENA_CHUNK;
		if ((c = malloc(sizeof(*c) + size)) == NULL)
			vp_die(VP_EXIT_SOFTWARE, "out of memory");
		c->next = a->head;
		c->size = size;
		a->head = c;
		a->used = 0;
	}
	a->used += n;
	return (char *)(a->head + 1) + a->used - n;
}

static char *
arena_strdup(struct arena *a, const char *s, size_t len)
{
	char *d = arena_alloc(a, len + 1);

	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

/* Free every chunk; keep one of the usual size for the next event. */
static void
arena_reset(struct arena *a, int keep)
{
	struct chunk *c, *next, *kept = NULL;

	for (c = a->head; c != NULL; c = next) {
		next = c->next;
		if (keep && kept == NULL && c->size == ARENA_CHUNK)
			kept = c;
		else
			free(c);
	}
	if (kept != NULL)
		kept->next = NULL;
	a->head = kept;
	a->used = 0;
}

struct vim_node *
vim_doc_root(const struct vim_doc *doc)
{
	return doc ? doc->root : NULL;
}

void
vim_doc_free(struct vim_doc *doc)
{
	if (doc == NULL)
		return;
	arena_reset(&doc->arena, 0);
	free(doc);
}

const char *
vim_node_attr(const struct vim_node *n, const char *local, const char *ns)
{
	const struct vim_attr *a;

	for (a = n ? n->attrs : NULL; a != NULL; a = a->next)
		if (strcmp(a->name, local) == 0 && (ns == NULL ? a->ns == NULL :
		    a->ns != NULL && strcmp(a->ns, ns) == 0))
			return a->value;
	return NULL;
}

static void
node_text_rec(const struct vim_node *n, char *buf, size_t len, size_t *at,
    int depth)
{
	const struct vim_node *k;
	size_t l;

	for (k = n->children; k != NULL; k = k->next) {
		if (k->type == VIM_TEXT) {
			l = strlen(k->content);
			if (*at < len)
				memcpy(buf + *at, k->content,
				    l < len - *at ? l : len - *at);
			*at += l;
		} else if (k->type == VIM_ELEMENT && depth < VIM_MAX_XML_DEPTH)
			node_text_rec(k, buf, len, at, depth + 1);
	}
}

size_t
vim_node_text(const struct vim_node *n, char *buf, size_t len)
{
	size_t at = 0;

	if (n != NULL && n->type == VIM_TEXT) {
		at = strlen(n->content);
		if (len > 0)
			memcpy(buf, n->content, at < len ? at : len);
	} else if (n != NULL)
		node_text_rec(n, buf, len, &at, 0);
	if (len > 0)
		buf[at < len ? at : len - 1] = '\0';
	return at;
}

/* Stop the parse with a message of ours (the first one wins). */
static void
parse_fail(struct vim_stream *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
parse_fail(struct vim_stream *st, const char *fmt, ...)
{
	char m[200];
	va_list ap;

	if (st->failed)
		return;
	st->failed = 1;
	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	snprintf(st->msg, sizeof(st->msg), "line %lu: %s",
	    (unsigned long)XML_GetCurrentLineNumber(st->p), m);
	XML_StopParser(st->p, XML_FALSE);
}

/* Where new nodes go: the event's own arena while one is built. */
static struct arena *
arena_of(struct vim_stream *st)
{
	return st->ev != NULL && st->cb != NULL ? &st->evarena :
	    &st->doc->arena;
}

/* A node of type t from arena a, the last child of parent (unless NULL). */
static struct vim_node *
new_node(struct arena *a, enum vim_node_type t, struct vim_node *parent,
    long line)
{
	struct vim_node *n = arena_alloc(a, sizeof(*n));

	memset(n, 0, sizeof(*n));
	n->type = t;
	n->line = line;
	if (parent != NULL) {
		n->parent = parent;
		if (parent->last != NULL)
			parent->last->next = n;
		else
			parent->children = n;
		parent->last = n;
	}
	return n;
}

static int
all_space(const char *s, size_t len)
{
	for (; len > 0; s++, len--)
		if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
			return 0;
	return 1;
}

static int holds_events(struct vim_node *, const char *);

/* The character data since the last tag becomes one text node. */
static void
flush_text(struct vim_stream *st)
{
	struct vim_node *n;

	if (st->text.len == 0)
		return;
	/* blanks between events would pile up in a long answer */
	if (st->cb == NULL || !all_space(st->text.data, st->text.len) ||
	    !holds_events(st->cur, NULL)) {
		n = new_node(arena_of(st), VIM_TEXT, st->cur, st->cur->line);
		n->name = "text";
		n->content = arena_strdup(arena_of(st), st->text.data,
		    st->text.len);
	}
	vp_buf_reset(&st->text);
}

static void
x_text(void *arg, const XML_Char *s, int len)
{
	struct vim_stream *st = arg;

	if (st->skip > 0 || st->cur == NULL || st->failed || st->stopped ||
	    st->enough)
		return;
	if (st->text.len + (size_t)len > VIM_MAX_TEXT) {
		parse_fail(st, "text longer than %u bytes", VIM_MAX_TEXT);
		return;
	}
	vp_buf_append(&st->text, s, (size_t)len);
}

/* Comments and processing instructions: only where they split text. */
static void
x_other(struct vim_stream *st)
{
	struct vim_node *n;

	if (st->skip > 0 || st->cur == NULL || st->failed || st->stopped ||
	    st->enough)
		return;
	flush_text(st);
	n = new_node(arena_of(st), VIM_OTHER, st->cur,
	    (long)XML_GetCurrentLineNumber(st->p));
	n->name = "comment";
}

static void
x_comment(void *arg, const XML_Char *data)
{
	(void)data;
	x_other(arg);
}

static void
x_pi(void *arg, const XML_Char *target, const XML_Char *data)
{
	(void)target; (void)data;
	x_other(arg);
}

/* SOAP has no DTD: refusing one rules out entity expansion at all. */
static void
x_doctype(void *arg, const XML_Char *name, const XML_Char *sys,
    const XML_Char *pub, int internal)
{
	struct vim_stream *st = arg;

	(void)name; (void)sys; (void)pub; (void)internal;
	if (st->failed)
		return;
	st->dtd = 1;
	st->failed = 1;
	snprintf(st->msg, sizeof(st->msg), "line %lu: DTD not allowed",
	    (unsigned long)XML_GetCurrentLineNumber(st->p));
	XML_StopParser(st->p, XML_FALSE);
}

/* Does parent hold events (as vim_foreach_event finds them) named name? */
static int
holds_events(struct vim_node *parent, const char *name)
{
	const char *pn, *t;
	size_t l;

	if (parent == NULL || parent->type != VIM_ELEMENT)
		return 0;
	pn = lname(parent);
	l = strlen(pn);
	if (l >= 14 && strcmp(pn + l - 14, "EventsResponse") == 0)
		return name == NULL || strcmp(name, "returnval") == 0;
	if ((t = vim_node_xsi_type(parent)) != NULL &&
	    strcmp(t, "ArrayOfEvent") == 0)
		return name == NULL || strcmp(name, "Event") == 0;
	return 0;
}

/* The URI prefix (plen bytes) is bound to, innermost first; NULL if none. */
static const char *
ns_lookup(const struct vim_stream *st, const char *prefix, size_t plen)
{
	size_t i;

	if (plen == 3 && memcmp(prefix, "xml", 3) == 0)
		return XMLNS_XML_URI;
	for (i = st->nns; i > 0; i--)
		if (strncmp(st->ns[i - 1].prefix, prefix, plen) == 0 &&
		    st->ns[i - 1].prefix[plen] == '\0')
			return st->ns[i - 1].uri;
	return NULL;
}

/* Forget the bindings made at depth or deeper. */
static void
ns_pop(struct vim_stream *st, int depth)
{
	while (st->nns > 0 && st->ns[st->nns - 1].depth >= depth) {
		st->nns--;
		free(st->ns[st->nns].prefix);
		free(st->ns[st->nns].uri);
	}
}

/* A name as the tree keeps it: local when its prefix is bound. */
static const char *
resolve_name(const struct vim_stream *st, const char *qname, const char **ns)
{
	const char *colon = strchr(qname, ':');

	*ns = NULL;
	if (colon == NULL)
		return qname;
	if ((*ns = ns_lookup(st, qname, (size_t)(colon - qname))) == NULL)
		return qname;
	return colon + 1;
}

static void
x_start(void *arg, const XML_Char *qname, const XML_Char **atts)
{
	struct vim_stream *st = arg;
	struct vim_node *parent = st->cur, *n;
	struct vim_attr *a, **tail;
	struct arena *ar;
	const char *local, *ns, *colon;
	size_t i;
	int is_ev = 0;

	if (st->failed || st->stopped || st->enough)
		return;
	colon = strchr(qname, ':');
	local = colon ? colon + 1 : qname;
	if (st->stop_at != NULL && st->skip == 0 &&
	    strcmp(local, st->stop_at) == 0) {
		st->enough = 1;
		XML_StopParser(st->p, XML_FALSE);
		return;
	}
	if (st->skip > 0 || (st->keys_only && st->ev != NULL &&
	    (parent != st->ev || (strcmp(local, "key") != 0 &&
	    strcmp(local, "createdTime") != 0)))) {
		st->skip++;
		return;
	}
	if (st->depth >= VIM_MAX_XML_DEPTH) {
		parse_fail(st, "elements nested deeper than %d",
		    VIM_MAX_XML_DEPTH);
		return;
	}
	if (parent != NULL)
		flush_text(st);
	st->depth++;
	for (i = 0; atts[i] != NULL; i += 2) {
		const char *an = atts[i];

		if (an[0] != 'x' || strncmp(an, "xmlns:", 6) != 0 ||
		    an[6] == '\0' || atts[i + 1][0] == '\0')
			continue;
		if (st->nns == st->nsalloc) {
			st->nsalloc = st->nsalloc ? st->nsalloc * 2 : 8;
			st->ns = vp_xrealloc(st->ns, st->nsalloc *
			    sizeof(*st->ns));
		}
		st->ns[st->nns].prefix = vp_xstrdup(an + 6);
		st->ns[st->nns].uri = vp_xstrdup(atts[i + 1]);
		st->ns[st->nns].depth = st->depth;
		st->nns++;
	}
	if (st->ev == NULL && holds_events(parent, NULL)) {
		st->found = 1;
		is_ev = holds_events(parent, local);
	}
	if (is_ev)
		st->ev_prev = parent->last;
	ar = is_ev && st->cb != NULL ? &st->evarena : arena_of(st);
	n = new_node(ar, VIM_ELEMENT, parent,
	    (long)XML_GetCurrentLineNumber(st->p));
	if (colon != NULL)
		local = resolve_name(st, qname, &ns);
	n->name = arena_strdup(ar, local, strlen(local));
	tail = &n->attrs;
	for (i = 0; atts[i] != NULL; i += 2) {
		const char *an = atts[i];

		if (an[0] == 'x' && strncmp(an, "xmlns", 5) == 0 &&
		    (an[5] == '\0' || an[5] == ':'))
			continue;	/* a declaration, not an attribute */
		a = arena_alloc(ar, sizeof(*a));
		an = resolve_name(st, an, &ns);
		a->name = arena_strdup(ar, an, strlen(an));
		/* xsi:type is on most elements: its URI is not copied */
		a->ns = ns == NULL ? NULL : strcmp(ns, XSI_NS) == 0 ? XSI_NS :
		    arena_strdup(ar, ns, strlen(ns));
		a->value = arena_strdup(ar, atts[i + 1], strlen(atts[i + 1]));
		a->next = NULL;
		*tail = a;
		tail = &a->next;
	}
	if (parent == NULL && st->doc->root == NULL)
		st->doc->root = n;
	st->cur = n;
	if (is_ev)
		st->ev = n;
}

static void
x_end(void *arg, const XML_Char *qname)
{
	struct vim_stream *st = arg;
	struct vim_node *cur = st->cur, *parent;
	int rc;

	(void)qname;
	if (st->failed || st->stopped || st->enough)
		return;
	if (st->skip > 0) {
		st->skip--;
		return;
	}
	flush_text(st);
	ns_pop(st, st->depth);
	st->depth--;
	st->cur = parent = cur->parent;
	if (cur != st->ev)
		return;
	st->ev = NULL;
	st->events++;
	if (st->cb == NULL)
		return;
	/* the element is whole: hand it over, then drop it from the tree */
	rc = st->stopped ? 0 : st->cb(cur, st->arg);
	parent->last = st->ev_prev;
	if (st->ev_prev != NULL)
		st->ev_prev->next = NULL;
	else
		parent->children = NULL;
	arena_reset(&st->evarena, 1);
	if (rc != 0) {
		st->stopped = rc;
		XML_StopParser(st->p, XML_FALSE);
	}
}

void
vim_stream_keys_only(struct vim_stream *st)
{
	st->keys_only = 1;
}

void
vim_stream_stop_at(struct vim_stream *st, const char *name)
{
	st->stop_at = name;
}

struct vim_stream *
vim_stream_new(int (*cb)(struct vim_node *ev, void *arg), void *arg)
{
	struct vim_stream *st = calloc(1, sizeof(*st));

	if (st == NULL)
		return NULL;
	st->cb = cb;
	st->arg = arg;
	if ((st->doc = calloc(1, sizeof(*st->doc))) == NULL ||
	    (st->p = XML_ParserCreate(NULL)) == NULL) {
		free(st->doc);
		free(st);
		return NULL;
	}
	XML_SetUserData(st->p, st);
	XML_SetElementHandler(st->p, x_start, x_end);
	XML_SetCharacterDataHandler(st->p, x_text);
	XML_SetCommentHandler(st->p, x_comment);
	XML_SetProcessingInstructionHandler(st->p, x_pi);
	XML_SetStartDoctypeDeclHandler(st->p, x_doctype);
	return st;
}

/* Why expat gave up, unless a handler of ours stopped it. */
static void
push_error(struct vim_stream *st, int last)
{
	enum XML_Error e = XML_GetErrorCode(st->p);
	unsigned long line = (unsigned long)XML_GetCurrentLineNumber(st->p);

	if (st->failed || st->stopped || st->enough)
		return;
	st->failed = 1;
	/* a cut answer, in the words libxml2 used for it */
	if (last && st->cur != NULL && (e == XML_ERROR_NO_ELEMENTS ||
	    e == XML_ERROR_UNCLOSED_TOKEN || e == XML_ERROR_PARTIAL_CHAR ||
	    e == XML_ERROR_UNCLOSED_CDATA_SECTION))
		snprintf(st->msg, sizeof(st->msg), "line %lu: Premature end "
		    "of data in tag %.64s line %ld", line, lname(st->cur),
		    st->cur->line);
	else
		snprintf(st->msg, sizeof(st->msg), "line %lu: %s", line,
		    XML_ErrorString(e));
}

/* Push len bytes of buf (len < 2 GiB), forbidden characters replaced. */
static int
push(struct vim_stream *st, const char *buf, size_t len, int last)
{
	size_t n = len ? vim_scrub_xml(buf, len, &st->scrub) : 0;

	if (n > 0) {
		st->replaced += n;
		buf = st->scrub.data;
		len = st->scrub.len;
	}
	if (!st->failed && !st->stopped && !st->enough && XML_Parse(st->p,
	    buf, (int)len, last) != XML_STATUS_OK)
		push_error(st, last);
	st->ended |= last;
	if (n > 0)
		vp_buf_reset(&st->scrub);
	return st->failed || st->stopped ? -1 : 0;
}

/*
 * Where an unfinished forbidden character may start at the end of buf: a
 * character reference without its ';' yet, or the first bytes of U+FFFE
 * or U+FFFF. Bytes from there wait for the next chunk.
 */
static size_t
safe_len(const char *buf, size_t len)
{
	size_t cut = len, i;

	for (i = len; i > 0 && len - i < 64; i--) {
		if (buf[i - 1] == ';')
			break;
		if (buf[i - 1] == '&') {
			cut = i - 1;
			break;
		}
	}
	for (i = len >= 2 ? len - 2 : 0; i < len; i++)
		if ((unsigned char)buf[i] == 0xef && i < cut)
			cut = i;
	return cut;
}

int
vim_stream_feed(struct vim_stream *st, const char *buf, size_t len)
{
	size_t cut;

	if (st->enough)
		return 0;	/* the rest is not wanted */
	if (st->pend.len > 0) {
		vp_buf_append(&st->pend, buf, len);
		buf = st->pend.data;
		len = st->pend.len;
	}
	cut = safe_len(buf, len);
	if (push(st, buf, cut, 0) != 0)
		return -1;
	if (buf == st->pend.data) {
		memmove(st->pend.data, st->pend.data + cut, len - cut);
		st->pend.len = len - cut;
	} else if (cut < len)
		vp_buf_append(&st->pend, buf + cut, len - cut);
	return 0;
}

struct vim_doc *
vim_stream_end(struct vim_stream *st, char *err, size_t errlen)
{
	struct vim_doc *doc;

	if (!st->ended && !st->failed && !st->stopped && !st->enough) {
		push(st, st->pend.data ? st->pend.data : "", st->pend.len, 1);
		vp_buf_reset(&st->pend);
	}
	doc = st->doc;
	st->doc = NULL;
	if (st->stopped) {
		snprintf(err, errlen, "stopped");
		goto fail;
	}
	if (st->failed) {
		snprintf(err, errlen, "%s", st->msg);
		goto fail;
	}
	if (doc->root == NULL) {
		snprintf(err, errlen, "no root element");
		goto fail;
	}
	/* a bare event (not in a SOAP answer) is the document itself */
	if (!st->found && st->cb != NULL &&
	    strcmp(lname(doc->root), "Envelope") != 0) {
		st->events++;
		if ((st->stopped = st->cb(doc->root, st->arg)) != 0) {
			snprintf(err, errlen, "stopped");
			goto fail;
		}
	}
	return doc;
fail:
	vim_doc_free(doc);
	return NULL;
}

int
vim_stream_stopped(const struct vim_stream *st)
{
	return st->stopped;
}

size_t
vim_stream_events(const struct vim_stream *st)
{
	return st->events;
}

size_t
vim_stream_replaced(const struct vim_stream *st)
{
	return st->replaced;
}

void
vim_stream_free(struct vim_stream *st)
{
	if (st == NULL)
		return;
	XML_ParserFree(st->p);	/* NULL: nothing */
	vim_doc_free(st->doc);
	arena_reset(&st->evarena, 0);
	ns_pop(st, 0);
	free(st->ns);
	vp_buf_free(&st->text);
	vp_buf_free(&st->pend);
	vp_buf_free(&st->scrub);
	free(st);
}

struct vim_doc *
vim_parse(const char *buf, size_t len, char *err, size_t errlen)
{
	struct vim_stream *st;
	struct vim_doc *doc;

	if (len > (size_t)INT32_MAX) {
		snprintf(err, errlen, "document too large");
		return NULL;
	}
	if ((st = vim_stream_new(NULL, NULL)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (XML_Parse(st->p, buf, (int)len, 1) != XML_STATUS_OK)
		push_error(st, 1);
	st->ended = 1;
	doc = vim_stream_end(st, err, errlen);
	vim_stream_free(st);
	return doc;
}

struct walk {
	int (*cb)(struct vim_node *, void *);
	void *arg;
	int found;
};

static int
walk_events(struct vim_node *n, struct walk *w, int depth)
{
	const char *nm = lname(n), *t;
	size_t l = strlen(nm);
	const char *want = NULL;
	struct vim_node *k;
	int rc;

	if (l >= 14 && strcmp(nm + l - 14, "EventsResponse") == 0)
		want = "returnval";
	else if ((t = vim_node_xsi_type(n)) != NULL &&
	    strcmp(t, "ArrayOfEvent") == 0)
		want = "Event";
	for (k = n->children; k != NULL; k = k->next) {
		if (k->type != VIM_ELEMENT)
			continue;
		if (want != NULL) {
			if (strcmp(lname(k), want) != 0)
				continue;
			w->found = 1;
			if ((rc = w->cb(k, w->arg)) != 0)
				return rc;
		} else if (depth < 256 && (rc = walk_events(k, w, depth + 1)) != 0)
			return rc;
	}
	if (want != NULL)
		w->found = 1;
	return 0;
}

int
vim_foreach_event(struct vim_node *root,
    int (*cb)(struct vim_node *ev, void *arg), void *arg)
{
	struct walk w = { cb, arg, 0 };
	int rc;

	if (root == NULL)
		return 0;
	if ((rc = walk_events(root, &w, 0)) != 0)
		return rc;
	if (!w.found && strcmp(lname(root), "Envelope") != 0)
		return cb(root, arg);
	return 0;
}

const char *
vim_expat_version(void)
{
	static char ver[80];
	XML_Expat_Version v = XML_ExpatVersionInfo();	/* at run time */

	snprintf(ver, sizeof(ver), "libexpat %d.%d.%d", v.major, v.minor,
	    v.micro);
	return ver;
}
