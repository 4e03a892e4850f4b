#!/bin/sh
# stream-serve's event viewer in headless Chromium.  Rows show what a vSphere
# admin reads (time, event class, message, objects, user, vCenter); filters
# by class, vCenter, object, user, time range and text, from the address or
# the controls; a click shows the whole event; counts per class and events
# per minute; events arriving while the page is open appear; at phone width
# the page fits the screen.  The screenshots the README shows are made here,
# from 5 minutes of the demo (t/data/viewer-demo.ndjson, recorded from
# `bin/bootstrap demo`): VP_UPDATE_SCREENSHOTS=1 copies them to t/expected.
. "${0%/*}/lib.sh"
PATH="$VP_BUILDDIR/src/stream-serve:$PATH"
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[ -n "$CHROMIUM" ] || skip_all "chromium not installed"
command -v curl >/dev/null || skip_all "curl not installed"
command -v jq >/dev/null || skip_all "jq not installed"
node --experimental-websocket -e 'WebSocket' >/dev/null 2>&1 || skip_all "node with WebSocket not installed"
plan 35

# every time on the page is UTC, so the expected strings are too
TZ=UTC
export TZ

# serve FILE-OR-FIFO NAME: start stream-serve on it; sets $base
serve() {
	$VP_WRAP stream-serve --listen 127.0.0.1:0 <"$1" >"$T/$2.out" 2>"$T/$2.err" &
	bg_pid $!
	eval "${2}_pid=\$!"
	wait_for 60 grep -q 'port [0-9]' "$T/$2.err" || bail "stream-serve did not start"
	base=http://127.0.0.1:$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$T/$2.err")
}

mkfifo "$T/in"
exec 4<>"$T/in"	# read-write: opening does not wait for the reader
serve "$T/in" live

# ev KEY MINUTE:SECOND CLASS VCENTER VM HOST DATACENTER USER MESSAGE: one event
ev() {
	jq -nc --arg k "$1" --arg t "2026-11-23T09:$2Z" --arg c "$3" --arg vc "$4" --arg vm "$5" \
		--arg h "$6" --arg dc "$7" --arg u "$8" --arg m "$9" '{specversion: "1.0",
		id: $k, source: "https://\($vc)/sdk", type: "com.vmware.event.router/event",
		subject: $c, time: $t, datacontenttype: "application/json", eventkey: ($k | tonumber),
		data: {Key: ($k | tonumber), CreatedTime: $t, UserName: $u,
		  Datacenter: {Name: $dc, Datacenter: {Type: "Datacenter", Value: "datacenter-2"}},
		  Host: {Name: $h, Host: {Type: "HostSystem", Value: "host-21"}},
		  Vm: {Name: $vm, Vm: {Type: "VirtualMachine", Value: "vm-\($k)"}},
		  FullFormattedMessage: $m}}'
}
{
	ev 101 00:01 VmPoweredOnEvent vc01.example.com web-01 esx-01 DC-West 'VSPHERE.LOCAL\Administrator' '<b>Power on</b> web-01 on esx-01'
	ev 102 01:02 VmPoweredOffEvent vc01.example.com web-02 esx-01 DC-West 'CORP\alice' 'web-02 on esx-01 in DC-West is powered off'
	ev 105 02:03 VmPoweredOnEvent vc02.example.com db-01 esx-07 DC-East 'CORP\bob' 'db-01 on esx-07 in DC-East is powered on'
} >&4
wait_for 10 sh -c "curl -s $base/api/v1/range | grep -q 105" || bail "events not in"

chrome_flags="--headless --no-sandbox --disable-gpu --disable-background-networking
	--disable-component-update --disable-sync --no-first-run --hide-scrollbars"
is "markup in event data is text, not HTML" "" \
	"$(timeout 60 "$CHROMIUM" $chrome_flags --user-data-dir="$T/profile" \
	--virtual-time-budget=5000 --dump-dom "$base/" 2>/dev/null | grep -o '<b>Power' || true)"

