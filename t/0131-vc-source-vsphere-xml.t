#!/bin/sh
# VSphereSource's payloads: vc-source --xml carries each event as Tanzu's
# VSphereSource sends it with its default application/xml encoding
# (encoding/xml.Marshal of the event govmomi decoded), byte for byte what
# govmomi gives over a varied simulator session; ce-encode --type-style
# vsphere --payload-encoding application/xml turns it into the CloudEvent
# VSphereSource sends: XML data, eventclass and vsphereapiversion.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/vcsim.sh"
plan 12

vcsim_start -tls || bail "simulator did not start"
ops() {
	vcsim_op power-off; vcsim_op power-on; vcsim_op suspend; vcsim_op power-on
	vcsim_op create-vm name=x1; vcsim_op rename-vm vm=x1 name="x \"2\" <&> é"
	vcsim_op reconfigure-vm vm=DC0_H0_VM0 annotation='line1
line2	tab'
	vcsim_op destroy-vm vm='x "2" <&> é'; vcsim_op migrate-vm; vcsim_op login password=wrong
	for c in AlarmStatusChangedEvent HostConnectionLostEvent TaskEvent VmFailedToPowerOnEvent \
		DvsCreatedEvent PermissionAddedEvent; do
		vcsim_op post-event class=$c
	done
	vcsim_op post-eventex eventTypeId=com.vmware.vc.HA.ClusterFailoverActionCompletedEvent \
		arguments='{"reason":"a <b> & \"c\"","count":"2"}'
	vcsim_op post-extendedevent eventTypeId=com.example.ext data='{"k":"v"}'
}
ops >"$T/ops.json" 2>"$T/ops.err" || { diag "$(cat "$T/ops.err")"; bail "an operation failed"; }
last=$(vcsim_op events | jq .newestKey)
V="vc-source --url $VCSIM_URL --ca-file $VCSIM_CAFILE"

$V --begin 1h --once --xml >"$T/vc.ndjson" 2>"$T/vc.err"
govmomi_events -once -page 1000 -xml >"$T/govmomi.ndjson" 2>"$T/g.err"
sel='select(.key <= '"$last"')'
jq -c "$sel | [.key, .xml]" "$T/vc.ndjson" | sort >"$T/vc.xml"
jq -c "$sel | [.key, .xml]" "$T/govmomi.ndjson" | sort >"$T/govmomi.xml"
n=$(wc -l <"$T/govmomi.xml")
[ "$n" -ge 25 ] && ok "the session has $n events" || not_ok "the session has $n events"
same "xml is VSphereSource's payload (encoding/xml.Marshal) for every event" "$T/govmomi.xml" "$T/vc.xml"
jq -c "$sel | [.key, .data]" "$T/vc.ndjson" | sort >"$T/vc.data"
jq -c "$sel | [.key, .data]" "$T/govmomi.ndjson" | sort >"$T/govmomi.data"
same "data is still govmomi's JSON beside it" "$T/govmomi.data" "$T/vc.data"
$V --begin 1h --once >"$T/plain.ndjson" 2>"$T/plain.err"
is "without --xml there is no xml member" 0 "$(jq -c 'select(has("xml"))' "$T/plain.ndjson" | wc -l)"

# the CloudEvents VSphereSource sends
ce-encode --type-style vsphere --id key --payload-encoding application/xml --mode binary \
	<"$T/vc.ndjson" >"$T/bin.ndjson" 2>"$T/ce.err"
is "binary: every event encoded" "$(wc -l <"$T/vc.ndjson")" "$(wc -l <"$T/bin.ndjson")"
line=$(grep -m1 '"ce-subject":"VmPoweredOnEvent"' "$T/bin.ndjson")
is "binary: content-type application/xml" '"application/xml"' "$(printf '%s' "$line" | jq '.headers["content-type"]')"
is "binary: the body is the XML" "$(grep -m1 '"class":"VmPoweredOnEvent"' "$T/vc.ndjson" | jq .xml)" "$(printf '%s' "$line" | jq .body)"
is "binary: VSphereSource's type, id = key, eventclass" '["com.vmware.vsphere.VmPoweredOnEvent.v0",true,"event"]' \
	"$(printf '%s' "$line" | jq -c '[.headers["ce-type"], (.headers["ce-id"] == .headers["ce-eventkey"]), .headers["ce-eventclass"]]')"
api=$(head -1 "$T/vc.ndjson" | jq -r .apiVersion)
is "binary: vsphereapiversion is the server's API version ($api)" "\"$api\"" "$(printf '%s' "$line" | jq '.headers["ce-vsphereapiversion"]')"
ce-encode --type-style vsphere --payload-encoding application/xml <"$T/vc.ndjson" >"$T/st.ndjson" 2>"$T/st.err"
jq -e -s 'all(.[]; .datacontenttype == "application/xml" and (.data | type) == "string" and
	(.data | startswith("<")) and .vsphereapiversion != null and .eventclass != null)' "$T/st.ndjson" >/dev/null &&
	ok "structured: XML data as a string, datacontenttype application/xml" || not_ok "structured: XML data"
expect_exit "application/xml without vc-source --xml: the line is refused" 65 \
	ce-encode --strict --payload-encoding application/xml <"$T/plain.ndjson"
grep -q 'run vc-source with --xml' "$T/.exit.err" && ok "the message says how" || not_ok "the message says how"
done_testing
