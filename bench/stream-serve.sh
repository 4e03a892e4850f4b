#!/bin/sh
# bench/stream-serve.sh: stream-serve fan-out, watchers x events/s.
#
# usage: bench/stream-serve.sh [BUILDDIR]   (env: N events per run, default
#        20000; WATCHERS, default "1 10 100 500"; THREADS, default 2)
#
# For each watcher count W: start stream-serve, connect W watchers
# (?watch=true, one asyncio client process counting lines, so the clients
# cost little), then write N ~600-byte structured CloudEvents to its stdin as
# fast as the pipe takes them.  Reported: input events/s (stdin accepted),
# delivered events/s per watcher and in total (time from the first write to
# the last watcher's N-th line), and stream-serve's max RSS.
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-${VP_BUILDDIR:-$SRC}}
SS=$B/src/stream-serve/stream-serve
N=${N:-20000}
WATCHERS=${WATCHERS:-1 10 100 500}
THREADS=${THREADS:-2}
W=$(mktemp -d "${TMPDIR:-/tmp}/bench-stream-serve.XXXXXX")
T=$W
. "$SRC/bench/lib-exit.sh"	# stream-serve and watchers stopped, $W removed however the script ends
SPID=

python3 - "$N" >"$W/events" <<'PY'
import json, sys
n = int(sys.argv[1])
for k in range(1, n + 1):
    print(json.dumps({"specversion": "1.0", "id": str(k),
        "source": "https://vc.example.com/sdk",
        "type": "com.vmware.vsphere.VmPoweredOnEvent.v0",
        "time": "2026-11-23T09:00:00Z", "subject": "VmPoweredOnEvent",
        "eventkey": k, "data": {"Key": k, "ChainId": k,
        "CreatedTime": "2026-11-23T09:00:00Z", "UserName": "VSPHERE.LOCAL\\\\admin",
        "Vm": {"Name": "vm-%d" % (k % 97), "Vm": {"Type": "VirtualMachine", "Value": "vm-%d" % k}},
        "Host": {"Name": "esx-01.example.com"},
        "FullFormattedMessage": "vm-%d on esx-01.example.com in dc-1 is powered on" % k}},
        separators=(",", ":")))
PY

cat >"$W/watch.py" <<'PY'
# W watchers on one event loop; prints the time each got all N lines.
import asyncio, sys, time
port, w, n, ready = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
done = []
async def one():
    r, wr = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    wr.write(b"GET /api/v1/events?watch=true&offset=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    await wr.drain()
    while (await r.readline()) not in (b"\r\n", b""):
        pass    # response headers
    got = 0
    while got < n:    # chunked body: size line, data, CRLF
        size = int((await r.readline()).split(b";")[0], 16)
        if size == 0:
            break
        got += (await r.readexactly(size)).count(b"\n")
        await r.readexactly(2)
    done.append((time.time(), got))
    wr.close()
async def main():
    tasks = [asyncio.create_task(one()) for _ in range(w)]
    await asyncio.sleep(0.5)
    open(ready, "w").close()
    await asyncio.gather(*tasks)
    print(max(t for t, _ in done), min(g for _, g in done))
asyncio.run(main())
PY

printf '%-9s %-10s %-14s %-16s %-14s %s\n' watchers events "input ev/s" \
	"per-watcher ev/s" "total ev/s" "max RSS"
for nw in $WATCHERS; do
	rm -f "$W/in" "$W/ready"; mkfifo "$W/in"
	"$SS" --listen 127.0.0.1:0 \
		--max-events "$N" --max-connections $((nw + 16)) \
		--max-watchers "$nw" --max-connections-per-client 0 \
		--threads "$THREADS" --watch-timeout 0 <"$W/in" 2>"$W/err" &
	SPID=$!
	exec 4>"$W/in"
	i=0; until grep -q 'port [0-9]' "$W/err"; do
		sleep 0.1; i=$((i + 1)); [ $i -lt 100 ] || { cat "$W/err"; exit 1; }
	done
	port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$W/err")
	python3 "$W/watch.py" "$port" "$nw" "$N" "$W/ready" >"$W/res" &
	WPID=$!
	until [ -e "$W/ready" ]; do sleep 0.05; done
	t0=$(date +%s.%N)
	cat "$W/events" >&4
	t1=$(date +%s.%N)
	wait $WPID
	read -r tend got <"$W/res"
	rss=$(awk '/^VmHWM/ { print $2 }' /proc/$SPID/status)
	exec 4>&-
	kill -TERM $SPID; wait $SPID || true; SPID=
	[ "$got" -eq "$N" ] || echo "warning: a watcher got only $got of $N" >&2
	awk -v nw="$nw" -v n="$N" -v t0="$t0" -v t1="$t1" -v te="$tend" \
	    -v rss="$rss" 'BEGIN {
		d = te - t0; printf "%-9d %-10d %-14.0f %-16.0f %-14.0f %.1f MB\n",
		    nw, n, n / (t1 - t0), n / d, n * nw / d, rss / 1024 }'
done
