#!/bin/sh
# bench/vc-source.sh [BUILDDIR]: vc-source beside a govmomi-based reader, same
# simulator, same run.
#  1. backlog: events/s reading N events (default 20000) with real vCenter
#     collector semantics (vcsim -history), vc-source vs govmomi-events
#     (ReadNextEvents: vc-source at its default --read-size 250, govmomi-events
#     with pages of 1000, its fastest), plus max RSS.
#  2. latency: from an event's creation to its line on stdout while following,
#     over M events posted 100 ms apart (default 50): vc-source (WaitForUpdatesEx
#     on latestPage) vs govmomi-events in follow mode (govc events -f's way).
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

stat() { sort -n | awk '{a[NR]=$1} END {printf "median %.1f ms  p90 %.1f ms  max %.1f ms  (n=%d)", a[int((NR+1)/2)], a[int(NR*0.9+0.5)], a[NR], NR}'; }

vcsim_start -history >/dev/null
vcsim_op post-burst count="$N" >/dev/null
echo "== backlog: $N events (vcsim -history)"
for run in 1 2; do
	set -- $( /usr/bin/time -f "%e %M" -o "$T/t1" "$VCS" --url "$VCSIM_URL" --begin 1h --once >"$T/v.out" 2>/dev/null; cat "$T/t1")
	vn=$(wc -l <"$T/v.out")
	printf 'vc-source       %6d events  %6.2f s  %8.0f events/s  max RSS %6.1f MB\n' "$vn" "$1" "$(echo "$vn / $1" | bc -l)" "$(echo "$2/1024" | bc -l)"
	set -- $( /usr/bin/time -f "%e %M" -o "$T/t2" "$GOVMOMI_EVENTS_BIN" -url "$VCSIM_URL" -once -mode readnext -page 1000 >"$T/g.out" 2>/dev/null; cat "$T/t2")
	gn=$(wc -l <"$T/g.out")
	printf 'govmomi-events  %6d events  %6.2f s  %8.0f events/s  max RSS %6.1f MB\n' "$gn" "$1" "$(echo "$gn / $1" | bc -l)" "$(echo "$2/1024" | bc -l)"
done
vcsim_stop

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
	printf 'vc-source       %s\n' "$(stat <"$T/lat.v")"
	printf 'govmomi-events  %s\n' "$(stat <"$T/lat.g")"
	kill $vpid $gpid 2>/dev/null || :
	vcsim_stop
}
# vCenter's property collector answers a wait as soon as latestPage
# changes, as t/vcsim -history does; the stock simulator adds 0..250 ms.
latency -history "vcsim -history (updates sent at once, as vCenter does)"
latency "" "stock simulator (property updates batched on a 250 ms ticker)"
