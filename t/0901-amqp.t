#!/bin/sh
# sink-amqp and amqp-source against a real RabbitMQ (Debian's
# rabbitmq-server): the message layout as a real client (python3-pika)
# sees it, in both header namings and both modes; what amqp-source makes of
# Knative's, the AMQP binding's and foreign messages; unroutable messages,
# dead letters, checkpoints; the acknowledgement handshake, message by
# message; streams with an offset file; TLS; credentials and exit codes.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/rabbitmq.sh"
for p in sink-amqp amqp-source ce-encode jq openssl; do
	command -v $p >/dev/null 2>&1 || skip_all "$p not available"
done
rmq_available || skip_all "rabbitmq-server not installed"
PY=/usr/bin/python3
$PY -c 'import pika' 2>/dev/null || skip_all "python3-pika not installed"
D=$VP_SRCDIR/t/data
E=$VP_SRCDIR/t/expected
plan 56

# ---- usage, before any broker --------------------------------------------------
expect_exit "a URL with a password is refused" 64 $VP_WRAP sink-amqp --url amqp://u:secret@127.0.0.1/
check "and the password is not echoed" sh -c "! grep -q secret '$T/.exit.err'"
expect_exit "amqp-source refuses one too" 64 $VP_WRAP amqp-source --url amqp://u:p@h/ --queue q --ack-on-write
expect_exit "not an amqp URL" 64 $VP_WRAP sink-amqp --url http://127.0.0.1/
expect_exit "a cluster's nodes share the scheme" 64 $VP_WRAP sink-amqp --url amqp://a,amqps://b
expect_exit "--ca-file with amqp://" 64 $VP_WRAP sink-amqp --url amqp://127.0.0.1 --ca-file /dev/null
expect_exit "amqp-source needs a handshake" 64 $VP_WRAP amqp-source --url amqp://127.0.0.1 --queue q
expect_exit "bad routing-key template" 64 $VP_WRAP sink-amqp --url amqp://127.0.0.1 --routing-key 'a.{Subject}'
SINK_AMQP_USERNAME=x expect_exit "half a pair of env credentials" 78 $VP_WRAP sink-amqp --url amqp://127.0.0.1

# an unreachable broker holds the stream: nothing dead-lettered, SIGTERM
# exits 75 with the checkpoint before the events
port=$(rmq_free_port)
$VP_WRAP sink-amqp --url "amqp://127.0.0.1:$port" --checkpoint "$T/down.ck" --dlq "$T/down.dlq" \
    <"$D/sink-http-structured.ndjson" 2>"$T/down.err" &
pid=$!
# TERM once it has failed to connect (its handler is in place by then, even
# under VP_WRAP=valgrind)
wait_for 60 grep -q 'again in' "$T/down.err" || true
kill -TERM $pid
set +e; wait $pid; rc=$?; set -e
is "broker unreachable, SIGTERM: exit 75" 75 "$rc"
check "no checkpoint, no dead letter" test ! -e "$T/down.ck" -a ! -e "$T/down.dlq"

# ---- a broker, with TLS too -----------------------------------------------------------
rmq_tls "$T/tls" || bail "openssl failed"
rmq_start a "$T/tls" || bail "rabbitmq did not start"
U=$RMQ_URL_a
rmq_ctl a add_vhost other >/dev/null
rmq_ctl a add_user vcp s3cret >/dev/null
rmq_ctl a set_permissions -p / vcp '.*' '.*' '.*' >/dev/null
declare_q() { $PY - "$U" "$@" <<'EOF'
import pika, sys
c = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
ch = c.channel()
for q in sys.argv[2:]:
    ch.queue_delete(q)
    ch.queue_declare(q, durable=True)
c.close()
EOF
}
# dump QUEUE: every message as pika gets it, one JSON line each
dump() { $PY - "$U" "$1" <<'EOF'
import pika, sys, json, base64
c = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
ch = c.channel()
while True:
    m, p, b = ch.basic_get(sys.argv[2], auto_ack=True)
    if m is None:
        break
    h = {}
    for k, v in (p.headers or {}).items():
        h[k] = {"type": type(v).__name__, "value": v if not isinstance(v, bytes) else v.decode()}
    print(json.dumps({"routing_key": m.routing_key, "content_type": p.content_type,
        "message_id": p.message_id, "delivery_mode": p.delivery_mode,
        "timestamp": p.timestamp, "headers": h, "body": b.decode()}, sort_keys=True))
c.close()
EOF
}

