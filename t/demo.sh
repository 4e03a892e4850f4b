#!/bin/sh
# t/demo.sh BUILDDIR: the README's first command ends here. Starts the vCenter
# simulator on 127.0.0.1:8989, keeps it busy with everyday operations, and runs
# vcpipe with share/vcpipe/demo.yaml: CloudEvents appear on stdout as the
# operations happen, logs on stderr, metrics on http://127.0.0.1:8082/metrics.
# Ctrl-C stops everything. DEMO_SECONDS=N stops it after N seconds.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
VP_BUILDDIR=$(cd "${1:-$top/build}" && pwd)
VP_SRCDIR=$top
export VP_BUILDDIR VP_SRCDIR
for d in "$VP_BUILDDIR"/src/*/; do PATH="${d%/}:$PATH"; done
PATH="$top/bin:$PATH"
export PATH
T=$(mktemp -d "${TMPDIR:-/tmp}/vcpipe-demo.XXXXXX")
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 0' INT TERM
bg_pid() { pids="$1 $pids"; }
. "$top/t/vcsim.sh"

echo "demo: building and starting the vCenter simulator on 127.0.0.1:8989" >&2
vcsim_start -listen 127.0.0.1:8989 >/dev/null
( # everyday operations, forever
	i=0
	while :; do
		i=$((i + 1))
		for op in power-off power-on "create-vm name=demo$i" "rename-vm vm=demo$i name=demo$i-renamed" \
			"reconfigure-vm vm=demo$i-renamed" "destroy-vm vm=demo$i-renamed" login \
			"post-eventex eventTypeId=com.vmware.vc.demo.Event" host-enter-maintenance host-exit-maintenance; do
			sleep 2
			# shellcheck disable=SC2086
			vcsim_op $op >/dev/null 2>&1 || true
		done
	done
) &
bg_pid $!
echo "demo: vcpipe -config share/vcpipe/demo.yaml (Ctrl-C to stop)" >&2
vcpipe -config "$top/share/vcpipe/demo.yaml" --state-dir "$T/state" &
vp=$!
bg_pid $vp
if [ -n "${DEMO_SECONDS:-}" ]; then
	sleep "$DEMO_SECONDS"
	kill -TERM $vp
fi
wait $vp || true
