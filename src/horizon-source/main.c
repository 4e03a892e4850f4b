/*
 * horizon-source: VMware Horizon audit events as CloudEvent lines.
 *
 * Logs in to the Horizon REST API (/rest/login), polls
 * /rest/external/v1/audit-events with a "Between" time filter, pages through
 * the answer, and writes each new event, oldest first, as one structured
 * CloudEvent line (vcpipe-formats(5)) with the type names the VMware Event
 * Router used, com.vmware.event.router/horizon.<type lower-cased>.v0, or
 * with --type-style vsphere those of Tanzu's HorizonSource,
 * com.vmware.horizon.<type lower-cased>.v0 (no subject), so its Triggers match.
 * An expired access token is renewed with /rest/refresh; an expired refresh
 * token means a new login.  The time filter is inclusive, so events at the
 * boundary millisecond are remembered by id and not written twice; a
 * checkpoint file written by a sink is where a restart resumes.
 */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "opt.h"
#include "vp.h"
#include "help/horizon-source.h"

/* --type-style: the event router's names, or Tanzu Sources' HorizonSource's */
enum { STYLE_ROUTER, STYLE_VSPHERE };
static const char *const type_prefix[] = {
	"com.vmware.event.router/horizon.", "com.vmware.horizon."
};
#define MAX_SEEN 4096

static struct {
	const char *url, *domain, *credfile, *checkpoint;
	int64_t begin_ms, poll_ms, timeout_ms;
	int page;
	int once;
	int style;
	struct vp_tls tls;
} opt;

static CURL *curl;
static char *user, *pass, *access_token, *refresh_token;
static char base[1024];

/* position: everything before since_ms is done; ids at since_ms seen */
static int64_t since_ms;
static long long seen[MAX_SEEN];
static size_t nseen;
static unsigned long written;

enum { H_OK, H_UNAUTH, H_FAIL, H_DENIED };

/* One request; body NULL means GET.  Returns the HTTP status, -1 on transport error. */
static long
request(const char *path, const char *query, const char *body, int bearer,
    struct vp_buf *out)
{
	struct curl_slist *h = NULL;
	struct vp_buf auth = { 0 };
	char *url;
	size_t n;
	long status = -1;
	CURLcode rc;

	n = strlen(base) + strlen(path) + (query ? strlen(query) + 1 : 0) + 1;
	url = vp_xmalloc(n);
	snprintf(url, n, "%s%s%s%s", base, path, query ? "?" : "",
	    query ? query : "");
	vp_buf_reset(out);
	curl_easy_reset(curl);
	vp_curl_common(curl, &opt.tls);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)opt.timeout_ms);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, vp_curl_write_buf);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, out);
	h = curl_slist_append(h, "Accept: application/json");
	if (body) {
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	}
	if (bearer && access_token) {
		vp_buf_printf(&auth, "Authorization: Bearer %s", access_token);
		h = curl_slist_append(h, auth.data);
	}
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	else
		vp_warn("%s%s: %s", base, path, curl_easy_strerror(rc));
	curl_slist_free_all(h);
	if (auth.data)
		memset(auth.data, 0, auth.len);
	vp_buf_free(&auth);
	free(url);
	return status;
}

static char *
take_string(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? vp_xstrdup(json_string_value(v)) : NULL;
}

static int
login(void)
{
	struct vp_buf out = { 0 };
	json_t *req, *resp;
	char *body;
	long st;
	int ret = H_FAIL;

	req = json_pack("{s:s, s:s, s:s}", "domain", opt.domain ? opt.domain :
	    "", "username", user, "password", pass);
	body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	st = request("/rest/login", NULL, body, 0, &out);
	memset(body, 0, strlen(body));
	free(body);
	if (st == 200 && (resp = json_loadb(out.data ? out.data : "", out.len,
	    0, NULL)) != NULL) {
		vp_free_secret(access_token);
		vp_free_secret(refresh_token);
		access_token = take_string(resp, "access_token");
		refresh_token = take_string(resp, "refresh_token");
		json_decref(resp);
		if (access_token) {
			vp_info("logged in to %s", base);
			ret = H_OK;
		} else
			vp_error("/rest/login: no access_token in the answer");
	} else if (st == 400 || st == 401 || st == 403) {
		vp_error("/rest/login: %ld: credentials refused", st);
		ret = H_DENIED;
	} else if (st > 0)
		vp_warn("/rest/login: unexpected status %ld", st);
	vp_buf_free(&out);
	return ret;
}

