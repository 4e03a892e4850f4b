# t/lib.sh: shared by every t/NNNN-topic.t script. Emits TAP.
# Source it first: ". "${0%/*}/lib.sh"".
set -eu

VP_SRCDIR=${VP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
VP_BUILDDIR=${VP_BUILDDIR:-$VP_SRCDIR}
export VP_SRCDIR VP_BUILDDIR
for _vp_d in "$VP_BUILDDIR"/src/*/; do PATH="${_vp_d%/}:$PATH"; done
PATH="$VP_SRCDIR/bin:$PATH"
export PATH
# Tests may wrap every program, e.g. VP_WRAP="valgrind -q --error-exitcode=99".
VP_WRAP=${VP_WRAP:-}

T=$(mktemp -d "${TMPDIR:-/tmp}/vcpipe-t.XXXXXX")
_vp_pids=""
_vp_atexit=""
# VP_KEEP_TMP=1 keeps $T; VP_KEEP_TMP=failed keeps it only when a test failed
# or the script bailed (a loop hunting a rare failure keeps just those)
_vp_cleanup() {
	_vp_rc=$?
	for f in $_vp_atexit; do "$f" || true; done
	for p in $_vp_pids; do kill "$p" 2>/dev/null || true; done
	for p in $_vp_pids; do wait "$p" 2>/dev/null || true; done
	case ${VP_KEEP_TMP:-} in
	'') rm -rf "$T" ;;
	failed) if [ "$_vp_rc" -ne 0 ] || [ "$_vp_failed" -ne 0 ]; then
		echo "# kept $T" >&2; else rm -rf "$T"; fi ;;
	*) echo "# kept $T" >&2 ;;
	esac
}
trap _vp_cleanup EXIT
trap 'exit 130' INT TERM

_vp_n=0
_vp_failed=0
plan() { echo "1..$1"; }
ok() { _vp_n=$((_vp_n + 1)); echo "ok $_vp_n - $*"; }
not_ok() { _vp_n=$((_vp_n + 1)); _vp_failed=$((_vp_failed + 1)); echo "not ok $_vp_n - $*"; }
diag() { printf '%s\n' "$@" | sed 's/^/# /' >&2; }
# CI sets VP_NO_SKIP=1: there, a missing tool is a failure, not a skip.
skip_all() {
	if [ -n "${VP_NO_SKIP:-}" ]; then echo "1..1"; echo "not ok 1 - cannot run: $*"; exit 1; fi
	echo "1..0 # SKIP $*"; exit 0
}
bail() { echo "Bail out! $*"; exit 1; }
# Register a background process to be killed at exit.
# build_fs_shim: $T/fs.so, the LD_PRELOAD shim of t/fs-shim.c (a full or
# read-only file system under $VP_FS_DIR); a sanitizer runtime wants to
# come first, and the shim only replaces a few calls
build_fs_shim() {
	cc -shared -fPIC -o "$T/fs.so" "$VP_SRCDIR/t/fs-shim.c" -ldl ||
		bail "cannot build the file system shim"
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
	export ASAN_OPTIONS
}
bg_pid() { _vp_pids="$_vp_pids $1"; }
# Register a function to run at exit, before background processes are killed.
at_exit() { _vp_atexit="$_vp_atexit $1"; }

# check DESCRIPTION COMMAND...: ok when the command succeeds.
check() {
	desc=$1; shift
	if "$@" >"$T/.check.out" 2>&1; then ok "$desc"; else
		not_ok "$desc"; diag "command: $*"; sed 's/^/# /' "$T/.check.out" >&2; fi
}
# expect_exit DESCRIPTION CODE COMMAND...: ok when the command exits with CODE.
expect_exit() {
	desc=$1; want=$2; shift 2
	set +e; "$@" >"$T/.exit.out" 2>"$T/.exit.err"; got=$?; set -e
	if [ "$got" = "$want" ]; then ok "$desc"; else
		not_ok "$desc"; diag "wanted exit $want, got $got: $*"
		sed 's/^/# stderr: /' "$T/.exit.err" >&2; fi
}
# same DESCRIPTION EXPECTED ACTUAL: files compared with diff -u.
same() {
	if diff -u "$2" "$3" >"$T/.diff" 2>&1; then ok "$1"; else
		not_ok "$1"; sed 's/^/# /' "$T/.diff" >&2; fi
}
# is DESCRIPTION EXPECTED ACTUAL: strings compared.
is() {
	if [ "$2" = "$3" ]; then ok "$1"; else
		not_ok "$1"; diag "expected: $2" "     got: $3"; fi
}
# wait_for SECONDS COMMAND...: poll until the command succeeds.
wait_for() {
	_w_end=$(( $(date +%s) + $1 )); shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$_w_end" ] || return 1
		sleep 0.1
	done
}
done_testing() { [ "$_vp_failed" -eq 0 ]; }
# start_server NAME COMMAND...: a test server that writes its port to the
# file its --port-file option names (added here: $T/NAME.port), its stderr
# to $T/NAME.err; sets SERVER_PID and SERVER_URL (http://127.0.0.1:PORT/).
# Bails, showing that stderr, when no port came within 60 s (a loaded
# machine can take long).
start_server() {
	_s_n=$1; shift
	rm -f "$T/$_s_n.port"
	"$@" --port-file "$T/$_s_n.port" 2>>"$T/$_s_n.err" &
	SERVER_PID=$!
	bg_pid $SERVER_PID
	if ! wait_for 60 test -s "$T/$_s_n.port"; then
		sed "s/^/# $_s_n: /" "$T/$_s_n.err" >&2
		bail "$_s_n did not start"
	fi
	SERVER_URL="http://127.0.0.1:$(cat "$T/$_s_n.port")/"
}
# free_port and the vcpipe Config writer (vcfg_*), shared with bench/
. "$VP_SRCDIR/t/vcpipe-config.sh"
