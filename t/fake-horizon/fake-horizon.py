#!/usr/bin/env python3
"""fake-horizon: a test peer for horizon-source (Python stdlib only).

It follows the documented VMware Horizon Server REST API (the "View REST
API" reference, as the VMware Event Router's horizon provider uses it):
  POST /rest/login    {"domain","username","password"} -> 200
                      {"access_token","refresh_token"}; bad credentials: 401
  POST /rest/refresh  {"refresh_token"} -> 200 {"access_token"};
                      an expired or unknown refresh token: 400
  POST /rest/logout   {"refresh_token"} -> 200; unknown token: 400
  GET  /rest/external/v1/audit-events?filter=JSON&page=N&size=M
                      with "Authorization: Bearer <access token>", else 401.
                      filter: {"type":"Between","name":"time","fromValue":ms,
                      "toValue":ms} (both bounds inclusive); answer: a JSON
                      array of AuditEventSummary objects (id, time in ms since
                      the epoch, type, severity, message, module, user_id,
                      machine_id, ...; unset fields omitted), newest first,
                      page N (from 1) of size M (default 100, at most 1000).
Control API for tests (not Horizon's):
  POST /_control/events      [event, ...] appended to the event database
  POST /_control/expire-access   every access token now gets 401
  POST /_control/expire-refresh  every refresh token now gets 400
  POST /_control/fail?n=K    the next K audit-events requests get 503
  GET  /_control/stats       {"login":N,"refresh":N,"logout":N,"events":N}
usage: fake-horizon.py PORTFILE USER PASSWORD DOMAIN [CERT KEY]
  listens on 127.0.0.1, an ephemeral port written to PORTFILE; with CERT
  and KEY (PEM) it serves HTTPS, as a real Connection Server does.
"""
import json, secrets, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs

PORTFILE, USER, PASSWORD, DOMAIN = sys.argv[1:5]
lock = threading.Lock()
events, access, refresh = [], set(), set()
stats = {"login": 0, "refresh": 0, "logout": 0, "events": 0}
fail = [0]


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, code, obj=None):
        body = b"" if obj is None else json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        try:
            return json.loads(self.rfile.read(n) or b"null")
        except ValueError:
            return None

    def do_POST(self):
        u = urlparse(self.path)
        b = self.body()
        with lock:
            if u.path == "/rest/login":
                stats["login"] += 1
                if not isinstance(b, dict) or (b.get("username"), b.get("password"),
                                               b.get("domain")) != (USER, PASSWORD, DOMAIN):
                    return self.reply(401, {"error_message": "Invalid credentials"})
                a, r = secrets.token_hex(16), secrets.token_hex(16)
                access.add(a); refresh.add(r)
                return self.reply(200, {"access_token": a, "refresh_token": r})
            if u.path == "/rest/refresh":
                stats["refresh"] += 1
                if not isinstance(b, dict) or b.get("refresh_token") not in refresh:
                    return self.reply(400, {"error_message": "Invalid refresh token"})
                a = secrets.token_hex(16)
                access.add(a)
                return self.reply(200, {"access_token": a})
            if u.path == "/rest/logout":
                stats["logout"] += 1
                if not isinstance(b, dict) or b.get("refresh_token") not in refresh:
                    return self.reply(400)
                refresh.discard(b["refresh_token"])
                return self.reply(200)
            if u.path == "/_control/events":
                events.extend(b)
                return self.reply(200)
            if u.path == "/_control/expire-access":
                access.clear()
                return self.reply(200)
            if u.path == "/_control/expire-refresh":
                access.clear(); refresh.clear()
                return self.reply(200)
            if u.path == "/_control/fail":
                fail[0] = int(parse_qs(u.query)["n"][0])
                return self.reply(200)
        self.reply(404)

    def do_GET(self):
        u = urlparse(self.path)
        q = parse_qs(u.query)
        with lock:
            if u.path == "/_control/stats":
                return self.reply(200, stats)
            if u.path != "/rest/external/v1/audit-events":
                return self.reply(404)
            auth = self.headers.get("Authorization", "")
            if not auth.startswith("Bearer ") or auth[7:] not in access:
                return self.reply(401, {"error_message": "Unauthorized"})
            if fail[0] > 0:
                fail[0] -= 1
                return self.reply(503, {"error_message": "try later"})
            stats["events"] += 1
            sel = list(events)
            if "filter" in q:
                f = json.loads(q["filter"][0])
                if f.get("type") != "Between" or f.get("name") != "time":
                    return self.reply(400, {"error_message": "unsupported filter"})
                sel = [e for e in sel if f["fromValue"] <= e["time"] <= f["toValue"]]
            sel.sort(key=lambda e: (e["time"], e["id"]), reverse=True)
            size = min(int(q.get("size", ["100"])[0]), 1000)
            page = int(q.get("page", ["1"])[0])
            return self.reply(200, sel[(page - 1) * size:page * size])


srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
if len(sys.argv) > 6:
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[5], sys.argv[6])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(PORTFILE + ".tmp", PORTFILE)
srv.serve_forever()