# two pages, one filtered: the second one loads filters from its address
rm -rf "$T/live"
# shellcheck disable=SC2086
"$CHROMIUM" $chrome_flags --user-data-dir="$T/live" --remote-debugging-port=0 \
	--window-size=1280,800 "$base/?q=powered%20off" >/dev/null 2>&1 &
bg_pid $!
wait_for 60 test -s "$T/live/DevToolsActivePort" || bail "chromium did not start"
dport=$(head -n 1 "$T/live/DevToolsActivePort")
curl -s -X PUT "http://127.0.0.1:$dport/json/new?$base/" >/dev/null
cdp() { node --experimental-websocket "$VP_SRCDIR/t/data/stream-viewer-cdp.js" "$dport" "$base/" "$@" 2>"$T/cdp.err" ||
	diag "$(cat "$T/cdp.err")"; }
shown_js="[...document.querySelectorAll('tr.ev:not(.hidden)')].map(r => r.dataset.offset).join(' ')"
# visible ARGS ...: the rows shown, newest first, after loading the page with each ARGS
visible() {
	for _v; do set -- "$@" "goto:$base/$_v" "wait:document.title.startsWith('events: 3 ')" "$shown_js"; shift; done
	cdp "$@" "goto:$base/"
}
visible '' '?class=VmPoweredOnEvent' '?vc=vc02.example.com' '?object=WEB' '?object=esx-07' \
	'?user=CORP%5Calice' '?from=2026-11-23T09:01:00&to=2026-11-23T09:01:59' \
	'?class=VmPoweredOnEvent&vc=vc01.example.com' '?q=VM-105' >"$T/visible"
is "all events shown, newest first" "105 102 101" "$(sed -n 1p "$T/visible")"
is "filtered by class" "105 101" "$(sed -n 2p "$T/visible")"
is "filtered by vCenter" "105" "$(sed -n 3p "$T/visible")"
is "filtered by object (VM name, any case)" "102 101" "$(sed -n 4p "$T/visible")"
is "filtered by object (host name)" "105" "$(sed -n 5p "$T/visible")"
is "filtered by user" "102" "$(sed -n 6p "$T/visible")"
is "filtered by time range" "102" "$(sed -n 7p "$T/visible")"
is "filters combine" "101" "$(sed -n 8p "$T/visible")"
is "filtered by text anywhere in the event (case-insensitive)" "105" "$(sed -n 9p "$T/visible")"

# live: events arrive while both pages watch
# titles: the pages' titles, which the viewer keeps as "events: N (M shown)"
titles() { curl -s "http://127.0.0.1:$dport/json/list" |
	jq -r '[.[] | select(.type == "page") | .title] | sort | join(" | ")'; }
titles_are() { [ "$(titles)" = "$1" ]; }
wait_for 30 titles_are 'events: 3 (1 shown) | events: 3 (3 shown)' || true
is "both pages loaded the log" "events: 3 (1 shown) | events: 3 (3 shown)" "$(titles)"
{ ev 110 03:00 VmPoweredOffEvent vc02.example.com db-01 esx-07 DC-East 'CORP\bob' 'db-01 on esx-07 in DC-East is powered off'
  ev 111 03:30 VmMigratedEvent vc01.example.com web-01 esx-02 DC-West 'CORP\alice' 'Migration of web-01 from esx-01 to esx-02 completed'; } >&4
wait_for 30 titles_are 'events: 5 (2 shown) | events: 5 (5 shown)' || true
is "events arriving later appear, filter applied" "events: 5 (2 shown) | events: 5 (5 shown)" "$(titles)"
ev 200 10:00 VmPoweredOffEvent vc01.example.com web-02 esx-01 DC-West 'CORP\alice' 'web-02 on esx-01 in DC-West is powered off' >&4
wait_for 30 titles_are 'events: 6 (3 shown) | events: 6 (6 shown)' || true
is "and keep appearing" "events: 6 (3 shown) | events: 6 (6 shown)" "$(titles)"

# the page as a person uses it
set_js() { # set_js ID VALUE EVENT: set a control as a person would
	printf "(() => { const e = document.getElementById('%s'); e.value = '%s'; e.dispatchEvent(new Event('%s')); return %s; })()" \
		"$1" "$2" "$3" "$shown_js"; }
