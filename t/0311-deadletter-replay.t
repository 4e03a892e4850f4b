#!/bin/sh
# Dead-letter files from either sink replay through either sink. Every row of
# t/data/ce-lines.test is dead-lettered by sink-http (a receiver that refuses
# everything) and by sink-eventbridge (an event bus that does not exist):
# one record per line, each with one "deadletter" member (also for a record
# of a record and a line with a member of its own). Each file then goes
# through both sinks to peers that take everything: every row t/0310
# accepts arrives as the event it holds, every row it refuses is refused
# again.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/http-receiver/lib.sh"
. "$VP_SRCDIR/t/fake-eventbridge/fake.sh"
plan 10
CL="python3 $VP_SRCDIR/t/ce-lines.py"
$CL split "$VP_SRCDIR/t/data/ce-lines.test" "$T" || bail "t/data/ce-lines.test does not parse"
L=$T/lines
FAST="--retry-base 10ms --retry-cap 40ms"
fake_config "$T/cfg.json"
start_fake "$T/cfg.json"
use_env_keys
EB="sink-eventbridge --region us-east-1 --endpoint-url $FAKE_URL"

# ---- the dead letters ------------------------------------------------------------
start_receiver no --default 400
$VP_WRAP sink-http --url "http://127.0.0.1:$RPORT/" $FAST --dlq "$T/h.dlq" \
    <"$L" >/dev/null 2>"$T/h.err" || true
check "sink-http: one record a line, one \"deadletter\" member each" $CL records "$T" "$T/h.dlq" "$T/h.rec"
$VP_WRAP $EB --event-bus gone --dlq "$T/e.dlq" <"$L" >/dev/null 2>"$T/e.err" || true
check "sink-eventbridge: one record a line, one \"deadletter\" member each" $CL records "$T" "$T/e.dlq" "$T/e.rec"
stop_receiver no

# ---- each file through each sink ------------------------------------------------------
start_receiver ok
for f in h e; do
	: >"$T/ok.log"
	$VP_WRAP sink-http --url "http://127.0.0.1:$RPORT/" --dlq "$T/$f.h2" \
	    <"$T/$f.rec" >/dev/null 2>"$T/$f.h2.err" || true
	$CL results-sink-http "$T" "$T/$f.h2" "$T/ok.log" "$T/$f.h.res" "$T/$f.h.dl"
	$CL canon "$T/$f.h.dl" "$T/$f.h.canon"
	CE_LINES_REPLAY=1 $CL judge "$T" "sink-http replaying $f.dlq" "$T/$f.h.res" \
	    "$T/$f.h.canon" >"$T/$f.h.tap"
	: >"$T/fake.log"
	$VP_WRAP $EB --event-bus vc --dlq "$T/$f.e2" <"$T/$f.rec" >/dev/null \
	    2>"$T/$f.e2.err" || true
	$CL results-sink-eventbridge "$T" "$T/$f.e2" "$T/fake.log" "$T/$f.e.res" "$T/$f.e.dl"
	$CL canon "$T/$f.e.dl" "$T/$f.e.canon"
	CE_LINES_REPLAY=1 $CL judge "$T" "sink-eventbridge replaying $f.dlq" \
	    "$T/$f.e.res" "$T/$f.e.canon" >"$T/$f.e.tap"
done
# verdicts and events; the words of a replayed refusal are its own
for f in h.h h.e e.h e.e; do
	while IFS= read -r l; do
		case $l in
		"ok - "*"says why"*|"not ok - "*"says why"*) ;;
		"ok - "*) ok "${l#ok - }" ;;
		"not ok - "*) not_ok "${l#not ok - }" ;;
		*) echo "$l" >&2 ;;
		esac
	done <"$T/$f.tap"
done
done_testing
