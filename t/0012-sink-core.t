#!/bin/sh
# What sink-http and sink-eventbridge share (src/lib/sinkcore.c,
# checkpoint.c), row by row for both sinks: a full disk never tears a
# dead-letter file (an append is all or nothing; the sink stops with exit 74
# and the checkpoint before the event); a missing state directory is created
# 0700 and one that cannot be written is refused at start (no restart loop);
# checkpoint files are 0600; a checkpoint never names an eventkey vc-source
# would refuse, and every checkpoint reader gives a file the same verdict;
# blank lines are skipped; nothing refused is dropped silently; dead letters
# written by either sink replay through the other.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/http-receiver/lib.sh"
. "$VP_SRCDIR/t/fake-eventbridge/fake.sh"
command -v cc >/dev/null || skip_all "no C compiler for the file system shim"
plan 77
D=$VP_SRCDIR/t/data
FAST="--retry-base 10ms --retry-cap 40ms"
S1=$(sed -n 1p "$D/sink-http-structured.ndjson")
S2=$(sed -n 2p "$D/sink-http-structured.ndjson")
S3=$(sed -n 3p "$D/sink-http-structured.ndjson")
B1=$(sed -n 1p "$D/sink-eventbridge-binary.ndjson")
E1=$(sed -n 1p "$D/sink-eventbridge-structured.ndjson")
E2=$(sed -n 2p "$D/sink-eventbridge-structured.ndjson")
E3=$(sed -n 3p "$D/sink-eventbridge-structured.ndjson")
use_env_keys

# The file system as a full disk or a read-only mount would have it, for one
# file or one directory (as t/0010 slows fsync down): t/fs-shim.c.
build_fs_shim
valid_records() { [ "$(jq -c .deadletter.reason "$1" 2>/dev/null | grep -c .)" = "$2" ]; }

# ---- a full disk: the dead-letter file is never torn --------------------
start_receiver h --script 400 --default 400
H="http://127.0.0.1:$RPORT/"
printf '%s\n' "$S1" | $VP_WRAP sink-http --url "$H" --dlq "$T/h.dlq" 2>/dev/null || true
cp "$T/h.dlq" "$T/h.before"
stop_receiver h
start_receiver h2 --script 200 --default 400
H="http://127.0.0.1:$RPORT/"
printf '%s\n%s\n%s\n' "$S1" "$S2" "$S3" >"$T/h.in"
expect_exit "sink-http, disk full during a dead-letter append: exit 74" 74 \
    env VP_FS_DIR="$T/h.dlq" VP_FS_FULL=1 VP_FS_ROOM=10 LD_PRELOAD="$T/fs.so" \
    $VP_WRAP sink-http --url "$H" $FAST --dlq "$T/h.dlq" --checkpoint "$T/h.ck" <"$T/h.in"
check "sink-http: the dead-letter file is as it was (the partial record cut)" cmp "$T/h.before" "$T/h.dlq"
is "sink-http: the checkpoint is before the event" vc-4f2a-1234 "$(jq -r .id "$T/h.ck")"
check "sink-http: the error names the file and the disk" grep -q "cannot dead-letter it: $T/h.dlq: No space left on device" "$T/.exit.err"
expect_exit "sink-http, fsync fails with ENOSPC: exit 74" 74 \
    env VP_FS_DIR="$T/h.dlq" VP_FS_FULL=1 VP_FS_FSYNC=1 LD_PRELOAD="$T/fs.so" \
    $VP_WRAP sink-http --url "$H" $FAST --dlq "$T/h.dlq" <"$T/h.in"
check "sink-http: after the failed fsync the file is as it was" cmp "$T/h.before" "$T/h.dlq"
# a record torn by a crash (no newline) gets the next record on a line of its own
printf '{"specversion":"1.0","id":"torn' >>"$T/h.dlq"
expect_exit "sink-http: dead-lettering after a torn record" 0 \
    $VP_WRAP sink-http --url "$H" $FAST --dlq "$T/h.dlq" <"$T/h.in"