/* Renew the access token; 400 means the refresh token expired: log in. */
static int
reauth(void)
{
	struct vp_buf out = { 0 };
	json_t *req, *resp;
	char *body;
	long st;

	if (refresh_token) {
		req = json_pack("{s:s}", "refresh_token", refresh_token);
		body = json_dumps(req, JSON_COMPACT);
		json_decref(req);
		st = request("/rest/refresh", NULL, body, 0, &out);
		vp_free_secret(body);
		if (st == 200 && (resp = json_loadb(out.data ? out.data : "",
		    out.len, 0, NULL)) != NULL) {
			char *t = take_string(resp, "access_token");

			json_decref(resp);
			vp_buf_free(&out);
			if (t) {
				vp_free_secret(access_token);
				access_token = t;
				vp_info("access token refreshed");
				return H_OK;
			}
		}
		vp_buf_free(&out);
		if (st < 0 || st >= 500)
			return H_FAIL;
		vp_info("refresh token expired (%ld): logging in again", st);
	}
	return login();
}

static void
logout(void)
{
	struct vp_buf out = { 0 };
	json_t *req;
	char *body;

	if (refresh_token == NULL)
		return;
	req = json_pack("{s:s}", "refresh_token", refresh_token);
	body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	request("/rest/logout", NULL, body, 0, &out);
	vp_free_secret(body);
	vp_buf_free(&out);
}

static int
was_seen(long long id)
{
	for (size_t i = 0; i < nseen; i++)
		if (seen[i] == id)
			return 1;
	return 0;
}

static int
cmp_event(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	json_int_t tx = json_integer_value(json_object_get(x, "time"));
	json_int_t ty = json_integer_value(json_object_get(y, "time"));
	json_int_t ix = json_integer_value(json_object_get(x, "id"));
	json_int_t iy = json_integer_value(json_object_get(y, "id"));

	if (tx != ty)
		return tx < ty ? -1 : 1;
	return ix < iy ? -1 : ix > iy;
}

/* VLSI_USERLOGGEDIN -> com.vmware.event.router/horizon.vlsi_userloggedin.v0,
 * or com.vmware.horizon.vlsi_userloggedin.v0 (both lower-case, keep the _) */
static char *
ce_type(const char *t)
{
	const char *prefix = type_prefix[opt.style];
	size_t n = strlen(prefix) + strlen(t) + 4;
	char *s = vp_xmalloc(n), *p;

	snprintf(s, n, "%s%s.v0", prefix, t);
	for (p = s + strlen(prefix); *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return s;
}

static int
emit(json_t *e)
{
	json_int_t t = json_integer_value(json_object_get(e, "time"));
	json_int_t id = json_integer_value(json_object_get(e, "id"));
	const char *type = json_string_value(json_object_get(e, "type"));
	char ts[64], idbuf[32], *line, *ty;
	json_t *ce;
	int rc;

	vp_format_rfc3339(t / 1000, (int32_t)(t % 1000) * 1000000, ts,
	    sizeof(ts));
	snprintf(idbuf, sizeof(idbuf), "%lld", (long long)id);
	ty = ce_type(type ? type : "unknown");
	/* HorizonSource sets no subject; the router's own had none either,
	 * but vcpipe's router style names the type there for topics */
	if (opt.style == STYLE_VSPHERE)
		ce = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:O}",
		    "specversion", "1.0", "id", idbuf, "source", base,
		    "type", ty, "time", ts, "eventkey", (json_int_t)id,
		    "datacontenttype", "application/json", "data", e);
	else
		ce = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:O}",
		    "specversion", "1.0", "id", idbuf, "source", base,
		    "type", ty, "subject", type ? type : "", "time", ts,
		    "eventkey", (json_int_t)id,
		    "datacontenttype", "application/json", "data", e);
	free(ty);
	line = json_dumps(ce, JSON_COMPACT);
	json_decref(ce);
	rc = vp_write_line(stdout, line, strlen(line));
	free(line);
	if (rc != 0) {
		vp_error("stdout: %s", errno == EPIPE ? "the next stage is gone" :
		    strerror(errno));
		return -1;
	}
	written++;
	return 0;
}

