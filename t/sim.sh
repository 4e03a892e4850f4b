#!/bin/sh
# t/sim.sh BUILDDIR [--busy[=SECONDS]] [simulator flags...]: what
# `bin/bootstrap sim` runs (see man/vcpipe-sim.7).  Runs the vCenter simulator
# until Ctrl-C: its ready line (JSON) on stdout, a banner on stderr.  The
# SOAP API listens on 127.0.0.1:8989 and the control API on 127.0.0.1:8990
# unless -listen/-ctl say otherwise; --busy performs an everyday operation
# every SECONDS (default 2), as the demo does.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "${1:-$top/build}"
VP_BUILDDIR=$(cd "${1:-$top/build}" && pwd)
VP_SRCDIR=$top
export VP_BUILDDIR VP_SRCDIR
[ $# -eq 0 ] || shift
busy=
listen=127.0.0.1:8989
ctl=127.0.0.1:8990
n=$#
while [ $n -gt 0 ]; do # keep the simulator's flags, take ours out
	a=$1; shift; n=$((n - 1))
	case $a in
	--busy) busy=2; continue ;;
	--busy=*) busy=${a#--busy=}; continue ;;
	-listen | --listen) listen=$1; shift; n=$((n - 1)); continue ;;
	-listen=* | --listen=*) listen=${a#*=}; continue ;;
	-ctl | --ctl) ctl=$1; shift; n=$((n - 1)); continue ;;
	-ctl=* | --ctl=*) ctl=${a#*=}; continue ;;
	-h | -help | --help)
		sed -n '2,8s/^# \{0,1\}//p' "$0" >&2; exit 0 ;;
	esac
	set -- "$@" "$a"
done
case $busy in '' | *[!0-9.]* | 0) [ -z "$busy" ] || { echo "sim: --busy=$busy: not a number of seconds" >&2; exit 64; } ;; esac

T=$(mktemp -d "${TMPDIR:-/tmp}/vcpipe-sim.XXXXXX")
# bg_pid, and at exit: what bg_pid named stopped, $T removed; t/vcsim.sh
. "$top/bench/lib-vcsim.sh"
trap 'exit 0' INT TERM	# Ctrl-C is the normal way to stop

vcsim_start -listen "$listen" -ctl "$ctl" "$@" >/dev/null || {
	echo "sim: the simulator did not start (is $listen or $ctl in use? give -listen/-ctl)" >&2
	exit 1
}
printf '%s\n' "$VCSIM_READY"
[ -z "$busy" ] || vcsim_busy "$busy"
{
	echo "vCenter simulator (govmomi's), until Ctrl-C"
	echo "  SOAP API     $VCSIM_URL  (user $VC_USERNAME, password $VC_PASSWORD)"
	[ -z "$VCSIM_CAFILE" ] || echo "  CA file      $VCSIM_CAFILE"
	echo "  control API  $VCSIM_CTL  e.g. curl -s -X POST $VCSIM_CTL/power-off -d vm=DC0_H0_VM0"
	[ -z "$busy" ] || echo "  busy         an everyday operation every $busy s"
	printf '%s\n' "  try          printf '%s\\n%s\\n' '$VC_USERNAME' '$VC_PASSWORD' >vc.cred"
	echo "               vc-source --url $VCSIM_URL --credentials-file vc.cred --begin 1h | ce-encode"
} >&2
wait "$VCSIM_PID" || true
