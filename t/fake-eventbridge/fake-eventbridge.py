#!/usr/bin/env python3
"""fake-eventbridge: a local Amazon EventBridge for vcpipe's tests.

Speaks the AWS JSON 1.1 protocol (POST /, X-Amz-Target AWSEvents.PutEvents or
AWSEvents.DescribeRule, Content-Type application/x-amz-json-1.1) and checks
every request's SigV4 signature with botocore's independent implementation:
the canonical request is rebuilt from what arrived on the wire and signed
again with the known secret.  Failures answer the way AWS does: HTTP 400 (or
403 for signatures, 5xx for server trouble) with {"__type": ..., "message":
...}.

Configuration (--config FILE, JSON):
  region            the region requests must be signed for
  credentials       [{"akid": ..., "secret": ..., "token": optional}]
  buses             event bus names that exist (default ["default"])
  request_script    list consumed one per PutEvents request before normal
                    handling: {"status": 503} or {"type": "ThrottlingException"}
                    (HTTP 400) optionally with "retry_after": "1"
  entry_failures    {"<CloudEvent id>": ["ThrottlingException", ...]}: each
                    time an entry with that id arrives, the next code in its
                    list fails it ("" or running out means success)
  fail_every        [N, STATUS]: every Nth PutEvents request is answered
                    STATUS (5xx: InternalFailure) before normal handling
  entry_fail_every  N: every Nth entry (counted over all requests) fails
                    with ThrottlingException, retryable
  latency_ms        each PutEvents answer waits this long (a round trip to
                    a region; requests in flight wait side by side)
--rules FILE (re-read on every DescribeRule): {"<bus>/<name>": {rule fields}}
--log FILE: every accepted entry as a JSON line; --requests FILE: one line
per request with what was checked.  --port-file FILE receives the port.
--issued FILE: temporary credentials handed out by t/fake-aws-creds (JSON
lines {akid, secret, token, expires}), accepted until they expire.
"""
import argparse
import json
import os
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import awsfake  # noqa: E402
from awsfake import check_sigv4, serve  # noqa: E402

MAX_REQUEST = 256 * 1024


class Fake:
    def __init__(self, args):
        with open(args.config) as f:
            self.cfg = json.load(f)
        self.args = args
        self.lock = threading.Lock()
        self.script = list(self.cfg.get("request_script", []))
        self.failures = {k: list(v) for k, v in
                         self.cfg.get("entry_failures", {}).items()}
        self.nreq = 0
        self.nput = 0
        self.nentry = 0
        self.log = open(args.log, "a") if args.log else None
        self.reqlog = open(args.requests, "a") if args.requests else None

    def creds_for(self, akid):
        for c in self.cfg.get("credentials", []):
            if c["akid"] == akid:
                return c
        return awsfake.issued(self.args.issued, akid)


