/*
 * sink-eventbridge: deliver CloudEvent lines to Amazon EventBridge.
 *
 * Events are batched into PutEvents calls (at most 10 entries and the
 * request size limit as AWS counts it), signed by libcurl's SigV4, and
 * acknowledged entry by entry: failed entries that AWS calls retryable are
 * sent again after a backoff, the rest go to the dead-letter file.  The
 * checkpoint only ever names the last event of a prefix of the input that
 * is entirely acknowledged, dead-lettered or filtered out, so a restart
 * never skips an event that a retried middle entry still holds.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "creds.h"
#include "pattern.h"
#include "vp.h"

#define MAX_ENTRIES 10
#define ENTRY_TIME_BYTES 14	/* AWS counts a present Time as 14 bytes */
#define LINE_MAX_BYTES (4u << 20)
#define QUEUE_MAX 200

static const char usage_text[] =
"usage: sink-eventbridge --region REGION [--event-bus BUS] [--endpoint-url URL]\n"
"           [--credentials-file FILE] [--profile NAME] [--dlq FILE]\n"
"           [--checkpoint FILE] [--checkpoint-interval DURATION]\n"
"           [--batch-size N] [--max-batch-bytes N]\n"
"           [--linger DURATION] [--max-retries N] [--max-retry-time DURATION]\n"
"           [--retry-base DURATION] [--retry-cap DURATION] [--timeout DURATION]\n"
"           [--pattern FILE | --rule NAME | --rule-arn ARN]\n"
"           [--rule-refresh DURATION] [--strict] [--insecure] [--ca-file FILE]\n"
"           [--log-level LEVEL] [--log-json]\n"
"       sink-eventbridge --help | --version\n";

enum { ST_PENDING, ST_DONE };

struct ev {
	char *line;		/* the input line, for the dead-letter file */
	size_t len;
	unsigned long lineno;
	char *source, *dtype, *detail, *id, *time;
	size_t detail_len;
	int64_t tsec;
	int has_time, has_key;
	long long key;
	size_t size;		/* entry size as AWS computes it */
	int state;
	unsigned attempts;
	int64_t first_try_ms;
};

static struct {
	const char *region, *bus, *endpoint, *credfile, *profile, *dlq;
	const char *checkpoint, *pattern_file, *rule, *rule_arn;
	int batch, strict;
	size_t max_bytes;
	int64_t linger_ms, max_retry_ms, retry_base_ms, retry_cap_ms;
	int64_t timeout_ms, refresh_ms, ckpt_interval_ms;
	long max_retries;	/* -1: no limit */
	struct vp_tls tls;
} opt;

static struct eb_creds creds;
static CURL *curl;
static char sigv4[128];
static char url[1024];
static struct eb_pattern *pattern;
static char *rule_name, *rule_bus, *account;
static int64_t next_refresh_ms;

static struct ev **q;		/* queue of events in input order */
static size_t qlen;
static unsigned long delivered, dead, filtered;
static int need_checkpoint;
static int64_t ck_written_ms;
static struct ev last_done;	/* checkpoint position (strings owned) */
static struct vp_backoff backoff;

/* ---- input --------------------------------------------------------------- */

/* Our own line reader on fd 0 so poll() sees exactly what stdio would hide. */
static struct {
	char *buf;
	size_t len, cap, off;
	int eof, skipping;
	unsigned long lineno;
} in;

enum { RL_LINE, RL_NONE, RL_EOF, RL_TOOLONG };

static int
read_line(char **line, size_t *len)
{
	for (;;) {
		char *start = in.buf + in.off;
		char *nl = in.off < in.len ? memchr(start, '\n', in.len - in.off) : NULL;

		if (nl) {
			size_t n = (size_t)(nl - start);
			int skipped = in.skipping;

			in.off += n + 1;
			in.lineno++;
			in.skipping = 0;
			if (skipped)
				return RL_TOOLONG;
			if (n > 0 && start[n - 1] == '\r')
				n--;
			start[n] = '\0';
			*line = start;
			*len = n;
			return RL_LINE;
		}
		if (in.len - in.off > LINE_MAX_BYTES) {
			in.skipping = 1;
			in.off = in.len;
		}
		if (in.eof) {
			if (in.off < in.len && !in.skipping) {
				/* a last line without a newline still counts */
				if (in.len == in.cap)
					in.buf = vp_xrealloc(in.buf, ++in.cap);
				in.buf[in.len] = '\n';
				in.len++;
				continue;
			}
			if (in.skipping) {
				in.skipping = 0;
				in.lineno++;
				return RL_TOOLONG;
			}
			return RL_EOF;
		}
		return RL_NONE;
	}
}

/* Read what is available on stdin (after poll said so). -1 on error. */
static int
fill_input(void)
{
	ssize_t n;

	if (in.off > 0) {
		memmove(in.buf, in.buf + in.off, in.len - in.off);
		in.len -= in.off;
		in.off = 0;
	}
	if (in.cap - in.len < 65536) {
		in.cap = in.cap ? in.cap * 2 : 131072;
		in.buf = vp_xrealloc(in.buf, in.cap);
	}
	n = read(0, in.buf + in.len, in.cap - in.len - 1);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -1;
	if (n == 0)
		in.eof = 1;
	in.len += (size_t)n;
	return 0;
}

/* ---- events ---------------------------------------------------------------- */

static void
ev_free(struct ev *e)
{
	if (e == NULL)
		return;
	free(e->line);
	free(e->source);
	free(e->dtype);
	free(e->detail);
	free(e->id);
	free(e->time);
	free(e);
}

