/*
 * vcpipe-group: run one pipeline of vcpipe's plan once, as a process group
 * of its own, and say how each stage ended.
 *
 * bin/vcpipe starts one per pipeline and restarts it when it exits; this
 * program is the part of the supervisor that needs C:
 *
 *   - the stages are its children, joined by pipes, all in its process
 *     group (the group's id is this program's pid);
 *   - each stage gets PR_SET_PDEATHSIG SIGTERM before exec, and this
 *     program gets it too (relative to vcpipe, --parent): SIGKILL of
 *     vcpipe stops the pipeline, SIGKILL of this program stops its stages;
 *   - it waits for every stage and writes DIR/exit: the stage that ended
 *     the run and its code first, then every stage in the order it ended
 *     (128+N for signal N, 127/126 when it could not be run), and exits
 *     with the first code;
 *   - each stage's standard error comes through a pipe of its own and is
 *     passed on line by line, tagged with the pipeline's name;
 *   - a vcpipe-tap stage between two others (the metrics taps of the plan)
 *     is not a process: this program relays that pipe itself, counting
 *     as vcpipe-tap does (src/lib/tap.c, the same options), and passes on
 *     whole lines only: the half line a killed stage leaves at the end is
 *     dropped (with a warning), never read as an event.  DIR/pids names
 *     this program's pid for it (kill -9 of it stops the group).
 *
 * Stopping (SIGTERM, SIGINT or SIGHUP, or vcpipe's death): the first stage
 * (the source) is told first, so what is already in the pipes is
 * delivered; what still runs after --stop-timeout gets SIGTERM, and
 * SIGKILL after as long again.  A stage that fails stops the stages
 * before it at once (their output has nowhere to go); the stages after it
 * read to the end of what they were given first, unless it was killed by
 * a signal (its last line may be torn): then they are stopped at once too.
 *
 * With --exec the only stage replaces this program (vcpipe-metrics): same
 * process group and parent-death rule, no process in between.
 *
 * The built-in stages (builtin.c: vc-source, ce-encode, the HTTP and
 * EventBridge sinks, ...) are not exec'd but forked from this program,
 * which links their code: the libraries are loaded once per pipeline.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "builtin.h"
#include "opt.h"
#include "tap.h"
#include "vp.h"
#include "help/vcpipe-group.h"

#ifdef VCPIPE_GROUP_LITE
/*
 * vcpipe-group-lite: this program without the built-in stages, so without
 * libcurl and the ~35 libraries it loads.  vcpipe-group becomes it (exec,
 * same process) once the stages it forked run: what it does from then on
 * (relay, wait, stop) needs libc only, and the pages the dynamic linker
 * read to load those libraries (libcrypto's 1 MB of relocation tables
 * alone) are no longer mapped by the pipeline's longest-lived process.
 * The stages keep the libraries they were forked with.  Run by itself, it
 * is vcpipe-group with every stage exec'd.
 */
#define builtin_find(argv) ((stage_main)NULL)
#define builtin_init() ((void)0)
#define builtin_run(fn, argv) ((void)0)
#define builtin_libs NULL	/* (--version: only libc's) */
#endif
/* how vcpipe-group hands its running stages to vcpipe-group-lite */
#define ADOPT_ENV "VCPIPE_GROUP_ADOPT"

#define MAX_STAGES 16
#define LOG_LINE_MAX 65536	/* a longer stderr line is passed on in pieces */

struct stage {
	char *name;
	char **argv;
	stage_main fn;		/* built in: forked, not exec'd */
	pid_t pid;		/* 0: never started */
	int done;
	int code;		/* when done */
	int errfd;		/* its stderr, -1 once closed */
	struct vp_buf line;	/* a partial stderr line */
	/* a tap relayed here: no process (done from the start) */
	struct vp_tap *tap;
	struct vp_relay relay;
	int relaying;		/* the relay has more to do */
};

static struct {
	int parent;
	int64_t stop_ms;
	int exec, notify;
	const char *dir, *name;
	struct stage st[MAX_STAGES];
	int n;
	/* the run */
	int started;		/* stages forked */
	int cause;		/* index of the stage that ended the run, or -1 */
	int stop_sig;		/* the stop signal received, or 0 */
	int phase;		/* 0 running, 1 draining, 2 all told, 3 killed */
	int64_t deadline;	/* of the current phase, monotonic ms */
	struct vp_buf order;	/* "NAME CODE\n" as stages ended */
} G = { .cause = -1 };

