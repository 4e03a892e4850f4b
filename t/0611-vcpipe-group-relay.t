#!/bin/sh
# vcpipe-group relays the pipe of a vcpipe-tap stage itself (issue 16 goal
# 2): no tap process, the same counts and copy as vcpipe-tap, whole lines
# only (a long line whole, the half line a killed writer leaves dropped
# with a warning), and a reader that goes away stops the writer.
. "${0%/*}/lib.sh"
for p in vcpipe-group vcpipe-tap jq python3; do
	command -v $p >/dev/null 2>&1 || skip_all "$p not available"
done
plan 12

# stages NAME ARGV... [-- NAME ARGV...]: a stages file (vcpipe-yaml's form)
stages() {
	_f=$1; shift
	: >"$_f"
	while [ $# -gt 0 ]; do
		_name=$1; shift
		_n=0
		for _a; do [ "$_a" = -- ] && break; _n=$((_n + 1)); done
		printf '%s\0%s\0' "$_name" "$_n" >>"$_f"
		while [ $# -gt 0 ] && [ "$1" != -- ]; do printf '%s\0' "$1" >>"$_f"; shift; done
		if [ $# -gt 0 ]; then shift; fi
	done
}

# lines, a 200 KiB line, more lines, and half a line at the end
python3 -c 'import sys
w = sys.stdout.write
for i in range(1000): w("{\"specversion\":\"1.0\",\"id\":\"%d\",\"source\":\"s\",\"type\":\"t\",\"subject\":\"%s\"}\n" % (i, "A" if i % 2 else "B"))
w("x" * 200000 + "\n")
for i in range(3): w("line %d\n" % i)
w("half a li")' >"$T/in"
head -c "$(($(wc -c <"$T/in") - 9))" "$T/in" >"$T/want"
mkdir -p "$T/u/p"
stages "$T/u/p/stages" src cat "$T/in" -- tap-read vcpipe-tap --stats "$T/read.json" --copy "$T/copy" --log-level info -- sink sh -c "cat >'$T/out'"
expect_exit "the group runs: exit 0" 0 vcpipe-group "$T/u/p"
same "whole lines pass, the long one whole; the half line at the end does not" "$T/want" "$T/out"
same "--copy: the same lines" "$T/want" "$T/copy"
check "the half line is dropped with a warning" grep -q 'warn: .* tap-read: dropped a last line of 9 bytes' "$T/.exit.err"
is "counts: lines and bytes, as vcpipe-tap writes them" "1004 $(wc -c <"$T/want")" "$(jq -r '"\(.lines) \(.bytes)"' "$T/read.json")"
is "counts: subjects" '{"B":500,"A":500}' "$(jq -c .subjects "$T/read.json")"
is "no tap process: the pids file names the group for it" 1 "$(awk '$1 == "tap-read"' "$T/u/p/pids" | wc -l)"
check "the exit file lists the processes only" sh -c "! grep -q tap-read '$T/u/p/exit'"

# vcpipe-tap by hand, on the same input: same counts (a last line without
# its newline gets one there, as before)
vcpipe-tap --stats "$T/tap.json" <"$T/in" >"$T/tap.out"
is "vcpipe-tap counts the same (plus the last line)" "1005 $(($(wc -c <"$T/want") + 10))" \
    "$(jq -r '"\(.lines) \(.bytes)"' "$T/tap.json")"

# a second run continues the counts
expect_exit "a second run" 0 vcpipe-group "$T/u/p"
is "counts continue across runs" 2008 "$(jq .lines "$T/read.json")"

# the reader stops early: the writer gets EPIPE, nothing hangs
stages "$T/u/p/stages" src sh -c 'yes "{\"a\":1}"' -- tap vcpipe-tap --stats "$T/s2.json" -- sink head -n 5
set +e; timeout 30 vcpipe-group "$T/u/p" >"$T/head.out" 2>"$T/head.err"; rc=$?; set -e
is "a reader that ends: the writer stops, the group ends (exit of the writer: SIGPIPE)" "141 5" "$rc $(wc -l <"$T/head.out")"
done_testing
