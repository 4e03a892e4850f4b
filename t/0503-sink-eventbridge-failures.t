#!/bin/sh
# sink-eventbridge and PutEvents failures: partial failures read from
# FailedEntryCount/Entries[], only InternalFailure and ThrottlingException
# retried, the rest dead-lettered (or exit 65 without --dlq); the checkpoint
# never passes an entry that is still being retried; request-level
# throttling, 5xx and 429 with Retry-After retried; an invalid batch sent
# again entry by entry; transport errors; dead letters replay.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/fake-eventbridge/fake.sh"
plan 35
D=$VP_SRCDIR/t/data
IN=$D/sink-eventbridge-structured.ndjson
SE="$VP_WRAP sink-eventbridge"
use_env_keys
eb() { $SE --region us-east-1 --endpoint-url "$FAKE_URL" --retry-base 10ms --retry-cap 100ms "$@"; }
ck_id() { jq -r .id "$1"; }

# 1003 throttled then failing internally, then accepted; 1005 malformed for good
fake_config "$T/c1.json" '{"entry_failures": {"1003": ["ThrottlingException", "InternalFailure"], "1005": ["MalformedDetail"]}}'
start_fake "$T/c1.json"
expect_exit "partial failure with --dlq: exit 0" 0 eb --dlq "$T/p.dlq" --checkpoint "$T/p.ck" <"$IN"
is "partial failure: 1003 retried until accepted, after its neighbours" \
    "1000 1001 1002 1004 1006 1007 1008 1009 1010 1011 1003" "$(delivered_ids)"
is "partial failure: the retry leads the next request, then goes alone" \
    "10 3 1" "$(jq -r '.entries' "$T/fake.req" | tr '\n' ' ' | sed 's/ $//')"
is "partial failure: 1005 dead-lettered with its ErrorCode" "1005 MalformedDetail 1" \
    "$(jq -r '"\(.id) \(.deadletter.code) \(.deadletter.attempts)"' "$T/p.dlq")"
is "partial failure: checkpoint at the last event" 1011 "$(ck_id "$T/p.ck")"
check "partial failure: every request signed" all_signed

# without --dlq a rejected entry stops the sink when it is settled, in input
# order: 1003's retry is delivered first, and the checkpoint stays just
# before 1005
fake_config "$T/c2.json" '{"entry_failures": {"1003": ["ThrottlingException"], "1005": ["MalformedDetail"]}}'
start_fake "$T/c2.json"
expect_exit "rejected entry without --dlq: exit 65" 65 eb --checkpoint "$T/r.ck" <"$IN"
is "rejected entry: checkpoint just before it, after the retried middle entry" 1004 "$(ck_id "$T/r.ck")"
check "rejected entry: the reason is logged with the line number" grep -q 'stdin:6: event 1005: .*: rejected: MalformedDetail' "$T/.exit.err"

# retries exhausted
fake_config "$T/c3.json" '{"entry_failures": {"1003": ["ThrottlingException", "ThrottlingException", "ThrottlingException", "ThrottlingException"]}}'
start_fake "$T/c3.json"
expect_exit "retries exhausted without --dlq: exit 75" 75 eb --max-retries 2 --checkpoint "$T/x.ck" <"$IN"
is "retries exhausted: checkpoint before the undelivered entry" 1002 "$(ck_id "$T/x.ck")"
start_fake "$T/c3.json"
expect_exit "retries exhausted with --dlq: exit 0" 0 eb --max-retries 2 --dlq "$T/x.dlq" --checkpoint "$T/x2.ck" <"$IN"
is "retries exhausted: dead letter after 3 attempts" "1003 ThrottlingException 3" \
    "$(jq -r '"\(.id) \(.deadletter.code) \(.deadletter.attempts)"' "$T/x.dlq")"
is "retries exhausted: checkpoint moves on" 1011 "$(ck_id "$T/x2.ck")"

# --max-retry-time: a server that keeps failing, entries given up on in time
fake_config "$T/c7.json" "$(jq -nc '{request_script: [range(60) | {status: 500}]}')"
start_fake "$T/c7.json"
expect_exit "--max-retry-time with --dlq: exit 0" 0 eb --batch-size 10 --retry-base 50ms \
    --retry-cap 50ms --max-retry-time 1ms --dlq "$T/mt.dlq" <"$IN"
is "--max-retry-time: 12 dead letters, retries exhausted, HTTP 500" "12 retries exhausted HTTP 500 InternalFailure: scripted failure (next retry past --max-retry-time)" \
    "$(jq -s -r '"\(length) \(map(.deadletter.reason) | unique | join(",")) \(map(.deadletter.error) | unique | join(","))"' "$T/mt.dlq")"

