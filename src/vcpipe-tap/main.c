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
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "ce.h"
#include "json.h"
#include "opt.h"
#include "vp.h"

#define MAX_SUBJECTS 512
#define SUBJECT_MAX 128		/* longer subjects are not counted */

/* libc only (a tap runs twice per pipeline): no JSON library, a small table. */
struct subject {
	char *name;
	size_t len;
	unsigned long long n;
};

struct tap {
	const char *stats, *copy;
	FILE *copyfp;
	int64_t interval_ms;
	unsigned long long lines, bytes;
	char last[64];		/* wall time of the last line */
	struct subject subj[MAX_SUBJECTS];	/* in the order first seen */
	size_t nsubj, hit;	/* hit: the one found last (runs of a class) */
	int dirty;
};

static void
now_rfc3339(char *buf, size_t len)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	vp_format_rfc3339(tv.tv_sec, (int32_t)tv.tv_usec * 1000, buf, len);
}

/* Add n to the count of a subject; past MAX_SUBJECTS new ones are dropped. */
static void
subject_add(struct tap *t, const char *name, size_t len, unsigned long long n)
{
	struct subject *sj;

	if (len == 0 || len >= SUBJECT_MAX)
		return;
	if (t->hit < t->nsubj && t->subj[t->hit].len == len &&
	    memcmp(t->subj[t->hit].name, name, len) == 0) {
		t->subj[t->hit].n += n;
		return;
	}
	for (size_t i = 0; i < t->nsubj; i++)
		if (t->subj[i].len == len && memcmp(t->subj[i].name, name,
		    len) == 0) {
			t->subj[i].n += n;
			t->hit = i;
			return;
		}
	if (t->nsubj == MAX_SUBJECTS)
		return;
	sj = &t->subj[t->nsubj];
	sj->name = vp_xmalloc(len + 1);
	memcpy(sj->name, name, len);
	sj->name[len] = '\0';
	sj->len = len;
	sj->n = n;
	t->hit = t->nsubj++;
}

/* A whole number the tap wrote (non-negative, no fraction): 0 otherwise. */
static unsigned long long
count_of(const struct js_span *v)
{
	if (v->type != JS_NUMBER || !v->integer || *v->p == '-')
		return 0;
	return strtoull(v->p, NULL, 10);
}

/* Continue the counts of an existing stats file (one this tap wrote). */
static void
load(struct tap *t)
{
	struct vp_buf name = { 0 }, str = { 0 };
	struct js_span v, sv;
	struct js j, sub = { 0 };
	const char *k;
	int n = 0, m;
	size_t len;
	char *s;

	if ((s = vp_read_file(t->stats, 1 << 20, &len)) == NULL)
		return;
	js_init(&j, s, len);
	if (js_object_begin(&j) != 0)
		goto bad;
	while ((m = js_object_next(&j, &n, &name, NULL, &v)) == 1) {
		k = name.data ? name.data : "";
		if (strcmp(k, "lines") == 0)
			t->lines = count_of(&v);
		else if (strcmp(k, "bytes") == 0)
			t->bytes = count_of(&v);
		else if (strcmp(k, "last") == 0 && v.type == JS_STRING) {
			vp_buf_reset(&str);
			js_decode_string(&v, &str);
			snprintf(t->last, sizeof(t->last), "%s",
			    str.data ? str.data : "");
		} else if (strcmp(k, "subjects") == 0 && v.type == JS_OBJECT) {
			int ns = 0;

			js_init(&sub, v.p, v.len);
			if (js_object_begin(&sub) != 0)
				goto bad;
			while ((m = js_object_next(&sub, &ns, &name, NULL,
			    &sv)) == 1)
				subject_add(t, name.data, name.len,
				    count_of(&sv));
			if (m != 0)
				goto bad;
		}
	}
	if (m != 0 || js_end(&j) != 0)
		goto bad;
	goto done;
bad:
	/* a torn or foreign file: start the counts again, say so */
	vp_warn("%s: not a stats file (%s); counting from zero", t->stats,
	    j.err[0] ? j.err : sub.err);
	t->lines = t->bytes = 0;
	t->last[0] = '\0';
	for (size_t i = 0; i < t->nsubj; i++)
		free(t->subj[i].name);
	t->nsubj = 0;
done:
	vp_buf_free(&name);
	vp_buf_free(&str);
	free(s);
}

static void
save(struct tap *t)
{
	struct vp_buf b = { 0 };
	char updated[64];

	now_rfc3339(updated, sizeof(updated));
	vp_buf_printf(&b, "{\"lines\":%llu,\"bytes\":%llu,\"last\":",
	    t->lines, t->bytes);
	js_quote(&b, t->last, strlen(t->last));
	vp_buf_printf(&b, ",\"updated\":\"%s\",\"subjects\":{", updated);
	for (size_t i = 0; i < t->nsubj; i++) {
		if (i > 0)
			vp_buf_append(&b, ",", 1);
		js_quote(&b, t->subj[i].name, t->subj[i].len);
		vp_buf_printf(&b, ":%llu", t->subj[i].n);
	}
	vp_buf_append(&b, "}}", 2);
	if (vp_write_file_atomic(t->stats, b.data, b.len) != 0)
		vp_warn("%s: %s", t->stats, strerror(errno));
	vp_buf_free(&b);
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

	if (ce_read(&ev, line, len, 0) != CE_OK || !ev.subject.set)
		return;
	subject_add(t, CE_S(&ev, ev.subject), ev.subject.len, 1);
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
	if (tap.copy) {
		/* the events themselves: 0600 whatever the umask */
		int fd = open(tap.copy, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		    0600);

		if (fd < 0 || (tap.copyfp = fdopen(fd, "a")) == NULL)
			vp_die(VP_EXIT_NOINPUT, "%s: %s", tap.copy,
			    strerror(errno));
	}
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
	for (size_t i = 0; i < tap.nsubj; i++)
		free(tap.subj[i].name);
	return rc;
}
