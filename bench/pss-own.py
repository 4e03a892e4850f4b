#!/usr/bin/env python3
"""bench/pss-own.py PID...: kB of the resident pages that only the given
processes map (each page's map count, /proc/kpagecount, equals their own
mappings of it): what one more such set of processes costs the machine,
whatever else runs (libraries shared with anything else are not in it).
Given one pipeline's processes, the memory each further vCenter adds.
Root only (page frame numbers): prints "n/a" otherwise."""
import struct, sys

def frames(pid):
    out = []
    with open("/proc/%s/maps" % pid) as m, open("/proc/%s/pagemap" % pid, "rb") as pm:
        for line in m:
            f = line.split()
            if len(f) > 5 and f[5] in ("[vsyscall]", "[vvar]", "[vvar_vclock]"):
                continue
            lo, hi = (int(x, 16) for x in f[0].split("-"))
            pm.seek(lo // 4096 * 8)
            for (e,) in struct.iter_unpack("<Q", pm.read((hi - lo) // 4096 * 8)):
                if e >> 63 & 1:                 # present in RAM
                    out.append(e & ((1 << 55) - 1))
    return out

maps = {}
for pid in sys.argv[1:]:
    try:
        for pfn in frames(pid):
            maps[pfn] = maps.get(pfn, 0) + 1
    except OSError:
        continue
maps.pop(0, None)                               # no frame numbers: not root
try:
    own = 0
    with open("/proc/kpagecount", "rb") as kc:
        for pfn, n in maps.items():
            kc.seek(pfn * 8)
            (c,) = struct.unpack("<Q", kc.read(8))
            own += c <= n
    print(own * 4 if maps else "n/a")
except OSError:
    print("n/a")
