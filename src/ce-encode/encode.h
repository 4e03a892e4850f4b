/*
 * encode.h: one input line in, one CloudEvent line out.
 *
 * Kept apart from main.c so the fuzz target drives exactly the code the
 * program runs. Lines that already are CloudEvents are read by src/lib/ce.c,
 * as every other stage reads them; raw event lines are ce-encode's own.
 */
#ifndef CE_ENCODE_H
#define CE_ENCODE_H

#include <stddef.h>

#include "ce.h"
#include "vp.h"

enum ce_mode { CE_STRUCTURED, CE_BINARY };
enum ce_style { CE_ROUTER, CE_VSPHERE };
enum ce_idmode { CE_ID_V5, CE_ID_UUID, CE_ID_KEY };
enum ce_payload { CE_PAYLOAD_JSON, CE_PAYLOAD_XML, CE_PAYLOAD_CONNECTOR };	/* raw lines' data */

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

struct ce_encoder {
	const struct ce_config *cfg;
	struct vp_buf out;	/* the output line after ce_encode_line */
	char err[256];		/* why the line was rejected */
	struct ce_event ev;	/* the event, reused line after line */
	struct vp_buf tmp;
};

enum enc_result { ENC_OK = 0, ENC_SKIP = 1, ENC_BAD = -1 };

void ce_encoder_init(struct ce_encoder *e, const struct ce_config *cfg);
void ce_encoder_free(struct ce_encoder *e);
/*
 * Encode one line (no newline). ENC_OK: e->out holds the output line.
 * ENC_SKIP: a blank line, nothing to write. ENC_BAD: e->err says why.
 */
enum enc_result ce_encode_line(struct ce_encoder *e, const char *line,
    size_t len);

#endif
