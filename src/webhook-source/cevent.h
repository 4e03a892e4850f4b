/*
 * cevent.h: CloudEvents 1.0 over HTTP, turned into the structured JSON
 * format (vcpipe stream format 2).  Shared by webhook-source (requests on the
 * wire) and stream-serve (binary-mode lines, format 3).
 */
#ifndef CEVENT_H
#define CEVENT_H

#include <jansson.h>
#include <stddef.h>

struct ce_header {
	const char *name;	/* as received; compared case-insensitively */
	const char *value;
};

/*
 * Build a structured CloudEvent from binary-mode HTTP parts: every ce-*
 * header is an attribute (value percent-decoded), Content-Type becomes
 * datacontenttype, the body becomes data (a JSON value for JSON media types,
 * a string for text, data_base64 otherwise).  Returns 0 and the event in
 * *out, or an HTTP status (400) with a message in err.
 */
int ce_from_binary(const struct ce_header *h, size_t nh, const char *body,
    size_t len, json_t **out, char *err, size_t errlen);

/*
 * Check a structured-mode event: specversion "1.0", non-empty id, source and
 * type, RFC 3339 time, scalar extension values with valid names, not both
 * data and data_base64.  Returns 0, or 400 with a message in err.
 */
int ce_validate(json_t *ev, char *err, size_t errlen);

/* A string eventkey of decimal digits becomes the integer ce-encode writes. */
void ce_fix_eventkey(json_t *ev);

/* Nonzero when the media type (parameters ignored) is application/json,
 * text/json or anything ending in +json. */
int ce_media_is_json(const char *ct);

/* Compare a media type (parameters and case ignored) with want. */
int ce_media_is(const char *ct, const char *want);

/* Base64 (RFC 4648, padded).  Decode returns -1 on bad input. */
char *ce_base64_encode(const unsigned char *p, size_t n);
int ce_base64_decode(const char *s, size_t n, unsigned char **out,
    size_t *outlen);

#endif
