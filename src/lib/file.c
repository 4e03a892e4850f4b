/* file.c: atomic replacement, whole-file reads, synced appends. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vp.h"

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void
fsync_dir_of(const char *path)
{
	char *copy = vp_xstrdup(path);
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(copy);
}

/* Replace path whole: readers see the old or the new file, never a part;
 * durable: also on the disk before this returns (fsync of file and folder). */
static int
replace_file(const char *path, const char *data, size_t len, int durable)
{
	size_t n = strlen(path) + 32;
	char *tmp = vp_xmalloc(n);
	int fd, saved;

	snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
	/* 0600: checkpoints and state files name events */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto fail;
	if (write_all(fd, data, len) != 0 || (durable && fsync(fd) != 0)) {
		saved = errno;
		close(fd);
		unlink(tmp);
		errno = saved;
		goto fail;
	}
	if (close(fd) != 0 || rename(tmp, path) != 0) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		goto fail;
	}
	if (durable)
		fsync_dir_of(path);
	free(tmp);
	return 0;
fail:
	free(tmp);
	return -1;
}

int
vp_write_file_atomic(const char *path, const char *data, size_t len)
{
	return replace_file(path, data, len, 1);
}

int
vp_write_file_replace(const char *path, const char *data, size_t len)
{
	return replace_file(path, data, len, 0);
}

char *
vp_read_file(const char *path, size_t max, size_t *lenp)
{
	FILE *fp = fopen(path, "rb");
	struct vp_buf b = { 0 };
	char chunk[8192];
	size_t n;

	if (fp == NULL)
		return NULL;
	b.max = max;
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		if (vp_buf_append(&b, chunk, n) != 0) {
			fclose(fp);
			vp_buf_free(&b);
			errno = EFBIG;
			return NULL;
		}
	if (ferror(fp)) {
		int saved = errno;
		fclose(fp);
		vp_buf_free(&b);
		errno = saved;
		return NULL;
	}
	fclose(fp);
	if (b.data == NULL)
		vp_buf_append(&b, "", 0);
	if (lenp)
		*lenp = b.len;
	return b.data;
}

int
vp_append_line_sync(const char *path, const char *line, size_t len)
{
	/* read-write: the last byte tells whether a crash tore a record */
	int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	int saved;
	off_t end;
	char last = '\n', *rec;
	size_t n = 0;

	if (fd < 0)
		return -1;
	end = lseek(fd, 0, SEEK_END);
	if (end < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	/* a record torn by a crash gets its own line, not the next record */
	if (end > 0 && pread(fd, &last, 1, end - 1) != 1)
		last = '\n';
	rec = vp_xmalloc(len + 2);
	if (last != '\n')
		rec[n++] = '\n';
	memcpy(rec + n, line, len);
	n += len;
	rec[n++] = '\n';
	/* one write per record; all of it or none (a full disk) */
	if (write_all(fd, rec, n) != 0 || fsync(fd) != 0) {
		saved = errno;
		if (ftruncate(fd, end) == 0)
			(void)fsync(fd);
		free(rec);
		close(fd);
		errno = saved;
		return -1;
	}
	free(rec);
	if (close(fd) != 0)
		return -1;
	return 0;
}

int
vp_dir_of(char *path)
{
	char *slash = strrchr(path, '/');

	if (slash == NULL)
		strcpy(path, ".");
	else if (slash == path)
		path[1] = '\0';
	else
		*slash = '\0';
	return slash != NULL;
}
