#!/bin/sh
# vcpipe-metrics reads the files vcpipe, vcpipe-tap and the sinks write and
# serves them: /stats byte for byte as the event router's expvar page (Go's
# expvar with the router's variables, t/expvar-router, fed the same values),
# invocations as the sinks counted them at delivery; /metrics in the
# Prometheus text format; basic auth when configured.  vcpipe-tap passes
# lines through unchanged and counts them, across restarts.
. "${0%/*}/lib.sh"
PATH=$VP_BUILDDIR/src/vcpipe-metrics:$PATH
command -v vcpipe-metrics >/dev/null 2>&1 || skip_all "vcpipe-metrics not built"
command -v curl >/dev/null 2>&1 || skip_all "curl not installed"
command -v jq >/dev/null 2>&1 || skip_all "jq not installed"
plan 33

# ---- vcpipe-tap ----
# subjects are counted in CloudEvents as every stage reads them (src/lib/ce.c)
S1='{"specversion":"1.0","id":"1","source":"/s","type":"t","subject":"VmPoweredOnEvent"}'
S2='{"headers":{"ce-specversion":"1.0","ce-id":"2","ce-source":"/s","ce-type":"t","ce-subject":"VmPowered%4Fff%45vent"},"body":""}'
S3='{"subject":"NotACloudEvent"}'
printf '%s\n%s\n%s\nno newline' "$S1" "$S2" "$S3" >"$T/in"
(umask 022; vcpipe-tap --stats "$T/tap.json" --copy "$T/copy" <"$T/in" >"$T/out")
printf '%s\n%s\n%s\nno newline\n' "$S1" "$S2" "$S3" >"$T/want"
same "tap: lines pass unchanged (a last partial line gets its newline)" "$T/want" "$T/out"
same "tap: --copy keeps the same lines" "$T/want" "$T/copy"
is "tap: --copy and --stats (event data) are 0600 under umask 022" "600 600" \
	"$(stat -c %a "$T/copy") $(stat -c %a "$T/tap.json")"
is "tap: counts lines" 4 "$(jq .lines "$T/tap.json")"
is "tap: counts subjects of both CloudEvent modes" '{"VmPoweredOnEvent":1,"VmPoweredOffEvent":1}' "$(jq -c .subjects "$T/tap.json")"
printf 'x\n' | vcpipe-tap --stats "$T/tap.json" >/dev/null
is "tap: a second run continues the count" 5 "$(jq .lines "$T/tap.json")"
printf '%s\n' "$S1" | vcpipe-tap --stats "$T/tap.json" >/dev/null
is "tap: ... and the subjects" '{"VmPoweredOnEvent":2,"VmPoweredOffEvent":1}' "$(jq -c .subjects "$T/tap.json")"
# a subject that needs JSON escapes (quote, backslash, non-ASCII) survives a restart
S4='{"specversion":"1.0","id":"4","source":"/s","type":"t","subject":"a\"b\\c\u00e9"}'
printf '%s\n%s\n' "$S4" "$S4" | vcpipe-tap --stats "$T/esc.json" >/dev/null
printf '%s\n' "$S4" | vcpipe-tap --stats "$T/esc.json" >/dev/null
is "tap: subjects are written as JSON strings and read back" 3 "$(jq '.subjects["a\"b\\c\u00e9"]' "$T/esc.json")"
printf '{"lines":' >"$T/torn.json"
printf 'x\n' | vcpipe-tap --stats "$T/torn.json" >/dev/null 2>"$T/torn.err"
is "tap: a torn stats file: counting starts again" 1 "$(jq .lines "$T/torn.json")"
check "tap: ... and it says so" grep -q "^vcpipe-tap: warn: $T/torn.json: not a stats file" "$T/torn.err"
expect_exit "tap: --stats is required" 64 vcpipe-tap

