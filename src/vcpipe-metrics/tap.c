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
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <jansson.h>

#include "vp.h"

#define MAX_SUBJECTS 512

static const char usage_text[] =
    "usage: vcpipe-tap --stats FILE [--copy FILE] [--interval DURATION]\n"
    "                  [--log-level LEVEL] [--log-json]\n"
    "       vcpipe-tap --help | --version\n";

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
 * Count a CloudEvent's subject (the vCenter event class), found without a
 * JSON parse: structured lines carry "subject":"X", binary ones
 * "ce-subject":"X".  Other streams simply have none.
 */
static void
count_subject(struct tap *t, const char *line, size_t len)
{
	static const char k1[] = "\"subject\":\"", k2[] = "\"ce-subject\":\"";
	const char *p, *e;
	char name[128];
	json_t *v;

	if ((p = memmem(line, len, k2, sizeof(k2) - 1)) != NULL)
		p += sizeof(k2) - 1;
	else if ((p = memmem(line, len, k1, sizeof(k1) - 1)) != NULL)
		p += sizeof(k1) - 1;
	else
		return;
	e = memchr(p, '"', len - (size_t)(p - line));
	if (e == NULL || e == p || (size_t)(e - p) >= sizeof(name) ||
	    memchr(p, '\\', (size_t)(e - p)) != NULL)
		return;
	memcpy(name, p, (size_t)(e - p));
	name[e - p] = '\0';
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

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "copy", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "interval", required_argument, NULL, 'i' },
		{ "log-json", no_argument, NULL, 'J' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "stats", required_argument, NULL, 's' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	static char buf[1 << 16];
	struct tap t = { 0 };
	size_t have = 0;
	int64_t saved_ms = 0;
	int ch, rc = VP_EXIT_OK;

	vp_log_init(argv[0]);
	t.interval_ms = 1000;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			t.copy = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			fputs("\nCopy lines from stdin to stdout, counting them in "
			    "the --stats file.\nSee vcpipe(1).\n", stdout);
			return VP_EXIT_OK;
		case 'i':
			if ((t.interval_ms = vp_parse_duration_ms(optarg)) <= 0)
				vp_usage_error("--interval: not a duration: %s",
				    optarg);
			break;
		case 'J':
			vp_log_set_json(1);
			break;
		case 'L':
			vp_log_level_option(optarg);
			break;
		case 's':
			t.stats = optarg;
			break;
		case 'V':
			vp_print_versions("vcpipe-tap", NULL);
			return VP_EXIT_OK;
		default:
			fputs(usage_text, stderr);
			return VP_EXIT_USAGE;
		}
	}
	if (optind != argc)
		vp_usage_error("unexpected argument \"%s\"", argv[optind]);
	if (t.stats == NULL)
		vp_usage_error("--stats FILE is required");
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	if (t.copy && (t.copyfp = fopen(t.copy, "a")) == NULL)
		vp_die(VP_EXIT_NOINPUT, "%s: %s", t.copy, strerror(errno));
	t.subjects = json_object();
	load(&t);
	for (;;) {
		struct pollfd pfd = { STDIN_FILENO, POLLIN, 0 };
		int64_t now = vp_now_ms();
		int timeout = -1;
		ssize_t n;
		char *nl;

		if (t.dirty) {
			if (now - saved_ms >= t.interval_ms) {
				save(&t);
				saved_ms = now;
			} else
				timeout = (int)(t.interval_ms - (now - saved_ms));
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
				t.bytes += have;
				have = 0;
			}
			continue;
		}
		size_t out = (size_t)(nl - buf) + 1;
		for (char *p = buf, *e; p < buf + out; p = e + 1) {
			e = memchr(p, '\n', (size_t)(buf + out - p));
			count_subject(&t, p, (size_t)(e - p));
			t.lines++;
		}
		if (write_all(STDOUT_FILENO, buf, out) != 0)
			goto wfail;
		if (t.copyfp && (fwrite(buf, 1, out, t.copyfp) != out ||
		    fflush(t.copyfp) != 0)) {
			vp_warn("%s: %s; no more copies", t.copy,
			    strerror(errno));
			fclose(t.copyfp);
			t.copyfp = NULL;
		}
		t.bytes += out;
		now_rfc3339(t.last, sizeof(t.last));
		t.dirty = 1;
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
	save(&t);
	if (t.copyfp)
		fclose(t.copyfp);
	json_decref(t.subjects);
	return rc;
}
