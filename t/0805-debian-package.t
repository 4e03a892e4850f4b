#!/bin/sh
# The Debian package: `dpkg-buildpackage -us -uc -b` on a fresh copy of the
# source builds a .deb that lintian passes without errors; installed with
# dpkg in a throwaway root (t/root.sh) it puts programs in /usr/bin, helpers
# in /usr/libexec/vcpipe, man pages, the examples and the systemd unit in
# place and creates the vcpipe user; run from the installed paths as that
# user, vcpipe reads the vCenter simulator and prints CloudEvents; the
# installed unit passes systemd-analyze verify; purge leaves nothing.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/root.sh"
for p in dpkg-buildpackage dh lintian go jq curl; do
	command -v $p >/dev/null 2>&1 || skip_all "$p not installed"
done
root_check
plan 16

S=$T/shared
source_copy "$T/src"
version=$(sed -n 's/^AC_INIT(\[vcpipe\], \[\([^]]*\)\].*/\1/p' "$VP_SRCDIR/configure.ac")
is "debian/changelog has the version configure.ac has" "$version-1" \
	"$(cd "$T/src" && dpkg-parsechangelog -S Version)"
(cd "$T/src" && DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -us -uc -b) \
	>"$T/build.log" 2>&1 || diag "$(tail -n 30 "$T/build.log")"
deb=$(ls "$T"/vcpipe_*.deb 2>/dev/null | head -n 1)
check "dpkg-buildpackage -us -uc -b builds vcpipe_$version-1_*.deb" test -f "$deb"
[ -n "$deb" ] || bail "no package"
check "the build has no compiler warnings" sh -c "! grep -E 'warning:' '$T/build.log'"
lintian --fail-on error "$T"/vcpipe_*.changes >"$T/lintian" 2>&1
is "lintian: no errors" "" "$(grep '^E:' "$T/lintian" || true)"

# what the package holds
dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|' | sort >"$T/files"
# installdirs VAR...: what Makefile.am installs in those variables, one a line
installdirs() {
	printf 'print:\n\t@echo %s\n' "$(for v; do printf '$(%s) ' "$v"; done)" |
		make -s -C "$VP_BUILDDIR" -f Makefile -f - print | tr ' ' '\n' | sed '/^$/d; s|.*/||' | sort
}
installdirs bin_PROGRAMS dist_bin_SCRIPTS | sed 's|^|/usr/bin/|' >"$T/want-bin"
installdirs pkglibexec_PROGRAMS | sed 's|^|/usr/libexec/vcpipe/|' >"$T/want-libexec"
check "Makefile.am installs programs and helpers" sh -c "grep -q vc-source '$T/want-bin' && test -s '$T/want-libexec'"
is "programs in /usr/bin" "$(cat "$T/want-bin")" "$(grep '^/usr/bin/.' "$T/files")"
is "helpers in /usr/libexec/vcpipe" "$(cat "$T/want-libexec")" "$(grep '^/usr/libexec/vcpipe/.' "$T/files")"
missing=
for p in $(cat "$T/want-bin"); do
	grep -q "^/usr/share/man/man1/${p##*/}.1.gz$" "$T/files" || missing="$missing ${p##*/}"
done
is "a man page for every program" "" "$missing"
check "the unit, the examples, the config directory" sh -c "grep -qx /lib/systemd/system/vcpipe.service '$T/files' &&
	grep -qx /usr/share/vcpipe/config.example.yaml '$T/files' &&
	grep -qx /usr/share/vcpipe/prometheus/vcpipe-alerts.yml '$T/files' &&
	grep -qx /usr/share/vcpipe/grafana/vcpipe-dashboard.json '$T/files' &&
	grep -qx /etc/vmware-event-router/ '$T/files'"