static char *
xstrdup_or_null(const char *s)
{
	return s ? vp_xstrdup(s) : NULL;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Undo the CloudEvents HTTP binding's percent-encoding of header values. */
static char *
pct_decode(const char *s)
{
	char *out = vp_xmalloc(strlen(s) + 1), *o = out;

	while (*s) {
		if (s[0] == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
			*o++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
			s += 3;
		} else
			*o++ = *s++;
	}
	*o = '\0';
	return out;
}

static int
is_json_type(const char *ct)
{
	size_t n;
	const char *semi;

	if (ct == NULL)
		return 1;	/* CloudEvents: JSON unless said otherwise */
	semi = strchr(ct, ';');
	n = semi ? (size_t)(semi - ct) : strlen(ct);
	while (n > 0 && ct[n - 1] == ' ')
		n--;
	return (n == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
	    (n == 9 && strncasecmp(ct, "text/json", 9) == 0) ||
	    (n > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0);
}

static int
parse_intstr(const char *s, long long *v)
{
	char *end;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	*v = strtoll(s, &end, 10);
	return errno || *end != '\0' ? -1 : 0;
}

/* Structured CloudEvent JSON from a binary-mode line (format 3). */
static json_t *
rebuild_structured(json_t *headers, json_t *body, char *err, size_t errlen)
{
	json_t *ce = json_object(), *v;
	const char *k, *ct = NULL;
	long long key;

	json_object_foreach(headers, k, v) {
		char *val;

		if (!json_is_string(v)) {
			snprintf(err, errlen, "header %s is not a string", k);
			json_decref(ce);
			return NULL;
		}
		if (strcasecmp(k, "content-type") == 0) {
			ct = json_string_value(v);
			json_object_set_new(ce, "datacontenttype", json_string(ct));
			continue;
		}
		if (strncasecmp(k, "ce-", 3) != 0 || k[3] == '\0')
			continue;
		val = pct_decode(json_string_value(v));
		/* ce-encode's eventkey is an Integer attribute */
		if (strcasecmp(k + 3, "eventkey") == 0 && parse_intstr(val, &key) == 0)
			json_object_set_new(ce, k + 3, json_integer(key));
		else
			json_object_set_new(ce, k + 3, json_string(val));
		free(val);
	}
	if (json_string_length(body) > 0) {
		json_t *data = NULL;

		if (is_json_type(ct))
			data = json_loadb(json_string_value(body),
			    json_string_length(body), JSON_DECODE_ANY, NULL);
		json_object_set_new(ce, "data", data ? data : json_copy(body));
	}
	return ce;
}

static const char *
str_member(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/*
 * Drop the "deadletter" member from a dead-letter record: cut the text where
 * it was appended when the cut gives the same object (so the CloudEvent is
 * sent byte for byte), else re-encode without it.
 */
static void
strip_deadletter(struct ev *e, json_t *root)
{
	static const char mark[] = ",\"deadletter\":{";
	const char *p = NULL, *cur = e->line;
	json_t *cut = NULL;
	char *s;

	json_object_del(root, "deadletter");
	while ((cur = strstr(cur, mark)) != NULL)
		p = cur++;
	if (p) {
		size_t n = (size_t)(p - e->line);

		s = vp_xmalloc(n + 2);
		memcpy(s, e->line, n);
		s[n] = '}';
		s[n + 1] = '\0';
		cut = json_loadb(s, n + 1, 0, NULL);
		if (cut && json_equal(cut, root)) {
			json_decref(cut);
			free(e->line);
			e->line = s;
			e->len = n + 1;
			return;
		}
		json_decref(cut);
		free(s);
	}
	s = json_dumps(root, JSON_COMPACT);
	free(e->line);
	e->line = s;
	e->len = strlen(s);
}

/*
 * Turn an input line into an event.  Returns the CloudEvent JSON (for
 * pattern matching; caller frees) or NULL with a reason in err.
 */
static json_t *
parse_event(struct ev *e, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root, *ce, *hdr, *body, *k;
	const char *subject, *type;

	root = json_loadb(e->line, e->len, 0, &je);
	if (root == NULL) {
		snprintf(err, errlen, "not JSON: %s", je.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "not a JSON object");
		json_decref(root);
		return NULL;
	}
	/* a dead-letter record (sink-http's format) replays as its event */
	if (json_is_object(json_object_get(root, "deadletter"))) {
		if (json_object_get(root, "invalid")) {
			snprintf(err, errlen, "a dead letter of an invalid line");
			json_decref(root);
			return NULL;
		}
		strip_deadletter(e, root);
	}
	hdr = json_object_get(root, "headers");
	body = json_object_get(root, "body");
	if (json_is_object(hdr) && json_is_string(body)) {
		ce = rebuild_structured(hdr, body, err, errlen);
		json_decref(root);
		if (ce == NULL)
			return NULL;
		e->detail = json_dumps(ce, JSON_COMPACT);
	} else {
		ce = root;
		e->detail = vp_xmalloc(e->len + 1);
		memcpy(e->detail, e->line, e->len + 1);
	}
	e->detail_len = strlen(e->detail);
	e->id = xstrdup_or_null(str_member(ce, "id"));
	e->source = xstrdup_or_null(str_member(ce, "source"));
	type = str_member(ce, "type");
	subject = str_member(ce, "subject");
	if (e->id == NULL || e->source == NULL || type == NULL ||
	    *e->source == '\0' || *type == '\0') {
		snprintf(err, errlen, "not a CloudEvent: id, source and type "
		    "are required");
		json_decref(ce);
		return NULL;
	}
	e->dtype = vp_xstrdup(subject && *subject ? subject : type);
	e->time = xstrdup_or_null(str_member(ce, "time"));
	if (e->time) {
		int32_t ns;

		if (vp_parse_rfc3339(e->time, &e->tsec, &ns) != 0) {
			snprintf(err, errlen, "bad time \"%s\"", e->time);
			json_decref(ce);
			return NULL;
		}
		e->has_time = 1;
	}
	k = json_object_get(ce, "eventkey");
	if (json_is_integer(k)) {
		e->key = json_integer_value(k);
		e->has_key = 1;
	} else if (json_is_string(k) &&
	    parse_intstr(json_string_value(k), &e->key) == 0)
		e->has_key = 1;
	e->size = (e->has_time ? ENTRY_TIME_BYTES : 0) + strlen(e->source) +
	    strlen(e->dtype) + e->detail_len;
	return ce;
}

/* The event as EventBridge's rule engine sees it. */
static json_t *
match_document(const struct ev *e, json_t *ce)
{
	json_t *d = json_object();
	char tbuf[64];

	json_object_set_new(d, "version", json_string("0"));
	json_object_set_new(d, "detail-type", json_string(e->dtype));
	json_object_set_new(d, "source", json_string(e->source));
	if (account)
		json_object_set_new(d, "account", json_string(account));
	if (e->has_time) {
		vp_format_rfc3339(e->tsec, 0, tbuf, sizeof(tbuf));
		json_object_set_new(d, "time", json_string(tbuf));
	}
	json_object_set_new(d, "region", json_string(opt.region));
	json_object_set_new(d, "resources", json_array());
	json_object_set(d, "detail", ce);
	return d;
}

/* ---- dead letters and checkpoint ---------------------------------------- */

/*
 * The record is sink-http's: the input line with a "deadletter" member
 * appended ({"invalid": LINE, "deadletter": ...} when the line is not a JSON
 * object), so either sink replays the other's dead letters.
 */
static void
dead_letter(struct ev *e, const char *reason, const char *code,
    const char *error)
{
	json_t *meta, *chk;
	char now[64], *m;
	struct vp_buf b = { 0 };
	struct timespec ts;
	size_t n = e->len;

	if (opt.dlq == NULL) {
		vp_error("line %lu: event %s %s: %s%s%s", e->lineno,
		    e->id ? e->id : "?", reason, code ? code : "",
		    code ? ": " : "", error);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	vp_format_rfc3339(ts.tv_sec, 0, now, sizeof(now));
	meta = json_pack("{s:s, s:s, s:i, s:s, s:i, s:s}", "reason", reason,
	    "error", error, "attempts", (json_int_t)e->attempts, "url", url,
	    "line", (json_int_t)e->lineno, "time", now);
	if (code)
		json_object_set_new(meta, "code", json_string(code));
	m = json_dumps(meta, JSON_COMPACT);
	json_decref(meta);
	chk = json_loadb(e->line, e->len, 0, NULL);
	while (n > 0 && (e->line[n - 1] == ' ' || e->line[n - 1] == '\t'))
		n--;
	if (json_is_object(chk) && n > 0 && e->line[n - 1] == '}') {
		vp_buf_append(&b, e->line, n - 1);
		if (json_object_size(chk) > 0)
			vp_buf_append(&b, ",", 1);
		vp_buf_printf(&b, "\"deadletter\":%s}", m);
	} else {
		json_t *o = json_pack("{s:s%}", "invalid", e->line, e->len);
		char *enc;

		if (o == NULL)	/* not UTF-8: the line cannot be kept */
			o = json_pack("{s:s}", "invalid",
			    "(line is not valid UTF-8)");
		json_object_set_new(o, "deadletter", json_loads(m, 0, NULL));
		enc = json_dumps(o, JSON_COMPACT);
		vp_buf_append(&b, enc, strlen(enc));
		free(enc);
		json_decref(o);
	}
	json_decref(chk);
	free(m);
	if (vp_append_line_sync(opt.dlq, b.data, b.len) != 0)
		vp_die(VP_EXIT_IOERR, "%s: %s", opt.dlq, strerror(errno));
	vp_warn("line %lu: event %s %s: %s%s%s; dead-lettered to %s", e->lineno,
	    e->id ? e->id : "?", reason, code ? code : "", code ? ": " : "",
	    error, opt.dlq);
	dead++;
	vp_buf_free(&b);
}

static void
write_checkpoint(void)
{
	json_t *o;
	char now[64], *s;
	struct timespec ts;

	need_checkpoint = 0;
	ck_written_ms = vp_now_ms();
	if (opt.checkpoint == NULL || last_done.id == NULL)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	vp_format_rfc3339(ts.tv_sec, (int32_t)ts.tv_nsec, now, sizeof(now));
	o = json_pack("{s:i, s:s, s:s}", "version", 1, "source",
	    last_done.source, "id", last_done.id);
	if (last_done.time)
		json_object_set_new(o, "time", json_string(last_done.time));
	if (last_done.has_key)
		json_object_set_new(o, "key", json_integer(last_done.key));
	json_object_set_new(o, "delivered", json_integer((json_int_t)delivered));
	json_object_set_new(o, "updated", json_string(now));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	{
		size_t n = strlen(s);

		s = vp_xrealloc(s, n + 2);
		s[n] = '\n';
		s[n + 1] = '\0';
		if (vp_write_file_atomic(opt.checkpoint, s, n + 1) != 0)
			vp_die(VP_EXIT_IOERR, "%s: %s", opt.checkpoint,
			    strerror(errno));
	}
	free(s);
}

/* More input ready right now (buffered or in the pipe)? */
static int
input_pending(void)
{
	struct pollfd pfd = { 0, POLLIN, 0 };

	if (in.off < in.len && memchr(in.buf + in.off, '\n', in.len - in.off))
		return 1;
	return !in.eof && poll(&pfd, 1, 0) > 0;
}

/*
 * Write the checkpoint when the interval has passed or the input is idle:
 * a quiet stream is checkpointed after every batch, a busy one without an
 * fsync per request (sink-http's rule).
 */
static void
checkpoint_maybe(void)
{
	if (!need_checkpoint)
		return;
	if (vp_now_ms() - ck_written_ms >= opt.ckpt_interval_ms ||
	    !input_pending())
		write_checkpoint();
}

/* Drop the finished prefix of the queue; it moves the checkpoint. */
static void
pop_done(void)
{
	size_t n = 0;

	while (n < qlen && q[n]->state == ST_DONE)
		n++;
	if (n == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct ev *e = q[i];

		if (e->id) {
			free(last_done.id);
			free(last_done.source);
			free(last_done.time);
			last_done.id = e->id;
			last_done.source = e->source;
			last_done.time = e->time;
			last_done.has_key = e->has_key;
			last_done.key = e->key;
			e->id = e->source = e->time = NULL;
			need_checkpoint = 1;
		}
		ev_free(e);
	}
	memmove(q, q + n, (qlen - n) * sizeof(*q));
	qlen -= n;
}

/* ---- HTTP ---------------------------------------------------------------- */

struct resp {
	long status;
	CURLcode cc;
	struct vp_buf body;
	int64_t retry_after_ms;
	char errtype[128];	/* __type without its namespace */
	char message[256];
	char curlerr[CURL_ERROR_SIZE];
};

static size_t
header_cb(char *p, size_t size, size_t n, void *ud)
{
	struct resp *r = ud;
	size_t len = size * n;

	if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
		char v[128];
		size_t m = len - 12 < sizeof(v) - 1 ? len - 12 : sizeof(v) - 1;

		memcpy(v, p + 12, m);
		v[m] = '\0';
		r->retry_after_ms = vp_parse_retry_after(v);
	}
	return len;
}

static void
refresh_credentials(void)
{
	char err[512];

	if (eb_creds_refresh(&creds, err, sizeof(err)) < 0)
		vp_warn("credentials: %s (keeping the previous ones)", err);
}

/* POST one JSON 1.1 request, signed with SigV4 by libcurl. */
static void
aws_call(const char *target, const char *body, size_t len, struct resp *r)
{
	struct curl_slist *h = NULL;
	char hb[8192];

	memset(r, 0, sizeof(*r));
	r->retry_after_ms = -1;
	r->body.max = 16 << 20;
	refresh_credentials();
	h = curl_slist_append(h, "Content-Type: application/x-amz-json-1.1");
	/*
	 * No "Expect:" to suppress 100-continue: libcurl 7.88 would list the
	 * removed header in SignedHeaders and AWS would refuse the signature.
	 */
	snprintf(hb, sizeof(hb), "X-Amz-Target: %s", target);
	h = curl_slist_append(h, hb);
	if (creds.token) {
		/* libcurl signs every header we add, the token included */
		snprintf(hb, sizeof(hb), "X-Amz-Security-Token: %s", creds.token);
		h = curl_slist_append(h, hb);
	}
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4);
	curl_easy_setopt(curl, CURLOPT_USERNAME, creds.akid);
	curl_easy_setopt(curl, CURLOPT_PASSWORD, creds.secret);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, vp_curl_write_buf);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, r->curlerr);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)opt.timeout_ms);
	r->cc = curl_easy_perform(curl);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(h);
	explicit_bzero(hb, sizeof(hb));
	if (r->cc != CURLE_OK) {
		if (r->curlerr[0] == '\0')
			snprintf(r->curlerr, sizeof(r->curlerr), "%s",
			    curl_easy_strerror(r->cc));
		return;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
	if (r->status != 200) {
		json_t *j = r->body.data ? json_loadb(r->body.data, r->body.len,
		    0, NULL) : NULL;
		const char *t = j ? str_member(j, "__type") : NULL;
		const char *m = NULL;

		if (j)
			m = str_member(j, "message") ? str_member(j, "message") :
			    str_member(j, "Message");
		if (t) {
			const char *hash = strrchr(t, '#');
			snprintf(r->errtype, sizeof(r->errtype), "%s",
			    hash ? hash + 1 : t);
		}
		snprintf(r->message, sizeof(r->message), "%s", m ? m : "");
		json_decref(j);
	}
}

