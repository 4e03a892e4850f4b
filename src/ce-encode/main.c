/*
 * ce-encode: wrap each raw vCenter event line (or an event that already is a
 * CloudEvent) as one CloudEvent 1.0 line, structured or binary mode.
 *
 * stdin and stdout are driven with read(2)/write(2) on reused buffers: the
 * stage sits between a SOAP reader and an HTTP sink and should cost neither
 * CPU nor memory. Output is written out whenever ce-encode is about to wait
 * for input, so no finished line ever waits in a buffer while the stage
 * blocks, and a burst is still written in few system calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* version macros only: ce-encode links none of these libraries */
#include <curl/curlver.h>
#include <jansson.h>
#include <libxml/xmlversion.h>

#include "encode.h"
#include "vp.h"

#define DEFAULT_MAX_LINE (1024 * 1024)
#define READ_CHUNK 65536
#define OUT_FLUSH 65536

static const char usage_text[] =
    "usage: ce-encode [--mode structured | binary] [--type-style router | vsphere]\n"
    "                 [--id stable | uuid | key] [--source URI] [--set NAME=VALUE ...]\n"
    "                 [--strict] [--reject FILE] [--max-line-bytes N]\n"
    "                 [--log-level LEVEL] [--log-json]\n"
    "       ce-encode --help | --version\n";

static void
usage_help(void)
{
	fputs(usage_text, stdout);
	fputs("\nRead raw vCenter event lines (or CloudEvents) on stdin and write one\n"
	    "CloudEvent 1.0 per line on stdout. Bad lines are reported with their\n"
	    "line number, skipped and kept in --reject FILE (--strict: stop).\n"
	    "See ce-encode(1) and vcpipe-formats(5).\n", stdout);
}

/* ---- output ---------------------------------------------------------------- */

static struct vp_buf outb;

static void
out_flush(void)
{
	size_t off = 0;

	while (off < outb.len) {
		ssize_t n = write(STDOUT_FILENO, outb.data + off, outb.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EPIPE)
			vp_die(VP_EXIT_IOERR, "stdout: the next stage is gone");
		if (n < 0)
			vp_die(VP_EXIT_IOERR, "stdout: %s", strerror(errno));
		off += (size_t)n;
	}
	vp_buf_reset(&outb);
}

static void
out_line(const char *s, size_t n)
{
	vp_buf_append(&outb, s, n);
	vp_buf_append(&outb, "\n", 1);
	if (outb.len >= OUT_FLUSH)
		out_flush();
}

/* ---- input ----------------------------------------------------------------- */

struct reader {
	int fd;
	char *buf;
	size_t cap, beg, end, scan, max;
	int eof;
	int stopped;		/* SIGTERM/SIGINT: no more reading */
	sigset_t waitmask;	/* signal mask while waiting for input */
	unsigned long lineno;
	struct vp_buf prefix;	/* the kept start of an over-long line */
	size_t total;		/* that line's full length */
};

enum rd_status { RD_LINE, RD_TOOLONG, RD_EOF, RD_ERROR };

