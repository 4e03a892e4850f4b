#!/usr/bin/env python3
"""A FAKE OpenFaaS gateway for sink-http tests -- not OpenFaaS.

It follows the gateway's documented REST API (openfaas/faas gateway
swagger.yml, docs.openfaas.com/reference/rest-api) for the calls an event
connector makes, and nothing else:

  GET  /system/functions       basic auth; 200 with a JSON array of function
                               status objects (name, image, namespace,
                               invocationCount, replicas, availableReplicas,
                               labels, annotations); 401 without valid auth
  POST /function/NAME          synchronous invocation: the function's answer
  POST /async-function/NAME    queued invocation: 202 Accepted, X-Call-Id
  unknown function             404 "Cannot find service: NAME."

Python 3 stdlib only. Options:
  --functions FILE   JSON array [{"name":..., "annotations":{"topic":"A,B"}}],
                     read again on every GET /system/functions
  --user U --password P   the gateway's basic-auth credentials
  --script NAME=S1,S2,... statuses the function answers, in order, then 200
                     (repeatable); "hang" never answers
  --log FILE         one JSON line per request: {"path","function","async",
                     "headers","body","status"}
  --port-file FILE   the listening port, written once the socket listens
"""
import argparse
import base64
import json
import os
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
cfg = {}


class Gateway(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body, ctype="text/plain", extra=None):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def record(self, **rec):
        rec["headers"] = {k.lower(): v for k, v in self.headers.items()}
        with lock, open(cfg["log"], "a") as f:
            f.write(json.dumps(rec, sort_keys=True) + "\n")

    def authorized(self):
        want = "Basic " + base64.b64encode(
            ("%s:%s" % (cfg["user"], cfg["password"])).encode()).decode()
        return self.headers.get("Authorization") == want

    def functions(self):
        with open(cfg["functions"]) as f:
            fns = json.load(f)
        out = []
        for fn in fns:
            out.append({
                "name": fn["name"],
                "image": fn.get("image", "ghcr.io/example/%s:latest" % fn["name"]),
                "namespace": "openfaas-fn",
                "invocationCount": 0,
                "replicas": 1,
                "availableReplicas": 1,
                "envProcess": "",
                "labels": fn.get("labels", {}),
                "annotations": fn.get("annotations", {}),
            })
        return out

    def do_GET(self):
        if self.path != "/system/functions":
            return self.reply(404, "Not Found")
        ok = self.authorized()
        self.record(path=self.path, function=None, body="",
                    status=200 if ok else 401, **{"async": False})
        if not ok:
            return self.reply(401, "Unauthorized\n", extra={
                "WWW-Authenticate": 'Basic realm="Restricted"'})
        self.reply(200, json.dumps(self.functions()), "application/json")

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = self.path.split("/")
        if len(parts) < 3 or parts[1] not in ("function", "async-function"):
            return self.reply(404, "Not Found")
        name, is_async = parts[2], parts[1] == "async-function"
        if name not in [f["name"] for f in self.functions()]:
            status = 404
        else:
            with lock:
                seq = cfg["script"].get(name, [])
                act = seq.pop(0) if seq else "200"
            status = 0 if act == "hang" else int(act)
            if is_async and status == 200:
                status = 202
        self.record(path=self.path, function=name, body=body.decode("utf-8", "replace"),
                    status=status, **{"async": is_async})
        if status == 0:
            time.sleep(3600)
            return
        if status == 404:
            return self.reply(404, "Cannot find service: %s.\n" % name)
        if status == 202:
            return self.reply(202, "", extra={"X-Call-Id": str(uuid.uuid4())})
        self.reply(status, "function %s answered %d\n" % (name, status))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--functions", required=True)
    ap.add_argument("--user", default="admin")
    ap.add_argument("--password", required=True)
    ap.add_argument("--script", action="append", default=[])
    ap.add_argument("--log", required=True)
    ap.add_argument("--port-file", required=True)
    a = ap.parse_args()
    cfg.update(functions=a.functions, user=a.user, password=a.password, log=a.log,
               script={})
    for s in a.script:
        name, _, seq = s.partition("=")
        cfg["script"][name] = [x for x in seq.split(",") if x]
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    srv.daemon_threads = True
    with open(a.port_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(a.port_file + ".tmp", a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
