#!/bin/sh
# The OpenFaaS vcenter-connector's payload: vc-source --connector carries
# each event as the message the connector sent its functions, byte for byte
# what the connector's own code (handleEvent, run in t/govmomi-events on
# govmomi) builds over a varied simulator session; ce-encode
# --payload-encoding vcenter-connector and sink-http --openfaas in binary
# mode make it the whole HTTP body; functions annotated with the connector's
# topics (vm.powered.on, ex) and the eventTypeId get them; a function
# written for the connector reads them.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/vcsim.sh"
for p in vc-source ce-encode sink-http jq python3; do
	command -v $p >/dev/null 2>&1 || skip_all "$p not available"
done
plan 13

vcsim_start -tls || bail "simulator did not start"
ops() {
	vcsim_op power-off; vcsim_op power-on
	vcsim_op rename-vm vm=DC0_H0_VM1 name='web <&> "01"'
	vcsim_op login password=wrong
	for c in AlarmStatusChangedEvent HostConnectionLostEvent DatastoreRenamedEvent \
		ResourcePoolCreatedEvent VmFailedToPowerOnEvent DrsVmPoweredOnEvent \
		EnteredMaintenanceModeEvent DvsCreatedEvent TaskEvent; do
		vcsim_op post-event class=$c
	done
	vcsim_op post-eventex eventTypeId=com.vmware.vc.HA.ClusterFailoverActionCompletedEvent \
		arguments='{"reason":"a <b>"}'
	vcsim_op post-eventex eventTypeId=com.vmware.cl.CreateLibraryEvent severity=warning
	vcsim_op post-extendedevent eventTypeId=com.example.ext data='{"k":"v"}'
}
ops >"$T/ops.json" 2>"$T/ops.err" || { diag "$(cat "$T/ops.err")"; bail "an operation failed"; }
last=$(vcsim_op events | jq .newestKey)
V="vc-source --url $VCSIM_URL --ca-file $VCSIM_CAFILE"

$VP_WRAP $V --begin 1h --once --connector >"$T/vc.ndjson" 2>"$T/vc.err"
govmomi_events -once -page 1000 -connector >"$T/govmomi.ndjson" 2>"$T/g.err"
sel='select(.key <= '"$last"')'
jq -c "$sel | [.key, .connector]" "$T/vc.ndjson" | sort >"$T/vc.msg"
jq -c "$sel | [.key, .connector]" "$T/govmomi.ndjson" | sort >"$T/govmomi.msg"
n=$(wc -l <"$T/govmomi.msg")
[ "$n" -ge 20 ] && ok "the session has $n events" || not_ok "the session has $n events"
same "connector is the vcenter-connector's message (its handleEvent) for every event" \
	"$T/govmomi.msg" "$T/vc.msg"
# byte for byte: the member's text, not only its JSON value
grep -o '"connector":{[^}]*\(}[^}]*\)\?}}$' "$T/vc.ndjson" | sed 's/^"connector"://; s/}$//' |
	sort >"$T/vc.bytes"
grep -o '"connector":{[^}]*\(}[^}]*\)\?}}$' "$T/govmomi.ndjson" | sed 's/^"connector"://; s/}$//' |
	sort >"$T/govmomi.bytes.all"
grep -F -x -f "$T/vc.bytes" "$T/govmomi.bytes.all" | sort >"$T/common"
same "... byte for byte (key order, Go's escapes)" "$T/vc.bytes" "$T/common"
port=${VCSIM_URL#https://127.0.0.1:}; port=${port%%/*}
is "a VM event: topic, category, host:port source, the VM and its reference" \
	"{\"topic\":\"vm.powered.on\",\"category\":\"info\",\"source\":\"127.0.0.1:$port\",\"objectName\":\"DC0_H0_VM0\",\"managedObjectReference\":{\"Type\":\"VirtualMachine\",\"Value\":\"vm-57\"}}" \
	"$(jq -c 'select(.class == "VmPoweredOnEvent") | .connector | del(.userName, .createdTime)' "$T/vc.ndjson" | head -1 |
	sed 's/"Value":"vm-[0-9]*"/"Value":"vm-57"/')"
