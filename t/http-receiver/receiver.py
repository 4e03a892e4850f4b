#!/usr/bin/env python3
"""HTTP test receiver for sink-http fault tests (Python 3 stdlib only).

Answers POSTs on HTTP/1.1 with keep-alive, following a script of actions
given with --script, one action per request, then --default for the rest:

  200, 202, 400, 503, ...   answer with that status
  429:ra=2                  answer 429 with "Retry-After: 2" (any status)
  200:delay=0.5             answer after half a second
  hang                      read the request, never answer (until killed)
  reset                     read the request, then reset the connection (RST)
  close                     read the request, then close without answering

Every request is appended to --log as one JSON line:
  {"n":1,"conn":"127.0.0.1:51234","method":"POST","path":"/x",
   "headers":{"content-type":"..."},"body":"...","action":"503"}
--fail-every N:ACTION answers every Nth request (N, 2N, ...) with ACTION
instead (after the script): a receiver that fails now and then.

header names lower-cased; "conn" names the client end of the TCP
connection, so a test can check that requests shared a keep-alive connection.

--port 0 picks a free port; the port is written to --port-file once the
socket listens. --port N rebinds a fixed port (restart after "down").
--tls CERT KEY serves HTTPS.
"""
import argparse
import json
import socket
import ssl
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
state = {"n": 0, "script": [], "default": "200", "log": None, "every": None}


def next_action():
    with lock:
        state["n"] += 1
        n = state["n"]
        if state["script"]:
            act = state["script"].pop(0)
        elif state["every"] and n % state["every"][0] == 0:
            act = state["every"][1]
        else:
            act = state["default"]
    return n, act


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def record(self, n, act, body):
        rec = {
            "n": n,
            "conn": "%s:%d" % self.client_address[:2],
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            # every header name in the order sent (repeats kept)
            "names": [k.lower() for k in self.headers.keys()],
            "body": body.decode("utf-8", "replace"),
            "action": act,
        }
        with lock:
            with open(state["log"], "a") as f:
                f.write(json.dumps(rec, sort_keys=True) + "\n")

    def handle_any(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            # the client went away mid-body (a sink killed or exiting while
            # sending): no request was made, as for any HTTP server
            self.close_connection = True
            return
        n, act = next_action()
        self.record(n, act, body)
        if act == "hang":
            time.sleep(3600)
            return
        if act in ("reset", "close"):
            if act == "reset":
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        status, _, opt = act.partition(":")
        if opt.startswith("delay="):
            time.sleep(float(opt[6:]))
        reply = b'{"ok":true}' if status.startswith("2") else (
            b'{"error":"scripted %s"}' % status.encode())
        self.send_response(int(status))
        if opt.startswith("ra="):
            self.send_header("Retry-After", opt[3:])
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_POST = handle_any
    do_PUT = handle_any
    do_GET = handle_any


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--log", required=True)
    ap.add_argument("--script", default="")
    ap.add_argument("--default", default="200")
    ap.add_argument("--fail-every", metavar="N:ACTION")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    a = ap.parse_args()
    state["log"] = a.log
    state["script"] = [s for s in a.script.split(",") if s]
    state["default"] = a.default
    if a.fail_every:
        n, _, act = a.fail_every.partition(":")
        state["every"] = (int(n), act or "503")
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    if a.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls[0], a.tls[1])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write("%d\n" % srv.server_address[1])
        import os
        os.rename(a.port_file + ".tmp", a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