declare_q q1
expect_exit "3 structured lines published" 0 \
    $VP_WRAP sink-amqp --url "$U" --routing-key q1 --checkpoint "$T/q1.ck" <"$D/sink-http-structured.ndjson"
dump q1 >"$T/q1.got"
same "pika sees Knative's layout (bare header names, typed eventkey, persistent)" \
    "$E/amqp-knative.json" "$T/q1.got"
is "the checkpoint names the last event" "vc-4f2a-1236 1236 3" \
    "$(jq -r '"\(.id) \(.key) \(.delivered)"' "$T/q1.ck")"
expect_exit "the same events as binary-mode lines" 0 \
    $VP_WRAP sink-amqp --url "$U" --routing-key q1 <"$D/sink-http-binary.ndjson"
dump q1 >"$T/q1b.got"
same "binary-mode input: the same layout, header values percent-decoded" \
    "$E/amqp-knative-binary.json" "$T/q1b.got"
expect_exit "--headers cloudevents --mode structured" 0 \
    $VP_WRAP sink-amqp --url "$U" --routing-key q1 --headers cloudevents --mode structured \
    <"$D/sink-http-structured.ndjson"
dump q1 >"$T/q1c.got"
same "pika sees cloudEvents_ headers and a JSON event body" "$E/amqp-cloudevents.json" "$T/q1c.got"
check "structured bodies are the events" sh -c "jq -c '.body | fromjson' '$T/q1c.got' |
    jq -c 'del(.data)' >'$T/a'; jq -c 'del(.data)' '$D/sink-http-structured.ndjson' >'$T/b'; cmp -s '$T/a' '$T/b'"

# routing keys from a template, to a topic exchange
declare_q vm other
$PY - "$U" <<'EOF' || bail "binding failed"
import pika, sys
c = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
ch = c.channel()
ch.exchange_declare("vcx", "topic", durable=True)
ch.queue_bind("vm", "vcx", "vc.event.*")
ch.queue_bind("other", "vcx", "vc.#")
c.close()
EOF
expect_exit "routing key vc.{eventclass}.{subject}" 0 \
    $VP_WRAP sink-amqp --url "$U" --exchange vcx --routing-key 'vc.{eventclass}.{subject}' \
    <"$D/sink-http-structured.ndjson"
is "routing keys as the template says (vc.event.* took two)" "vc.event.VmPoweredOffEvent vc.event.VmPoweredOnEvent" \
    "$(dump vm | jq -r .routing_key | sort | tr '\n' ' ' | sed 's/ $//')"
is "the topic binding saw all three" 3 "$(dump other | wc -l)"

# unroutable (mandatory): retried, then dead-lettered with the broker's answer
expect_exit "unroutable: dead-lettered, exit 0" 0 \
    $VP_WRAP sink-amqp --url "$U" --routing-key nowhere --max-retry-time 1s --retry-base 50ms \
    --dlq "$T/u.dlq" --checkpoint "$T/u.ck" <"$D/sink-http-structured.ndjson"
is "three dead letters saying NO_ROUTE" "3 3" \
    "$(wc -l <"$T/u.dlq" | tr -d ' ') $(jq -r .deadletter.error "$T/u.dlq" | grep -c '312 NO_ROUTE')"
is "reason: retries exhausted, attempts > 1" "retries exhausted true" \
    "$(jq -r '"\(.deadletter.reason) \(.deadletter.attempts > 1)"' "$T/u.dlq" | sort -u)"
is "the checkpoint passed them" "vc-4f2a-1236 0" "$(jq -r '"\(.id) \(.delivered)"' "$T/u.ck")"
expect_exit "without --dlq: exit 75" 75 \
    $VP_WRAP sink-amqp --url "$U" --routing-key nowhere --max-retry-time 300ms --retry-base 50ms \
    <"$D/sink-http-structured.ndjson"
