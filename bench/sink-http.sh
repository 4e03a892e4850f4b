#!/bin/sh
# bench/sink-http.sh: sink-http throughput, added latency and memory against a
# local keep-alive receiver, side by side with curl posting the same events
# to the same receiver in the same run.
#
# usage: bench/sink-http.sh [BUILDDIR]   (env: N events, default 20000;
#        RATE events/s for the latency run, default 1000; CURL_EACH events
#        for the one-curl-per-event run, default 500; CK_EACH events for
#        the checkpoint-per-event run, default 1000)
#
# The receiver is a small single-threaded C server built here (cc), the
# same for every client: poll over many HTTP/1.1 keep-alive connections,
# reads each request whole, answers 200 with an empty body, and notes when
# each request arrived. Events are ~1 KB structured CloudEvents. Runs:
#   0. wrk (Debian's) POSTing one event line over 32 connections: the
#      receiver's own ceiling, beside which sink-http --inflight is read
# Throughput is events/s from the first request to reach the receiver to the
# last (start-up not counted: curl's config parse is N-sized), with the wall
# clock rate beside it.
#   1. sink-http, unpaced: --inflight 1 (one keep-alive connection, in
#      order) and --inflight 32: events/s, max RSS, CPU per event
#   2. sink-http --checkpoint (default interval), unpaced; and with
#      --checkpoint-interval 0 (an atomic checkpoint write per event)
#   3. curl --config with one "next" block per event (one curl, one
#      keep-alive connection, sequential): events/s, max RSS, CPU per event
#   4. one curl process per event: events/s
#   5. sink-http fed at RATE events/s by a pacing writer that stamps each line
#      with the time it was written: added latency = arrival at the receiver
#      minus that stamp (pipe + parse + HTTP), p50/p99/max.
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-${VP_BUILDDIR:-$SRC}}
SINK=$B/src/sink-http/sink-http
N=${N:-20000}
RATE=${RATE:-1000}
CURL_EACH=${CURL_EACH:-500}
CK_EACH=${CK_EACH:-1000}
W=$(mktemp -d "${TMPDIR:-/tmp}/bench-sink-http.XXXXXX")
T=$W
. "$SRC/bench/lib-exit.sh"	# receiver and sink stopped, $W removed however the script ends
[ -x "$SINK" ] || { echo "no $SINK (give the build directory)" >&2; exit 1; }

