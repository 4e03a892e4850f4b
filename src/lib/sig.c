/* sig.c: SIGTERM/SIGINT ask for a clean stop; SIGPIPE shows up as EPIPE instead. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vp.h"

volatile sig_atomic_t vp_stop_requested;
volatile sig_atomic_t vp_stdout_gone;
int vp_stdout_watch = -1;

/*
 * The stop handler also writes a byte into this pipe, which every vp_poll
 * watches: a stop that comes after the flag was checked and before (or
 * while) poll sleeps makes the pipe readable, so the wait ends at once.
 * This closes the same race as blocking the signals around ppoll did,
 * without two sigprocmask calls on every wait.  The pipe is never drained:
 * a stop is for good.
 */
static int stop_pipe[2] = { -1, -1 };

static void
on_stop(int sig)
{
	int e = errno;
	ssize_t w;

	(void)sig;
	vp_stop_requested = 1;
	if (stop_pipe[1] >= 0)
		w = write(stop_pipe[1], "", 1);	/* full: already readable */
	(void)w;
	errno = e;
}

void
vp_signals_init(void)
{
	struct sigaction sa;

	if (stop_pipe[0] < 0 && pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		vp_die(VP_EXIT_TEMPFAIL, "pipe: %s", strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: a blocking read returns EINTR so the loop can stop */
	sa.sa_flags = 0;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

/*
 * A stage that waits for input (or for vCenter) notices that the next
 * stage is gone only when it writes: in a shell pipeline it then stays,
 * holding the pipeline and its restart, until events come again.  A pipe
 * whose reader has closed reports POLLERR to its writer even when nothing
 * is asked for, so every vp_poll also watches stdout, at no cost.
 */
void
vp_watch_stdout(void)
{
	struct stat st;

	if (fstat(STDOUT_FILENO, &st) == 0 &&
	    (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
		vp_stdout_watch = STDOUT_FILENO;
}

int
vp_poll(struct pollfd *pfd, unsigned n, int timeout_ms)
{
	struct pollfd local[16], *all = local;
	int r, e, stop;

	if (vp_stop_requested) {
		errno = EINTR;
		return -1;
	}
	if (stop_pipe[0] < 0)	/* no handler: nothing can set the flag */
		return poll(pfd, n, timeout_ms);
	if (n + 2 > sizeof(local) / sizeof(local[0]))
		all = vp_xmalloc((n + 2) * sizeof(*all));
	if (n > 0)	/* pfd may be NULL with nothing to watch */
		memcpy(all, pfd, n * sizeof(*all));
	all[n].fd = stop_pipe[0];
	all[n].events = POLLIN;
	all[n].revents = 0;
	all[n + 1].fd = vp_stdout_watch;	/* poll skips it when -1 */
	all[n + 1].events = 0;
	all[n + 1].revents = 0;
	r = poll(all, n + 2, timeout_ms);
	e = errno;
	stop = r > 0 && all[n].revents != 0;
	if (r > 0 && (all[n + 1].revents & (POLLERR | POLLHUP))) {
		vp_stdout_gone = 1;
		vp_stop_requested = 1;
		stop = 1;
	}
	for (unsigned i = 0; i < n; i++)
		pfd[i].revents = all[i].revents;
	if (all != local)
		free(all);
	if (stop || vp_stop_requested) {
		r = -1;
		e = EINTR;
	}
	errno = e;
	return r;
}
