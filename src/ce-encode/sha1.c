/*
 * sha1.c: SHA-1 written from FIPS 180-4, so ce-encode needs no crypto library
 * for its deterministic ids (libcurl's TLS backend is not ours to rely on).
 * SHA-1's collision weakness does not matter here: the ids name events, they
 * do not authenticate them.
 */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "sha1.h"

#define ROL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))

static void
sha1_block(struct sha1 *c, const unsigned char *p)
{
	uint32_t w[80], a, b, d, e, t, cc;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		    (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (; i < 80; i++)
		w[i] = ROL(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	a = c->h[0];
	b = c->h[1];
	cc = c->h[2];
	d = c->h[3];
	e = c->h[4];
	/* four loops rather than a branch per round */
#define ROUND(f, k) do {						\
		t = ROL(a, 5) + (f) + e + (k) + w[i];			\
		e = d;							\
		d = cc;							\
		cc = ROL(b, 30);					\
		b = a;							\
		a = t;							\
	} while (0)
	for (i = 0; i < 20; i++)
		ROUND((b & cc) | (~b & d), 0x5a827999);
	for (; i < 40; i++)
		ROUND(b ^ cc ^ d, 0x6ed9eba1);
	for (; i < 60; i++)
		ROUND((b & cc) | (b & d) | (cc & d), 0x8f1bbcdc);
	for (; i < 80; i++)
		ROUND(b ^ cc ^ d, 0xca62c1d6);
#undef ROUND
	c->h[0] += a;
	c->h[1] += b;
	c->h[2] += cc;
	c->h[3] += d;
	c->h[4] += e;
}

void
sha1_init(struct sha1 *c)
{
	c->h[0] = 0x67452301;
	c->h[1] = 0xefcdab89;
	c->h[2] = 0x98badcfe;
	c->h[3] = 0x10325476;
	c->h[4] = 0xc3d2e1f0;
	c->len = 0;
	c->n = 0;
}

void
sha1_update(struct sha1 *c, const void *data, size_t n)
{
	const unsigned char *p = data;

	c->len += n;
	while (n > 0) {
		size_t k = 64 - c->n < n ? 64 - c->n : n;
		memcpy(c->blk + c->n, p, k);
		c->n += k;
		p += k;
		n -= k;
		if (c->n == 64) {
			sha1_block(c, c->blk);
			c->n = 0;
		}
	}
}

void
sha1_final(struct sha1 *c, unsigned char out[20])
{
	uint64_t bits = c->len * 8;
	int i;

	c->blk[c->n++] = 0x80;
	if (c->n > 56) {
		memset(c->blk + c->n, 0, 64 - c->n);
		sha1_block(c, c->blk);
		c->n = 0;
	}
	memset(c->blk + c->n, 0, 56 - c->n);
	for (i = 0; i < 8; i++)
		c->blk[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
	sha1_block(c, c->blk);
	for (i = 0; i < 20; i++)
		out[i] = (unsigned char)(c->h[i / 4] >> (24 - 8 * (i % 4)));
}

void
uuid_v5(const unsigned char ns[16], const void *name, size_t n,
    unsigned char out[16])
{
	struct sha1 c;
	unsigned char d[20];

	sha1_init(&c);
	sha1_update(&c, ns, 16);
	sha1_update(&c, name, n);
	sha1_final(&c, d);
	memcpy(out, d, 16);
	out[6] = (out[6] & 0x0f) | 0x50;
	out[8] = (out[8] & 0x3f) | 0x80;
}

int
uuid_v4(unsigned char out[16])
{
	size_t got = 0;

	while (got < 16) {
		ssize_t r = getrandom(out + got, 16 - got, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)r;
	}
	out[6] = (out[6] & 0x0f) | 0x40;
	out[8] = (out[8] & 0x3f) | 0x80;
	return 0;
}

void
uuid_format(const unsigned char u[16], char out[37])
{
	static const char hex[] = "0123456789abcdef";
	char *o = out;

	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*o++ = '-';
		*o++ = hex[u[i] >> 4];
		*o++ = hex[u[i] & 15];
	}
	*o = '\0';
}
