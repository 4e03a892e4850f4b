/*
 * httpd.c: the HTTP server layer of webhook-source, stream-serve and
 * vcpipe-metrics on libmicrohttpd: listening (vp_listen_parse's syntax),
 * replies, Basic authentication and constant-time checks.  Its own archive,
 * libvp-httpd.a, so programs without a server do not link libmicrohttpd.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "httpd.h"
#include "json.h"
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
	/* a client hanging up (a watcher closing its stream) is routine */
	if (strstr(msg, "no longer available") || strstr(msg, "reset by peer"))
		vp_debug("http: %s", msg);
	else
		vp_warn("http: %s", msg);
}

struct MHD_Daemon *
httpd_start(const char *addr, unsigned flags, MHD_AccessHandlerCallback cb,
    void *cls, struct MHD_OptionItem *opts, char *err, size_t errlen)
{
	struct vp_listen l;
	sigset_t block, old;
	struct MHD_Daemon *d;

	if (vp_listen_parse(addr, &l, err, errlen) != 0)
		return NULL;
	if (l.ss.ss_family == AF_INET6)
		flags |= l.any ? MHD_USE_DUAL_STACK : MHD_USE_IPv6;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_ERROR_LOG | flags, 0, NULL, NULL, cb, cls,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&l.ss,
	    MHD_OPTION_ARRAY, opts,
	    MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (d == NULL)
		snprintf(err, errlen, "%s: cannot listen (address in use or "
		    "not available?)", addr);
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
httpd_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
	struct vp_buf b = { 0 };
	enum MHD_Result ret;

	vp_buf_printf(&b, "%s\n", msg);
	ret = httpd_reply(c, status, NULL, b.data, b.len);
	vp_buf_free(&b);
	return ret;
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

enum MHD_Result
httpd_auth_fail(struct MHD_Connection *c, const char *realm)
{
	static char msg[] = "invalid credentials\n";
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(sizeof(msg) - 1, msg,
	    MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "text/plain; charset=utf-8");
	ret = MHD_queue_basic_auth_fail_response(c, realm, r);
	MHD_destroy_response(r);
	return ret;
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
