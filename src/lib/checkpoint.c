/* checkpoint.c: checkpoint records, written by the sinks, read by the sources. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint.h"
#include "vp.h"

void
vp_evpos_free(struct vp_evpos *p)
{
	free(p->source);
	free(p->id);
	free(p->time);
	memset(p, 0, sizeof(*p));
}

void
vp_evpos_move(struct vp_evpos *dst, struct vp_evpos *src)
{
	vp_evpos_free(dst);
	*dst = *src;
	memset(src, 0, sizeof(*src));
}

void
vp_ckpt_clear(struct vp_ckpt *c)
{
	vp_evpos_free(&c->ev);
	memset(c, 0, sizeof(*c));
}

static char *
dup_member(json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);

	return json_is_string(v) ? vp_xstrdup(json_string_value(v)) : NULL;
}

static int
ckpt_read(const char *path, struct vp_ckpt *c, int need_time, char *err,
    size_t errlen)
{
	json_error_t je;
	json_t *o, *k, *d, *u;
	size_t len;
	char *text = vp_read_file(path, 1 << 20, &len);

	memset(c, 0, sizeof(*c));
	if (text == NULL) {
		if (errno == ENOENT)
			return 1;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return VP_EXIT_NOINPUT;
	}
	o = json_loadb(text, len, 0, &je);
	free(text);
	if (o == NULL || !json_is_object(o)) {
		snprintf(err, errlen, "%s:%d: not a checkpoint: %s", path,
		    o ? 1 : je.line, o ? "not a JSON object" : je.text);
		json_decref(o);
		return VP_EXIT_DATAERR;
	}
	c->ev.time = dup_member(o, "time");
	if ((need_time || json_object_get(o, "time") != NULL) &&
	    (c->ev.time == NULL || vp_parse_rfc3339(c->ev.time, &c->sec,
	    &c->nsec) != 0)) {
		snprintf(err, errlen, "%s: checkpoint: \"time\" is not an "
		    "RFC 3339 string", path);
		goto bad;
	}
	k = json_object_get(o, "key");
	if (k != NULL && !json_is_null(k)) {
		if (!json_is_integer(k)) {
			snprintf(err, errlen, "%s: checkpoint: \"key\" is not "
			    "an integer", path);
			goto bad;
		}
		c->ev.has_key = 1;
		c->ev.key = json_integer_value(k);
	}
	d = json_object_get(o, "delivered");
	if (json_is_integer(d) && json_integer_value(d) >= 0)
		c->delivered = (unsigned long)json_integer_value(d);
	c->ev.source = dup_member(o, "source");
	c->ev.id = dup_member(o, "id");
	if (!need_time && (c->ev.source == NULL || c->ev.id == NULL)) {
		snprintf(err, errlen, "%s: checkpoint: no \"source\" or \"id\" "
		    "string", path);
		goto bad;
	}
	u = json_object_get(o, "updated");
	if (json_is_string(u) && vp_parse_rfc3339(json_string_value(u),
	    &c->updated_sec, &c->updated_nsec) == 0)
		c->has_updated = 1;
	json_decref(o);
	return 0;
bad:
	json_decref(o);
	vp_ckpt_clear(c);
	return VP_EXIT_DATAERR;
}

int
vp_ckpt_read(const char *path, struct vp_ckpt *c, char *err, size_t errlen)
{
	return ckpt_read(path, c, 1, err, errlen);
}

int
vp_ckpt_read_event(const char *path, struct vp_ckpt *c, char *err,
    size_t errlen)
{
	return ckpt_read(path, c, 0, err, errlen);
}

/* mkdir -p with mode 0700 for what it creates. */
static int
make_dirs(char *dir)
{
	struct stat st;
	char *slash;

	if (stat(dir, &st) == 0)
		return S_ISDIR(st.st_mode) ? 0 : (errno = ENOTDIR, -1);
	if (errno != ENOENT)
		return -1;
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (make_dirs(dir) != 0)
			return -1;
		*slash = '/';
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

static int
path_error(int e)
{
	switch (e) {
	case EACCES:
	case EPERM:
	case EROFS:
		return VP_EXIT_NOPERM;
	case ENOTDIR:
	case EISDIR:
	case ENAMETOOLONG:
	case ELOOP:
		return VP_EXIT_CONFIG;
	default:
		return VP_EXIT_IOERR;
	}
}

int
vp_state_path_check(const char *path, char *err, size_t errlen)
{
	size_t n = strlen(path);
	char *dir = vp_xmalloc(n + 40);
	struct stat st;
	int fd, e;

	if (n == 0 || path[n - 1] == '/') {
		snprintf(err, errlen, "%s: not a file name", path);
		free(dir);
		return VP_EXIT_CONFIG;
	}
	memcpy(dir, path, n + 1);
	vp_dir_of(dir);
	if (make_dirs(dir) != 0) {
		e = errno;
		snprintf(err, errlen, "%s: cannot create the directory: %s",
		    dir, strerror(e));
		free(dir);
		return path_error(e);
	}
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: is a directory", path);
		free(dir);
		return VP_EXIT_CONFIG;
	}
	/* the only proof that a file can be created there: create one */
	n = strlen(dir);
	snprintf(dir + n, 40, "/.vcpipe-check.%ld", (long)getpid());
	fd = open(dir, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	e = errno;
	dir[n] = '\0';
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot write in %s: %s", path, dir,
		    strerror(e));
		free(dir);
		return path_error(e);
	}
	close(fd);
	dir[n] = '/';
	unlink(dir);
	free(dir);
	/* an existing file must take appends/replacement too */
	if (access(path, F_OK) == 0 && access(path, W_OK) != 0) {
		e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return path_error(e);
	}
	return 0;
}