is "sink-http: the torn text keeps its own line, each record one line" \
    '{"specversion":"1.0","id":"torn rejected,rejected,rejected,rejected' \
    "$(sed -n 2p "$T/h.dlq") $(sed 2d "$T/h.dlq" | jq -r .deadletter.reason | paste -sd, -)"
stop_receiver h2

fake_config "$T/full.json" '{"entry_failures": {"1001": ["MalformedDetail", "MalformedDetail", "MalformedDetail", "MalformedDetail"]}}'
start_fake "$T/full.json"
printf '%s\n' "$E2" | $VP_WRAP sink-eventbridge --region us-east-1 --endpoint-url "$FAKE_URL" \
    --dlq "$T/e.dlq" 2>/dev/null || true
cp "$T/e.dlq" "$T/e.before"
printf '%s\n%s\n%s\n' "$E1" "$E2" "$E3" >"$T/e.in"
printf '%s\n%s\n' "$E1" "$E3" >"$T/e13.in"
expect_exit "sink-eventbridge, disk full during a dead-letter append: exit 74" 74 \
    env VP_FS_DIR="$T/e.dlq" VP_FS_FULL=1 VP_FS_ROOM=10 LD_PRELOAD="$T/fs.so" \
    $VP_WRAP sink-eventbridge --region us-east-1 --endpoint-url "$FAKE_URL" \
    --dlq "$T/e.dlq" --checkpoint "$T/e.ck" <"$T/e.in"
check "sink-eventbridge: the dead-letter file is as it was" cmp "$T/e.before" "$T/e.dlq"
is "sink-eventbridge: the checkpoint is before the event" 1000 "$(jq -r .id "$T/e.ck")"
expect_exit "sink-eventbridge, fsync fails with ENOSPC: exit 74" 74 \
    env VP_FS_DIR="$T/e.dlq" VP_FS_FULL=1 VP_FS_FSYNC=1 LD_PRELOAD="$T/fs.so" \
    $VP_WRAP sink-eventbridge --region us-east-1 --endpoint-url "$FAKE_URL" \
    --dlq "$T/e.dlq" <"$T/e.in"
check "sink-eventbridge: after the failed fsync the file is as it was" cmp "$T/e.before" "$T/e.dlq"

# ---- state directories and file modes ------------------------------------
start_receiver s
H="http://127.0.0.1:$RPORT/"
printf '%s\n' "$S1" >"$T/one"
expect_exit "sink-http: a missing checkpoint directory is created" 0 \
    sh -c "umask 022; exec $VP_WRAP sink-http --url '$H' --checkpoint '$T/new/sub/ck' --dlq '$T/new2/dlq' <'$T/one'"
is "sink-http: directories 0700, checkpoint 0600" "700 700 700 600" \
    "$(stat -c %a "$T/new" "$T/new/sub" "$T/new2" "$T/new/sub/ck" | paste -sd' ' -)"
expect_exit "sink-eventbridge: a missing checkpoint directory is created" 0 \
    sh -c "umask 022; exec $VP_WRAP sink-eventbridge --region us-east-1 --endpoint-url '$FAKE_URL' --checkpoint '$T/ebnew/ck' <'$T/e13.in'"
is "sink-eventbridge: directory 0700, checkpoint 0600" "700 600" \
    "$(stat -c %a "$T/ebnew" "$T/ebnew/ck" | paste -sd' ' -)"
mkdir "$T/ro"
: >"$T/s.log"
expect_exit "sink-http: a read-only checkpoint directory is refused at start (77)" 77 \
    env VP_FS_DIR="$T/ro" VP_FS_RO=1 LD_PRELOAD="$T/fs.so" \
    $VP_WRAP sink-http --url "$H" --checkpoint "$T/ro/ck" <"$T/one"
check "sink-http: it says why" grep -q "checkpoint: $T/ro/ck: cannot write in $T/ro: Read-only file system" "$T/.exit.err"
is "sink-http: nothing was sent (no deliver-and-fail loop)" 0 "$(requests s)"
expect_exit "sink-http: a read-only dead-letter directory is refused at start (77)" 77 \
    env VP_FS_DIR="$T/ro" VP_FS_RO=1 LD_PRELOAD="$T/fs.so" \
    $VP_WRAP sink-http --url "$H" --dlq "$T/ro/dlq" <"$T/one"
