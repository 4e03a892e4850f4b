# bench/lib-vcsim.sh: the vcsim helpers (t/vcsim.sh) for scripts that do not
# source t/lib.sh: benchmarks, and t/demo.sh and t/sim.sh (bin/bootstrap). Provides T,
# bg_pid and at_exit through bench/lib-exit.sh (everything the script started is
# stopped however it ends) unless the caller already has them, then the functions of t/vcsim.sh:
# vcsim_start, vcsim_op, vcsim_stop, govmomi_events, vcsim_keys, vcsim_classes.
VP_SRCDIR=${VP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
VP_BUILDDIR=${VP_BUILDDIR:-$VP_SRCDIR}
export VP_SRCDIR VP_BUILDDIR
command -v bg_pid >/dev/null 2>&1 || . "$VP_SRCDIR/bench/lib-exit.sh"
. "$VP_SRCDIR/t/vcsim.sh"
