/*
 * sink-eventbridge: deliver CloudEvent lines to Amazon EventBridge.
 *
 * Events are batched into PutEvents calls (at most 10 entries and the
 * request size limit as AWS counts it), signed by libcurl's SigV4, and
 * acknowledged entry by entry: failed entries that AWS calls retryable are
 * sent again after a backoff, the rest go to the dead-letter file.  The
 * checkpoint only ever names the last event of a prefix of the input that
 * is entirely acknowledged, dead-lettered or filtered out, so a restart
 * never skips an event that a retried middle entry still holds.
 *
 * This file reads the options and runs the loop; eb.h says where the rest is.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "eb.h"

static struct eb E;

static const char usage_text[] =
"usage: sink-eventbridge --region REGION [--event-bus BUS] [--endpoint-url URL]\n"
"           [--credentials-file FILE] [--profile NAME] [--dlq FILE]\n"
"           [--checkpoint FILE] [--checkpoint-interval DURATION]\n"
"           [--batch-size N] [--max-batch-bytes N]\n"
"           [--linger DURATION] [--max-retries N] [--max-retry-time DURATION]\n"
"           [--retry-base DURATION] [--retry-cap DURATION] [--timeout DURATION]\n"
"           [--pattern FILE | --rule NAME | --rule-arn ARN]\n"
"           [--rule-refresh DURATION] [--strict] [--insecure] [--ca-file FILE]\n"
"           [--log-level LEVEL] [--log-json]\n"
"       sink-eventbridge --help | --version\n";

static int64_t
duration_arg(const char *name, const char *v)
{
	int64_t d = vp_parse_duration_ms(v);

	if (d < 0)
		vp_usage_error("%s: bad duration \"%s\"", name, v);
	return d;
}

static long
num_arg(const char *name, const char *v, long lo, long hi)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || *v == '\0' || *end != '\0' || n < lo || n > hi)
		vp_usage_error("%s: needs a number from %ld to %ld", name, lo, hi);
	return n;
}

enum {
	O_BATCH = 256, O_CA, O_CHECKPOINT, O_CKINTERVAL, O_CREDFILE, O_DLQ, O_ENDPOINT,
	O_BUS, O_INSECURE, O_LINGER, O_LOGJSON, O_LOGLEVEL, O_MAXBYTES,
	O_MAXRETRIES, O_MAXRETRYTIME, O_PATTERN, O_PROFILE, O_REGION,
	O_RETRYBASE, O_RETRYCAP, O_RULE, O_RULEARN, O_REFRESH, O_STRICT,
	O_TIMEOUT, O_VERSION
};

static const struct option longopts[] = {
	{ "batch-size", required_argument, NULL, O_BATCH },
	{ "ca-file", required_argument, NULL, O_CA },
	{ "checkpoint", required_argument, NULL, O_CHECKPOINT },
	{ "checkpoint-interval", required_argument, NULL, O_CKINTERVAL },
	{ "credentials-file", required_argument, NULL, O_CREDFILE },
	{ "dlq", required_argument, NULL, O_DLQ },
	{ "endpoint-url", required_argument, NULL, O_ENDPOINT },
	{ "event-bus", required_argument, NULL, O_BUS },
	{ "help", no_argument, NULL, 'h' },
	{ "insecure", no_argument, NULL, O_INSECURE },
	{ "linger", required_argument, NULL, O_LINGER },
	{ "log-json", no_argument, NULL, O_LOGJSON },
	{ "log-level", required_argument, NULL, O_LOGLEVEL },
	{ "max-batch-bytes", required_argument, NULL, O_MAXBYTES },
	{ "max-retries", required_argument, NULL, O_MAXRETRIES },
	{ "max-retry-time", required_argument, NULL, O_MAXRETRYTIME },
	{ "pattern", required_argument, NULL, O_PATTERN },
	{ "profile", required_argument, NULL, O_PROFILE },
	{ "region", required_argument, NULL, O_REGION },
	{ "retry-base", required_argument, NULL, O_RETRYBASE },
	{ "retry-cap", required_argument, NULL, O_RETRYCAP },
	{ "rule", required_argument, NULL, O_RULE },
	{ "rule-arn", required_argument, NULL, O_RULEARN },
	{ "rule-refresh", required_argument, NULL, O_REFRESH },
	{ "strict", no_argument, NULL, O_STRICT },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "version", no_argument, NULL, O_VERSION },
	{ NULL, 0, NULL, 0 }
};

/* Endpoint, pattern, keys, the curl handle and the queue. */
static void
setup(struct eb *eb)
{
	char err[512];

	if (eb->o.endpoint)
		snprintf(eb->url, sizeof(eb->url), "%s", eb->o.endpoint);
	else
		snprintf(eb->url, sizeof(eb->url),
		    "https://events.%s.amazonaws.com%s/", eb->o.region,
		    strncmp(eb->o.region, "cn-", 3) == 0 ? ".cn" : "");
	snprintf(eb->sigv4, sizeof(eb->sigv4), "aws:amz:%s:events",
	    eb->o.region);
	if (eb->o.pattern_file) {
		size_t len;
		char *text = vp_read_file(eb->o.pattern_file, 1 << 20, &len);

		if (text == NULL)
			vp_die(VP_EXIT_NOINPUT, "%s: %s", eb->o.pattern_file,
			    strerror(errno));
		if (eb_set_pattern(eb, text, len, eb->o.pattern_file) != 0)
			exit(VP_EXIT_CONFIG);
		free(text);
	}
	if (eb_creds_load(&eb->creds, eb->o.credfile, eb->o.profile, err,
	    sizeof(err)) != 0)
		vp_die(VP_EXIT_CONFIG, "credentials: %s", err);
	vp_debug("credentials from %s%s", eb->creds.where,
	    eb->creds.token ? " with a session token" : "");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 ||
	    (eb->curl = curl_easy_init()) == NULL)
		vp_die(VP_EXIT_SOFTWARE, "libcurl: cannot initialise");
	vp_curl_common(eb->curl, &eb->o.tls);
	vp_backoff_init(&eb->backoff, eb->o.retry_base_ms, eb->o.retry_cap_ms);
	eb->q = vp_xmalloc(QUEUE_MAX * sizeof(*eb->q));
	if (eb->rule_name)
		eb_load_rule(eb, 1);
}

