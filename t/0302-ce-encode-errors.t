#!/bin/sh
# Bad input lines: a message naming the line, the documented exit codes, the
# --reject file format, --strict, over-long and non-UTF-8 lines, usage errors.
. "${0%/*}/lib.sh"
plan 25
D=$VP_SRCDIR/t/data
X=$VP_SRCDIR/t/expected
good=$(sed -n 1p "$D/ce-encode-raw.ndjson")
sed -n 1p "$X/ce-encode-structured-router.ndjson" >"$T/good.out"
cat "$T/good.out" "$T/good.out" >"$T/good2.out"

# 23 bad lines, two good ones among them (t/data/ce-encode-bad.ndjson)
expect_exit "bad lines and no --reject file: exit 65" 65 \
	$VP_WRAP ce-encode <"$D/ce-encode-bad.ndjson"
same "the good lines around them are encoded" "$T/good2.out" "$T/.exit.out"
same "one error per bad line, naming it, and the count at exit" \
	"$X/ce-encode-bad.stderr" "$T/.exit.err"

expect_exit "bad lines all kept in --reject: exit 0" 0 \
	$VP_WRAP ce-encode --reject "$T/rej" <"$D/ce-encode-bad.ndjson"
same "stdout is the same with --reject" "$T/good2.out" "$T/.exit.out"
same "the reject file holds line, error and input of each" \
	"$X/ce-encode-rejects.ndjson" "$T/rej"
grep -q "^ce-encode: warn: 23 lines rejected, kept in $T/rej\$" "$T/.exit.err" &&
	ok "the count and the reject file are logged" ||
	not_ok "the count and the reject file are logged"
jq -r .input "$T/rej" >"$T/rej.inputs"
grep -vxF "$good" "$D/ce-encode-bad.ndjson" >"$T/bad.inputs"
same "reject inputs are the original lines, byte for byte" "$T/bad.inputs" "$T/rej.inputs"
# appending: a second run adds to the file
ce-encode --reject "$T/rej" <"$D/ce-encode-bad.ndjson" >/dev/null 2>&1
is "the reject file is appended to" 46 "$(wc -l <"$T/rej" | tr -d ' ')"

# --strict
expect_exit "--strict: exit 65 at the first bad line" 65 \
	$VP_WRAP ce-encode --strict <"$D/ce-encode-bad.ndjson"
same "--strict: lines before it are written" "$T/good.out" "$T/.exit.out"
is "--strict: one error, naming line 2" \
	"ce-encode: stdin:2: not JSON: unexpected 'n', expected a value at byte 1" \
	"$(cat "$T/.exit.err")"
expect_exit "--strict --reject: still exit 65" 65 \
	ce-encode --strict --reject "$T/rej2" <"$D/ce-encode-bad.ndjson"
is "--strict --reject: the bad line is kept" 2 "$(jq .line "$T/rej2")"

# invalid UTF-8: message, and the line kept as base64
{ printf "%s\n" "$good"; printf '{"vcenter":"https://vc.example.com/sdk","class":"Vm\377"}\n'; printf "%s\n" "$good"; } >"$T/utf8"
expect_exit "invalid UTF-8: exit 0 with --reject" 0 ce-encode --reject "$T/rej3" <"$T/utf8"
is "invalid UTF-8: message names line and byte" \
	"ce-encode: stdin:2: invalid UTF-8 at byte 52" "$(grep stdin: "$T/.exit.err")"
sed -n 2p "$T/utf8" | tr -d '\n' >"$T/utf8.line"
jq -j .input_base64 "$T/rej3" | base64 -d >"$T/utf8.back"
same "invalid UTF-8: input_base64 holds the exact bytes" "$T/utf8.line" "$T/utf8.back"

# over-long line between good ones; the next line numbers stay right
{ printf "%s\n" "$good"; printf '{"x":"%0300d"}\n' 0; echo "not json"; printf "%s\n" "$good"; } >"$T/long"
expect_exit "over-long line: exit 0 with --reject" 0 \
	ce-encode --max-line-bytes 1k --reject "$T/rej4" <"$T/long"
same "over-long line: the other good lines are encoded" "$T/good2.out" "$T/.exit.out"
# 1k is larger than the good line (about 600 bytes): use 100 to cut the long one
ce-encode --max-line-bytes 100 --reject "$T/rej5" <"$T/long" >/dev/null 2>"$T/long.err" || true
grep -q '^ce-encode: stdin:2: line longer than 100 bytes$' "$T/long.err" &&
	grep -q '^ce-encode: stdin:3: not JSON' "$T/long.err" &&
	ok "over-long line: reported with its number, counting goes on" ||
	not_ok "over-long line: reported with its number, counting goes on"
is "over-long line: reject record truncated to --max-line-bytes" \
	'{"line":2,"error":"line longer than 100 bytes","truncated":true,"bytes":308,"input":"{\"x\":\"0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"}' \
	"$(jq -c 'select(.line == 2)' "$T/rej5")"

# last line without a newline, CRLF line ends, blank lines
printf '%s\r\n\n   \n%s' "$good" "$good" | ce-encode >"$T/crlf" 2>/dev/null
same "CRLF, blank lines and a last line without newline" "$T/good2.out" "$T/crlf"

# usage errors: 64, nothing read
for args in "--mode json" "--type-style knative" "--id sequential" "--set Bad=1" \
    "--set id=x" "--set eventkey=1" "--set novalue" "--max-line-bytes 10" \
    "--source a\ b" "input.ndjson"; do
	eval "set -- $args"
	set +e; ce-encode "$@" </dev/null >/dev/null 2>"$T/usage.err"; rc=$?; set -e
	[ "$rc" = 64 ] && grep -q "^ce-encode: " "$T/usage.err" ||
		_ubad="${_ubad:-} [$args: exit $rc]"
done
if [ -z "${_ubad:-}" ]; then ok "usage errors exit 64 and name the program"
else not_ok "usage errors exit 64 and name the program:$_ubad"; fi
expect_exit "an unwritable --reject file: exit 74" 74 \
	ce-encode --reject /nonexistent-dir/rejects.ndjson </dev/null
expect_exit "--set twice with one name: exit 64" 64 ce-encode --set a=1 --set a=2 </dev/null
done_testing
