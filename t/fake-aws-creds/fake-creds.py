#!/usr/bin/env python3
"""fake-creds: local AWS credential services for vcpipe's tests.

One server speaks three real wire protocols, told apart by method and path:

  STS       POST / (Query API: form body with Action, Version 2011-06-15):
            AssumeRole (SigV4 checked with botocore's signer against the
            known principals and every credential issued so far) and
            AssumeRoleWithWebIdentity (unsigned, the token is the proof).
            Answers and errors are STS's XML shapes, with STS's status codes.
  IMDSv2    PUT /latest/api/token, then GET /latest/meta-data/iam/
            security-credentials/ and .../ROLE with X-aws-ec2-metadata-token
            (401 without a valid token unless "v1" is allowed).
  container GET <path> with Authorization (the ECS/EKS Pod Identity agent):
            JSON credentials.

Every credential it hands out is appended to --issued FILE as a JSON line
({akid, secret, token, expires, via, role}) so fake-eventbridge accepts
(and expires) it.  --requests FILE gets one JSON line per request with what
was checked (never a secret).

Configuration (--config FILE, JSON):
  region        region AssumeRole must be signed for
  principals    [{akid, secret, token?, arn}]: who may sign AssumeRole
  roles         {ARN: {trust: [principal or role ARNs, or "*"],
                       web_tokens: [token...], external_id?, lifetime?}}
  web_tokens    {TOKEN: {sub, expired?}}
  imds          {role?, lifetime?, v1?, stale?}
  container     {path, token?, lifetime?}
  sts_script    [{status, code, message}]: the next STS answers, in order
Files in --state DIR change behaviour while they exist: sts.down,
imds.down, container.down switch a service off (STS answers 503
ServiceUnavailable, the others HTTP 500); sts.deny answers AccessDenied;
imds.v1only answers the token PUT
with 405 and serves GETs without a token (an IMDSv1-only service);
imds.norole answers as an instance without a role (404); imds.forget is
removed and every IMDS session token issued so far expires.
--port-file FILE receives the port.
"""
import argparse
import datetime
import json
import os
import re
import secrets
import string
import sys
import threading
import time
import uuid
from urllib.parse import parse_qs

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "fake-eventbridge"))
import awsfake  # noqa: E402
from awsfake import check_sigv4, serve  # noqa: E402

NS = "https://sts.amazonaws.com/doc/2011-06-15/"
SESSION_RE = re.compile(r"^[\w+=,.@-]{2,64}$")
STATUS = {"AccessDenied": 403, "InvalidClientTokenId": 403,
          "SignatureDoesNotMatch": 403, "MissingAuthenticationToken": 403,
          "IncompleteSignature": 400, "ExpiredToken": 400,
          "ExpiredTokenException": 400, "InvalidIdentityToken": 400,
          "ValidationError": 400, "MissingParameter": 400,
          "InvalidAction": 400, "Throttling": 400,
          "ServiceUnavailable": 503, "InternalFailure": 500}


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def xml_escape(s):
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


class Fake:
    def __init__(self, args):
        with open(args.config) as f:
            self.cfg = json.load(f)
        self.args = args
        self.lock = threading.Lock()
        self.script = list(self.cfg.get("sts_script", []))
        self.imds_tokens = {}        # token -> expiry
        self.current = {}            # "imds"/"container" -> issued set
        self.reqlog = open(args.requests, "a") if args.requests else None

    def flag(self, name):
        return bool(self.args.state) and os.path.exists(
            os.path.join(self.args.state, name))

    def down(self, service):
        return self.flag(service + ".down")

    def log(self, rec):
        if self.reqlog:
            with self.lock:
                self.reqlog.write(json.dumps(rec) + "\n")
                self.reqlog.flush()

    def issue(self, via, role, lifetime):
        alphabet = string.ascii_uppercase + string.digits
        c = {"akid": "ASIA" + "".join(secrets.choice(alphabet) for _ in range(16)),
             "secret": secrets.token_urlsafe(30),
             "token": "IQoJb3JpZ2luX2Vj" + secrets.token_urlsafe(120) + "/+=",
             "expires": time.time() + lifetime, "via": via, "role": role}
        if self.args.issued:
            with self.lock, open(self.args.issued, "a") as f:
                f.write(json.dumps(c) + "\n")
        return c

    def principal(self, akid):
        """The caller with this key: a configured principal or an issued set."""
        for p in self.cfg.get("principals", []):
            if p["akid"] == akid:
                return p
        with self.lock:
            c = awsfake.issued(self.args.issued, akid)
        return dict(c, arn=c["role"]) if c else None

    def rotating(self, kind, role, lifetime):
        """IMDS and the container agent hand out one set until half its life."""
        with self.lock:
            c = self.current.get(kind)
        if c is None or c["expires"] - time.time() < lifetime / 2:
            c = self.issue(kind, role, lifetime)
            with self.lock:
                self.current[kind] = c
        return c


