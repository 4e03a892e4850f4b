#!/bin/sh
# bench/many-vcenters.sh [BUILDDIR]: one bin/vcpipe serving N simulated
# vCenters (vcsim -history -tls each, started here: HTTPS as every vCenter,
# insecureSSL: true; one knative-uri pipeline per vCenter, metrics on, as
# deployed), and what it costs:
#   processes   in vcpipe's process tree, and per pipeline
#   PSS         sum of Pss over the tree's /proc/PID/smaps_rollup (busy: the
#               largest of the samples taken while events flow; at that
#               sample, each program's PSS and USS per process)
#   own pages   what one more vCenter costs: the pages only one pipeline
#               (its vcpipe-group and stages) maps, median over the
#               pipelines at the end of the busy time (bench/pss-alone.py --own, root
#               only), and from it 100 vCenters' PSS: this run's busy PSS
#               plus (100 - N) pipelines' own pages
#   idle CPU    % of one core used by the tree over IDLE s with no events
#               (each thread's time on a CPU in ns, proctree.py's NS: an idle
#               process's microseconds show, clock ticks would not), and by
#               program with the wake-ups per second of one of its processes
#   busy CPU    the same while every simulator creates RATE events/s
#   latency     p50/p99 from each event's creation in its simulator to its
#               arrival at the receiver (bench/stamp-receiver.c, same clock)
# Beside them, the event router's design figure for the same events
# (bench/latency.py runs its published loop over their creation times: one
# ReadNextEvents(100) per 1 s tick per vCenter, 1-5 s backoff when idle: at
# most 100 events/s per vCenter, 0.5-5 s latency; one router process serves
# one vCenter).
#
# env: N vCenters (default 10; issue 16's figure is N=100: about 50 MB of
#      memory per simulator), RATE events/s per vCenter (default 2), IDLE and
#      BUSY seconds (defaults 20 and 30, BUSY at most 110), RUNS (default 3:
#      min / median / max at the end), KEEP a directory to keep each run's
#      receiver log and vcpipe's log in (many-vcenters.RUN.log, .err).
# Targets (issue 16): 100 vCenters under 300 MB PSS in total, at most 6
# processes per pipeline, idle CPU under 1% of one core.
# The machine may be shared: the load average is printed with each run; the
# simulators' own CPU is not counted (they are not in vcpipe's tree).
set -eu
. "$(dirname "$0")/lib-pipeline.sh"
N=${N:-10}
RATE=${RATE:-2}
IDLE=${IDLE:-20}
BUSY=${BUSY:-30}
RUNS=${RUNS:-3}
[ "$BUSY" -ge 10 ] && [ "$BUSY" -le 110 ] || { echo "many-vcenters.sh: BUSY 10..110" >&2; exit 64; }

# the simulators, started together
"$VP_SRCDIR/t/build-go.sh" >&2
simpids=""
for i in $(seq 1 "$N"); do
	"$VCSIM_BIN" -history -tls -cafile "$T/sim$i.ca" >"$T/sim$i.ready" 2>"$T/sim$i.log" &
	bg_pid $!
	simpids="$simpids $!"
done
# the simulators' own CPU (ticks): they share the machine with vcpipe
simticks() { for p in $simpids; do awk '{ print $14 + $15 }' "/proc/$p/stat"; done | awk '{ t += $1 } END { print t + 0 }'; }
end=$(( $(date +%s) + 60 + N ))
for i in $(seq 1 "$N"); do
	while ! grep -q '^{' "$T/sim$i.ready" 2>/dev/null; do
		[ "$(date +%s)" -lt "$end" ] || { echo "simulator $i did not start" >&2; cat "$T/sim$i.log" >&2; exit 1; }
		sleep 0.1
	done
done
urls=$(for i in $(seq 1 "$N"); do jq -r .url "$T/sim$i.ready"; done)
ctls=$(for i in $(seq 1 "$N"); do jq -r .ctl "$T/sim$i.ready"; done)
VC_USERNAME=$(jq -r .username "$T/sim1.ready") VC_PASSWORD=$(jq -r .password "$T/sim1.ready")
export VC_USERNAME VC_PASSWORD
stamp_receiver
# shellcheck disable=SC2086
vcpipe_config "$T/c.yaml" $urls

