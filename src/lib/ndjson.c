/* ndjson.c: one whole record per line, flushed per line. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "vp.h"

void
vp_linereader_init(struct vp_linereader *r, FILE *fp, size_t max)
{
	memset(r, 0, sizeof(*r));
	r->fp = fp;
	r->max = max;
}

void
vp_linereader_free(struct vp_linereader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->cap = 0;
}

int
vp_input_buffered(FILE *fp)
{
#ifdef __GLIBC__
	return fp->_IO_read_ptr < fp->_IO_read_end;
#else
	(void)fp;
	return 1;
#endif
}

/*
 * Wait until fp has input (buffered or on its descriptor); 0 when a stop
 * was requested first.  When stdio's buffer cannot be seen the read goes
 * ahead (and a stop during it is seen through EINTR as before).
 */
static int
wait_input(FILE *fp)
{
	struct pollfd pfd = { fileno(fp), POLLIN, 0 };

	if (vp_input_buffered(fp))
		return 1;
	while (vp_poll(&pfd, 1, -1) < 0) {
		if (errno != EINTR)
			return 1;	/* the read reports it */
		if (vp_stop_requested)
			return 0;
	}
	return 1;
}

enum vp_line_status
vp_read_line(struct vp_linereader *r, size_t *len)
{
	size_t n = 0;
	int toolong = 0, c, any = 0;

	if (r->buf == NULL) {
		r->cap = 4096;
		r->buf = vp_xmalloc(r->cap);
	}
	if (!wait_input(r->fp))
		return VP_LINE_EOF;
	for (;;) {
#ifdef __GLIBC__
		/* what stdio holds, a chunk at a time: one memchr and one copy
		 * where a character at a time cost ~20 instructions a byte */
		char *p = r->fp->_IO_read_ptr, *end = r->fp->_IO_read_end;

		if (p < end) {
			char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t k = (size_t)((nl ? nl : end) - p);

			any = 1;
			r->fp->_IO_read_ptr = nl ? nl + 1 : end;
			if (!toolong && n + k > r->max) {
				k = r->max - n;
				toolong = 1;
			} else if (toolong)
				k = 0;
			if (n + k + 1 > r->cap) {
				while (n + k + 1 > r->cap)
					r->cap *= 2;
				r->buf = vp_xrealloc(r->buf, r->cap);
			}
			memcpy(r->buf + n, p, k);
			n += k;
			if (nl)
				break;
			continue;
		}
#endif
		c = getc_unlocked(r->fp);
		if (c == EOF) {
			if (ferror(r->fp)) {
				if (errno == EINTR && !vp_stop_requested) {
					clearerr(r->fp);
					continue;
				}
				if (errno == EINTR) {
					/* stop requested while idle: a clean end */
					if (!any)
						return VP_LINE_EOF;
					clearerr(r->fp);
					continue;
				}
				return VP_LINE_ERROR;
			}
			if (!any)
				return VP_LINE_EOF;
			if (r->whole_lines) {
				r->lineno++;
				*len = n;
				return VP_LINE_TORN;
			}
			break;
		}
		any = 1;
		if (c == '\n')
			break;
		if (toolong)
			continue;
		if (n >= r->max) {
			toolong = 1;
			continue;
		}
		if (n + 1 >= r->cap) {
			r->cap *= 2;
			r->buf = vp_xrealloc(r->buf, r->cap);
		}
		r->buf[n++] = (char)c;
	}
	r->lineno++;
	r->buf[n] = '\0';
	if (n > 0 && r->buf[n - 1] == '\r')
		r->buf[--n] = '\0';
	*len = n;
	return toolong ? VP_LINE_TOOLONG : VP_LINE_OK;
}

int
vp_write_line(FILE *fp, const char *s, size_t len)
{
	struct iovec iov[2] = { { (void *)s, len }, { (void *)"\n", 1 } };
	struct iovec *v = iov;
	int left = 2;

	if (fflush(fp) == EOF) {
		if (errno == 0)
			errno = EIO;
		return -1;
	}
	while (left > 0) {
		ssize_t w = writev(fileno(fp), v, left);

		if (w < 0) {
			if (errno == EINTR)
				continue;	/* finish the line; the caller sees the stop */
			if (errno == EAGAIN) {
				struct pollfd pfd = { fileno(fp), POLLOUT, 0 };

				poll(&pfd, 1, -1);
				continue;
			}
			return -1;
		}
		while (left > 0 && (size_t)w >= v->iov_len) {
			w -= (ssize_t)v->iov_len;
			v++;
			left--;
		}
		if (left > 0) {
			v->iov_base = (char *)v->iov_base + w;
			v->iov_len -= (size_t)w;
		}
	}
	return 0;
}

int
vp_close_stdout(void)
{
	if (vp_stdout_gone) {
		vp_error("stdout: the next stage is gone");
		return -1;
	}
	if (fflush(stdout) == EOF || ferror(stdout)) {
		if (errno == EPIPE)
			vp_error("stdout: the next stage is gone");
		else
			vp_error("stdout: %s", strerror(errno ? errno : EIO));
		return -1;
	}
	if (fclose(stdout) == EOF) {
		vp_error("stdout: %s", strerror(errno));
		return -1;
	}
	return 0;
}
