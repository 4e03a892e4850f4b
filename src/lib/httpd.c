/*
 * httpd.c: the HTTP server layer of webhook-source, stream-serve and
 * vcpipe-metrics on libmicrohttpd: listening (vp_listen_parse's syntax),
 * connection bounds and the request timeout, the checks every request
 * passes (framing, rate, authentication), TLS, replies.  Its own archive,
 * libvp-httpd.a, so programs without a server do not link libmicrohttpd.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "httpd.h"
#include "json.h"
#include "opt.h"
#include "vp.h"

static void
mhd_logger(void *cls, const char *fmt, va_list ap)
{
	char msg[1024];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	/*
	 * a client hanging up (a watcher closing its stream), or refused by
	 * the bounds, is routine: one line each would flood the log of a
	 * server under attack
	 */
	if (strstr(msg, "no longer available") || strstr(msg, "reset by peer") ||
	    strstr(msg, "incomplete request") ||
	    strstr(msg, "connection closure") ||
	    strstr(msg, "connection limit"))
		vp_debug("http: %s", msg);
	else if (strstr(msg, "Closing connection"))
		vp_info("http: %s", msg);	/* a malformed request */
	else
		vp_warn("http: %s", msg);
}

/* ---- connections: the request timeout ------------------------------------ */

/*
 * libmicrohttpd's timeout is an idle timeout: every byte restarts it, so a
 * client sending one byte every few seconds keeps a connection (and, with
 * enough of them, the server) forever.  Each connection gets a deadline
 * here instead: from its start, and again from the end of each request on
 * a kept-alive connection, until its request has been read whole.  A
 * watcher thread shuts the socket of a connection past it down;
 * libmicrohttpd then reads the end of the stream and closes the connection
 * itself (the socket stays its own: it is closed only after the CLOSED
 * notification, which takes the same lock).
 */
struct hconn {
	struct hconn *prev, *next;
	int fd;
	int64_t deadline;	/* monotonic ms; 0: none (request read whole) */
};

static struct httpd_conf *conf;
static pthread_mutex_t conn_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t conn_cond = PTHREAD_COND_INITIALIZER;
static struct hconn *conns;
static int watch_stop;
static pthread_t watch_thread;
static int watch_started;

static void
notify_connection(void *cls, struct MHD_Connection *c, void **sctx,
    enum MHD_ConnectionNotificationCode code)
{
	struct hconn *h;

	(void)cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *i;

		if ((h = calloc(1, sizeof(*h))) == NULL)
			return;
		i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		h->fd = i ? i->connect_fd : -1;
		pthread_mutex_lock(&conn_lock);
		if (conf->request_ms > 0) {
			h->deadline = vp_now_ms() + conf->request_ms;
			pthread_cond_signal(&conn_cond);
		}
		h->next = conns;
		if (conns)
			conns->prev = h;
		conns = h;
		pthread_mutex_unlock(&conn_lock);
		*sctx = h;
		return;
	}
	if ((h = *sctx) == NULL)
		return;
	pthread_mutex_lock(&conn_lock);
	if (h->prev)
		h->prev->next = h->next;
	else
		conns = h->next;
	if (h->next)
		h->next->prev = h->prev;
	pthread_mutex_unlock(&conn_lock);
	*sctx = NULL;
	free(h);
}

/* (Re)start the deadline of c's connection: now + ms, or none (ms 0). */
static void
deadline_set(struct MHD_Connection *c, int64_t ms)
{
	const union MHD_ConnectionInfo *i;
	struct hconn *h;

	if (conf->request_ms <= 0)
		return;
	i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (i == NULL || (h = i->socket_context) == NULL)
		return;
	pthread_mutex_lock(&conn_lock);
	h->deadline = ms ? vp_now_ms() + ms : 0;
	if (ms)
		pthread_cond_signal(&conn_cond);	/* maybe the soonest */
	pthread_mutex_unlock(&conn_lock);
}

/*
 * Asleep until the soonest deadline (none: until one is set), not waking
 * every so often to look: an idle server costs no wake-ups.  conn_cond runs
 * on the monotonic clock, as the deadlines do (httpd_start).
 */
