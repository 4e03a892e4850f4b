#!/bin/sh
# sink-http delivers structured and binary CloudEvent lines in order on one
# keep-alive connection, writes the checkpoint, and refuses what is not a
# CloudEvent line.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/http-receiver/lib.sh"
command -v sink-http >/dev/null || skip_all "sink-http not built"
command -v jq >/dev/null || skip_all "jq not installed"
plan 37
D=$VP_SRCDIR/t/data
E=$VP_SRCDIR/t/expected

start_receiver r
URL=http://127.0.0.1:$RPORT/ingest

# structured, binary, and a blank line in between
{ cat "$D/sink-http-structured.ndjson"; echo; cat "$D/sink-http-binary.ndjson"; } >"$T/in"
expect_exit "mixed structured and binary input is delivered" 0 \
    $VP_WRAP sink-http --url "$URL" --checkpoint "$T/ck" <"$T/in"
is "six requests, the blank line skipped" 6 "$(requests r)"
jq -c '{method,path,ct:.headers["content-type"],ce:(.headers|with_entries(select(.key|startswith("ce-"))))}' \
    "$T/r.log" >"$T/seen"
same "methods, paths, content types and ce- headers as expected" \
    "$E/sink-http-deliver.headers" "$T/seen"
head -3 "$D/sink-http-structured.ndjson" >"$T/want-structured"
jq -r 'select(.headers["content-type"]=="application/cloudevents+json")|.body' "$T/r.log" >"$T/got-structured"
same "structured bodies are the input lines byte for byte" "$T/want-structured" "$T/got-structured"
jq -r '.body' "$D/sink-http-binary.ndjson" >"$T/want-binary"
jq -r 'select(.headers["content-type"]=="application/json")|.body' "$T/r.log" >"$T/got-binary"
same "binary bodies are the body members" "$T/want-binary" "$T/got-binary"
is "all requests on one keep-alive connection" 1 "$(jq -r .conn "$T/r.log" | sort -u | wc -l | tr -d ' ')"
is "no Expect: 100-continue" "" "$(jq -r '.headers.expect // empty' "$T/r.log")"
V=$(sink-http --version | sed -n '1s/.* //p')
is "every request says User-Agent: vcpipe/VERSION" "vcpipe/$V" \
    "$(jq -r '.headers["user-agent"]' "$T/r.log" | sort -u)"
is "no Accept header" "" "$(jq -r '.headers.accept // empty' "$T/r.log")"
# sink-http writes Host itself (deliver.c host_header): once, first, as libcurl would
is "one Host header, the first, on every request" '["host",1]' \
    "$(jq -c '[.names[0], ([.names[]|select(.=="host")]|length)]' "$T/r.log" | sort -u)"
is "Host names the URL's host and port" "127.0.0.1:$RPORT" \
    "$(jq -r '.headers.host' "$T/r.log" | sort -u)"
checkpoint "$T/ck" >"$T/ck.got"
same "checkpoint names the last event (format 4)" "$E/sink-http-deliver.checkpoint" "$T/ck.got"
check "checkpoint has an RFC 3339 updated time" \
    sh -c "jq -er '.updated|test(\"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z\$\")' '$T/ck'"

is "checkpoint: invocations by subject, counted at delivery (the router's /stats)" \
    '{"VmPoweredOnEvent":[1,0],"VmPoweredOffEvent":[1,0],"com.vmware.vc.HA.ClusterFailoverActionTriggeredEvent":[1,0],"VmCreatedEvent":[1,0],"UserLoginSessionEvent":[1,0],"DrsVmPoweredOnEvent":[1,0]}' \
    "$(jq -c .invocations "$T/ck")"

# a binary line's own User-Agent is sent instead of vcpipe's (the receiver
# keeps the last of two, so one sent twice would show vcpipe's)
: >"$T/r.log"
head -1 "$D/sink-http-binary.ndjson" | jq -c '.headers["user-agent"]="probe/2"' >"$T/ua"
expect_exit "a binary line with its own User-Agent is delivered" 0 \
    $VP_WRAP sink-http --url "$URL" <"$T/ua"
is "the line's User-Agent is the one sent" probe/2 "$(jq -r '.headers["user-agent"]' "$T/r.log")"

# an event without eventkey: the checkpoint has no "key"
head -1 "$D/sink-http-structured.ndjson" | jq -c 'del(.eventkey)|.id="nokey-1"' >"$T/nokey"
expect_exit "an event without eventkey is delivered" 0 \
    $VP_WRAP sink-http --url "$URL" --checkpoint "$T/ck" <"$T/nokey"
