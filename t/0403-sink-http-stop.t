#!/bin/sh
# SIGTERM finishes the in-flight request and writes the checkpoint; an event
# still being retried is left undone (exit 75, never dead-lettered); a
# receiver that is down stops sink-http reading (backpressure);
# kill -9 at any moment loses no event once the upstream resumes from the
# checkpoint.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/http-receiver/lib.sh"
command -v sink-http >/dev/null || skip_all "sink-http not built"
command -v jq >/dev/null || skip_all "jq not installed"
plan 21
D=$VP_SRCDIR/t/data
FAST="--retry-base 10ms --retry-cap 40ms"
S1=$(sed -n 1p "$D/sink-http-structured.ndjson")
S2=$(sed -n 2p "$D/sink-http-structured.ndjson")

# run_fifo NAME ARGS...: sink-http reading the fifo $T/NAME.in, held open on fd 3
run_fifo() {
	_n=$1; shift
	rm -f "$T/$_n.in"; mkfifo "$T/$_n.in"
	$VP_WRAP sink-http "$@" <"$T/$_n.in" >"$T/$_n.out" 2>"$T/$_n.err" &
	SPID=$!
	bg_pid $SPID
	exec 3>"$T/$_n.in"
}
finish() { exec 3>&-; set +e; wait $SPID; RC=$?; set -e; }

# SIGTERM while retrying, with --dlq: the event is not dead-lettered (it
# comes again from the source after the restart), the checkpoint stays
# before it, exit 75: not everything read was delivered
start_receiver a --script 200 --default 503
run_fifo a --url "http://127.0.0.1:$RPORT/" $FAST --max-retries 100000 \
    --dlq "$T/a.dlq" --checkpoint "$T/a.ck"
printf '%s\n%s\n' "$S1" "$S2" >&3
wait_for 10 sh -c "[ \$(wc -l <'$T/a.log') -ge 3 ]" || true
kill -TERM $SPID
finish
is "SIGTERM while retrying with --dlq: exit 75" 75 "$RC"
is "the in-flight event was not dead-lettered" no "$(test -s "$T/a.dlq" && echo yes || echo no)"
is "checkpoint names the last acknowledged event, one delivered" "vc-4f2a-1234 1" "$(jq -r '"\(.id) \(.delivered)"' "$T/a.ck")"
check "the log says it comes again" grep -q 'stdin:2: event vc-4f2a-1235: .*stopped before delivery.*comes again after a restart' "$T/a.err"
stop_receiver a

# the same without --dlq: exit 75, the checkpoint stays before it
start_receiver b --script 200 --default 503
run_fifo b --url "http://127.0.0.1:$RPORT/" $FAST --max-retries 100000 --checkpoint "$T/b.ck"
printf '%s\n%s\n' "$S1" "$S2" >&3
wait_for 10 sh -c "[ \$(wc -l <'$T/b.log') -ge 3 ]" || true
kill -TERM $SPID
finish
is "SIGTERM while retrying without --dlq: exit 75" 75 "$RC"
is "checkpoint names the last acknowledged event" vc-4f2a-1234 "$(jq -r .id "$T/b.ck")"
stop_receiver b

# SIGTERM during a slow request: it completes and counts
start_receiver c --default 200:delay=1
run_fifo c --url "http://127.0.0.1:$RPORT/" --checkpoint "$T/c.ck"
printf '%s\n' "$S1" >&3
wait_for 10 test -s "$T/c.log" || true
kill -TERM $SPID
finish
is "SIGTERM during a request: exit 0" 0 "$RC"
is "the request finished and was checkpointed" vc-4f2a-1234 "$(jq -r .id "$T/c.ck")"
stop_receiver c

# SIGTERM while waiting for input: exit 0, checkpoint already written
start_receiver d
run_fifo d --url "http://127.0.0.1:$RPORT/" --checkpoint "$T/d.ck"
printf '%s\n' "$S1" >&3
wait_for 10 test -s "$T/d.ck" || true
is "an idle stream is checkpointed at once" vc-4f2a-1234 "$(jq -r .id "$T/d.ck" 2>/dev/null)"
kill -TERM $SPID
finish
is "SIGTERM while idle: exit 0" 0 "$RC"
stop_receiver d

