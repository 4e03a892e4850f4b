#!/bin/sh
# webhook-source receiving from the CloudEvents JavaScript SDK's HTTP emitter
# (binary and structured mode): what the SDK sends comes out intact.
. "${0%/*}/lib.sh"
PATH="$VP_BUILDDIR/src/webhook-source:$PATH"
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
	skip_all "node and npm are needed (bin/bootstrap installs them)"
# the SDK, installed by t/cloudevents-receiver/setup.sh (shared with t/0304)
R=$VP_BUILDDIR/t/cloudevents-receiver
sh "$VP_SRCDIR/t/cloudevents-receiver/setup.sh" "$R" >"$T/npm.log" 2>&1 ||
	skip_all "npm ci could not install the CloudEvents SDK"
plan 4

$VP_WRAP webhook-source --listen 127.0.0.1:0 >"$T/out" 2>"$T/err" &
pid=$!; bg_pid $pid
wait_for 60 grep -q 'port [0-9]' "$T/err" || bail "webhook-source did not start"
port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$T/err")

NODE_PATH="$R/node_modules" \
	node "$VP_SRCDIR/t/data/webhook-sdk-emit.js" \
	"http://127.0.0.1:$port/webhook" >"$T/status" 2>"$T/node.err" || true
printf '%s\n' 'binary sdk-1 204' 'binary sdk-2 204' 'structured sdk-1 204' \
	'structured sdk-2 204' >"$T/status.want"
same "the SDK's four POSTs got 204" "$T/status.want" "$T/status"
kill -TERM $pid
set +e; wait $pid; rc=$?; set -e
is "exit 0" 0 "$rc"
# binary and structured deliveries of the same event must agree
jq -cS 'del(.eventkey)' "$T/out" | sed -n 1,2p >"$T/binary"
jq -cS 'del(.eventkey)' "$T/out" | sed -n 3,4p >"$T/structured"
same "binary and structured mode give the same events" "$T/binary" "$T/structured"
jq -cS . "$T/out" >"$T/sorted"
same "events as expected" "$VP_SRCDIR/t/expected/webhook-sdk.ndjson" "$T/sorted"