expect_exit "sink-http: a checkpoint directory that cannot be made is refused (77)" 77 \
    env VP_FS_DIR="$T/ro" VP_FS_RO=1 LD_PRELOAD="$T/fs.so" \
    $VP_WRAP sink-http --url "$H" --checkpoint "$T/ro/a/b/ck" <"$T/one"
: >"$T/afile"
expect_exit "sink-http: a path through a regular file is a configuration error (78)" 78 \
    $VP_WRAP sink-http --url "$H" --checkpoint "$T/afile/ck" <"$T/one"
expect_exit "sink-http: a directory as the checkpoint is a configuration error (78)" 78 \
    $VP_WRAP sink-http --url "$H" --checkpoint "$T/ro" <"$T/one"
is "still nothing sent" 0 "$(requests s)"
: >"$T/fake.log"
expect_exit "sink-eventbridge: a read-only checkpoint directory is refused at start (77)" 77 \
    env VP_FS_DIR="$T/ro" VP_FS_RO=1 LD_PRELOAD="$T/fs.so" \
    $VP_WRAP sink-eventbridge --region us-east-1 --endpoint-url "$FAKE_URL" \
    --checkpoint "$T/ro/ck" <"$T/e13.in"
is "sink-eventbridge: nothing was sent" 0 "$(grep -c . "$T/fake.log")"

# ---- checkpoint keys: only what vc-source accepts ------------------------
# (a structured eventkey past int32 is no CloudEvents Integer: every reader
# refuses that line, t/data/ce-lines.test; a binary header of digits is text)
head -1 "$D/sink-http-binary.ndjson" |
    jq -c '.headers["ce-eventkey"] = "4294967296" | .headers["ce-id"] = "big"' >"$T/big"
printf '%s\n' "$S1" | jq -c '.eventkey = 2147483647 | .id = "max"' >"$T/max"
expect_exit "sink-http: a binary line with an eventkey past int32" 0 \
    $VP_WRAP sink-http --url "$H" --checkpoint "$T/big.ck" <"$T/big"
is "its checkpoint names it by time, without the key" "big null" "$(jq -r '"\(.id) \(.key)"' "$T/big.ck")"
expect_exit "sink-http: the largest vCenter key" 0 \
    $VP_WRAP sink-http --url "$H" --checkpoint "$T/max.ck" <"$T/max"
is "its checkpoint keeps the key" "max 2147483647" "$(jq -r '"\(.id) \(.key)"' "$T/max.ck")"
jq -c '.headers["ce-eventkey"] = "4294967296"' "$D/sink-eventbridge-binary.ndjson" >"$T/bigb"
expect_exit "sink-eventbridge: binary lines with an eventkey past int32" 0 \
    $VP_WRAP sink-eventbridge --region us-east-1 --endpoint-url "$FAKE_URL" \
    --checkpoint "$T/bigb.ck" <"$T/bigb"
is "its checkpoint has no key" null "$(jq -r .key "$T/bigb.ck")"

# ---- a torn last line, long lines (issue 12) ------------------------------
# A last line without a newline is what a writer killed mid-line leaves: it
# is neither delivered nor dead-lettered, even when it happens to parse; the
# sink exits 75 with the checkpoint before it, so the restarted pipeline
# reads it again, whole, from the source.
for inf in 1 4; do
	printf '%s\n' "$S1" | jq -c '.id = "t1"' >"$T/torn"
	printf '%s' "$S1" | jq -c '.id = "t2"' | tr -d '\n' >>"$T/torn"
	n0=$(requests s)
	expect_exit "sink-http --inflight $inf: a last line without a newline: exit 75" 75 \
	    $VP_WRAP sink-http --url "$H" --inflight $inf --checkpoint "$T/torn$inf.ck" \
	    --dlq "$T/torn$inf.dlq" <"$T/torn"
	is "sink-http --inflight $inf: only the whole line was sent; checkpoint at it; no dead letter" \
	    "1 t1 no" "$(($(requests s) - n0)) $(jq -r .id "$T/torn$inf.ck") $(test -s "$T/torn$inf.dlq" && echo yes || echo no)"
