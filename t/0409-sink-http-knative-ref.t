#!/bin/sh
# sink-http --ref: a Knative destination.ref resolved through the Kubernetes
# API from inside a cluster (service-account token and CA, in-cluster
# environment), against a fake API server speaking the REST shapes
# (objects, status.address, Status bodies for 401/403/404, TLS with a
# cluster CA). curl and, where installed, kubectl read the same fake.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/http-receiver/lib.sh"
command -v sink-http >/dev/null || skip_all "sink-http not built"
command -v jq >/dev/null || skip_all "jq not installed"
command -v openssl >/dev/null || skip_all "openssl not installed"
command -v curl >/dev/null || skip_all "curl not installed"
plan 42
D=$VP_SRCDIR/t/data
FAST="--retry-base 10ms --retry-cap 50ms"

# the cluster CA and the API server's certificate; another CA for the
# wrong-CA case
mk_ca() {
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/$1.key" -out "$T/$1.crt" \
	    -days 2 -subj "/CN=$1" 2>/dev/null
}
mk_ca cluster-ca
mk_ca other-ca
openssl req -newkey rsa:2048 -nodes -keyout "$T/api.key" -out "$T/api.csr" \
    -subj /CN=kube-apiserver 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:kubernetes.default.svc\n' >"$T/api.ext"
openssl x509 -req -in "$T/api.csr" -CA "$T/cluster-ca.crt" -CAkey "$T/cluster-ca.key" \
    -CAcreateserial -days 2 -extfile "$T/api.ext" -out "$T/api.crt" 2>/dev/null

# the pod's service account
SA=$T/sa
mkdir "$SA"
printf 'eyJhbGciOiJSUzI1NiJ9.token-one.sig' >"$SA/token"
cp "$T/cluster-ca.crt" "$SA/ca.crt"
printf 'vmware-system' >"$SA/namespace"
cp "$SA/token" "$T/valid-tokens"
cp "$D/k8s-objects.json" "$T/objects.json"

python3 "$VP_SRCDIR/t/fake-k8s/apiserver.py" --objects "$T/objects.json" \
    --token-file "$T/valid-tokens" --forbid messaging.knative.dev/channels \
    --cert "$T/api.crt" --key "$T/api.key" --log "$T/api.log" \
    --port-file "$T/api.port" 2>"$T/api.err" &
bg_pid $!
wait_for 60 test -s "$T/api.port" || bail "fake API server did not start: $(cat "$T/api.err")"
APORT=$(cat "$T/api.port")
export VCPIPE_SERVICEACCOUNT_DIR="$SA" VCPIPE_RESOLV_CONF="$T/resolv.conf"
printf 'nameserver 10.96.0.10\noptions ndots:5\n' >"$T/resolv.conf"
incluster() { env KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT="$APORT" "$@"; }
resolve() { incluster $VP_WRAP sink-http --ref "$1" --resolve $FAST --max-retries 2 </dev/null; }
addr() { resolve "$1" 2>>"$T/resolve.err"; }

# ---- outside a cluster --------------------------------------------------------
expect_exit "outside a cluster: exit 78" 78 \
    $VP_WRAP sink-http --ref eventing.knative.dev/v1/Broker/vmware-functions/default </dev/null
check "the error says to give destination.uri" grep -q 'destination.uri' "$T/.exit.err"
check "... and names the missing environment" grep -q 'KUBERNETES_SERVICE_HOST' "$T/.exit.err"
expect_exit "a malformed ref: usage error" 64 sink-http --ref Broker/default </dev/null
expect_exit "--ref and --url exclude each other" 64 \
    sink-http --ref v1/Service/a/b --url http://127.0.0.1:1/ </dev/null

# ---- addresses of each kind -----------------------------------------------------
is "a RabbitMQBroker: its ingress Service, no /ns/name path" \
    "http://default-broker-ingress.vmware-functions.svc.cluster.local" \
    "$(addr eventing.knative.dev/v1/Broker/vmware-functions/default)"
is "the request: GET the Broker with the bearer token, JSON accepted" \
    "GET /apis/eventing.knative.dev/v1/namespaces/vmware-functions/brokers/default Bearer $(cat "$SA/token") application/json 200" \
    "$(jq -r '"\(.method) \(.path) \(.auth) \(.accept) \(.status)"' "$T/api.log" | tail -1)"
is "an MT channel-based Broker: the shared ingress with /ns/name" \
    "http://broker-ingress.knative-eventing.svc.cluster.local/team-a/mt" \
    "$(addr eventing.knative.dev/v1/Broker/team-a/mt)"
is "an InMemoryChannel" "http://events-kn-channel.team-a.svc.cluster.local" \
    "$(addr messaging.knative.dev/v1/InMemoryChannel/team-a/events)"
