#!/bin/sh
# Pipeline behaviour: the next stage going away (SIGPIPE/EPIPE) ends
# ce-encode cleanly with the documented exit 74 and message, no signal death;
# SIGTERM lets lines already read finish; output comes line by line while
# input is still open (nothing waits in a buffer).
. "${0%/*}/lib.sh"
plan 7
D=$VP_SRCDIR/t/data
good=$(sed -n 1p "$D/ce-encode-raw.ndjson")

# 20000 lines into "| head -1"
i=0; : >"$T/many"
while [ $i -lt 200 ]; do cat "$D/ce-encode-raw.ndjson"; i=$((i + 1)); done >"$T/many"
for k in 1 2 3 4 5 6; do cat "$T/many" "$T/many"; done >"$T/many2"; mv "$T/many2" "$T/many"
set +e
( $VP_WRAP ce-encode <"$T/many" 2>"$T/pipe.err"; echo $? >"$T/pipe.rc" ) | head -1 >"$T/first"
set -e
is "ce-encode | head -1: exit 74 (next stage gone), not a signal" 74 "$(cat "$T/pipe.rc")"
is "ce-encode | head -1: says why" "ce-encode: stdout: the next stage is gone" \
	"$(grep -v 'info:' "$T/pipe.err")"
is "ce-encode | head -1: head got a whole first line" \
	"$(sed -n 1p "$VP_SRCDIR/t/expected/ce-encode-structured-router.ndjson")" "$(cat "$T/first")"

# a line written while the input stays open comes out at once
mkfifo "$T/in" "$T/out"
ce-encode <"$T/in" >"$T/out" 2>"$T/live.err" &
pid=$!; bg_pid $pid
exec 8>"$T/in" 9<"$T/out"
printf '%s\n' "$good" >&8
if read -r line <&9; then ok "an event comes out while stdin is still open"
else not_ok "an event comes out while stdin is still open"; fi
# SIGTERM while idle: a clean stop, exit 0
kill -TERM $pid
set +e; wait $pid; rc=$?; set -e
exec 8>&- 9<&-
is "SIGTERM while waiting for input: exit 0" 0 "$rc"

# SIGTERM while lines are queued: those already read are still written
mkfifo "$T/in2"
ce-encode <"$T/in2" >"$T/out2" 2>/dev/null &
pid=$!; bg_pid $pid
exec 8>"$T/in2"
printf '%s\n%s\n' "$good" "$good" >&8
wait_for 10 test -s "$T/out2" || true
kill -TERM $pid
set +e; wait $pid; rc=$?; set -e
exec 8>&-
is "SIGTERM: exit 0" 0 "$rc"
is "SIGTERM: the lines read before it were written" 2 "$(wc -l <"$T/out2" | tr -d ' ')"
done_testing
