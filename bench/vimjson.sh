#!/bin/sh
# Throughput of vc-source's event mapper (parse + XML -> JSON) against
# govmomi's own reader (vim25/xml decode + json.Marshal) on one large
# ReadNextEvents response: N events drawn round-robin from the fixtures in
# t/data/events (all the classes there, incl. VmReconfiguredEvent, TaskEvent,
# EventEx). Usage: bench/vimjson.sh [events] [repeats]; VP_BUILDDIR as for tests.
set -eu
VP_SRCDIR=${VP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
VP_BUILDDIR=${VP_BUILDDIR:-$VP_SRCDIR}
export VP_SRCDIR VP_BUILDDIR
n=${1:-1000}
repeat=${2:-50}
tmp=$(mktemp -d)
T=$tmp
. "$VP_SRCDIR/bench/lib-exit.sh"	# $tmp removed however the script ends
sh "$VP_SRCDIR/t/build-vim-xml2json.sh"

# One response holding n returnval elements, cut out of the fixtures.
for f in "$VP_SRCDIR"/t/data/events/*.xml; do
	case $f in */edge-*|*/unknown-*|*/latestPage-*|*/TaskEvent-encoder-*) continue ;; esac
	sed -n 's/.*\(<returnval .*<\/returnval>\).*/\1/p' "$f"
done >"$tmp/pool"
awk -v n="$n" '{ a[NR] = $0 } END {
	print "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
	print "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Body><ReadNextEventsResponse xmlns=\"urn:vim25\">"
	for (i = 0; i < n; i++) print a[i % NR + 1]
	print "</ReadNextEventsResponse></soapenv:Body></soapenv:Envelope>" }' "$tmp/pool" >"$tmp/big.xml"
echo "response: $n events, $(wc -c <"$tmp/big.xml") bytes, $(wc -l <"$tmp/pool") classes"
"$VP_BUILDDIR/src/vc-source/vimjson-tool" --repeat "$repeat" <"$tmp/big.xml" >"$tmp/c.json"
"$VP_BUILDDIR/t/vim-xml2json/vim-xml2json" -repeat "$repeat" <"$tmp/big.xml" >"$tmp/go.json"
if cmp -s "$tmp/c.json" "$tmp/go.json"; then echo "outputs identical ($(wc -c <"$tmp/c.json") bytes of JSON)"
else echo "OUTPUTS DIFFER"; exit 1; fi
