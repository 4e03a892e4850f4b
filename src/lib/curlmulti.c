/*
 * curlmulti.c: several requests in flight on one libcurl multi handle,
 * driven by curl's socket and timer callbacks and one poll (curlmulti.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "curlmulti.h"
#include "vp.h"

static void
pfd_room(struct vp_multi *M, size_t n)
{
	if (n <= M->cappfd)
		return;
	while (M->cappfd < n)
		M->cappfd = M->cappfd ? M->cappfd * 2 : 16;
	M->pfd = vp_xrealloc(M->pfd, M->cappfd * sizeof(*M->pfd));
}

static int
on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct vp_multi *M = userp;
	size_t i;

	(void)e;
	(void)socketp;
	for (i = 0; i < M->npfd; i++)
		if (M->pfd[i].fd == fd)
			break;
	if (what == CURL_POLL_REMOVE) {
		if (i < M->npfd)
			M->pfd[i] = M->pfd[--M->npfd];
		return 0;
	}
	if (i == M->npfd) {
		pfd_room(M, M->npfd + 2);	/* one spare for the input */
		M->pfd[M->npfd++].fd = fd;
	}
	M->pfd[i].events = (short)(((what & CURL_POLL_IN) ? POLLIN : 0) |
	    ((what & CURL_POLL_OUT) ? POLLOUT : 0));
	M->pfd[i].revents = 0;
	return 0;
}

static int
on_timer(CURLM *m, long timeout_ms, void *userp)
{
	struct vp_multi *M = userp;

	(void)m;
	M->timer_ms = timeout_ms < 0 ? -1 : vp_now_ms() + timeout_ms;
	return 0;
}

void
vp_multi_init(struct vp_multi *M, long maxconn)
{
	memset(M, 0, sizeof(*M));
	M->timer_ms = -1;
	if ((M->m = curl_multi_init()) == NULL)
		vp_die(VP_EXIT_SOFTWARE, "curl_multi_init failed");
	curl_multi_setopt(M->m, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(M->m, CURLMOPT_SOCKETDATA, M);
	curl_multi_setopt(M->m, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(M->m, CURLMOPT_TIMERDATA, M);
	curl_multi_setopt(M->m, CURLMOPT_MAX_HOST_CONNECTIONS, maxconn);
	/* keep them all open between bursts */
	curl_multi_setopt(M->m, CURLMOPT_MAXCONNECTS, maxconn);
	curl_multi_setopt(M->m, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
}

void
vp_multi_free(struct vp_multi *M)
{
	if (M->m)
		curl_multi_cleanup(M->m);
	free(M->pfd);
	memset(M, 0, sizeof(*M));
}

void
vp_multi_add(struct vp_multi *M, CURL *e)
{
	/* HTTP/2: wait for the connection to multiplex on rather than open
	 * one per request */
	curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	if (curl_multi_add_handle(M->m, e) != CURLM_OK)
		vp_die(VP_EXIT_SOFTWARE, "curl_multi_add_handle failed");
}

int
vp_multi_wait(struct vp_multi *M, int fd, int64_t wait, int stopping)
{
	int64_t now = vp_now_ms();
	size_t nfd = M->npfd;
	int r, running, in = 0;

	if (M->timer_ms >= 0 && (wait < 0 || M->timer_ms - now < wait))
		wait = M->timer_ms > now ? M->timer_ms - now : 0;
	if (fd >= 0) {
		pfd_room(M, nfd + 1);
		M->pfd[nfd].fd = fd;
		M->pfd[nfd].events = POLLIN;
		nfd++;
	}
	for (size_t i = 0; i < nfd; i++)
		M->pfd[i].revents = 0;
	if (wait > 0x7fffffff)
		wait = 0x7fffffff;
	if (nfd == 0 && wait == 0)
		r = 0;	/* nothing to watch and no time to wait: no call */
	else if (stopping)
		r = poll(M->pfd, nfd, (int)wait);
	else
		r = vp_poll(M->pfd, (unsigned)nfd, (int)wait);
	if (r < 0 && errno != EINTR)
		return -1;
	if (r > 0) {
		/* curl's callbacks may change the array: copy first */
		struct pollfd ready[64];
		size_t nr = 0;

		if (fd >= 0 && M->pfd[nfd - 1].revents)
			in = 1;
		for (size_t i = 0; i < M->npfd && nr < 64; i++)
			if (M->pfd[i].revents)
				ready[nr++] = M->pfd[i];
		for (size_t i = 0; i < nr; i++) {
			int ev = 0;

			if (ready[i].revents & (POLLIN | POLLHUP))
				ev |= CURL_CSELECT_IN;
			if (ready[i].revents & POLLOUT)
				ev |= CURL_CSELECT_OUT;
			if (ready[i].revents & (POLLERR | POLLNVAL))
				ev |= CURL_CSELECT_ERR;
			curl_multi_socket_action(M->m, ready[i].fd, ev,
			    &running);
		}
	}
	if (M->timer_ms >= 0 && vp_now_ms() >= M->timer_ms) {
		M->timer_ms = -1;
		curl_multi_socket_action(M->m, CURL_SOCKET_TIMEOUT, 0,
		    &running);
	}
	return in;
}

CURL *
vp_multi_done(struct vp_multi *M, CURLcode *rc)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(M->m, &left)) != NULL) {
		CURL *e = msg->easy_handle;

		if (msg->msg != CURLMSG_DONE)
			continue;
		*rc = msg->data.result;
		curl_multi_remove_handle(M->m, e);
		return e;
	}
	return NULL;
}
