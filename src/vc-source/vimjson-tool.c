/*
 * vimjson-tool: print vc-source's JSON for each event in a SOAP response (or
 * a bare event element) read on stdin, one line per event. A check program:
 * the tests compare its output with govmomi's (t/vim-xml2json), and
 * bench/vimjson.sh times the mapper with --repeat.
 */
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>


#include "opt.h"
#include "vimjson.h"

struct run {
	int mode;		/* 0 data, 1 meta, 2 raw line, 3 VSphereSource XML,
				 * 4 what a keys-only parse built */
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
one(struct vim_node *ev, void *arg)
{
	struct run *r = arg;
	struct vim_event_meta m;
	char err[512];
	int rc;

	vp_buf_reset(&r->out);
	if (r->mode == 4) {
		/* the event's children: names, then key's and createdTime's text */
		const char *sep = "";

		for (struct vim_node *k = ev->children; k != NULL; k = k->next) {
			if (k->type != VIM_ELEMENT)
				continue;
			vp_buf_printf(&r->out, "%s%s", sep, k->name);
			sep = ",";
		}
		for (struct vim_node *k = ev->children; k != NULL; k = k->next) {
			char t[512];

			if (k->type != VIM_ELEMENT)
				continue;
			vim_node_text(k, t, sizeof(t));
			vp_buf_printf(&r->out, " %s", t);
		}
		r->events++;
		return r->print && vp_write_line(stdout, r->out.data,
		    r->out.len) != 0 ? -1 : 0;
	}
	if (r->mode == 2)
		rc = vim_raw_line(&r->src, ev, &r->out, &m, err, sizeof(err));
	else if (r->mode == 3)
		rc = vim_event_xml(ev, &r->out, err, sizeof(err));
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
	if (r->mode == 1 || r->mode == 2)
		vim_event_meta_free(&m);
	if (r->print && vp_write_line(stdout, r->out.data, r->out.len) != 0)
		return -1;
	return 0;
}

static int
drop(struct vim_node *ev, void *arg)
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
static struct vim_doc *
parse(const struct vp_buf *in, int (*cb)(struct vim_node *, void *), struct run *r,
    int first)
{
	struct vim_stream *st = vim_stream_new(cb, r);
	const char *p = in->data ? in->data : "";
	size_t left = in->len, k;
	char err[512];
	struct vim_doc *doc;

	if (st == NULL)
		vp_die(VP_EXIT_SOFTWARE, "out of memory");
	if (r != NULL && r->mode == 4)
		vim_stream_keys_only(st);
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

static struct {
	const char *vcenter;
	int keys, meta, raw, xml, repeat;
} opt;

/* options: src/vc-source/vimjson-tool.tab */
#include "opts/vimjson-tool.h"

static const struct vp_cmd cmd = {
	.name = "vimjson-tool",
	.synopsis = "[OPTION]... < RESPONSE.xml",
	.about = "Print vc-source's JSON for each event in a vim25 SOAP "
	    "response (or a bare event element) read on stdin, one line per "
	    "event. A check program for the tests and benches.",
	.opts = options,
	.libs = VP_LIBS({ NULL, vim_expat_version }, VP_LIB_JANSSON),
};

int
main(int argc, char **argv)
{
	struct run r;
	struct vp_buf in = { 0 };
	char buf[65536];
	size_t n;
	long repeat, i;
	double t0, t1, tp = 0, tm;

	vp_opt_parse(&cmd, argc, argv);
	memset(&r, 0, sizeof(r));
	r.src.vcenter = opt.vcenter;
	r.src.instance_uuid = "00000000-0000-0000-0000-000000000000";
	r.src.api_version = "7.0";
	r.mode = opt.keys ? 4 : opt.xml ? 3 : opt.raw ? 2 : opt.meta ? 1 : 0;
	repeat = opt.repeat;
	vp_signals_init();
	while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0)
		vp_buf_append(&in, buf, n);
	if (ferror(stdin))
		vp_die(VP_EXIT_IOERR, "stdin: read error");
	/* parsing alone first (events dropped as parsed), for the figures */
	if (repeat > 1) {
		tm = now_s();
		for (i = 0; i < repeat; i++)
			vim_doc_free(parse(&in, drop, NULL, 0));
		tp = now_s() - tm;
	}
	t0 = now_s();
	for (i = 0; i < repeat; i++) {
		r.print = i == 0;
		vim_doc_free(parse(&in, one, &r, i == 0));
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
