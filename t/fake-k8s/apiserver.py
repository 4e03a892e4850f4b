#!/usr/bin/env python3
"""A FAKE Kubernetes API server for sink-http's destination.ref tests -- not
Kubernetes.

It answers the read-only calls a client makes to resolve an addressable, in
the shapes kube-apiserver writes (k8s.io/apimachinery's metav1.Status and
discovery types, apiserver's forbidden message): HTTPS only, with a server
certificate the test's cluster CA signed; a bearer token checked on every request; objects served
from a JSON file read again on every request (so a test can move a Broker);
metav1.Status bodies for 401, 403 and 404, compact JSON plus a newline, the
field order apimachinery writes.

  GET /api, /apis, /api/v1, /apis/G/V     discovery (APIVersions,
                                          APIGroupList, APIResourceList)
  GET /api/v1/namespaces/NS/R/NAME        an object of the core group
  GET /apis/G/V/namespaces/NS/R/NAME      an object of group G
  GET /apis/G/V/R, .../namespaces/NS/R    a list (KindList, items)
  GET /apis/apiextensions.k8s.io/v1/customresourcedefinitions/NAME

Python 3 stdlib only. Options:
  --objects FILE    JSON array of objects (apiVersion, kind, metadata
                    {name, namespace}, spec, status); CRDs go here too
  --token-file FILE the token(s) the service account has, one per line,
                    read again on every request
  --user NAME       the user the token authenticates as (403 messages)
  --forbid G/R      deny "get" and "list" on resource R of group G ("" core)
                    (repeatable)
  --cert F --key F  the server's certificate and key (PEM)
  --log FILE        one JSON line per request: {"method","path","auth","status"}
  --port-file FILE  the listening port, written once the socket listens
"""
import argparse
import json
import os
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
cfg = {}

# What the cluster knows: (group, version) -> {plural: (Kind, namespaced)}.
# Knative's and the core group's addressables, the CRD API; objects of other
# groups in --objects add their own entries.
KNOWN = {
    ("", "v1"): {"services": ("Service", True), "namespaces": ("Namespace", False)},
    ("eventing.knative.dev", "v1"): {"brokers": ("Broker", True),
                                     "triggers": ("Trigger", True)},
    ("messaging.knative.dev", "v1"): {"channels": ("Channel", True),
                                      "inmemorychannels": ("InMemoryChannel", True),
                                      "subscriptions": ("Subscription", True)},
    ("serving.knative.dev", "v1"): {"services": ("Service", True),
                                    "routes": ("Route", True)},
    ("apiextensions.k8s.io", "v1"): {
        "customresourcedefinitions": ("CustomResourceDefinition", False)},
}


def plural(kind):
    """meta.UnsafeGuessKindToResource"""
    k = kind.lower()
    if k.endswith("s"):
        return k + "es"
    if k.endswith("y"):
        return k[:-1] + "ies"
    return k + "s"


def split_api_version(av):
    return tuple(av.split("/", 1)) if "/" in av else ("", av)


def load_objects():
    with open(cfg["objects"]) as f:
        objs = json.load(f)
    resources = {gv: dict(r) for gv, r in KNOWN.items()}
    for o in objs:
        gv = split_api_version(o["apiVersion"])
        resources.setdefault(gv, {}).setdefault(
            plural(o["kind"]), (o["kind"], "namespace" in o.get("metadata", {})))
    return objs, resources


def status_body(code, reason, message, details=None):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": message, "reason": reason}
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


def qualified(group, res):
    return res + ("." + group if group else "")


