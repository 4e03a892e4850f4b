/*
 * ceamqp.c: CloudEvents on AMQP 0-9-1 messages (ceamqp.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "ceamqp.h"

#define CT_STRUCTURED "application/cloudevents+json; charset=utf-8"

void
ce_amqp_msg_init(struct ce_amqp_msg *m)
{
	memset(m, 0, sizeof(*m));
	vp_buf_append(&m->names, "", 0);
	vp_buf_append(&m->bodybuf, "", 0);
	vp_buf_append(&m->tmp, "", 0);
}

void
ce_amqp_msg_free(struct ce_amqp_msg *m)
{
	free(m->ent);
	vp_buf_free(&m->names);
	vp_buf_free(&m->bodybuf);
	vp_buf_free(&m->tmp);
	memset(m, 0, sizeof(*m));
}

static amqp_table_entry_t *
new_entry(struct ce_amqp_msg *m, size_t *n)
{
	if (*n == m->cap_ent) {
		m->cap_ent = m->cap_ent ? m->cap_ent * 2 : 16;
		m->ent = vp_xrealloc(m->ent, m->cap_ent * sizeof(*m->ent));
	}
	memset(&m->ent[*n], 0, sizeof(m->ent[*n]));
	return &m->ent[(*n)++];
}

/*
 * A header named by the naming rule: the name goes into m->names now and
 * the key is pointed at it once every name is written (the buffer moves).
 */
static amqp_table_entry_t *
put_header(struct ce_amqp_msg *m, size_t *n, enum ce_amqp_naming naming,
    const char *name, size_t nlen)
{
	amqp_table_entry_t *e = new_entry(m, n);

	e->key.bytes = (void *)(uintptr_t)m->names.len;	/* an offset for now */
	if (naming == CE_AMQP_CLOUDEVENTS)
		vp_buf_append(&m->names, "cloudEvents_", 12);
	vp_buf_append(&m->names, name, nlen);
	e->key.len = m->names.len - (size_t)(uintptr_t)e->key.bytes;
	return e;
}

static void
put_str(struct ce_amqp_msg *m, size_t *n, enum ce_amqp_naming naming,
    const char *name, const char *v, size_t vlen)
{
	amqp_table_entry_t *e = put_header(m, n, naming, name, strlen(name));

	e->value.kind = AMQP_FIELD_KIND_UTF8;
	e->value.value.bytes.bytes = (void *)v;
	e->value.value.bytes.len = vlen;
}

#define PUT_ATTR(name, s) do { if ((s).set) put_str(m, &n, naming, name, \
	CE_S(ev, s), (s).len); } while (0)

/* The data as message body bytes and its media type (NULL: none). */
static enum ce_result
body_bytes(struct ce_event *ev, struct ce_amqp_msg *m, const char **ct,
    size_t *ctlen)
{
	*ct = NULL;
	*ctlen = 0;
	if (ev->dct.set) {
		*ct = CE_S(ev, ev->dct);
		*ctlen = ev->dct.len;
	} else if (ev->dkind == CE_DATA_JSON) {
		*ct = "application/json";	/* what the JSON format implies */
		*ctlen = 16;
	} else if (ev->dkind == CE_DATA_BASE64) {
		*ct = "application/octet-stream";
		*ctlen = 24;
	}
	vp_buf_reset(&m->bodybuf);
	if (ev->dkind == CE_DATA_JSON) {
		if (ev->dstring && !ce_media_is_json(*ct, *ctlen)) {
			struct js_span s = { ev->dp, ev->dlen, JS_STRING, 0, 0 };

			js_decode_string(&s, &m->bodybuf);
		} else
			vp_buf_append(&m->bodybuf, ev->dp, ev->dlen);
	} else if (ev->dkind == CE_DATA_BASE64 &&
	    vp_b64_decode(&m->bodybuf, ev->dp, ev->dlen) != 0)
		return ce_bad(ev, "\"data_base64\" is not base64");
	return CE_OK;
}

enum ce_result
ce_to_amqp(struct ce_event *ev, int structured, enum ce_amqp_naming naming,
    struct ce_amqp_msg *m)
{
	amqp_basic_properties_t *p = &m->props;
	const char *ct;
	size_t ctlen, n = 0;
	int64_t sec;
	int32_t nsec;

