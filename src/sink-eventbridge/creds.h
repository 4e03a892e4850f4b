/* creds.h: AWS access keys from the environment or a shared credentials file. */
#ifndef EB_CREDS_H
#define EB_CREDS_H

#include <stddef.h>
#include <time.h>

struct eb_creds {
	char *akid, *secret, *token;	/* token NULL without a session */
	char *file;			/* NULL when taken from the environment */
	char *profile;
	struct timespec mtime;
	char where[300];		/* for messages: never the secret */
};

/* Find credentials; file overrides the environment. 0 or -1 with err. */
int eb_creds_load(struct eb_creds *c, const char *file, const char *profile,
    char *err, size_t errlen);
/* Re-read the file if it changed: 1 reloaded, 0 unchanged, -1 error. */
int eb_creds_refresh(struct eb_creds *c, char *err, size_t errlen);
void eb_creds_free(struct eb_creds *c);

#endif
