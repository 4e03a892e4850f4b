#!/bin/sh
# vcpipe-yaml bounds every YAML document it reads, aliases expanded: a
# "billion laughs" file, an alias inside its own anchor, deep nesting and
# too many aliases are refused at load time (FILE:LINE:COL, exit 78) on
# every path (the schema check, --raw, --positions, --check, vcpipe --check),
# in little memory and time; ordinary anchors and aliases still work.
. "${0%/*}/lib.sh"
command -v vcpipe-yaml >/dev/null 2>&1 || skip_all "vcpipe-yaml not built"
command -v jq >/dev/null 2>&1 || skip_all "jq not installed"
plan 18

# nine levels of nine: 387,420,489 scalars once expanded (9 GB as JSON)
python3 - "$T" <<'PY'
import sys
t = sys.argv[1]
lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
for i in range(1, 9):
    lines.append('a%d: &a%d [%s]' % (i, i, ", ".join(["*a%d" % (i - 1)] * 9)))
open(t + "/bomb.yaml", "w").write("\n".join(lines) + "\n")
# 1001 aliases of one small anchor: cheap to expand, but more than allowed
open(t + "/aliases.yaml", "w").write("a: &a x\nb: [" + ", ".join(["*a"] * 1001) + "]\n")
# nesting: 64 levels below the top are allowed, 65 are not
open(t + "/deep64.yaml", "w").write("[" * 65 + "]" * 65 + "\n")
open(t + "/deep65.yaml", "w").write("[" * 66 + "]" * 66 + "\n")
PY
printf 'a: &x [1, *x]\n' >"$T/cycle.yaml"

# at most 200 MB of address space: the unbounded expansion needs 9 GB.
# ASan maps terabytes of shadow memory and cannot start under ulimit -v:
# there, its own limit on resident memory bounds the run instead.
if ldd "$(command -v vcpipe-yaml)" 2>/dev/null | grep -q libasan; then
	bounded() { (
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}hard_rss_limit_mb=300"
		export ASAN_OPTIONS
		exec "$@"
	); }
else
	bounded() { ( ulimit -v 200000; exec "$@" ); }
fi
for mode in "" --raw --positions --check; do
	expect_exit "bomb ${mode:-(schema check)}: refused, exit 78" 78 \
		bounded vcpipe-yaml $mode "$T/bomb.yaml"
done
is "the message names the node whose expansion crossed the bound" \
	"vcpipe-yaml: $T/bomb.yaml:6:5: aliases expand this to more than 100000 nodes" \
	"$(cat "$T/.exit.err")"
is "nothing on stdout" "" "$(cat "$T/.exit.out")"
expect_exit "vcpipe --check on the bomb: exit 78" 78 bounded vcpipe -config "$T/bomb.yaml" --check
check "vcpipe says why" grep -q 'aliases expand this to more than 100000 nodes' "$T/.exit.err"

expect_exit "an alias inside its own anchor: exit 78" 78 bounded vcpipe-yaml --raw "$T/cycle.yaml"
is "it is named" "vcpipe-yaml: $T/cycle.yaml:1:4: an alias inside the node it refers to (it would never end)" \
	"$(cat "$T/.exit.err")"
expect_exit "1001 aliases: exit 78" 78 vcpipe-yaml --raw "$T/aliases.yaml"
check "the alias count is named" grep -q 'more than 1000 aliases' "$T/.exit.err"
expect_exit "64 levels below the top: accepted" 0 vcpipe-yaml --raw "$T/deep64.yaml"
expect_exit "65 levels below the top: exit 78" 78 vcpipe-yaml --raw "$T/deep65.yaml"
check "the depth is named" grep -q 'nested more than 64 levels deep' "$T/.exit.err"

# an ordinary config that shares one auth block through an alias
cat >"$T/ok.yaml" <<'YAML'
apiVersion: event-router.vmware.com/v1alpha1
kind: RouterConfig
metadata: {name: shared}
eventProvider:
  type: webhook
  name: hook
  webhook:
    bindAddress: 127.0.0.1:8080
    path: /webhook
    auth: &auth {type: basic_auth, basicAuth: {username: u, password: p}}
eventProcessor:
  type: openfaas
  name: of
  openfaas: {address: "http://127.0.0.1:8081", async: false, auth: *auth}
metricsProvider:
  type: default
  name: m
  default: {bindAddress: "127.0.0.1:8082", auth: *auth}
YAML
expect_exit "aliases within the bounds: accepted" 0 vcpipe-yaml "$T/ok.yaml"
is "the alias is expanded" "u u u" \
	"$(jq -r '[.eventProvider.webhook.auth, .eventProcessor.openfaas.auth, .metricsProvider.default.auth] | map(.basicAuth.username) | join(" ")' "$T/.exit.out")"
expect_exit "vcpipe --check accepts it" 0 vcpipe -config "$T/ok.yaml" --check
done_testing
