#!/bin/sh
# Valid JSON that jansson's defaults refuse is still delivered byte for byte:
# integers beyond 64 bits and duplicate keys inside data; duplicate
# attributes are refused. Every dead-letter record can be replayed, also for
# "{ }"; a line with its own non-object "deadletter" member is refused
# (vcpipe-formats(5): the name is reserved) and kept whole as a string.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/http-receiver/lib.sh"
command -v sink-http >/dev/null || skip_all "sink-http not built"
command -v jq >/dev/null || skip_all "jq not installed"
plan 17
FAST="--retry-base 10ms --retry-cap 40ms"

# strict_json FILE: every line is JSON with no key given twice at any depth
# (jq would take the last one silently)
strict_json() {
	python3 -c '
import json, sys
def pairs(kv):
    keys = [k for k, _ in kv]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate key")
    return dict(kv)
for n, line in enumerate(open(sys.argv[1]), 1):
    try:
        json.loads(line, object_pairs_hook=pairs)
    except ValueError as e:
        sys.exit("line %d: %s" % (n, e))
' "$1"
}

start_receiver r
URL=http://127.0.0.1:$RPORT/
: >>"$T/r.log"

# structured: the body is the line, whatever jansson makes of the numbers
cat >"$T/in" <<'EOF'
{"specversion":"1.0","id":"big-1","source":"s","type":"t","eventkey":41,"data":{"n":18446744073709551615,"m":-99999999999999999999,"f":1.5}}
{"specversion":"1.0","id":"dup-1","source":"s","type":"t","data":{"a":1,"a":2,"b":{"c":[{"d":1,"d":2}]}}}
{"headers":{"ce-specversion":"1.0","ce-id":"bin-1","ce-source":"s","ce-type":"t","content-type":"application/json"},"body":"{\"n\":18446744073709551615,\"a\":1,\"a\":2}","x":{"n":18446744073709551615,"k":1,"k":2}}
{"specversion":"1.0","id":"key-1","source":"s","type":"t","eventkey":1234,"data":{"n":18446744073709551616}}
EOF
expect_exit "events with huge integers and repeated data keys are delivered" 0 \
    $VP_WRAP sink-http --url "$URL" --checkpoint "$T/ck" <"$T/in"
is "four requests" 4 "$(requests r)"
jq -r 'select(.headers["content-type"]=="application/cloudevents+json")|.body' "$T/r.log" >"$T/got"
grep -v '"headers"' "$T/in" >"$T/want"
same "structured bodies are the lines byte for byte" "$T/want" "$T/got"
is "the binary body is the body member byte for byte" \
    "$(sed -n 3p "$T/in" | jq -r .body)" \
    "$(jq -r 'select(.headers["ce-id"]=="bin-1")|.body' "$T/r.log")"
is "the eventkey beside a huge integer reaches the checkpoint exactly" "key-1 1234" \
    "$(jq -r '"\(.id) \(.key)"' "$T/ck")"

# attributes given twice are refused: which one would be meant?
printf '%s\n' \
    '{"specversion":"1.0","id":"a","source":"s","type":"t","id":"b"}' \
    '{"headers":{"ce-specversion":"1.0","ce-id":"a","ce-source":"s","ce-type":"t","ce-id":"b"},"body":""}' >"$T/twice"
: >"$T/r.log"
expect_exit "a repeated attribute without --dlq: exit 65" 65 \
    $VP_WRAP sink-http --url "$URL" <"$T/twice"
check "the error names the line and the member" \
    grep -q '^sink-http: stdin:1: duplicate member "id"' "$T/.exit.err"
expect_exit "with --dlq both are dead-lettered" 0 \
    $VP_WRAP sink-http --url "$URL" --dlq "$T/twice.dlq" <"$T/twice"
is "why, line by line; nothing sent" 'duplicate member "id",duplicate header "ce-id" 0' \
    "$(jq -r .deadletter.error "$T/twice.dlq" | paste -sd, -) $(requests r)"

# dead letters that must replay: an event with its own "deadletter"
# member, an empty object written with a space, a huge integer, trailing
# blanks before and after the closing brace
cat >"$T/dl.in" <<'EOF'
{"specversion":"1.0","id":"own-dl","source":"s","type":"t","deadletter":"mine","data":{}}
{ }
{"specversion":"1.0","id":"big-2","source":"s","type":"t","data":{"n":18446744073709551615}}
{"specversion":"1.0","id":"ws-1","source":"s","type":"t" }  
EOF
stop_receiver r
start_receiver f --default 400
expect_exit "a rejecting receiver: everything dead-lettered" 0 \
    $VP_WRAP sink-http --url "http://127.0.0.1:$RPORT/" $FAST --dlq "$T/dl1" <"$T/dl.in"
check "every record is JSON without a repeated key" strict_json "$T/dl1"
is "one record per line, with the reasons" "invalid line,invalid line,rejected,rejected" \
    "$(jq -r .deadletter.reason "$T/dl1" | paste -sd, -)"
stop_receiver f

# the replay: the events get through, the invalid line is refused again for
# what it is (not as unreadable)
start_receiver g
expect_exit "replaying the dead letters" 0 \
    $VP_WRAP sink-http --url "http://127.0.0.1:$RPORT/" $FAST --dlq "$T/dl2" <"$T/dl1"
sed -n 3,4p "$T/dl.in" >"$T/want2"
bodies g >"$T/got2"
same "the events arrive byte for byte" "$T/want2" "$T/got2"
is "the own member and the empty object are refused again, lines 1 and 2" \
    "invalid line 1 a,invalid line 2 neither" \
    "$(jq -r '"\(.deadletter.reason) \(.deadletter.line) \(.deadletter.error|split(" ")[0])"' "$T/dl2" | paste -sd, -)"
is "the line with its own member is kept whole, as a string" \
    "$(sed -n 1p "$T/dl.in")" "$(sed -n 1p "$T/dl2" | jq -r .invalid)"
is "the record of \"{ }\" is still the text with the member added" \
    '{ "deadletter":{"reason":"invalid line",' "$(sed -n 2p "$T/dl2" | cut -c1-40)"
done_testing