static void *
deadline_watch(void *arg)
{
	struct timespec ts;
	unsigned long dropped;

	(void)arg;
	pthread_mutex_lock(&conn_lock);
	while (!watch_stop) {
		int64_t now = vp_now_ms(), soonest = 0;

		dropped = 0;
		for (struct hconn *h = conns; h; h = h->next)
			if (h->deadline && now >= h->deadline) {
				h->deadline = 0;
				if (h->fd >= 0)
					shutdown(h->fd, SHUT_RDWR);
				dropped++;
			} else if (h->deadline && (soonest == 0 ||
			    h->deadline < soonest))
				soonest = h->deadline;
		if (dropped) {
			pthread_mutex_unlock(&conn_lock);
			vp_info("http: %lu connection(s) closed: request not "
			    "read whole within --request-timeout", dropped);
			pthread_mutex_lock(&conn_lock);
			continue;	/* the list may have changed meanwhile */
		}
		if (soonest == 0) {
			pthread_cond_wait(&conn_cond, &conn_lock);
			continue;
		}
		ts.tv_sec = (time_t)(soonest / 1000);
		ts.tv_nsec = (long)(soonest % 1000) * 1000000L;
		pthread_cond_timedwait(&conn_cond, &conn_lock, &ts);
	}
	pthread_mutex_unlock(&conn_lock);
	return NULL;
}

/* ---- the per-client rate --------------------------------------------------- */

/*
 * A token bucket per client address, in a direct-mapped table: a new
 * address takes over its slot.  Two busy clients sharing a slot restart
 * each other's bucket full, so a collision can only let a request through,
 * never refuse one that should pass.
 */
#define RATE_SLOTS 4096

struct bucket {
	unsigned char addr[16];
	double tokens;
	int64_t last;		/* monotonic ms */
};

static struct bucket *buckets;
static pthread_mutex_t rate_lock = PTHREAD_MUTEX_INITIALIZER;

/* Take a token for c's client: 0, or the seconds until one is there. */
static int
rate_take(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *i;
	unsigned char key[16] = { 0 };
	uint32_t hash = 2166136261u;
	struct bucket *b;
	int64_t now = vp_now_ms();
	double rate = conf->client_rate;
	int wait = 0;

	i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (i == NULL || i->client_addr == NULL)
		return 0;
	if (i->client_addr->sa_family == AF_INET)
		memcpy(key, &((const struct sockaddr_in *)(const void *)
		    i->client_addr)->sin_addr, 4);
	else if (i->client_addr->sa_family == AF_INET6)
		memcpy(key, &((const struct sockaddr_in6 *)(const void *)
		    i->client_addr)->sin6_addr, 16);
	for (size_t k = 0; k < sizeof(key); k++)
		hash = (hash ^ key[k]) * 16777619u;
	pthread_mutex_lock(&rate_lock);
	b = &buckets[hash % RATE_SLOTS];
	if (b->last == 0 || memcmp(b->addr, key, sizeof(key)) != 0) {
		memcpy(b->addr, key, sizeof(key));
		b->tokens = rate;
	} else {
		b->tokens += (double)(now - b->last) * rate / 1000.0;
		if (b->tokens > rate)
			b->tokens = rate;
	}
	b->last = now;
	if (b->tokens >= 1.0)
		b->tokens -= 1.0;
	else
		wait = (int)((1.0 - b->tokens) / rate) + 1;
	pthread_mutex_unlock(&rate_lock);
	return wait;
}

/* ---- what every request passes ------------------------------------------- */

struct hdrscan {
	const char *cl;		/* the first Content-Length */
	size_t cl_len;
	int cl_conflict, te_count;
	const char *te;
};

static enum MHD_Result
scan_header(void *cls, enum MHD_ValueKind kind, const char *key,
    size_t key_size, const char *value, size_t value_size)
{
	struct hdrscan *s = cls;

	(void)kind;
	(void)key_size;
	if (strcasecmp(key, "Content-Length") == 0) {
		if (s->cl == NULL) {
			s->cl = value ? value : "";
			s->cl_len = value_size;
		} else if (value_size != s->cl_len ||
		    memcmp(value, s->cl, value_size) != 0)
			s->cl_conflict = 1;
	} else if (strcasecmp(key, "Transfer-Encoding") == 0) {
		s->te = value ? value : "";
		s->te_count++;
	}
	return MHD_YES;
}

