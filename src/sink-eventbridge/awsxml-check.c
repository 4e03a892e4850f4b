/*
 * awsxml-check: run the XML reader on files for t/0521, which compares it
 * with Python's ElementTree.  Usage: awsxml-check FILE... -- PATH...
 * Prints, for each FILE, "FILE" then one line per PATH ("PATH=TEXT" or
 * "PATH absent"; backslash, LF and CR in TEXT as \\, \n, \r), or
 * "error: REASON" when the document is refused.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "awsxml.h"
#include "vp.h"

#define MAX_WANT EB_XML_MAX_WANT

int
main(int argc, char **argv)
{
	struct eb_xml_want w[MAX_WANT];
	char err[256], *doc;
	size_t len, n = 0;
	int nfiles = 0;

	vp_log_init(argv[0]);
	while (nfiles + 1 < argc && strcmp(argv[nfiles + 1], "--") != 0)
		nfiles++;
	if (nfiles == 0 || nfiles + 2 >= argc || argc - nfiles - 2 > MAX_WANT) {
		fprintf(stderr, "usage: awsxml-check FILE... -- PATH...\n");
		return VP_EXIT_USAGE;
	}
	n = (size_t)(argc - nfiles - 2);
	for (size_t i = 0; i < n; i++)
		w[i].path = argv[nfiles + 2 + i];
	for (int f = 1; f <= nfiles; f++) {
		if ((doc = vp_read_file(argv[f], 1 << 20, &len)) == NULL)
			vp_die(VP_EXIT_NOINPUT, "%s: %s", argv[f],
			    strerror(errno));
		printf("%s\n", argv[f]);
		if (eb_xml_extract(doc, len, w, n, err, sizeof(err)) != 0)
			printf("error: %s\n", err);
		else
			for (size_t i = 0; i < n; i++) {
				if (w[i].text) {
					printf("%s=", w[i].path);
					for (char *c = w[i].text; *c; c++)
						if (*c == '\\' || *c == '\n' ||
						    *c == '\r')
							printf("\\%c", *c == '\n' ?
							    'n' : *c == '\r' ? 'r' : '\\');
						else
							putchar(*c);
					putchar('\n');
				} else
					printf("%s absent\n", w[i].path);
			}
		eb_xml_free(w, n);
		free(doc);
	}
	return 0;
}
