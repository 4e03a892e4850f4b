/*
 * eb.h: what the parts of sink-eventbridge share.
 *
 * main.c reads the options and runs the loop; batch.c reads input into the
 * queue and settles its finished prefix in input order (dead letters, the
 * checkpoint); event.c turns a line into an entry; send.c sends batches as
 * PutEvents calls, up to --inflight at once on one multi handle, and decides
 * each entry (done, retried, failed); aws.c is the AWS side (signed JSON 1.1
 * calls, error classes, DescribeRule); creds.c finds the keys.
 * The whole run's state is one struct eb.
 */
#ifndef EB_H
#define EB_H

#include <curl/curl.h>
#include <jansson.h>

#include "creds.h"
#include "curlmulti.h"
#include "pattern.h"
#include "sinkcore.h"
#include "vp.h"

#define MAX_ENTRIES 10
#define ENTRY_TIME_BYTES 14	/* AWS counts a present Time as 14 bytes */
#define QUEUE_MAX 200	/* events read ahead, at --inflight 1 */

/*
 * PENDING: waiting for a batch (not before due_ms); SENDING: in a request
 * on the wire; FAILED: not delivered, settled (dead-lettered or the end of
 * the run) when it reaches the head of the queue; DONE: acknowledged,
 * settled or filtered out.
 */
enum { ST_PENDING, ST_SENDING, ST_FAILED, ST_DONE };

/* One input line on its way to EventBridge. */
struct ev {
	char *line;		/* the input line, for the dead-letter file */
	size_t len;
	unsigned long lineno;
	struct vp_evpos pos;	/* for the checkpoint */
	char *dtype, *detail;
	size_t detail_len;
	int64_t tsec;
	int has_time;
	int is_object;		/* a JSON object without "deadletter": the record
				 * appends its member (vp_dl_record) */
	size_t size;		/* entry size as AWS computes it */
	int state;
	unsigned attempts;
	int64_t first_try_ms;
	int64_t ready_ms;	/* PENDING since (the linger counts from it) */
	int64_t due_ms;		/* PENDING: not sent before this */
	/* FAILED: what happened, for vp_sink_undelivered() */
	enum vp_outcome out;
	char *why, *code;
	long status;
	struct vp_sink_ctl *ctl;	/* a jq stage's error line, or NULL */
};

struct eb_opts {
	const char *region, *bus, *endpoint, *credfile, *profile;
	const char *pattern_file, *rule, *rule_arn;
	int batch;
	int inflight;		/* PutEvents requests at once */
	size_t max_bytes;
	int64_t linger_ms, timeout_ms, refresh_ms;
	struct vp_tls tls;
};

/* stdin, read with the sinks' line reader (vp.h) */
struct eb_input {
	struct vp_linereader lr;
	int ready;		/* the last wait found stdin readable */
	int eof;		/* read to its end (or its torn last line) */
};

/* One PutEvents request and the entries it carries. */
struct batch {
	CURL *curl;
	struct ev *e[MAX_ENTRIES];
	size_t n;		/* 0: the slot is free */
	char *body;
	struct curl_slist *hdrs;
	struct resp *r;
};

struct eb {
	struct eb_opts o;
	struct vp_sink core;	/* the options and state both sinks share */
	/* AWS */
	struct eb_creds creds;
	CURL *curl;
	char sigv4[128];
	char url[1024];
	struct eb_pattern *pattern;
	char *rule_name, *rule_bus, *account;
	int64_t next_refresh_ms;
	/* input and the queue of events in input order */
	struct eb_input in;
	struct ev **q;
	size_t qlen, qmax;
	int single_until;	/* requests left to send one entry each */
	unsigned long filtered;
	unsigned long torn;	/* input ended inside this line, 0 if not */
	/* requests in flight */
	struct vp_multi multi;
	struct batch *slots;	/* o.inflight of them */
	size_t busy;
	int64_t stop_ms;	/* when the stop was seen, 0 before */
};

