#!/bin/sh
# A three-node RabbitMQ cluster on loopback and a quorum queue (three
# replicas, its leader on node a): sink-amqp publishes given the three
# nodes (a first), two workers (amqp-source | sink-http) consume given a and
# b, and c, and deliver to the npm CloudEvents SDK receiver; node a, the
# leader and the node the publisher and worker ab are connected to, is
# stopped mid-stream. The queue elects a new leader, the two clients move to
# the next node of their lists, and every event arrives: none lost,
# duplicates only with the same id.
# VP_AMQP_CLUSTER_EVENTS sets the number of events (default 300).
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/rabbitmq.sh"
for p in sink-amqp amqp-source sink-http jq node python3; do
	command -v $p >/dev/null 2>&1 || skip_all "$p not available"
done
rmq_available || skip_all "rabbitmq-server not installed"
/usr/bin/python3 -c 'import pika' 2>/dev/null || skip_all "python3-pika not installed"
R=$VP_SRCDIR/t/cloudevents-receiver
DEST=$VP_BUILDDIR/t/cloudevents-receiver
sh "$R/setup.sh" "$DEST" >/dev/null 2>"$T/setup.err" || skip_all "npm ci failed: $(tail -1 "$T/setup.err")"
N=${VP_AMQP_CLUSTER_EVENTS:-300}
plan 9

for n in a b c; do rmq_start $n || bail "rabbitmq node $n did not start"; done
rmq_join b a || bail "node b did not join a"
rmq_join c a || bail "node c did not join a"
running() { rmq_ctl "$1" cluster_status --formatter json | jq -r '.running_nodes | length'; }
is "a cluster of three running nodes" 3 "$(running a)"

# the quorum queue, declared through node a: its leader is there
/usr/bin/python3 - "$RMQ_URL_a" <<'EOF'
import pika, sys
c = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
c.channel().queue_declare("vcpipe.q", durable=True,
                          arguments={"x-queue-type": "quorum"})
c.close()
EOF
leader() { # leader NODE: the queue's leader and member count, as NODE sees them
	rmq_ctl "$1" list_queues name leader members --formatter json |
	    jq -r '.[] | select(.name == "vcpipe.q") | "\(.leader) \(.members | length)"'
}
is "the quorum queue: leader on a, three members" "vcpt-a@localhost 3" "$(leader a)"

node "$DEST/receiver.js" "$T/ce.port" >>"$T/ce.out" 2>"$T/ce.err" &
bg_pid $!
wait_for 60 test -s "$T/ce.port" || bail "SDK receiver did not start"
RURL=http://127.0.0.1:$(cat "$T/ce.port")/

# two workers: ab given nodes a and b (connected to a), c given node c
for w in ab c; do
	mkfifo "$T/w$w.pipe"
	sink-http --url "$RURL" --checkpoint "$T/w$w.ck" <"$T/w$w.pipe" 2>"$T/w$w.sink.err" &
	bg_pid $!
	case $w in
	ab) urls="--url $RMQ_URL_a --url $RMQ_URL_b" ;;
	c) urls="--url $RMQ_URL_c" ;;
	esac
	amqp-source $urls --queue vcpipe.q --prefetch 50 \
	    --sink-checkpoint "$T/w$w.ck" >"$T/w$w.pipe" 2>"$T/w$w.src.err" &
	bg_pid $!
	eval "src_$w=$!"
done
wait_for 60 grep -q consuming "$T/wab.src.err" || bail "worker ab did not start: $(tail -3 "$T/wab.src.err")"
wait_for 60 grep -q consuming "$T/wc.src.err" || bail "worker c did not start: $(tail -3 "$T/wc.src.err")"

# N events, 10 every 0.3 s, given the three nodes (a first). The second
# half waits until node a is stopped: a slow run (ASan at load 28) had the
# publisher done, on node a alone, before the receiver had N/4 and a stopped.
i=1
while [ $i -le "$N" ]; do
	printf '{"specversion":"1.0","id":"cl-%d","source":"/vcpipe/t/0904","type":"t.cluster","data":{"n":%d}}\n' $i $i
	i=$((i + 1))
