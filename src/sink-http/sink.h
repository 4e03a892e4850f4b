/*
 * sink.h: what the parts of sink-http share.
 */
#ifndef SINK_H
#define SINK_H

#include <curl/curl.h>
#include <jansson.h>

#include "ce.h"
#include "sinkcore.h"
#include "vp.h"

#define SINK_RESP_KEEP 1024	/* response bytes kept for logs and dead letters */

/* One input line, understood. */
struct event {
	unsigned long lineno;
	const char *line;	/* the line as read */
	size_t len;
	struct ce_event *ce;	/* the line as read by src/lib/ce.c, or NULL */
	int binary;		/* binary-mode line (headers + body) */
	/* what goes on the wire */
	const char *body;
	size_t body_len;
	/* the request's headers, "Expect:" included (shared by every
	 * structured-mode event: not freed when shared) */
	struct curl_slist *headers;
	int shared_headers;
	struct vp_evpos pos;	/* for the checkpoint and replays */
	char *subject;		/* for OpenFaaS topics and counts */
	char *dlq_function;	/* a replayed dead letter names its function */
};

/* How one delivery ended. */
struct result {
	enum vp_outcome out;
	long status;		/* last HTTP status, 0 for a transport error */
	unsigned attempts;
	char error[640];		/* last failure, for humans */
	struct vp_buf resp;	/* first SINK_RESP_KEEP bytes of the last response */
};

/* One request's handle and what came back. */
struct xfer {
	CURL *curl;
	char errbuf[CURL_ERROR_SIZE];
	CURLcode cc;		/* of the last request */
	int64_t retry_after_ms;	/* from the last response, -1 if none */
	struct vp_buf *resp;	/* where the response body goes */
	size_t resp_seen;
	struct curl_slist *hdrs;	/* the request's headers, until it ends */
	/* what the handle is set up for: the next POST there with the same
	 * credentials sets only its body and headers (url NULL: set up anew) */
	char *url;
	CURLU *cu;
	unsigned gen;
	int auth;
	/* "Host:" and the Host header as libcurl would write it, ahead of a
	 * POST's own headers (deliver.c host_header), or host_line NULL */
	struct curl_slist host[2];
	char *host_line;
	/* on pool.c's multi handle, which ends a request itself when a stop's
	 * grace is over: no progress callback (libcurl calls it several times
	 * per request) */
	int pooled;
};

struct http {
	struct xfer x;		/* the handle for one request at a time */
	struct vp_tls tls;
	int64_t timeout_ms;
	int http1;		/* --http1.1: never negotiate HTTP/2 */
	char *user, *pass;	/* basic auth, or NULL */
	char *token;		/* bearer token, or NULL */
	const char *token_file;
	const char *cred_file;	/* --credentials-file, read again after 401 */
	unsigned gen;		/* counts credential changes (struct xfer) */
	/*
	 * After a failed attempt (status 0: no connection, or 404), before
	 * the next: where to send it now (a Knative ref resolved again), or
	 * NULL.
	 */
	const char *(*reresolve)(void *arg, long status);
	void *reresolve_arg;
};

/*
 * What becomes of one delivery (r->out not VP_OUT_OK: dead-lettered or the
 * end of the run): 0 when the event is done for that receiver, else the exit
 * code. function is NULL outside OpenFaaS.
 */
typedef int (*settle_fn)(const struct event *, struct result *r,
    const char *url, const char *function);

#define AUTH_BASIC 1	/* send the --credentials-file user and password */
#define AUTH_BEARER 2	/* send the --token-file token */

/* deliver.c */
void http_init(struct http *h);
void http_free(struct http *h);
/* Read --credentials-file again: 1 when it changed (a rotated Secret). */
int http_reload_credentials(struct http *h);
/*
 * One POST of the event to url with extra headers (may be NULL); auth says
 * whether to send credentials. Returns the HTTP status or 0 after a transport
 * error (message in h->x.errbuf). auth is a mask of AUTH_*.
 */
long http_post(struct http *h, const char *url, const struct event *ev,
    struct curl_slist *extra, int auth);
