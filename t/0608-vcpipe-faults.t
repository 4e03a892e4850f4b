#!/bin/sh
# The fault matrix (issue 12): for sink-http and sink-eventbridge (two
# pipelines of one vcpipe, one vCenter, so that each fault hits both at
# once), each way a pipeline under vcpipe can stop, with the simulator's
# events before and after it.  At the end the receiver's events are compared with the
# simulator's, row by row (each row owns the event keys posted during it):
# zero lost (an event the receiver refused, such as EventBridge's 256 KiB
# entry limit, counts when it is in the dead-letter file), and duplicates
# only with the same CloudEvent id.  The table of counts is printed as
# diagnostics (and written to $VP_FAULT_TABLE when set).
#
# Rows: kill -9 of each stage and of the pipeline's vcpipe-group; an event
# stamped an hour ahead, one ten minutes behind, events committed 8 s late,
# each followed by a restart; a 2 MiB event; a full disk under the state
# directory; SIGTERM to vcpipe; SIGTERM to its process group; SIGKILL of
# vcpipe; a read-only state directory (vcpipe --check and the run refuse it,
# 77, until it is writable); the receiver down before the first event, with
# a restart before anything was acknowledged, and a state directory that
# does not exist yet.  A full disk and a read-only file system are an
# LD_PRELOAD shim over the state directory, switched by flag files.
# VP_SLOW_FAULTS=1: more events per row and a longer outage.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/vcsim.sh"
. "$VP_SRCDIR/t/http-receiver/lib.sh"
. "$VP_SRCDIR/t/fake-eventbridge/fake.sh"
for p in vc-source ce-encode sink-http sink-eventbridge vcpipe-yaml vcpipe-group vcpipe-tap jq curl go python3 cc setsid; do
	command -v $p >/dev/null 2>&1 || skip_all "$p not available"
done
[ -d /usr/share/gocode/src/github.com/vmware/govmomi ] || skip_all "govmomi source not installed"
N=3 OUTAGE=2
[ -n "${VP_SLOW_FAULTS:-}" ] && N=100 OUTAGE=30
ROWS=16
plan $((2 * ROWS + 8))

# ---- the file system shim (t/fs-shim.c): full or read-only under $VP_FS_DIR
# while a flag file exists
build_fs_shim
mkdir -p "$T/flags"

vcsim_start -history || bail "vcsim did not start"
use_env_keys
fake_config "$T/eb.json"
# the rule vcpipe's config names: every event of the vCenter's bus
printf '%s\n' '{"vc/all": {"EventPattern": "{\"detail-type\": [{\"exists\": true}]}"}}' >"$T/eb-rules.json"
start_fake "$T/eb.json" --rules "$T/eb-rules.json"
EBPORT=$(cat "$T/fake.port")
start_receiver r
printf '%s\n%s\n' "$VC_USERNAME" "$VC_PASSWORD" >"$T/vc.cred"

