/* httpd.c: listen addresses, replies and constant-time checks on libmicrohttpd. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "httpd.h"
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

static int
parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *sl,
    char *err, size_t errlen)
{
	char host[256] = "", *end;
	const char *port, *colon;
	struct addrinfo hints, *res;
	int rc;
	long p;

	if ((colon = strrchr(s, ':')) == NULL) {
		port = s;	/* a bare port */
	} else {
		size_t hl = (size_t)(colon - s);

		port = colon + 1;
		if (hl > 1 && s[0] == '[' && s[hl - 1] == ']') {
			s++;
			hl -= 2;
		}
		if (hl >= sizeof(host)) {
			snprintf(err, errlen, "listen address too long");
			return -1;
		}
		memcpy(host, s, hl);
		host[hl] = '\0';
	}
	errno = 0;
	p = strtol(port, &end, 10);
	if (*port == '\0' || *end != '\0' || errno || p < 0 || p > 65535) {
		snprintf(err, errlen, "bad port in listen address");
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(*host ? host : NULL, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", *host ? host : "*",
		    gai_strerror(rc));
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sl = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

struct MHD_Daemon *
httpd_start(const char *addr, unsigned flags, MHD_AccessHandlerCallback cb,
    void *cls, struct MHD_OptionItem *opts, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	sigset_t block, old;
	struct MHD_Daemon *d;

	if (parse_addr(addr, &ss, &sl, err, errlen) != 0)
		return NULL;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_ERROR_LOG | flags, 0, NULL, NULL, cb, cls,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_ARRAY, opts,
	    MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (d == NULL)
		snprintf(err, errlen, "%s: cannot listen (address in use or "
		    "not available?)", addr);
	return d;
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
