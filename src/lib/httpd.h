/*
 * httpd.h: the small layer webhook-source, stream-serve and vcpipe-metrics
 * share on top of libmicrohttpd (libvp-httpd.a): listening, replies, Basic
 * authentication, constant-time comparison.
 */
#ifndef HTTPD_H
#define HTTPD_H

#include <microhttpd.h>
#include <signal.h>
#include <stddef.h>

/*
 * Start a daemon listening on ADDR (vp_listen_parse: "host:port",
 * "[v6]:port", ":port" for every interface, or "port"; port 0 picks a free
 * one).  flags are added to
 * MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG; opts (ended by
 * MHD_OPTION_END) are passed through.  SIGTERM and SIGINT stay blocked in
 * the daemon's threads so they reach the main thread.  NULL with a message
 * in err on failure.
 */
struct MHD_Daemon *httpd_start(const char *addr, unsigned flags,
    MHD_AccessHandlerCallback cb, void *cls, struct MHD_OptionItem *opts,
    char *err, size_t errlen);
/* Stop accepting connections (a drain); those open go on. */
void httpd_quiesce(struct MHD_Daemon *d);
/* The port the daemon listens on. */
unsigned httpd_port(struct MHD_Daemon *d);

/* Queue a reply with a copy of body; ct NULL means text/plain. */
enum MHD_Result httpd_reply(struct MHD_Connection *c, unsigned status,
    const char *ct, const char *body, size_t len);
/* Queue a text/plain reply "msg\n" (the Go net/http http.Error shape). */
enum MHD_Result httpd_error(struct MHD_Connection *c, unsigned status,
    const char *msg);

/*
 * Compare a (attacker supplied) with b (the secret) in time that depends
 * only on alen: no early exit, no dependence on where they differ.
 */
int httpd_ct_equal(const char *a, size_t alen, const char *b, size_t blen);

/*
 * Does the request carry Basic credentials equal to user and pass?  The
 * decoded bytes are compared as they are, in constant time, both parts
 * always (webhook-source, vcpipe-metrics).
 */
int httpd_basic_auth_ok(struct MHD_Connection *c, const char *user,
    const char *pass);
/* Queue 401 with a WWW-Authenticate: Basic challenge for realm. */
enum MHD_Result httpd_auth_fail(struct MHD_Connection *c, const char *realm);

/* libmicrohttpd's --version line (opt.h's VP_LIBS). */
#define VP_LIB_MHD { "libmicrohttpd", MHD_get_version }

/* The client's address as text, for log lines. */
void httpd_peer(struct MHD_Connection *c, char *buf, size_t len);

#endif