/* One AWS JSON 1.1 response. */
struct resp {
	long status;
	CURLcode cc;
	struct vp_buf body;
	int64_t retry_after_ms;
	char errtype[128];	/* __type without its namespace */
	char message[256];
	char curlerr[CURL_ERROR_SIZE];
	int cred_fail;		/* no credentials to sign with: an exit code */
	char cred_err[512];
};

/* How an AWS response is settled. */
enum { RES_OK, RES_RETRY, RES_AUTH, RES_CONFIG, RES_REJECT };

/* aws.c */
/* POST one JSON 1.1 request, signed with SigV4 by libcurl. */
void aws_call(struct eb *eb, const char *target, const char *body, size_t len,
    struct resp *r);
/*
 * The same request made ready on handle c (to run on a multi handle): 0, or
 * -1 when there are no credentials to sign with (r->cred_fail).  *hdrs is
 * the request's header list, freed by the caller when the request ends.
 */
int aws_prepare(struct eb *eb, CURL *c, const char *target, const char *body,
    size_t len, struct resp *r, struct curl_slist **hdrs);
/* After the request on c ended with cc: status, error type and message. */
void aws_finish(CURL *c, struct resp *r, CURLcode cc);
/* RES_*: what a response means; p: statuses retried besides AWS's. */
int aws_classify(const struct resp *r, const struct vp_retry *p);
void aws_describe(const struct resp *r, char *buf, size_t len);
/* The --pattern text, or a rule's: 0, or -1 logged. */
int eb_set_pattern(struct eb *eb, const char *text, size_t len,
    const char *where);
/* DescribeRule: fatal at start, the old pattern kept on a refresh. */
void eb_load_rule(struct eb *eb, int at_start);
/* arn:aws:events:REGION:ACCOUNT:rule/[BUS/]NAME */
void eb_parse_rule_arn(struct eb *eb, const char *arn);

/* event.c */
/* o's member k when it is a string, else NULL. */
const char *json_str_member(json_t *o, const char *k);
/* Turn an input line into an event: 0, or -1 with a reason in err. */
int ev_parse(struct ev *e, char *err, size_t errlen);
/* The event as EventBridge's rule engine sees it (caller frees). */
json_t *ev_match_document(const struct eb *eb, const struct ev *e);
void ev_free(struct ev *e);

/* batch.c */
/*
 * Take the lines ready on stdin (buffered, or the last wait found it
 * readable) into the queue while it has room; exits 74 on a read error.
 */
size_t eb_take_input(struct eb *eb);
/*
 * Settle the finished prefix of the queue in input order: dead-letter the
 * failed (or end the run there, exit code from vp_sink_undelivered with the
 * checkpoint before the event), and move the checkpoint over it.
 */
void eb_pop_done(struct eb *eb);
/* Write the checkpoint now (exits 74 when it cannot be written). */
void eb_checkpoint(struct eb *eb);
/* Checkpoint when the interval has passed or the input is idle. */
void eb_checkpoint_maybe(struct eb *eb);
/* All input read? */
int eb_input_done(const struct eb *eb);

/* send.c */
void eb_send_init(struct eb *eb);
void eb_send_free(struct eb *eb);
/*
 * Start the batches that are ready while a request slot is free: full,
 * lingered long enough, or nothing more to wait for (flush).  Returns the
 * wait in ms until the next batch could become ready (-1: none waits).
 */
int64_t eb_send_ready(struct eb *eb, int flush);
/* Wait for requests, stdin (when reading) or wait_ms; settle what ended. */
void eb_send_wait(struct eb *eb, int reading, int64_t wait_ms);
/* A stop's grace is over: the requests still on the wire are not done. */
void eb_send_abandon(struct eb *eb);
/*
 * e was not delivered (sinkcore.h's rule): it fails now and is settled in
 * input order by eb_pop_done.  status: the last HTTP status (-1: never sent).
 */
void eb_fail(struct ev *e, enum vp_outcome out, const char *code,
    const char *error, long status);
/* Settle a failed e (batch.c's eb_pop_done): 0 when done, else exit code. */
int eb_settle(struct eb *eb, struct ev *e);

#endif