# dead letters replay as the events they hold
start_fake "$T/c3.json"
: >"$T/fake.log"
expect_exit "DLQ replay: delivered" 0 eb <"$T/x.dlq"
is "DLQ replay: the same CloudEvent, byte for byte" "$(sed -n 4p "$IN")" "$(jq -r .Detail "$T/fake.log")"

# request-level failures: 503, ThrottlingException (HTTP 400), 429 + Retry-After
fake_config "$T/c4.json" '{"request_script": [{"status": 503}, {"type": "ThrottlingException"}, {"status": 429, "retry_after": "1"}]}'
start_fake "$T/c4.json"
expect_exit "request failures: retried until delivered" 0 eb --log-level debug --checkpoint "$T/q.ck" <"$IN"
is "request failures: all 12 in order" "1000 1001 1002 1003 1004 1005 1006 1007 1008 1009 1010 1011" "$(delivered_ids)"
is "request failures: three refused requests before success" "503 ThrottlingException 429" \
    "$(jq -r 'select(.scripted) | .scripted | (.type // .status)' "$T/fake.req" | tr '\n' ' ' | sed 's/ $//')"
check "request failures: Retry-After: 1 sets the delay (backoff capped at 100 ms)" \
    sh -c "grep -A1 'HTTP 429' '$T/.exit.err' | grep -Eq 'retrying in 1[0-9]{3} ms'"

# a ValidationException for the whole batch: entries sent one by one
fake_config "$T/c5.json" '{"request_script": [{"type": "ValidationException", "message": "bad batch"}]}'
start_fake "$T/c5.json"
expect_exit "invalid batch: delivered entry by entry" 0 eb <"$IN"
is "invalid batch: 10 single requests, then the rest" "10 1 1 1 1 1 1 1 1 1 1 2" \
    "$(jq -r '.entries // (.scripted | length | tostring | "10")' "$T/fake.req" | tr '\n' ' ' | sed 's/ $//')"
is "invalid batch: all delivered in order" "1000 1001 1002 1003 1004 1005 1006 1007 1008 1009 1010 1011" "$(delivered_ids)"

# an unknown event bus is a configuration error
fake_config "$T/c6.json" '{"buses": ["default"]}'
start_fake "$T/c6.json"
expect_exit "unknown bus: entries dead-lettered with ResourceNotFoundException" 0 \
    eb --event-bus nosuch --dlq "$T/bus.dlq" <"$IN"
is "unknown bus: 12 dead letters" "12 ResourceNotFoundException" \
    "$(jq -s -r '"\(length) \(map(.deadletter.code) | unique | join(","))"' "$T/bus.dlq")"

# SIGTERM while EventBridge fails: the batch being retried is not
# dead-lettered (it comes again from the source after the restart), the
# checkpoint stays before it, exit 75 (not everything read was delivered)
fake_config "$T/c8.json" "$(jq -nc '{request_script: ([{status: 200}] + [range(300) | {status: 503}])}')"
start_fake "$T/c8.json"
mkfifo "$T/fifo"
# run the program itself in the background (not the eb function's subshell)
# so the signal reaches it
$SE --region us-east-1 --endpoint-url "$FAKE_URL" --retry-base 10ms --retry-cap 100ms \
    --max-retries 100000 --dlq "$T/term.dlq" --checkpoint "$T/term.ck" \
    <"$T/fifo" >/dev/null 2>"$T/term.err" &
sp=$!; bg_pid $sp
exec 3>"$T/fifo"
head -1 "$IN" >&3
wait_for 20 grep -q '"id":"1000"' "$T/term.ck" || true
sed -n 2,4p "$IN" >&3
wait_for 20 grep -q 'PutEvents (3 entries)' "$T/term.err" || true
kill -TERM $sp
set +e; wait $sp; rc=$?; set -e
exec 3>&-
is "SIGTERM during retries: exit 75" 75 "$rc"
is "SIGTERM during retries: nothing dead-lettered" no "$(test -s "$T/term.dlq" && echo yes || echo no)"
check "SIGTERM during retries: the log says the batch comes again" \
    grep -q 'stdin:2: event 1001: .*stopped before delivery.*comes again after a restart' "$T/term.err"
is "SIGTERM during retries: checkpoint before the batch" 1000 "$(ck_id "$T/term.ck")"
stop_fake

# transport errors: nothing listens
expect_exit "connection refused, --max-retries 1, no --dlq: exit 75" 75 \
    eb --max-retries 1 --checkpoint "$T/t.ck" <"$IN"
check "connection refused: no checkpoint written" test ! -e "$T/t.ck"
expect_exit "connection refused with --dlq: all dead-lettered, exit 0" 0 \
    eb --max-retries 1 --dlq "$T/t.dlq" <"$IN"
is "connection refused: 12 dead letters naming the transport error" 12 \
    "$(grep -c 'Couldn.t connect\|Connection refused\|Failed to connect' "$T/t.dlq")"
done_testing