expect_exit "--no-mandatory: the broker drops them, exit 0" 0 \
    $VP_WRAP sink-amqp --url "$U" --routing-key nowhere --no-mandatory <"$D/sink-http-structured.ndjson"
declare_q q1
sed -e 's/^/x/' "$D/sink-http-structured.ndjson" | head -1 >"$T/bad.ndjson"
cat "$D/sink-http-structured.ndjson" >>"$T/bad.ndjson"
expect_exit "an invalid line without --dlq: exit 65" 65 $VP_WRAP sink-amqp --url "$U" --routing-key q1 <"$T/bad.ndjson"
expect_exit "with --dlq: the rest go on" 0 \
    $VP_WRAP sink-amqp --url "$U" --routing-key q1 --dlq "$T/bad.dlq" <"$T/bad.ndjson"
is "the invalid line kept in the dead-letter file" "invalid line" "$(jq -r .deadletter.reason "$T/bad.dlq")"
# a last line without a newline (its writer stopped mid-line): not published,
# not dead-lettered, exit 75 with the checkpoint before it, as the other sinks
declare_q q1
head -1 "$D/sink-http-structured.ndjson" >"$T/torn.ndjson"
sed -n 2p "$D/sink-http-structured.ndjson" | tr -d '\n' >>"$T/torn.ndjson"
expect_exit "a last line without a newline: exit 75" 75 $VP_WRAP sink-amqp --url "$U" \
    --routing-key q1 --checkpoint "$T/torn.ck" --dlq "$T/torn.dlq" <"$T/torn.ndjson"
is "only the whole line published; checkpoint at it; no dead letter" "vc-4f2a-1234 vc-4f2a-1234 no" \
    "$(dump q1 | jq -r .message_id | paste -sd ' ' -) $(jq -r .id "$T/torn.ck") $(test -s "$T/torn.dlq" && echo yes || echo no)"
check "it says why, with the line number" grep -q 'stdin:2: input ended inside this line' "$T/.exit.err"

# credentials, vhosts, exchanges
printf 'vcp\ns3cret\n' >"$T/cred"
declare_q q1
expect_exit "--credentials-file" 0 $VP_WRAP sink-amqp --url "$U" --routing-key q1 \
    --credentials-file "$T/cred" <"$D/sink-http-structured.ndjson"
declare_q q1
expect_exit "--url twice: a node that refuses gives way to the next" 0 \
    $VP_WRAP sink-amqp --url "amqp://127.0.0.1:$port" --url "$U" --routing-key q1 \
    <"$D/sink-http-structured.ndjson"
is "the 3 published through the second node" "3 1" \
    "$(dump q1 | wc -l | tr -d ' ') $(grep -c 'trying the next broker' "$T/.exit.err")"
SINK_AMQP_USERNAME=vcp SINK_AMQP_PASSWORD=wrong expect_exit "a wrong password: exit 77" 77 \
    $VP_WRAP sink-amqp --url "$U" </dev/null
expect_exit "no such vhost: exit 78" 78 $VP_WRAP sink-amqp --url "$U/nosuch" </dev/null
SINK_AMQP_USERNAME=vcp SINK_AMQP_PASSWORD=s3cret expect_exit "no access to a vhost: exit 77" 77 \
    $VP_WRAP sink-amqp --url "$U/other" </dev/null
expect_exit "no such exchange: exit 78" 78 $VP_WRAP sink-amqp --url "$U" --exchange nosuch </dev/null

# TLS, verified unless asked off
TU=amqps://localhost:$RMQ_TLSPORT_a
declare_q q1
expect_exit "amqps with --ca-file" 0 $VP_WRAP sink-amqp --url "$TU" --ca-file "$T/tls/ca.pem" \
    --routing-key q1 <"$D/sink-http-structured.ndjson"
expect_exit "amqps without the CA: not trusted, exit 78" 78 $VP_WRAP sink-amqp --url "$TU" \
    --routing-key q1 <"$D/sink-http-structured.ndjson"
expect_exit "amqps --insecure" 0 $VP_WRAP sink-amqp --url "$TU" --insecure --routing-key q1 \
    <"$D/sink-http-structured.ndjson"
