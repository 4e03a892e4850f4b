/*
 * creds-sts.c: AWS STS through its Query API, as the SDKs call it: a form
 * POST (Action, Version 2011-06-15, parameters), an XML answer.  AssumeRole
 * is signed with SigV4 by libcurl with the source credentials;
 * AssumeRoleWithWebIdentity is not signed (the token is the proof).
 */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "awsxml.h"
#include "creds-int.h"

#define STS_TIMEOUT_MS 30000

/* Error codes STS answers with, by what they mean for the caller. */
static const char *const sts_temporary[] = {
	"Throttling", "ThrottlingException", "RequestLimitExceeded",
	"IDPCommunicationError", "InternalFailure", "InternalError",
	"ServiceUnavailable", "RequestTimeout", NULL
};
static const char *const sts_refused[] = {
	"AccessDenied", "InvalidIdentityToken", "ExpiredTokenException",
	"ExpiredToken", "IDPRejectedClaim", "InvalidClientTokenId",
	"SignatureDoesNotMatch", "IncompleteSignature",
	"MissingAuthenticationToken", "UnrecognizedClientException",
	"RegionDisabledException", "InvalidAccessKeyId", "RequestExpired",
	NULL
};

void
eb_endpoint_url(const char *service, const char *host, const char *region,
    char *url, size_t len)
{
	const char *ign = getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	const char *e = NULL;
	char var[64];

	if (ign == NULL || strcasecmp(ign, "true") != 0) {
		snprintf(var, sizeof(var), "AWS_ENDPOINT_URL_%s", service);
		e = getenv(var);
		if (e == NULL || *e == '\0')
			e = getenv("AWS_ENDPOINT_URL");
	}
	if (e && *e)
		snprintf(url, len, "%s", e);
	else
		snprintf(url, len, "https://%s.%s.amazonaws.com%s/", host, region,
		    strncmp(region, "cn-", 3) == 0 ? ".cn" : "");
}

/*
 * POST the form and read the credentials from <Action>Result/Credentials.
 * what names the call in messages.
 */
static int
sts_call(const struct eb_fetch_ctx *ctx, const char *action, const char *what,
    struct vp_buf *form, const struct eb_cval *signer, struct eb_cval *out,
    char *err, size_t errlen)
{
	struct eb_http h;
	char url[1024], sig[128], pfx[160], msg[300], xerr[160];
	struct eb_xml_want w[7];
	int rc;

	memset(&h, 0, sizeof(h));
	memset(out, 0, sizeof(*out));
	eb_endpoint_url("STS", "sts", ctx->region, url, sizeof(url));
	h.method = "POST";
	h.url = url;
	h.body = form->data;
	h.body_len = form->len;
	h.timeout_ms = STS_TIMEOUT_MS;
	h.tls = ctx->tls;
	h.headers = curl_slist_append(NULL, "Content-Type: "
	    "application/x-www-form-urlencoded; charset=utf-8");
	if (signer) {
		snprintf(sig, sizeof(sig), "aws:amz:%s:sts", ctx->region);
		h.sigv4 = sig;
		h.sign_with = signer;
		/* libcurl signs every header we add, this one too */
		if (signer->token)
			h.headers = eb_header_add(h.headers,
			    "X-Amz-Security-Token", signer->token);
	}
	if (eb_http_do(&h) != 0) {
		snprintf(err, errlen, "STS %s (%s): %s", what, url, h.error);
		eb_http_done(&h);
		return VP_EXIT_TEMPFAIL;
	}
	snprintf(pfx, sizeof(pfx), "%sResponse/%sResult/Credentials/", action,
	    action);
	memset(w, 0, sizeof(w));
	{
		static const char *const leaf[4] = { "AccessKeyId",
		    "SecretAccessKey", "SessionToken", "Expiration" };
		char *paths[4];

		for (int i = 0; i < 4; i++) {
			size_t n = strlen(pfx) + strlen(leaf[i]) + 1;

			paths[i] = vp_xmalloc(n);
			snprintf(paths[i], n, "%s%s", pfx, leaf[i]);
			w[i].path = paths[i];
		}
		w[4].path = "ErrorResponse/Error/Code";
		w[5].path = "ErrorResponse/Error/Message";
		w[6].path = "Error/Code";	/* some front ends answer so */
		rc = eb_xml_extract(h.answer.data, h.answer.len, w, 7, xerr,
		    sizeof(xerr));
		for (int i = 0; i < 4; i++)
			free(paths[i]);
	}
	if (h.status == 200) {
		int64_t sec;
		int32_t ns;

		if (rc != 0)
			snprintf(err, errlen, "STS %s (%s): the answer is not "
			    "XML: %s", what, url, xerr);
		else if (!w[0].text || !w[1].text || !w[2].text || !w[3].text ||
		    !*w[0].text || !*w[1].text)
			snprintf(err, errlen, "STS %s (%s): the answer has no "
			    "Credentials", what, url);
		else if (vp_parse_rfc3339(w[3].text, &sec, &ns) != 0)
			snprintf(err, errlen, "STS %s (%s): bad Expiration "
			    "\"%.40s\"", what, url, w[3].text);
		else {
			eb_cval_set(out, w[0].text, w[1].text, w[2].text,
			    sec * 1000 + ns / 1000000);
			eb_xml_free(w, 7);
			eb_http_done(&h);
			return 0;
		}
		eb_xml_free(w, 7);
		eb_http_done(&h);
		return VP_EXIT_TEMPFAIL;
	}
	{
		const char *code = w[4].text ? w[4].text : w[6].text;

		snprintf(msg, sizeof(msg), "%s%s%.200s", code ? code : "",
		    code && w[5].text ? ": " : "", w[5].text ? w[5].text : "");
		snprintf(err, errlen, "STS %s (%s): HTTP %ld%s%s", what, url,
		    h.status, msg[0] ? " " : "", msg);
		if (code && vp_str_in(code, sts_temporary))
			rc = VP_EXIT_TEMPFAIL;
		else if ((code && vp_str_in(code, sts_refused)) ||
		    h.status == 401 || h.status == 403)
			rc = VP_EXIT_NOPERM;
		else if (eb_http_temporary(h.status))
			rc = VP_EXIT_TEMPFAIL;
		else
			rc = VP_EXIT_CONFIG;
	}
	eb_xml_free(w, 7);
	eb_http_done(&h);
	return rc;
}