is "a Knative Service: its cluster-local address, not its public URL" \
    "http://echo.team-a.svc.cluster.local" "$(addr serving.knative.dev/v1/Service/team-a/echo)"
is "a core v1 Service: NAME.NS.svc.cluster.local, no port" \
    "http://hook.team-a.svc.cluster.local" "$(addr v1/Service/team-a/hook)"
is "... its GET was /api/v1/namespaces/team-a/services/hook" \
    "/api/v1/namespaces/team-a/services/hook 200" \
    "$(jq -r '"\(.path) \(.status)"' "$T/api.log" | tail -1)"
printf 'search vmware-system.svc.corp.example svc.corp.example corp.example\n' >"$T/resolv.conf"
is "the cluster domain from resolv.conf's svc. search entry" \
    "http://hook.team-a.svc.corp.example" "$(addr v1/Service/team-a/hook)"
printf 'nameserver 10.96.0.10\n' >"$T/resolv.conf"
is "else from CLUSTER_DOMAIN" "http://hook.team-a.svc.k8s.internal" \
    "$(CLUSTER_DOMAIN=k8s.internal addr v1/Service/team-a/hook)"
: >"$T/api.log"
is "ref.group alone: the version from the CRD's storage version" \
    "http://default-broker-ingress.vmware-functions.svc.cluster.local" \
    "$(addr eventing.knative.dev/Broker/vmware-functions/default)"
is "... read from the CustomResourceDefinition first" \
    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/brokers.eventing.knative.dev,/apis/eventing.knative.dev/v1/namespaces/vmware-functions/brokers/default" \
    "$(jq -r .path "$T/api.log" | paste -sd, -)"

# ---- what the API server refuses ----------------------------------------------------
expect_exit "a Broker that does not exist: exit 78" 78 \
    resolve eventing.knative.dev/v1/Broker/vmware-functions/nope
check "the message quotes the Status body" \
    grep -q 'HTTP 404 NotFound: brokers.eventing.knative.dev "nope" not found' "$T/.exit.err"
expect_exit "an API group the cluster does not have: exit 78" 78 \
    resolve sources.example.com/v1/Thing/team-a/x
expect_exit "RBAC refuses the get: exit 77" 77 \
    resolve messaging.knative.dev/v1/Channel/team-a/events
check "the message quotes the Forbidden Status and names the permission" \
    grep -q 'HTTP 403 Forbidden: channels.messaging.knative.dev "events" is forbidden: User "system:serviceaccount:vmware-system:vmware-event-router" cannot get resource "channels" in API group "messaging.knative.dev" in the namespace "team-a" (the service account needs "get" on channels.messaging.knative.dev)' "$T/.exit.err"
printf 'someone-else' >"$T/valid-tokens"
expect_exit "a token the API server does not take: exit 77" 77 \
    resolve eventing.knative.dev/v1/Broker/vmware-functions/default
check "the message says Unauthorized" grep -q 'HTTP 401 Unauthorized' "$T/.exit.err"
cp "$SA/token" "$T/valid-tokens"
cp "$T/other-ca.crt" "$SA/ca.crt"
expect_exit "an API server the cluster CA does not vouch for: exit 78, no retry" 78 \
    resolve eventing.knative.dev/v1/Broker/vmware-functions/default
check "the message is about the certificate" grep -qi 'certificate' "$T/.exit.err"
cp "$T/cluster-ca.crt" "$SA/ca.crt"
rm "$SA/token"
expect_exit "no service account token: exit 66" 66 \
    resolve eventing.knative.dev/v1/Broker/vmware-functions/default
cp "$T/valid-tokens" "$SA/token"
expect_exit "a Broker that is not ready (no status.address): retried, then 75" 75 \
    resolve eventing.knative.dev/v1/Broker/team-a/starting
check "the message says the address is not set" grep -q 'address not set' "$T/.exit.err"

# ---- curl and kubectl read the same fake ------------------------------------------------
API=https://127.0.0.1:$APORT
is "curl with the token and the CA reads the Broker's address" \
    "http://default-broker-ingress.vmware-functions.svc.cluster.local" \
    "$(curl -sS --cacert "$SA/ca.crt" -H "Authorization: Bearer $(cat "$SA/token")" \
        "$API/apis/eventing.knative.dev/v1/namespaces/vmware-functions/brokers/default" | jq -r .status.address.url)"
is "curl gets the 404 Status body" "Status Failure NotFound 404" \
    "$(curl -sS --cacert "$SA/ca.crt" -H "Authorization: Bearer $(cat "$SA/token")" \
        "$API/apis/eventing.knative.dev/v1/namespaces/vmware-functions/brokers/nope" |
        jq -r '"\(.kind) \(.status) \(.reason) \(.code)"')"
