#!/bin/sh
# vc-source --max-replay: like the event router (checkpointMaxEventAge, 1 h)
# and VSphereSource (checkpointConfig.maxAgeSeconds), a checkpoint older
# than the cap resumes at the cap, and the span skipped is logged as a
# warning with its size; a recent checkpoint, or no cap, loses nothing
# (vcsim -history: events backdated three hours).
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/vcsim.sh"
plan 10

vcsim_start -history || bail "simulator did not start"
VS="vc-source --url $VCSIM_URL --once"
# the simulator's own events (vc-source's logins) come after b2
keys() { jq -r "select(.key <= $b2) | .key" "$1" | paste -sd' ' -; }
old() { vcsim_op post-event class=VmPoweredOnEvent backdate=10800000 | jq .lastKey; }
a1=$(old); a2=$(old); a3=$(old)
b1=$(vcsim_op post-event class=VmPoweredOffEvent | jq .lastKey)
b2=$(vcsim_op post-event class=VmPoweredOffEvent | jq .lastKey)
# the checkpoint a sink writes after delivering a1, three hours ago
$VS --since "$(date -u -d '-4 hours' +%Y-%m-%dT%H:%M:%SZ)" >"$T/all" 2>"$T/all.err"
grep "\"key\":$a1," "$T/all" | jq -c '{version:1, source:.vcenter, id:"x", time:.createdTime,
	key:.key, delivered:1, updated:.createdTime}' >"$T/ck"
check "the checkpoint is three hours old" jq -e '(.time | sub("\\.[0-9]+Z$"; "Z") | fromdate) < now - 10000' "$T/ck"

$VP_WRAP $VS --checkpoint "$T/ck" >"$T/capped" 2>"$T/capped.err"
is "default cap (1h): the events older than an hour are skipped" "$b1 $b2" "$(keys "$T/capped")"
check "... logged as a warning: what was skipped, from when to when" \
	grep -q "warn: .*the checkpoint (.*) is older than --max-replay 1h: skipping the events from .* to .* (2h" "$T/capped.err"
check "... and how many by key" \
	grep -q "warn: .*the first event after --max-replay has key $b1: about 2 events after the checkpoint's (key $a1) were skipped" "$T/capped.err"
$VS --checkpoint "$T/ck" --max-replay 0 >"$T/all2" 2>"$T/all2.err"
is "--max-replay 0: every event after the checkpoint" "$a2 $a3 $b1 $b2" "$(keys "$T/all2")"
check "... without a warning" sh -c "! grep -q 'max-replay' '$T/all2.err'"
$VS --checkpoint "$T/ck" --max-replay 4h >"$T/all3" 2>"$T/all3.err"
is "a cap longer than the checkpoint's age: nothing skipped" "$a2 $a3 $b1 $b2" "$(keys "$T/all3")"
$VS --checkpoint "$T/ck" --max-replay 90m >"$T/c90" 2>"$T/c90.err"
check "--max-replay 90m: said as 1h30m" grep -q "older than --max-replay 1h30m: " "$T/c90.err"
expect_exit "--max-replay takes a duration" 64 vc-source --url "$VCSIM_URL" --max-replay soon
# no checkpoint: --begin reads as far back as asked
$VS --begin 4h >"$T/begin" 2>"$T/begin.err"
is "--begin is not capped" "$a1 $a2 $a3 $b1 $b2" "$(jq -r "select(.key >= $a1 and .key <= $b2) | .key" "$T/begin" | paste -sd' ' -)"
done_testing
