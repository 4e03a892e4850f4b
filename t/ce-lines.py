#!/usr/bin/env python3
"""ce-lines.py: the table test of CloudEvent lines (t/data/ce-lines.test).

  ce-lines.py split TABLE DIR
      DIR/lines: the rows' lines, one per row (line N is row N);
      DIR/rows.json: [{"verdict", "message", "tags", "line", "event"}]
  ce-lines.py post URL DIR OUT
      send each row to webhook-source at URL as an HTTP request; OUT gets
      one JSON line per row: {"row", "status", "body"} ("skipped" for rows
      tagged line)
  ce-lines.py judge DIR READER RESULTS [CANON]
      RESULTS: one JSON line per row {"row", "verdict", "message"}; CANON:
      the events the reader delivered for its accepted rows, in row order,
      as ce-encode writes them. Prints TAP lines for READER and exits 0.
  ce-lines.py results-<reader> ... (see the functions below): turn what a
      reader left behind into RESULTS and the delivered lines to normalise.
  ce-lines.py canon DELIVERED OUT
      the delivered lines as ce-encode writes them (REFUSED: why, if not)
  ce-lines.py records DIR DLQ OUT
      a sink's dead-letter file in row order, checked: one record per row,
      no key given twice. CE_LINES_REPLAY=1 judge: refused rows need only
      be refused (a replayed record says why in its own words).

Python 3 standard library only.
"""
import http.client
import json
import os
import re
import subprocess
import sys
import urllib.parse


def load(path):
    rows, block = [], []
    for raw in open(path, encoding="utf-8").read().split("\n") + [""]:
        if raw.startswith("#"):
            continue
        if raw.strip() == "":
            if block:
                rows.append(block)
                block = []
            continue
        block.append(raw)
    out = []
    for b in rows:
        m = re.match(r"^(accept|refuse)(?: \[([a-z, ]+)\])?(?: (.*))?$", b[0])
        if not m or len(b) < 2:
            sys.exit("ce-lines.test: bad row: %r" % b)
        verdict, tags, msg = m.group(1), m.group(2), m.group(3)
        if (verdict == "accept") != (msg is None):
            sys.exit("ce-lines.test: accept takes no message, refuse needs one: %r" % b[0])
        if verdict == "accept" and len(b) != 3:
            sys.exit("ce-lines.test: an accepted row needs its event: %r" % b)
        if verdict == "refuse" and len(b) != 2:
            sys.exit("ce-lines.test: a refused row has no event: %r" % b)
        out.append({"verdict": verdict, "message": msg,
                    "tags": [t.strip() for t in (tags or "").split(",") if t.strip()],
                    "line": b[1], "event": b[2] if len(b) > 2 else None})
    return out


