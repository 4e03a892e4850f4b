/* time.c: durations, RFC 3339, monotonic clock, interruptible sleep. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vp.h"

int64_t
vp_parse_duration_ms(const char *s)
{
	int64_t total = 0;
	int any = 0;

	if (s == NULL || *s == '\0')
		return -1;
	while (*s) {
		char *end;
		double v;
		int64_t mult;

		errno = 0;
		if (!isdigit((unsigned char)*s))
			return -1;
		v = strtod(s, &end);
		if (errno || end == s)
			return -1;
		s = end;
		if (strncmp(s, "ms", 2) == 0) {
			mult = 1;
			s += 2;
		} else if (*s == 's') {
			mult = 1000;
			s++;
		} else if (*s == 'm') {
			mult = 60 * 1000;
			s++;
		} else if (*s == 'h') {
			mult = 3600 * 1000;
			s++;
		} else if (*s == 'd') {
			mult = 86400 * 1000;
			s++;
		} else if (*s == '\0' && !any) {
			mult = 1000;	/* a bare number means seconds */
		} else
			return -1;
		if (v * (double)mult > 1e15)
			return -1;
		total += (int64_t)(v * (double)mult);
		any = 1;
	}
	return total;
}

static int
digits(const char **p, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)**p))
			return -1;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	return v;
}

/* days since 1970-01-01 (Howard Hinnant's algorithm), no timezone involved */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned)(y - era * 400);
	const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

int
vp_parse_rfc3339(const char *s, int64_t *sec, int32_t *nsec)
{
	const char *p = s;
	int y, mo, d, h, mi, se, ns = 0, off = 0;

	if ((y = digits(&p, 4)) < 0 || *p++ != '-' ||
	    (mo = digits(&p, 2)) < 1 || mo > 12 || *p++ != '-' ||
	    (d = digits(&p, 2)) < 1 || d > 31 ||
	    (*p != 'T' && *p != 't' && *p != ' ') || !*p++ ||
	    (h = digits(&p, 2)) < 0 || h > 23 || *p++ != ':' ||
	    (mi = digits(&p, 2)) < 0 || mi > 59 || *p++ != ':' ||
	    (se = digits(&p, 2)) < 0 || se > 60)
		return -1;
	if (*p == '.') {
		int n = 0;
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		while (isdigit((unsigned char)*p)) {
			if (n < 9) {
				ns = ns * 10 + (*p - '0');
				n++;
			}
			p++;
		}
		while (n++ < 9)
			ns *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1, oh, om;
		if ((oh = digits(&p, 2)) < 0 || *p++ != ':' ||
		    (om = digits(&p, 2)) < 0)
			return -1;
		off = sign * (oh * 3600 + om * 60);
	} else
		return -1;
	if (*p != '\0')
		return -1;
	*sec = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
	    h * 3600 + mi * 60 + se - off;
	*nsec = ns;
	return 0;
}

void
vp_format_rfc3339(int64_t sec, int32_t nsec, char *buf, size_t len)
{
	time_t t = (time_t)sec;
	struct tm tm;
	char frac[16] = "";

	gmtime_r(&t, &tm);
	if (nsec > 0) {
		int n;
		snprintf(frac, sizeof(frac), ".%09d", (int)nsec);
		n = (int)strlen(frac);
		while (n > 1 && frac[n - 1] == '0')
			frac[--n] = '\0';
	}
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d%sZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, frac);
}

static int64_t
clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
vp_now_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

int64_t
vp_wall_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

int
vp_sleep_ms(int64_t ms)
{
	int64_t end = vp_now_ms() + ms;

	/* in vp_poll: a stop (or the next stage leaving) ends it at once,
	 * with no waking up to look */
	while (!vp_stop_requested) {
		int64_t left = end - vp_now_ms();

		if (left <= 0)
			return 0;
		if (left > 0x7fffffff)
			left = 0x7fffffff;
		(void)vp_poll(NULL, 0, (int)left);
	}
	return 1;
}
