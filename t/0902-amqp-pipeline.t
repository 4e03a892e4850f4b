#!/bin/sh
# Scaling out through a real RabbitMQ: vc-source | ce-encode | sink-amqp
# publishes into an exchange, two workers (amqp-source | sink-http) share a
# quorum queue and deliver to the npm CloudEvents SDK receiver. Every
# simulator event arrives with its id; then 2,000+ events while sink-amqp,
# an amqp-source, a worker's sink-http and the broker itself are killed
# with -9 at random moments (the broker restarted on its data directory):
# none lost, duplicates only ever carry the same id.
# VP_AMQP_EVENTS sets the size of the fault run (default 2000).
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/vcsim.sh"
. "$VP_SRCDIR/t/rabbitmq.sh"
for p in vc-source ce-encode sink-amqp amqp-source sink-http jq node go python3; do
	command -v $p >/dev/null 2>&1 || skip_all "$p not available"
done
rmq_available || skip_all "rabbitmq-server not installed"
[ -d /usr/share/gocode/src/github.com/vmware/govmomi ] || skip_all "govmomi source not installed"
R=$VP_SRCDIR/t/cloudevents-receiver
DEST=$VP_BUILDDIR/t/cloudevents-receiver
sh "$R/setup.sh" "$DEST" >/dev/null 2>"$T/setup.err" || skip_all "npm ci failed: $(tail -1 "$T/setup.err")"
N=${VP_AMQP_EVENTS:-2000}
plan 9

rmq_start a || bail "rabbitmq did not start"
vcsim_start -history || bail "vcsim did not start"
node "$DEST/receiver.js" "$T/ce.port" >>"$T/ce.out" 2>"$T/ce.err" &
bg_pid $!
wait_for 60 test -s "$T/ce.port" || bail "SDK receiver did not start"
RURL=http://127.0.0.1:$(cat "$T/ce.port")/

# supervise NAME CMD: run the pipeline CMD again whenever it ends (as
# vcpipe would); each stage is started through "st NAME STAGE prog ..." so
# that $T/pid.NAME.STAGE holds its PID.
supervise() {
	_name=$1; shift
	( trap 'exit 0' TERM
	  while [ ! -f "$T/stop" ]; do
		sh -c "$*" 2>>"$T/$_name.err" || true
		echo "restart" >>"$T/$_name.restarts"
		sleep 0.3
	  done ) &
	bg_pid $!
}
export T
ST="sh $T/st.sh"
# the stages outlive their supervisor's loop: stop them at exit
kill_stages() {
	touch "$T/stop"
	for f in "$T"/pid.*; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
	return 0
}
at_exit kill_stages
cat >"$T/st.sh" <<'EOF'
name=$1 stage=$2; shift 2
echo $$ >"$T/pid.$name.$stage"
exec "$@"
EOF

U=$RMQ_URL_a
worker() { # worker N
	supervise "w$1" "$ST w$1 src amqp-source --url $U --queue vcpipe.work \
	    --declare quorum --bind 'vcpipe:vcenter.#' --exchange-type topic \
	    --prefetch 200 --sink-checkpoint $T/w$1.ck | \
	    $ST w$1 sink $VP_WRAP sink-http --url $RURL --checkpoint $T/w$1.ck"
}
worker 1
worker 2
wait_for 60 grep -q consuming "$T/w1.err" || bail "worker 1 did not start: $(tail -3 "$T/w1.err")"
supervise c "$ST c vc $VP_WRAP vc-source --url $VCSIM_URL --begin 1h \
    --checkpoint $T/c.ck | $ST c enc ce-encode | \
    $ST c sink $VP_WRAP sink-amqp --url $U --exchange vcpipe \
    --exchange-type topic --routing-key 'vcenter.{subject}' \
    --checkpoint $T/c.ck --dlq $T/c.dlq"

keys_posted() {
	vcsim_op events >"$T/ev.json"
	_o=$(jq .oldestKey "$T/ev.json") _n=$(jq .newestKey "$T/ev.json")
	[ "$(jq .total "$T/ev.json")" -eq $((_n - _o + 1)) ] || bail "simulator keys are not contiguous"
	seq "$_o" "$_n"
}
keys_received() { jq -r 'select(.ok) | .event.eventkey // empty' "$T/ce.out" | sort -n -u; }
missing() { keys_received | sort | comm -23 "$T/want" - | wc -l; }
all_arrived() { [ "$(missing)" -eq 0 ]; }
post() { vcsim_op post-burst "count=$1" >/dev/null; }

