/* opt.c: the one option parser; see opt.h. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "opt.h"
#include "vp.h"

#define HELP_WIDTH 79
#define HELP_COL 26		/* where the help text of a row starts */
#define MAX_GIVEN 128

static const char *given[MAX_GIVEN];
static int ngiven;

/* ---- the syntax every program shares ------------------------------------ */

int
vp_parse_int(const char *s, long long min, long long max, long long *out,
    char *err, size_t errlen)
{
	char *end;
	long long v;

	errno = 0;
	if (*s == '\0' || isspace((unsigned char)*s) || *s == '+' ||
	    (*s == '-' && min >= 0)) {
		snprintf(err, errlen, "not a whole number");
		return -1;
	}
	v = strtoll(s, &end, 10);
	if (*end != '\0' || end == s) {
		snprintf(err, errlen, "not a whole number");
		return -1;
	}
	if (errno == ERANGE || v < min || v > max) {
		snprintf(err, errlen, "out of range");
		return -1;
	}
	*out = v;
	return 0;
}

int
vp_parse_size(const char *s, size_t min, size_t max, size_t *out,
    char *err, size_t errlen)
{
	unsigned long long v = 0, mult = 1;
	const char *p = s;

	if (!isdigit((unsigned char)*p)) {
		snprintf(err, errlen, "not a size");
		return -1;
	}
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (ULLONG_MAX - 9) / 10) {
			snprintf(err, errlen, "out of range");
			return -1;
		}
		v = v * 10 + (unsigned)(*p - '0');
	}
	switch (tolower((unsigned char)*p)) {
	case '\0':
		break;
	case 'k':
		mult = 1ULL << 10;
		p++;
		break;
	case 'm':
		mult = 1ULL << 20;
		p++;
		break;
	case 'g':
		mult = 1ULL << 30;
		p++;
		break;
	default:
		snprintf(err, errlen, "not a size");
		return -1;
	}
	if (*p != '\0') {
		snprintf(err, errlen, "not a size");
		return -1;
	}
	if (v > SIZE_MAX / mult || v * mult < min || (max && v * mult > max)) {
		snprintf(err, errlen, "out of range");
		return -1;
	}
	*out = (size_t)(v * mult);
	return 0;
}

void
vp_format_duration(int64_t ms, char *buf, size_t len)
{
	static const struct {
		const char *unit;
		int64_t ms;
	} units[] = {
		{ "d", 86400000 }, { "h", 3600000 }, { "m", 60000 },
		{ "s", 1000 }, { "ms", 1 }
	};
	size_t off = 0;

	if (ms <= 0) {
		snprintf(buf, len, "%s", ms == 0 ? "0s" : "?");
		return;
	}
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (ms >= units[i].ms && off < len) {
			int n = snprintf(buf + off, len - off, "%lld%s",
			    (long long)(ms / units[i].ms), units[i].unit);
			if (n > 0)
				off += (size_t)n;
			ms %= units[i].ms;
		}
	}
}

void
vp_format_size(uint64_t n, char *buf, size_t len)
{
	if (n != 0 && n % (1ULL << 30) == 0)
		snprintf(buf, len, "%llug", (unsigned long long)(n >> 30));
	else if (n != 0 && n % (1ULL << 20) == 0)
		snprintf(buf, len, "%llum", (unsigned long long)(n >> 20));
	else if (n != 0 && n % (1ULL << 10) == 0)
		snprintf(buf, len, "%lluk", (unsigned long long)(n >> 10));
	else
		snprintf(buf, len, "%llu", (unsigned long long)n);
}

/* ---- one row ------------------------------------------------------------- */

static void
fmt_value(const struct vp_opt *o, int64_t v, char *buf, size_t len)
{
	if (o->kind == VP_OPT_DURATION)
		vp_format_duration(v, buf, len);
	else if (o->kind == VP_OPT_SIZE)
		vp_format_size((uint64_t)v, buf, len);
	else
		snprintf(buf, len, "%lld", (long long)v);
}

/* "from 1 to 1000", "of at least 1s", or "" for a row without bounds. */
static void
bounds_text(const struct vp_opt *o, const char *from, char *buf, size_t len)
{
	char lo[32], hi[32];

	buf[0] = '\0';
	if (o->kind != VP_OPT_INT && o->kind != VP_OPT_COUNT &&
	    o->kind != VP_OPT_SIZE && o->kind != VP_OPT_DURATION)
		return;
	fmt_value(o, o->min, lo, sizeof(lo));
	fmt_value(o, o->max, hi, sizeof(hi));
	if (o->max != 0)
		snprintf(buf, len, "%s%s to %s", from, lo, hi);
	else if (o->min > 0)
		snprintf(buf, len, "at least %s", lo);
}

