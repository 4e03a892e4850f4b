#!/bin/sh
# Stop requests that land outside a blocking read or write (src/lib's
# vp_poll, vp_read_line, vp_write_line): a SIGTERM that arrives while a sink
# fsyncs its checkpoint ends the wait for more input at once, and a SIGTERM
# while vc-source writes to a slow next stage finishes the line (exit 0, no
# half line) instead of failing the write.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/http-receiver/lib.sh"
. "$VP_SRCDIR/t/fake-eventbridge/fake.sh"
. "$VP_SRCDIR/t/vcsim.sh"
command -v cc >/dev/null || skip_all "no C compiler for the fsync shim"
command -v jq >/dev/null || skip_all "jq not installed"
plan 8
D=$VP_SRCDIR/t/data

# fsync and fdatasync take a second: the stop request lands inside them
cat >"$T/slowsync.c" <<'EOF'
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
/* say so in $SLOWSYNC_MARK, then take a whole second even when a signal
 * arrives meanwhile */
static void slow(void) { struct timespec t = { 1, 0 };
	const char *m = getenv("SLOWSYNC_MARK"); int fd;
	if (m && (fd = open(m, O_WRONLY | O_CREAT | O_APPEND, 0600)) >= 0) {
		(void)write(fd, "s", 1); close(fd); }
	while (nanosleep(&t, &t) == -1 && errno == EINTR) continue; }
int fsync(int fd) { (void)fd; slow(); return 0; }
int fdatasync(int fd) { (void)fd; slow(); return 0; }
EOF
cc -shared -fPIC -o "$T/slowsync.so" "$T/slowsync.c"
# a sanitizer runtime wants to come first; the shim only replaces two calls
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

gone() { ! kill -0 "$1" 2>/dev/null; }

# term_in_fsync NAME LINE PROGRAM ARGS...: PROGRAM (with the shim) reads LINE
# from a FIFO that stays open; TERM once a checkpoint fsync has begun
term_in_fsync() {
	_n=$1 _line=$2; shift 2
	rm -f "$T/$_n.in"; mkfifo "$T/$_n.in"
	SLOWSYNC_MARK="$T/$_n.mark" LD_PRELOAD="$T/slowsync.so" $VP_WRAP "$@" \
	    <"$T/$_n.in" 2>"$T/$_n.err" &
	_pid=$!; bg_pid $_pid
	exec 3>"$T/$_n.in"
	printf '%s\n' "$_line" >&3
	wait_for 10 test -s "$T/$_n.mark" || true
	sleep 0.2
	kill -TERM $_pid
	if wait_for 5 gone $_pid; then ok "$1: TERM during the checkpoint fsync stops it without more input"
	else not_ok "$1: TERM during the checkpoint fsync stops it without more input"; fi
	exec 3>&-
	set +e; wait $_pid; _rc=$?; set -e
	is "$1: exit 0" 0 "$_rc"
}

start_receiver a --default 200
term_in_fsync a "$(sed -n 1p "$D/sink-http-structured.ndjson")" \
    sink-http --url "http://127.0.0.1:$RPORT/" --checkpoint "$T/a.ck"
is "sink-http: the checkpoint names the delivered event" vc-4f2a-1234 "$(jq -r .id "$T/a.ck")"
stop_receiver a

use_env_keys
fake_config "$T/eb.json" '{}'
start_fake "$T/eb.json"
EB1=$(sed -n 1p "$D/sink-eventbridge-structured.ndjson")
term_in_fsync b "$EB1" sink-eventbridge --region us-east-1 \
    --endpoint-url "$FAKE_URL" --checkpoint "$T/b.ck"
is "sink-eventbridge: the checkpoint names the delivered event" \
    "$(printf '%s\n' "$EB1" | jq -r .id)" "$(jq -r .id "$T/b.ck")"

# vc-source writing a backlog into a pipe nobody reads yet
vcsim_start -history || bail "simulator did not start"
vcsim_op post-burst count=3000 >/dev/null
rm -f "$T/c.fifo"; mkfifo "$T/c.fifo"
$VP_WRAP vc-source --url "$VCSIM_URL" --begin 1h --once >"$T/c.fifo" 2>"$T/c.err" &
VPID=$!; bg_pid $VPID
exec 4<"$T/c.fifo"
# the pipe is full and vc-source is blocked in write (a fixed pause was too
# short for a slow start: under valgrind TERM came before its handler)
blocked() { case $(cat "/proc/$VPID/wchan" 2>/dev/null) in *pipe_write*) ;; *) return 1 ;; esac; }
wait_for 60 blocked || true
kill -TERM $VPID
cat <&4 >"$T/c.out"
exec 4<&-
set +e; wait $VPID; rc=$?; set -e
is "vc-source: TERM while blocked writing: exit 0" 0 "$rc"
if jq -e . "$T/c.out" >/dev/null 2>&1 && [ "$(tail -c 1 "$T/c.out" | od -An -c | tr -d ' ')" = '\n' ]; then
	ok "vc-source: every line written whole"
else
	not_ok "vc-source: every line written whole"; diag "$(tail -c 300 "$T/c.out")"
fi
done_testing
