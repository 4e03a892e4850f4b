#!/bin/sh
# t/man-examples.py (t/0320's runner) ends every process an example
# starts, on every way out: a background example, a process a command left
# behind, one that left its process group (setsid, as vcpipe-group's
# pipelines do), and the command running when SIGTERM, SIGINT or SIGHUP
# stops the runner.  The processes are a copy of sleep(1), found by
# /proc/PID/exe.
. "${0%/*}/lib.sh"
command -v setsid >/dev/null 2>&1 || skip_all "setsid not installed"
plan 9

cp "$(command -v sleep)" "$T/sleeper"
SLEEPER=$T/sleeper
export SLEEPER
sleepers() {
	find /proc/[0-9]*/exe -maxdepth 0 -lname "$SLEEPER" 2>/dev/null |
	    sed 's|^/proc/\([0-9]*\)/exe$|\1|'
	return 0
}
# (should the runner leave any, they end with the test)
kill_sleepers() { for _p in $(sleepers); do kill -KILL "$_p" 2>/dev/null || true; done; }
at_exit kill_sleepers
count() { sleepers | wc -l | tr -d ' '; }
all_up() { [ "$(count)" -ge 4 ]; }

page() { # page NAME [until]: a man page whose examples leave three sleepers
	{
		printf '.Dd November 28, 2026\n.Dt %s 1\n.Os\n.Sh NAME\n.Nm %s\n.Nd test\n' "$1" "$1"
		printf '.Sh EXAMPLES\n'
		printf '.\\" test: sh setsid -f "$SLEEPER" 301\n'
		printf '.Bd -literal\n$ "$SLEEPER" 302 &\n'
		printf '$ sh -c %s\nleft\n.Ed\n' "'\"\$SLEEPER\" 303 & echo left'"
		if [ -n "${2:-}" ]; then
			printf '.\\" test: until test -e never\n'
			printf '.Bd -literal\n$ "$SLEEPER" 304\n.Ed\n'
		fi
	} >"$T/$1.1"
}

# the page runs to its end
page done
python3 "$VP_SRCDIR/t/man-examples.py" "$T/w" "$T/done.1" >"$T/done.tap" 2>"$T/done.err"
is "a page done: its display passed" "ok - done.1:9: \"\$SLEEPER\" 302 &" "$(cat "$T/done.tap")"
is "... and nothing it started runs on" 0 "$(count)"

# a stop signal while a display runs
page stop until
for sig in ${VP_SIGS:-TERM INT HUP}; do
	python3 "$VP_SRCDIR/t/man-examples.py" "$T/w" "$T/stop.1" >"$T/$sig.tap" 2>"$T/$sig.err" &
	mx=$!
	wait_for 60 all_up || diag "SIG$sig: only $(count) started" "$(cat "$T/$sig.err")"
	kill -$sig $mx
	set +e; wait $mx; rc=$?; set -e
	case $sig in TERM) want=143 ;; INT) want=130 ;; HUP) want=129 ;; esac
	is "SIG$sig while a display runs: the runner exits $want" $want $rc
	is "... and ends every process the page started (4)" 0 "$(count)"
	kill_sleepers
done
check "the runner said nothing on stderr" test ! -s "$T/done.err"
done_testing
