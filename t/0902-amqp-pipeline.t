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
plan 10

rmq_start a || bail "rabbitmq did not start"
vcsim_start -history || bail "vcsim did not start"
node "$DEST/receiver.js" "$T/ce.port" >>"$T/ce.out" 2>"$T/ce.err" &
bg_pid $!
wait_for 60 test -s "$T/ce.port" || bail "SDK receiver did not start"
RURL=http://127.0.0.1:$(cat "$T/ce.port")/

# supervise NAME: run the pipeline of $T/NAME/stages again whenever it
# ends, as bin/vcpipe does: through vcpipe-group, which runs the stages as
# one process group and, when one of them fails, stops the stages before it
# at once. A shell's "a | b | c" does not: a sink-amqp killed while nothing
# more comes leaves vc-source and ce-encode waiting for events, the
# pipeline is never restarted, and what the sink held stays unpublished
# until two more wake-ups (CI, stop 20: the last 200 events, test 4). Each
# stage's PID: stage_pid NAME STAGE ($T/NAME/pids).
supervise() {
	( trap 'exit 0' TERM
	  while [ ! -f "$T/stop" ]; do
		sh -c 'echo $$ >"$1/group.pid"
		    exec vcpipe-group --parent "$PPID" --stop-timeout 2s "$1"' \
		    sh "$T/$1" 2>>"$T/$1.err" || true
		echo "restart" >>"$T/$1.restarts"
		sleep 0.3
	  done ) &
	bg_pid $!
}
# stages NAME: $T/NAME/stages (vcpipe-formats: name, word count, words,
# each ended by a NUL) of stdin's lines "STAGE WORD..." (no word has blanks)
stages() {
	mkdir -p "$T/$1"
	while read -r _st _words; do
		set -f; set -- $_words; set +f
		printf '%s\000%s\000' "$_st" $#
		printf '%s\000' "$@"
	done >"$T/$1/stages"
}
stage_pid() { awk -v s="$2" '$1 == s { print $2 }' "$T/$1/pids" 2>/dev/null; }
restarts() { cat "$T/$1.restarts" 2>/dev/null | wc -l; }
# the stages outlive their supervisor's loop: stop them at exit
kill_stages() {
	touch "$T/stop"
	for f in "$T"/*/group.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
	for f in "$T"/*/pids; do
		[ -f "$f" ] && kill $(awk '{ print $2 }' "$f") 2>/dev/null
	done
	return 0
}
at_exit kill_stages

U=$RMQ_URL_a
worker() { # worker N
	stages "w$1" <<-EOF
	src amqp-source --url $U --queue vcpipe.work --declare quorum --bind vcpipe:vcenter.# --exchange-type topic --prefetch 200 --sink-checkpoint $T/w$1.ck
	sink $VP_WRAP sink-http --url $RURL --checkpoint $T/w$1.ck
	EOF
	supervise "w$1"
}
worker 1
worker 2
wait_for 60 grep -q consuming "$T/w1.err" || bail "worker 1 did not start: $(tail -3 "$T/w1.err")"
stages c <<EOF
vc $VP_WRAP vc-source --url $VCSIM_URL --begin 1h --checkpoint $T/c.ck
enc ce-encode
sink $VP_WRAP sink-amqp --url $U --exchange vcpipe --exchange-type topic --routing-key vcenter.{subject} --checkpoint $T/c.ck --dlq $T/c.dlq
EOF
supervise c

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

# sink-amqp killed while nothing flows: its pipeline restarts (the stages
# before it are stopped at once), not after the next events
r=$(restarts c)
restarted() { [ "$(restarts c)" -gt "$r" ]; }
kill -9 "$(stage_pid c sink)" || bail "no sink-amqp to kill"
if wait_for 30 restarted; then got=restarted; else
	got="not in 30 s: $(cat "$T/c/pids" | tr '\n' ' ')"; fi
is "sink-amqp killed while idle: the collector's pipeline restarts" \
    restarted "$got"

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
		kill -9 "$(stage_pid "${victim%.*}" "${victim#*.}")" 2>/dev/null || true
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
# where_missing: what each stage holds, to tell where the missing events
# stopped: not published (the collector's checkpoint is before them), in
# the queue (ready), with a consumer (unacknowledged), or gone
ck_key() { jq -r '.key // "none"' "$1" 2>/dev/null || echo none; }
where_missing() {
	keys_received | sort | comm -23 "$T/want" - | sort -n >"$T/missing"
	echo "missing keys: $(tr '\n' ' ' <"$T/missing" | cut -c1-400)"
	echo "checkpoints (key): c.ck $(ck_key "$T/c.ck") (confirmed by the" \
	    "broker), w1.ck $(ck_key "$T/w1.ck"), w2.ck $(ck_key "$T/w2.ck")" \
	    "(delivered); newest posted $(tail -1 "$T/want")"
	echo "queue (name ready unacked consumers):" \
	    "$(rmq_ctl a list_queues name messages_ready \
	    messages_unacknowledged consumers 2>&1 | tr '\n\t' '; ')"
	echo "consumers (channel ack prefetch): $(rmq_ctl a list_consumers \
	    channel_pid ack_required prefetch_count 2>&1 | tr '\n\t' '; ')"
	echo "bindings: $(rmq_ctl a list_bindings source_name routing_key \
	    destination_name 2>&1 | tr '\n\t' '; ')"
	for n in c w1 w2; do
		[ -f "$T/$n/pids" ] || continue
		while read -r st pid; do
			kill -0 "$pid" 2>/dev/null && s=alive || s=gone
			printf '%s ' "$n.$st $pid $s"
		done <"$T/$n/pids"
	done
	echo
	for n in c w1 w2; do
		echo "restarts of $n: $(restarts $n); $T/$n.err ends:"
		tail -6 "$T/$n.err" 2>/dev/null | cut -c1-300
	done
}
[ "$m" -eq 0 ] || diag "$(cat "$T/timeline")" "$(where_missing)"
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