# ---- a run directory as vcpipe leaves it ----
R=$T/run
mkdir -p "$R/u/vc.a" "$R/u/vc.b"
cat >"$R/units.json" <<JSON
[{"unit":"vc.a","dir":"$R/u/vc.a","provider":"vc","providerType":"vcenter","providerAddress":"https://vc/sdk","processor":"a","processorType":"knative","address":"http://broker/","checkpoint":"$T/a.ck","dlq":"$T/a.dlq","reject":"$T/a.reject"},
 {"unit":"vc.b","dir":"$R/u/vc.b","provider":"vc","providerType":"vcenter","providerAddress":"https://vc/sdk","processor":"b","processorType":"openfaas","address":"http://gw:8080","checkpoint":"$T/b.ck","dlq":"$T/b.dlq"}]
JSON
echo '{"lines":10,"bytes":1000,"last":"2026-11-23T09:00:00Z","subjects":{}}' >"$R/u/vc.a/read.json"
echo '{"lines":9,"bytes":900,"last":"2026-11-23T09:00:01Z","subjects":{"VmPoweredOnEvent":6,"VmPoweredOffEvent":3}}' >"$R/u/vc.a/encoded.json"
# delivered: 4 in earlier runs (counted by vcpipe at the restart) + 5 now
echo '{"status":"running","restarts":2,"delivered":4,"counted":"2026-11-23T08:59:00Z","lastExit":{"stage":"sink-http","code":137}}' >"$R/u/vc.a/state.json"
echo '{"version":1,"source":"s","id":"i","time":"2026-11-23T09:00:00.5Z","key":42,"delivered":5,"updated":"2026-11-23T09:00:02Z","invocations":{"VmPoweredOnEvent":[5,1],"VmPoweredOffEvent":[3,0],"a<b>&\"c\"":[1,1]}}' >"$T/a.ck"
printf '{"dead":1}\n{"dead":2}\n' >"$T/a.dlq"
printf '{"line":1}\n{"line":2}\n{"line":3}\n' >"$T/a.reject"
# b: its checkpoint is the one vcpipe already counted, so it adds nothing
echo '{"status":"restarting","restarts":1,"delivered":7,"counted":"2026-11-23T09:00:03Z","lastExit":{"stage":"vc-source","code":75}}' >"$R/u/vc.b/state.json"
echo '{"version":1,"source":"s","id":"j","time":"2026-11-23T09:00:00Z","delivered":7,"updated":"2026-11-23T09:00:03Z","invocations":{"VmPoweredOnEvent":[2,1]}}' >"$T/b.ck"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'prom\ns3cret\n' >"$T/cred"
vcpipe-metrics --listen "127.0.0.1:$port" --dir "$R" --credentials-file "$T/cred" 2>"$T/m.err" &
MPID=$!
bg_pid $MPID
wait_for 60 grep -q serving "$T/m.err" || bail "vcpipe-metrics did not start: $(cat "$T/m.err")"
B=http://127.0.0.1:$port

is "no credentials: 401" 401 "$(curl -s -o /dev/null -w '%{http_code}' "$B/stats")"
is "wrong password: 401" 401 "$(curl -s -o /dev/null -w '%{http_code}' -u prom:nope "$B/stats")"
curl -s -D "$T/stats.h" -u prom:s3cret "$B/stats" >"$T/stats.json"
st() { jq -c ".\"vmware.event.router.stats\".$1" "$T/stats.json"; }
is "/stats: the provider under its type, once, events_total and events_err (failures at delivery)" \
	'{"address":"https://vc/sdk","events_total":10,"events_err":3,"type":"EventProvider"}' \
	"$(st 'vcenter | {address, events_total, events_err, type}')"
is "/stats: a processor under its type: invocations by subject as its sink counted them" \
	'{"address":"http://broker/","invocations":{"VmPoweredOffEvent":{"SuccessCount":3,"FailureCount":0},"VmPoweredOnEvent":{"SuccessCount":5,"FailureCount":1},"a<b>&\"c\"":{"SuccessCount":1,"FailureCount":1}},"type":"EventProcessor"}' \
	"$(st 'knative | {address, invocations, type}')"
