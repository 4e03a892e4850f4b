# t/http-receiver/lib.sh: start and read the test receiver from sink-http tests.
# Source after t/lib.sh.

# start_receiver NAME [receiver.py options]: start a receiver logging to
# $T/NAME.log; its port ends up in $T/NAME.port and in RPORT.
start_receiver() {
	_n=$1; shift
	rm -f "$T/$_n.port"
	python3 "$VP_SRCDIR/t/http-receiver/receiver.py" --log "$T/$_n.log" \
	    --port-file "$T/$_n.port" "$@" 2>>"$T/$_n.stderr" &
	_pid=$!
	bg_pid "$_pid"
	eval "RPID_$_n=$_pid"
	# a loaded machine (the suite at -j2 beside other builds) can take long
	wait_for 60 test -s "$T/$_n.port" ||
	    bail "receiver $_n did not start: $(cat "$T/$_n.stderr" 2>/dev/null)"
	RPORT=$(cat "$T/$_n.port")
}

# stop_receiver NAME
stop_receiver() {
	eval "_pid=\$RPID_$1"
	kill "$_pid" 2>/dev/null || true
	wait "$_pid" 2>/dev/null || true
}

# bodies NAME: the bodies of the requests that were answered 2xx, one per
# line, in arrival order.
bodies() {
	jq -r 'select(.action|test("^2")) | .body' "$T/$1.log"
}

# requests NAME: number of requests logged
requests() {
	if [ -f "$T/$1.log" ]; then wc -l <"$T/$1.log" | tr -d ' '; else echo 0; fi
}

# checkpoint FILE: the checkpoint without its "updated" time and counts
checkpoint() {
	jq -c 'del(.updated, .invocations)' "$1"
}
