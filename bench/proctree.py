#!/usr/bin/env python3
"""bench/proctree.py PID: one line about PID and every process below it:

    PROCS PSS_KB TICKS NAMES SELF MEM NS

PROCS the number of processes, PSS_KB the sum of Pss over their
/proc/PID/smaps_rollup, TICKS the CPU they used (utime+stime of each, plus
cutime+cstime: what their reaped children used, so short-lived children
count too; the difference of two readings is the tree's CPU between them;
clock ticks, getconf CLK_TCK a second), NAMES the count of each program
("sh:6,vc-source:1,..."), SELF the CPU each program's processes used
themselves (utime+stime, ticks: "sh=12,vc-source=40,..."), MEM each program's
Pss and USS (Private_Clean + Private_Dirty: what its processes alone hold)
summed over its processes, kB ("vc-source=7075/5112,..."), NS each program's
time on a CPU in ns and its wake-ups, summed over its processes' threads
(/proc/PID/task/TID/schedstat; voluntary + involuntary context switches,
each a sleep ended): "vc-source=123456/7,..." (an idle process's
microseconds show, where clock ticks would not; a process that ended between
two readings drops out of the second).
"""
import os, sys

def stat(pid):
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    comm = s[s.index("(") + 1:s.rindex(")")]
    rest = s[s.rindex(")") + 2:].split()
    # rest[0] is field 3 (state): ppid field 4, utime..cstime fields 14-17
    return (comm, int(rest[1]), sum(int(x) for x in rest[11:15]),
            int(rest[11]) + int(rest[12]))

root = int(sys.argv[1])
procs = {}
for d in os.listdir("/proc"):
    if d.isdigit():
        try:
            procs[int(d)] = stat(int(d))
        except (OSError, ValueError):
            pass
kids = {}
for pid, (_, ppid, _, _) in procs.items():
    kids.setdefault(ppid, []).append(pid)
tree, todo = [], [root] if root in procs else []
while todo:
    p = todo.pop()
    tree.append(p)
    todo.extend(kids.get(p, []))
pss = ticks = 0
names, own, mem, ns = {}, {}, {}, {}
for p in tree:
    c = ns.setdefault(procs[p][0], [0, 0])
    try:
        for t in os.listdir("/proc/%d/task" % p):
            with open("/proc/%d/task/%s/schedstat" % (p, t)) as f:
                c[0] += int(f.read().split()[0])
            with open("/proc/%d/task/%s/status" % (p, t)) as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches",
                                        "nonvoluntary_ctxt_switches")):
                        c[1] += int(line.split()[1])
    except OSError:
        pass
    ticks += procs[p][2]
    names[procs[p][0]] = names.get(procs[p][0], 0) + 1
    own[procs[p][0]] = own.get(procs[p][0], 0) + procs[p][3]
    m = mem.setdefault(procs[p][0], [0, 0])
    try:
        with open("/proc/%d/smaps_rollup" % p) as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
                    m[0] += int(line.split()[1])
                elif line.startswith("Private_"):
                    m[1] += int(line.split()[1])
    except OSError:
        pass
print(len(tree), pss, ticks,
      ",".join("%s:%d" % kv for kv in sorted(names.items())) or "-",
      ",".join("%s=%d" % kv for kv in sorted(own.items())) or "-",
      ",".join("%s=%d/%d" % (k, v[0], v[1]) for k, v in sorted(mem.items())) or "-",
      ",".join("%s=%d/%d" % (k, v[0], v[1]) for k, v in sorted(ns.items())) or "-")
