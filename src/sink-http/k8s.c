/*
 * k8s.c: find where a Knative destination.ref receives events, by asking
 * the Kubernetes API server from inside the cluster, as the event router's
 * Knative processor does (knative.dev/pkg's resolver over client-go's
 * in-cluster configuration).
 *
 *   in-cluster configuration  KUBERNETES_SERVICE_HOST and _PORT; the service
 *                             account's token and ca.crt (the directory is
 *                             VCPIPE_SERVICEACCOUNT_DIR, for tests)
 *   the object                GET /api/v1/namespaces/NS/PLURAL/NAME (core)
 *                             or /apis/GROUP/VERSION/namespaces/NS/PLURAL/NAME;
 *                             PLURAL as apimachinery guesses it from the kind
 *   ref.group without version the CRD's storage version:
 *                             GET .../customresourcedefinitions/PLURAL.GROUP
 *   its address               status.address.url (a RabbitMQBroker's ingress
 *                             has no /NS/NAME path, an MT broker's has);
 *                             a core v1 Service has none: it is
 *                             http://NAME.NS.svc.CLUSTER-DOMAIN
 *
 * The router resolves once at start; sink-http resolves again when delivery
 * fails to connect or is answered 404 (a Broker recreated with another
 * class lives elsewhere), so an address change needs no restart.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sink.h"

#define K8S_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define K8S_BODY_MAX (4 * 1024 * 1024)
#define TOKEN_REREAD_MS 60000	/* client-go's cached token source period */
#define URL_MAX 2048

struct k8s {
	/* the reference */
	char *spec;		/* as given, for messages */
	char *group, *version;	/* group "" is the core group */
	int need_version;	/* ref.group without a version: ask the CRD */
	char *kind, *ns, *name, *plural;
	/* the API server */
	char *api;		/* https://HOST:PORT */
	char *token_path, *ca_path;
	char *token;
	int64_t token_ms;
	CURL *curl;
	char errbuf[CURL_ERROR_SIZE];
	/* the answer */
	char url[URL_MAX];	/* rewritten in place: callers keep the pointer */
};

static int
ref_segment_ok(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '.' && s[i] != '_')
			return 0;
	return 1;
}

/*
 * APIVERSION/KIND/NAMESPACE/NAME, APIVERSION being v1 (the core group),
 * GROUP/VERSION, or GROUP alone (Knative's experimental ref.group: the
 * version is the CRD's storage version). Read from the right: the last
 * three segments never hold a slash.
 */
static int
parse_ref(const char *spec, struct k8s *k, char *err, size_t errlen)
{
	const char *seg[3], *end = spec + strlen(spec), *p = end;
	size_t len[3], alen;
	int i;

	for (i = 2; i >= 0; i--) {
		const char *q = p;

		while (q > spec && q[-1] != '/')
			q--;
		if (q == spec) {
			snprintf(err, errlen, "expected APIVERSION/KIND/NAMESPACE/"
			    "NAME (like eventing.knative.dev/v1/Broker/"
			    "vmware-functions/default), got \"%s\"", spec);
			return -1;
		}
		seg[i] = q;
		len[i] = (size_t)(p - q);
		p = q - 1;
	}
	alen = (size_t)(p - spec);
	if (alen == 0 || !ref_segment_ok(seg[0], len[0]) ||
	    !ref_segment_ok(seg[1], len[1]) || !ref_segment_ok(seg[2], len[2])) {
		snprintf(err, errlen, "\"%s\": the API version, kind, namespace "
		    "and name must not be empty and hold only letters, digits, "
		    "'-', '.' and '_'", spec);
		return -1;
	}
	if (k == NULL)
		return 0;
	k->kind = vp_xmalloc(len[0] + 1);
	memcpy(k->kind, seg[0], len[0]);
	k->kind[len[0]] = '\0';
	k->ns = vp_xmalloc(len[1] + 1);
	memcpy(k->ns, seg[1], len[1]);
	k->ns[len[1]] = '\0';
	k->name = vp_xmalloc(len[2] + 1);
	memcpy(k->name, seg[2], len[2]);
	k->name[len[2]] = '\0';
	{
		char *av = vp_xmalloc(alen + 1), *slash;

		memcpy(av, spec, alen);
		av[alen] = '\0';
		if ((slash = strchr(av, '/')) != NULL) {
			*slash = '\0';
			k->group = vp_xstrdup(av);
			k->version = vp_xstrdup(slash + 1);
		} else if (strchr(av, '.') != NULL) {
			/* an API group always has a dot; a core version never */
			k->group = vp_xstrdup(av);
			k->need_version = 1;
		} else {
			k->group = vp_xstrdup("");
			k->version = vp_xstrdup(av);
		}
		free(av);
		if ((k->version && (*k->version == '\0' ||
		    strchr(k->version, '/'))) || !ref_segment_ok(k->group[0] ?
		    k->group : "core", strlen(k->group[0] ? k->group : "core"))) {
			snprintf(err, errlen, "\"%s\": the API version is v1, "
			    "GROUP/VERSION or GROUP", spec);
			return -1;
		}
	}
	/* meta.UnsafeGuessKindToResource */
	{
		size_t n = strlen(k->kind);
		char *pl = vp_xmalloc(n + 4);

		for (size_t j = 0; j <= n; j++)
			pl[j] = (char)tolower((unsigned char)k->kind[j]);
		if (pl[n - 1] == 's')
			strcpy(pl + n, "es");
		else if (pl[n - 1] == 'y')
			strcpy(pl + n - 1, "ies");
		else
			strcpy(pl + n, "s");
		k->plural = pl;
	}
	return 0;
}

