/*
 * vimjson.h: vim25 event XML -> the JSON govmomi 0.24 prints for it.
 *
 * Given an event element from a SOAP response (ReadNextEventsResponse/
 * returnval, or ArrayOfEvent/Event in a PropertyCollector update of
 * latestPage), write the bytes json.Marshal gives for the event after
 * govmomi's vim25/xml decoder (with types.TypeFunc) has decoded the same XML:
 * PascalCase Go field names in Go struct order, embedded structs flattened,
 * every field present (null / "" / 0 / false / zero time), typed numbers,
 * ManagedObjectReference as {"Type","Value"}, time.Time as RFC 3339 with
 * trimmed nanoseconds in the zone given, []byte as base64, interface fields
 * (AnyType, BaseMethodFault, ...) as their concrete value, Go's string
 * escaping (<, >, & as \u003c...). The type table is vimtypes.c, generated
 * from govmomi's registry by gen/vimgen.go.
 *
 * Where govmomi would yield null (an xsi:type it does not know, e.g. an event
 * class newer than 0.24), the element is still mapped: as the known type of
 * the same interface family whose fields cover most of its child elements
 * (ties: fewest fields, then the nearest base), followed by the unmatched
 * children as extra members named like govmomi names fields (first letter
 * upper-cased): typed by their own xsi:type when known, else an object of
 * their children, else their text as a string; repeated names become arrays.
 * An unknown xsi:type in an AnyType field maps the same generic way.
 *
 * The caller parses the document with vim_parse() or a vim_stream (on
 * libexpat: no DTD, so no entity expansion, no network; hostile input gives
 * an error). Nothing here keeps state between calls; the functions are
 * reentrant.
 */
#ifndef VIMJSON_H
#define VIMJSON_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "vp.h"

/* Longest JSON text one event may produce (zero values of big structs add up). */
#define VIM_MAX_EVENT_JSON	(32u * 1024 * 1024)
/* Deepest nesting of XML elements mapped below an event. */
#define VIM_MAX_DEPTH		100

/*
 * A parsed document: the few things of the DOM the mapping reads. Text
 * between elements is one node per run (CDATA is text); comments and
 * processing instructions stay as VIM_OTHER nodes, so text split by one
 * reads as two nodes, as Go's decoder sees it.
 */
enum vim_node_type { VIM_ELEMENT = 1, VIM_TEXT, VIM_OTHER };

struct vim_attr {
	struct vim_attr *next;
	const char *name;	/* local name when its prefix is bound, else
				 * the name as written ("xsi:type") */
	const char *ns;		/* namespace URI, NULL when none */
	const char *value;
};

struct vim_node {
	struct vim_node *parent, *children, *last, *next;
	const char *name;	/* element: as vim_attr's name */
	const char *content;	/* text */
	struct vim_attr *attrs;
	long line;		/* of the start tag */
	enum vim_node_type type;
};

struct vim_doc;
struct vim_node *vim_doc_root(const struct vim_doc *doc);
void vim_doc_free(struct vim_doc *doc);

/*
 * Parse a SOAP response (or a bare event element). Refuses DTDs (so no entity
 * expansion), never loads anything from the network; elements nest at most
 * 257 deep and a text run is at most 10,000,000 bytes (libxml2's limits,
 * which this parser had before). Returns NULL and a message in err on
 * failure. Free with vim_doc_free().
 */
struct vim_doc *vim_parse(const char *buf, size_t len, char *err,
    size_t errlen);

/* The value of n's attribute local (in namespace ns, NULL: none), or NULL. */
const char *vim_node_attr(const struct vim_node *n, const char *local,
    const char *ns);
/*
 * The text of n and its descendants (what a DOM calls its text content)
 * into buf as snprintf would: returns the whole length.
 */
size_t vim_node_text(const struct vim_node *n, char *buf, size_t len);

/*
 * A document parsed as it arrives, for answers of any size in bounded
 * memory. The tree is built as vim_parse builds it, except that each event
 * element (the ones vim_foreach_event finds: ReadNextEvents' returnval,
 * ArrayOfEvent's Event, or a bare event as the root) is handed to cb as soon
 * as its end tag is parsed and then freed, so the tree holds one event at a
 * time. cb may be NULL (events are dropped unseen); a nonzero return from cb
 * stops the parse. Forbidden characters are replaced as vim_scrub_xml does,
 * across chunk boundaries.
 */
struct vim_stream;
struct vim_stream *vim_stream_new(int (*cb)(struct vim_node *ev, void *arg),
    void *arg);
/*
 * Build only each event's element and its key and createdTime children
 * (what ordering needs): a latestPage checked for unseen keys costs the
 * tokenizer's time only, not a tree of every event's arguments.
 */
void vim_stream_keys_only(struct vim_stream *st);
/*
 * Parse only up to the first element named name (local name, at any
 * depth): the rest of the input is taken without being parsed, and
 * vim_stream_end returns the document read so far. A WaitForUpdatesEx
 * answer read for its version alone costs nothing for the page after it.
 * name must outlive the stream.
 */
void vim_stream_stop_at(struct vim_stream *st, const char *name);
/* Push the next len bytes (len < 1 GiB). 0, or -1 once the parse failed. */
int vim_stream_feed(struct vim_stream *st, const char *buf, size_t len);
/*
 * End of input: the document (without the events handed to cb; free it
 * with vim_doc_free), or NULL with a message in err (not well-formed, a DTD,
 * no root element, or "stopped" after cb returned nonzero).
 */
