/* sig.c: SIGTERM/SIGINT ask for a clean stop; SIGPIPE shows up as EPIPE instead. */
#include <signal.h>
#include <string.h>

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