/* "a, b or c" */
static void
choices_text(const struct vp_opt *o, const char *sep, const char *last,
    struct vp_buf *b)
{
	for (const struct vp_optchoice *c = o->choices; c->name; c++) {
		if (c != o->choices)
			vp_buf_printf(b, "%s", c[1].name ? sep : last);
		vp_buf_printf(b, "%s", c->name);
	}
}

static int
url_check(const char *v, char *err, size_t errlen)
{
	const char *host;
	size_t n;

	if (strncasecmp(v, "https://", 8) == 0)
		host = v + 8;
	else if (strncasecmp(v, "http://", 7) == 0)
		host = v + 7;
	else
		host = NULL;
	if (host == NULL || *host == '\0' || *host == '/') {
		snprintf(err, errlen, "expected an http:// or https:// URL, "
		    "got \"%s\"", v);
		return -1;
	}
	n = strcspn(host, "/?#");
	if (memchr(host, '@', n) != NULL) {
		/* not echoed: the URL holds a password */
		snprintf(err, errlen, "user name and password in the URL are "
		    "refused (they would show in ps and in logs); give them "
		    "in a credentials file");
		return -1;
	}
	return 0;
}

/* Convert value as o says and store it at dest: 0, or -1 with err. */
static int
store(const struct vp_opt *o, void *dest, const char *v, char *err,
    size_t errlen)
{
	char why[256], range[96];

	if (v != NULL && *v == '\0' && !(o->flags & VP_OPT_EMPTY) &&
	    o->kind != VP_OPT_CALL) {
		snprintf(err, errlen, "empty value");
		return -1;
	}
	switch (o->kind) {
	case VP_OPT_FLAG:
		*(int *)dest = 1;
		return 0;
	case VP_OPT_STRING:
		*(const char **)dest = v;
		return 0;
	case VP_OPT_URL:
		if (url_check(v, err, errlen) != 0)
			return -1;
		*(const char **)dest = v;
		return 0;
	case VP_OPT_LISTEN: {
		struct vp_listen l;

		if (vp_listen_parse(v, &l, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "%s", why);
			return -1;
		}
		*(const char **)dest = v;
		return 0;
	}
	case VP_OPT_INT:
	case VP_OPT_COUNT: {
		long long n;
		int64_t max = o->max ? o->max :
		    o->kind == VP_OPT_INT ? INT_MAX : LLONG_MAX;

		if (vp_parse_int(v, o->min, max, &n, why, sizeof(why)) != 0) {
			bounds_text(o, "from ", range, sizeof(range));
			snprintf(err, errlen, "expected a whole number%s%s, "
			    "got \"%s\"", *range ? " " : "", range, v);
			return -1;
		}
		if (o->kind == VP_OPT_INT)
			*(int *)dest = (int)n;
		else
			*(size_t *)dest = (size_t)n;
		return 0;
	}
	case VP_OPT_SIZE: {
		size_t n;

		if (vp_parse_size(v, (size_t)o->min, (size_t)o->max, &n, why,
		    sizeof(why)) != 0) {
			bounds_text(o, "from ", range, sizeof(range));
			snprintf(err, errlen, "expected a size%s%s (like 512k "
			    "or 1m), got \"%s\"", *range ? " " : "", range, v);
			return -1;
		}
		*(size_t *)dest = n;
		return 0;
	}
	case VP_OPT_DURATION: {
		int64_t ms = vp_parse_duration_ms(v);

		if (ms < 0 || ms < o->min || (o->max && ms > o->max)) {
			bounds_text(o, "from ", range, sizeof(range));
			snprintf(err, errlen, "expected a duration%s%s (like "
			    "500ms, 90s or 1h30m), got \"%s\"",
			    *range ? " " : "", range, v);
			return -1;
		}
		*(int64_t *)dest = ms;
		return 0;
	}
	case VP_OPT_ENUM: {
		struct vp_buf b = { 0 };

		for (const struct vp_optchoice *c = o->choices; c->name; c++)
			if (strcmp(c->name, v) == 0) {
				*(int *)dest = c->value;
				return 0;
			}
		choices_text(o, ", ", " or ", &b);
		snprintf(err, errlen, "expected %s, got \"%s\"", b.data, v);
		vp_buf_free(&b);
		return -1;
	}
	case VP_OPT_LIST: {
		struct vp_strlist *l = dest;

		if (o->max && l->n >= o->max) {
			snprintf(err, errlen, "given more than %lld times",
			    (long long)o->max);
			return -1;
		}
		l->v = vp_xrealloc(l->v, (size_t)(l->n + 1) * sizeof(*l->v));
		l->v[l->n++] = v;
		return 0;
	}
	case VP_OPT_CALL:
		err[0] = '\0';
		if (o->fn(dest, v, err, errlen) != 0) {
			if (err[0] == '\0')
				snprintf(err, errlen, "bad value \"%s\"", v);
			return -1;
		}
		return 0;
	}
	snprintf(err, errlen, "unknown option kind");
	return -1;
}

