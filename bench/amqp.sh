#!/bin/sh
# bench/amqp.sh [BUILDDIR]: events/s through a RabbitMQ broker, vcpipe's
# programs beside a plain client (python3-pika, bench/amqp-pika.py) doing the
# same work in the same run, on a private node (t/rabbitmq.sh: Debian's
# rabbitmq-server, own node name, ports and data under a temporary directory).
#
# env: N events (default 10000), WINDOW unconfirmed publishes (default 256),
#      PREFETCH (default 500), WORKERS the worker counts of the scaling rows
#      (default "1 2 3 4"), RUNS how many times every row is measured
#      (default 3: the summary gives min / median / max of each row).
#
# Events are realistic structured CloudEvents (bench/ce-encode-gen.py through
# ce-encode, ~1.3 KB). Every queue is durable and classic, every message
# persistent. Rows:
#   publish   sink-amqp --window WINDOW (publisher confirms, checkpoint) and
#             pika publishing with confirms and the same window: the lines
#             as bodies, and sink-amqp's own messages (Knative's layout:
#             attributes as headers, mandatory), the same work for the broker
#   consume   amqp-source --ack-on-write to a file and pika consuming with
#             the same prefetch, acknowledging each message after writing it
#   pipeline  amqp-source --sink-checkpoint | sink-http --checkpoint to a local
#             HTTP receiver (bench/stamp-receiver.c): the acknowledgement
#             handshake; the queue filled with N events, then 1 to 4 such
#             workers on it at once, until the receiver has all N
# A row counts from the program's start to the last event in place (queue
# depth, lines written, receiver arrivals), so connection set-up is included.
# Beside each rate: the broker's CPU time for the row (its Erlang VM's
# utime + stime), which a shared machine's load disturbs far less than the
# rate: the cost a client puts on the broker.
set -eu
VP_SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-${VP_BUILDDIR:-$VP_SRCDIR/build}}
N=${N:-10000}
WINDOW=${WINDOW:-256}
PREFETCH=${PREFETCH:-500}
WORKERS=${WORKERS:-1 2 3 4}
RUNS=${RUNS:-3}
for p in sink-amqp amqp-source sink-http ce-encode; do
	d=$p
	[ -x "$B/src/$d/$p" ] || { echo "bench: $B/src/$d/$p not built" >&2; exit 66; }
	PATH=$B/src/$d:$PATH
done
export PATH
[ -x /usr/bin/time ] || { echo "bench: GNU time (/usr/bin/time) is needed" >&2; exit 69; }
/usr/bin/python3 -c 'import pika' 2>/dev/null || { echo "bench: python3-pika is needed" >&2; exit 69; }

T=$(mktemp -d "${TMPDIR:-/tmp}/vcpipe-bench-amqp.XXXXXX")
. "$VP_SRCDIR/bench/lib-exit.sh"	# at_exit, bg_pid; all stopped at exit
. "$VP_SRCDIR/t/rabbitmq.sh"
rmq_available || { echo "bench: rabbitmq-server is needed" >&2; exit 69; }

PIKA="/usr/bin/python3 $VP_SRCDIR/bench/amqp-pika.py"
cc -O2 -Wall -o "$T/recv" "$VP_SRCDIR/bench/stamp-receiver.c"
python3 "$VP_SRCDIR/bench/ce-encode-gen.py" "$N" | ce-encode 2>/dev/null >"$T/events"
[ "$(wc -l <"$T/events")" -eq "$N" ] || { echo "bench: ce-encode made $(wc -l <"$T/events") events, not $N" >&2; exit 70; }

rmq_start bench
U=$RMQ_URL_bench
BPID=$(cat "$T/rmq/bench/pid")
now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / (b - a) }'; }
kib() { awk '{ printf "%.1f MB", $1 / 1024 }' "$1"; }
# row LABEL RATE [NOTE]: print it, keep it for the summary (broker CPU
# since mark)
mark() { b0=$(ticks); }
ticks() { awk '{ print $14 + $15 }' "/proc/$BPID/stat"; }
row() {
	_cpu=$(awk -v a="$b0" -v b="$(ticks)" 'BEGIN { printf "%.2f", (b - a) / 100 }')
	printf '%-50s %7s events/s  broker CPU %5s s  %s\n' "$1" "$2" "$_cpu" "${3:-}"
	printf '%s\t%s\t%s\n' "$1" "$2" "$_cpu" >>"$T/rows"
}
# wait_lines FILE N: until FILE has N lines
wait_lines() {
	while [ "$(wc -l <"$1" 2>/dev/null || echo 0)" -lt "$2" ]; do sleep 0.05; done
}
depth() { rmq_count bench "$1"; }

echo "events: $N x $(($(wc -c <"$T/events") / N)) bytes (structured CloudEvents); broker: RabbitMQ $(rmq_ctl bench version 2>/dev/null || echo '?') on 127.0.0.1, classic durable queues, persistent messages"
echo "host: $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg) at start (shared machine: compare rows of one run, not runs); pika $(/usr/bin/python3 -c 'import pika; print(pika.__version__)'); $(sink-amqp --version | sed -n 2p)"

"$T/recv" "$T/port" "$T/arrivals" &
RPID=$!
bg_pid $RPID
while [ ! -s "$T/port" ]; do sleep 0.05; done
RURL=http://127.0.0.1:$(cat "$T/port")/

