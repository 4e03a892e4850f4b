/*
 * creds.c: AWS credentials the way the AWS CLI and SDKs find them.
 *
 * An explicit --credentials-file wins; then AWS_ACCESS_KEY_ID and
 * AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN); then the shared
 * credentials file (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials),
 * section AWS_PROFILE or "default".  Files are re-read when they change so
 * rotated temporary credentials are picked up without a restart.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "creds.h"
#include "vp.h"

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static void
clear(struct eb_creds *c)
{
	vp_free_secret(c->akid);
	vp_free_secret(c->secret);
	vp_free_secret(c->token);
	c->akid = c->secret = c->token = NULL;
}

void
eb_creds_free(struct eb_creds *c)
{
	clear(c);
	free(c->file);
	free(c->profile);
	c->file = c->profile = NULL;
}

/* Parse the INI-style shared credentials file for one profile. */
static int
load_file(struct eb_creds *c, char *err, size_t errlen)
{
	char *text, *line, *save = NULL;
	int in = 0, found = 0;
	struct stat st;

	if (stat(c->file, &st) != 0 ||
	    (text = vp_read_file(c->file, 1 << 20, NULL)) == NULL) {
		snprintf(err, errlen, "%s: %s", c->file, strerror(errno));
		return -1;
	}
	c->mtime = st.st_mtim;
	clear(c);
	for (line = strtok_r(text, "\n", &save); line;
	    line = strtok_r(NULL, "\n", &save)) {
		char *l = trim(line), *eq, *k, *v, **dst = NULL;

		if (*l == '#' || *l == ';' || *l == '\0')
			continue;
		if (*l == '[') {
			char *end = strchr(l, ']');

			if (end)
				*end = '\0';
			in = strcmp(trim(l + 1), c->profile) == 0;
			found |= in;
			continue;
		}
		if (!in || (eq = strchr(l, '=')) == NULL)
			continue;
		*eq = '\0';
		k = trim(l);
		v = trim(eq + 1);
		if (strcmp(k, "aws_access_key_id") == 0)
			dst = &c->akid;
		else if (strcmp(k, "aws_secret_access_key") == 0)
			dst = &c->secret;
		else if (strcmp(k, "aws_session_token") == 0 ||
		    (strcmp(k, "aws_security_token") == 0 && c->token == NULL))
			dst = &c->token;
		if (dst) {
			vp_free_secret(*dst);
			*dst = vp_xstrdup(v);
		}
	}
	vp_free_secret(text);
	if (!found) {
		snprintf(err, errlen, "%s: no profile [%s]", c->file, c->profile);
		return -1;
	}
	if (c->akid == NULL || *c->akid == '\0' || c->secret == NULL ||
	    *c->secret == '\0') {
		snprintf(err, errlen, "%s: profile [%s] lacks aws_access_key_id "
		    "or aws_secret_access_key", c->file, c->profile);
		clear(c);
		return -1;
	}
	return 0;
}

int
eb_creds_load(struct eb_creds *c, const char *file, const char *profile,
    char *err, size_t errlen)
{
	const char *ak = getenv("AWS_ACCESS_KEY_ID");
	const char *sk = getenv("AWS_SECRET_ACCESS_KEY");
	const char *tok = getenv("AWS_SESSION_TOKEN");

	memset(c, 0, sizeof(*c));
	if (profile == NULL || *profile == '\0')
		profile = getenv("AWS_PROFILE");
	c->profile = vp_xstrdup(profile && *profile ? profile : "default");
	if (file == NULL && ak && *ak && sk && *sk) {
		c->akid = vp_xstrdup(ak);
		c->secret = vp_xstrdup(sk);
		if (tok && *tok)
			c->token = vp_xstrdup(tok);
		snprintf(c->where, sizeof(c->where), "environment");
		return 0;
	}
	if (file == NULL) {
		const char *f = getenv("AWS_SHARED_CREDENTIALS_FILE");
		const char *home = getenv("HOME");

		if (f && *f)
			c->file = vp_xstrdup(f);
		else if (home && *home) {
			size_t n = strlen(home) + 32;

			c->file = vp_xmalloc(n);
			snprintf(c->file, n, "%s/.aws/credentials", home);
		} else {
			snprintf(err, errlen, "no credentials: set "
			    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
			    "give --credentials-file");
			return -1;
		}
	} else
		c->file = vp_xstrdup(file);
	snprintf(c->where, sizeof(c->where), "%.200s [%.50s]", c->file,
	    c->profile);
	return load_file(c, err, errlen);
}

int
eb_creds_refresh(struct eb_creds *c, char *err, size_t errlen)
{
	struct stat st;

	if (c->file == NULL || stat(c->file, &st) != 0)
		return 0;
	if (st.st_mtim.tv_sec == c->mtime.tv_sec &&
	    st.st_mtim.tv_nsec == c->mtime.tv_nsec)
		return 0;
	if (load_file(c, err, errlen) != 0)
		return -1;
	return 1;
}
