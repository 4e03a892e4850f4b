#!/usr/bin/env python3
"""Differential fuzzing of vc-source's event mapper against govmomi.

Mutates the text of elements in t/data/events/*.xml (numbers at their
limits, strconv and time.Parse corner cases, CDATA, comments, entities,
repeated and dropped elements) and feeds each document to both vim-xml2json
(govmomi) and vimjson-tool. Where govmomi decodes the response, the JSON must
be byte-identical; where govmomi refuses it, vimjson-tool must report an
error too. Failing documents are kept as $T/dfail-N.xml.

usage: vimjson-difffuzz.py SEED COUNT   (VP_SRCDIR, VP_BUILDDIR, T from the environment;
       VP_DIFFFUZZ_XML=1 compares VSphereSource's XML, encoding/xml.Marshal, instead)
"""
import glob
import os
import random
import re
import subprocess
import sys

SRC = os.environ.get('VP_SRCDIR', '.')
BUILD = os.environ.get('VP_BUILDDIR', SRC)
OUT = os.environ.get('T', '/tmp')
random.seed(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
# VP_DIFFFUZZ_XML=1: VSphereSource's XML (encoding/xml.Marshal) instead of JSON
XML = os.environ.get('VP_DIFFFUZZ_XML', '') not in ('', '0')
GOARGS, CARGS = (['-xml'], ['--xml']) if XML else ([], [])
files = sorted(f for f in glob.glob(SRC + '/t/data/events/*.xml') if 'unknown' not in f)
docs = [open(f).read() for f in files]
toks = ['', ' ', '0', '-0', '+1', ' 42 ', '1e3', '1.5', '-1', '2147483648', '-2147483649', '9223372036854775808',
 '18446744073709551615', '0x10', '0x1p4', '1_000', 'NaN', 'inf', '1e309', '1e-400', '.5', '5.', 'true', 'True', 'TRUE',
 'tRue', 't', 'yes', '2026-11-23T09:00:00Z', '2026-11-23T09:00:00.1234567890123+01:30', '2026-13-01T00:00:00Z',
 '2026-02-29T00:00:00Z', '2024-02-29T00:00:00Z', '2026-11-23T24:00:00Z', '2026-11-23T9:00:00Z', '2026-11-23T09:00:00',
 '2026-11-23t09:00:00Z', '2026-11-23T09:00:00+1:00', '2026-11-23T09:00:00+99:99', '2026-11-23T09:00:00.Z', '&amp;&lt;',
 '<![CDATA[ 7 ]]>', '7<!-- c -->3', '\u00a0 5\u00a0', '\u3000true', '\u2028', '&#x1F600;', '<x>1</x>', '<x/>2', 'poweredOn',
 '-128', '255', '-32769', '65536', '4294967296', '1e38', '3.4e38', '3.5e38', '1.401298464324817e-45', '  -7', '+-1']
n = int(sys.argv[2]) if len(sys.argv) > 2 else 500
bad = 0
for i in range(n):
    d = random.choice(docs)
    lo = min([x for x in (d.find('<returnval'), d.find('<Event ')) if x >= 0] or [0])
    spans = [m.span(1) for m in re.finditer(r'>([^<>]*)<', d) if m.start() > lo]
    for _ in range(random.randint(1, 4)):
        a, b = random.choice(spans)
        d2 = d[:a] + random.choice(toks) + d[b:]
        if len(d2) == len(d):
            d = d2
        else:
            d = d2
            spans = [m.span(1) for m in re.finditer(r'>([^<>]*)<', d) if m.start() > lo]
    # occasionally duplicate or drop an element
    if random.random() < 0.3:
        ms = list(re.finditer(r'<([a-zA-Z]+)>[^<>]*</\1>', d))
        if ms:
            m = random.choice(ms)
            d = d[:m.end()] + (m.group(0) if random.random() < 0.5 else '') + d[m.end():] if random.random()<0.5 else d[:m.start()] + d[m.end():]
    g = subprocess.run([BUILD + '/t/vim-xml2json/vim-xml2json'] + GOARGS, input=d.encode(), capture_output=True)
    c = subprocess.run([BUILD + '/src/vc-source/vimjson-tool'] + CARGS, input=d.encode(), capture_output=True)
    ok = (g.returncode == 0 and c.returncode == 0 and g.stdout == c.stdout) or (g.returncode != 0 and c.returncode != 0)
    if not ok:
        bad += 1
        open(OUT + '/dfail-%d.xml' % bad, 'w').write(d)
        print('MISMATCH', bad, 'go', g.returncode, g.stderr[:200], 'c', c.returncode, c.stderr[:200])
        if g.returncode == 0 and c.returncode == 0:
            for x, y in zip(g.stdout.split(b'\n'), c.stdout.split(b'\n')):
                if x != y:
                    k = 0
                    while k < min(len(x), len(y)) and x[k] == y[k]: k += 1
                    print('  GO', x[max(0,k-80):k+80]); print('  C ', y[max(0,k-80):k+80]); break
        if bad > 8: break
print('%d documents, %d mismatches' % (i + 1, bad))
sys.exit(1 if bad else 0)
