#!/bin/sh
# RouterConfig as users write it, and what vcpipe adds: webhook.path without
# its slash normalised as the router's validatePath, "/" refused at --check;
# bindAddress ":8082"; certificates.rootCAs for vCenter, Horizon and every
# sink (the router's check: each file a PEM CA); --check catches what the run
# would refuse (passwordEnv unset, a checkpoint directory that cannot be
# made, a ref outside a cluster); the vcpipe/ labels (type style, id rule,
# payload encoding, replay cap) and their vcpipe/v1 keys.
. "${0%/*}/lib.sh"
command -v vcpipe-yaml >/dev/null 2>&1 || skip_all "vcpipe-yaml not built"
command -v jq >/dev/null 2>&1 || skip_all "jq not installed"
command -v openssl >/dev/null 2>&1 || skip_all "openssl not installed"
plan 37
D=$VP_SRCDIR/t/data
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/ca.key" -out "$T/ca.pem" -days 2 \
	-subj /CN=corp-ca 2>/dev/null
cp "$T/ca.pem" "$T/ca2.pem"

# enc FILE: ce-encode's options in the pipelines, vcpipe's own (--max-line-bytes, --reject) left out
enc() { dry "$1" | grep -o 'ce-encode [^|]*' | sed 's/--max-line-bytes [^ ]* //; s/--reject [^ ]* //'; }
# rc FILE...: vcpipe --check; dry FILE: the pipelines
chk() { vcpipe -config "$1" --check >"$T/chk.out" 2>"$T/chk.err" && RC=0 || RC=$?; }
dry() { vcpipe -config "$1" --dry-run 2>"$T/dry.err"; }
# hook PATH: the router's webhook example with another path
hook() { sed "s|^    path: /webhook\$|    path: \"$1\"|" "$D/vcpipe-router-webhook.yaml" >"$T/hook.yaml"; }

# ---- webhook.path, bindAddress -----------------------------------------------------
for p in webhook /webhook //WebHook// /webhook/; do
	hook "$p"
	is "webhook.path \"$p\" -> /webhook (validatePath)" "--path /webhook" \
		"$(dry "$T/hook.yaml" | grep -o -- '--path [^ ]*')"
done
hook ""
is "webhook.path \"\" -> /webhook" "--path /webhook" "$(dry "$T/hook.yaml" | grep -o -- '--path [^ ]*')"
hook "/"
chk "$T/hook.yaml"
is "webhook.path \"/\": refused at --check, exit 78" 78 "$RC"
check "... saying why" grep -q 'webhook.path: "/": invalid webhook endpoint path' "$T/chk.err"
sed 's|bindAddress: 0.0.0.0:8080|bindAddress: ":8082"|' "$D/vcpipe-router-webhook.yaml" >"$T/any.yaml"
chk "$T/any.yaml"
is "bindAddress \":8082\": accepted" 0 "$RC"
check "... webhook-source listens on every interface, port 8082" sh -c \
	"vcpipe -config '$T/any.yaml' --dry-run | grep -q -- 'webhook-source --listen :8082 '"

# ---- certificates.rootCAs ------------------------------------------------------
withcas() { # FILE CA...: a copy of FILE trusting the CAs
	f=$1; shift
	{ cat "$f"; printf 'certificates:\n  rootCAs:\n'; for c; do printf '    - %s\n' "$c"; done; } >"$T/cas.yaml"
}
for f in knative openfaas aws horizon; do
	withcas "$D/vcpipe-router-$f.yaml" "$T/ca.pem" "$T/ca2.pem"
	dry "$T/cas.yaml" >"$T/cas.plan"
	is "rootCAs ($f): source and sink verify with the bundle" 2 \
		"$(grep -o -- '--ca-file "$RUN"/rootcas.pem' "$T/cas.plan" | wc -l | tr -d ' ')"
done
# an AMQP provider and sink take the bundle too; a section's own caFile wins
cat >"$T/amqp.yaml" <<YAML
apiVersion: vcpipe/v1
kind: Config
providers:
  - type: amqp
    name: q
    amqp: {url: "amqps://mq.example.com", queue: vcpipe.events, credentialsFile: /etc/vcpipe/mq}
    processors:
      - type: amqp
        name: fwd
        amqp: {url: "amqps://mq2.example.com", credentialsFile: /etc/vcpipe/mq2}
certificates:
  rootCAs: [$T/ca.pem]
YAML
dry "$T/amqp.yaml" >"$T/amqp.plan"
is "rootCAs (amqp): amqp-source and sink-amqp verify with the bundle" 2 \
	"$(grep -o -- '--ca-file "$RUN"/rootcas.pem' "$T/amqp.plan" | wc -l | tr -d ' ')"
sed "s|credentialsFile: /etc/vcpipe/mq}|credentialsFile: /etc/vcpipe/mq, caFile: $T/ca2.pem}|" "$T/amqp.yaml" >"$T/amqp2.yaml"
is "... amqp.caFile wins over them" "amqp-source $T/ca2.pem; sink-amqp rootcas" \
	"$(dry "$T/amqp2.yaml" | sed -n 's|.*amqp-source .*--ca-file \([^ ]*\) .*sink-amqp .*--ca-file "$RUN"/rootcas.pem .*|amqp-source \1; sink-amqp rootcas|p')"
