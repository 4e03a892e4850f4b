/*
 * creds.c: the AWS credential chain in botocore's order
 * (botocore/credentials.py, create_credential_resolver):
 *
 *   1. AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY [, AWS_SESSION_TOKEN]
 *   2. the profile's role_arn with source_profile or credential_source
 *      (STS AssumeRole, chained through source profiles)
 *   3. web identity: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN (or the
 *      profile's web_identity_token_file + role_arn): AssumeRoleWithWebIdentity
 *   4. the profile's keys in the shared credentials file
 *   5. the profile's credential_process
 *   6. the profile's keys in the shared config file
 *   7. the container endpoint (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or
 *      _FULL_URI with AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE])
 *   8. EC2 instance metadata (IMDSv2), unless AWS_EC2_METADATA_DISABLED
 *
 * An explicit profile (--profile, --credentials-file) skips the
 * environment's keys and web identity variables, as the AWS CLI's --profile
 * does; a named profile (those or AWS_PROFILE) must exist.
 *
 * Temporary credentials are renewed before they expire, with botocore's two
 * windows scaled to short lifetimes: from min(15 min, half the lifetime)
 * before expiry a failed renewal is a warning and the current credentials
 * stay in use; from min(10 min, a quarter of the lifetime) before expiry it
 * is an error for the request (temporary or not, by its cause).  Keys read
 * from a file are read again when the file changes.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "creds.h"
#include "creds-int.h"

#define ADVISORY_MS (15 * 60 * 1000)
#define MANDATORY_MS (10 * 60 * 1000)
#define STALE_RETRY_MS (5 * 60 * 1000)
#define MAX_CHAIN 8

enum pkind { PK_ENV, PK_FILE, PK_ASSUME, PK_WEBID, PK_CONTAINER, PK_IMDS,
	PK_PROCESS };

struct eb_prov {
	enum pkind kind;
	char desc[400];
	struct eb_cval cur;
	int have;
	int64_t advisory_at, mandatory_at, next_try;
	struct eb_fetch_ctx *ctx;
	/* PK_FILE: keys of a profile in a file, re-read when it changes */
	char *path, *profile;
	int config_style;
	struct timespec mtime;
	/* PK_ASSUME, PK_WEBID */
	char *role_arn, *session, *external_id, *token_file;
	long duration;
	struct eb_prov *source;
	/* PK_CONTAINER */
	char *url;
	/* PK_IMDS */
	struct eb_imds imds;
	/* PK_PROCESS */
	char *command;
};

/* What resolving needs: the two files and where the search stands. */
struct chain {
	const struct eb_creds_opts *o;
	struct eb_fetch_ctx *ctx;
	struct eb_ini cfg, cred;
	const char *visited[MAX_CHAIN];
	int nvisited;
	char tried[600];	/* for "no credentials": what was looked at */
	char *err;
	size_t errlen;
};

/* ---- providers ------------------------------------------------------------ */

static struct eb_prov *
prov_new(enum pkind kind, struct eb_fetch_ctx *ctx)
{
	struct eb_prov *p = vp_xmalloc(sizeof(*p));

	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->ctx = ctx;
	return p;
}

static void
prov_free(struct eb_prov *p)
{
	if (p == NULL)
		return;
	prov_free(p->source);
	eb_cval_clear(&p->cur);
	eb_imds_free(&p->imds);
	VP_FREE_EACH(p->path, p->profile, p->role_arn, p->session,
	    p->external_id, p->token_file, p->url, p->command, p);
}

/* Keys of a profile in one file (the credentials or the config file). */
static int
file_keys(const struct eb_ini *ini, const char *profile, int config_style,
    struct eb_cval *v, char *err, size_t errlen)
{
	const struct eb_ini_sec *s = eb_ini_profile(ini, profile,
	    config_style);
	const char *ak = eb_ini_get(s, "aws_access_key_id");
	const char *sk = eb_ini_get(s, "aws_secret_access_key");
	const char *tok = eb_ini_get(s, "aws_session_token");

