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

struct vp_amqp {
	/* options (vp_amqp_opts, vp_tls_opts) */
	const char *url;
	int64_t timeout_ms;	/* connect, handshake and RPC timeout */
	int64_t heartbeat_ms;
	struct vp_tls tls;
	/* configuration */
	char *host, *vhost;
	int port, ssl;
	char *user, *pass;
	int heartbeat_s;
	const char *conn_name;	/* connection_name client property */
	/* state */
	amqp_connection_state_t conn;	/* NULL when not connected */
	char err[512];		/* why the last call failed, for people */
};

/*
 * --url (required; amqp://host[:port][/vhost] or amqps://..., never with
 * user information: that would put a secret in argv), --timeout and
 * --heartbeat: one group of rows (opt.h) whose base is the struct vp_amqp.
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

/* The URL without credentials, for logs ("amqp://host:port/vhost"). */
const char *vp_amqp_where(const struct vp_amqp *a);

/*
 * Connect, log in, open channel VP_AMQP_CHANNEL. Returns 0, or an exit
 * code with the reason in a->err: VP_EXIT_TEMPFAIL (worth another try:
 * refused, reset, timeout, a node shutting down), VP_EXIT_NOPERM (login or
 * vhost access refused), VP_EXIT_CONFIG (certificate not trusted, no such
 * vhost).
 */
int vp_amqp_connect(struct vp_amqp *a);

/* Close politely when the connection still works, then free it. */
void vp_amqp_close(struct vp_amqp *a);

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
