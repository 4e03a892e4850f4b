#!/bin/sh
# Supervision, with stand-in stages so the timing is ours: a stage killed
# with -9 gets its pipeline restarted and no event is lost (the checkpoint
# carries over); a permanent exit code is not restarted and becomes vcpipe's
# exit status; SIGTERM drains every stage and vcpipe exits 0.  Credentials
# reach stages in 0600 files, never in argv; logs name the pipeline;
# --tee-dir keeps each intermediate stream.
. "${0%/*}/lib.sh"
command -v vcpipe-tap >/dev/null 2>&1 || PATH=$VP_BUILDDIR/src/vcpipe-metrics:$PATH
command -v vcpipe-tap >/dev/null 2>&1 || skip_all "vcpipe-tap not built"
command -v jq >/dev/null 2>&1 || skip_all "jq not installed"
plan 30

# ---- stand-in stages: same flags as the real ones, trivial behaviour ----
F=$T/fake
mkdir -p "$F/bin"
cat >"$F/bin/vc-source" <<'SH'
#!/bin/sh
# Emits {"n":K} for K after the checkpoint's n up to FAKE_TOTAL, then waits.
ck= cred=
while [ $# -gt 0 ]; do
	case $1 in --checkpoint) ck=$2; shift ;; --credentials-file) cred=$2; shift ;; esac
	shift
done
# (renamed into place: a restarted stage rewrites them while the test reads)
[ -n "$cred" ] && cp "$cred" "$FAKE/cred.copy.$$" && mv -f "$FAKE/cred.copy.$$" "$FAKE/cred.copy" &&
	stat -c %a "$cred" >"$FAKE/cred.mode.$$" && mv -f "$FAKE/cred.mode.$$" "$FAKE/cred.mode"
echo "vc-source: info: fake source starting" >&2
if [ -n "${FAKE_VC_EXIT:-}" ] && [ ! -e "$FAKE/vc-exited" ]; then
	[ -n "${FAKE_VC_EXIT_ONCE:-}" ] && : >"$FAKE/vc-exited"
	echo "vc-source: bad credentials (fake)" >&2
	exit "$FAKE_VC_EXIT"
fi
n=0
[ -n "$ck" ] && [ -s "$ck" ] && n=$(jq .n "$ck")
trap 'exit 0' TERM
while [ "$n" -lt "$FAKE_TOTAL" ]; do
	n=$((n + 1))
	printf '{"n":%d}\n' "$n" || exit 74
	[ $((n % 10)) -ne 0 ] || sleep 0.1	# paced, with few forks
