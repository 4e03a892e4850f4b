#!/bin/sh
# The vCenter simulator test peer itself: ready line, logins, control ops and
# the event classes they produce (read back with govmomi-events), fault
# injection, restart, session termination, TLS, and history mode.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/vcsim.sh"

command -v go >/dev/null 2>&1 || skip_all "go not installed"
command -v jq >/dev/null 2>&1 || skip_all "jq not installed"
[ -d /usr/share/gocode/src/github.com/vmware/govmomi ] || skip_all "govmomi source not installed"

plan 62

check "build-go.sh builds both peers" "$VP_SRCDIR/t/build-go.sh"

# ---- plain HTTP ------------------------------------------------------------
vcsim_start || bail "vcsim did not start"
case $VCSIM_URL in http://127.0.0.1:*/sdk) ok "ready line: plain url" ;; *) not_ok "ready line url: $VCSIM_URL" ;; esac
is "ready line: no cafile without -tls" "" "$VCSIM_CAFILE"
check "ready line: credentials and instanceUuid" test -n "$VC_USERNAME" -a -n "$VC_PASSWORD" -a -n "$VCSIM_UUID"

soap() { # soap BODY-INNER [curl args]: POST one SOAP call to the public endpoint
	_b=$1; shift
	curl -sS -o "$T/soap.out" -w '%{http_code}' -H 'Content-Type: text/xml; charset="utf-8"' \
		-H 'SOAPAction: "urn:vim25/6.5"' -b "$T/jar" -c "$T/jar" "$@" \
		--data "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Body>$_b</soapenv:Body></soapenv:Envelope>" \
		"$VCSIM_URL"
}
SC='<RetrieveServiceContent xmlns="urn:vim25"><_this type="ServiceInstance">ServiceInstance</_this></RetrieveServiceContent>'
login_xml() { echo "<Login xmlns=\"urn:vim25\"><_this type=\"SessionManager\">SessionManager</_this><userName>$1</userName><password>$2</password></Login>"; }

code=$(soap "$(login_xml "$VC_USERNAME" wrong-password)")
is "wrong password: HTTP 500" 500 "$code"
check "wrong password: InvalidLogin fault" grep -q 'InvalidLoginFault' "$T/soap.out"
code=$(soap "$(login_xml "$VC_USERNAME" "$VC_PASSWORD")")
is "right password: HTTP 200" 200 "$code"
VC_PASSWORD=nope expect_exit "govmomi-events: wrong password fails" 1 govmomi_events -once
expect_exit "govmomi-events: right password reads" 0 govmomi_events -once

# Every op, in order; the classes they produced are compared with the
# expected list, both as the ops report them and as govmomi reads them.
: >"$T/op-classes"
first=""
last=""
run_op() {
	if r=$(vcsim_op "$@"); then
		vcsim_classes "$r" >>"$T/op-classes"
		k=$(printf '%s\n' "$r" | jq -r '.firstKey // empty')
		[ -z "$first" ] && [ -n "$k" ] && first=$k
		k=$(printf '%s\n' "$r" | jq -r '.lastKey // empty')
		[ -n "$k" ] && last=$k
		return 0
	fi
	return 1
}
ops_ok=1
while read -r line; do
	[ -n "$line" ] || continue
	# shellcheck disable=SC2086
	eval "run_op $line" || { ops_ok=0; diag "op failed: $line"; }
done <<'EOF'
power-off
power-on
suspend vm=DC0_H0_VM1
reset
reboot-guest
shutdown-guest
create-vm name=t-new
clone-vm vm=t-new name=t-clone
rename-vm vm=t-clone name=t-renamed
reconfigure-vm vm=t-new cpus=4 memory=8192
destroy-vm vm=t-renamed
migrate-vm
host-enter-maintenance
host-exit-maintenance
host-disconnect
host-reconnect
login
login password=wrong
create-datacenter name=DC-test
post-event class=VmMigratedEvent
post-event class=AlarmStatusChangedEvent 'fields={"To":"yellow"}'
post-event class=DrsVmPoweredOnEvent
post-event class=HostConnectedEvent host=DC0_H0
post-event class=VmReconfiguredEvent
post-event class=GeneralUserEvent user=VSPHERE.LOCAL\\svc-test
post-eventex eventTypeId=com.example.test.ex severity=warning 'arguments={"b":"2","a":"1"}'
post-extendedevent eventTypeId=com.example.test.ext 'data={"k":"v"}'
EOF
is "every op succeeded" 1 "$ops_ok"
same "ops report the expected event classes" "$VP_SRCDIR/t/expected/0100-vcsim-ops.classes" "$T/op-classes"

