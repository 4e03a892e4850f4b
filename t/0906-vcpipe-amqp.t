#!/bin/sh
# vcpipe's amqp processor and provider against a real RabbitMQ: one config
# runs a collector (vCenter simulator -> vc-source | ce-encode | sink-amqp
# into a topic exchange) and a worker (amqp provider: amqp-source | sink-http
# to a receiver, acknowledging on the sink's checkpoint). Every event
# arrives with the id the collector gave it; the worker's queue drains;
# a second amqp processor with a jq filter: publishes only what passes it,
# and its checkpoint moves over the events filtered out (sink-amqp settles
# the jq stage's skip lines as the sink core does), so a restart replays
# none of them and loses none; --check refuses what cannot run (two processors on one amqp provider, a
# URL with credentials, a URL that is not amqp).
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/vcsim.sh"
. "$VP_SRCDIR/t/rabbitmq.sh"
. "$VP_SRCDIR/t/http-receiver/lib.sh"
for p in vc-source ce-encode sink-amqp amqp-source sink-http vcpipe vcpipe-yaml vcpipe-tap jq python3 go; do
	command -v $p >/dev/null 2>&1 || skip_all "$p not available"
done
rmq_available || skip_all "rabbitmq-server not installed"
[ -d /usr/share/gocode/src/github.com/vmware/govmomi ] || skip_all "govmomi source not installed"
plan 17

# --check: what cannot run is refused with the reason
cat >"$T/two.yaml" <<'YAML'
apiVersion: vcpipe/v1
kind: Config
providers:
  - type: amqp
    name: q
    amqp:
      url: amqp://127.0.0.1
      queue: vcpipe.events
    processors:
      - type: stdout
        name: a
      - type: stdout
        name: b
YAML
expect_exit "--check: an amqp provider with two processors is refused (78)" 78 \
    vcpipe --check --config "$T/two.yaml"
check "... saying why" grep -q 'an amqp provider takes one processor' "$T/.exit.err"
one() { # URL: a config with one amqp provider on URL
	printf 'apiVersion: vcpipe/v1\nkind: Config\nproviders:\n  - type: amqp\n    name: q\n'
	printf '    amqp:\n      url: %s\n      queue: vcpipe.events\n' "$1"
	printf '    processors:\n      - type: stdout\n        name: a\n'
}
one amqp://guest:guest@127.0.0.1 >"$T/cred.yaml"
expect_exit "--check: credentials in the URL are refused" 78 vcpipe --check --config "$T/cred.yaml"
one http://127.0.0.1 >"$T/http.yaml"
expect_exit "--check: a URL that is not amqp:// is refused" 78 vcpipe --check --config "$T/http.yaml"

rmq_start a || bail "rabbitmq did not start"
vcsim_start -history || bail "vcsim did not start"
start_receiver on
PON=$RPORT
start_receiver r
{
	vcfg_head
	vcfg_vcenter sim "$VCSIM_URL" 1h
	cat <<YAML
      - type: amqp
        name: rabbit
        amqp:
          url: $RMQ_URL_a
          exchange: vcpipe
          exchangeType: topic
          routingKey: "vcenter.{subject}"
      - type: amqp
        name: on
        amqp:
          url: $RMQ_URL_a
          exchange: vcpipe-on
          exchangeType: topic
          routingKey: "on.{subject}"
        filter: .subject == "VmPoweredOnEvent"
  - type: amqp
    name: onwork
    amqp:
      url: $RMQ_URL_a
      queue: vcpipe.on
      declare: quorum
      bind: ["vcpipe-on:on.#"]
      exchangeType: topic
    processors:
YAML
	vcfg_knative on "http://127.0.0.1:$PON/"
	cat <<YAML
  - type: amqp
    name: work
    amqp:
      url: $RMQ_URL_a
      queue: vcpipe.events
      declare: quorum
      bind: ["vcpipe:vcenter.#"]
      exchangeType: topic
      prefetch: 50
    processors:
YAML
	vcfg_knative rcv "http://127.0.0.1:$RPORT/"
} >"$T/c.yaml"
mkdir -p "$T/state"
check "--check accepts the collector and the worker" vcpipe --check --config "$T/c.yaml"
VCPIPE_STOP_TIMEOUT=5 VCPIPE_BACKOFF_CAP=2 vcpipe --config "$T/c.yaml" --run-dir "$T/run" \
    >"$T/out" 2>"$T/err" &
VPID=$!
bg_pid $VPID

