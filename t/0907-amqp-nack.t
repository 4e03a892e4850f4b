#!/bin/sh
# sink-amqp against a queue that refuses, deterministically: a real
# RabbitMQ queue with x-max-length and x-overflow reject-publish, full,
# nacks every publish (basic.nack) until it is drained. sink-amqp closes the
# channel after a nack (the channel that refused may go on refusing:
# t/0904's quorum-queue channel that keeps the old leader) and publishes the
# events again on a new channel of the same connection: one connection for
# the whole run, however many retries; once the queue is drained every
# event is confirmed, once each, and nothing is dead-lettered. When the queue stays
# full past a short --max-retry-time the events are dead-lettered ("retries
# exhausted", the nack in "error"), or without --dlq the run ends with 75
# and no checkpoint past them.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/rabbitmq.sh"
for p in sink-amqp jq; do
	command -v $p >/dev/null 2>&1 || skip_all "$p not available"
done
rmq_available || skip_all "rabbitmq-server not installed"
PY=/usr/bin/python3
$PY -c 'import pika' 2>/dev/null || skip_all "python3-pika not installed"
IN=$VP_SRCDIR/t/data/sink-http-structured.ndjson
plan 19

rmq_start a || bail "rabbitmq did not start"
U=$RMQ_URL_a
# full QUEUE MAX: QUEUE (declared again) holds at most MAX messages and
# refuses more; MAX fillers make it full
full() { $PY - "$U" "$1" "$2" <<'EOF'
import pika, sys
c = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
ch = c.channel()
q, n = sys.argv[2], int(sys.argv[3])
ch.queue_delete(q)
ch.queue_declare(q, durable=True, arguments={"x-max-length": n,
                                             "x-overflow": "reject-publish"})
ch.confirm_delivery()
for i in range(n):
    ch.basic_publish("", q, b"filler", pika.BasicProperties(
        message_id="filler-%d" % i), mandatory=True)
c.close()
EOF
}
# take QUEUE [N]: the message ids of the first N messages (all without N),
# taken off the queue, one a line
take() { $PY - "$U" "$@" <<'EOF'
import pika, sys
c = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
ch = c.channel()
n = int(sys.argv[3]) if len(sys.argv) > 3 else -1
while n != 0:
    m, p, b = ch.basic_get(sys.argv[2], auto_ack=True)
    if m is None:
        break
    print(p.message_id)
    n -= 1
c.close()
EOF
}
ids() { jq -r .id "$IN" | sort | paste -sd ' ' -; }
count() { grep -c "$1" "$2" || true; }

# ---- refused until drained: a new channel each time, then every event confirmed -------
full q 3 || bail "cannot fill the queue"
is "a full queue of 3 fillers" 3 "$(rmq_count a q)"
$VP_WRAP sink-amqp --url "$U" --routing-key q --checkpoint "$T/q.ck" --dlq "$T/q.dlq" \
    --retry-base 20ms --retry-cap 200ms --max-retries 100000 --log-level info \
    <"$IN" 2>"$T/q.err" &
pid=$!
bg_pid $pid
# refused, a new channel, refused again on it
NEWCH='refused a message (basic.nack); publishing again on a new channel'
refused_twice() { [ "$(count "$NEWCH" "$T/q.err")" -ge 2 ]; }
wait_for 60 refused_twice || true
check "the broker nacks: sink-amqp opens a new channel, and is refused again" refused_twice
check "still running, holding the events" kill -0 $pid
check "nothing dead-lettered, no checkpoint while refused" test ! -s "$T/q.dlq" -a ! -e "$T/q.ck"
is "the queue still holds only its fillers" 3 "$(rmq_count a q)"
is "drained: the 3 fillers (the oldest) taken" "filler-0 filler-1 filler-2" \
    "$(take q 3 | paste -sd ' ' -)"
set +e; wait $pid; rc=$?; set -e
is "then every event confirmed: exit 0" 0 "$rc"
is "the queue holds each event once" "$(ids)" "$(take q | sort | paste -sd ' ' -)"
check "nothing dead-lettered" test ! -s "$T/q.dlq"
is "the checkpoint names the last event, 3 delivered" "vc-4f2a-1236 3" \
    "$(jq -r '"\(.id) \(.delivered)"' "$T/q.ck")"
check "the summary: 3 delivered, 0 dead-lettered, published again" \
    grep -Eq '3 delivered, 0 dead-lettered, [1-9][0-9]* published again' "$T/q.err"
is "one connection all along, nothing lost with it" "1 0" \
    "$(count "connected to $U" "$T/q.err") $(count 'reconnecting' "$T/q.err")"

# ---- refused past --max-retry-time: dead-lettered, or exit 75 -------------------------------
full q 3 || bail "cannot fill the queue"
expect_exit "full past --max-retry-time 1s with --dlq: exit 0" 0 \
    $VP_WRAP sink-amqp --url "$U" --routing-key q --checkpoint "$T/d.ck" --dlq "$T/d.dlq" \
    --max-retry-time 1s --retry-base 50ms --log-level info <"$IN"
is "every event dead-lettered, once" "$(ids)" "$(jq -r .id "$T/d.dlq" | sort | paste -sd ' ' -)"
is "reason: retries exhausted, the nack as the error, attempts > 1" \
    "retries exhausted|the broker refused the message (basic.nack)|true" \
    "$(jq -r '"\(.deadletter.reason)|\(.deadletter.error)|\(.deadletter.attempts > 1)"' "$T/d.dlq" | sort -u)"
is "a new channel after the nacks, on its one connection" "yes 1" \
    "$(grep -q "$NEWCH" "$T/.exit.err" && echo yes) $(count "connected to $U" "$T/.exit.err")"
is "the checkpoint passed them: the last event, 0 delivered" "vc-4f2a-1236 0" \
    "$(jq -r '"\(.id) \(.delivered)"' "$T/d.ck")"
expect_exit "without --dlq: exit 75" 75 \
    $VP_WRAP sink-amqp --url "$U" --routing-key q --checkpoint "$T/n.ck" \
    --max-retry-time 300ms --retry-base 50ms <"$IN"
is "no checkpoint past the refused events; the queue holds only its fillers" "absent 3" \
    "$(test -e "$T/n.ck" && jq -r .id "$T/n.ck" || echo absent) $(rmq_count a q)"
done_testing