cat >"$W/recv.c" <<'EOF'
/* bench receiver: one thread, poll over up to 256 keep-alive connections
 * (HTTP/1.1, requests read whole, 200 with an empty body). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#define MAXC 256
#define BUFSZ (1 << 20)
static volatile sig_atomic_t stop;
static void on(int s) { (void)s; stop = 1; }
static long long now_us(void) { struct timespec t; clock_gettime(CLOCK_REALTIME, &t);
	return t.tv_sec * 1000000LL + t.tv_nsec / 1000; }
struct conn { char *buf; size_t have; };
int main(int argc, char **argv) {
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	FILE *log = fopen(argv[2], "w"), *pf;
	struct sigaction sa = { .sa_handler = on };
	static struct pollfd pfd[MAXC + 1];
	static struct conn cs[MAXC + 1];
	int n = 1;
	(void)argc;
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (void *)&a, sizeof(a)) || listen(s, 256)) { perror("bind"); return 1; }
	getsockname(s, (void *)&a, &al);
	pf = fopen(argv[1], "w"); fprintf(pf, "%d\n", ntohs(a.sin_port)); fclose(pf);
	setvbuf(log, NULL, _IOFBF, 1 << 20);
	pfd[0].fd = s; pfd[0].events = POLLIN;
	while (!stop) {
		if (poll(pfd, (nfds_t)n, 200) <= 0) { fflush(log); continue; }
		if ((pfd[0].revents & POLLIN) && n <= MAXC) {
			int c = accept(s, NULL, NULL);
			if (c >= 0) {
				setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				pfd[n].fd = c; pfd[n].events = POLLIN; pfd[n].revents = 0;
				cs[n].buf = malloc(BUFSZ); cs[n].have = 0; n++;
			}
		}
		for (int i = 1; i < n; i++) {
			struct conn *k = &cs[i];
			ssize_t r = 1;
			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			pfd[i].revents = 0;
			r = read(pfd[i].fd, k->buf + k->have, BUFSZ - k->have);
			if (r > 0)
				k->have += (size_t)r;
			for (;;) {
				char *end, *p;
				size_t hlen, blen = 0, want;
				if ((end = memmem(k->buf, k->have, "\r\n\r\n", 4)) == NULL) break;
				hlen = (size_t)(end - k->buf) + 4;
				for (p = k->buf; p < end; p = strstr(p, "\r\n") + 2)
					if (strncasecmp(p, "content-length:", 15) == 0) { blen = strtoul(p + 15, NULL, 10); break; }
				want = hlen + blen;
				if (k->have < want) break;
				{
					long long t = now_us();
					char *ts = memmem(k->buf + hlen, blen, "\"sentus\":", 9);
					/* the stamp is a string: extension integers are 32-bit */
					fprintf(log, "%lld %lld\n", t, ts ? atoll(ts + 9 + (ts[9] == '"')) : 0LL);
				}
				static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
				if (write(pfd[i].fd, resp, sizeof(resp) - 1) < 0) { r = 0; break; }
				memmove(k->buf, k->buf + want, k->have - want);
				k->have -= want;
			}
			if (r <= 0) {
				close(pfd[i].fd); free(k->buf);
				n--; pfd[i] = pfd[n]; cs[i] = cs[n]; i--;
			}
		}
	}
	fclose(log);
	return 0;
}
EOF
cat >"$W/pace.c" <<'EOF'
/* pace RATE < lines: write each line at RATE/s, "sentus":"0" replaced by now (us). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
	double rate = atof(argv[1]);
	char *line = NULL; size_t cap = 0; ssize_t n;
	struct timespec next; long long step = (long long)(1e9 / rate);
	clock_gettime(CLOCK_MONOTONIC, &next);
	while ((n = getline(&line, &cap, stdin)) > 0) {
		char *p = strstr(line, "\"sentus\":\"0\""), out[65536];
		struct timespec rt; long long us; int k;
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		clock_gettime(CLOCK_REALTIME, &rt);
		us = rt.tv_sec * 1000000LL + rt.tv_nsec / 1000;
		k = snprintf(out, sizeof(out), "%.*s\"sentus\":\"%lld\"%s", (int)(p - line), line, us, p + 12);
		if (write(1, out, (size_t)k) < 0) return 1;
		next.tv_nsec += step;
		while (next.tv_nsec >= 1000000000L) { next.tv_nsec -= 1000000000L; next.tv_sec++; }
	}
	return 0;
}
EOF
cc -O2 -Wall -Werror -o "$W/recv" "$W/recv.c"
cc -O2 -Wall -Werror -o "$W/pace" "$W/pace.c"

# ~1 KB structured events, ids and keys distinct
awk -v n="$N" 'BEGIN {
	pad = "DC0_H0_VM0 on DC0_H0 in DC0 is powered on";
	for (i = 1; i <= n; i++)
		printf "{\"specversion\":\"1.0\",\"id\":\"bench-%d\",\"source\":\"https://vc.example.com/sdk\",\"type\":\"com.vmware.vsphere.VmPoweredOnEvent.v0\",\"subject\":\"VmPoweredOnEvent\",\"time\":\"2026-11-23T09:00:00.123456Z\",\"datacontenttype\":\"application/json\",\"eventkey\":%d,\"sentus\":\"0\",\"data\":{\"Key\":%d,\"ChainId\":%d,\"CreatedTime\":\"2026-11-23T09:00:00.123456Z\",\"UserName\":\"VSPHERE.LOCAL\\\\Administrator\",\"Datacenter\":{\"Name\":\"DC0\",\"Datacenter\":{\"Type\":\"Datacenter\",\"Value\":\"datacenter-2\"}},\"ComputeResource\":{\"Name\":\"DC0_C0\",\"ComputeResource\":{\"Type\":\"ClusterComputeResource\",\"Value\":\"domain-c7\"}},\"Host\":{\"Name\":\"DC0_H0\",\"Host\":{\"Type\":\"HostSystem\",\"Value\":\"host-21\"}},\"Vm\":{\"Name\":\"DC0_H0_VM0\",\"Vm\":{\"Type\":\"VirtualMachine\",\"Value\":\"vm-57\"}},\"Ds\":null,\"Net\":null,\"Dvs\":null,\"FullFormattedMessage\":\"%s\",\"ChangeTag\":\"\",\"Template\":false}}\n", i, i, i, i, pad
}' >"$W/events"

"$W/recv" "$W/port" "$W/arrivals" &
RPID=$!
while [ ! -s "$W/port" ]; do sleep 0.05; done
URL=http://127.0.0.1:$(cat "$W/port")/

now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / (b - a) }'; }
# The figure clients are compared by: events/s from the first request to
# reach the receiver to the last (the receiver logs each arrival and
# flushes its log after 200 ms idle). The wall clock also counts start-up,
# and curl --config parses its whole config (one block per event) before
# its first request: about half of curl's wall time at N=20000, which made
# curl's sequential loop look half as fast as it is.
arrivals() { sleep 0.5; wc -l <"$W/arrivals"; }
loop_rate() {
	sleep 0.5
	tail -n +"$(($1 + 1))" "$W/arrivals" | awk '
	    NR == 1 { a = $1 } { b = $1 } END {
	    if (NR > 1 && b > a) printf "%.0f", (NR - 1) * 1e6 / (b - a); else printf "-" }'
}
rss_of() { awk '{ printf "%.1f MB", $1 / 1024 }' "$1"; }
# CPU per event (user + system, from /usr/bin/time "%M %U %S"): what the
# clients' ratio comes down to when the receiver is not the limit (it too
# grows with the machine's load: caches, preemption; 10 ms ticks)
cpu_of() { awk -v n="$2" '{ printf "CPU %.1f us/event (user %.1f, sys %.1f)",
	($2 + $3) * 1e6 / n, $2 * 1e6 / n, $3 * 1e6 / n }' "$1"; }

echo "events: $N x $(head -1 "$W/events" | wc -c) bytes; receiver: $URL (C, keep-alive)"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "host: $(nproc) CPUs, $(uname -sr); curl CLI: $(curl --version | head -1 | cut -d' ' -f2-4); sink-http: $("$SINK" --version | sed -n 2p | cut -d' ' -f1-2)"

# the receiver's ceiling: wrk POSTing a real event line, 32 connections
if command -v wrk >/dev/null 2>&1; then
	head -1 "$W/events" | tr -d '\n' >"$W/one"
	cat >"$W/post.lua" <<EOF
local f = assert(io.open("$W/one", "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/cloudevents+json"
EOF
	wrk -t 1 -c 32 -d "${WRK_SECONDS:-5}s" -s "$W/post.lua" "$URL" >"$W/wrk.out" 2>&1
	wrk_rps=$(awk '/^Requests\/sec:/ { print $2 }' "$W/wrk.out")
	printf '%-44s %8.0f events/s  (the receiver ceiling, %s s)\n' \
	    "wrk -t 1 -c 32 (POST of one event line)" \
	    "$wrk_rps" "${WRK_SECONDS:-5}"
else
	printf '%-44s %8s\n' "wrk -t 1 -c 32" "(no wrk: apt-get install wrk)"
fi

echo "events/s: first to last request at the receiver (wall clock, start-up included)"
for inf in 1 32; do
	k=$(arrivals)
	t0=$(now)
	/usr/bin/time -f "%M %U %S" -o "$W/rss1" "$SINK" --url "$URL" \
	    --inflight $inf --log-level warn <"$W/events"
	t1=$(now)
	lr=$(loop_rate "$k")
	[ "$inf" = 32 ] && s32=$lr
	printf '%-44s %8s events/s  (%s wall)  max RSS %s  %s\n' \
	    "sink-http --inflight $inf" "$lr" \
	    "$(rate "$N" "$t0" "$t1")" "$(rss_of "$W/rss1")" \
	    "$(cpu_of "$W/rss1" "$N")"
done

t0=$(now)
/usr/bin/time -f %M -o "$W/rss2" "$SINK" --url "$URL" --log-level warn --checkpoint "$W/ck" <"$W/events"
t1=$(now)
printf '%-44s %8s events/s  max RSS %s\n' "sink-http --checkpoint (interval 100ms)" "$(rate "$N" "$t0" "$t1")" "$(rss_of "$W/rss2")"

# a few hundred events/s at best: CK_EACH of them, not N (N=20000 took minutes)
head -n "$CK_EACH" "$W/events" >"$W/ckfew"
t0=$(now)
"$SINK" --url "$URL" --log-level warn --checkpoint "$W/ck" --checkpoint-interval 0 <"$W/ckfew"
t1=$(now)
printf '%-44s %8s events/s  (fsync per event, %s events)\n' "sink-http --checkpoint-interval 0" "$(rate "$CK_EACH" "$t0" "$t1")" "$CK_EACH"

# one curl, one "next" block per event: sequential on one connection
sed 's/\\/\\\\/g; s/"/\\"/g' "$W/events" | awk -v u="$URL" '{
	if (NR > 1) print "next"
	print "url = \"" u "\""
	print "header = \"Content-Type: application/cloudevents+json\""
	print "data-binary = \"" $0 "\""
	print "output = \"/dev/null\""
}' >"$W/curl.cfg"
k=$(arrivals)
t0=$(now)
/usr/bin/time -f "%M %U %S" -o "$W/rss3" curl -sS --fail --config "$W/curl.cfg"
t1=$(now)
clr=$(loop_rate "$k")
# (curl's CPU includes parsing its N-block config)
printf '%-44s %8s events/s  (%s wall)  max RSS %s  %s\n' \
    "curl --config (one keep-alive connection)" "$clr" \
    "$(rate "$N" "$t0" "$t1")" "$(rss_of "$W/rss3")" \
    "$(cpu_of "$W/rss3" "$N")"
awk -v s="$s32" -v c="$clr" -v w="${wrk_rps:-0}" 'BEGIN {
	if (c > 0) printf "%-44s %8.1fx curl --config (target 5x)\n", "sink-http --inflight 32", s / c
	if (w > 0) printf "%-44s %8.2f of wrk -c 32 (target 0.5 or more)\n", "sink-http --inflight 32", s / w }'

head -n "$CURL_EACH" "$W/events" >"$W/few"
t0=$(now)
while IFS= read -r line; do
	curl -sS --fail -o /dev/null -H 'Content-Type: application/cloudevents+json' \
	    --data-binary "$line" "$URL"
done <"$W/few"
t1=$(now)
printf '%-44s %8s events/s  (%s events)\n' "curl, one process per event" "$(rate "$CURL_EACH" "$t0" "$t1")" "$CURL_EACH"

# added latency at a steady rate
LN=$((RATE * 5))
head -n "$LN" "$W/events" >"$W/lat"
kill $RPID; wait $RPID 2>/dev/null || true
rm -f "$W/port"
"$W/recv" "$W/port" "$W/arrivals" &
RPID=$!
while [ ! -s "$W/port" ]; do sleep 0.05; done
URL=http://127.0.0.1:$(cat "$W/port")/
"$W/pace" "$RATE" <"$W/lat" | "$SINK" --url "$URL" --log-level warn &
SPID=$!
sleep 2
# RSS counts every shared-library page touched (libcurl's TLS library,
# librtmp's GnuTLS, Kerberos, ...); Pss shares them out; Private is what no
# other process maps
mem=$(awk '/^(Rss|Pss|Private_Clean|Private_Dirty):/ { v[$1] = $2 } END {
	printf "Rss %.1f MB  Pss %.1f MB  Private %.1f MB", v["Rss:"] / 1024,
	    v["Pss:"] / 1024, (v["Private_Clean:"] + v["Private_Dirty:"]) / 1024 }' /proc/$SPID/smaps_rollup)
wait $SPID
kill $RPID; wait $RPID 2>/dev/null || true
awk '$2 > 0 { print $1 - $2 }' "$W/arrivals" | sort -n >"$W/lat.us"
awk -v r="$RATE" '{ a[NR] = $1 } END {
	printf "%-44s p50 %.2f ms  p99 %.2f ms  max %.2f ms  (%d events at %d/s)\n",
	    "sink-http added latency (pipe to receiver)",
	    a[int(NR * 0.50)] / 1000, a[int(NR * 0.99)] / 1000, a[NR] / 1000, NR, r
}' "$W/lat.us"
printf '%-44s %s\n' "sink-http memory while streaming" "$mem"