newest() { vcsim_op events | jq .newestKey; }
post() { vcsim_op post-burst "count=$1" >/dev/null; }
R=$T/run STATE=$T/state CFG=$T/c.yaml
UH=$R/u/sim.http UE=$R/u/sim.eb
stage_pid() { awk -v s="$2" '$1 == s { print $2 }' "$1/pids" 2>/dev/null; }
# (a zombie is not alive: it waits for this shell to reap it)
alive() { [ -n "$1" ] && [ -r "/proc/$1/stat" ] && ! grep -q '^[0-9]* (.*) Z ' "/proc/$1/stat" 2>/dev/null; }
restarts() { jq .restarts "$1/state.json" 2>/dev/null || echo 0; }
running1() { grep -q '"status":"running"' "$1/state.json" 2>/dev/null && [ -s "$1/pids" ]; }
running() { running1 "$UH" && running1 "$UE"; }
restarted_since() { [ "$(restarts "$UH")" -gt "$1" ] && [ "$(restarts "$UE")" -gt "$2" ]; }
{
	cat <<YAML
apiVersion: vcpipe/v1
kind: Config
stateDir: $STATE
providers:
  - type: vcenter
    name: sim
    vcenter:
      address: $VCSIM_URL
      credentialsFile: $T/vc.cred
      begin: 1h
    processors:
YAML
	vcfg_knative http "http://127.0.0.1:$RPORT/"
	vcfg_eventbridge eb "$FAKE_URL"
} >"$CFG"
start_vcpipe() { # (in a session of its own: its process group is its pid)
	env VP_FS_DIR="$STATE" VP_FS_FLAGS="$T/flags" LD_PRELOAD="$T/fs.so" \
		VCPIPE_STOP_TIMEOUT=5 VCPIPE_BACKOFF_CAP=2 \
		setsid $VP_WRAP vcpipe -config "$CFG" --run-dir "$R" >>"$T/vcpipe.out" 2>>"$T/vcpipe.err" &
	VPID=$!
	bg_pid "$VPID"
	wait_for 60 running
}
stage_pids() { awk '{ print $2 }' "$UH/pids" "$UE/pids" 2>/dev/null; }
none_left() { for p in $1; do alive "$p" && return 1; done; return 0; }
# stop_vcpipe HOW: signal vcpipe (TERM, or TERM to its group, or KILL);
# VRC: its exit status, "hang" when it is not gone within 30 s, and
# ", stages left" when a stage of its still runs 10 s later
stop_vcpipe() {
	_pids="$(stage_pids) $(ps -o pid= --ppid "$VPID" 2>/dev/null)"
	case $1 in
	TERM) kill -TERM "$VPID" ;;
	GROUP) kill -TERM "-$VPID" ;;
	KILL) kill -KILL "$VPID" ;;
	esac
	_end=$(( $(date +%s) + 30 )) VRC=
	while alive "$VPID" && [ "$(date +%s)" -lt "$_end" ]; do sleep 0.1; done
	if alive "$VPID"; then VRC=hang; kill -KILL "$VPID"; fi
	set +e; wait "$VPID" 2>/dev/null; _rc=$?; set -e
	[ "$VRC" = hang ] || VRC=$_rc
	wait_for 10 none_left "$_pids" || VRC="$VRC, stages left"
}
kill_stages() { # kill_stages HTTP-STAGE EB-STAGE: kill -9 both, wait for the restarts
	wait_for 30 running || return 1
	_rh=$(restarts "$UH") _re=$(restarts "$UE")
	_ph=$(stage_pid "$UH" "$1") _pe=$(stage_pid "$UE" "$2")
	alive "$_ph" && alive "$_pe" || return 1
	kill -9 "$_ph" "$_pe"
	wait_for 30 restarted_since "$_rh" "$_re" && wait_for 30 running
}
kill_groups() {
	wait_for 30 running || return 1
	_rh=$(restarts "$UH") _re=$(restarts "$UE")
	for u in "$UH" "$UE"; do
		_g=$(ps -o pgid= -p "$(stage_pid "$u" vc-source)" | tr -d ' ')
		[ -n "$_g" ] && kill -9 "$_g"
	done
	wait_for 30 restarted_since "$_rh" "$_re" && wait_for 30 running
}

# row NAME ACTION...: N events, the action, N events; the row owns the keys
row() {
	_name=$1; shift
	_lo=$(( $(newest) + 1 ))
	post "$N"
	if "$@"; then _ok=1; else _ok=0; fi
	post "$N"
	printf '%s\t%s\t%s\t%s\n' "$_name" "$_lo" "$(newest)" "$_ok" >>"$T/rows"
}
range() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$(newest)" "${3:-1}" >>"$T/rows"; }

# the events each receiver took: "KEY ID" lines
received() {
	case $1 in
	http) bodies r | jq -r 'select(type == "object") | "\(.eventkey // .data.Key) \(.id)"' 2>/dev/null ;;
	eb) jq -r '.Detail | fromjson | "\(.eventkey // .data.Key) \(.id)"' "$T/fake.log" 2>/dev/null ;;
	esac
}
# the keys in a dead-letter file
dead() { jq -r '.eventkey // .data.Key // empty' "$STATE/sim.$1.dlq" 2>/dev/null || :; }
all_in() { # all_in SINK LO HI: every key arrived or was dead-lettered
	{ received "$1" | cut -d' ' -f1; dead "$1"; } | sort -u >"$T/got"
	seq "$2" "$3" | sort | comm -23 - "$T/got" | grep -q . && return 1
	return 0
}
: >"$T/rows"

