#!/bin/sh
# horizon-source against t/fake-horizon (the documented Horizon REST API):
# CloudEvents with the router's type names, oldest first; resume from a
# sink's checkpoint; paging; token refresh and re-login; retries; no
# duplicates at the inclusive time-filter boundary; credential errors.
. "${0%/*}/lib.sh"
PATH="$VP_BUILDDIR/src/horizon-source:$PATH"
plan 26

printf 'hzuser\nhz pass\n' >"$T/creds"
python3 "$VP_SRCDIR/t/fake-horizon/fake-horizon.py" "$T/port" hzuser 'hz pass' EXAMPLE &
bg_pid $!
wait_for 60 test -s "$T/port" || bail "fake-horizon did not start"
H=http://127.0.0.1:$(cat "$T/port")
ctl() { curl -s -X POST -H 'Content-Type: application/json' --data-binary "${2:-[]}" "$H/_control/$1" >/dev/null; }
ctl events "$(cat "$VP_SRCDIR/t/data/horizon-events.json")"
# a checkpoint (stream format 4) before every test event
printf '{"version":1,"source":"%s","id":"0","time":"2026-01-01T00:00:00Z","delivered":0,"updated":"2026-01-01T00:00:00Z"}\n' "$H" >"$T/cp0"

expect_exit "no --url: exit 64" 64 horizon-source
expect_exit "ftp URL: exit 64" 64 horizon-source --url ftp://x
expect_exit "no domain: exit 78" 78 horizon-source --url "$H" --credentials-file "$T/creds"
expect_exit "wrong password: exit 77" 77 env HORIZON_USERNAME=hzuser HORIZON_PASSWORD=nope \
	horizon-source --url "$H" --domain EXAMPLE --once
check "credentials never logged" sh -c "! grep -q 'nope' '$T/.exit.err'"

$VP_WRAP horizon-source --url "$H/" --domain EXAMPLE --credentials-file "$T/creds" \
	--checkpoint "$T/cp0" --once >"$T/out" 2>"$T/err" && rc=0 || rc=$?
is "--once: exit 0" 0 "$rc"
sed "s|$H|http://HORIZON|g" "$T/out" >"$T/out.norm"
same "events as CloudEvents, oldest first, router type names" \
	"$VP_SRCDIR/t/expected/horizon-once.ndjson" "$T/out.norm"

# Tanzu's HorizonSource names: com.vmware.horizon.<type lower-cased>.v0, no subject
horizon-source --url "$H/" --domain EXAMPLE --credentials-file "$T/creds" \
	--checkpoint "$T/cp0" --once --type-style vsphere >"$T/outv" 2>"$T/errv" || true
is "--type-style vsphere: HorizonSource's type name (underscores kept)" \
	"com.vmware.horizon.vlsi_userloggedin.v0" "$(jq -r 'select(.id == "1003") | .type' "$T/outv")"
sed "s|$H|http://HORIZON|g" "$T/outv" >"$T/outv.norm"
jq -c '.type = "com.vmware.horizon." + (.data.type | ascii_downcase) + ".v0" | del(.subject)' \
	"$VP_SRCDIR/t/expected/horizon-once.ndjson" >"$T/wantv"
same "--type-style vsphere: otherwise the same events, without a subject" "$T/wantv" "$T/outv.norm"
expect_exit "--type-style anything else: usage error" 64 horizon-source --url "$H" --type-style tanzu

# resume after event 1003 (the first of two at the same millisecond)
printf '{"version":1,"source":"%s","id":"1003","time":"2026-01-01T09:00:02.25Z","key":1003,"delivered":3,"updated":"2026-01-01T00:00:00Z"}\n' "$H" >"$T/cp1"
horizon-source --url "$H" --credentials-file "$T/creds" --domain EXAMPLE \
	--checkpoint "$T/cp1" --once >"$T/out1" 2>"$T/err1" || true
is "resume from a checkpoint: the events after it" "1004 1005" \
	"$(jq -r .id "$T/out1" | tr '\n' ' ' | sed 's/ $//')"

