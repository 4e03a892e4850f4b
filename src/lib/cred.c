/* cred.c: credentials from a file, a mounted Secret directory, or the environment. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "opt.h"
#include "vp.h"

#define SECRET_MAX 65536

static void
chomp(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

void
vp_free_secret(char *s)
{
	if (s == NULL)
		return;
	/* volatile so the compiler keeps the wipe */
	for (volatile char *p = s; *p; p++)
		*p = 0;
	free(s);
}

void
vp_secret_guard(void)
{
	static const struct rlimit none = { 0, 0 };

	/*
	 * Not dumpable: no core file (unless fs.suid_dumpable=2 asks for
	 * root-only ones), and other processes of this user cannot read our
	 * memory or /proc/PID/environ.  RLIMIT_CORE 0 as well, for a
	 * core_pattern pipe that honours it (systemd-coredump does).
	 */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	(void)setrlimit(RLIMIT_CORE, &none);
}

/* A one-line secret: NULL with *bad 0 when unreadable, 1 when empty. */
static char *
read_secret(const char *path, int *bad, char *err, size_t errlen)
{
	char *s;

	vp_secret_guard();
	s = vp_read_file(path, SECRET_MAX, NULL);
	*bad = 0;
	if (s == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	chomp(s);
	if (*s == '\0') {
		snprintf(err, errlen, "%s: empty", path);
		free(s);
		*bad = 1;
		return NULL;
	}
	return s;
}

char *
vp_read_secret_file(const char *path, char *err, size_t errlen)
{
	int bad;

	return read_secret(path, &bad, err, errlen);
}

int
vp_read_credentials(const char *path, const char *user_env,
    const char *pass_env, char **user, char **pass, char *err, size_t errlen)
{
	struct stat st;
	int bad = 0;

	vp_secret_guard();
	*user = *pass = NULL;
	if (path == NULL) {
		const char *u = user_env ? getenv(user_env) : NULL;
		const char *p = pass_env ? getenv(pass_env) : NULL;

		if (u == NULL || *u == '\0' || p == NULL) {
			snprintf(err, errlen, "no credentials: give a credentials "
			    "file or set %s and %s", user_env ? user_env : "?",
			    pass_env ? pass_env : "?");
			return -1;
		}
		*user = vp_xstrdup(u);
		*pass = vp_xstrdup(p);
		return 0;
	}
	if (stat(path, &st) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		size_t n = strlen(path) + 16;
		char *f = vp_xmalloc(n);

		snprintf(f, n, "%s/username", path);
		*user = read_secret(f, &bad, err, errlen);
		if (*user) {
			snprintf(f, n, "%s/password", path);
			*pass = vp_read_file(f, SECRET_MAX, NULL);
			if (*pass == NULL)
				snprintf(err, errlen, "%s: %s", f, strerror(errno));
			else
				chomp(*pass);
		}
		free(f);
		if (*user == NULL || *pass == NULL) {
			vp_free_secret(*user);
			*user = NULL;
			return bad ? -2 : -1;
		}
		return 0;
	}
	{
		char *all = vp_read_file(path, SECRET_MAX, NULL), *nl;

		if (all == NULL) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			return -1;
		}
		nl = strchr(all, '\n');
		if (nl == NULL || nl == all || nl[1] == '\0' || nl[1] == '\n') {
			snprintf(err, errlen, "%s: expected two lines, "
			    "username then password", path);
			vp_free_secret(all);
			return -2;
		}
		*nl = '\0';
		chomp(all);
		*user = vp_xstrdup(all);
		*pass = vp_xstrdup(nl + 1);
		chomp(*pass);
		{
			/* only the first line of the remainder is the password */
			char *nl2 = strchr(*pass, '\n');
			if (nl2)
				*nl2 = '\0';
			chomp(*pass);
		}
		*nl = 'x';
		vp_free_secret(all);
		return 0;
	}
}

/* ---- the rule every program follows (opt.h) ------------------------------- */

void
vp_load_credentials(const char *opt, const char *path, const char *user_env,
    const char *pass_env, char **user, char **pass)
{
	char err[512];

	switch (vp_read_credentials(path, user_env, pass_env, user, pass, err,
	    sizeof(err))) {
	case 0:
		return;
	case -1:
		if (path == NULL)
			vp_die(VP_EXIT_CONFIG, "credentials: give %s or set %s "
			    "and %s", opt, user_env ? user_env : "?",
			    pass_env ? pass_env : "?");
		vp_die(VP_EXIT_NOINPUT, "%s: %s", opt, err);
	default:
		vp_die(VP_EXIT_CONFIG, "%s: %s", opt, err);
	}
}

char *
vp_load_secret(const char *opt, const char *path)
{
	char err[512], *s;
	int bad;

	if ((s = read_secret(path, &bad, err, sizeof(err))) == NULL)
		vp_die(bad ? VP_EXIT_CONFIG : VP_EXIT_NOINPUT, "%s: %s", opt,
		    err);
	return s;
}