# ---- a state directory that does not exist yet, the receivers down before
# the first event, and a restart before anything was acknowledged
stop_receiver r
stop_fake
lo=$(( $(newest) + 1 ))
start_vcpipe || bail "vcpipe did not start: $(cat "$T/vcpipe.err")"
post "$N"
sleep 2
stop_vcpipe TERM
is "receivers down, SIGTERM before the first event: vcpipe exits 0" 0 "$VRC"
start_vcpipe || true
post "$N"
sleep "$OUTAGE"
start_receiver r --port "$RPORT"
start_fake "$T/eb.json" --rules "$T/eb-rules.json" --port "$EBPORT"
range "receiver down before the first event, restart" "$lo"
is "a missing state directory is created 0700" 700 "$(stat -c %a "$STATE")"

# ---- kill -9 of each stage, then of each pipeline's vcpipe-group
for st in vc-source tap-read ce-encode tap-encoded; do
	row "kill -9 $st" kill_stages $st $st
done
row "kill -9 the sink" kill_stages sink-http sink-eventbridge
row "kill -9 vcpipe-group" kill_groups

# ---- clock steps and late commits, each followed by a restart
lo=$(( $(newest) + 1 ))
vcsim_op post-event class=VmPoweredOnEvent backdate=-3600000 >/dev/null
post "$N"; if kill_stages sink-http sink-eventbridge; then ok1=0; else ok1=1; fi; post "$N"
range "clock step: an event 1 h ahead, restart" "$lo" $((1 - ok1))
lo=$(( $(newest) + 1 ))
vcsim_op post-event class=VmPoweredOffEvent backdate=600000 >/dev/null
post "$N"; if kill_stages sink-http sink-eventbridge; then ok1=0; else ok1=1; fi; post "$N"
range "clock step: an event 10 min behind, restart" "$lo" $((1 - ok1))
lo=$(( $(newest) + 1 ))
post "$N"
for i in 1 2 3; do vcsim_op post-event class=VmPoweredOnEvent backdate=8000 >/dev/null; done
if kill_stages sink-http sink-eventbridge; then ok1=0; else ok1=1; fi; post "$N"
range "late commit: 3 events 8 s late, restart" "$lo" $((1 - ok1))

# ---- a 2 MiB event (a long message): it arrives, or the receiver refuses it
# (EventBridge: 256 KiB) and it is in the dead-letter file
awk 'BEGIN { printf "{\"fullFormattedMessage\":\""; for (i = 0; i < 2097152 / 64; i++) printf "%s", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"; printf "\"}" }' >"$T/big.json"
lo=$(( $(newest) + 1 ))
post "$N"
vcsim_op post-event class=GeneralUserEvent "fields@$T/big.json" >/dev/null
post "$N"
range "oversized event (2 MiB)" "$lo"

# ---- a full disk under the state directory for a while
full_disk() { : >"$T/flags/full"; post "$N"; sleep "$OUTAGE"; rm -f "$T/flags/full"; wait_for 60 running; }
row "disk full (state directory)" full_disk

# ---- vcpipe stopped and started again
restart_after() { stop_vcpipe "$1"; _v=$VRC; start_vcpipe; [ "$_v" = "$2" ]; }
row "SIGTERM to vcpipe" restart_after TERM 0
is "SIGTERM to vcpipe: exits 0, no stage left" 0 "$_v"
row "SIGTERM to vcpipe's process group" restart_after GROUP 0
is "SIGTERM to the process group: exits 0 in time, no stage left" 0 "$_v"
row "SIGKILL of vcpipe" restart_after KILL 137
is "SIGKILL of vcpipe: no stage left" 137 "$_v"

