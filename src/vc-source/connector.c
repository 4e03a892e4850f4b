/*
 * connector.c: the message the OpenFaaS vcenter-connector sent its
 * functions (openfaas-incubator/vcenter-connector pkg/events/events.go),
 * built as its code builds it, for vc-source --connector:
 *
 *   {"topic","category","source","userName","createdTime","objectName",
 *    "managedObjectReference":{"Type","Value"}}
 *
 *   topic        the Go class name without every "Event", split into
 *                lower-case words with dispatch's camelCaseToLowerSeparated
 *                (VmPoweredOnEvent -> vm.powered.on, EventEx -> ex)
 *   category     govmomi's EventCategory: an EventEx's severity ("info"
 *                when empty), else the class's category in the
 *                EventManager's description.eventInfo (left out if none)
 *   source       the vCenter URL's host[:port]; always present
 *   userName     left out when empty
 *   createdTime  always present (Go's omitempty does not apply to a time)
 *   objectName,  the argument of the first family the class belongs to:
 *   managed...   AlarmEvent (Alarm), DatastoreEvent (Datastore), HostEvent
 *                (Host), ResourcePoolEvent (ResourcePool), VmEvent (Vm);
 *                other classes have neither
 *
 * Compact, in that order, strings escaped as Go's encoding/json does.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "connector.h"
#include "topic.h"
#include "vimjson.h"
#include "vimtypes.h"

struct cat {
	char *key, *category;
};

static int
cat_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cat *)a)->key,
	    ((const struct cat *)b)->key);
}

void
connector_init(struct connector *c)
{
	memset(c, 0, sizeof(*c));
}

void
connector_free(struct connector *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].key);
		free(c->v[i].category);
	}
	free(c->v);
	connector_init(c);
}

/* Take the EventDescriptionEventDetail elements of a RetrievePropertiesEx answer. */
void
connector_load(struct connector *c, struct vim_node *ret)
{
	struct vim_node *obj, *ps, *val, *d;
	char key[256], cat[64];

	connector_free(c);
	c->loaded = 1;
	for (obj = soap_child(ret, "objects"); obj;
	    obj = soap_next_named(obj, "objects"))
		for (ps = soap_child(obj, "propSet"); ps;
		    ps = soap_next_named(ps, "propSet"))
			for (val = soap_child(ps, "val"); val;
			    val = soap_next_named(val, "val"))
				for (d = soap_child(val,
				    "EventDescriptionEventDetail"); d;
				    d = soap_next_named(d,
				    "EventDescriptionEventDetail")) {
					if (soap_child_text(d, "key", key,
					    sizeof(key)) == NULL ||
					    soap_child_text(d, "category", cat,
					    sizeof(cat)) == NULL)
						continue;
					c->v = vp_xrealloc(c->v, (c->n + 1) *
					    sizeof(*c->v));
					c->v[c->n].key = vp_xstrdup(key);
					c->v[c->n].category = vp_xstrdup(cat);
					c->n++;
				}
	qsort(c->v, c->n, sizeof(*c->v), cat_cmp);
}

static const char *
category_of(const struct connector *c, const char *cls)
{
	struct cat k = { (char *)cls, NULL }, *hit;

	hit = c->n ? bsearch(&k, c->v, c->n, sizeof(*c->v), cat_cmp) : NULL;
	return hit ? hit->category : "";
}