keys_posted() {
	vcsim_op events >"$T/ev.json"
	_o=$(jq .oldestKey "$T/ev.json") _n=$(jq .newestKey "$T/ev.json")
	seq "$_o" "$_n"
}
keys_received() { bodies r | jq -r '.eventkey // empty' 2>/dev/null | sort -n -u; }
missing() { keys_received | sort | comm -23 "$T/want" - | wc -l; }
all_arrived() { [ "$(missing)" -eq 0 ]; }
vcsim_op post-burst count=40 >/dev/null
keys_posted | sort >"$T/want"
wait_for 180 all_arrived || diag "$(tail -5 "$T/err")"
is "every simulator event through the broker to the receiver" 0 "$(missing)"
# the ids are the collector's: what ce-encode gives the same vCenter lines
vc-source --url "$VCSIM_URL" --begin 1h --once 2>/dev/null | ce-encode 2>/dev/null |
    jq -r '"\(.eventkey) \(.id)"' | sort -u >"$T/ids.want"
bodies r | jq -r '"\(.eventkey) \(.id)"' | sort -u |
    awk 'NR == FNR { k[$1] = 1; next } $1 in k' "$T/ids.want" - >"$T/ids.got"
is "with the ids the collector gave them" "" "$(comm -13 "$T/ids.want" "$T/ids.got")"
drained() { [ "$(rmq_count a vcpipe.events)" = 0 ]; }
wait_for 60 drained || true
is "the worker's queue drains: every message acknowledged" 0 "$(rmq_count a vcpipe.events)"

# the filtered processor: the VmPoweredOnEvents, each once; its checkpoint
# at the newest event, which it filtered out
newest() { vcsim_op events | jq .newestKey; }
ck_on() { jq .key "$T/state/sim.on.checkpoint" 2>/dev/null; }
want_on() { # the VmPoweredOnEvents' keys, as a reader of the simulator sees them
	vc-source --url "$VCSIM_URL" --begin 1h --once 2>/dev/null | ce-encode 2>/dev/null |
	    jq -r 'select(.subject == "VmPoweredOnEvent") | .eventkey' | sort >"$T/want.on"
}
# (each login adds an event, also vcpipe's own after a restart: the newest
# is read again)
on_settled() {
	NEWEST=$(newest)
	[ "$(ck_on)" = "$NEWEST" ] && [ "$(bodies on | wc -l)" -ge "$(wc -l <"$T/want.on")" ]
}
vcsim_op post-burst count=1 classes=VmPoweredOffEvent >/dev/null
want_on
wait_for 120 on_settled || diag "$(tail -5 "$T/err")"
on_settled || true
is "filter: the checkpoint moved over the events filtered out, to the newest" \
    "$NEWEST" "$(ck_on)"
bodies on | jq -r .eventkey | sort >"$T/got.on"
same "filter: the VmPoweredOnEvents through the broker, each once, and only them" \
    "$T/want.on" "$T/got.on"
check "filter: nothing dead-lettered (a skip line is no event)" \
    test ! -s "$T/state/sim.on.dlq"
kill -TERM $VPID
set +e; wait $VPID; VRC=$?; set -e
is "SIGTERM: exit 0" 0 "$VRC"
# restart: nothing replayed, nothing lost
vcsim_op post-burst count=4 classes=VmPoweredOffEvent,VmPoweredOnEvent >/dev/null
vcsim_op post-burst count=1 classes=VmPoweredOffEvent >/dev/null
VCPIPE_STOP_TIMEOUT=5 VCPIPE_BACKOFF_CAP=2 vcpipe --config "$T/c.yaml" --run-dir "$T/run" \
    >>"$T/out" 2>>"$T/err" &
VPID=$!
bg_pid $VPID
want_on
wait_for 120 on_settled || diag "$(tail -5 "$T/err")"
on_settled || true
bodies on | jq -r .eventkey | sort >"$T/got.on"
same "after a restart: every VmPoweredOnEvent once, none replayed" "$T/want.on" "$T/got.on"
is "... and the checkpoint at the newest event again" "$NEWEST" "$(ck_on)"
kill -TERM $VPID
set +e; wait $VPID; set -e

# a cluster's nodes: url lists them, comma-separated; each is checked
one "amqp://127.0.0.1:1,$RMQ_URL_a" >"$T/list.yaml"
check "--check accepts a list of broker URLs" vcpipe --check --config "$T/list.yaml"
check "... and amqp-source gets the list as its --url" \
    sh -c "vcpipe --dry-run --config '$T/list.yaml' | grep -q -- '--url amqp://127.0.0.1:1,$RMQ_URL_a'"
one "$RMQ_URL_a,amqp://u:p@127.0.0.1" >"$T/list-cred.yaml"
expect_exit "--check: credentials in any URL of the list are refused" 78 \
    vcpipe --check --config "$T/list-cred.yaml"
done_testing
