#!/bin/sh
# stream-serve: many concurrent watchers each get every event; a watcher that
# falls behind the bound has its stream cut rather than silently skipped;
# --watch-timeout ends streams; a crash-torn state file still loads.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/stream-serve.sh"
command -v curl >/dev/null || skip_all "curl not installed"
plan 13

ev() { printf '{"specversion":"1.0","id":"%s","source":"/s","type":"t","eventkey":%s}\n' "$1" "$1"; }

# 200 watchers, 50 events
start --max-connections 300 --max-connections-per-client 0
mkdir "$T/w"
i=0
while [ $i -lt 200 ]; do
	curl -sN "$api/events?watch=true" >"$T/w/$i" & bg_pid $!
	i=$((i + 1))
done
wait_for 30 sh -c "[ \$(grep -c 'watch started' '$T/err') -ge 200 ]" || true
is "200 watchers connected" 200 "$(grep -c 'watch started' "$T/err")"
k=1; while [ $k -le 50 ]; do ev $k; k=$((k + 1)); done >&4
wait_for 30 sh -c "for f in '$T'/w/*; do [ \$(wc -l <\"\$f\") -ge 50 ] || exit 1; done" || true
is "every watcher got all 50 events" 200 \
	"$(for f in "$T"/w/*; do jq -r .id "$f" | tr '\n' ' '; echo; done |
	grep -c "^$(seq -s ' ' 1 50) \$")"
stop
is "exit 0 with 200 watchers" 0 "$rc"

# a watcher that stops reading while the log wraps past it
start --max-events 20 --max-record 1M
sh -c 'curl -sN "$1/events?watch=true&offset=1"; echo $? >"$2/slow.rc"' sh "$api" "$T" |
	sh -c 'while [ ! -e "$1/go" ]; do sleep 0.1; done; exec cat' sh "$T" >"$T/slow" &
bg_pid $!
wait_for 10 grep -q 'watch started' "$T/err" || true
python3 -c '
import json, sys
pad = "x" * 65536
for k in range(1, 301):
    print(json.dumps({"specversion": "1.0", "id": str(k), "source": "/s",
        "type": "t", "eventkey": k, "data": pad}))' >&4
wait_for 30 sh -c "curl -s '$api/range' | grep -q '\"latest\":300'" || true
touch "$T/go"
wait_for 60 test -s "$T/slow.rc" || true
is "the lagging watcher's stream is cut (curl: partial transfer)" 18 "$(cat "$T/slow.rc")"
n=$(jq -r .id "$T/slow" 2>/dev/null | wc -l)
is "what it got is a gap-free prefix" "$(seq -s ' ' 1 "$n")" \
	"$(jq -r .id "$T/slow" 2>/dev/null | tr '\n' ' ' | sed 's/ $//')"
check "the cut is logged" grep -q 'fell behind the log' "$T/err"
stop

# --watch-timeout ends a stream cleanly
start --watch-timeout 1s
ev 7 >&4
wait_for 10 sh -c "curl -s '$api/range' | grep -q 7" || true
set +e; curl -sN "$api/events?watch=true&offset=7" >"$T/short"; crc=$?; set -e
is "stream ends cleanly after --watch-timeout" 0 "$crc"
is "and carried the event" 7 "$(jq -r .id "$T/short")"
stop

# --state-file holds events: 0600 whatever the umask, also when an older
# run left it readable by others
umask 022
start --state-file "$T/fresh" --max-events 2
is "a new state file is created 0600" 600 "$(stat -c %a "$T/fresh")"
ev 1 >&4; ev 2 >&4; ev 3 >&4; ev 4 >&4; ev 5 >&4
wait_for 10 sh -c "curl -s '$api/range' | grep -q '\"latest\":5'" || true
stop
is "and stays 0600 when compacted" 600 "$(stat -c %a "$T/fresh")"
chmod 644 "$T/fresh"
start --state-file "$T/fresh"
is "a 0644 one from an older run is made 0600 at start" 600 "$(stat -c %a "$T/fresh")"
stop

# a state file with a bad line and a torn last line (a crash mid-write)
{ printf '10\t%s\n' "$(ev 10)"; printf 'garbage\n'; printf '11\t%s\n' "$(ev 11)"
  printf '12\t{"specversion":"1.0","id":"12"'; } >"$T/state"
start --state-file "$T/state"
is "torn state file: good events restored" '{"earliest":10,"latest":11}' "$(curl -s "$api/range")"
check "bad line reported" grep -q 'unusable line(s) skipped' "$T/err"
stop
