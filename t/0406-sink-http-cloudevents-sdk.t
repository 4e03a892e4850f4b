#!/bin/sh
# sink-http's requests, structured and binary, parse and validate with the
# CloudEvents SDK for JavaScript (HTTP.toEvent) into the events that were
# sent; and a ce-encode | sink-http pipeline does the same when ce-encode
# is built.
. "${0%/*}/lib.sh"
command -v sink-http >/dev/null || skip_all "sink-http not built"
command -v node >/dev/null || skip_all "node not installed"
R=$VP_SRCDIR/t/cloudevents-receiver
[ -f "$R/setup.sh" ] || skip_all "t/cloudevents-receiver not present"
DEST=$VP_BUILDDIR/t/cloudevents-receiver
sh "$R/setup.sh" "$DEST" >/dev/null 2>"$T/setup.err" || skip_all "npm ci failed: $(tail -1 "$T/setup.err")"
D=$VP_SRCDIR/t/data
E=$VP_SRCDIR/t/expected
n=6
command -v ce-encode >/dev/null && [ -f "$D/sink-http-raw.ndjson" ] && n=$((n + 6))
plan $n

node "$DEST/receiver.js" "$T/ce.port" >>"$T/ce.out" 2>"$T/ce.err" &
bg_pid $!
wait_for 60 test -s "$T/ce.port" || bail "SDK receiver did not start"
U=http://127.0.0.1:$(cat "$T/ce.port")/

expect_exit "structured events to the SDK receiver" 0 \
    $VP_WRAP sink-http --url "$U" <"$D/sink-http-structured.ndjson"
cp "$T/ce.out" "$T/structured.got"
check "the SDK saw the structured events as sent" \
    node "$DEST/compare.js" "$D/sink-http-structured.ndjson" "$T/structured.got"
is "all in structured mode" structured "$(jq -r .mode "$T/structured.got" | sort -u)"
: >"$T/ce.out"
expect_exit "binary events to the SDK receiver" 0 \
    $VP_WRAP sink-http --url "$U" <"$D/sink-http-binary.ndjson"
cp "$T/ce.out" "$T/binary.got"
check "the SDK saw the binary events as sent (percent-decoded)" \
    node "$DEST/compare.js" "$E/sink-http-binary-as-structured.ndjson" "$T/binary.got"
is "all in binary mode" binary "$(jq -r .mode "$T/binary.got" | sort -u)"

if [ "$n" -gt 6 ]; then
	for mode in structured binary; do
		: >"$T/ce.out"
		ce-encode --mode structured <"$D/sink-http-raw.ndjson" >"$T/want.$mode" 2>>"$T/ce-encode.err"
		expect_exit "ce-encode --mode $mode | sink-http" 0 \
		    sh -c "ce-encode --mode $mode <'$D/sink-http-raw.ndjson' 2>>'$T/ce-encode.err' |
		    $VP_WRAP sink-http --url '$U' --checkpoint '$T/ck.$mode'"
		check "the SDK saw what ce-encode built ($mode)" \
		    node "$DEST/compare.js" "$T/want.$mode" "$T/ce.out"
		is "checkpoint carries the vCenter key ($mode)" "3002 2026-11-23T09:02:01Z" \
		    "$(jq -r '"\(.key) \(.time)"' "$T/ck.$mode")"
	done
fi
done_testing
