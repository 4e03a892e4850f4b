/*
 * curlmulti.h: several requests in flight on one libcurl multi handle,
 * waited for in one poll together with an input descriptor (the sinks'
 * stdin), so a program can read ahead while its requests are on the wire.
 * sink-http --inflight and sink-eventbridge --inflight use it.
 */
#ifndef VP_CURLMULTI_H
#define VP_CURLMULTI_H

#include <curl/curl.h>
#include <poll.h>
#include <stdint.h>

struct vp_multi {
	CURLM *m;
	struct pollfd *pfd;	/* the sockets curl asked to watch */
	size_t npfd, cappfd;
	int64_t timer_ms;	/* when curl wants its timeout action, -1 none */
};

/*
 * At most maxconn connections to a host, all kept open between bursts;
 * HTTP/2 streams are multiplexed on one connection.
 */
void vp_multi_init(struct vp_multi *M, long maxconn);
void vp_multi_free(struct vp_multi *M);
/* Start a prepared easy handle (exits 70 when libcurl refuses). */
void vp_multi_add(struct vp_multi *M, CURL *e);
/*
 * Wait for curl's sockets, curl's timer, fd's input (fd -1: none) or
 * wait_ms (-1: no limit of the caller's), then let curl act on what is
 * ready.  Once stopping, a plain poll (vp_poll would not wait at all after
 * a stop signal, and requests in flight still get their grace).  Returns 1
 * when fd is readable (or at its end), 0 when not, -1 on a poll error.
 */
int vp_multi_wait(struct vp_multi *M, int fd, int64_t wait_ms, int stopping);
/*
 * The next request that ended, taken off the multi handle, with its result
 * in *rc; NULL when none has.
 */
CURL *vp_multi_done(struct vp_multi *M, CURLcode *rc);

#endif
