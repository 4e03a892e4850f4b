#!/bin/sh
# OpenFaaS mode against a fake gateway speaking the gateway's API: functions
# chosen by topic annotation (subject, dotted form, *), sync and async
# invocation, per-function retries and dead letters, list refresh, auth.
. "${0%/*}/lib.sh"
command -v sink-http >/dev/null || skip_all "sink-http not built"
command -v jq >/dev/null || skip_all "jq not installed"
plan 19
D=$VP_SRCDIR/t/data
E=$VP_SRCDIR/t/expected
FAST="--retry-base 10ms --retry-cap 40ms"
cp "$D/sink-http-functions.json" "$T/functions.json"
printf 'admin\ngw-pass-1\n' >"$T/cred"
python3 "$VP_SRCDIR/t/fake-openfaas/gateway.py" --functions "$T/functions.json" \
    --password gw-pass-1 --log "$T/gw.log" --port-file "$T/gw.port" \
    --script fn-fail=500,503 --script fn-reject=400,400 2>"$T/gw.err" &
bg_pid $!
wait_for 60 test -s "$T/gw.port" || bail "fake gateway did not start"
GW=http://127.0.0.1:$(cat "$T/gw.port")
head -2 "$D/sink-http-structured.ndjson" >"$T/in"
head -2 "$D/sink-http-binary.ndjson" >>"$T/in"
sed -n 3p "$D/sink-http-binary.ndjson" >>"$T/in"

expect_exit "OpenFaaS mode delivers, dead-lettering a rejecting function" 0 \
    $VP_WRAP sink-http --openfaas "$GW/" --credentials-file "$T/cred" $FAST \
    --dlq "$T/dlq" --checkpoint "$T/ck" <"$T/in"
jq -r '"\(.path) \(.status) \(.headers["x-topic"] // "-") \(.headers["x-connector"] // "-")"' "$T/gw.log" >"$T/calls"
same "functions invoked by topic, in order, with X-Topic and X-Connector" \
    "$E/sink-http-openfaas.calls" "$T/calls"
is "the list request carried the gateway credentials" "Basic $(printf 'admin:gw-pass-1' | base64)" \
    "$(head -1 "$T/gw.log" | jq -r .headers.authorization)"
is "function calls carry no gateway credentials" "" \
    "$(jq -r 'select(.function)|.headers.authorization // empty' "$T/gw.log")"
is "the structured event reached fn-on byte for byte" "$(head -1 "$T/in")" \
    "$(jq -r 'select(.function=="fn-on")|.body' "$T/gw.log")"
is "one dead letter per failed function, naming it" "vc-4f2a-2002 fn-reject rejected 400,vc-4f2a-2003 fn-reject rejected 400" \
    "$(jq -r '"\(.headers["ce-id"]) \(.deadletter.function) \(.deadletter.reason) \(.deadletter.status)"' "$T/dlq" | paste -sd, -)"
is "the checkpoint moved to the last event" vc-4f2a-2003 "$(jq -r .id "$T/ck")"

# replay: only the function that failed gets it again
: >"$T/gw.log"
expect_exit "replaying the dead letter" 0 \
    $VP_WRAP sink-http --openfaas "$GW" --credentials-file "$T/cred" $FAST <"$T/dlq"
is "only fn-reject was invoked" "/function/fn-reject 200,/function/fn-reject 200" \
    "$(jq -r 'select(.function)|"\(.path) \(.status)"' "$T/gw.log" | paste -sd, -)"

# without --dlq a rejection ends the run with 65: a dead letter naming a
# function that is gone (the gateway answers 404)
: >"$T/gw.log"
head -1 "$T/dlq" | jq -c '.deadletter.function="fn-gone"' >"$T/gone"
expect_exit "rejection without --dlq: exit 65" 65 \
    $VP_WRAP sink-http --openfaas "$GW" --credentials-file "$T/cred" $FAST \
    --connector my-conn <"$T/gone"
check "the error names the function URL and the 404" grep -q 'fn-gone: rejected: HTTP 404' "$T/.exit.err"
check "X-Connector is configurable" grep -q '"x-connector": "my-conn"' "$T/gw.log"

# async
: >"$T/gw.log"
expect_exit "--async delivers" 0 \
    $VP_WRAP sink-http --openfaas "$GW" --credentials-file "$T/cred" --async <"$T/in"
is "async paths, 202 each" "202" "$(jq -r 'select(.function)|.status' "$T/gw.log" | sort -u)"
check "all invocations went to /async-function/" \
    sh -c "jq -r 'select(.function)|.path' '$T/gw.log' | grep -v '^/async-function/' | wc -l | grep -qx 0"

# wrong credentials: 77, nothing invoked
printf 'admin\nwrong\n' >"$T/bad"
: >"$T/gw.log"
expect_exit "wrong gateway credentials: exit 77" 77 \
    $VP_WRAP sink-http --openfaas "$GW" --credentials-file "$T/bad" <"$T/in"
is "no function invoked" 0 "$(jq -r 'select(.function)' "$T/gw.log" | wc -l | tr -d ' ')"

# the function list is refreshed
rm -f "$T/r.in"; mkfifo "$T/r.in"
: >"$T/gw.log"
$VP_WRAP sink-http --openfaas "$GW" --credentials-file "$T/cred" --refresh 100ms <"$T/r.in" 2>"$T/r.err" &
SPID=$!; bg_pid $SPID
exec 3>"$T/r.in"
head -1 "$D/sink-http-structured.ndjson" >&3
wait_for 10 grep -q fn-all "$T/gw.log" || true
jq '. + [{"name":"fn-new","annotations":{"topic":"vm.powered.on"}}]' "$D/sink-http-functions.json" >"$T/f2"
mv "$T/f2" "$T/functions.json"
sleep 0.3
head -1 "$D/sink-http-structured.ndjson" >&3
exec 3>&-
set +e; wait $SPID; rc=$?; set -e
is "refresh run: exit 0" 0 "$rc"
is "the new function got the second event" "/function/fn-new" \
    "$(jq -r 'select(.function=="fn-new")|.path' "$T/gw.log")"
done_testing