static int
type_in(const char *t, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(t, *list) == 0)
			return 1;
	return 0;
}

static const char *const throttle_types[] = {
	"ThrottlingException", "Throttling", "ThrottledException",
	"RequestThrottledException", "TooManyRequestsException",
	"RequestLimitExceeded", "LimitExceededException", "InternalFailure",
	"InternalException", "ServiceUnavailable", "RequestTimeout",
	"RequestTimeoutException", "InternalServerError", NULL
};
static const char *const auth_types[] = {
	"AccessDeniedException", "UnrecognizedClientException",
	"InvalidSignatureException", "IncompleteSignature",
	"MissingAuthenticationToken", "ExpiredTokenException",
	"InvalidClientTokenId", "SignatureDoesNotMatch", "NotAuthorized",
	"AuthFailure", "RequestExpired", NULL
};

enum { RES_OK, RES_RETRY, RES_AUTH, RES_CONFIG, RES_REJECT };

static int
classify(const struct resp *r)
{
	if (r->cc != CURLE_OK)
		return RES_RETRY;
	if (r->status == 200)
		return RES_OK;
	if (r->errtype[0] && type_in(r->errtype, throttle_types))
		return RES_RETRY;
	if ((r->errtype[0] && type_in(r->errtype, auth_types)) ||
	    r->status == 401 || r->status == 403)
		return RES_AUTH;
	if (vp_http_status_retryable(r->status))
		return RES_RETRY;
	if (strcmp(r->errtype, "ResourceNotFoundException") == 0)
		return RES_CONFIG;
	return RES_REJECT;
}