row_js="(() => { const r = document.querySelector('tr.ev[data-offset=\"111\"]'), c = r.cells;
	return [c[0].textContent, c[1].textContent, c[2].textContent,
	  [...c[3].querySelectorAll('.obj')].map(o => o.textContent).join(', '),
	  c[4].textContent, c[5].textContent].join(' | '); })()"
cdp "$row_js" >"$T/row"
is "a row: time, class, message, objects, user, vCenter" \
	"2026-11-23 09:03:30 | VmMigratedEvent | Migration of web-01 from esx-01 to esx-02 completed | VM web-01, host esx-02, datacenter DC-West | CORP\\alice | vc01.example.com" \
	"$(cat "$T/row")"
cdp "$(set_js q MIGRATION input)" "$(set_js q '' input)" "$(set_js class VmMigratedEvent change)" \
	"$(set_js class '' change)" "$(set_js object db input)" "$(set_js object '' input)" \
	"$(set_js user 'CORP\\alice' change)" "$(set_js user '' change)" \
	"$(set_js vc vc02.example.com change)" "$(set_js vc '' change)" \
	"$(set_js from 2026-11-23T09:03:00 input)" "$(set_js to 2026-11-23T09:03:59 input)" \
	"$(set_js from '' input)" "$(set_js to '' input)" >"$T/controls"
is "typing text" "111" "$(sed -n 1p "$T/controls")"
is "picking a class" "111" "$(sed -n 3p "$T/controls")"
is "typing part of an object name" "110 105" "$(sed -n 5p "$T/controls")"
is "picking a user" "200 111 102" "$(sed -n 7p "$T/controls")"
is "picking a vCenter" "110 105" "$(sed -n 9p "$T/controls")"
is "setting a time range" "111 110" "$(sed -n 12p "$T/controls")"
is "clearing every filter shows all" "200 111 110 105 102 101" "$(sed -n 14p "$T/controls")"
cdp "[...document.getElementById('class').options].map(o => o.value).join(',')" \
	"[...document.querySelectorAll('#classes li')].map(l => l.dataset.class + '=' + l.querySelector('.n').textContent).join(' ')" \
	"document.getElementById('chart').dataset.counts" \
	"(() => { document.querySelector('#classes li[data-class=\"VmPoweredOffEvent\"]').click(); return $shown_js + ' / ' + document.getElementById('class').value; })()" \
	"(() => { document.querySelector('#classes li[data-class=\"VmPoweredOffEvent\"]').click(); return $shown_js; })()" \
	>"$T/summary"
is "the class list holds every class seen" ",VmPoweredOnEvent,VmPoweredOffEvent,VmMigratedEvent" "$(sed -n 1p "$T/summary")"
is "counts per class, most first" "VmPoweredOffEvent=3 VmPoweredOnEvent=2 VmMigratedEvent=1" "$(sed -n 2p "$T/summary")"
# 09:00 .. 09:10, padded to 15 one-minute bars ending at the newest event
is "events per minute" "0,0,0,0,1,1,1,2,0,0,0,0,0,0,1" "$(sed -n 3p "$T/summary")"
is "clicking a class filters by it" "200 110 102 / VmPoweredOffEvent" "$(sed -n 4p "$T/summary")"
is "clicking it again clears it" "200 111 110 105 102 101" "$(sed -n 5p "$T/summary")"
cdp "(() => { document.querySelector('tr.ev[data-offset=\"102\"] td.msg').click();
	const d = document.querySelector('tr.ev[data-offset=\"102\"]').nextElementSibling;
	return d.className + ' ' + JSON.parse(d.querySelector('pre').textContent).data.UserName; })()" \
	"(() => { document.querySelector('tr.ev[data-offset=\"102\"] td.time').click(); return document.querySelectorAll('tr.detail').length; })()" \
	>"$T/click"