govmomi_events -once -page 1000 >"$T/read.json"
jq -r "select(.key >= $first and .key <= $last) | .class" "$T/read.json" >"$T/read-classes"
same "govmomi-events reads the same classes, oldest first" "$VP_SRCDIR/t/expected/0100-vcsim-ops.classes" "$T/read-classes"

ev() { jq -c "select(.key >= $first and .class == \"$1\") | .data" "$T/read.json" | tail -n 1; }
is "VmMigratedEvent: VM, source and target hosts are real" \
	'["DC0_C0_RP0_VM0",true,true]' \
	"$(ev VmMigratedEvent | jq -c '[.Vm.Name, (.SourceHost.Name|startswith("DC0_C0_H")), (.Host.Name|startswith("DC0_C0_H"))]')"
is "AlarmStatusChangedEvent: fields override defaults" '["green","yellow","Alarm"]' \
	"$(ev AlarmStatusChangedEvent | jq -c '[.From, .To, .Alarm.Alarm.Type]')"
is "VmReconfiguredEvent from reconfigure-vm carries the configSpec" '[4,8192]' \
	"$(jq -c "select(.key >= $first and .class == \"VmReconfiguredEvent\") | .data.ConfigSpec | [.NumCPUs, .MemoryMB]" "$T/read.json" | head -n 1)"
is "post-event user= sets userName" '"VSPHERE.LOCAL\\svc-test"' "$(ev GeneralUserEvent | jq -c .UserName)"
is "EventEx: type id, severity, sorted arguments" '["com.example.test.ex","warning","a","b"]' \
	"$(ev com.example.test.ex | jq -c '[.EventTypeId, .Severity, .Arguments[0].Key, .Arguments[1].Key]')"
is "ExtendedEvent: type id, managed object, data" '["com.example.test.ext","HostSystem","k"]' \
	"$(ev com.example.test.ext | jq -c '[.EventTypeId, .ManagedObject.Type, .Data[0].Key]')"
is "RenamedEvent names old and new" '["t-clone","t-renamed"]' "$(ev VmRenamedEvent | jq -c '[.OldName, .NewName]')"
is "BadUsernameSessionEvent names the user who failed" "\"$VC_USERNAME\"" "$(ev BadUsernameSessionEvent | jq -c .UserName)"

r=$(vcsim_op events)
is "events op: newest is the reader's logout, just after what it read" \
	"$(jq -s 'map(.key) | max + 1' "$T/read.json") UserLogoutSessionEvent" \
	"$(printf '%s\n' "$r" | jq -r '"\(.newestKey) \(.newestClass)"')"
expect_exit "unknown op: HTTP error" 1 vcsim_op no-such-op
expect_exit "history-only op refused without -history" 1 vcsim_op skip-keys n=5
expect_exit "bad parameter refused" 1 vcsim_op post-event class=NoSuchEvent

# ---- faults ------------------------------------------------------------------
vcsim_op fault mode=http500 >/dev/null
is "fault http500: 500" 500 "$(soap "$SC")"
is "fault http500: only the next request" 200 "$(soap "$SC")"
vcsim_op fault mode=malformed-xml >/dev/null
code=$(soap "$SC")
if [ "$code" = 200 ] && grep -q '<broken attr="x></soapenv:Body>' "$T/soap.out"; then
	ok "fault malformed-xml: 200 with a broken body"
else not_ok "fault malformed-xml: got $code"; fi
vcsim_op fault mode=notauthenticated >/dev/null
code=$(soap "$SC")
if [ "$code" = 500 ] && grep -q 'NotAuthenticatedFault xmlns="urn:vim25" xsi:type="NotAuthenticated"' "$T/soap.out"; then
	ok "fault notauthenticated: SOAP fault"