static void
describe(const struct resp *r, char *buf, size_t len)
{
	if (r->cc != CURLE_OK)
		snprintf(buf, len, "%s", r->curlerr);
	else
		snprintf(buf, len, "HTTP %ld%s%s%s%s", r->status,
		    r->errtype[0] ? " " : "", r->errtype,
		    r->message[0] ? ": " : "", r->message);
}

/* ---- rules --------------------------------------------------------------- */

static int
set_pattern(const char *text, size_t len, const char *where)
{
	char err[512];
	struct eb_pattern *p = eb_pattern_compile(text, len, err, sizeof(err));

	if (p == NULL) {
		vp_error("%s: pattern cannot be evaluated: %s", where, err);
		return -1;
	}
	eb_pattern_free(pattern);
	pattern = p;
	return 0;
}

/*
 * DescribeRule.  At start every failure is fatal (the right exit code for
 * it); on a refresh the previous pattern stays in force.
 */
static void
load_rule(int at_start)
{
	json_t *req = json_object(), *j;
	struct resp r;
	char *body, why[512];
	const char *pat;
	int c;

	json_object_set_new(req, "Name", json_string(rule_name));
	if (rule_bus)
		json_object_set_new(req, "EventBusName", json_string(rule_bus));
	body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	aws_call("AWSEvents.DescribeRule", body, strlen(body), &r);
	free(body);
	next_refresh_ms = vp_now_ms() + opt.refresh_ms;
	c = classify(&r);
	describe(&r, why, sizeof(why));
	if (c != RES_OK) {
		vp_buf_free(&r.body);
		if (!at_start) {
			vp_warn("DescribeRule %s: %s; keeping the current pattern",
			    rule_name, why);
			return;
		}
		vp_die(c == RES_RETRY ? VP_EXIT_TEMPFAIL : c == RES_AUTH ?
		    VP_EXIT_NOPERM : VP_EXIT_CONFIG, "DescribeRule %s: %s",
		    rule_name, why);
	}
	j = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, NULL);
	vp_buf_free(&r.body);
	pat = j ? str_member(j, "EventPattern") : NULL;
	if (pat == NULL) {
		json_decref(j);
		if (at_start)
			vp_die(VP_EXIT_CONFIG, "DescribeRule %s: the rule has "
			    "no EventPattern", rule_name);
		vp_warn("DescribeRule %s: no EventPattern; keeping the "
		    "current pattern", rule_name);
		return;
	}
	if (set_pattern(pat, strlen(pat), rule_name) != 0) {
		json_decref(j);
		if (at_start)
			exit(VP_EXIT_CONFIG);
		vp_warn("rule %s: keeping the previous pattern", rule_name);
		return;
	}
	if (str_member(j, "State") && strcmp(str_member(j, "State"),
	    "ENABLED") != 0)
		vp_warn("rule %s is %s; filtering with its pattern anyway",
		    rule_name, str_member(j, "State"));
	vp_debug("rule %s: pattern %s", rule_name, pat);
	json_decref(j);
}

