/*
 * aws.c: the AWS side of sink-eventbridge: one signed JSON 1.1 call, what
 * its errors mean, and a rule's pattern (DescribeRule, rule ARNs).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eb.h"

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

/* Renew credentials near their expiry; a failure fails the request. */
static int
refresh_credentials(struct eb *eb, struct resp *r)
{
	char err[480];

	r->cred_fail = eb_creds_refresh(&eb->creds, err, sizeof(err));
	if (r->cred_fail)
		snprintf(r->cred_err, sizeof(r->cred_err), "credentials: %s",
		    err);
	return r->cred_fail;
}

int
aws_prepare(struct eb *eb, CURL *c, const char *target, const char *body,
    size_t len, struct resp *r, struct curl_slist **hdrs)
{
	struct curl_slist *h = NULL;
	char hb[8192];

	vp_buf_free(&r->body);
	memset(r, 0, sizeof(*r));
	r->retry_after_ms = -1;
	r->body.max = 16 << 20;
	*hdrs = NULL;
	if (refresh_credentials(eb, r) != 0)
		return -1;
	h = curl_slist_append(h, "Content-Type: application/x-amz-json-1.1");
	/*
	 * No "Expect:" to suppress 100-continue: libcurl 7.88 would list the
	 * removed header in SignedHeaders and AWS would refuse the signature.
	 */
	snprintf(hb, sizeof(hb), "X-Amz-Target: %s", target);
	h = curl_slist_append(h, hb);
	if (eb->creds.token) {
		/* libcurl signs every header we add, the token included */
		snprintf(hb, sizeof(hb), "X-Amz-Security-Token: %s", eb->creds.token);
		h = curl_slist_append(h, hb);
	}
	explicit_bzero(hb, sizeof(hb));
	if (h == NULL)
		vp_die(VP_EXIT_SOFTWARE, "out of memory");
	*hdrs = h;
	curl_easy_setopt(c, CURLOPT_URL, eb->url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_AWS_SIGV4, eb->sigv4);
	curl_easy_setopt(c, CURLOPT_USERNAME, eb->creds.akid);
	curl_easy_setopt(c, CURLOPT_PASSWORD, eb->creds.secret);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, vp_curl_write_buf);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->curlerr);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)eb->o.timeout_ms);
	return 0;
}