/*
 * One poll: every page of events from since_ms on, then the new ones
 * written oldest first.  Returns H_OK, H_FAIL (retry later), H_DENIED, or
 * -1 when stdout failed.
 */
static int
poll_once(void)
{
	json_t *all = json_array(), *filter;
	char *fs, *enc, query[2048];
	struct vp_buf out = { 0 };
	int ret = H_OK, authtries = 0;
	int64_t now_ms = (int64_t)time(NULL) * 1000;

	/* the upper bound a day ahead absorbs clock skew, as the router did */
	filter = json_pack("{s:s, s:s, s:I, s:I}", "type", "Between", "name",
	    "time", "fromValue", (json_int_t)since_ms, "toValue",
	    (json_int_t)(now_ms + 86400000));
	fs = json_dumps(filter, JSON_COMPACT);
	json_decref(filter);
	enc = curl_easy_escape(curl, fs, 0);
	free(fs);
	for (long page = 1;;) {
		json_t *arr;
		long st;
		size_t n;

		snprintf(query, sizeof(query), "filter=%s&page=%ld&size=%d",
		    enc, page, opt.page);
		st = request("/rest/external/v1/audit-events", query, NULL, 1,
		    &out);
		if (st == 401 && authtries++ < 2) {
			if ((ret = reauth()) != H_OK)
				break;
			continue;	/* the same page with the new token */
		}
		if (st != 200) {
			if (st > 0)
				vp_warn("audit-events: status %ld: %.200s", st,
				    out.data ? out.data : "");
			ret = st == 403 ? H_DENIED : H_FAIL;
			break;
		}
		arr = json_loadb(out.data ? out.data : "", out.len, 0, NULL);
		if (!json_is_array(arr)) {
			vp_warn("audit-events: answer is not a JSON array");
			json_decref(arr);
			ret = H_FAIL;
			break;
		}
		n = json_array_size(arr);
		json_array_extend(all, arr);
		json_decref(arr);
		if (n < (size_t)opt.page)
			break;
		page++;
	}
	curl_free(enc);
	vp_buf_free(&out);
	if (ret == H_OK) {
		size_t n = json_array_size(all), i;
		json_t **v = vp_xmalloc((n ? n : 1) * sizeof(*v));

		for (i = 0; i < n; i++)
			v[i] = json_array_get(all, i);
		/* Horizon answers newest first */
		qsort(v, n, sizeof(*v), cmp_event);
		for (i = 0; i < n && ret == H_OK; i++) {
			json_t *jt = json_object_get(v[i], "time");
			json_t *jid = json_object_get(v[i], "id");
			int64_t t;
			long long id;

			if (!json_is_integer(jt) || !json_is_integer(jid)) {
				vp_warn("audit event without integer time and "
				    "id skipped");
				continue;
			}
			t = json_integer_value(jt);
			id = json_integer_value(jid);
			if (t < since_ms || (t == since_ms && was_seen(id)))
				continue;	/* inclusive bound: done before */
			if (emit(v[i]) != 0) {
				ret = -1;
				break;
			}
			if (t > since_ms) {
				since_ms = t;
				nseen = 0;
			}
			if (nseen < MAX_SEEN)
				seen[nseen++] = id;
		}
		free(v);
	}
	json_decref(all);
	return ret;
}

