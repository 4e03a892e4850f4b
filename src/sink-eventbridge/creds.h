/*
 * creds.h: AWS credentials found and renewed the way the AWS SDKs do
 * (sink-eventbridge(1), CREDENTIALS): the environment, profiles of the
 * shared config and credentials files (keys, role_arn with source_profile or
 * credential_source, web_identity_token_file, credential_process), web
 * identity (IRSA), the ECS/EKS container endpoint and EC2 instance metadata.
 */
#ifndef EB_CREDS_H
#define EB_CREDS_H

#include <stddef.h>

#include "vp.h"

struct eb_creds_opts {
	const char *file;	/* --credentials-file: the profile is from it */
	const char *profile;	/* --profile (NULL: AWS_PROFILE or default) */
	const char *region;	/* the region STS is called in */
	const struct vp_tls *tls;	/* for STS and https container URLs */
};

struct eb_prov;

struct eb_creds {
	char *akid, *secret, *token;	/* token NULL without a session */
	char where[400];		/* for messages: never a secret */
	struct eb_prov *prov;		/* how they were found and are renewed */
};

/*
 * Find credentials.  Returns 0, or an exit code (VP_EXIT_CONFIG when none
 * are found or a profile is wrong, VP_EXIT_NOPERM when a token file cannot
 * be read or STS refuses, VP_EXIT_TEMPFAIL on network trouble) with err.
 */
int eb_creds_load(struct eb_creds *c, const struct eb_creds_opts *o,
    char *err, size_t errlen);
/*
 * Before each request: re-read a changed credentials file, renew temporary
 * credentials that near their expiry.  Returns 0 when c holds credentials
 * to sign with (maybe the current ones, when renewing failed but they are
 * not about to expire: a warning is logged), else an exit code as above
 * with err; VP_EXIT_TEMPFAIL means a later call may succeed.
 */
int eb_creds_refresh(struct eb_creds *c, char *err, size_t errlen);
void eb_creds_free(struct eb_creds *c);

/*
 * A service's endpoint as the AWS SDKs choose it: AWS_ENDPOINT_URL_<SERVICE>
 * (service in capitals, "STS", "EVENTS"), else AWS_ENDPOINT_URL, unless
 * AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true; else the region's
 * https://HOST.REGION.amazonaws.com/ (.com.cn in China).
 */
void eb_endpoint_url(const char *service, const char *host, const char *region,
    char *url, size_t len);

#endif