static int
fill(struct reader *r)
{
	ssize_t n;

	if (r->beg > 0) {
		memmove(r->buf, r->buf + r->beg, r->end - r->beg);
		r->end -= r->beg;
		r->scan -= r->beg;
		r->beg = 0;
	}
	if (r->cap - r->end < READ_CHUNK / 4) {
		r->cap *= 2;
		r->buf = vp_xrealloc(r->buf, r->cap);
	}
	out_flush();		/* about to wait: nothing finished stays behind */
	/*
	 * SIGTERM and SIGINT are blocked except inside ppoll, so a stop
	 * request arriving just before the wait cannot be missed.
	 */
	for (;;) {
		struct pollfd pfd = { r->fd, POLLIN, 0 };

		if (vp_stop_requested) {
			r->eof = r->stopped = 1;
			return 0;
		}
		if (ppoll(&pfd, 1, NULL, &r->waitmask) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		n = read(r->fd, r->buf + r->end, r->cap - r->end);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		break;
	}
	if (n < 0)
		return -1;
	if (n == 0)
		r->eof = 1;
	r->end += (size_t)n;
	return 0;
}

/* Skip the rest of an over-long line, counting its bytes. */
static int
discard_line(struct reader *r)
{
	for (;;) {
		char *nl = memchr(r->buf + r->beg, '\n', r->end - r->beg);
		if (nl != NULL) {
			r->total += (size_t)(nl - (r->buf + r->beg));
			r->beg = r->scan = (size_t)(nl - r->buf) + 1;
			return 0;
		}
		r->total += r->end - r->beg;
		r->beg = r->scan = r->end;
		if (r->eof)
			return 0;
		if (fill(r) != 0)
			return -1;
	}
}

static enum rd_status
read_line(struct reader *r, const char **line, size_t *len)
{
	for (;;) {
		char *nl = memchr(r->buf + r->scan, '\n', r->end - r->scan);
		size_t n;

		if (nl == NULL && r->stopped && r->beg < r->end) {
			/* a line cut short by the stop: not an event, not lost silently */
			vp_warn("stdin:%lu: stopped before the end of this line; "
			    "%zu bytes not encoded", r->lineno + 1, r->end - r->beg);
			r->beg = r->scan = r->end;
			return RD_EOF;
		}
		if (nl != NULL || (r->eof && r->beg < r->end)) {
			n = nl ? (size_t)(nl - (r->buf + r->beg)) : r->end - r->beg;
			*line = r->buf + r->beg;
			*len = n;
			r->beg = r->scan = nl ? (size_t)(nl - r->buf) + 1 : r->end;
			r->lineno++;
			if (n > r->max) {
				vp_buf_reset(&r->prefix);
				vp_buf_append(&r->prefix, *line, r->max);
				r->total = n;
				return RD_TOOLONG;
			}
			return RD_LINE;
		}
		if (r->eof)
			return RD_EOF;
		r->scan = r->end;
		if (r->end - r->beg > r->max) {
			/* keep what the reject file shows, drop the rest unread */
			vp_buf_reset(&r->prefix);
			vp_buf_append(&r->prefix, r->buf + r->beg, r->max);
			r->total = 0;
			r->lineno++;
			if (discard_line(r) != 0)
				return RD_ERROR;
			return RD_TOOLONG;
		}
		if (fill(r) != 0)
			return RD_ERROR;
	}
}

/* ---- rejects ----------------------------------------------------------------- */

struct rejects {
	const char *path;
	int fd;
	unsigned long count;
	struct vp_buf rec;
};

/*
 * One JSON object per line, appended and fsynced so a crash right after
 * cannot lose it: {"line":N,"error":"...","input":"..."}; input_base64
 * instead of input when the line is not UTF-8; for an over-long line the
 * first --max-line-bytes bytes plus "truncated":true and its "bytes".
 */
static void
reject_write(struct rejects *rj, unsigned long lineno, const char *err,
    const char *line, size_t len, size_t total)
{
	struct vp_buf *b = &rj->rec;
	size_t off = 0;

	vp_buf_reset(b);
	vp_buf_printf(b, "{\"line\":%lu,\"error\":", lineno);
	js_quote(b, err, strlen(err));
	if (total > len)
		vp_buf_printf(b, ",\"truncated\":true,\"bytes\":%zu", total);
	if (utf8_valid_prefix(line, len) == len) {
		vp_buf_append(b, ",\"input\":", 9);
		js_quote(b, line, len);
	} else {
		vp_buf_append(b, ",\"input_base64\":\"", 17);
		b64_encode(b, line, len);
		vp_buf_append(b, "\"", 1);
	}
	vp_buf_append(b, "}\n", 2);
	while (off < b->len) {
		ssize_t n = write(rj->fd, b->data + off, b->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			vp_die(VP_EXIT_IOERR, "%s: %s", rj->path, strerror(errno));
		off += (size_t)n;
	}
	if (fsync(rj->fd) != 0)
		vp_die(VP_EXIT_IOERR, "%s: %s", rj->path, strerror(errno));
}

static void
reject(struct rejects *rj, int strict, unsigned long lineno, const char *err,
    const char *line, size_t len, size_t total)
{
	rj->count++;
	vp_error("stdin:%lu: %s", lineno, err);
	if (rj->fd >= 0)
		reject_write(rj, lineno, err, line, len, total);
	if (strict) {
		out_flush();
		exit(VP_EXIT_DATAERR);
	}
}

/* ---- options ------------------------------------------------------------------ */

static size_t
parse_size(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *s == '-')
		return 0;
	switch (*end) {
	case 'k': case 'K': v *= 1024; end++; break;
	case 'm': case 'M': v *= 1024 * 1024; end++; break;
	case 'g': case 'G': v *= 1024ULL * 1024 * 1024; end++; break;
	default: break;
	}
	if (*end != '\0' || v < 64 || v > 1024ULL * 1024 * 1024)
		return 0;
	return (size_t)v;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "id", required_argument, NULL, 'i' },
		{ "log-json", no_argument, NULL, 'J' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "max-line-bytes", required_argument, NULL, 'M' },
		{ "mode", required_argument, NULL, 'm' },
		{ "reject", required_argument, NULL, 'r' },
		{ "set", required_argument, NULL, 'x' },
		{ "source", required_argument, NULL, 's' },
		{ "strict", no_argument, NULL, 'S' },
		{ "type-style", required_argument, NULL, 't' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct ce_config cfg = { CE_STRUCTURED, CE_ROUTER, CE_ID_V5, NULL,
	    NULL, 0 };
	struct ce_set *sets = NULL;
	struct rejects rj = { NULL, -1, 0, { 0 } };
	struct reader rd;
	struct ce_encoder enc;
	size_t max_line = DEFAULT_MAX_LINE, nsets = 0;
	unsigned long encoded = 0;
	int c, strict = 0;

	vp_log_init(argv[0]);
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage_help();
			return VP_EXIT_OK;
		case 'i':
			if (strcmp(optarg, "stable") == 0)
				cfg.id = CE_ID_V5;
			else if (strcmp(optarg, "uuid") == 0)
				cfg.id = CE_ID_UUID;
			else if (strcmp(optarg, "key") == 0)
				cfg.id = CE_ID_KEY;
			else
				vp_usage_error("--id: want stable, uuid or key, not \"%s\"",
				    optarg);
			break;
		case 'J':
			vp_log_set_json(1);
			break;
		case 'L':
			vp_log_level_option(optarg);
			break;
		case 'M':
			if ((max_line = parse_size(optarg)) == 0)
				vp_usage_error("--max-line-bytes: want 64 to 1G bytes, "
				    "not \"%s\"", optarg);
			break;
		case 'm':
			if (strcmp(optarg, "structured") == 0)
				cfg.mode = CE_STRUCTURED;
			else if (strcmp(optarg, "binary") == 0)
				cfg.mode = CE_BINARY;
			else
				vp_usage_error("--mode: want structured or binary, not \"%s\"",
				    optarg);
			break;
		case 'r':
			rj.path = optarg;
			break;
		case 'S':
			strict = 1;
			break;
		case 's':
			if (!ce_uri_ok(optarg, strlen(optarg)))
				vp_usage_error("--source: \"%s\" is not a URI reference",
				    optarg);
			cfg.source = optarg;
			break;
		case 't':
			if (strcmp(optarg, "router") == 0)
				cfg.style = CE_ROUTER;
			else if (strcmp(optarg, "vsphere") == 0)
				cfg.style = CE_VSPHERE;
			else
				vp_usage_error("--type-style: want router or vsphere, not \"%s\"",
				    optarg);
			break;
		case 'V':
			printf("%s (vcpipe) %s\n", vp_progname, PACKAGE_VERSION);
			printf("built with libcurl %s, jansson %s, libxml2 %s; "
			    "%s itself needs only libc\n", LIBCURL_VERSION,
			    JANSSON_VERSION, LIBXML_DOTTED_VERSION, vp_progname);
			return VP_EXIT_OK;
		case 'x': {
			char *eq = strchr(optarg, '=');
			size_t nl = eq ? (size_t)(eq - optarg) : 0;

			if (eq == NULL)
				vp_usage_error("--set: want NAME=VALUE, not \"%s\"", optarg);
			if (!ce_ext_name_ok(optarg, nl))
				vp_usage_error("--set: extension name \"%.*s\" must be 1 to 20 "
				    "of a-z and 0-9", (int)nl, optarg);
			if (ce_name_reserved(optarg, nl))
				vp_usage_error("--set: \"%.*s\" is reserved", (int)nl,
				    optarg);
			if (utf8_valid_prefix(eq + 1, strlen(eq + 1)) != strlen(eq + 1))
				vp_usage_error("--set %.*s: value is not UTF-8", (int)nl,
				    optarg);
			for (size_t i = 0; i < nsets; i++)
				if (strlen(sets[i].name) == nl &&
				    memcmp(sets[i].name, optarg, nl) == 0)
					vp_usage_error("--set: \"%.*s\" given twice", (int)nl,
					    optarg);
			*eq = '\0';
			sets = vp_xrealloc(sets, (nsets + 1) * sizeof(*sets));
			sets[nsets].name = optarg;
			sets[nsets].value = eq + 1;
			nsets++;
			break;
		}
		default:
			fputs(usage_text, stderr);
			return VP_EXIT_USAGE;
		}
	}
	if (optind != argc)
		vp_usage_error("unexpected argument \"%s\" (input is stdin)",
		    argv[optind]);
	cfg.set = sets;
	cfg.nset = nsets;

	vp_signals_init();
	if (rj.path != NULL && (rj.fd = open(rj.path,
	    O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0)
		vp_die(VP_EXIT_IOERR, "%s: %s", rj.path, strerror(errno));

	memset(&rd, 0, sizeof(rd));
	{
		sigset_t stop;

		sigemptyset(&stop);
		sigaddset(&stop, SIGTERM);
		sigaddset(&stop, SIGINT);
		sigprocmask(SIG_BLOCK, &stop, &rd.waitmask);
		sigdelset(&rd.waitmask, SIGTERM);
		sigdelset(&rd.waitmask, SIGINT);
	}
	rd.fd = STDIN_FILENO;
	rd.max = max_line;
	rd.cap = READ_CHUNK;
	rd.buf = vp_xmalloc(rd.cap);
	ce_encoder_init(&enc, &cfg);

	for (;;) {
		const char *line = NULL;
		size_t len = 0;
		enum rd_status st = read_line(&rd, &line, &len);
		char msg[64];

		if (st == RD_EOF)
			break;
		if (st == RD_ERROR) {
			out_flush();
			vp_die(VP_EXIT_IOERR, "stdin: %s", strerror(errno));
		}
		if (st == RD_TOOLONG) {
			snprintf(msg, sizeof(msg), "line longer than %zu bytes",
			    max_line);
			reject(&rj, strict, rd.lineno, msg, rd.prefix.data,
			    rd.prefix.len, rd.total);
			continue;
		}
		switch (ce_encode_line(&enc, line, len)) {
		case CE_OK:
			out_line(enc.out.data, enc.out.len);
			encoded++;
			break;
		case CE_SKIP:
			break;
		case CE_BAD:
			reject(&rj, strict, rd.lineno, enc.err, line, len, len);
			break;
		}
	}
	out_flush();
	if (close(STDOUT_FILENO) != 0 && errno != EINTR)
		vp_die(VP_EXIT_IOERR, "stdout: %s", strerror(errno));
	vp_info("%lu events encoded, %lu lines rejected", encoded, rj.count);
	ce_encoder_free(&enc);
	vp_buf_free(&outb);
	vp_buf_free(&rd.prefix);
	vp_buf_free(&rj.rec);
	free(rd.buf);
	free(sets);
	if (rj.fd >= 0 && close(rj.fd) != 0)
		vp_die(VP_EXIT_IOERR, "%s: %s", rj.path, strerror(errno));
	if (rj.count > 0 && rj.fd < 0) {
		vp_error("%lu lines rejected and not kept (no --reject file)",
		    rj.count);
		return VP_EXIT_DATAERR;
	}
	if (rj.count > 0)
		vp_warn("%lu lines rejected, kept in %s", rj.count, rj.path);
	return VP_EXIT_OK;
}