/* Resume after the event a sink acknowledged last (vcpipe-formats(5)). */
static void
read_checkpoint(void)
{
	struct vp_ckpt c;
	char err[1200];
	int rc = vp_ckpt_read(opt.checkpoint, &c, err, sizeof(err));

	if (rc == 1) {
		vp_info("%s: no checkpoint yet", opt.checkpoint);
		return;
	}
	if (rc != 0)
		vp_die(rc, "%s", err);
	since_ms = c.sec * 1000 + c.nsec / 1000000;
	nseen = 0;
	if (c.ev.has_key)
		seen[nseen++] = c.ev.key;
	vp_info("%s: resuming after event %lld at %s", opt.checkpoint,
	    c.ev.has_key ? (long long)c.ev.key : -1LL, c.ev.time);
	vp_ckpt_clear(&c);
}

/* options, groups: src/horizon-source/options.tab */
#include "opts/horizon-source.h"

/* --help: help/horizon-source.h, made of man/horizon-source.1 */
static const struct vp_cmd cmd = VP_PROGRAM(options,
    VP_LIBS(VP_LIB_CURL, VP_LIB_JANSSON),
    .groups = groups);

int
main(int argc, char **argv)
{
	struct vp_backoff bo;
	char *bs;
	int rc, code = VP_EXIT_OK;
	size_t n;

	vp_opt_parse(&cmd, argc, argv);
	/* the API paths hang off the server root */
	snprintf(base, sizeof(base), "%s", opt.url);
	n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		base[--n] = '\0';
	vp_load_credentials("--credentials-file", opt.credfile,
	    "HORIZON_USERNAME", "HORIZON_PASSWORD", &user, &pass);
	/* DOMAIN\user is the other way to name the domain */
	if (opt.domain == NULL && (bs = strchr(user, '\\')) != NULL) {
		*bs = '\0';
		opt.domain = vp_xstrdup(user);
		memmove(user, bs + 1, strlen(bs + 1) + 1);
	}
	if (opt.domain == NULL || *opt.domain == '\0')
		vp_die(VP_EXIT_CONFIG, "no domain: give --domain or a "
		    "DOMAIN\\user username (UPN logins are not supported by "
		    "the Horizon API)");

	vp_signals_init();
	vp_watch_stdout();
	(void)vp_curl_global_init();
	curl = curl_easy_init();
	since_ms = (int64_t)time(NULL) * 1000 - opt.begin_ms;
	if (opt.checkpoint)
		read_checkpoint();
	vp_backoff_init(&bo, 1000, 60000);
	while ((rc = login()) == H_FAIL && !opt.once) {
		if (vp_sleep_ms(vp_backoff_next(&bo)))
			break;
	}
	if (rc == H_DENIED)
		code = VP_EXIT_NOPERM;
	else if (rc != H_OK)
		code = vp_stop_requested ? VP_EXIT_OK : VP_EXIT_TEMPFAIL;
	vp_backoff_reset(&bo);
	while (code == VP_EXIT_OK && !vp_stop_requested) {
		rc = poll_once();
		if (rc == -1) {
			code = VP_EXIT_IOERR;
			break;
		}
		if (rc == H_DENIED) {
			code = VP_EXIT_NOPERM;
			break;
		}
		if (opt.once) {
			if (rc != H_OK)
				code = VP_EXIT_TEMPFAIL;
			break;
		}
		if (rc == H_FAIL)
			vp_sleep_ms(vp_backoff_next(&bo));
		else {
			vp_backoff_reset(&bo);
			vp_sleep_ms(opt.poll_ms);
		}
	}
	if (access_token)
		logout();
	vp_info("stopped: %lu event(s) written", written);
	curl_easy_cleanup(curl);
	curl_global_cleanup();
	vp_free_secret(user);
	vp_free_secret(pass);
	vp_free_secret(access_token);
	vp_free_secret(refresh_token);
	if (vp_close_stdout() != 0 && code == VP_EXIT_OK)
		code = VP_EXIT_IOERR;
	return code;
}
