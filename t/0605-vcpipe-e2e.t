#!/bin/sh
# End to end through vcpipe against the vCenter simulator: real vc-source,
# ce-encode and sink-http.  Every event arrives at the receiver; kill -9 of
# stages at random moments in a stream of 2,000 events loses none; a
# receiver that is down for a minute loses none; the metrics add up.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/vcsim.sh"
. "$VP_SRCDIR/t/http-receiver/lib.sh"
PATH=$VP_BUILDDIR/src/vcpipe-metrics:$PATH
for p in vc-source ce-encode sink-http vcpipe-yaml vcpipe-tap vcpipe-metrics jq curl go python3; do
	command -v $p >/dev/null 2>&1 || skip_all "$p not available"
done
[ -d /usr/share/gocode/src/github.com/vmware/govmomi ] || skip_all "govmomi source not installed"
plan 13

vcsim_start -history || bail "vcsim did not start"
start_receiver r
mport=$(free_port)
{
	vcfg_head
	vcfg_vcenter sim "$VCSIM_URL" 1h
	vcfg_knative rcv "http://127.0.0.1:$RPORT/"
	vcfg_metrics "$mport"
} >"$T/c.yaml"
mkdir -p "$T/state"
R=$T/run
U=$R/u/sim.rcv
VCPIPE_STOP_TIMEOUT=5 VCPIPE_BACKOFF_CAP=2 $VP_WRAP vcpipe -config "$T/c.yaml" --run-dir "$R" >"$T/out" 2>"$T/err" &
VPID=$!
bg_pid $VPID

# Every event the simulator holds, oldest to newest, must reach the
# receiver (the bursts, and the logins of vc-source's restarts).
keys_posted() {
	vcsim_op events >"$T/ev.json"
	_o=$(jq .oldestKey "$T/ev.json") _n=$(jq .newestKey "$T/ev.json")
	[ "$(jq .total "$T/ev.json")" -eq $((_n - _o + 1)) ] || bail "simulator keys are not contiguous"
	seq "$_o" "$_n"
}
keys_received() { bodies r | jq -r '.eventkey // empty' 2>/dev/null | sort -n -u; }
all_arrived() { [ "$(keys_received | sort | comm -23 "$T/want" - | wc -l)" -eq 0 ]; }
post() { vcsim_op post-burst "count=$1" >/dev/null; }

post 20
keys_posted | sort >"$T/want"
wait_for 60 all_arrived || true
is "first 20 events all arrive" 0 "$(keys_received | sort | comm -23 "$T/want" - | wc -l)"

# 2,000 events while stages are killed with -9 at random moments, each
# kill hitting a running pipeline
post 2000 &
poster=$!
n=0
running() { grep -q '"status":"running"' "$U/state.json"; }
for stage in sink-http ce-encode vc-source tap-read sink-http tap-encoded; do
	wait_for 30 running || break
	sleep "$(od -An -N1 -tu1 /dev/urandom | awk '{ printf "%.2f", $1 / 100 }')"
	kill -9 "$(awk -v s="$stage" '$1 == s { print $2 }' "$U/pids")" 2>/dev/null || true
	n=$((n + 1))
	wait_for 30 grep -q "\"restarts\":$n," "$U/state.json" || break
done
wait $poster
is "6 kills, 6 restarts" 6 "$(jq .restarts "$U/state.json")"
keys_posted | sort >"$T/want"
wait_for 180 all_arrived || true
is "$(wc -l <"$T/want") events, 6 stages killed: none lost" 0 "$(keys_received | sort | comm -23 "$T/want" - | wc -l)"
wait_for 30 running || true
is "the pipeline runs again" running "$(jq -r .status "$U/state.json")"

# the receiver is down for a minute, then comes back on the same port
stop_receiver r
post 100
sleep 60
start_receiver r --port "$RPORT"
keys_posted | sort >"$T/want"
wait_for 180 all_arrived || true
is "receiver down for a minute and back: none lost" 0 "$(keys_received | sort | comm -23 "$T/want" - | wc -l)"
is "nothing was dead-lettered" 0 "$(cat "$T/state/sim.rcv.dlq" 2>/dev/null | wc -l)"

# metrics: the counters match what arrived
B=http://127.0.0.1:$mport
curl -s "$B/metrics" >"$T/metrics"
n_read=$(sed -n 's/^vcpipe_events_read_total{pipeline="sim.rcv".*} //p' "$T/metrics")
n_del=$(sed -n 's/^vcpipe_events_delivered_total{pipeline="sim.rcv".*} //p' "$T/metrics")
want=$(wc -l <"$T/want")
check "metrics: read >= events posted" test "${n_read:-0}" -ge "$want"
check "metrics: delivered >= events posted" test "${n_del:-0}" -ge "$want"
is "/stats: the router's provider entry" EventProvider "$(curl -s "$B/stats" | jq -r '."vmware.event.router.stats".vcenter.type')"

# SIGTERM drains: vcpipe exits 0, the checkpoint names the last event
kill -TERM $VPID
set +e; wait $VPID; rc=$?; set -e
is "SIGTERM: exit 0" 0 "$rc"
last=$(sort -n "$T/want" | tail -n 1)
is "the checkpoint is at the last event" "$last" "$(jq .key "$T/state/sim.rcv.checkpoint")"
check "logs name the pipeline and stage" grep -q '^\[sim.rcv\] vc-source: info' "$T/err"
if grep -q "$VC_PASSWORD" "$T/err" "$T/out"; then not_ok "the password is not logged"; else ok "the password is not logged"; fi
done_testing