is "a click on a row shows its JSON" 'detail CORP\alice' "$(sed -n 1p "$T/click")"
is "a second click hides it" 0 "$(sed -n 2p "$T/click")"

# phone width: nothing wider than the screen, one card per event
cdp viewport:390:844 "document.documentElement.scrollWidth + ' ' +
	getComputedStyle(document.querySelector('tr.ev')).display + ' ' +
	[...document.querySelectorAll('tr.ev td')].every(td => td.getBoundingClientRect().right <= 391)" \
	"screenshot:$T/live-phone.png" >"$T/phone"
is "at phone width the page fits and rows are cards" "390 grid true" "$(cat "$T/phone")"

# the README's screenshots: the demo's events, desktop and phone
serve "$VP_SRCDIR/t/data/viewer-demo.ndjson" demo
curl -s -X PUT "http://127.0.0.1:$dport/json/new?$base/" >/dev/null
mkdir -p "$VP_BUILDDIR/t"
cdp viewport:1280:800 "wait:document.title === 'events: 252 (252 shown)'" \
	"wait:document.getAnimations().length === 0" \
	"(() => { const r = document.querySelector('tr.ev[data-class=\"VmPoweredOnEvent\"]'), c = r.cells;
	  return [c[2].textContent, [...c[3].querySelectorAll('.obj i')].map(o => o.textContent.trim()).join(','),
	    c[4].textContent, c[5].textContent].join(' | '); })()" \
	"screenshot:$VP_BUILDDIR/t/viewer-desktop.png" \
	viewport:390:844 "document.documentElement.scrollWidth" "screenshot:$VP_BUILDDIR/t/viewer-phone.png" \
	>"$T/demo"
is "the demo's events read as vCenter wrote them" \
	"DC0_H0_VM0 on DC0_H0 in DC0 is powered on | VM,host,cluster,datacenter | administrator@vsphere.local | 127.0.0.1:8989" \
	"$(sed -n 1p "$T/demo")"
is "the demo at phone width fits" 390 "$(sed -n 2p "$T/demo")"
png_size() { od -An -tu1 -j16 -N8 "$1" | awk '{ print $1*16777216+$2*65536+$3*256+$4 "x" $5*16777216+$6*65536+$7*256+$8 }'; }
is "screenshots: desktop and phone" "1280x800 390x844" \
	"$(png_size "$VP_BUILDDIR/t/viewer-desktop.png") $(png_size "$VP_BUILDDIR/t/viewer-phone.png")"
# The README's copies must be today's page.  Pixels depend on Chromium and
# the fonts, so they are compared only where those are the ones recorded.
made_with="$("$CHROMIUM" --version 2>/dev/null); $(fc-match sans-serif 2>/dev/null)"
if [ -n "${VP_UPDATE_SCREENSHOTS:-}" ]; then
	cp "$VP_BUILDDIR/t/viewer-desktop.png" "$VP_BUILDDIR/t/viewer-phone.png" "$VP_SRCDIR/t/expected/"
	printf '%s\n' "$made_with" >"$VP_SRCDIR/t/expected/viewer-screenshots.made-with"
fi
if [ "$made_with" = "$(cat "$VP_SRCDIR/t/expected/viewer-screenshots.made-with" 2>/dev/null)" ]; then
	check "the README's screenshots show the page as it is (else: VP_UPDATE_SCREENSHOTS=1)" \
		sh -c "cmp '$VP_BUILDDIR/t/viewer-desktop.png' '$VP_SRCDIR/t/expected/viewer-desktop.png' &&
		       cmp '$VP_BUILDDIR/t/viewer-phone.png' '$VP_SRCDIR/t/expected/viewer-phone.png'"
else
	ok "# SKIP screenshots recorded with $(cat "$VP_SRCDIR/t/expected/viewer-screenshots.made-with" 2>/dev/null), this is $made_with"
fi

kill -TERM $live_pid
set +e; wait $live_pid; rc=$?; set -e
is "stream-serve stops with pages watching: exit 0" 0 "$rc"
check "no errors logged" sh -c "! grep -i error '$T/live.err' '$T/demo.err'"
done_testing