	memset(v, 0, sizeof(*v));
	if (tok == NULL || *tok == '\0')
		tok = eb_ini_get(s, "aws_security_token");
	if (ak == NULL)
		return EB_NOTFOUND;
	if (*ak == '\0' || sk == NULL || *sk == '\0') {
		snprintf(err, errlen, "%s: profile [%s] lacks "
		    "aws_access_key_id or aws_secret_access_key", ini->path,
		    profile);
		return VP_EXIT_CONFIG;
	}
	eb_cval_set(v, ak, sk, tok, 0);
	return 0;
}

static int
file_reload(struct eb_prov *p, char *err, size_t errlen)
{
	struct eb_ini ini;
	struct eb_cval v;
	int rc;

	if (eb_ini_load(&ini, p->path, err, errlen) != 0) {
		eb_ini_free(&ini);
		return VP_EXIT_CONFIG;
	}
	rc = file_keys(&ini, p->profile, p->config_style, &v, err, errlen);
	if (rc == EB_NOTFOUND) {
		snprintf(err, errlen, "%s: no keys in profile [%s]", p->path,
		    p->profile);
		rc = VP_EXIT_CONFIG;
	}
	if (rc == 0) {
		eb_cval_clear(&p->cur);
		p->cur = v;
		p->have = 1;
		p->mtime = ini.mtime;
	}
	eb_ini_free(&ini);
	return rc;
}

static int64_t
jitter_ms(int64_t max)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint32_t)vp_wall_ms();
	return max > 0 ? (int64_t)(r % (uint64_t)max) : 0;
}

/* Get a new set from the provider's source; 0 or an exit code. */
static int prov_fresh(struct eb_prov *p, int force, char *err, size_t errlen);

static int
fetch(struct eb_prov *p, struct eb_cval *v, char *err, size_t errlen)
{
	int rc;

	switch (p->kind) {
	case PK_ASSUME:
		if ((rc = prov_fresh(p->source, 0, err, errlen)) != 0)
			return rc;
		return eb_sts_assume_role(p->ctx, &p->source->cur, p->role_arn,
		    p->session, p->external_id, p->duration, v, err, errlen);
	case PK_WEBID:
		return eb_sts_web_identity(p->ctx, p->token_file, p->role_arn,
		    p->session, v, err, errlen);
	case PK_CONTAINER:
		return eb_container_fetch(p->ctx, p->url, v, err, errlen);
	case PK_IMDS:
		return eb_imds_fetch(&p->imds, v, err, errlen);
	case PK_PROCESS:
		return eb_process_fetch(p->command, v, err, errlen);
	case PK_ENV:
	case PK_FILE:
		break;
	}
	snprintf(err, errlen, "%s: nothing to renew", p->desc);
	return VP_EXIT_SOFTWARE;
}

/* Take a new set and place the two refresh windows within its lifetime. */
static void
adopt(struct eb_prov *p, struct eb_cval *v)
{
	int64_t now = vp_wall_ms(), life = v->expiry_ms - now;
	char when[64];

	eb_cval_clear(&p->cur);
	p->cur = *v;
	memset(v, 0, sizeof(*v));
	p->have = 1;
	p->next_try = 0;
	if (p->cur.expiry_ms == 0) {
		p->advisory_at = p->mandatory_at = INT64_MAX;
		return;
	}
	vp_format_rfc3339(p->cur.expiry_ms / 1000, 0, when, sizeof(when));
	if (life <= 0) {
		/*
		 * Already expired by our clock: instance metadata hands out
		 * the old set while the credential service is out (AWS keeps
		 * them working), or our clock is ahead.  Use them; try again
		 * in a few minutes, as botocore does.
		 */
		p->advisory_at = p->mandatory_at = now + STALE_RETRY_MS +
		    jitter_ms(STALE_RETRY_MS);
		vp_warn("credentials from %s expired at %s by this host's "
		    "clock; using them, renewing again in a few minutes",
		    p->desc, when);
		return;
	}
	p->advisory_at = p->cur.expiry_ms -
	    (life / 2 < ADVISORY_MS ? life / 2 : ADVISORY_MS);
	p->mandatory_at = p->cur.expiry_ms -
	    (life / 4 < MANDATORY_MS ? life / 4 : MANDATORY_MS);
	vp_debug("credentials from %s valid until %s", p->desc, when);
}