/*
 * Header lines cut at a NUL.  libmicrohttpd 0.9.74 to 0.9.77 parse the
 * request head in place, in the connection's read buffer, and keep every
 * header as two C strings pointing into it: get_next_header_line puts NULs
 * over the line's CRLF (or LF), process_header_line one over the colon, and
 * process_broken_line/connection_add_header take the lengths with strlen()
 * (connection.c of 0.9.75).  A NUL inside a value therefore cuts it, and no
 * program would ever see the rest.  The rest is still there, in the head:
 * in an intact head each value ends where the next header's name begins,
 * with only the line end's one or two NULs between, and the last value is
 * followed only by its line end and the empty line (at most four bytes)
 * that ends the head.  So a value followed by anything else was cut, and
 * the request is refused (400).  0.9.77's own folding code relies on the
 * same adjacency; a line folded onto the next (obs-fold), which 0.9.75
 * appends to the header's name in a copy elsewhere in its pool, fails the
 * check too, and RFC 9112 section 5.2 lets a server refuse it with 400.
 * libmicrohttpd 1.0 refuses both itself, so the walk runs only on the
 * versions read.  What it cannot tell: one NUL as the last byte of a value
 * followed by a bare LF leaves the same two NULs as a CRLF (the value seen
 * is then whole but for that NUL).
 */
struct headwalk {
	uintptr_t lo, end;	/* the head: the request line's start, its end */
	const char *prevp;	/* the end of the previous value; NULL: none */
	int bad;
};

/* Does [p, p + n) hold only NULs? */
static int
nuls(const char *p, uintptr_t n)
{
	for (uintptr_t i = 0; i < n; i++)
		if (p[i] != '\0')
			return 0;
	return 1;
}

static enum MHD_Result
walk_header(void *cls, enum MHD_ValueKind kind, const char *key,
    size_t key_size, const char *value, size_t value_size)
{
	struct headwalk *w = cls;
	uintptr_t k = (uintptr_t)key, v = (uintptr_t)value;
	uintptr_t prev = w->prevp ? (uintptr_t)w->prevp : w->lo;
	uintptr_t gap;

	(void)kind;
	if (key == NULL || value == NULL)
		return MHD_YES;
	/* the name, the colon's NUL, blanks, the value, inside the head,
	 * after the previous line */
	if (k <= prev || v <= k + key_size || v + value_size >= w->end) {
		w->bad = 1;
		return MHD_NO;
	}
	for (const char *p = key + key_size + 1; p < value; p++)
		if (*p != ' ' && *p != '\t') {
			w->bad = 1;
			return MHD_NO;
		}
	if (w->prevp) {
		gap = k - prev;
		if (gap > 2 || !nuls(w->prevp, gap)) {
			w->bad = 1;
			return MHD_NO;
		}
	}
	w->prevp = value + value_size;
	return MHD_YES;
}

/* Set at start: is libmicrohttpd one of the versions the walk was read
 * against? */
static int head_walk;

static int
head_walk_applies(void)
{
	unsigned a, b, c;

	return sscanf(MHD_get_version(), "%u.%u.%u", &a, &b, &c) == 3 &&
	    a == 0 && b == 9 && c >= 74 && c <= 77;
}

/* 1 when a header line of c's head was cut at a NUL (or folded). */
static int
head_cut(struct MHD_Connection *c, const char *method)
{
	const union MHD_ConnectionInfo *i;
	struct headwalk w = { 0 };
	uintptr_t gap;

	if (!head_walk)
		return 0;
	i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
	if (i == NULL)
		return 0;
	w.lo = (uintptr_t)method;
	w.end = w.lo + i->header_size;
	MHD_get_connection_values_n(c, MHD_HEADER_KIND, walk_header, &w);
	if (w.bad)
		return 1;
	if (w.prevp == NULL)
		return 0;	/* no header at all */
	gap = w.end - (uintptr_t)w.prevp;
	return gap < 2 || gap > 4 || !nuls(w.prevp, gap);
}

