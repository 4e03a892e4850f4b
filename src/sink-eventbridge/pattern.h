/*
 * pattern.h: Amazon EventBridge event patterns, evaluated locally.
 *
 * Exact values (strings, numbers, null, booleans), arrays as OR, fields as
 * AND, prefix, suffix, equals-ignore-case (alone and inside prefix/suffix),
 * wildcard, anything-but (values, lists, prefix, suffix, equals-ignore-case,
 * wildcard), numeric ranges, exists, cidr and $or.  Anything else is refused
 * when the pattern is compiled, so a rule is never silently widened.
 */
#ifndef EB_PATTERN_H
#define EB_PATTERN_H

#include <jansson.h>
#include <stddef.h>

struct eb_pattern;

/* Compile a pattern from JSON text; NULL with a message in err on error. */
struct eb_pattern *eb_pattern_compile(const char *text, size_t len,
    char *err, size_t errlen);
void eb_pattern_free(struct eb_pattern *p);
/* 1 when the event (a JSON object) matches, 0 otherwise. */
int eb_pattern_match(const struct eb_pattern *p, const json_t *event);

#endif