/* options: src/vcpipe-group/options.tab */
#include "opts/vcpipe-group.h"

static void check(void);

/* --help: help/vcpipe-group.h, made of man/vcpipe.1 */
static const struct vp_cmd cmd = VP_PROGRAM(options, builtin_libs, .check = check);

static void
check(void)
{
	if (G.notify && G.parent == 0)
		vp_usage_error("--notify needs --parent");
}

/* ---- the stages file ----------------------------------------------------- */

/*
 * DIR/stages: for each stage its name, the number of words and the words,
 * each ended by a NUL (vcpipe-yaml's plan.c writes it).  Words are taken
 * as they are: nothing here is parsed by a shell.
 */
static void
read_stages(const char *dir)
{
	char path[4096], *s, *p, *end;
	size_t len;

	snprintf(path, sizeof(path), "%s/stages", dir);
	if ((s = vp_read_file(path, 64 << 20, &len)) == NULL)
		vp_die(VP_EXIT_NOINPUT, "%s: %s", path, strerror(errno));
	p = s;
	end = s + len;
	while (p < end) {
		struct stage *st;
		char *num, *e;
		long n;

		if (G.n == MAX_STAGES)
			vp_die(VP_EXIT_DATAERR, "%s: more than %d stages", path,
			    MAX_STAGES);
		st = &G.st[G.n];
		st->name = p;
		p += strlen(p) + 1;
		num = p;
		if (p >= end || *st->name == '\0')
			goto bad;
		p += strlen(p) + 1;
		n = strtol(num, &e, 10);
		if (*e != '\0' || n < 1 || n > 100000 || p > end)
			goto bad;
		st->argv = vp_xmalloc(((size_t)n + 1) * sizeof(char *));
		for (long i = 0; i < n; i++) {
			if (p >= end)
				goto bad;
			st->argv[i] = p;
			p += strlen(p) + 1;
		}
		st->argv[n] = NULL;
		st->errfd = -1;
		G.n++;
	}
	if (G.n == 0)
		goto bad;
	return;
bad:
	vp_die(VP_EXIT_DATAERR, "%s: not a stages file", path);
}

/*
 * A stage "vcpipe-tap --stats FILE [--copy FILE] [--interval D]
 * [--log-level L] [--log-json]" between two others is relayed here.
 */
static void
find_taps(void)
{
	for (int i = 1; i < G.n - 1; i++) {
		struct stage *st = &G.st[i];
		const char *b = strrchr(st->argv[0], '/');
		struct vp_tap t = { .interval_ms = 1000 };
		char **a;

		if (strcmp(b ? b + 1 : st->argv[0], "vcpipe-tap") != 0)
			continue;
		for (a = st->argv + 1; *a; a++) {
			if (strcmp(*a, "--log-json") == 0)
				continue;
			if (a[1] == NULL)
				break;
			if (strcmp(*a, "--stats") == 0)
				t.stats = a[1];
			else if (strcmp(*a, "--copy") == 0)
				t.copy = a[1];
			else if (strcmp(*a, "--interval") == 0) {
				if ((t.interval_ms = vp_parse_duration_ms(a[1])) <= 0)
					break;
			} else if (strcmp(*a, "--log-level") != 0)
				break;
			a++;
		}
		if (*a || t.stats == NULL)
			continue;	/* something else: run it as it is */
		st->tap = vp_xmalloc(sizeof(*st->tap));
		*st->tap = t;
	}
}

/* ---- logs ------------------------------------------------------------------ */

static void
write_err(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(STDERR_FILENO, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;		/* nowhere to log: keep running */
		p += w;
		n -= (size_t)w;
	}
}

static void
json_escape(struct vp_buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			vp_buf_printf(b, "\\%c", c);
		else if (c < 0x20)
			vp_buf_printf(b, "\\u%04x", c);
		else
			vp_buf_append(b, &s[i], 1);
	}
}

