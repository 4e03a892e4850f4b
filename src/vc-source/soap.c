/* soap.c: vim25 SOAP calls over one keep-alive libcurl handle. */
#include <curl/curl.h>
#include <errno.h>
#include <string.h>

#include "soap.h"

/* Responses larger than this are refused rather than parsed. */
#define SOAP_MAX_RESPONSE (256u * 1024 * 1024)

/* libcurl hands the answer over in pieces: parse each as it comes. */
static size_t
on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct soap_client *c = arg;
	size_t n = size * nmemb;

	if (n > SOAP_MAX_RESPONSE - c->resp_len) {
		c->resp_len = SOAP_MAX_RESPONSE + 1;
		return 0;	/* CURLE_WRITE_ERROR */
	}
	c->resp_len += n;
	c->rx_ms = vp_now_ms();
	if (c->keep != NULL)
		vp_buf_append(c->keep, ptr, n);
	if (c->parse_failed)
		return n;	/* not XML: read it to the end all the same */
	if (c->st == NULL) {
		if ((c->st = vim_stream_new(c->on_event, c->event_arg)) == NULL)
			vp_die(VP_EXIT_SOFTWARE, "out of memory");
		if (c->keys_only)
			vim_stream_keys_only(c->st);
		if (c->stop_at != NULL)
			vim_stream_stop_at(c->st, c->stop_at);
	}
	if (vim_stream_feed(c->st, ptr, n) != 0)
		c->parse_failed = 1;
	return n;
}

int
soap_init(struct soap_client *c, const char *url, const struct vp_tls *tls)
{
	memset(c, 0, sizeof(*c));
	c->curl = curl_easy_init();
	if (c->curl == NULL)
		return -1;
	vp_multi_init(&c->multi, 1);
	c->url = vp_xstrdup(url);
	c->action = vp_xstrdup("urn:vim25/6.5");
	c->tls = *tls;
	c->timeout_ms = 120000;
	vp_curl_common(c->curl, &c->tls);
	/* in-memory cookie engine: holds vmware_soap_session */
	curl_easy_setopt(c->curl, CURLOPT_COOKIEFILE, "");
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->curl, CURLOPT_ACCEPT_ENCODING, "");
	/* a stalled peer: no byte for stall_s is a dead connection */
	c->stall_s = 60;
	return 0;
}

void
soap_free(struct soap_client *c)
{
	if (c->doc)
		vim_doc_free(c->doc);
	if (c->curl)
		curl_easy_cleanup(c->curl);
	vp_multi_free(&c->multi);
	free(c->url);
	free(c->action);
	vim_stream_free(c->st);
	vp_buf_free(&c->req);
	memset(c, 0, sizeof(*c));
}

void
soap_reset_session(struct soap_client *c)
{
	curl_easy_setopt(c->curl, CURLOPT_COOKIELIST, "ALL");
}

void
soap_xml_escape(struct vp_buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': vp_buf_append(b, "&lt;", 4); break;
		case '>': vp_buf_append(b, "&gt;", 4); break;
		case '&': vp_buf_append(b, "&amp;", 5); break;
		case '"': vp_buf_append(b, "&quot;", 6); break;
		case '\'': vp_buf_append(b, "&apos;", 6); break;
		default: vp_buf_append(b, s, 1);
		}
	}
}

static int
name_is(struct vim_node *n, const char *name)
{
	return n && n->type == VIM_ELEMENT && strcmp(n->name, name) == 0;
}

struct vim_node *
soap_child(struct vim_node *n, const char *name)
{
	if (n == NULL)
		return NULL;
	for (struct vim_node *k = n->children; k; k = k->next)
		if (name == NULL ? k->type == VIM_ELEMENT : name_is(k, name))
			return k;
	return NULL;
}

struct vim_node *
soap_next_named(struct vim_node *n, const char *name)
{
	for (n = n ? n->next : NULL; n; n = n->next)
		if (name == NULL ? n->type == VIM_ELEMENT : name_is(n, name))
			return n;
	return NULL;
}

const char *
soap_child_text(struct vim_node *n, const char *name, char *buf, size_t len)
{
	struct vim_node *k = soap_child(n, name);

	if (k == NULL)
		return NULL;
	vim_node_text(k, buf, len);
	return buf;
}

/* Why the last call failed, into c->error. */
#define set_error(c, ...) \
	snprintf((c)->error, sizeof((c)->error), __VA_ARGS__)

/*
 * Run the transfer set up on c->curl on src/lib's multi loop, sleeping in
 * poll until its socket moves, libcurl's own timer (the call's timeout),
 * the stall deadline (no byte for stall_s + quiet_s) or a stop request.
 * curl_easy_perform would wake every second (its poll is capped at 1 s, a
 * low-speed limit adds a 1 s timer): that was all an idle vc-source did.
 */
