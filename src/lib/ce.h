/*
 * ce.h: the CloudEvent line of vcpipe-formats(5), read one way everywhere.
 *
 * Every stage that takes CloudEvents reads them here: ce-encode's
 * passthrough, sink-http, sink-eventbridge, stream-serve and vcpipe-tap read
 * lines with ce_read, webhook-source reads HTTP requests with ce_read
 * (structured mode) and ce_from_http (binary mode). So a line has one
 * verdict in the whole pipeline, and one error message. The rules are
 * written down in vcpipe-formats(5), "Reading CloudEvent lines"; the table
 * test t/0310 holds every reader to them.
 *
 * Nothing is turned into a tree: attributes are decoded into one buffer,
 * data stays a pointer into the line (or into a scratch buffer when it had
 * to be compacted or decoded), so numbers of any size, member order and
 * repeated keys inside data pass byte for byte. Buffers are reused from one
 * line to the next: a reader that keeps one struct ce_event allocates
 * nothing in its steady state. libc only.
 */
#ifndef VP_CE_H
#define VP_CE_H

#include <stddef.h>

#include "json.h"
#include "vp.h"

#define CE_MAX_MEMBERS 512	/* top-level members or headers per event */

enum ce_result { CE_OK = 0, CE_NOT_CE = 1, CE_BAD = -1 };
enum ce_shape { CE_SHAPE_STRUCTURED, CE_SHAPE_BINARY };

struct ce_str {			/* decoded text in ev->strs; set when present */
	size_t off, len;
	int set;
};

enum ce_ext_kind { CE_EXT_STRING, CE_EXT_LITERAL };	/* literal: integer, boolean */

struct ce_ext {			/* an extension attribute; both parts in ev->strs */
	size_t noff, nlen;
	enum ce_ext_kind kind;
	size_t voff, vlen;
};

enum ce_data { CE_DATA_NONE, CE_DATA_JSON, CE_DATA_BASE64 };

struct ce_hdr {			/* a binary-mode header as written; in ev->hbuf */
	size_t noff, nlen;	/* name */
	size_t voff, vlen;	/* value (still percent-encoded) */
};

struct ce_member {		/* a top-level member of the line */
	size_t noff, nlen;	/* decoded name, in ev->names */
	struct js_span key, v;	/* raw text */
};

struct ce_http_header {		/* one header of an HTTP request */
	const char *name;	/* any case */
	const char *value;	/* raw bytes as received */
};

struct ce_event {
	char err[256];		/* why the line was refused */
	enum ce_shape shape;	/* which shape the line had */
	int object;		/* the line is a JSON object (even when refused) */
	/*
	 * A dead-letter record: the line carries a "deadletter" object, which
	 * is not part of the event. text is the line without that member,
	 * every other byte as it was; without one, text is the line itself.
	 */
	int record;
	struct js_span deadletter;	/* the member's value, in the line */
	const char *text;
	size_t text_len;
	/* attributes, decoded */
	struct ce_str id, source, type, subject, time, dct, dataschema;
	struct ce_ext *ext;	/* extensions in order */
	size_t next;
	int has_key;		/* the eventkey extension as an int32 */
	long key;
	/* data: JSON text, or base64 without quotes */
	enum ce_data dkind;
	const char *dp;
	size_t dlen;
	int dstring;		/* CE_DATA_JSON holds a JSON string */
	/* binary-mode lines and requests: headers as given, body decoded */
	struct ce_hdr *hdr;
	size_t nhdr;
	const char *body;
	size_t body_len;
	/* the line's members, for readers of other shapes (ce-encode) */
	struct ce_member *m;
	size_t nm;
	/* storage, reused from line to line */
	struct vp_buf strs, names, name, tmp, data, bodybuf, hbuf, textbuf,
	    ebody;
	size_t cap_m, cap_ext, cap_hdr;
};

/* a decoded string; strs.data is NULL until the first append */
#define CE_S(ev, s) ((ev)->strs.data ? (ev)->strs.data + (s).off : "")

