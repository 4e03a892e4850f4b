/*
 * opt.h: every program's command line, declared once as a table.
 *
 * A program lists its options as rows {name, kind, where, default, bounds,
 * help}, declared as data in src/PROG/options.tab (src/lib/opt.tab says the
 * row form; src/lib/table-h.awk makes the C table, opts/PROG.h, at build
 * time); one parser reads argv against the rows, checks every value with the
 * same syntax and the same wording everywhere ("prog: --opt: what", exit 64),
 * and answers --help (generated from the rows), --version, --log-level and
 * --log-json itself.  Defaults are written once, as text, in the row: the
 * parser stores them before reading argv and --help shows them, so the two
 * cannot drift.  main() becomes: parse, validate what spans options, run.
 *
 * Syntax shared by every program:
 *   sizes       bytes: 4096, 512k, 1m, 1g (k/m/g are 1024-based, any case)
 *   durations   500ms, 90s, 10m, 1h30m, 2d, 1.5s; a bare number is seconds
 *   --opt VALUE and --opt=VALUE; "--" ends the options; options and
 *   arguments may come in any order; no abbreviations (a new option must
 *   not change what an old command line means).
 *
 * Rows of a group that several programs share (say, the sinks' delivery
 * options) leave ptr NULL and give off, an offset into a struct; each
 * program passes its own struct as the group's base.
 */
#ifndef VP_OPT_H
#define VP_OPT_H

#include <stddef.h>
#include <stdint.h>

enum vp_opt_kind {
	VP_OPT_FLAG,		/* int: 1 when given; takes no value */
	VP_OPT_STRING,		/* const char *: text or a path, not empty */
	VP_OPT_INT,		/* int: a whole number within [min, max] */
	VP_OPT_COUNT,		/* size_t: a whole number of things, >= 0 */
	VP_OPT_SIZE,		/* size_t: bytes with an optional k/m/g */
	VP_OPT_DURATION,	/* int64_t: milliseconds */
	VP_OPT_ENUM,		/* int: the value of one of choices */
	VP_OPT_URL,		/* const char *: http:// or https://, no user info */
	VP_OPT_LISTEN,		/* const char *: a listen address (vp_listen_parse) */
	VP_OPT_LIST,		/* struct vp_strlist: every occurrence, in order */
	VP_OPT_CALL		/* fn(dest, value); value NULL when meta is NULL */
};

/* Row flags. */
#define VP_OPT_REQUIRED	0x01	/* "--opt is required" when absent */
#define VP_OPT_READABLE	0x02	/* a file that must be readable: else exit 66 */
#define VP_OPT_EMPTY	0x04	/* an empty value is allowed */

struct vp_optchoice {
	const char *name;
	int value;
};

struct vp_strlist {
	const char **v;
	int n;
};

struct vp_opt {
	const char *name;	/* long name without the dashes; NULL ends a table */
	enum vp_opt_kind kind;
	void *ptr;		/* where the value goes; NULL: the group's base + off */
	const char *meta;	/* the value's name in --help: FILE, N, DURATION */
	const char *help;	/* what it does, one sentence, no default */
	const char *def;	/* default as it would be typed; shown in --help */
	int64_t min, max;	/* INT, COUNT, SIZE, DURATION bounds (max 0: none);
				 * LIST: max is the most occurrences */
	const struct vp_optchoice *choices;	/* ENUM: ends with { NULL } */
	/* CALL: store/check the value; -1 with a reason in err to refuse it */
	int (*fn)(void *dest, const char *value, char *err, size_t errlen);
	size_t off;		/* see ptr */
	unsigned flags;		/* VP_OPT_REQUIRED | ... */
};

/* What ends a table (the generated ones too). */
#define VP_OPT_END { .name = NULL }

struct vp_optgroup {
	const char *title;		/* heading in --help ("Delivery options") */
	const struct vp_opt *opts;	/* NULL ends the list of groups */
	void *base;			/* for rows that give off, not ptr */
};
/*
 * A shared group: --insecure and --ca-file (VP_OPT_READABLE), stored into
 * the struct vp_tls (vp.h) given as the group's base; a program's table
 * takes it with "use tls-group &s.tls" (src/lib/opt.tab).
 */
extern const struct vp_opt vp_tls_opts[];

/* One --version line: "name version", or the whole string when name is NULL. */
struct vp_libversion {
	const char *name;
	const char *(*version)(void);
};