/*
 * One line of a stage's stderr, tagged: "[pipeline] line" as text; with
 * --log-json a stage's JSON object gets a "pipeline" member first, and
 * anything else (jq's messages) becomes an error object of its own.
 */
static void
pass_line(const char *s, size_t n)
{
	struct vp_buf b = { 0 };

	if (vp_log_json()) {
		vp_buf_append(&b, "{\"pipeline\":\"", 13);
		json_escape(&b, G.name, strlen(G.name));
		if (n > 1 && s[0] == '{' && s[n - 1] == '}') {
			vp_buf_append(&b, "\",", 2);
			vp_buf_append(&b, s + 1, n - 1);
		} else {
			vp_buf_append(&b, "\",\"level\":\"error\",\"msg\":\"",
			    25);
			json_escape(&b, s, n);
			vp_buf_append(&b, "\"}", 2);
		}
	} else {
		vp_buf_printf(&b, "[%s] ", G.name);
		vp_buf_append(&b, s, n);
	}
	vp_buf_append(&b, "\n", 1);
	write_err(b.data, b.len);
	vp_buf_free(&b);
}

/* Read what a stage wrote to stderr; pass on whole lines. */
static void
drain_err(struct stage *st)
{
	char buf[8192];

	for (;;) {
		ssize_t r = read(st->errfd, buf, sizeof(buf));
		char *nl;
		size_t off = 0;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return;
		if (r <= 0) {
			if (st->line.len > 0)
				pass_line(st->line.data, st->line.len);
			vp_buf_reset(&st->line);
			close(st->errfd);
			st->errfd = -1;
			return;
		}
		while ((nl = memchr(buf + off, '\n', (size_t)r - off))) {
			size_t k = (size_t)(nl - (buf + off));

			if (st->line.len > 0) {
				vp_buf_append(&st->line, buf + off, k);
				pass_line(st->line.data, st->line.len);
				vp_buf_reset(&st->line);
			} else {
				pass_line(buf + off, k);
			}
			off += k + 1;
		}
		vp_buf_append(&st->line, buf + off, (size_t)r - off);
		if (st->line.len >= LOG_LINE_MAX) {
			pass_line(st->line.data, st->line.len);
			vp_buf_reset(&st->line);
		}
	}
}

/* ---- starting ------------------------------------------------------------ */

static void
child_signals(void)
{
	sigset_t none;
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (int s = 1; s < NSIG; s++)
		(void)sigaction(s, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* The stage's end of things; never returns. */
static void
child(struct stage *st, int in, int out, int err, int report, pid_t leader)
{
	int e;

	/* stop with the group's leader, even if it is SIGKILLed */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) != 0 ||
	    getppid() != leader)
		_exit(VP_EXIT_TEMPFAIL);
	child_signals();
	if ((in != STDIN_FILENO && dup2(in, STDIN_FILENO) < 0) ||
	    (out != STDOUT_FILENO && dup2(out, STDOUT_FILENO) < 0) ||
	    dup2(err, STDERR_FILENO) < 0)
		e = errno;
	else {
		if (st->fn)
			builtin_run(st->fn, st->argv);	/* returns if it cannot */
		execvp(st->argv[0], st->argv);
		e = errno;
	}
	/* the leader reads why on the close-on-exec report pipe */
	(void)!write(report, &e, sizeof(e));
	_exit(e == ENOENT ? 127 : 126);
}

static void stop_upstream(int i);

/*
 * Start stage i: its stdin is the previous stage's output (or /dev/null),
 * its stdout the next stage's input (or ours for the last).  Returns 0, or
 * -1 when it could not be run (the reason logged).
 */
static int
start(int i, int in, int out)
{
	struct stage *st = &G.st[i];
	int errp[2], rep[2], e;
	ssize_t r;

	if (pipe2(errp, O_CLOEXEC) != 0 || pipe2(rep, O_CLOEXEC) != 0)
		vp_die(VP_EXIT_TEMPFAIL, "pipe: %s", strerror(errno));
	/* a built-in stage must not write what is still in our buffers */
	fflush(NULL);
	st->pid = fork();
	if (st->pid < 0)
		vp_die(VP_EXIT_TEMPFAIL, "fork: %s", strerror(errno));
	if (st->pid == 0)
		child(st, in, out, errp[1], rep[1], getppid());
	close(errp[1]);
	close(rep[1]);
	st->errfd = errp[0];
	(void)fcntl(st->errfd, F_SETFL, O_NONBLOCK);
	do
		r = read(rep[0], &e, sizeof(e));
	while (r < 0 && errno == EINTR);
	close(rep[0]);
	if (r == (ssize_t)sizeof(e)) {
		vp_error("cannot run %s (%s): %s", st->name, st->argv[0],
		    strerror(e));
		return -1;
	}
	return 0;
}

