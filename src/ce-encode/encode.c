/*
 * encode.c: turn a raw event line, a structured CloudEvent or a binary-mode
 * line into one CloudEvent 1.0 line, structured or binary.
 *
 * CloudEvent lines are read by src/lib/ce.c, as every stage reads them; raw
 * event lines (vcpipe-formats(5)) are read here from the members ce.c found.
 * Output is written as JSON text straight into a reused buffer; event data
 * is copied from the input line as it is (minus insignificant whitespace),
 * so the cost per event is one validating pass plus one copy.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "sha1.h"

/* The vcpipe namespace for UUID v5 event ids (fixed forever: ids must not change). */
static const unsigned char vcpipe_ns[16] = {
	0xc6, 0x5a, 0xe1, 0xb9, 0x3c, 0x78, 0x4e, 0xc2,
	0x8b, 0x7c, 0xaa, 0x7d, 0x60, 0x9f, 0x0d, 0x9b
};

void
ce_encoder_init(struct ce_encoder *e, const struct ce_config *cfg)
{
	memset(e, 0, sizeof(*e));
	e->cfg = cfg;
	ce_event_init(&e->ev);
	/* allocated from the start: no NULL data pointers to special-case */
	vp_buf_append(&e->out, "", 0);
	vp_buf_append(&e->tmp, "", 0);
}

void
ce_encoder_free(struct ce_encoder *e)
{
	vp_buf_free(&e->out);
	vp_buf_free(&e->tmp);
	ce_event_free(&e->ev);
}

/* ---- raw event lines --------------------------------------------------------- */

/*
 * Payloads vc-source adds beside the event as a member of their own:
 * VSphereSource's application/xml (vc-source --xml) and the OpenFaaS
 * vcenter-connector's message (vc-source --connector).
 */
static const struct payload_member {
	enum ce_payload payload;
	const char *member;	/* the member's name */
	enum js_type type;	/* its JSON type */
	const char *ct;		/* the data's content type */
	const char *missing;	/* why a line without it is refused */
	const char *wrong;	/* ... with one of another type */
} members[] = {
	{ CE_PAYLOAD_XML, "xml", JS_STRING, "application/xml",
	    "no \"xml\" member for application/xml (run vc-source with --xml)",
	    "\"xml\" is not a string" },
	{ CE_PAYLOAD_CONNECTOR, "connector", JS_OBJECT, "application/json",
	    "no \"connector\" member for vcenter-connector (run vc-source "
	    "with --connector)", "\"connector\" is not an object" },
};

