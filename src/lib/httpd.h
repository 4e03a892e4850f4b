/*
 * httpd.h: the small layer webhook-source, stream-serve and vcpipe-metrics
 * share on top of libmicrohttpd (libvp-httpd.a): listening, limits, the
 * checks every request passes before a program sees it, authentication,
 * TLS, replies.
 *
 * A program fills a struct httpd_conf (its option rows come from the
 * HTTPD_*_OPTS macros below, so the three servers name and check them the
 * same way), calls httpd_load() after parsing its options and httpd_start()
 * to serve.  Every request then passes, before the program's handler is
 * called and before any body is read:
 *   - the framing checks: a header line cut at a NUL byte, or folded
 *     onto the next (400; libmicrohttpd 0.9.x would pass the value cut
 *     short), conflicting Content-Length headers (400), a
 *     Transfer-Encoding other than "chunked" (501), Transfer-Encoding with
 *     Content-Length (400), a body declared larger than max_body, or any
 *     body where max_body is 0 (413);
 *   - the per-client rate (429 with Retry-After);
 *   - authentication, when a credentials or token file was given (401).
 * Connections are bounded in total and per client address, and a request
 * must be read whole within the request timeout however slowly its bytes
 * trickle in (the idle timeout alone restarts with every byte).
 */
#ifndef HTTPD_H
#define HTTPD_H

#include <microhttpd.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* What a program's handler is told of a request. */
struct httpd_req {
	const char *url, *method;
	const char *upload;	/* body bytes of this call; none on the first */
	size_t *upload_size;	/* how many; the handler sets how many it left */
	void **ctx;		/* the program's own pointer for the request */
};

/*
 * A program's handler: called first when the request's headers are in (and
 * have passed the checks), then with each piece of its body, then once more
 * with none; as libmicrohttpd's access handler, whose result it returns.
 */
typedef enum MHD_Result (*httpd_handler)(struct MHD_Connection *c,
    const struct httpd_req *q);

struct httpd_conf {
	/* options (the HTTPD_*_OPTS rows) */
	const char *listen;
	int max_conn;		/* connections at once */
	int per_client;		/* connections at once from one address; 0: no bound */
	int64_t idle_ms;	/* a connection idle this long is closed */
	int64_t request_ms;	/* a request not read whole by then is dropped; 0: none */
	int client_rate;	/* requests per second from one address; 0: none */
	const char *basic_file;	/* Basic credentials (user, password) */
	const char *token_file;	/* a bearer token */
	const char *tls_cert, *tls_key;
	/* set by the program */
	const char *basic_opt;	/* its Basic option's name, for messages;
				 * NULL: "--basic-auth-file" */
	const char *realm;	/* the 401 challenge's realm; NULL: the
				 * program's name */
	size_t max_body;	/* 0: requests with a body are refused */
	unsigned flags;		/* more MHD_USE_* flags */
	httpd_handler cb;
	void (*completed)(void *ctx);	/* a request's end, when its ctx is
					 * set; may be NULL */
	struct MHD_OptionItem *opts;	/* more options, MHD_OPTION_END ended; may be NULL */
	/* loaded by httpd_load */
	char *user, *pass, *token, *cert, *key;
};

/*
 * Option rows, placed in a program's table with "use httpd-limits c CONN
 * IDLE RATE" (the program's defaults) and "use httpd-auth c BASICNAME"
 * (src/lib/httpd.tab); c is its struct httpd_conf.  --listen stays the
 * program's own row (&conf.listen).
 */

/*
 * Read the secret files the options name (vp_load_credentials' rule: 66
 * unreadable, 78 empty or malformed) and check that --tls-cert and
 * --tls-key come together (else exit 64).  Call it after vp_opt_parse.
 */
void httpd_load(struct httpd_conf *hc);

/*
 * Start a daemon listening on hc->listen (vp_listen_parse: "host:port",
 * "[v6]:port", ":port" for every interface, or "port"; port 0 picks a free
 * one), serving with the checks above and then hc->cb.  hc must stay valid
 * until httpd_stop.  SIGTERM and SIGINT stay blocked in the daemon's
 * threads so they reach the main thread.  NULL with a message in err on
 * failure.  One daemon per process.
 */
struct MHD_Daemon *httpd_start(struct httpd_conf *hc, char *err,
    size_t errlen);
/*
 * httpd_start, or exit 75 (VP_EXIT_TEMPFAIL) with "--listen: why"; then log
 * "listening on ADDR (port N), WHAT" (", HTTPS" after N when it serves
 * TLS), WHAT from fmt: the line the tests and bin/vcpipe read the port of.
 */
struct MHD_Daemon *httpd_listen(struct httpd_conf *hc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Stop accepting connections (a drain); those open go on. */
void httpd_quiesce(struct MHD_Daemon *d);
/* Stop the daemon and the request-timeout watch; wipe the secrets. */
void httpd_stop(struct MHD_Daemon *d);
/* The port the daemon listens on. */
unsigned httpd_port(struct MHD_Daemon *d);

/* Queue a reply with a copy of body; ct NULL means text/plain. */
enum MHD_Result httpd_reply(struct MHD_Connection *c, unsigned status,
    const char *ct, const char *body, size_t len);
/* Queue a text/plain reply "msg\n" (the Go net/http http.Error shape). */
enum MHD_Result httpd_error(struct MHD_Connection *c, unsigned status,
    const char *msg);
/* httpd_error with one more header (Allow, Retry-After). */
enum MHD_Result httpd_error_hdr(struct MHD_Connection *c, unsigned status,
    const char *msg, const char *hname, const char *hvalue);

/*
 * Compare a (attacker supplied) with b (the secret) in time that depends
 * only on alen: no early exit, no dependence on where they differ.
 */
int httpd_ct_equal(const char *a, size_t alen, const char *b, size_t blen);

/*
 * Does the request carry Basic credentials equal to user and pass?  The
 * decoded bytes are compared as they are, in constant time, both parts
 * always.
 */
int httpd_basic_auth_ok(struct MHD_Connection *c, const char *user,
    const char *pass);

/* libmicrohttpd's --version line (opt.h's VP_LIBS). */
#define VP_LIB_MHD { "libmicrohttpd", MHD_get_version }

/* The client's address as text, for log lines. */
void httpd_peer(struct MHD_Connection *c, char *buf, size_t len);

#endif
