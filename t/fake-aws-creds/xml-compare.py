#!/usr/bin/env python3
"""xml-compare: sink-eventbridge's XML reader against Python's ElementTree.

Usage: xml-compare.py AWSXML-CHECK DIR [N [SEED]]
Writes STS's answers (success and error shapes), hand-made edge cases and N
random mutations of them to DIR, runs AWSXML-CHECK on them all and compares
each result with ElementTree's (expat's) reading of the same bytes:
  - a document expat refuses is refused (a truncated or mangled answer
    is never half read);
  - a document both accept gives the same text for every path;
  - the reader may refuse what expat accepts only for a DOCTYPE (there are
    no entity definitions to expand) or a declared encoding other than
    UTF-8.
Prints one line per disagreement and exits 1 when there is any.
"""
import os
import random
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

NS = "https://sts.amazonaws.com/doc/2011-06-15/"
PATHS = [
    "AssumeRoleResponse/AssumeRoleResult/Credentials/AccessKeyId",
    "AssumeRoleResponse/AssumeRoleResult/Credentials/SecretAccessKey",
    "AssumeRoleResponse/AssumeRoleResult/Credentials/SessionToken",
    "AssumeRoleResponse/AssumeRoleResult/Credentials/Expiration",
    "AssumeRoleWithWebIdentityResponse/AssumeRoleWithWebIdentityResult/Credentials/AccessKeyId",
    "AssumeRoleWithWebIdentityResponse/AssumeRoleWithWebIdentityResult/Credentials/SessionToken",
    "ErrorResponse/Error/Code",
    "ErrorResponse/Error/Message",
    "a/b",
    "a/b/c",
]

ASSUME = """<AssumeRoleResponse xmlns="%s">
  <AssumeRoleResult>
    <AssumedRoleUser>
      <AssumedRoleId>AROA3XFRBF535PLBIFPI4:s3-access-example</AssumedRoleId>
      <Arn>arn:aws:sts::123456789012:assumed-role/xaccounts3access/s3-access-example</Arn>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAJEXAMPLEXEG2JICEA</AccessKeyId>
      <SecretAccessKey>9drTJvcXLB89EXAMPLELB8923FB892xMFI</SecretAccessKey>
      <SessionToken>AQoXdzELDDY//////////wEaoAK1wvxJY12r2IrDFT2IvAzTCn3zHoZ7YNtpiQLF0MqZye/qwjzP2iEXAMPLEbw/m3hsj8VBTkPORGvr9jM5sgP+w9IZWZnU+LWhmg+a5fDi2oTGUYcdg9uexQ4mtCHIHfi4citgqZTgco40Yqr4lIlo4V2b2Dyauk0eYFNebHtYlFVgAUj+7Indz3LU0aTWk1WKIjHmmMCIoTkyYp/k7kUG7moeEYKSitwQIi6Gjn+nyzM+PtoA3685ixzv0R7i5rjQi0YE0lf1oeie3bDiNHncmzosRM6SFiPzSvp6h/32xQuZsjcypmwsPSDtTPYcs0+YN/8BRi2/IcrxSpnWEXAMPLEXSDFTAQAM6Dl9zR0tXoybnlrZIwMLlMi1Kcgo5OytwU=</SessionToken>
      <Expiration>2016-03-15T00:05:07Z</Expiration>
    </Credentials>
    <PackedPolicySize>6</PackedPolicySize>
    <SourceIdentity>DevUser123</SourceIdentity>
  </AssumeRoleResult>
  <ResponseMetadata>
    <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
  </ResponseMetadata>
</AssumeRoleResponse>
""" % NS

WEBID = """<?xml version="1.0" encoding="UTF-8"?>
<AssumeRoleWithWebIdentityResponse xmlns="%s">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>amzn1.account.AF6RHO7KZU5XRVQJGXK6HB56KR2A</SubjectFromWebIdentityToken>
    <Audience>client.5498841531868486423.1548@apps.example.com</Audience>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/FederatedWebIdentityRole/app1</Arn>
      <AssumedRoleId>AROACLKWSDQRAOEXAMPLE:app1</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <SessionToken>AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE</SessionToken>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <Expiration>2014-10-24T23:00:23Z</Expiration>
      <AccessKeyId>ASgeIAIOSFODNN7EXAMPLE</AccessKeyId>
    </Credentials>
    <SourceIdentity>SourceIdentityValue</SourceIdentity>
    <Provider>www.amazon.com</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata>
    <RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId>
  </ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>
""" % NS

ERROR = """<ErrorResponse xmlns="%s">
  <Error>
    <Type>Sender</Type>
    <Code>AccessDenied</Code>
    <Message>User: arn:aws:iam::123456789012:user/ops is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::123456789012:role/x &amp; &lt;more&gt;</Message>
  </Error>
  <RequestId>4d0a0c49-3c2f-11e3-8f9a-EXAMPLE</RequestId>
</ErrorResponse>
""" % NS