# ---- read-only: refused by --check and at start (77), nothing read; then
# writable again, everything arrives
read_only() {
	stop_vcpipe TERM
	: >"$T/flags/ro"
	set +e
	env VP_FS_DIR="$STATE" VP_FS_FLAGS="$T/flags" LD_PRELOAD="$T/fs.so" \
		vcpipe -config "$CFG" --check 2>"$T/check.err"
	_c=$?
	env VP_FS_DIR="$STATE" VP_FS_FLAGS="$T/flags" LD_PRELOAD="$T/fs.so" \
		timeout 60 vcpipe -config "$CFG" --run-dir "$R" >/dev/null 2>"$T/ro.err"
	_r=$?
	set -e
	rm -f "$T/flags/ro"
	start_vcpipe
	[ "$_c $_r" = "77 77" ]
}
row "read-only state directory" read_only
check "read-only: --check names the directory" grep -q "$STATE: cannot write" "$T/check.err"

# ---- everything arrives; then the counts, row by row
hi=$(newest)
# (until all are in, or nothing more came for 15 s: a row that loses an
# event must not cost minutes)
settle_in() { # settle_in SINK HI
	_last=-1 _same=0
	while ! all_in "$1" 1 "$2" && [ "$_same" -lt 15 ]; do
		_n=$(wc -l <"$T/got")
		if [ "$_n" = "$_last" ]; then _same=$((_same + 1)); else _same=0 _last=$_n; fi
		sleep 1
	done
}
for s in http eb; do settle_in $s "$hi"; done
for s in http eb; do
	received $s | sort -n -k1,1 -k2 >"$T/$s.recv"
	dead $s | sort -n >"$T/$s.dead"
	while IFS="$(printf '\t')" read -r name lo hi1 ok; do
		awk -v lo="$lo" -v hi="$hi1" -v name="$name" -v ok="$ok" -v s="$s" '
		    FILENAME ~ /recv$/ { if ($1 >= lo && $1 <= hi) { n[$1]++; if (!(($1, $2) in seen)) { seen[$1, $2] = 1; ids[$1]++ } } next }
		    { if ($1 >= lo && $1 <= hi) dl[$1] = 1 }
		    END {
			for (k = lo; k <= hi; k++) {
				if (k in n) { got++; if (n[k] > 1) dup += n[k] - 1; if (ids[k] > 1) bad++ }
				else if (k in dl) dlq++
				else lost++
			}
			printf "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", s, name, hi - lo + 1, got, dlq, lost, dup, bad, ok
		    }' "$T/$s.recv" "$T/$s.dead" >>"$T/table"
	done <"$T/rows"
done
# rows whose fix is another stage's, not yet on main, are TODO: prove
# reports them, and says so when they pass
while IFS="$(printf '\t')" read -r s name events got dlq lost dup bad ok; do
	# only a refused event may be dead-lettered (the oversized one, where
	# the receiver has a limit): anything else there is a loss in disguise
	[ "$name" = "oversized event (2 MiB)" ] && dlq=0
	l="$s: $name: $events events, $lost lost, $dlq dead-lettered, $bad duplicates with another id, fault applied $ok"
	todo=
	case $s/$name in
	esac
	case $l in
	*", 0 lost, 0 dead-lettered, 0 duplicates with another id, fault applied 1") ok "$l$todo" ;;
	*) if [ -n "$todo" ]; then _vp_n=$((_vp_n + 1)); echo "not ok $_vp_n - $l$todo"; else not_ok "$l"; fi ;;
	esac
done <"$T/table"
# (a row that failed: what vcpipe said, for the CI log)
[ "$_vp_failed" -eq 0 ] || tail -n 60 "$T/vcpipe.err" | sed 's/^/# vcpipe: /' >&2
stop_vcpipe TERM
is "stopped at the end: exit 0, no stage left" 0 "$VRC"
if grep -q "$SECRET" "$T/vcpipe.err" "$T/vcpipe.out"; then not_ok "the secret key is not logged"; else ok "the secret key is not logged"; fi

{
	printf 'sink\trow\tevents\treceived\tdead-lettered\tlost\tduplicates\tdup-other-id\tfault-applied\n'
	cat "$T/table"
} >"$T/table.tsv"
sed 's/^/# /' "$T/table.tsv" >&2
[ -z "${VP_FAULT_TABLE:-}" ] || cp "$T/table.tsv" "$VP_FAULT_TABLE"
done_testing
