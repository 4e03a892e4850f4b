#!/bin/sh
# vc-source resumes without loss across restarts (vcsim -history). Before
# any checkpoint exists, the first start position survives restarts. From a
# checkpoint it reads from --look-back before it and by key, so events committed
# late, a clock stepped back and an event stamped an hour ahead lose nothing,
# across a restart and across a reconnect; nothing delivered comes again.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/vcsim.sh"
plan 19

vcsim_start -history || bail "simulator did not start"
VS="vc-source --url $VCSIM_URL"
# lost FROM TO FILE: keys in FROM..TO missing from FILE
lost() { seq "$1" "$2" | grep -vxF -f "$(vc_keys "$3" >"$T/k"; echo "$T/k")" | wc -l; }
# late N MS: post N events created MS ms before they become visible
late() { i=0; while [ $i -lt "$1" ]; do vcsim_op post-event class=VmPoweredOnEvent backdate="$2" | jq .lastKey; i=$((i + 1)); done; }

# -- no checkpoint yet: the first start position survives restarts ----------
ck="$T/state/vc/ckpt"
$VS --checkpoint "$ck" --wait-seconds 2 >"$T/r1.out" 2>"$T/r1.err" &
p=$!; bg_pid $p
wait_for 30 grep -q "first start position recorded" "$T/r1.err" || bail "no start position recorded"
check "the start position is recorded beside the checkpoint" test -s "$ck.start"
is "a missing checkpoint directory is created 0700" 700 "$(stat -c %a "$T/state/vc")"
cp "$ck.start" "$T/start.before"
a=$(vcsim_op post-burst count=5 | jq .firstKey)
wait_for 30 vc_has_key $((a + 4)) "$T/r1.out" || bail "first run did not read"
kill -TERM $p; wait $p || true
b=$(vcsim_op post-burst count=5 | jq .lastKey)
sleep 1
$VS --checkpoint "$ck" --once >"$T/r2.out" 2>"$T/r2.err"
is "restarted before any delivery: nothing since the first start is lost" 0 "$(lost "$a" "$b" "$T/r2.out")"
same "the start position is kept, not moved to now" "$T/start.before" "$ck.start"
vc_ckpt "$ck" $((a + 2)) "$T/r2.out"
$VS --checkpoint "$ck" --once 2>>"$T/vc-source.err" >"$T/r3.out"
is "once a checkpoint exists it wins" $((a + 3)) "$(vc_keys "$T/r3.out" | head -1)"

# late_restart NAME BEFORE MS: BEFORE events, a checkpoint on the last, then
# 20 events created MS ms before they become visible, then a restart from
# the checkpoint: none of the 20 lost, none of the delivered ones again
late_restart() {
	k=$(vcsim_op post-burst count="$2" | jq .lastKey)
	$VS --begin 1m --once 2>>"$T/vc-source.err" >"$T/$1.out"
	vc_ckpt "$T/ck-$1" "$k" "$T/$1.out"
	late 20 "$3" >"$T/$1.keys"
	$VS --checkpoint "$T/ck-$1" --once >"$T/$1.2.out" 2>"$T/$1.2.err"
	vc_keys "$T/$1.2.out" >"$T/$1.2.keys"
	is "$1: none of 20 lost" 0 "$(grep -cvxF -f "$T/$1.2.keys" "$T/$1.keys")"
	is "$1: nothing delivered comes again" 0 "$(awk -v k="$k" '$1 <= k' "$T/$1.2.keys" | wc -l)"
}
late_restart late-commits 3 8000
# (30 min: further back than --look-back's 15m, so only the scan by key
# finds them)
late_restart clock-stepped-back 8 1800000
grep -q "go back to" "$T/clock-stepped-back.2.err" && ok "clock stepped back: found by key" || not_ok "clock stepped back: found by key"

# -- an event stamped an hour ahead, across a restart ---------------------------
vcsim_op post-burst count=2 >/dev/null
fut=$(vcsim_op post-event class=VmPoweredOnEvent backdate=-3600000 | jq .lastKey)
vcsim_op post-burst count=2 >/dev/null
$VS --begin 1m --once 2>>"$T/vc-source.err" >"$T/f.out"
vc_ckpt "$T/ck-fut" "$fut" "$T/f.out"
b=$(vcsim_op post-burst count=20 | jq .lastKey)
sleep 2
$VS --checkpoint "$T/ck-fut" --once >"$T/f2.out" 2>"$T/f2.err"
is "stamped +1 h: none of the 22 events after it lost" 0 "$(lost $((fut + 1)) "$b" "$T/f2.out")"
is "stamped +1 h: nothing delivered comes again" 0 "$(vc_keys "$T/f2.out" | awk -v k="$fut" '$1 <= k' | wc -l)"

# -- the same while following, across a reconnect (vCenter restarts) -----------
$VS --begin 1s --wait-seconds 2 >"$T/fo.out" 2>"$T/fo.err" &
p=$!; bg_pid $p
wait_for 60 grep -q "reading events from" "$T/fo.err" || bail "follower did not start"
fut=$(vcsim_op post-event class=VmPoweredOnEvent backdate=-3600000 | jq .lastKey)
wait_for 30 vc_has_key "$fut" "$T/fo.out" || bail "the +1 h event did not arrive"
grep -q "ahead of vCenter's clock" "$T/fo.err" && ok "an event stamped ahead is noticed" || not_ok "an event stamped ahead is noticed"
vcsim_op restart delay=3000 >/dev/null
a=$(vcsim_op post-burst count=10 | jq .firstKey)
wait_for 60 vc_has_key $((a + 9)) "$T/fo.out" && ok "reconnect after a +1 h event: events arrive" || not_ok "reconnect after a +1 h event: events arrive"
is "reconnect after a +1 h event: none lost" 0 "$(lost "$a" $((a + 9)) "$T/fo.out")"
vcsim_op restart delay=3000 >/dev/null
late 10 600000 >"$T/clock2.keys"
last=$(tail -1 "$T/clock2.keys")
wait_for 60 vc_has_key "$last" "$T/fo.out" && ok "reconnect after the clock stepped back: events arrive" ||
	not_ok "reconnect after the clock stepped back: events arrive"
is "reconnect after the clock stepped back: none lost" 0 "$(grep -cvxF -f "$(vc_keys "$T/fo.out" >"$T/k4"; echo "$T/k4")" "$T/clock2.keys")"
is "following: no event twice" 0 "$(vc_keys "$T/fo.out" | sort | uniq -d | wc -l)"
kill -TERM $p; set +e; wait $p; rc=$?; set -e
is "SIGTERM exits 0" 0 "$rc"
done_testing
