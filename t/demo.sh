#!/bin/sh
# t/demo.sh BUILDDIR: what `bin/bootstrap demo` runs.  Starts the vCenter
# simulator, keeps it busy with an everyday operation every 2 s, and runs
# vcpipe with share/vcpipe/demo.yaml: CloudEvents on stdout (nothing else),
# a short banner and warnings on stderr.  stream-serve gets a copy of the
# events and serves the live viewer.  Ctrl-C stops everything.
#
# Addresses (host:port): DEMO_SIM_ADDR (127.0.0.1:8989, its control API on
# the next port), DEMO_VIEWER_ADDR (127.0.0.1:8080), DEMO_METRICS_ADDR
# (127.0.0.1:8082).  DEMO_SECONDS=N stops the demo after N seconds.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
VP_BUILDDIR=$(cd "${1:-$top/build}" && pwd)
VP_SRCDIR=$top
export VP_BUILDDIR VP_SRCDIR
for d in "$VP_BUILDDIR"/src/*/; do PATH="${d%/}:$PATH"; done
PATH="$top/bin:$PATH"
export PATH
sim=${DEMO_SIM_ADDR:-127.0.0.1:8989}
ctl=${sim%:*}:$((${sim##*:} + 1))
viewer=${DEMO_VIEWER_ADDR:-127.0.0.1:8080}
metrics=${DEMO_METRICS_ADDR:-127.0.0.1:8082}

T=$(mktemp -d "${TMPDIR:-/tmp}/vcpipe-demo.XXXXXX")
# bg_pid, and at exit: what bg_pid named stopped, $T removed; t/vcsim.sh
. "$top/bench/lib-vcsim.sh"
trap 'exit 0' INT TERM	# Ctrl-C is the normal way to stop
die() { echo "demo: $*" >&2; exit 1; }

vcsim_start -listen "$sim" -ctl "$ctl" >/dev/null ||
	die "the simulator did not start (is $sim or $ctl in use? set DEMO_SIM_ADDR)"
vcsim_busy 2

# stream-serve reads a copy of the events (tee below) and serves the viewer
mkfifo "$T/copy" "$T/events"
# (<>: opening a FIFO read-write does not wait for a writer)
stream-serve --listen "$viewer" <>"$T/copy" 2>"$T/stream-serve.log" &
ss=$!
bg_pid $ss
n=0
until grep -q 'port [0-9]' "$T/stream-serve.log" 2>/dev/null; do
	kill -0 $ss 2>/dev/null && [ $n -lt 100 ] ||
		die "stream-serve could not listen on $viewer (set DEMO_VIEWER_ADDR): $(cat "$T/stream-serve.log")"
	n=$((n + 1))
	sleep 0.1
done
sed "s|127.0.0.1:8989|$sim|; s|127.0.0.1:8082|$metrics|" \
	"$top/share/vcpipe/demo.yaml" >"$T/demo.yaml"

cat >&2 <<EOF
vcpipe demo
  vCenter simulator  http://$sim/sdk  (user $VC_USERNAME, password $VC_PASSWORD)
                     every 2 s it powers a VM off or on, creates, renames, reconfigures or
                     destroys one, logs in, posts an event, or puts a host in maintenance mode
  events             one CloudEvent per line on stdout  (try: bin/bootstrap demo | jq .subject)
  live viewer        http://$viewer/
  metrics, stats     http://$metrics/metrics  http://$metrics/stats
  Ctrl-C stops it.
EOF

vcpipe -config "$T/demo.yaml" --state-dir "$T/state" -log-level warn >"$T/events" &
vp=$!
bg_pid $vp
tee "$T/copy" <"$T/events" &
tp=$!
bg_pid $tp
end=
[ -z "${DEMO_SECONDS:-}" ] || end=$(( $(date +%s) + DEMO_SECONDS ))
# until vcpipe stops, stdout is closed (tee ended) or the time is up
while kill -0 $vp 2>/dev/null && kill -0 $tp 2>/dev/null; do
	[ -z "$end" ] || [ "$(date +%s)" -lt "$end" ] || break
	sleep 0.5
done
kill -TERM $vp 2>/dev/null || true
wait $vp || true
wait $tp || true