is "/stats: the other processor" '{"VmPoweredOnEvent":{"SuccessCount":2,"FailureCount":1}}' "$(st openfaas.invocations)"
is "/stats: the router's members" '["cmdline","memstats","system.allLoad","system.lastLoad","system.numberOfSeconds","system.programName","vmware.event.router.stats"]' \
	"$(jq -c 'keys' "$T/stats.json")"
check "/stats: memstats counts the memory of the processes (Sys > 0)" jq -e '.memstats.Sys > 0 and .memstats.HeapAlloc > 0' "$T/stats.json"
if command -v go >/dev/null 2>&1 && "$VP_SRCDIR/t/build-go.sh" >"$T/go.err" 2>&1; then
	"$VP_BUILDDIR/t/expvar-router/expvar-router" <"$T/stats.json" >"$T/go.out"
	sed 1d "$T/go.out" | grep -v '^"memstats": ' >"$T/go.body"
	grep -v '^"memstats": ' "$T/stats.json" >"$T/ours.body"
	same "/stats is byte for byte Go's expvar page of the router's variables (memstats aside)" "$T/go.body" "$T/ours.body"
	shape='.memstats | (keys_unsorted, [.BySize[].Size], ([paths(type != "object" and type != "array")] | length),
		([paths as $p | [$p, (getpath($p) | type)] | select(.[1] != "number")]))'
	sed 1d "$T/go.out" | jq -c "$shape" >"$T/go.shape"
	jq -c "$shape" "$T/stats.json" >"$T/ours.shape"
	same "/stats: memstats has runtime.MemStats' members in order, its size classes, value types" "$T/go.shape" "$T/ours.shape"
	is "/stats: Content-Type as expvar's" "$(head -1 "$T/go.out")" \
		"$(sed -n 's/^Content-Type: //Ip' "$T/stats.h" | tr -d '\r')"
else
	for i in 1 2 3; do ok "# SKIP go or govmomi not available: $(tail -1 "$T/go.err" 2>/dev/null)"; done
fi
curl -s -u prom:s3cret "$B/metrics" | grep -v '^#' >"$T/metrics.txt"
m() { grep "^$1{pipeline=\"$2\"" "$T/metrics.txt" | sed 's/.* //'; }
is "/metrics: read" 10 "$(m vcpipe_events_read_total vc.a)"
is "/metrics: encoded" 9 "$(m vcpipe_events_encoded_total vc.a)"
is "/metrics: delivered = earlier runs + this run" 9 "$(m vcpipe_events_delivered_total vc.a)"
is "/metrics: delivered not counted twice" 7 "$(m vcpipe_events_delivered_total vc.b)"
is "/metrics: dead-lettered" 2 "$(m vcpipe_events_deadlettered_total vc.a)"
is "/metrics: rejected (lines of the reject file)" 3 "$(m vcpipe_events_rejected_total vc.a)"
is "/metrics: restarts" 2 "$(m vcpipe_restarts_total vc.a)"
is "/metrics: last delivered event time" 1795424400.5 "$(m vcpipe_last_event_delivered_timestamp_seconds vc.a)"
check "/metrics: per class" grep -q '^vcpipe_events_by_class_total{pipeline="vc.a",class="VmPoweredOnEvent"} 6$' "$T/metrics.txt"
is "other paths: 404" 404 "$(curl -s -o /dev/null -w '%{http_code}' -u prom:s3cret "$B/nope")"
kill -TERM $MPID
set +e; wait $MPID; rc=$?; set -e
is "SIGTERM: exits 0" 0 "$rc"
expect_exit "--listen without a port is a usage error" 64 vcpipe-metrics --listen 127.0.0.1 --dir "$R"
done_testing
