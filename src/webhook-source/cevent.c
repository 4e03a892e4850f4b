/*
 * cevent.c: CloudEvents 1.0 HTTP binding (binary and structured mode) to the
 * JSON event format.  The rules follow the CloudEvents HTTP protocol binding
 * and JSON format specifications: header values are percent-decoded UTF-8,
 * attribute names are [a-z0-9]+, JSON data is carried as a JSON value.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cevent.h"
#include "vp.h"

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
ce_base64_encode(const unsigned char *p, size_t n)
{
	char *out = vp_xmalloc((n + 2) / 3 * 4 + 1), *o = out;
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		*o++ = b64[p[i] >> 2];
		*o++ = b64[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		*o++ = b64[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
		*o++ = b64[p[i + 2] & 63];
	}
	if (i < n) {
		*o++ = b64[p[i] >> 2];
		if (i + 1 < n) {
			*o++ = b64[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
			*o++ = b64[(p[i + 1] & 15) << 2];
		} else {
			*o++ = b64[(p[i] & 3) << 4];
			*o++ = '=';
		}
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

static int
b64val(int c)
{
	const char *p = c ? strchr(b64, c) : NULL;

	return p ? (int)(p - b64) : -1;
}

int
ce_base64_decode(const char *s, size_t n, unsigned char **out, size_t *outlen)
{
	unsigned char *o;
	size_t i, k = 0;
	unsigned acc = 0;
	int bits = 0, pad = 0;

	o = vp_xmalloc(n / 4 * 3 + 3);
	for (i = 0; i < n; i++) {
		int v;

		if (s[i] == '=') {
			pad++;
			continue;
		}
		if (pad || (v = b64val((unsigned char)s[i])) < 0) {
			free(o);
			return -1;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[k++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (pad > 2 || (n > 0 && (n % 4) != 0 && pad)) {
		free(o);
		return -1;
	}
	*out = o;
	*outlen = k;
	return 0;
}

int
ce_media_is(const char *ct, const char *want)
{
	size_t n = strlen(want);

	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, want, n) != 0)
		return 0;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

int
ce_media_is_json(const char *ct)
{
	const char *end;

	if (ce_media_is(ct, "application/json") || ce_media_is(ct, "text/json"))
		return 1;
	end = strchr(ct, ';');
	if (end == NULL)
		end = ct + strlen(ct);
	while (end > ct && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	return end - ct > 5 && strncasecmp(end - 5, "+json", 5) == 0;
}

static int
media_is_text(const char *ct)
{
	const char *end;

	if (strncasecmp(ct, "text/", 5) == 0 ||
	    ce_media_is(ct, "application/xml"))
		return 1;
	end = strchr(ct, ';');
	if (end == NULL)
		end = ct + strlen(ct);
	return end - ct > 4 && strncasecmp(end - 4, "+xml", 4) == 0;
}

static int
valid_name(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s)))
			return 0;
	return 1;
}

/*
 * Percent-decode a header value.  A '%' not followed by two hex digits is
 * kept as it is: senders such as the CloudEvents JavaScript SDK do not encode
 * at all, and their values must not be rejected or mangled.
 */
static char *
pct_decode(const char *in)
{
	size_t n = strlen(in), k = 0;
	char *o = vp_xmalloc(n + 1);

	for (size_t i = 0; i < n; i++) {
		if (in[i] == '%' && i + 2 < n &&
		    isxdigit((unsigned char)in[i + 1]) &&
		    isxdigit((unsigned char)in[i + 2])) {
			char hex[3] = { in[i + 1], in[i + 2], '\0' };

			o[k++] = (char)strtol(hex, NULL, 16);
			i += 2;
		} else
			o[k++] = in[i];
	}
	o[k] = '\0';
	return o;
}

/*
 * HTTP header bytes outside ASCII are ISO-8859-1 (RFC 7230 obs-text), and
 * that is what Node.js sends for an unencoded "é": a raw value that is not
 * UTF-8 is read as Latin-1.  Percent-encoded bytes are UTF-8 by the binding.
 */
static char *
latin1_to_utf8(const char *in)
{
	json_t *probe = json_string(in);
	size_t n = strlen(in), k = 0;
	char *o;

	if (probe) {
		json_decref(probe);
		return vp_xstrdup(in);
	}
	o = vp_xmalloc(2 * n + 1);
	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		if (*p < 0x80)
			o[k++] = (char)*p;
		else {
			o[k++] = (char)(0xc0 | (*p >> 6));
			o[k++] = (char)(0x80 | (*p & 0x3f));
		}
	}
	o[k] = '\0';
	return o;
}

/* The eventkey extension is an integer in the JSON format (see formats(5)). */
static json_t *
eventkey_value(const char *s)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s && *end == '\0' && errno == 0 && !isspace((unsigned char)*s) &&
	    *s != '+')
		return json_integer(v);
	return json_string(s);
}