static enum ce_result
from_raw(struct ce_encoder *e)
{
	static const char *const cats[] = { "event", "eventex", "extendedevent" };
	static const char *const types[] = { "com.vmware.event.router/event",
	    "com.vmware.event.router/eventex",
	    "com.vmware.event.router/extendedevent" };
	struct ce_str vc, uuid, api, cls, cat;
	const struct js_span *k, *d;
	char keybuf[16];
	long key;
	int ci;
	struct ce_event *ev = &e->ev;

	if (ce_get_string(ev, "class", &cls, 1, 0) != CE_OK ||
	    ce_get_string(ev, "category", &cat, 1, 0) != CE_OK ||
	    ce_get_string(ev, "instanceUuid", &uuid, 1, 0) != CE_OK ||
	    ce_get_string(ev, "apiVersion", &api, 1, 1) != CE_OK ||
	    ce_get_string(ev, "createdTime", &ev->time, 1, 0) != CE_OK)
		return CE_BAD;
	if ((k = ce_member(ev, "key")) == NULL)
		return ce_bad(ev, "missing \"key\"");
	if (k->type != JS_NUMBER || !k->integer)
		return ce_bad(ev, "\"key\" is not an integer");
	if (ce_int32(k->p, k->len, &key) != 0)
		return ce_bad(ev, "\"key\" %.*s is outside the int32 range",
		    (int)(k->len < 24 ? k->len : 24), k->p);
	if ((d = ce_member(ev, "data")) == NULL)
		return ce_bad(ev, "missing \"data\"");
	for (ci = 0; ci < 3; ci++)
		if (cat.len == strlen(cats[ci]) &&
		    memcmp(CE_S(ev, cat), cats[ci], cat.len) == 0)
			break;
	if (ci == 3)
		return ce_bad(ev, "\"category\" is not event, eventex or extendedevent");
	if (!ce_time_ok(CE_S(ev, ev->time), ev->time.len))
		return ce_bad(ev, "\"createdTime\" is not an RFC 3339 time");
	if (e->cfg->source) {
		ce_set_str(ev, &ev->source, e->cfg->source, strlen(e->cfg->source));
		if (ce_member(ev, "vcenter") && ce_member(ev, "vcenter")->type != JS_STRING)
			return ce_bad(ev, "\"vcenter\" is not a string");
	} else {
		if (ce_get_string(ev, "vcenter", &vc, 1, 0) != CE_OK)
			return CE_BAD;
		ev->source = vc;
		if (!ce_uri_ok(CE_S(ev, ev->source), ev->source.len))
			return ce_bad(ev, "\"vcenter\" is not a URI reference");
	}
	snprintf(keybuf, sizeof(keybuf), "%ld", key);

	/* id */
	switch (e->cfg->id) {
	case CE_ID_V5: {
		unsigned char u[16];
		char s[37];

		/* createdTime too: a key reused after int32 wrap-around gets a new id */
		vp_buf_reset(&e->tmp);
		js_put(&e->tmp, CE_S(ev, uuid), uuid.len);
		vp_buf_printf(&e->tmp, "/%s/", keybuf);
		js_put(&e->tmp, CE_S(ev, ev->time), ev->time.len);
		uuid_v5(vcpipe_ns, e->tmp.data, e->tmp.len, u);
		uuid_format(u, s);
		ce_set_str(ev, &ev->id, s, 36);
		break;
	}
	case CE_ID_UUID: {
		unsigned char u[16];
		char s[37];

		if (uuid_v4(u) != 0)
			return ce_bad(ev, "getrandom: %s", strerror(errno));
		uuid_format(u, s);
		ce_set_str(ev, &ev->id, s, 36);
		break;
	}
	case CE_ID_KEY:
		ce_set_str(ev, &ev->id, keybuf, strlen(keybuf));
		break;
	}

	if (e->cfg->style == CE_ROUTER) {
		ce_set_str(ev, &ev->type, types[ci], strlen(types[ci]));
	} else {
		vp_buf_reset(&e->tmp);
		js_put(&e->tmp, "com.vmware.vsphere.", 19);
		js_put(&e->tmp, CE_S(ev, cls), cls.len);
		js_put(&e->tmp, ".v0", 3);
		ce_set_str(ev, &ev->type, e->tmp.data, e->tmp.len);
	}
	ev->subject = cls;
	ev->has_key = 1;
	ev->key = key;

	ce_add_ext(ev, "eventkey", 8, CE_EXT_LITERAL, keybuf, strlen(keybuf));
	/* VSphereSource adds both: the class, then the server's API version */
	if (e->cfg->style == CE_VSPHERE)
		ce_add_ext(ev, "eventclass", 10, CE_EXT_STRING, cats[ci],
		    strlen(cats[ci]));
	if (api.len > 0)
		ce_add_ext(ev, "vsphereapiversion", 17, CE_EXT_STRING,
		    CE_S(ev, api), api.len);

	for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
		const struct payload_member *pm = &members[i];
		const struct js_span *x;

		if (e->cfg->payload != pm->payload)
			continue;
		if ((x = ce_member(ev, pm->member)) == NULL)
			return ce_bad(ev, "%s", pm->missing);
		if (x->type == pm->type) {
			ce_set_json_data(ev, x);
			ce_set_str(ev, &ev->dct, pm->ct, strlen(pm->ct));
		} else if (x->type != JS_NULL)
			return ce_bad(ev, "%s", pm->wrong);
		return CE_OK;
	}
	/* null data: vc-source could not map the event; it is sent without data */
	if (d->type != JS_NULL) {
		ce_set_json_data(ev, d);
		ce_set_str(ev, &ev->dct, "application/json", 16);
	}
	return CE_OK;
}

enum enc_result
ce_encode_line(struct ce_encoder *e, const char *line, size_t len)
{
	struct ce_event *ev = &e->ev;
	enum ce_result rc;
	size_t i;

	e->err[0] = '\0';
	vp_buf_reset(&e->out);
	for (i = 0; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
			break;
	if (i == len)
		return ENC_SKIP;
	rc = ce_read(ev, line, len, 0);
	if (rc == CE_NOT_CE) {
		ce_clear(ev);
		rc = from_raw(e);
	} else if (rc == CE_OK && e->cfg->source)
		ce_set_str(ev, &ev->source, e->cfg->source,
		    strlen(e->cfg->source));
	if (rc == CE_OK) {
		for (i = 0; i < e->cfg->nset; i++)
			ce_set_ext(ev, e->cfg->set[i].name, e->cfg->set[i].value);
		if (e->cfg->mode == CE_BINARY)
			rc = ce_write_binary(ev, &e->out);
		else
			ce_write_structured(ev, &e->out);
	}
	if (rc != CE_OK) {
		snprintf(e->err, sizeof(e->err), "%s", ev->err);
		return ENC_BAD;
	}
	return ENC_OK;
}
