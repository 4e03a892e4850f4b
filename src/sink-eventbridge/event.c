/*
 * event.c: an input line as an EventBridge entry.
 *
 * Lines are read by src/lib/ce.c, as every stage reads them. Structured
 * CloudEvents go out as the Detail byte for byte; binary-mode lines
 * (headers and body) are written as the structured CloudEvent they hold; a
 * dead-letter record replays as the event it holds.
 */
#include <stdlib.h>
#include <string.h>

#include "ce.h"
#include "eb.h"

void
ev_free(struct ev *e)
{
	if (e == NULL)
		return;
	vp_evpos_free(&e->pos);
	if (e->ctl)
		vp_sink_ctl_free(e->ctl);
	VP_FREE_EACH(e->line, e->dtype, e->detail, e->why, e->code, e->ctl, e);
}

const char *
json_str_member(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* One reader for the whole run: its buffers are reused line after line. */
static struct ce_event reader;

int
ev_parse(struct ev *e, char *err, size_t errlen)
{
	struct ce_event *ce = &reader;
	const char *text;
	size_t tlen;
	enum ce_result rc;

	rc = ce_read(ce, e->line, e->len, 0);
	/*
	 * A dead-letter record is built on the line without any "deadletter"
	 * member (a replayed record's old one goes), or keeps the line as a
	 * string when that is impossible: never a member twice.
	 */
	e->is_object = ce_record_text(ce, &text, &tlen);
	if (e->is_object && ce->record) {
		char *s = vp_xmalloc(tlen + 1);

		memcpy(s, text, tlen);
		s[tlen] = '\0';
		free(e->line);
		e->line = s;
		e->len = tlen;
	}
	if (rc != CE_OK) {
		snprintf(err, errlen, "%s", ce->err);
		return -1;
	}
	if (ce->shape == CE_SHAPE_STRUCTURED) {
		/* the CloudEvent as it was written, byte for byte */
		e->detail = vp_xmalloc(ce->text_len + 1);
		memcpy(e->detail, ce->text, ce->text_len);
		e->detail[ce->text_len] = '\0';
		e->detail_len = ce->text_len;
	} else {
		struct vp_buf b = { 0 };

		ce_write_structured(ce, &b);
		e->detail = b.data;
		e->detail_len = b.len;
	}
	vp_evpos_from_ce(&e->pos, ce);
	/* DetailType: the vCenter event class when there is one */
	e->dtype = ce_strdup(ce, ce->subject.set ? &ce->subject : &ce->type);
	if (e->pos.time) {
		int32_t ns;

		/* the reader checked it: RFC 3339 */
		if (vp_parse_rfc3339(e->pos.time, &e->tsec, &ns) == 0)
			e->has_time = 1;
	}
	e->size = (e->has_time ? ENTRY_TIME_BYTES : 0) + strlen(e->pos.source) +
	    strlen(e->dtype) + e->detail_len;
	return 0;
}

json_t *
ev_match_document(const struct eb *eb, const struct ev *e)
{
	json_t *d = json_object(), *ce;
	char tbuf[64];

	/*
	 * The rule engine needs a tree. Integers past 64 bits are still JSON:
	 * jansson reads them as reals then, which is how EventBridge
	 * compares numbers anyway.
	 */
	ce = json_loadb(e->detail, e->detail_len, 0, NULL);
	if (ce == NULL)
		ce = json_loadb(e->detail, e->detail_len,
		    JSON_DECODE_INT_AS_REAL, NULL);
	if (ce == NULL)
		ce = json_object();

	json_object_set_new(d, "version", json_string("0"));
	json_object_set_new(d, "detail-type", json_string(e->dtype));
	json_object_set_new(d, "source", json_string(e->pos.source));
	if (eb->account)
		json_object_set_new(d, "account", json_string(eb->account));
	if (e->has_time) {
		vp_format_rfc3339(e->tsec, 0, tbuf, sizeof(tbuf));
		json_object_set_new(d, "time", json_string(tbuf));
	}
	json_object_set_new(d, "region", json_string(eb->o.region));
	json_object_set_new(d, "resources", json_array());
	json_object_set_new(d, "detail", ce);
	return d;
}
