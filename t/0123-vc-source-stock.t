#!/bin/sh
# vc-source against govmomi's stock simulator as users run it (vcsim, no
# -history): its collectors are rings of the newest events that ignore the
# time filter and never move forward. With the default page size, a backlog,
# a burst while following, and restarts from a checkpoint give every event
# the server holds after the start position, in order, none twice.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/vcsim.sh"
plan 15

vcsim_start || bail "simulator did not start"
VS="vc-source --url $VCSIM_URL"
keys() { jq -r .key "$1"; }
upto() { keys "$1" | awk -v n="$2" '$1 <= n'; }

# -- a backlog longer than the default page (100) -----------------------------
vcsim_op post-burst count=300 >/dev/null
newest=$(vcsim_op events | jq .newestKey)
$VS --begin 1h --once >"$T/backlog.out" 2>"$T/backlog.err"
upto "$T/backlog.out" "$newest" >"$T/got"
seq 1 "$newest" >"$T/want"
same "backlog: every event the server holds, in order, none twice ($newest)" "$T/want" "$T/got"
grep -q "ignore their time filter" "$T/backlog.err" && ok "the ring server is recognised by its behaviour" ||
	not_ok "the ring server is recognised by its behaviour"

# -- a restart from a checkpoint emits what came after it ---------------------
sed -n 150p "$T/backlog.out" | jq -c '{version:1, source:.vcenter, id:"x", time:.createdTime, key:.key, updated:(now|todate)}' >"$T/ckpt"
ck=$(jq .key "$T/ckpt")
vcsim_op post-burst count=50 >/dev/null
newest=$(vcsim_op events | jq .newestKey)
$VS --checkpoint "$T/ckpt" --once 2>>"$T/vc-source.err" >"$T/resume.out"
upto "$T/resume.out" "$newest" >"$T/got"
seq $((ck + 1)) "$newest" >"$T/want"
same "checkpoint: every event after it ($((newest - ck)) events), in order" "$T/want" "$T/got"

# -- more events than the server holds: the newest 1000 ----------------------
vcsim_op post-burst count=1500 >/dev/null
newest=$(vcsim_op events | jq .newestKey)
$VS --begin 1h --once 2>>"$T/vc-source.err" >"$T/big.out"
upto "$T/big.out" "$newest" >"$T/got"
first=$(head -1 "$T/got")
seq "$first" "$newest" >"$T/want"
same "over 1000 events: a contiguous run up to the newest" "$T/want" "$T/got"
n=$(wc -l <"$T/got")
[ "$n" -ge 995 ] && [ "$n" -le 1000 ] && ok "over 1000 events: all the server holds ($n)" || not_ok "over 1000 events: all the server holds ($n)"

# -- following: a burst of 600 in one go (the stock property collector sends
# one update per 250 ms), with the default page size ------------------------
$VS --wait-seconds 5 >"$T/follow.out" 2>"$T/follow.err" &
vcpid=$!; bg_pid $vcpid
wait_for 60 grep -q "reading events from" "$T/follow.err" || bail "vc-source did not start"
from=$(vcsim_op events | jq .newestKey)
vcsim_op post-burst count=600 >/dev/null
to=$(vcsim_op events | jq .newestKey)
have() { [ "$(keys "$T/follow.out" | awk -v a="$1" -v b="$2" '$1 > a && $1 <= b' | wc -l)" -ge $(($2 - $1)) ]; }
wait_for 60 have "$from" "$to" && ok "following: a burst of 600 arrives whole" || not_ok "following: a burst of 600 arrives whole"
keys "$T/follow.out" | awk -v a="$from" -v b="$to" '$1 > a && $1 <= b' >"$T/got"
seq $((from + 1)) "$to" >"$T/want"
same "following: in order, none twice" "$T/want" "$T/got"
vcsim_op power-off >/dev/null; vcsim_op power-on >"$T/op.json"
k=$(jq .lastKey "$T/op.json")
wait_for 30 grep -q "\"key\":$k," "$T/follow.out" && ok "following: single events after the burst" || not_ok "following: single events after the burst"

# -- a pipeline restarted from its checkpoint while following -----------------
kill -TERM $vcpid; set +e; wait $vcpid; rc=$?; set -e
is "SIGTERM exits 0" 0 "$rc"
line=$(grep -n "\"key\":$((from + 300))," "$T/follow.out" | cut -d: -f1)
sed -n "${line}p" "$T/follow.out" | jq -c '{version:1, source:.vcenter, id:"x", time:.createdTime, key:.key, updated:(now|todate)}' >"$T/ckpt2"
vcsim_op post-burst count=30 >/dev/null
newest=$(vcsim_op events | jq .newestKey)
$VS --checkpoint "$T/ckpt2" --wait-seconds 2 >"$T/follow2.out" 2>"$T/follow2.err" &
vcpid=$!; bg_pid $vcpid
have2() { [ "$(upto "$T/follow2.out" "$newest" | wc -l)" -ge $((newest - from - 300)) ]; }
wait_for 60 have2 && ok "restarted: the events after the checkpoint arrive" || not_ok "restarted: the events after the checkpoint arrive"
upto "$T/follow2.out" "$newest" >"$T/got"
seq $((from + 301)) "$newest" >"$T/want"
same "restarted: from right after the checkpoint, in order, none twice" "$T/want" "$T/got"
vcsim_op post-event class=VmPoweredOnEvent >"$T/op.json"
k=$(jq .lastKey "$T/op.json")
wait_for 30 grep -q "\"key\":$k," "$T/follow2.out" && ok "restarted: and then new events" || not_ok "restarted: and then new events"
kill -TERM $vcpid; set +e; wait $vcpid; rc=$?; set -e
is "no event twice in the restarted run" 0 "$(keys "$T/follow2.out" | sort | uniq -d | wc -l)"

# -- two readers on one simulator (vcpipe runs one per processor): each is
# woken by every event. The stock simulator keeps one update listener for all
# sessions' root property collectors, so a reader waiting there slept through
# the other's wake-ups for its whole --wait-seconds (300 here). -------------
for r in 1 2; do
	$VS --wait-seconds 300 >"$T/two$r.out" 2>"$T/two$r.err" &
	bg_pid $!; eval "two$r=$!"
done
wait_for 30 sh -c "grep -q 'reading events from' '$T/two1.err' && grep -q 'reading events from' '$T/two2.err'" ||
	bail "two readers did not start"
from=$(vcsim_op events | jq .newestKey)
vcsim_op power-off >/dev/null; vcsim_op power-on >/dev/null; vcsim_op login >/dev/null
vcsim_op create-vm name=two1 >"$T/op.json"
k=$(jq .lastKey "$T/op.json")
both() { grep -q "\"key\":$k," "$T/two1.out" && grep -q "\"key\":$k," "$T/two2.out"; }
wait_for 30 both && ok "two readers: both are woken by every event" ||
	not_ok "two readers: both are woken by every event ($(wc -l <"$T/two1.out") and $(wc -l <"$T/two2.out") lines)"
seq $((from + 1)) "$k" >"$T/want"
for r in 1 2; do keys "$T/two$r.out" | awk -v a="$from" '$1 > a'; done >"$T/got"
seq $((from + 1)) "$k" >>"$T/want"
same "two readers: each has every event, in order, none twice" "$T/want" "$T/got"
kill -TERM $two1 $two2
done_testing
