/*
 * openfaas.c: deliver to OpenFaaS functions through the gateway, choosing
 * functions by their "topic" annotation the way the OpenFaaS connector SDK
 * (and VMware's vcenter-connector built on it) does.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "sink.h"
#include "topic.h"

#define LIST_MAX (8 * 1024 * 1024)

struct function {
	char *name;
	char **topics;
	size_t ntopics;
};

struct openfaas {
	char *gateway;		/* without a trailing slash */
	int async;
	int64_t refresh_ms;
	char *connector;
	struct function *fn;
	size_t nfn;
	int have_list;
	int64_t fetched_ms;
};

struct openfaas *
openfaas_new(const char *gateway, int async, int64_t refresh_ms,
    const char *connector)
{
	struct openfaas *of = vp_xmalloc(sizeof(*of));
	size_t n;

	memset(of, 0, sizeof(*of));
	of->gateway = vp_xstrdup(gateway);
	n = strlen(of->gateway);
	while (n > 0 && of->gateway[n - 1] == '/')
		of->gateway[--n] = '\0';
	of->async = async;
	of->refresh_ms = refresh_ms;
	of->connector = vp_xstrdup(connector);
	return of;
}

static void
free_list(struct openfaas *of)
{
	for (size_t i = 0; i < of->nfn; i++) {
		for (size_t j = 0; j < of->fn[i].ntopics; j++)
			free(of->fn[i].topics[j]);
		free(of->fn[i].topics);
		free(of->fn[i].name);
	}
	free(of->fn);
	of->fn = NULL;
	of->nfn = 0;
}

void
openfaas_free(struct openfaas *of)
{
	if (of == NULL)
		return;
	free_list(of);
	free(of->gateway);
	free(of->connector);
	free(of);
}

int
function_name_ok(const char *s)
{
	/* no leading dot: "." and ".." are path segments to libcurl */
	if (!isalnum((unsigned char)*s))
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.' &&
		    *s != '_')
			return 0;
	return 1;
}

/* Parse the /system/functions answer. -1 when it is not a list of functions. */
static int
load_list(struct openfaas *of, const char *text, size_t len)
{
	json_t *arr = json_loadb(text, len, 0, NULL), *f;
	size_t i;

	if (!json_is_array(arr)) {
		json_decref(arr);
		return -1;
	}
	free_list(of);
	of->fn = vp_xmalloc(sizeof(*of->fn) * (json_array_size(arr) + 1));
	json_array_foreach(arr, i, f) {
		json_t *nm = json_object_get(f, "name");
		json_t *ann = json_object_get(f, "annotations");
		const char *topic = json_string_value(json_object_get(ann,
		    "topic"));
		struct function *fn;
		char *copy, *tok, *save;

		if (!json_is_string(nm) ||
		    !function_name_ok(json_string_value(nm))) {
			vp_warn("%s/system/functions: skipping a function "
			    "with a missing or odd name", of->gateway);
			continue;
		}
		fn = &of->fn[of->nfn++];
		fn->name = vp_xstrdup(json_string_value(nm));
		fn->topics = NULL;
		fn->ntopics = 0;
		if (topic == NULL)
			continue;
		copy = vp_xstrdup(topic);
		for (tok = strtok_r(copy, ",", &save); tok;
		    tok = strtok_r(NULL, ",", &save)) {
			char *e;
			while (isspace((unsigned char)*tok))
				tok++;
			e = tok + strlen(tok);
			while (e > tok && isspace((unsigned char)e[-1]))
				*--e = '\0';
			if (*tok == '\0')
				continue;
			fn->topics = vp_xrealloc(fn->topics,
			    sizeof(char *) * (fn->ntopics + 1));
			fn->topics[fn->ntopics++] = vp_xstrdup(tok);
		}
		free(copy);
	}
	json_decref(arr);
	return 0;
}

/*
 * Fetch the function list when it is due. Returns 0, or an exit code when
 * there is no list to work with and none can be had. Once a list is held,
 * no failure ends the run: the list is kept and tried again next time.
 */
