/* soap.h: a minimal vim25 SOAP client on libcurl and libexpat. */
#ifndef VC_SOAP_H
#define VC_SOAP_H

#include "curlmulti.h"
#include "vimjson.h"
#include "vp.h"

enum soap_result {
	SOAP_OK = 0,
	SOAP_FAULT,		/* the server answered with a SOAP fault */
	SOAP_TRANSPORT,		/* connection, timeout, cut */
	SOAP_TLS,		/* certificate not trusted, or CA file unusable */
	SOAP_HTTP,		/* HTTP error without a SOAP fault */
	SOAP_BADRESPONSE,	/* not XML, or not the expected shape */
	SOAP_TOOBIG,		/* response over the size limit */
	SOAP_STOPPED		/* aborted because a stop was requested */
};

struct vim_stream;

struct soap_client {
	void *curl;
	struct vp_multi multi;	/* drives curl: see transfer() */
	char *url;		/* https://vc/sdk */
	char *action;		/* SOAPAction header value */
	struct vp_tls tls;
	struct vp_buf req;
	/* the answer is parsed as it arrives (vim_stream), never held whole */
	struct vim_stream *st;
	size_t resp_len;	/* bytes of the answer so far */
	int parse_failed;	/* the answer stopped being XML: drain it */
	int (*on_event)(struct vim_node *ev, void *arg);
	void *event_arg;
	int keys_only;		/* the next call's events: key and createdTime
				 * only (vim_stream_keys_only); reset by it */
	const char *stop_at;	/* the next call's answer is parsed up to
				 * this element only (vim_stream_stop_at);
				 * reset by it */
	struct vp_buf *keep;	/* the next call's answer is also copied
				 * here, whole; reset by it */
	size_t nevents;		/* events in the last answer */
	struct vim_doc *doc;	/* the last response, owned here */
	long http_status;
	char fault_type[128];	/* e.g. NotAuthenticated, InvalidLogin */
	char error[512];	/* what went wrong, for logs */
	long timeout_ms;	/* per call, unless the call says otherwise */
	long stall_s;		/* no byte for this long: a dead peer */
	long quiet_s;		/* the next call may be silent this much
				 * longer (a long poll); reset by each call */
	int64_t rx_ms;		/* when the answer last brought bytes */
	int cleanup;		/* calls go on after a stop is requested */
	int stoppable;		/* abort the transfer when a stop is requested */
};

int soap_init(struct soap_client *c, const char *url, const struct vp_tls *tls);
void soap_free(struct soap_client *c);
/* Forget the session cookie (after a logout or a lost session). */
void soap_reset_session(struct soap_client *c);
/*
 * GET /sdk/vimServiceVersions.xml and use its urn:vim25 version for SOAPAction.
 * 0 found; -1 not found (a default stays); -2 stopped; -3 TLS trust failure.
 */
int soap_discover_version(struct soap_client *c);

/*
 * Call a method: body is the XML of the method element's children.
 * On SOAP_OK, returns the first child element of the <...Response> element
 * through *ret (NULL when the method returns nothing). The node lives until
 * the next call.
 */
enum soap_result soap_call(struct soap_client *c, const char *method,
    const char *this_type, const char *this_value, const char *body,
    long timeout_ms, struct vim_node **ret);
/*
 * The same, handing each event of the answer (ReadNextEvents' returnval,
 * an ArrayOfEvent's Event) to cb as soon as it is parsed, then freeing it:
 * memory holds one event at a time, whatever the page size. Events arrive
 * before the call's result is known: a caller keeps what cb got only when
 * the call returns SOAP_OK. c->nevents counts them (cb may be NULL).
 */
enum soap_result soap_call_events(struct soap_client *c, const char *method,
    const char *this_type, const char *this_value, const char *body,
    long timeout_ms, int (*cb)(struct vim_node *ev, void *arg), void *arg,
    struct vim_node **ret);

/* Escape text for an XML element body into b. */
void soap_xml_escape(struct vp_buf *b, const char *s);

/* Helpers over the response tree (local names; namespaces ignored). */
struct vim_node *soap_child(struct vim_node *n, const char *name);
struct vim_node *soap_next_named(struct vim_node *n, const char *name);
/* Text content of the named child, copied into buf; NULL when absent. */
const char *soap_child_text(struct vim_node *n, const char *name, char *buf,
    size_t len);

#endif