else not_ok "fault notauthenticated: got $code"; fi
vcsim_op fault mode=cut >/dev/null
expect_exit "fault cut: transfer closed early (curl 18)" 18 soap "$SC"
vcsim_op fault mode=hang >/dev/null
expect_exit "fault hang: no answer (curl 28)" 28 soap "$SC" -m 1
vcsim_op fault mode=slow delay=200 count=2 >/dev/null
is "fault slow: answered" 200 "$(soap "$SC")"
is "fault slow: one use left" 1 "$(vcsim_op status | jq .fault.count)"
vcsim_op fault mode=none >/dev/null
vcsim_op fault mode=http500 method=Login count=1 >/dev/null
is "fault method filter: other methods pass" 200 "$(soap "$SC")"
rm -f "$T/jar"
code=$(soap "$(login_xml "$VC_USERNAME" "$VC_PASSWORD")")
is "fault method filter: Login gets it" "500 injected" "$code $(grep -o injected "$T/soap.out")"
rm -f "$T/jar"
is "fault method filter: used up" 200 "$(soap "$(login_xml "$VC_USERNAME" "$VC_PASSWORD")")"

# ---- sessions and restart ----------------------------------------------------
govmomi_events -mode readnext -poll 100ms >"$T/follow.out" 2>"$T/follow.err" &
fpid=$!
bg_pid $fpid
wait_for 10 grep -q . "$T/follow.out" || true
r=$(vcsim_op terminate-sessions)
check "terminate-sessions ended sessions" test "$(printf '%s\n' "$r" | jq .terminated)" -ge 1
set +e; wait $fpid; frc=$?; set -e
is "follower exits after its session was terminated" 1 "$frc"
check "follower saw NotAuthenticated" grep -q NotAuthenticated "$T/follow.err"

before=$(vcsim_op events | jq .total)
vcsim_op restart delay=1500 >/dev/null
expect_exit "restart: connection refused while down (curl 7)" 7 soap "$SC"
check "restart: back on the same port" wait_for 20 soap "$SC"
is "restart: event history kept" "$before" "$(vcsim_op events | jq .total)"
expect_exit "restart: readers can log in again" 0 govmomi_events -once
vcsim_stop

# ---- TLS ---------------------------------------------------------------------
vcsim_start -tls || bail "vcsim -tls did not start"
case $VCSIM_URL in https://127.0.0.1:*/sdk) ok "tls: https url" ;; *) not_ok "tls url: $VCSIM_URL" ;; esac
check "tls: curl verifies against the CA file" curl -sS --cacert "$VCSIM_CAFILE" -o /dev/null "${VCSIM_URL%/sdk}/sdk/vimServiceVersions.xml"
expect_exit "tls: curl without the CA fails verification (60)" 60 curl -sS -o /dev/null "${VCSIM_URL%/sdk}/sdk/vimServiceVersions.xml"
expect_exit "tls: govmomi-events with -cafile" 0 govmomi_events -once
expect_exit "tls: govmomi-events without CA fails" 1 "$GOVMOMI_EVENTS_BIN" -url "$VCSIM_URL" -once
expect_exit "tls: govmomi-events -insecure" 0 "$GOVMOMI_EVENTS_BIN" -url "$VCSIM_URL" -insecure -once
vcsim_stop

# ---- history mode --------------------------------------------------------------
vcsim_start -history || bail "vcsim -history did not start"
vcsim_op post-burst count=25 >/dev/null
govmomi_events -once -mode readnext -page 7 >"$T/h1.json"
is "history: ReadNextEvents from the oldest, in key order" \
	"$(seq 1 25 | tr '\n' ' ')" "$(jq -r .key "$T/h1.json" | head -n 25 | tr '\n' ' ')"
govmomi_events -once -page 5 >"$T/h-latest.json"
newest=$(jq -s 'map(.key) | max' "$T/h-latest.json")
is "history: latestPage is the newest page (ending with this reader's login)" \
	"$(seq $((newest - 4)) "$newest" | tr '\n' ' ')UserLoginSessionEvent" \
	"$(jq -r .key "$T/h-latest.json" | tr '\n' ' ')$(jq -r 'select(.key == '"$newest"') | .class' "$T/h-latest.json")"

vcsim_op skip-keys n=5000 >/dev/null
r=$(vcsim_op post-burst count=1)
gap_key=$(printf '%s\n' "$r" | jq .firstKey)
vcsim_op set-next-key key=2147483646 >/dev/null
vcsim_op post-burst count=3 >/dev/null
govmomi_events -once -mode readnext -page 1000 >"$T/h2.json"
jq -r 'select(.class | startswith("VmPowered")) | .key' "$T/h2.json" | tail -n 4 >"$T/h2.keys"
printf '%s\n' "$gap_key" 2147483646 2147483647 -2147483648 >"$T/h2.want"
same "history: key gap and int32 wrap-around, in creation order" "$T/h2.want" "$T/h2.keys"
check "history: gap is 5000 keys wide" test "$gap_key" -ge 5026