static enum MHD_Result
refuse(struct MHD_Connection *c, const char *method, const char *url,
    unsigned status, const char *msg, const char *hname, const char *hvalue)
{
	char peer[64];

	httpd_peer(c, peer, sizeof(peer));
	/* a client over its rate is flooding: not a line per request */
	if (status == MHD_HTTP_TOO_MANY_REQUESTS)
		vp_debug("%s: %s %s: %u %s", peer, method, url, status, msg);
	else
		vp_info("%s: %s %s: %u %s", peer, method, url, status, msg);
	return httpd_error_hdr(c, status, msg, hname, hvalue);
}

static int
bearer_ok(struct MHD_Connection *c, const char *token)
{
	const char *h;

	h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return 0;
	for (h += 7; *h == ' '; h++)
		;
	return httpd_ct_equal(h, strlen(h), token, strlen(token));
}

static enum MHD_Result
auth_fail(struct MHD_Connection *c, const char *method, const char *url)
{
	static char msg[] = "Unauthorized\n";
	struct MHD_Response *r;
	enum MHD_Result ret;
	char ch[256], peer[64];

	r = MHD_create_response_from_buffer(sizeof(msg) - 1, msg,
	    MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "text/plain; charset=utf-8");
	if (conf->user) {
		snprintf(ch, sizeof(ch), "Basic realm=\"%s\", charset=\"UTF-8\"",
		    conf->realm);
		MHD_add_response_header(r, "WWW-Authenticate", ch);
	}
	if (conf->token) {
		snprintf(ch, sizeof(ch), "Bearer realm=\"%s\"", conf->realm);
		MHD_add_response_header(r, "WWW-Authenticate", ch);
	}
	httpd_peer(c, peer, sizeof(peer));
	vp_info("%s: %s %s: 401 bad or missing credentials", peer, method, url);
	ret = MHD_queue_response(c, MHD_HTTP_UNAUTHORIZED, r);
	MHD_destroy_response(r);
	return ret;
}

/*
 * The checks of a request whose headers are in and whose body is not yet
 * read: MHD_YES with *done 0 when it goes on to the program.
 */
static enum MHD_Result
screen(struct MHD_Connection *c, const char *method, const char *url,
    int *done)
{
	struct hdrscan s = { 0 };
	int wait;
	char ra[16];

	*done = 1;
	if (head_cut(c, method))
		return refuse(c, method, url, MHD_HTTP_BAD_REQUEST,
		    "malformed header line (a NUL byte, or folded)", NULL,
		    NULL);
	MHD_get_connection_values_n(c, MHD_HEADER_KIND, scan_header, &s);
	if (s.cl_conflict)
		return refuse(c, method, url, MHD_HTTP_BAD_REQUEST,
		    "conflicting Content-Length headers", NULL, NULL);
	if (s.te_count > 0 && s.cl)
		return refuse(c, method, url, MHD_HTTP_BAD_REQUEST,
		    "both Transfer-Encoding and Content-Length", NULL, NULL);
	/* libmicrohttpd reads only chunked; any other coding would be read
	 * up to the end of the connection */
	if (s.te_count > 1 || (s.te_count == 1 &&
	    strcasecmp(s.te, "chunked") != 0))
		return refuse(c, method, url, MHD_HTTP_NOT_IMPLEMENTED,
		    "unsupported Transfer-Encoding (only chunked)", NULL, NULL);
	if (conf->max_body == 0 && (s.te_count > 0 ||
	    (s.cl && strtoull(s.cl, NULL, 10) > 0)))
		return refuse(c, method, url, MHD_HTTP_CONTENT_TOO_LARGE,
		    "request body not accepted", NULL, NULL);
	if (s.cl && strtoull(s.cl, NULL, 10) > conf->max_body)
		return refuse(c, method, url, MHD_HTTP_CONTENT_TOO_LARGE,
		    "request body too large", NULL, NULL);
	if (conf->client_rate > 0 && (wait = rate_take(c)) > 0) {
		snprintf(ra, sizeof(ra), "%d", wait);
		return refuse(c, method, url, MHD_HTTP_TOO_MANY_REQUESTS,
		    "too many requests from this client (--client-rate)",
		    "Retry-After", ra);
	}
	if ((conf->user || conf->token) &&
	    !(conf->user && httpd_basic_auth_ok(c, conf->user, conf->pass)) &&
	    !(conf->token && bearer_ok(c, conf->token)))
		return auth_fail(c, method, url);
	*done = 0;
	return MHD_YES;
}