int
k8s_ref_check(const char *spec, char *err, size_t errlen)
{
	return parse_ref(spec, NULL, err, errlen);
}

const char *
k8s_describe(const struct k8s *k)
{
	return k->spec;
}

const char *
k8s_url(const struct k8s *k)
{
	return k->url;
}

static const char *
sa_dir(void)
{
	const char *d = getenv("VCPIPE_SERVICEACCOUNT_DIR");

	return d && *d ? d : K8S_SA_DIR;
}

struct k8s *
k8s_new(const char *spec, char *err, size_t errlen, int *code)
{
	struct k8s *k = vp_xmalloc(sizeof(*k));
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	struct vp_buf b = { 0 };
	char e2[256];

	memset(k, 0, sizeof(*k));
	k->spec = vp_xstrdup(spec);
	*code = VP_EXIT_CONFIG;
	if (parse_ref(spec, k, err, errlen) != 0)
		goto fail;
	if (host == NULL || *host == '\0' || port == NULL || *port == '\0') {
		snprintf(err, errlen, "%s: not in a Kubernetes cluster "
		    "(KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are "
		    "not set), and a ref is resolved through the Kubernetes API; "
		    "outside a cluster give the receiver's URL instead "
		    "(destination.uri, or --url)", spec);
		goto fail;
	}
	/* net.JoinHostPort: an IPv6 address in brackets */
	vp_buf_printf(&b, strchr(host, ':') ? "https://[%s]:%s" :
	    "https://%s:%s", host, port);
	k->api = b.data;
	memset(&b, 0, sizeof(b));
	vp_buf_printf(&b, "%s/token", sa_dir());
	k->token_path = b.data;
	memset(&b, 0, sizeof(b));
	vp_buf_printf(&b, "%s/ca.crt", sa_dir());
	k->ca_path = b.data;
	if ((k->token = vp_read_secret_file(k->token_path, e2,
	    sizeof(e2))) == NULL) {
		snprintf(err, errlen, "%s: the service account token: %s", spec,
		    e2);
		*code = VP_EXIT_NOINPUT;
		goto fail;
	}
	k->token_ms = vp_now_ms();
	if (access(k->ca_path, R_OK) != 0) {
		/* client-go uses the system's CAs then */
		vp_warn("%s: %s; verifying the API server with the system's "
		    "CAs", k->ca_path, strerror(errno));
		free(k->ca_path);
		k->ca_path = NULL;
	}
	if ((k->curl = curl_easy_init()) == NULL)
		vp_die(VP_EXIT_SOFTWARE, "curl_easy_init failed");
	return k;
fail:
	k8s_free(k);
	return NULL;
}

void
k8s_free(struct k8s *k)
{
	if (k == NULL)
		return;
	VP_FREE_EACH(k->spec, k->group, k->version, k->kind, k->ns, k->name,
	    k->plural, k->api, k->token_path, k->ca_path);
	vp_free_secret(k->token);
	curl_easy_cleanup(k->curl);	/* NULL: nothing */
	free(k);
}

/* Read the token again (a projected token is rotated by the kubelet). */
static int
reread_token(struct k8s *k)
{
	char e[256], *t = vp_read_secret_file(k->token_path, e, sizeof(e));
	int changed;

	k->token_ms = vp_now_ms();
	if (t == NULL) {
		vp_warn("%s; keeping the token read before", e);
		return 0;
	}
	changed = strcmp(t, k->token) != 0;
	vp_free_secret(k->token);
	k->token = t;
	return changed;
}