def split(table, d):
    rows = load(table)
    with open(d + "/lines", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(r["line"] + "\n")
    with open(d + "/rows.json", "w", encoding="utf-8") as f:
        json.dump(rows, f)


def rows_of(d):
    return json.load(open(d + "/rows.json", encoding="utf-8"))


def is_binary(line):
    try:
        o = json.loads(line)
    except ValueError:
        return False
    return isinstance(o, dict) and "specversion" not in o and "headers" in o


def post(url, d, out):
    u = urllib.parse.urlsplit(url)
    with open(out, "w", encoding="utf-8") as f:
        for n, r in enumerate(rows_of(d), 1):
            if "line" in r["tags"]:
                f.write(json.dumps({"row": n, "skipped": True}) + "\n")
                continue
            c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
            if is_binary(r["line"]):
                # the headers as the line has them, the body's bytes
                o = json.loads(r["line"], object_pairs_hook=lambda kv: kv)
                hdrs = dict(o)["headers"]
                body = (dict(o).get("body") or "").encode("utf-8")
                c.putrequest("POST", u.path)
                for k, v in hdrs:
                    c.putheader(k, v.encode("utf-8"))
                c.putheader("Content-Length", str(len(body)))
                c.endheaders()
                c.send(body)
            else:
                c.request("POST", u.path, body=r["line"].encode("utf-8"),
                          headers={"Content-Type": "application/cloudevents+json"})
            resp = c.getresponse()
            body = resp.read().decode("utf-8", "replace").rstrip("\n")
            c.close()
            f.write(json.dumps({"row": n, "status": resp.status, "body": body}) + "\n")


def write_results(path, res):
    with open(path, "w", encoding="utf-8") as f:
        for r in res:
            f.write(json.dumps(r) + "\n")


def lines(path):
    try:
        return [l.rstrip("\n") for l in open(path, encoding="utf-8")]
    except FileNotFoundError:
        return []


def from_dlq(rows, dlq):
    """Refused rows from a dead-letter file: {row: message}."""
    refused = {}
    for l in lines(dlq):
        dl = json.loads(l)["deadletter"]
        if dl.get("reason") == "invalid line":
            refused[dl["line"]] = dl.get("error")
    return refused


def results_ce_encode(d, out, reject, res, delivered):
    rows = rows_of(d)
    refused = {}
    for l in lines(reject):
        o = json.loads(l)
        refused[o["line"]] = o["error"]
    emitted = iter(lines(out))
    rs, dl = [], []
    for n in range(1, len(rows) + 1):
        if n in refused:
            rs.append({"row": n, "verdict": "refuse", "message": refused[n]})
        else:
            rs.append({"row": n, "verdict": "accept"})
            dl.append(next(emitted, ""))
    write_results(res, rs)
    write_results_lines(delivered, dl)


def write_results_lines(path, ls):
    with open(path, "w", encoding="utf-8") as f:
        for l in ls:
            f.write(l + "\n")


def request_line(req):
    """What sink-http sent, as a line ce-encode reads back."""
    h = req["headers"]
    if h.get("content-type", "").startswith("application/cloudevents+json"):
        return req["body"]
    keep = {k: v for k, v in h.items() if k.startswith("ce-") or k == "content-type"}
    if keep.get("content-type") == "":
        del keep["content-type"]
    return json.dumps({"headers": keep, "body": req["body"]}, ensure_ascii=False)


def results_sink(d, dlq, delivered_in, res, delivered, kind):
    rows = rows_of(d)
    refused = from_dlq(rows, dlq)
    got = lines(delivered_in)
    rs, dl = [], []
    it = iter(got)
    for n in range(1, len(rows) + 1):
        if n in refused:
            rs.append({"row": n, "verdict": "refuse", "message": refused[n]})
            continue
        rs.append({"row": n, "verdict": "accept"})
        g = next(it, None)
        if g is None:
            dl.append("")
        elif kind == "http":
            dl.append(request_line(json.loads(g)))
        else:
            dl.append(json.loads(g)["Detail"])
    write_results(res, rs)
    write_results_lines(delivered, dl)


def results_webhook(d, posted, out, res, delivered):
    rows = rows_of(d)
    emitted = iter(lines(out))
    rs, dl = [], []
    for l in lines(posted):
        p = json.loads(l)
        if p.get("skipped"):
            rs.append({"row": p["row"], "verdict": "skipped"})
        elif 200 <= p["status"] < 300:
            rs.append({"row": p["row"], "verdict": "accept"})
            dl.append(next(emitted, ""))
        elif p["status"] == 400:
            rs.append({"row": p["row"], "verdict": "refuse", "message": p["body"]})
        else:
            rs.append({"row": p["row"], "verdict": "refuse",
                       "message": "HTTP %d: %s" % (p["status"], p["body"])})
    write_results(res, rs)
    write_results_lines(delivered, dl)


def results_stream_serve(d, stderr, records, res, delivered):
    """stream-serve logs "stdin:N: MESSAGE" for a refused line and "stdin:N:
    offset K is not after the latest one" for an event it does not keep."""
    rows = rows_of(d)
    refused, replayed = {}, set()
    for l in lines(stderr):
        m = re.match(r"^stream-serve: warn: stdin:(\d+): (.*)$", l)
        if m:
            refused[int(m.group(1))] = m.group(2)
        m = re.match(r"^stream-serve: info: stdin:(\d+): offset .* is not after", l)
        if m:
            replayed.add(int(m.group(1)))
    # records are kept in offset order (eventkey, else the next offset):
    # find each row's by its id
    recs = {}
    text = open(records, encoding="utf-8").read().strip() if lines(records) else ""
    dec = json.JSONDecoder(parse_float=str, parse_int=str)
    pos = 1
    while text.startswith("[") and pos < len(text) - 1:
        rec, end = dec.raw_decode(text, pos)
        # the record's own text: numbers stay as they were written
        recs.setdefault(rec.get("id") if isinstance(rec, dict) else None,
                        text[pos:end])
        pos = end + 1
    rs, dl = [], []
    for n in range(1, len(rows) + 1):
        if n in refused:
            rs.append({"row": n, "verdict": "refuse", "message": refused[n]})
        elif n in replayed:
            rs.append({"row": n, "verdict": "accept", "nodata": True})
        else:
            rs.append({"row": n, "verdict": "accept"})
            want = json.loads(rows[n - 1]["event"]).get("id") if rows[n - 1]["event"] else None
            rec = recs.get(want)
            dl.append(rec if rec is not None else "")
    write_results(res, rs)
    write_results_lines(delivered, dl)


def same_members(a, b):
    """The same top-level members in any order (the test receiver logs
    headers as a map, so sink-http's binary-mode header order is lost);
    values compare as text, numbers and repeated keys included."""
    def pairs(x):
        try:
            return json.loads(x, object_pairs_hook=lambda kv: kv,
                              parse_int=str, parse_float=str, parse_constant=str)
        except ValueError:
            return None
    pa, pb = pairs(a), pairs(b)
    return isinstance(pa, list) and isinstance(pb, list) and sorted(
        map(repr, pa)) == sorted(map(repr, pb))


def judge(d, reader, results, canon=None):
    rows = rows_of(d)
    res = [json.loads(l) for l in lines(results)]
    canon_lines = iter(lines(canon)) if canon else None
    verdicts, messages, events = [], [], []
    if len(res) != len(rows):
        verdicts.append("%d results for %d rows" % (len(res), len(rows)))
    for r in res:
        n = r["row"]
        row = rows[n - 1]
        if r["verdict"] == "skipped":
            continue
        if r["verdict"] == "accept" and not r.get("nodata") and canon_lines is not None:
            got = next(canon_lines, "")
        else:
            got = None
        if r["verdict"] != row["verdict"]:
            verdicts.append("row %d (%s): %s, wanted %s%s" % (
                n, row["line"][:60], r["verdict"], row["verdict"],
                ": " + r["message"] if r.get("message") else ""))
            continue
        if row["verdict"] == "refuse":
            notce = "notce" in row["tags"] and reader in ("ce-encode", "webhook-source")
            # a replayed record of a refused line: refused again, its own words
            replay = os.environ.get("CE_LINES_REPLAY") == "1"
            if not notce and not replay and r.get("message") != row["message"]:
                messages.append("row %d: %r, wanted %r" % (n, r.get("message"), row["message"]))
        elif got is not None and got != row["event"] and not (
                reader.startswith("sink-http") and same_members(got, row["event"])):
            events.append("row %d: delivered %s\n    wanted    %s" % (n, got, row["event"]))
    for what, bad in (("gives every row its verdict", verdicts),
                      ("says why in the words of every other reader", messages),
                      ("delivers the event the line holds", events)):
        if bad:
            print("not ok - %s %s" % (reader, what))
            for b in bad:
                print("# " + b.replace("\n", "\n# "))
        else:
            print("ok - %s %s" % (reader, what))


def canon(delivered, out):
    """The lines a reader delivered (one per accepted row) as ce-encode
    writes them; a line ce-encode refuses becomes "REFUSED: why", so it
    cannot pass for the table's event."""
    dl = lines(delivered)
    rej = out + ".rej"
    with open(delivered, "rb") as f, open(out + ".ce", "wb") as o:
        subprocess.run(["ce-encode", "--reject", rej], stdin=f, stdout=o,
                       stderr=subprocess.DEVNULL)
    emitted = iter(lines(out + ".ce"))
    refused = {}
    for l in lines(rej):
        o = json.loads(l)
        refused[o["line"]] = o["error"]
    with open(out, "w", encoding="utf-8") as f:
        for n, l in enumerate(dl, 1):
            if l.strip() == "":
                f.write("REFUSED: nothing delivered\n")
            elif n in refused:
                f.write("REFUSED: " + refused[n] + "\n")
            else:
                f.write(next(emitted, "REFUSED: lost") + "\n")


def records(dlq, out, nrows):
    """A dead-letter file in row order (the original line numbers): one
    record per row, each a JSON object with one "deadletter" member (the
    rest is the line's own, keys it gave twice included)."""
    recs = {}
    for l in lines(dlq):
        top = json.loads(l, object_pairs_hook=lambda kv: kv, parse_int=str,
                         parse_float=str, parse_constant=str)
        dl = [v for k, v in top if k == "deadletter"]
        if len(dl) != 1:
            sys.exit("%s: %d \"deadletter\" members in %s" % (dlq, len(dl), l))
        n = int(dict(dl[0])["line"])
        if n in recs:
            sys.exit("%s: two records for line %d" % (dlq, n))
        recs[n] = l
    if sorted(recs) != list(range(1, nrows + 1)):
        sys.exit("%s: records for lines %s, not 1..%d" % (dlq, sorted(recs), nrows))
    with open(out, "w", encoding="utf-8") as f:
        for n in range(1, nrows + 1):
            f.write(recs[n] + "\n")


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    f = {"split": split, "post": post, "judge": judge,
         "records": lambda d, dlq, out: records(dlq, out, len(rows_of(d))),
         "canon": canon,
         "results-ce-encode": results_ce_encode,
         "results-sink-http": lambda *a: results_sink(*a, kind="http"),
         "results-sink-eventbridge": lambda *a: results_sink(*a, kind="eb"),
         "results-webhook-source": results_webhook,
         "results-stream-serve": results_stream_serve}.get(cmd)
    if f is None:
        sys.exit("ce-lines.py: unknown command " + cmd)
    f(*args)


if __name__ == "__main__":
    main()
