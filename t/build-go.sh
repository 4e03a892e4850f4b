#!/bin/sh
# Build the Go test peers (t/vcsim, t/govmomi-events) with Debian's golang-go
# and govmomi source package, in GOPATH mode (no module downloads).
# Idempotent: a binary newer than all its sources is left alone.
set -eu

VP_SRCDIR=${VP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
VP_BUILDDIR=${VP_BUILDDIR:-$VP_SRCDIR}

if ! command -v go >/dev/null 2>&1; then
	echo "build-go.sh: go not found (apt-get install golang-go golang-github-vmware-govmomi-dev)" >&2
	exit 1
fi
if [ ! -d /usr/share/gocode/src/github.com/vmware/govmomi ]; then
	echo "build-go.sh: govmomi source missing (apt-get install golang-github-vmware-govmomi-dev)" >&2
	exit 1
fi

export GO111MODULE=off GOPATH=/usr/share/gocode
unset GOFLAGS GOROOT
export GOCACHE="${GOCACHE:-$VP_BUILDDIR/t/.gocache}"
# Go wants a HOME for its config; CI may have none.
export HOME="${HOME:-$VP_BUILDDIR/t}"
mkdir -p "$GOCACHE"

# Serialise concurrent builds (tests run in parallel) on one lock file.
lock="$VP_BUILDDIR/t/.build-go.lock"
mkdir -p "$VP_BUILDDIR/t"
exec 9>"$lock"
flock 9

for prog in vcsim govmomi-events expvar-router; do
	src="$VP_SRCDIR/t/$prog"
	out="$VP_BUILDDIR/t/$prog/$prog"
	if [ -x "$out" ] && [ -z "$(find "$src" -name '*.go' -newer "$out" | head -n 1)" ]; then
		continue
	fi
	mkdir -p "$VP_BUILDDIR/t/$prog"
	# Build from the source directory: GOPATH mode resolves imports from
	# /usr/share/gocode and treats this directory as a local package.
	(cd "$src" && go build -o "$out.tmp" .) || { rm -f "$out.tmp"; exit 1; }
	mv -f "$out.tmp" "$out"
done
