/* ndjson.c: one whole record per line, flushed per line. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

enum vp_line_status
vp_read_line(struct vp_linereader *r, size_t *len)
{
	size_t n = 0;
	int toolong = 0, c, any = 0;

	if (r->buf == NULL) {
		r->cap = 4096;
		r->buf = vp_xmalloc(r->cap);
	}
	for (;;) {
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
	if (fwrite(s, 1, len, fp) != len || putc('\n', fp) == EOF ||
	    fflush(fp) == EOF) {
		if (errno == 0)
			errno = EIO;
		return -1;
	}
	return 0;
}

int
vp_close_stdout(void)
{
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
