/*
 * bound.h: the limits every YAML document vcpipe reads must keep, aliases
 * expanded (see bound.c).
 */
#ifndef VCPIPE_BOUND_H
#define VCPIPE_BOUND_H

#include <stddef.h>
#include <yaml.h>

#define YAML_MAX_DEPTH	64	/* levels below the top */
#define YAML_MAX_ALIASES 1000	/* alias references (*name) */
#define YAML_MAX_NODES	100000	/* nodes once every alias is expanded */

/*
 * 0 when doc keeps the limits; else -1 with the reason in err and the
 * position of the node that crossed one in line and col (1-based).
 */
int yaml_bound_check(yaml_document_t *doc, unsigned long *line,
    unsigned long *col, char *err, size_t errlen);

#endif