EDGE = [
    "<a><b>x &amp; y &lt;&gt; &quot;&apos; &#65;&#x42;&#x1F600;</b></a>",
    "<a><b><![CDATA[<not & a tag>]]> and text</b></a>",
    "<a><b>one<!-- a comment -->two<?pi data?>three</b></a>",
    "<a><b>  padded\n\t</b></a>",
    "<a><b/><b>second</b></a>",
    "<a><b>outer<c>inner</c>tail</b></a>",
    "<p:a xmlns:p='urn:x'><p:b attr=\"1 &gt; 0\" other='it''s'>ns</p:b></p:a>",
    "<p:a xmlns:p='urn:x'><p:b attr=\"1 &gt; 0\" other='its'>ns</p:b></p:a>",
    "\ufeff<a><b>bom</b></a>",
    "<a><b>unterminated</b>",
    "<a><b>mismatch</c></a>",
    "<a><b>x</b></a><a/>",
    "<a><b>&bogus;</b></a>",
    "<a><b>&#0;</b></a>",
    "<a><b>&#xD800;</b></a>",
    "<a><b>\x01</b></a>",
    "<!DOCTYPE a [<!ENTITY e 'boom'>]><a><b>&e;</b></a>",
    "text<a><b>x</b></a>",
    "<a><b attr=noquote>x</b></a>",
    "<a><b attr='a<b'>x</b></a>",
    "<a><b a='1' a='2'>dup</b></a>",
    "<a><!-- bad -- comment --><b>x</b></a>",
    "<a><b>x</b></a><?xml version='1.0'?>",
    "<a><b>caf\u00e9 \u65e5\u672c</b></a>",
    "<a><b>]]> in text</b></a>",
    "",
    "   ",
]


DECL_ENC = re.compile(rb'^(\xef\xbb\xbf)?<\?xml[^>]*encoding\s*=\s*["\']([^"\']*)')
NS_BRACE = re.compile(rb'xmlns(:[^=\s]*)?\s*=\s*("[^"]*}|\'[^\']*})')


def reference(data):
    """(accepted, {path: text or None}) as ElementTree reads data; None
    when the reader may differ: it refuses every DOCTYPE and any encoding
    but UTF-8 (and US-ASCII) however spelled, and ElementTree cannot take
    a '}' in a namespace name (its own separator)."""
    m = DECL_ENC.match(data)
    if b"<!DOCTYPE" in data or NS_BRACE.search(data) or (
            m and m.group(2).lower() not in (b"utf-8", b"us-ascii")):
        return None, None
    try:
        root = ET.fromstring(data)
    except (ET.ParseError, LookupError, ValueError):
        return False, None

    def walk(e, prefix):
        local = e.tag.split("}")[-1]
        path = prefix + "/" + local if prefix else local
        yield path, e
        for c in e:
            yield from walk(c, path)
    out = {}
    for p in PATHS:
        out[p] = None
        for path, e in walk(root, ""):
            if path == p:
                text = (e.text or "") + "".join(c.tail or "" for c in e)
                out[p] = text.strip(" \t\r\n").replace("\\", "\\\\") \
                    .replace("\n", "\\n").replace("\r", "\\r")
                break
    return True, out


def mutate(rng, doc):
    b = bytearray(doc)
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(5)
        i = rng.randrange(len(b) + 1)
        if op == 0 and b:
            del b[i:i + rng.randint(1, 8)]
        elif op == 1:
            b[i:i] = rng.choice([b"<", b">", b"&", b'"', b"'", b"/", b"]]>",
                                 b"--", b"<?", b"<!--", b"&amp;", b"&#x41;",
                                 b"<![CDATA[", b" ", b"=", b"\x00", b"\xff",
                                 b"\xc3\xa9", b"</a>", b"<b>"])
        elif op == 2:
            j = rng.randrange(len(b) + 1)
            b[i:i] = b[j:j + rng.randint(1, 30)]
        elif op == 3:
            del b[i:]
        elif b:
            b[min(i, len(b) - 1)] = rng.randrange(256)
    return bytes(b)


def main():
    check, d = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 20261127)
    seeds = [ASSUME.encode(), WEBID.encode(), ERROR.encode()]
    docs = seeds + [e.encode() for e in EDGE]
    docs += [mutate(rng, rng.choice(seeds)) for _ in range(n)]
    os.makedirs(d, exist_ok=True)
    files = []
    for i, doc in enumerate(docs):
        f = os.path.join(d, "%05d.xml" % i)
        with open(f, "wb") as fh:
            fh.write(doc)
        files.append(f)
    got = {}
    for k in range(0, len(files), 500):
        r = subprocess.run([check] + files[k:k + 500] + ["--"] + PATHS,
                           capture_output=True)
        if r.returncode != 0:
            print("%s failed (status %d) on %s..%s" % (
                check, r.returncode, files[k], files[min(k + 499, len(files) - 1)]))
            sys.exit(1)
        out = r.stdout
        cur = None
        for line in out.decode("utf-8", "replace").split("\n"):
            if line in files:
                cur = line
                got[cur] = {}
            elif line.startswith("error: "):
                got[cur] = None
            elif line:
                for p in PATHS:
                    if line == p + " absent":
                        got[cur][p] = None
                    elif line.startswith(p + "="):
                        got[cur][p] = line[len(p) + 1:]
    bad = 0
    accepted = 0
    for f, doc in zip(files, docs):
        ok, want = reference(doc)
        mine = got.get(f, "missing")
        if ok is None:
            continue
        if mine == "missing":
            print("%s: no result" % f)
            bad += 1
        elif not ok and mine is not None:
            print("%s: accepted, expat refuses: %r" % (f, doc[:200]))
            bad += 1
        elif ok and mine is None:
            print("%s: refused, expat accepts: %r" % (f, doc[:200]))
            bad += 1
        elif ok and mine != want:
            diff = [p for p in PATHS if mine.get(p) != want[p]]
            print("%s: %s: %r, expat %r" % (f, diff[0], mine.get(diff[0]),
                                           want[diff[0]]))
            bad += 1
        accepted += ok
    print("# %d documents, %d accepted by expat, %d disagreements" % (
        len(docs), accepted, bad))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
