#!/bin/sh
# The EXAMPLES of vcpipe-formats(5) and of each program's man page run, as
# jq runs its manual: "$ " lines are commands, the lines after them what they
# must print (t/man-examples.py says the convention). Servers the examples
# name are local peers here: the vCenter simulator, the test receiver,
# fake-eventbridge, free ports on 127.0.0.1; mdoc comments the reader never
# sees map the page's names to them.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/vcsim.sh"
. "$VP_SRCDIR/t/http-receiver/lib.sh"
. "$VP_SRCDIR/t/fake-eventbridge/fake.sh"
. "$VP_SRCDIR/t/fake-aws-creds/creds.sh"
. "$VP_SRCDIR/t/rabbitmq.sh"
for tool in curl jq mandoc; do
	command -v $tool >/dev/null 2>&1 || skip_all "$tool not installed"
done

# the peers the examples use (a fresh simulator for each page, below)
start_receiver r
RECEIVER_URL=http://127.0.0.1:$RPORT/
RECEIVER_LOG=$T/r.log
start_receiver no --default 400
REJECT_URL=http://127.0.0.1:$RPORT/
printf '%s\n' '[{"name":"vm-power","annotations":{"topic":"VmPoweredOnEvent,VmPoweredOffEvent"}},
 {"name":"audit","annotations":{"topic":"*"}}]' >"$T/functions.json"
OPENFAAS_PASSWORD=gw-pass
python3 "$VP_SRCDIR/t/fake-openfaas/gateway.py" --functions "$T/functions.json" \
    --password "$OPENFAAS_PASSWORD" --log "$T/gw.log" --port-file "$T/gw.port" \
    2>"$T/gw.err" &
bg_pid $!
wait_for 60 test -s "$T/gw.port" || bail "fake gateway did not start: $(cat "$T/gw.err")"
OPENFAAS_URL=http://127.0.0.1:$(cat "$T/gw.port")
OPENFAAS_LOG=$T/gw.log
fake_config "$T/eb.json" '{"region":"eu-west-1","buses":["default","vsphere"]}'
printf '%s\n' '{"vsphere/vm-power":{"Name":"vm-power","EventBusName":"vsphere","State":"ENABLED",
 "EventPattern":"{\"detail-type\":[{\"prefix\":\"Vm\"}]}"}}' >"$T/eb-rules.json"
# STS for profiles that assume a role: user ops may assume vcpipe-writer
EB_OPS_AKID=AKIDOPSEXAMPLE EB_OPS_SECRET='ops/Secret+Key=EXAMPLE'
cat >"$T/creds.json" <<EOF
{"region": "eu-west-1",
 "principals": [{"akid": "$EB_OPS_AKID", "secret": "$EB_OPS_SECRET",
                 "arn": "arn:aws:iam::111122223333:user/ops"}],
 "roles": {"arn:aws:iam::111122223333:role/vcpipe-writer":
           {"trust": ["arn:aws:iam::111122223333:user/ops"]}}}
EOF
start_creds "$T/creds.json"
start_fake "$T/eb.json" --rules "$T/eb-rules.json" --issued "$CREDS_ISSUED"
use_env_keys
# where the AWS SDKs look for endpoints, as sink-eventbridge does
AWS_ENDPOINT_URL_EVENTS=$FAKE_URL AWS_ENDPOINT_URL_STS=$CREDS_URL
EB_TMP_AKID=$TMP_AKID EB_TMP_SECRET=$TMP_SECRET EB_TMP_TOKEN=$TMP_TOKEN
export AWS_ENDPOINT_URL_EVENTS AWS_ENDPOINT_URL_STS EB_TMP_AKID EB_TMP_SECRET \
    EB_TMP_TOKEN EB_OPS_AKID EB_OPS_SECRET CREDS_ISSUED
FAKE_LOG=$T/fake.log FAKE_REQ=$T/fake.req
# a Horizon server whose audit events are from the last hour
python3 "$VP_SRCDIR/t/fake-horizon/fake-horizon.py" "$T/hz.port" hzuser 'hz pass' EXAMPLE \
    2>"$T/hz.err" &
