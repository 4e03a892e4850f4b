/*
 * fuzz-line.c: libFuzzer target for ce-encode's line parser and encoder.
 * Every input is encoded in each mode and type style; whatever is accepted
 * must come out as a line ce-encode itself accepts again (a CloudEvent
 * re-encodes to the same bytes in the same mode).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct ce_set sets[] = { { "team", "ops \"blue\" \xc3\xa9" } };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ce_config cfg = { CE_STRUCTURED, CE_ROUTER, CE_ID_V5,
	    CE_PAYLOAD_JSON, NULL, NULL, 0 };
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
		if (ce_encode_line(&e, line, size) == CE_OK) {
			ce_encoder_init(&again, &cfg);
			if (ce_encode_line(&again, e.out.data, e.out.len) != CE_OK)
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
