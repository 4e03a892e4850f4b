#!/bin/sh
# vcpipe-yaml and vcpipe --check: the event router's documented example
# configs are accepted as they are; bad configs are refused before anything
# starts, every problem named as FILE:LINE:COL: key: what, exit 78.
. "${0%/*}/lib.sh"
command -v vcpipe-yaml >/dev/null 2>&1 || skip_all "vcpipe-yaml not built"
command -v jq >/dev/null 2>&1 || skip_all "jq not installed"
D=$VP_SRCDIR/t/data
E=$VP_SRCDIR/t/expected
bad="empty keys knative native syntax types"
plan $((6 + 6 * 2 + 6 * 2 + 14))

expect_exit "vcpipe-yaml --help exits 0" 0 vcpipe-yaml --help
check "vcpipe-yaml --help prints usage on stdout" grep -q '^usage: vcpipe-yaml' "$T/.exit.out"
expect_exit "vcpipe-yaml without FILE is a usage error" 64 vcpipe-yaml
expect_exit "vcpipe-yaml: a missing file exits 66" 66 vcpipe-yaml "$T/none.yaml"
expect_exit "vcpipe --help exits 0" 0 vcpipe --help
expect_exit "vcpipe --no-such-option exits 64" 64 vcpipe --no-such-option

# the router's own examples (deploy/event-router-config-*.yaml), unchanged
for f in router-knative router-openfaas router-aws router-webhook router-horizon native; do
	expect_exit "$f: accepted" 0 vcpipe-yaml "$D/vcpipe-$f.yaml"
	# PyYAML, an independent reader, must see the same document
	if python3 -c 'import yaml' 2>/dev/null; then
		python3 -c 'import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))' \
			"$D/vcpipe-$f.yaml" | jq -S . >"$T/$f.py.json"
		jq -S . "$T/.exit.out" >"$T/$f.json"
		same "$f: the same JSON as PyYAML reads" "$T/$f.py.json" "$T/$f.json"
	else
		ok "# SKIP PyYAML not installed"
	fi
done

# one bad config per kind of mistake; messages are compared exactly
for b in $bad; do
	( cd "$D" && vcpipe -config "vcpipe-bad-$b.yaml" --check ) >"$T/$b.out" 2>"$T/$b.err"
	is "bad-$b: exit 78" 78 $?
	same "bad-$b: messages" "$E/vcpipe-bad-$b.stderr" "$T/$b.err"
done 2>/dev/null || true

# values: YAML 1.1 booleans as the router's yaml.v2 reads them, numbers and
# quoted numbers as strings where a string is expected
cat >"$T/v.yaml" <<'YAML'
apiVersion: event-router.vmware.com/v1alpha1
kind: RouterConfig
metadata: {name: v, labels: {tier: 1}}
eventProvider:
  type: vcenter
  name: vc
  vcenter:
    address: "https://vc.example.com/sdk"
    insecureSSL: yes
    checkpoint: Off
    auth: {type: basic_auth, basicAuth: {username: admin, password: 12345}}
eventProcessor:
  type: knative
  name: kn
  knative:
    destination: {uri: {scheme: https, host: "broker.example.com:8443", path: /in}}
YAML
vcpipe-yaml "$T/v.yaml" >"$T/v.json"
is "insecureSSL: yes is true" true "$(jq .eventProvider.vcenter.insecureSSL "$T/v.json")"
is "checkpoint: Off is false" false "$(jq .eventProvider.vcenter.checkpoint "$T/v.json")"
is "a numeric password stays a string" '"12345"' "$(jq .eventProvider.vcenter.auth.basicAuth.password "$T/v.json")"
is "labels are strings" '"1"' "$(jq .metadata.labels.tier "$T/v.json")"
is "metricsProvider may be left out" null "$(jq .metricsProvider "$T/v.json")"
vcpipe -config "$T/v.yaml" --dry-run >"$T/v.plan"
check "uri as scheme/host/path becomes the sink URL" grep -q -- "--url https://broker.example.com:8443/in --knative" "$T/v.plan"

# vCenter addresses as the router's chart and README write them (govmomi's
# soap.ParseURL fills in https:// and /sdk; so does vc-source)
for a in https://vcenter.corp.local vcenter.corp.local vcenter.corp.local:8443; do
	sed "s|https://vc.example.com/sdk|$a|" "$T/v.yaml" >"$T/a.yaml"
	vcpipe -config "$T/a.yaml" --dry-run >"$T/a.plan" 2>"$T/a.err" &&
	grep -q -- "--url $a " "$T/a.plan" && ok "address $a is accepted and passed on" ||
		{ not_ok "address $a is accepted and passed on"; diag "$(cat "$T/a.err")"; }
done
sed "s|https://vc.example.com/sdk|ftp://vcenter.corp.local|" "$T/v.yaml" >"$T/a.yaml"
expect_exit "an address vc-source would refuse is refused at --check" 78 vcpipe -config "$T/a.yaml" --check

# --positions: where each key's value is, for tools
vcpipe-yaml --positions "$D/vcpipe-router-aws.yaml" >"$T/pos.json"
is "--positions: line:col of a value" '"31:20"' \
	"$(jq '."eventProcessor.awsEventBridge.auth.awsAccessKeyAuth.secretKey"' "$T/pos.json")"

# --raw converts any YAML, no schema
printf 'a: [1, 2.5, "x", ~]\nb: {c: true}\n' >"$T/raw.yaml"
is "--raw converts any YAML" '{"a":[1,2.5,"x",null],"b":{"c":true}}' "$(vcpipe-yaml --raw "$T/raw.yaml")"

# a webhook is a server: its events cannot be read twice, so one processor
printf 'apiVersion: vcpipe/v1\nkind: Config\nproviders:\n  - type: webhook\n    name: hook\n    webhook: {bindAddress: "127.0.0.1:8080", path: /webhook}\n    processors:\n      - {type: stdout, name: a}\n      - {type: stdout, name: b}\n' >"$T/hook.yaml"
vcpipe-yaml "$T/hook.yaml" 2>"$T/hook.err" >/dev/null || true
is "webhook: one processor only" "vcpipe-yaml: $T/hook.yaml:8:7: providers[0].processors: a webhook provider feeds one processor: its events cannot be read twice" "$(cat "$T/hook.err")"

# a password never appears in an error message
printf 'apiVersion: event-router.vmware.com/v1alpha1\nkind: RouterConfig\nmetadata: {name: x}\neventProvider: {type: vcenter, name: vc, vcenter: {address: "https://u:S3cret-value@vc", auth: {type: basic_auth, basicAuth: {username: u, password: S3cret-value}}}}\neventProcessor: {type: openfaas, name: f, openfaas: {address: http://gw:8080}}\n' >"$T/s.yaml"
vcpipe-yaml "$T/s.yaml" >/dev/null 2>"$T/s.err" || true
if grep -q S3cret "$T/s.err"; then not_ok "errors do not echo passwords"; else ok "errors do not echo passwords"; fi
done_testing
