#!/bin/sh
# webhook-source: CloudEvents POSTed in binary, structured and batch mode come
# out as structured JSON lines, in order, with eventkey as an integer.
. "${0%/*}/lib.sh"
PATH="$VP_BUILDDIR/src/webhook-source:$PATH"
command -v curl >/dev/null || skip_all "curl not installed"
plan 15

$VP_WRAP webhook-source --listen 127.0.0.1:0 --log-level debug \
	>"$T/out" 2>"$T/err" &
pid=$!; bg_pid $pid
wait_for 60 grep -q 'port [0-9]' "$T/err" || bail "webhook-source did not start"
port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$T/err")
url=http://127.0.0.1:$port/webhook

# post ARGS...: print the status code
post() { curl -s -o "$T/body" -w '%{http_code}' -X POST "$url" "$@"; }

is "binary mode, JSON data" 204 "$(post -H 'ce-specversion: 1.0' \
	-H 'ce-id: 1' -H 'ce-source: https://vc.example.com/sdk' \
	-H 'ce-type: com.vmware.vsphere.VmPoweredOnEvent.v0' \
	-H 'ce-time: 2026-11-23T09:00:00.123456Z' -H 'ce-eventkey: 1234' \
	-H 'ce-subject: VmPoweredOnEvent' -H 'ce-eventclass: event' \
	-H 'Content-Type: application/json' \
	--data-binary '{"Key":1234,"Vm":{"Name":"vm-1"}}')"
is "binary mode, percent-encoded values" 204 "$(post -H 'CE-SpecVersion: 1.0' \
	-H 'ce-id: 2' -H 'ce-source: /a%2Fsource%3Fq=1' -H 'ce-type: t' \
	-H 'ce-subject: caf%C3%A9 %22quoted%22 100%25' \
	-H 'Content-Type: application/json; charset=utf-8' --data-binary '[1,2]')"
is "binary mode, stray % and raw UTF-8 kept as they are" 204 "$(post -H 'ce-specversion: 1.0' \
	-H 'ce-id: 2b' -H 'ce-source: /s' -H 'ce-type: t' \
	-H "$(printf 'ce-subject: caf\303\251 100%% %%zz')")"
is "binary mode, text data" 204 "$(post -H 'ce-specversion: 1.0' \
	-H 'ce-id: 3' -H 'ce-source: /s' -H 'ce-type: t' \
	-H 'Content-Type: text/plain' --data-binary 'hello world')"
printf '\000\001\002\377' >"$T/bin"
is "binary mode, bytes become data_base64" 204 "$(post -H 'ce-specversion: 1.0' \
	-H 'ce-id: 4' -H 'ce-source: /s' -H 'ce-type: t' \
	-H 'Content-Type: application/octet-stream' --data-binary @"$T/bin")"
is "binary mode, no body" 204 "$(post -H 'ce-specversion: 1.0' \
	-H 'ce-id: 5' -H 'ce-source: /s' -H 'ce-type: t')"
is "structured mode" 204 "$(post -H 'Content-Type: application/cloudevents+json; charset=UTF-8' \
	--data-binary '{ "specversion" : "1.0", "id":"6", "source":"/s",
	  "type":"t", "eventkey":"77", "data":{"a":[1,{"b":null}]}}')"
is "batch mode" 204 "$(post -H 'Content-Type: application/cloudevents-batch+json' \
	--data-binary '[{"specversion":"1.0","id":"7","source":"/s","type":"t"},
	  {"specversion":"1.0","id":"8","source":"/s","type":"t","data_base64":"AAE="}]')"
is "empty batch" 204 "$(post -H 'Content-Type: application/cloudevents-batch+json' \
	--data-binary '[]')"

# keep-alive: two events over one connection
curl -v -s -o /dev/null -w '%{http_code} ' -X POST \
	-H 'ce-specversion: 1.0' -H 'ce-id: 9' -H 'ce-source: /s' -H 'ce-type: t' \
	"$url" --next -s -o /dev/null -w '%{http_code} ' -X POST \
	-H 'ce-specversion: 1.0' -H 'ce-id: 10' -H 'ce-source: /s' \
	-H 'ce-type: t' "$url" >"$T/codes" 2>"$T/curl.err"
is "two requests on one connection" "204 204 " "$(cat "$T/codes")"
check "the connection was kept alive" grep -qi 're-using existing connection' "$T/curl.err"

kill -TERM $pid
set +e; wait $pid; rc=$?; set -e
is "SIGTERM: exit 0" 0 "$rc"
same "output lines" "$VP_SRCDIR/t/expected/webhook-basic.ndjson" "$T/out"
ce-encode --strict <"$T/out" >"$T/out.ce" 2>"$T/out.ce.err" || true
same "every line is a CloudEvent ce-encode accepts and writes the same" "$T/out" "$T/out.ce"

# IPv6 listen address, where the host has IPv6 loopback
if ! grep -q '^00000000000000000000000000000001 ' /proc/net/if_inet6 2>/dev/null; then
	ok "# SKIP no IPv6 loopback"
else
	$VP_WRAP webhook-source --listen '[::1]:0' >"$T/out6" 2>"$T/err6" &
	pid=$!; bg_pid $pid
	wait_for 60 grep -q 'port [0-9]' "$T/err6" || bail "no IPv6 start"
	p6=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$T/err6")
	is "listening on [::1]" 204 "$(curl -s -g -o /dev/null -w '%{http_code}' \
		-X POST -H ce-specversion:1.0 -H ce-id:v6 -H ce-source:/s -H ce-type:t \
		"http://[::1]:$p6/webhook")"
	kill -TERM $pid; wait $pid || true
fi
