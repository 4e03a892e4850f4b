/* connector.h: the OpenFaaS vcenter-connector's message (vc-source --connector) */
#ifndef VC_CONNECTOR_H
#define VC_CONNECTOR_H

#include <stddef.h>

#include "soap.h"
#include "vp.h"

/* The EventManager's description.eventInfo: class -> category. */
struct connector {
	struct cat *v;
	size_t n;
	int loaded;
};

void connector_init(struct connector *c);
void connector_free(struct connector *c);
/* Read the categories from RetrievePropertiesEx's returnval. */
void connector_load(struct connector *c, struct vim_node *ret);
/*
 * Append the message for event ev of vCenter URL vcenter to out: 0, or -1
 * with a message in err (the event cannot be mapped).
 */
int connector_message(const struct connector *c, const char *vcenter,
    struct vim_node *ev, struct vp_buf *out, char *err, size_t errlen);

#endif