done
check "sink-http: it says why, with the line number" \
    grep -q 'stdin:2: input ended inside this line' "$T/.exit.err"
printf '%s\n' "$E1" >"$T/etorn"
printf '%s' "$E3" | head -c 40 >>"$T/etorn"
: >"$T/fake.log"
expect_exit "sink-eventbridge: a last line without a newline: exit 75" 75 \
    $VP_WRAP sink-eventbridge --region us-east-1 --endpoint-url "$FAKE_URL" \
    --inflight 4 --checkpoint "$T/etorn.ck" --dlq "$T/etorn.dlq" <"$T/etorn"
is "sink-eventbridge: only the whole line was sent; checkpoint at it; no dead letter" \
    "1 $(printf '%s' "$E1" | jq -r .id) no" \
    "$(grep -c . "$T/fake.log") $(jq -r .id "$T/etorn.ck") $(test -s "$T/etorn.dlq" && echo yes || echo no)"
check "sink-eventbridge: it says why, with the line number" \
    grep -q 'stdin:2: input ended inside this line' "$T/.exit.err"

# lines as long as vc-source writes and ce-encode passes under bin/vcpipe
# (--max-line-bytes 40m): a 6 MiB event is delivered, not refused as a line
# too long (the sinks' limit was 4 MiB); EventBridge's own entry limit
# dead-letters it with its text and EntryTooLarge
head -c 6291456 /dev/zero | tr '\0' x >"$T/6m"
printf '%s' "$S1" | jq -c --rawfile m "$T/6m" \
    '.id = "big6" | .data.FullFormattedMessage = $m' >"$T/six"
n0=$(requests s)
expect_exit "sink-http: a 6 MiB line is delivered" 0 \
    $VP_WRAP sink-http --url "$H" --checkpoint "$T/six.ck" <"$T/six"
is "sink-http: it reached the receiver" "1 big6" "$(($(requests s) - n0)) $(jq -r .id "$T/six.ck")"
expect_exit "sink-eventbridge: a 6 MiB line" 0 \
    $VP_WRAP sink-eventbridge --region us-east-1 --endpoint-url "$FAKE_URL" \
    --dlq "$T/six.dlq" <"$T/six"
is "sink-eventbridge: dead-lettered whole, as EntryTooLarge" "big6 EntryTooLarge" \
    "$(jq -r '"\(.id) \(.deadletter.code)"' "$T/six.dlq")"
stop_receiver s

# ---- one verdict per checkpoint file, in every reader ---------------------
# "ok" is a reader that took the file and went on to connect (to a port that
# refuses, so: exit 75); anything else is the exit code it refused it with.
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0))
open(sys.argv[1], "w").write(str(s.getsockname()[1])); time.sleep(600)' "$T/closed.port" &
bg_pid $!
wait_for 60 test -s "$T/closed.port" || bail "no closed port"
CLOSED=http://127.0.0.1:$(cat "$T/closed.port")
cat >"$T/rows" <<'EOF'
with a key|{"version":1,"source":"s","id":"a","time":"2026-11-23T09:00:00Z","key":1234}|ok|ok
without a key|{"version":1,"source":"s","id":"a","time":"2026-11-23T09:00:00.5Z"}|ok|ok
key null|{"version":1,"source":"s","id":"a","time":"2026-11-23T09:00:00Z","key":null}|ok|ok
key past int32 (a Horizon id)|{"version":1,"time":"2026-11-23T09:00:00Z","key":4294967296}|65|ok
key not an integer|{"version":1,"time":"2026-11-23T09:00:00Z","key":"12"}|65|65
no time|{"version":1,"source":"s","id":"a","key":1}|65|65
time not RFC 3339|{"version":1,"time":"yesterday"}|65|65
not JSON|{"version":1,|65|65
not an object|[1]|65|65
missing file||ok|ok
a directory|DIR|66|66
EOF
export VC_USERNAME=u VC_PASSWORD=p HORIZON_USERNAME=u HORIZON_PASSWORD=p
verdict() { if [ "$1" = 75 ]; then echo ok; else echo "$1"; fi; }
n=0 vcpids=
while IFS='|' read -r name text want_vc want_hz; do
	n=$((n + 1)); f=$T/row$n.ck
	case $text in
	DIR) mkdir "$f" ;;
	'') ;;
	*) printf '%s\n' "$text" >"$f" ;;
	esac
	( set +e; $VP_WRAP vc-source --url "$CLOSED/sdk" --checkpoint "$f" --once \
	    >/dev/null 2>"$f.vc.err"; echo $? >"$f.vc" ) &
	vcpids="$vcpids $!"
	set +e
	$VP_WRAP horizon-source --url "$CLOSED" --domain d --checkpoint "$f" --once \
	    >/dev/null 2>"$f.hz.err"
	echo $? >"$f.hz"
	set -e
