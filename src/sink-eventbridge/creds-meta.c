/*
 * creds-meta.c: credentials from the ECS/EKS container endpoint and from
 * EC2 instance metadata (IMDSv2), as botocore fetches them.
 *
 * Both are link-local or loopback services: they are called directly,
 * never through a proxy from the environment (a proxy would answer with its
 * own host's metadata, and would see the authorization token).
 */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "creds-int.h"

#define CONTAINER_HOST "169.254.170.2"
#define CONTAINER_TIMEOUT_MS 2000
#define CONTAINER_ATTEMPTS 3
#define IMDS_TOKEN_TTL 21600

static int
env_true(const char *name)
{
	const char *v = getenv(name);

	return v && strcasecmp(v, "true") == 0;
}

/* http is only for the hosts the container agents listen on */
static int
container_host_allowed(const char *host)
{
	static const char *const ok[] = { CONTAINER_HOST, "169.254.170.23",
	    "[fd00:ec2::23]", "localhost", "[::1]", NULL };

	for (int i = 0; ok[i]; i++)
		if (strcasecmp(host, ok[i]) == 0)
			return 1;
	return strncmp(host, "127.", 4) == 0 &&
	    strspn(host, "0123456789.") == strlen(host);
}

int
eb_container_url(char **url, char *err, size_t errlen)
{
	const char *rel = getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	char *scheme = NULL, *host = NULL;
	CURLU *u;
	int rc = VP_EXIT_CONFIG;

	*url = NULL;
	if (rel) {
		size_t n = strlen(rel) + sizeof(CONTAINER_HOST) + 16;

		*url = vp_xmalloc(n);
		snprintf(*url, n, "http://" CONTAINER_HOST "%s%s",
		    *rel == '/' ? "" : "/", rel);
		return 0;
	}
	if (full == NULL)
		return EB_NOTFOUND;
	if ((u = curl_url()) == NULL ||
	    curl_url_set(u, CURLUPART_URL, full, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		snprintf(err, errlen, "AWS_CONTAINER_CREDENTIALS_FULL_URI: "
		    "\"%.200s\" is not a URL", full);
	else if (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0)
		snprintf(err, errlen, "AWS_CONTAINER_CREDENTIALS_FULL_URI: "
		    "not an http or https URL");
	else if (strcmp(scheme, "http") == 0 && !container_host_allowed(host))
		snprintf(err, errlen, "AWS_CONTAINER_CREDENTIALS_FULL_URI: "
		    "plain http is only for a loopback address, "
		    CONTAINER_HOST ", 169.254.170.23 or fd00:ec2::23, not %.100s",
		    host);
	else {
		*url = vp_xstrdup(full);
		rc = 0;
	}
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

int
eb_container_fetch(const struct eb_fetch_ctx *ctx, const char *url,
    struct eb_cval *out, char *err, size_t errlen)
{
	const char *tfile = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	char *token = NULL, ferr[300], jerr[300];
	struct eb_http h;
	int rc;

	memset(out, 0, sizeof(*out));
	if (tfile && *tfile) {
		/* re-read every time: EKS rotates it */
		if ((token = vp_read_secret_file(tfile, ferr,
		    sizeof(ferr))) == NULL) {
			snprintf(err, errlen, "container authorization token "
			    "file %s", ferr);
			return VP_EXIT_NOPERM;
		}
	} else if (getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN"))
		token = vp_xstrdup(getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN"));
	if (token && strpbrk(token, "\r\n")) {
		vp_free_secret(token);
		snprintf(err, errlen, "the container authorization token has a "
		    "line break");
		return VP_EXIT_CONFIG;
	}
	memset(&h, 0, sizeof(h));
	h.method = "GET";
	h.url = url;
	h.timeout_ms = CONTAINER_TIMEOUT_MS;
	h.direct = strncmp(url, "https:", 6) != 0;
	h.tls = ctx->tls;
	h.headers = curl_slist_append(NULL, "Accept: application/json");
	if (token)
		h.headers = eb_header_add(h.headers, "Authorization", token);
	vp_free_secret(token);
	for (int i = 0; i < CONTAINER_ATTEMPTS; i++) {
		if (i > 0)
			vp_sleep_ms(1000);
		if (eb_http_do(&h) == 0 && !eb_http_temporary(h.status))
			break;
	}
	if (h.status == 0) {
		snprintf(err, errlen, "container endpoint %s: %s", url, h.error);
		rc = VP_EXIT_TEMPFAIL;
	} else if (h.status == 200) {
		rc = eb_json_creds(h.answer.data, h.answer.len, "Token", 1, out,
		    jerr, sizeof(jerr)) == 0 ? 0 : VP_EXIT_TEMPFAIL;
		if (rc)
			snprintf(err, errlen, "container endpoint %s: %s", url,
			    jerr);
	} else {
		/* the answer's body is not shown: it could echo the token */
		snprintf(err, errlen, "container endpoint %s: HTTP %ld%s", url,
		    h.status, h.status == 401 || h.status == 403 ?
		    " (the authorization token was refused)" : "");
		rc = h.status == 401 || h.status == 403 ? VP_EXIT_NOPERM :
		    eb_http_temporary(h.status) ? VP_EXIT_TEMPFAIL :
		    VP_EXIT_CONFIG;
	}
	eb_http_done(&h);
	return rc;
}

/* ---- EC2 instance metadata ----------------------------------------------- */

static long
imds_timeout_ms(void)
{
	const char *t = getenv("AWS_METADATA_SERVICE_TIMEOUT");
	double s = t ? strtod(t, NULL) : 0;

	return s > 0 ? (long)(s * 1000) : 1000;
}

static int
imds_attempts(void)
{
	const char *n = getenv("AWS_METADATA_SERVICE_NUM_ATTEMPTS");
	int a = n ? atoi(n) : 1;

	return a > 0 && a < 10 ? a : 1;
}

int
eb_imds_init(struct eb_imds *m)
{
	const char *ep = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	const char *mode = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
	size_t n;

	memset(m, 0, sizeof(*m));
	if (env_true("AWS_EC2_METADATA_DISABLED"))
		return EB_NOTFOUND;
	if (ep && *ep)
		m->base = vp_xstrdup(ep);
	else if (mode && strcasecmp(mode, "ipv6") == 0)
		m->base = vp_xstrdup("http://[fd00:ec2::254]");
	else
		m->base = vp_xstrdup("http://169.254.169.254");
	n = strlen(m->base);
	while (n > 0 && m->base[n - 1] == '/')
		m->base[--n] = '\0';
	return 0;
}

void
eb_imds_free(struct eb_imds *m)
{
	free(m->base);
	vp_free_secret(m->token);
	memset(m, 0, sizeof(*m));
}

/* One request to the service, with the session token when there is one. */
static void
imds_request(struct eb_imds *m, struct eb_http *h, const char *method,
    const char *path, char *url, size_t urllen)
{
	int attempts = imds_attempts();

	snprintf(url, urllen, "%s%s", m->base, path);
	memset(h, 0, sizeof(*h));
	h->method = method;
	h->url = url;
	h->timeout_ms = imds_timeout_ms();
	h->direct = 1;
	if (strcmp(method, "PUT") == 0) {
		char ttl[16];

		snprintf(ttl, sizeof(ttl), "%d", IMDS_TOKEN_TTL);
		h->headers = eb_header_add(NULL,
		    "X-aws-ec2-metadata-token-ttl-seconds", ttl);
		/* no Content-Type for an empty PUT */
		h->headers = curl_slist_append(h->headers, "Content-Type:");
	} else if (m->token)
		h->headers = eb_header_add(NULL, "X-aws-ec2-metadata-token",
		    m->token);
	for (int i = 0; i < attempts; i++) {
		if (eb_http_do(h) == 0 && !eb_http_temporary(h->status))
			break;
	}
	if (h->status != 0)
		m->reached = 1;
}

/*
 * The IMDSv2 session token.  0 (m->token NULL when falling back to IMDSv1),
 * or an exit code with err.
 */
static int
imds_token(struct eb_imds *m, char *err, size_t errlen)
{
	struct eb_http h;
	char url[600];
	int rc = 0;

	if (m->token && vp_wall_ms() < m->token_until_ms)
		return 0;
	vp_free_secret(m->token);
	m->token = NULL;
	imds_request(m, &h, "PUT", "/latest/api/token", url, sizeof(url));
	if (h.status == 200 && h.answer.len > 0) {
		size_t n = h.answer.len;

		while (n > 0 && (h.answer.data[n - 1] == '\n' ||
		    h.answer.data[n - 1] == '\r'))
			n--;
		m->token = vp_xmalloc(n + 1);
		memcpy(m->token, h.answer.data, n);
		m->token[n] = '\0';
		m->token_until_ms = vp_wall_ms() +
		    (int64_t)(IMDS_TOKEN_TTL - 60) * 1000;
	} else if (h.status == 0 && !h.connected) {
		snprintf(err, errlen, "EC2 instance metadata (%s): %s",
		    m->base, h.error);
		rc = VP_EXIT_TEMPFAIL;
	} else if (h.status == 0 || h.status == 403 || h.status == 404 ||
	    h.status == 405) {
		/* IMDSv1 only (or the PUT's answer was lost on the way) */
		if (env_true("AWS_EC2_METADATA_V1_DISABLED")) {
			snprintf(err, errlen, "EC2 instance metadata (%s): no "
			    "IMDSv2 token (%s) and AWS_EC2_METADATA_V1_DISABLED "
			    "is true", m->base, h.status ? "HTTP 4xx" : h.error);
			rc = VP_EXIT_CONFIG;
		}
	} else {
		snprintf(err, errlen, "EC2 instance metadata (%s): token: "
		    "HTTP %ld", m->base, h.status);
		rc = eb_http_temporary(h.status) ? VP_EXIT_TEMPFAIL :
		    VP_EXIT_CONFIG;
	}
	eb_http_done(&h);
	return rc;
}

/* One pass: token, role name, credentials.  *stale: a 401 to our token. */
static int
imds_pass(struct eb_imds *m, struct eb_cval *out, int *stale, char *err,
    size_t errlen)
{
	static const char list[] = "/latest/meta-data/iam/security-credentials/";
	struct eb_http h;
	char url[800], path[400], jerr[300], role[200];
	int rc;

	*stale = 0;
	if ((rc = imds_token(m, err, errlen)) != 0)
		return rc;
	imds_request(m, &h, "GET", list, url, sizeof(url));
	if (h.status == 200 && h.answer.len > 0) {
		size_t n = strcspn(h.answer.data, "\r\n");

		snprintf(role, sizeof(role), "%.*s", (int)n, h.answer.data);
		eb_http_done(&h);
		snprintf(path, sizeof(path), "%s%s", list, role);
		imds_request(m, &h, "GET", path, url, sizeof(url));
	} else
		role[0] = '\0';
	*stale = h.status == 401 && m->token != NULL;
	if (h.status == 200 && role[0]) {
		if (eb_json_creds(h.answer.data, h.answer.len, "Token", 1, out,
		    jerr, sizeof(jerr)) == 0)
			rc = 0;
		else {
			snprintf(err, errlen, "EC2 instance metadata (%s): role "
			    "%s: %s", m->base, role, jerr);
			rc = VP_EXIT_TEMPFAIL;
		}
	} else if (h.status == 404 && role[0] == '\0') {
		snprintf(err, errlen, "EC2 instance metadata (%s): no IAM role is "
		    "attached to this instance", m->base);
		rc = VP_EXIT_CONFIG;
	} else {
		if (h.status == 0)
			snprintf(err, errlen, "EC2 instance metadata (%s): %s%s%s",
			    m->base, role[0] ? "role " : "", role[0] ? role : "",
			    h.error);
		else
			snprintf(err, errlen, "EC2 instance metadata (%s): %s%s: "
			    "HTTP %ld", m->base, role[0] ? "role " : "the role name",
			    role, h.status);
		rc = h.status == 401 || h.status == 403 ? VP_EXIT_NOPERM :
		    VP_EXIT_TEMPFAIL;
	}
	eb_http_done(&h);
	return rc;
}

int
eb_imds_fetch(struct eb_imds *m, struct eb_cval *out, char *err, size_t errlen)
{
	int stale, rc;

	memset(out, 0, sizeof(*out));
	rc = imds_pass(m, out, &stale, err, errlen);
	if (rc != 0 && stale) {
		/* the session token ended early: get another, once */
		vp_free_secret(m->token);
		m->token = NULL;
		rc = imds_pass(m, out, &stale, err, errlen);
	}
	return rc;
}