is "6 messages went over TLS" 6 "$(dump q1 | wc -l)"

# ---- amqp-source ---------------------------------------------------------------------
# Knative's broker layout, the AMQP binding's, structured, a foreign message
declare_q in
$PY - "$U" <<'EOF' || bail "pika publish failed"
import pika, sys, json
c = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
ch = c.channel()
def pub(props, body):
    ch.basic_publish("", "in", body, props)
P = pika.BasicProperties
# as eventing-rabbitmq's CloudEventToRabbitMQMessage writes it
pub(P(content_type="application/json", message_id="k-1", delivery_mode=2,
      headers={"content-type": "application/json", "specversion": "1.0",
               "time": "2026-11-23T09:00:00Z", "id": "k-1", "type": "com.example.k",
               "source": "/k", "subject": "s 100% \"q\"", "count": 7, "flag": True,
               "x-death": [{"count": 1}], "traceparent": "00-abc-def-01"}),
    b'{"a":1}')
pub(P(content_type="text/plain", headers={"cloudEvents_specversion": "1.0",
      "cloudEvents_id": "c-1", "cloudEvents_type": "com.example.c",
      "cloudEvents_source": "/c", "cloudEvents_eventkey": 42}), "héllo".encode())
pub(P(content_type="application/cloudevents+json; charset=utf-8"),
    b'{\n "specversion": "1.0", "id": "s-1", "source": "/s",\n "type": "com.example.s", "data": [1, 2]\n}')
pub(P(content_type="application/octet-stream", message_id="f-1", timestamp=1795424400), b"\x00\x01raw")
c.close()
EOF
$VP_WRAP amqp-source --url "$U" --queue in --ack-on-write --wrap 2>"$T/in.err" >"$T/in.got" &
pid=$!
wait_for 30 test "$(cat "$T/in.got" 2>/dev/null | wc -l)" -ge 4 || true
kill -TERM $pid; wait $pid || true
sed -i "s|\"$U/#in\"|\"amqp://127.0.0.1:PORT/#in\"|" "$T/in.got"
same "amqp-source reads Knative's, the binding's, structured and foreign messages" \
    "$E/amqp-source-in.ndjson" "$T/in.got"

# round trip: sink-amqp (binary, both namings) | amqp-source gives the lines back
declare_q rt
$VP_WRAP sink-amqp --url "$U" --routing-key rt --log-level warn <"$D/sink-http-structured.ndjson"
$VP_WRAP sink-amqp --url "$U" --routing-key rt --headers cloudevents --mode structured \
    --log-level warn <"$D/sink-http-binary.ndjson"
$VP_WRAP amqp-source --url "$U" --queue rt --ack-on-write 2>"$T/rt.err" >"$T/rt.got" &
pid=$!
wait_for 30 test "$(cat "$T/rt.got" 2>/dev/null | wc -l)" -ge 6 || true
kill -TERM $pid; wait $pid || true
{ cat "$D/sink-http-structured.ndjson"; ce-encode --mode structured --log-level warn <"$D/sink-http-binary.ndjson"; } >"$T/rt.want"
check "round trip: the events come back as they went" \
    sh -c "jq -cS . '$T/rt.want' >'$T/a'; jq -cS . '$T/rt.got' >'$T/b'; cmp -s '$T/a' '$T/b'"

# a message that is no CloudEvent: exit 65 and it stays; with --dlq recorded
declare_q bad
$PY - "$U" <<'EOF'
import pika, sys
c = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
c.channel().basic_publish("", "bad", b"not an event", pika.BasicProperties(message_id="m-9"))
c.close()
EOF
expect_exit "no CloudEvent, no --dlq: exit 65" 65 $VP_WRAP amqp-source --url "$U" --queue bad --ack-on-write
is "the message stayed in the queue" 1 "$(rmq_count a bad)"
$VP_WRAP amqp-source --url "$U" --queue bad --ack-on-write --dlq "$T/bad-src.dlq" >/dev/null 2>&1 &
pid=$!
wait_for 20 test -s "$T/bad-src.dlq" || true
kill -TERM $pid; wait $pid || true
is "with --dlq it is recorded and acknowledged" "not an event 0" \
    "$(jq -r .invalid "$T/bad-src.dlq") $(rmq_count a bad)"

