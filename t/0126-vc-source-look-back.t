#!/bin/sh
# vc-source --look-back (vcsim -history, post-event backdate=): a collector's
# time filter opens that far before where reading resumes, so an event that
# vCenter stamps before the resume point after the collector was made (a
# clock stepped back) is read while following, in key order, and a restart
# after it neither loses nor repeats anything. An event stamped an hour ahead
# does not move the resume point into the future; the look-back is bounded
# by its own value and by --max-replay.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/vcsim.sh"
plan 12

vcsim_start -history || bail "simulator did not start"
VS="vc-source --url $VCSIM_URL"
keys() { jq -r .key "$1"; }
has_key() { grep -q "\"key\":$1," "$2"; }
post() { vcsim_op post-event class=VmPoweredOnEvent "$@" | jq .lastKey; }
# ckpt FILE KEY FROM: the checkpoint a sink writes after delivering that event
ckpt() { grep "\"key\":$2," "$3" | head -1 | jq -c '{version:1, source:.vcenter, id:"x", time:.createdTime, key:.key, delivered:1, updated:(now|todate)}' >"$1"; }
# follow NAME OPTION...: a follower whose collector exists (an event posted
# after it started has arrived)
follow() {
	_n=$1; shift
	$VS --wait-seconds 2 "$@" >"$T/$_n.out" 2>"$T/$_n.err" &
	fp=$!; bg_pid $fp
	wait_for 30 grep -q "logged in" "$T/$_n.err" || bail "$_n: no session"
	_m=$(post)
	wait_for 30 has_key "$_m" "$T/$_n.out" || bail "$_n: the marker did not arrive"
}
stop() { kill -TERM "$fp"; set +e; wait "$fp"; _rc=$?; set -e; [ "$_rc" = 0 ] || diag "follower exited $_rc"; }

# a checkpoint on a recent event
k=$(post)
$VS --begin 1m --once >"$T/all.out" 2>>"$T/vc-source.err"
ckpt "$T/ck" "$k" "$T/all.out"

# -- following from the checkpoint: an event stamped 10 min behind ----------
follow a --checkpoint "$T/ck"
back=$(post backdate=600000)
n1=$(post); n2=$(post)
wait_for 30 has_key "$n2" "$T/a.out" || bail "following: the events after it did not arrive"
check "following: an event stamped 10 min before the resume point arrives" has_key "$back" "$T/a.out"
is "following: in key order, each once" "$(keys "$T/a.out" | sort -n | uniq | paste -sd' ')" "$(keys "$T/a.out" | paste -sd' ')"
check "following: noticed as older than an event already written" grep -q "event $back is older than event" "$T/a.err"
stop

# -- restart from a checkpoint on it (the sink delivered it, then stopped) ----
ckpt "$T/ck-back" "$back" "$T/a.out"
$VS --checkpoint "$T/ck-back" --once >"$T/b.out" 2>"$T/b.err"
check "restart on the back-stamped event: the events after it by key arrive" \
	sh -c "grep -q '\"key\":$n1,' '$T/b.out' && grep -q '\"key\":$n2,' '$T/b.out'"
# (events before it by key but stamped after it come again, same ids: by
# time they are new, as a reset vCenter's would be)
is "restart on the back-stamped event: nothing stamped before it comes again" 0 \
	"$(jq -r --arg t "$(jq -r .time "$T/ck-back")" 'select(.key <= '"$back"' and .createdTime <= $t) | .key' "$T/b.out" | wc -l)"

# -- a checkpoint on an event stamped 1 h ahead: the resume point is vCenter's
# clock, not the future, and the look-back still opens from there -----------
fut=$(post backdate=-3600000)
$VS --begin 1m --once >"$T/f.out" 2>>"$T/vc-source.err"
ckpt "$T/ck-fut" "$fut" "$T/f.out"
follow c --checkpoint "$T/ck-fut"
back=$(post backdate=600000)
n1=$(post)
wait_for 30 has_key "$n1" "$T/c.out" || bail "after +1 h: the event after it did not arrive"
check "checkpoint 1 h ahead: an event 10 min behind, posted while following, arrives" has_key "$back" "$T/c.out"
is "checkpoint 1 h ahead: nothing delivered comes again" 0 \
	"$(keys "$T/c.out" | awk -v k="$fut" '$1 <= k' | wc -l)"
stop
ckpt "$T/ck-c" "$n1" "$T/c.out"

# -- the bound: --look-back 1m reads an event committed 8 s late, not one
# stamped 10 min behind (outside the collector's filter: the documented limit)
follow d --checkpoint "$T/ck-c" --look-back 1m
late=$(post backdate=8000)
back=$(post backdate=600000)
n1=$(post)
wait_for 30 has_key "$n1" "$T/d.out" || bail "--look-back 1m: the event after them did not arrive"
check "--look-back 1m: an event 8 s late arrives" has_key "$late" "$T/d.out"
if has_key "$back" "$T/d.out"; then not_ok "--look-back 1m: an event 10 min behind is outside the collector"
else ok "--look-back 1m: an event 10 min behind is outside the collector"; fi
stop
ckpt "$T/ck-d" "$n1" "$T/d.out"

# -- --max-replay bounds the look-back from a checkpoint: with --max-replay 10m
# an event 12 min behind is not read, one 8 min behind is ---------------------
follow e --checkpoint "$T/ck-d" --max-replay 10m
b12=$(post backdate=720000)
b8=$(post backdate=480000)
n1=$(post)
wait_for 30 has_key "$n1" "$T/e.out" || bail "--max-replay 10m: the event after them did not arrive"
check "--max-replay 10m: an event 8 min behind arrives" has_key "$b8" "$T/e.out"
if has_key "$b12" "$T/e.out"; then not_ok "--max-replay 10m: an event 12 min behind is not read"
else ok "--max-replay 10m: an event 12 min behind is not read"; fi
stop

expect_exit "--look-back: a bad duration is a usage error" 64 $VS --look-back 5x --once
done_testing
