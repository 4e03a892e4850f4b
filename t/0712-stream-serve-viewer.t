#!/bin/sh
# stream-serve's event viewer in headless Chromium: events already in the log
# and events arriving while the page is open are shown, filtered by type and
# by text.
. "${0%/*}/lib.sh"
PATH="$VP_BUILDDIR/src/stream-serve:$PATH"
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[ -n "$CHROMIUM" ] || skip_all "chromium not installed"
command -v curl >/dev/null || skip_all "curl not installed"
plan 12

mkfifo "$T/in"
$VP_WRAP stream-serve --listen 127.0.0.1:0 <"$T/in" >"$T/out" 2>"$T/err" &
pid=$!; bg_pid $pid
exec 4>"$T/in"
wait_for 10 grep -q 'port [0-9]' "$T/err" || bail "stream-serve did not start"
port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$T/err")
base=http://127.0.0.1:$port

# ev KEY TYPE SUBJECT: one event line
ev() {
	printf '{"specversion":"1.0","id":"%s","source":"https://vc.example.com/sdk","type":"com.vmware.vsphere.%s.v0","subject":"%s","time":"2026-11-23T09:00:%02dZ","eventkey":%s,"data":{"Key":%s,"FullFormattedMessage":"<b>%s</b> on vm-%s"}}\n' \
		"$1" "$2" "$2" "$(($1 % 60))" "$1" "$1" "$3" "$1"
}
{ ev 101 VmPoweredOnEvent "Power on"; ev 102 VmPoweredOffEvent "Power off"
  ev 105 VmPoweredOnEvent "Power on again"; } >&4
wait_for 10 sh -c "curl -s $base/api/v1/range | grep -q 105" || bail "events not in"

chrome_flags="--headless --no-sandbox --disable-gpu --disable-background-networking
	--disable-component-update --disable-sync --no-first-run"
# visible ARGS: offsets of the rows shown after loading the viewer with ARGS
visible() {
	rm -rf "$T/profile"
	# shellcheck disable=SC2086
	timeout 60 "$CHROMIUM" $chrome_flags --user-data-dir="$T/profile" \
		--virtual-time-budget=5000 --dump-dom "$base/$1" 2>/dev/null |
		tr '\n' ' ' | grep -o '<tr class="ev[^"]*" data-type="[^"]*" data-offset="[0-9]*"' |
		grep -v 'hidden' | sed 's/.*data-offset="\([0-9]*\)"/\1/' | tr '\n' ' '
}
is "all events shown, newest first" "105 102 101 " "$(visible '')"
is "filtered by type" "105 101 " "$(visible '?type=com.vmware.vsphere.VmPoweredOnEvent.v0')"
is "filtered by text (case-insensitive, in the event's data)" "105 " "$(visible '?q=VM-105')"
is "markup in event data is text, not HTML" "" \
	"$(visible '?q=vm-101' >/dev/null; timeout 60 "$CHROMIUM" $chrome_flags \
	--user-data-dir="$T/profile2" --virtual-time-budget=5000 --dump-dom "$base/" \
	2>/dev/null | grep -o '<b>Power' || true)"

# live: keep two pages open, one filtered, and feed events while they watch
rm -rf "$T/live"
# shellcheck disable=SC2086
"$CHROMIUM" $chrome_flags --user-data-dir="$T/live" --remote-debugging-port=0 \
	"$base/?q=power%20off" >/dev/null 2>&1 &
bg_pid $!
wait_for 30 test -s "$T/live/DevToolsActivePort" || bail "chromium did not start"
dport=$(head -n 1 "$T/live/DevToolsActivePort")
curl -s -X PUT "http://127.0.0.1:$dport/json/new?$base/" >/dev/null
# titles: the pages' titles, which the viewer keeps as "events: N (M shown)"
titles() { curl -s "http://127.0.0.1:$dport/json/list" |
	jq -r '[.[] | select(.type == "page") | .title] | sort | join(" | ")'; }
wait_for 30 sh -c "[ \"\$(curl -s http://127.0.0.1:$dport/json/list | jq -r '[.[] | select(.type==\"page\") | .title] | sort | join(\" | \")')\" = 'events: 3 (1 shown) | events: 3 (3 shown)' ]" || true
is "both pages loaded the log" "events: 3 (1 shown) | events: 3 (3 shown)" "$(titles)"
{ ev 110 VmPoweredOffEvent "Power off later"; ev 111 VmMigratedEvent "Migrated"; } >&4
wait_for 30 sh -c "[ \"\$(curl -s http://127.0.0.1:$dport/json/list | jq -r '[.[] | select(.type==\"page\") | .title] | sort | join(\" | \")')\" = 'events: 5 (2 shown) | events: 5 (5 shown)' ]" || true
is "events arriving later appear, filter applied" "events: 5 (2 shown) | events: 5 (5 shown)" "$(titles)"
ev 200 VmPoweredOffEvent "Power off much later" >&4
wait_for 30 sh -c "curl -s http://127.0.0.1:$dport/json/list | grep -q 'events: 6 (3 shown)'" || true
is "and keep appearing" "events: 6 (3 shown) | events: 6 (6 shown)" "$(titles)"

# the filter controls, used as a person would: type text, pick a type
visible_js="[...document.querySelectorAll('tr.ev:not(.hidden)')].map(r => r.dataset.offset).join(' ')"
if node --experimental-websocket -e 'WebSocket' >/dev/null 2>&1; then
	node --experimental-websocket "$VP_SRCDIR/t/data/stream-viewer-cdp.js" \
		"$dport" "$base/" \
		"(() => { const q = document.getElementById('q'); q.value = 'LATER'; q.dispatchEvent(new Event('input')); return $visible_js; })()" \
		"(() => { const q = document.getElementById('q'); q.value = ''; q.dispatchEvent(new Event('input')); const t = document.getElementById('type'); t.value = 'com.vmware.vsphere.VmMigratedEvent.v0'; t.dispatchEvent(new Event('change')); return $visible_js; })()" \
		"[...document.getElementById('type').options].map(o => o.value).join(',')" \
		>"$T/cdp" 2>"$T/cdp.err" || diag "$(cat "$T/cdp.err")"
	is "typing in the text filter" "200 110" "$(sed -n 1p "$T/cdp")"
	is "picking a type" "111" "$(sed -n 2p "$T/cdp")"
	is "the type list holds every type seen" ",com.vmware.vsphere.VmPoweredOnEvent.v0,com.vmware.vsphere.VmPoweredOffEvent.v0,com.vmware.vsphere.VmMigratedEvent.v0" \
		"$(sed -n 3p "$T/cdp")"
else
	for i in 1 2 3; do ok "# SKIP node without WebSocket"; done
fi

kill -TERM $pid
set +e; wait $pid; rc=$?; set -e
is "stream-serve stops with pages watching: exit 0" 0 "$rc"
check "no errors logged" sh -c "! grep -i error '$T/err'"
