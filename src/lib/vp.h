/*
 * vp.h: what every vcpipe stage shares.
 *
 * Logging, the exit-code table, NDJSON line I/O, signal handling, credentials,
 * atomic files, time parsing, listen addresses (libvp.a, libc only) and
 * HTTP helpers on libcurl (libvp-curl.a).  Options: opt.h.
 */
#ifndef VP_H
#define VP_H

#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>

/*
 * The one exit-code table (see vcpipe(1) and every man page's EXIT STATUS;
 * bin/vcpipe's is_permanent() holds the same split).
 * Temporary failures are worth a restart by the supervisor; permanent ones
 * are not (s6-supervise's "125 = do not restart" model, with sysexits(3)
 * numbers where one fits).
 */
enum vp_exit {
	VP_EXIT_OK = 0,		/* done: all input delivered / --once finished */
	VP_EXIT_TEMPFAIL = 75,	/* temporary: network, server, session; restart */
	VP_EXIT_IOERR = 74,	/* temporary: local I/O (disk full, stdout gone) */
	VP_EXIT_USAGE = 64,	/* permanent: bad command line */
	VP_EXIT_DATAERR = 65,	/* permanent: bad input (--strict), or an event
				 * rejected for good with no dead-letter file */
	VP_EXIT_NOINPUT = 66,	/* permanent: a named file cannot be read */
	VP_EXIT_SOFTWARE = 70,	/* permanent: internal error */
	VP_EXIT_NOPERM = 77,	/* permanent: authentication or permission denied */
	VP_EXIT_CONFIG = 78,	/* permanent: configuration error */
	VP_EXIT_PERMANENT = 125	/* permanent: any other reason not to restart */
};

/* ---- logging ------------------------------------------------------------ */

enum vp_level { VP_DEBUG, VP_INFO, VP_WARN, VP_ERROR };

extern const char *vp_progname;

void vp_log_init(const char *progname);
int vp_log_set_level(const char *name);	/* -1 when the name is unknown */
void vp_log_set_json(int on);
int vp_log_enabled(enum vp_level lvl);
/* The level and format set (to pass on to programs this one starts). */
const char *vp_log_level_name(void);
int vp_log_json(void);
/*
 * Name what every message is about: text lines get "[value] " before the
 * message, JSON objects a "key":"value" member (bin/vcpipe's pipelines).
 */
