/*
 * deliver.c: POSTs and the rules of retrying them.
 *
 * One request at a time (deliver(), OpenFaaS) reuses one easy handle so
 * libcurl keeps the connection open (HTTP/1.1 keep-alive, or one HTTP/2
 * connection when the server offers h2 over TLS).  pool.c runs several
 * requests at once on a multi handle with the same rules per event:
 * attempt_done() is where they are.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "sink.h"

static size_t
on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct xfer *h = userdata;
	size_t n = size * nmemb;

	/* keep the start for messages, swallow the rest */
	if (h->resp && h->resp->len < SINK_RESP_KEEP) {
		size_t room = SINK_RESP_KEEP - h->resp->len;
		vp_buf_append(h->resp, ptr, n < room ? n : room);
	}
	h->resp_seen += n;
	return n;
}

static size_t
on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct xfer *h = userdata;
	size_t n = size * nmemb;
	static const char ra[] = "retry-after:";

	/* a new status line starts a new response (e.g. after 100 Continue) */
	if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0)
		h->retry_after_ms = -1;
	else if (n > sizeof(ra) - 1 && strncasecmp(ptr, ra, sizeof(ra) - 1) == 0) {
		char v[128];
		size_t vl = n - (sizeof(ra) - 1);

		if (vl >= sizeof(v))
			vl = sizeof(v) - 1;
		memcpy(v, ptr + sizeof(ra) - 1, vl);
		v[vl] = '\0';
		h->retry_after_ms = vp_parse_retry_after(v);
	}
	return n;
}

void
http_init(struct http *h)
{
	h->x.curl = curl_easy_init();
	if (h->x.curl == NULL)
		vp_die(VP_EXIT_SOFTWARE, "curl_easy_init failed");
	h->x.retry_after_ms = -1;
}

void
http_free(struct http *h)
{
	if (h->x.curl)
		curl_easy_cleanup(h->x.curl);
	h->x.curl = NULL;
	xfer_free(&h->x);
	vp_free_secret(h->user);
	vp_free_secret(h->pass);
	vp_free_secret(h->token);
	h->user = h->pass = h->token = NULL;
}

int
http_reload_credentials(struct http *h)
{
	char err[512], *user, *pass;

	if (h->cred_file == NULL)
		return 0;
	if (vp_read_credentials(h->cred_file, NULL, NULL, &user, &pass, err,
	    sizeof(err)) != 0) {
		vp_warn("credentials: %s", err);
		return 0;
	}
	if (h->user && h->pass && strcmp(user, h->user) == 0 &&
	    strcmp(pass, h->pass) == 0) {
		vp_free_secret(user);
		vp_free_secret(pass);
		return 0;
	}
	vp_free_secret(h->user);
	vp_free_secret(h->pass);
	h->user = user;
	h->pass = pass;
	h->gen++;
	return 1;
}

void
xfer_free(struct xfer *x)
{
	curl_slist_free_all(x->hdrs);
	x->hdrs = NULL;
	free(x->url);
	x->url = NULL;
	curl_url_cleanup(x->cu);
	x->cu = NULL;
	free(x->host_line);
	x->host_line = NULL;
}

/*
 * Does the environment name a proxy? libcurl looks its variables up on
 * every request (no_proxy, NO_PROXY, http_proxy, all_proxy, ALL_PROXY:
 * five scans of the environment, a Kubernetes pod's holds a few variables
 * per Service of its namespace); all of them end in "_proxy".
 */
static int
proxy_in_env(void)
{
	static int known, found;

	if (!known) {
		for (char **e = environ; *e; e++) {
			const char *eq = strchr(*e, '=');
			size_t n = eq ? (size_t)(eq - *e) : strlen(*e);

			if (n >= 6 && strncasecmp(*e + n - 6, "_proxy", 6) == 0)
				found = 1;
		}
		known = 1;
	}
	return found;
}

/*
 * The Host header libcurl 7.88 writes for the handle's http:// URL, or
 * NULL when that is not certain (https, which may be HTTP/2; a proxy in
 * the environment; a name that is not plain ASCII; an IPv6 zone). libcurl prints it twice per request, a byte
 * at a time (aprintf, then "%s" into the request); sent as the first of
 * the POST's own headers after an empty "Host:" (which drops libcurl's),
 * it is printed once and the request is the same, byte for byte: same
 * place (right after the request line: libcurl writes no User-Agent or
 * Accept for a POST here, and the caller leaves credentials to it only
 * when there are none), same text (libcurl's Curl_http_host: the
 * URL's host, in brackets when IPv6, ":PORT" unless 80).
 */
