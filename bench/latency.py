#!/usr/bin/env python3
"""bench/latency.py LOG [--keys FIRST-LAST] [--sources N]: end-to-end latency
from bench/stamp-receiver's log (arrival time, source, CreatedTime, Key, one
request a line), beside the event router's design figure for the same events.

Prints two lines:
  vcpipe  n=N p50 ... p99 ... max ... ms   (arrival at the receiver minus the
          simulator's CreatedTime, same clock)
  router  n=N p50 ... p99 ... max ... ms   (computed: its published loop,
          vmware-event-router internal/provider/vcenter/vcenter.go, run over
          the same events' creation times, one loop per vCenter)

The router's loop: a 1 s ticker; each tick one ReadNextEvents(100); an
empty read sleeps a backoff of 1, 2, 4, 5, 5... s (jpillora/backoff Min 1 s,
Factor 2, Max 5 s, no jitter; reset by a non-empty read), after which the
tick that came during the sleep fires at once. Events count as delivered
when read (delivery time left out: the figure is the design's best case),
so at most 100 events/s per vCenter. Each loop starts 60 s before its first
event (so it is in its idle backoff, as a router waiting for events is) at
a random phase of the ticker (seeded: the same every run).

--keys keeps the events whose Key is in FIRST..LAST; --sources N warns when
fewer sources were seen (a pipeline delivered nothing)."""
import random, sys

def created_us(t):
    whole, _, frac = t.rstrip("Z").partition(".")
    import calendar, time
    sec = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
    return sec * 1000000 + int((frac + "000000")[:6])

def pct(v, p):
    if not v:
        return float("nan")
    v = sorted(v)
    i = max(0, min(len(v) - 1, int(-(-p * len(v) // 100)) - 1))
    return v[i]

def line(label, lat_us):
    ms = [x / 1000.0 for x in lat_us]
    return "%-7s n=%-7d p50 %9.1f ms  p99 %9.1f ms  max %9.1f ms" % (
        label, len(ms), pct(ms, 50), pct(ms, 99), max(ms) if ms else float("nan"))

def router(created, rng):
    """Latencies of the router's loop over sorted creation times (us)."""
    lat, i, n = [], 0, len(created)
    t0 = created[0] - 60 * 1000000 - int(rng.random() * 1000000)
    t, attempt = t0, 0
    while i < n:
        j = i
        while j < n and j - i < 100 and created[j] <= t:
            j += 1
        if j == i:
            t += min(1000000 << attempt, 5000000)
            attempt += 1
            continue
        lat.extend(t - c for c in created[i:j])
        i, attempt = j, 0
        t = t0 + ((t - t0) // 1000000 + 1) * 1000000
    return lat

def main():
    args = sys.argv[1:]
    keys = None
    nsrc = 0
    if "--keys" in args:
        a, b = args[args.index("--keys") + 1].split("-")
        keys = (int(a), int(b))
    if "--sources" in args:
        nsrc = int(args[args.index("--sources") + 1])
    by_src, lat = {}, []
    with open(args[0]) as f:
        for l in f:
            p = l.rstrip("\n").split("\t")
            if len(p) != 4 or p[2] == "-":
                continue
            try:
                k = int(p[3])
            except ValueError:
                k = None
            if keys and (k is None or not keys[0] <= k <= keys[1]):
                continue
            c = created_us(p[2])
            lat.append(int(p[0]) - c)
            by_src.setdefault(p[1], []).append(c)
    rng = random.Random(1)
    rl = []
    for s in sorted(by_src):
        rl.extend(router(sorted(by_src[s]), rng))
    print(line("vcpipe", lat))
    print(line("router", rl))
    if nsrc and len(by_src) < nsrc:
        print("warning: events from %d sources, %d expected" % (len(by_src), nsrc))

main()