static int
refresh(struct openfaas *of, struct http *h, const struct vp_retry *p)
{
	struct vp_buf b = { 0 };
	struct vp_backoff bo;
	size_t ulen = strlen(of->gateway) + 32;
	char *url = vp_xmalloc(ulen);
	int64_t start = vp_now_ms();
	int rc = 0, reread = 1;

	if (of->have_list && vp_now_ms() - of->fetched_ms < of->refresh_ms) {
		free(url);
		return 0;
	}
	snprintf(url, ulen, "%s/system/functions", of->gateway);
	vp_backoff_init(&bo, p->base_ms, p->cap_ms);
	b.max = LIST_MAX;
	for (unsigned attempt = 1;; attempt++) {
		char why[CURL_ERROR_SIZE + 32];
		long st;
		int64_t delay;

		vp_buf_reset(&b);
		st = http_get(h, url, &b, AUTH_BASIC);
		if (st == 200 && load_list(of, b.data ? b.data : "",
		    b.len) == 0) {
			vp_debug("%s: %zu functions", url, of->nfn);
			of->have_list = 1;
			break;
		}
		if (st == 200)
			snprintf(why, sizeof(why), "not a JSON array of "
			    "functions");
		else if (st != 0)
			snprintf(why, sizeof(why), "HTTP %ld", st);
		else
			snprintf(why, sizeof(why), "%s", h->x.errbuf);
		if ((st == 401 || st == 403) && reread) {
			/* a rotated Secret is worth one more try at once */
			reread = 0;
			if (http_reload_credentials(h)) {
				vp_info("%s: %s; credentials file changed, "
				    "trying again", url, why);
				continue;
			}
		}
		if (of->have_list) {
			vp_warn("%s: %s; keeping the previous function list",
			    url, why);
			break;
		}
		if (st == 401 || st == 403) {
			vp_error("%s: %s: check --credentials-file", url, why);
			rc = VP_EXIT_NOPERM;
			break;
		}
		if (st != 0 && st != 200 && !vp_http_status_retryable(st)) {
			vp_error("%s: %s: is this an OpenFaaS gateway?", url,
			    why);
			rc = VP_EXIT_CONFIG;
			break;
		}
		if (st == 0 && vp_curl_permanent(h->x.cc)) {
			vp_error("%s: %s", url, why);
			rc = VP_EXIT_CONFIG;
			break;
		}
		delay = vp_retry_delay(&bo, h->x.retry_after_ms);
		if (vp_retry_over(p, attempt, start, delay)) {
			vp_error("%s: %s; giving up", url, why);
			rc = VP_EXIT_TEMPFAIL;
			break;
		}
		vp_warn("%s: %s; retry in %lld ms", url, why, (long long)delay);
		if (vp_sleep_ms(delay)) {
			/* no function is known: the event is not done */
			vp_error("%s: stopped before a function list was had",
			    url);
			rc = VP_EXIT_TEMPFAIL;
			break;
		}
	}
	of->fetched_ms = vp_now_ms();
	vp_buf_free(&b);
	free(url);
	return rc;
}

/* A topic annotation names the subject, the connector's topic of the
 * subject or of the class (EventEx: "ex"), or "*". */
static int
matches(const struct function *fn, const char *subject, const char *dotted,
    const char *class_topic)
{
	for (size_t i = 0; i < fn->ntopics; i++) {
		const char *t = fn->topics[i];
		if (strcmp(t, "*") == 0 || (subject && (strcmp(t, subject) == 0
		    || strcmp(t, dotted) == 0)) ||
		    (class_topic && strcmp(t, class_topic) == 0))
			return 1;
	}
	return 0;
}

