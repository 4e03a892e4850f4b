#!/bin/sh
# bench/rss.sh BUILDDIR [OTHER-BUILDDIR]: what each program costs in memory
# before it does any work (max RSS of --version: the shared libraries it
# loads), how many shared libraries that is, and the max RSS of the two
# stages every pipeline runs twice or more, vcpipe-tap and ce-encode, over
# N CloudEvent lines (default 20000).  With a second build directory (an
# older build, say), both are printed side by side.
# Max RSS from /usr/bin/time -v; the machine may be shared: RSS does not
# depend on load, timings are not printed.
set -eu
N=${N:-20000}
[ $# -ge 1 ] || { echo "usage: bench/rss.sh BUILDDIR [OTHER-BUILDDIR]" >&2; exit 64; }
command -v /usr/bin/time >/dev/null || { echo "bench/rss.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 69; }
T=$(mktemp -d "${TMPDIR:-/tmp}/vcpipe-rss.XXXXXX")
src=$(cd "$(dirname "$0")/.." && pwd)
. "$src/bench/lib-exit.sh"	# $T removed however the script ends

line=$(head -1 "$src/t/expected/ce-encode-structured-router.ndjson")
raw=$(head -1 "$src/t/data/ce-encode-raw.ndjson")
i=0; : >"$T/ce"; : >"$T/raw"
while [ $i -lt 100 ]; do printf '%s\n' "$line" >>"$T/ce"; printf '%s\n' "$raw" >>"$T/raw"; i=$((i + 1)); done
for f in ce raw; do
	i=100; cp "$T/$f" "$T/$f.1"
	while [ $i -lt "$N" ]; do cat "$T/$f.1" >>"$T/$f"; i=$((i + 100)); done
done

find_prog() { # BUILDDIR PROG: the program in either source layout
	for d in "$1"/src/*/; do [ -x "$d$2" ] && { echo "$d$2"; return; }; done
	echo ""
}
maxrss() { # COMMAND...: max RSS in kB
	/usr/bin/time -f '%M' -o "$T/time" "$@" >/dev/null 2>"$T/err" </dev/null || true
	tail -1 "$T/time"
}
maxrss_in() { # FILE COMMAND...
	f=$1; shift
	/usr/bin/time -f '%M' -o "$T/time" "$@" <"$f" >/dev/null 2>"$T/err" || true
	tail -1 "$T/time"
}
column() { # BUILDDIR PROG: "RSS kB / shared libraries"
	p=$(find_prog "$1" "$2")
	[ -n "$p" ] || { echo "-"; return; }
	echo "$(maxrss "$p" --version) kB, $(ldd "$p" | grep -c '=>') libs"
}

printf '%-18s %-26s %s\n' program "--version: $1" "${2:+--version: $2}"
for p in vc-source ce-encode sink-http sink-eventbridge horizon-source webhook-source \
    stream-serve vcpipe-yaml vcpipe-metrics vcpipe-tap; do
	printf '%-18s %-26s %s\n' "$p" "$(column "$1" $p)" "${2:+$(column "$2" $p)}"
done
echo
for b in "$@"; do
	tap=$(find_prog "$b" vcpipe-tap); ce=$(find_prog "$b" ce-encode)
	echo "$b: $N lines: vcpipe-tap max RSS $(maxrss_in "$T/ce" "$tap" --stats "$T/s.json") kB," \
		"ce-encode max RSS $(maxrss_in "$T/raw" "$ce") kB"
	rm -f "$T/s.json"
done
