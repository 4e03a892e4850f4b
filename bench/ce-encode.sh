#!/bin/sh
# bench/ce-encode.sh [BUILDDIR] [N]: ce-encode against the equivalent jq -c
# program on the same N (default 100000) realistic raw event lines
# (bench/ce-encode-gen.py), in one run. Prints wall time, events/s and max RSS
# (GNU time) of each, and the speed-up. Each program runs 3 times; the best
# time is reported.
#
# Passthrough rows re-read ce-encode's own output (structured and binary
# CloudEvent lines) as the sinks and webhook-source would. CE_BASE=PATH adds
# the same rows for another ce-encode binary (an older build) in the same run,
# so before and after are measured on one machine state.
#
# The jq program builds the same structured CloudEvent, except that its id is
# the plain "instanceUuid/key/createdTime" string: jq has no SHA-1, so it is
# spared the UUID v5 hashing ce-encode does.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-${VP_BUILDDIR:-$top/build}}
n=${2:-100000}
ce=$build/src/ce-encode/ce-encode
[ -x "$ce" ] || { echo "bench: $ce not built" >&2; exit 66; }
[ -x /usr/bin/time ] || { echo "bench: GNU time (/usr/bin/time) is needed" >&2; exit 69; }
command -v jq >/dev/null || { echo "bench: jq is needed" >&2; exit 69; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ce-bench.XXXXXX")
T=$tmp
. "$top/bench/lib-exit.sh"	# $tmp removed however the script ends

python3 "$top/bench/ce-encode-gen.py" "$n" >"$tmp/in"
echo "input: $n raw event lines, $(($(wc -c <"$tmp/in") / 1024 / 1024)) MiB ($(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg))"

JQ='{specversion:"1.0",id:"\(.instanceUuid)/\(.key)/\(.createdTime)",source:.vcenter,
 type:("com.vmware.event.router/"+.category),subject:.class,time:.createdTime,
 datacontenttype:"application/json",eventkey:.key,vsphereapiversion:.apiVersion,data:.data}'

# run NAME CMD...: best of 3; prints a row, leaves events/s in $eps
run() {
	name=$1; shift
	input=$tmp/in
	case $name in *passthrough*) input=$tmp/in.$pt ;; esac
	best=""; rss=0
	for i in 1 2 3; do
		/usr/bin/time -f "%e %M" -o "$tmp/time" "$@" <"$input" >"$tmp/out" 2>/dev/null
		read -r t m <"$tmp/time"
		[ "$m" -gt "$rss" ] && rss=$m
		if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
	done
	lines=$(wc -l <"$tmp/out")
	[ "$lines" -eq "$n" ] || { echo "bench: $name wrote $lines lines, not $n" >&2; exit 70; }
	eps=$(awk "BEGIN{t=$best; if (t < 0.01) t = 0.01; printf \"%d\", $n / t}")
	printf '%-34s %7.2f s %10d events/s %8d KiB max RSS\n' "$name" "$best" "$eps" "$rss"
}

run "jq -c (equivalent program)" jq -c "$JQ"; jq_eps=$eps
run "ce-encode" "$ce"; ce_eps=$eps
run "ce-encode --mode binary" "$ce" --mode binary
run "ce-encode --type-style vsphere" "$ce" --type-style vsphere
"$ce" <"$tmp/in" >"$tmp/in.structured" 2>/dev/null
"$ce" --mode binary <"$tmp/in" >"$tmp/in.binary" 2>/dev/null
pt=structured; run "ce-encode passthrough structured" "$ce"
pt=binary; run "ce-encode passthrough binary" "$ce"
if [ -n "${CE_BASE:-}" ]; then
	run "CE_BASE" "$CE_BASE"
	pt=structured; run "CE_BASE passthrough structured" "$CE_BASE"
	pt=binary; run "CE_BASE passthrough binary" "$CE_BASE"
fi
awk "BEGIN{printf \"speed-up ce-encode / jq: %.1fx\n\", $ce_eps / $jq_eps}"