is "every EventEx is topic ex, its severity the category" \
	'["ex","info"] ["ex","warning"]' \
	"$(jq -r 'select(.category == "eventex") | [.connector.topic, .connector.category] | tojson' "$T/vc.ndjson" | paste -sd' ' -)"
$V --begin 1h --once >"$T/plain.ndjson" 2>"$T/plain.err"
is "without --connector there is no connector member" 0 "$(jq -c 'select(has("connector"))' "$T/plain.ndjson" | wc -l)"

# ---- to OpenFaaS functions, as the connector invoked them ----
cat >"$T/functions.json" <<'JSON'
[{"name": "pytag-fn", "annotations": {"topic": "vm.powered.on,drs.vm.powered.on"}},
 {"name": "ex-fn", "annotations": {"topic": "ex"}},
 {"name": "ha-fn", "annotations": {"topic": "com.vmware.vc.HA.ClusterFailoverActionCompletedEvent"}}]
JSON
printf 'admin\ngw\n' >"$T/gwcred"
start_server gw python3 "$VP_SRCDIR/t/fake-openfaas/gateway.py" --functions "$T/functions.json" \
	--password gw --log "$T/gw.log"
GW=http://127.0.0.1:$(cat "$T/gw.port")
jq -c "$sel" "$T/vc.ndjson" >"$T/session.ndjson"
ce-encode --payload-encoding vcenter-connector --mode binary <"$T/session.ndjson" >"$T/bin.ndjson" 2>"$T/ce.err"
is "ce-encode: every event encoded" "$(wc -l <"$T/session.ndjson")" "$(wc -l <"$T/bin.ndjson")"
expect_exit "sink-http --openfaas delivers them" 0 $VP_WRAP sink-http --openfaas "$GW" \
	--credentials-file "$T/gwcred" --async --retry-base 10ms <"$T/bin.ndjson"
fnbodies() { jq -r --arg f "$1" 'select(.function == $f) | .body' "$T/gw.log"; }
is "pytag-fn got the VM power-on events (vm.powered.on, drs.vm.powered.on), bodies = messages" \
	"$(jq -c 'select(.class == "VmPoweredOnEvent" or .class == "DrsVmPoweredOnEvent") | .connector' "$T/session.ndjson")" \
	"$(fnbodies pytag-fn)"
is "ex-fn got every EventEx (the connector's topic)" \
	"com.vmware.vc.HA.ClusterFailoverActionCompletedEvent com.vmware.cl.CreateLibraryEvent" \
	"$(jq -r 'select(.function == "ex-fn") | .headers["ce-subject"]' "$T/gw.log" | paste -sd' ' -)"
is "ha-fn got its EventEx by eventTypeId" 1 "$(fnbodies ha-fn | wc -l | tr -d ' ')"
check "the bodies are byte for byte the messages" sh -c \
	"jq -r 'select(.function) | .body' '$T/gw.log' | sort -u | grep -v -F -x -f '$T/vc.bytes' | { ! grep -q .; }"
: >"$T/fn.out"
fnbodies pytag-fn | while IFS= read -r body; do
	printf '%s' "$body" | python3 "$VP_SRCDIR/t/openfaas-connector-fn/handler.py" >>"$T/fn.out"
done
is "the connector-era tagging function reads each: the VM to tag, by reference and by name" \
	"$(jq -c 'select(.class == "VmPoweredOnEvent" or .class == "DrsVmPoweredOnEvent") |
		{at: .connector.createdTime, get_vm: .data.Vm.Name, tag: {object_id: {id: .data.Vm.Vm.Value, type: "VirtualMachine"}},
		 topic: (if .class == "VmPoweredOnEvent" then "vm.powered.on" else "drs.vm.powered.on" end), user: (if .data.UserName == "" then null else .data.UserName end)}' "$T/session.ndjson")" \
	"$(jq -c . "$T/fn.out")"
done_testing