struct vim_doc *vim_stream_end(struct vim_stream *st, char *err, size_t errlen);
int vim_stream_stopped(const struct vim_stream *st);	/* cb's value */
size_t vim_stream_events(const struct vim_stream *st);	/* events seen */
size_t vim_stream_replaced(const struct vim_stream *st); /* characters */
void vim_stream_free(struct vim_stream *st);

/*
 * vCenter sends characters XML 1.0 forbids (control characters such as
 * U+001F, raw or as &#x1F;), which make a whole page unparsable. Copy buf
 * into out with each such character reference and raw character replaced
 * by &#xFFFD; (what Go's encoder writes for them), and return how many were
 * replaced; returns 0 when none is found (out untouched) or when out
 * cannot hold the copy (its max).
 */
size_t vim_scrub_xml(const char *buf, size_t len, struct vp_buf *out);

/*
 * Call cb for every event element under root, in document order:
 * returnval children of a *EventsResponse element (ReadNextEvents,
 * ReadPreviousEvents, QueryEvents), Event children of an element whose
 * xsi:type is ArrayOfEvent, or root itself when it is neither a SOAP Envelope
 * nor holds either of these (a bare event). cb returning nonzero stops the
 * walk; that value is returned. Returns 0 otherwise.
 */
int vim_foreach_event(struct vim_node *root,
    int (*cb)(struct vim_node *ev, void *arg), void *arg);

/*
 * Local name of n's xsi:type ("VmPoweredOnEvent" for xsi:type="vim25:VmPoweredOnEvent"),
 * a pointer into the document; NULL when n has none.
 */
const char *vim_node_xsi_type(const struct vim_node *n);

/* "libexpat X.Y.Z", the version linked at run time, for --version. */
const char *vim_expat_version(void);

struct vim_event_meta {
	char type[128];		/* xsi:type (prefix stripped), else the mapped type */
	char mapped[128];	/* govmomi type the data has the shape of */
	int known;		/* xsi:type is an event class govmomi knows */
	const char *category;	/* "event", "eventex" or "extendedevent" */
	char *class;		/* type, or eventTypeId when not empty for
				 * EventEx and ExtendedEvent (whose id govmomi
				 * and the WSDL call eventTypeId); malloc'd */
	int32_t key;		/* Event.Key */
	int64_t created_sec;	/* Event.CreatedTime (zero time when absent) */
	int32_t created_nsec;
	char created[40];	/* the same, RFC 3339 UTC, trimmed nanoseconds */
};
void vim_event_meta_free(struct vim_event_meta *m);

/*
 * Append the event's govmomi JSON to out (no newline). When m is not NULL,
 * fill it too (free m->class with vim_event_meta_free). Returns 0, or -1
 * with a message in err and out unchanged: a value govmomi would refuse
 * (non-numeric or out-of-range number, bad boolean or time, NaN/Inf), an
 * entity reference, nesting past VIM_MAX_DEPTH, output past
 * VIM_MAX_EVENT_JSON or out->max.
 */
int vim_event_json(struct vim_node *ev, struct vp_buf *out, struct vim_event_meta *m,
    char *err, size_t errlen);

/*
 * Append what Tanzu's VSphereSource sends as its application/xml payload:
 * encoding/xml.Marshal of the event govmomi decoded (the standard library,
 * as cloudevents sdk-go's xml codec calls it). The root element is named
 * after the class, children are the struct's fields in Go order under
 * their vim25 names, no namespaces, no xsi:type; nil pointers, empty slices
 * and ",omitempty" zero values are left out; text escaped as encoding/xml
 * does (&#34; &#39; &#xA;, U+FFFD for what XML forbids); floats as
 * strconv's 'g'; a ManagedObjectReference as <name type="T">V</name>. A
 * class govmomi does not know is printed under its own name with the
 * fields of the nearest known class. 0, or -1 with err and out unchanged.
 */
int vim_event_xml(struct vim_node *ev, struct vp_buf *out, char *err, size_t errlen);

/* The same as a jansson value (floats and uint64 beyond int64 lose exactness there). */
json_t *vim_event_to_json(struct vim_node *ev, char *err, size_t errlen);

/* Fill m alone (runs the mapping to validate the event, discards the JSON). */
int vim_event_meta(struct vim_node *ev, struct vim_event_meta *m, char *err,
    size_t errlen);

/* Where the events come from, for the raw stream's first members. */
struct vim_source {
	const char *vcenter;		/* "https://vc.example.com/sdk" */
	const char *instance_uuid;
	const char *api_version;
};

/*
 * Append one whole raw event line (see the formats page; no newline):
 * {"vcenter":..,"instanceUuid":..,"apiVersion":..,"class":..,"category":..,
 *  "key":..,"createdTime":..,"data":{...}}. NULL source strings print as "".
 * m may be NULL, else it is filled as by vim_event_json (free it the same
 * way). Returns 0, or -1 with err and out unchanged.
 */
int vim_raw_line(const struct vim_source *src, struct vim_node *ev,
    struct vp_buf *out, struct vim_event_meta *m, char *err, size_t errlen);

/* Append s (len bytes) as a JSON string the way Go's encoding/json does. */
int vim_json_string(struct vp_buf *out, const char *s, size_t len);

#endif
