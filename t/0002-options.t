#!/bin/sh
# The option layer (src/lib/opt.h): every kind, its bounds, its syntax and
# its exact messages, from t/data/options.cases through opt-check; --help as
# generated from the table; then what every program shares through it: one
# size syntax, one listen syntax (":PORT" is every interface), one rule and
# one exit code for unreadable and malformed credential files.
. "${0%/*}/lib.sh"
PATH="$VP_BUILDDIR/src/lib:$PATH"
command -v opt-check >/dev/null 2>&1 || skip_all "opt-check not built (make check)"
CASES=$VP_SRCDIR/t/data/options.cases
ncases=$(grep -cv '^#' "$CASES")
plan $((ncases + 1 + 6 + 7 * 3 + 3 + 7))

# ---- the table of cases ----
tab=$(printf '\t')
grep -v '^#' "$CASES" | while IFS=$tab read -r args code want; do
	eval "set -- $args"
	set +e; $VP_WRAP opt-check "$@" >"$T/out" 2>"$T/err"; rc=$?; set -e
	name="opt-check $args: exit $code"
	if [ "$rc" != "$code" ]; then
		not_ok "$name"; diag "got exit $rc"; sed 's/^/# /' "$T/err" >&2; continue
	fi
	if [ "$code" = 0 ]; then
		miss=$(printf '%s\n' "$want" | tr ';' '\n' | while read -r w; do
			grep -qxF "$w" "$T/out" || printf ' %s' "$w"; done)
		if [ -z "$miss" ]; then ok "$name"; else
			not_ok "$name"; diag "missing:$miss"; sed 's/^/# /' "$T/out" >&2; fi
	else
		got=$(head -1 "$T/err")
		if [ "$got" = "$want" ] && sed -n 2p "$T/err" | grep -qxF "Try 'opt-check --help' for more information." ||
		    { [ "$code" != 64 ] && [ "$got" = "$want" ]; }; then ok "$name"; else
			not_ok "$name"; diag "expected: $want" "     got: $got"; fi
	fi
done | tee "$T/cases.tap"
# the subshell's counts do not reach this shell: carry its failures over
_vp_n=$ncases
grep -q '^not ok' "$T/cases.tap" && _vp_failed=1

opt-check --help >"$T/help"
same "--help is generated from the table: bounds, defaults, groups" \
	"$VP_SRCDIR/t/expected/opt-check.help" "$T/help"

# ---- the tables' generator: a bad row stops the build with FILE:LINE ----
L=$VP_SRCDIR/src/lib
gen_case() { # NAME EXPECTED-MESSAGE ROWS (printf format)
	printf "$3" >"$T/bad.tab"
	set +e; awk -f "$L/table-h.awk" "$L/opt.tab" "$L/sinkcore.tab" "$L/vpamqp.tab" \
		"$L/httpd.tab" "$T/bad.tab" >/dev/null 2>"$T/gen.err"; rc=$?; set -e
	if [ "$rc" != 0 ] && [ "$(cat "$T/gen.err")" = "$T/bad.tab:$2" ]; then ok "table-h.awk: $1"; else
		not_ok "table-h.awk: $1"; diag "exit $rc, expected $T/bad.tab:$2"; sed 's/^/# /' "$T/gen.err" >&2; fi
}
gen_case "an unknown kind" "2: unknown kind uri" 'table opt o\nurl uri &x URL\n\tHelp.\n'
gen_case "a missing field" "2: a row of opt starts with 4 fields, this has 3" 'table opt o\nurl url &x\n\tHelp.\n'
gen_case "a name twice" "4: name url twice (first $T/bad.tab:2)" \
	'table opt o\nurl url &x URL\n\tHelp.\nurl flag &y -\n\tMore.\n'
gen_case "a name twice through a shared group" "5: timeout twice (first $T/bad.tab:2)" \
	'table opt o\ntimeout int &x N\n\tHelp.\ntable group g\n"AMQP" vp_amqp_opts &a\n"O" o -\n'
gen_case "no help text" "2: a row of opt with no text (help)" 'table opt o\nurl url &x URL\n'
gen_case "an unknown field" "2: record opt has no field dflt" 'table opt o\nurl url &x URL dflt=1\n\tHelp.\n'
gen_case "an unknown flag" "2: unknown flags requird" \
	'table opt o\nurl url &x URL flags=requird\n\tHelp.\n'

# ---- one size syntax wherever a size is ----
for pa in "ce-encode --max-line-bytes" "webhook-source --max-body" "stream-serve --max-record"; do
	set -- $pa
	expect_exit "$1 $2 1m is a size" 0 $1 $2 1m --help
	expect_exit "$1 $2 1.5m is not" 64 $1 $2 1.5m
done

# ---- the credential-file rule: unreadable 66, malformed 78, everywhere ----
: >"$T/empty"
printf 'onlyuser\n' >"$T/oneline"
cred_case() { # PROGRAM OPTION BADFILE ARGS...
	p=$1 o=$2 bad=$3; shift 3
	expect_exit "$p $o: an unreadable file exits 66" 66 timeout 20 $p "$@" $o "$T/none"
	is "$p $o: the message names the option and the file" \
		"$p: $o: $T/none: No such file or directory" "$(head -1 "$T/.exit.err")"
	expect_exit "$p $o: a malformed file exits 78" 78 timeout 20 $p "$@" $o "$bad" </dev/null
}
cred_case vc-source --credentials-file "$T/oneline" --url https://127.0.0.1:9/sdk --once
cred_case sink-http --credentials-file "$T/oneline" --url http://127.0.0.1:9/
cred_case sink-http --token-file "$T/empty" --url http://127.0.0.1:9/
cred_case horizon-source --credentials-file "$T/oneline" --url http://127.0.0.1:9 --domain D --once
cred_case webhook-source --basic-auth-file "$T/oneline" --listen 127.0.0.1:0
cred_case vcpipe-metrics --credentials-file "$T/oneline" --listen 127.0.0.1:0 --dir "$T"
cred_case sink-eventbridge --credentials-file "$T/oneline" --region us-east-1

# ---- ":PORT" listens on every interface, as the event router's bindAddress ----
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo '[]' >"$T/units.json"
vcpipe-metrics --listen ":$port" --dir "$T" 2>"$T/m.err" &
bg_pid $!
wait_for 60 grep -q serving "$T/m.err" || bail "vcpipe-metrics did not start: $(cat "$T/m.err")"
is ":PORT answers on 127.0.0.1" 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/metrics")"
if python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
	is ":PORT answers on [::1]" 200 "$(curl -s -g -o /dev/null -w '%{http_code}' "http://[::1]:$port/metrics")"
else
	ok ":PORT answers on [::1] # SKIP no IPv6 loopback"
fi
sed 's/"0.0.0.0:8082"/":8082"/' "$VP_SRCDIR/t/data/vcpipe-router-aws.yaml" >"$T/colon.yaml"
check "bindAddress \":8082\" is accepted in vcpipe's config too" vcpipe-yaml --check "$T/colon.yaml"
done_testing
