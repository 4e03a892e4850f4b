#!/bin/sh
# sink-http retries what is worth retrying (transport errors, 408, 429, 5xx
# but 501), honours Retry-After, dead-letters or exits on the rest, and a
# dead-letter file replays through sink-http.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/http-receiver/lib.sh"
command -v sink-http >/dev/null || skip_all "sink-http not built"
command -v jq >/dev/null || skip_all "jq not installed"
plan 43
D=$VP_SRCDIR/t/data
E=$VP_SRCDIR/t/expected
FAST="--retry-base 10ms --retry-cap 40ms"
S1=$(head -1 "$D/sink-http-structured.ndjson")
B1=$(head -1 "$D/sink-http-binary.ndjson")
printf '%s\n%s\n' "$S1" "$B1" >"$T/two"

# 503, 503, then 200: one event, three attempts, delivered
start_receiver a --script 503,503
expect_exit "503 twice then 200: delivered" 0 \
    $VP_WRAP sink-http --url "http://127.0.0.1:$RPORT/" $FAST <"$T/two"
is "three attempts for the first event, one for the second" "503 503 200 200" \
    "$(jq -r .action "$T/a.log" | tr '\n' ' ' | sed 's/ $//')"
is "every attempt carried the same event" 1 \
    "$(head -3 "$T/a.log" | jq -r .body | sort -u | wc -l | tr -d ' ')"
stop_receiver a

# 429 with Retry-After
start_receiver b --script 429:ra=1
expect_exit "429 with Retry-After: delivered" 0 \
    $VP_WRAP sink-http --url "http://127.0.0.1:$RPORT/" $FAST <"$T/two"
check "the retry waited what Retry-After asked" grep -q 'HTTP 429.*retry 1 in 1000 ms' "$T/.exit.err"
is "two attempts, then the second event" "429:ra=1 200 200" "$(jq -r .action "$T/b.log" | tr '\n' ' ' | sed 's/ $//')"
stop_receiver b

# Retry-After beyond --max-retry-time: give up at once
start_receiver c --default 503:ra=30
expect_exit "Retry-After past --max-retry-time: exit 75" 75 \
    $VP_WRAP sink-http --url "http://127.0.0.1:$RPORT/" $FAST --max-retry-time 2s <"$T/two"
check "it says why" grep -q 'past --max-retry-time' "$T/.exit.err"
is "one attempt only" 1 "$(requests c)"
stop_receiver c

# 400: rejected for good
start_receiver d --script 400,400
expect_exit "400 without --dlq: exit 65" 65 \
    $VP_WRAP sink-http --url "http://127.0.0.1:$RPORT/" $FAST --checkpoint "$T/ck1" <"$T/two"
is "not retried" 1 "$(requests d)"
check "no checkpoint past the rejected event" test ! -e "$T/ck1"
: >"$T/d.log"
printf '%s\n' "$(sed -n 2p "$D/sink-http-structured.ndjson")" >"$T/three"
cat "$T/two" >>"$T/three"
stop_receiver d
start_receiver d --script 200,400,400
expect_exit "400 without --dlq after a good event: exit 65" 65 \
    $VP_WRAP sink-http --url "http://127.0.0.1:$RPORT/" $FAST --checkpoint "$T/ck1" <"$T/three"
is "checkpoint names the last acknowledged event" vc-4f2a-1235 "$(jq -r .id "$T/ck1")"
stop_receiver d

start_receiver e --script 400,400
expect_exit "400 with --dlq: both events dead-lettered, exit 0" 0 \
    $VP_WRAP sink-http --url "http://127.0.0.1:$RPORT/x" $FAST --dlq "$T/dlq" --checkpoint "$T/ck2" <"$T/two"
is "two dead letters" 2 "$(wc -l <"$T/dlq" | tr -d ' ')"
jq -c '.deadletter|{reason,status,attempts,error,response,line}' "$T/dlq" >"$T/dl.got"
same "dead letters say why" "$E/sink-http-retry.deadletters" "$T/dl.got"
check "dead letters carry the URL and a time" \
    sh -c "jq -e '.deadletter.url == \"http://127.0.0.1:$RPORT/x\" and (.deadletter.time|test(\"Z\$\"))' '$T/dlq'"
is "checkpoint moved past dead-lettered events" vc-4f2a-2001 "$(jq -r .id "$T/ck2")"
is "dead-lettered events count as failed invocations" \
    "$(jq -r '.subject // .headers["ce-subject"]' "$T/two" | awk '{printf "%s[0,1]\n", $1}' | sort | paste -sd' ' -)" \
    "$(jq -r '.invocations | to_entries[] | "\(.key)\(.value | tojson)"' "$T/ck2" | sort | paste -sd' ' -)"
stop_receiver e

# replay the dead-letter file: the same bytes arrive
start_receiver f
expect_exit "the dead-letter file replays" 0 \
    $VP_WRAP sink-http --url "http://127.0.0.1:$RPORT/" <"$T/dlq"