static char *
host_header(CURLU *cu)
{
	char *scheme = NULL, *host = NULL, *port = NULL, *out = NULL;
	struct vp_buf b = { 0 };
	long num;
	size_t n;

	if (cu == NULL || proxy_in_env() ||
	    curl_url_get(cu, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(cu, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(cu, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
	    CURLUE_OK)
		goto done;
	if (strcmp(scheme, "http") != 0)
		goto done;	/* checked on the wire for plain HTTP/1.1 only */
	n = strlen(host);
	if (n == 0 || host[n - 1] == '.' || strspn(host, host[0] == '[' ?
	    "[]:.0123456789abcdefABCDEF" :
	    "-.0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") != n)
		goto done;
	num = strtol(port, NULL, 10);
	if (num == 80)
		vp_buf_printf(&b, "Host: %s", host);
	else
		vp_buf_printf(&b, "Host: %s:%ld", host, num);
	out = b.data;
done:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	return out;
}

/* The per-request part: what the last response left behind. */
static void
fresh(struct xfer *x)
{
	x->errbuf[0] = '\0';
	x->retry_after_ms = -1;
	x->resp_seen = 0;
}

static void
setup(struct http *h, struct xfer *x, const char *url, int auth)
{
	CURL *c = x->curl;

	free(x->url);
	x->url = NULL;	/* set up for a POST by post_prepare only */
	curl_easy_reset(c);	/* keeps the connection cache */
	vp_curl_common(c, &h->tls);
	curl_easy_setopt(c, CURLOPT_URL, url);
	if (x->cu == NULL)
		x->cu = curl_url();
	if (x->cu && curl_url_set(x->cu, CURLUPART_URL, url, 0) == CURLUE_OK)
		curl_easy_setopt(c, CURLOPT_CURLU, x->cu);
	curl_easy_setopt(c, CURLOPT_HTTP_VERSION, h->http1 ?
	    (long)CURL_HTTP_VERSION_1_1 : (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)h->timeout_ms);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	if (!x->pooled)
		vp_curl_stop_grace(c);
	if (!proxy_in_env()) {
		/* what libcurl would find there: no proxy, said once */
		curl_easy_setopt(c, CURLOPT_PROXY, "");
		curl_easy_setopt(c, CURLOPT_NOPROXY, "");
	}
	/* redirects would carry the event (and credentials) somewhere else */
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	if ((auth & AUTH_BASIC) && h->user) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, h->user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, h->pass);
	} else if ((auth & AUTH_BEARER) && h->token) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
		curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, h->token);
	}
	fresh(x);
}

