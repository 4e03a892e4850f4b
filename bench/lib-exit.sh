# bench/lib-exit.sh: how a bench script ends (and t/demo.sh, t/sim.sh,
# through bench/lib-vcsim.sh). Source it before starting anything; it
# provides T (a temp dir, unless the script made one), bg_pid PID (kept for
# t/vcsim.sh: the sweep below stops those too) and at_exit FUNCTION.
#
# However the script ends (its last line, exit, an error under set -e,
# Ctrl-C, TERM, HUP, or SIGPIPE when its reader went away, as in
# `sh bench/x.sh | head -3`), the at_exit functions run (a broker's orderly
# stop), then every process the script started that still runs (the whole
# tree under $$: simulators, receivers, pipelines' members, time's children,
# pollers) gets SIGTERM, SIGKILL if it is still there 10 s later, and T is
# removed. A trap only on EXIT is not enough: sh runs it on exit, not when
# a signal without a trap ends the script.
T=${T:-$(mktemp -d "${TMPDIR:-/tmp}/vcpipe-bench.XXXXXX")}
_bench_exits=""
bg_pid() { :; }
at_exit() { _bench_exits="$_bench_exits $1"; }

# _bench_tree PID: appends PID's descendants, parents first, to
# _bench_tree_out (read, no fork: a $(...) would list itself). No local
# needed: a for loop's list is expanded once, before the recursion.
_bench_tree() {
	for _f in /proc/"$1"/task/*/children; do
		_l=
		read -r _l 2>/dev/null <"$_f" || :
		for _c in $_l; do
			_bench_tree_out="$_bench_tree_out $_c"
			_bench_tree "$_c"
		done
	done
}

# _bench_running: the script's descendants that have not ended (zombies
# count as ended: their parent reaps them) in _bench_left
_bench_running() {
	_bench_tree_out=""
	_bench_tree $$
	_bench_left=""
	for _p in $_bench_tree_out; do
		_s=
		read -r _s 2>/dev/null <"/proc/$_p/stat" || continue
		_s=${_s##*) }
		[ "${_s%% *}" = Z ] || _bench_left="$_bench_left $_p"
	done
}

# shellcheck disable=SC2086 # (PID lists)
_bench_cleanup() {
	set +e
	trap '' PIPE	# stdout may be gone (that may be why we are here)
	for _f in $_bench_exits; do "$_f"; done
	_i=0
	_bench_running
	[ -z "$_bench_left" ] || kill $_bench_left 2>/dev/null
	while [ -n "$_bench_left" ] && [ $_i -lt 100 ]; do
		sleep 0.1
		_i=$((_i + 1))
		_bench_running
	done
	# (a fresh list: a PID that ended may have been given to another process)
	[ -z "$_bench_left" ] || kill -KILL $_bench_left 2>/dev/null
	wait
	rm -rf "$T"
}
trap _bench_cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
trap 'exit 143' TERM
