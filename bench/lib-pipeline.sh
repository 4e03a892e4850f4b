# bench/lib-pipeline.sh: what the pipeline benches (e2e-latency.sh,
# many-vcenters.sh) share. Sourced first thing, with the bench's arguments
# still in "$@": the build directory is $1 (default build); it sets
# VP_BUILDDIR and VP_SRCDIR and brings in bench/lib-vcsim.sh (T, bg_pid,
# vcsim_*), then:
#   stamp_receiver            builds and starts bench/stamp-receiver: RPORT, RLOG
#   vcpipe_config FILE URL... writes a vcpipe Config: one vcenter provider per
#                             simulator URL (vc1, vc2, ...; insecureSSL for an
#                             https one), each with one knative
#                             processor posting to the receiver, metrics on
#                             MPORT; state in $T/state; INFLIGHT (default
#                             1: in order) events on their way at once
#   vcpipe_run FILE N         starts bin/vcpipe on it (VPID, run dir $T/run) and
#                             waits until its N pipelines run
#   vcpipe_end                SIGTERM to vcpipe, waits for it
#   received FIRST LAST       how many requests the receiver logged with a key
#                             in FIRST..LAST
#   tree                      bench/proctree.py on vcpipe: PROCS PSS_KB TICKS NAMES SELF MEM NS
#   by_program SELF0 SELF1 S  each program's CPU between two SELF fields S s apart,
#                             % of one core, largest first
#   mmm                       min/median/max of the numbers on stdin
#   load                      the 1-minute load average
VP_BUILDDIR=$(cd "${1:-build}" && pwd)
VP_SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
export VP_BUILDDIR VP_SRCDIR
. "$VP_SRCDIR/bench/lib-vcsim.sh"
. "$VP_SRCDIR/t/vcpipe-config.sh"
PATH=$VP_SRCDIR/bin:$PATH
for _d in "$VP_BUILDDIR"/src/*/; do PATH="${_d%/}:$PATH"; done
export PATH
CLK_TCK=$(getconf CLK_TCK)

stamp_receiver() {
	cc -O2 -Wall -o "$T/stamp-receiver" "$VP_SRCDIR/bench/stamp-receiver.c"
	RLOG=$T/arrivals
	"$T/stamp-receiver" "$T/rport" "$RLOG" &
	bg_pid $!
	while [ ! -s "$T/rport" ]; do sleep 0.05; done
	RPORT=$(cat "$T/rport")
}

vcpipe_config() {
	_f=$1; shift
	MPORT=$(free_port)
	{
		vcfg_head
		_i=0
		for _u; do
			_i=$((_i + 1))
			# an https simulator's certificate is its own CA's:
			# insecureSSL, as most RouterConfigs for a vCenter
			vcfg_vcenter "vc$_i" "$_u" | sed 's|^      address: https:.*|&\
      insecureSSL: true|'
			vcfg_knative rcv "http://127.0.0.1:$RPORT/" "${INFLIGHT:-}"
		done
		vcfg_metrics "$MPORT"
	} >"$_f"
}

vcpipe_run() {
	rm -rf "$T/state" "$T/run" "$T/vcpipe.err"
	mkdir -p "$T/state"
	vcpipe -config "$1" --run-dir "$T/run" --log-level warn >"$T/vcpipe.out" 2>>"$T/vcpipe.err" &
	VPID=$!
	bg_pid $VPID
	_end=$(( $(date +%s) + 120 + $2 ))
	while [ "$(cat "$T"/run/u/*/state.json 2>/dev/null | grep -c '"status":"running"')" -lt "$2" ]; do
		if [ "$(date +%s)" -ge "$_end" ] || ! kill -0 $VPID 2>/dev/null; then
			echo "vcpipe: the $2 pipelines did not all start:" >&2
			tail -n 20 "$T/vcpipe.err" >&2
			return 1
		fi
		sleep 0.5
	done
}

vcpipe_end() {
	kill -TERM $VPID 2>/dev/null || true
	wait $VPID 2>/dev/null || true
}

received() {
	awk -F "\t" -v a="$1" -v b="$2" '$4 ~ /^-?[0-9]+$/ && $4 + 0 >= a && $4 + 0 <= b { n++ } END { print n + 0 }' "$RLOG"
}

tree() { python3 "$VP_SRCDIR/bench/proctree.py" "$VPID"; }

by_program() {
	printf '%s\n%s\n' "$1" "$2" | awk -v s="$3" -v hz="$CLK_TCK" '
		{ n = split($0, kv, ","); for (i = 1; i <= n; i++) { split(kv[i], p, "=");
		  if (NR == 1) a[p[1]] = p[2]; else d[p[1]] = p[2] - a[p[1]] } }
		END { for (k in d) printf "%.2f %s\n", d[k] / hz / s * 100, k }' |
		sort -rn | awk '$1 > 0 { printf "%s%s %s%%", sep, $2, $1; sep = ", " } END { print "" }'
}

mmm() {
	sort -n | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "-"; exit }
		printf "%s / %s / %s", v[1], v[int((NR + 1) / 2)], v[NR] }'
}

load() { cut -d' ' -f1 /proc/loadavg; }
