#!/bin/sh
# Build t/vim-xml2json (govmomi's own XML decoding + json.Marshal of events,
# the reference the mapper tests compare with) and t/gen-random-events into
# $VP_BUILDDIR/t/<name>/<name>, with Debian's golang-go and
# govmomi source package in GOPATH mode. Idempotent: a binary newer than its
# sources is left alone.
set -eu

VP_SRCDIR=${VP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
VP_BUILDDIR=${VP_BUILDDIR:-$VP_SRCDIR}

if ! command -v go >/dev/null 2>&1; then
	echo "build-vim-xml2json.sh: go not found (apt-get install golang-go golang-github-vmware-govmomi-dev)" >&2
	exit 1
fi
if [ ! -d /usr/share/gocode/src/github.com/vmware/govmomi ]; then
	echo "build-vim-xml2json.sh: govmomi source missing (apt-get install golang-github-vmware-govmomi-dev)" >&2
	exit 1
fi
export GO111MODULE=off GOPATH=/usr/share/gocode
unset GOFLAGS
export GOCACHE="${GOCACHE:-$VP_BUILDDIR/t/.gocache}"
export HOME="${HOME:-$VP_BUILDDIR/t}"
mkdir -p "$GOCACHE"

# Tests run in parallel: one build at a time.
exec 9>"$VP_BUILDDIR/t/.build-vim-xml2json.lock"
flock 9

for prog in vim-xml2json gen-random-events; do
	src="$VP_SRCDIR/t/$prog"
	out="$VP_BUILDDIR/t/$prog/$prog"
	if [ -x "$out" ] && [ -z "$(find "$src" -name '*.go' -newer "$out" | head -n 1)" ]; then
		continue
	fi
	mkdir -p "$VP_BUILDDIR/t/$prog"
	(cd "$src" && go build -o "$out.tmp" .) || { rm -f "$out.tmp"; exit 1; }
	mv -f "$out.tmp" "$out"
done