# EOF: exit 0 after the last delivery
start_receiver e
printf '%s\n%s\n' "$S1" "$S2" >"$T/e.in2"
expect_exit "EOF after the last delivery: exit 0" 0 \
    $VP_WRAP sink-http --url "http://127.0.0.1:$RPORT/" --checkpoint "$T/e.ck" <"$T/e.in2"
is "checkpoint names the last event" "vc-4f2a-1235 2" "$(jq -r '"\(.id) \(.delivered)"' "$T/e.ck")"
stop_receiver e

# backpressure: with the receiver failing, sink-http reads no further and
# the writer upstream blocks
i=0; : >"$T/many"
while [ $i -lt 400 ]; do
	i=$((i + 1))
	printf '%s\n' "$S1" | jq -c --argjson k $i '.id="bp-\($k)"|.eventkey=$k|.data.pad=("x"*2000)' >>"$T/many"
done
start_receiver f --default 503
rm -f "$T/f.done"
(cat "$T/many"; touch "$T/f.done") | $VP_WRAP sink-http --url "http://127.0.0.1:$RPORT/" $FAST --max-retries 100000 \
    >/dev/null 2>"$T/f.err" &
FPID=$!
bg_pid $FPID
wait_for 10 sh -c "[ \$(wc -l <'$T/f.log') -ge 5 ]" || true
check "the writer is blocked while the receiver is down" test ! -e "$T/f.done"
is "only the first event was attempted" "bp-1" "$(jq -r '.body|fromjson|.id' "$T/f.log" | sort -u | tr '\n' ' ' | sed 's/ $//')"
# $! of a pipeline is its last process: sink-http itself
if [ -z "$VP_WRAP" ]; then
	check "sink-http stays small while blocked (VmRSS under 20 MB)" \
	    sh -c "[ \$(awk '/VmRSS/{print \$2}' /proc/$FPID/status) -lt 20480 ]"
else
	ok "# SKIP RSS under $VP_WRAP"
fi
kill -TERM $FPID 2>/dev/null || true
stop_receiver f

# kill -9 mid-stream, then resume after the checkpoint as vc-source would:
# every event arrives at least once and duplicates carry the same id
i=0; : >"$T/stream"
while [ $i -lt 60 ]; do
	i=$((i + 1))
	printf '%s\n' "$S1" | jq -c --argjson k $i '.id="k9-\($k)"|.eventkey=$k' >>"$T/stream"
done
start_receiver g --default 200:delay=0.02
$VP_WRAP sink-http --url "http://127.0.0.1:$RPORT/" --checkpoint "$T/g.ck" \
    <"$T/stream" >/dev/null 2>"$T/g.err" &
GPID=$!
bg_pid $GPID
wait_for 20 sh -c "[ \$(wc -l <'$T/g.log') -ge 20 ] && [ -s '$T/g.ck' ]" || true
kill -KILL $GPID
# (2>/dev/null: the shell would print a bare "Killed" on the suite's stderr)
set +e; wait $GPID 2>/dev/null; rc=$?; set -e
is "sink-http was killed mid-stream" 137 "$rc"
K=$(jq -r .key "$T/g.ck")
jq -r '.body|fromjson|.eventkey' "$T/g.log" >"$T/g.first"
check "the checkpoint ($K) is not ahead of what the receiver got" \
    sh -c "[ $K -ge 1 ] && [ $K -le \$(sort -n '$T/g.first' | tail -1) ]"
check "the run stopped before the end" sh -c "[ \$(wc -l <'$T/g.first') -lt 60 ]"
jq -c --argjson k "$K" 'select(.eventkey > $k)' "$T/stream" >"$T/rest"
expect_exit "resumed run delivers the rest" 0 \
    $VP_WRAP sink-http --url "http://127.0.0.1:$RPORT/" --checkpoint "$T/g.ck" <"$T/rest"
seq 1 60 >"$T/all"
jq -r '.body|fromjson|.eventkey' "$T/g.log" | sort -n -u >"$T/got"
same "every event arrived at least once" "$T/all" "$T/got"
is "duplicates are byte-identical (same id)" 60 \
    "$(jq -r .body "$T/g.log" | sort -u | wc -l | tr -d ' ')"
done_testing