	memset(p, 0, sizeof(*p));
	vp_buf_reset(&m->names);
	if (body_bytes(ev, m, &ct, &ctlen) != CE_OK)
		return CE_BAD;
	put_str(m, &n, naming, "specversion", "1.0", 3);
	PUT_ATTR("id", ev->id);
	PUT_ATTR("source", ev->source);
	PUT_ATTR("type", ev->type);
	PUT_ATTR("subject", ev->subject);
	PUT_ATTR("time", ev->time);
	PUT_ATTR("dataschema", ev->dataschema);
	if (naming == CE_AMQP_KNATIVE && ct)
		put_str(m, &n, CE_AMQP_KNATIVE, "content-type", ct, ctlen);
	for (size_t i = 0; i < ev->next; i++) {
		const struct ce_ext *x = &ev->ext[i];
		const char *v = ev->strs.data + x->voff;
		amqp_table_entry_t *e = put_header(m, &n, naming,
		    ev->strs.data + x->noff, x->nlen);
		char num[32];
		long long ll;
		char *end;

		e->value.kind = AMQP_FIELD_KIND_UTF8;
		e->value.value.bytes.bytes = (void *)v;
		e->value.value.bytes.len = x->vlen;
		if (x->kind != CE_EXT_LITERAL)
			continue;
		/* Integer and Boolean keep their AMQP types, as Knative's
		 * broker writes them */
		if (x->vlen == 4 && memcmp(v, "true", 4) == 0) {
			e->value.kind = AMQP_FIELD_KIND_BOOLEAN;
			e->value.value.boolean = 1;
		} else if (x->vlen == 5 && memcmp(v, "false", 5) == 0) {
			e->value.kind = AMQP_FIELD_KIND_BOOLEAN;
			e->value.value.boolean = 0;
		} else if (x->vlen < sizeof(num)) {
			memcpy(num, v, x->vlen);
			num[x->vlen] = '\0';
			ll = strtoll(num, &end, 10);
			if (*end != '\0')
				continue;	/* not an integer: keep the text */
			if (ll >= INT32_MIN && ll <= INT32_MAX) {
				e->value.kind = AMQP_FIELD_KIND_I32;
				e->value.value.i32 = (int32_t)ll;
			} else {
				e->value.kind = AMQP_FIELD_KIND_I64;
				e->value.value.i64 = ll;
			}
		}
	}
	for (size_t i = 0; i < n; i++)	/* the names are all written */
		m->ent[i].key.bytes = m->names.data +
		    (size_t)(uintptr_t)m->ent[i].key.bytes;
	p->_flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG |
	    AMQP_BASIC_HEADERS_FLAG;
	p->delivery_mode = AMQP_DELIVERY_PERSISTENT;
	p->message_id.bytes = (void *)CE_S(ev, ev->id);
	p->message_id.len = ev->id.len;
	p->headers.num_entries = (int)n;
	p->headers.entries = m->ent;
	if (ev->time.set) {
		vp_buf_reset(&m->tmp);
		vp_buf_append(&m->tmp, CE_S(ev, ev->time), ev->time.len);
		if (vp_parse_rfc3339(m->tmp.data, &sec, &nsec) == 0 && sec >= 0) {
			p->_flags |= AMQP_BASIC_TIMESTAMP_FLAG;
			p->timestamp = (uint64_t)sec;
		}
	}
	if (structured) {
		vp_buf_reset(&m->bodybuf);
		ce_write_structured(ev, &m->bodybuf);
		ct = CT_STRUCTURED;
		ctlen = strlen(CT_STRUCTURED);
	}
	if (ct) {
		p->_flags |= AMQP_BASIC_CONTENT_TYPE_FLAG;
		p->content_type.bytes = (void *)ct;
		p->content_type.len = ctlen;
	}
	m->body.bytes = m->bodybuf.data;
	m->body.len = m->bodybuf.len;
	return CE_OK;
}

/* ---- reading ------------------------------------------------------------- */

/* Percent-encode what the HTTP binding's decoder would change or trim. */
static void
pct_put(struct vp_buf *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char q[3] = { '%', hex[c >> 4], hex[c & 15] };

		if (c > 0x20 && c < 0x7f && c != '"' && c != '%')
			vp_buf_append(o, s + i, 1);
		else
			vp_buf_append(o, q, 3);
	}
}

