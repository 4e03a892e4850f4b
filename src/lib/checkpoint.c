/* checkpoint.c: checkpoint records, written by the sinks, read by the sources. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint.h"
#include "vp.h"

void
vp_ckpt_clear(struct vp_ckpt *c)
{
	free(c->source);
	free(c->id);
	free(c->time);
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
	c->time = dup_member(o, "time");
	if ((need_time || json_object_get(o, "time") != NULL) &&
	    (c->time == NULL || vp_parse_rfc3339(c->time, &c->sec,
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
		c->has_key = 1;
		c->key = json_integer_value(k);
	}
	d = json_object_get(o, "delivered");
	if (json_is_integer(d) && json_integer_value(d) >= 0)
		c->delivered = (unsigned long)json_integer_value(d);
	c->source = dup_member(o, "source");
	c->id = dup_member(o, "id");
	if (!need_time && (c->source == NULL || c->id == NULL)) {
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
vp_ckpt_note(struct vp_ckpt_writer *w, const char *source, const char *id,
    const char *time, int has_key, long long key)
{
	if (id == NULL || source == NULL)
		return;		/* an unreadable line moves nothing */
	free(w->pos.source);
	free(w->pos.id);
	free(w->pos.time);
	w->pos.source = vp_xstrdup(source);
	w->pos.id = vp_xstrdup(id);
	w->pos.time = time ? vp_xstrdup(time) : NULL;
	w->pos.has_key = has_key && key >= VP_CKPT_KEY_MIN &&
	    key <= VP_CKPT_KEY_MAX;
	w->pos.key = w->pos.has_key ? key : 0;
	w->dirty = 1;
}

int
vp_ckpt_flush(struct vp_ckpt_writer *w)
{
	json_t *o;
	char now[64], *s;
	struct timespec ts;
	size_t n;
	int rc;

	if (w->path == NULL || !w->dirty)
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	/* "updated" in milliseconds: finer says nothing about delivery */
	vp_format_rfc3339(ts.tv_sec, (int32_t)ts.tv_nsec / 1000000 * 1000000,
	    now, sizeof(now));
	o = json_object();
	json_object_set_new(o, "version", json_integer(1));
	json_object_set_new(o, "source", json_string(w->pos.source));
	json_object_set_new(o, "id", json_string(w->pos.id));
	if (w->pos.time)
		json_object_set_new(o, "time", json_string(w->pos.time));
	if (w->pos.has_key)
		json_object_set_new(o, "key", json_integer(w->pos.key));
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
	rc = vp_write_file_atomic(w->path, s, n + 1);
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
	if (w->path == NULL || !w->dirty)
		return 0;
	if (vp_now_ms() - w->written_ms >= w->interval_ms || input_idle(arg))
		return vp_ckpt_flush(w);
	return 0;
}

void
vp_ckpt_writer_free(struct vp_ckpt_writer *w)
{
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
	json_array_set_new(a, i,
	    json_integer(json_integer_value(json_array_get(a, i)) + 1));
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
