#!/bin/sh
# bench/vc-source.sh [BUILDDIR]: vc-source beside a govmomi-based reader, same
# simulator, same run.
#  1. backlog: events/s reading N events (default 20000) with real vCenter
#     collector semantics (vcsim -history), vc-source vs govmomi-events
#     (ReadNextEvents: vc-source at its default --read-size 250, govmomi-events
#     with pages of 1000, its fastest), plus max RSS, peak PSS and peak USS
#     (private pages; PSS also depends on how many other processes on the
#     host share the libraries), sampled from /proc/PID/smaps_rollup every
#     20 ms, vc-source at --read-size 250
#     (its default) and 1000 to show what the page size costs.
#  2. latency: from an event's creation to its line on stdout while following,
#     over M events posted 100 ms apart (default 50): vc-source (WaitForUpdatesEx
#     on latestPage) vs govmomi-events in follow mode (govc events -f's way),
#     and each follower's PSS at the end.
# BASE=/path/to/vc-source adds that binary's backlog rows (e.g. the build
# before a change), so both are measured in the same run on the same host.
# LATENCY=0 skips part 2.
# Targets: backlog at least govmomi's speed; median latency under 100 ms.
# Latency is measured twice: on vcsim -history, whose property collector
# answers WaitForUpdatesEx as soon as a latestPage changes (as vCenter does),
# and on the stock simulator, which batches property updates on a 250 ms
# ticker so that any reader sees 0..250 ms more.
set -eu
VP_BUILDDIR=$(cd "${1:-build}" && pwd)
VP_SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
export VP_BUILDDIR VP_SRCDIR
. "$VP_SRCDIR/bench/lib-vcsim.sh"
N=${N:-20000}
M=${M:-50}
VCS="$VP_BUILDDIR/src/vc-source/vc-source"
BASE=${BASE:-}
LATENCY=${LATENCY:-1}

stat() { sort -n | awk '{a[NR]=$1} END {printf "median %.1f ms  p90 %.1f ms  max %.1f ms  (n=%d)", a[int((NR+1)/2)], a[int(NR*0.9+0.5)], a[NR], NR}'; }

vcsim_start -history >/dev/null
vcsim_op post-burst count="$N" >/dev/null
# run1 LABEL CMD...: elapsed, events, max RSS (GNU time) and the peak PSS
# (/proc/PID/smaps_rollup sampled every 20 ms while it runs) of one reader
run1() {
	_l=$1; shift
	/usr/bin/time -f "%e %M" -o "$T/t" "$@" >"$T/out" 2>/dev/null & _tp=$!
	_pss=0 _uss=0
	while kill -0 $_tp 2>/dev/null; do
		for _c in $(cat /proc/$_tp/task/$_tp/children 2>/dev/null); do
			set -- $(awk '/^Pss:/ {p = $2} /^Private_(Clean|Dirty):/ {u += $2}
			    END {print p + 0, u + 0}' /proc/$_c/smaps_rollup 2>/dev/null || echo 0 0)
			[ "$1" -gt "$_pss" ] && _pss=$1
			[ "$2" -gt "$_uss" ] && _uss=$2
		done
		sleep 0.02
	done
	wait $_tp || :
	set -- $(cat "$T/t")
	_n=$(wc -l <"$T/out")
	printf '%-26s %6d events %6.2f s %8.0f events/s  max RSS %5.1f MB  peak PSS %5.1f MB  USS %5.1f MB\n' \
		"$_l" "$_n" "$1" "$(echo "$_n / $1" | bc -l)" "$(echo "$2/1024" | bc -l)" "$(echo "$_pss/1024" | bc -l)" \
		"$(echo "$_uss/1024" | bc -l)"
}
echo "== backlog: $N events (vcsim -history), load $(cut -d' ' -f1-3 /proc/loadavg)"
for run in 1 2 3; do
	[ -z "$BASE" ] || run1 "vc-source (BASE)" "$BASE" --url "$VCSIM_URL" --begin 1h --once
	run1 "vc-source" "$VCS" --url "$VCSIM_URL" --begin 1h --once
	run1 "vc-source --read-size 1000" "$VCS" --url "$VCSIM_URL" --begin 1h --once --read-size 1000
	run1 "govmomi-events (page 1000)" "$GOVMOMI_EVENTS_BIN" -url "$VCSIM_URL" -once -mode readnext -page 1000
done
vcsim_stop
echo "   load $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$LATENCY" != 0 ] || exit 0

# latency SIM_FLAGS TITLE: both readers follow one simulator while M events
# are posted 100 ms apart.
latency() {
	echo "== latency: $M events posted 100 ms apart, following, $2"
	vcsim_start $1 >/dev/null
	# FIFOs rather than pipelines, so every process is known and stopped at exit
	rm -f "$T/fv" "$T/fg"; mkfifo "$T/fv" "$T/fg"
	python3 "$VP_SRCDIR/bench/stamp.py" <"$T/fv" >"$T/lat.v" & bg_pid $!
	python3 "$VP_SRCDIR/bench/stamp.py" <"$T/fg" >"$T/lat.g" & bg_pid $!
	"$VCS" --url "$VCSIM_URL" >"$T/fv" 2>/dev/null & vpid=$!; bg_pid $vpid
	"$GOVMOMI_EVENTS_BIN" -url "$VCSIM_URL" -stamp >"$T/fg" 2>/dev/null & gpid=$!; bg_pid $gpid
	sleep 2; : >"$T/lat.v"; : >"$T/lat.g"
	i=0
	while [ $i -lt "$M" ]; do
		vcsim_op post-event class=VmPoweredOnEvent >/dev/null
		sleep 0.1; i=$((i + 1))
	done
	sleep 2
	pss() { awk '/^Pss:/ {printf "%.1f MB", $2/1024}' /proc/$1/smaps_rollup 2>/dev/null || echo "?"; }
	printf 'vc-source       %s  PSS %s\n' "$(stat <"$T/lat.v")" "$(pss $vpid)"
	printf 'govmomi-events  %s  PSS %s\n' "$(stat <"$T/lat.g")" "$(pss $gpid)"
	kill $vpid $gpid 2>/dev/null || :
	vcsim_stop
}
# vCenter's property collector answers a wait as soon as latestPage
# changes, as t/vcsim -history does; the stock simulator adds 0..250 ms.
latency -history "vcsim -history (updates sent at once, as vCenter does)"
latency "" "stock simulator (property updates batched on a 250 ms ticker)"
