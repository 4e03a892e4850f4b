# bench/lib-vcsim.sh: the vcsim helpers (t/vcsim.sh) for scripts that do not
# source t/lib.sh: benchmarks, and t/demo.sh and t/sim.sh (bin/bootstrap). Provides T (a temp dir removed at exit) and
# bg_pid unless the caller already has them, then the functions of t/vcsim.sh:
# vcsim_start, vcsim_op, vcsim_stop, govmomi_events, vcsim_keys, vcsim_classes.
VP_SRCDIR=${VP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
VP_BUILDDIR=${VP_BUILDDIR:-$VP_SRCDIR}
export VP_SRCDIR VP_BUILDDIR
if ! command -v bg_pid >/dev/null 2>&1; then
	_bench_pids=""
	bg_pid() { _bench_pids="$_bench_pids $1"; }
	T=${T:-$(mktemp -d "${TMPDIR:-/tmp}/vcpipe-bench.XXXXXX")}
	_bench_cleanup() {
		for p in $_bench_pids; do kill "$p" 2>/dev/null || true; done
		for p in $_bench_pids; do wait "$p" 2>/dev/null || true; done
		rm -rf "$T"
	}
	trap _bench_cleanup EXIT
	trap 'exit 130' INT TERM
fi
. "$VP_SRCDIR/t/vcsim.sh"
