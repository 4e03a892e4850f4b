#!/bin/sh
# Conformance: for every event of a varied simulator session, vc-source's
# "data" is the JSON govmomi itself produces (json.Marshal of the event read by
# govmomi's event manager), field for field, in the same order; and "class"
# matches. At least 20 event classes take part.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/vcsim.sh"
plan 5

vcsim_start -tls || bail "simulator did not start"
ops() {
	vcsim_op power-off; vcsim_op power-on; vcsim_op suspend; vcsim_op power-on
	vcsim_op reset; vcsim_op shutdown-guest; vcsim_op power-on; vcsim_op reboot-guest
	vcsim_op create-vm name=conf1; vcsim_op clone-vm vm=conf1 name=conf2
	vcsim_op rename-vm vm=conf2 name="conf é \"3\""; vcsim_op reconfigure-vm vm=conf1 annotation='<b>&amp; ünïcode'
	vcsim_op destroy-vm vm=conf1; vcsim_op migrate-vm
	vcsim_op host-enter-maintenance; vcsim_op host-exit-maintenance
	vcsim_op host-disconnect; vcsim_op host-reconnect
	vcsim_op login; vcsim_op login password=wrong
	vcsim_op create-datacenter name=DCX
	for c in AlarmStatusChangedEvent DrsVmPoweredOnEvent HostConnectionLostEvent \
		VmMigratedEvent VmRelocatedEvent DatastoreRenamedEvent TaskEvent \
		GeneralUserEvent VmFailedToPowerOnEvent HostShutdownEvent \
		DvsCreatedEvent ClusterReconfiguredEvent PermissionAddedEvent; do
		vcsim_op post-event class=$c
	done
	vcsim_op post-eventex eventTypeId=com.vmware.vc.HA.ClusterFailoverActionCompletedEvent \
		arguments='{"reason":"test","count":"2"}'
	vcsim_op post-extendedevent eventTypeId=com.example.ext data='{"k":"v"}'
}
ops >"$T/ops.json" 2>"$T/ops.err" || { diag "$(cat "$T/ops.err")"; bail "an operation failed"; }
last=$(vcsim_op events | jq .newestKey)

vc-source --url "$VCSIM_URL" --ca-file "$VCSIM_CAFILE" --begin 1h --once --page-size 1000 2>>"$T/vc-source.err" >"$T/vc.ndjson"
govmomi_events -once -page 1000 >"$T/govmomi.ndjson"
sel='select(.key <= '"$last"')'
jq -c "$sel | [.key, .class]" "$T/vc.ndjson" | sort -n -t, -k1.2 >"$T/vc.classes"
jq -c "$sel | [.key, .class]" "$T/govmomi.ndjson" | sort -n -t, -k1.2 >"$T/govmomi.classes"
same "the same events (keys) with the same class names" "$T/govmomi.classes" "$T/vc.classes"
n=$(jq -r "$sel | .class" "$T/govmomi.ndjson" | sort -u | wc -l)
[ "$n" -ge 20 ] && ok "the session covers $n event classes" || not_ok "only $n event classes"

# data, member for member and in govmomi's member order
jq -c "$sel | [.key, .data]" "$T/vc.ndjson" | sort >"$T/vc.data"
jq -c "$sel | [.key, .data]" "$T/govmomi.ndjson" | sort >"$T/govmomi.data"
same "data is govmomi's JSON for every event" "$T/govmomi.data" "$T/vc.data"
# and byte for byte: govmomi's json.Marshal output text is in each line as is
upto() { jq -r .key "$1" | paste -d' ' - "$1" | awk -v l="$last" '$1 <= l' | grep -o '"data":.*}$' | sed 's/}$//' | sort; }
upto "$T/govmomi.ndjson" >"$T/g.bytes"
upto "$T/vc.ndjson" >"$T/v.bytes"
comm -23 "$T/g.bytes" "$T/v.bytes" | sed -n '1,3p' >"$T/missing"
[ ! -s "$T/missing" ] && ok "data bytes equal govmomi's json.Marshal" || { not_ok "data bytes equal govmomi's json.Marshal"; diag "$(cut -c1-300 "$T/missing")"; }
jq -e -s 'map(select(.category=="eventex")) | length > 0' "$T/vc.ndjson" >/dev/null && ok "EventEx included" || not_ok "EventEx included"
done_testing
