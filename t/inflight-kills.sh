# inflight-kills.sh: the kill -9 loop of t/0410 and t/0507 (source after
# t/lib.sh). The test defines acked (the keys the receiver acknowledged,
# sorted, once each) and start_sink (the sink in the background, reading
# $T/in, checkpoint $T/ck; sets SINK_PID), and sets REQLOG (a file that grows
# by a line per request) and MORE (the most requests between two kills).
# Events are $T/all, one per line, eventkey = line number.

# the checkpoint's key, 0 before the first one
ck_key() {
	if [ -s "$T/ck" ]; then jq -r '.key // 0' "$T/ck"; else echo 0; fi
}
# is every key 1..K acknowledged?
prefix_acked() {
	_k=$1
	[ "$_k" -eq 0 ] && return 0
	[ "$(acked | awk -v k="$_k" '$1 <= k' | wc -l)" -eq "$_k" ]
}
# kill_loop KILLS: start the sink from the checkpoint (as a source resumes
# after the checkpoint's key), kill it with SIGKILL after 1 to MORE more
# requests (counted, not timed, so that a loaded machine kills mid-stream
# too), check the checkpoint; KILLS times. Leaves $T/in for the last run.
kill_loop() {
	_i=0
	while [ "$_i" -lt "$1" ]; do
		_i=$((_i + 1))
		awk -v k="$(ck_key)" 'NR > k' "$T/all" >"$T/in"
		start_sink
		_want=$(( $(wc -l <"$REQLOG") + $(awk -v s="$_i$$" -v m="$MORE" 'BEGIN { srand(s); print 1 + int(rand() * m) }') ))
		wait_for 60 sh -c "test \$(wc -l <'$REQLOG') -ge $_want || ! kill -0 $SINK_PID 2>/dev/null" || true
		kill -KILL "$SINK_PID" 2>/dev/null || true
		wait "$SINK_PID" 2>/dev/null || true
		_k=$(ck_key)
		check "kill $_i: the checkpoint (key $_k) names no event past the acknowledged prefix" \
		    prefix_acked "$_k"
	done
	awk -v k="$(ck_key)" 'NR > k' "$T/all" >"$T/in"
}