/* A header value as text (0), or -1 for kinds with no text form. */
static int
value_text(const amqp_field_value_t *v, struct vp_buf *o)
{
	char b[64];
	int64_t i;

	switch (v->kind) {
	case AMQP_FIELD_KIND_UTF8:
	case AMQP_FIELD_KIND_BYTES:
		pct_put(o, v->value.bytes.bytes, v->value.bytes.len);
		return 0;
	case AMQP_FIELD_KIND_BOOLEAN:
		snprintf(b, sizeof(b), "%s", v->value.boolean ? "true" : "false");
		break;
	/* the integers, widened (u64 alone may not fit an int64_t) */
	case AMQP_FIELD_KIND_I8:  i = v->value.i8;  goto integer;
	case AMQP_FIELD_KIND_U8:  i = v->value.u8;  goto integer;
	case AMQP_FIELD_KIND_I16: i = v->value.i16; goto integer;
	case AMQP_FIELD_KIND_U16: i = v->value.u16; goto integer;
	case AMQP_FIELD_KIND_I32: i = v->value.i32; goto integer;
	case AMQP_FIELD_KIND_U32: i = v->value.u32; goto integer;
	case AMQP_FIELD_KIND_I64: i = v->value.i64;
	integer:
		snprintf(b, sizeof(b), "%" PRId64, i);
		break;
	case AMQP_FIELD_KIND_U64:
		snprintf(b, sizeof(b), "%" PRIu64, v->value.u64);
		break;
	case AMQP_FIELD_KIND_TIMESTAMP:
		vp_format_rfc3339((int64_t)v->value.u64, 0, b, sizeof(b));
		break;
	case AMQP_FIELD_KIND_F32:
		snprintf(b, sizeof(b), "%.9g", (double)v->value.f32);
		break;
	case AMQP_FIELD_KIND_F64:
		snprintf(b, sizeof(b), "%.17g", v->value.f64);
		break;
	default:
		return -1;
	}
	vp_buf_append(o, b, strlen(b));
	return 0;
}

struct hdrlist {
	struct ce_http_header h[CE_MAX_MEMBERS + 2];
	size_t noff[CE_MAX_MEMBERS + 2], voff[CE_MAX_MEMBERS + 2];
	size_t n;
};

/* Add name (and value text) to the list, in m->names; pointers set later. */
static int
hl_add(struct hdrlist *hl, struct ce_amqp_msg *m, const char *prefix,
    const char *name, size_t nlen, const amqp_field_value_t *v,
    const char *text, size_t tlen)
{
	size_t mark = m->names.len;

	if (hl->n == CE_MAX_MEMBERS + 2)
		return -1;
	hl->noff[hl->n] = m->names.len;
	vp_buf_append(&m->names, prefix, strlen(prefix));
	for (size_t i = 0; i < nlen; i++) {
		char c = name[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c + 32);	/* Knative lower-cases them */
		vp_buf_append(&m->names, &c, 1);
	}
	vp_buf_append(&m->names, "", 1);
	hl->voff[hl->n] = m->names.len;
	if (v != NULL) {
		if (value_text(v, &m->names) != 0) {
			m->names.len = mark;	/* tables, arrays: not attributes */
			return 0;
		}
	} else
		vp_buf_append(&m->names, text, tlen);
	vp_buf_append(&m->names, "", 1);
	hl->n++;
	return 0;
}

static void
hl_fix(struct hdrlist *hl, struct ce_amqp_msg *m)
{
	for (size_t i = 0; i < hl->n; i++) {
		hl->h[i].name = m->names.data + hl->noff[i];
		hl->h[i].value = m->names.data + hl->voff[i];
	}
}

static int
prefixed(amqp_bytes_t k, const char *pfx)
{
	size_t n = strlen(pfx);

	return k.len >= n && strncasecmp(k.bytes, pfx, n) == 0;
}

static int
named(amqp_bytes_t k, const char *pfx, const char *name)
{
	size_t n = strlen(pfx), l = strlen(name);

	return k.len == n + l && prefixed(k, pfx) &&
	    strncasecmp((const char *)k.bytes + n, name, l) == 0;
}

