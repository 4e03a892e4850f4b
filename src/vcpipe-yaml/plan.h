/*
 * plan.h: a checked configuration into vcpipe's plan (plan.c).
 */
#ifndef VCPIPE_PLAN_H
#define VCPIPE_PLAN_H

#include <jansson.h>

enum plan_mode {
	PLAN_CHECK,	/* build it, write nothing */
	PLAN_DRY,	/* print the pipelines as shell */
	PLAN_RUN	/* write it under run_dir, secrets included */
};

struct plan_opts {
	enum plan_mode mode;
	const char *file;	/* the configuration, for messages */
	const char *run_dir;	/* "$RUN" unless PLAN_RUN */
	const char *state_dir;	/* --state-dir, or NULL */
	const char *tee_dir;	/* --tee-dir, or NULL */
	long shard_i, shard_n;	/* --shard I/N (0/1: everything) */
};

/* 0, or an exit code with the reason logged. */
int plan_write(json_t *cfg, const struct plan_opts *o);

#endif
