#!/bin/sh
# webhook-source: every bad request gets a clear 4xx and writes nothing;
# basic authentication; the webhook OPTIONS handshake; command-line errors.
. "${0%/*}/lib.sh"
PATH="$VP_BUILDDIR/src/webhook-source:$PATH"
command -v curl >/dev/null || skip_all "curl not installed"
plan 37

expect_exit "--help exits 0" 0 webhook-source --help
check "--help prints the synopsis" grep -q '^usage: webhook-source' "$T/.exit.out"
expect_exit "unknown option: exit 64" 64 webhook-source --bogus
expect_exit "bad --max-body: exit 64" 64 webhook-source --max-body lots
expect_exit "--path without slash: exit 64" 64 webhook-source --path hook
expect_exit "unreadable --basic-auth-file: exit 66, as in every program" 66 \
	webhook-source --basic-auth-file "$T/nonexistent"
check "--version names libmicrohttpd" sh -c \
	'webhook-source --version | grep -q libmicrohttpd'

printf 'hookuser\ns3cret:with colon\n' >"$T/auth"
$VP_WRAP webhook-source --listen 127.0.0.1:0 --basic-auth-file "$T/auth" \
	--max-body 1k --allowed-origin sender.example.com --allowed-rate 120 \
	>"$T/out" 2>"$T/err" &
pid=$!; bg_pid $pid
wait_for 60 grep -q 'port [0-9]' "$T/err" || bail "webhook-source did not start"
port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$T/err")
url=http://127.0.0.1:$port/webhook
A='hookuser:s3cret:with colon'

# req ARGS...: print "STATUS BODY" (body's first line)
req() {
	code=$(curl -s -o "$T/body" -w '%{http_code}' "$@")
	echo "$code $(head -n 1 "$T/body")"
}
ce='-H ce-specversion:1.0 -H ce-id:1 -H ce-source:/s -H ce-type:t'

is "no credentials: 401" "401 Unauthorized" "$(req -X POST $ce "$url")"
curl -s -D "$T/hdr" -o /dev/null -X POST $ce "$url"
check "401 carries a Basic challenge" grep -qi '^WWW-Authenticate: Basic realm=' "$T/hdr"
is "wrong password: 401" "401 Unauthorized" \
	"$(req -u 'hookuser:s3cret' -X POST $ce "$url")"
is "wrong user: 401" "401 Unauthorized" \
	"$(req -u 'hookuse:s3cret:with colon' -X POST $ce "$url")"
is "garbage Authorization: 401" "401 Unauthorized" \
	"$(req -H 'Authorization: Basic !!!!' -X POST $ce "$url")"
is "right credentials: 204" "204 " "$(req -u "$A" -X POST $ce "$url")"

is "missing ce-id: 400" '400 missing header "ce-id"' "$(req -u "$A" -X POST \
	-H ce-specversion:1.0 -H ce-source:/s -H ce-type:t "$url")"
is "missing ce-type: 400" '400 missing header "ce-type"' "$(req -u "$A" -X POST \
	-H ce-specversion:1.0 -H ce-id:1 -H ce-source:/s "$url")"
is "specversion 0.3: 400" '400 unsupported "ce-specversion" (only 1.0)' \
	"$(req -u "$A" -X POST -H ce-specversion:0.3 -H ce-id:1 \
	-H ce-source:/s -H ce-type:t "$url")"
is "bad JSON body: 400" "400 body: not JSON: unexpected 'n', expected a value at byte 1" \
	"$(req -u "$A" -X POST $ce -H 'Content-Type: application/json' \
	--data-binary 'not json' "$url")"
is "percent-encoded invalid UTF-8: 400" '400 header "ce-subject": not UTF-8 after percent-decoding' \
	"$(req -u "$A" -X POST $ce -H 'ce-subject: %FF%FE' "$url")"
is "bad time: 400" '400 "time" is not an RFC 3339 time' \
	"$(req -u "$A" -X POST $ce -H 'ce-time: yesterday' "$url")"
is "structured, bad JSON: 400" "400 not JSON: unexpected '}', expected the end of the line at byte 3" \
	"$(req -u "$A" -X POST -H 'Content-Type: application/cloudevents+json' \
	--data-binary '{}}' "$url")"