/* One GET; the status, 0 after a transport error (k->errbuf). */
static long
get(struct k8s *k, const char *path, struct vp_buf *out)
{
	struct vp_tls tls = { 0, k->ca_path };
	struct curl_slist *h = NULL;
	struct vp_buf u = { 0 };
	CURLcode rc;
	long status = 0;

	if (vp_now_ms() - k->token_ms >= TOKEN_REREAD_MS)
		reread_token(k);
	vp_buf_printf(&u, "%s%s", k->api, path);
	vp_buf_reset(out);
	curl_easy_reset(k->curl);
	vp_curl_common(k->curl, &tls);	/* the API server is always verified */
	curl_easy_setopt(k->curl, CURLOPT_URL, u.data);
	curl_easy_setopt(k->curl, CURLOPT_TIMEOUT_MS, 30000L);
	curl_easy_setopt(k->curl, CURLOPT_ERRORBUFFER, k->errbuf);
	curl_easy_setopt(k->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(k->curl, CURLOPT_WRITEFUNCTION, vp_curl_write_buf);
	curl_easy_setopt(k->curl, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(k->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
	curl_easy_setopt(k->curl, CURLOPT_XOAUTH2_BEARER, k->token);
	h = curl_slist_append(h, "Accept: application/json");
	curl_easy_setopt(k->curl, CURLOPT_HTTPHEADER, h);
	k->errbuf[0] = '\0';
	rc = curl_easy_perform(k->curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(k->curl, CURLINFO_RESPONSE_CODE, &status);
	else if (k->errbuf[0] == '\0')
		snprintf(k->errbuf, sizeof(k->errbuf), "%s",
		    curl_easy_strerror(rc));
	curl_easy_setopt(k->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(h);
	vp_buf_free(&u);
	return status;
}

/*
 * GET with the failure classes of a resolution: 0 with the body parsed, or
 * an exit code (78 the object or its API is not there, 77 refused, 75 worth
 * another try) with a message naming the request.
 */
static int
get_json(struct k8s *k, const char *path, json_t **out, char *err,
    size_t errlen)
{
	struct vp_buf b = { 0 };
	json_t *j;
	long st;

	b.max = K8S_BODY_MAX;
	*out = NULL;
	st = get(k, path, &b);
	if (st == 401 && reread_token(k))
		st = get(k, path, &b);	/* a rotated token: once more */
	if (st == 200) {
		j = json_loadb(b.data ? b.data : "", b.len, 0, NULL);
		vp_buf_free(&b);
		if (!json_is_object(j)) {
			json_decref(j);
			snprintf(err, errlen, "GET %s%s: the answer is not a "
			    "JSON object", k->api, path);
			return VP_EXIT_TEMPFAIL;
		}
		*out = j;
		return 0;
	}
	if (st == 0) {
		snprintf(err, errlen, "GET %s%s: %s", k->api, path, k->errbuf);
		vp_buf_free(&b);
		/* a certificate the cluster CA does not vouch for is not
		 * going to change by itself */
		return strstr(k->errbuf, "certificate") ? VP_EXIT_CONFIG :
		    VP_EXIT_TEMPFAIL;
	}
	/* a metav1.Status body says what went wrong */
	j = json_loadb(b.data ? b.data : "", b.len, 0, NULL);
	{
		const char *msg = json_string_value(json_object_get(j,
		    "message"));
		const char *reason = json_string_value(json_object_get(j,
		    "reason"));

		snprintf(err, errlen, "GET %s%s: HTTP %ld%s%s%s%s", k->api,
		    path, st, reason ? " " : "", reason ? reason : "",
		    msg ? ": " : "", msg ? msg : "");
	}
	json_decref(j);
	vp_buf_free(&b);
	if (st == 401)
		return VP_EXIT_NOPERM;
	if (st == 403) {
		size_t n = strlen(err);
		snprintf(err + n, errlen - n, " (the service account needs "
		    "\"get\" on %s%s%s)", k->plural, *k->group ? "." : "",
		    k->group);
		return VP_EXIT_NOPERM;
	}
	return vp_http_status_retryable(st) ? VP_EXIT_TEMPFAIL :
	    VP_EXIT_CONFIG;
}

/* network.GetClusterDomainName: resolv.conf's svc. search entry, env, default */
static void
cluster_domain(char *out, size_t len)
{
	const char *rc = getenv("VCPIPE_RESOLV_CONF");
	char *text = vp_read_file(rc && *rc ? rc : "/etc/resolv.conf", 1 << 20,
	    NULL), *line, *save;
	const char *env;

	for (line = text ? strtok_r(text, "\n", &save) : NULL; line;
	    line = strtok_r(NULL, "\n", &save)) {
		char *w, *s2;

		if (strncmp(line, "search", 6) != 0 ||
		    !isspace((unsigned char)line[6]))
			continue;
		for (w = strtok_r(line + 6, " \t\r", &s2); w;
		    w = strtok_r(NULL, " \t\r", &s2))
			if (strncmp(w, "svc.", 4) == 0) {
				size_t n = strlen(w + 4);
				if (n > 0 && w[4 + n - 1] == '.')
					n--;
				snprintf(out, len, "%.*s", (int)n, w + 4);
				free(text);
				return;
			}
	}
	free(text);
	env = getenv("CLUSTER_DOMAIN");
	snprintf(out, len, "%s", env && *env ? env : "cluster.local");
}

/* The version the CRD stores (KReference.ResolveGroup). */
static int
crd_version(struct k8s *k, char *err, size_t errlen)
{
	struct vp_buf p = { 0 };
	json_t *crd, *vs, *v;
	size_t i;
	int rc;

	vp_buf_printf(&p, "/apis/apiextensions.k8s.io/v1/"
	    "customresourcedefinitions/%s.%s", k->plural, k->group);
	rc = get_json(k, p.data, &crd, err, errlen);
	vp_buf_free(&p);
	if (rc != 0)
		return rc;
	vs = json_object_get(json_object_get(crd, "spec"), "versions");
	json_array_foreach(vs, i, v) {
		if (json_is_true(json_object_get(v, "storage")) &&
		    json_is_string(json_object_get(v, "name"))) {
			free(k->version);
			k->version = vp_xstrdup(json_string_value(
			    json_object_get(v, "name")));
			json_decref(crd);
			return 0;
		}
	}
	json_decref(crd);
	snprintf(err, errlen, "%s: the CustomResourceDefinition %s.%s has no "
	    "storage version", k->spec, k->plural, k->group);
	return VP_EXIT_CONFIG;
}

/* An address sink-http can deliver to: http(s)://HOST... */
static int
address_ok(const char *u)
{
	const char *h;

	if (strncmp(u, "http://", 7) == 0)
		h = u + 7;
	else if (strncmp(u, "https://", 8) == 0)
		h = u + 8;
	else
		return 0;
	return *h && strchr("/?#:", *h) == NULL && strlen(u) < URL_MAX &&
	    !strpbrk(u, " \t\r\n");
}

int
k8s_resolve(struct k8s *k, char *err, size_t errlen)
{
	struct vp_buf p = { 0 };
	char found[URL_MAX];
	json_t *obj, *addr, *u;
	int rc;

	if (k->need_version && k->version == NULL &&
	    (rc = crd_version(k, err, errlen)) != 0)
		return rc;
	if (*k->group)
		vp_buf_printf(&p, "/apis/%s/%s/namespaces/%s/%s/%s", k->group,
		    k->version, k->ns, k->plural, k->name);
	else
		vp_buf_printf(&p, "/api/%s/namespaces/%s/%s/%s", k->version,
		    k->ns, k->plural, k->name);
	rc = get_json(k, p.data, &obj, err, errlen);
	vp_buf_free(&p);
	if (rc != 0)
		return rc;
	if (*k->group == '\0' && strcmp(k->version, "v1") == 0 &&
	    strcmp(k->kind, "Service") == 0) {
		/* a core Service has no address of its own (no port: 80) */
		char dom[256];

		cluster_domain(dom, sizeof(dom));
		snprintf(found, sizeof(found), "http://%s.%s.svc.%s", k->name,
		    k->ns, dom);
	} else {
		addr = json_object_get(json_object_get(obj, "status"),
		    "address");
		u = json_object_get(addr, "url");
		if (!json_is_object(addr)) {
			snprintf(err, errlen, "%s: address not set (no "
			    "status.address: is it ready?)", k->spec);
			json_decref(obj);
			return VP_EXIT_TEMPFAIL;
		}
		if (!json_is_string(u) || !*json_string_value(u)) {
			snprintf(err, errlen, "%s: URL missing in "
			    "status.address", k->spec);
			json_decref(obj);
			return VP_EXIT_TEMPFAIL;
		}
		if (!address_ok(json_string_value(u))) {
			snprintf(err, errlen, "%s: status.address.url \"%.200s\" "
			    "is not an http(s) URL with a host name", k->spec,
			    json_string_value(u));
			json_decref(obj);
			return VP_EXIT_TEMPFAIL;
		}
		snprintf(found, sizeof(found), "%s", json_string_value(u));
	}
	json_decref(obj);
	if (strcmp(found, k->url) != 0) {
		if (k->url[0])
			vp_info("%s: the address is now %s (was %s)", k->spec,
			    found, k->url);
		else
			vp_info("%s: delivering to %s", k->spec, found);
		snprintf(k->url, sizeof(k->url), "%s", found);
	}
	return 0;
}
