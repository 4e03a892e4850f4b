/*
 * vpamqp.c: the AMQP connection of sink-amqp and amqp-source (vpamqp.h).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>

#include "vpamqp.h"

static int
fail(struct vp_amqp *a, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct vp_amqp *a, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->err, sizeof(a->err), fmt, ap);
	va_end(ap);
	return code;
}

const char *
vp_amqp_version(void)
{
	static char v[64];

	snprintf(v, sizeof(v), "librabbitmq %s", amqp_version());
	return v;
}

amqp_bytes_t
vp_amqp_str(const char *s)
{
	return amqp_cstring_bytes(s ? s : "");
}

/* One URL's syntax; vp_amqp_setup() reads it. */
static int
url_check(const char *url, size_t len, char *err, size_t errlen)
{
	const char *auth, *end = url + len;

	if (strncmp(url, "amqp://", 7) != 0 && strncmp(url, "amqps://", 8)) {
		snprintf(err, errlen, "not an amqp:// or amqps:// URL: "
		    "\"%.*s\"", (int)len, url);
		return -1;
	}
	auth = strstr(url, "://") + 3;
	if (memchr(auth, '@', strcspn(auth, "/?#,")) != NULL) {
		snprintf(err, errlen, "credentials do not go in the URL: use "
		    "--credentials-file or the environment");
		return -1;
	}
	if (memchr(url, '?', len) || memchr(url, '#', len)) {
		snprintf(err, errlen, "query parameters are not supported "
		    "(use the options)");
		return -1;
	}
	if (auth == end || auth[0] == '/' || auth[0] == ':') {
		snprintf(err, errlen, "no host in \"%.*s\"", (int)len, url);
		return -1;
	}
	return 0;
}

#define MAX_NODES 16

/* --url: one URL or a comma-separated list, appended to the nodes. */
static int
url_arg(void *dest, const char *v, char *err, size_t errlen)
{
	struct vp_amqp *a = dest;

	for (const char *p = v;; ) {
		size_t len = strcspn(p, ",");
		struct vp_amqp_node *n;

		if (url_check(p, len, err, errlen) != 0)
			return -1;
		if (a->nnodes == MAX_NODES) {
			snprintf(err, errlen, "more than %d brokers", MAX_NODES);
			return -1;
		}
		a->nodes = vp_xrealloc(a->nodes, (size_t)(a->nnodes + 1) *
		    sizeof(*a->nodes));
		n = &a->nodes[a->nnodes++];
		memset(n, 0, sizeof(*n));
		n->url = vp_xmalloc(len + 1);
		memcpy(n->url, p, len);
		n->url[len] = '\0';
		if (p[len] == '\0')
			return 0;
		p += len + 1;
	}
}

/* vp_amqp_opts: src/lib/vpamqp.tab */
#include "opts/lib-vpamqp.h"

void
vp_amqp_setup(struct vp_amqp *a, const char *cred_path, const char *user_env,
    const char *pass_env)
{
	int env;

	for (int i = 0; i < a->nnodes; i++) {
		struct amqp_connection_info ci;
		char *copy = vp_xstrdup(a->nodes[i].url);

		amqp_default_connection_info(&ci);
		if (amqp_parse_url(copy, &ci) != AMQP_STATUS_OK ||
		    ci.host[0] == '\0')
			vp_usage_error("--url: cannot parse \"%s\"",
			    a->nodes[i].url);
		if (i > 0 && (ci.ssl != a->ssl || strcmp(ci.vhost, a->vhost)))
			vp_usage_error("--url: \"%s\": a cluster's nodes "
			    "share the scheme and the vhost of \"%s\"",
			    a->nodes[i].url, a->nodes[0].url);
		a->nodes[i].host = vp_xstrdup(ci.host);
		a->nodes[i].port = ci.port;
		if (i == 0) {
			a->vhost = vp_xstrdup(ci.vhost);
			a->ssl = ci.ssl;
		}
		free(copy);
	}
	if (!a->ssl && (a->tls.ca_file || a->tls.insecure))
		vp_usage_error("--ca-file and --insecure go with amqps:// URLs");
	a->heartbeat_s = (int)((a->heartbeat_ms + 999) / 1000);

	/* half a pair in the environment must not quietly mean guest */
	env = (user_env && getenv(user_env) != NULL) ||
	    (pass_env && getenv(pass_env) != NULL);
	if (cred_path || env)
		vp_load_credentials("--credentials-file", cred_path, user_env,
		    pass_env, &a->user, &a->pass);
	else {
		/* what every AMQP client does: RabbitMQ's default user,
		 * which it only accepts from loopback */
		a->user = vp_xstrdup("guest");
		a->pass = vp_xstrdup("guest");
	}
}