# the handshake, message by message: a stand-in sink takes 4 lines and
# names the 4th in its checkpoint (no "time": an event may have none); a
# stale checkpoint naming the 8th must not count
declare_q hs
for i in 1 2 3 4 5 6 7 8 9 10; do
	jq -c --arg i "$i" '.id = "hs-\($i)"' "$D/sink-http-structured.ndjson" | head -1
done >"$T/hs.ndjson"
$VP_WRAP sink-amqp --url "$U" --routing-key hs --log-level warn <"$T/hs.ndjson"
echo '{"version":1,"source":"https://vc.example.com/sdk","id":"hs-8","time":"2026-11-23T09:00:00Z"}' >"$T/hs.ck"
cat >"$T/fake-sink.sh" <<'EOF'
n=0
while read -r line; do
	n=$((n + 1))
	echo "$line" >>"$T/hs.seen"
	if [ $n -eq 4 ]; then
		printf '%s\n' "$line" | jq -c '{version:1, source, id}' >"$T/hs.ck.tmp"
		mv "$T/hs.ck.tmp" "$T/hs.ck"
	fi
done
EOF
sh -c 'echo $$ >"$1/hs.pid"; exec $3 amqp-source --url "$2" --queue hs --prefetch 100 \
    --sink-checkpoint "$1/hs.ck" 2>"$1/hs.err"' sh "$T" "$U" "$VP_WRAP" | T=$T sh "$T/fake-sink.sh" &
wait_for 30 test "$(cat "$T/hs.seen" 2>/dev/null | wc -l)" -ge 10 || true
unacked() { rmq_ctl a list_queues name messages_unacknowledged | awk '$1 == "hs" { print $2 }'; }
# until amqp-source has acknowledged what the checkpoint names (fewer than 6
# left would mean the stale one counted)
acked_some() { [ "$(unacked)" -le 6 ]; }
wait_for 30 acked_some || true
is "all 10 written, 6 unacknowledged after the sink named the 4th" "10 6" \
    "$(wc -l <"$T/hs.seen" | tr -d ' ') $(unacked)"
hs=$(cat "$T/hs.pid")
kill -TERM "$hs"
wait_for 40 sh -c "! kill -0 $hs 2>/dev/null" || true
is "stopped: the 6 went back to the queue" 6 "$(rmq_count a hs)"

# streams: an offset, and an offset file to resume from
$PY - "$U" <<'EOF'
import pika, sys
c = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
c.channel().queue_declare("st", durable=True, arguments={"x-queue-type": "stream"})
c.close()
EOF
$VP_WRAP sink-amqp --url "$U" --routing-key st --log-level warn <"$T/hs.ndjson"
# stream_read OUT N ARGS...: read until N events are out, then 2 s more (to
# catch any extra one)
stream_read() {
	_o=$1 _want=$2; shift 2
	$VP_WRAP amqp-source --url "$U" --queue st --ack-on-write "$@" >"$_o" 2>>"$T/st.err" &
	_p=$!
	wait_for 60 test "$(cat "$_o" | wc -l)" -ge "$_want" || true
	sleep 2
	kill -TERM $_p; wait $_p || true
}
stream_read "$T/st1" 10 --offset first --offset-file "$T/st.off"
is "stream from the first offset: 10 events" 10 "$(wc -l <"$T/st1")"
is "the offset file is past the 10th" 10 "$(cat "$T/st.off")"
$VP_WRAP sink-amqp --url "$U" --routing-key st --log-level warn <"$D/sink-http-structured.ndjson"
stream_read "$T/st2" 3 --offset first --offset-file "$T/st.off"
is "restarted: only the 3 new ones, from the offset file" "3 13" "$(wc -l <"$T/st2" | tr -d ' ') $(cat "$T/st.off")"
stream_read "$T/st3" 8 --offset 5
is "--offset 5: the 8 from offset 5 on" 8 "$(wc -l <"$T/st3")"
done_testing