/* arn:aws:events:REGION:ACCOUNT:rule/[BUS/]NAME */
static void
parse_rule_arn(const char *arn)
{
	char *copy = vp_xstrdup(arn), *f[6], *p = copy, *res, *slash;
	int i;

	for (i = 0; i < 5; i++) {
		f[i] = p;
		if ((p = strchr(p, ':')) == NULL)
			vp_usage_error("--rule-arn: not an EventBridge rule ARN");
		*p++ = '\0';
	}
	f[5] = p;
	if (strcmp(f[0], "arn") != 0 || strcmp(f[2], "events") != 0 ||
	    strncmp(f[5], "rule/", 5) != 0 || f[5][5] == '\0')
		vp_usage_error("--rule-arn: not an EventBridge rule ARN");
	if (opt.region == NULL && *f[3])
		opt.region = vp_xstrdup(f[3]);
	if (*f[4])
		account = vp_xstrdup(f[4]);
	res = f[5] + 5;
	if ((slash = strrchr(res, '/')) != NULL) {
		*slash = '\0';
		rule_bus = vp_xstrdup(res);
		rule_name = vp_xstrdup(slash + 1);
	} else
		rule_name = vp_xstrdup(res);
	free(copy);
}

/* ---- delivery ------------------------------------------------------------- */

static int
retries_exhausted(const struct ev *e)
{
	if (opt.max_retries >= 0 && e->attempts > (unsigned long)opt.max_retries)
		return 1;
	return opt.max_retry_ms > 0 &&
	    vp_now_ms() - e->first_try_ms >= opt.max_retry_ms;
}

/* A retryable failure of e; 0 when it should be sent again. */
static int
retry_or_give_up(struct ev *e, const char *code, const char *why)
{
	if (!retries_exhausted(e) && !vp_stop_requested)
		return 0;
	if (opt.dlq == NULL) {
		write_checkpoint();
		vp_die(VP_EXIT_TEMPFAIL, "line %lu: event %s not delivered: "
		    "%s%s%s", e->lineno, e->id, code ? code : "",
		    code ? ": " : "", why);
	}
	dead_letter(e, vp_stop_requested ? "stopped while retrying" :
	    "retries exhausted", code, why);
	e->state = ST_DONE;
	return 1;
}

static void
reject(struct ev *e, const char *code, const char *why)
{
	if (opt.dlq == NULL) {
		dead_letter(e, "rejected", code, why);
		pop_done();
		write_checkpoint();
		exit(VP_EXIT_DATAERR);
	}
	dead_letter(e, "rejected", code, why);
	e->state = ST_DONE;
}

static char *
batch_body(struct ev **b, size_t n)
{
	json_t *req = json_object(), *arr = json_array();
	char *s;

	for (size_t i = 0; i < n; i++) {
		json_t *en = json_object();

		if (b[i]->has_time)
			json_object_set_new(en, "Time",
			    json_integer((json_int_t)b[i]->tsec));
		json_object_set_new(en, "Source", json_string(b[i]->source));
		json_object_set_new(en, "DetailType", json_string(b[i]->dtype));
		json_object_set_new(en, "Detail",
		    json_stringn(b[i]->detail, b[i]->detail_len));
		json_object_set_new(en, "EventBusName", json_string(opt.bus));
		json_array_append_new(arr, en);
	}
	json_object_set_new(req, "Entries", arr);
	s = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	return s;
}

/*
 * Send the first pending events as one PutEvents call.  single: one entry
 * only (used to find the entry that made a whole request invalid).
 */
static int single_until;

