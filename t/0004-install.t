#!/bin/sh
# "make install" layout: the programs people run in bindir, the helpers only
# bin/vcpipe runs (vcpipe-yaml, vcpipe-tap, vcpipe-metrics) in pkglibexecdir,
# and the installed bin/vcpipe finds them there with no build tree on PATH.
. "${0%/*}/lib.sh"
command -v make >/dev/null 2>&1 || skip_all "make not installed"
command -v jq >/dev/null 2>&1 || skip_all "jq not installed"
[ -f "$VP_BUILDDIR/Makefile" ] || skip_all "no Makefile in $VP_BUILDDIR"
plan 6

I=$T/inst
# install only, no build: a make of ours would race the developer's (or
# t/0804's) in the same tree, and racing makes leave objects and archives
# that later makes take as current (a crashing binary a clean build fixes)
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -q -C "$VP_BUILDDIR" all >/dev/null 2>&1 ||
	bail "$VP_BUILDDIR is not built up to date: run make there first"
# a make of its own: not the jobserver of a "make check" that runs this test
if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$VP_BUILDDIR" install \
    prefix="$I" >"$T/install.out" 2>&1; then ok "make install prefix=DIR"; else
	not_ok "make install prefix=DIR"; sed 's/^/# /' "$T/install.out" >&2; fi
ls "$I/bin" | sort | tr '\n' ' ' >"$T/bin"
is "bindir: the programs and vcpipe" "amqp-source ce-encode horizon-source sink-amqp sink-eventbridge sink-http stream-serve vc-source vcpipe webhook-source " "$(cat "$T/bin")"
is "pkglibexecdir: the helpers" "vcpipe-group vcpipe-group-lite vcpipe-metrics vcpipe-tap vcpipe-yaml " "$(ls "$I/libexec/vcpipe" | sort | tr '\n' ' ')"
is "the installed vcpipe names its helper directory" "helper_dir='$I/libexec/vcpipe'" "$(grep '^helper_dir=' "$I/bin/vcpipe")"
# PATH: the installed bindir and the system, no build tree
jqdir=$(dirname "$(command -v jq)")
expect_exit "installed vcpipe --check finds vcpipe-yaml" 0 \
	env PATH="$I/bin:$jqdir:/usr/bin:/bin" vcpipe -config "$VP_SRCDIR/t/data/vcpipe-router-aws.yaml" --check
env PATH="$I/bin:$jqdir:/usr/bin:/bin" vcpipe -config "$VP_SRCDIR/t/data/vcpipe-router-aws.yaml" \
	--dry-run >"$T/plan" 2>&1 || true
check "installed vcpipe plans the taps and the metrics server" \
	sh -c "grep -q 'vcpipe-tap --stats' '$T/plan' && grep -q '^vcpipe-metrics --listen' '$T/plan'"
done_testing