for c in A B C D; do sleep 0.05; vcsim_op post-eventex eventTypeId=com.example.$c >/dev/null; done
govmomi_events -once -mode readnext -page 1000 >"$T/h3all.json"
ta=$(jq -r 'select(.class == "com.example.B") | .data.CreatedTime' "$T/h3all.json")
tc=$(jq -r 'select(.class == "com.example.C") | .data.CreatedTime' "$T/h3all.json")
govmomi_events -once -mode readnext -begin "$ta" -end "$tc" >"$T/h3.json"
is "history: time filter, begin and end inclusive" "com.example.B com.example.C" \
	"$(jq -r .class "$T/h3.json" | tr '\n' ' ' | sed 's/ $//')"

# post-burst rate=20: 10 events 50 ms apart (creation times span 0.45 s),
# where a plain burst creates them within a few milliseconds
r=$(vcsim_op post-burst count=10 rate=20)
first=$(printf '%s\n' "$r" | jq .firstKey) last=$(printf '%s\n' "$r" | jq .lastKey)
govmomi_events -once -mode readnext -page 1000 >"$T/h4.json"
span=$(jq -s --argjson a "$first" --argjson b "$last" '
	def t: .data.CreatedTime | capture("^(?<s>[^.]+)[.](?<f>[0-9]+)Z$")
	    | ((.s + "Z") | fromdateiso8601) + ("0." + .f | tonumber);
	map(select(.key == $a or .key == $b) | t) | .[1] - .[0]' "$T/h4.json")
check "history: post-burst rate=20 spreads 10 events over 0.45 s ($span s)" \
	awk -v s="$span" 'BEGIN { exit !(s >= 0.44 && s < 2) }'

# The collector calls themselves, over raw SOAP.
rm -f "$T/jar"
soap "$(login_xml "$VC_USERNAME" "$VC_PASSWORD")" >/dev/null
soap '<CreateCollectorForEvents xmlns="urn:vim25"><_this type="EventManager">EventManager</_this><filter></filter></CreateCollectorForEvents>' >/dev/null
coll=$(sed -n 's/.*<returnval type="EventHistoryCollector">\([^<]*\)<.*/\1/p' "$T/soap.out")
call() { soap "<$1 xmlns=\"urn:vim25\"><_this type=\"EventHistoryCollector\">$coll</_this>$2</$1>" >/dev/null; }
keys() { grep -o '<key>-\{0,1\}[0-9]*</key>' "$T/soap.out" | sed 's/<[^>]*>//g' | tr '\n' ' ' | sed 's/ $//'; }
call ReadNextEvents '<maxCount>3</maxCount>'
is "soap: ReadNextEvents(3) from the start" "1 2 3" "$(keys)"
call ReadPreviousEvents '<maxCount>2</maxCount>'
is "soap: ReadPreviousEvents(2) goes back" "2 3" "$(keys)"
call RewindCollector ''
call ResetCollector ''
call SetCollectorPageSize '<maxCount>2</maxCount>'
call ResetCollector ''
call ReadNextEvents '<maxCount>100</maxCount>'
n=$(keys | wc -w)
is "soap: ResetCollector leaves just the latest page (2) to read" 2 "$n"
call ReadNextEvents '<maxCount>100</maxCount>'
is "soap: nothing more at the end" "" "$(keys)"
vcsim_op post-eventex eventTypeId=com.example.after >/dev/null
call ReadNextEvents '<maxCount>100</maxCount>'
check "soap: newer events appear after the end" grep -q com.example.after "$T/soap.out"
call DestroyCollector ''
call ReadNextEvents '<maxCount>1</maxCount>'
check "soap: destroyed collector is gone" grep -q ManagedObjectNotFound "$T/soap.out"
soap '<CreateCollectorForEvents xmlns="urn:vim25"><_this type="EventManager">EventManager</_this><filter></filter></CreateCollectorForEvents>' >/dev/null
is "history: one live collector" 1 "$(vcsim_op status | jq .collectors)"
vcsim_op terminate-sessions >/dev/null
collectors_gone() { [ "$(vcsim_op status | jq .collectors)" = 0 ]; }
check "history: collectors die with their session" wait_for 15 collectors_gone
vcsim_stop

done_testing
