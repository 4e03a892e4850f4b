/* tap.c: counting taps and whole-line relays (see tap.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "ce.h"
#include "json.h"
#include "tap.h"
#include "vp.h"

#define SUBJECT_MAX 128		/* longer subjects are not counted */
#define RELAY_MIN (64 * 1024)

/* ---- the counts --------------------------------------------------------------- */

static void
now_rfc3339(char *buf, size_t len)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	vp_format_rfc3339(tv.tv_sec, (int32_t)tv.tv_usec * 1000, buf, len);
}

/* Add n to the count of a subject; past the table's size new ones are dropped. */
static void
subject_add(struct vp_tap *t, const char *name, size_t len,
    unsigned long long n)
{
	struct vp_tap_subject *sj;

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
	if (t->nsubj == VP_TAP_MAX_SUBJECTS)
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

static void
forget(struct vp_tap *t)
{
	for (size_t i = 0; i < t->nsubj; i++)
		free(t->subj[i].name);
	t->nsubj = t->hit = 0;
}

/* Continue the counts of an existing stats file (one a tap wrote). */
static void
load(struct vp_tap *t)
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
	forget(t);
done:
	vp_buf_free(&name);
	vp_buf_free(&str);
	free(s);
}

static void
save(struct vp_tap *t)
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
	/*
	 * No fsync: the counts are metrics, not delivery state (the sink's
	 * checkpoint is that), and this runs in vcpipe-group's relay loop, where
	 * a disk flush once a second per tap held every line behind it.  After
	 * a host crash the counts may restart from an older file or from zero
	 * (load() says so): a counter reset, as Prometheus expects of any
	 * restarted process.
	 */
	if (vp_write_file_replace(t->stats, b.data, b.len) != 0)
		vp_warn("%s: %s", t->stats, strerror(errno));
	vp_buf_free(&b);
	t->dirty = 0;
	t->saved_ms = vp_now_ms();
}

int
vp_tap_open(struct vp_tap *t)
{
	if (t->copy) {
		/* the events themselves: 0600 whatever the umask */
		int fd = open(t->copy, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		    0600);

		if (fd < 0 || (t->copyfp = fdopen(fd, "a")) == NULL) {
			int e = errno;

			if (fd >= 0)
				close(fd);
			errno = e;
			return -1;
		}
	}
	load(t);
	return 0;
}

/*
 * A CloudEvent's subject (the vCenter event class), read as every stage
 * reads the line (src/lib/ce.c): structured lines carry "subject", binary
 * ones "ce-subject", percent-encoded.  Other streams simply have none.
 */
static void
count_subject(struct vp_tap *t, const char *line, size_t len)
{
	static struct ce_event ev;	/* reused: no allocation per line */

	if (ce_read(&ev, line, len, 0) != CE_OK || !ev.subject.set)
		return;
	subject_add(t, CE_S(&ev, ev.subject), ev.subject.len, 1);
}

void
vp_tap_count(struct vp_tap *t, const char *p, size_t n, int cont)
{
	const char *end = p + n, *e;

	for (const char *s = p; s < end; s = e + 1) {
		if ((e = memchr(s, '\n', (size_t)(end - s))) == NULL)
			break;		/* a piece of a long line */
		if (!(cont && s == p))
			count_subject(t, s, (size_t)(e - s));
		t->lines++;
	}
	if (t->copyfp && (fwrite(p, 1, n, t->copyfp) != n ||
	    fflush(t->copyfp) != 0)) {
		vp_warn("%s: %s; no more copies", t->copy, strerror(errno));
		fclose(t->copyfp);
		t->copyfp = NULL;
	}
	t->bytes += n;
	now_rfc3339(t->last, sizeof(t->last));
	t->dirty = 1;
}

int
vp_tap_tick(struct vp_tap *t)
{
	int64_t since;

	if (!t->dirty)
		return -1;
	since = vp_now_ms() - t->saved_ms;
	if (since >= t->interval_ms) {
		save(t);
		return (int)t->interval_ms;
	}
	return (int)(t->interval_ms - since);
}

void
vp_tap_close(struct vp_tap *t)
{
	save(t);
	if (t->copyfp)
		fclose(t->copyfp);
	t->copyfp = NULL;
	forget(t);
}

/* ---- the relay ------------------------------------------------------------------ */

