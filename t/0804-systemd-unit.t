#!/bin/sh
# The systemd unit `make install` installs (from contrib/systemd/
# vcpipe.service.in): `systemd-analyze verify` finds nothing to say, with the
# programs and man pages it names where make install put them, and
# `systemd-analyze security --offline=true` rates its hardening.  No
# systemd needs to run here; t/0805 verifies the Debian package's copy at
# its installed paths.
. "${0%/*}/lib.sh"
command -v systemd-analyze >/dev/null 2>&1 || skip_all "systemd-analyze not installed"
command -v man >/dev/null 2>&1 || skip_all "man not installed"
plan 5

# install only, no build (why: t/0004)
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -q -C "$VP_BUILDDIR" all >/dev/null 2>&1 ||
	bail "$VP_BUILDDIR is not built up to date: run make there first"
make -s -C "$VP_BUILDDIR" install DESTDIR="$T/inst" >"$T/install.log" 2>&1 ||
	bail "make install failed: $(tail -n 5 "$T/install.log")"
unit=$(find "$T/inst" -path '*/systemd/system/vcpipe.service')
check "make install installs the unit" test -f "$unit"
bindir=$(sed -n 's|^ExecStart=\([^ ]*\)/vcpipe .*|\1|p' "$unit")
check "the unit runs the installed vcpipe" test -x "$T/inst$bindir/vcpipe"
# the same unit, pointing into the DESTDIR tree
sed "s|$bindir/|$T/inst$bindir/|g" "$unit" >"$T/vcpipe.service"
manpath=$(find "$T/inst" -type d -name man | head -n 1)
rc=0
MANPATH=$manpath systemd-analyze verify "$T/vcpipe.service" >"$T/verify" 2>&1 || rc=$?
is "systemd-analyze verify: exit 0" 0 $rc
is "systemd-analyze verify: nothing to report" "" "$(cat "$T/verify")"
systemd-analyze security --offline=true "$T/vcpipe.service" >"$T/security" 2>&1 || true
exposure=$(sed -n 's/.*Overall exposure level for vcpipe.service: \([0-9.]*\).*/\1/p' "$T/security")
check "systemd-analyze security: exposure 1.5 or less (got ${exposure:-none})" \
	awk -v e="${exposure:-99}" 'BEGIN { exit !(e <= 1.5) }'
done_testing