/* Stage i, a tap, is relayed here: our ends of its two pipes. */
static void
relay_setup(int i, int in, int out)
{
	struct stage *st = &G.st[i];

	if (vp_tap_open(st->tap) != 0)
		vp_die(VP_EXIT_NOINPUT, "%s: %s", st->tap->copy, strerror(errno));
	(void)fcntl(in, F_SETFL, O_NONBLOCK);
	(void)fcntl(out, F_SETFL, O_NONBLOCK);
	vp_relay_init(&st->relay, in, out, st->tap, 0);
	st->relaying = 1;
	st->done = 1;
}

static void
start_all(void)
{
	int in, p[2] = { -1, -1 };

	if ((in = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
		vp_die(VP_EXIT_TEMPFAIL, "/dev/null: %s", strerror(errno));
	for (int i = 0; i < G.n; i++) {
		int last = i == G.n - 1, rc;

		if (!last && pipe2(p, O_CLOEXEC) != 0)
			vp_die(VP_EXIT_TEMPFAIL, "pipe: %s", strerror(errno));
		if (G.st[i].tap) {
			relay_setup(i, in, p[1]);
			in = p[0];
			G.started = i + 1;
			continue;
		}
		rc = start(i, in, last ? STDOUT_FILENO : p[1]);
		close(in);
		if (!last)
			close(p[1]);
		in = p[0];
		G.started = i + 1;
		if (rc != 0) {
			if (!last)
				close(in);
			/* its child exits 127 or 126; the rest never start */
			G.cause = i;
			stop_upstream(i);
			return;
		}
		vp_debug("%s started: pid %ld%s", G.st[i].name,
		    (long)G.st[i].pid, G.st[i].fn ? " (forked, built in)" : "");
	}
}

#ifdef VCPIPE_GROUP_LITE
/*
 * vcpipe-group-lite takes over the stages vcpipe-group started: $ADOPT_ENV
 * lists, for each started stage in order, "PID:ERRFD" (its pid and its
 * stderr pipe) or "t:IN:OUT" (a tap relayed here: both pipes).
 */
static int
adopt(const char *list)
{
	const char *p = list;
	int i;

	for (i = 0; *p; i++) {
		struct stage *st = &G.st[i];
		long a, b;
		char *e;

		if (i == G.n)
			return -1;
		if (p[0] == 't' && p[1] == ':') {
			a = strtol(p + 2, &e, 10);
			if (*e != ':' || st->tap == NULL)
				return -1;
			b = strtol(e + 1, &e, 10);
			if (a < 0 || b < 0 || a > 65535 || b > 65535)
				return -1;
			relay_setup(i, (int)a, (int)b);
			(void)fcntl((int)a, F_SETFD, FD_CLOEXEC);
			(void)fcntl((int)b, F_SETFD, FD_CLOEXEC);
		} else {
			a = strtol(p, &e, 10);
			if (*e != ':' || st->tap)
				return -1;
			b = strtol(e + 1, &e, 10);
			if (a <= 0 || b < 0 || b > 65535)
				return -1;
			st->pid = (pid_t)a;
			st->errfd = (int)b;
			(void)fcntl(st->errfd, F_SETFD, FD_CLOEXEC);
		}
		if (*e != ',' && *e != '\0')
			return -1;
		p = *e ? e + 1 : e;
	}
	G.started = i;
	return i > 0 ? 0 : -1;
}
#else
static void
cloexec_handed(int on)
{
	for (int i = 0; i < G.started; i++) {
		struct stage *st = &G.st[i];
		int fl = on ? FD_CLOEXEC : 0;

		if (st->tap) {
			(void)fcntl(st->relay.in, F_SETFD, fl);
			(void)fcntl(st->relay.out, F_SETFD, fl);
		} else {
			(void)fcntl(st->errfd, F_SETFD, fl);
		}
	}
}

/*
 * Every stage runs: go on as vcpipe-group-lite (beside this program) with
 * the same arguments, pid, children, signal mask and pending signals.
 * Returns when it cannot (no such file, exec refused): this image goes on.
 */
static void
handoff(char **argv)
{
	struct vp_buf b = { 0 };
	char self[4096], path[4096 + 32], *slash;
	ssize_t n;

	if (G.cause >= 0 || G.started == 0)
		return;
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0)
		return;
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) == NULL)
		return;
	*slash = '\0';
	snprintf(path, sizeof(path), "%s/vcpipe-group-lite", self);
	if (access(path, X_OK) != 0)
		return;
	for (int i = 0; i < G.started; i++) {
		struct stage *st = &G.st[i];

		if (st->tap)
			vp_buf_printf(&b, "%st:%d:%d", i ? "," : "",
			    st->relay.in, st->relay.out);
		else
			vp_buf_printf(&b, "%s%ld:%d", i ? "," : "",
			    (long)st->pid, st->errfd);
	}
	if (setenv(ADOPT_ENV, b.data, 1) == 0) {
		cloexec_handed(0);
		fflush(NULL);
		execv(path, argv);
		vp_debug("%s: %s: going on without it", path, strerror(errno));
		cloexec_handed(1);
		unsetenv(ADOPT_ENV);
	}
	vp_buf_free(&b);
}
#endif