/*
 * The --version lines of a program: .libs = VP_LIBS(VP_LIB_CURL,
 * VP_LIB_JANSSON).  Each macro is usable where the library's header is
 * included (VP_LIB_MHD: httpd.h).
 */
#define VP_LIBS(...) \
	((const struct vp_libversion[]){ __VA_ARGS__, { NULL, NULL } })
#define VP_LIB_CURL { NULL, vp_curl_version }
#define VP_LIB_JANSSON { "jansson", jansson_version_str }
#define VP_LIB_YAML { "libyaml", yaml_get_version_string }

/*
 * An installed program's name, synopsis, about, see (and args) come from its
 * man page: .cmd starts with VP_MAN_PAGE, from help/PROG.h, which the build
 * makes of man/PROG.1 with src/lib/help-h.awk (Makefile.am: HELP_H), so
 * --help cannot drift from the page (VP_PROGRAM below).  Check programs
 * write them here.
 */
struct vp_cmd {
	const char *name;	/* the program: messages, usage, --version */
	const char *synopsis;	/* after "usage: NAME "; "" when only options */
	const char *about;	/* what the program does, for --help */
	const char *see;	/* "sink-http(1), vcpipe-formats(5)" */
	const char *args;	/* positional arguments' name, NULL: none */
	int min_args, max_args;
	const struct vp_opt *opts;		/* the program's own rows */
	const struct vp_optgroup *groups;	/* more, under headings; may be NULL */
	const struct vp_libversion *libs;	/* ends with { NULL, NULL } */
	/*
	 * What spans options (one of --a and --b, --x at most --y): called
	 * once every value is stored, before VP_OPT_READABLE files are
	 * looked at, so a usage error is reported as one.  May be NULL.
	 */
	void (*check)(void);
};

/*
 * An installed program's command: what its man page says (VP_MAN_PAGE),
 * its own rows and its --version libraries (NULL: none), then any more
 * members as designated initializers (options, groups: opts/PROG.h):
 *   static const struct vp_cmd cmd = VP_PROGRAM(options,
 *       VP_LIBS(VP_LIB_CURL), .groups = groups, .check = check);
 */
#define VP_PROGRAM(opts_, libs_, ...) \
	{ VP_MAN_PAGE, .opts = (opts_), .libs = (libs_), __VA_ARGS__ }

/*
 * Store the defaults, then read argv, then call cmd->check.  --help and
 * --version print and exit 0; a usage error prints "prog: what" and a hint,
 * and exits 64; a VP_OPT_READABLE file that cannot be read exits 66.  Returns the number of
 * positional arguments, moved to argv[1] .. argv[n] in their order.
 */
int vp_opt_parse(const struct vp_cmd *cmd, int argc, char **argv);

/* Was --name on the command line (not just defaulted)? */
int vp_opt_given(const char *name);

/* Print what --help prints, on stdout. */
void vp_opt_help(const struct vp_cmd *cmd);

/*
 * The shared syntax, for values that do not come from argv (a config file,
 * the environment): 0, or -1 with a reason in err.  max 0 means no limit.
 */
int vp_parse_size(const char *s, size_t min, size_t max, size_t *out,
    char *err, size_t errlen);
int vp_parse_int(const char *s, long long min, long long max, long long *out,
    char *err, size_t errlen);
/* 90000 -> "1m30s", 500 -> "500ms", 0 -> "0s" */
void vp_format_duration(int64_t ms, char *buf, size_t len);
/* 1048576 -> "1m", 1000 -> "1000" */
void vp_format_size(uint64_t n, char *buf, size_t len);

/*
 * The rule for files that hold secrets, the same in every program:
 *   a named file that cannot be read   exit 66 (VP_EXIT_NOINPUT)
 *   a file that is malformed or empty  exit 78 (VP_EXIT_CONFIG)
 *   no file and no environment given   exit 78 (VP_EXIT_CONFIG)
 * The message names the option and the file, never the secret.
 * vp_load_credentials: opt is the option's name ("--credentials-file");
 * user_env/pass_env may be NULL when the environment is not a source.
 */
void vp_load_credentials(const char *opt, const char *path,
    const char *user_env, const char *pass_env, char **user, char **pass);
/* Its option, worded once: "use credentials" (src/lib/opt.tab). */
/* A one-line secret (a bearer token): the same rule. */
char *vp_load_secret(const char *opt, const char *path);

#endif
