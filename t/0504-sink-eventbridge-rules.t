#!/bin/sh
# sink-eventbridge filters with an EventBridge pattern before sending: from
# --pattern FILE, or from a rule read with DescribeRule (--rule NAME,
# --rule-arn ARN) at start and again every --rule-refresh.  Filtered events
# still move the checkpoint; a pattern that cannot be evaluated stops the
# sink at start (78) instead of letting everything through.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/fake-eventbridge/fake.sh"
plan 20
D=$VP_SRCDIR/t/data
IN=$D/sink-eventbridge-structured.ndjson
SE="$VP_WRAP sink-eventbridge"
use_env_keys
eb() { $SE --region us-east-1 --endpoint-url "$FAKE_URL" "$@"; }
POWER='1000 1001 1009'	# VmPowered*Event on vc01, except VM web-05 (1005)

fake_config "$T/cfg.json"
start_fake "$T/cfg.json"
expect_exit "--pattern: filtered delivery" 0 eb --checkpoint "$T/p.ck" --pattern "$D/sink-eventbridge-pattern-power.json" <"$IN"
is "--pattern: only the matching events" "$POWER" "$(delivered_ids)"
is "--pattern: filtered events still move the checkpoint" 1011 "$(jq -r .id "$T/p.ck")"
is "--pattern: delivered count in the checkpoint" 3 "$(jq -r .delivered "$T/p.ck")"

jq -n --rawfile p "$D/sink-eventbridge-pattern-power.json" \
    '{"vc/vm-power": {EventPattern: $p}, "default/no-pattern": {ScheduleExpression: "rate(5 minutes)"},
      "default/bad": {EventPattern: "{\"detail\": {\"x\": [{\"regex\": \"a.*\"}]}}"},
      "vc/acct": {EventPattern: "{\"account\": [\"123456789012\"], \"region\": [\"us-east-1\"], \"detail\": {\"subject\": [\"HostConnectedEvent\"]}}"}}' >"$T/rules.json"
start_fake "$T/cfg.json" --rules "$T/rules.json"
expect_exit "--rule NAME on --event-bus vc" 0 eb --event-bus vc --rule vm-power <"$IN"
is "--rule: the rule's pattern filters" "$POWER" "$(delivered_ids)"
is "--rule: DescribeRule asked for vc/vm-power, signed" "AWSEvents.DescribeRule vc/vm-power true" \
    "$(jq -r 'select(.target == "AWSEvents.DescribeRule") | "\(.target) \(.rule) \(.signed)"' "$T/fake.req")"
start_fake "$T/cfg.json" --rules "$T/rules.json"
expect_exit "--rule-arn with a custom bus" 0 eb --event-bus vc \
    --rule-arn arn:aws:events:us-east-1:123456789012:rule/vc/acct <"$IN"
is "--rule-arn: account and region from the ARN are matchable" 1008 "$(delivered_ids)"
expect_exit "--rule: no such rule is a configuration error (78)" 78 eb --rule nosuch <"$IN"
check "--rule: ResourceNotFoundException reported" grep -q ResourceNotFoundException "$T/.exit.err"
expect_exit "--rule: a rule without EventPattern (78)" 78 eb --rule no-pattern <"$IN"
expect_exit "--rule: a pattern that cannot be evaluated (78)" 78 eb --rule bad <"$IN"
check "--rule: the unsupported operator is named" grep -q 'unsupported operator "regex"' "$T/.exit.err"
printf '{"detail": {"n": [{"numeric": ["<>", 1]}]}}' >"$T/bad.json"
expect_exit "--pattern: bad pattern (78)" 78 eb --pattern "$T/bad.json" <"$IN"
expect_exit "--pattern: missing file (66)" 66 eb --pattern "$T/nosuch.json" <"$IN"
expect_exit "--pattern and --rule together (64)" 64 eb --pattern "$T/bad.json" --rule x <"$IN"
expect_exit "--rule-arn: not a rule ARN (64)" 64 eb --rule-arn arn:aws:s3:::bucket <"$IN"

# refresh: the rule changes while the sink runs
start_fake "$T/cfg.json" --rules "$T/rules.json"
mkfifo "$T/fifo"
$SE --region us-east-1 --endpoint-url "$FAKE_URL" --event-bus vc --rule vm-power \
    --rule-refresh 1s <"$T/fifo" >/dev/null 2>"$T/refresh.err" &
sp=$!; bg_pid $sp
exec 3>"$T/fifo"
sed -n 1,2p "$IN" >&3	# 1000 matches, 1001 matches
wait_for 20 sh -c "[ \$(wc -l <'$T/fake.log') -ge 2 ]" || true
jq '."vc/vm-power".EventPattern = "{\"detail\": {\"subject\": [\"VmMigratedEvent\"]}}"' "$T/rules.json" >"$T/rules.new"
mv "$T/rules.new" "$T/rules.json"
n0=$(grep -c DescribeRule "$T/fake.req")
wait_for 20 sh -c "[ \$(grep -c DescribeRule '$T/fake.req') -gt $n0 ]" || true
sed -n 3,12p "$IN" >&3	# only 1002 is a VmMigratedEvent
exec 3>&-
set +e; wait $sp; rc=$?; set -e
is "refresh: exit 0" 0 "$rc"
is "refresh: the new pattern applies to later events" "1000 1001 1002" "$(delivered_ids)"
done_testing
