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
post() { vcsim_op post-event class=VmPoweredOnEvent "$@" | jq .lastKey; }
# follow NAME OPTION...: a follower whose collector exists (an event posted
# after it started has arrived)
follow() {
	_n=$1; shift
	$VS --wait-seconds 2 "$@" >"$T/$_n.out" 2>"$T/$_n.err" &
	fp=$!; bg_pid $fp
	wait_for 30 grep -q "logged in" "$T/$_n.err" || bail "$_n: no session"
	_m=$(post)
	wait_for 30 vc_has_key "$_m" "$T/$_n.out" || bail "$_n: the marker did not arrive"
}
stop() { kill -TERM "$fp"; set +e; wait "$fp"; _rc=$?; set -e; [ "$_rc" = 0 ] || diag "follower exited $_rc"; }

# a checkpoint on a recent event
k=$(post)
$VS --begin 1m --once >"$T/all.out" 2>>"$T/vc-source.err"
vc_ckpt "$T/ck" "$k" "$T/all.out"

# -- following from the checkpoint: an event stamped 10 min behind ----------
follow a --checkpoint "$T/ck"
back=$(post backdate=600000)
n1=$(post); n2=$(post)
wait_for 30 vc_has_key "$n2" "$T/a.out" || bail "following: the events after it did not arrive"
check "following: an event stamped 10 min before the resume point arrives" vc_has_key "$back" "$T/a.out"
is "following: in key order, each once" "$(vc_keys "$T/a.out" | sort -n | uniq | paste -sd' ')" "$(vc_keys "$T/a.out" | paste -sd' ')"
check "following: noticed as older than an event already written" grep -q "event $back is older than event" "$T/a.err"
stop

# -- restart from a checkpoint on it (the sink delivered it, then stopped) ----
vc_ckpt "$T/ck-back" "$back" "$T/a.out"
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
vc_ckpt "$T/ck-fut" "$fut" "$T/f.out"
follow c --checkpoint "$T/ck-fut"
back=$(post backdate=600000)
n1=$(post)
wait_for 30 vc_has_key "$n1" "$T/c.out" || bail "after +1 h: the event after it did not arrive"
check "checkpoint 1 h ahead: an event 10 min behind, posted while following, arrives" vc_has_key "$back" "$T/c.out"
is "checkpoint 1 h ahead: nothing delivered comes again" 0 \
	"$(vc_keys "$T/c.out" | awk -v k="$fut" '$1 <= k' | wc -l)"
stop
vc_ckpt "$T/ck-c" "$n1" "$T/c.out"

# -- the bounds: following from CK with OPTION, an event IN ms behind
# arrives, one OUT ms behind is outside the collector's filter (the
# documented limit); the next row resumes from the newest event
bounded() { # bounded NAME OPTION VALUE CK IN OUT
	follow "$1" --checkpoint "$4" "$2" "$3"
	_in=$(post backdate="$5"); _out=$(post backdate="$6"); n1=$(post)
	wait_for 30 vc_has_key "$n1" "$T/$1.out" || bail "$2 $3: the event after them did not arrive"
	check "$2 $3: an event $(($5 / 1000)) s behind arrives" vc_has_key "$_in" "$T/$1.out"
	if vc_has_key "$_out" "$T/$1.out"; then not_ok "$2 $3: an event $(($6 / 1000)) s behind is not read"
	else ok "$2 $3: an event $(($6 / 1000)) s behind is not read"; fi
	stop
	vc_ckpt "$T/ck-$1" "$n1" "$T/$1.out"
}
bounded d --look-back 1m "$T/ck-c" 8000 600000
# (from a checkpoint, --max-replay bounds the look-back)
bounded e --max-replay 10m "$T/ck-d" 480000 720000

expect_exit "--look-back: a bad duration is a usage error" 64 $VS --look-back 5x --once
done_testing
