/*
 * json.h: the one JSON scanner of vcpipe, and the codecs CloudEvents need
 * (UTF-8 validation, base64, percent-decoding).
 *
 * Stages copy most of each line (the event data) on unchanged, so instead
 * of building a tree the scanner validates the text once (RFC 8259 grammar,
 * UTF-8, no lone surrogates, bounded depth) and keeps pointers into it:
 * number literals, member order and repeated keys inside values stay byte
 * for byte, and memory use is independent of the data's shape. libc only.
 */
#ifndef VP_JSON_H
#define VP_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vp.h"

#define JS_MAX_DEPTH 512	/* below jansson's 2048, so every sink can parse it */

enum js_type { JS_NULL, JS_FALSE, JS_TRUE, JS_NUMBER, JS_STRING, JS_ARRAY,
	JS_OBJECT };

struct js {
	const char *p, *start, *end;
	char err[160];
	int depth;
	int ws;			/* whitespace seen inside the last value */
};

/* A value's raw text: [p, p + len), its type and whether it holds whitespace. */
struct js_span {
	const char *p;
	size_t len;
	enum js_type type;
	int ws;
	int integer;		/* number without fraction or exponent */
};

/* vp_buf_append with the common case (it fits) inlined: the output hot path. */
static inline void
js_put(struct vp_buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (b->len + n + 1 <= b->cap && b->max == 0) {
		memcpy(b->data + b->len, p, n);
		b->len += n;
		b->data[b->len] = '\0';
	} else
		vp_buf_append(b, p, n);
}

void js_init(struct js *j, const char *s, size_t len);
void js_skip_ws(struct js *j);
/* Validate the value at the cursor and describe it. 0, or -1 with j->err. */
int js_value(struct js *j, struct js_span *v);
/*
 * Object iteration: js_object_begin on '{', then js_object_next until it
 * returns 0 (end) or -1 (error). count starts at 0 and counts the members
 * seen. Each member's name is decoded into name (reset first) unless name
 * is NULL; key, unless NULL, receives the name's raw text with its quotes,
 * so a caller can cut members out of the text byte for byte.
 */
int js_object_begin(struct js *j);
int js_object_next(struct js *j, int *count, struct vp_buf *name,
    struct js_span *key, struct js_span *v);
/* Array iteration, the same way: js_array_begin on '[', js_array_next. */
int js_array_begin(struct js *j);
int js_array_next(struct js *j, int *count, struct js_span *v);
/* After the top-level value: only whitespace may follow. */
int js_end(struct js *j);

/* Decode a validated string span (with quotes) as UTF-8 into out (appends). */
void js_decode_string(const struct js_span *v, struct vp_buf *out);
/* Append the span with insignificant whitespace removed. */
void js_compact(const struct js_span *v, struct vp_buf *out);
/* Append s as a JSON string literal (quotes included). */
void js_quote(struct vp_buf *out, const char *s, size_t len);
/* Append s escaped for the inside of a JSON string literal. */
void js_escape(struct vp_buf *out, const char *s, size_t len);
/*
 * Append s as Go's encoding/json writes a string: <, > and & as \u003c...,
 * U+2028/U+2029 escaped, invalid UTF-8 as \ufffd. 0, or -1 (out->max).
 */
int js_quote_go(struct vp_buf *out, const char *s, size_t len);
/* Length of the valid UTF-8 sequence at p, its rune in *r (Go's utf8.DecodeRune); 0 if invalid. */
size_t js_go_rune_len(const unsigned char *p, size_t n, uint32_t *r);

/*
 * Length of the valid UTF-8 prefix of s: n when all of s is valid (no
 * overlong forms, surrogates or code points past U+10FFFF).
 */
size_t vp_utf8_valid_prefix(const char *s, size_t n);

/* Base64 (RFC 4648 section 4, padded). decode: -1 on malformed input. */
void vp_b64_encode(struct vp_buf *out, const void *p, size_t n);
int vp_b64_decode(struct vp_buf *out, const char *s, size_t n);

/*
 * Percent-decoding (RFC 3986 2.1, as the CloudEvents HTTP binding uses it
 * for header values), appended to out. Strict: a '%' not followed by two
 * hex digits is an error. Lenient: such a '%' stands for itself. Either way
 * the decoded bytes must be UTF-8 (the binding: "encoded byte sequences
 * which are invalid in UTF-8 MUST be rejected"). 0, or -1 (out is then
 * undefined). Say at each call site why it is strict or lenient.
 */
enum vp_pct_mode { VP_PCT_LENIENT, VP_PCT_STRICT };
int vp_pct_decode(struct vp_buf *out, const char *s, size_t n,
    enum vp_pct_mode mode);

#endif