const char *
vp_amqp_where(const struct vp_amqp *a)
{
	static char buf[600];

	const struct vp_amqp_node *n = &a->nodes[a->cur];

	snprintf(buf, sizeof(buf), "%s://%s:%d/%s", a->ssl ? "amqps" : "amqp",
	    n->host, n->port, strcmp(a->vhost, "/") == 0 ? "" : a->vhost);
	return buf;
}

int
vp_amqp_code_class(int code)
{
	switch (code) {
	case AMQP_ACCESS_REFUSED:	/* 403 */
		return VP_EXIT_NOPERM;
	case AMQP_NOT_FOUND:		/* 404 */
	case AMQP_PRECONDITION_FAILED:	/* 406 */
	case AMQP_NOT_ALLOWED:		/* 530: no such vhost */
	case AMQP_COMMAND_INVALID:	/* 503 */
	case AMQP_NOT_IMPLEMENTED:	/* 540 */
		return VP_EXIT_CONFIG;
	default:			/* 320 forced, 541 internal, ... */
		return VP_EXIT_TEMPFAIL;
	}
}

static int
close_method(struct vp_amqp *a, amqp_method_t m, const char *what)
{
	if (m.id == AMQP_CONNECTION_CLOSE_METHOD) {
		amqp_connection_close_t *c = m.decoded;
		amqp_connection_close_ok_t ok;
		int cls = vp_amqp_code_class(c->reply_code);

		/* "access to vhost refused" is 530 too, but a permission */
		if (c->reply_code == AMQP_NOT_ALLOWED &&
		    memmem(c->reply_text.bytes, c->reply_text.len, "refused", 7))
			cls = VP_EXIT_NOPERM;
		fail(a, cls, "%s: broker closed the connection: %d %.*s", what,
		    c->reply_code, (int)c->reply_text.len,
		    (const char *)c->reply_text.bytes);
		amqp_send_method(a->conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD,
		    &ok);
		return cls;
	}
	if (m.id == AMQP_CHANNEL_CLOSE_METHOD) {
		amqp_channel_close_t *c = m.decoded;
		amqp_channel_close_ok_t ok;

		fail(a, vp_amqp_code_class(c->reply_code),
		    "%s: broker closed the channel: %d %.*s", what,
		    c->reply_code, (int)c->reply_text.len,
		    (const char *)c->reply_text.bytes);
		amqp_send_method(a->conn, a->channel,
		    AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
		return vp_amqp_code_class(c->reply_code);
	}
	return 0;
}

int
vp_amqp_status(struct vp_amqp *a, int st, const char *what)
{
	if (st >= 0)
		return 0;
	switch (st) {
	case AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED:
	case AMQP_STATUS_SSL_PEER_VERIFY_FAILED:
		return fail(a, VP_EXIT_CONFIG, "%s: %s (see --ca-file)", what,
		    amqp_error_string2(st));
	case AMQP_STATUS_SSL_CONNECTION_FAILED:
		return fail(a, VP_EXIT_CONFIG, "%s: %s: the certificate is "
		    "not trusted or the server does not speak TLS (see "
		    "--ca-file)", what, amqp_error_string2(st));
	case AMQP_STATUS_NO_MEMORY:
		return fail(a, VP_EXIT_SOFTWARE, "%s: out of memory", what);
	default:
		return fail(a, VP_EXIT_TEMPFAIL, "%s: %s", what,
		    amqp_error_string2(st));
	}
}

int
vp_amqp_reply(struct vp_amqp *a, amqp_rpc_reply_t r, const char *what)
{
	switch (r.reply_type) {
	case AMQP_RESPONSE_NORMAL:
		return 0;
	case AMQP_RESPONSE_NONE:
		return fail(a, VP_EXIT_SOFTWARE, "%s: no reply", what);
	case AMQP_RESPONSE_LIBRARY_EXCEPTION:
		return vp_amqp_status(a, r.library_error, what);
	case AMQP_RESPONSE_SERVER_EXCEPTION:
	default: {
		int cls = close_method(a, r.reply, what);

		return cls ? cls : fail(a, VP_EXIT_TEMPFAIL,
		    "%s: unexpected method 0x%08x", what, r.reply.id);
	}
	}
}

int
vp_amqp_closing_frame(struct vp_amqp *a, const amqp_frame_t *f)
{
	if (f->frame_type != AMQP_FRAME_METHOD)
		return 0;
	return close_method(a, f->payload.method, vp_amqp_where(a));
}

static int
connect_node(struct vp_amqp *a)
{
	amqp_socket_t *s;
	struct timeval tv;
	amqp_table_entry_t props[1];
	amqp_table_t pt;
	int rc;
	char what[700];

	snprintf(what, sizeof(what), "%s", vp_amqp_where(a));
	vp_amqp_close(a);
	a->conn = amqp_new_connection();
	if (a->conn == NULL)
		return fail(a, VP_EXIT_SOFTWARE, "out of memory");
	if (a->ssl) {
		s = amqp_ssl_socket_new(a->conn);
		if (s == NULL)
			return fail(a, VP_EXIT_SOFTWARE, "cannot set up TLS");
		amqp_ssl_socket_set_verify_peer(s, !a->tls.insecure);
		amqp_ssl_socket_set_verify_hostname(s, !a->tls.insecure);
		if (a->tls.ca_file &&
		    amqp_ssl_socket_set_cacert(s, a->tls.ca_file) != 0)
			return fail(a, VP_EXIT_CONFIG, "--ca-file: %s: not a "
			    "PEM CA certificate file", a->tls.ca_file);
	} else
		s = amqp_tcp_socket_new(a->conn);
	if (s == NULL)
		return fail(a, VP_EXIT_SOFTWARE, "out of memory");
	tv.tv_sec = a->timeout_ms / 1000;
	tv.tv_usec = (a->timeout_ms % 1000) * 1000;
	amqp_set_handshake_timeout(a->conn, &tv);
	amqp_set_rpc_timeout(a->conn, &tv);
	rc = amqp_socket_open_noblock(s, a->nodes[a->cur].host,
	    a->nodes[a->cur].port, &tv);
	if (rc != AMQP_STATUS_OK)
		return vp_amqp_status(a, rc, what);
	props[0].key = amqp_cstring_bytes("connection_name");
	props[0].value.kind = AMQP_FIELD_KIND_UTF8;
	props[0].value.value.bytes = vp_amqp_str(a->conn_name ? a->conn_name :
	    vp_progname);
	pt.num_entries = 1;
	pt.entries = props;
	rc = vp_amqp_reply(a, amqp_login_with_properties(a->conn, a->vhost, 0,
	    131072, a->heartbeat_s, &pt, AMQP_SASL_METHOD_PLAIN, a->user,
	    a->pass), what);
	if (rc != 0) {
		/* RabbitMQ closes the socket on a bad login */
		if (strstr(a->err, "connection closed unexpectedly") ||
		    strstr(a->err, "ACCESS_REFUSED"))
			rc = fail(a, VP_EXIT_NOPERM, "%s: login refused for "
			    "user \"%s\"", what, a->user);
		return rc;
	}
	a->channel = VP_AMQP_CHANNEL;
	amqp_channel_open(a->conn, a->channel);
	return vp_amqp_reply(a, amqp_get_rpc_reply(a->conn), what);
}

int
vp_amqp_new_channel(struct vp_amqp *a)
{
	int max = amqp_get_channel_max(a->conn);
	uint16_t next = a->channel + 1;
	int rc;

	/* a new number: confirms still due on the old one are told apart */
	if (next == 0 || (max > 0 && next > max))
		next = 1;
	rc = vp_amqp_reply(a, amqp_channel_close(a->conn, a->channel,
	    AMQP_REPLY_SUCCESS), "closing the channel");
	if (rc != 0)
		return rc;
	a->channel = next;
	amqp_channel_open(a->conn, a->channel);
	return vp_amqp_reply(a, amqp_get_rpc_reply(a->conn),
	    "opening a channel");
}

int
vp_amqp_connect(struct vp_amqp *a)
{
	int rc = VP_EXIT_TEMPFAIL;

	for (int k = 0; k < a->nnodes; k++) {
		a->cur = (a->next + k) % a->nnodes;
		rc = connect_node(a);
		if (rc == 0) {
			a->next = (a->cur + 1) % a->nnodes;
			return 0;
		}
		/* a login or a certificate refused is the cluster's answer */
		if (rc != VP_EXIT_TEMPFAIL)
			return rc;
		if (a->nnodes > 1 && k + 1 < a->nnodes)
			vp_info("%s; trying the next broker", a->err);
	}
	return rc;
}

void
vp_amqp_close(struct vp_amqp *a)
{
	if (a->conn == NULL)
		return;
	if (amqp_get_socket(a->conn) != NULL && amqp_get_sockfd(a->conn) >= 0) {
		struct timeval tv = { 2, 0 };

		/* a dead peer must not hold a stopping program */
		amqp_set_rpc_timeout(a->conn, &tv);
		amqp_connection_close(a->conn, AMQP_REPLY_SUCCESS);
	}
	amqp_destroy_connection(a->conn);
	a->conn = NULL;
	a->corked = 0;
}

int
vp_amqp_next_method(struct vp_amqp *a, amqp_frame_t *f)
{
	struct timeval zero = { 0, 0 };
	int st;

	for (;;) {
		st = amqp_simple_wait_frame_noblock(a->conn, f, &zero);
		if (st == AMQP_STATUS_TIMEOUT)
			return 0;
		if (st != AMQP_STATUS_OK)
			return vp_amqp_status(a, st, vp_amqp_where(a));
		if (f->frame_type == AMQP_FRAME_METHOD)
			return 1;
	}
}

int
vp_amqp_methods(struct vp_amqp *a, int (*fn)(void *, const amqp_frame_t *),
    void *arg)
{
	amqp_frame_t f;
	int rc;

	while ((rc = vp_amqp_next_method(a, &f)) == 1) {
		if ((rc = vp_amqp_closing_frame(a, &f)) != 0 ||
		    (rc = fn(arg, &f)) != 0)
			break;
		amqp_maybe_release_buffers(a->conn);
	}
	return rc;
}

int
vp_amqp_lost(struct vp_amqp *a, int rc, int was_connected,
    struct vp_backoff *bo, int64_t *retry_ms)
{
	int64_t delay;

	if (rc != VP_EXIT_TEMPFAIL) {
		vp_error("%s", a->err);
		return rc;
	}
	vp_amqp_close(a);
	/* a connection that worked is tried again at once (the next node
	 * first: vp_amqp_connect) */
	delay = was_connected ? 0 : vp_backoff_next(bo);
	if (was_connected)
		vp_warn("%s; reconnecting", a->err);
	else
		vp_warn("%s; again in %lld ms", a->err, (long long)delay);
	*retry_ms = vp_now_ms() + delay;
	return 0;
}

void
vp_amqp_cork(struct vp_amqp *a, int on)
{
	int fd = vp_amqp_fd(a);

	if (fd < 0 || a->corked == on)
		return;
	/* a socket that refuses is only slower */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
	a->corked = on;
}

int
vp_amqp_buffered(const struct vp_amqp *a)
{
	return a->conn && (amqp_frames_enqueued(a->conn) ||
	    amqp_data_in_buffer(a->conn));
}

int
vp_amqp_fd(const struct vp_amqp *a)
{
	return a->conn ? amqp_get_sockfd(a->conn) : -1;
}

void
vp_amqp_free(struct vp_amqp *a)
{
	vp_amqp_close(a);
	for (int i = 0; i < a->nnodes; i++) {
		free(a->nodes[i].url);
		free(a->nodes[i].host);
	}
	free(a->nodes);
	a->nodes = NULL;
	a->nnodes = 0;
	free(a->vhost);
	free(a->user);
	vp_free_secret(a->pass);
	a->vhost = a->user = a->pass = NULL;
}
