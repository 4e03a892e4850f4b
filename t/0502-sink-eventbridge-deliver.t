#!/bin/sh
# sink-eventbridge delivers CloudEvent lines to a local EventBridge that
# speaks the JSON 1.1 protocol and checks every SigV4 signature with
# botocore: entries built from structured and binary lines, batches of at
# most 10 entries and 256 KB as AWS counts them, credentials from the
# environment, a session token, the shared credentials file and
# --credentials-file, the checkpoint, a quiet stream sent at once.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/fake-eventbridge/fake.sh"
plan 39
D=$VP_SRCDIR/t/data
X=$VP_SRCDIR/t/expected
SE="$VP_WRAP sink-eventbridge"
fake_config "$T/cfg.json"
start_fake "$T/cfg.json"
use_env_keys
eb() { $SE --region us-east-1 --endpoint-url "$FAKE_URL" "$@"; }

# structured lines, environment keys
expect_exit "structured: 12 events delivered" 0 eb --event-bus vc \
    --checkpoint "$T/ck.json" <"$D/sink-eventbridge-structured.ndjson"
check "structured: every request signed (botocore agrees)" all_signed
jq -c '{Source, DetailType, Time, EventBusName}' "$T/fake.log" >"$T/entries"
same "structured: Source, DetailType, Time, EventBusName" "$X/sink-eventbridge-structured.entries" "$T/entries"
jq -r .Detail "$T/fake.log" >"$T/details"
same "structured: Detail is the CloudEvent exactly as read" "$D/sink-eventbridge-structured.ndjson" "$T/details"
is "structured: 10 + 2 entries in two requests" "10 2" "$(jq -r .entries "$T/fake.req" | tr '\n' ' ' | sed 's/ $//')"
is "structured: host header signed with the port" "$(cat "$T/fake.port")" "$(jq -r '.host | sub(".*:"; "")' "$T/fake.req" | sort -u)"
jq -c 'del(.updated, .invocations)' "$T/ck.json" >"$T/ck"
same "checkpoint names the last event (format 4)" "$X/sink-eventbridge-structured.checkpoint" "$T/ck"
is "checkpoint: invocations by subject, counted at delivery (the router's /stats)" \
    "$(jq -r .subject "$D/sink-eventbridge-structured.ndjson" | sort | uniq -c | awk '{printf "%s[%s,0]\n", $2, $1}' | sort | paste -sd' ' -)" \
    "$(jq -r '.invocations | to_entries[] | "\(.key)\(.value | tojson)"' "$T/ck.json" | sort | paste -sd' ' -)"
check "checkpoint has an RFC 3339 updated time" jq -e '.updated | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T.*Z$")' "$T/ck.json"

# binary lines: the structured CloudEvent is rebuilt from headers and body
start_fake "$T/cfg.json"
expect_exit "binary: 3 events delivered" 0 eb <"$D/sink-eventbridge-binary.ndjson"
jq -c '{Source, DetailType, Time, EventBusName, Detail: (.Detail | fromjson)}' "$T/fake.log" >"$T/bin"
same "binary: entries with the rebuilt CloudEvent" "$X/sink-eventbridge-binary.entries" "$T/bin"

# session token from the environment is sent and signed
start_fake "$T/cfg.json"
expect_exit "session token: delivered" 0 env AWS_ACCESS_KEY_ID=$TMP_AKID \
    AWS_SECRET_ACCESS_KEY=$TMP_SECRET AWS_SESSION_TOKEN=$TMP_TOKEN \
    $SE --region us-east-1 --endpoint-url "$FAKE_URL" <"$D/sink-eventbridge-binary.ndjson"
check "session token: sent and signed" jq -e -s 'length == 1 and all(.token and .signed)' "$T/fake.req"
expect_exit "session token: a wrong token is refused (77)" 77 env AWS_ACCESS_KEY_ID=$TMP_AKID \
    AWS_SECRET_ACCESS_KEY=$TMP_SECRET AWS_SESSION_TOKEN=bogus \
    $SE --region us-east-1 --endpoint-url "$FAKE_URL" <"$D/sink-eventbridge-binary.ndjson"

# the shared credentials file, with AWS_PROFILE, and --credentials-file
no_env_keys
mkdir -p "$HOME/.aws"
cat >"$HOME/.aws/credentials" <<EOC
# comment
[default]
aws_access_key_id = $AKID
aws_secret_access_key = $SECRET

[temp]
aws_access_key_id=$TMP_AKID
aws_secret_access_key=$TMP_SECRET
aws_session_token=$TMP_TOKEN
EOC
start_fake "$T/cfg.json"
expect_exit "~/.aws/credentials [default]" 0 eb <"$D/sink-eventbridge-binary.ndjson"
expect_exit "~/.aws/credentials with AWS_PROFILE=temp" 0 env AWS_PROFILE=temp \
    $SE --region us-east-1 --endpoint-url "$FAKE_URL" <"$D/sink-eventbridge-binary.ndjson"
check "AWS_PROFILE=temp: token sent and signed" jq -e -s 'length == 2 and (.[1] | .token and .signed)' "$T/fake.req"
mv "$HOME/.aws/credentials" "$T/creds.ini"
expect_exit "AWS_SHARED_CREDENTIALS_FILE" 0 env AWS_SHARED_CREDENTIALS_FILE="$T/creds.ini" \
    $SE --region us-east-1 --endpoint-url "$FAKE_URL" <"$D/sink-eventbridge-binary.ndjson"
expect_exit "--credentials-file with --profile" 0 eb --credentials-file "$T/creds.ini" \
    --profile temp <"$D/sink-eventbridge-binary.ndjson"
