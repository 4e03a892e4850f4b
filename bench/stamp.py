#!/usr/bin/env python3
"""Latency stamper: for each NDJSON line on stdin (vc-source or govmomi-events
output), the delay from the event's createdTime to the line's arrival here.
Prints one delay in milliseconds per line. Same machine, same clock."""
import datetime, json, sys, time

def created(o):
    t = o.get("createdTime") or o["data"]["CreatedTime"]
    whole, _, frac = t.rstrip("Z").partition(".")
    sec = datetime.datetime.fromisoformat(whole).replace(tzinfo=datetime.timezone.utc).timestamp()
    return int(sec) * 10**9 + int((frac + "000000000")[:9])

for line in sys.stdin:
    now = time.time_ns()
    o = json.loads(line)
    if "recvNs" in o:
        now = o["recvNs"]
    print("%.3f" % ((now - created(o)) / 1e6), flush=True)