void
vp_ckpt_note(struct vp_ckpt_writer *w, const struct vp_evpos *p)
{
	struct vp_evpos copy = *p;

	if (p->id == NULL || p->source == NULL)
		return;		/* an unreadable line moves nothing */
	copy.source = vp_xstrdup(p->source);
	copy.id = vp_xstrdup(p->id);
	copy.time = p->time ? vp_xstrdup(p->time) : NULL;
	vp_ckpt_note_move(w, &copy);
}

void
vp_ckpt_note_move(struct vp_ckpt_writer *w, struct vp_evpos *p)
{
	struct vp_evpos *at = &w->pos.ev;

	if (p->id == NULL || p->source == NULL)
		return;		/* an unreadable line moves nothing */
	vp_evpos_move(at, p);
	at->has_key = at->has_key && at->key >= VP_CKPT_KEY_MIN &&
	    at->key <= VP_CKPT_KEY_MAX;
	if (!at->has_key)
		at->key = 0;
	w->dirty = 1;
}

/* The checkpoint's text: one JSON line (free it). */
static char *
ckpt_text(const struct vp_ckpt_writer *w, size_t *len)
{
	json_t *o;
	char now[64], *s;
	struct timespec ts;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	/* "updated" in milliseconds: finer says nothing about delivery */
	vp_format_rfc3339(ts.tv_sec, (int32_t)ts.tv_nsec / 1000000 * 1000000,
	    now, sizeof(now));
	o = json_object();
	json_object_set_new(o, "version", json_integer(1));
	json_object_set_new(o, "source", json_string(w->pos.ev.source));
	json_object_set_new(o, "id", json_string(w->pos.ev.id));
	if (w->pos.ev.time)
		json_object_set_new(o, "time", json_string(w->pos.ev.time));
	if (w->pos.ev.has_key)
		json_object_set_new(o, "key", json_integer(w->pos.ev.key));
	json_object_set_new(o, "delivered",
	    json_integer((json_int_t)w->pos.delivered));
	json_object_set_new(o, "updated", json_string(now));
	if (w->inv && json_object_size(w->inv) > 0)
		json_object_set(o, "invocations", w->inv);
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (s == NULL)
		vp_die(VP_EXIT_SOFTWARE, "out of memory");
	n = strlen(s);
	s = vp_xrealloc(s, n + 2);
	s[n] = '\n';
	s[n + 1] = '\0';
	*len = n + 1;
	return s;
}

/* ---- writing in the background ------------------------------------------------ */

/*
 * An atomic replacement is a write, two fsyncs and a rename: 0.5 ms on an
 * idle disk, tens of ms on a busy one. Written in the delivery loop, every
 * event that came meanwhile waited for the disk (at 1,000 events/s a quiet
 * moment comes after nearly every event, and so did a write). So the disk
 * work is done by a thread of the writer's own: the loop hands it the text
 * and goes on. Texts are written in the order handed over; one not yet
 * taken when a newer comes is dropped (the newer names a later event), so
 * the file only ever moves forward over events that are done. A failed
 * write is reported by the next vp_ckpt_maybe or vp_ckpt_flush, which
 * waits for the thread first: what the file says when the program exits is
 * what it says then, as before.
 */
struct vp_ckpt_bg {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;	/* next handed over, a write ended, quit */
	const char *path;
	char *next;		/* the newest text not yet taken, or NULL */
	size_t next_len;
	int busy;		/* a write is under way */
	int err;		/* errno of a failed write, until reported */
	int quit;
};