static void
send_batch(void)
{
	struct ev *b[MAX_ENTRIES];
	size_t n = 0, bytes = 0, limit = (size_t)opt.batch;
	struct resp r;
	char *body, why[600];
	int c, any_retry = 0;
	json_t *j = NULL, *entries = NULL;

	if (single_until > 0)
		limit = 1;
	for (size_t i = 0; i < qlen && n < limit; i++) {
		if (q[i]->state != ST_PENDING)
			continue;
		if (n > 0 && bytes + q[i]->size > opt.max_bytes)
			break;
		bytes += q[i]->size;
		b[n++] = q[i];
	}
	if (n == 0)
		return;
	if (single_until > 0)
		single_until--;
	for (size_t i = 0; i < n; i++) {
		if (b[i]->attempts++ == 0)
			b[i]->first_try_ms = vp_now_ms();
	}
	body = batch_body(b, n);
	aws_call("AWSEvents.PutEvents", body, strlen(body), &r);
	free(body);
	c = classify(&r);
	describe(&r, why, sizeof(why));
	if (c == RES_AUTH) {
		write_checkpoint();
		vp_die(VP_EXIT_NOPERM, "PutEvents: %s (credentials from %s)",
		    why, creds.where);
	}
	if (c == RES_CONFIG) {
		write_checkpoint();
		vp_die(VP_EXIT_CONFIG, "PutEvents: %s", why);
	}
	if (c == RES_REJECT) {
		vp_buf_free(&r.body);
		if (n > 1) {
			/* one bad entry spoils the request: find it alone */
			vp_warn("PutEvents: %s; sending the %zu entries one "
			    "by one", why, n);
			for (size_t i = 0; i < n; i++)
				b[i]->attempts--;
			single_until = (int)n;
			return;
		}
		reject(b[0], r.errtype[0] ? r.errtype : NULL, why);
		return;
	}
	if (c == RES_OK) {
		j = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, NULL);
		entries = j ? json_object_get(j, "Entries") : NULL;
		if (!json_is_array(entries) || json_array_size(entries) != n) {
			snprintf(why, sizeof(why), "PutEvents: response without "
			    "one result per entry");
			c = RES_RETRY;
		}
	}
	vp_buf_free(&r.body);
	if (c == RES_RETRY) {
		vp_warn("PutEvents (%zu entries): %s", n, why);
		for (size_t i = 0; i < n; i++)
			any_retry |= !retry_or_give_up(b[i],
			    r.errtype[0] ? r.errtype : NULL, why);
	} else {
		for (size_t i = 0; i < n; i++) {
			json_t *res = json_array_get(entries, i);
			const char *code = str_member(res, "ErrorCode");
			const char *msg = str_member(res, "ErrorMessage");

			if (code == NULL && str_member(res, "EventId")) {
				b[i]->state = ST_DONE;
				delivered++;
				continue;
			}
			snprintf(why, sizeof(why), "%s", msg ? msg : "failed");
			if (code && (strcmp(code, "InternalFailure") == 0 ||
			    strcmp(code, "ThrottlingException") == 0)) {
				vp_info("line %lu: entry %s: %s: %s, retrying",
				    b[i]->lineno, b[i]->id, code, why);
				any_retry |= !retry_or_give_up(b[i], code, why);
			} else
				reject(b[i], code ? code : "Unknown", why);
		}
	}
	json_decref(j);
	if (any_retry) {
		int64_t d = vp_backoff_next(&backoff);

		if (r.retry_after_ms > d)
			d = r.retry_after_ms;
		pop_done();
		if (need_checkpoint)
			write_checkpoint();
		vp_debug("retrying in %lld ms", (long long)d);
		vp_sleep_ms(d);
	} else
		vp_backoff_reset(&backoff);
}

/* ---- main loop ------------------------------------------------------------ */

static size_t
pending_count(size_t *bytes)
{
	size_t n = 0;

	*bytes = 0;
	for (size_t i = 0; i < qlen; i++)
		if (q[i]->state == ST_PENDING) {
			n++;
			*bytes += q[i]->size;
		}
	return n;
}

/* Take one input line into the queue (or straight to done). */
static void
take_line(char *line, size_t len, int toolong)
{
	struct ev *e = vp_xmalloc(sizeof(*e));
	char err[512];
	json_t *ce;

	memset(e, 0, sizeof(*e));
	e->lineno = in.lineno;
	e->state = ST_DONE;
	q[qlen++] = e;
	if (toolong) {
		e->line = vp_xstrdup("");
		if (opt.strict)
			vp_die(VP_EXIT_DATAERR, "line %lu: longer than %u bytes",
			    e->lineno, LINE_MAX_BYTES);
		if (opt.dlq) {
			char why[64];

			snprintf(why, sizeof(why), "line longer than %u bytes",
			    LINE_MAX_BYTES);
			dead_letter(e, "invalid line", NULL, why);
		} else
			vp_error("line %lu: longer than %u bytes, skipped",
			    e->lineno, LINE_MAX_BYTES);
		return;
	}
	e->line = vp_xmalloc(len + 1);
	memcpy(e->line, line, len);
	e->line[len] = '\0';
	e->len = len;
	if (len == 0)
		return;
	ce = parse_event(e, err, sizeof(err));
	if (ce == NULL) {
		if (opt.strict) {
			/* the checkpoint stays before the bad line */
			unsigned long lineno = e->lineno;

			e->state = ST_PENDING;
			pop_done();
			write_checkpoint();
			vp_die(VP_EXIT_DATAERR, "line %lu: %s", lineno, err);
		}
		if (opt.dlq)
			dead_letter(e, "invalid line", NULL, err);
		else
			vp_error("line %lu: %s, skipped", e->lineno, err);
		free(e->id);
		e->id = NULL;	/* no position to checkpoint */
		return;
	}
	if (pattern) {
		json_t *doc = match_document(e, ce);
		int m = eb_pattern_match(pattern, doc);

		json_decref(doc);
		if (!m) {
			filtered++;
			json_decref(ce);
			return;
		}
	}
	json_decref(ce);
	if (e->size > opt.max_bytes) {
		char why[128];

		snprintf(why, sizeof(why), "entry is %zu bytes, over the %zu "
		    "byte limit", e->size, opt.max_bytes);
		reject(e, "EntryTooLarge", why);
		return;
	}
	e->state = ST_PENDING;
}