/*
 * DIR/pids: "NAME PID" for each stage, replaced whole.  Not synced: the run
 * directory lives as long as vcpipe does (so do the exit file's readers).
 */
static void
write_pids(void)
{
	struct vp_buf b = { 0 };
	char path[4096];

	for (int i = 0; i < G.started; i++)
		vp_buf_printf(&b, "%s %ld\n", G.st[i].name, (long)(G.st[i].tap ?
		    getpid() : G.st[i].pid));
	snprintf(path, sizeof(path), "%s/pids", G.dir);
	if (vp_write_file_replace(path, b.data, b.len) != 0)
		vp_warn("%s: %s", path, strerror(errno));
	vp_buf_free(&b);
}

/* ---- stopping ------------------------------------------------------------ */

static void
tell(int i, int sig)
{
	if (G.st[i].pid > 0 && !G.st[i].done)
		(void)kill(G.st[i].pid, sig);
}

static void
stop_upstream(int i)
{
	for (int k = 0; k < i && k < G.started; k++)
		tell(k, SIGTERM);
	/* the stages after i read what they have and end; or else: */
	if (G.phase == 0) {
		G.phase = 1;
		G.deadline = vp_now_ms() + G.stop_ms;
	}
}

static void
stop_request(int sig)
{
	if (G.stop_sig)
		return;
	G.stop_sig = sig;
	vp_debug("stopping (signal %d): the source first", sig);
	if (G.phase == 0) {
		tell(0, SIGTERM);
		G.phase = 1;
		G.deadline = vp_now_ms() + G.stop_ms;
	}
}

/* The deadline of the current phase has passed: the next, harder step. */
static void
escalate(void)
{
	int sig = G.phase == 1 ? SIGTERM : SIGKILL;

	for (int i = 0; i < G.started; i++)
		if (G.st[i].pid > 0 && !G.st[i].done) {
			vp_warn("%s still runs after %lld ms: %s", G.st[i].name,
			    (long long)G.stop_ms,
			    sig == SIGTERM ? "SIGTERM" : "SIGKILL");
			tell(i, sig);
		}
	G.phase++;
	G.deadline = vp_now_ms() + G.stop_ms;
}

/* ---- waiting ------------------------------------------------------------- */

static void
reaped(pid_t pid, int status)
{
	for (int i = 0; i < G.started; i++) {
		struct stage *st = &G.st[i];

		if (st->pid != pid || st->done)
			continue;
		st->done = 1;
		st->code = WIFEXITED(status) ? WEXITSTATUS(status) :
		    WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 70;
		vp_buf_printf(&G.order, "%s %d\n", st->name, st->code);
		vp_debug("%s exited with %d", st->name, st->code);
		if (st->code != 0 && G.cause < 0 && !G.stop_sig) {
			G.cause = i;
			stop_upstream(i);
			/*
			 * Killed by a signal, it may have written half a line:
			 * the stages after it stop too, before they read it as
			 * an event (the checkpoint is before it; it comes again).
			 */
			if (WIFSIGNALED(status))
				for (int k = i + 1; k < G.started; k++)
					tell(k, SIGTERM);
		}
		return;
	}
}