/* What the layer keeps per request; the program's own is ctx. */
struct hreq {
	void *ctx;
};

static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	struct hreq *r = *con_cls;
	struct httpd_req q;
	enum MHD_Result ret;
	int done;

	(void)cls;
	(void)version;
	if (r == NULL) {
		if ((r = calloc(1, sizeof(*r))) == NULL)
			return MHD_NO;
		*con_cls = r;
		ret = screen(c, method, url, &done);
		if (done)
			return ret;
	} else if (*upload_size == 0)
		/* read whole: what follows (an answer, a watch stream) is
		 * the program's to bound */
		deadline_set(c, 0);
	q = (struct httpd_req){ url, method, upload, upload_size, &r->ctx };
	return conf->cb(c, &q);
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct hreq *r = *con_cls;

	(void)cls;
	(void)toe;
	if (r == NULL)
		return;
	if (conf->completed && r->ctx)
		conf->completed(r->ctx);
	free(r);
	*con_cls = NULL;
	/* a kept-alive connection's next request gets its own deadline */
	deadline_set(c, conf->request_ms);
}

/* ---- starting ------------------------------------------------------------- */

/* A PEM file, whole: exit 66 unreadable, 78 when it holds no PEM block. */
static char *
load_pem(const char *opt, const char *path, int secret)
{
	char *s = vp_read_file(path, 1 << 20, NULL);

	if (s == NULL)
		vp_die(VP_EXIT_NOINPUT, "%s: %s: %s", opt, path,
		    strerror(errno));
	if (strstr(s, "-----BEGIN ") == NULL) {
		if (secret)
			vp_free_secret(s);
		else
			free(s);
		vp_die(VP_EXIT_CONFIG, "%s: %s: no PEM block", opt, path);
	}
	return s;
}

void
httpd_load(struct httpd_conf *hc)
{
	if (hc->basic_opt == NULL)
		hc->basic_opt = "--basic-auth-file";
	if (hc->realm == NULL)
		hc->realm = vp_progname;
	if ((hc->tls_cert == NULL) != (hc->tls_key == NULL)) {
		vp_error("--tls-cert and --tls-key go together");
		exit(VP_EXIT_USAGE);
	}
	if (hc->basic_file)
		vp_load_credentials(hc->basic_opt, hc->basic_file, NULL, NULL,
		    &hc->user, &hc->pass);
	if (hc->token_file)
		hc->token = vp_load_secret("--token-file", hc->token_file);
	if (hc->tls_cert) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
			vp_die(VP_EXIT_CONFIG, "--tls-cert: this libmicrohttpd "
			    "has no TLS support");
		hc->cert = load_pem("--tls-cert", hc->tls_cert, 0);
		hc->key = load_pem("--tls-key", hc->tls_key, 1);
	}
}

/* As many descriptors as the hard limit allows; max_conn fits in them. */
static void
raise_nofile(struct httpd_conf *hc)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	/* keep room for the files the program opens besides */
	if (rl.rlim_cur != RLIM_INFINITY &&
	    (rlim_t)hc->max_conn + 64 > rl.rlim_cur) {
		int fit = rl.rlim_cur > 128 ? (int)rl.rlim_cur - 64 : 64;

		vp_warn("--max-connections %d: only %d fit in the %llu file "
		    "descriptors allowed", hc->max_conn, fit,
		    (unsigned long long)rl.rlim_cur);
		hc->max_conn = fit;
	}
}

