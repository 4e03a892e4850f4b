/*
 * backoff.c: backoff with full jitter and the retryable HTTP statuses: the
 * retry arithmetic every program shares, libc only (libvp.a), so that a
 * program that retries something other than HTTP (sink-amqp, amqp-source)
 * does not link libcurl for it.
 */
#include <stdlib.h>
#include <sys/random.h>

#include "vp.h"

static uint64_t
rand64(void)
{
	uint64_t v;

	if (getrandom(&v, sizeof(v), 0) != sizeof(v))
		v = (uint64_t)vp_now_ms() * 6364136223846793005ULL + 1;
	return v;
}

void
vp_backoff_init(struct vp_backoff *b, int64_t base_ms, int64_t cap_ms)
{
	b->base_ms = base_ms;
	b->cap_ms = cap_ms;
	b->attempt = 0;
}

void
vp_backoff_reset(struct vp_backoff *b)
{
	b->attempt = 0;
}

int64_t
vp_backoff_next(struct vp_backoff *b)
{
	int64_t ceil = b->base_ms;

	for (unsigned i = 0; i < b->attempt && ceil < b->cap_ms; i++)
		ceil *= 2;
	if (ceil > b->cap_ms)
		ceil = b->cap_ms;
	if (b->attempt < 64)
		b->attempt++;
	return ceil > 0 ? (int64_t)(rand64() % (uint64_t)(ceil + 1)) : 0;
}

int
vp_http_status_retryable(long status)
{
	return status == 0 || status == 408 || status == 429 ||
	    (status >= 500 && status != 501 && status < 600);
}
