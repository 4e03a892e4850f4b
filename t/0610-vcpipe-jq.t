#!/bin/sh
# A processor's jq filter and transform (issue 12 item 10), through vcpipe
# against the vCenter simulator: a filter sends only VmPoweredOnEvent to one
# processor and everything to another; a transform reshapes the data a
# plain webhook receives; the checkpoint moves over filtered events, so a
# restart replays nothing and loses nothing; sink-eventbridge keeps its
# place the same way; a jq runtime error on one event dead-letters that
# event (counted in /metrics) and the stream goes on; a program jq refuses
# is a config error at --check (78, jq's message, the config line).
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/vcsim.sh"
. "$VP_SRCDIR/t/http-receiver/lib.sh"
. "$VP_SRCDIR/t/fake-eventbridge/fake.sh"
for p in vc-source ce-encode sink-http sink-eventbridge vcpipe-yaml vcpipe-group vcpipe-metrics jq curl go python3; do
	command -v $p >/dev/null 2>&1 || skip_all "$p not available"
done
[ -d /usr/share/gocode/src/github.com/vmware/govmomi ] || skip_all "govmomi source not installed"
plan 20

# ---- --check: programs jq refuses, and builtins that would lose events
cat >"$T/bad.yaml" <<'YAML'
apiVersion: vcpipe/v1
kind: Config
providers:
  - type: webhook
    name: hook
    webhook:
      bindAddress: 127.0.0.1:0
      path: /webhook
    processors:
      - type: stdout
        name: out
        filter: .subject ==
YAML
expect_exit "a filter jq cannot compile: --check exits 78" 78 vcpipe -config "$T/bad.yaml" --check
check "the message names the line, the key and jq's reason" \
    grep -q 'bad.yaml:12:17: providers\[0\]\.processors\[0\]\.filter: jq: error: syntax error' "$T/.exit.err"
sed -i 's/filter: .subject ==/transform: "{vm: .data.Vm.Name} | input"/' "$T/bad.yaml"
expect_exit "a transform that reads input of its own: 78" 78 vcpipe -config "$T/bad.yaml" --check
check "... and says why" grep -q 'transform: jq: input is not allowed here' "$T/.exit.err"
sed -i 's/transform: .*/transform: nosuch(1)/' "$T/bad.yaml"
expect_exit "an undefined function: 78" 78 vcpipe -config "$T/bad.yaml" --check
check "... in jq's words" grep -q 'jq: error: nosuch/1 is not defined' "$T/.exit.err"

# ---- one vCenter, four processors
vcsim_start -history || bail "vcsim did not start"
use_env_keys
fake_config "$T/eb.json"
printf '%s\n' '{"vc/all": {"EventPattern": "{\"detail-type\": [{\"exists\": true}]}"}}' >"$T/eb-rules.json"
start_fake "$T/eb.json" --rules "$T/eb-rules.json"
start_receiver on
start_receiver all
PALL=$RPORT
start_receiver shape
PSHAPE=$RPORT
RPORT=$(cat "$T/on.port")
mport=$(free_port)
{
	vcfg_head
	vcfg_vcenter sim "$VCSIM_URL" 1h
	vcfg_knative on "http://127.0.0.1:$RPORT/"
	printf '        filter: .subject == "VmPoweredOnEvent"\n'
	vcfg_knative all "http://127.0.0.1:$PALL/"
	vcfg_knative shape "http://127.0.0.1:$PSHAPE/"
	cat <<'YAML'
          encoding: binary
        filter: .subject | startswith("Vm") or . == "GeneralUserEvent"
        transform: |
          if .subject == "GeneralUserEvent" then error("no VM in \(.subject)")
          else {vm: .data.Vm.Name, what: .subject, key: .eventkey} end
YAML
	vcfg_eventbridge eb "$FAKE_URL"
	printf '        filter: .subject == "VmPoweredOnEvent"\n'
	vcfg_metrics "$mport"
} >"$T/c.yaml"
mkdir -p "$T/state"
R=$T/run
start_vcpipe() {
	VCPIPE_STOP_TIMEOUT=5 VCPIPE_BACKOFF_CAP=2 $VP_WRAP vcpipe -config "$T/c.yaml" --run-dir "$R" >>"$T/out" 2>>"$T/err" &
	VPID=$!
	bg_pid $VPID
}
stop_vcpipe() {
	kill -TERM "$VPID"
	set +e; wait "$VPID"; VRC=$?; set -e
}

