/*
 * http.c: Retry-After, common curl options.  The curl part of the library
 * (libvp-curl.a): only programs that link libcurl link it.  The backoff
 * and the retryable statuses are backoff.c's (libvp.a, libc only).
 */
#include <sys/stat.h>

#include <curl/curl.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vp.h"

/*
 * Debian's libcurl-gnutls links libssh2 (SCP, SFTP), and libssh2 links
 * OpenSSL: curl_global_init calls libssh2_init(0), which initialises all
 * of OpenSSL (~400 kB of private pages in every process) for protocols
 * vp_curl_common never allows (http and https only).  libssh2_init is
 * reference-counted and sets up its crypto on the first call only, so a
 * first call with LIBSSH2_INIT_NO_CRYPTO (1) before curl's keeps it out.
 * Looked up at run time: another libcurl may have no libssh2 at all.
 */
#define LIBSSH2_INIT_NO_CRYPTO 0x0001

int
vp_curl_global_init(void)
{
	int (*ssh2_init)(int);

	*(void **)&ssh2_init = dlsym(RTLD_DEFAULT, "libssh2_init");
	if (ssh2_init != NULL)
		(void)ssh2_init(LIBSSH2_INIT_NO_CRYPTO);
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

int64_t
vp_parse_retry_after(const char *v)
{
	char *end;
	long long secs;
	time_t when;

	if (v == NULL)
		return -1;
	while (*v == ' ' || *v == '\t')
		v++;
	if (*v >= '0' && *v <= '9') {
		secs = strtoll(v, &end, 10);
		while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
			end++;
		if (*end != '\0' || secs < 0)
			return -1;
		if (secs > 86400)
			secs = 86400;
		return (int64_t)secs * 1000;
	}
	when = curl_getdate(v, NULL);
	if (when == (time_t)-1)
		return -1;
	secs = (long long)(when - time(NULL));
	return secs > 0 ? (int64_t)secs * 1000 : 0;
}

/* After a stop request the request in flight may run this much longer. */

static int
stop_grace(void *p, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	static int64_t stop_seen_ms;

	(void)p; (void)dt; (void)dn; (void)ut; (void)un;
	if (!vp_stop_requested)
		return 0;
	if (stop_seen_ms == 0)
		stop_seen_ms = vp_now_ms();
	return vp_now_ms() - stop_seen_ms > VP_STOP_GRACE_MS;
}

void
vp_curl_stop_grace(void *curl)
{
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, stop_grace);
}

int
vp_curl_permanent(int code)
{
	switch ((CURLcode)code) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return 1;
	default:
		return 0;
	}
}

/*
 * The system's CA certificates as one file where libcurl would read a
 * directory, or NULL (keep libcurl's default).  Debian's libcurl-gnutls has
 * no bundle, only the directory /etc/ssl/certs, and gnutls parses every file
 * there for each connection: each root three times (its name, its hash
 * link, and the bundle update-ca-certificates writes beside them,
 * ca-certificates.crt), 432 certificates, 255 ms and ~7.5 MB of heap held
 * while the connection lives.  That bundle alone holds the same 144 roots:
 * 77 ms, 3.8 MB.
 */
static const char *
system_bundle(void *curl)
{
	static int done;
	static char path[PATH_MAX];
	char *info = NULL, *dir = NULL;
	struct stat sb;

	if (done)
		return path[0] ? path : NULL;
	done = 1;
#if LIBCURL_VERSION_NUM >= 0x075400	/* 7.84: CURLINFO_CAINFO, _CAPATH */
	if (curl_easy_getinfo(curl, CURLINFO_CAINFO, &info) == CURLE_OK &&
	    info == NULL &&
	    curl_easy_getinfo(curl, CURLINFO_CAPATH, &dir) == CURLE_OK &&
	    dir != NULL && (size_t)snprintf(path, sizeof(path),
	    "%s/ca-certificates.crt", dir) < sizeof(path) &&
	    stat(path, &sb) == 0 && S_ISREG(sb.st_mode) &&
	    access(path, R_OK) == 0)
		return path;
#endif
	(void)curl; (void)info; (void)dir; (void)sb;
	path[0] = '\0';
	return NULL;
}

void
vp_curl_common(void *c, const struct vp_tls *tls)
{
	CURL *curl = c;
	const char *bundle;

	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_USERAGENT, VP_USER_AGENT);
	/*
	 * The CA certificates are parsed for each TLS connection, verification
	 * on or off, and held while it lives: none when nothing is verified,
	 * only FILE when one is given, else the system's as one file.
	 */
	if (tls && tls->insecure) {
		curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
		curl_easy_setopt(curl, CURLOPT_CAINFO, NULL);
		curl_easy_setopt(curl, CURLOPT_CAPATH, NULL);
	} else {
		curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
		if (tls && tls->ca_file) {
			curl_easy_setopt(curl, CURLOPT_CAINFO, tls->ca_file);
			curl_easy_setopt(curl, CURLOPT_CAPATH, NULL);
		} else if ((bundle = system_bundle(curl)) != NULL) {
			curl_easy_setopt(curl, CURLOPT_CAINFO, bundle);
			curl_easy_setopt(curl, CURLOPT_CAPATH, NULL);
		}
	}
}

const char *
vp_curl_version(void)
{
	return curl_version();
}

size_t
vp_curl_write_buf(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct vp_buf *b = userdata;

	if (vp_buf_append(b, ptr, size * nmemb) != 0)
		return 0;	/* over the limit: curl aborts the transfer */
	return size * nmemb;
}