static CURLcode
transfer(struct soap_client *c, char *errbuf)
{
	long stall_ms = (c->stall_s + c->quiet_s) * 1000;
	CURLcode rc = CURLE_OK;
	int64_t left;

	c->rx_ms = vp_now_ms();
	vp_multi_add(&c->multi, c->curl);
	while (vp_multi_done(&c->multi, &rc) == NULL) {
		if (c->stoppable && vp_stop_requested)
			rc = CURLE_ABORTED_BY_CALLBACK;
		else if ((left = c->rx_ms + stall_ms - vp_now_ms()) <= 0) {
			snprintf(errbuf, CURL_ERROR_SIZE, "no data for %ld s: "
			    "the connection is taken as dead", stall_ms / 1000);
			rc = CURLE_OPERATION_TIMEDOUT;
		} else if (vp_multi_wait(&c->multi, -1, left,
		    !c->stoppable) < 0) {
			snprintf(errbuf, CURL_ERROR_SIZE, "poll: %s",
			    strerror(errno));
			rc = CURLE_RECV_ERROR;
		} else
			continue;
		/* given up: the connection goes with it */
		curl_multi_remove_handle(c->multi.m, c->curl);
		break;
	}
	return rc;
}

/*
 * One HTTP exchange; the answer's document (events handed to on_event and
 * dropped) is left in c->doc, or NULL with the parser's message in perr.
 */
static enum soap_result
perform(struct soap_client *c, const char *method, long timeout_ms,
    char *perr, size_t perrlen)
{
	CURLcode rc;
	char errbuf[CURL_ERROR_SIZE] = "";
	size_t nbad = 0;

	if (c->doc) {
		vim_doc_free(c->doc);
		c->doc = NULL;
	}
	vim_stream_free(c->st);
	c->st = NULL;
	c->resp_len = 0;
	c->parse_failed = 0;
	c->nevents = 0;
	c->http_status = 0;
	c->fault_type[0] = '\0';
	c->error[0] = '\0';
	snprintf(perr, perrlen, "no answer");
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	/* cleanup must reach the server even after a stop was requested */
	c->stoppable = !c->cleanup;
	/* a long poll is silent by design: only silence beyond it is a stall */
	rc = transfer(c, errbuf);
	c->quiet_s = 0;
	c->stoppable = 0;
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &c->http_status);
	if (c->st != NULL) {
		if (rc == CURLE_OK)
			c->doc = vim_stream_end(c->st, perr, perrlen);
		c->nevents = vim_stream_events(c->st);
		nbad = vim_stream_replaced(c->st);
		vim_stream_free(c->st);
		c->st = NULL;
	}
	if (rc == CURLE_ABORTED_BY_CALLBACK && vp_stop_requested) {
		set_error(c, "%s: stopped", method);
		return SOAP_STOPPED;
	}
	if (rc == CURLE_WRITE_ERROR && c->resp_len > SOAP_MAX_RESPONSE) {
		set_error(c, "%s: response larger than %u bytes", method,
		    SOAP_MAX_RESPONSE);
		return SOAP_TOOBIG;
	}
	if (rc != CURLE_OK) {
		set_error(c, "%s: %s", method, errbuf[0] ? errbuf :
		    curl_easy_strerror(rc));
		return rc == CURLE_PEER_FAILED_VERIFICATION ||
		    rc == CURLE_SSL_CACERT_BADFILE ? SOAP_TLS : SOAP_TRANSPORT;
	}
	/* one bad character in one event must not make the page unreadable */
	if (nbad > 0)
		vp_warn("%s: %s: %zu character%s XML forbids (control "
		    "characters) replaced with U+FFFD", c->url, method, nbad,
		    nbad == 1 ? "" : "s");
	return SOAP_OK;
}

int
soap_discover_version(struct soap_client *c)
{
	size_t n = strlen(c->url) + 32;
	char *u = vp_xmalloc(n), perr[256];
	enum soap_result r;
	int rc = -1;

	snprintf(u, n, "%s/vimServiceVersions.xml", c->url);
	curl_easy_setopt(c->curl, CURLOPT_URL, u);
	curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	c->on_event = NULL;
	r = perform(c, "vimServiceVersions.xml", 30000, perr, sizeof(perr));
	free(u);
	if (r != SOAP_OK)
		return r == SOAP_STOPPED ? -2 : r == SOAP_TLS ? -3 : -1;
	if (c->http_status == 200 && c->doc != NULL) {
		struct vim_node *root = vim_doc_root(c->doc);
		char name[64], version[64];

		for (struct vim_node *ns = soap_child(root, "namespace"); ns;
		    ns = soap_next_named(ns, "namespace")) {
			if (soap_child_text(ns, "name", name, sizeof(name)) &&
			    strcmp(name, "urn:vim25") == 0 &&
			    soap_child_text(ns, "version", version,
			    sizeof(version)) && version[0]) {
				free(c->action);
				n = strlen(version) + 16;
				c->action = vp_xmalloc(n);
				snprintf(c->action, n, "urn:vim25/%s", version);
				rc = 0;
			}
		}
	}
	if (c->doc) {
		vim_doc_free(c->doc);
		c->doc = NULL;
	}
	if (rc != 0)
		set_error(c, "vimServiceVersions.xml: HTTP %ld, no urn:vim25 "
		    "version; using %s", c->http_status, c->action);
	return rc;
}