/* One GET into out (bounded). Status and auth as for http_post. */
long http_get(struct http *h, const char *url, struct vp_buf *out, int auth);

/* One event's delivery across its attempts. */
struct attempt {
	struct vp_backoff bo;
	int64_t start_ms;
	int reread_token;	/* a 401/403 may mean a rotated token file */
};
void attempt_init(struct attempt *a, const struct http *h,
    const struct vp_retry *p, int auth);
/*
 * The POST on x, ready to be performed (curl_easy_perform, or a multi
 * handle); post_status() after it ended gives what http_post returns.
 */
void post_prepare(struct http *h, struct xfer *x, const char *url,
    const struct event *ev, struct curl_slist *extra, int auth);
long post_status(struct xfer *x, CURLcode rc);
/* Free what post_prepare keeps in x (not the handle). */
void xfer_free(struct xfer *x);
/*
 * After one attempt that ended with status (r->resp holds the response):
 * 1 when the delivery is over (r->out says how), 0 when it is to be tried
 * again in *delay_ms (0: at once), at *url (h->reresolve may change it).
 */
int attempt_done(struct http *h, const struct vp_retry *p, struct attempt *a,
    struct xfer *x, const char **url, unsigned long lineno, long status,
    struct result *r, int64_t *delay_ms);
/* Deliver with retries according to p, one request at a time. */
void deliver(struct http *h, const struct vp_retry *p, const char *url,
    const struct event *ev, struct curl_slist *extra, int auth,
    struct result *r);

/* pool.c */
/*
 * --url with up to inflight requests at once: read lines, deliver each with
 * deliver()'s rules, settle them in input order (settle, then the
 * checkpoint), so the checkpoint only moves over the finished prefix.
 * Returns 0 at the end of input, or the exit code that ends the run.
 */
int pool_run(struct http *h, const struct vp_retry *p, const char *url,
    unsigned inflight, struct vp_linereader *lr, struct vp_sink *core,
    settle_fn settle);

/* event.c */
/* Understand a line; -1 with a reason in err when it is not a CloudEvent line. */
int event_parse(struct event *ev, const char *line, size_t len,
    char *err, size_t errlen);
void event_free(struct event *ev);
/*
 * The event's text for its dead-letter record (vp_dl_record()): the line
 * without any "deadletter" member when it is a JSON object (*is_object set),
 * else the line as read (NULL when not kept). Free the result.
 */
char *event_dl_text(const struct event *ev, size_t *len, int *is_object);

/* openfaas.c */
struct openfaas;
struct openfaas *openfaas_new(const char *gateway, int async,
    int64_t refresh_ms, const char *connector);
void openfaas_free(struct openfaas *of);
/*
 * Deliver ev to every function whose topic matches, settling each failed
 * one. Returns 0 (*acked: every function that matched acknowledged it and at
 * least one did), or the exit code that ends the run.
 */
int openfaas_deliver(struct openfaas *of, struct http *h,
    const struct vp_retry *p, const struct event *ev, settle_fn settle,
    int *acked);
/* Is this a function name that can go into a gateway URL as it is? */
int function_name_ok(const char *s);

/* k8s.c: a Knative destination.ref, resolved through the Kubernetes API */
struct k8s;
/* Is this a --ref value (APIVERSION/KIND/NAMESPACE/NAME)? 0, or -1 and why. */
int k8s_ref_check(const char *spec, char *err, size_t errlen);
/*
 * The in-cluster configuration for a ref; NULL with a message and the exit
 * code (78 not in a cluster, 66 the token unreadable) when there is none.
 */
struct k8s *k8s_new(const char *spec, char *err, size_t errlen, int *code);
void k8s_free(struct k8s *k);
/*
 * GET the object and read its address: 0, or an exit code with a message:
 * 78 (no such object or API, no usable address form), 77 (the token or its
 * permissions refused), 75 (the server, the network, or not ready yet).
 */
int k8s_resolve(struct k8s *k, char *err, size_t errlen);
/* The address last resolved: one buffer, rewritten in place. */
const char *k8s_url(const struct k8s *k);
const char *k8s_describe(const struct k8s *k);

#endif
