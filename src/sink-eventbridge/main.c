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
#include <stdlib.h>
#include <string.h>

#include "eb.h"
#include "opt.h"
#include "help/sink-eventbridge.h"

static struct eb E;
static char inbuf[65536];

/* ---- options ----------------------------------------------------------------- */

/* options, aws_options, groups: src/sink-eventbridge/options.tab */
#include "opts/sink-eventbridge.h"

/* What spans options: one filter, a region from the environment. */
static void
check(void)
{
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
	vp_sink_opts_check(&E.core.o);
}

/* --help: help/sink-eventbridge.h, made of man/sink-eventbridge.1 */
static const struct vp_cmd cmd = VP_PROGRAM(options,
    VP_LIBS(VP_LIB_CURL, VP_LIB_JANSSON), .check = check,
    .groups = groups);

/* Endpoint, pattern, keys, the curl handles and the queue. */
static void
setup(struct eb *eb)
{
	char err[512];

	if (eb->o.endpoint)
		snprintf(eb->url, sizeof(eb->url), "%s", eb->o.endpoint);
	else
		eb_endpoint_url("EVENTS", "events", eb->o.region, eb->url,
		    sizeof(eb->url));
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
	{
		struct eb_creds_opts co = { eb->o.credfile, eb->o.profile,
		    eb->o.region, &eb->o.tls };
		int rc = eb_creds_load(&eb->creds, &co, err, sizeof(err));

		if (rc != 0)
			vp_die(rc, "credentials: %s", err);
	}
	vp_debug("credentials from %s%s", eb->creds.where,
	    eb->creds.token ? " with a session token" : "");
	if (vp_curl_global_init() != 0 ||
	    (eb->curl = curl_easy_init()) == NULL)
		vp_die(VP_EXIT_SOFTWARE, "libcurl: cannot initialise");
	vp_curl_common(eb->curl, &eb->o.tls);
	vp_curl_stop_grace(eb->curl);
	eb_send_init(eb);
	/* room to fill every request twice over while they are on the wire */
	eb->qmax = (size_t)eb->o.inflight * MAX_ENTRIES * 2;
	if (eb->qmax < QUEUE_MAX)
		eb->qmax = QUEUE_MAX;
	eb->q = vp_xmalloc(eb->qmax * sizeof(*eb->q));
	/* 64 KiB reads as in sink-http: stdio's 4 KiB is four events */
	setvbuf(stdin, inbuf, _IOFBF, sizeof(inbuf));
	vp_linereader_init(&eb->in.lr, stdin, VP_SINK_MAX_LINE);
	eb->in.lr.whole_lines = 1;
	if (eb->rule_name)
		eb_load_rule(eb, 1);
}

/*
 * Batches until the input ends or a stop is requested: read what stdin
 * has, settle the finished prefix, start the batches that are ready, wait
 * for the requests, stdin, a linger or a retry.  0, or the exit code.
 */
static int
run(struct eb *eb)
{
	for (;;) {
		int64_t wait, left;
		int reading, done;

		if (eb->rule_name && vp_now_ms() >= eb->next_refresh_ms)
			eb_load_rule(eb, 0);
		/* what the queue takes may be done at once (filtered out,
		 * invalid): settle it and take more, so nothing waits in the
		 * buffer while the queue is empty */
		do
			eb_pop_done(eb);
		while (eb_take_input(eb) > 0);
		if (vp_stop_requested) {
			if (eb->stop_ms == 0)
				eb->stop_ms = vp_now_ms();
			if (vp_now_ms() - eb->stop_ms > VP_STOP_GRACE_MS)
				eb_send_abandon(eb);
			/* what waits for a retry is not sent again */
			for (size_t i = 0; i < eb->qlen; i++)
				if (eb->q[i]->state == ST_PENDING &&
				    eb->q[i]->attempts > 0)
					eb_fail(eb->q[i], VP_OUT_STOPPED, NULL,
					    "not sent again after the stop "
					    "request", -1);
		}
		eb_pop_done(eb);
		done = eb_input_done(eb) || vp_stop_requested;
		if (eb->qlen == 0 && done) {
			eb_checkpoint(eb);
			return eb->torn ? vp_sink_torn_line(eb->torn) : 0;
		}
		wait = eb_send_ready(eb, done);
		eb_checkpoint_maybe(eb);
		reading = !eb->in.eof && !vp_stop_requested &&
		    eb->qlen < eb->qmax;
		if (eb->core.ck.path && (eb->core.ck.dirty ||
		    eb->core.ck.pending) && (wait < 0 ||
		    eb->core.ck.interval_ms < wait))
			wait = eb->core.ck.interval_ms;
		if (eb->rule_name) {
			left = eb->next_refresh_ms - vp_now_ms();
			if (left < 0)
				left = 0;
			if (wait < 0 || left < wait)
				wait = left;
		}
		if (vp_stop_requested && (wait < 0 || wait > 100))
			wait = 100;
		eb_send_wait(eb, reading, wait);
	}
}

int
main(int argc, char **argv)
{
	int rc = VP_EXIT_OK;

	vp_opt_parse(&cmd, argc, argv);
	vp_signals_init();
	vp_sink_start(&E.core);
	setup(&E);
	rc = run(&E);
	vp_info("done: %lu delivered, %lu dead-lettered, %lu filtered out",
	    E.core.ck.pos.delivered, E.core.deadlettered, E.filtered);
	eb_send_free(&E);
	curl_easy_cleanup(E.curl);
	curl_global_cleanup();
	eb_creds_free(&E.creds);
	eb_pattern_free(E.pattern);
	free(E.q);
	vp_linereader_free(&E.in.lr);
	vp_sink_free(&E.core);
	free(E.rule_name);
	free(E.rule_bus);
	free(E.account);
	return rc;
}