/* A relay is done: say how it ended, write its counts. */
static void
relay_end(int i)
{
	struct stage *st = &G.st[i];
	struct vp_relay *r = &st->relay;

	st->relaying = 0;
	if (r->torn) {
		vp_warn("%s: dropped a last line of %zu bytes without "
		    "its end (the output of %s ended in the middle of it); "
		    "it comes again after the restart", st->name, r->torn,
		    G.st[i - 1].name);
		/* part of it went on already: the rest never will */
		if (r->cont)
			for (int k = i + 1; k < G.started; k++)
				tell(k, SIGTERM);
	}
	if (r->err && r->err != EPIPE)
		vp_warn("%s: %s", st->name, strerror(r->err));
	vp_relay_free(r);
	vp_tap_close(st->tap);
}

/* Move what the relays can. */
static void
relay_all(void)
{
	for (int i = 0; i < G.started; i++)
		if (G.st[i].relaying && vp_relay_step(&G.st[i].relay, 1) == 0)
			relay_end(i);
}

/*
 * Every stage has ended.  A relay still open then has nowhere to write
 * (or a stage's child holds its input): it ends too.
 */
static int
all_done(void)
{
	for (int i = 0; i < G.started; i++)
		if (!G.st[i].done)
			return 0;
	relay_all();
	for (int i = 0; i < G.started; i++)
		if (G.st[i].relaying)
			relay_end(i);
	return 1;
}

/* The relays' soonest stats file write, or -1. */
static int
relay_timeout(void)
{
	int t = -1;

	for (int i = 0; i < G.started; i++) {
		int k;

		if (G.st[i].tap == NULL || !G.st[i].relaying)
			continue;
		k = vp_tap_tick(G.st[i].tap);
		if (k >= 0 && (t < 0 || k < t))
			t = k;
	}
	return t;
}

static int
run(int sfd)
{
	struct pollfd pfd[3 * MAX_STAGES + 1];
	struct signalfd_siginfo si;
	int code;

	while (!all_done()) {
		int nfd = 0, timeout = relay_timeout();

		pfd[nfd++] = (struct pollfd){ sfd, POLLIN, 0 };
		for (int i = 0; i < G.started; i++) {
			struct stage *st = &G.st[i];
			short ev;

			if (st->errfd >= 0)
				pfd[nfd++] = (struct pollfd){ st->errfd,
				    POLLIN, 0 };
			if (!st->relaying)
				continue;
			if ((ev = vp_relay_want_in(&st->relay)) != 0)
				pfd[nfd++] = (struct pollfd){ st->relay.in,
				    ev, 0 };
			if ((ev = vp_relay_want_out(&st->relay)) != 0)
				pfd[nfd++] = (struct pollfd){ st->relay.out,
				    ev, 0 };
		}
		if (G.phase > 0 && G.phase < 3) {
			int64_t left = G.deadline - vp_now_ms();
			int t = left < 0 ? 0 : left > 3600000 ? 3600000 :
			    (int)left;

			if (timeout < 0 || t < timeout)
				timeout = t;
		}
		if (poll(pfd, (nfds_t)nfd, timeout) < 0 && errno != EINTR)
			vp_die(VP_EXIT_SOFTWARE, "poll: %s", strerror(errno));
		relay_all();
		for (int i = 0; i < G.started; i++)
			if (G.st[i].errfd >= 0)
				drain_err(&G.st[i]);
		while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			if (si.ssi_signo == SIGCHLD) {
				pid_t pid;
				int status;

				while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
					reaped(pid, status);
			} else {
				stop_request((int)si.ssi_signo);
			}
		}
		if (G.phase > 0 && G.phase < 3 && vp_now_ms() >= G.deadline)
			escalate();
	}
	/* what the stages wrote last (a grandchild may hold a pipe: no wait) */
	for (int i = 0; i < G.started; i++)
		if (G.st[i].errfd >= 0) {
			drain_err(&G.st[i]);
			if (G.st[i].errfd >= 0) {
				if (G.st[i].line.len > 0)
					pass_line(G.st[i].line.data,
					    G.st[i].line.len);
				close(G.st[i].errfd);
				G.st[i].errfd = -1;
			}
		}
	if (G.cause >= 0)
		code = G.st[G.cause].code;
	else
		code = G.stop_sig ? 128 + G.stop_sig : 0;
	return code;
}