# paging: 250 more events in one poll, pages of 100
python3 -c '
import json
print(json.dumps([{"id": 2000 + i, "time": 1767260000000 + i // 3, "type": "BULK", "message": "m%d" % i} for i in range(250)]))' >"$T/bulk.json"
ctl events "$(cat "$T/bulk.json")"
horizon-source --url "$H" --credentials-file "$T/creds" --domain EXAMPLE \
	--checkpoint "$T/cp0" --once --page-size 100 >"$T/out2" 2>"$T/err2" || true
is "paging: all 255 events" 255 "$(wc -l <"$T/out2")"
is "paging: no duplicates" 255 "$(jq -r .id "$T/out2" | sort -u | wc -l)"
check "paging: ascending (time, id)" sh -c "jq -r '.data.time * 100000 + .data.id' '$T/out2' | sort -n -c"

# follow: tokens expire, the server fails, events keep coming once each
printf 'EXAMPLE\\hzuser\nhz pass\n' >"$T/creds2"
$VP_WRAP horizon-source --url "$H" --credentials-file "$T/creds2" \
	--checkpoint "$T/cp0" --poll-interval 100ms --log-level debug \
	>"$T/out3" 2>"$T/err3" &
pid=$!; bg_pid $pid
wait_for 20 sh -c "[ \$(wc -l <'$T/out3') -ge 255 ]" || true
ctl expire-access
ctl events '[{"id":3001,"time":1767261000000,"type":"AFTER_ACCESS_EXPIRY"}]'
wait_for 20 grep -q '"3001"' "$T/out3" || true
ctl expire-refresh
ctl events '[{"id":3002,"time":1767261000000,"type":"AFTER_REFRESH_EXPIRY"}]'
wait_for 20 grep -q '"3002"' "$T/out3" || true
curl -s -X POST "$H/_control/fail?n=2" >/dev/null
ctl events '[{"id":3003,"time":1767261000001,"type":"AFTER_FAILURES"}]'
wait_for 30 grep -q '"3003"' "$T/out3" || true
kill -TERM $pid
set +e; wait $pid; rc=$?; set -e
is "follow: SIGTERM exit 0" 0 "$rc"
is "follow: every event once (DOMAIN\\\\user login)" 258 "$(jq -r .id "$T/out3" | sort -u | wc -l)"
is "follow: no duplicates" 258 "$(wc -l <"$T/out3")"
is "follow: the last three in order" "3001 3002 3003" \
	"$(tail -n 3 "$T/out3" | jq -r .id | tr '\n' ' ' | sed 's/ $//')"
check "expired access token: refreshed" grep -q 'access token refreshed' "$T/err3"
check "expired refresh token: logged in again" grep -q 'refresh token expired (400): logging in again' "$T/err3"
check "503s retried" grep -q 'audit-events: status 503' "$T/err3"
curl -s "$H/_control/stats" >"$T/stats"
check "logged out at exit" jq -e '.logout >= 1' "$T/stats"
check "credentials never logged" sh -c "! grep -q 'hz pass' '$T/err3'"

# HTTPS with a self-signed certificate: verified unless --insecure
if ! command -v openssl >/dev/null; then
	for i in 1 2 3; do ok "# SKIP openssl not installed"; done
else
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 -keyout "$T/key.pem" \
		-out "$T/cert.pem" >/dev/null 2>&1
	python3 "$VP_SRCDIR/t/fake-horizon/fake-horizon.py" "$T/tport" hzuser 'hz pass' \
		EXAMPLE "$T/cert.pem" "$T/key.pem" &
	bg_pid $!
	wait_for 60 test -s "$T/tport" || bail "fake-horizon (TLS) did not start"
	S=https://127.0.0.1:$(cat "$T/tport")
	expect_exit "self-signed certificate refused: exit 75" 75 horizon-source \
		--url "$S" --domain EXAMPLE --credentials-file "$T/creds" --once
	expect_exit "--ca-file trusts it" 0 horizon-source --url "$S" \
		--domain EXAMPLE --credentials-file "$T/creds" --once --ca-file "$T/cert.pem"
	expect_exit "--insecure skips verification" 0 horizon-source --url "$S" \
		--domain EXAMPLE --credentials-file "$T/creds" --once --insecure
fi
