/*
 * encode.h: one input line in, one CloudEvent line out.
 *
 * Kept apart from main.c so the fuzz target drives exactly the code the
 * program runs.
 */
#ifndef CE_ENCODE_H
#define CE_ENCODE_H

#include <stddef.h>

#include "json.h"
#include "vp.h"

enum ce_mode { CE_STRUCTURED, CE_BINARY };
enum ce_style { CE_ROUTER, CE_VSPHERE };
enum ce_idmode { CE_ID_V5, CE_ID_UUID, CE_ID_KEY };
enum ce_payload { CE_PAYLOAD_JSON, CE_PAYLOAD_XML };	/* raw lines' data */

#define CE_MAX_MEMBERS 512	/* top-level members or headers per line */

struct ce_set {			/* one --set NAME=VALUE */
	const char *name;
	const char *value;
};

struct ce_config {
	enum ce_mode mode;
	enum ce_style style;
	enum ce_idmode id;
	enum ce_payload payload;
	const char *source;	/* --source, or NULL for the line's vcenter */
	const struct ce_set *set;
	size_t nset;
};

struct ce_member {
	size_t noff, nlen;	/* name in names */
	struct js_span v;
};

struct ce_str {			/* a decoded string in strs; set when present */
	size_t off, len;
	int set;
};

enum ce_ext_kind { EXT_STRING, EXT_LITERAL };	/* literal: integer, boolean */

struct ce_ext {
	size_t noff, nlen;	/* in strs */
	enum ce_ext_kind kind;
	size_t voff, vlen;	/* in strs */
};

enum ce_data { DATA_NONE, DATA_JSON, DATA_BASE64 };

struct ce_encoder {
	const struct ce_config *cfg;
	struct vp_buf out;	/* the output line after ce_encode_line */
	char err[256];		/* why the line was rejected */
	/* per-line scratch, reused so steady state allocates nothing */
	struct vp_buf names, strs, name, tmp, body, data;
	struct vp_buf ebody;	/* binary output body; data may point into body */
	struct ce_member *m;
	size_t nm, cap_m;
	struct ce_ext *ext;
	size_t next, cap_ext;
	struct ce_str id, source, type, subject, time, dct, dataschema;
	enum ce_data dkind;
	const char *dp;		/* data text: JSON, or base64 without quotes */
	size_t dlen;
	int dstring;		/* DATA_JSON holds a JSON string */
};

enum ce_result { CE_OK = 0, CE_SKIP = 1, CE_BAD = -1 };

void ce_encoder_init(struct ce_encoder *e, const struct ce_config *cfg);
void ce_encoder_free(struct ce_encoder *e);
/*
 * Encode one line (no newline). CE_OK: e->out holds the output line.
 * CE_SKIP: a blank line, nothing to write. CE_BAD: e->err says why.
 */
enum ce_result ce_encode_line(struct ce_encoder *e, const char *line,
    size_t len);

/* Extension name rule: [a-z0-9]{1,20}. */
int ce_ext_name_ok(const char *s, size_t n);
/* Only RFC 3986 characters (a light URI-reference check for source). */
int ce_uri_ok(const char *s, size_t n);
/* Names --set may not use: the spec's attributes and eventkey. */
int ce_name_reserved(const char *s, size_t n);

#endif
