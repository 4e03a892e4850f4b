#!/bin/sh
# Lines that already are CloudEvents (structured JSON from a webhook source,
# or binary-mode lines) pass through re-encoded in the chosen mode, with their
# attributes unchanged; the type style and --id do not touch them.
. "${0%/*}/lib.sh"
plan 9
D=$VP_SRCDIR/t/data
X=$VP_SRCDIR/t/expected

expect_exit "structured passthrough exits 0" 0 $VP_WRAP ce-encode <"$D/ce-encode-ce.ndjson"
same "structured passthrough matches the golden file" "$X/ce-encode-ce-structured.ndjson" "$T/.exit.out"
expect_exit "binary passthrough exits 0" 0 $VP_WRAP ce-encode --mode binary <"$D/ce-encode-ce.ndjson"
same "binary passthrough matches the golden file" "$X/ce-encode-ce-binary.ndjson" "$T/.exit.out"

ce-encode --type-style vsphere --id uuid <"$D/ce-encode-ce.ndjson" >"$T/vs" 2>/dev/null
same "--type-style and --id leave CloudEvents alone" "$X/ce-encode-ce-structured.ndjson" "$T/vs"
# re-encoding ce-encode's own output changes nothing, in either mode
ce-encode <"$X/ce-encode-ce-structured.ndjson" >"$T/s2" 2>/dev/null
same "structured output re-encodes to itself" "$X/ce-encode-ce-structured.ndjson" "$T/s2"
ce-encode --mode binary <"$X/ce-encode-ce-binary.ndjson" >"$T/b2" 2>/dev/null
same "binary output re-encodes to itself" "$X/ce-encode-ce-binary.ndjson" "$T/b2"
# the structured attributes survive a trip through binary mode (binary
# headers carry strings: count/flag come back as strings, eventkey as integer)
ce-encode <"$X/ce-encode-ce-binary.ndjson" 2>/dev/null | sed -n 6p >"$T/rt6"
sed -n 6p "$X/ce-encode-ce-structured.ndjson" >"$T/want6"
same "binary -> structured restores eventkey as an integer" "$T/want6" "$T/rt6"
ce-encode --set env=prod --source urn:x:y <"$D/ce-encode-ce.ndjson" 2>/dev/null |
	jq -r '"\(.source) \(.env)"' | sort -u >"$T/set"
is "--set and --source apply to passed-through events" "urn:x:y prod" "$(cat "$T/set")"
done_testing
