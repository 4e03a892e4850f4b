/* log.c: one log line per message on stderr, text or JSON, always naming the program. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "json.h"
#include "vp.h"

const char *vp_progname = "vcpipe";
static enum vp_level min_level = VP_INFO;
static int json_mode;
static const char *tag_key, *tag_val;	/* vp_log_set_tag */

static const char *level_names[] = { "debug", "info", "warn", "error" };

/*
 * Also back to the defaults: a stage vcpipe-group forks and calls (its
 * built-in stages) starts with what the group had set for itself.
 */
void
vp_log_init(const char *progname)
{
	const char *slash = strrchr(progname, '/');

	vp_progname = slash ? slash + 1 : progname;
	min_level = VP_INFO;
	json_mode = 0;
	tag_key = tag_val = NULL;
}

int
vp_log_set_level(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(name, level_names[i]) == 0) {
			min_level = (enum vp_level)i;
			return 0;
		}
	return -1;
}

void
vp_log_set_json(int on)
{
	json_mode = on;
}

const char *
vp_log_level_name(void)
{
	return level_names[min_level];
}

int
vp_log_json(void)
{
	return json_mode;
}

void
vp_log_set_tag(const char *key, const char *value)
{
	tag_key = key;
	tag_val = value;
}

int
vp_log_enabled(enum vp_level lvl)
{
	return lvl >= min_level;
}

void
vp_vlog(enum vp_level lvl, const char *fmt, va_list ap)
{
	char msg[4096];
	struct vp_buf b = { 0 };
	int saved = errno;

	if (lvl < min_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (json_mode) {
		struct timeval tv;
		char ts[64];

		gettimeofday(&tv, NULL);
		vp_format_rfc3339(tv.tv_sec, (int32_t)tv.tv_usec * 1000, ts,
		    sizeof(ts));
		vp_buf_printf(&b, "{\"time\":\"%s\",\"level\":\"%s\",\"program\":\"",
		    ts, level_names[lvl]);
		js_escape(&b, vp_progname, strlen(vp_progname));
		if (tag_key) {
			vp_buf_append(&b, "\",\"", 3);
			js_escape(&b, tag_key, strlen(tag_key));
			vp_buf_append(&b, "\":\"", 3);
			js_escape(&b, tag_val, strlen(tag_val));
		}
		vp_buf_append(&b, "\",\"msg\":\"", 9);
		js_escape(&b, msg, strlen(msg));
		vp_buf_append(&b, "\"}\n", 3);
	} else {
		/* errors keep the plain "prog: where: what" shape */
		if (lvl == VP_ERROR)
			vp_buf_printf(&b, "%s: %s%s%s%s\n", vp_progname,
			    tag_key ? "[" : "", tag_key ? tag_val : "",
			    tag_key ? "] " : "", msg);
		else
			vp_buf_printf(&b, "%s: %s: %s%s%s%s\n", vp_progname,
			    level_names[lvl], tag_key ? "[" : "",
			    tag_key ? tag_val : "", tag_key ? "] " : "", msg);
	}
	if (b.data) {
		/* one write per line so stages sharing stderr do not interleave */
		ssize_t off = 0;
		while ((size_t)off < b.len) {
			ssize_t n = write(STDERR_FILENO, b.data + off, b.len - off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			off += n;
		}
	}
	vp_buf_free(&b);
	errno = saved;
}

void
vp_log(enum vp_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vp_vlog(lvl, fmt, ap);
	va_end(ap);
}

void
vp_die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vp_vlog(VP_ERROR, fmt, ap);
	va_end(ap);
	exit(code);
}

void
vp_usage_error(const char *fmt, ...)
{
	va_list ap;
	char msg[1024];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\nTry '%s --help' for more information.\n",
	    vp_progname, msg, vp_progname);
	exit(VP_EXIT_USAGE);
}
