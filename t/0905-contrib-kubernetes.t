#!/bin/sh
# contrib/kubernetes/vcpipe-amqp.yaml, as Kubernetes and vcpipe would read
# it: every document parses; the collectors' StatefulSet shards by ordinal
# with --shard auto/N where N is its replica count, keeps its checkpoints on a
# per-pod volume at the state directory its config names, and every volume a
# container mounts exists; both ConfigMaps' configs pass vcpipe --check; each
# of the N pods (host names vcpipe-collector-0 .. N-1) runs a share of the
# vCenters, every vCenter on exactly one pod, each as vc-source | ce-encode |
# sink-amqp; the workers' Deployment runs amqp-source | sink-http with the
# acknowledgement handshake on one checkpoint file.
. "${0%/*}/lib.sh"
for p in vcpipe vcpipe-yaml jq; do
	command -v $p >/dev/null 2>&1 || skip_all "$p not available"
done
PY=/usr/bin/python3
$PY -c 'import yaml' 2>/dev/null || skip_all "python3-yaml not installed"
M=$VP_SRCDIR/contrib/kubernetes/vcpipe-amqp.yaml
plan 9

# the manifest as JSON documents, one a line
$PY - "$M" >"$T/docs" 2>"$T/yaml.err" <<'EOF'
import json, sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d is not None:
        print(json.dumps(d))
EOF
is "every document parses" "0 ConfigMap ConfigMap Service StatefulSet Deployment" \
    "$(wc -c <"$T/yaml.err" | tr -d ' ') $(jq -r .kind "$T/docs" | paste -sd ' ' -)"
doc() { jq -c "select(.kind == \"$1\" and .metadata.name == \"$2\")" "$T/docs"; }
doc StatefulSet vcpipe-collector >"$T/sts"
doc Deployment vcpipe-worker >"$T/dep"
doc Service vcpipe-collector >"$T/svc"
N=$(jq .spec.replicas "$T/sts")
is "collectors: VCPIPE_SHARD is auto/<replicas>, through the headless Service" \
    "auto/$N vcpipe-collector None" \
    "$(jq -r '.spec.template.spec.containers[0].env[] | select(.name == "VCPIPE_SHARD") | .value' "$T/sts") $(jq -r .spec.serviceName "$T/sts") $(jq -r .spec.clusterIP "$T/svc")"

# every mount has a volume (or a claim template); every config/secret volume
# names an object this file makes or the README's kubectl lines create
mounts_ok() { # WORKLOAD-JSON
	jq -r '((.spec.template.spec.volumes // [] | map(.name)) +
	    (.spec.volumeClaimTemplates // [] | map(.metadata.name))) as $v |
	    .spec.template.spec.containers[].volumeMounts[] | select(.name as $n | $v | index($n) | not) | .name' "$1"
}
is "every mounted volume exists" "" "$(mounts_ok "$T/sts")$(mounts_ok "$T/dep")"
cms=$(jq -r 'select(.kind == "ConfigMap") | .metadata.name' "$T/docs" | sort | paste -sd ' ' -)
used=$(jq -r '.spec.template.spec.volumes[] | .configMap.name // empty' "$T/sts" "$T/dep" | sort | paste -sd ' ' -)
is "the ConfigMaps are the ones the workloads mount" "$cms" "$used"

# the configs, with the container's paths under $T
conf() { # CONFIGMAP: its config, paths moved under $T
	jq -r "select(.kind == \"ConfigMap\" and .metadata.name == \"$1\") | .data.config" "$T/docs" |
	    sed "s|/etc/vcpipe/|$T/etc/|g; s|/var/lib/vcpipe|$T/state|g"
}
mkdir -p "$T/etc/vcenter" "$T/etc/rabbitmq" "$T/etc/rabbitmq-ca" "$T/state"
echo administrator@vsphere.local >"$T/etc/vcenter/username"
echo secret >"$T/etc/vcenter/password"
echo vcpipe >"$T/etc/rabbitmq/username"
echo secret >"$T/etc/rabbitmq/password"
: >"$T/etc/rabbitmq-ca/ca.pem"
conf vcpipe-collector-config >"$T/collector.yaml"
conf vcpipe-worker-config >"$T/worker.yaml"
state=$(jq -r '.spec.template.spec.containers[0].volumeMounts[] | select(.name == "state") | .mountPath' "$T/sts")
args=$(jq -r '.spec.template.spec.containers[0].args | join(" ")' "$T/sts")
cfgstate=$(jq -r 'select(.metadata.name == "vcpipe-collector-config") | .data.config' "$T/docs" |
    sed -n 's/^stateDir: *//p')
is "checkpoints on the pod's volume: --state-dir and the config's stateDir are its mount" \
    "$state $state" \
    "$(echo "$args" | sed -n 's/.*--state-dir \([^ ]*\).*/\1/p') $cfgstate"
check "vcpipe --check accepts both configs" sh -c \
    "vcpipe --check --config '$T/collector.yaml' && vcpipe --check --config '$T/worker.yaml'"

# each pod's share, by its host name
mkdir -p "$T/bin"
: >"$T/all"
i=0
while [ $i -lt "$N" ]; do
	printf '#!/bin/sh\necho vcpipe-collector-%s\n' $i >"$T/bin/hostname"
	chmod +x "$T/bin/hostname"
	PATH="$T/bin:$PATH" VCPIPE_SHARD=auto/$N vcpipe --config "$T/collector.yaml" \
	    --state-dir "$T/state" --dry-run >"$T/plan.$i" 2>>"$T/err"
	sed -n 's/.*vc-source --url \([^ ]*\).*/\1/p' "$T/plan.$i" | tr -d "'" >>"$T/all"
	i=$((i + 1))
done
want=$(jq -r '.providers[] | select(.type == "vcenter") | .vcenter.address' \
    <"$($PY -c 'import json, sys, yaml
json.dump(yaml.safe_load(open(sys.argv[1])), open(sys.argv[2], "w"))' "$T/collector.yaml" "$T/collector.json"; echo "$T/collector.json")" | sort)
is "each vCenter on exactly one of the $N pods" "$want" "$(sort "$T/all")"
pipes=$(cat "$T"/plan.* | grep -c "vc-source .*| *ce-encode .*| *sink-amqp .*--exchange vcpipe" || true)
is "each runs vc-source | ce-encode | sink-amqp" "$(wc -l <"$T/all" | tr -d ' ')" "$pipes"
VCPIPE_SHARD= vcpipe --config "$T/worker.yaml" --state-dir "$T/state" --dry-run >"$T/plan.w" 2>>"$T/err"
ck=$(sed -n 's/.*amqp-source .*--sink-checkpoint \([^ ]*\).*|.*sink-http .*--checkpoint \([^ ]*\).*/\1 \2/p' "$T/plan.w" | tr -d "'")
set -- $ck
check "workers: amqp-source | sink-http, acknowledging on the sink's checkpoint" \
    test -n "${1:-}" -a "${1:-}" = "${2:-}"
done_testing