is "structured, no source: 400" '400 missing "source"' \
	"$(req -u "$A" -X POST -H 'Content-Type: application/cloudevents+json' \
	--data-binary '{"specversion":"1.0","id":"1","type":"t"}' "$url")"
is "structured, object extension: 400" '400 extension "ext" is not a string, integer or boolean' \
	"$(req -u "$A" -X POST -H 'Content-Type: application/cloudevents+json' \
	--data-binary '{"specversion":"1.0","id":"1","source":"/s","type":"t","ext":{}}' "$url")"
is "batch with one bad event: 400, none written" '400 event 1: missing "id"' \
	"$(req -u "$A" -X POST -H 'Content-Type: application/cloudevents-batch+json' \
	--data-binary '[{"specversion":"1.0","id":"b1","source":"/s","type":"t"},{"specversion":"1.0","source":"/s","type":"t"}]' "$url")"
is "Avro format: 415" "415 unsupported event format (only JSON: application/cloudevents+json)" \
	"$(req -u "$A" -X POST -H 'Content-Type: application/cloudevents+avro' \
	--data-binary 'x' "$url")"
is "plain JSON without ce- headers: 415" "415 not a CloudEvent: no ce-specversion header (binary mode) and Content-Type is not application/cloudevents+json (structured mode)" \
	"$(req -u "$A" -X POST -H 'Content-Type: application/json' \
	--data-binary '{}' "$url")"
head -c 2000 /dev/zero | tr '\0' x >"$T/big"
is "body over --max-body: 413" "413 request body too large" \
	"$(req -u "$A" -X POST $ce -H 'Content-Type: text/plain' \
	--data-binary @"$T/big" "$url")"
is "chunked body over --max-body: 413" "413 request body too large" \
	"$(req -u "$A" -X POST $ce -H 'Content-Type: text/plain' \
	-H 'Transfer-Encoding: chunked' --data-binary @"$T/big" "$url")"
is "GET: 405" "405 Method Not Allowed" "$(req -u "$A" "$url")"
is "other path: 404" "404 404 page not found" \
	"$(req -u "$A" -X POST $ce "http://127.0.0.1:$port/other")"

curl -s -D "$T/hdr" -o /dev/null -u "$A" -X OPTIONS \
	-H 'WebHook-Request-Origin: sender.example.com' \
	-H 'WebHook-Request-Rate: 600' "$url"
tr -d '\r' <"$T/hdr" | grep -i '^\(HTTP/\|webhook-\|allow:\)' >"$T/hs"
printf '%s\n' 'HTTP/1.1 200 OK' 'Allow: POST, OPTIONS' \
	'WebHook-Allowed-Origin: sender.example.com' \
	'WebHook-Allowed-Rate: 120' >"$T/hs.want"
same "handshake: origin echoed, rate announced" "$T/hs.want" "$T/hs"
is "handshake from another origin: 403" "403 webhook origin not allowed" \
	"$(req -u "$A" -X OPTIONS -H 'WebHook-Request-Origin: evil.example.com' "$url")"

kill -TERM $pid
set +e; wait $pid; rc=$?; set -e
is "SIGTERM: exit 0" 0 "$rc"
out1=$(cat "$T/out")

# --allowed-rate is enforced: 2 a minute
$VP_WRAP webhook-source --listen 127.0.0.1:0 --allowed-rate 2 \
	>"$T/out2" 2>"$T/err2" &
pid=$!; bg_pid $pid
wait_for 60 grep -q 'port [0-9]' "$T/err2" || bail "webhook-source did not start"
url=http://127.0.0.1:$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$T/err2")/webhook
codes=$(for i in 1 2 3; do curl -s -D "$T/hdr$i" -o /dev/null -w '%{http_code} ' \
	-X POST $ce "$url"; done)
is "over --allowed-rate: 429" "204 204 429 " "$codes"
check "429 carries Retry-After" grep -qi '^Retry-After: [0-9]' "$T/hdr3"
expect_exit "--allowed-rate 0: exit 64" 64 webhook-source --allowed-rate 0
kill -TERM $pid; wait $pid || true
is "only the one good event was written" '{"specversion":"1.0","id":"1","source":"/s","type":"t"}' "$out1"
check "credentials never logged" sh -c "! grep -q s3cret '$T/err'"
