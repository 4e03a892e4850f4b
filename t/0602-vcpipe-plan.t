#!/bin/sh
# Config -> pipelines: vcpipe --dry-run prints the stages each pipeline runs,
# for the router's examples and for a vcpipe/v1 config with two vCenters and
# several processors each (one whole pipeline per processor, each with its
# own checkpoint).  Secrets never appear on a command line.
. "${0%/*}/lib.sh"
command -v vcpipe-yaml >/dev/null 2>&1 || skip_all "vcpipe-yaml not built"
command -v jq >/dev/null 2>&1 || skip_all "jq not installed"
D=$VP_SRCDIR/t/data
E=$VP_SRCDIR/t/expected
plan 19

for f in router-knative router-openfaas router-aws router-webhook router-horizon native; do
	( cd "$D" && vcpipe -config "vcpipe-$f.yaml" --dry-run ) >"$T/$f.plan" 2>"$T/$f.err"
	same "$f: pipelines" "$E/vcpipe-$f.plan" "$T/$f.plan"
done
if grep -q -e ReplaceMe -e ZYXWVUTSRQPO -e webhook-pass "$T"/*.plan; then
	not_ok "no password or secret key in any command line"
else
	ok "no password or secret key in any command line"
fi

# the knative ref is resolved by sink-http through the Kubernetes API
check "Broker ref -> sink-http --ref" grep -q -- \
	'sink-http --ref eventing.knative.dev/v1/Broker/default/rabbit --knative' \
	"$T/router-knative.plan"
# encoding: binary makes ce-encode write binary mode; RouterConfig keeps the
# router's CloudEvent type
check "encoding: binary -> ce-encode --mode binary" grep -q -- \
	'ce-encode --max-line-bytes 40m --reject "$RUN"/u/veba-demo-vc-01.veba-demo-knative/state.reject --mode binary --type-style router' "$T/router-knative.plan"
# checkpoint: true keeps checkpoints in checkpointDir; false in the run dir
check "checkpoint: true -> checkpointDir" grep -q -- \
	'--checkpoint /var/local/checkpoints/veba-demo-vc-01.veba-demo-aws.checkpoint' "$T/router-aws.plan"
check "checkpoint: false -> run directory" grep -q -- \
	'--checkpoint "$RUN"/u/veba-demo-vc-01.veba-demo-knative/state.checkpoint' "$T/router-knative.plan"
check "webhook: webhook-source on bindAddress and path, then ce-encode" grep -q -- \
	'^webhook-source --listen 0.0.0.0:8080 --path /webhook --basic-auth-file "$RUN"/u/veba-demo-webhook.veba-demo-knative/hook.cred --log-level info | vcpipe-tap' "$T/router-webhook.plan"
check "horizon: horizon-source with the AD domain and a credentials file" grep -q -- \
	'horizon-source --url https://api.myhorizon.corp.local --domain corp --credentials-file "$RUN"/u/veba-demo-horizon.veba-demo-knative/horizon.cred' "$T/router-horizon.plan"
is "native: one pipeline per provider and processor" 4 "$(grep -c '^vc-source ' "$T/native.plan")"

# --state-dir overrides where checkpoints live; --log-json and --log-level
# reach every stage
( cd "$D" && vcpipe --config=vcpipe-router-aws.yaml --state-dir /srv/vcpipe \
	-log-json -log-level debug --dry-run ) >"$T/flags.plan"
check "--state-dir moves checkpoints" grep -q -- '--checkpoint /srv/vcpipe/veba-demo-vc-01.veba-demo-aws.checkpoint' "$T/flags.plan"
n=$(grep -m 1 '^vc-source ' "$T/flags.plan" | grep -o -- '--log-level debug --log-json' | wc -l)
is "--log-json and --log-level reach all five stages" 5 "$n"

# --dry-run is shell that is safe to paste: words from the config are
# quoted, whatever they hold (a value with '; or $(...) runs nothing)
mkdir -p "$T/paste/bin"
for p in vc-source vcpipe-tap ce-encode sink-http sink-eventbridge vcpipe-metrics; do
	printf '#!/bin/sh\nfor a in "$@"; do printf "%%s\\n" "$a"; done >>"%s/%s.args"\ncat >/dev/null\n' \
		"$T/paste" "$p" >"$T/paste/bin/$p"
	chmod +x "$T/paste/bin/$p"
done
evil="fra1'; touch pwned; echo '\$(touch pwned2)\`touch pwned3\`\" \\"
# (in YAML's single quotes, a quote is doubled)
yq=$(printf '%s' "$evil" | sed "s/'/''/g")
printf "        site: '%s'\n" "$yq" >"$T/evil.line"
sed -e "/site: fra1/{r $T/evil.line" -e d -e '}' "$D/vcpipe-native.yaml" >"$T/evil.yaml"
vcpipe -config "$T/evil.yaml" --dry-run >"$T/evil.plan"
( cd "$T/paste" && PATH=$T/paste/bin:$PATH RUN=$T/paste/run sh "$T/evil.plan" </dev/null )
check "--dry-run pasted: no command from the config ran" sh -c '! ls "$1"/pwned*' - "$T/paste"
check "--dry-run pasted: ce-encode gets the value as one word" grep -Fxq -e "site=$evil" "$T/paste/ce-encode.args"
check "--dry-run pasted: \$RUN is expanded" grep -Fxq "$T/paste/run/u/vc02.print/read.json" "$T/paste/vcpipe-tap.args"
done_testing
