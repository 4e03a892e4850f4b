/*
 * t/fs-shim.c: an LD_PRELOAD shim that makes part of the file system full or
 * read-only, for the tests of what the stages do then (t/0012, t/0608;
 * build_fs_shim in t/lib.sh builds it).
 * VP_FS_DIR=PREFIX: the paths it acts on (a directory or one file).
 * Full while VP_FS_FULL is set or VP_FS_FLAGS/full exists: VP_FS_ROOM more
 *   bytes fit (default 0), then write fails with ENOSPC; with VP_FS_FSYNC set
 *   every write fits and fsync fails with ENOSPC instead (delayed allocation).
 * Read-only while VP_FS_RO is set or VP_FS_FLAGS/ro exists: nothing under
 *   PREFIX is created or opened for writing, no directory made (EROFS).
 * The flag files switch a running program's file system (t/0608).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static long used;

static int
flag(const char *env, const char *name)
{
	const char *f = getenv("VP_FS_FLAGS");
	char p[4096];

	if (getenv(env))
		return 1;
	if (f == NULL)
		return 0;
	snprintf(p, sizeof(p), "%s/%s", f, name);
	return access(p, F_OK) == 0;
}

static int
under(const char *path)
{
	const char *d = getenv("VP_FS_DIR");

	return d && path && strncmp(path, d, strlen(d)) == 0;
}

static int
full(int fd)
{
	char link[64], path[4096];
	ssize_t n;

	if (fd <= 2 || !flag("VP_FS_FULL", "full"))
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, path, sizeof(path) - 1)) < 0)
		return 0;
	path[n] = '\0';
	return under(path);
}

static int
ro(const char *path)
{
	return under(path) && flag("VP_FS_RO", "ro");
}

ssize_t
write(int fd, const void *b, size_t n)
{
	static ssize_t (*real)(int, const void *, size_t);

	if (!real)
		real = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT,
		    "write");
	if (full(fd) && !getenv("VP_FS_FSYNC")) {
		const char *r = getenv("VP_FS_ROOM");
		long room = (r ? atol(r) : 0) - used;

		if (room <= 0) {
			errno = ENOSPC;
			return -1;
		}
		if ((long)n > room)
			n = (size_t)room;
		used += (long)n;
	}
	return real(fd, b, n);
}

int
fsync(int fd)
{
	static int (*real)(int);

	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	if (full(fd) && getenv("VP_FS_FSYNC")) {
		errno = ENOSPC;
		return -1;
	}
	return real(fd);
}

#define OPEN(name) \
int \
name(const char *path, int flags, ...) \
{ \
	static int (*real)(const char *, int, ...); \
	mode_t m = 0; \
	va_list ap; \
\
	if (!real) \
		real = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, #name); \
	va_start(ap, flags); \
	if (flags & O_CREAT) \
		m = (mode_t)va_arg(ap, int); \
	va_end(ap); \
	if ((flags & (O_CREAT | O_WRONLY | O_RDWR)) && ro(path)) { \
		errno = EROFS; \
		return -1; \
	} \
	return real(path, flags, m); \
}
OPEN(open)
OPEN(open64)

int
mkdir(const char *path, mode_t m)
{
	static int (*real)(const char *, mode_t);

	if (!real)
		real = (int (*)(const char *, mode_t))dlsym(RTLD_NEXT, "mkdir");
	if (ro(path)) {
		errno = EROFS;
		return -1;
	}
	return real(path, m);
}