static int
takes_value(const struct vp_opt *o)
{
	return o->kind != VP_OPT_FLAG && !(o->kind == VP_OPT_CALL &&
	    o->meta == NULL);
}

/* ---- the rows every program has -------------------------------------------- */

static int
set_log_level(void *dest, const char *v, char *err, size_t errlen)
{
	(void)dest;
	if (vp_log_set_level(v) != 0) {
		snprintf(err, errlen, "expected debug, info, warn or error, "
		    "got \"%s\"", v);
		return -1;
	}
	return 0;
}

static int
set_log_json(void *dest, const char *v, char *err, size_t errlen)
{
	(void)dest, (void)v, (void)err, (void)errlen;
	vp_log_set_json(1);
	return 0;
}

static int help_wanted, version_wanted;

/* common_opts, vp_tls_opts: src/lib/opt.tab */
#include "opts/lib-opt.h"

#define MAX_GROUPS 16

/* The program's own rows, then its groups, as one list ended by { NULL }. */
static const struct vp_optgroup *
all_groups(const struct vp_cmd *cmd)
{
	static struct vp_optgroup all[MAX_GROUPS + 2];
	int n = 0;

	if (cmd->opts)
		all[n++] = (struct vp_optgroup){ NULL, cmd->opts, NULL };
	for (const struct vp_optgroup *g = cmd->groups; g && g->opts &&
	    n < MAX_GROUPS + 1; g++)
		all[n++] = *g;
	all[n] = (struct vp_optgroup){ NULL, NULL, NULL };
	return all;
}

static void *
dest_of(const struct vp_optgroup *g, const struct vp_opt *o)
{
	if (o->ptr != NULL)
		return o->ptr;
	if (g != NULL && g->base != NULL)
		return (char *)g->base + o->off;
	return NULL;
}

static const struct vp_opt *
find(const struct vp_cmd *cmd, const char *name, size_t len,
    const struct vp_optgroup **gp)
{
	for (const struct vp_optgroup *g = all_groups(cmd); g->opts; g++)
		for (const struct vp_opt *o = g->opts; o->name; o++)
			if (strlen(o->name) == len &&
			    memcmp(o->name, name, len) == 0) {
				*gp = g;
				return o;
			}
	for (const struct vp_opt *o = common_opts; o->name; o++)
		if (strlen(o->name) == len && memcmp(o->name, name, len) == 0) {
			*gp = NULL;
			return o;
		}
	return NULL;
}

/* ---- --help ------------------------------------------------------------------- */

/*
 * Append text to b, words wrapped at HELP_WIDTH; *col is the column b ends
 * at.  Text starts at column indent, and so does every line after a break.
 */
static void
wrap(struct vp_buf *b, size_t *col, const char *text, size_t indent)
{
	const char *p = text;
	int fresh = 1;		/* no word yet on this line */

	if (*col < indent) {
		vp_buf_printf(b, "%*s", (int)(indent - *col), "");
		*col = indent;
	}
	while (*p) {
		size_t w;

		if (*p == ' ') {
			p++;
			continue;
		}
		if (*p == '\n') {
			vp_buf_printf(b, "\n%*s", (int)indent, "");
			*col = indent;
			fresh = 1;
			p++;
			continue;
		}
		w = strcspn(p, " \n");
		if (!fresh && *col + 1 + w > HELP_WIDTH) {
			vp_buf_printf(b, "\n%*s", (int)indent, "");
			*col = indent;
			fresh = 1;
		}
		if (!fresh) {
			vp_buf_append(b, " ", 1);
			(*col)++;
		}
		vp_buf_append(b, p, w);
		*col += w;
		p += w;
		fresh = 0;
	}
}

