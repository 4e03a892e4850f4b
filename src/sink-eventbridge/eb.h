/*
 * eb.h: what the parts of sink-eventbridge share.
 *
 * main.c reads the options and runs the loop; batch.c reads input into the
 * queue and moves the checkpoint over its finished prefix; event.c turns a
 * line into an entry; send.c sends a batch as one PutEvents call and settles
 * each entry (done, retried, dead-lettered); aws.c is the AWS side (signed
 * JSON 1.1 calls, error classes, DescribeRule); creds.c finds the keys.
 * The whole run's state is one struct eb.
 */
#ifndef EB_H
#define EB_H

#include <curl/curl.h>
#include <jansson.h>

#include "creds.h"
#include "pattern.h"
#include "sinkcore.h"
#include "vp.h"

#define MAX_ENTRIES 10
#define ENTRY_TIME_BYTES 14	/* AWS counts a present Time as 14 bytes */
#define LINE_MAX_BYTES (4u << 20)
#define QUEUE_MAX 200

enum { ST_PENDING, ST_DONE };

/* One input line on its way to EventBridge. */
struct ev {
	char *line;		/* the input line, for the dead-letter file */
	size_t len;
	unsigned long lineno;
	char *source, *dtype, *detail, *id, *time;
	size_t detail_len;
	int64_t tsec;
	int has_time, has_key;
	int is_object;		/* a JSON object without "deadletter": the record
				 * appends its member (vp_dl_record) */
	long long key;
	size_t size;		/* entry size as AWS computes it */
	int state;
	unsigned attempts;
	int64_t first_try_ms;
};

struct eb_opts {
	const char *region, *bus, *endpoint, *credfile, *profile;
	const char *pattern_file, *rule, *rule_arn;
	int batch;
	size_t max_bytes;
	int64_t linger_ms, timeout_ms, refresh_ms;
	struct vp_tls tls;
};

/* Our own line reader on fd 0 so poll() sees exactly what stdio would hide. */
struct eb_input {
	char *buf;
	size_t len, cap, off;
	int eof, skipping;
	unsigned long lineno;
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
	size_t qlen;
	int single_until;	/* requests left to send one entry each */
	struct vp_backoff backoff;
	unsigned long filtered;
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
/* Read input until a batch is ready (full, lingered long enough, or EOF). */
void eb_gather(struct eb *eb);
/* Pending events in the queue and their bytes as AWS counts them. */
size_t eb_pending(const struct eb *eb, size_t *bytes);
/* Drop the finished prefix of the queue; it moves the checkpoint. */
void eb_pop_done(struct eb *eb);
/* Write the checkpoint now (exits 74 when it cannot be written). */
void eb_checkpoint(struct eb *eb);
/* Checkpoint when the interval has passed or the input is idle. */
void eb_checkpoint_maybe(struct eb *eb);
/* All input read? */
int eb_input_done(const struct eb *eb);

/* send.c */
/* Send the first pending events as one PutEvents call and settle them. */
void eb_send_batch(struct eb *eb);
/*
 * e was not delivered (sinkcore.h's rule): dead-lettered and done, or the
 * run ends here with the checkpoint before e.  status: the last HTTP status
 * (-1: never sent).
 */
void eb_settle(struct eb *eb, struct ev *e, enum vp_outcome out,
    const char *code, const char *error, long status);

#endif
