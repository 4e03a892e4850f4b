#!/bin/sh
# vc-source and its vCenter sessions (vcsim -history): long waits are not
# taken for stalls, a hung answer is (after the stall window), failed
# sessions are logged out before new ones, SIGTERM, a gone next stage and
# permanent faults log out; --until reads once more after the clock passes
# it; a reconnect re-reads from before the newest event, so an event that
# became visible late is not lost.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/vcsim.sh"
plan 17

vcsim_start -history || bail "simulator did not start"
VS="vc-source --url $VCSIM_URL"
nsess() { vcsim_op sessions | jq .total; }
n0=$(nsess)
logins() { grep -c "logged in" "$1" || true; }

# -- a WaitForUpdatesEx longer than the stall window --------------------------
# (the window is 2 s here; each wait is 4 s of silence by design)
VC_SOURCE_STALL_SECONDS=2 $VS --begin 1m --wait-seconds 4 >"$T/follow.out" 2>"$T/follow.err" &
vcpid=$!; bg_pid $vcpid
wait_for 60 grep -q "reading events from" "$T/follow.err" || bail "vc-source did not start"
is "following: one session more on vCenter" "$((n0 + 1))" "$(nsess)"
sleep 11
is "waits longer than the stall window: no new login" 1 "$(logins "$T/follow.err")"
grep -q "warn" "$T/follow.err" && not_ok "no warning over quiet waits" || ok "no warning over quiet waits"
key=$(vcsim_op post-event class=VmPoweredOnEvent | jq .lastKey)
has_key() { jq -r .key "$2" | grep -qx -- "$1"; }
wait_for 20 has_key "$key" "$T/follow.out" && ok "an event still wakes a long wait" || not_ok "an event still wakes a long wait"

# -- a failed call: the old session is logged out, not left behind ----------
vcsim_op fault mode=http500 method=WaitForUpdatesEx count=1 >/dev/null
two_logins() { [ "$(logins "$T/follow.err")" -ge 2 ]; }
wait_for 30 two_logins || bail "no second login after an HTTP 500"
is "after an HTTP error: still one session" "$((n0 + 1))" "$(nsess)"

# -- an answer that stops coming: given up after the stall window (2 s) -------
vcsim_op fault mode=hang method=ReadNextEvents count=1 >/dev/null
key=$(vcsim_op post-event class=VmPoweredOnEvent | jq .lastKey)
wait_for 30 has_key "$key" "$T/follow.out" && ok "a hung ReadNextEvents is given up: the event arrives" ||
	not_ok "a hung ReadNextEvents is given up: the event arrives"
check "... after the stall window, logged" grep -q "ReadNextEvents: no data for 2 s" "$T/follow.err"

# -- an event made visible late, across a reconnect ---------------------------
# vCenter is down; meanwhile an event created 20 s ago becomes visible
# (the newest event vc-source wrote is younger than that)
vcsim_op post-event class=VmPoweredOffEvent >/dev/null
vcsim_op restart delay=3000 >/dev/null
late=$(vcsim_op post-event class=VmSuspendedEvent backdate=20000 | jq .lastKey)
wait_for 60 has_key "$late" "$T/follow.out" && ok "an event visible late is read after the reconnect" ||
	not_ok "an event visible late is read after the reconnect"
is "the margin re-read repeats nothing" 0 "$(jq -r .key "$T/follow.out" | sort | uniq -d | wc -l)"

# -- SIGTERM: collector, filter and session are cleaned up ------------------
kill -TERM $vcpid
set +e; wait $vcpid; rc=$?; set -e
is "SIGTERM exits 0" 0 "$rc"
is "after SIGTERM: the session is logged out" "$n0" "$(nsess)"

# -- the next stage is gone: logged out before exiting ------------------------
vcsim_op post-burst count=20 >/dev/null
( set +e; $VS --begin 1h --wait-seconds 2 2>"$T/epipe.err"; echo $? >"$T/epipe.rc" ) | head -n 1 >/dev/null &
bg_pid $!
i=0
while [ ! -s "$T/epipe.rc" ] && [ $i -lt 60 ]; do
	vcsim_op post-burst count=5 >/dev/null; sleep 0.5; i=$((i + 1))
done
is "stdout gone: exit 74" 74 "$(cat "$T/epipe.rc" 2>/dev/null)"
is "stdout gone: the session is logged out" "$n0" "$(nsess)"

# -- a permanent fault (a page size over the server's limit): exit 78, logged out --
vcsim_op fault mode=invalidargument method=SetCollectorPageSize count=1 >/dev/null
expect_exit "InvalidArgument is permanent: exit 78" 78 $VS --once
is "InvalidArgument: the session is logged out" "$n0" "$(nsess)"
vcsim_op fault mode=none >/dev/null

# -- --until: one more read after vCenter's clock passes it -----------------
# CurrentTime is held 6 s (so its answer is past --until); meanwhile an
# event created before --until becomes visible
now=$(date +%s)
since=$(date -u -d "@$((now - 60))" +%Y-%m-%dT%H:%M:%SZ)
until=$(date -u -d "@$((now + 6))" +%Y-%m-%dT%H:%M:%SZ)
$VS --since "$since" --until "$until" --wait-seconds 1 >"$T/until.out" 2>"$T/until.err" &
upid=$!; bg_pid $upid
wait_for 60 grep -q "logged in" "$T/until.err" || bail "vc-source --until did not start"
vcsim_op fault mode=slow method=CurrentTime delay=6000 count=1 >/dev/null
sleep 2.5
back=$(( $(date +%s%3N) - (now + 5) * 1000 ))
late=$(vcsim_op post-event class=VmPoweredOnEvent backdate=$back | jq .lastKey)
set +e; wait $upid; rc=$?; set -e
is "--until: exit 0" 0 "$rc"
has_key "$late" "$T/until.out" && ok "--until: an event visible after the last read is read" ||
	{ not_ok "--until: an event visible after the last read is read"; sed 's/^/# /' "$T/until.err" >&2; }
done_testing