static void
help_row(struct vp_buf *b, const struct vp_opt *o)
{
	struct vp_buf t = { 0 };
	size_t start = b->len, col;
	char range[96];

	vp_buf_printf(b, "  --%s", o->name);
	if (o->kind == VP_OPT_ENUM && o->meta == NULL) {
		vp_buf_append(b, " ", 1);
		choices_text(o, "|", "|", b);
	} else if (takes_value(o))
		vp_buf_printf(b, " %s", o->meta ? o->meta : "VALUE");
	col = b->len - start;
	if (col + 2 > HELP_COL) {
		vp_buf_append(b, "\n", 1);
		col = 0;
	}
	vp_buf_printf(&t, "%s", o->help ? o->help : "");
	bounds_text(o, "", range, sizeof(range));
	if (*range || o->def || (o->flags & VP_OPT_REQUIRED) ||
	    o->kind == VP_OPT_LIST) {
		int n = 0;

		vp_buf_append(&t, " (", 2);
		if (o->flags & VP_OPT_REQUIRED)
			vp_buf_printf(&t, "%srequired", n++ ? "; " : "");
		if (o->kind == VP_OPT_LIST && o->max)
			vp_buf_printf(&t, "%sup to %lld times", n++ ? "; " : "",
			    (long long)o->max);
		else if (o->kind == VP_OPT_LIST)
			vp_buf_printf(&t, "%smay be repeated", n++ ? "; " : "");
		if (*range)
			vp_buf_printf(&t, "%s%s", n++ ? "; " : "", range);
		if (o->def)
			vp_buf_printf(&t, "%sdefault %s", n++ ? "; " : "",
			    o->def);
		vp_buf_append(&t, ")", 1);
	}
	if (t.data)
		wrap(b, &col, t.data, HELP_COL);
	vp_buf_append(b, "\n", 1);
	vp_buf_free(&t);
}

void
vp_opt_help(const struct vp_cmd *cmd)
{
	struct vp_buf b = { 0 };
	size_t col = 0;

	vp_buf_printf(&b, "usage: %s ", cmd->name);
	col = b.len;
	if (cmd->synopsis && *cmd->synopsis)
		wrap(&b, &col, cmd->synopsis, 7 + strlen(cmd->name) + 1);
	else {
		vp_buf_printf(&b, "[OPTION]...");
		if (cmd->args)
			vp_buf_printf(&b, cmd->min_args ? " %s%s" : " [%s]%s",
			    cmd->args, cmd->max_args > (cmd->min_args ?
			    cmd->min_args : 1) ? "..." : "");
	}
	vp_buf_printf(&b, "\n       %s --help | --version\n", cmd->name);
	if (cmd->about) {
		vp_buf_append(&b, "\n", 1);
		col = 0;
		wrap(&b, &col, cmd->about, 0);
		vp_buf_append(&b, "\n", 1);
	}
	for (const struct vp_optgroup *g = all_groups(cmd); g->opts; g++) {
		vp_buf_printf(&b, "\n%s:\n", g->title ? g->title : "Options");
		for (const struct vp_opt *o = g->opts; o->name; o++)
			help_row(&b, o);
	}
	vp_buf_printf(&b, "\nCommon options:\n");
	for (const struct vp_opt *o = common_opts; o->name; o++)
		help_row(&b, o);
	vp_buf_printf(&b, "\nSizes take k, m or g (512k, 1m); durations take ms, "
	    "s, m, h or d\n(500ms, 90s, 1h30m; a bare number is seconds).\n");
	if (cmd->see)
		vp_buf_printf(&b, "See %s.\n", cmd->see);
	fwrite(b.data, 1, b.len, stdout);
	vp_buf_free(&b);
}

static void
print_version(const struct vp_cmd *cmd)
{
	printf("%s (vcpipe) %s\n", cmd->name, PACKAGE_VERSION);
	/* only the libraries this program links: each one costs RSS */
	for (const struct vp_libversion *l = cmd->libs; l && l->version; l++)
		if (l->name)
			printf("%s %s\n", l->name, l->version());
		else
			printf("%s\n", l->version());
}

/* ---- argv ---------------------------------------------------------------------- */

static void
note_given(const char *name)
{
	for (int i = 0; i < ngiven; i++)
		if (strcmp(given[i], name) == 0)
			return;
	if (ngiven < MAX_GIVEN)
		given[ngiven++] = name;
}

