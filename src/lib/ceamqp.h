/*
 * ceamqp.h: CloudEvents on AMQP 0-9-1 messages, both ways, in one place
 * (sink-amqp writes them, amqp-source reads them; vcpipe-formats(5),
 * "CloudEvents on AMQP").
 *
 * There is no CloudEvents binding for AMQP 0-9-1 (the spec's AMQP binding is
 * for AMQP 1.0), so two namings are in use and both are written and read:
 *
 *   knative      Knative's RabbitMQ broker and source (eventing-rabbitmq,
 *                pkg/rabbit/message.go): every attribute a header under its
 *                bare name (specversion, id, source, type, subject, time,
 *                dataschema, extensions), datacontenttype in the
 *                content_type property and in a "content-type" header. The
 *                broker's Trigger bindings match these headers on its
 *                headers exchange, so events published this way are
 *                filtered like the broker's own.
 *   cloudevents  the AMQP binding's application-properties naming carried
 *                over: "cloudEvents_" + name, datacontenttype only in
 *                content_type (readers also take "cloudEvents:").
 *
 * Binary mode: the body is the data's bytes. Structured mode: content_type
 * application/cloudevents+json, the body the JSON event; the attribute
 * headers are written too, so header-exchange routing works in both modes.
 * Every message: message_id = id, delivery_mode 2 (persistent), timestamp
 * from time when there is one.
 */
#ifndef VP_CEAMQP_H
#define VP_CEAMQP_H

#include <amqp.h>

#include "ce.h"

enum ce_amqp_naming { CE_AMQP_KNATIVE, CE_AMQP_CLOUDEVENTS };

/* A message built from an event; buffers are reused from one to the next. */
struct ce_amqp_msg {
	amqp_basic_properties_t props;
	amqp_bytes_t body;
	amqp_table_entry_t *ent;
	size_t cap_ent;
	struct vp_buf names, bodybuf, tmp;
};

void ce_amqp_msg_init(struct ce_amqp_msg *m);
void ce_amqp_msg_free(struct ce_amqp_msg *m);

/*
 * Build the message for ev (read by ce_read; ev must not be read again
 * while m is in use: m points into it). CE_OK, or CE_BAD with ev->err when
 * the event cannot be carried (a text data with NUL in binary mode).
 */
enum ce_result ce_to_amqp(struct ce_event *ev, int structured,
    enum ce_amqp_naming naming, struct ce_amqp_msg *m);

/*
 * Read a message into ev: structured when content_type says
 * application/cloudevents+json, else binary when a specversion header is
 * there in either naming (or with Knative's reader's "ce-" prefix).
 * CE_OK; CE_BAD with ev->err (a CloudEvent that breaks the rules);
 * CE_NOT_CE when the message carries no CloudEvent at all.
 */
enum ce_result ce_from_amqp(struct ce_event *ev,
    const amqp_basic_properties_t *p, amqp_bytes_t body,
    struct ce_amqp_msg *scratch);

/*
 * A message that is no CloudEvent, wrapped as Knative's RabbitmqSource does:
 * type dev.knative.rabbitmq.event, the given source, id = message_id (a
 * random UUID when there is none), subject = id, time from timestamp,
 * datacontenttype from content_type, data = the body.
 */
enum ce_result ce_wrap_amqp(struct ce_event *ev,
    const amqp_basic_properties_t *p, amqp_bytes_t body, const char *source,
    struct ce_amqp_msg *scratch);

#endif
