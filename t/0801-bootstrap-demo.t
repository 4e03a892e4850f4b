#!/bin/sh
# The README's first command as a new user meets it: a fresh copy of the
# source, `bin/bootstrap demo` while another package manager holds dpkg's
# lock (as unattended-upgrades does on a new VM).  bootstrap waits for the
# lock, then installs, builds and runs the demo; its stdout is NDJSON
# CloudEvents from the first line, the build's output is in a log, the
# banner is on stderr, and the viewer and metrics it names answer.
# All of it runs in a throwaway root (t/root.sh): the machine's own dpkg
# lock is never taken, and the demo's fixed ports are private.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/root.sh"
for p in python3 jq curl go; do
	command -v $p >/dev/null 2>&1 || skip_all "$p not installed"
done
root_check
plan 12

lock_seconds=${VP_LOCK_SECONDS:-30}
S=$T/shared
# the fresh copy: what `git clone` would give, with uncommitted edits
src=$T/clone
source_copy "$src"
[ -x "$src/bin/bootstrap" ] || bail "no bin/bootstrap in the copy"

# bootstrap must find one package missing to go near apt-get: this
# dpkg-query says jq is not installed (jq is, so apt-get installs nothing)
mkdir -p "$T/fakebin"
cat >"$T/fakebin/dpkg-query" <<'EOF'
#!/bin/sh
for a; do [ "$a" != jq ] || exit 1; done
exec /usr/bin/dpkg-query "$@"
EOF
# apt-get passes through, noting when it started
cat >"$T/fakebin/apt-get" <<EOF
#!/bin/sh
date +%s.%N >>"$S/apt-get.started"
exec /usr/bin/apt-get "\$@"
EOF
chmod +x "$T/fakebin/dpkg-query" "$T/fakebin/apt-get"

cat >"$T/scenario.sh" <<EOF
set -u
cd "$S"
# another package manager: holds the lock as apt and dpkg do (fcntl),
# until bootstrap has been waiting for it for $lock_seconds s (or 10 minutes)
python3 -c '
import fcntl, os, sys, time
f = open("/var/lib/dpkg/lock-frontend", "w")
fcntl.lockf(f, fcntl.LOCK_EX)
open("locked", "w").close()
end = time.time() + 600
while time.time() < end:
    if os.path.exists("demo.err") and b"waiting for another" in open("demo.err", "rb").read():
        end = min(end, time.time() + float(sys.argv[1]))
    time.sleep(0.2)
t = time.time()
fcntl.lockf(f, fcntl.LOCK_UN)
open("released", "w").write("%f\n" % t)
' $lock_seconds &
holder=\$!
while [ ! -e locked ]; do sleep 0.1; done
echo \$holder >holder.pid
PATH=$T/fakebin:\$PATH GOCACHE=$VP_BUILDDIR/t/.gocache DEMO_SECONDS=25 \
	"$src/bin/bootstrap" demo >demo.out 2>demo.err &
demo=\$!
# while the demo runs: the viewer and the metrics it announced
n=0
until [ "\$(curl -s http://127.0.0.1:8080/api/v1/range | jq -r '.latest // 0' 2>/dev/null)" -gt 0 ] 2>/dev/null; do
	n=\$((n + 1)); [ \$n -lt 9000 ] || break
	kill -0 \$demo 2>/dev/null || break
	sleep 0.1
done
sleep 4
curl -s http://127.0.0.1:8080/api/v1/range >viewer.range
curl -s http://127.0.0.1:8080/ >viewer.html
curl -s http://127.0.0.1:8082/metrics >metrics.txt
wait \$demo
echo \$? >demo.rc
wait \$holder
cp "$src/build/bootstrap.log" build.log 2>/dev/null
EOF

in_root "$T/scenario.sh" >"$T/root.out" 2>&1 || diag "$(cat "$T/root.out")"
is "bootstrap demo exits 0" 0 "$(cat "$S/demo.rc" 2>/dev/null)"
check "it said what it waited for" grep -q "waiting for another package manager to finish: pid $(cat "$S/holder.pid") (python3)" "$S/demo.err"
check "apt-get ran only once the lock was free" sh -c \
	"test -s '$S/apt-get.started' && awk -v r=\$(cat '$S/released') '\$1 < r { exit 1 }' '$S/apt-get.started'"
lines=$(wc -l <"$S/demo.out")
check "events on stdout" test "$lines" -gt 5
is "stdout: a CloudEvent on every line, from the first" "$lines" \
	"$(jq -R -c 'fromjson | select(.specversion == "1.0" and (.subject | type) == "string") | .id' "$S/demo.out" | wc -l)"
check "the simulator's operations arrive as events" sh -c \
	"jq -r .subject '$S/demo.out' | grep -qx -e VmPoweredOffEvent -e VmPoweredOnEvent -e VmCreatedEvent"
check "no build output on stdout or stderr" sh -c "! grep -q -e '^ *CC' -e '^make' -e 'Entering directory' '$S/demo.out' '$S/demo.err'"
check "the build log holds the build, without warnings" sh -c \
	"grep -q 'CCLD.*ce-encode' '$S/build.log' && ! grep -i -e warning -e '^ar:' '$S/build.log'"
check "the banner names the simulator, viewer, metrics and stats" sh -c \
	"grep -q 'http://127.0.0.1:8989/sdk' '$S/demo.err' && grep -q 'every 2 s' '$S/demo.err' &&
	 grep -q 'live viewer *http://127.0.0.1:8080/' '$S/demo.err' &&
	 grep -q 'http://127.0.0.1:8082/metrics *http://127.0.0.1:8082/stats' '$S/demo.err'"
check "the viewer was live with the demo's events" sh -c \
	"jq -e '.latest > 0' '$S/viewer.range' && grep -q '<title>' '$S/viewer.html'"
check "metrics count what was printed as delivered" sh -c \
	"grep -Eq '^vcpipe_events_delivered_total\\{.*sink_type=\"stdout\"\\} [1-9]' '$S/metrics.txt'"
check "stderr: the banner and no errors" sh -c "! grep -Eiq 'error|failed|usage' '$S/demo.err'"
done_testing
