/*
 * awsxml.h: the text of a few elements of a small XML answer (AWS Query
 * APIs such as STS), without linking libxml2 (and its ICU) into a sink.
 */
#ifndef EB_AWSXML_H
#define EB_AWSXML_H

#include <stddef.h>

#define EB_XML_MAX_WANT 16

struct eb_xml_want {
	const char *path;	/* local names from the root: "A/B/C" */
	char *text;		/* out: the first such element's text, trimmed;
				 * NULL when absent; free with vp_free_secret */
};

/*
 * Check that doc is well-formed XML (tags nest and match, attributes are
 * quoted, references are the predefined ones or characters; a DOCTYPE is
 * refused) and fill each want (at most EB_XML_MAX_WANT).  Namespace prefixes are ignored.  Returns 0,
 * or -1 with the reason (and every text NULL).
 */
int eb_xml_extract(const char *doc, size_t len, struct eb_xml_want *w,
    size_t n, char *err, size_t errlen);
void eb_xml_free(struct eb_xml_want *w, size_t n);

#endif