# rotation: a changed credentials file is read again before the next request
cp "$T/creds.ini" "$T/rot.ini"
start_fake "$T/cfg.json"
mkfifo "$T/rotfifo"
$SE --region us-east-1 --endpoint-url "$FAKE_URL" --credentials-file "$T/rot.ini" \
    <"$T/rotfifo" >/dev/null 2>"$T/rot.err" &
sp=$!; bg_pid $sp
exec 3>"$T/rotfifo"
sed -n 1p "$D/sink-eventbridge-binary.ndjson" >&3
wait_for 20 test -s "$T/fake.log" || true
sed 's/^\[temp\]/[default]/; 1,/^\[default\]/s/^\[default\]/[old]/' "$T/creds.ini" >"$T/rot.new"
mv "$T/rot.new" "$T/rot.ini"
sed -n 2p "$D/sink-eventbridge-binary.ndjson" >&3
exec 3>&-
set +e; wait $sp; rc=$?; set -e
is "rotation: both events delivered, exit 0" "0 2" "$rc $(wc -l <"$T/fake.log")"
is "rotation: the second request used the new keys and token" "$AKID false $TMP_AKID true" \
    "$(jq -r '"\(.akid) \(.token)"' "$T/fake.req" | tr '\n' ' ' | sed 's/ $//')"
expect_exit "no credentials anywhere is a configuration error (78)" 78 eb <"$D/sink-eventbridge-binary.ndjson"
expect_exit "unknown profile is a configuration error (78)" 78 eb --credentials-file "$T/creds.ini" \
    --profile nosuch <"$D/sink-eventbridge-binary.ndjson"
check "secrets never reach the logs" sh -c "! grep -r -e '$SECRET' -e '$TMP_TOKEN' '$T/.exit.err' '$T/fake.err'"
use_env_keys
expect_exit "wrong secret: signature refused, exit 77" 77 env AWS_SECRET_ACCESS_KEY=wrong \
    $SE --region us-east-1 --endpoint-url "$FAKE_URL" <"$D/sink-eventbridge-binary.ndjson"
check "wrong secret: the fake's InvalidSignatureException is reported" grep -q InvalidSignatureException "$T/.exit.err"

# batching off, and batches cut by size as AWS counts it
start_fake "$T/cfg.json"
expect_exit "--batch-size 1" 0 eb --batch-size 1 <"$D/sink-eventbridge-structured.ndjson"
is "--batch-size 1: one entry per request" "12 12" "$(jq -s 'length' "$T/fake.req") $(jq -s 'map(.entries) | add' "$T/fake.req")"
python3 -c '
import json
for i in range(5):
    print(json.dumps({"specversion": "1.0", "id": "big%d" % i, "source": "s",
        "type": "t", "time": "2026-11-23T09:00:00Z", "data": "x" * 100000}))
print(json.dumps({"specversion": "1.0", "id": "huge", "source": "s", "type": "t", "data": "y" * 300000}))
print(json.dumps({"specversion": "1.0", "id": "after", "source": "s", "type": "t"}))
' >"$T/big.ndjson"
start_fake "$T/cfg.json"
expect_exit "large events: delivered, the oversized one dead-lettered" 0 \
    eb --dlq "$T/big.dlq" <"$T/big.ndjson"
is "large events: 256 KB batches (2, 2, 2 entries)" "2 2 2" "$(jq -r .entries "$T/fake.req" | tr '\n' ' ' | sed 's/ $//')"
is "large events: oversized entry in the DLQ" "huge EntryTooLarge" "$(jq -r '"\(.id) \(.deadletter.code)"' "$T/big.dlq")"

# a quiet stream: one event is sent without waiting for more or for EOF
start_fake "$T/cfg.json"
mkfifo "$T/fifo"
$SE --region us-east-1 --endpoint-url "$FAKE_URL" --linger 50ms --checkpoint "$T/quiet.ck" \
    --checkpoint-interval 1h <"$T/fifo" >/dev/null 2>"$T/quiet.err" &
sp=$!; bg_pid $sp
exec 3>"$T/fifo"
head -1 "$D/sink-eventbridge-structured.ndjson" >&3
if wait_for 20 test -s "$T/fake.log"; then ok "quiet stream: sent while stdin stays open"; else not_ok "quiet stream: sent while stdin stays open"; fi
if wait_for 20 grep -q '"id":"1000"' "$T/quiet.ck"; then ok "quiet stream: checkpointed at once despite the interval"; else not_ok "quiet stream: checkpointed at once despite the interval"; fi
exec 3>&-
set +e; wait $sp; rc=$?; set -e
is "quiet stream: exit 0 at EOF" 0 "$rc"

# bad input, dead letters and their replay
printf '%s\n' 'not json' '{"specversion":"1.0","id":"x"}' >"$T/bad.ndjson"
head -2 "$D/sink-eventbridge-structured.ndjson" >>"$T/bad.ndjson"
start_fake "$T/cfg.json"
expect_exit "bad lines go to the DLQ, the rest is delivered" 0 eb --dlq "$T/bad.dlq" <"$T/bad.ndjson"
is "bad lines: two invalid-line records, as sink-http writes them" "not json|invalid line {\"specversion\":\"1.0\",\"id\":\"x\"}|invalid line" \
    "$(jq -c -r '"\(.invalid // del(.deadletter))|\(.deadletter.reason)"' "$T/bad.dlq" | tr '\n' ' ' | sed 's/ $//')"
expect_exit "--strict: a bad line is a data error (65)" 65 eb --strict <"$T/bad.ndjson"
expect_exit "usage: --region is required (64)" 64 env -u AWS_REGION -u AWS_DEFAULT_REGION $SE --endpoint-url "$FAKE_URL"
expect_exit "usage: --batch-size 11 (64)" 64 eb --batch-size 11
done_testing