/*
 * Read input until a batch is full, the linger time since the first waiting
 * event has passed, or input ends.
 */
static int
gather(void)
{
	int64_t first = -1;

	for (;;) {
		size_t bytes, np = pending_count(&bytes);
		char *line;
		size_t len;
		int rl, timeout;
		struct pollfd pfd = { 0, POLLIN, 0 };

		if (np > 0 && first < 0)
			first = vp_now_ms();
		if (np >= (size_t)opt.batch || bytes >= opt.max_bytes ||
		    qlen >= QUEUE_MAX || vp_stop_requested)
			return 0;
		rl = read_line(&line, &len);
		if (rl == RL_LINE || rl == RL_TOOLONG) {
			take_line(line, len, rl == RL_TOOLONG);
			continue;
		}
		if (rl == RL_EOF)
			return 0;
		if (np == 0) {
			pop_done();
			if (need_checkpoint)
				write_checkpoint();
			timeout = -1;
			if (pattern && rule_name) {
				int64_t left = next_refresh_ms - vp_now_ms();

				if (left <= 0)
					return 0;
				timeout = left > 60000 ? 60000 : (int)left;
			}
		} else {
			int64_t left = first + opt.linger_ms - vp_now_ms();

			if (left <= 0)
				timeout = 0;
			else
				timeout = (int)left;
		}
		rl = vp_poll(&pfd, 1, timeout);
		if (rl < 0 && errno != EINTR)
			vp_die(VP_EXIT_IOERR, "stdin: poll: %s", strerror(errno));
		if (rl == 0 && np > 0)
			return 0;
		if (rl > 0 && fill_input() != 0)
			vp_die(VP_EXIT_IOERR, "stdin: %s", strerror(errno));
	}
}

static int64_t
duration_arg(const char *name, const char *v)
{
	int64_t d = vp_parse_duration_ms(v);

	if (d < 0)
		vp_usage_error("%s: bad duration \"%s\"", name, v);
	return d;
}

static long
num_arg(const char *name, const char *v, long lo, long hi)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || *v == '\0' || *end != '\0' || n < lo || n > hi)
		vp_usage_error("%s: needs a number from %ld to %ld", name, lo, hi);
	return n;
}

enum {
	O_BATCH = 256, O_CA, O_CHECKPOINT, O_CKINTERVAL, O_CREDFILE, O_DLQ, O_ENDPOINT,
	O_BUS, O_INSECURE, O_LINGER, O_LOGJSON, O_LOGLEVEL, O_MAXBYTES,
	O_MAXRETRIES, O_MAXRETRYTIME, O_PATTERN, O_PROFILE, O_REGION,
	O_RETRYBASE, O_RETRYCAP, O_RULE, O_RULEARN, O_REFRESH, O_STRICT,
	O_TIMEOUT, O_VERSION
};

static const struct option longopts[] = {
	{ "batch-size", required_argument, NULL, O_BATCH },
	{ "ca-file", required_argument, NULL, O_CA },
	{ "checkpoint", required_argument, NULL, O_CHECKPOINT },
	{ "checkpoint-interval", required_argument, NULL, O_CKINTERVAL },
	{ "credentials-file", required_argument, NULL, O_CREDFILE },
	{ "dlq", required_argument, NULL, O_DLQ },
	{ "endpoint-url", required_argument, NULL, O_ENDPOINT },
	{ "event-bus", required_argument, NULL, O_BUS },
	{ "help", no_argument, NULL, 'h' },
	{ "insecure", no_argument, NULL, O_INSECURE },
	{ "linger", required_argument, NULL, O_LINGER },
	{ "log-json", no_argument, NULL, O_LOGJSON },
	{ "log-level", required_argument, NULL, O_LOGLEVEL },
	{ "max-batch-bytes", required_argument, NULL, O_MAXBYTES },
	{ "max-retries", required_argument, NULL, O_MAXRETRIES },
	{ "max-retry-time", required_argument, NULL, O_MAXRETRYTIME },
	{ "pattern", required_argument, NULL, O_PATTERN },
	{ "profile", required_argument, NULL, O_PROFILE },
	{ "region", required_argument, NULL, O_REGION },
	{ "retry-base", required_argument, NULL, O_RETRYBASE },
	{ "retry-cap", required_argument, NULL, O_RETRYCAP },
	{ "rule", required_argument, NULL, O_RULE },
	{ "rule-arn", required_argument, NULL, O_RULEARN },
	{ "rule-refresh", required_argument, NULL, O_REFRESH },
	{ "strict", no_argument, NULL, O_STRICT },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "version", no_argument, NULL, O_VERSION },
	{ NULL, 0, NULL, 0 }
};

