/*
 * ebpattern-check: run the pattern matcher over a table of cases.
 *
 * Each input line is {"doc": "...", "pattern": PATTERN, "event": EVENT,
 * "match": BOOL} or {"doc": "...", "pattern": PATTERN, "error": true};
 * PATTERN may be a JSON value or a string holding one (as DescribeRule
 * returns it).  Prints one line per case and exits 1 when any case
 * disagrees with its expectation.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pattern.h"

int
main(int argc, char **argv)
{
	FILE *fp;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int lineno = 0, bad = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: ebpattern-check FILE\n");
		return 64;
	}
	if ((fp = fopen(argv[1], "r")) == NULL) {
		perror(argv[1]);
		return 66;
	}
	while ((n = getline(&line, &cap, fp)) > 0) {
		json_t *c, *pj, *ev;
		char *ptext, err[256];
		const char *doc, *got;
		struct eb_pattern *p;
		int want_err, want_match;

		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if ((c = json_loads(line, 0, NULL)) == NULL) {
			fprintf(stderr, "%s:%d: bad case\n", argv[1], lineno);
			return 65;
		}
		doc = json_string_value(json_object_get(c, "doc"));
		pj = json_object_get(c, "pattern");
		ptext = json_is_string(pj) ? strdup(json_string_value(pj)) :
		    json_dumps(pj, JSON_COMPACT | JSON_ENCODE_ANY);
		ev = json_object_get(c, "event");
		want_err = json_is_true(json_object_get(c, "error"));
		want_match = json_is_true(json_object_get(c, "match"));
		p = eb_pattern_compile(ptext, strlen(ptext), err, sizeof(err));
		if (p == NULL)
			got = "error";
		else
			got = eb_pattern_match(p, ev) ? "match" : "nomatch";
		if (want_err ? p != NULL : (p == NULL ||
		    strcmp(got, want_match ? "match" : "nomatch") != 0)) {
			bad++;
			printf("line %d: WRONG %s: %s%s%s\n", lineno, got,
			    doc ? doc : "", p ? "" : " -- ", p ? "" : err);
		} else
			printf("line %d: %s: %s%s%s\n", lineno, got,
			    doc ? doc : "", p ? "" : " -- ", p ? "" : err);
		eb_pattern_free(p);
		free(ptext);
		json_decref(c);
	}
	free(line);
	fclose(fp);
	return bad ? 1 : 0;
}