void
aws_finish(CURL *c, struct resp *r, CURLcode cc)
{
	r->cc = cc;
	if (r->cc != CURLE_OK) {
		if (r->curlerr[0] == '\0')
			snprintf(r->curlerr, sizeof(r->curlerr), "%s",
			    curl_easy_strerror(r->cc));
		return;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	if (r->status != 200) {
		json_t *j = r->body.data ? json_loadb(r->body.data, r->body.len,
		    0, NULL) : NULL;
		const char *t = j ? json_str_member(j, "__type") : NULL;
		const char *m = NULL;

		if (j)
			m = json_str_member(j, "message") ? json_str_member(j, "message") :
			    json_str_member(j, "Message");
		if (t) {
			const char *hash = strrchr(t, '#');
			snprintf(r->errtype, sizeof(r->errtype), "%s",
			    hash ? hash + 1 : t);
		}
		snprintf(r->message, sizeof(r->message), "%s", m ? m : "");
		json_decref(j);
	}
}

void
aws_call(struct eb *eb, const char *target, const char *body, size_t len,
    struct resp *r)
{
	struct curl_slist *h;

	memset(r, 0, sizeof(*r));
	if (aws_prepare(eb, eb->curl, target, body, len, r, &h) != 0)
		return;
	aws_finish(eb->curl, r, curl_easy_perform(eb->curl));
	curl_easy_setopt(eb->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(h);
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


int
aws_classify(const struct resp *r, const struct vp_retry *p)
{
	if (r->cred_fail)
		return r->cred_fail == VP_EXIT_TEMPFAIL ? RES_RETRY :
		    r->cred_fail == VP_EXIT_NOPERM ? RES_AUTH : RES_CONFIG;
	if (r->cc != CURLE_OK)
		return vp_curl_permanent(r->cc) ? RES_CONFIG : RES_RETRY;
	if (r->status == 200)
		return RES_OK;
	if (r->errtype[0] && vp_str_in(r->errtype, throttle_types))
		return RES_RETRY;
	if ((r->errtype[0] && vp_str_in(r->errtype, auth_types)) ||
	    r->status == 401 || r->status == 403)
		return RES_AUTH;
	if (vp_retry_status(p, r->status))
		return RES_RETRY;
	if (strcmp(r->errtype, "ResourceNotFoundException") == 0)
		return RES_CONFIG;
	return RES_REJECT;
}

void
aws_describe(const struct resp *r, char *buf, size_t len)
{
	if (r->cred_fail)
		snprintf(buf, len, "%s", r->cred_err);
	else if (r->cc != CURLE_OK)
		snprintf(buf, len, "%s", r->curlerr);
	else
		snprintf(buf, len, "HTTP %ld%s%s%s%s", r->status,
		    r->errtype[0] ? " " : "", r->errtype,
		    r->message[0] ? ": " : "", r->message);
}

/* ---- rules --------------------------------------------------------------- */

int
eb_set_pattern(struct eb *eb, const char *text, size_t len,
    const char *where)
{
	char err[512];
	struct eb_pattern *p = eb_pattern_compile(text, len, err, sizeof(err));

	if (p == NULL) {
		vp_error("%s: pattern cannot be evaluated: %s", where, err);
		return -1;
	}
	eb_pattern_free(eb->pattern);
	eb->pattern = p;
	return 0;
}

/*
 * At start every failure is fatal (the right exit code for it); on a
 * refresh the previous pattern stays in force.
 */
void
eb_load_rule(struct eb *eb, int at_start)
{
	json_t *req = json_object(), *j;
	struct resp r;
	char *body, why[512];
	const char *pat;
	int c;

	json_object_set_new(req, "Name", json_string(eb->rule_name));
	if (eb->rule_bus)
		json_object_set_new(req, "EventBusName", json_string(eb->rule_bus));
	body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	aws_call(eb, "AWSEvents.DescribeRule", body, strlen(body), &r);
	free(body);
	eb->next_refresh_ms = vp_now_ms() + eb->o.refresh_ms;
	c = aws_classify(&r, &eb->core.o.retry);
	aws_describe(&r, why, sizeof(why));
	if (c != RES_OK) {
		vp_buf_free(&r.body);
		if (!at_start) {
			vp_warn("DescribeRule %s: %s; keeping the current pattern",
			    eb->rule_name, why);
			return;
		}
		vp_die(c == RES_RETRY ? VP_EXIT_TEMPFAIL : c == RES_AUTH ?
		    VP_EXIT_NOPERM : VP_EXIT_CONFIG, "DescribeRule %s: %s",
		    eb->rule_name, why);
	}
	j = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, NULL);
	vp_buf_free(&r.body);
	pat = j ? json_str_member(j, "EventPattern") : NULL;
	if (pat == NULL) {
		json_decref(j);
		if (at_start)
			vp_die(VP_EXIT_CONFIG, "DescribeRule %s: the rule has "
			    "no EventPattern", eb->rule_name);
		vp_warn("DescribeRule %s: no EventPattern; keeping the "
		    "current pattern", eb->rule_name);
		return;
	}
	if (eb_set_pattern(eb, pat, strlen(pat), eb->rule_name) != 0) {
		json_decref(j);
		if (at_start)
			exit(VP_EXIT_CONFIG);
		vp_warn("rule %s: keeping the previous pattern", eb->rule_name);
		return;
	}
	if (json_str_member(j, "State") && strcmp(json_str_member(j, "State"),
	    "ENABLED") != 0)
		vp_warn("rule %s is %s; filtering with its pattern anyway",
		    eb->rule_name, json_str_member(j, "State"));
	vp_debug("rule %s: pattern %s", eb->rule_name, pat);
	json_decref(j);
}

void
eb_parse_rule_arn(struct eb *eb, const char *arn)
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
	if (eb->o.region == NULL && *f[3])
		eb->o.region = vp_xstrdup(f[3]);
	if (*f[4])
		eb->account = vp_xstrdup(f[4]);
	res = f[5] + 5;
	if ((slash = strrchr(res, '/')) != NULL) {
		*slash = '\0';
		eb->rule_bus = vp_xstrdup(res);
		eb->rule_name = vp_xstrdup(slash + 1);
	} else
		eb->rule_name = vp_xstrdup(res);
	free(copy);
}