t0=$(date +%s)
# the timeline, shown when events are missing
el() { echo "$(( $(date +%s) - t0 )) s: $*" >>"$T/timeline"; }
post 30
keys_posted | sort >"$T/want"
wait_for 120 all_arrived || true
is "30 events through the broker to the SDK receiver" 0 "$(missing)"

# the ids are the ones ce-encode gives those events (the same line read
# from vCenter again gives the same id)
vc-source --url "$VCSIM_URL" --begin 1h --once 2>/dev/null | ce-encode 2>/dev/null |
    jq -r '"\(.eventkey) \(.id)"' | sort -u >"$T/ids.want"
# (the events the --once reader's own logout adds arrive too: keys it read only)
jq -r 'select(.ok) | "\(.event.eventkey) \(.event.id)"' "$T/ce.out" | sort -u |
    awk 'NR == FNR { k[$1] = 1; next } $1 in k' "$T/ids.want" - >"$T/ids.got"
is "every event arrived with its id" "" "$(comm -13 "$T/ids.want" "$T/ids.got")"
is "every request was a valid CloudEvent" 0 "$(jq -r 'select(.ok | not)' "$T/ce.out" | wc -l)"

# N events, posted 50 at a time, while stages are killed with -9 at random
# moments
( i=0; while [ $i -lt "$N" ]; do post 50; i=$((i + 50)); sleep 0.2; done ) &
poster=$!
kills=""
for victim in c.sink w1.src w2.sink broker w1.sink c.sink w2.src; do
	sleep "$(od -An -N1 -tu1 /dev/urandom | awk '{ printf "%.2f", 0.5 + $1 / 100 }')"
	if [ "$victim" = broker ]; then
		rmq_kill a
		el "broker killed"
		rmq_start a >/dev/null || bail "rabbitmq did not restart"
		el "broker restarted"
	else
		kill -9 "$(cat "$T/pid.$victim")" 2>/dev/null || true
	fi
	kills="$kills $victim"
done
wait $poster
el "kills done"
keys_posted | sort >"$T/want"
wait_for 300 all_arrived || true
el "all arrived"
m=$(missing)
is "$(wc -l <"$T/want") events, kill -9 of$kills: none lost" 0 "$m"
[ "$m" -eq 0 ] || diag "$(cat "$T/timeline")" "missing keys: $(keys_received | sort |
    comm -23 "$T/want" - | sort -n | tr '\n' ' ' | cut -c1-400)"
# a duplicate is the same event: one key per id, one id per key
dups=$(jq -r 'select(.ok) | .event.id' "$T/ce.out" | sort | uniq -d | wc -l)
echo "$(jq -r 'select(.ok)' "$T/ce.out" | grep -c '"ok"') requests, $dups ids seen more than once" >>"$T/timeline"
is "duplicates only with the same id (one key per id)" 0 \
    "$(jq -r 'select(.ok) | "\(.event.id) \(.event.eventkey)"' "$T/ce.out" | sort -u |
	awk '{ print $1 }' | uniq -d | wc -l)"
is "one id per key" 0 \
    "$(jq -r 'select(.ok) | "\(.event.eventkey) \(.event.id)"' "$T/ce.out" | sort -u |
	awk '{ print $1 }' | uniq -d | wc -l)"
is "nothing dead-lettered" 0 "$(cat "$T/c.dlq" 2>/dev/null | wc -l)"
queue_empty() { [ "$(rmq_count a vcpipe.work)" = 0 ]; }
wait_for 60 queue_empty || true
is "the queue is empty: every message acknowledged" 0 "$(rmq_count a vcpipe.work)"
check "both workers took a share" test "$(grep -c . "$T/w1.ck" 2>/dev/null)" -ge 1 -a \
    "$(grep -c . "$T/w2.ck" 2>/dev/null)" -ge 1
touch "$T/stop"
done_testing