done
while :; do sleep 1; done
SH
cat >"$F/bin/ce-encode" <<'SH'
#!/bin/sh
trap 'exit 0' TERM
while IFS= read -r l; do printf '{"subject":"Fake","data":%s}\n' "$l" || exit 74; done
SH
cat >"$F/bin/sink-http" <<'SH'
#!/bin/sh
# Appends each event to $FAKE/delivered, then checkpoints it.
ck=
while [ $# -gt 0 ]; do case $1 in --checkpoint) ck=$2; shift ;; esac; shift; done
c=0
trap 'exit 0' TERM
# (no jq or date per line: on a loaded machine a fork per line is too slow)
while IFS= read -r l; do
	n=${l##*\"n\":}; n=${n%%\}*}
	echo "$n" >>"$FAKE/delivered"
	c=$((c + 1))
	printf '{"n":%d,"delivered":%d,"updated":"%s-%d"}\n' "$n" "$c" "$$" "$c" >"$ck.tmp"
	mv "$ck.tmp" "$ck"
done
SH
chmod +x "$F/bin"/*
export FAKE=$F
PATH=$F/bin:$PATH

cat >"$T/c.yaml" <<YAML
apiVersion: vcpipe/v1
kind: Config
stateDir: $T/state
providers:
  - type: vcenter
    name: vc
    vcenter:
      address: https://vc.example.com/sdk
      auth:
        type: basic_auth
        basicAuth:
          username: administrator@vsphere.local
          passwordEnv: FAKE_VC_PASSWORD
    processors:
      - type: knative
        name: rcv
        knative:
          destination:
            uri: http://127.0.0.1:9/
YAML
mkdir -p "$T/state"
R=$T/run
U=$R/u/vc.rcv
start_vcpipe() { # start_vcpipe [vcpipe args]
	FAKE_VC_PASSWORD='pa$$ word"x' VCPIPE_STOP_TIMEOUT=5 \
		vcpipe -config "$T/c.yaml" --run-dir "$R" "$@" >"$T/vcpipe.out" 2>"$T/vcpipe.err" &
	VPID=$!
	bg_pid "$VPID"
}
stop_vcpipe() { kill -TERM "$VPID"; set +e; wait "$VPID"; VRC=$?; set -e; }
delivered() { [ -f "$F/delivered" ] && sort -n -u "$F/delivered" | wc -l || echo 0; }
has_delivered() { [ "$(delivered)" -ge "$1" ]; }
pid_of() { awk -v s="$1" '$1 == s { print $2 }' "$U/pids"; }
alive() { kill -0 "$1" 2>/dev/null; }

# ---- run, kill -9 the sink mid-stream, nothing lost ----
export FAKE_TOTAL=300
start_vcpipe --tee-dir "$T/tee"
wait_for 60 has_delivered 50 || bail "nothing delivered: $(cat "$T/vcpipe.err")"
old=$(pid_of sink-http)
kill -9 "$old"
wait_for 20 grep -q '"restarts":1' "$U/state.json"
is "kill -9 of the sink: pipeline restarted once" 1 "$(jq .restarts "$U/state.json")"
check "the restart is logged with the stage and code" grep -q 'vcpipe: warn: \[vc.rcv\] sink-http exited with 137: restarting' "$T/vcpipe.err"
wait_for 60 has_delivered 300
is "all 300 events delivered despite the kill" 300 "$(delivered)"
is "events 1..300, no gaps" "$(seq 1 300 | tr '\n' ' ')" "$(sort -n -u "$F/delivered" | tr '\n' ' ')"
new=$(pid_of sink-http)
if [ "$new" != "$old" ] && alive "$new"; then ok "a new sink runs"; else not_ok "a new sink runs"; fi
old=$(pid_of vc-source)
kill -9 "$old"
wait_for 20 grep -q '"restarts":2' "$U/state.json"
is "kill -9 of the source: restarted too" 2 "$(jq .restarts "$U/state.json")"
wait_for 20 grep -q '"status":"running"' "$U/state.json"

# secrets: a 0600 file in the run directory, never argv
is "credentials file: user and password" "$(printf 'administrator@vsphere.local\npa$$ word"x')" "$(cat "$F/cred.copy")"
is "credentials file mode 600" 600 "$(cat "$F/cred.mode")"
found=0
for c in /proc/[0-9]*/cmdline; do
	{ tr '\0' ' ' <"$c"; } 2>/dev/null | grep -q 'pa\$\$ word' && found=1
done
is "the password is in no process's argv" 0 "$found"
# passwordEnv: read into the 0600 file, then gone from the environment of
# everything vcpipe starts (item 8); vcpipe itself was given it
found=0 seen=0
for p in $(pid_of vc-source) $(pid_of ce-encode) $(pid_of sink-http) $(pid_of tap-read) \
    $(ps -o pid= --ppid "$VPID"); do
	[ -r "/proc/$p/environ" ] || continue
	seen=$((seen + 1))
	tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -q '^FAKE_VC_PASSWORD=' && found=$((found + 1))
done
is "passwordEnv: in no stage's environment, nor vcpipe-group's" "0 of 5+" "$found of $([ "$seen" -ge 5 ] && echo 5+ || echo "$seen")"

# logs: each stage line carries the pipeline's name
check "stage stderr is tagged with the pipeline" grep -q '^\[vc.rcv\] vc-source: info: fake source starting' "$T/vcpipe.err"

# SIGTERM: every stage drains and exits, vcpipe exits 0
pids="$(pid_of vc-source) $(pid_of ce-encode) $(pid_of sink-http) $(pid_of tap-read) $(pid_of tap-encoded)"
stop_vcpipe
is "SIGTERM: vcpipe exits 0" 0 "$VRC"
left=0
for p in $pids; do alive "$p" && left=$((left + 1)); done
is "SIGTERM: no stage left running" 0 "$left"
check "SIGTERM: the pipeline says it stopped" grep -q 'vcpipe: info: \[vc.rcv\] stopped' "$T/vcpipe.err"
is "state after stop" stopped "$(jq -r .status "$U/state.json")"
# --tee-dir: the raw stream and the CloudEvents, every line of every run
check "--tee-dir: raw stream kept" test "$(sort -u "$T/tee/vc.rcv.raw.ndjson" | wc -l)" -ge 300
check "--tee-dir: CloudEvent stream kept" grep -q '"subject":"Fake","data":{"n":300}' "$T/tee/vc.rcv.ce.ndjson"

# ---- a permanent exit code: no restart, vcpipe exits with it ----
rm -rf "$R" "$F/delivered" "$T/state"/*
FAKE_VC_EXIT=77 start_vcpipe
set +e; wait "$VPID"; VRC=$?; set -e
is "permanent 77 from vc-source: vcpipe exits 77" 77 "$VRC"
is "permanent: not restarted" 0 "$(jq .restarts "$U/state.json")"
check "permanent: logged as such" grep -q 'vcpipe: \[vc.rcv\] vc-source exited with 77, a permanent failure: not restarting' "$T/vcpipe.err"

# ---- a temporary one (75) is restarted ----
rm -rf "$R" "$F/delivered" "$T/state"/* "$F/vc-exited"
FAKE_TOTAL=5 FAKE_VC_EXIT=75 FAKE_VC_EXIT_ONCE=1 start_vcpipe
wait_for 60 has_delivered 5
is "temporary 75: restarted and delivered" 5 "$(delivered)"
is "temporary 75: one restart" 1 "$(jq .restarts "$U/state.json")"
stop_vcpipe

# ---- --log-json: one JSON object per line, each naming its pipeline ----
rm -rf "$R" "$F/delivered" "$T/state"/*
FAKE_TOTAL=3 start_vcpipe --log-json
wait_for 60 has_delivered 3
stop_vcpipe
if jq -e -s 'all(.[]; type == "object")' "$T/vcpipe.err" >/dev/null 2>&1; then
	ok "--log-json: every log line is JSON"
else
	not_ok "--log-json: every log line is JSON"; sed 's/^/# /' "$T/vcpipe.err" >&2
fi
is "--log-json: stage lines carry the pipeline" '"vc.rcv"' \
	"$(jq -c 'select(.msg == "fake source starting" or (.msg // "" | test("fake source"))) | .pipeline' "$T/vcpipe.err" | head -n 1)"

# ---- vcpipe-metrics is supervised too: killed, it is started again ----
command -v curl >/dev/null 2>&1 || bail "curl is needed"
mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'metricsProvider:\n  type: default\n  name: m\n  default:\n    bindAddress: 127.0.0.1:%s\n' "$mport" >>"$T/c.yaml"
rm -rf "$R" "$F/delivered" "$T/state"/*
FAKE_TOTAL=3 start_vcpipe
serving() { curl -sf "http://127.0.0.1:$mport/metrics" | grep -q '^vcpipe_events_read_total'; }
metrics_pid() { ps -o pid= --ppid "$VPID" -o comm= | awk '$2 == "vcpipe-metrics" { print $1 }'; }
wait_for 60 serving
m1=$(metrics_pid)
[ -n "$m1" ] && kill -9 "$m1"
other_metrics() { m2=$(metrics_pid); [ -n "$m2" ] && [ "$m2" != "$m1" ]; }
wait_for 30 other_metrics && wait_for 30 serving
is "vcpipe-metrics killed: started again and serving" "restarted serving" \
	"$(other_metrics && echo restarted) $(serving && echo serving)"
check "...and the restart is logged" grep -q 'vcpipe: warn: vcpipe-metrics exited with 137: restarting' "$T/vcpipe.err"
stop_vcpipe
is "SIGTERM with metrics: exit 0" 0 "$VRC"

# ---- two pipelines whose vcpipe-groups die at once, five times: both are
# restarted every time (bash's wait -n returns one of two children that end
# together and forgets the other; vcpipe must still see both)
awk '/^metricsProvider:/ { exit } { print }
    /uri: http:\/\/127.0.0.1:9\// { print "      - type: knative\n        name: two\n        knative:\n          destination:\n            uri: http://127.0.0.1:9/" }' \
	"$T/c.yaml" >"$T/c2.yaml" && mv "$T/c2.yaml" "$T/c.yaml"
rm -rf "$R" "$F/delivered" "$T/state"/*
FAKE_TOTAL=3 start_vcpipe
U2=$R/u/vc.two
restarts_of() { jq .restarts "$1/state.json" 2>/dev/null || echo 0; }
both_running() {
	grep -q '"status":"running"' "$U/state.json" && grep -q '"status":"running"' "$U2/state.json"
}
both_past() { [ "$(restarts_of "$U")" -gt "$1" ] && [ "$(restarts_of "$U2")" -gt "$2" ]; }
wait_for 60 both_running || bail "two pipelines did not start: $(cat "$T/vcpipe.err")"
got=
for i in 1 2 3 4 5; do
	r1=$(restarts_of "$U") r2=$(restarts_of "$U2")
	g1=$(ps -o pgid= -p "$(awk '$1 == "vc-source" { print $2 }' "$U/pids")" | tr -d ' ')
	g2=$(ps -o pgid= -p "$(awk '$1 == "vc-source" { print $2 }' "$U2/pids")" | tr -d ' ')
	[ -n "$g1" ] && [ -n "$g2" ] && kill -9 "$g1" "$g2"
	if wait_for 20 both_past "$r1" "$r2" && wait_for 20 both_running; then got="$got ok"; else got="$got missed"; fi
done
is "both vcpipe-groups killed at once, 5 times: both restarted each time" " ok ok ok ok ok" "$got"
[ "$got" = " ok ok ok ok ok" ] || sed 's/^/# /' "$T/vcpipe.err" | tail -n 30 >&2
stop_vcpipe
is "two pipelines: SIGTERM exits 0" 0 "$VRC"
left=$(ps -o pid= -g "$g1" -g "$g2" 2>/dev/null | wc -l)
is "no stage of either group left" 0 "$left"
done_testing