is "its checkpoint leaves out key" '{"version":1,"source":"https://vc.example.com/sdk","id":"nokey-1","time":"2026-11-23T09:00:00.123456Z","delivered":1}' \
    "$(checkpoint "$T/ck")"
is "the counts carry on from the checkpoint's" '[2,0]' "$(jq -c .invocations.VmPoweredOnEvent "$T/ck")"

# a line that is not a CloudEvent, without --dlq: exit 65, checkpoint at the
# event before it, nothing after it sent
: >"$T/r.log"
{ head -1 "$D/sink-http-structured.ndjson"; echo '{"hello":"world"}'; tail -1 "$D/sink-http-binary.ndjson"; } >"$T/bad"
rm -f "$T/ck"
expect_exit "a non-CloudEvent line without --dlq exits 65" 65 \
    $VP_WRAP sink-http --url "$URL" --checkpoint "$T/ck" <"$T/bad"
check "the error names stdin and the line" grep -q '^sink-http: stdin:2: neither a structured-mode' "$T/.exit.err"
is "only the event before it was sent" 1 "$(requests r)"
is "checkpoint stays at the event before it" vc-4f2a-1234 "$(jq -r .id "$T/ck")"

# the same with --dlq: dead-lettered, the rest delivered
: >"$T/r.log"
expect_exit "with --dlq the bad line is dead-lettered" 0 \
    $VP_WRAP sink-http --url "$URL" --checkpoint "$T/ck" --dlq "$T/dlq" <"$T/bad"
is "both events sent" 2 "$(requests r)"
is "the invalid line is logged once, saying why" \
    'sink-http: warn: stdin:2: invalid line: neither a structured-mode' \
    "$(grep 'stdin:2:' "$T/.exit.err" | cut -c1-65)"
is "dead letter keeps the line and says why" '{"hello":"world"} invalid line 2' \
    "$(jq -c -r '"\(del(.deadletter)|tojson) \(.deadletter.reason) \(.deadletter.line)"' "$T/dlq")"
is "checkpoint moved to the last event" vc-4f2a-2003 "$(jq -r .id "$T/ck")"

# not JSON, and binary lines that try to set framing headers
printf '%s\n' 'not json' \
    '{"headers":{"ce-specversion":"1.0","ce-id":"x","ce-source":"s","ce-type":"t","content-length":"5"},"body":"{}"}' \
    '{"headers":{"ce-specversion":"1.0","ce-id":"x","ce-source":"s","ce-type":"t","ce-x":"a\r\nHost: evil"},"body":"{}"}' \
    '{"headers":{"ce-id":"x","ce-source":"s","ce-type":"t"},"body":"{}"}' \
    '{"specversion":"1.0","id":"x","source":"s"}' >"$T/worse"
rm -f "$T/dlq"; : >"$T/r.log"
expect_exit "malformed lines are dead-lettered" 0 \
    $VP_WRAP sink-http --url "$URL" --dlq "$T/dlq" <"$T/worse"
is "nothing was sent" 0 "$(requests r)"
jq -r '.deadletter.error' "$T/dlq" >"$T/why"
same "each refusal says why" "$E/sink-http-invalid.reasons" "$T/why"
is "a non-JSON line is kept as a string" "not json" "$(head -1 "$T/dlq" | jq -r .invalid)"

# a proxy in the environment is used (sink-http tells libcurl "no proxy"
# only when no *_proxy variable is set): the receiver plays the proxy and
# sees the absolute URL
: >"$T/r.log"
head -n 1 "$D/sink-http-structured.ndjson" >"$T/one"
expect_exit "http_proxy in the environment is used" 0 \
    env http_proxy="http://127.0.0.1:$RPORT" $VP_WRAP sink-http \
    --url http://events.invalid/p --max-retries 0 <"$T/one"
is "the request went through the proxy" "http://events.invalid/p" \
    "$(jq -r .path "$T/r.log")"

# usage errors
expect_exit "--url and --openfaas together is a usage error" 64 sink-http --url "$URL" --openfaas "$URL"
expect_exit "a non-HTTP URL is a usage error" 64 sink-http --url ftp://x/
expect_exit "credentials in the URL are a usage error" 64 sink-http --url "http://u:pw@127.0.0.1:$RPORT/"
done_testing