static int
prov_fresh(struct eb_prov *p, int force, char *err, size_t errlen)
{
	struct eb_cval v;
	int64_t now = vp_wall_ms();
	int rc;

	if (p->kind == PK_ENV)
		return 0;
	if (p->kind == PK_FILE) {
		struct stat st;

		if (!force && (stat(p->path, &st) != 0 ||
		    (st.st_mtim.tv_sec == p->mtime.tv_sec &&
		    st.st_mtim.tv_nsec == p->mtime.tv_nsec)))
			return 0;
		if ((rc = file_reload(p, err, errlen)) != 0 && p->have) {
			vp_warn("credentials: %s (keeping the previous ones)",
			    err);
			return 0;
		}
		return rc;
	}
	if (!force && p->have && (now < p->advisory_at ||
	    (now < p->mandatory_at && now < p->next_try)))
		return 0;
	rc = fetch(p, &v, err, errlen);
	if (rc == 0) {
		if (p->have)
			vp_info("credentials renewed from %s", p->desc);
		adopt(p, &v);
		return 0;
	}
	if (!force && p->have && now < p->mandatory_at) {
		char when[64];

		vp_format_rfc3339(p->cur.expiry_ms / 1000, 0, when, sizeof(when));
		vp_warn("credentials: renewing from %s failed: %s; the current "
		    "ones are valid until %s", p->desc, err, when);
		p->next_try = now + ((p->mandatory_at - now) / 2 < 60000 ?
		    (p->mandatory_at - now) / 2 : 60000);
		return 0;
	}
	return rc;
}

/* ---- resolving the chain ------------------------------------------------- */

static const char *
pget(struct chain *ch, const char *profile, const char *key)
{
	/* the credentials file's value wins, as in botocore's full_config */
	const char *v = eb_ini_get(eb_ini_profile(&ch->cred, profile, 0), key);

	return v ? v : eb_ini_get(eb_ini_profile(&ch->cfg, profile, 1), key);
}

static int
pexists(struct chain *ch, const char *profile)
{
	return eb_ini_profile(&ch->cred, profile, 0) != NULL ||
	    eb_ini_profile(&ch->cfg, profile, 1) != NULL;
}

static void
tried(struct chain *ch, const char *what)
{
	size_t n = strlen(ch->tried);

	snprintf(ch->tried + n, sizeof(ch->tried) - n, "%s%s", n ? "; " : "",
	    what);
}

