/*
 * vimjson-tool: print vc-source's JSON for each event in a SOAP response (or
 * a bare event element) read on stdin, one line per event. A check program:
 * the tests compare its output with govmomi's (t/vim-xml2json), and
 * bench/vimjson.sh times the mapper with --repeat.
 */
#include <getopt.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "vimjson.h"

static const char usage_text[] =
    "usage: vimjson-tool [--log-json] [--log-level level] [--meta | --raw]\n"
    "                    [--repeat n] [--vcenter url] < response.xml\n";

struct run {
	int mode;		/* 0 data, 1 meta, 2 raw line */
	int print;
	long events;
	long failed;
	size_t bytes;		/* JSON bytes of one pass */
	struct vim_source src;
	struct vp_buf out;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
one(xmlNodePtr ev, void *arg)
{
	struct run *r = arg;
	struct vim_event_meta m;
	char err[512];
	int rc;

	vp_buf_reset(&r->out);
	if (r->mode == 2)
		rc = vim_raw_line(&r->src, ev, &r->out, &m, err, sizeof(err));
	else
		rc = vim_event_json(ev, &r->out, r->mode == 1 ? &m : NULL, err,
		    sizeof(err));
	r->events++;
	if (rc != 0) {
		r->failed++;
		if (r->print)
			vp_error("event %ld: %s", r->events, err);
		return 0;
	}
	if (r->print)
		r->bytes += r->out.len;
	if (r->mode == 1) {
		vp_buf_reset(&r->out);
		vp_buf_printf(&r->out, "%s %s %s %d %s %s %d", m.type, m.mapped,
		    m.category, (int)m.key, m.created, m.class, m.known);
	}
	if (r->mode != 0)
		vim_event_meta_free(&m);
	if (r->print && vp_write_line(stdout, r->out.data, r->out.len) != 0)
		return -1;
	return 0;
}

static int
drop(xmlNodePtr ev, void *arg)
{
	(void)ev;
	(void)arg;
	return 0;
}

/*
 * As vc-source reads an answer: fed in pieces (an odd size, so references
 * and multi-byte characters fall across piece boundaries), events handed
 * to cb one at a time, forbidden characters replaced.
 */
static xmlDocPtr
parse(const struct vp_buf *in, int (*cb)(xmlNodePtr, void *), struct run *r,
    int first)
{
	struct vim_stream *st = vim_stream_new(cb, r);
	const char *p = in->data ? in->data : "";
	size_t left = in->len, k;
	char err[512];
	xmlDocPtr doc;

	if (st == NULL)
		vp_die(VP_EXIT_SOFTWARE, "out of memory");
	for (; left > 0; p += k, left -= k) {
		k = left < 4093 ? left : 4093;
		if (vim_stream_feed(st, p, k) != 0)
			break;
	}
	doc = vim_stream_end(st, err, sizeof(err));
	if (first && vim_stream_replaced(st) > 0)
		vp_warn("stdin: %zu character%s XML forbids replaced with "
		    "U+FFFD", vim_stream_replaced(st),
		    vim_stream_replaced(st) == 1 ? "" : "s");
	if (doc == NULL && vim_stream_stopped(st))
		vp_die(VP_EXIT_IOERR, "stdout: write error");
	if (doc == NULL)
		vp_die(VP_EXIT_DATAERR, "stdin: %s", err);
	vim_stream_free(st);
	return doc;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "log-json", no_argument, NULL, 'J' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "meta", no_argument, NULL, 'm' },
		{ "raw", no_argument, NULL, 'r' },
		{ "repeat", required_argument, NULL, 'n' },
		{ "vcenter", required_argument, NULL, 'c' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct run r;
	struct vp_buf in = { 0 };
	char buf[65536], *end;
	size_t n;
	long repeat = 1, i;
	int ch;
	double t0, t1, tp = 0, tm;

	vp_log_init(argv[0]);
	memset(&r, 0, sizeof(r));
	r.src.vcenter = "https://vc.example.com/sdk";
	r.src.instance_uuid = "00000000-0000-0000-0000-000000000000";
	r.src.api_version = "7.0";
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			r.src.vcenter = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return VP_EXIT_OK;
		case 'J':
			vp_log_set_json(1);
			break;
		case 'L':
			vp_log_level_option(optarg);
			break;
		case 'm':
			r.mode = 1;
			break;
		case 'n':
			repeat = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || repeat < 1 ||
			    repeat > 1000000)
				vp_usage_error("--repeat: expected 1 to 1000000, "
				    "got \"%s\"", optarg);
			break;
		case 'r':
			r.mode = 2;
			break;
		case 'V':
			vp_print_versions("vimjson-tool", vim_libxml2_version());
			return VP_EXIT_OK;
		default:
			fputs(usage_text, stderr);
			return VP_EXIT_USAGE;
		}
	}
	if (optind != argc)
		vp_usage_error("unexpected argument \"%s\"", argv[optind]);
	vp_signals_init();
	while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0)
		vp_buf_append(&in, buf, n);
	if (ferror(stdin))
		vp_die(VP_EXIT_IOERR, "stdin: read error");
	/* parsing alone first (events dropped as parsed), for the figures */
	if (repeat > 1) {
		tm = now_s();
		for (i = 0; i < repeat; i++)
			xmlFreeDoc(parse(&in, drop, NULL, 0));
		tp = now_s() - tm;
	}
	t0 = now_s();
	for (i = 0; i < repeat; i++) {
		r.print = i == 0;
		xmlFreeDoc(parse(&in, one, &r, i == 0));
	}
	t1 = now_s();
	if (t1 - t0 <= tp)	/* a noisy machine: no figure for mapping */
		tp = 0;
	if (repeat > 1 && t1 > t0)
		fprintf(stderr, "vimjson-tool: %ld events in %.0f ms: %.0f events/s "
		    "(parse + map); parsing %.0f ms, mapping alone %.0f events/s, "
		    "%.1f MB/s of JSON\n", r.events, (t1 - t0) * 1000,
		    (double)r.events / (t1 - t0), tp * 1000,
		    (double)r.events / (t1 - t0 - tp),
		    (double)r.bytes * (double)repeat / (t1 - t0 - tp) / 1e6);
	vp_buf_free(&in);
	vp_buf_free(&r.out);
	if (vp_close_stdout() != 0)
		return VP_EXIT_IOERR;
	return r.failed ? VP_EXIT_DATAERR : VP_EXIT_OK;
}
