#!/bin/sh
# Every published RouterConfig (t/data/routerconfigs: the event router's
# deploy/ folder and README, its Helm chart and VEBA's appliance templates,
# rendered with sample values) passes vcpipe --check as published, and runs
# end to end: pointed at the vCenter simulator (TLS, trusted through
# certificates.rootCAs where the file verifies), a Knative destination (a
# ref resolved through a fake Kubernetes API server, or a URI), an OpenFaaS
# gateway, EventBridge, a webhook or Horizon, events arrive, /stats answers,
# and vcpipe stops with exit 0.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/vcsim.sh"
. "$VP_SRCDIR/t/http-receiver/lib.sh"
. "$VP_SRCDIR/t/fake-eventbridge/fake.sh"
for p in vc-source ce-encode sink-http sink-eventbridge webhook-source horizon-source \
	vcpipe-yaml vcpipe-tap jq curl openssl python3; do
	command -v $p >/dev/null 2>&1 || skip_all "$p not available"
done
PATH=$VP_BUILDDIR/src/vcpipe-metrics:$VP_BUILDDIR/src/vcpipe-group:$PATH
python3 -c 'import yaml' 2>/dev/null || skip_all "PyYAML (python3-yaml) not installed"
[ -d /usr/share/gocode/src/github.com/vmware/govmomi ] || skip_all "govmomi source not installed"
F=$VP_SRCDIR/t/data/routerconfigs
n=$(ls "$F"/*.yaml | wc -l)
plan $((n * 5 + 1))
[ "$n" -ge 17 ] && ok "$n published RouterConfigs" || not_ok "only $n RouterConfigs"
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ---- the peers ------------------------------------------------------------------
vcsim_start -tls || bail "simulator did not start"
start_receiver r
REC=http://127.0.0.1:$RPORT/
# Knative: the API server the pod would ask, with every Broker the configs name
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/k8s-ca.key" -out "$T/k8s-ca.crt" \
	-days 2 -subj /CN=k8s-ca 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$T/api.key" -out "$T/api.csr" -subj /CN=api 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$T/api.ext"
openssl x509 -req -in "$T/api.csr" -CA "$T/k8s-ca.crt" -CAkey "$T/k8s-ca.key" -CAcreateserial \
	-days 2 -extfile "$T/api.ext" -out "$T/api.crt" 2>/dev/null
mkdir -p "$T/sa"
printf 'sa-token' >"$T/sa/token"
cp "$T/k8s-ca.crt" "$T/sa/ca.crt"
cp "$T/sa/token" "$T/tokens"
jq -n --arg u "$REC" '[["default","rabbit"],["vmware-functions","default"],["default","default"]] |
	map({apiVersion: "eventing.knative.dev/v1", kind: "Broker",
	     metadata: {name: .[1], namespace: .[0]},
	     status: {address: {name: "http", url: $u}}})' >"$T/objects.json"
start_server api python3 "$VP_SRCDIR/t/fake-k8s/apiserver.py" --objects "$T/objects.json" --token-file "$T/tokens" \
	--cert "$T/api.crt" --key "$T/api.key" --log "$T/api.log"
KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=$(cat "$T/api.port")
VCPIPE_SERVICEACCOUNT_DIR=$T/sa
export KUBERNETES_SERVICE_HOST KUBERNETES_SERVICE_PORT VCPIPE_SERVICEACCOUNT_DIR
# OpenFaaS
printf '[{"name": "veba-echo", "annotations": {"topic": "VmPoweredOnEvent,UserLoginSessionEvent"}}]\n' >"$T/functions.json"
start_server gw python3 "$VP_SRCDIR/t/fake-openfaas/gateway.py" --functions "$T/functions.json" \
	--user admin --password gw-pass --log "$T/gw.log"
: >"$T/gw.log"
# EventBridge: the rules the configs name, keys from the environment for aws_iam_role
fake_config "$T/eb.json" '{"region": "us-west-1"}'
pat='{"EventPattern": "{\"detail\": {\"subject\": [\"VmPoweredOnEvent\", \"UserLoginSessionEvent\"]}}"}'
printf '{"default/vmware-event-router": %s, "default/veba": %s}\n' "$pat" "$pat" >"$T/rules.json"
start_fake "$T/eb.json" --rules "$T/rules.json"
use_env_keys
AWS_ENDPOINT_URL_EVENTS=$FAKE_URL; export AWS_ENDPOINT_URL_EVENTS
# Horizon
python3 "$VP_SRCDIR/t/fake-horizon/fake-horizon.py" "$T/hz.port" hzuser 'hz pass' EXAMPLE 2>"$T/hz.err" &
bg_pid $!
wait_for 60 test -s "$T/hz.port" || bail "fake-horizon did not start: $(cat "$T/hz.err")"
HZ=http://127.0.0.1:$(cat "$T/hz.port")

# how many deliveries each peer has seen
delivered() {
	case $1 in
	knative) requests r ;;
	openfaas) jq -c 'select(.function == "veba-echo")' "$T/gw.log" | wc -l | tr -d ' ' ;;
	aws_event_bridge) wc -l <"$T/fake.log" | tr -d ' ' ;;
	esac
}
# one event at the provider
nudge() {
	case $1 in
	vcenter|vcsim) vcsim_op post-event class=VmPoweredOnEvent >/dev/null 2>&1 || true ;;
	webhook)
		curl -s -o /dev/null ${hookauth:+-u "$hookauth"} -H 'Content-Type: application/cloudevents+json' \
			--data-binary "{\"specversion\":\"1.0\",\"id\":\"wh-$i\",\"source\":\"/t\",\"type\":\"t.e2e\",\"subject\":\"VmPoweredOnEvent\",\"data\":{\"n\":$i}}" \
			"http://$hook$hookpath" || true ;;
	horizon)
		curl -s -o /dev/null -X POST -H 'Content-Type: application/json' --data-binary \
			"[{\"id\": $((9000 + i)), \"time\": $(date +%s)000, \"type\": \"ADMIN_USERLOGGEDIN\", \"message\": \"e2e\"}]" \
			"$HZ/_control/events" || true ;;
	esac
}

i=0
mkdir -p "$T/cwd"
for f in "$F"/*.yaml; do
	i=$((i + 1))
	b=$(basename "$f" .yaml)
	# as published
	( cd "$T/cwd" && vcpipe -config "$f" --check ) >"$T/check.$i" 2>&1 && rc=0 || rc=$?
	is "$b: vcpipe --check accepts it as published" 0 "$rc"
	[ "$rc" = 0 ] || diag "$(cat "$T/check.$i")"

	hook=127.0.0.1:$(freeport)
	mport=$(freeport)
	jq -n --arg vc "$VCSIM_URL" --arg vu "$VC_USERNAME" --arg vp "$VC_PASSWORD" --arg ca "$VCSIM_CAFILE" \
		--arg rec "$REC" --arg gw "http://127.0.0.1:$(cat "$T/gw.port")" --arg hz "$HZ" \
		--arg ak "$AKID" --arg sk "$SECRET" --arg hook "$hook" --arg m "127.0.0.1:$mport" \
		--arg st "$T/state.$i" \
		'{vc: $vc, vcuser: $vu, vcpass: $vp, ca: $ca, receiver: $rec, gateway: $gw, gwuser: "admin",
		  gwpass: "gw-pass", horizon: $hz, hzdomain: "EXAMPLE", hzuser: "hzuser", hzpass: "hz pass",
		  akid: $ak, secret: $sk, hook: $hook, metrics: $m, state: $st}' >"$T/peers.json"
	info=$(python3 "$VP_SRCDIR/t/routerconfig-e2e.py" "$f" "$T/run.$i.yaml" "$T/peers.json")
	ptype=$(printf '%s' "$info" | jq -r .provider)
	qtype=$(printf '%s' "$info" | jq -r .processor)
	hookpath=$(printf '%s' "$info" | jq -r '.path // "/webhook"' | sed 's|^/*|/|; s|/*$||' | tr A-Z a-z)
	[ -n "$hookpath" ] || hookpath=/webhook
	hookauth=$(printf '%s' "$info" | jq -r '.hookauth // empty | join(":")')
	before=$(delivered "$qtype")
	( cd "$T/cwd" && exec env VCPIPE_STOP_TIMEOUT=5 vcpipe -config "$T/run.$i.yaml" --run-dir "$T/run.$i" ) \
		>"$T/out.$i" 2>"$T/err.$i" &
	vp=$!
	bg_pid $vp
	got=0 tries=0
	while [ "$tries" -lt 60 ]; do
		nudge "$ptype"
		sleep 1
		[ "$(delivered "$qtype")" -gt "$before" ] && { got=1; break; }
		tries=$((tries + 1))
	done
	is "$b: $ptype -> $qtype: events arrive" 1 "$got"
	[ "$got" = 1 ] || diag "$(tail -20 "$T/err.$i")"
	code=$(curl -s -o "$T/stats.$i" -w '%{http_code}' "http://127.0.0.1:$mport/stats" || true)
	is "$b: /stats answers" 200 "$code"
	check "$b: /stats has the $ptype provider" jq -e ".\"vmware.event.router.stats\".\"$ptype\".type == \"EventProvider\"" "$T/stats.$i"
	kill -TERM $vp
	wait $vp && rc=0 || rc=$?
	is "$b: vcpipe stops with exit 0" 0 "$rc"
done
done_testing
