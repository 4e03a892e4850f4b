#!/bin/sh
# Under vcpipe the built-in stages (vc-source, ce-encode, sink-http) are
# forked from vcpipe-group, not exec'd: /proc/PID/exe is vcpipe-group's,
# while comm and the command line are the stage's (ps, pgrep -x, pgrep -f),
# its environment is the one an exec would give, and it speaks HTTPS (the
# libraries were initialised once, in vcpipe-group, before the fork: without
# OpenSSL's set-up, src/lib/http.c).  kill -9 of a forked stage
# is reported and restarted as before and loses nothing.  With $VP_WRAP
# (valgrind, sanitizers) or VCPIPE_EXEC_STAGES=1 the stages are exec'd.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/vcsim.sh"
for p in vc-source ce-encode sink-http vcpipe-yaml vcpipe-group jq go python3 pgrep; do
	command -v $p >/dev/null 2>&1 || skip_all "$p not available"
done
[ -d /usr/share/gocode/src/github.com/vmware/govmomi ] || skip_all "govmomi source not installed"
. "$VP_SRCDIR/t/http-receiver/lib.sh"
plan 25

vcsim_start -history -tls || bail "vcsim did not start"
start_receiver r
{
	vcfg_head
	vcfg_vcenter sim "$VCSIM_URL" 1h | sed '/^      address: /a\
      insecureSSL: true'
	vcfg_knative rcv "http://127.0.0.1:$RPORT/"
} >"$T/c.yaml"
mkdir -p "$T/state"
group_exe=$(readlink -f "$(command -v vcpipe-group)")
lite_exe=$(readlink -f "$(dirname "$group_exe")/vcpipe-group-lite")
VPID=

keys_received() { bodies r | jq -r '.eventkey // empty' 2>/dev/null | sort -n -u; }
# arrived N: the receiver holds every key the simulator has, N of them at least
arrived() {
	vcsim_op events >"$T/ev.json"
	_o=$(jq .oldestKey "$T/ev.json") _n=$(jq .newestKey "$T/ev.json")
	[ "$(keys_received | awk -v o="$_o" -v n="$_n" '$1 >= o && $1 <= n' | wc -l)" -eq $((_n - _o + 1)) ] &&
		[ $((_n - _o + 1)) -ge "$1" ]
}
# run_vcpipe RUNDIR [VAR=VALUE...]: vcpipe in the background, until running
# (without the suite's $VP_WRAP, which would have every stage exec'd: the
# test sets it itself where it means to)
run_vcpipe() {
	_r=$1; shift
	env -u VP_WRAP VCPIPE_T_MARK=on-$$ VCPIPE_STOP_TIMEOUT=5 VCPIPE_BACKOFF_CAP=1 "$@" \
	    vcpipe -config "$T/c.yaml" --run-dir "$_r" >>"$T/out" 2>>"$T/err" &
	VPID=$!
	bg_pid $VPID
	U=$_r/u/sim.rcv
	wait_for 60 grep -q '"status":"running"' "$U/state.json"
}
stop_vcpipe() {
	kill -TERM "$VPID"
	set +e; wait "$VPID"; _rc=$?; set -e
	return $_rc
}
pid_of() { awk -v s="$1" '$1 == s { print $2 }' "$U/pids"; }
exe_of() { readlink -f "/proc/$1/exe"; }
cmdline_of() { tr '\0' ' ' <"/proc/$1/cmdline"; }
has_mark() { tr '\0' '\n' <"/proc/$1/environ" | grep -qx "VCPIPE_T_MARK=on-$$"; }

