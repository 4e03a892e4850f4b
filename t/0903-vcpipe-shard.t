#!/bin/sh
# vcpipe --shard: the sharding rule that spreads vCenters over the pods of
# a StatefulSet (contrib/kubernetes/vcpipe-amqp.yaml). For several replica
# counts every vCenter goes to exactly one ordinal; a vCenter added to the
# list moves no other; auto/N takes the ordinal from the host name; other
# providers run on ordinal 0 only; bad shards are usage errors.
. "${0%/*}/lib.sh"
for p in vcpipe vcpipe-yaml jq; do
	command -v $p >/dev/null 2>&1 || skip_all "$p not available"
done
plan 12

config() { # config N [extra address]: N vCenters and a webhook provider
	echo "apiVersion: vcpipe/v1"
	echo "kind: Config"
	echo "providers:"
	i=1
	while [ $i -le "$1" ]; do
		printf '  - type: vcenter\n    name: vc%s\n    vcenter:\n' "$i"
		printf '      address: https://vc%s.dc%s.example.com/sdk\n' "$i" $((i % 3))
		printf '      credentialsFile: /etc/vcpipe/vc\n'
		printf '    processors:\n      - type: stdout\n        name: out\n'
		i=$((i + 1))
	done
	printf '  - type: webhook\n    name: hook\n    webhook:\n      bindAddress: 127.0.0.1:8080\n      path: /webhook\n'
	printf '    processors:\n      - type: stdout\n        name: out\n'
}
# vcenters FILE SHARD: the vCenter addresses that shard runs
vcenters() {
	vcpipe --config "$1" --dry-run --shard "$2" 2>>"$T/err" |
	    sed -n 's/.*vc-source --url \([^ ]*\).*/\1/p' | tr -d "'" | sort
}
config 40 >"$T/c40.yaml"
for n in 1 2 3 5 8; do
	: >"$T/all.$n"
	i=0
	while [ $i -lt $n ]; do
		vcenters "$T/c40.yaml" "$i/$n" >"$T/s.$n.$i"
		cat "$T/s.$n.$i" >>"$T/all.$n"
		i=$((i + 1))
	done
	is "$n replicas: each of 40 vCenters on exactly one ordinal" "40 40 0" \
	    "$(wc -l <"$T/all.$n" | tr -d ' ') $(sort -u "$T/all.$n" | wc -l | tr -d ' ') $(sort "$T/all.$n" | uniq -d | wc -l | tr -d ' ')"
done
empty=0
for i in 0 1 2; do [ -s "$T/s.3.$i" ] || empty=$((empty + 1)); done
is "3 replicas: every ordinal has vCenters" 0 "$empty"
config 41 >"$T/c41.yaml"
moved=0
for i in 0 1 2; do
	vcenters "$T/c41.yaml" "$i/3" >"$T/t.$i"
	[ -z "$(comm -23 "$T/s.3.$i" "$T/t.$i")" ] || moved=$((moved + 1))
done
is "a 41st vCenter moves none of the 40" 0 "$moved"
is "the webhook provider runs on ordinal 0 only" "1 0" \
    "$(vcpipe --config "$T/c40.yaml" --dry-run --shard 0/3 | grep -c '^# pipeline hook.out$') $(vcpipe --config "$T/c40.yaml" --dry-run --shard 1/3 | grep -c '^# pipeline hook.out$' || true)"
mkdir -p "$T/bin"
printf '#!/bin/sh\necho vcpipe-collector-2\n' >"$T/bin/hostname"
chmod +x "$T/bin/hostname"
PATH="$T/bin:$PATH" vcenters "$T/c40.yaml" auto/3 >"$T/auto"
same "auto/3 on host vcpipe-collector-2 is shard 2/3" "$T/s.3.2" "$T/auto"
VCPIPE_SHARD=1/3 vcpipe --config "$T/c40.yaml" --dry-run 2>/dev/null |
    sed -n 's/.*vc-source --url \([^ ]*\).*/\1/p' | tr -d "'" | sort >"$T/env"
same "VCPIPE_SHARD=1/3 is --shard 1/3" "$T/s.3.1" "$T/env"
expect_exit "--shard 3/3 is a usage error" 64 vcpipe --config "$T/c40.yaml" --dry-run --shard 3/3
expect_exit "--shard x is a usage error" 64 vcpipe --config "$T/c40.yaml" --dry-run --shard x
done_testing
