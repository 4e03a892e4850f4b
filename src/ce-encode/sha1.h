/* sha1.h: SHA-1 (FIPS 180-4) for name-based UUIDs, and UUID formatting. */
#ifndef CE_SHA1_H
#define CE_SHA1_H

#include <stddef.h>
#include <stdint.h>

struct sha1 {
	uint32_t h[5];
	uint64_t len;		/* bytes hashed so far */
	unsigned char blk[64];
	size_t n;		/* bytes waiting in blk */
};

void sha1_init(struct sha1 *c);
void sha1_update(struct sha1 *c, const void *p, size_t n);
void sha1_final(struct sha1 *c, unsigned char out[20]);

/* UUID version 5 (RFC 9562 5.5): SHA-1 over namespace || name. */
void uuid_v5(const unsigned char ns[16], const void *name, size_t n,
    unsigned char out[16]);
/* UUID version 4 from the kernel's random source: 0, or -1 with errno. */
int uuid_v4(unsigned char out[16]);
/* Format as 36 lower-case characters plus NUL. */
void uuid_format(const unsigned char u[16], char out[37]);

#endif
