/*
 * horizon-source: VMware Horizon audit events as CloudEvent lines.
 *
 * Logs in to the Horizon REST API (/rest/login), polls
 * /rest/external/v1/audit-events with a "Between" time filter, pages through
 * the answer, and writes each new event, oldest first, as one structured
 * CloudEvent line (stream format 2) with the type names the VMware Event
 * Router used: com.vmware.event.router/horizon.<type lower-cased>.v0.
 * An expired access token is renewed with /rest/refresh; an expired refresh
 * token means a new login.  The time filter is inclusive, so events at the
 * boundary millisecond are remembered by id and not written twice; a
 * checkpoint written by a sink (stream format 4) is where a restart resumes.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vp.h"

static const char usage_text[] =
"usage: horizon-source --url URL [--domain DOMAIN] [--credentials-file FILE]\n"
"           [--checkpoint FILE] [--begin DURATION] [--poll-interval DURATION]\n"
"           [--page-size N] [--once] [--timeout DURATION] [--insecure]\n"
"           [--ca-file FILE] [--log-level LEVEL] [--log-json]\n"
"       horizon-source --help | --version\n";

#define TYPE_PREFIX "com.vmware.event.router/horizon."
#define MAX_SEEN 4096

static struct {
	const char *url, *domain, *credfile, *checkpoint;
	int64_t begin_ms, poll_ms, timeout_ms;
	long page;
	int once;
	struct vp_tls tls;
} opt = {
	.poll_ms = 1000,
	.timeout_ms = 30000,
	.page = 100,
};

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

/* The router's type name: VLSI_USERLOGGEDIN -> ...horizon.vlsi_userloggedin.v0 */
static char *
ce_type(const char *t)
{
	size_t n = strlen(TYPE_PREFIX) + strlen(t) + 4;
	char *s = vp_xmalloc(n), *p;

	snprintf(s, n, "%s%s.v0", TYPE_PREFIX, t);
	for (p = s + strlen(TYPE_PREFIX); *p; p++)
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
	ce = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:O}",
	    "specversion", "1.0", "id", idbuf, "source", base, "type", ty,
	    "subject", type ? type : "", "time", ts, "eventkey", (json_int_t)id,
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

		snprintf(query, sizeof(query), "filter=%s&page=%ld&size=%ld",
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

/* Resume after the event a sink acknowledged last (stream format 4). */
static void
read_checkpoint(void)
{
	json_t *cp, *t, *k;
	json_error_t jerr;
	int64_t sec;
	int32_t nsec;

	cp = json_load_file(opt.checkpoint, 0, &jerr);
	if (cp == NULL) {
		if (errno == ENOENT || access(opt.checkpoint, F_OK) != 0) {
			vp_info("%s: no checkpoint yet", opt.checkpoint);
			return;
		}
		vp_die(VP_EXIT_DATAERR, "%s: %s", opt.checkpoint, jerr.text);
	}
	t = json_object_get(cp, "time");
	k = json_object_get(cp, "key");
	if (!json_is_string(t) || vp_parse_rfc3339(json_string_value(t), &sec,
	    &nsec) != 0)
		vp_die(VP_EXIT_DATAERR, "%s: no valid \"time\"", opt.checkpoint);
	since_ms = sec * 1000 + nsec / 1000000;
	nseen = 0;
	if (json_is_integer(k))
		seen[nseen++] = json_integer_value(k);
	vp_info("%s: resuming after event %lld at %s", opt.checkpoint,
	    json_is_integer(k) ? (long long)json_integer_value(k) : -1LL,
	    json_string_value(t));
	json_decref(cp);
}

int
main(int argc, char **argv)
{
	enum {
		O_BEGIN = 256, O_CA_FILE, O_CHECKPOINT, O_CREDENTIALS_FILE,
		O_DOMAIN, O_HELP, O_INSECURE, O_LOG_JSON, O_LOG_LEVEL, O_ONCE,
		O_PAGE_SIZE, O_POLL_INTERVAL, O_TIMEOUT, O_URL, O_VERSION
	};
	static const struct option longopts[] = {
		{ "begin", required_argument, NULL, O_BEGIN },
		{ "ca-file", required_argument, NULL, O_CA_FILE },
		{ "checkpoint", required_argument, NULL, O_CHECKPOINT },
		{ "credentials-file", required_argument, NULL, O_CREDENTIALS_FILE },
		{ "domain", required_argument, NULL, O_DOMAIN },
		{ "help", no_argument, NULL, O_HELP },
		{ "insecure", no_argument, NULL, O_INSECURE },
		{ "log-json", no_argument, NULL, O_LOG_JSON },
		{ "log-level", required_argument, NULL, O_LOG_LEVEL },
		{ "once", no_argument, NULL, O_ONCE },
		{ "page-size", required_argument, NULL, O_PAGE_SIZE },
		{ "poll-interval", required_argument, NULL, O_POLL_INTERVAL },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "url", required_argument, NULL, O_URL },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 }
	};
	struct vp_backoff bo;
	char err[512], *end, *bs;
	int ch, rc, code = VP_EXIT_OK;
	size_t n;

	vp_log_init(argv[0]);
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case O_BEGIN:
			if ((opt.begin_ms = vp_parse_duration_ms(optarg)) < 0)
				vp_usage_error("--begin: bad duration: %s", optarg);
			break;
		case O_CA_FILE:
			opt.tls.ca_file = optarg;
			break;
		case O_CHECKPOINT:
			opt.checkpoint = optarg;
			break;
		case O_CREDENTIALS_FILE:
			opt.credfile = optarg;
			break;
		case O_DOMAIN:
			opt.domain = optarg;
			break;
		case O_HELP:
			fputs(usage_text, stdout);
			return VP_EXIT_OK;
		case O_INSECURE:
			opt.tls.insecure = 1;
			break;
		case O_LOG_JSON:
			vp_log_set_json(1);
			break;
		case O_LOG_LEVEL:
			vp_log_level_option(optarg);
			break;
		case O_ONCE:
			opt.once = 1;
			break;
		case O_PAGE_SIZE:
			errno = 0;
			opt.page = strtol(optarg, &end, 10);
			if (*end || errno || opt.page < 1 || opt.page > 1000)
				vp_usage_error("--page-size: 1 to 1000: %s",
				    optarg);
			break;
		case O_POLL_INTERVAL:
			if ((opt.poll_ms = vp_parse_duration_ms(optarg)) <= 0)
				vp_usage_error("--poll-interval: bad duration: %s",
				    optarg);
			break;
		case O_TIMEOUT:
			if ((opt.timeout_ms = vp_parse_duration_ms(optarg)) <= 0)
				vp_usage_error("--timeout: bad duration: %s",
				    optarg);
			break;
		case O_URL:
			opt.url = optarg;
			break;
		case O_VERSION:
			vp_print_versions("horizon-source", NULL);
			return VP_EXIT_OK;
		default:
			fputs(usage_text, stderr);
			return VP_EXIT_USAGE;
		}
	}
	if (optind < argc)
		vp_usage_error("unexpected argument: %s", argv[optind]);
	if (opt.url == NULL)
		vp_usage_error("--url is required");
	if (strncmp(opt.url, "https://", 8) != 0 &&
	    strncmp(opt.url, "http://", 7) != 0)
		vp_usage_error("--url: http:// or https:// URL expected");
	/* the API paths hang off the server root */
	snprintf(base, sizeof(base), "%s", opt.url);
	n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		base[--n] = '\0';
	if (vp_read_credentials(opt.credfile, "HORIZON_USERNAME",
	    "HORIZON_PASSWORD", &user, &pass, err, sizeof(err)) != 0)
		vp_die(VP_EXIT_CONFIG, "credentials: %s", err);
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
	curl_global_init(CURL_GLOBAL_DEFAULT);
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
