#!/bin/sh
# stream-serve: the vsphere-event-streaming HTTP API over a log whose offsets
# are the event keys (with gaps), its error responses, watchers, the bound,
# and the state file that survives a restart.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/stream-serve.sh"
command -v curl >/dev/null || skip_all "curl not installed"
plan 38

expect_exit "--help exits 0" 0 stream-serve --help
expect_exit "bad --max-events: exit 64" 64 stream-serve --max-events 0
expect_exit "unknown option: exit 64" 64 stream-serve --nope

# get PATH: "STATUS BODY"
get() {
	code=$(curl -s -o "$T/body" -w '%{http_code}' "$api$1")
	echo "$code $(cat "$T/body")"
}
# watch NAME QUERY: a background watcher writing $T/NAME, once it is registered
nw=0
watch() {
	curl -sN "$api/events?watch=true$2" >"$T/$1" & bg_pid $!
	nw=$((nw + 1))
	wait_for 10 sh -c "[ \$(grep -c 'watch started' '$T/err') -ge $nw ]" || true
}
lines() { [ "$(wc -l <"$T/$1")" -ge "$2" ]; }

start --page-size 3 --state-file "$T/state"
is "empty log: range is 204" "204 " "$(get /range)"
is "empty log: events is 204" "204 " "$(get /events)"
is "empty log: an id is a future offset" "400 invalid offset: future offset" "$(get /events/1)"
watch w-any ""
watch w-45 "&offset=45"
cat "$VP_SRCDIR/t/data/stream-events.ndjson" >&4
wait_for 10 sh -c "curl -s '$api/range' | grep -q 50" || true
is "range: earliest and latest are event keys" '200 {"earliest":41,"latest":50}' "$(get /range)"
curl -s -D "$T/hdr" -o /dev/null "$api/range"
check "range is application/json" grep -qi '^content-type: application/json' "$T/hdr"
is "an event by key" "200 $(sed -n 2p "$VP_SRCDIR/t/data/stream-events.ndjson")" "$(get /events/42)"
is "binary-mode input served as structured JSON" \
	'200 {"specversion":"1.0","id":"45","source":"https://vc.example.com/sdk","type":"com.vmware.vsphere.VmPoweredOffEvent.v0","subject":"VmPoweredOffEvent","time":"2026-11-23T09:00:02Z","datacontenttype":"application/json","eventkey":45,"data":{"Key":45,"Vm":{"Name":"vm-1"}}}' \
	"$(get /events/45)"
is "a key in a gap: 404" "404 no event with offset 43 (a gap in the event keys)" "$(get /events/43)"
is "before the earliest: out of range" "400 invalid offset: offset out of range" "$(get /events/40)"
is "after the latest: future offset" "400 invalid offset: future offset" "$(get /events/51)"
is "not a number: invalid offset" "400 invalid offset" "$(get /events/abc)"
curl -s -D "$T/hdr" -o /dev/null "$api/events/abc"
check "errors are text/plain as Go's http.Error" grep -qi '^content-type: text/plain; charset=utf-8' "$T/hdr"
is "last page: offsets within page-size of the latest" \
	"200 [$(sed -n 7p "$VP_SRCDIR/t/data/stream-events.ndjson")]" "$(get /events)"
is "bad watch parameter" "400 invalid watch parameter" "$(get '/events?watch=yes')"
is "watch from a bad offset" "400 invalid offset" "$(get '/events?watch=true&offset=x')"
is "watch from before the earliest" "400 invalid offset: offset out of range" \
	"$(get '/events?watch=true&offset=3')"
is "unknown path: 404" "404 404 page not found" "$(get /nothing)"
is "POST: 405" "405" "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$api/range")"

wait_for 10 lines w-any 4 || true
jq -r .eventkey "$T/w-any" | tr '\n' ' ' >"$T/keys"
is "a watcher started on the empty log got every event, in key order" "41 42 45 50 " "$(cat "$T/keys")"
wait_for 10 lines w-45 2 || true
is "watch from offset 45" "45 50 " "$(jq -r .eventkey "$T/w-45" | tr '\n' ' ')"
watch w-gap "&offset=43"
watch w-new ""
wait_for 10 lines w-gap 2 || true
is "watch from a gap starts at the next key" "45 50 " "$(jq -r .eventkey "$T/w-gap" | tr '\n' ' ')"
# an event without a key gets the next offset
echo '{"specversion":"1.0","id":"nokey","source":"/s","type":"t"}' >&4
wait_for 10 lines w-new 1 || true
is "a new watcher sees only new events; keyless events get latest+1" \
	"nokey 51" "$(jq -r '.id + " " + (.eventkey // 51 | tostring)' "$T/w-new")"
is "keyless event readable at offset 51" \
	'200 {"specversion":"1.0","id":"nokey","source":"/s","type":"t"}' "$(get /events/51)"
check "replayed key skipped and logged" grep -q 'stdin:5: offset 42 is not after the latest one' "$T/err"
check "bad line logged with its number" grep -q 'stdin:4: not JSON' "$T/err"
check "invalid CloudEvent logged" grep -q 'stdin:6: missing \"id\"' "$T/err"
stop
is "SIGTERM: exit 0" 0 "$rc"
wait
is "watchers' streams ended cleanly on stop" "41 42 45 50 51" \
	"$(jq -r '.eventkey // 51' "$T/w-any" | tr '\n' ' ' | sed 's/ $//')"

# restart from the state file: the log is back, offsets unchanged
nw=0
start --page-size 3 --state-file "$T/state" --max-events 4
is "restart: range restored (bounded to --max-events)" '200 {"earliest":42,"latest":51}' "$(get /range)"
is "restart: event 42 intact" "200 $(sed -n 2p "$VP_SRCDIR/t/data/stream-events.ndjson")" "$(get /events/42)"
watch w-old "&offset=50"
wait_for 10 lines w-old 2 || true
for k in 60 61; do
	echo "{\"specversion\":\"1.0\",\"id\":\"$k\",\"source\":\"/s\",\"type\":\"t\",\"eventkey\":$k}" >&4
done
wait_for 10 sh -c "curl -s '$api/range' | grep -q 61" || true
is "the bound purges the oldest" '200 {"earliest":50,"latest":61}' "$(get /range)"
is "purged key is out of range" "400 invalid offset: offset out of range" "$(get /events/42)"
wait_for 10 lines w-old 4 || true
is "watcher saw restored and new events" "50 51 60 61" \
	"$(jq -r '.eventkey // 51' "$T/w-old" | tr '\n' ' ' | sed 's/ $//')"
stop
is "state file holds one line per kept event" 4 "$(wc -l <"$T/state")"
start --state-file "$T/state"
is "second restart: same range" '200 {"earliest":50,"latest":61}' "$(get /range)"
stop