int
eb_sts_assume_role(const struct eb_fetch_ctx *ctx, const struct eb_cval *src,
    const char *role_arn, const char *session, const char *external_id,
    long duration, struct eb_cval *out, char *err, size_t errlen)
{
	struct vp_buf form = { 0 };
	char what[400], dur[32];
	int rc;

	eb_form_add(&form, "Action", "AssumeRole");
	eb_form_add(&form, "Version", "2011-06-15");
	eb_form_add(&form, "RoleArn", role_arn);
	eb_form_add(&form, "RoleSessionName", session);
	if (external_id)
		eb_form_add(&form, "ExternalId", external_id);
	if (duration > 0) {
		snprintf(dur, sizeof(dur), "%ld", duration);
		eb_form_add(&form, "DurationSeconds", dur);
	}
	snprintf(what, sizeof(what), "AssumeRole %.300s", role_arn);
	rc = sts_call(ctx, "AssumeRole", what, &form, src, out, err, errlen);
	explicit_bzero(form.data, form.cap);
	vp_buf_free(&form);
	return rc;
}

int
eb_sts_web_identity(const struct eb_fetch_ctx *ctx, const char *token_file,
    const char *role_arn, const char *session, struct eb_cval *out,
    char *err, size_t errlen)
{
	struct vp_buf form = { 0 };
	char what[400], ferr[300];
	char *token = vp_read_secret_file(token_file, ferr, sizeof(ferr));
	int rc;

	memset(out, 0, sizeof(*out));
	if (token == NULL) {
		snprintf(err, errlen, "web identity token file %s", ferr);
		return VP_EXIT_NOPERM;
	}
	eb_form_add(&form, "Action", "AssumeRoleWithWebIdentity");
	eb_form_add(&form, "Version", "2011-06-15");
	eb_form_add(&form, "RoleArn", role_arn);
	eb_form_add(&form, "RoleSessionName", session);
	eb_form_add(&form, "WebIdentityToken", token);
	vp_free_secret(token);
	snprintf(what, sizeof(what), "AssumeRoleWithWebIdentity %.300s",
	    role_arn);
	rc = sts_call(ctx, "AssumeRoleWithWebIdentity", what, &form, NULL, out,
	    err, errlen);
	explicit_bzero(form.data, form.cap);
	vp_buf_free(&form);
	return rc;
}
