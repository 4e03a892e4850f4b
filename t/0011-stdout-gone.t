#!/bin/sh
# A stage that writes to stdout ends as soon as the next stage is gone,
# without waiting for something to write: in a shell pipeline
# (vc-source | ce-encode | sink-x under a service manager, or a test's own
# restart loop) a sink that dies while nothing comes would otherwise leave
# the stages before it waiting, the pipeline never restarted, and what the
# sink held unacknowledged undelivered until events came again. Each
# producer exits 74 with "stdout: the next stage is gone".
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/vcsim.sh"
command -v jq >/dev/null || skip_all "jq not installed"
plan 14

gone() { ! kill -0 "$1" 2>/dev/null; }
MSG="stdout: the next stage is gone"

# stage NAME INPUT CMD...: run CMD on INPUT with its stdout into a pipe
# whose reader exits at once; its exit status lands in $T/NAME.rc, its
# stderr in $T/NAME.err (INPUT is named here: an asynchronous list's stdin
# is /dev/null unless redirected in it)
stage() {
	_n=$1 _in=$2; shift 2
	{ _rc=0; pidof_ "$_n" "$@" <"$_in" 2>"$T/$_n.err" || _rc=$?
	  echo $_rc >"$T/$_n.rc"; } | true &
}
# pidof_ NAME CMD...: exec CMD with its PID in $T/NAME.pid, stopped at exit
pidof_() {
	_p=$1; shift
	sh -c 'echo $$ >"$0"; exec "$@"' "$T/$_p.pid" "$@"
}
stop_stages() {
	for f in "$T"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
	return 0
}
at_exit stop_stages
ended() {
	if wait_for 30 test -s "$T/$1.rc"; then
		ok "$1: ends while waiting, without more input"
	else
		not_ok "$1: ends while waiting, without more input"
	fi
	is "$1: exit 74" 74 "$(cat "$T/$1.rc" 2>/dev/null)"
	if grep -q "$MSG" "$T/$1.err"; then ok "$1: says the next stage is gone"
	else not_ok "$1: says the next stage is gone"; diag "$(cat "$T/$1.err")"; fi
}

# ce-encode waiting for its next line on a stdin that stays open
mkfifo "$T/in"
sleep 120 >"$T/in" &
bg_pid $!
stage ce-encode "$T/in" $VP_WRAP ce-encode
ended ce-encode

# webhook-source with no request at all
stage webhook-source /dev/null $VP_WRAP webhook-source --listen 127.0.0.1:0
ended webhook-source

# horizon-source between two polls of a Horizon server with no events
printf 'hzuser\nhz pass\n' >"$T/creds"
python3 "$VP_SRCDIR/t/fake-horizon/fake-horizon.py" "$T/hz.port" hzuser 'hz pass' EXAMPLE &
bg_pid $!
wait_for 60 test -s "$T/hz.port" || bail "fake-horizon did not start"
stage horizon-source /dev/null $VP_WRAP horizon-source \
    --url "http://127.0.0.1:$(cat "$T/hz.port")" --credentials-file "$T/creds" \
    --domain EXAMPLE --poll-interval 1h
ended horizon-source

# vc-source following the stock simulator: once the next stage has read
# every event (and then goes), vc-source is waiting in WaitForUpdatesEx for
# the next one, which does not come
vcsim_start || bail "simulator did not start"
{ _rc=0; pidof_ vc-source $VP_WRAP vc-source --url "$VCSIM_URL" --begin 1h \
    2>"$T/vc-source.err" || _rc=$?; echo $_rc >"$T/vc-source.rc"; } |
    pidof_ reader cat >"$T/vc.out" &
wait_for 60 grep -q "reading events from" "$T/vc-source.err" ||
	bail "vc-source did not start: $(tail -3 "$T/vc-source.err")"
newest=$(vcsim_op events | jq .newestKey)
wait_for 60 vc_has_key "$newest" "$T/vc.out" ||
	bail "vc-source did not emit key $newest: $(tail -3 "$T/vc-source.err")"
kill "$(cat "$T/reader.pid")"
ended vc-source

# the whole chain: the last stage reads every event, then goes; nothing
# more comes, and the stages before it end in turn (a shell pipeline ends,
# and can be restarted, only when all of its stages have)
{ _rc=0; pidof_ c.vc $VP_WRAP vc-source --url "$VCSIM_URL" --begin 1h \
    2>"$T/c.vc.err" || _rc=$?; echo $_rc >"$T/c.vc.rc"; } |
    { _rc=0; pidof_ c.enc $VP_WRAP ce-encode 2>"$T/c.enc.err" || _rc=$?
      echo $_rc >"$T/c.enc.rc"; } |
    pidof_ last cat >"$T/c.out" &
wait_for 60 grep -q "reading events from" "$T/c.vc.err" ||
	bail "vc-source did not start: $(tail -3 "$T/c.vc.err")"
newest=$(vcsim_op events | jq .newestKey)
has_ce_key() { # the CloudEvents carry the key as the eventkey extension
	jq -r '.eventkey // empty' "$T/c.out" 2>/dev/null | grep -qx "$1"
}
wait_for 60 has_ce_key "$newest" ||
	bail "key $newest did not come through: $(tail -3 "$T/c.enc.err")"
kill "$(cat "$T/last.pid")"
if wait_for 30 test -s "$T/c.vc.rc" -a -s "$T/c.enc.rc"; then
	ok "vc-source | ce-encode | sink: both end when the sink goes"
else
	not_ok "vc-source | ce-encode | sink: both end when the sink goes"
fi
is "... ce-encode 74, vc-source 74" "74 74" \
    "$(cat "$T/c.enc.rc" "$T/c.vc.rc" 2>/dev/null | tr '\n' ' ' | sed 's/ $//')"
done_testing