class Handler(awsfake.Handler):
    server_version = "fake-creds"

    def log_rec(self):
        """Log the request's record (once): before its answer goes out,
        since a client that opens a new connection for its next request
        as soon as it has this answer is served by another thread, whose
        record must not come first (t/0524 reads the IMDS order)."""
        rec, self.rec = getattr(self, "rec", None), None
        if rec is not None:
            self.server.fake.log(rec)

    def send(self, status, body, ctype, headers=None):
        self.log_rec()
        body = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    # ---- STS --------------------------------------------------------------

    def sts_error(self, rec, code, message):
        rec["error"] = code
        rec["status"] = STATUS.get(code, 400)
        self.send(rec["status"],
                  '<ErrorResponse xmlns="%s">\n  <Error>\n    <Type>%s</Type>\n'
                  '    <Code>%s</Code>\n    <Message>%s</Message>\n  </Error>\n'
                  '  <RequestId>%s</RequestId>\n</ErrorResponse>\n' % (
                      NS, "Receiver" if rec["status"] >= 500 else "Sender",
                      code, xml_escape(message), uuid.uuid4()), "text/xml")

    def sts_answer(self, rec, action, role, c, extra):
        rec["status"] = 200
        rec["issued"] = c["akid"]
        session = rec.get("session_name", "s")
        name = role.rsplit("/", 1)[-1]
        account = role.split(":")[4]
        self.send(200,
                  '<%sResponse xmlns="%s">\n  <%sResult>\n%s'
                  '    <AssumedRoleUser>\n'
                  '      <AssumedRoleId>AROA%s:%s</AssumedRoleId>\n'
                  '      <Arn>arn:aws:sts::%s:assumed-role/%s/%s</Arn>\n'
                  '    </AssumedRoleUser>\n    <Credentials>\n'
                  '      <AccessKeyId>%s</AccessKeyId>\n'
                  '      <SecretAccessKey>%s</SecretAccessKey>\n'
                  '      <SessionToken>%s</SessionToken>\n'
                  '      <Expiration>%s</Expiration>\n    </Credentials>\n'
                  '  </%sResult>\n  <ResponseMetadata>\n'
                  '    <RequestId>%s</RequestId>\n  </ResponseMetadata>\n'
                  '</%sResponse>\n' % (
                      action, NS, action, extra, "EXAMPLE3XFRBF535PLBI",
                      session, account, name, session, c["akid"],
                      xml_escape(c["secret"]), xml_escape(c["token"]),
                      iso(c["expires"]), action, uuid.uuid4(), action),
                  "text/xml")

    def verify(self, body, rec):
        """The calling principal, or (code, message) when refused."""
        fake = self.server.fake
        akid, who, bad = check_sigv4(
            self, body, fake.principal, "sts", fake.cfg["region"], [],
            {"unknown": "InvalidClientTokenId",
             "signature": "SignatureDoesNotMatch", "expired": "ExpiredToken"})
        rec["caller"] = akid
        if bad:
            rec["signed"] = bad[0] == "ExpiredToken"
            return bad
        rec["signed"] = True
        return who

    def sts(self):
        fake = self.server.fake
        body = self.body()
        self.rec = rec = {"api": "sts", "signed": False}
        try:
            params = {k: v[0] for k, v in parse_qs(body.decode(),
                                                   keep_blank_values=True).items()}
            action = params.get("Action", "")
            rec["action"] = action
            for k, field in (("RoleSessionName", "session_name"),
                             ("ExternalId", "external_id"),
                             ("DurationSeconds", "duration"),
                             ("RoleArn", "role")):
                if k in params:
                    rec[field] = params[k]
            with fake.lock:
                step = fake.script.pop(0) if fake.script else None
            if step:
                rec["scripted"] = True
                return self.sts_error(rec, step["code"],
                                      step.get("message", "scripted"))
            if fake.down("sts"):
                return self.sts_error(rec, "ServiceUnavailable",
                                      "Service is unavailable")
            if fake.flag("sts.deny"):
                return self.sts_error(rec, "AccessDenied", "Not authorized "
                                      "to perform %s (revoked)" % action)
            ctype = self.headers.get("Content-Type", "")
            if not ctype.startswith("application/x-www-form-urlencoded"):
                return self.sts_error(rec, "InvalidAction",
                                      "Could not find operation %s" % action)
            if params.get("Version") != "2011-06-15":
                return self.sts_error(rec, "MissingParameter",
                                      "The request must contain the parameter Version")
            if action == "AssumeRole":
                return self.assume_role(body, params, rec)
            if action == "AssumeRoleWithWebIdentity":
                return self.web_identity(params, rec)
            return self.sts_error(rec, "InvalidAction",
                                  "Could not find operation %s for version "
                                  "2011-06-15" % action)
        finally:
            self.log_rec()

    def check_common(self, params, rec):
        fake = self.server.fake
        arn = params.get("RoleArn")
        session = params.get("RoleSessionName")
        if not arn or session is None:
            return None, ("MissingParameter", "The request must contain the "
                          "parameter %s" % ("RoleArn" if not arn else
                                            "RoleSessionName"))
        if not SESSION_RE.match(session):
            return None, ("ValidationError", "1 validation error detected: "
                          "Value '%s' at 'roleSessionName' failed to satisfy "
                          "constraint: Member must satisfy regular expression "
                          "pattern: [\\w+=,.@-]*" % session)
        role = fake.cfg.get("roles", {}).get(arn)
        return role, None

    def assume_role(self, body, params, rec):
        fake = self.server.fake
        who = self.verify(body, rec)
        if isinstance(who, tuple):
            return self.sts_error(rec, *who)
        role, bad = self.check_common(params, rec)
        if bad:
            return self.sts_error(rec, *bad)
        arn = params["RoleArn"]
        denied = ("AccessDenied", "User: %s is not authorized to perform: "
                  "sts:AssumeRole on resource: %s" % (who["arn"], arn))
        if role is None:
            return self.sts_error(rec, *denied)
        trust = role.get("trust", [])
        if "*" not in trust and who["arn"] not in trust:
            return self.sts_error(rec, *denied)
        if role.get("external_id") and params.get("ExternalId") != role["external_id"]:
            return self.sts_error(rec, *denied)
        duration = int(params.get("DurationSeconds", "3600"))
        if duration < 900 or duration > role.get("max_session", 3600):
            return self.sts_error(rec, "ValidationError", "The requested "
                                  "DurationSeconds exceeds the MaxSessionDuration "
                                  "set for this role.")
        c = fake.issue("AssumeRole", arn, role.get("lifetime", duration))
        return self.sts_answer(rec, "AssumeRole", arn, c,
                               "    <PackedPolicySize>6</PackedPolicySize>\n")

    def web_identity(self, params, rec):
        fake = self.server.fake
        if "Authorization" in self.headers:
            rec["signed_anyway"] = True
        role, bad = self.check_common(params, rec)
        if bad:
            return self.sts_error(rec, *bad)
        token = params.get("WebIdentityToken")
        if not token:
            return self.sts_error(rec, "MissingParameter", "The request must "
                                  "contain the parameter WebIdentityToken")
        info = fake.cfg.get("web_tokens", {}).get(token)
        rec["token_known"] = info is not None
        if info is not None:
            rec["token_sub"] = info.get("sub")
        if info is None:
            return self.sts_error(rec, "InvalidIdentityToken",
                                  "Couldn't retrieve verification key from "
                                  "your identity provider,  please reference "
                                  "AssumeRoleWithWebIdentity documentation for "
                                  "requirements")
        if info.get("expired"):
            now = int(time.time())
            return self.sts_error(rec, "ExpiredTokenException",
                                  "Token expired: current date/time %d must be "
                                  "before the expiration date/time%d" % (
                                      now, now - 60))
        arn = params["RoleArn"]
        if role is None or token not in role.get("web_tokens", []):
            return self.sts_error(rec, "AccessDenied", "Not authorized to "
                                  "perform sts:AssumeRoleWithWebIdentity")
        c = fake.issue("AssumeRoleWithWebIdentity", arn,
                       role.get("lifetime", 3600))
        sub = info.get("sub", "system:serviceaccount:default:default")
        return self.sts_answer(
            rec, "AssumeRoleWithWebIdentity", arn, c,
            "    <SubjectFromWebIdentityToken>%s</SubjectFromWebIdentityToken>\n"
            "    <Audience>sts.amazonaws.com</Audience>\n"
            "    <Provider>arn:aws:iam::%s:oidc-provider/oidc.eks.us-east-1."
            "amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE</Provider>\n" % (
                xml_escape(sub), arn.split(":")[4]))

    # ---- IMDS -------------------------------------------------------------

    def imds_token_ok(self):
        fake = self.server.fake
        tok = self.headers.get("X-aws-ec2-metadata-token")
        with fake.lock:
            exp = fake.imds_tokens.get(tok) if tok else None
        return tok, exp is not None and exp > time.time()

    def imds(self):
        fake = self.server.fake
        cfg = fake.cfg.get("imds", {})
        self.rec = rec = {"api": "imds", "method": self.command, "path": self.path}
        try:
            self.body()
            if fake.down("imds"):
                rec["status"] = 500
                return self.send(500, "Internal Server Error", "text/plain")
            if fake.flag("imds.forget"):
                os.unlink(os.path.join(fake.args.state, "imds.forget"))
                with fake.lock:
                    fake.imds_tokens.clear()
            v1only = fake.flag("imds.v1only")
            if self.command == "PUT" and v1only:
                rec["status"] = 405
                return self.send(405, "Method Not Allowed", "text/plain")
            if self.command == "PUT" and self.path == "/latest/api/token":
                ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
                rec["ttl"] = ttl
                if "X-Forwarded-For" in self.headers:
                    rec["status"] = 403
                    return self.send(403, "Forbidden", "text/plain")
                if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                    rec["status"] = 400
                    return self.send(400, "Bad Request", "text/plain")
                tok = secrets.token_urlsafe(40)
                with fake.lock:
                    fake.imds_tokens[tok] = time.time() + int(ttl)
                rec["status"] = 200
                return self.send(200, tok, "text/plain",
                                 {"X-aws-ec2-metadata-token-ttl-seconds": ttl})
            if self.command != "GET":
                rec["status"] = 405
                return self.send(405, "Method Not Allowed", "text/plain")
            tok, ok = self.imds_token_ok()
            rec["token"] = tok is not None
            if (tok is not None and not ok) or (tok is None and not (
                    cfg.get("v1") or v1only)):
                rec["status"] = 401
                return self.send(401, "Unauthorized", "text/plain")
            base = "/latest/meta-data/iam/security-credentials/"
            role = None if fake.flag("imds.norole") else cfg.get("role")
            if self.path == base and role:
                rec["status"] = 200
                return self.send(200, role, "text/plain")
            if role and self.path == base + role:
                life = cfg.get("lifetime", 21600)
                c = fake.rotating("imds", "arn:aws:iam::111122223333:role/" + role,
                                  life)
                exp = c["expires"] - (life + 60 if cfg.get("stale") else 0)
                rec["status"] = 200
                rec["issued"] = c["akid"]
                return self.send(200, json.dumps({
                    "Code": "Success", "LastUpdated": iso(time.time()),
                    "Type": "AWS-HMAC", "AccessKeyId": c["akid"],
                    "SecretAccessKey": c["secret"], "Token": c["token"],
                    "Expiration": iso(exp)}, indent=2), "text/plain")
            rec["status"] = 404
            return self.send(404, "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n"
                             "<title>404 - Not Found</title>\n", "text/html")
        finally:
            self.log_rec()

    # ---- container endpoint ---------------------------------------------

    def container(self):
        fake = self.server.fake
        cfg = fake.cfg.get("container", {})
        self.rec = rec = {"api": "container", "path": self.path}
        try:
            if fake.down("container"):
                rec["status"] = 500
                return self.send(500, json.dumps({"code": "InternalError",
                                                  "message": "down"}),
                                 "application/json")
            want = cfg.get("token")
            got = self.headers.get("Authorization")
            rec["auth"] = got is not None
            if want is not None and got != want:
                rec["status"] = 401 if got is None else 403
                return self.send(rec["status"], json.dumps({
                    "code": "AccessDeniedException",
                    "message": "invalid authorization token"}), "application/json")
            life = cfg.get("lifetime", 21600)
            c = fake.rotating("container", "arn:aws:iam::111122223333:role/task", life)
            rec["status"] = 200
            rec["issued"] = c["akid"]
            return self.send(200, json.dumps({
                "AccessKeyId": c["akid"], "SecretAccessKey": c["secret"],
                "Token": c["token"], "Expiration": iso(c["expires"]),
                "RoleArn": c["role"], "AccountId": "111122223333"}),
                "application/json")
        finally:
            self.log_rec()

    # ---- dispatch ---------------------------------------------------------

    def do_POST(self):
        if self.path.split("?")[0] == "/":
            return self.sts()
        self.body()
        self.send(404, "not found", "text/plain")

    def do_PUT(self):
        return self.imds()

    def do_GET(self):
        cfg = self.server.fake.cfg.get("container")
        if cfg and self.path == cfg.get("path"):
            return self.container()
        if self.path.startswith("/latest/"):
            return self.imds()
        self.send(404, "not found", "text/plain")


def main():
    ap = argparse.ArgumentParser(description="local fake AWS credential services")
    ap.add_argument("--config", required=True)
    ap.add_argument("--issued")
    ap.add_argument("--requests")
    ap.add_argument("--state")
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    serve(Handler, Fake(args), args, args.bind)


if __name__ == "__main__":
    main()
