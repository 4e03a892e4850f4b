/*
 * fuzz-replay.c: run the fuzz target over corpus files without libFuzzer,
 * so the corpus is replayed by every build (gcc included).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "vp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
main(int argc, char **argv)
{
	vp_log_init(argv[0]);
	for (int i = 1; i < argc; i++) {
		size_t len;
		char *p = vp_read_file(argv[i], 16 * 1024 * 1024, &len);

		if (p == NULL) {
			perror(argv[i]);
			return VP_EXIT_NOINPUT;
		}
		LLVMFuzzerTestOneInput((const uint8_t *)p, len);
		free(p);
	}
	printf("%d inputs replayed\n", argc - 1);
	return 0;
}
