/* sig.c: SIGTERM/SIGINT ask for a clean stop; SIGPIPE shows up as EPIPE instead. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "vp.h"

volatile sig_atomic_t vp_stop_requested;

static void
on_stop(int sig)
{
	(void)sig;
	vp_stop_requested = 1;
}

void
vp_signals_init(void)
{
	struct sigaction sa;

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
 * The stop signals are blocked from the flag check until ppoll unblocks
 * them atomically: a SIGTERM arriving just before the wait (say while a
 * checkpoint is fsync'd) ends the wait at once instead of being noticed
 * only when more input comes.
 */
int
vp_poll(struct pollfd *pfd, unsigned n, int timeout_ms)
{
	sigset_t stop, old;
	struct timespec ts, *tsp = NULL;
	int r, e;

	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
		tsp = &ts;
	}
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, &old);
	if (vp_stop_requested) {
		r = -1;
		e = EINTR;
	} else {
		r = ppoll(pfd, n, tsp, &old);
		e = errno;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = e;
	return r;
}