printf 'not a certificate\n' >"$T/bad.pem"
withcas "$D/vcpipe-router-openfaas.yaml" "$T/ca.pem" "$T/bad.pem"
chk "$T/cas.yaml"
is "rootCAs with a file that holds no CA: exit 78" 78 "$RC"
check "... the router's words" grep -q "invalid certificate '$T/bad.pem', cannot be used as a trusted CA certificate" "$T/chk.err"
withcas "$D/vcpipe-router-openfaas.yaml" "$T/none.pem"
chk "$T/cas.yaml"
is "rootCAs with a missing file: exit 78" 78 "$RC"
# the bundle is written at run time: both CAs, 0600
withcas "$D/vcpipe-router-openfaas.yaml" "$T/ca.pem" "$T/ca2.pem"
vcpipe-yaml --plan "$T/run" -- "$T/cas.yaml" >/dev/null 2>"$T/plan.err"
is "run: the bundle holds both CAs, mode 600" "2 600" \
	"$(grep -c 'BEGIN CERTIFICATE' "$T/run/rootcas.pem") $(stat -c %a "$T/run/rootcas.pem")"

# ---- --check catches what the run would refuse ------------------------------------------
sed 's|password: ReplaceMe|passwordEnv: VCPIPE_T_UNSET|' "$D/vcpipe-router-openfaas.yaml" >"$T/env.yaml"
unset VCPIPE_T_UNSET
chk "$T/env.yaml"
is "passwordEnv naming an unset variable: exit 78 at --check" 78 "$RC"
check "... naming the variable" grep -q 'the environment variable VCPIPE_T_UNSET (a passwordEnv) is not set' "$T/chk.err"
VCPIPE_T_UNSET=pw chk "$T/env.yaml"
is "... and accepted once it is set" 0 "$RC"
printf 'x' >"$T/afile"
sed "s|checkpointDir: .*|checkpointDir: $T/afile/checkpoints|" "$D/vcpipe-router-aws.yaml" >"$T/ckdir.yaml"
chk "$T/ckdir.yaml"
is "a checkpoint directory that cannot be made: exit 78 at --check" 78 "$RC"
check "... naming what stops it" grep -q "$T/afile/checkpoints: .*Not a directory" "$T/chk.err"
unset KUBERNETES_SERVICE_HOST KUBERNETES_SERVICE_PORT
chk "$D/vcpipe-router-knative.yaml"
is "destination.ref outside a cluster: exit 78 at --check" 78 "$RC"
check "... saying to give destination.uri" grep -q 'outside a cluster give knative.destination.uri' "$T/chk.err"
KUBERNETES_SERVICE_HOST=10.96.0.1 KUBERNETES_SERVICE_PORT=443 chk "$D/vcpipe-router-knative.yaml"
is "... accepted in a pod" 0 "$RC"

# ---- the vcpipe/ labels of a RouterConfig; the same keys in vcpipe/v1 ------------------
label() { # NAME VALUE: the openfaas example with the label
	sed "s|^    key: value\$|    key: value\\n    $1: \"$2\"|" "$D/vcpipe-router-openfaas.yaml" >"$T/l.yaml"
}
label vcpipe/type-style vsphere
is "vcpipe/type-style: vsphere" 1 "$(enc "$T/l.yaml" | grep -c -- 'ce-encode --type-style vsphere')"
label vcpipe/id key
is "vcpipe/id: key" 1 "$(enc "$T/l.yaml" | grep -c -- 'ce-encode --type-style router --id key')"
label vcpipe/payload-encoding application/xml
dry "$T/l.yaml" >"$T/l.plan"
is "vcpipe/payload-encoding: application/xml -> vc-source --xml, ce-encode's XML" "1 1" \
	"$(grep -c -- 'vc-source .* --xml ' "$T/l.plan") $(grep -c -- '--payload-encoding application/xml' "$T/l.plan")"
label vcpipe/payload-encoding vcenter-connector
dry "$T/l.yaml" >"$T/l.plan"
is "vcpipe/payload-encoding: vcenter-connector -> --connector, binary mode" "1 1" \
	"$(grep -c -- 'vc-source .* --connector ' "$T/l.plan") $(enc "$T/l.yaml" | grep -c -- 'ce-encode --mode binary --type-style router --payload-encoding vcenter-connector')"
label vcpipe/max-replay 15m
is "vcpipe/max-replay: 15m -> vc-source --max-replay" 1 "$(dry "$T/l.yaml" | grep -c -- 'vc-source .* --max-replay 15m ')"
label vcpipe/type-style tanzu
chk "$T/l.yaml"
is "a label value vcpipe does not know: exit 78" 78 "$RC"
label vcpipe/typestyle vsphere
chk "$T/l.yaml"
is "a vcpipe/ label vcpipe does not know: exit 78" 78 "$RC"
check "... listing the known ones" grep -q 'unknown vcpipe label (known: vcpipe/type-style, vcpipe/id' "$T/chk.err"
cat >"$T/n.yaml" <<'YAML'
apiVersion: vcpipe/v1
kind: Config
providers:
  - type: vcenter
    name: vc
    vcenter:
      address: https://vc.example.com/sdk
      maxReplay: 2h
      credentialsFile: /etc/vcpipe/vc
    encode: {typeStyle: vsphere, id: key, payloadEncoding: application/xml}
    processors:
      - {type: stdout, name: out}
YAML
dry "$T/n.yaml" >"$T/n.plan"
is "vcpipe/v1: encode.id, payloadEncoding, maxReplay" "1 1" \
	"$(grep -c -- 'vc-source .* --max-replay 2h --xml ' "$T/n.plan") $(enc "$T/n.yaml" | grep -c -- 'ce-encode --type-style vsphere --id key --payload-encoding application/xml')"
sed 's/id: key/id: sha1/' "$T/n.yaml" >"$T/n2.yaml"
chk "$T/n2.yaml"
is "vcpipe/v1: encode.id must be stable, uuid or key" 78 "$RC"
done_testing