done <"$T/rows"
for p in $vcpids; do wait "$p" || true; done
n=0
while IFS='|' read -r name text want_vc want_hz; do
	n=$((n + 1)); f=$T/row$n.ck
	is "checkpoint reader table: $name: vc-source $want_vc, horizon-source $want_hz" \
	    "$want_vc $want_hz" "$(verdict "$(cat "$f.vc")") $(verdict "$(cat "$f.hz")")"
done <"$T/rows"

# ---- blank lines, and nothing refused is dropped silently ----------------
printf '%s\n   \n\t\n \t \n%s\n' "$E1" "$E3" >"$T/blank"
: >"$T/fake.log"
expect_exit "sink-eventbridge --strict: blank lines are skipped" 0 \
    $VP_WRAP sink-eventbridge --region us-east-1 --endpoint-url "$FAKE_URL" --strict \
    --dlq "$T/blank.dlq" <"$T/blank"
is "sink-eventbridge: both events sent, nothing dead-lettered" "1000 1002 no" \
    "$(delivered_ids) $(test -s "$T/blank.dlq" && echo yes || echo no)"
start_receiver b
printf '%s\n   \n\t\n \t \n%s\n' "$S1" "$S2" >"$T/blankh"
expect_exit "sink-http --strict: blank lines are skipped" 0 \
    $VP_WRAP sink-http --url "http://127.0.0.1:$RPORT/" --strict <"$T/blankh"
is "sink-http: both events sent" 2 "$(requests b)"
stop_receiver b
printf '%s\nnot json\n%s\n' "$E1" "$E2" >"$T/bad"
expect_exit "sink-eventbridge: an invalid line without --dlq ends the run (65)" 65 \
    $VP_WRAP sink-eventbridge --region us-east-1 --endpoint-url "$FAKE_URL" \
    --checkpoint "$T/bad.ck" <"$T/bad"
check "sink-eventbridge: the error names the line" grep -q '^sink-eventbridge: stdin:2: not JSON' "$T/.exit.err"
check "sink-eventbridge: no checkpoint past the invalid line" \
    sh -c "! test -e '$T/bad.ck' || [ \"\$(jq -r .id '$T/bad.ck')\" = 1000 ]"
printf '%s\n' "$E1" | jq -c '.data.pad = ("x" * 2000) | .id = "huge"' >"$T/huge"
printf '%s\n' "$E2" >>"$T/huge"
expect_exit "sink-eventbridge: an entry too large without --dlq ends the run (65)" 65 \
    $VP_WRAP sink-eventbridge --region us-east-1 --endpoint-url "$FAKE_URL" \
    --max-batch-bytes 1024 --checkpoint "$T/huge.ck" <"$T/huge"
is "sink-eventbridge: the checkpoint does not name the refused event" no \
    "$(test -e "$T/huge.ck" && echo yes || echo no)"

# ---- a stop while the receiver hangs: 5 s of grace, then exit 75 ---------
python3 -c 'import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
held = []
while True:
    c, _ = s.accept(); held.append(c)
    with open(sys.argv[2], "a") as f: f.write("c\n")' "$T/hang.port" "$T/hang.conns" &