void
vp_relay_init(struct vp_relay *r, int in, int out, struct vp_tap *tap,
    int keep_tail)
{
	memset(r, 0, sizeof(*r));
	r->in = in;
	r->out = out;
	r->tap = tap;
	r->keep_tail = keep_tail;
}

short
vp_relay_want_in(const struct vp_relay *r)
{
	if (r->in < 0 || r->eof)
		return 0;
	/* room, or a line longer than the buffer that may grow */
	return r->have < r->cap || (r->ready == 0 &&
	    r->cap < VP_RELAY_MAX_LINE) ? POLLIN : 0;
}

short
vp_relay_want_out(const struct vp_relay *r)
{
	return r->out >= 0 && r->off < r->ready ? POLLOUT : 0;
}

/* What is ready to go: the whole lines in buf, or a piece of a long one. */
static void
mark_ready(struct vp_relay *r)
{
	char *nl;

	if (r->ready > 0 || r->have == 0)
		return;
	if ((nl = memrchr(r->buf, '\n', r->have)) != NULL)
		r->ready = (size_t)(nl - r->buf) + 1;
	else if (r->have == r->cap && r->cap >= VP_RELAY_MAX_LINE)
		r->ready = r->have;
}

static void
relay_close(struct vp_relay *r)
{
	if (r->in >= 0)
		close(r->in);
	if (r->out >= 0)
		close(r->out);
	r->in = r->out = -1;
}

/* Write what is ready; 0, or -1 when the output is gone. */
static int
flush(struct vp_relay *r)
{
	while (r->out >= 0 && r->off < r->ready) {
		ssize_t w = write(r->out, r->buf + r->off, r->ready - r->off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return 0;
		if (w < 0) {
			r->err = errno;
			return -1;
		}
		r->off += (size_t)w;
		if (r->off < r->ready)
			continue;
		if (r->tap)
			vp_tap_count(r->tap, r->buf, r->ready, r->cont);
		r->cont = r->buf[r->ready - 1] != '\n';
		memmove(r->buf, r->buf + r->ready, r->have - r->ready);
		r->have -= r->ready;
		r->ready = r->off = 0;
		/* after a long line, back to the usual size */
		if (r->cap > 16 * RELAY_MIN && r->have < RELAY_MIN) {
			r->cap = RELAY_MIN;
			r->buf = vp_xrealloc(r->buf, r->cap);
		}
		mark_ready(r);
	}
	return 0;
}

/* The input ended: what is left of a last line without its newline. */
static void
tail(struct vp_relay *r)
{
	char *nl = r->have ? memrchr(r->buf, '\n', r->have) : NULL;
	size_t start = nl ? (size_t)(nl - r->buf) + 1 : 0;

	if (r->have == start)
		return;
	if (r->keep_tail) {
		if (r->have == r->cap) {
			r->cap++;
			r->buf = vp_xrealloc(r->buf, r->cap);
		}
		r->buf[r->have++] = '\n';
	} else {
		r->torn = r->have - start;
		r->have = start;
	}
	if (r->ready == 0)
		mark_ready(r);
}

int
vp_relay_step(struct vp_relay *r, int can_read)
{
	if (flush(r) != 0)
		goto gone;
	if (can_read && vp_relay_want_in(r)) {
		ssize_t n;

		if (r->have == r->cap) {
			r->cap = r->cap ? r->cap * 2 : RELAY_MIN;
			if (r->cap > VP_RELAY_MAX_LINE)
				r->cap = VP_RELAY_MAX_LINE;
			r->buf = vp_xrealloc(r->buf, r->cap);
		}
		do
			n = read(r->in, r->buf + r->have, r->cap - r->have);
		while (n < 0 && errno == EINTR);
		if (n > 0) {
			r->have += (size_t)n;
			mark_ready(r);
		} else if (n == 0 || errno != EAGAIN) {
			if (n < 0)
				r->err = errno;
			r->eof = 1;
			close(r->in);
			r->in = -1;
			tail(r);
		}
		if (flush(r) != 0)
			goto gone;
	}
	if (r->eof && r->have == 0) {
		relay_close(r);
		return 0;
	}
	return r->out >= 0;
gone:
	/* the next stage is gone: the one before gets EPIPE in turn */
	relay_close(r);
	return 0;
}

void
vp_relay_free(struct vp_relay *r)
{
	relay_close(r);
	free(r->buf);
	r->buf = NULL;
}