/* Fetch the first set now, so a wrong setup fails at start. */
static int
first_fetch(struct chain *ch, struct eb_prov *p, struct eb_prov **out)
{
	int rc = prov_fresh(p, 1, ch->err, ch->errlen);

	if (rc != 0) {
		prov_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

static char *
session_name(const char *given)
{
	char s[64];

	if (given && *given)
		return vp_xstrdup(given);
	snprintf(s, sizeof(s), "vcpipe-%lld", (long long)(vp_wall_ms() / 1000));
	return vp_xstrdup(s);
}

static int
from_env(struct chain *ch, struct eb_prov **out)
{
	const char *ak = getenv("AWS_ACCESS_KEY_ID");
	const char *sk = getenv("AWS_SECRET_ACCESS_KEY");
	const char *tok = getenv("AWS_SESSION_TOKEN");
	struct eb_prov *p;

	if (ak == NULL || *ak == '\0')
		return EB_NOTFOUND;
	if (sk == NULL || *sk == '\0') {
		snprintf(ch->err, ch->errlen, "AWS_ACCESS_KEY_ID is set but "
		    "AWS_SECRET_ACCESS_KEY is not");
		return VP_EXIT_CONFIG;
	}
	if (tok == NULL || *tok == '\0')
		tok = getenv("AWS_SECURITY_TOKEN");
	p = prov_new(PK_ENV, ch->ctx);
	eb_cval_set(&p->cur, ak, sk, tok, 0);
	p->have = 1;
	snprintf(p->desc, sizeof(p->desc), "environment");
	*out = p;
	return 0;
}

static int
from_file(struct chain *ch, const struct eb_ini *ini, const char *profile,
    int config_style, struct eb_prov **out)
{
	struct eb_cval v;
	struct eb_prov *p;
	int rc = file_keys(ini, profile, config_style, &v, ch->err,
	    ch->errlen);

	if (rc != 0)
		return rc;
	p = prov_new(PK_FILE, ch->ctx);
	p->cur = v;
	p->have = 1;
	p->path = vp_xstrdup(ini->path);
	p->profile = vp_xstrdup(profile);
	p->config_style = config_style;
	p->mtime = ini->mtime;
	snprintf(p->desc, sizeof(p->desc), "%.200s [%.80s]", ini->path,
	    profile);
	*out = p;
	return 0;
}

static int
from_web_identity(struct chain *ch, const char *profile, int use_env,
    struct eb_prov **out)
{
	const char *file = use_env ? getenv("AWS_WEB_IDENTITY_TOKEN_FILE") : NULL;
	const char *arn = use_env ? getenv("AWS_ROLE_ARN") : NULL;
	const char *sess = use_env ? getenv("AWS_ROLE_SESSION_NAME") : NULL;
	struct eb_prov *p;

	if (file == NULL || *file == '\0')
		file = pget(ch, profile, "web_identity_token_file");
	if (file == NULL || *file == '\0')
		return EB_NOTFOUND;
	if (arn == NULL || *arn == '\0')
		arn = pget(ch, profile, "role_arn");
	if (sess == NULL || *sess == '\0')
		sess = pget(ch, profile, "role_session_name");
	if (arn == NULL || *arn == '\0') {
		snprintf(ch->err, ch->errlen, "web identity token file %s but "
		    "no role: set AWS_ROLE_ARN (or role_arn in profile [%s])",
		    file, profile);
		return VP_EXIT_CONFIG;
	}
	p = prov_new(PK_WEBID, ch->ctx);
	p->token_file = vp_xstrdup(file);
	p->role_arn = vp_xstrdup(arn);
	p->session = session_name(sess);
	snprintf(p->desc, sizeof(p->desc), "web identity %.150s (token %.120s)",
	    arn, file);
	return first_fetch(ch, p, out);
}

static int
from_container(struct chain *ch, struct eb_prov **out)
{
	char *url;
	int rc = eb_container_url(&url, ch->err, ch->errlen);
	struct eb_prov *p;

	if (rc != 0)
		return rc;
	p = prov_new(PK_CONTAINER, ch->ctx);
	p->url = url;
	snprintf(p->desc, sizeof(p->desc), "container endpoint %.250s", url);
	return first_fetch(ch, p, out);
}

static int
from_imds(struct chain *ch, int required, struct eb_prov **out)
{
	struct eb_prov *p = prov_new(PK_IMDS, ch->ctx);
	int rc;

	if (eb_imds_init(&p->imds) != 0) {
		prov_free(p);
		tried(ch, "EC2 instance metadata: AWS_EC2_METADATA_DISABLED is "
		    "true");
		if (required) {
			snprintf(ch->err, ch->errlen, "credential_source "
			    "Ec2InstanceMetadata, but AWS_EC2_METADATA_DISABLED "
			    "is true");
			return VP_EXIT_CONFIG;
		}
		return EB_NOTFOUND;
	}
	snprintf(p->desc, sizeof(p->desc), "EC2 instance metadata (%.200s)",
	    p->imds.base);
	rc = prov_fresh(p, 1, ch->err, ch->errlen);
	if (rc == 0) {
		*out = p;
		return 0;
	}
	if (!p->imds.reached) {
		/* not on EC2 (or no route to the service): nothing here */
		tried(ch, ch->err);
		rc = required ? VP_EXIT_TEMPFAIL : EB_NOTFOUND;
	}
	prov_free(p);
	return rc;
}

static int assume_role(struct chain *ch, const char *profile,
    struct eb_prov **out);

static int
sso_refused(struct chain *ch, const char *profile)
{
	if (pget(ch, profile, "sso_start_url") == NULL &&
	    pget(ch, profile, "sso_session") == NULL)
		return 0;
	snprintf(ch->err, ch->errlen, "profile [%s] uses IAM Identity Center "
	    "(SSO), which needs an interactive login: give the pipeline a "
	    "role, keys or a credential_process", profile);
	return 1;
}

/*
 * The providers that read a profile (botocore's ProfileProviderBuilder):
 * web identity, credentials file, credential_process, config file.
 */
static int
from_profile(struct chain *ch, const char *profile, int use_env,
    struct eb_prov **out)
{
	const char *cmd;
	int rc;

	if ((rc = from_web_identity(ch, profile, use_env, out)) != EB_NOTFOUND)
		return rc;
	if (sso_refused(ch, profile))
		return VP_EXIT_CONFIG;
	if ((rc = from_file(ch, &ch->cred, profile, 0, out)) != EB_NOTFOUND)
		return rc;
	if ((cmd = pget(ch, profile, "credential_process")) != NULL && *cmd) {
		struct eb_prov *p = prov_new(PK_PROCESS, ch->ctx);

		p->command = vp_xstrdup(cmd);
		snprintf(p->desc, sizeof(p->desc), "credential_process of "
		    "profile [%.100s]", profile);
		return first_fetch(ch, p, out);
	}
	return from_file(ch, &ch->cfg, profile, 1, out);
}

static int
visited(struct chain *ch, const char *profile)
{
	for (int i = 0; i < ch->nvisited; i++)
		if (strcmp(ch->visited[i], profile) == 0)
			return 1;
	return 0;
}

static int
has_static(struct chain *ch, const char *profile)
{
	return pget(ch, profile, "aws_access_key_id") != NULL ||
	    pget(ch, profile, "aws_secret_access_key") != NULL;
}

/* role_arn without web_identity_token_file: a profile that assumes a role */
static int
is_assume(struct chain *ch, const char *profile)
{
	return pget(ch, profile, "role_arn") != NULL &&
	    pget(ch, profile, "web_identity_token_file") == NULL;
}

static int
source_credentials(struct chain *ch, const char *profile,
    struct eb_prov **src)
{
	const char *sp = pget(ch, profile, "source_profile");
	const char *cs = pget(ch, profile, "credential_source");
	int rc;

	if (sp && cs) {
		snprintf(ch->err, ch->errlen, "profile [%s] has both "
		    "source_profile and credential_source", profile);
		return VP_EXIT_CONFIG;
	}
	if (cs) {
		if (strcasecmp(cs, "Environment") == 0)
			rc = from_env(ch, src);
		else if (strcasecmp(cs, "EcsContainer") == 0)
			rc = from_container(ch, src);
		else if (strcasecmp(cs, "Ec2InstanceMetadata") == 0)
			rc = from_imds(ch, 1, src);
		else {
			snprintf(ch->err, ch->errlen, "profile [%s]: "
			    "credential_source \"%s\" is not Environment, "
			    "Ec2InstanceMetadata or EcsContainer", profile, cs);
			return VP_EXIT_CONFIG;
		}
		if (rc == EB_NOTFOUND) {
			snprintf(ch->err, ch->errlen, "profile [%s]: "
			    "credential_source %s has no credentials", profile,
			    cs);
			rc = VP_EXIT_CONFIG;
		}
		return rc;
	}
	if (sp == NULL || *sp == '\0') {
		snprintf(ch->err, ch->errlen, "profile [%s] has role_arn but "
		    "neither source_profile nor credential_source", profile);
		return VP_EXIT_CONFIG;
	}
	if (!pexists(ch, sp)) {
		snprintf(ch->err, ch->errlen, "profile [%s]: source_profile "
		    "[%s] does not exist", profile, sp);
		return VP_EXIT_CONFIG;
	}
	if (visited(ch, sp) && !(strcmp(sp, profile) == 0 &&
	    has_static(ch, sp))) {
		snprintf(ch->err, ch->errlen, "profile [%s]: source_profile "
		    "[%s] makes a loop", profile, sp);
		return VP_EXIT_CONFIG;
	}
	if (ch->nvisited == MAX_CHAIN) {
		snprintf(ch->err, ch->errlen, "profile [%s]: more than %d "
		    "roles in a chain", profile, MAX_CHAIN);
		return VP_EXIT_CONFIG;
	}
	ch->visited[ch->nvisited++] = sp;
	/* a profile may name itself to take its own keys */
	if (strcmp(sp, profile) != 0 && is_assume(ch, sp))
		return assume_role(ch, sp, src);
	rc = from_profile(ch, sp, 0, src);
	if (rc == EB_NOTFOUND) {
		snprintf(ch->err, ch->errlen, "profile [%s]: source_profile "
		    "[%s] has no credentials", profile, sp);
		rc = VP_EXIT_CONFIG;
	}
	return rc;
}

static int
assume_role(struct chain *ch, const char *profile, struct eb_prov **out)
{
	const char *arn = pget(ch, profile, "role_arn");
	const char *dur = pget(ch, profile, "duration_seconds");
	const char *ext = pget(ch, profile, "external_id");
	struct eb_prov *src = NULL, *p;
	int rc;

	if (pget(ch, profile, "mfa_serial")) {
		snprintf(ch->err, ch->errlen, "profile [%s] has mfa_serial: a "
		    "pipeline cannot type an MFA code", profile);
		return VP_EXIT_CONFIG;
	}
	if ((rc = source_credentials(ch, profile, &src)) != 0)
		return rc;
	p = prov_new(PK_ASSUME, ch->ctx);
	p->source = src;
	p->role_arn = vp_xstrdup(arn);
	p->session = session_name(pget(ch, profile, "role_session_name"));
	p->external_id = ext && *ext ? vp_xstrdup(ext) : NULL;
	p->duration = dur ? strtol(dur, NULL, 10) : 0;
	snprintf(p->desc, sizeof(p->desc), "role %.120s of profile [%.40s] "
	    "(source: %.200s)", arn, profile, src->desc);
	return first_fetch(ch, p, out);
}

/* ~ at the start of a path from the environment, as the SDKs expand it */
static char *
expand(const char *path, const char *dflt)
{
	const char *home = getenv("HOME");
	size_t n;
	char *s;

	if (path == NULL || *path == '\0')
		path = dflt;
	if (path[0] != '~' || (path[1] != '/' && path[1] != '\0'))
		return vp_xstrdup(path);
	n = strlen(path) + (home ? strlen(home) : 0) + 1;
	s = vp_xmalloc(n);
	snprintf(s, n, "%s%s", home ? home : "", path + 1);
	return s;
}

static int
resolve(struct chain *ch, struct eb_prov **out)
{
	const struct eb_creds_opts *o = ch->o;
	const char *env_profile = getenv("AWS_PROFILE");
	const char *profile = o->profile && *o->profile ? o->profile :
	    env_profile && *env_profile ? env_profile : NULL;
	int explicit = (o->profile && *o->profile) || o->file;
	char *path;
	int rc;

	path = expand(getenv("AWS_CONFIG_FILE"), "~/.aws/config");
	rc = eb_ini_load(&ch->cfg, path, ch->err, ch->errlen);
	free(path);
	if (rc != 0)
		return VP_EXIT_CONFIG;
	if (o->file) {
		if (access(o->file, R_OK) != 0) {
			snprintf(ch->err, ch->errlen, "%s: %s", o->file,
			    strerror(errno));
			return VP_EXIT_NOINPUT;
		}
		path = vp_xstrdup(o->file);
	} else
		path = expand(getenv("AWS_SHARED_CREDENTIALS_FILE"),
		    "~/.aws/credentials");
	rc = eb_ini_load(&ch->cred, path, ch->err, ch->errlen);
	free(path);
	if (rc != 0)
		return VP_EXIT_CONFIG;
	if (profile && !pexists(ch, profile)) {
		snprintf(ch->err, ch->errlen, "no profile [%s] in %s or %s",
		    profile, ch->cred.path, ch->cfg.path);
		return VP_EXIT_CONFIG;
	}
	if (profile == NULL)
		profile = "default";
	ch->visited[ch->nvisited++] = profile;
	if (!explicit && (rc = from_env(ch, out)) != EB_NOTFOUND)
		return rc;
	if (is_assume(ch, profile))
		return assume_role(ch, profile, out);
	if ((rc = from_profile(ch, profile, !explicit, out)) != EB_NOTFOUND)
		return rc;
	if ((rc = from_container(ch, out)) != EB_NOTFOUND)
		return rc;
	if ((rc = from_imds(ch, 0, out)) != EB_NOTFOUND)
		return rc;
	snprintf(ch->err, ch->errlen, "no credentials: not in the environment "
	    "(AWS_ACCESS_KEY_ID, AWS_WEB_IDENTITY_TOKEN_FILE, "
	    "AWS_CONTAINER_CREDENTIALS_*), nor in profile [%s] of %s or %s%s%s",
	    profile, ch->cred.path, ch->cfg.path, ch->tried[0] ? "; " : "",
	    ch->tried);
	return VP_EXIT_CONFIG;
}

static void
expose(struct eb_creds *c)
{
	c->akid = c->prov->cur.akid;
	c->secret = c->prov->cur.secret;
	c->token = c->prov->cur.token;
}

int
eb_creds_load(struct eb_creds *c, const struct eb_creds_opts *o, char *err,
    size_t errlen)
{
	struct chain ch;
	int rc;

	memset(c, 0, sizeof(*c));
	memset(&ch, 0, sizeof(ch));
	/* a core dump would hold the keys */
	vp_secret_guard();
	/* reference-counted: the sink's own init and cleanup still pair up */
	(void)vp_curl_global_init();
	ch.o = o;
	ch.err = err;
	ch.errlen = errlen;
	ch.ctx = vp_xmalloc(sizeof(*ch.ctx));
	ch.ctx->region = vp_xstrdup(o->region ? o->region : "us-east-1");
	ch.ctx->tls = o->tls;
	rc = resolve(&ch, &c->prov);
	eb_ini_free(&ch.cfg);
	eb_ini_free(&ch.cred);
	if (rc != 0) {
		free(ch.ctx->region);
		free(ch.ctx);
		curl_global_cleanup();
		return rc;
	}
	snprintf(c->where, sizeof(c->where), "%s", c->prov->desc);
	expose(c);
	return 0;
}

int
eb_creds_refresh(struct eb_creds *c, char *err, size_t errlen)
{
	int rc = prov_fresh(c->prov, 0, err, errlen);

	if (rc == 0)
		expose(c);
	return rc;
}

void
eb_creds_free(struct eb_creds *c)
{
	struct eb_fetch_ctx *ctx;

	if (c->prov == NULL)
		return;
	ctx = c->prov->ctx;
	prov_free(c->prov);
	free(ctx->region);
	free(ctx);
	curl_global_cleanup();
	memset(c, 0, sizeof(*c));
}
