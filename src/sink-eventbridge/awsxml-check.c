/*
 * awsxml-check: run the XML reader on a file for t/0521, which compares it
 * with Python's ElementTree.  Usage: awsxml-check FILE PATH...  Prints one
 * line per PATH ("PATH=TEXT", or "PATH absent"), or "error: REASON" and
 * exits 1 when the document is refused.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "awsxml.h"
#include "vp.h"

int
main(int argc, char **argv)
{
	struct eb_xml_want w[16];
	char err[256], *doc;
	size_t len, n = (size_t)argc - 2;

	vp_log_init(argv[0]);
	if (argc < 3 || n > 16) {
		fprintf(stderr, "usage: awsxml-check FILE PATH...\n");
		return VP_EXIT_USAGE;
	}
	if ((doc = vp_read_file(argv[1], 1 << 20, &len)) == NULL)
		vp_die(VP_EXIT_NOINPUT, "%s: %s", argv[1], strerror(errno));
	for (size_t i = 0; i < n; i++)
		w[i].path = argv[i + 2];
	if (eb_xml_extract(doc, len, w, n, err, sizeof(err)) != 0) {
		printf("error: %s\n", err);
		free(doc);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		if (w[i].text)
			printf("%s=%s\n", w[i].path, w[i].text);
		else
			printf("%s absent\n", w[i].path);
	}
	eb_xml_free(w, n);
	free(doc);
	return 0;
}