class Handler(awsfake.Handler):
    server_version = "fake-eventbridge"

    def reply(self, status, obj, headers=None):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def error(self, status, etype, message, headers=None):
        self.reply(status, {"__type": etype, "message": message}, headers)

    def verify(self, body):
        """None when the signature is right, else the reason."""
        fake = self.server.fake
        self.akid, _, bad = check_sigv4(
            self, body, fake.creds_for, "events", fake.cfg["region"],
            ["x-amz-target", "content-type"],
            {"unknown": "UnrecognizedClientException",
             "signature": "InvalidSignatureException",
             "expired": "ExpiredTokenException"})
        self.expired = bool(bad) and bad[0] == "ExpiredTokenException"
        return bad

    def do_GET(self):
        self.error(404, "UnknownOperationException", "")

    def do_POST(self):
        fake = self.server.fake
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        target = self.headers.get("X-Amz-Target", "")
        self.akid = None
        self.expired = False
        with fake.lock:
            fake.nreq += 1
            reqno = fake.nreq
        bad = self.verify(body)
        rec = {"n": reqno, "target": target, "host": self.headers.get("Host"),
               "signed": bad is None, "akid": self.akid,
               "token": "X-Amz-Security-Token" in self.headers}
        if self.expired:
            rec["expired"] = True
        try:
            if bad:
                rec["error"] = bad[0]
                return self.error(403 if bad[0] not in (
                    "UnrecognizedClientException", "ExpiredTokenException")
                    else 400, bad[0], bad[1])
            if self.headers.get("Content-Type") != "application/x-amz-json-1.1":
                rec["error"] = "SerializationException"
                return self.error(400, "SerializationException", "bad content type")
            try:
                req = json.loads(body)
            except ValueError:
                rec["error"] = "SerializationException"
                return self.error(400, "SerializationException", "Start of structure or map found where not expected.")
            if target == "AWSEvents.PutEvents":
                return self.put_events(req, reqno, rec)
            if target == "AWSEvents.DescribeRule":
                return self.describe_rule(req, rec)
            rec["error"] = "UnknownOperationException"
            return self.error(400, "UnknownOperationException", "")
        finally:
            if fake.reqlog:
                with fake.lock:
                    fake.reqlog.write(json.dumps(rec) + "\n")
                    fake.reqlog.flush()

    def describe_rule(self, req, rec):
        bus = req.get("EventBusName") or "default"
        bus = bus.rsplit("/", 1)[-1] if bus.startswith("arn:") else bus
        name = req.get("Name")
        rules = {}
        if self.server.fake.args.rules:
            with open(self.server.fake.args.rules) as f:
                rules = json.load(f)
        rule = rules.get("%s/%s" % (bus, name))
        rec["rule"] = "%s/%s" % (bus, name)
        if rule is None:
            rec["error"] = "ResourceNotFoundException"
            return self.error(400, "ResourceNotFoundException",
                              "Rule %s does not exist on EventBus %s." % (name, bus))
        out = {"Name": name, "EventBusName": bus, "State": "ENABLED",
               "Arn": "arn:aws:events:%s:123456789012:rule/%s%s" % (
                   self.server.fake.cfg["region"],
                   "" if bus == "default" else bus + "/", name)}
        out.update(rule)
        return self.reply(200, out)

    def put_events(self, req, reqno, rec):
        fake = self.server.fake
        if fake.cfg.get("latency_ms"):
            time.sleep(fake.cfg["latency_ms"] / 1000.0)
        with fake.lock:
            step = fake.script.pop(0) if fake.script else None
        every = fake.cfg.get("fail_every")
        if step is None and every:
            with fake.lock:
                fake.nput += 1
                if fake.nput % every[0] == 0:
                    step = {"status": every[1]}
        if step:
            rec["scripted"] = step
            hdr = {"Retry-After": step["retry_after"]} if "retry_after" in step else None
            if "type" in step:
                return self.error(step.get("status", 400), step["type"],
                                  step.get("message", "Rate exceeded"), hdr)
            if step.get("status", 200) != 200:
                return self.error(step["status"], "InternalFailure",
                                  "scripted failure", hdr)
        entries = req.get("Entries")
        if not isinstance(entries, list) or not entries:
            rec["error"] = "ValidationException"
            return self.error(400, "ValidationException",
                              "1 validation error detected: Value null at 'entries' failed to satisfy constraint: Member must not be null")
        if len(entries) > 10:
            rec["error"] = "ValidationException"
            return self.error(400, "ValidationException",
                              "1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length less than or equal to 10")
        total = 0
        for e in entries:
            total += 14 if "Time" in e else 0
            for k in ("Source", "DetailType", "Detail"):
                total += len(e.get(k, "").encode("utf-8"))
            for r in e.get("Resources", []):
                total += len(r.encode("utf-8"))
        rec["entries"] = len(entries)
        rec["size"] = total
        if total > MAX_REQUEST:
            rec["error"] = "ValidationException"
            return self.error(400, "ValidationException",
                              "Total size of the entries in the request is over the limit.")
        buses = fake.cfg.get("buses", ["default"])
        results = []
        failed = 0
        for e in entries:
            bus = e.get("EventBusName") or "default"
            code = msg = None
            detail = None
            if bus not in buses:
                code, msg = "ResourceNotFoundException", "Event bus %s does not exist." % bus
            elif not e.get("Source") or not e.get("DetailType") or "Detail" not in e:
                code, msg = "InvalidArgument", "Parameter(s) Source, DetailType or Detail is not valid."
            elif "Time" in e and not isinstance(e["Time"], (int, float)):
                code, msg = "InvalidArgument", "Parameter Time is not valid."
            else:
                try:
                    detail = json.loads(e["Detail"])
                    if not isinstance(detail, dict):
                        raise ValueError
                except ValueError:
                    code, msg = "MalformedDetail", "Detail is malformed."
            if code is None and isinstance(detail, dict):
                key = str(detail.get("id"))
                with fake.lock:
                    plan = fake.failures.get(key)
                    if plan:
                        code = plan.pop(0) or None
                        msg = "scripted %s" % code if code else None
                    efe = fake.cfg.get("entry_fail_every")
                    if code is None and efe:
                        fake.nentry += 1
                        if fake.nentry % efe == 0:
                            code = "ThrottlingException"
                            msg = "scripted every %d" % efe
            if code:
                failed += 1
                results.append({"ErrorCode": code, "ErrorMessage": msg})
                continue
            eid = str(uuid.uuid4())
            results.append({"EventId": eid})
            if fake.log:
                with fake.lock:
                    fake.log.write(json.dumps({
                        "req": reqno, "Source": e["Source"],
                        "DetailType": e["DetailType"], "Time": e.get("Time"),
                        "EventBusName": bus, "Detail": e["Detail"]}) + "\n")
                    fake.log.flush()
        rec["failed"] = failed
        return self.reply(200, {"FailedEntryCount": failed, "Entries": results})


def main():
    ap = argparse.ArgumentParser(description="local fake Amazon EventBridge")
    ap.add_argument("--config", required=True)
    ap.add_argument("--rules")
    ap.add_argument("--log")
    ap.add_argument("--requests")
    ap.add_argument("--issued")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    serve(Handler, Fake(args), args)

if __name__ == "__main__":
    main()