bg_pid $!
wait_for 60 test -s "$T/hz.port" || bail "fake-horizon did not start: $(cat "$T/hz.err")"
HORIZON_URL=http://127.0.0.1:$(cat "$T/hz.port")
python3 -c 'import json, sys, time
evs = json.load(open(sys.argv[1]))
shift = int(time.time() * 1000) - 1800000 - min(e["time"] for e in evs)
for e in evs:
    e["time"] += shift
print(json.dumps(evs))' "$VP_SRCDIR/t/data/horizon-events.json" |
	curl -sf -X POST -H 'Content-Type: application/json' --data-binary @- \
	    "$HORIZON_URL/_control/events" >/dev/null || bail "fake-horizon took no events"
# vcsim-burst COUNT [CLASSES]: once a client has logged in to the simulator
# (a follower an example started), post COUNT events
mkdir -p "$T/bin"
cat >"$T/bin/vcsim-burst" <<'EOF'
#!/bin/sh
n=600
until [ "$(curl -s -X POST "$VCSIM_CTL/sessions" | jq .total)" -gt 0 ]; do
	n=$((n - 1)); [ $n -gt 0 ] || exit 1; sleep 0.1
done
sleep 1
curl -sf -d count="$1" ${2:+-d classes="$2"} "$VCSIM_CTL/post-burst" >/dev/null
EOF
chmod +x "$T/bin/vcsim-burst"
PATH=$T/bin:$PATH
# a RabbitMQ node (amqp:// and amqps:// for localhost) for the AMQP pages;
# amqp-queue URL declare|count ... (t/amqp-queue.py) to look at it
pages=${VP_MAN_PAGES:-$(cd "$VP_SRCDIR/man" && ls *.[0-9])}
case " $(echo $pages) " in
*" sink-amqp.1 "* | *" amqp-source.1 "*)
	rmq_available || bail "rabbitmq-server is not installed (bin/bootstrap)"
	rmq_tls "$T/tls" || bail "openssl failed"
	rmq_start man "$T/tls" || bail "rabbitmq did not start"
	AMQP_URL=$RMQ_URL_man AMQP_TLS_URL=amqps://localhost:$RMQ_TLSPORT_man
	AMQP_CA=$T/tls/ca.pem AMQP_HOUR_AGO=$(date -u -d '1 hour ago' +%Y-%m-%dT%H:%M:%SZ)
	export AMQP_URL AMQP_TLS_URL AMQP_CA AMQP_HOUR_AGO
	ln -s "$VP_SRCDIR/t/amqp-queue.py" "$T/bin/amqp-queue"
	;;
esac
# free ports for servers an example starts
set -- $(python3 -c 'import socket
ss = [socket.socket() for _ in range(3)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
PORT1=$1 PORT2=$2 PORT3=$3
LC_ALL=C.UTF-8
export RECEIVER_URL RECEIVER_LOG REJECT_URL OPENFAAS_URL OPENFAAS_LOG \
    OPENFAAS_PASSWORD FAKE_LOG FAKE_REQ HORIZON_URL PORT1 PORT2 PORT3 VP_SRCDIR LC_ALL

# VP_MAN_PAGES="sink-http.1 ..." runs only those (while writing examples)
# The runner runs in the background, so that a signal stops this test at
# once: the exit trap then stops the runner, which ends what the examples
# started (t/0321).
MX_PID=
stop_runner() {
	[ -n "$MX_PID" ] || return 0
	kill "$MX_PID" 2>/dev/null || true
	wait "$MX_PID" 2>/dev/null || true
}
at_exit stop_runner
: >"$T/tap"
for p in $pages; do
	# each page's vCenter starts empty, so what its examples print is its own
	vcsim_start -history >/dev/null || bail "the simulator did not start"
	python3 "$VP_SRCDIR/t/man-examples.py" "$T/pages" "$VP_SRCDIR/man/$p" \
	    >>"$T/tap" 2>"$T/harness.err" &
	MX_PID=$!
	wait "$MX_PID" || { MX_PID=; cat "$T/harness.err" >&2; bail "t/man-examples.py failed on $p"; }
	MX_PID=
	vcsim_stop
done
while IFS= read -r l; do
	case $l in
	"ok - "*) ok "${l#ok - }" ;;
	"not ok - "*) not_ok "${l#not ok - }" ;;
	*) echo "$l" >&2 ;;
	esac
done <"$T/tap"
plan $_vp_n
done_testing