/* Batches until the input ends or a stop is requested. */
static void
run(struct eb *eb)
{
	for (;;) {
		size_t bytes;

		if (eb->rule_name && vp_now_ms() >= eb->next_refresh_ms)
			eb_load_rule(eb, 0);
		if (!vp_stop_requested)
			eb_gather(eb);
		eb_pop_done(eb);
		if (eb_pending(eb, &bytes) == 0) {
			if (eb_input_done(eb) || vp_stop_requested) {
				if (eb->need_checkpoint)
					eb_write_checkpoint(eb);
				break;
			}
			eb_checkpoint_maybe(eb);
			continue;
		}
		eb_send_batch(eb);
		eb_pop_done(eb);
		eb_checkpoint_maybe(eb);
	}
}

int
main(int argc, char **argv)
{
	int ch, rc = VP_EXIT_OK;

	vp_log_init(argv[0]);
	E.o.bus = "default";
	E.o.batch = MAX_ENTRIES;
	E.o.max_bytes = 256 * 1024;
	E.o.linger_ms = 20;
	E.o.max_retries = -1;
	E.o.retry_base_ms = 200;
	E.o.retry_cap_ms = 30000;
	E.o.timeout_ms = 30000;
	E.o.refresh_ms = 5 * 60 * 1000;
	E.o.ckpt_interval_ms = 100;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case O_BATCH:
			E.o.batch = (int)num_arg("--batch-size", optarg, 1,
			    MAX_ENTRIES);
			break;
		case O_CA:
			E.o.tls.ca_file = optarg;
			break;
		case O_CHECKPOINT:
			E.o.checkpoint = optarg;
			break;
		case O_CKINTERVAL:
			E.o.ckpt_interval_ms = duration_arg("--checkpoint-interval",
			    optarg);
			break;
		case O_CREDFILE:
			E.o.credfile = optarg;
			break;
		case O_DLQ:
			E.o.dlq = optarg;
			break;
		case O_ENDPOINT:
			E.o.endpoint = optarg;
			break;
		case O_BUS:
			E.o.bus = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return VP_EXIT_OK;
		case O_INSECURE:
			E.o.tls.insecure = 1;
			break;
		case O_LINGER:
			E.o.linger_ms = duration_arg("--linger", optarg);
			break;
		case O_LOGJSON:
			vp_log_set_json(1);
			break;
		case O_LOGLEVEL:
			vp_log_level_option(optarg);
			break;
		case O_MAXBYTES:
			E.o.max_bytes = (size_t)num_arg("--max-batch-bytes",
			    optarg, 1024, 16L << 20);
			break;
		case O_MAXRETRIES:
			E.o.max_retries = num_arg("--max-retries", optarg, 0,
			    1000000);
			break;
		case O_MAXRETRYTIME:
			E.o.max_retry_ms = duration_arg("--max-retry-time", optarg);
			break;
		case O_PATTERN:
			E.o.pattern_file = optarg;
			break;
		case O_PROFILE:
			E.o.profile = optarg;
			break;
		case O_REGION:
			E.o.region = optarg;
			break;
		case O_RETRYBASE:
			E.o.retry_base_ms = duration_arg("--retry-base", optarg);
			break;
		case O_RETRYCAP:
			E.o.retry_cap_ms = duration_arg("--retry-cap", optarg);
			break;
		case O_RULE:
			E.o.rule = optarg;
			break;
		case O_RULEARN:
			E.o.rule_arn = optarg;
			break;
		case O_REFRESH:
			E.o.refresh_ms = duration_arg("--rule-refresh", optarg);
			if (E.o.refresh_ms < 1000)
				vp_usage_error("--rule-refresh: at least 1s");
			break;
		case O_STRICT:
			E.o.strict = 1;
			break;
		case O_TIMEOUT:
			E.o.timeout_ms = duration_arg("--timeout", optarg);
			if (E.o.timeout_ms == 0)
				vp_usage_error("--timeout: must be positive");
			break;
		case O_VERSION:
			/* until its options move to an opt.h table */
			printf("sink-eventbridge (vcpipe) %s\n%s\njansson %s\n",
			    PACKAGE_VERSION, vp_curl_version(),
			    jansson_version_str());
			return VP_EXIT_OK;
		default:
			fprintf(stderr, "Try 'sink-eventbridge --help' for more "
			    "information.\n");
			return VP_EXIT_USAGE;
		}
	}
	if (optind != argc)
		vp_usage_error("unexpected argument \"%s\"", argv[optind]);
	if ((E.o.pattern_file != NULL) + (E.o.rule != NULL) +
	    (E.o.rule_arn != NULL) > 1)
		vp_usage_error("give one of --pattern, --rule and --rule-arn");
	if (E.o.rule_arn)
		eb_parse_rule_arn(&E, E.o.rule_arn);
	else if (E.o.rule) {
		E.rule_name = vp_xstrdup(E.o.rule);
		if (strcmp(E.o.bus, "default") != 0)
			E.rule_bus = vp_xstrdup(E.o.bus);
	}
	if (E.o.region == NULL && (E.o.region = getenv("AWS_REGION")) == NULL)
		E.o.region = getenv("AWS_DEFAULT_REGION");
	if (E.o.region == NULL || *E.o.region == '\0')
		vp_usage_error("--region is required (or set AWS_REGION)");
	for (const char *p = E.o.region; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '-'))
			vp_usage_error("--region: \"%s\" is not a region name",
			    E.o.region);
	if (E.o.retry_cap_ms < E.o.retry_base_ms)
		E.o.retry_cap_ms = E.o.retry_base_ms;

	vp_signals_init();
	setup(&E);
	run(&E);
	vp_info("done: %lu delivered, %lu dead-lettered, %lu filtered out",
	    E.delivered, E.dead, E.filtered);
	curl_easy_cleanup(E.curl);
	curl_global_cleanup();
	eb_creds_free(&E.creds);
	eb_pattern_free(E.pattern);
	free(E.q);
	free(E.in.buf);
	free(E.last_done.id);
	free(E.last_done.source);
	free(E.last_done.time);
	free(E.rule_name);
	free(E.rule_bus);
	free(E.account);
	return rc;
}