int
vp_opt_given(const char *name)
{
	for (int i = 0; i < ngiven; i++)
		if (strcmp(given[i], name) == 0)
			return 1;
	return 0;
}

static void
set_defaults(const struct vp_cmd *cmd)
{
	char err[512];

	for (const struct vp_optgroup *g = all_groups(cmd); g->opts; g++)
		for (const struct vp_opt *o = g->opts; o->name; o++) {
			void *d = dest_of(g, o);

			if (o->def == NULL || d == NULL)
				continue;
			if (store(o, d, o->def, err, sizeof(err)) != 0)
				vp_die(VP_EXIT_SOFTWARE, "--%s: bad default: %s",
				    o->name, err);
		}
}

/* A file the program will read later: refuse it now if it cannot be read. */
static void
check_readable(const char *opt, const char *path)
{
	char c;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, &c, 1) < 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		vp_die(VP_EXIT_NOINPUT, "--%s: %s: %s", opt, path, strerror(e));
	}
	close(fd);
}

static void
after_parse(const struct vp_cmd *cmd)
{
	const struct vp_optgroup *g;
	const struct vp_opt *o;

	for (g = all_groups(cmd); g->opts; g++)
		for (o = g->opts; o->name; o++)
			if ((o->flags & VP_OPT_REQUIRED) && !vp_opt_given(o->name))
				vp_usage_error("--%s is required", o->name);
	if (cmd->check)
		cmd->check();
	/* usage errors first: a file is only looked at on a good command line */
	for (g = all_groups(cmd); g->opts; g++)
		for (o = g->opts; o->name; o++) {
			const char *path;

			if (!(o->flags & VP_OPT_READABLE) ||
			    !vp_opt_given(o->name) || dest_of(g, o) == NULL)
				continue;
			path = *(const char **)dest_of(g, o);
			if (path != NULL)
				check_readable(o->name, path);
		}
}

int
vp_opt_parse(const struct vp_cmd *cmd, int argc, char **argv)
{
	char err[512];
	int npos = 0, i;

	vp_log_init(cmd->name);
	/* a fresh start, also in a stage vcpipe-group forked after its own */
	ngiven = 0;
	help_wanted = version_wanted = 0;
	set_defaults(cmd);
	for (i = 1; i < argc; i++) {
		const struct vp_optgroup *g;
		const struct vp_opt *o;
		const char *a = argv[i], *name, *eq, *v = NULL;
		size_t len;

		if (strcmp(a, "--") == 0) {
			for (i++; i < argc; i++)
				argv[1 + npos++] = argv[i];
			break;
		}
		if (a[0] != '-' || a[1] == '\0') {
			argv[1 + npos++] = argv[i];
			continue;
		}
		if (strcmp(a, "-h") == 0)
			a = "--help";
		if (a[1] != '-')
			vp_usage_error("unknown option \"%s\"", a);
		name = a + 2;
		eq = strchr(name, '=');
		len = eq ? (size_t)(eq - name) : strlen(name);
		if ((o = find(cmd, name, len, &g)) == NULL)
			vp_usage_error("unknown option \"%.*s\"", (int)len + 2, a);
		if (takes_value(o)) {
			if (eq)
				v = eq + 1;
			else if (i + 1 < argc)
				v = argv[++i];
			else
				vp_usage_error("--%s: needs a value", o->name);
		} else if (eq)
			vp_usage_error("--%s: takes no value", o->name);
		if (store(o, dest_of(g, o), v, err, sizeof(err)) != 0)
			vp_usage_error("--%s: %s", o->name, err);
		note_given(o->name);
		if (help_wanted) {
			vp_opt_help(cmd);
			exit(fflush(stdout) == 0 ? VP_EXIT_OK : VP_EXIT_IOERR);
		}
		if (version_wanted) {
			print_version(cmd);
			exit(fflush(stdout) == 0 ? VP_EXIT_OK : VP_EXIT_IOERR);
		}
	}
	if (npos > 0 && cmd->args == NULL)
		vp_usage_error("unexpected argument \"%s\"", argv[1]);
	if (npos > cmd->max_args && cmd->args)
		vp_usage_error("unexpected argument \"%s\"",
		    argv[1 + cmd->max_args]);
	if (npos < cmd->min_args)
		vp_usage_error("%s is required", cmd->args);
	after_parse(cmd);
	return npos;
}