# idle_cpu NS0 NS1 S NAMES: the tree's CPU % between two NS readings S s
# apart, then each program's % and the wake-ups a second of one of its
# processes, largest first (NAMES: proctree's "prog:count,...")
idle_cpu() {
	printf '%s\n%s\n' "$1" "$2" | awk -v s="$3" -v names="$4" '
		BEGIN { n = split(names, a, ","); for (i = 1; i <= n; i++) { split(a[i], kv, ":"); c[kv[1]] = kv[2] } }
		{ n = split($0, kv, ","); for (i = 1; i <= n; i++) { split(kv[i], p, "="); split(p[2], v, "/")
		  if (NR == 1) { t[p[1]] = v[1]; w[p[1]] = v[2] } else { dt[p[1]] = v[1] - t[p[1]]; dw[p[1]] = v[2] - w[p[1]] } } }
		END { for (k in dt) tot += dt[k]; printf "%.3f\n", tot / 1e9 / s * 100
		      for (k in dt) printf "%.3f %s %.2f\n", dt[k] / 1e9 / s * 100, k, dw[k] / s / (c[k] ? c[k] : 1) }' |
		{ read -r tot; printf '%s ' "$tot"; sort -rn | awk '{ printf "%s%s=%s%%(%s/s)", sep, $2, $1, $3; sep = "," } END { print "" }'; }
}
pct() { awk -v a="$1" -v b="$2" -v s="$3" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / hz / s * 100 }'; }
echo "host: $(nproc) CPUs; $N vCenters (vcsim -history), one vcpipe; $RATE events/s each while busy"
for run in $(seq 1 "$RUNS"); do
	vcpipe_run "$T/c.yaml" "$N"
	sleep 5 # first reads done, sessions settled
	set -- $(tree); ns0=$7
	sleep "$IDLE"
	set -- $(tree); procs=$1 pss_idle=$2 names=$4
	set -- $(idle_cpu "$ns0" "$7" "$IDLE" "$names")
	idle=$1 idle_programs=$2

	mark=$(wc -l <"$RLOG")
	pids=""
	# all posters at once (N curls; each paces its simulator's events)
	for c in $ctls; do
		curl -sS -o /dev/null -X POST --data-urlencode "count=$((RATE * BUSY))" \
			--data-urlencode "rate=$RATE" "$c/post-burst" &
		pids="$pids $!"
	done
	sleep 2
	set -- $(tree); t0=$3 pss_busy=$2 self0=$5 mem=$6 sim0=$(simticks)
	s=0
	while [ $s -lt $((BUSY - 4)) ]; do
		sleep 2; s=$((s + 2))
		set -- $(tree); [ "$2" -gt "$pss_busy" ] && pss_busy=$2 mem=$6
	done
	busy=$(pct "$t0" "$3" "$s")
	# what one more vCenter costs: the pages only its pipeline maps (its
	# vcpipe-group and the stages under it), median over the pipelines
	own=$(for g in $(pgrep -P "$VPID" -x vcpipe-group); do
		python3 "$VP_SRCDIR/bench/pss-alone.py" --own $g $(cat /proc/$g/task/*/children 2>/dev/null)
	done | sort -n | awk '/^[0-9]+$/ { v[++n] = $1 } END { print n ? v[int((n + 1) / 2)] : "n/a" }')
	simbusy=$(pct "$sim0" "$(simticks)" "$s")
	programs=$(by_program "$self0" "$5" "$s")
	for p in $pids; do wait "$p" || true; done
	want=$((N * RATE * BUSY))
	end=$(( $(date +%s) + 60 ))
	while [ $(( $(wc -l <"$RLOG") - mark )) -lt "$want" ] && [ "$(date +%s)" -lt "$end" ]; do sleep 0.5; done
	tail -n +"$((mark + 1))" "$RLOG" >"$T/run.log"
	[ -z "${KEEP:-}" ] || cp "$T/run.log" "$KEEP/many-vcenters.$run.log"
	[ -z "${KEEP:-}" ] || cp "$T/vcpipe.err" "$KEEP/many-vcenters.$run.err"
	python3 "$VP_SRCDIR/bench/latency.py" "$T/run.log" --sources "$N" >"$T/lat"
	vcpipe_end

	printf 'run %d (load %s): %d processes (%s per pipeline), PSS idle %.1f MB busy %.1f MB (%.2f MB per vCenter), CPU idle %s%% busy %s%% of a core, %d/%d events arrived\n' \
		"$run" "$(load)" "$procs" "$(awk -v p="$procs" -v n="$N" 'BEGIN { printf "%.1f", p / n }')" \
		"$(echo "$pss_idle / 1024" | bc -l)" "$(echo "$pss_busy / 1024" | bc -l)" \
		"$(echo "$pss_busy / 1024 / $N" | bc -l)" "$idle" "$busy" "$(wc -l <"$T/run.log")" "$want"
	echo "    programs: $names; vcpipe's log: $(grep -c 'warn' "$T/vcpipe.err" || :) warnings, $(grep -c 'error' "$T/vcpipe.err" || :) errors"
	echo "    memory by program at the busy peak, MB per process (PSS, USS): $(printf '%s\n' "$mem" | tr ',' '\n' |
		awk -v names="$names" 'BEGIN { n = split(names, a, ","); for (i = 1; i <= n; i++) { split(a[i], kv, ":"); c[kv[1]] = kv[2] } }
		{ split($0, kv, "="); split(kv[2], m, "/"); printf "%s%s %.2f, %.2f", sep, kv[1], m[1] / 1024 / c[kv[1]], m[2] / 1024 / c[kv[1]]; sep = "; " }')"
	[ "$own" = n/a ] || echo "    one pipeline's own pages (mapped by nothing else), median: $(echo "$own / 1024" | bc -l | xargs printf '%.2f') MB; so 100 vCenters ~ $(echo "($pss_busy + (100 - $N) * $own) / 1024" | bc -l | xargs printf '%.0f') MB PSS"
	echo "    idle CPU by program (% of a core, and the wake-ups a second of one of its processes): $(echo "$idle_programs" | sed 's/=/ /g; s/,/, /g')"
	echo "    busy CPU by program (their own, % of a core): $programs; the $N simulators: $simbusy%"
	sed 's/^/    /' "$T/lat"
	echo "$procs" >>"$T/procs"; echo "$pss_idle" | awk '{ printf "%.1f\n", $1 / 1024 }' >>"$T/pssi"
	echo "$pss_busy" | awk '{ printf "%.1f\n", $1 / 1024 }' >>"$T/pssb"
	echo "$idle" >>"$T/idle"; echo "$busy" >>"$T/busy"
	sed -n 's/^vcpipe .* p50 *\([0-9.]*\) ms *p99 *\([0-9.]*\) ms.*/\1 \2/p' "$T/lat" >>"$T/vl"
	sed -n 's/^router .* p50 *\([0-9.]*\) ms *p99 *\([0-9.]*\) ms.*/\1 \2/p' "$T/lat" >>"$T/rl"
done
echo
echo "summary over $RUNS runs, min / median / max, $N vCenters:"
echo "  vcpipe:  processes $(mmm <"$T/procs"), PSS idle $(mmm <"$T/pssi") MB, busy $(mmm <"$T/pssb") MB," \
	"CPU idle $(mmm <"$T/idle") %, busy $(mmm <"$T/busy") % of a core"
echo "           latency p50 $(cut -d' ' -f1 "$T/vl" | mmm) ms, p99 $(cut -d' ' -f2 "$T/vl" | mmm) ms"
echo "  router design (computed): $N processes (one vCenter each), at most 100 events/s per vCenter,"
echo "           latency p50 $(cut -d' ' -f1 "$T/rl" | mmm) ms, p99 $(cut -d' ' -f2 "$T/rl" | mmm) ms"
echo "  targets: 100 vCenters under 300 MB PSS (3 MB a vCenter), at most 6 processes per pipeline, idle CPU under 1%"