done >"$T/events"
( i=0
  while IFS= read -r l; do
	printf '%s\n' "$l"
	i=$((i + 1))
	w=0	# at most 600 s, or until the test is gone (bailed out)
	while [ $i -eq $((N / 2)) ] && [ ! -e "$T/a.stopped" ] && [ -d "$T" ] &&
	    [ $w -lt 6000 ]; do
		sleep 0.1
		w=$((w + 1))
	done
	[ $((i % 10)) -ne 0 ] || sleep 0.3
  done <"$T/events" ) |
    sink-amqp --url "$RMQ_URL_a,$RMQ_URL_b,$RMQ_URL_c" --routing-key vcpipe.q \
	--checkpoint "$T/pub.ck" \
	--dlq "$T/pub.dlq" 2>"$T/pub.err" &
pub=$!
bg_pid $pub

arrived() { jq -r 'select(.ok) | .event.id' "$T/ce.out" | sort -u | wc -l; }
some_arrived() { [ "$(arrived)" -ge $((N / 4)) ]; }
wait_for 120 some_arrived || bail "no events through the cluster: $(tail -3 "$T/pub.err")"
at_stop=$(arrived)
rmq_stop a
: >"$T/a.stopped"
check "node a was stopped mid-stream ($at_stop of $N events at the receiver)" \
    test "$at_stop" -lt "$N"

set +e; wait $pub; rc=$?; set -e
# exit 0 also follows dead-letters (retries ran out): none may be there
is "sink-amqp: every event confirmed (exit 0, none dead-lettered)" "0 0" \
    "$rc $(cat "$T/pub.dlq" 2>/dev/null | wc -l | tr -d ' ')"
# "connected to URL" / "consuming Q on URL": the nodes a client used, as
# "first=a later=b|c" (a stopped node takes no connection)
nodes_of() {
	sed -n 's/.*\(connected to\|consuming vcpipe.q on\) amqp:\/\/127.0.0.1:\([0-9]*\).*/\2/p' "$1" |
	    awk -v a="$RMQ_PORT_a" -v b="$RMQ_PORT_b" -v c="$RMQ_PORT_c" '
		{ n = $1 == a ? "a" : $1 == b ? "b" : $1 == c ? "c" : $1 }
		NR == 1 { first = n; next }
		{ later = n }
		END { printf "first=%s later=%s", first, later == "b" || later == "c" ? "b|c" : later }'
}
is "sink-amqp: on node a, then on another node after a stopped" \
    "first=a later=b|c" "$(nodes_of "$T/pub.err")"
is "worker ab: on node a, then on node b after a stopped" \
    "first=a later=b|c" "$(nodes_of "$T/wab.src.err")"
all_arrived() { [ "$(arrived)" -ge "$N" ]; }
wait_for 180 all_arrived || true
sed 's/.*"id":"\([^"]*\)".*/\1/' "$T/events" | sort >"$T/want"
jq -r 'select(.ok) | .event.id' "$T/ce.out" | sort -u >"$T/got"
# the first five differences, and how many there are in all
diffs=$(diff "$T/want" "$T/got" | grep '^[<>]' || true)
is "all $N events arrived, none lost, no others" "" \
    "${diffs:+$(printf '%s\n' "$diffs" | head -5) ... $(printf '%s\n' "$diffs" | wc -l | tr -d ' ') in all}"
dups=$(jq -r 'select(.ok) | .event.id' "$T/ce.out" | sort | uniq -d | wc -l | tr -d ' ')
# a duplicate is the same event: one body per id
is "duplicates ($dups ids delivered more than once) only with the same id and data" 0 \
    "$(jq -c 'select(.ok) | [.event.id, .event.data]' "$T/ce.out" | sort -u |
	jq -r '.[0]' | uniq -d | wc -l)"
new_leader() { case $(leader b) in "vcpt-b@localhost 3" | "vcpt-c@localhost 3") return 0 ;; esac; return 1; }
queue_empty() { [ "$(rmq_count b vcpipe.q)" = 0 ]; }
wait_for 60 queue_empty || true
is "a new leader on b or c, and the queue drained: every message acknowledged" \
    "yes 0" "$(new_leader && echo yes || echo no) $(rmq_count b vcpipe.q)"
for w in ab c; do eval "kill \$src_$w" 2>/dev/null || true; done
done_testing