# installed in a throwaway root: the smoke test runs from the installed paths
"$VP_SRCDIR/t/build-go.sh" >"$T/build-go.log" 2>&1 || bail "cannot build the simulator: $(cat "$T/build-go.log")"
cat >"$T/smoke.sh" <<EOF
set -u
cd "$S"
dpkg -i "$deb" >dpkg-i.log 2>&1; echo \$? >dpkg-i.rc
id vcpipe >id.txt 2>&1
ls /etc/systemd/system/multi-user.target.wants/ >wants.txt 2>&1
systemd-analyze verify /lib/systemd/system/vcpipe.service >verify.txt 2>&1; echo \$? >verify.rc
"$VP_BUILDDIR/t/vcsim/vcsim" -listen 127.0.0.1:8989 -ctl 127.0.0.1:8990 >vcsim.ready 2>vcsim.log &
until grep -q '^{' vcsim.ready; do sleep 0.1; done
state=\$(mktemp -d); chown vcpipe:vcpipe "\$state"
# as the service runs it: the vcpipe user, an empty environment, installed paths
env -i PATH=/usr/bin:/bin /usr/sbin/runuser -u vcpipe -- vcpipe -config /usr/share/vcpipe/demo.yaml \
	--state-dir "\$state" >events.ndjson 2>vcpipe.err &
vp=\$!
for op in power-off power-on login; do
	sleep 1; curl -s -X POST http://127.0.0.1:8990/\$op >/dev/null
done
n=0
until [ "\$(wc -l <events.ndjson)" -ge 8 ] || [ \$n -ge 300 ]; do n=\$((n + 1)); sleep 0.1; done
curl -s http://127.0.0.1:8082/metrics >metrics.txt
# a stage vcpipe-group forks runs its own image (vcpipe(1), How stages start)
for p in \$(pgrep -u vcpipe); do echo "\$(cat /proc/\$p/comm) \$(readlink /proc/\$p/exe)"; done | sort -u >exes.txt
kill -TERM \$vp; wait \$vp 2>/dev/null; echo \$? >vcpipe.rc
dpkg --purge vcpipe >purge.log 2>&1; echo \$? >purge.rc
ls /usr/libexec/vcpipe /usr/share/vcpipe /lib/systemd/system/vcpipe.service /usr/bin/vcpipe >left.txt 2>&1
exit 0
EOF
in_root "$T/smoke.sh" >"$T/root.out" 2>&1 || diag "$(cat "$T/root.out")"
is "dpkg -i installs it" 0 "$(cat "$S/dpkg-i.rc" 2>/dev/null)"
check "the vcpipe system user exists, the service is enabled" sh -c \
	"grep -q '(vcpipe)' '$S/id.txt' && grep -qx vcpipe.service '$S/wants.txt'"
is "systemd-analyze verify on the installed unit: clean" "0 " \
	"$(cat "$S/verify.rc") $(cat "$S/verify.txt")"
check "vcpipe, run as the vcpipe user, prints the simulator's events as CloudEvents" sh -c \
	"[ \$(jq -r 'select(.specversion == \"1.0\") | .subject' '$S/events.ndjson' | wc -l) -ge 8 ] &&
	 grep -q VmPoweredOffEvent '$S/events.ndjson'"
check "its stages ran from /usr/bin and /usr/libexec/vcpipe" sh -c \
	"grep -qx 'vcpipe-metrics /usr/libexec/vcpipe/vcpipe-metrics' '$S/exes.txt' &&
	 grep -qx 'vc-source /usr/libexec/vcpipe/vcpipe-group' '$S/exes.txt' &&
	 grep -qx 'ce-encode /usr/libexec/vcpipe/vcpipe-group' '$S/exes.txt' &&
	 ! grep -v -e ' /usr/bin/' -e ' /usr/libexec/vcpipe/' -e ' /bin/' '$S/exes.txt'"
check "and served its metrics" grep -Eq '^vcpipe_events_delivered_total\{.*\} [1-9]' "$S/metrics.txt"
is "dpkg --purge removes it, leaving nothing" "0 4" \
	"$(cat "$S/purge.rc") $(grep -c 'No such file' "$S/left.txt")"
done_testing
