/*
 * vpamqp.h: one AMQP 0-9-1 connection (librabbitmq) as sink-amqp and
 * amqp-source open it: the URL rule (amqp:// or amqps://, never with
 * credentials in it), credentials from a file or the environment, TLS
 * verified unless asked off, heartbeats, and what a broker's refusal means
 * in the exit-code table.
 */
#ifndef VP_AMQP_H
#define VP_AMQP_H

#include <amqp.h>

#include "opt.h"
#include "vp.h"

#define VP_AMQP_CHANNEL 1

struct vp_amqp_node {
	char *url;		/* as given */
	char *host;
	int port;
};

struct vp_amqp {
	/* options (vp_amqp_opts, vp_tls_opts) */
	struct vp_amqp_node *nodes;	/* every --url, in order */
	int nnodes;
	int64_t timeout_ms;	/* connect, handshake and RPC timeout */
	int64_t heartbeat_ms;
	struct vp_tls tls;
	/* configuration */
	char *vhost;
	int ssl;
	/* the node in use (or last tried); the next connect starts after
	 * the node of the last connection that worked */
	int cur, next;
	int corked;		/* TCP_CORK set (vp_amqp_cork) */
	char *user, *pass;
	int heartbeat_s;
	const char *conn_name;	/* connection_name client property */
	/* state */
	amqp_connection_state_t conn;	/* NULL when not connected */
	uint16_t channel;	/* the channel open on conn */
	char err[512];		/* why the last call failed, for people */
};

/*
 * --url (required; amqp://host[:port][/vhost] or amqps://..., never with
 * user information: that would put a secret in argv; repeated or a
 * comma-separated list for the nodes of a cluster, which share the scheme
 * and the vhost), --timeout and --heartbeat: one group of rows (opt.h)
 * whose base is the struct vp_amqp (src/lib/vpamqp.tab; a program takes
 * it and the TLS group with "use amqp-groups &s.amqp").
 */
extern const struct vp_opt vp_amqp_opts[];

/*
 * After the options: read the URL into host, port and vhost, check that
 * --ca-file and --insecure go with amqps:// (exit 64), and load the
 * credentials by the rule every program follows (vp_load_credentials):
 * from cred_path (a two-line file or a Secret directory), else from the
 * environment variables user_env and pass_env, else RabbitMQ's guest/guest
 * (which it accepts from loopback only). Exits on an error.
 */
void vp_amqp_setup(struct vp_amqp *a, const char *cred_path,
    const char *user_env, const char *pass_env);

/* The node's URL, for logs ("amqp://host:port/vhost"). */
const char *vp_amqp_where(const struct vp_amqp *a);

/*
 * Connect, log in, open channel VP_AMQP_CHANNEL. With several nodes, they
 * are tried in turn, starting after the node of the last connection (a
 * lost connection goes to another node first), until one takes it.
 * Returns 0, or an exit code with the reason in a->err: VP_EXIT_TEMPFAIL
 * (worth another try: refused, reset, timeout, a node shutting down, on
 * every node), VP_EXIT_NOPERM (login or vhost access refused),
 * VP_EXIT_CONFIG (certificate not trusted, no such vhost).
 */
int vp_amqp_connect(struct vp_amqp *a);

/* Close politely when the connection still works, then free it. */
void vp_amqp_close(struct vp_amqp *a);

/*
 * Close a->channel and open the next channel number in its place, on the
 * same connection: 0, or an exit code as for vp_amqp_connect. Frames of
 * the old channel that came in meanwhile are still read after it: tell
 * them by their channel number.
 */
int vp_amqp_new_channel(struct vp_amqp *a);

/*
 * What a reply or a library status means: fills a->err (prefixed with
 * what) and returns 0 for success, else an exit code as for
 * vp_amqp_connect. A channel or connection closed by the broker is
 * acknowledged (close-ok) here. 404 and 406 (no such exchange or queue, a
 * declaration that disagrees with the broker's) are VP_EXIT_CONFIG; 403 is
 * VP_EXIT_NOPERM; 320 (connection forced), 541 and the rest are temporary.
 */
int vp_amqp_reply(struct vp_amqp *a, amqp_rpc_reply_t r, const char *what);
int vp_amqp_status(struct vp_amqp *a, int status, const char *what);
/* The exit code for an AMQP reply code (connection or channel close). */
int vp_amqp_code_class(int reply_code);

/*
 * Handle a method frame that closes the channel or the connection
 * (answering close-ok): fills a->err and returns its exit code, or 0 when
 * the frame is something else.
 */
int vp_amqp_closing_frame(struct vp_amqp *a, const amqp_frame_t *f);

/*
 * The next method frame that is already there, without waiting (heartbeats
 * and other frames are skipped): 1 with it in *f, 0 when none is, or an exit
 * code as for vp_amqp_connect with the reason in a->err (the connection is
 * unusable).
 */
int vp_amqp_next_method(struct vp_amqp *a, amqp_frame_t *f);

/*
 * Hand every method frame that is already there to fn, without waiting
 * (a frame that closes the channel or the connection is answered here and
 * ends the call with its exit code): 0 when none is left, else what fn
 * returned (nonzero stops: an exit code, or -1) or the exit code of a
 * failed connection.
 */
int vp_amqp_methods(struct vp_amqp *a, int (*fn)(void *arg,
    const amqp_frame_t *f), void *arg);

/*
 * The connection failed with exit code rc: a temporary failure is logged
 * as a warning, the connection closed and 0 returned with *retry_ms the
 * time for the next vp_amqp_connect (at once after a connection that
 * worked, was_connected, else after the next backoff of bo); anything else
 * is logged as an error and returned (the run ends with it).
 */
int vp_amqp_lost(struct vp_amqp *a, int rc, int was_connected,
    struct vp_backoff *bo, int64_t *retry_ms);


/*
 * Publishing a burst: hold the frames back (TCP_CORK, on) so that many
 * messages go in full segments, not one small segment per frame (the
 * broker reads far fewer); off sends what is held (before waiting).
 */
void vp_amqp_cork(struct vp_amqp *a, int on);

/* Are frames waiting inside librabbitmq (poll(2) would not see them)? */
int vp_amqp_buffered(const struct vp_amqp *a);
/* The socket, for poll(2); -1 when not connected. */
int vp_amqp_fd(const struct vp_amqp *a);

/* librabbitmq's version line for --version (VP_LIBS(VP_LIB_RABBITMQ, ...)). */
const char *vp_amqp_version(void);
#define VP_LIB_RABBITMQ { NULL, vp_amqp_version }

/* amqp_bytes_t of a C string (NULL gives the empty string). */
amqp_bytes_t vp_amqp_str(const char *s);

void vp_amqp_free(struct vp_amqp *a);

#endif