struct MHD_Daemon *
httpd_start(struct httpd_conf *hc, char *err, size_t errlen)
{
	struct vp_listen l;
	struct MHD_OptionItem o[12];
	sigset_t block, old;
	struct MHD_Daemon *d;
	unsigned flags = hc->flags;
	int n = 0;

	if (vp_listen_parse(hc->listen, &l, err, errlen) != 0)
		return NULL;
	conf = hc;
	head_walk = head_walk_applies();
	/*
	 * Pages of their own, zero from the kernel: only the slots clients
	 * hash to are ever touched.  (malloc and memset made all 128 kB
	 * resident in every server, and calloc would too: the heap's top
	 * was used and freed while the program started.)
	 */
	if (hc->client_rate > 0 && buckets == NULL &&
	    (buckets = mmap(NULL, RATE_SLOTS * sizeof(*buckets),
	    PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)) ==
	    MAP_FAILED)
		vp_die(VP_EXIT_SOFTWARE, "out of memory");
	raise_nofile(hc);
	if (l.ss.ss_family == AF_INET6)
		flags |= l.any ? MHD_USE_DUAL_STACK : MHD_USE_IPv6;
	/*
	 * poll or epoll: select() cannot watch descriptors past 1023.  A
	 * thread per connection keeps select(): it leaves connections past
	 * --max-connections waiting in the listen queue (poll would accept
	 * and close them), and each thread watches its own one descriptor.
	 */
	if ((flags & (MHD_USE_POLL | MHD_USE_EPOLL |
	    MHD_USE_THREAD_PER_CONNECTION)) == 0)
		flags |= MHD_USE_AUTO;
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT,
	    (intptr_t)hc->max_conn, NULL };
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (intptr_t)hc->per_client, NULL };
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT,
	    (intptr_t)((hc->idle_ms + 999) / 1000), NULL };
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED,
	    (intptr_t)completed, NULL };
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_CONNECTION,
	    (intptr_t)notify_connection, NULL };
	if (hc->cert) {
		flags |= MHD_USE_TLS;
		o[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0,
		    hc->cert };
		o[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0,
		    hc->key };
	}
	if (hc->opts)
		o[n++] = (struct MHD_OptionItem){ MHD_OPTION_ARRAY, 0,
		    hc->opts };
	o[n] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_ERROR_LOG | flags, 0, NULL, NULL, handle, NULL,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&l.ss,
	    MHD_OPTION_ARRAY, o,
	    MHD_OPTION_END);
	if (d != NULL && hc->request_ms > 0 && !watch_started) {
		pthread_condattr_t ca;

		/* the deadlines' clock (vp_now_ms), for the watch's timed wait */
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&conn_cond, &ca);
		pthread_condattr_destroy(&ca);
		watch_stop = 0;
		if (pthread_create(&watch_thread, NULL, deadline_watch,
		    NULL) != 0)
			vp_die(VP_EXIT_SOFTWARE, "cannot start a thread");
		watch_started = 1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (d == NULL)
		snprintf(err, errlen, "%s: cannot listen (address in use or "
		    "not available%s?)", hc->listen, hc->cert ?
		    ", or a bad certificate or key" : "");
	return d;
}

void
httpd_stop(struct MHD_Daemon *d)
{
	MHD_stop_daemon(d);
	if (watch_started) {
		pthread_mutex_lock(&conn_lock);
		watch_stop = 1;
		pthread_cond_signal(&conn_cond);
		pthread_mutex_unlock(&conn_lock);
		pthread_join(watch_thread, NULL);
		watch_started = 0;
	}
	if (conf) {
		vp_free_secret(conf->user);
		vp_free_secret(conf->pass);
		vp_free_secret(conf->token);
		vp_free_secret(conf->key);
		free(conf->cert);
		conf->user = conf->pass = conf->token = conf->key = NULL;
		conf->cert = NULL;
	}
	if (buckets)
		munmap(buckets, RATE_SLOTS * sizeof(*buckets));
	buckets = NULL;
}

