/*
 * opt-check: a program with one option of every kind, for t/0002: it parses
 * its command line with opt.h and prints what each option holds, one
 * "name=value" line each, then the positional arguments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opt.h"
#include "vp.h"

static struct {
	int flag, count, mode, even;
	const char *name, *url, *listen, *file;
	size_t n, size;
	int64_t wait;
	struct vp_strlist tags;
} o;

/* A reusable group: rows with offsets, stored into whichever base is given. */
struct pair {
	int retries;
	int64_t backoff;
};
static struct pair pair;

static int
even_arg(void *dest, const char *v, char *err, size_t errlen)
{
	long long n;

	if (vp_parse_int(v, 0, 1000, &n, err, errlen) != 0 || n % 2 != 0) {
		snprintf(err, errlen, "expected an even number from 0 to 1000, "
		    "got \"%s\"", v);
		return -1;
	}
	*(int *)dest = (int)n;
	return 0;
}

/* options, pair_options, groups: src/lib/opt-check.tab */
#include "opts/opt-check.h"

static const struct vp_cmd cmd = {
	.name = "opt-check",
	.about = "Parse the command line as opt.h says and print what every "
	    "option holds.",
	.see = "src/lib/opt.h",
	.args = "ARG",
	.min_args = 0,
	.max_args = 2,
	.opts = options,
	.groups = groups,
};

int
main(int argc, char **argv)
{
	int n = vp_opt_parse(&cmd, argc, argv);

	printf("flag=%d\nname=%s\ncount=%d\nn=%zu\nsize=%zu\nwait=%lld\n"
	    "mode=%d\nurl=%s\nlisten=%s\neven=%d\nfile=%s\n", o.flag,
	    o.name ? o.name : "-", o.count, o.n, o.size, (long long)o.wait,
	    o.mode, o.url ? o.url : "-", o.listen ? o.listen : "-", o.even,
	    o.file ? o.file : "-");
	for (int i = 0; i < o.tags.n; i++)
		printf("tag=%s\n", o.tags.v[i]);
	printf("retries=%d\nbackoff=%lld\n", pair.retries,
	    (long long)pair.backoff);
	if (vp_opt_given("count"))
		printf("given=count\n");
	if (vp_opt_given("size"))
		printf("given=size\n");
	for (int i = 1; i <= n; i++)
		printf("arg=%s\n", argv[i]);
	free(o.tags.v);
	return 0;
}
