/*
 * builtin.h: the stage programs linked into vcpipe-group, started by fork
 * and a call of their main instead of an exec (vcpipe(1), "How stages
 * start").
 */
#ifndef VCPIPE_GROUP_BUILTIN_H
#define VCPIPE_GROUP_BUILTIN_H

#include "opt.h"

typedef int (*stage_main)(int, char **);

/* The libraries the built-in stages link, for --version (opt.h). */
extern const struct vp_libversion builtin_libs[];

/*
 * Load the libraries' global state once, before the first fork, so the
 * stages share those pages with this process.
 */
void builtin_init(void);

/*
 * The built-in main for argv, or NULL when the stage is to be exec'd: not
 * one of ours, found in PATH as something else than an executable (a
 * script or a wrapper of that name), or forking is off ($VP_WRAP,
 * $VCPIPE_EXEC_STAGES).
 */
stage_main builtin_find(char *const argv[]);

/*
 * In the forked child, with its stdio in place: become the stage (its
 * name and command line, the file descriptors an exec would close) and
 * run it; never returns.  Returns only when the kernel refuses to rename
 * the process: the caller execs the program instead.
 */
void builtin_run(stage_main fn, char *const argv[]);

#endif