/* The index of a Go type name in vim_types (sorted by name), or -1. */
static int
type_index(const char *name)
{
	size_t lo = 0, hi = vim_ntypes;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(name, VIM_STR(vim_types[mid].name));

		if (c == 0)
			return (int)mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

/* Is class cls base, or a class derived from it? */
static int
derives_from(const char *cls, const char *base)
{
	for (int t = type_index(cls); t >= 0; t = vim_types[t].base)
		if (strcmp(VIM_STR(vim_types[t].name), base) == 0)
			return 1;
	return 0;
}

static void
put_str(struct vp_buf *b, const char *s)
{
	vim_json_string(b, s, strlen(s));
}

int
connector_message(const struct connector *c, const char *vcenter,
    struct vim_node *ev, struct vp_buf *out, char *err, size_t errlen)
{
	/* the type switch's order: the first family that matches */
	static const struct {
		const char *base, *arg;
		int pointer;	/* *XxxEventArgument: nil would panic */
	} fam[] = {
		{ "AlarmEvent", "Alarm", 0 },
		{ "DatastoreEvent", "Datastore", 1 },
		{ "HostEvent", "Host", 1 },
		{ "ResourcePoolEvent", "ResourcePool", 0 },
		{ "VmEvent", "Vm", 1 },
	};
	struct vim_event_meta m;
	const char *host, *end, *cat, *user, *ct;
	json_t *data, *arg;
	char *topic;
	size_t i;

	memset(&m, 0, sizeof(m));
	if (vim_event_meta(ev, &m, err, errlen) != 0)
		return -1;
	if ((data = vim_event_to_json(ev, err, errlen)) == NULL) {
		vim_event_meta_free(&m);
		return -1;
	}
	/* reflect.TypeOf(event).Elem().Name(): the Go type govmomi decoded */
	topic = vp_connector_topic(m.mapped);
	if (strcmp(m.mapped, "EventEx") == 0) {
		cat = json_string_value(json_object_get(data, "Severity"));
		if (cat == NULL || *cat == '\0')
			cat = "info";
	} else
		cat = category_of(c, m.mapped);
	/* c.URL().Host */
	host = strstr(vcenter, "://");
	host = host ? host + 3 : vcenter;
	end = host + strcspn(host, "/?#");

	vp_buf_append(out, "{\"topic\":", 9);
	put_str(out, topic);
	if (*cat) {
		vp_buf_append(out, ",\"category\":", 12);
		put_str(out, cat);
	}
	vp_buf_append(out, ",\"source\":", 10);
	vim_json_string(out, host, (size_t)(end - host));
	user = json_string_value(json_object_get(data, "UserName"));
	if (user && *user) {
		vp_buf_append(out, ",\"userName\":", 12);
		put_str(out, user);
	}
	ct = json_string_value(json_object_get(data, "CreatedTime"));
	vp_buf_append(out, ",\"createdTime\":", 15);
	put_str(out, ct ? ct : "0001-01-01T00:00:00Z");
	for (i = 0; i < sizeof(fam) / sizeof(fam[0]); i++)
		if (derives_from(m.mapped, fam[i].base))
			break;
	if (i < sizeof(fam) / sizeof(fam[0]) &&
	    ((arg = json_object_get(data, fam[i].arg)) != NULL &&
	    json_is_object(arg))) {
		json_t *ref = json_object_get(arg, fam[i].arg);
		const char *name = json_string_value(json_object_get(arg,
		    "Name"));
		const char *ty = json_string_value(json_object_get(ref, "Type"));
		const char *va = json_string_value(json_object_get(ref,
		    "Value"));

		if (name && *name) {
			vp_buf_append(out, ",\"objectName\":", 14);
			put_str(out, name);
		}
		vp_buf_append(out, ",\"managedObjectReference\":{\"Type\":",
		    34);
		put_str(out, ty ? ty : "");
		vp_buf_append(out, ",\"Value\":", 9);
		put_str(out, va ? va : "");
		vp_buf_append(out, "}", 1);
	} else if (i < sizeof(fam) / sizeof(fam[0]) && !fam[i].pointer) {
		/* a struct field: the connector reports its zero value */
		vp_buf_append(out, ",\"managedObjectReference\":"
		    "{\"Type\":\"\",\"Value\":\"\"}", 48);
	}
	/* a nil pointer argument made the connector panic: no object here */
	vp_buf_append(out, "}", 1);
	free(topic);
	json_decref(data);
	vim_event_meta_free(&m);
	return 0;
}
