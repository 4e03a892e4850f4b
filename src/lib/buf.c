/* buf.c: growable byte buffer, checked allocation, string lists. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vp.h"

void *
vp_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		vp_die(VP_EXIT_SOFTWARE, "out of memory");
	return p;
}

void *
vp_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		vp_die(VP_EXIT_SOFTWARE, "out of memory");
	return q;
}

char *
vp_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = vp_xmalloc(n);

	memcpy(p, s, n);
	return p;
}

int
vp_buf_append(struct vp_buf *b, const void *p, size_t n)
{
	if (b->max && b->len + n > b->max) {
		errno = EMSGSIZE;
		return -1;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		b->data = vp_xrealloc(b->data, cap);
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
vp_buf_printf(struct vp_buf *b, const char *fmt, ...)
{
	va_list ap;
	char small[512];
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof(small))
		return vp_buf_append(b, small, (size_t)n);
	{
		char *big = vp_xmalloc((size_t)n + 1);
		int rc;

		va_start(ap, fmt);
		vsnprintf(big, (size_t)n + 1, fmt, ap);
		va_end(ap);
		rc = vp_buf_append(b, big, (size_t)n);
		free(big);
		return rc;
	}
}

void
vp_buf_reset(struct vp_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void
vp_buf_free(struct vp_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void
vp_free_each(void *const *ptrs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(ptrs[i]);
}

int
vp_str_in(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return 1;
	return 0;
}