enum ce_result
ce_from_amqp(struct ce_event *ev, const amqp_basic_properties_t *p,
    amqp_bytes_t body, struct ce_amqp_msg *m)
{
	static struct hdrlist hl;
	static const char *const styles[] = { "cloudEvents_", "cloudEvents:",
	    "ce-", "ce_", "" };
	const amqp_table_t *t = &p->headers;
	const char *style = NULL, *ct = NULL;
	size_t ctlen = 0;
	int has_headers = (p->_flags & AMQP_BASIC_HEADERS_FLAG) != 0;

	if (p->_flags & AMQP_BASIC_CONTENT_TYPE_FLAG) {
		ct = p->content_type.bytes;
		ctlen = p->content_type.len;
		if (ce_media_is(ct, ctlen, "application/cloudevents+json")) {
			enum ce_result r = ce_read(ev, body.bytes, body.len,
			    CE_READ_STRUCTURED);

			return r == CE_OK ? CE_OK : CE_BAD;
		}
		if (ce_media_is(ct, ctlen, "application/cloudevents-batch+json"))
			return ce_bad(ev, "batched CloudEvents are not supported");
	}
	for (size_t s = 0; has_headers && style == NULL && s < 5; s++)
		for (int i = 0; i < t->num_entries; i++)
			if (named(t->entries[i].key, styles[s], "specversion")) {
				style = styles[s];
				break;
			}
	if (style == NULL)
		return ce_bad(ev, "no CloudEvent: neither a specversion header "
		    "nor content type application/cloudevents+json"),
		    CE_NOT_CE;
	vp_buf_reset(&m->names);
	hl.n = 0;
	for (int i = 0; i < t->num_entries; i++) {
		amqp_bytes_t k = t->entries[i].key;
		const char *name = k.bytes;
		size_t nl = k.len;

		if (named(k, "", "content-type")) {
			/* Knative's copy of datacontenttype, when the property
			 * is not set */
			if (ct == NULL && t->entries[i].value.kind ==
			    AMQP_FIELD_KIND_UTF8 && t->entries[i].value.value.bytes.len) {
				ct = t->entries[i].value.value.bytes.bytes;
				ctlen = t->entries[i].value.value.bytes.len;
			}
			continue;
		}
		if (*style == '\0') {
			/* Knative's reader: any header but x-*, a "ce-"
			 * prefix dropped */
			if (prefixed(k, "x-"))
				continue;
			if (prefixed(k, "ce-") || prefixed(k, "ce_"))
				name += 3, nl -= 3;
		} else {
			if (!prefixed(k, style))
				continue;
			name += strlen(style);
			nl -= strlen(style);
		}
		if (nl == 0)
			continue;
		if (hl_add(&hl, m, "ce-", name, nl, &t->entries[i].value, NULL,
		    0) != 0)
			return ce_bad(ev, "more than %d headers", CE_MAX_MEMBERS);
	}
	if (ct && hl_add(&hl, m, "", "content-type", 12, NULL, ct, ctlen) != 0)
		return ce_bad(ev, "more than %d headers", CE_MAX_MEMBERS);
	hl_fix(&hl, m);
	return ce_from_http(ev, hl.h, hl.n, body.bytes, body.len);
}

enum ce_result
ce_wrap_amqp(struct ce_event *ev, const amqp_basic_properties_t *p,
    amqp_bytes_t body, const char *source, struct ce_amqp_msg *m)
{
	static struct hdrlist hl;
	char id[40], tm[64];
	struct vp_buf *o = &m->tmp;

	vp_buf_reset(&m->names);
	vp_buf_reset(o);
	hl.n = 0;
	if ((p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG) && p->message_id.len > 0)
		pct_put(o, p->message_id.bytes, p->message_id.len);
	else {
		unsigned char u[16];

		if (getrandom(u, sizeof(u), 0) != sizeof(u))
			return ce_bad(ev, "no random bytes for an id");
		u[6] = (unsigned char)((u[6] & 0x0f) | 0x40);
		u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
		snprintf(id, sizeof(id), "%02x%02x%02x%02x-%02x%02x-%02x%02x-"
		    "%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3],
		    u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
		    u[13], u[14], u[15]);
		vp_buf_append(o, id, strlen(id));
	}
	hl_add(&hl, m, "", "ce-specversion", 14, NULL, "1.0", 3);
	hl_add(&hl, m, "", "ce-id", 5, NULL, o->data, o->len);
	hl_add(&hl, m, "", "ce-subject", 10, NULL, o->data, o->len);
	hl_add(&hl, m, "", "ce-type", 7, NULL, "dev.knative.rabbitmq.event", 26);
	vp_buf_reset(o);
	pct_put(o, source, strlen(source));
	hl_add(&hl, m, "", "ce-source", 9, NULL, o->data, o->len);
	if (p->_flags & AMQP_BASIC_TIMESTAMP_FLAG) {
		vp_format_rfc3339((int64_t)p->timestamp, 0, tm, sizeof(tm));
		hl_add(&hl, m, "", "ce-time", 7, NULL, tm, strlen(tm));
	}
	if ((p->_flags & AMQP_BASIC_CONTENT_TYPE_FLAG) && p->content_type.len)
		hl_add(&hl, m, "", "content-type", 12, NULL,
		    p->content_type.bytes, p->content_type.len);
	else	/* bytes of no stated type: data_base64 */
		hl_add(&hl, m, "", "content-type", 12, NULL,
		    "application/octet-stream", 24);
	hl_fix(&hl, m);
	return ce_from_http(ev, hl.h, hl.n, body.bytes, body.len);
}
