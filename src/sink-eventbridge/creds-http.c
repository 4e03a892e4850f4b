/*
 * creds-http.c: one request to STS, the container endpoint or the instance
 * metadata service, and the JSON credential answers they share.
 *
 * Every buffer that may hold a secret (tokens in headers, the answer) is
 * allocated once at its full size and wiped before it is freed, so no stray
 * copy is left behind by a realloc.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "creds-int.h"

#define ANSWER_MAX 65536

void
eb_cval_set(struct eb_cval *v, const char *akid, const char *secret,
    const char *token, int64_t expiry_ms)
{
	struct eb_cval old = *v;

	v->akid = akid ? vp_xstrdup(akid) : NULL;
	v->secret = secret ? vp_xstrdup(secret) : NULL;
	v->token = token && *token ? vp_xstrdup(token) : NULL;
	v->expiry_ms = expiry_ms;
	vp_free_secret(old.akid);
	vp_free_secret(old.secret);
	vp_free_secret(old.token);
}

void
eb_cval_clear(struct eb_cval *v)
{
	eb_cval_set(v, NULL, NULL, NULL, 0);
}

int
eb_http_temporary(long status)
{
	return vp_http_status_retryable(status);
}

static size_t
write_answer(char *p, size_t size, size_t n, void *ud)
{
	struct vp_buf *b = ud;

	/* past the preallocated size: refuse rather than realloc */
	if (b->len + size * n >= b->cap)
		return 0;
	memcpy(b->data + b->len, p, size * n);
	b->len += size * n;
	b->data[b->len] = '\0';
	return size * n;
}

int
eb_http_do(struct eb_http *h)
{
	CURL *curl = curl_easy_init();
	char errbuf[CURL_ERROR_SIZE] = "";
	curl_off_t connect_us = 0;
	CURLcode cc;

	h->status = 0;
	h->connected = 0;
	h->error[0] = '\0';
	if (h->answer.data == NULL) {
		h->answer.cap = ANSWER_MAX + 1;
		h->answer.data = vp_xmalloc(h->answer.cap);
	}
	h->answer.len = 0;
	h->answer.data[0] = '\0';
	if (curl == NULL) {
		snprintf(h->error, sizeof(h->error), "libcurl: cannot initialise");
		return -1;
	}
	vp_curl_common(curl, h->tls);
	curl_easy_setopt(curl, CURLOPT_URL, h->url);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, h->timeout_ms);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, h->timeout_ms);
	if (h->direct)
		curl_easy_setopt(curl, CURLOPT_PROXY, "");
	if (strcmp(h->method, "GET") != 0) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, h->body ? h->body : "");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)(h->body ? h->body_len : 0));
		if (strcmp(h->method, "POST") != 0)
			curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, h->method);
	}
	if (h->sigv4 && h->sign_with) {
		curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, h->sigv4);
		curl_easy_setopt(curl, CURLOPT_USERNAME, h->sign_with->akid);
		curl_easy_setopt(curl, CURLOPT_PASSWORD, h->sign_with->secret);
	}
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h->headers);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_answer);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &h->answer);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	cc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_CONNECT_TIME_T, &connect_us);
	h->connected = connect_us > 0;
	if (cc == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &h->status);
	else if (cc == CURLE_WRITE_ERROR)
		snprintf(h->error, sizeof(h->error), "answer longer than %d "
		    "bytes", ANSWER_MAX);
	else
		snprintf(h->error, sizeof(h->error), "%s",
		    errbuf[0] ? errbuf : curl_easy_strerror(cc));
	curl_easy_cleanup(curl);
	return cc == CURLE_OK ? 0 : -1;
}

void
eb_http_done(struct eb_http *h)
{
	for (struct curl_slist *s = h->headers; s; s = s->next)
		explicit_bzero(s->data, strlen(s->data));
	curl_slist_free_all(h->headers);
	h->headers = NULL;
	if (h->answer.data) {
		explicit_bzero(h->answer.data, h->answer.cap);
		free(h->answer.data);
	}
	memset(&h->answer, 0, sizeof(h->answer));
}

struct curl_slist *
eb_header_add(struct curl_slist *l, const char *name, const char *value)
{
	size_t n = strlen(name) + strlen(value) + 3;
	char *h = vp_xmalloc(n);

	snprintf(h, n, "%s: %s", name, value);
	l = curl_slist_append(l, h);
	explicit_bzero(h, n);
	free(h);
	return l;
}

void
eb_form_add(struct vp_buf *b, const char *key, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *parts[2] = { key, value };
	size_t need = b->len + 2;
	char *d;

	need += strlen(key) * 3 + strlen(value) * 3;
	if (need > b->cap) {
		/* grow by hand: the old copy (a token, maybe) is wiped */
		char *n = vp_xmalloc(need + 256);

		if (b->data) {
			memcpy(n, b->data, b->len + 1);
			explicit_bzero(b->data, b->cap);
			free(b->data);
		}
		b->data = n;
		b->cap = need + 256;
	}
	d = b->data + b->len;
	if (b->len > 0)
		*d++ = '&';
	for (int i = 0; i < 2; i++) {
		for (const unsigned char *s = (const unsigned char *)parts[i];
		    *s; s++) {
			if ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
			    (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
			    *s == '.' || *s == '~')
				*d++ = (char)*s;
			else {
				*d++ = '%';
				*d++ = hex[*s >> 4];
				*d++ = hex[*s & 15];
			}
		}
		if (i == 0)
			*d++ = '=';
	}
	*d = '\0';
	b->len = (size_t)(d - b->data);
}

static const char *
member(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) && json_string_length(v) > 0 ?
	    json_string_value(v) : NULL;
}

int
eb_json_creds(const char *text, size_t len, const char *token_key,
    int need_expiry, struct eb_cval *out, char *err, size_t errlen)
{
	json_t *j = json_loadb(text, len, 0, NULL);
	const char *ak, *sk, *tok, *exp, *code;
	int64_t expiry_ms = 0;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(j)) {
		snprintf(err, errlen, "the answer is not a JSON object");
		goto out;
	}
	code = member(j, "Code");
	if (code && strcmp(code, "Success") != 0) {
		const char *m = member(j, "Message");

		snprintf(err, errlen, "%.100s%s%.200s", code, m ? ": " : "",
		    m ? m : "");
		goto out;
	}
	ak = member(j, "AccessKeyId");
	sk = member(j, "SecretAccessKey");
	tok = member(j, token_key);
	exp = member(j, "Expiration");
	if (ak == NULL || sk == NULL || (need_expiry && exp == NULL)) {
		snprintf(err, errlen, "the answer lacks AccessKeyId, "
		    "SecretAccessKey%s", need_expiry ? " or Expiration" : "");
		goto out;
	}
	if (exp) {
		int64_t sec;
		int32_t ns;

		if (vp_parse_rfc3339(exp, &sec, &ns) != 0) {
			snprintf(err, errlen, "bad Expiration \"%.60s\"", exp);
			goto out;
		}
		expiry_ms = sec * 1000 + ns / 1000000;
	}
	eb_cval_set(out, ak, sk, tok, expiry_ms);
	rc = 0;
out:
	json_decref(j);
	return rc;
}
