/*
 * vcpipe-tap: pass lines from stdin to stdout unchanged, counting them for
 * vcpipe-metrics and optionally copying them to a file (vcpipe --tee-dir).
 *
 * vcpipe puts one between its stages so the other programs need no change
 * to be counted.  Counts go to a small JSON file written atomically at most
 * once per interval and at exit; an existing file is continued, so totals
 * survive the pipeline's restarts.  SIGTERM and SIGINT are ignored: the tap
 * ends when its input ends, after passing every line on, so a draining
 * pipeline loses nothing in it.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <jansson.h>

#include "ce.h"
#include "opt.h"
#include "vp.h"

#define MAX_SUBJECTS 512

struct tap {
	const char *stats, *copy;
	FILE *copyfp;
	int64_t interval_ms;
	unsigned long long lines, bytes;
	char last[64];		/* wall time of the last line */
	json_t *subjects;	/* CloudEvent subject -> count */
	int dirty;
};

static void
now_rfc3339(char *buf, size_t len)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	vp_format_rfc3339(tv.tv_sec, (int32_t)tv.tv_usec * 1000, buf, len);
}

static void
load(struct tap *t)
{
	json_t *j, *v;
	char *s;

	if ((s = vp_read_file(t->stats, 1 << 20, NULL)) == NULL)
		return;
	if ((j = json_loads(s, 0, NULL)) != NULL) {
		t->lines = (unsigned long long)json_integer_value(
		    json_object_get(j, "lines"));
		t->bytes = (unsigned long long)json_integer_value(
		    json_object_get(j, "bytes"));
		if (json_is_string(v = json_object_get(j, "last")))
			snprintf(t->last, sizeof(t->last), "%s",
			    json_string_value(v));
		if (json_is_object(v = json_object_get(j, "subjects")))
			json_object_update(t->subjects, v);
		json_decref(j);
	}
	free(s);
}

static void
save(struct tap *t)
{
	char updated[64], *s;
	json_t *j;

	now_rfc3339(updated, sizeof(updated));
	j = json_pack("{s:I, s:I, s:s, s:s, s:O}", "lines", (json_int_t)t->lines,
	    "bytes", (json_int_t)t->bytes, "last", t->last, "updated", updated,
	    "subjects", t->subjects);
	if (j == NULL || (s = json_dumps(j, JSON_COMPACT)) == NULL)
		vp_die(VP_EXIT_SOFTWARE, "out of memory");
	if (vp_write_file_atomic(t->stats, s, strlen(s)) != 0)
		vp_warn("%s: %s", t->stats, strerror(errno));
	free(s);
	json_decref(j);
	t->dirty = 0;
}

/*
 * Count a CloudEvent's subject (the vCenter event class), read as every
 * stage reads the line (src/lib/ce.c): structured lines carry "subject",
 * binary ones "ce-subject", percent-encoded. Other streams simply have none.
 */
static void
count_subject(struct tap *t, const char *line, size_t len)
{
	static struct ce_event ev;	/* reused: no allocation per line */
	char name[128];
	json_t *v;

	if (ce_read(&ev, line, len, 0) != CE_OK || !ev.subject.set ||
	    ev.subject.len >= sizeof(name))
		return;
	memcpy(name, CE_S(&ev, ev.subject), ev.subject.len);
	name[ev.subject.len] = '\0';
	if ((v = json_object_get(t->subjects, name)) != NULL)
		json_integer_set(v, json_integer_value(v) + 1);
	else if (json_object_size(t->subjects) < MAX_SUBJECTS)
		json_object_set_new(t->subjects, name, json_integer(1));
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static struct tap tap;

static const struct vp_opt options[] = {
	VP_OPT("stats", VP_OPT_STRING, &tap.stats, "FILE",
	    "Keep the counts in FILE (JSON, replaced atomically); an existing "
	    "file is continued.", .flags = VP_OPT_REQUIRED),
	VP_OPT("copy", VP_OPT_STRING, &tap.copy, "FILE",
	    "Also append every line to FILE (vcpipe --tee-dir)."),
	VP_OPT("interval", VP_OPT_DURATION, &tap.interval_ms, "DURATION",
	    "Longest time between writes of FILE while lines flow.",
	    .def = "1s", .min = 1),
	VP_OPT_END
};

static const struct vp_cmd cmd = {
	.name = "vcpipe-tap",
	.synopsis = "--stats FILE [OPTION]...",
	.about = "Copy lines from stdin to stdout unchanged, counting them "
	    "(and the CloudEvent subjects) in the --stats file for "
	    "vcpipe-metrics. vcpipe puts one between its stages.",
	.see = "vcpipe(1)",
	.opts = options,
	.libs = VP_LIBS(VP_LIB_JANSSON),
};

int
main(int argc, char **argv)
{
	static char buf[1 << 16];
	size_t have = 0;
	int64_t saved_ms = 0;
	int rc = VP_EXIT_OK;

	vp_opt_parse(&cmd, argc, argv);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	if (tap.copy && (tap.copyfp = fopen(tap.copy, "a")) == NULL)
		vp_die(VP_EXIT_NOINPUT, "%s: %s", tap.copy, strerror(errno));
	tap.subjects = json_object();
	load(&tap);
	for (;;) {
		struct pollfd pfd = { STDIN_FILENO, POLLIN, 0 };
		int64_t now = vp_now_ms();
		int timeout = -1;
		ssize_t n;
		char *nl;

		if (tap.dirty) {
			if (now - saved_ms >= tap.interval_ms) {
				save(&tap);
				saved_ms = now;
			} else
				timeout = (int)(tap.interval_ms - (now - saved_ms));
		}
		if (poll(&pfd, 1, timeout) == 0)
			continue;	/* time to save */
		n = read(STDIN_FILENO, buf + have, sizeof(buf) - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			vp_error("stdin: %s", strerror(errno));
			rc = VP_EXIT_IOERR;
			break;
		}
		if (n == 0) {
			if (have > 0)	/* a last line without a newline */
				buf[have++] = '\n';
			else
				break;
		} else
			have += (size_t)n;
		/* pass on whole lines only, so each record is one write */
		nl = memrchr(buf, '\n', have);
		if (nl == NULL) {
			if (have == sizeof(buf)) {	/* a very long line */
				if (write_all(STDOUT_FILENO, buf, have) != 0)
					goto wfail;
				tap.bytes += have;
				have = 0;
			}
			continue;
		}
		size_t out = (size_t)(nl - buf) + 1;
		for (char *p = buf, *e; p < buf + out; p = e + 1) {
			e = memchr(p, '\n', (size_t)(buf + out - p));
			count_subject(&tap, p, (size_t)(e - p));
			tap.lines++;
		}
		if (write_all(STDOUT_FILENO, buf, out) != 0)
			goto wfail;
		if (tap.copyfp && (fwrite(buf, 1, out, tap.copyfp) != out ||
		    fflush(tap.copyfp) != 0)) {
			vp_warn("%s: %s; no more copies", tap.copy,
			    strerror(errno));
			fclose(tap.copyfp);
			tap.copyfp = NULL;
		}
		tap.bytes += out;
		now_rfc3339(tap.last, sizeof(tap.last));
		tap.dirty = 1;
		memmove(buf, buf + out, have - out);
		have -= out;
		if (n == 0)
			break;
	}
	goto done;
wfail:
	/* EPIPE: the next stage is gone; the supervisor restarts us */
	vp_error("stdout: %s", strerror(errno));
	rc = VP_EXIT_IOERR;
done:
	save(&tap);
	if (tap.copyfp)
		fclose(tap.copyfp);
	json_decref(tap.subjects);
	return rc;
}
