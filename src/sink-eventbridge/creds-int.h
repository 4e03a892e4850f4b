/* creds-int.h: between the parts of sink-eventbridge's credential chain. */
#ifndef EB_CREDS_INT_H
#define EB_CREDS_INT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "vp.h"

#define EB_NOTFOUND (-1)	/* a provider has nothing to offer: go on */

/* One set of credentials; every string is a secret but akid. */
struct eb_cval {
	char *akid, *secret, *token;
	int64_t expiry_ms;	/* wall clock; 0: they do not expire */
};
/*
 * Give v copies of the keys (a NULL or empty token: none, as botocore
 * signs), wiping what it held; v must be zeroed or set before.
 */
void eb_cval_set(struct eb_cval *v, const char *akid, const char *secret,
    const char *token, int64_t expiry_ms);
/* Wipe and free v's keys; v is zeroed. */
void eb_cval_clear(struct eb_cval *v);

/* ---- shared config and credentials files (creds-ini.c) ------------------ */

struct eb_ini_kv {
	char *key, *val;
};
struct eb_ini_sec {
	char *name;
	struct eb_ini_kv *kv;
	size_t n;
};
struct eb_ini {
	char *path;
	int found;		/* the file exists */
	struct timespec mtime;
	struct eb_ini_sec *sec;
	size_t n;
};

/* Read an INI file as botocore does; a missing file is empty (found 0). 0, or -1 with err. */
int eb_ini_load(struct eb_ini *ini, const char *path, char *err, size_t errlen);
void eb_ini_free(struct eb_ini *ini);
/*
 * The section of a profile: "[profile NAME]" (or "[default]") in a config
 * file, "[NAME]" in a credentials file.
 */
const struct eb_ini_sec *eb_ini_profile(const struct eb_ini *ini,
    const char *profile, int config_style);
const char *eb_ini_get(const struct eb_ini_sec *s, const char *key);

/* ---- HTTP for STS and the metadata endpoints (creds-http.c) ------------- */

struct eb_fetch_ctx {
	char *region;
	const struct vp_tls *tls;
};

struct curl_slist;
struct eb_http {
	const char *method, *url;
	struct curl_slist *headers;	/* wiped and freed by eb_http_done */
	const char *body;
	size_t body_len;
	long timeout_ms;
	int direct;			/* never through a proxy */
	const struct vp_tls *tls;
	const char *sigv4;		/* CURLOPT_AWS_SIGV4, or NULL */
	const struct eb_cval *sign_with;
	/* results */
	long status;			/* 0: no HTTP answer */
	int connected;
	struct vp_buf answer;		/* wiped by eb_http_done */
	char error[256];		/* the transport error */
};

/* Make the request: 0 with an HTTP status, -1 with error. */
int eb_http_do(struct eb_http *h);
void eb_http_done(struct eb_http *h);
/* Add "name: value" to a header list, leaving no copy of value behind. */
struct curl_slist *eb_header_add(struct curl_slist *l, const char *name,
    const char *value);
/* Append "key=value" to a form body, percent-encoded (RFC 3986). */
void eb_form_add(struct vp_buf *b, const char *key, const char *value);
/*
 * Credentials from a JSON answer (container endpoint, instance metadata,
 * credential_process): AccessKeyId, SecretAccessKey, the token under
 * token_key, Expiration (required when need_expiry).  0 or -1 with err.
 */
int eb_json_creds(const char *text, size_t len, const char *token_key,
    int need_expiry, struct eb_cval *out, char *err, size_t errlen);
/* An HTTP status worth trying again (transport, 408, 429, 5xx). */
int eb_http_temporary(long status);

/* ---- STS (creds-sts.c) -------------------------------------------------- */

/* AssumeRole, signed with src.  0 or an exit code with err. */
int eb_sts_assume_role(const struct eb_fetch_ctx *ctx, const struct eb_cval *src,
    const char *role_arn, const char *session, const char *external_id,
    long duration, struct eb_cval *out, char *err, size_t errlen);
/* AssumeRoleWithWebIdentity with the token read from token_file. */
int eb_sts_web_identity(const struct eb_fetch_ctx *ctx, const char *token_file,
    const char *role_arn, const char *session, struct eb_cval *out,
    char *err, size_t errlen);

/* ---- container endpoint and EC2 instance metadata (creds-meta.c) -------- */

/*
 * The container endpoint's URL from the environment: 0 with url (malloced),
 * EB_NOTFOUND when neither variable is set, VP_EXIT_CONFIG with err.
 */
int eb_container_url(char **url, char *err, size_t errlen);
int eb_container_fetch(const struct eb_fetch_ctx *ctx, const char *url,
    struct eb_cval *out, char *err, size_t errlen);

struct eb_imds {
	char *base;		/* without the trailing slash */
	char *token;		/* IMDSv2 session token, a secret */
	int64_t token_until_ms;
	int reached;		/* the service ever answered */
};
/* 0 with base set, or EB_NOTFOUND when AWS_EC2_METADATA_DISABLED is true. */
int eb_imds_init(struct eb_imds *m);
int eb_imds_fetch(struct eb_imds *m, struct eb_cval *out, char *err,
    size_t errlen);
void eb_imds_free(struct eb_imds *m);

/* ---- credential_process (creds-process.c) ------------------------------- */

int eb_process_fetch(const char *command, struct eb_cval *out, char *err,
    size_t errlen);

#endif
