/*
 * jq.h: a processor's filter and transform (vcpipe.yaml(5)), written in jq
 * and run as one jq stage before the sink.
 */
#ifndef VCPIPE_JQ_H
#define VCPIPE_JQ_H

#include <stddef.h>

/*
 * The program the jq stage runs (jq -c --unbuffered PROGRAM): for each
 * event line it writes the event (transformed) when the filter passes it,
 * else {"vcpipe":"skip","event":LINE}, and {"vcpipe":"error","error":MSG,
 * "event":LINE} when the filter or transform fails on it (the sinks
 * checkpoint over the first and dead-letter the second: vcpipe-formats(5)).
 * records 0 (vcpipe's stdout, no checkpoint): a skipped event is dropped.
 * filter and transform may be NULL.
 */
char *jq_program(const char *filter, const char *transform, int records);

/*
 * Can a filter or transform be run as one: jq compiles it, and it reads no
 * input of its own and does not stop jq (input, inputs, halt, halt_error
 * would lose or replay events).  0, or -1 with the reason (jq's message)
 * in err.
 */
int jq_check(const char *prog, char *err, size_t errlen);

#endif