void vp_log_set_tag(const char *key, const char *value);
void vp_log(enum vp_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void vp_vlog(enum vp_level lvl, const char *fmt, va_list ap);
#define vp_debug(...) vp_log(VP_DEBUG, __VA_ARGS__)
#define vp_info(...) vp_log(VP_INFO, __VA_ARGS__)
#define vp_warn(...) vp_log(VP_WARN, __VA_ARGS__)
#define vp_error(...) vp_log(VP_ERROR, __VA_ARGS__)
/* Log at error level and exit with code. */
void vp_die(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
/* Usage error: "prog: msg" plus a hint to --help, exit 64. */
void vp_usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/* ---- signals ------------------------------------------------------------ */

/* Set by SIGTERM/SIGINT: finish in-flight work, then stop. */
extern volatile sig_atomic_t vp_stop_requested;
/* Ignore SIGPIPE (EPIPE is reported by write), catch SIGTERM and SIGINT. */
void vp_signals_init(void);
/*
 * poll(2) that cannot miss a stop request made just before it: returns
 * poll's result, or -1 with errno EINTR once vp_stop_requested is set.
 * One poll system call (the stop handler feeds a pipe it also watches).
 */
struct pollfd;
int vp_poll(struct pollfd *pfd, unsigned n, int timeout_ms);
/*
 * For a stage that writes to stdout: from now on every vp_poll also
 * watches stdout (when a pipe or socket) and, once the next stage has
 * closed it, sets vp_stdout_gone and asks for a stop, so that a stage
 * waiting for input ends without writing first.  vp_close_stdout then
 * fails with "the next stage is gone".  vp_stdout_watch is the descriptor
 * watched, -1 for none (a wait of one's own, such as ce-encode's ppoll,
 * adds it to its set and ends the stage itself on POLLERR or POLLHUP).
 */
extern volatile sig_atomic_t vp_stdout_gone;
extern int vp_stdout_watch;
void vp_watch_stdout(void);

/* ---- NDJSON line I/O ---------------------------------------------------- */

struct vp_linereader {
	FILE *fp;
	char *buf;
	size_t cap;
	size_t max;		/* longest line accepted, without newline */
	unsigned long lineno;	/* number of the line last returned */
	/*
	 * Set by the sinks: a last line without a newline is a torn write (a
	 * writer killed mid-line), VP_LINE_TORN, never a line to deliver.
	 */
	int whole_lines;
};

enum vp_line_status {
	VP_LINE_OK = 0,
	VP_LINE_EOF = 1,
	VP_LINE_TOOLONG = 2,	/* line skipped; lineno still counts it */
	VP_LINE_ERROR = 3,	/* read error; errno set */
	VP_LINE_TORN = 4	/* whole_lines: input ended inside this line */
};

/*
 * The longest event line the sinks take: vc-source writes events of up to
 * 32 MiB of JSON, bin/vcpipe gives ce-encode --max-line-bytes 40m, and the
 * CloudEvent ce-encode makes of a 40 MiB line (base64 in binary mode) stays
 * under this.  A longer line is refused as invalid, its text not kept.
 */
#define VP_SINK_MAX_LINE (64u << 20)

void vp_linereader_init(struct vp_linereader *r, FILE *fp, size_t max);
void vp_linereader_free(struct vp_linereader *r);
/*
 * Read one line (newline stripped, NUL-terminated in r->buf, length in *len).
 * A last line without a newline still counts, unless r->whole_lines. A stop request while waiting
 * for the next line (or made just before the wait) reports EOF so the caller
 * finishes cleanly; one in the middle of a line lets the line finish.
 */
enum vp_line_status vp_read_line(struct vp_linereader *r, size_t *len);
/*
 * Does fp's stdio buffer hold unread input (which a poll of its descriptor
 * cannot see)?  Without glibc's buffer pointers there is no telling: 1, so
 * a caller reads rather than waits on a line it already has.
 */
int vp_input_buffered(FILE *fp);

/*
 * Write one whole record plus a newline to fp's descriptor (after flushing
 * fp). A signal never leaves half a line for the next stage: the write is
 * finished first. Returns 0, or -1 with errno (EPIPE: the next stage is gone).
 */
int vp_write_line(FILE *fp, const char *s, size_t len);
/* Flush and close stdout, reporting errors: 0 ok, -1 failed (logged). */
int vp_close_stdout(void);

/* ---- files -------------------------------------------------------------- */

/*
 * Write data atomically: temp file in the same directory (mode 0600), fsync,
 * rename, fsync dir.
 */
int vp_write_file_atomic(const char *path, const char *data, size_t len);
/*
 * The same without the fsyncs, for files that are not durable state (tap
 * counts, vcpipe's run directory): readers still see the old or the new
 * file whole, but a host crash may lose the last write.
 */
int vp_write_file_replace(const char *path, const char *data, size_t len);
/* Read a whole file (NUL-terminated). NULL with errno on failure. */
char *vp_read_file(const char *path, size_t max, size_t *len);
/*
 * Cut a path (a buffer of at least 2 bytes) to its directory: "." for a
 * bare name, "/" for a name in the root.  Returns 0 when it had no slash.
 */
int vp_dir_of(char *path);
/*
 * Append a line and fsync (dead-letter and reject files, mode 0600 when
 * created): all or nothing. A failed write or fsync (a full disk) truncates
 * the file back to where it was and returns -1 with errno.
 */
int vp_append_line_sync(const char *path, const char *line, size_t len);

/* ---- credentials -------------------------------------------------------- */

/*
 * Read a username and password: from a file of two lines (username, password),
 * from a directory holding "username" and "password" files (a mounted
 * Kubernetes Secret), or, when path is NULL, from the environment variables
 * user_env and pass_env. Returns 0; -1 when a file cannot be read or nothing
 * was given; -2 when a file is malformed; a message in err.
 */
int vp_read_credentials(const char *path, const char *user_env,
    const char *pass_env, char **user, char **pass, char *err, size_t errlen);
/* Read a one-line secret (bearer token) from a file; trailing newline dropped. */
char *vp_read_secret_file(const char *path, char *err, size_t errlen);
/* Overwrite and free a secret. */
void vp_free_secret(char *s);
/*
 * This process is about to hold a secret: no core dump, no ptrace or
 * /proc/PID/mem by other processes of the same user (PR_SET_DUMPABLE 0,
 * RLIMIT_CORE 0). Every reader of secrets in src/lib calls it first; a
 * program that reads one by other means calls it itself.
 */
void vp_secret_guard(void);

/* ---- time --------------------------------------------------------------- */

/* Parse a duration like 90s, 10m, 1h30m, 2d, 500ms. Returns -1 on error. */
int64_t vp_parse_duration_ms(const char *s);
/*
 * Parse RFC 3339 (2026-11-23T09:00:00.123456Z, offsets allowed) into seconds
 * since the epoch and nanoseconds. Returns 0 or -1.
 */
int vp_parse_rfc3339(const char *s, int64_t *sec, int32_t *nsec);
/* Format as UTC RFC 3339 with nanoseconds trimmed of trailing zeros. */
void vp_format_rfc3339(int64_t sec, int32_t nsec, char *buf, size_t len);
/* Monotonic milliseconds. */
int64_t vp_now_ms(void);
/* Wall-clock milliseconds since the epoch (expiry times, stamps). */
int64_t vp_wall_ms(void);
/* Sleep up to ms, returning early (nonzero) when a stop is requested. */
int vp_sleep_ms(int64_t ms);

/* ---- retries (backoff.c, libc only) and HTTP (http.c, in libvp-curl.a) -- */

struct vp_backoff {
	int64_t base_ms;	/* first delay cap */
	int64_t cap_ms;		/* largest delay */
	unsigned attempt;
};
void vp_backoff_init(struct vp_backoff *b, int64_t base_ms, int64_t cap_ms);
/* Next delay: full jitter, uniform in [0, min(cap, base * 2^attempt)]. */
int64_t vp_backoff_next(struct vp_backoff *b);
void vp_backoff_reset(struct vp_backoff *b);

/* Retry on transport errors, 408, 429 and 5xx other than 501. */
int vp_http_status_retryable(long status);
/*
 * Parse a Retry-After header value (delta-seconds or HTTP-date) into a delay
 * in milliseconds; -1 when absent or unparsable.
 */
int64_t vp_parse_retry_after(const char *value);

struct vp_tls {
	int insecure;
	const char *ca_file;
};
/*
 * A libcurl result (CURLcode) that another attempt cannot change: the
 * server's certificate is not trusted, the CA file is unusable, the URL is
 * malformed. Permanent everywhere (exit 78), never retried.
 */
int vp_curl_permanent(int code);
/*
 * A hanging server must not hold a stopping program: once a stop is
 * requested, a request in flight gets 5 s more, then is aborted
 * (CURLE_ABORTED_BY_CALLBACK).
 */
void vp_curl_stop_grace(void *curl);
/* How long a request on the wire may still take after a stop. */
#define VP_STOP_GRACE_MS 5000
/*
 * curl_global_init, without the OpenSSL set-up Debian's libssh2 would do
 * for SCP/SFTP we never allow (http.c): 0, or -1 when it failed.  Every
 * program calls this instead; it may be called again (reference-counted).
 */
int vp_curl_global_init(void);
/* The User-Agent of every request (vp_curl_common sets it). */
#define VP_USER_AGENT "vcpipe/" PACKAGE_VERSION
/* Apply TLS settings (verification on unless insecure) and common options. */
void vp_curl_common(void *curl, const struct vp_tls *tls);
/* libcurl's version string, for --version (struct vp_libversion). */
const char *vp_curl_version(void);

/* ---- listen addresses ------------------------------------------------------ */

struct vp_listen {
	struct sockaddr_storage ss;
	socklen_t len;
	int any;	/* ":PORT": every interface (IPv6 and IPv4 where it can) */
};
/*
 * HOST:PORT, [IPv6]:PORT, :PORT or PORT (listen.c): 0, or -1 with a
 * message in err.  A HOST name is resolved here.
 */
int vp_listen_parse(const char *s, struct vp_listen *l, char *err,
    size_t errlen);

/* ---- growable buffer ----------------------------------------------------- */

struct vp_buf {
	char *data;
	size_t len, cap;
	size_t max;	/* 0 = unbounded; past max, appends fail */
};
int vp_buf_append(struct vp_buf *b, const void *p, size_t n);
int vp_buf_printf(struct vp_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void vp_buf_reset(struct vp_buf *b);
void vp_buf_free(struct vp_buf *b);
/*
 * free() each of n pointers: a destructor names the strings its struct owns
 * in one list, VP_FREE_EACH(p->a, p->b, ...), instead of a free() a line.
 */
void vp_free_each(void *const *ptrs, size_t n);
#define VP_FREE_EACH(...) vp_free_each((void *const[]){ __VA_ARGS__ }, \
	sizeof((void *const[]){ __VA_ARGS__ }) / sizeof(void *))
/* libcurl write callback appending to a struct vp_buf (userdata; http.c). */
size_t vp_curl_write_buf(char *ptr, size_t size, size_t nmemb, void *userdata);

/* Is s one of the strings of list (NULL-terminated)? */
int vp_str_in(const char *s, const char *const *list);

/* Allocation that exits with VP_EXIT_SOFTWARE on failure. */
void *vp_xmalloc(size_t n);
void *vp_xrealloc(void *p, size_t n);
char *vp_xstrdup(const char *s);

#endif
