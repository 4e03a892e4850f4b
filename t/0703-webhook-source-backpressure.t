#!/bin/sh
# webhook-source: the 2xx comes only after the line is written, so a stalled
# next stage stalls the sender; --max-connections holds further senders back;
# SIGTERM lets the request in flight finish; a vanished next stage ends it
# at once, exit 74.
. "${0%/*}/lib.sh"
PATH="$VP_BUILDDIR/src/webhook-source:$PATH"
command -v curl >/dev/null || skip_all "curl not installed"
plan 13

mkfifo "$T/pipe"
# the next stage: reads nothing until $T/go exists
sh -c 'while [ ! -e "$1/go" ]; do sleep 0.1; done; exec cat' sh "$T" \
	<"$T/pipe" >"$T/out" &
bg_pid $!
$VP_WRAP webhook-source --listen 127.0.0.1:0 --max-connections 1 \
	>"$T/pipe" 2>"$T/err" &
pid=$!; bg_pid $pid
wait_for 60 grep -q 'port [0-9]' "$T/err" || bail "webhook-source did not start"
port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$T/err")
url=http://127.0.0.1:$port/webhook

# 200 kB of data: more than a pipe holds, so the write blocks
{ printf '{"specversion":"1.0","id":"big","source":"/s","type":"t","data":"'
  head -c 200000 /dev/zero | tr '\0' x; printf '"}'; } >"$T/big.json"
curl -s -o /dev/null -w '%{http_code}' -X POST \
	-H 'Content-Type: application/cloudevents+json' \
	--data-binary @"$T/big.json" "$url" >"$T/code1" &
c1=$!; bg_pid $c1
# a second sender, beyond --max-connections
sleep 1
curl -s -o /dev/null -w '%{http_code}' -X POST -H ce-specversion:1.0 \
	-H ce-id:second -H ce-source:/s -H ce-type:t "$url" >"$T/code2" &
c2=$!; bg_pid $c2
sleep 1
check "first sender still waits while the next stage reads nothing" kill -0 $c1
is "no reply yet to the first sender" "" "$(cat "$T/code1")"
check "second sender held back by --max-connections" kill -0 $c2

kill -TERM $pid
sleep 0.5
check "SIGTERM: still draining the request in flight" kill -0 $pid
touch "$T/go"
wait $c1 || true
is "first sender gets 204 once the line is read" 204 "$(cat "$T/code1")"
set +e; wait $pid; rc=$?; set -e
is "exit 0 after draining" 0 "$rc"
wait $c2 || true
is "held-back sender is not accepted after SIGTERM" "000" "$(cat "$T/code2")"
wait_for 10 sh -c "[ \$(wc -l <'$T/out') -ge 1 ]" || true
is "the drained event was written whole" "big 200000" \
	"$(jq -r '.id + " " + (.data|length|tostring)' "$T/out")"

# the next stage goes away: webhook-source ends at once (exit 74), not at
# the next request, so that the pipeline is restarted; a request after
# that finds nobody listening (a sender's retry waits for the restart)
mkfifo "$T/pipe2"
sh -c 'read -r l; printf "%s\n" "$l" >"$1/one"' sh "$T" <"$T/pipe2" &
rpid=$!; bg_pid $rpid
$VP_WRAP webhook-source --listen 127.0.0.1:0 >"$T/pipe2" 2>"$T/err2" &
pid=$!; bg_pid $pid
wait_for 60 grep -q 'port [0-9]' "$T/err2" || bail "webhook-source did not start"
port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$T/err2")
url=http://127.0.0.1:$port/webhook
post() { curl -s -o "$T/body" -w '%{http_code}' -X POST -H ce-specversion:1.0 \
	-H "ce-id:$1" -H ce-source:/s -H ce-type:t "$url"; }
is "first event accepted" 204 "$(post one)"
wait $rpid || true
gone() { ! kill -0 "$pid" 2>/dev/null; }
check "next stage gone: it ends without waiting for a request" wait_for 30 gone
is "a request after that is not taken" 000 "$(post two || true)"
set +e; wait $pid; rc=$?; set -e
is "exit 74 when stdout is gone" 74 "$rc"
check "the reason is logged" grep -q 'stdout: the next stage is gone' "$T/err2"