run=1
while [ $run -le "$RUNS" ]; do
	echo "run $run of $RUNS (load $(cut -d' ' -f1 /proc/loadavg)):"
	# ---- publish with confirms ------------------------------------------------------
	$PIKA "$U" declare q.sink q.pika q.work
	mark; t0=$(now)
	/usr/bin/time -f %M -o "$T/rss.sink" sink-amqp --url "$U" --routing-key q.sink \
	    --window "$WINDOW" --checkpoint "$T/sink.ck" --log-level warn <"$T/events"
	t1=$(now)
	[ "$(depth q.sink)" -eq "$N" ] || { echo "bench: q.sink has $(depth q.sink), not $N" >&2; exit 70; }
	row "publish: sink-amqp --window $WINDOW (confirms)" "$(rate "$N" "$t0" "$t1")" "max RSS $(kib "$T/rss.sink")"
	mark; t0=$(now)
	/usr/bin/time -f %M -o "$T/rss.pika" $PIKA "$U" publish q.pika "$WINDOW" <"$T/events"
	t1=$(now)
	[ "$(depth q.pika)" -eq "$N" ] || { echo "bench: q.pika has $(depth q.pika), not $N" >&2; exit 70; }
	row "publish: pika, confirms, window $WINDOW" "$(rate "$N" "$t0" "$t1")" "max RSS $(kib "$T/rss.pika")"
	# the same messages as sink-amqp's (headers, mandatory): the same work
	# for the broker, which reads every message's header table
	$PIKA "$U" declare q.pikab
	mark; t0=$(now)
	$PIKA "$U" publish q.pikab "$WINDOW" binary <"$T/events"
	t1=$(now)
	[ "$(depth q.pikab)" -eq "$N" ] || { echo "bench: q.pikab has $(depth q.pikab), not $N" >&2; exit 70; }
	row "publish: pika, sink-amqp's messages (headers)" "$(rate "$N" "$t0" "$t1")"

	# ---- consume ----------------------------------------------------------------------
	mark; t0=$(now)
	amqp-source --url "$U" --queue q.sink --ack-on-write --prefetch "$PREFETCH" \
	    --log-level warn >"$T/out.src" &
	SPID=$!
	bg_pid $SPID
	wait_lines "$T/out.src" "$N"
	t1=$(now)
	# its peak RSS before it goes (GNU time would stand between it and kill)
	awk '/^VmHWM:/ { print $2 }' /proc/$SPID/status >"$T/rss.src"
	kill -TERM $SPID; wait $SPID || true
	row "consume: amqp-source --ack-on-write, prefetch $PREFETCH" "$(rate "$N" "$t0" "$t1")" "max RSS $(kib "$T/rss.src")"
	mark; t0=$(now)
	/usr/bin/time -f %M -o "$T/rss.pc" $PIKA "$U" consume q.pika "$N" "$PREFETCH" >"$T/out.pika"
	t1=$(now)
	[ "$(wc -l <"$T/out.pika")" -eq "$N" ] || { echo "bench: pika consumed $(wc -l <"$T/out.pika"), not $N" >&2; exit 70; }
	row "consume: pika, prefetch $PREFETCH, ack each" "$(rate "$N" "$t0" "$t1")" "max RSS $(kib "$T/rss.pc")"

	# ---- workers: amqp-source | sink-http to a local receiver --------------------------
	for k in $WORKERS; do
		sink-amqp --url "$U" --routing-key q.work --window "$WINDOW" --log-level warn <"$T/events"
		before=$(wc -l <"$T/arrivals")
		mark; t0=$(now)
		srcs="" sinks=""
		i=1
		while [ $i -le "$k" ]; do
			f=$T/w$run.$k.$i
			mkfifo "$f.pipe"
			sink-http --url "$RURL" --checkpoint "$f.ck" --log-level warn <"$f.pipe" &
			sinks="$sinks $!"
			bg_pid $!
			amqp-source --url "$U" --queue q.work --prefetch "$PREFETCH" \
			    --sink-checkpoint "$f.ck" --log-level warn >"$f.pipe" &
			srcs="$srcs $!"
			bg_pid $!
			i=$((i + 1))
		done
		wait_lines "$T/arrivals" $((before + N))
		t1=$(now)
		# the sinks have acknowledged everything: let amqp-source see their
		# last checkpoint, then stop it; its pipe closes and the sink ends
		sleep 1
		for p in $srcs; do kill -TERM "$p" 2>/dev/null || true; done
		for p in $srcs $sinks; do wait "$p" 2>/dev/null || true; done
		[ "$(depth q.work)" -eq 0 ] || { echo "bench: q.work still holds $(depth q.work)" >&2; exit 70; }
		w=workers; [ "$k" -eq 1 ] && w=worker
		row "pipeline: $k $w (amqp-source | sink-http)" "$(rate "$N" "$t0" "$t1")" "to the receiver, handshake acks"
	done
	run=$((run + 1))
done

echo
echo "summary over $RUNS runs: events/s min / median / max, broker CPU s median (load $(cut -d' ' -f1 /proc/loadavg) at the end)"
awk -F '\t' '
	!($1 in n) { order[++k] = $1 }
	{ n[$1]++; r[$1, n[$1]] = $2; c[$1, n[$1]] = $3 }
	function med(a, l, m,   i, j, t, v) {
		for (i = 1; i <= m; i++) v[i] = a[l, i] + 0
		for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++)
			if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
		lo = v[1]; hi = v[m]
		return m % 2 ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
	}
	END {
		for (i = 1; i <= k; i++) {
			l = order[i]
			md = med(r, l, n[l]); mn = lo; mx = hi
			printf "%-50s %6d / %6d / %6d   %5.2f\n", l, mn, md, mx, med(c, l, n[l])
		}
	}' "$T/rows"