/* Ready for reading; a zeroed struct (a static one) is ready as it is. */
void ce_event_init(struct ce_event *ev);
void ce_event_free(struct ce_event *ev);

/* Only the structured shape (an HTTP body of application/cloudevents+json). */
#define CE_READ_STRUCTURED 1

/*
 * Read one line (no newline; blank lines are the caller's business).
 * CE_OK: an event, in structured or binary shape. CE_BAD: refused, ev->err
 * says why. CE_NOT_CE: a JSON object in neither shape (ev->err says so;
 * ce-encode reads it as a raw event line through ce_member).
 */
enum ce_result ce_read(struct ce_event *ev, const char *line, size_t len,
    unsigned flags);
/*
 * A binary-mode HTTP request: headers (others than ce-* and Content-Type
 * are ignored) and the body's bytes. CE_OK or CE_BAD.
 */
enum ce_result ce_from_http(struct ce_event *ev,
    const struct ce_http_header *h, size_t nh, const char *body, size_t len);

/*
 * What a dead-letter record may be built on: 1 with the text of a JSON
 * object that has no "deadletter" member (a record's own member taken
 * out), else 0 (the line is then kept as a string).
 */
int ce_record_text(const struct ce_event *ev, const char **p, size_t *n);

/* Write the event as one structured-mode line (appends to out). */
void ce_write_structured(struct ce_event *ev, struct vp_buf *out);
/* As one binary-mode line; CE_BAD when binary mode cannot carry the data. */
enum ce_result ce_write_binary(struct ce_event *ev, struct vp_buf *out);

/* A copy of a decoded attribute as a C string, or NULL when it is absent. */
char *ce_strdup(const struct ce_event *ev, const struct ce_str *s);
/*
 * The field of a context attribute by its name (id, source, type, subject,
 * time, dataschema, datacontenttype), or NULL: specversion, data and
 * extensions have none.
 */
struct ce_str *ce_attr(struct ce_event *ev, const char *name, size_t len);

/* ---- building events (ce-encode: raw lines, --set, --source) -------------- */

/* The member of that name of the line last read, or NULL. */
const struct js_span *ce_member(const struct ce_event *ev, const char *name);
/* Forget the attributes and data (the line's members stay). */
void ce_clear(struct ce_event *ev);
void ce_set_str(struct ce_event *ev, struct ce_str *s, const char *p,
    size_t n);
/*
 * A string member into s: required (error when absent), optional (absent or
 * null is fine); not empty unless allow_empty; never holding NUL.
 */
enum ce_result ce_get_string(struct ce_event *ev, const char *name,
    struct ce_str *s, int required, int allow_empty);
void ce_add_ext(struct ce_event *ev, const char *name, size_t nlen,
    enum ce_ext_kind kind, const char *val, size_t vlen);
/* Set a string extension, replacing one of that name (it moves to the end). */
void ce_set_ext(struct ce_event *ev, const char *name, const char *val);
/* Point the data at a validated JSON value, compacted if needed. */
void ce_set_json_data(struct ce_event *ev, const struct js_span *v);
enum ce_result ce_bad(struct ce_event *ev, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- the rules, also for checking options --------------------------------- */

/* Extension attribute names: [a-z0-9]+ (CloudEvents 1.0 "MUST"). */
int ce_ext_name_ok(const char *s, size_t n);
/* Names an extension may not have: the spec's attributes, eventkey, deadletter. */
int ce_name_reserved(const char *s, size_t n);
/* Only RFC 3986 characters (a light URI-reference check). */
int ce_uri_ok(const char *s, size_t n);
/* RFC 3339 with an upper-case 'T', as JSON Schema's date-time wants. */
int ce_time_ok(const char *s, size_t n);
/* A canonical decimal int32 (no sign but '-', no leading zeros). */
int ce_int32(const char *p, size_t n, long *out);
/* Media types, parameters and case ignored. */
int ce_media_is(const char *s, size_t n, const char *want);
int ce_media_is_json(const char *s, size_t n);	/* JSON, text/json, +json */

#endif