int
ce_from_binary(const struct ce_header *h, size_t nh, const char *body,
    size_t len, json_t **out, char *err, size_t errlen)
{
	static const char *const required[] = { "specversion", "id", "source",
	    "type" };
	json_t *ev = json_object(), *attrs = json_object(), *v;
	const char *ct = NULL, *key;
	size_t i;

	for (i = 0; i < nh; i++) {
		char name[64], *val;
		size_t nl = strlen(h[i].name);

		if (strcasecmp(h[i].name, "content-type") == 0) {
			ct = h[i].value;
			continue;
		}
		if (nl <= 3 || strncasecmp(h[i].name, "ce-", 3) != 0)
			continue;
		if (nl - 3 >= sizeof(name)) {
			snprintf(err, errlen, "header %s: attribute name too long",
			    h[i].name);
			goto bad;
		}
		for (size_t j = 3; j <= nl; j++)
			name[j - 3] = (char)tolower((unsigned char)h[i].name[j]);
		if (!valid_name(name)) {
			snprintf(err, errlen, "header %s: attribute names are "
			    "lower-case letters and digits", h[i].name);
			goto bad;
		}
		if (json_object_get(attrs, name)) {
			snprintf(err, errlen, "header %s given twice", h[i].name);
			goto bad;
		}
		{
			char *raw = latin1_to_utf8(h[i].value);

			val = pct_decode(raw);
			free(raw);
		}
		v = strcmp(name, "eventkey") == 0 ? eventkey_value(val) :
		    json_string(val);
		free(val);
		if (v == NULL) {
			snprintf(err, errlen, "header %s: not valid UTF-8 "
			    "after percent-decoding",
			    h[i].name);
			goto bad;
		}
		json_object_set_new(attrs, name, v);
	}
	if (json_object_get(attrs, "specversion") == NULL) {
		snprintf(err, errlen, "missing ce-specversion header");
		goto bad;
	}
	/* required attributes first, then the rest in header order */
	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if ((v = json_object_get(attrs, required[i])) == NULL) {
			snprintf(err, errlen, "missing ce-%s header", required[i]);
			goto bad;
		}
		json_object_set(ev, required[i], v);
	}
	json_object_foreach(attrs, key, v)
		if (json_object_get(ev, key) == NULL)
			json_object_set(ev, key, v);
	if (json_object_get(ev, "datacontenttype")) {
		snprintf(err, errlen, "ce-datacontenttype is not allowed in "
		    "binary mode (Content-Type carries it)");
		goto bad;
	}
	if (ct && *ct)
		json_object_set_new(ev, "datacontenttype", json_string(ct));
	if (len > 0) {
		json_error_t jerr;
		int is_json = ct == NULL || *ct == '\0' || ce_media_is_json(ct);

		v = NULL;
		if (is_json) {
			v = json_loadb(body, len, JSON_DECODE_ANY |
			    JSON_ALLOW_NUL, &jerr);
			/* without a Content-Type non-JSON bodies are bytes */
			if (v == NULL && ct && *ct) {
				snprintf(err, errlen, "body is not valid JSON: "
				    "%s at line %d column %d", jerr.text,
				    jerr.line, jerr.column);
				goto bad;
			}
		} else if (media_is_text(ct))
			v = json_stringn(body, len);
		if (v)
			json_object_set_new(ev, "data", v);
		else {
			char *enc = ce_base64_encode((const unsigned char *)body,
			    len);
			json_object_set_new(ev, "data_base64", json_string(enc));
			free(enc);
		}
	}
	json_decref(attrs);
	if (ce_validate(ev, err, errlen) != 0) {
		json_decref(ev);
		return 400;
	}
	*out = ev;
	return 0;
bad:
	json_decref(attrs);
	json_decref(ev);
	return 400;
}

void
ce_fix_eventkey(json_t *ev)
{
	json_t *k = json_object_get(ev, "eventkey");

	if (json_is_string(k))
		json_object_set_new(ev, "eventkey",
		    eventkey_value(json_string_value(k)));
}

int
ce_validate(json_t *ev, char *err, size_t errlen)
{
	static const char *const required[] = { "id", "source", "type" };
	const char *key;
	json_t *v;
	int64_t sec;
	int32_t nsec;

	if (!json_is_object(ev)) {
		snprintf(err, errlen, "a CloudEvent is a JSON object");
		return 400;
	}
	v = json_object_get(ev, "specversion");
	if (!json_is_string(v)) {
		snprintf(err, errlen, "missing specversion");
		return 400;
	}
	if (strcmp(json_string_value(v), "1.0") != 0) {
		snprintf(err, errlen, "unsupported specversion \"%.32s\" "
		    "(only 1.0)", json_string_value(v));
		return 400;
	}
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		v = json_object_get(ev, required[i]);
		if (!json_is_string(v) || json_string_length(v) == 0) {
			snprintf(err, errlen, "missing or empty %s", required[i]);
			return 400;
		}
	}
	if (json_object_get(ev, "data") && json_object_get(ev, "data_base64")) {
		snprintf(err, errlen, "data and data_base64 both present");
		return 400;
	}
	json_object_foreach(ev, key, v) {
		if (strcmp(key, "data") == 0)
			continue;
		if (!valid_name(key) && strcmp(key, "data_base64") != 0) {
			snprintf(err, errlen, "attribute \"%.40s\": names are "
			    "lower-case letters and digits", key);
			return 400;
		}
		if (json_is_null(v))
			continue;	/* the JSON format allows null for absent */
		if (strcmp(key, "time") == 0 && (!json_is_string(v) ||
		    vp_parse_rfc3339(json_string_value(v), &sec, &nsec) != 0)) {
			snprintf(err, errlen, "time is not an RFC 3339 timestamp");
			return 400;
		}
		if ((strcmp(key, "subject") == 0 ||
		    strcmp(key, "datacontenttype") == 0 ||
		    strcmp(key, "dataschema") == 0 ||
		    strcmp(key, "data_base64") == 0) && !json_is_string(v)) {
			snprintf(err, errlen, "%s must be a string", key);
			return 400;
		}
		if (json_is_object(v) || json_is_array(v)) {
			snprintf(err, errlen, "attribute \"%.40s\": extension "
			    "values are strings, numbers or booleans", key);
			return 400;
		}
	}
	return 0;
}
