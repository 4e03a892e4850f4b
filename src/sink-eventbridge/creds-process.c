/*
 * creds-process.c: a profile's credential_process (IAM Roles Anywhere's
 * aws_signing_helper, aws-vault, ...): run the command, read its JSON
 * ({"Version": 1, "AccessKeyId", "SecretAccessKey", "SessionToken",
 * "Expiration"}) from its standard output.  Its standard error is ours, so
 * its own messages reach the log.  The command runs without the secrets of
 * our environment and is killed when it hangs.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "creds-int.h"

#define PROCESS_TIMEOUT_MS 60000
#define OUTPUT_MAX 65536

extern char **environ;

static const char *const secret_vars[] = {
	"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN", NULL
};

static char **
child_env(void)
{
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	env = vp_xmalloc((n + 1) * sizeof(*env));
	for (size_t i = 0; i < n; i++) {
		int keep = 1;

		for (int s = 0; secret_vars[s]; s++) {
			size_t l = strlen(secret_vars[s]);

			if (strncmp(environ[i], secret_vars[s], l) == 0 &&
			    environ[i][l] == '=')
				keep = 0;
		}
		if (keep)
			env[k++] = environ[i];
	}
	env[k] = NULL;
	return env;
}

/* Read the child's output until EOF, the size limit or the deadline. */
static int
read_output(int fd, char *buf, size_t *len, char *err, size_t errlen)
{
	int64_t deadline = vp_now_ms() + PROCESS_TIMEOUT_MS;

	*len = 0;
	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		int64_t left = deadline - vp_now_ms();
		ssize_t r;

		if (left <= 0) {
			snprintf(err, errlen, "no answer within %d s",
			    PROCESS_TIMEOUT_MS / 1000);
			return -1;
		}
		if (poll(&pfd, 1, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "poll: %s", strerror(errno));
			return -1;
		}
		if (*len >= OUTPUT_MAX) {
			snprintf(err, errlen, "output longer than %d bytes",
			    OUTPUT_MAX);
			return -1;
		}
		r = read(fd, buf + *len, OUTPUT_MAX - *len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "read: %s", strerror(errno));
			return -1;
		}
		if (r == 0)
			return 0;
		*len += (size_t)r;
	}
}

int
eb_process_fetch(const char *command, struct eb_cval *out, char *err,
    size_t errlen)
{
	char *argv[] = { "/bin/sh", "-c", (char *)command, NULL };
	char **env = child_env(), *buf = vp_xmalloc(OUTPUT_MAX + 1), why[200];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, dfl;
	int fds[2], st, rc = VP_EXIT_TEMPFAIL, ok;
	size_t len = 0;
	pid_t pid;
	json_t *j;

	memset(out, 0, sizeof(*out));
	if (pipe2(fds, O_CLOEXEC) != 0) {
		snprintf(err, errlen, "credential_process: pipe: %s",
		    strerror(errno));
		free(env);
		free(buf);
		return VP_EXIT_TEMPFAIL;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGINT);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &dfl);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF);
	st = posix_spawn(&pid, argv[0], &fa, &at, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	free(env);
	close(fds[1]);
	if (st != 0) {
		snprintf(err, errlen, "credential_process: /bin/sh: %s",
		    strerror(st));
		close(fds[0]);
		free(buf);
		return VP_EXIT_TEMPFAIL;
	}
	ok = read_output(fds[0], buf, &len, why, sizeof(why)) == 0;
	close(fds[0]);
	if (!ok)
		kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	buf[len] = '\0';
	if (!ok)
		snprintf(err, errlen, "credential_process: %s", why);
	else if (WIFSIGNALED(st))
		snprintf(err, errlen, "credential_process: killed by signal %d",
		    WTERMSIG(st));
	else if (WEXITSTATUS(st) != 0) {
		snprintf(err, errlen, "credential_process: exit status %d%s",
		    WEXITSTATUS(st), WEXITSTATUS(st) == 127 ?
		    " (command not found)" : WEXITSTATUS(st) == 126 ?
		    " (not executable)" : "");
		if (WEXITSTATUS(st) == 126 || WEXITSTATUS(st) == 127)
			rc = VP_EXIT_CONFIG;
	} else if ((j = json_loadb(buf, len, 0, NULL)) == NULL ||
	    json_integer_value(json_object_get(j, "Version")) != 1) {
		snprintf(err, errlen, "credential_process: the output is not "
		    "JSON with \"Version\": 1");
		json_decref(j);
		rc = VP_EXIT_CONFIG;
	} else {
		json_decref(j);
		if (eb_json_creds(buf, len, "SessionToken", 0, out, why,
		    sizeof(why)) == 0)
			rc = 0;
		else {
			snprintf(err, errlen, "credential_process: %s", why);
			rc = VP_EXIT_CONFIG;
		}
	}
	explicit_bzero(buf, OUTPUT_MAX + 1);
	free(buf);
	return rc;
}