bg_pid $!
wait_for 60 test -s "$T/hang.port" || bail "no hanging server"
HANG=http://127.0.0.1:$(cat "$T/hang.port")/
gone() { ! kill -0 "$1" 2>/dev/null; }
# hang_stop NAME LINE PROGRAM ARGS...: TERM once PROGRAM's request hangs
hang_stop() {
	_n=$1 _line=$2; shift 2
	rm -f "$T/$_n.fifo" "$T/hang.conns"; mkfifo "$T/$_n.fifo"
	$VP_WRAP "$@" --timeout 60s --checkpoint "$T/$_n.ck" --dlq "$T/$_n.dlq" \
	    <"$T/$_n.fifo" 2>"$T/$_n.err" &
	_pid=$!; bg_pid $_pid
	exec 3>"$T/$_n.fifo"
	printf '%s\n' "$_line" >&3
	wait_for 20 test -s "$T/hang.conns" || true
	sleep 0.3
	kill -TERM $_pid
	if wait_for 9 gone $_pid; then ok "$_n: a hanging request is given up 5 s after the stop"
	else not_ok "$_n: a hanging request is given up 5 s after the stop"; fi
	exec 3>&-
	set +e; wait $_pid; _rc=$?; set -e
	is "$_n: exit 75, nothing dead-lettered, no checkpoint" "75 no no" \
	    "$_rc $(test -s "$T/$_n.dlq" && echo yes || echo no) $(test -e "$T/$_n.ck" && echo yes || echo no)"
}
hang_stop sink-http "$S1" sink-http --url "$HANG"
hang_stop sink-eventbridge "$E1" sink-eventbridge --region us-east-1 --endpoint-url "$HANG"

# ---- dead letters replay through the other sink --------------------------
start_receiver r --default 400
printf '%s\n%s\n' "$S1" "$B1" >"$T/x.in"
expect_exit "sink-http dead-letters a structured and a binary line" 0 \
    $VP_WRAP sink-http --url "http://127.0.0.1:$RPORT/" --dlq "$T/x.http.dlq" <"$T/x.in"
stop_receiver r
: >"$T/fake.log"
expect_exit "sink-eventbridge replays sink-http's dead letters" 0 \
    $VP_WRAP sink-eventbridge --region us-east-1 --endpoint-url "$FAKE_URL" <"$T/x.http.dlq"
is "the structured event is the Detail byte for byte" "$S1" "$(jq -r .Detail "$T/fake.log" | sed -n 1p)"
is "the binary event is rebuilt from its headers and body" "2000 msg 0" \
    "$(jq -r .Detail "$T/fake.log" | sed -n 2p | jq -r '"\(.id) \(.data.FullFormattedMessage)"')"
stop_fake
fake_config "$T/rej.json" '{"entry_failures": {"1000": ["MalformedDetail"], "2000": ["MalformedDetail"]}}'
start_fake "$T/rej.json"
printf '%s\n%s\n' "$E1" "$B1" >"$T/y.in"
expect_exit "sink-eventbridge dead-letters a structured and a binary line" 0 \
    $VP_WRAP sink-eventbridge --region us-east-1 --endpoint-url "$FAKE_URL" \
    --dlq "$T/y.eb.dlq" <"$T/y.in"
check "its records are sink-http's shape" jq -e -s \
    'length == 2 and all(.deadletter | .reason == "rejected" and .code == "MalformedDetail" and .status == 200 and .attempts == 1 and (.line | type) == "number")' "$T/y.eb.dlq"
start_receiver y
expect_exit "sink-http replays sink-eventbridge's dead letters" 0 \
    $VP_WRAP sink-http --url "http://127.0.0.1:$RPORT/" <"$T/y.eb.dlq"
printf '%s\n%s\n' "$E1" "$(printf '%s\n' "$B1" | jq -r .body)" >"$T/y.want"
bodies y >"$T/y.got"
same "the events arrive as they were read, byte for byte" "$T/y.want" "$T/y.got"
stop_receiver y
done_testing
