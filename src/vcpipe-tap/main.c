/*
 * vcpipe-tap: pass lines from stdin to stdout unchanged, counting them for
 * vcpipe-metrics and optionally copying them to a file (vcpipe --tee-dir).
 *
 * The pipelines vcpipe runs count the same way without this program:
 * vcpipe-group relays the pipes between their stages itself, with the same
 * code (src/lib/tap.c), reading these options from the plan.  This program
 * is that tap for a pipeline run by hand (vcpipe --dry-run prints it).
 * SIGTERM and SIGINT are ignored: the tap ends when its input ends, after
 * passing every line on, so a draining pipeline loses nothing in it.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "opt.h"
#include "tap.h"
#include "vp.h"
#include "help/vcpipe-tap.h"

static struct vp_tap tap;

/* options: src/vcpipe-tap/options.tab */
#include "opts/vcpipe-tap.h"

/* --help: help/vcpipe-tap.h, made of man/vcpipe.1 */
static const struct vp_cmd cmd = VP_PROGRAM(options, NULL);

int
main(int argc, char **argv)
{
	struct vp_relay r;
	int rc = VP_EXIT_OK;

	vp_opt_parse(&cmd, argc, argv);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	if (vp_tap_open(&tap) != 0)
		vp_die(VP_EXIT_NOINPUT, "%s: %s", tap.copy, strerror(errno));
	/* a last line without a newline is passed on with one */
	vp_relay_init(&r, STDIN_FILENO, STDOUT_FILENO, &tap, 1);
	for (;;) {
		struct pollfd pfd = { STDIN_FILENO, POLLIN, 0 };
		int timeout = vp_tap_tick(&tap), n;

		n = poll(&pfd, 1, timeout);
		if (n < 0 && errno != EINTR) {
			vp_error("poll: %s", strerror(errno));
			rc = VP_EXIT_IOERR;
			break;
		}
		if (n <= 0)
			continue;	/* time to save */
		if (vp_relay_step(&r, 1) == 0)
			break;
	}
	if (r.err == EPIPE || (r.err && !r.eof)) {
		/* the next stage is gone; the supervisor restarts us */
		vp_error("stdout: %s", strerror(r.err));
		rc = VP_EXIT_IOERR;
	} else if (r.err) {
		vp_error("stdin: %s", strerror(r.err));
		rc = VP_EXIT_IOERR;
	}
	vp_relay_free(&r);
	vp_tap_close(&tap);
	return rc;
}
