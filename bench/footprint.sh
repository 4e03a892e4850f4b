#!/bin/sh
# bench/footprint.sh [BUILDDIR]: what one vCenter pipeline costs under
# bin/vcpipe while events flow: processes and memory of vcpipe's whole process
# tree (vcpipe, its process groups, every stage, vcpipe-metrics), the new
# design beside the old one (bin/vcpipe of OLD_REV, default d53d3a1: a jq
# plan eval'd by a shell, a wrapper subshell per stage), same simulator, same
# receiver, same run.
#
# The pipeline: the event router's RouterConfig, one vCenter (vcsim -history
# over HTTPS, as every vCenter is, insecureSSL: true as most RouterConfigs for
# a VMCA-signed vCenter have it) to a knative URI (a local receiver), metrics
# served.  Events are posted at
# RATE per second (default 50) for SECS seconds (default 8) per run, RUNS runs
# per design (default 3); the tree is sampled every 0.5 s: process count, and
# PSS, USS (private pages) and RSS summed over /proc/PID/smaps_rollup.  Printed per run: the most
# processes, the median and peak PSS, peak RSS; then, for the last run, PSS
# per program at its peak.  Target (issue 16): at most 8 MB PSS and 6
# processes.  PSS depends on what else shares the libraries: the machine may
# be shared, and both designs run here in turn under the same conditions.
# "PSS alone" (bench/pss-alone.py, at the end of each run; root only) is the
# same tree's PSS as if nothing else on the machine shared its pages: an
# upper bound that a busy host does not lower (on a quiet one, libc and a
# few others are still shared with the system's daemons).  After the last
# run, the new design's PSS alone by mapping (library, program, heap) and
# process, with the part of it in anonymous (written) pages.
set -eu
VP_BUILDDIR=$(cd "${1:-build}" && pwd)
VP_SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
export VP_BUILDDIR VP_SRCDIR
. "$VP_SRCDIR/bench/lib-vcsim.sh"
RATE=${RATE:-50}
SECS=${SECS:-8}
RUNS=${RUNS:-3}
OLD_REV=${OLD_REV:-d53d3a1}
for d in "$VP_BUILDDIR"/src/*/; do PATH="${d%/}:$PATH"; done
export PATH

mkdir -p "$T/old"
git -C "$VP_SRCDIR" show "$OLD_REV:bin/vcpipe" >"$T/old/vcpipe" ||
	{ echo "bench/footprint.sh: no bin/vcpipe at $OLD_REV" >&2; exit 66; }
chmod +x "$T/old/vcpipe"

vcsim_start -history -tls >/dev/null
python3 "$VP_SRCDIR/t/http-receiver/receiver.py" --log "$T/r.log" --port-file "$T/r.port" 2>/dev/null &
bg_pid $!
i=0
while [ ! -s "$T/r.port" ]; do
	i=$((i + 1)); [ $i -lt 100 ] || { echo "receiver did not start" >&2; exit 69; }
	sleep 0.1
done
mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf '%s\n%s\n' "$VC_USERNAME" "$VC_PASSWORD" >"$T/vc.cred"
cat >"$T/config.yaml" <<YAML
apiVersion: event-router.vmware.com/v1alpha1
kind: RouterConfig
metadata:
  name: bench
eventProvider:
  type: vcenter
  name: vc
  vcenter:
    address: $VCSIM_URL
    insecureSSL: true
    checkpoint: false
    auth:
      type: basic_auth
      basicAuth:
        username: $VC_USERNAME
        password: $VC_PASSWORD
eventProcessor:
  type: knative
  name: rcv
  knative:
    encoding: binary
    insecureSSL: false
    destination:
      uri:
        scheme: http
        host: 127.0.0.1:$(cat "$T/r.port")
metricsProvider:
  type: default
  name: metrics
  default:
    bindAddress: 127.0.0.1:$mport
YAML

tree() { # PID: it and every descendant, one per line
	echo "$1"
	for _c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do tree "$_c"; done
}
sample() { # PID: "PROCS PSS_KB RSS_KB USS_KB", and $T/progs with "NAME PSS RSS USS" lines
	: >"$T/progs"
	for _p in $(tree "$1"); do
		awk -v n="$(cat /proc/$_p/comm 2>/dev/null)" '/^Pss:/ {p = $2} /^Rss:/ {r = $2}
		    /^Private_(Clean|Dirty):/ {u += $2}
		    END {if (p != "") print n, p, r, u}' /proc/$_p/smaps_rollup 2>/dev/null >>"$T/progs" || :
	done
	awk '{n++; p += $2; r += $3; u += $4} END {print n + 0, p + 0, r + 0, u + 0}' "$T/progs"
}
received() { grep -c '"action": *"2' "$T/r.log" 2>/dev/null || echo 0; }

run() { # LABEL VCPIPE
	_l=$1 _v=$2
	"$_v" -config "$T/config.yaml" >/dev/null 2>"$T/vcpipe.err" &
	_vp=$!
	_before=$(received)
	i=0
	# (vc-source reads from vCenter's clock at its start: post until one arrives)
	while [ "$(received)" -le "$_before" ]; do
		i=$((i + 1))
		[ $i -lt 60 ] || { echo "$_l: no event arrived:" >&2; cat "$T/vcpipe.err" >&2; kill $_vp; exit 70; }
		vcsim_op post-burst count=5 >/dev/null
		sleep 0.5
	done
	: >"$T/samples"
	_end=$(( $(date +%s) + SECS ))
	_posted=0
	while [ "$(date +%s)" -lt "$_end" ]; do
		vcsim_op post-burst count="$RATE" >/dev/null
		_posted=$((_posted + RATE))
		sample $_vp >>"$T/samples"; cp "$T/progs" "$T/progs.$(awk 'END {print NR}' "$T/samples")"
		sleep 0.5
		sample $_vp >>"$T/samples"; cp "$T/progs" "$T/progs.$(awk 'END {print NR}' "$T/samples")"
		sleep 0.5
	done
	# shellcheck disable=SC2046
	_alone=$(python3 "$VP_SRCDIR/bench/pss-alone.py" $(tree $_vp))
	# shellcheck disable=SC2046
	[ "$_l" = old ] || python3 "$VP_SRCDIR/bench/pss-alone.py" --maps $(tree $_vp) >"$T/maps.$_l"
	kill -TERM $_vp; wait $_vp || :
	sort -n -k2 "$T/samples" | awk -v l="$_l" -v posted="$_posted" -v alone="$_alone" '
	    {n[NR] = $1; p[NR] = $2; r[NR] = $3; if ($1 > maxn) maxn = $1; if ($3 > maxr) maxr = $3; if ($4 > maxu) maxu = $4}
	    END {printf "%-10s %3d processes  PSS median %5.1f MB  peak %5.1f MB  USS peak %5.1f MB  RSS peak %5.1f MB  PSS alone %s MB  (%d samples, %d events posted)\n",
		l, maxn, p[int((NR + 1) / 2)] / 1024, p[NR] / 1024, maxu / 1024, maxr / 1024,
		alone == "n/a" ? alone : sprintf("%.1f", alone / 1024), NR, posted}'
	_peak=$(awk '{print NR, $2}' "$T/samples" | sort -n -k2 | tail -n 1 | cut -d' ' -f1)
	cp "$T/progs.$_peak" "$T/peak.$_l"
	rm -f "$T"/progs.*
}

echo "== one vCenter pipeline under bin/vcpipe, $RATE events/s, $SECS s per run (machine may be shared)"
for r in $(seq 1 "$RUNS"); do
	run new "$VP_SRCDIR/bin/vcpipe"
	run old "$T/old/vcpipe"
done
for l in new old; do
	echo "== $l design: PSS per program at the last run's peak"
	awk '{k[$1] += $2; c[$1]++} END {for (n in k) printf "  %-16s x%d %7.1f MB\n", n, c[n], k[n] / 1024}' "$T/peak.$l" | sort
done
if [ "$(cat "$T/maps.new")" != n/a ]; then
	echo "== new design: where the PSS alone is, at the end of the last run (bench/pss-alone.py --maps)"
	sed 's/^/  /' "$T/maps.new"
fi