struct MHD_Daemon *
httpd_listen(struct httpd_conf *hc, const char *fmt, ...)
{
	struct MHD_Daemon *d;
	char err[512], what[512];
	va_list ap;

	if ((d = httpd_start(hc, err, sizeof(err))) == NULL)
		vp_die(VP_EXIT_TEMPFAIL, "--listen: %s", err);
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	vp_info("listening on %s (port %u%s), %s", hc->listen, httpd_port(d),
	    hc->cert ? ", HTTPS" : "", what);
	return d;
}

void
httpd_quiesce(struct MHD_Daemon *d)
{
	MHD_socket ls = MHD_quiesce_daemon(d);

	if (ls != MHD_INVALID_SOCKET)
		close(ls);
}

unsigned
httpd_port(struct MHD_Daemon *d)
{
	const union MHD_DaemonInfo *i;

	i = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	return i ? i->port : 0;
}

enum MHD_Result
httpd_reply(struct MHD_Connection *c, unsigned status, const char *ct,
    const char *body, size_t len)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)body,
	    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	if (status != MHD_HTTP_NO_CONTENT) {
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
		    ct ? ct : "text/plain; charset=utf-8");
		MHD_add_response_header(r, "X-Content-Type-Options",
		    "nosniff");
	}
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

enum MHD_Result
httpd_error_hdr(struct MHD_Connection *c, unsigned status, const char *msg,
    const char *hname, const char *hvalue)
{
	struct MHD_Response *r;
	struct vp_buf b = { 0 };
	enum MHD_Result ret;

	vp_buf_printf(&b, "%s\n", msg);
	r = MHD_create_response_from_buffer(b.len, b.data,
	    MHD_RESPMEM_MUST_COPY);
	vp_buf_free(&b);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "text/plain; charset=utf-8");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (hname)
		MHD_add_response_header(r, hname, hvalue);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

enum MHD_Result
httpd_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
	return httpd_error_hdr(c, status, msg, NULL, NULL);
}

int
httpd_ct_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	volatile unsigned char d = alen != blen;

	for (size_t i = 0; i < alen; i++)
		d |= (unsigned char)a[i] ^
		    (unsigned char)(blen ? b[i % blen] : 0);
	return d == 0;
}

int
httpd_basic_auth_ok(struct MHD_Connection *c, const char *user,
    const char *pass)
{
	const char *h;
	struct vp_buf dec = { 0 };
	char enc[1024];
	size_t n;
	char *colon;
	int ok = 0;

	h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	if (h == NULL || strncasecmp(h, "Basic ", 6) != 0)
		return 0;
	h += 6;
	while (*h == ' ')
		h++;
	n = strlen(h);
	if (n + 3 >= sizeof(enc))
		return 0;
	/* padding is optional in practice: restore it */
	memcpy(enc, h, n);
	while (n % 4 != 0)
		enc[n++] = '=';
	/* sized once, so no copy of the secret is left behind by a realloc */
	dec.cap = n + 1;
	dec.data = vp_xmalloc(dec.cap);
	/* decoded bytes as they are: a NUL inside cannot cut a password short */
	if (vp_b64_decode(&dec, enc, n) == 0 &&
	    (colon = memchr(dec.data, ':', dec.len)) != NULL) {
		/* both comparisons always run: no hint which part was wrong */
		ok = httpd_ct_equal(dec.data, (size_t)(colon - dec.data), user,
		    strlen(user));
		ok &= httpd_ct_equal(colon + 1,
		    dec.len - (size_t)(colon + 1 - dec.data), pass,
		    strlen(pass));
	}
	explicit_bzero(enc, sizeof(enc));
	explicit_bzero(dec.data, dec.cap);
	vp_buf_free(&dec);
	return ok;
}

void
httpd_peer(struct MHD_Connection *c, char *buf, size_t len)
{
	const union MHD_ConnectionInfo *i;
	char host[INET6_ADDRSTRLEN] = "?";

	i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (i && i->client_addr) {
		const struct sockaddr *sa = i->client_addr;

		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)
			    (const void *)sa)->sin_addr, host, sizeof(host));
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)
			    (const void *)sa)->sin6_addr, host, sizeof(host));
	}
	snprintf(buf, len, "%s", host);
}
