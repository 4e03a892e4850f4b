#!/bin/sh
# Every event ce-encode writes, in both modes and both type styles, built
# from raw lines or passed through, is accepted by the npm CloudEvents SDK
# (HTTP.toEvent + validate) when sent with curl exactly as a sink would, and
# the SDK sees the same attributes and data, field by field. The inputs hold
# non-ASCII and quote-bearing values in attributes and data.
. "${0%/*}/lib.sh"
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
	skip_all "node and npm are needed (bin/bootstrap installs them)"
command -v curl >/dev/null 2>&1 || skip_all "curl is needed"
plan 9

R=$VP_BUILDDIR/t/cloudevents-receiver
if sh "$VP_SRCDIR/t/cloudevents-receiver/setup.sh" "$R" >"$T/npm.log" 2>&1; then
	ok "npm ci installed the cloudevents SDK"
else
	not_ok "npm ci installed the cloudevents SDK"; sed 's/^/# /' "$T/npm.log" >&2
	exit 1
fi
# O_APPEND, so ": >received" between cases truncates cleanly
node "$R/receiver.js" "$T/port" >>"$T/received" 2>"$T/receiver.err" &
bg_pid $!
wait_for 60 test -s "$T/port" || bail "receiver did not start: $(cat "$T/receiver.err")"
url=http://127.0.0.1:$(cat "$T/port")/

# send_structured FILE / send_binary FILE: one POST per line, as a sink does
send_structured() {
	while IFS= read -r line; do
		printf '%s' "$line" >"$T/body"
		curl -s -o /dev/null -H 'Content-Type: application/cloudevents+json' \
			--data-binary @"$T/body" "$url" || return 1
	done <"$1"
}
send_binary() {
	n=0
	while IFS= read -r line; do
		n=$((n + 1))
		printf '%s\n' "$line" | jq -j .body >"$T/body"
		# curl -H "Name:" removes curl's own Content-Type when the event has none
		# curl sends "Name;" as an empty header ("Name:" would remove it)
		printf '%s\n' "$line" | jq -r '.headers | to_entries[] |
			if .value == "" then "header = \"\(.key);\"" else "header = \"\(.key): \(.value)\"" end' >"$T/hdrs"
		grep -q '^header = "content-type:' "$T/hdrs" || echo 'header = "Content-Type:"' >>"$T/hdrs"
		curl -s -o /dev/null -K "$T/hdrs" --data-binary @"$T/body" "$url" || return 1
	done <"$1"
}

# run_case NAME ARGS... : encode the inputs both ways, send, compare
run_case() {
	name=$1; shift
	: >"$T/received"
	ce-encode "$@" <"$T/in" >"$T/s.ndjson" 2>"$T/err" || { not_ok "$name: ce-encode"; return; }
	ce-encode --mode binary "$@" <"$T/in" >"$T/b.ndjson" 2>"$T/err" || { not_ok "$name: ce-encode"; return; }
	send_structured "$T/s.ndjson" && send_binary "$T/b.ndjson" || { not_ok "$name: curl"; return; }
	# the binary run is compared with itself turned back into structured
	# form (ids differ between runs with --id uuid)
	cat "$T/s.ndjson" >"$T/expected"
	ce-encode <"$T/b.ndjson" >>"$T/expected" 2>"$T/err" || { not_ok "$name: binary back to structured"; return; }
	wait_for 20 test "$(wc -l <"$T/received")" -ge "$(wc -l <"$T/expected")" || true
	if node "$R/compare.js" "$T/expected" "$T/received" >"$T/cmp" 2>&1; then
		ok "$name: the SDK accepts all $(wc -l <"$T/expected") events with the same attributes"
	else
		not_ok "$name: SDK comparison"; grep -av "^ok" "$T/cmp" | sed 's/^/# /' >&2
	fi
}

cp "$VP_SRCDIR/t/data/ce-encode-raw.ndjson" "$T/in"
run_case "raw, router" --type-style router
run_case "raw, vsphere" --type-style vsphere
run_case "raw, --set with quotes and non-ASCII, --id key" --id key \
	--set team='ops "blue" 100% Ünïcode' --set empty=
run_case "raw, --source, --id uuid" --source 'urn:vcpipe:test' --id uuid
grep -v data_base64 "$VP_SRCDIR/t/data/ce-encode-ce.ndjson" >"$T/in"
run_case "passthrough of CloudEvents" --type-style router
# the SDK must refuse a broken event, or the checks above prove nothing
: >"$T/received"
curl -s -o /dev/null -H 'ce-specversion: 1.0' -H 'ce-id: x' -H 'ce-source: /s' \
	-H 'ce-time: not a time' -H 'Content-Type: application/json' --data-binary '{}' "$url"
curl -s -o /dev/null -H 'Content-Type: application/cloudevents+json' \
	--data-binary '{"specversion":"1.0","id":"x","source":"/s","type":"t","Bad-Name":1}' "$url"
wait_for 10 test "$(wc -l <"$T/received")" -ge 2 || true
is "the receiver rejects a binary event without ce-type" false "$(sed -n 1p "$T/received" | jq .ok)"
is "the receiver rejects an invalid extension name" false "$(sed -n 2p "$T/received" | jq .ok)"
# and an unencoded quote in a header value is what the encoding prevents
case $(ce-encode --mode binary --set q='"a b"%' <"$VP_SRCDIR/t/data/ce-encode-raw.ndjson" 2>/dev/null | head -1 | jq -r '.headers["ce-q"]') in
%22a%20b%22%25) ok "binary mode percent-encodes quote, space and percent" ;;
*) not_ok "binary mode percent-encodes quote, space and percent" ;;
esac
done_testing
