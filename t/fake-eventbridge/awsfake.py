"""awsfake: what vcpipe's fake AWS services share.

check_sigv4 verifies a request's SigV4 signature with botocore's own
signer: the canonical request is rebuilt from what arrived on the wire and
signed again with the secret of the credential named in it.  issued finds
a credential that t/fake-aws-creds handed out.  Handler is the base of the
fakes' request handlers; serve runs one on a loopback port and writes the
port to a file.
"""
import datetime
import json
import os
import re
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,"
    r"\s*SignedHeaders=([a-z0-9;\-]+),\s*Signature=([0-9a-f]{64})$")
MISMATCH = ("The request signature we calculated does not match the signature "
            "you provided. Check your AWS Secret Access Key and signing method. "
            "Consult the service documentation for details.")


def check_sigv4(handler, body, lookup, service, region, need, codes):
    """Check handler's request (body: its bytes).

    lookup(akid) gives the credential {secret, token?, expires?} or None;
    need lists headers that must be signed (host and x-amz-date always);
    codes names the service's errors: "unknown" (a key or token it does not
    know), "signature" (bad signature or scope), "expired" (a credential
    past its expiry).  Returns (akid, credential, None) when the request is
    signed right with a live credential, else (akid, credential, (code,
    message)); "signed" in the answer's error tells a right signature with
    an expired credential apart.
    """
    m = AUTH_RE.match(handler.headers.get("Authorization", ""))
    if not m:
        return None, None, ("MissingAuthenticationToken",
                            "Request is missing Authentication Token")
    akid, day, cred_region, cred_service, signed, sig = m.groups()
    cred = lookup(akid)
    invalid = (codes["unknown"],
               "The security token included in the request is invalid.")
    if cred is None:
        return akid, None, invalid
    amzdate = handler.headers.get("X-Amz-Date", "")
    try:
        when = datetime.datetime.strptime(amzdate, "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc)
    except ValueError:
        return akid, cred, ("IncompleteSignature", "X-Amz-Date is missing or malformed")
    if abs((datetime.datetime.now(datetime.timezone.utc) - when)
           .total_seconds()) > 900:
        return akid, cred, (codes["signature"], "Signature expired")
    if day != amzdate[:8] or cred_region != region or cred_service != service:
        return akid, cred, (codes["signature"], "Credential should be scoped "
                            "to a valid region and service")
    names = signed.split(";")
    need = ["host", "x-amz-date"] + list(need)
    if cred.get("token"):
        if handler.headers.get("X-Amz-Security-Token") != cred["token"]:
            return akid, cred, invalid
        need.append("x-amz-security-token")
    for h in need:
        if h not in names:
            return akid, cred, (codes["signature"], "Header %s is not signed" % h)
    headers = {}
    for n in names:
        vals = handler.headers.get_all(n)
        if vals is None:
            return akid, cred, (codes["signature"], "Signed header %s is missing" % n)
        headers[n] = ",".join(vals)
    req = AWSRequest(method=handler.command,
                     url="http://%s%s" % (handler.headers.get("Host", "localhost"),
                                          handler.path),
                     data=body, headers=headers)
    req.context["timestamp"] = amzdate
    signer = SigV4Auth(Credentials(akid, cred["secret"], cred.get("token")),
                       service, region)
    if signer.signature(signer.string_to_sign(req, signer.canonical_request(req)),
                        req) != sig:
        return akid, cred, (codes["signature"], MISMATCH)
    if cred.get("expires") and cred["expires"] < time.time():
        return akid, cred, (codes["expired"], "The security token included in "
                            "the request is expired")
    return akid, cred, None


def issued(path, akid):
    """The credential with this key in an --issued file, or None."""
    if path and os.path.exists(path):
        with open(path) as f:
            for line in f:
                c = json.loads(line)
                if c["akid"] == akid:
                    return c
    return None


class Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive; logs only with the fake's --verbose."""
    protocol_version = "HTTP/1.1"
    # headers and body go out in two writes: without this, Nagle plus the
    # client's delayed ACK add 40 ms to every response
    disable_nagle_algorithm = True

    def log_message(self, fmt, *a):
        if self.server.fake.args.verbose:
            sys.stderr.write("%s: %s\n" % (self.server_version, fmt % a))


def serve(handler_class, fake, args, bind="127.0.0.1"):
    """Serve until killed; args.port (0: any) and args.port_file."""
    srv = ThreadingHTTPServer((bind, args.port), handler_class)
    srv.daemon_threads = True
    srv.fake = fake
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % srv.server_address[1])
        os.rename(args.port_file + ".tmp", args.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
