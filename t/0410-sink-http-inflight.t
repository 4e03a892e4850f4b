#!/bin/sh
# sink-http --inflight 32 against a receiver that fails every 7th request,
# killed with SIGKILL at random points and restarted from its checkpoint (as
# a source resumes after the checkpoint's key): every event arrives, the
# checkpoint never names an event unless it and every event before it were
# acknowledged, and a duplicate is always the same event again. Then
# --inflight 1 keeps input order through the same failures.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/http-receiver/lib.sh"
. "$VP_SRCDIR/t/inflight-kills.sh"
command -v sink-http >/dev/null || skip_all "sink-http not built"
command -v jq >/dev/null || skip_all "jq not installed"
N=${VP_INFLIGHT_EVENTS:-3000}
KILLS=${VP_INFLIGHT_KILLS:-12}
plan $((KILLS + 7))
FAST="--retry-base 5ms --retry-cap 40ms --max-retries 1000"

awk -v n="$N" 'BEGIN { for (i = 1; i <= n; i++)
	printf "{\"specversion\":\"1.0\",\"id\":\"e-%d\",\"source\":\"https://vc.example.com/sdk\",\"type\":\"com.vmware.vsphere.VmPoweredOnEvent.v0\",\"time\":\"2026-11-23T09:00:00Z\",\"eventkey\":%d,\"data\":{\"Key\":%d}}\n", i, i, i }' >"$T/all"

start_receiver a --fail-every 7:503
: >>"$T/a.log"
URL="http://127.0.0.1:$RPORT/"

# the keys the receiver acknowledged (answered 2xx), sorted, once each
acked() {
	jq -r 'select(.action | test("^2")) | .body | fromjson | .eventkey' "$T/a.log" |
	    sort -n -u
}
start_sink() {
	$VP_WRAP sink-http --url "$URL" --inflight 32 --checkpoint "$T/ck" \
	    --checkpoint-interval 20ms $FAST --log-level error <"$T/in" 2>>"$T/err" &
	SINK_PID=$!
}
REQLOG=$T/a.log MORE=400
kill_loop "$KILLS"
# the last run to the end of its input
expect_exit "after $KILLS kills, a run to the end" 0 \
    $VP_WRAP sink-http --url "$URL" --inflight 32 --checkpoint "$T/ck" $FAST --log-level error <"$T/in"
is "the checkpoint names the last event" "$N" "$(ck_key)"
is "every event was acknowledged" "$N" "$(acked | wc -l | tr -d ' ')"
is "a duplicate is the same event again (one body per id)" 0 \
    "$(jq -r 'select(.action | test("^2")) | .body' "$T/a.log" | sort -u |
	jq -r .id | sort | uniq -d | wc -l | tr -d ' ')"
check "the receiver failed some requests (every 7th)" \
    test "$(jq -r .action "$T/a.log" | grep -c '^503$')" -gt 0
stop_receiver a

# --inflight 1: the old order, failures and all
start_receiver b --fail-every 7:503
head -200 "$T/all" >"$T/few"
expect_exit "--inflight 1 through the same failures" 0 \
    $VP_WRAP sink-http --url "http://127.0.0.1:$RPORT/" --inflight 1 $FAST <"$T/few"
is "acknowledged in input order" "$(seq 1 200 | paste -sd ' ' -)" \
    "$(jq -r 'select(.action | test("^2")) | .body | fromjson | .eventkey' "$T/b.log" | paste -sd ' ' -)"
stop_receiver b
done_testing