/* The status of the request that ended with rc, or 0 (errbuf says why). */
long
post_status(struct xfer *x, CURLcode rc)
{
	long status = 0;

	x->cc = rc;
	curl_slist_free_all(x->hdrs);
	x->hdrs = NULL;
	if (rc != CURLE_OK) {
		if (x->errbuf[0] == '\0')
			snprintf(x->errbuf, sizeof(x->errbuf), "%s",
			    curl_easy_strerror(rc));
		return 0;
	}
	curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

void
post_prepare(struct http *h, struct xfer *x, const char *url,
    const struct event *ev, struct curl_slist *extra, int auth)
{
	struct curl_slist *hdrs = NULL, *p;

	/* the options stay set between requests (curl_easy_reset and some
	 * twenty options again cost more than the POST's own setup) */
	if (x->url && x->gen == h->gen && x->auth == auth &&
	    strcmp(x->url, url) == 0)
		fresh(x);
	else {
		setup(h, x, url, auth);
		/* the event's header list says it (event.c) */
		curl_easy_setopt(x->curl, CURLOPT_USERAGENT, NULL);
		x->url = vp_xstrdup(url);
		x->gen = h->gen;
		x->auth = auth;
		free(x->host_line);
		/* credentials are written between libcurl's Host and the
		 * headers given to it: with them, Host stays libcurl's */
		x->host_line = ((auth & AUTH_BASIC) && h->user) ||
		    ((auth & AUTH_BEARER) && h->token) ? NULL :
		    host_header(x->cu);
	}
	curl_slist_free_all(x->hdrs);
	x->hdrs = NULL;
	if (extra) {
		/* the event's own and extra ones (OpenFaaS): a list of its own,
		 * kept until the request ends */
		for (p = ev->headers; p; p = p->next)
			hdrs = curl_slist_append(hdrs, p->data);
		for (p = extra; p; p = p->next)
			hdrs = curl_slist_append(hdrs, p->data);
		if (hdrs == NULL)
			vp_die(VP_EXIT_SOFTWARE, "out of memory");
		x->hdrs = hdrs;
	} else
		hdrs = ev->headers;	/* the event outlives its request */
	if (x->host_line) {
		static char drop[] = "Host:";

		x->host[0].data = drop;
		x->host[0].next = &x->host[1];
		x->host[1].data = x->host_line;
		x->host[1].next = hdrs;
		hdrs = &x->host[0];
	}
	curl_easy_setopt(x->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(x->curl, CURLOPT_POST, 1L);
	curl_easy_setopt(x->curl, CURLOPT_POSTFIELDS, ev->body);
	curl_easy_setopt(x->curl, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)ev->body_len);
}

long
http_post(struct http *h, const char *url, const struct event *ev,
    struct curl_slist *extra, int auth)
{
	long status;

	post_prepare(h, &h->x, url, ev, extra, auth);
	status = post_status(&h->x, curl_easy_perform(h->x.curl));
	curl_easy_setopt(h->x.curl, CURLOPT_HTTPHEADER, NULL);
	return status;
}

long
http_get(struct http *h, const char *url, struct vp_buf *out, int auth)
{
	long status;

	setup(h, &h->x, url, auth);
	curl_easy_setopt(h->x.curl, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(h->x.curl, CURLOPT_WRITEFUNCTION, vp_curl_write_buf);
	curl_easy_setopt(h->x.curl, CURLOPT_WRITEDATA, out);
	status = post_status(&h->x, curl_easy_perform(h->x.curl));
	if (status == 0 && out->max && out->len >= out->max)
		snprintf(h->x.errbuf, sizeof(h->x.errbuf),
		    "response larger than %zu bytes", out->max);
	return status;
}

/* Printable start of the response, for a log line. */
static void
resp_snippet(const struct vp_buf *b, char *out, size_t outlen)
{
	size_t j = 0;

	for (size_t i = 0; b->data && i < b->len && j + 1 < outlen && i < 200; i++) {
		unsigned char ch = (unsigned char)b->data[i];
		out[j++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : ' ';
	}
	out[j] = '\0';
}

void
attempt_init(struct attempt *a, const struct http *h,
    const struct vp_retry *p, int auth)
{
	vp_backoff_init(&a->bo, p->base_ms, p->cap_ms);
	a->start_ms = vp_now_ms();
	a->reread_token = h->token_file != NULL && (auth & AUTH_BEARER);
}

int
attempt_done(struct http *h, const struct vp_retry *p, struct attempt *a,
    struct xfer *x, const char **url, unsigned long lineno, long status,
    struct result *r, int64_t *delay_ms)
{
	char snip[256];
	int over;

	r->status = status;
	r->attempts++;
	*delay_ms = 0;
	if (r->status >= 200 && r->status < 300) {
		r->out = VP_OUT_OK;
		r->error[0] = '\0';
		return 1;
	}
	resp_snippet(&r->resp, snip, sizeof(snip));
	if (r->status == 0)
		snprintf(r->error, sizeof(r->error), "%s", x->errbuf);
	else
		snprintf(r->error, sizeof(r->error), "HTTP %ld%s%s",
		    r->status, snip[0] ? ": " : "", snip);
	if (r->status == 0 && vp_curl_permanent(x->cc)) {
		/* a certificate that is not trusted stays so */
		r->out = VP_OUT_CONFIG;
		return 1;
	}
	if (h->reresolve) {
		/* the receiver may have moved (a ref resolved again) */
		const char *nu = h->reresolve(h->reresolve_arg, r->status);

		if (nu)
			*url = nu;
	}
	if ((r->status == 401 || r->status == 403) && a->reread_token) {
		/* a rotated token file (projected service account token) is
		 * worth one more try */
		char err[256], *t = vp_read_secret_file(h->token_file, err,
		    sizeof(err));

		a->reread_token = 0;
		if (t && strcmp(t, h->token) != 0) {
			vp_free_secret(h->token);
			h->token = t;
			h->gen++;
			vp_info("stdin:%lu: %s: token file changed, trying "
			    "again", lineno, *url);
			return 0;
		}
		vp_free_secret(t);
	}
	if (r->status == 401 || r->status == 403) {
		r->out = VP_OUT_AUTH;
		return 1;
	}
	if (!vp_retry_status(p, r->status)) {
		r->out = VP_OUT_REJECTED;
		return 1;
	}
	if (vp_stop_requested) {
		r->out = VP_OUT_STOPPED;
		return 1;
	}
	*delay_ms = vp_retry_delay(&a->bo, x->retry_after_ms);
	if ((over = vp_retry_over(p, r->attempts, a->start_ms,
	    *delay_ms)) != 0) {
		r->out = VP_OUT_EXHAUSTED;
		if (over == 2)
			snprintf(r->error + strlen(r->error),
			    sizeof(r->error) - strlen(r->error),
			    " (next retry past --max-retry-time)");
		return 1;
	}
	vp_warn("stdin:%lu: %s: %s; retry %u in %lld ms", lineno, *url,
	    r->error, r->attempts, (long long)*delay_ms);
	return 0;
}

void
deliver(struct http *h, const struct vp_retry *p, const char *url,
    const struct event *ev, struct curl_slist *extra, int auth,
    struct result *r)
{
	struct attempt a;

	attempt_init(&a, h, p, auth);
	r->attempts = 0;
	for (;;) {
		int64_t delay;
		long status;

		vp_buf_reset(&r->resp);
		h->x.resp = &r->resp;
		status = http_post(h, url, ev, extra, auth);
		h->x.resp = NULL;
		if (attempt_done(h, p, &a, &h->x, &url, ev->lineno, status, r,
		    &delay))
			return;
		if (delay > 0 && vp_sleep_ms(delay)) {
			r->out = VP_OUT_STOPPED;
			return;
		}
	}
}
