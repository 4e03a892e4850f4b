/*
 * listen.c: the one listen-address syntax (webhook-source, stream-serve,
 * vcpipe-metrics and the bindAddress keys of vcpipe's configuration).
 *
 * Go's net.Listen is the model, since the event router's bindAddress goes
 * through it: HOST:PORT, [IPv6]:PORT, or :PORT for every interface (IPv6 and
 * IPv4 on one socket where the host has IPv6).  A bare PORT means :PORT.
 * HOST may be a name; it is resolved once, at start, to its first address.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vp.h"

#define LISTEN_SYNTAX "expected HOST:PORT, [IPv6]:PORT or :PORT (every " \
	"interface), like 127.0.0.1:8080"

/* Can this host open IPv6 sockets? */
static int
have_ipv6(void)
{
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

int
vp_listen_parse(const char *s, struct vp_listen *l, char *err, size_t errlen)
{
	char host[256], *end;
	const char *colon, *port;
	struct addrinfo hints, *res;
	size_t hl;
	long p;
	int rc;

	memset(l, 0, sizeof(*l));
	if ((colon = strrchr(s, ':')) == NULL) {
		hl = 0;
		port = s;
	} else {
		hl = (size_t)(colon - s);
		port = colon + 1;
	}
	errno = 0;
	p = strtol(port, &end, 10);
	if (*port < '0' || *port > '9' || *end != '\0' || errno || p > 65535 ||
	    strpbrk(s, "/ \t") != NULL) {
		snprintf(err, errlen, LISTEN_SYNTAX ", got \"%s\"", s);
		return -1;
	}
	if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
		s++;
		hl -= 2;
	} else if (memchr(s, ':', hl) != NULL || memchr(s, '[', hl) != NULL) {
		/* an IPv6 address needs its brackets, as in a URL */
		snprintf(err, errlen, LISTEN_SYNTAX ", got \"%s\"", s);
		return -1;
	}
	if (hl >= sizeof(host)) {
		snprintf(err, errlen, "host name too long");
		return -1;
	}
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (hl == 0) {
		l->any = 1;
		if (have_ipv6()) {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&l->ss;

			in6->sin6_family = AF_INET6;
			in6->sin6_addr = in6addr_any;
			in6->sin6_port = htons((uint16_t)p);
			l->len = sizeof(*in6);
		} else {
			struct sockaddr_in *in4 = (struct sockaddr_in *)&l->ss;

			in4->sin_family = AF_INET;
			in4->sin_addr.s_addr = htonl(INADDR_ANY);
			in4->sin_port = htons((uint16_t)p);
			l->len = sizeof(*in4);
		}
		return 0;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s: %s", host, rc == EAI_SYSTEM ?
		    strerror(errno) : gai_strerror(rc));
		return -1;
	}
	memcpy(&l->ss, res->ai_addr, res->ai_addrlen);
	l->len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}