/* The connector's topic of the event's class: "ex" for every EventEx. */
static char *
class_topic(const struct event *ev)
{
	char *cls = NULL, *type = NULL, *ec = NULL, *t;

	if (ev->ce) {
		struct ce_event *ce = ev->ce;

		type = ce_strdup(ce, &ce->type);
		for (size_t i = 0; i < ce->next; i++)
			if (ce->ext[i].nlen == 10 && memcmp(ce->strs.data +
			    ce->ext[i].noff, "eventclass", 10) == 0) {
				ec = vp_xmalloc(ce->ext[i].vlen + 1);
				memcpy(ec, ce->strs.data + ce->ext[i].voff,
				    ce->ext[i].vlen);
				ec[ce->ext[i].vlen] = '\0';
			}
	}
	cls = vp_event_class(type, ev->subject, ec);
	t = cls ? vp_connector_topic(cls) : NULL;
	free(cls);
	free(type);
	free(ec);
	return t;
}

/*
 * Deliver to one function; 0 when done (or dead-lettered), else an exit code.
 * After a stop request the function is not invoked at all: the event is not
 * done.
 */
static int
invoke(struct openfaas *of, struct http *h, const struct vp_retry *p,
    const struct event *ev, const char *name, struct curl_slist *extra,
    settle_fn settle, size_t *nok)
{
	size_t ulen = strlen(of->gateway) + strlen(name) + 32;
	char *url = vp_xmalloc(ulen);
	struct result r;
	int rc = 0;

	memset(&r, 0, sizeof(r));
	r.resp.max = SINK_RESP_KEEP;
	snprintf(url, ulen, "%s/%s/%s", of->gateway,
	    of->async ? "async-function" : "function", name);
	if (vp_stop_requested) {
		r.out = VP_OUT_STOPPED;
		r.status = -1;
		snprintf(r.error, sizeof(r.error), "stopped before this "
		    "function was invoked");
	} else
		deliver(h, p, url, ev, extra, AUTH_BEARER, &r);
	if (r.out == VP_OUT_OK) {
		vp_debug("stdin:%lu: %s: HTTP %ld", ev->lineno, url, r.status);
		(*nok)++;
	} else
		rc = settle(ev, &r, url, name);
	vp_buf_free(&r.resp);
	free(url);
	return rc;
}

int
openfaas_deliver(struct openfaas *of, struct http *h,
    const struct vp_retry *p, const struct event *ev, settle_fn settle,
    int *acked)
{
	struct curl_slist *extra = NULL;
	struct vp_buf b = { 0 };
	char *dotted, *ctopic;
	int rc;
	size_t hits = 0, nok = 0;

	*acked = 0;
	if ((rc = refresh(of, h, p)) != 0)
		return rc;
	dotted = vp_connector_topic(ev->subject ? ev->subject : "");
	ctopic = class_topic(ev);
	if (ev->subject) {
		/* header values must not break the request */
		if (strpbrk(ev->subject, "\r\n") == NULL) {
			vp_buf_printf(&b, "X-Topic: %s", ev->subject);
			extra = curl_slist_append(extra, b.data);
		}
	}
	vp_buf_reset(&b);
	vp_buf_printf(&b, "X-Connector: %s", of->connector);
	extra = curl_slist_append(extra, b.data);
	vp_buf_free(&b);
	if (ev->dlq_function) {
		/* a replayed dead letter goes back to the function that failed */
		hits = 1;
		rc = invoke(of, h, p, ev, ev->dlq_function, extra, settle,
		    &nok);
	} else
		for (size_t i = 0; i < of->nfn && rc == 0; i++) {
			if (!matches(&of->fn[i], ev->subject, dotted, ctopic))
				continue;
			hits++;
			rc = invoke(of, h, p, ev, of->fn[i].name, extra, settle,
			    &nok);
		}
	if (hits == 0)
		vp_debug("stdin:%lu: no function subscribes to \"%s\"",
		    ev->lineno, ev->subject ? ev->subject : "");
	*acked = hits > 0 && nok == hits;
	curl_slist_free_all(extra);
	free(dotted);
	free(ctopic);
	return rc;
}
