#!/usr/bin/env python3
"""bench/pss-alone.py PID...: the PSS the processes would have if they were
alone on the machine, kB: each resident page counted once, divided among
those of the given processes that map it (not among every process on the
host, as the kernel's Pss is: a busy host lowers that figure).

bench/pss-alone.py --own PID...: kB of the resident pages that only the
given processes map (each page's map count, /proc/kpagecount, equals their
own mappings of it): what one more such set of processes costs, whatever
else runs.  Given one pipeline's processes, what each further vCenter adds.

Pages come from /proc/PID/pagemap, which gives page frame numbers to root
only: prints "n/a" otherwise."""
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
            data = pm.read((hi - lo) // 4096 * 8)
            for (e,) in struct.iter_unpack("<Q", data):
                if e >> 63 & 1:                 # present in RAM
                    out.append(e & ((1 << 55) - 1))
    return out

own = sys.argv[1:2] == ["--own"]
users, per, maps = {}, {}, {}
for pid in sys.argv[1 + own:]:
    try:
        fl = frames(pid)
    except OSError:
        continue
    per[pid] = set(fl)
    for pfn in per[pid]:
        users[pfn] = users.get(pfn, 0) + 1
    for pfn in fl:
        maps[pfn] = maps.get(pfn, 0) + 1
if per and all(pfn == 0 for fr in per.values() for pfn in fr):
    print("n/a")
elif own:
    n = 0
    with open("/proc/kpagecount", "rb") as kc:
        for pfn, k in maps.items():
            if pfn:
                kc.seek(pfn * 8)
                n += struct.unpack("<Q", kc.read(8))[0] <= k
    print(n * 4)
else:
    print(round(sum(1 / users[pfn] for fr in per.values() for pfn in fr if pfn) * 4))
