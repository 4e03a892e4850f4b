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
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "encode.h"
#include "opt.h"
#include "vp.h"
#include "help/ce-encode.h"

#define READ_CHUNK 65536
#define OUT_FLUSH 65536

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
		struct pollfd pfd[2] = { { r->fd, POLLIN, 0 },
		    { vp_stdout_watch, 0, 0 } };

		if (vp_stop_requested) {
			r->eof = r->stopped = 1;
			return 0;
		}
		if (ppoll(pfd, 2, NULL, &r->waitmask) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		/* no event will ever get through: go now, not at the next */
		if (pfd[1].revents & (POLLERR | POLLHUP))
			vp_die(VP_EXIT_IOERR, "stdout: the next stage is gone");
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
	if (vp_utf8_valid_prefix(line, len) == len) {
		vp_buf_append(b, ",\"input\":", 9);
		js_quote(b, line, len);
	} else {
		vp_buf_append(b, ",\"input_base64\":\"", 17);
		vp_b64_encode(b, line, len);
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

static struct {
	int mode, style, id, payload, strict;
	const char *reject;
	size_t max_line;
	struct ce_set *sets;
	size_t nsets;
} opt;

static int
source_arg(void *dest, const char *v, char *err, size_t errlen)
{
	if (!ce_uri_ok(v, strlen(v))) {
		snprintf(err, errlen, "\"%s\" is not a URI reference", v);
		return -1;
	}
	*(const char **)dest = v;
	return 0;
}

/* --set NAME=VALUE: an extension attribute added to every event. */
static int
set_arg(void *dest, const char *v, char *err, size_t errlen)
{
	char *eq = strchr((char *)v, '=');	/* argv is writable */
	size_t nl = eq ? (size_t)(eq - v) : 0;

	(void)dest;
	if (eq == NULL) {
		snprintf(err, errlen, "expected NAME=VALUE, got \"%s\"", v);
		return -1;
	}
	if (!ce_ext_name_ok(v, nl)) {
		snprintf(err, errlen, "extension name \"%.*s\" must be a-z "
		    "and 0-9", (int)nl, v);
		return -1;
	}
	if (ce_name_reserved(v, nl)) {
		snprintf(err, errlen, "\"%.*s\" is reserved", (int)nl, v);
		return -1;
	}
	if (vp_utf8_valid_prefix(eq + 1, strlen(eq + 1)) != strlen(eq + 1)) {
		snprintf(err, errlen, "\"%.*s\": the value is not UTF-8",
		    (int)nl, v);
		return -1;
	}
	for (size_t i = 0; i < opt.nsets; i++)
		if (strlen(opt.sets[i].name) == nl &&
		    memcmp(opt.sets[i].name, v, nl) == 0) {
			snprintf(err, errlen, "\"%.*s\" given twice", (int)nl, v);
			return -1;
		}
	*eq = '\0';
	opt.sets = vp_xrealloc(opt.sets, (opt.nsets + 1) * sizeof(*opt.sets));
	opt.sets[opt.nsets].name = v;
	opt.sets[opt.nsets].value = eq + 1;
	opt.nsets++;
	return 0;
}

static struct ce_config cfg;

/* options: src/ce-encode/options.tab */
#include "opts/ce-encode.h"

/* --help: help/ce-encode.h, made of man/ce-encode.1 */
static const struct vp_cmd cmd = VP_PROGRAM(options, NULL);

int
main(int argc, char **argv)
{
	struct rejects rj = { NULL, -1, 0, { 0 } };
	struct reader rd;
	struct ce_encoder enc;
	unsigned long encoded = 0;

	vp_opt_parse(&cmd, argc, argv);
	cfg.mode = (enum ce_mode)opt.mode;
	cfg.style = (enum ce_style)opt.style;
	cfg.id = (enum ce_idmode)opt.id;
	cfg.payload = (enum ce_payload)opt.payload;
	cfg.set = opt.sets;
	cfg.nset = opt.nsets;
	rj.path = opt.reject;

	vp_signals_init();
	vp_watch_stdout();
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
	rd.max = opt.max_line;
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
			    opt.max_line);
			reject(&rj, opt.strict, rd.lineno, msg, rd.prefix.data,
			    rd.prefix.len, rd.total);
			continue;
		}
		switch (ce_encode_line(&enc, line, len)) {
		case ENC_OK:
			out_line(enc.out.data, enc.out.len);
			encoded++;
			break;
		case ENC_SKIP:
			break;
		case ENC_BAD:
			reject(&rj, opt.strict, rd.lineno, enc.err, line, len, len);
			break;
		}
	}
	out_flush();
	if (close(STDOUT_FILENO) != 0 && errno != EINTR)
		vp_die(VP_EXIT_IOERR, "stdout: %s", strerror(errno));
	vp_info("%lu event%s encoded, %lu line%s rejected", encoded,
	    encoded == 1 ? "" : "s", rj.count, rj.count == 1 ? "" : "s");
	ce_encoder_free(&enc);
	vp_buf_free(&outb);
	vp_buf_free(&rd.prefix);
	vp_buf_free(&rj.rec);
	free(rd.buf);
	free(opt.sets);
	if (rj.fd >= 0 && close(rj.fd) != 0)
		vp_die(VP_EXIT_IOERR, "%s: %s", rj.path, strerror(errno));
	if (rj.count > 0 && rj.fd < 0) {
		vp_error("%lu line%s rejected and not kept (no --reject file)",
		    rj.count, rj.count == 1 ? "" : "s");
		return VP_EXIT_DATAERR;
	}
	if (rj.count > 0)
		vp_warn("%lu line%s rejected, kept in %s", rj.count,
		    rj.count == 1 ? "" : "s", rj.path);
	return VP_EXIT_OK;
}