static void *
bg_main(void *arg)
{
	struct vp_ckpt_bg *b = arg;

	pthread_mutex_lock(&b->mu);
	for (;;) {
		char *s;
		size_t n;
		int rc, e;

		while (b->next == NULL && !b->quit)
			pthread_cond_wait(&b->cv, &b->mu);
		if (b->next == NULL)
			break;
		s = b->next;
		n = b->next_len;
		b->next = NULL;
		b->busy = 1;
		pthread_mutex_unlock(&b->mu);
		rc = vp_write_file_atomic(b->path, s, n);
		e = errno;
		free(s);
		pthread_mutex_lock(&b->mu);
		b->busy = 0;
		if (rc != 0 && b->err == 0)
			b->err = e;
		pthread_cond_broadcast(&b->cv);
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

/* Hand the text over to the thread (started on first use). */
static void
bg_put(struct vp_ckpt_writer *w, char *s, size_t n)
{
	struct vp_ckpt_bg *b = w->bg;

	if (b == NULL) {
		sigset_t all, old;
		int e;

		b = vp_xmalloc(sizeof(*b));
		memset(b, 0, sizeof(*b));
		b->path = w->path;
		pthread_mutex_init(&b->mu, NULL);
		pthread_cond_init(&b->cv, NULL);
		/* signals are the loop's business (its stop pipe) */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		e = pthread_create(&b->thread, NULL, bg_main, b);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (e != 0)
			vp_die(VP_EXIT_SOFTWARE, "pthread_create: %s",
			    strerror(e));
		w->bg = b;
	}
	pthread_mutex_lock(&b->mu);
	free(b->next);
	b->next = s;
	b->next_len = n;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

/*
 * Has the thread written all it was given (wait: until it has)? 1 when
 * done, 0 when still writing, -1 (logged) when a write failed.
 */
static int
bg_done(struct vp_ckpt_writer *w, int wait)
{
	struct vp_ckpt_bg *b = w->bg;
	int done, e;

	if (b == NULL)
		return 1;
	pthread_mutex_lock(&b->mu);
	while (wait && (b->busy || b->next))
		pthread_cond_wait(&b->cv, &b->mu);
	done = !b->busy && b->next == NULL;
	e = b->err;
	b->err = 0;
	pthread_mutex_unlock(&b->mu);
	if (e != 0) {
		vp_error("%s: %s", w->path, strerror(e));
		return -1;
	}
	return done;
}

static void
bg_free(struct vp_ckpt_writer *w)
{
	struct vp_ckpt_bg *b = w->bg;

	if (b == NULL)
		return;
	/* what was handed over is written first: it names done events */
	pthread_mutex_lock(&b->mu);
	b->quit = 1;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
	pthread_join(b->thread, NULL);
	free(b->next);
	pthread_mutex_destroy(&b->mu);
	pthread_cond_destroy(&b->cv);
	free(b);
	w->bg = NULL;
}

int
vp_ckpt_flush(struct vp_ckpt_writer *w)
{
	char *s;
	size_t n;
	int rc;

	if (w->path == NULL)
		return 0;
	/* the thread's writes first, so this one is the last */
	if (w->pending) {
		w->pending = 0;
		if (bg_done(w, 1) < 0)
			return -1;
	}
	if (!w->dirty)
		return 0;
	s = ckpt_text(w, &n);
	rc = vp_write_file_atomic(w->path, s, n);
	free(s);
	if (rc != 0) {
		vp_error("%s: %s", w->path, strerror(errno));
		return -1;
	}
	w->dirty = 0;
	w->written_ms = vp_now_ms();
	return 0;
}

int
vp_ckpt_maybe(struct vp_ckpt_writer *w, int (*input_idle)(void *), void *arg)
{
	int done;
	size_t n;
	char *s;

	if (w->path == NULL)
		return 0;
	if (w->pending) {
		if ((done = bg_done(w, 0)) < 0)
			return -1;
		w->pending = !done;
	}
	if (!w->dirty)
		return 0;
	if (vp_now_ms() - w->written_ms < w->interval_ms && !input_idle(arg))
		return 0;
	/* --checkpoint-interval 0: each event on disk before the next */
	if (w->interval_ms == 0)
		return vp_ckpt_flush(w);
	s = ckpt_text(w, &n);
	bg_put(w, s, n);
	w->pending = 1;
	w->dirty = 0;
	w->written_ms = vp_now_ms();
	return 0;
}

void
vp_ckpt_writer_free(struct vp_ckpt_writer *w)
{
	bg_free(w);
	w->pending = 0;
	vp_ckpt_clear(&w->pos);
	json_decref(w->inv);
	w->inv = NULL;
}

void
vp_ckpt_count(struct vp_ckpt_writer *w, const char *subject, int ok)
{
	json_t *a;
	size_t i = ok ? 0 : 1;

	if (w->inv == NULL)
		w->inv = json_object();
	if (subject == NULL)
		subject = "";
	if ((a = json_object_get(w->inv, subject)) == NULL) {
		a = json_pack("[I,I]", (json_int_t)0, (json_int_t)0);
		json_object_set_new(w->inv, subject, a);
	}
	/* in place: no allocation per event */
	json_integer_set(json_array_get(a, i),
	    json_integer_value(json_array_get(a, i)) + 1);
	w->dirty = 1;
}

void
vp_ckpt_counts_load(struct vp_ckpt_writer *w)
{
	json_t *j, *inv, *v;
	const char *k;

	if (w->path == NULL || (j = json_load_file(w->path, 0, NULL)) == NULL)
		return;
	inv = json_object_get(j, "invocations");
	json_object_foreach(inv, k, v) {
		/* a counter that is not two counts is dropped, not trusted */
		if (!json_is_array(v) || json_array_size(v) != 2 ||
		    !json_is_integer(json_array_get(v, 0)) ||
		    !json_is_integer(json_array_get(v, 1)))
			continue;
		if (w->inv == NULL)
			w->inv = json_object();
		json_object_set(w->inv, k, v);
	}
	json_decref(j);
}
