/*
 * builtin.c: the stage programs linked into vcpipe-group.
 *
 * Each stage program loads and relocates its libraries when it starts:
 * for the libcurl programs that is ~30 libraries and ~1.2 MB of private
 * pages per process before any work, paid twice per pipeline (source and
 * sink).  vcpipe-group links the programs' code (their sources compiled a
 * second time with main renamed, Makefile.am) and starts such a stage by
 * fork and a call of its main: the libraries are loaded and initialised
 * once per pipeline and the stages share those pages copy-on-write.
 *
 * To the user the stage is the program it names: its comm and command
 * line are the program's and its arguments (ps, pgrep -x, pgrep -f), the
 * file descriptors an exec would have closed are closed, signals, mask,
 * environment, rlimits and the parent-death signal are as for an exec
 * (main.c's child()).  Only /proc/PID/exe still names vcpipe-group.
 */
#include <sys/prctl.h>
#include <linux/prctl.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "vp.h"
#include "opt.h"
#include "builtin.h"

int vc_source_main(int, char **);
int ce_encode_main(int, char **);
int sink_http_main(int, char **);
int sink_eventbridge_main(int, char **);
int horizon_source_main(int, char **);
int vcpipe_tap_main(int, char **);

/*
 * Not the AMQP programs, webhook-source or stream-serve: they would make
 * every pipeline load librabbitmq (and OpenSSL's libssl) or
 * libmicrohttpd for stages most pipelines never run; they are exec'd.
 */
static const struct {
	const char *name;
	stage_main fn;
} builtins[] = {
	{ "vc-source", vc_source_main },
	{ "ce-encode", ce_encode_main },
	{ "sink-http", sink_http_main },
	{ "sink-eventbridge", sink_eventbridge_main },
	{ "horizon-source", horizon_source_main },
	{ "vcpipe-tap", vcpipe_tap_main },
};

const char *vim_expat_version(void);	/* vc-source's (vimjson.h) */

/* what those programs print (vc-source: all three) */
const struct vp_libversion builtin_libs[] = {
	VP_LIB_CURL, { NULL, vim_expat_version }, VP_LIB_JANSSON, { NULL, NULL }
};

void
builtin_init(void)
{
	/* the same call as the programs', made once (it is reference-counted) */
	if (vp_curl_global_init() != 0)
		vp_warn("libcurl: cannot initialise; the stages will try again");
}

static const char *
base(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* Is path an executable ELF file (not a script or a wrapper)? */
static int
is_elf(const char *path)
{
	char magic[4];
	int fd, ok;

	if (access(path, X_OK) != 0 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	ok = read(fd, magic, sizeof(magic)) == (ssize_t)sizeof(magic) &&
	    memcmp(magic, "\177ELF", 4) == 0;
	close(fd);
	return ok;
}

/*
 * The file exec would run for name: the first executable one in PATH
 * (execvp's default when PATH is unset).  Is it an ELF file?
 */
static int
found_elf(const char *name)
{
	const char *p = getenv("PATH");
	char path[4096];

	if (strchr(name, '/'))
		return is_elf(name);
	if (p == NULL)
		p = "/bin:/usr/bin";
	for (;;) {
		size_t n = strcspn(p, ":");

		if ((size_t)snprintf(path, sizeof(path), "%.*s%s%s", (int)n, p,
		    n ? "/" : "", name) < sizeof(path) &&
		    access(path, X_OK) == 0)
			return is_elf(path);
		if (p[n] == '\0')
			return 0;
		p += n + 1;
	}
}

stage_main
builtin_find(char *const argv[])
{
	const char *w = getenv("VP_WRAP"), *x = getenv("VCPIPE_EXEC_STAGES");

	/* valgrind or a sanitizer wrapper must see the program start */
	if ((w && *w) || (x && *x && strcmp(x, "0") != 0))
		return NULL;
	for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
		if (strcmp(base(argv[0]), builtins[i].name) == 0)
			return found_elf(argv[0]) ? builtins[i].fn : NULL;
	return NULL;
}

/*
 * Point the kernel's record of our command line at a copy of argv, as
 * exec would have laid it out, and return that copy's argv (main may
 * change what it points to, as a program may change its own argv).
 * PR_SET_MM_MAP needs no privilege while the executable stays the same;
 * every other field is given back as /proc/self/stat says it is.
 */
static char **
set_cmdline(char *const argv[], int *argcp)
{
	struct prctl_mm_map m;
	unsigned long long f[52];
	char stat[2048], *p, *e, *area, **nv;
	size_t len = 0;
	ssize_t r;
	int fd, argc, k;

	for (argc = 0; argv[argc]; argc++)
		len += strlen(argv[argc]) + 1;
	area = vp_xmalloc(len);
	nv = vp_xmalloc(((size_t)argc + 1) * sizeof(*nv));
	p = area;
	for (int i = 0; i < argc; i++) {
		size_t n = strlen(argv[i]) + 1;

		memcpy(p, argv[i], n);
		nv[i] = p;
		p += n;
	}
	nv[argc] = NULL;

	if ((fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC)) < 0)
		return NULL;
	r = read(fd, stat, sizeof(stat) - 1);
	close(fd);
	if (r <= 0)
		return NULL;
	stat[r] = '\0';
	/* after the name in parentheses (which may hold anything), the state */
	if ((p = strrchr(stat, ')')) == NULL || p[1] != ' ' || p[2] == '\0')
		return NULL;
	p += 3;
	for (k = 4; k < 52; k++) {
		f[k] = strtoull(p, &e, 10);	/* (a negative nice wraps) */
		if (e == p)
			break;
		p = e;
	}
	if (k < 52)
		return NULL;
	memset(&m, 0, sizeof(m));
	m.start_code = f[26];
	m.end_code = f[27];
	m.start_stack = f[28];
	m.start_data = f[45];
	m.end_data = f[46];
	m.start_brk = f[47];
	m.brk = (unsigned long)sbrk(0);
	m.arg_start = (unsigned long)area;
	m.arg_end = (unsigned long)area + len;
	m.env_start = f[50];
	m.env_end = f[51];
	m.exe_fd = (unsigned)-1;	/* the executable stays */
	if (prctl(PR_SET_MM, PR_SET_MM_MAP, &m, sizeof(m), 0) != 0)
		return NULL;
	*argcp = argc;
	return nv;
}

/* What exec does to the file descriptors: those close-on-exec close. */
static void
close_cloexec(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	if (d == NULL)
		vp_die(VP_EXIT_TEMPFAIL, "/proc/self/fd: %s", strerror(errno));
	while ((de = readdir(d)) != NULL) {
		int fd = atoi(de->d_name), fl;

		if (fd <= STDERR_FILENO || fd == dirfd(d))
			continue;
		if ((fl = fcntl(fd, F_GETFD)) >= 0 && (fl & FD_CLOEXEC))
			close(fd);
	}
	closedir(d);
}

void
builtin_run(stage_main fn, char *const argv[])
{
	char **av;
	int argc;

	if ((av = set_cmdline(argv, &argc)) == NULL)
		return;
	close_cloexec();
	(void)prctl(PR_SET_NAME, base(av[0]), 0, 0, 0);
	/* glibc's err(3) and error(3) name the program with these */
	program_invocation_name = av[0];
	program_invocation_short_name = (char *)base(av[0]);
	/* the group flushed its stdio before fork; nothing of its state stays */
	clearerr(stdin);
	clearerr(stdout);
	clearerr(stderr);
	exit(fn(argc, av));
}
