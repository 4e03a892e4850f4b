#!/usr/bin/env python3
"""bench/pss-alone.py PID...: the PSS the processes would have if they were
alone on the machine, kB: each resident page counted once, divided among
those of the given processes that map it (not among every process on the
host, as the kernel's Pss is: a busy host lowers that figure).

bench/pss-alone.py --own PID...: kB of the resident pages that only the
given processes map (each page's map count, /proc/kpagecount, equals their
own mappings of it): what one more such set of processes costs, whatever
else runs.  Given one pipeline's processes, what each further vCenter adds.

bench/pss-alone.py --maps PID...: where that PSS alone is: one line per
mapping (a library, the program, [heap], [anon], [stack]) of 32 kB or
more, the biggest first: its PSS alone, the part of it in anonymous pages (what
the processes wrote: heap, stacks, the copies of library data they
relocated or changed; a parent's such pages are shared with the children it
forked), and its PSS alone by process.  The rest are file pages the
processes read (code, tables), shared with anything else on the machine
that maps the same file.

Pages come from /proc/PID/pagemap, which gives page frame numbers to root
only: prints "n/a" otherwise."""
import collections, os, struct, sys

def frames(pid):
    """(mapping name, page frame number, anonymous?) of each resident page"""
    out = []
    with open("/proc/%s/maps" % pid) as m, open("/proc/%s/pagemap" % pid, "rb") as pm:
        for line in m:
            f = line.split()
            name = os.path.basename(f[5]) if len(f) > 5 else "[anon]"
            if name in ("[vsyscall]", "[vvar]", "[vvar_vclock]"):
                continue
            lo, hi = (int(x, 16) for x in f[0].split("-"))
            pm.seek(lo // 4096 * 8)
            data = pm.read((hi - lo) // 4096 * 8)
            for (e,) in struct.iter_unpack("<Q", data):
                if e >> 63 & 1:                 # present in RAM
                    # (bit 61: a file page or shared memory)
                    out.append((name, e & ((1 << 55) - 1), not e >> 61 & 1))
    return out

args = sys.argv[1:]
mode = args.pop(0) if args[:1] in (["--own"], ["--maps"]) else None
users, per, maps = {}, {}, {}
for pid in args:
    try:
        per[pid] = frames(pid)
    except OSError:
        continue
    for pfn in set(p for _, p, _ in per[pid]):
        users[pfn] = users.get(pfn, 0) + 1
    for _, pfn, _ in per[pid]:
        maps[pfn] = maps.get(pfn, 0) + 1
if per and all(pfn == 0 for fr in per.values() for _, pfn, _ in fr):
    print("n/a")
elif mode == "--own":
    n = 0
    with open("/proc/kpagecount", "rb") as kc:
        for pfn, k in maps.items():
            if pfn:
                kc.seek(pfn * 8)
                n += struct.unpack("<Q", kc.read(8))[0] <= k
    print(n * 4)
elif mode == "--maps":
    alone = collections.defaultdict(collections.Counter)   # mapping -> comm -> kB
    anon = collections.Counter()
    for pid, fr in per.items():
        try:
            with open("/proc/%s/comm" % pid) as c:
                comm = c.read().strip()
        except OSError:
            continue
        for name, pfn, a in fr:
            if pfn:
                alone[name][comm] += 4 / users[pfn]
                anon[name] += a * 4 / users[pfn]
    rows = sorted(alone.items(), key=lambda r: -sum(r[1].values()))
    print("%-28s %7s %6s  %s" % ("mapping (kB)", "alone", "anon", "alone by process"))
    for name, r in rows:
        if sum(r.values()) < 32:
            break
        print("%-28s %7.0f %6.0f  %s" % (name[:28], sum(r.values()), anon[name],
              " ".join("%s %.0f" % kv for kv in r.most_common() if kv[1] >= 4)))
    print("%-28s %7.0f %6.0f" % ("(all %d mappings)" % len(rows),
          sum(sum(r.values()) for r in alone.values()), sum(anon.values())))
else:
    print(round(sum(1 / users[pfn] for fr in per.values() for _, pfn, _ in fr if pfn) * 4))
