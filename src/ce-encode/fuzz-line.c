/*
 * fuzz-line.c: libFuzzer target for ce-encode's line parser and encoder.
 * Every input is encoded in each mode and type style; whatever is accepted
 * must come out as a line ce-encode itself accepts again (a CloudEvent
 * re-encodes to the same bytes in the same mode), and binary-mode output
 * must be percent-encoded to the letter.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Every ce- header ce-encode writes decodes strictly: readers are lenient
 * with a '%' that starts no escape (vcpipe-formats(5)), so only a strict
 * decode notices an encoder that forgot to encode one.
 */
static void
check_binary(const char *line, size_t len)
{
	struct ce_event ev;
	struct vp_buf b = { 0 };

	ce_event_init(&ev);
	if (ce_read(&ev, line, len, 0) != CE_OK)
		abort();
	for (size_t i = 0; i < ev.nhdr; i++) {
		const char *n = ev.hbuf.data + ev.hdr[i].noff;

		if (ev.hdr[i].nlen < 3 || memcmp(n, "ce-", 3) != 0)
			continue;
		vp_buf_reset(&b);
		if (vp_pct_decode(&b, ev.hbuf.data + ev.hdr[i].voff,
		    ev.hdr[i].vlen, VP_PCT_STRICT) != 0)
			abort();
	}
	vp_buf_free(&b);
	ce_event_free(&ev);
}

static const struct ce_set sets[] = { { "team", "ops \"blue\" \xc3\xa9" } };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ce_config cfg = { .mode = CE_STRUCTURED, .style = CE_ROUTER,
	    .id = CE_ID_V5 };
	struct ce_encoder e, again;
	char *line;

	/* lines never hold a newline: the reader splits on it */
	if (memchr(data, '\n', size) != NULL)
		return 0;
	line = malloc(size ? size : 1);
	memcpy(line, data, size);
	for (int v = 0; v < 8; v++) {
		cfg.mode = v & 1 ? CE_BINARY : CE_STRUCTURED;
		cfg.style = v & 2 ? CE_VSPHERE : CE_ROUTER;
		cfg.set = v & 4 ? sets : NULL;
		cfg.nset = v & 4 ? 1 : 0;
		cfg.source = v == 5 ? "urn:vcpipe:fuzz" : NULL;
		cfg.payload = v == 6 ? CE_PAYLOAD_XML : CE_PAYLOAD_JSON;
		ce_encoder_init(&e, &cfg);
		if (ce_encode_line(&e, line, size) == ENC_OK) {
			if (cfg.mode == CE_BINARY)
				check_binary(e.out.data, e.out.len);
			ce_encoder_init(&again, &cfg);
			if (ce_encode_line(&again, e.out.data, e.out.len) != ENC_OK)
				abort();
			if (again.out.len != e.out.len ||
			    memcmp(again.out.data, e.out.data, e.out.len) != 0)
				abort();
			ce_encoder_free(&again);
		}
		ce_encoder_free(&e);
	}
	free(line);
	return 0;
}
