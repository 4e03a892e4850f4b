#!/bin/sh
# bench/sink-eventbridge.sh: events/s from sink-eventbridge to the local fake
# EventBridge (t/fake-eventbridge, every request's SigV4 signature checked
# with botocore), with batching on (10 entries) one request at a time and
# with --inflight (INFLIGHT requests at once, default 8), and batching off
# (1 entry), in one run.
#
# usage: bench/sink-eventbridge.sh [EVENTS] [BUILDDIR] [MODE...]
#        (MODE: batched, inflight, unbatched; default all three)
# env: INFLIGHT (8); LATENCY_MS (0): the fake answers each PutEvents that
#      much later, as a region's round trip would (EventBridge's own
#      latency is tens of ms from outside the region)
# The fake is Python and verifies each signature, so the figures measure the
# pipeline against that server, not EventBridge's own limits.
set -eu
N=${1:-5000}
B=${2:-${VP_BUILDDIR:-.}}
SRC=$(cd "$(dirname "$0")/.." && pwd)
SE=$B/src/sink-eventbridge/sink-eventbridge
[ -x "$SE" ] || { echo "no $SE (give the build directory)" >&2; exit 66; }
T=$(mktemp -d)
. "$SRC/bench/lib-exit.sh"	# the fake stopped, $T removed however the script ends

INFLIGHT=${INFLIGHT:-8}
LATENCY_MS=${LATENCY_MS:-0}
shift $(($# < 2 ? $# : 2))
MODES=${*:-batched inflight unbatched}
cat >"$T/cfg.json" <<EOC
{"region": "us-east-1", "buses": ["default"], "latency_ms": $LATENCY_MS,
 "credentials": [{"akid": "AKIDBENCH", "secret": "bench/secret"}]}
EOC
python3 "$SRC/t/fake-eventbridge/fake-eventbridge.py" --config "$T/cfg.json" \
    --requests "$T/req" --port-file "$T/port" &
fp=$!
i=0; while [ ! -s "$T/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
URL="http://127.0.0.1:$(cat "$T/port")/"

# N structured CloudEvents shaped like ce-encode's (about 900 bytes each)
python3 - "$N" >"$T/in.ndjson" <<'EOP'
import json, sys
for k in range(int(sys.argv[1])):
    print(json.dumps({"specversion": "1.0", "id": str(k), "source": "https://vc.example.com/sdk",
        "type": "com.vmware.event.router/event", "subject": "VmPoweredOnEvent",
        "time": "2026-11-23T09:00:00.%06dZ" % (k % 1000000), "datacontenttype": "application/json",
        "eventkey": k, "data": {"Key": k, "ChainId": k, "CreatedTime": "2026-11-23T09:00:00Z",
        "UserName": "VSPHERE.LOCAL\\\\Administrator", "Vm": {"Name": "web-%d" % (k % 50),
        "Vm": {"Type": "VirtualMachine", "Value": "vm-%d" % k}},
        "Host": {"Name": "esx-01.example.com", "Host": {"Type": "HostSystem", "Value": "host-1"}},
        "FullFormattedMessage": "web-%d on esx-01.example.com in dc-1 is powered on" % (k % 50)}},
        separators=(",", ":")))
EOP

now() { date +%s.%N; }
run() {
	: >"$T/req"
	t0=$(now)
	AWS_ACCESS_KEY_ID=AKIDBENCH AWS_SECRET_ACCESS_KEY=bench/secret \
	    /usr/bin/time -o "$T/cpu" -f "%U %S %M" \
	    "$SE" --region us-east-1 --endpoint-url "$URL" --log-level warn \
	    --checkpoint "$T/ck" "$@" <"$T/in.ndjson"
	t1=$(now)
	reqs=$(wc -l <"$T/req")
	bad=$(grep -c '"signed": false' "$T/req" || true)
	echo "$t0 $t1 $reqs $bad $(cat "$T/cpu")"
}
echo "fake latency: $LATENCY_MS ms per PutEvents; load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-40s %8s %9s %8s %9s %9s %8s\n' mode events requests seconds events/s sink-cpu-s max-rss-kB
for name in $MODES; do
	case $name in
	batched) args="--batch-size 10" ;;
	inflight) args="--batch-size 10 --inflight $INFLIGHT" ;;
	unbatched) args="--batch-size 1" ;;
	*) echo "unknown mode $name" >&2; exit 64 ;;
	esac
	set -- $(run $args)
	awk -v n="$N" -v t0="$1" -v t1="$2" -v r="$3" -v m="$name ($args)" -v bad="$4" \
	    -v cpu="$5" -v sys="$6" -v rss="$7" \
	    'BEGIN { s = t1 - t0; printf "%-40s %8d %9d %8.2f %9.0f %9.2f %8d%s\n", m, n, r, s, n / s, cpu + sys, rss,
	        (bad > 0) ? "  (" bad " bad signatures!)" : "" }'
done