/* DIR/exit: "STAGE CODE" of what ended the run, then every stage. */
static void
write_exit(int code)
{
	struct vp_buf b = { 0 };
	char path[4096];

	if (G.cause >= 0)
		vp_buf_printf(&b, "%s %d\n", G.st[G.cause].name, code);
	else
		vp_buf_printf(&b, "%s %d\n", G.stop_sig ? "signal" : "-",
		    code);
	if (G.order.len)
		vp_buf_append(&b, G.order.data, G.order.len);
	snprintf(path, sizeof(path), "%s/exit", G.dir);
	if (vp_write_file_replace(path, b.data, b.len) != 0)
		vp_warn("%s: %s", path, strerror(errno));
	vp_buf_free(&b);
}

int
main(int argc, char **argv)
{
	sigset_t set;
	int sfd, code;
	char path[4096], **args;
	const char *slash;

	/* (as given: vp_opt_parse may reorder argv) */
	args = vp_xmalloc(((size_t)argc + 1) * sizeof(*args));
	memcpy(args, argv, ((size_t)argc + 1) * sizeof(*args));
	vp_opt_parse(&cmd, argc, argv);
#ifdef VCPIPE_GROUP_LITE
	/* it is vcpipe-group to ps, pgrep -x and the benches */
	(void)prctl(PR_SET_NAME, "vcpipe-group", 0, 0, 0);
#endif
	G.dir = argv[1];
	slash = strrchr(G.dir, '/');
	G.name = slash && slash[1] ? slash + 1 : G.dir;
	/* the group is ours: vcpipe signals it as one */
	(void)setpgid(0, 0);
	if (G.parent && (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) != 0 ||
	    getppid() != G.parent))
		return 128 + SIGTERM;	/* vcpipe is already gone */
	read_stages(G.dir);
	if (!G.exec)
		find_taps();
	if (G.exec) {
		if (G.n != 1)
			vp_die(VP_EXIT_USAGE, "--exec: %s/stages has %d stages, "
			    "not one", G.dir, G.n);
		child_signals();
		execvp(G.st[0].argv[0], G.st[0].argv);
		vp_die(errno == ENOENT ? 127 : 126, "cannot run %s (%s): %s",
		    G.st[0].name, G.st[0].argv[0], strerror(errno));
	}
	for (int i = 0, any = 0; i < G.n; i++)
		if (G.st[i].tap == NULL &&
		    (G.st[i].fn = builtin_find(G.st[i].argv)) != NULL && !any++)
			builtin_init();
	vp_progname = "vcpipe";
	vp_log_set_tag("pipeline", G.name);
	snprintf(path, sizeof(path), "%s/exit", G.dir);
	(void)unlink(path);

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if ((sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		vp_die(VP_EXIT_SOFTWARE, "signalfd: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);

#ifdef VCPIPE_GROUP_LITE
	if (getenv(ADOPT_ENV) != NULL) {
		/* vcpipe-group started the stages, wrote the pids, notified */
		if (adopt(getenv(ADOPT_ENV)) != 0)
			vp_die(VP_EXIT_SOFTWARE, "%s: not what vcpipe-group "
			    "hands over: \"%s\"", ADOPT_ENV, getenv(ADOPT_ENV));
		unsetenv(ADOPT_ENV);
	} else
#else
	unsetenv(ADOPT_ENV);	/* only vcpipe-group-lite takes it */
#endif
	{
		start_all();
		write_pids();
		if (G.notify && G.cause < 0)
			(void)kill(G.parent, SIGUSR1);
#ifndef VCPIPE_GROUP_LITE
		handoff(args);
#endif
	}
	free(args);
	code = run(sfd);
	write_exit(code);
	return code;
}