# every key the simulator holds; the class of each, as 'all' received it
sim_events() {
	vcsim_op events >"$T/ev.json"
	seq "$(jq .oldestKey "$T/ev.json")" "$(jq .newestKey "$T/ev.json")" | sort >"$T/want.all"
	bodies all | jq -r '"\(.eventkey) \(.subject)"' | sort -u >"$T/sim"
}
keys_of() { awk -v c="$1" '$2 == c { print $1 }' "$T/sim" | sort; }
got() { bodies "$1" | jq -r "$2" 2>/dev/null | sort; }
post() { vcsim_op post-burst "count=$1" "classes=$2" >/dev/null; }
newest() { vcsim_op events | jq .newestKey; }
ck_key() { jq .key "$T/state/sim.$1.checkpoint" 2>/dev/null; }
at_newest() { n=$(newest); for p in on all shape eb; do [ "$(ck_key $p)" = "$n" ] || return 1; done; }

start_vcpipe
post 6 VmPoweredOnEvent,VmPoweredOffEvent,VmSuspendedEvent
post 1 GeneralUserEvent
post 3 VmPoweredOffEvent,VmPoweredOnEvent
wait_for 90 at_newest || true
sim_events
keys_of VmPoweredOnEvent >"$T/want.on"
is "every checkpoint is at the newest event (the last one filtered out for 'on' and 'eb')" \
    "$(newest) $(newest) $(newest) $(newest)" "$(ck_key on) $(ck_key all) $(ck_key shape) $(ck_key eb)"
got on .eventkey >"$T/got.on"
same "filter: 'on' received the VmPoweredOnEvents, and only them" "$T/want.on" "$T/got.on"
got all .eventkey >"$T/got.all"
same "no filter: 'all' received every event" "$T/want.all" "$T/got.all"
jq -r '.Detail | fromjson | .eventkey' "$T/fake.log" | sort >"$T/got.eb"
same "sink-eventbridge: the VmPoweredOnEvents, and only them" "$T/want.on" "$T/got.eb"
awk '$2 ~ /^Vm/ { print $1 }' "$T/sim" | sort >"$T/want.shape"
got shape .key >"$T/got.shape"
same "transform: 'shape' received the reshaped data of the Vm events" "$T/want.shape" "$T/got.shape"
is "transform: the body is the program's result" '{"vm":"DC0_C0_RP0_VM0","what":"VmPoweredOnEvent"}' \
    "$(bodies shape | jq -c 'select(.what == "VmPoweredOnEvent") | del(.key)' | head -n 1)"
check "binary mode: the reshaped body is sent as application/json" \
    sh -c "jq -r 'select(.action|test(\"^2\")) | .headers[\"Content-Type\"] // .headers[\"content-type\"]' '$T/shape.log' | sort -u | grep -qx application/json"

# the runtime error: dead-lettered with jq's message, counted, not wedged
is "a jq error on one event: that event is dead-lettered" 1 "$(wc -l <"$T/state/sim.shape.dlq")"
is "... with the reason and jq's message" "filter error|no VM in GeneralUserEvent|GeneralUserEvent" \
    "$(jq -r '"\(.deadletter.reason)|\(.deadletter.error)|\(.headers["ce-subject"])"' "$T/state/sim.shape.dlq")"
curl -s "http://127.0.0.1:$mport/metrics" >"$T/metrics"
is "... and counted in /metrics" 1 \
    "$(sed -n 's/^vcpipe_events_deadlettered_total{pipeline="sim.shape".*} //p' "$T/metrics")"

# restart: nothing replayed (the checkpoint was past the filtered events),
# nothing lost
stop_vcpipe
is "SIGTERM: exit 0" 0 "$VRC"
post 4 VmPoweredOffEvent,VmPoweredOnEvent
start_vcpipe
wait_for 90 at_newest || true
sim_events
keys_of VmPoweredOnEvent >"$T/want.on"
got on .eventkey >"$T/got.on"
same "after a restart: every VmPoweredOnEvent once, none replayed" "$T/want.on" "$T/got.on"
jq -r '.Detail | fromjson | .eventkey' "$T/fake.log" | sort >"$T/got.eb"
same "after a restart, sink-eventbridge: every VmPoweredOnEvent once" "$T/want.on" "$T/got.eb"
got all .eventkey >"$T/got.all"
same "after a restart: 'all' has every event once" "$T/want.all" "$T/got.all"
stop_vcpipe
done_testing