int
main(int argc, char **argv)
{
	char err[512];
	int ch, rc = VP_EXIT_OK;

	vp_log_init(argv[0]);
	opt.bus = "default";
	opt.batch = MAX_ENTRIES;
	opt.max_bytes = 256 * 1024;
	opt.linger_ms = 20;
	opt.max_retries = -1;
	opt.retry_base_ms = 200;
	opt.retry_cap_ms = 30000;
	opt.timeout_ms = 30000;
	opt.refresh_ms = 5 * 60 * 1000;
	opt.ckpt_interval_ms = 100;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case O_BATCH:
			opt.batch = (int)num_arg("--batch-size", optarg, 1,
			    MAX_ENTRIES);
			break;
		case O_CA:
			opt.tls.ca_file = optarg;
			break;
		case O_CHECKPOINT:
			opt.checkpoint = optarg;
			break;
		case O_CKINTERVAL:
			opt.ckpt_interval_ms = duration_arg("--checkpoint-interval",
			    optarg);
			break;
		case O_CREDFILE:
			opt.credfile = optarg;
			break;
		case O_DLQ:
			opt.dlq = optarg;
			break;
		case O_ENDPOINT:
			opt.endpoint = optarg;
			break;
		case O_BUS:
			opt.bus = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return VP_EXIT_OK;
		case O_INSECURE:
			opt.tls.insecure = 1;
			break;
		case O_LINGER:
			opt.linger_ms = duration_arg("--linger", optarg);
			break;
		case O_LOGJSON:
			vp_log_set_json(1);
			break;
		case O_LOGLEVEL:
			vp_log_level_option(optarg);
			break;
		case O_MAXBYTES:
			opt.max_bytes = (size_t)num_arg("--max-batch-bytes",
			    optarg, 1024, 16L << 20);
			break;
		case O_MAXRETRIES:
			opt.max_retries = num_arg("--max-retries", optarg, 0,
			    1000000);
			break;
		case O_MAXRETRYTIME:
			opt.max_retry_ms = duration_arg("--max-retry-time", optarg);
			break;
		case O_PATTERN:
			opt.pattern_file = optarg;
			break;
		case O_PROFILE:
			opt.profile = optarg;
			break;
		case O_REGION:
			opt.region = optarg;
			break;
		case O_RETRYBASE:
			opt.retry_base_ms = duration_arg("--retry-base", optarg);
			break;
		case O_RETRYCAP:
			opt.retry_cap_ms = duration_arg("--retry-cap", optarg);
			break;
		case O_RULE:
			opt.rule = optarg;
			break;
		case O_RULEARN:
			opt.rule_arn = optarg;
			break;
		case O_REFRESH:
			opt.refresh_ms = duration_arg("--rule-refresh", optarg);
			if (opt.refresh_ms < 1000)
				vp_usage_error("--rule-refresh: at least 1s");
			break;
		case O_STRICT:
			opt.strict = 1;
			break;
		case O_TIMEOUT:
			opt.timeout_ms = duration_arg("--timeout", optarg);
			if (opt.timeout_ms == 0)
				vp_usage_error("--timeout: must be positive");
			break;
		case O_VERSION:
			vp_print_versions("sink-eventbridge", NULL);
			return VP_EXIT_OK;
		default:
			fprintf(stderr, "Try 'sink-eventbridge --help' for more "
			    "information.\n");
			return VP_EXIT_USAGE;
		}
	}
	if (optind != argc)
		vp_usage_error("unexpected argument \"%s\"", argv[optind]);
	if ((opt.pattern_file != NULL) + (opt.rule != NULL) +
	    (opt.rule_arn != NULL) > 1)
		vp_usage_error("give one of --pattern, --rule and --rule-arn");
	if (opt.rule_arn)
		parse_rule_arn(opt.rule_arn);
	else if (opt.rule) {
		rule_name = vp_xstrdup(opt.rule);
		if (strcmp(opt.bus, "default") != 0)
			rule_bus = vp_xstrdup(opt.bus);
	}
	if (opt.region == NULL && (opt.region = getenv("AWS_REGION")) == NULL)
		opt.region = getenv("AWS_DEFAULT_REGION");
	if (opt.region == NULL || *opt.region == '\0')
		vp_usage_error("--region is required (or set AWS_REGION)");
	for (const char *p = opt.region; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '-'))
			vp_usage_error("--region: \"%s\" is not a region name",
			    opt.region);
	if (opt.retry_cap_ms < opt.retry_base_ms)
		opt.retry_cap_ms = opt.retry_base_ms;
	if (opt.endpoint)
		snprintf(url, sizeof(url), "%s", opt.endpoint);
	else
		snprintf(url, sizeof(url), "https://events.%s.amazonaws.com%s/",
		    opt.region, strncmp(opt.region, "cn-", 3) == 0 ? ".cn" : "");
	snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:events", opt.region);

	vp_signals_init();
	if (opt.pattern_file) {
		size_t len;
		char *text = vp_read_file(opt.pattern_file, 1 << 20, &len);

		if (text == NULL)
			vp_die(VP_EXIT_NOINPUT, "%s: %s", opt.pattern_file,
			    strerror(errno));
		if (set_pattern(text, len, opt.pattern_file) != 0)
			exit(VP_EXIT_CONFIG);
		free(text);
	}
	if (eb_creds_load(&creds, opt.credfile, opt.profile, err,
	    sizeof(err)) != 0)
		vp_die(VP_EXIT_CONFIG, "credentials: %s", err);
	vp_debug("credentials from %s%s", creds.where,
	    creds.token ? " with a session token" : "");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 ||
	    (curl = curl_easy_init()) == NULL)
		vp_die(VP_EXIT_SOFTWARE, "libcurl: cannot initialise");
	vp_curl_common(curl, &opt.tls);
	vp_backoff_init(&backoff, opt.retry_base_ms, opt.retry_cap_ms);
	q = vp_xmalloc(QUEUE_MAX * sizeof(*q));
	if (rule_name)
		load_rule(1);

	for (;;) {
		size_t bytes;

		if (rule_name && vp_now_ms() >= next_refresh_ms)
			load_rule(0);
		if (!vp_stop_requested)
			gather();
		pop_done();
		if (pending_count(&bytes) == 0) {
			if ((in.eof && in.off >= in.len && !in.skipping) ||
			    vp_stop_requested) {
				if (need_checkpoint)
					write_checkpoint();
				break;
			}
			checkpoint_maybe();
			continue;
		}
		send_batch();
		pop_done();
		checkpoint_maybe();
	}
	vp_info("done: %lu delivered, %lu dead-lettered, %lu filtered out",
	    delivered, dead, filtered);
	curl_easy_cleanup(curl);
	curl_global_cleanup();
	eb_creds_free(&creds);
	eb_pattern_free(pattern);
	free(q);
	free(in.buf);
	free(last_done.id);
	free(last_done.source);
	free(last_done.time);
	free(rule_name);
	free(rule_bus);
	free(account);
	return rc;
}
