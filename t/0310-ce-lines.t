#!/bin/sh
# One verdict for a CloudEvent line everywhere: every row of
# t/data/ce-lines.test goes through ce-encode, sink-http (to the test
# receiver), sink-eventbridge (to t/fake-eventbridge), webhook-source (as an
# HTTP request) and stream-serve; each must accept what the table accepts,
# refuse what it refuses with the table's words, and deliver the event the
# line holds. Any disagreement fails.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/http-receiver/lib.sh"
. "$VP_SRCDIR/t/fake-eventbridge/fake.sh"
command -v curl >/dev/null || skip_all "curl not installed"
plan 21
CL="python3 $VP_SRCDIR/t/ce-lines.py"
python3 "$VP_SRCDIR/t/ce-lines.py" split "$VP_SRCDIR/t/data/ce-lines.test" "$T" ||
	bail "t/data/ce-lines.test does not parse"
L=$T/lines

# normalise NAME: $T/NAME.dl (what a reader delivered) as ce-encode writes it
normalise() { $CL canon "$T/$1.dl" "$T/$1.canon"; }

# ---- ce-encode -------------------------------------------------------------------
# rc NAME COMMAND...: run it, its exit status into $T/NAME.rc
rc() { _n=$1; shift; set +e; "$@"; echo $? >"$T/$_n.rc"; set -e; }
rc ce $VP_WRAP ce-encode --reject "$T/ce.rej" <"$L" >"$T/ce.out" 2>"$T/ce.err"
$CL results-ce-encode "$T" "$T/ce.out" "$T/ce.rej" "$T/ce.res" "$T/ce.dl"
$CL judge "$T" ce-encode "$T/ce.res" "$T/ce.dl" >"$T/ce.tap"

# ---- sink-http -------------------------------------------------------------------
start_receiver r
: >>"$T/r.log"
rc sh $VP_WRAP sink-http --url "http://127.0.0.1:$RPORT/" --dlq "$T/sh.dlq" \
    <"$L" >/dev/null 2>"$T/sh.err"
stop_receiver r
$CL results-sink-http "$T" "$T/sh.dlq" "$T/r.log" "$T/sh.res" "$T/sh.dl"
normalise sh
$CL judge "$T" sink-http "$T/sh.res" "$T/sh.canon" >"$T/sh.tap"

# ---- sink-eventbridge ----------------------------------------------------------------
fake_config "$T/cfg.json"
start_fake "$T/cfg.json"
use_env_keys
rc eb $VP_WRAP sink-eventbridge --region us-east-1 --endpoint-url "$FAKE_URL" \
    --dlq "$T/eb.dlq" <"$L" >/dev/null 2>"$T/eb.err"
stop_fake
$CL results-sink-eventbridge "$T" "$T/eb.dlq" "$T/fake.log" "$T/eb.res" "$T/eb.dl"
normalise eb
$CL judge "$T" sink-eventbridge "$T/eb.res" "$T/eb.canon" >"$T/eb.tap"

# ---- webhook-source ----------------------------------------------------------------
$VP_WRAP webhook-source --listen 127.0.0.1:0 --log-level info \
    >"$T/wh.out" 2>"$T/wh.err" &
pid=$!; bg_pid $pid
wait_for 60 grep -q 'port [0-9]' "$T/wh.err" || bail "webhook-source did not start"
port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$T/wh.err")
$CL post "http://127.0.0.1:$port/webhook" "$T" "$T/wh.posted"
kill -TERM $pid; rc wh wait $pid
$CL results-webhook-source "$T" "$T/wh.posted" "$T/wh.out" "$T/wh.res" "$T/wh.dl"
$CL judge "$T" webhook-source "$T/wh.res" "$T/wh.dl" >"$T/wh.tap"

# ---- stream-serve -----------------------------------------------------------------
$VP_WRAP stream-serve --listen 127.0.0.1:0 --log-level info --page-size 1000000 \
    --max-events 100000 <"$L" >/dev/null 2>"$T/ss.err" &
pid=$!; bg_pid $pid
wait_for 60 grep -q 'port [0-9]' "$T/ss.err" || bail "stream-serve did not start"
wait_for 30 grep -q 'input ended' "$T/ss.err" || bail "stream-serve did not read its input"
port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$T/ss.err")
curl -s "http://127.0.0.1:$port/api/v1/events" >"$T/ss.records"
kill -TERM $pid; rc ss wait $pid
$CL results-stream-serve "$T" "$T/ss.err" "$T/ss.records" "$T/ss.res" "$T/ss.dl"
normalise ss
$CL judge "$T" stream-serve "$T/ss.res" "$T/ss.canon" >"$T/ss.tap"

# the TAP lines, numbered; a refused line is no reason to fail (they are
# kept: --reject, --dlq), so every reader exits 0
for f in ce sh eb wh ss; do
	if [ "$(cat "$T/$f.rc")" = 0 ]; then ok "$f: exit 0"; else
		not_ok "$f: exit 0"; diag "exit $(cat "$T/$f.rc")"
		tail -n 20 "$T/$f.err" | sed 's/^/# /' >&2; fi
	while IFS= read -r l; do
		case $l in
		"ok - "*) ok "${l#ok - }" ;;
		"not ok - "*) not_ok "${l#not ok - }" ;;
		*) echo "$l" >&2 ;;
		esac
	done <"$T/$f.tap"
done
# and the table holds the cases issue 11 opened with
check "the table has the issue's four cases" sh -c \
    "grep -q '\"ce-abcdefghijklmnopqrstuvwxy\"' '$L' && grep -q '18446744073709551616' '$L' &&
     grep -q '\"ce-subject\":\"100% done\"' '$L' && grep -q '\"deadletter\":\"mine\"' '$L'"
done_testing