/* Fill fault_type and error from a soapenv:Fault element. */
static void
read_fault(struct soap_client *c, const char *method, struct vim_node *fault)
{
	char msg[256] = "";
	struct vim_node *detail = soap_child(fault, "detail");
	struct vim_node *f = soap_child(detail, NULL);

	soap_child_text(fault, "faultstring", msg, sizeof(msg));
	if (f) {
		/* <NotAuthenticatedFault xsi:type="NotAuthenticated"> */
		const char *t = vim_node_attr(f, "type",
		    "http://www.w3.org/2001/XMLSchema-instance");
		const char *name = t ? t : f->name;
		const char *colon = strchr(name, ':');

		snprintf(c->fault_type, sizeof(c->fault_type), "%s",
		    colon ? colon + 1 : name);
		{
			size_t l = strlen(c->fault_type);
			if (t == NULL && l > 5 &&
			    strcmp(c->fault_type + l - 5, "Fault") == 0)
				c->fault_type[l - 5] = '\0';
		}
	} else
		snprintf(c->fault_type, sizeof(c->fault_type), "Unknown");
	set_error(c, "%s: fault %s: %s", method, c->fault_type,
	    msg[0] ? msg : "(no message)");
}

enum soap_result
soap_call(struct soap_client *c, const char *method, const char *this_type,
    const char *this_value, const char *body, long timeout_ms, struct vim_node **ret)
{
	return soap_call_events(c, method, this_type, this_value, body,
	    timeout_ms, NULL, NULL, ret);
}

enum soap_result
soap_call_events(struct soap_client *c, const char *method,
    const char *this_type, const char *this_value, const char *body,
    long timeout_ms, int (*cb)(struct vim_node *ev, void *arg), void *arg,
    struct vim_node **ret)
{
	struct curl_slist *h = NULL;
	char hdr[256];
	enum soap_result r;
	struct vim_node *root, *sbody, *resp, *fault;
	char perr[256];

	*ret = NULL;
	vp_buf_reset(&c->req);
	vp_buf_printf(&c->req,
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
	    "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\""
	    " xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\""
	    " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">"
	    "<soapenv:Body><%s xmlns=\"urn:vim25\">"
	    "<_this type=\"%s\">", method, this_type);
	soap_xml_escape(&c->req, this_value);
	vp_buf_printf(&c->req, "</_this>%s</%s></soapenv:Body></soapenv:Envelope>",
	    body ? body : "", method);

	h = curl_slist_append(h, "Content-Type: text/xml; charset=\"utf-8\"");
	snprintf(hdr, sizeof(hdr), "SOAPAction: \"%s\"", c->action);
	h = curl_slist_append(h, hdr);
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(c->curl, CURLOPT_URL, c->url);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, c->req.data);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)c->req.len);
	c->on_event = cb;
	c->event_arg = arg;
	r = perform(c, method, timeout_ms > 0 ? timeout_ms : c->timeout_ms,
	    perr, sizeof(perr));
	c->on_event = NULL;
	c->event_arg = NULL;
	c->keys_only = 0;
	c->stop_at = NULL;
	c->keep = NULL;
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(h);
	if (r != SOAP_OK)
		return r;

	if (c->resp_len == 0) {
		set_error(c, "%s: HTTP %ld with an empty body", method,
		    c->http_status);
		return c->http_status >= 400 ? SOAP_HTTP : SOAP_BADRESPONSE;
	}
	root = c->doc ? vim_doc_root(c->doc) : NULL;
	sbody = soap_child(root, "Body");
	if (sbody == NULL) {
		set_error(c, "%s: HTTP %ld, %s", method, c->http_status,
		    c->doc == NULL ? perr : "no SOAP Body in the response");
		return c->http_status >= 400 ? SOAP_HTTP : SOAP_BADRESPONSE;
	}
	if ((fault = soap_child(sbody, "Fault")) != NULL) {
		read_fault(c, method, fault);
		return SOAP_FAULT;
	}
	if (c->http_status != 200) {
		set_error(c, "%s: HTTP %ld", method, c->http_status);
		return SOAP_HTTP;
	}
	resp = soap_child(sbody, NULL);
	if (resp == NULL) {
		set_error(c, "%s: empty SOAP Body", method);
		return SOAP_BADRESPONSE;
	}
	{
		size_t ml = strlen(method);
		if (strncmp(resp->name, method, ml) != 0 ||
		    strcmp(resp->name + ml, "Response") != 0) {
			set_error(c, "%s: unexpected element <%s> in the response",
			    method, resp->name);
			return SOAP_BADRESPONSE;
		}
	}
	*ret = soap_child(resp, NULL);
	return SOAP_OK;
}
