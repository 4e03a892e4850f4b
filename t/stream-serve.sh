# t/stream-serve.sh: run stream-serve for a test (source after t/lib.sh).
# start ARGS...: stream-serve (with ARGS) on a free loopback port, reading
# the fifo $T/in, which the test writes through descriptor 4; its stdout in
# $T/out, its stderr (debug) in $T/err; sets pid, port and api (the API's
# base URL).  stop: close the fifo, SIGTERM, wait; its exit status in rc.
PATH="$VP_BUILDDIR/src/stream-serve:$PATH"
start() {
	rm -f "$T/in"; mkfifo "$T/in"
	$VP_WRAP stream-serve --listen 127.0.0.1:0 --log-level debug "$@" \
		<"$T/in" >"$T/out" 2>"$T/err" &
	pid=$!; bg_pid $pid
	exec 4>"$T/in"
	wait_for 60 grep -q 'port [0-9]' "$T/err" || bail "stream-serve did not start"
	port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$T/err")
	api=http://127.0.0.1:$port/api/v1
}
stop() {
	exec 4>&-
	kill -TERM $pid
	set +e; wait $pid; rc=$?; set -e
}
