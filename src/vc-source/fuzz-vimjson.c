/*
 * fuzz-vimjson: fuzz target for the vim25 XML -> JSON mapper.
 *
 * With clang: cc -DVP_LIBFUZZER -fsanitize=fuzzer,address,undefined ... gives a
 * libFuzzer binary (t/0210-fuzz-vimjson.t builds and runs one briefly).
 * Without VP_LIBFUZZER it is a standalone driver that replays the files and
 * directories named on the command line (a corpus) through the same code.
 *
 * Beyond "no crash", every event mapped must be valid JSON (an object), and
 * its metadata consistent: that is checked with jansson and aborts if not.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vimjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
one(struct vim_node *ev, void *arg)
{
	struct vp_buf out = { 0 };
	struct vim_event_meta m;
	json_error_t je;
	json_t *j;
	char err[512];

	(void)arg;
	if (vim_event_json(ev, &out, &m, err, sizeof(err)) == 0) {
		/* uint64 beyond int64 is valid JSON jansson only reads as a real. */
		j = json_loadb(out.data, out.len, JSON_DECODE_INT_AS_REAL, &je);
		if (j == NULL || !json_is_object(j)) {
			fprintf(stderr, "fuzz-vimjson: invalid JSON (%s): %s\n",
			    j ? "not an object" : je.text, out.data);
			abort();
		}
		json_decref(j);
		if ((j = vim_event_to_json(ev, err, sizeof(err))) == NULL) {
			fprintf(stderr, "fuzz-vimjson: jansson API failed after "
			    "the text API succeeded: %s\n", err);
			abort();
		}
		json_decref(j);
		if (m.class == NULL || m.category == NULL ||
		    strlen(m.created) < 20) {
			fprintf(stderr, "fuzz-vimjson: bad metadata\n");
			abort();
		}
		vim_event_meta_free(&m);
		vp_buf_reset(&out);
		if (vim_raw_line(&(struct vim_source){ "u", NULL, "v" }, ev,
		    &out, NULL, err, sizeof(err)) != 0) {
			fprintf(stderr, "fuzz-vimjson: raw line failed after "
			    "data succeeded: %s\n", err);
			abort();
		}
	} else if (err[0] == '\0' || out.len != 0) {
		fprintf(stderr, "fuzz-vimjson: failure without message or with output\n");
		abort();
	}
	vp_buf_free(&out);
	return 0;
}

/*
 * Both ways vc-source and the tools parse: the whole document, then the
 * stream in pieces whose size the input's length picks (events handed
 * over one at a time, forbidden characters replaced across pieces).
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	struct vim_doc *doc;
	struct vim_stream *st;
	size_t piece = 1 + size % 97, k;

	if ((doc = vim_parse((const char *)data, size, err, sizeof(err))) != NULL) {
		vim_foreach_event(vim_doc_root(doc), one, NULL);
		vim_doc_free(doc);
	}
	if ((st = vim_stream_new(one, NULL)) == NULL)
		return 0;
	for (; size > 0; data += k, size -= k) {
		k = size < piece ? size : piece;
		if (vim_stream_feed(st, (const char *)data, k) != 0)
			break;
	}
	vim_doc_free(vim_stream_end(st, err, sizeof(err)));
	vim_stream_free(st);
	return 0;
}

#ifndef VP_LIBFUZZER
static void
replay_file(const char *path, long *n)
{
	struct vp_buf b = { 0 };
	char buf[65536];
	size_t k;
	FILE *fp;

	if ((fp = fopen(path, "rb")) == NULL)
		vp_die(VP_EXIT_NOINPUT, "%s: cannot open", path);
	while ((k = fread(buf, 1, sizeof(buf), fp)) > 0)
		vp_buf_append(&b, buf, k);
	fclose(fp);
	LLVMFuzzerTestOneInput((const uint8_t *)(b.data ? b.data : ""), b.len);
	vp_buf_free(&b);
	(*n)++;
}

static void
replay(const char *path, long *n)
{
	struct dirent **ents;
	struct stat st;
	char sub[4096];
	int i, cnt;

	if (stat(path, &st) != 0)
		vp_die(VP_EXIT_NOINPUT, "%s: cannot open", path);
	if (!S_ISDIR(st.st_mode)) {
		replay_file(path, n);
		return;
	}
	if ((cnt = scandir(path, &ents, NULL, alphasort)) < 0)
		vp_die(VP_EXIT_NOINPUT, "%s: cannot read directory", path);
	for (i = 0; i < cnt; i++) {
		if (ents[i]->d_name[0] != '.') {
			snprintf(sub, sizeof(sub), "%s/%s", path, ents[i]->d_name);
			replay(sub, n);
		}
		free(ents[i]);
	}
	free(ents);
}

int
main(int argc, char **argv)
{
	long n = 0;
	int i;

	vp_log_init(argv[0]);
	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		fputs("usage: fuzz-vimjson file-or-directory ...\n",
		    argc < 2 ? stderr : stdout);
		return argc < 2 ? VP_EXIT_USAGE : VP_EXIT_OK;
	}
	for (i = 1; i < argc; i++)
		replay(argv[i], &n);
	printf("fuzz-vimjson: replayed %ld inputs\n", n);
	return VP_EXIT_OK;
}
#endif
