/*
 * topic.c: the OpenFaaS vcenter-connector's topics
 * (openfaas-incubator/vcenter-connector pkg/events/events.go convertToTopic,
 * and camelCaseToLowerSeparated from vmware/dispatch, rune for rune).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "topic.h"
#include "vp.h"

static void
put_word(struct vp_buf *out, const char *w, size_t n)
{
	if (out->len > 0)
		vp_buf_append(out, ".", 1);
	for (size_t i = 0; i < n; i++) {
		char l = (char)tolower((unsigned char)w[i]);
		vp_buf_append(out, &l, 1);
	}
}

char *
vp_connector_topic(const char *name)
{
	struct vp_buf src = { 0 }, out = { 0 }, word = { 0 };
	char last = 0;

	for (const char *p = name; *p;) {
		if (strncmp(p, "Event", 5) == 0)
			p += 5;
		else
			vp_buf_append(&src, p++, 1);
	}
	for (size_t i = 0; i < src.len; i++) {
		char r = src.data[i];

		if (isupper((unsigned char)r)) {
			if (isupper((unsigned char)last))
				/* an acronym like ID or SDK goes on */
				vp_buf_append(&word, &r, 1);
			else {
				if (word.len > 0)
					put_word(&out, word.data, word.len);
				vp_buf_reset(&word);
				vp_buf_append(&word, &r, 1);
			}
		} else if (isupper((unsigned char)last) && word.len >= 2) {
			/* "SDKToString" holds SDKT: T starts the next word */
			put_word(&out, word.data, word.len - 1);
			vp_buf_reset(&word);
			vp_buf_append(&word, &last, 1);
			vp_buf_append(&word, &r, 1);
		} else
			vp_buf_append(&word, &r, 1);
		last = r;
	}
	if (word.len > 0)
		put_word(&out, word.data, word.len);
	vp_buf_free(&src);
	vp_buf_free(&word);
	if (out.data == NULL)
		vp_buf_append(&out, "", 0);
	return out.data;
}

static int
ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), m = strlen(tail);

	return n >= m && strcmp(s + n - m, tail) == 0;
}

char *
vp_event_class(const char *type, const char *subject, const char *eventclass)
{
	static const char vs[] = "com.vmware.vsphere.";
	const char *t = type ? type : "";
	size_t n;

	if (ends_with(t, "/eventex") || (eventclass &&
	    strcmp(eventclass, "eventex") == 0))
		return vp_xstrdup("EventEx");
	if (ends_with(t, "/extendedevent") || (eventclass &&
	    strcmp(eventclass, "extendedevent") == 0))
		return vp_xstrdup("ExtendedEvent");
	if (subject && *subject)
		return vp_xstrdup(subject);
	if (strncmp(t, vs, sizeof(vs) - 1) == 0 && ends_with(t, ".v0") &&
	    (n = strlen(t) - (sizeof(vs) - 1) - 3) > 0) {
		char *c = vp_xmalloc(n + 1);

		memcpy(c, t + sizeof(vs) - 1, n);
		c[n] = '\0';
		return c;
	}
	return NULL;
}