is "structured replay sends the original line byte for byte" "$S1" "$(jq -r 'select(.n==1)|.body' "$T/f.log")"
is "binary replay sends the original body" "$(printf '%s\n' "$B1" | jq -r .body)" "$(jq -r 'select(.n==2)|.body' "$T/f.log")"
is "binary replay sends the original ce- headers" \
    "$(printf '%s\n' "$B1" | jq -S -c .headers)" \
    "$(jq -c 'select(.n==2)|.headers|with_entries(select(.key|test("^(ce-|content-type)")))' "$T/f.log")"
stop_receiver f

# a replay that fails again is dead-lettered again, with the new reason only
start_receiver g --default 422
expect_exit "a failing replay dead-letters again" 0 \
    $VP_WRAP sink-http --url "http://127.0.0.1:$RPORT/" --dlq "$T/dlq2" <"$T/dlq"
is "one deadletter member, the new one" "422 422" "$(jq -r .deadletter.status "$T/dlq2" | tr '\n' ' ' | sed 's/ $//')"
is "the record is still the original line plus deadletter" "$S1" \
    "$(head -1 "$T/dlq2" | sed 's/,"deadletter":{.*}}$/}/')"
stop_receiver g

# 503 for ever: retries exhausted
start_receiver h --default 503
expect_exit "503 for ever, no --dlq: exit 75" 75 \
    $VP_WRAP sink-http --url "http://127.0.0.1:$RPORT/" $FAST --max-retries 2 <"$T/two"
is "1 + --max-retries attempts" 3 "$(requests h)"
: >"$T/h.log"
expect_exit "503 for ever, --dlq: exit 0" 0 \
    $VP_WRAP sink-http --url "http://127.0.0.1:$RPORT/" $FAST --max-retries 1 --dlq "$T/dlq3" <"$T/two"
is "both dead-lettered as retries exhausted" "retries exhausted retries exhausted" \
    "$(jq -r .deadletter.reason "$T/dlq3" | tr '\n' ' ' | sed 's/ $//')"
stop_receiver h

# 501 is not retried; 404 only with --knative
start_receiver i --script 501,404,404,404
expect_exit "501 is final" 65 $VP_WRAP sink-http --url "http://127.0.0.1:$RPORT/" $FAST <"$T/two"
expect_exit "404 is final without --knative" 65 $VP_WRAP sink-http --url "http://127.0.0.1:$RPORT/" $FAST <"$T/two"
expect_exit "404 is retried with --knative" 0 $VP_WRAP sink-http --url "http://127.0.0.1:$RPORT/" $FAST --knative <"$T/two"
is "attempts: 501; 404; 404 404 200 200" "501 404 404 404 200 200" "$(jq -r .action "$T/i.log" | tr '\n' ' ' | sed 's/ $//')"
stop_receiver i

# 401: not the event's fault, never dead-lettered
start_receiver j --default 401
expect_exit "401: exit 77" 77 $VP_WRAP sink-http --url "http://127.0.0.1:$RPORT/" $FAST --dlq "$T/dlq4" <"$T/two"
check "nothing dead-lettered" test ! -e "$T/dlq4"
stop_receiver j

# a receiver that hangs, resets or closes the connection
start_receiver k --script hang,reset,close
expect_exit "hang, reset, close, then 200: delivered" 0 \
    $VP_WRAP sink-http --url "http://127.0.0.1:$RPORT/" $FAST --timeout 1s <"$T/two"
is "four attempts for the first event" "hang reset close 200 200" "$(jq -r .action "$T/k.log" | tr '\n' ' ' | sed 's/ $//')"
check "the timeout was reported" grep -q 'Operation timed out' "$T/.exit.err"
stop_receiver k

# a receiver that is down for a while: sink-http waits, then delivers
start_receiver l
PORT=$RPORT
stop_receiver l
rm -f "$T/l.log"
$VP_WRAP sink-http --url "http://127.0.0.1:$PORT/" $FAST --max-retries 1000 \
    <"$T/two" >"$T/l.out" 2>"$T/l.err" &
SPID=$!
bg_pid $SPID
wait_for 10 grep -q "retry 3 " "$T/l.err" || true
python3 "$VP_SRCDIR/t/http-receiver/receiver.py" --log "$T/l.log" --port "$PORT" 2>/dev/null &
bg_pid $!
set +e; wait $SPID; rc=$?; set -e
is "receiver came back: exit 0" 0 "$rc"
check "it retried while the receiver was down" grep -q "Couldn't connect" "$T/l.err"
is "both events arrived, in order" "vc-4f2a-1234 vc-4f2a-2001" \
    "$(jq -r '(.body|fromjson?|.id) // .headers["ce-id"]' "$T/l.log" | tr '\n' ' ' | sed 's/ $//')"
done_testing