if command -v kubectl >/dev/null 2>&1; then
	KC="kubectl --server=$API --certificate-authority=$SA/ca.crt --token=$(cat "$SA/token")"
	is "kubectl (discovery, then GET) reads the same address" \
	    "http://broker-ingress.knative-eventing.svc.cluster.local/team-a/mt" \
	    "$($KC get brokers.eventing.knative.dev mt -n team-a -o 'jsonpath={.status.address.url}' 2>"$T/kc.err")"
	$KC get brokers.eventing.knative.dev nope -n team-a >/dev/null 2>"$T/kc.err" || true
	check "kubectl reads the 404 Status as NotFound" \
	    grep -q 'brokers.eventing.knative.dev "nope" not found' "$T/kc.err"
else
	ok "# SKIP kubectl not installed (not a Debian package)"
	ok "# SKIP kubectl not installed (not a Debian package)"
fi

# ---- delivering, and following the address when it moves ----------------------------------
start_receiver a
PA=$RPORT
start_receiver b
PB=$RPORT
move() { # move URL: the Broker vmware-functions/default now lives at URL
	jq --arg u "$1" 'map(if .kind == "Broker" and .metadata.name == "default"
	    then .status.address.url = $u else . end)' "$D/k8s-objects.json" >"$T/objects.tmp"
	mv "$T/objects.tmp" "$T/objects.json"
}
move "http://127.0.0.1:$PA"
head -2 "$D/sink-http-structured.ndjson" >"$T/two"
expect_exit "two events delivered to the resolved Broker" 0 \
    incluster $VP_WRAP sink-http --ref eventing.knative.dev/v1/Broker/vmware-functions/default \
    --knative $FAST --checkpoint "$T/ck" <"$T/two"
is "receiver a got both" "$(cat "$T/two")" "$(bodies a)"

rm -f "$T/f"; mkfifo "$T/f"
incluster $VP_WRAP sink-http --ref eventing.knative.dev/v1/Broker/vmware-functions/default \
    --knative --retry-base 50ms --retry-cap 200ms --checkpoint "$T/ck2" <"$T/f" 2>"$T/move.err" &
SPID=$!
bg_pid $SPID
exec 3>"$T/f"
sed -n 1p "$D/sink-http-structured.ndjson" >&3
wait_for 20 sh -c "[ \$(bodies a | wc -l) -ge 3 ]" || true
is "the first event went to a" 3 "$(bodies a | wc -l | tr -d ' ')"
# the Broker is replaced: a is gone, the object now says b; the token rotates
stop_receiver a
move "http://127.0.0.1:$PB"
printf 'eyJhbGciOiJSUzI1NiJ9.token-two.sig' >"$T/valid-tokens"
cp "$T/valid-tokens" "$SA/token"
sed -n 2,3p "$D/sink-http-structured.ndjson" >&3
exec 3>&-
wait "$SPID" && rc=0 || rc=$?
is "the sink ended 0 after the move" 0 "$rc"
is "receiver b got the events after the move, in order" \
    "$(sed -n 2,3p "$D/sink-http-structured.ndjson")" "$(bodies b)"
check "the move was logged with both addresses" \
    grep -q "the address is now http://127.0.0.1:$PB (was http://127.0.0.1:$PA)" "$T/move.err"
is "the re-resolution used the rotated token" \
    "Bearer eyJhbGciOiJSUzI1NiJ9.token-two.sig 200" \
    "$(jq -r '"\(.auth) \(.status)"' "$T/api.log" | tail -1)"
is "the checkpoint names the last event" "$(sed -n 3p "$D/sink-http-structured.ndjson" | jq -r .id)" \
    "$(jq -r .id "$T/ck2")"

# a Broker that becomes ready while sink-http waits
jq 'map(if .metadata.name == "starting" then .status.address = null | del(.status.address) else . end)' \
    "$D/k8s-objects.json" >"$T/objects.json"
incluster $VP_WRAP sink-http --ref eventing.knative.dev/v1/Broker/team-a/starting --resolve \
    --retry-base 100ms --retry-cap 200ms --max-retries 100 </dev/null >"$T/late.out" 2>"$T/late.err" &
LPID=$!
bg_pid $LPID
wait_for 10 grep -q 'address not set' "$T/late.err" || true
jq --arg u "http://127.0.0.1:$PB/team-a/starting" 'map(if .metadata.name == "starting"
    then .status.address = {"name":"http","url":$u} else . end)' "$D/k8s-objects.json" >"$T/objects.tmp"
mv "$T/objects.tmp" "$T/objects.json"
wait "$LPID" && rc=0 || rc=$?
is "a Broker that becomes ready is used" "0 http://127.0.0.1:$PB/team-a/starting" "$rc $(cat "$T/late.out")"
check "waiting for it was logged as a warning with the retry" grep -q 'address not set.*retry in' "$T/late.err"
done_testing