class ApiServer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send_json(self, status, obj):
        data = (json.dumps(obj, separators=(",", ":")) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        with lock, open(cfg["log"], "a") as f:
            f.write(json.dumps({"method": self.command, "path": self.path,
                                "auth": self.headers.get("Authorization"),
                                "accept": self.headers.get("Accept"),
                                "status": status}) + "\n")

    def not_found_path(self):
        return self.send_json(404, status_body(
            404, "NotFound", "the server could not find the requested resource", {}))

    def authenticated(self):
        try:
            with open(cfg["token_file"]) as f:
                tokens = [t.strip() for t in f if t.strip()]
        except OSError:
            tokens = []
        h = self.headers.get("Authorization", "")
        return h.startswith("Bearer ") and h[7:] in tokens

    def forbidden(self, verb, group, res, name, ns):
        if "%s/%s" % (group, res) not in cfg["forbid"]:
            return False
        if ns:
            why = 'User "%s" cannot %s resource "%s" in API group "%s" in the namespace "%s"' % (
                cfg["user"], verb, res, group, ns)
        else:
            why = 'User "%s" cannot %s resource "%s" in API group "%s" at the cluster scope' % (
                cfg["user"], verb, res, group)
        q = qualified(group, res)
        msg = '%s "%s" is forbidden: %s' % (q, name, why) if name else "%s is forbidden: %s" % (q, why)
        details = {"name": name, "group": group, "kind": res} if name else {"group": group, "kind": res}
        if not group:
            del details["group"]
        self.send_json(403, status_body(403, "Forbidden", msg, details))
        return True

    def discovery(self, parts, resources):
        if parts == ["api"]:
            return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                        "serverAddressByClientCIDRs": [
                                            {"clientCIDR": "0.0.0.0/0",
                                             "serverAddress": "127.0.0.1:6443"}]})
        if parts == ["apis"]:
            groups = {}
            for (g, v) in sorted(resources):
                if g:
                    groups.setdefault(g, []).append(v)
            return self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": "%s/%s" % (g, v), "version": v} for v in vs],
                 "preferredVersion": {"groupVersion": "%s/%s" % (g, vs[0]), "version": vs[0]}}
                for g, vs in groups.items()]})
        gv = ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])
        if gv not in resources:
            return self.not_found_path()
        rl = []
        for res, (kind, namespaced) in sorted(resources[gv].items()):
            rl.append({"name": res, "singularName": kind.lower(), "namespaced": namespaced,
                       "kind": kind, "verbs": ["get", "list", "watch"]})
        return self.send_json(200, {"kind": "APIResourceList", "apiVersion": "v1",
                                    "groupVersion": "/".join(x for x in gv if x),
                                    "resources": rl})

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        parts = [p for p in path.split("/") if p]
        if not self.authenticated():
            return self.send_json(401, status_body(401, "Unauthorized", "Unauthorized"))
        objs, resources = load_objects()
        if parts in (["api"], ["apis"]) or (len(parts) == 2 and parts[0] == "api") or \
                (len(parts) == 3 and parts[0] == "apis"):
            return self.discovery(parts, resources)
        if parts and parts[0] == "api":
            group, version, rest = "", parts[1] if len(parts) > 1 else "", parts[2:]
        elif parts and parts[0] == "apis" and len(parts) > 2:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return self.not_found_path()
        ns = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            ns, rest = rest[1], rest[2:]
        if not rest or len(rest) > 2:
            return self.not_found_path()
        res, name = rest[0], (rest[1] if len(rest) == 2 else None)
        if (group, version) not in resources or res not in resources[(group, version)]:
            return self.not_found_path()
        kind, namespaced = resources[(group, version)][res]
        if self.forbidden("get" if name else "list", group, res, name, ns):
            return None
        av = "%s/%s" % (group, version) if group else version
        match = [o for o in objs if o["apiVersion"] == av and o["kind"] == kind and
                 (ns is None or o.get("metadata", {}).get("namespace") == ns)]
        if name is None:
            return self.send_json(200, {"kind": kind + "List", "apiVersion": av,
                                        "metadata": {"resourceVersion": "4242"},
                                        "items": match})
        for o in match:
            if o["metadata"]["name"] == name:
                return self.send_json(200, o)
        details = {"name": name, "group": group, "kind": res}
        if not group:
            del details["group"]
        return self.send_json(404, status_body(
            404, "NotFound", '%s "%s" not found' % (qualified(group, res), name), details))

    def do_POST(self):
        self.send_json(405, status_body(405, "MethodNotAllowed",
                                        "the server does not allow this method on the requested resource"))

    do_PUT = do_DELETE = do_PATCH = do_POST


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", required=True)
    ap.add_argument("--token-file", required=True)
    ap.add_argument("--user", default="system:serviceaccount:vmware-system:vmware-event-router")
    ap.add_argument("--forbid", action="append", default=[])
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--port-file", required=True)
    a = ap.parse_args()
    cfg.update(objects=a.objects, token_file=a.token_file, user=a.user,
               forbid=set(a.forbid), log=a.log)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), ApiServer)
    srv.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(a.port_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(a.port_file + ".tmp", a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
