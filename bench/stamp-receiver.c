/*
 * bench/stamp-receiver.c: the benches' HTTP receiver for pipelines.
 *
 *   stamp-receiver PORTFILE LOG
 *
 * Listens on 127.0.0.1, port 0 (written to PORTFILE once listening), one
 * epoll loop for any number of HTTP/1.1 keep-alive connections (one per
 * sink-http of a many-pipeline run). Answers every request 200 with an
 * empty body (100 Continue first when asked) and appends one line per
 * request to LOG:
 *
 *   ARRIVAL_US <TAB> SOURCE <TAB> CREATED <TAB> KEY
 *
 * ARRIVAL_US is CLOCK_REALTIME in microseconds when the whole request had
 * arrived; SOURCE the ce-source header (binary mode) or the "source" member
 * (structured mode); CREATED the event's "CreatedTime" as vCenter stamped
 * it; KEY its "Key". Same machine, same clock as the simulators. The log is
 * flushed every 100 ms and at SIGTERM.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
	int fd;
	char *buf;
	size_t have, cap;
	int continued;
};

static volatile sig_atomic_t stop;

static void
on_term(int s)
{
	(void)s;
	stop = 1;
}

static long long
now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return t.tv_sec * 1000000LL + t.tv_nsec / 1000;
}

/* Copy the value after NAME (a JSON string member or a header) up to END. */
static void
field(const char *p, const char *lim, const char *name, char stopc, char *out,
    size_t len)
{
	const char *q = memmem(p, (size_t)(lim - p), name, strlen(name));
	size_t n = 0;

	out[0] = '-';
	out[1] = '\0';
	if (q == NULL)
		return;
	q += strlen(name);
	while (q < lim && *q == ' ')
		q++;
	while (q + n < lim && q[n] != stopc && q[n] != '\r' && n + 1 < len)
		n++;
	memcpy(out, q, n);
	out[n] = '\0';
}

/* Find a header (case-insensitive) in the head [p, end). */
static const char *
header(const char *p, const char *end, const char *name)
{
	const char *e;
	size_t nl = strlen(name);

	while ((e = memmem(p, (size_t)(end - p), "\r\n", 2)) != NULL) {
		p = e + 2;
		if ((size_t)(end - p) > nl && strncasecmp(p, name, nl) == 0)
			return p + nl;
	}
	return NULL;
}

/* Serve the whole requests in c->buf; -1 when the connection must go. */
static int
serve(struct conn *c, FILE *log)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

	for (;;) {
		char *end = memmem(c->buf, c->have, "\r\n\r\n", 4);
		const char *h, *body;
		size_t hlen, blen = 0;
		char src[512], created[64], key[32];

		if (end == NULL)
			return 0;
		hlen = (size_t)(end - c->buf) + 4;
		if ((h = header(c->buf, end, "content-length:")) != NULL)
			blen = strtoul(h, NULL, 10);
		if (c->have < hlen + blen) {
			if (!c->continued && header(c->buf, end, "expect:")) {
				c->continued = 1;
				if (write(c->fd, cont, sizeof(cont) - 1) < 0)
					return -1;
			}
			return 0;
		}
		body = c->buf + hlen;
		if ((h = header(c->buf, end, "ce-source:")) != NULL)
			field(h, end, "", '\r', src, sizeof(src));
		else
			field(body, body + blen, "\"source\":\"", '"', src,
			    sizeof(src));
		field(body, body + blen, "\"CreatedTime\":\"", '"', created,
		    sizeof(created));
		field(body, body + blen, "\"Key\":", ',', key, sizeof(key));
		fprintf(log, "%lld\t%s\t%s\t%s\n", now_us(), src, created, key);
		if (write(c->fd, ok, sizeof(ok) - 1) < 0)
			return -1;
		memmove(c->buf, c->buf + hlen + blen, c->have - hlen - blen);
		c->have -= hlen + blen;
		c->continued = 0;
	}
}

int
main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	struct sigaction sa = { .sa_handler = on_term };
	struct epoll_event ev, evs[64];
	int s, ep, one = 1;
	FILE *log, *pf;
	long long flushed = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: stamp-receiver PORTFILE LOG\n");
		return 64;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((log = fopen(argv[2], "w")) == NULL) {
		perror(argv[2]);
		return 1;
	}
	setvbuf(log, NULL, _IOFBF, 1 << 20);
	s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (void *)&a, sizeof(a)) || listen(s, 1024) ||
	    getsockname(s, (void *)&a, &al)) {
		perror("stamp-receiver: listen");
		return 1;
	}
	if ((pf = fopen(argv[1], "w")) == NULL) {
		perror(argv[1]);
		return 1;
	}
	fprintf(pf, "%d\n", ntohs(a.sin_port));
	fclose(pf);
	ep = epoll_create1(0);
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
	while (!stop) {
		int n = epoll_wait(ep, evs, 64, 100);

		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			ssize_t r;

			if (c == NULL) {
				int fd;

				while ((fd = accept4(s, NULL, NULL,
				    SOCK_NONBLOCK)) >= 0) {
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY,
					    &one, sizeof(one));
					c = calloc(1, sizeof(*c));
					c->fd = fd;
					c->cap = 1 << 16;
					c->buf = malloc(c->cap);
					ev.events = EPOLLIN;
					ev.data.ptr = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			for (;;) {
				if (c->have == c->cap)
					c->buf = realloc(c->buf, c->cap *= 2);
				r = read(c->fd, c->buf + c->have,
				    c->cap - c->have);
				if (r > 0) {
					c->have += (size_t)r;
					continue;
				}
				break;
			}
			if (serve(c, log) < 0 || r == 0 ||
			    (r < 0 && errno != EAGAIN)) {
				close(c->fd);
				free(c->buf);
				free(c);
			}
		}
		if (now_us() - flushed > 100000) {
			fflush(log);
			flushed = now_us();
		}
	}
	fclose(log);
	return 0;
}
