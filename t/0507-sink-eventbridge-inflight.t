#!/bin/sh
# sink-eventbridge --inflight 8 against a fake that fails every 7th PutEvents
# request (HTTP 500) and every 13th entry (ThrottlingException), killed with
# SIGKILL at random points and restarted from its checkpoint (as a source
# resumes after the checkpoint's key): every event arrives, the checkpoint
# never names an event unless it and every event before it were
# acknowledged, and a duplicate is always the same event again. Dead
# letters keep the input order whatever order the requests end in; then
# --inflight 1 keeps input order through failed requests.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/fake-eventbridge/fake.sh"
. "$VP_SRCDIR/t/inflight-kills.sh"
command -v sink-eventbridge >/dev/null || skip_all "sink-eventbridge not built"
N=${VP_INFLIGHT_EVENTS:-4000}
KILLS=${VP_INFLIGHT_KILLS:-10}
plan $((KILLS + 10))
use_env_keys
FAST="--retry-base 5ms --retry-cap 40ms --max-retries 1000"
eb() { sink-eventbridge --region us-east-1 --endpoint-url "$FAKE_URL" $FAST "$@"; }

awk -v n="$N" 'BEGIN { for (i = 1; i <= n; i++)
	printf "{\"specversion\":\"1.0\",\"id\":\"e-%d\",\"source\":\"https://vc.example.com/sdk\",\"type\":\"com.vmware.vsphere.VmPoweredOnEvent.v0\",\"time\":\"2026-11-23T09:00:00Z\",\"eventkey\":%d,\"data\":{\"Key\":%d}}\n", i, i, i }' >"$T/all"

fake_config "$T/c.json" '{"fail_every": [7, 500], "entry_fail_every": 13, "latency_ms": 20}'
start_fake "$T/c.json"

# the keys EventBridge acknowledged, sorted, once each
acked() { jq -r '.Detail | fromjson | .eventkey' "$T/fake.log" | sort -n -u; }
start_sink() {
	sink-eventbridge --region us-east-1 --endpoint-url "$FAKE_URL" $FAST \
	    --inflight 8 --checkpoint "$T/ck" --checkpoint-interval 20ms \
	    --log-level error <"$T/in" 2>>"$T/err" &
	SINK_PID=$!
}
REQLOG=$T/fake.req MORE=30
kill_loop "$KILLS"
expect_exit "after $KILLS kills, a run to the end" 0 \
    eb --inflight 8 --checkpoint "$T/ck" --log-level error <"$T/in"
is "the checkpoint names the last event" "$N" "$(ck_key)"
is "every event was acknowledged" "$N" "$(acked | wc -l | tr -d ' ')"
is "a duplicate is the same event again (one Detail per id)" 0 \
    "$(jq -r .Detail "$T/fake.log" | sort -u | jq -r .id | sort | uniq -d | wc -l | tr -d ' ')"
check "the fake failed some requests" grep -q '"scripted"' "$T/fake.req"
check "the fake failed some entries" grep -Eq '"failed": [1-9]' "$T/fake.req"

# dead letters in input order, from requests that end in any order
fake_config "$T/d.json" '{"fail_every": [5, 500], "entry_failures": {"e-3": ["MalformedDetail"], "e-100": ["", "MalformedDetail"], "e-250": ["MalformedDetail"], "e-251": ["InvalidArgument"], "e-499": ["MalformedDetail"]}}'
start_fake "$T/d.json"
head -500 "$T/all" >"$T/five"
expect_exit "--inflight 8 with --dlq" 0 eb --inflight 8 --dlq "$T/dlq" <"$T/five"
is "dead letters in input order" "e-3 e-250 e-251 e-499" \
    "$(jq -r .id "$T/dlq" | paste -sd ' ' -)"

# --inflight 1: input order through failed requests (an entry that fails
# alone is retried after its neighbours, as sink-eventbridge(1) says)
fake_config "$T/o.json" '{"fail_every": [7, 500]}'
start_fake "$T/o.json"
head -200 "$T/all" >"$T/few"
expect_exit "--inflight 1 through the same failures" 0 eb --inflight 1 <"$T/few"
is "acknowledged in input order" "$(seq 1 200 | paste -sd ' ' -)" \
    "$(jq -r '.Detail | fromjson | .eventkey' "$T/fake.log" | paste -sd ' ' -)"
done_testing