run_vcpipe "$T/run" || bail "the pipeline did not start: $(cat "$T/err")"
vs=$(pid_of vc-source)
ce=$(pid_of ce-encode)
sk=$(pid_of sink-http)
is "vc-source is forked from vcpipe-group (/proc/PID/exe)" "$group_exe" "$(exe_of "$vs")"
is "ce-encode is forked from vcpipe-group" "$group_exe" "$(exe_of "$ce")"
is "sink-http is forked from vcpipe-group" "$group_exe" "$(exe_of "$sk")"
# (which went on as vcpipe-group-lite, libc only, once they ran)
gp=$(awk '{ print $4 }' "/proc/$vs/stat")
is "their parent is the pipeline's vcpipe-group" "$gp $gp" \
    "$(awk '{ print $4 }' "/proc/$vs/stat") $(awk '{ print $4 }' "/proc/$sk/stat")"
is "the group goes on as vcpipe-group-lite" "$lite_exe" "$(exe_of "$gp")"
is "under the name vcpipe-group" vcpipe-group "$(cat "/proc/$gp/comm")"
check "without libcurl" sh -c '! grep -q libcurl "/proc/$1/maps"' - "$gp"
is "comm is vc-source" vc-source "$(cat "/proc/$vs/comm")"
is "comm is sink-http" sink-http "$(cat "/proc/$sk/comm")"
check "the command line is vc-source's, with its arguments" \
    sh -c 'case "$1" in "vc-source --url $2 "*) exit 0;; esac; exit 1' - "$(cmdline_of "$vs")" "$VCSIM_URL"
check "pgrep -x vc-source finds it" sh -c 'pgrep -x vc-source | grep -qx "$1"' - "$vs"
check "pgrep -f finds it by its arguments" sh -c 'pgrep -f -- "^vc-source --url $2" | grep -qx "$1"' - "$vs" "$VCSIM_URL"
check "ps shows the stage's command line" sh -c 'ps -o args= -p "$1" | grep -q "^ce-encode "' - "$ce"
check "the environment is vcpipe's" has_mark "$vs"

vcsim_op post-burst count=20 >/dev/null
wait_for 60 arrived 20 || true
check "events flow through the forked stages (vCenter over HTTPS)" arrived 20

# kill -9 of a forked stage: reported, restarted, nothing lost
kill -9 "$vs"
wait_for 30 grep -q '"restarts":1,' "$U/state.json" || true
is "kill -9 of the forked vc-source: one restart" 1 "$(jq .restarts "$U/state.json")"
check "the cause is reported: vc-source 137" grep -q 'vc-source.*137' "$T/err"
wait_for 30 grep -q '"status":"running"' "$U/state.json" || true
vs2=$(pid_of vc-source)
check "a new vc-source runs, forked again" sh -c '[ "$1" != "$2" ] && [ "$(readlink -f /proc/$2/exe)" = "$3" ]' - "$vs" "$vs2" "$group_exe"
vcsim_op post-burst count=20 >/dev/null
wait_for 60 arrived 40 || true
check "after the restart every event arrives" arrived 40
check "SIGTERM: vcpipe exits 0" stop_vcpipe

# $VP_WRAP set (valgrind, ASan runs) or VCPIPE_EXEC_STAGES=1: exec'd
run_vcpipe "$T/run2" VP_WRAP=env || bail "the pipeline did not start with VP_WRAP: $(cat "$T/err")"
is "with \$VP_WRAP, vc-source is exec'd" "$(readlink -f "$(command -v vc-source)")" "$(exe_of "$(pid_of vc-source)")"
is "with \$VP_WRAP, sink-http is exec'd" "$(readlink -f "$(command -v sink-http)")" "$(exe_of "$(pid_of sink-http)")"
check "SIGTERM: vcpipe exits 0" stop_vcpipe
run_vcpipe "$T/run3" VCPIPE_EXEC_STAGES=1 || bail "the pipeline did not start with VCPIPE_EXEC_STAGES: $(cat "$T/err")"
is "with VCPIPE_EXEC_STAGES=1, ce-encode is exec'd" "$(readlink -f "$(command -v ce-encode)")" "$(exe_of "$(pid_of ce-encode)")"
check "SIGTERM: vcpipe exits 0" stop_vcpipe
done_testing
