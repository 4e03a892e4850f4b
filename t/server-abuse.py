#!/usr/bin/env python3
"""t/server-abuse.py: abusive HTTP clients for t/0730-server-abuse.t.

Raw sockets on loopback, so requests can be malformed, half-sent or
trickled; several client addresses come from 127.0.0.0/8 (every one of
them is this host).  Each scenario prints lines "name value" that the test
compares; times are printed as the bound they stayed within.

  framing PORT PATH             bad framing: status of each, and whether at once
  intact PORT PATH              odd but whole heads (bare LF, blanks, empty
                                values): status of each
  body PORT PATH                chunk size ffffffffffffffff: status, when
  halfopen PORT N SRC REQFILE   N half-open connections from SRC held while
                                REQFILE's request is sent from 127.0.0.1
  trickle PORT SECS EVERY       one byte every EVERY s: when the server closed
  rate PORT PATH N R            N requests on new connections: the statuses,
                                and the most a rate of R/s lets through
  watchers PORT N PERADDR       N watchers, PERADDR per address; then a GET
"""
import os
import resource
import socket
import sys
import time

# as many sockets as the hard limit allows (CI's soft limit is often 1024)
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if _soft < _hard:
    resource.setrlimit(resource.RLIMIT_NOFILE, (_hard, _hard))


def conn(port, src="127.0.0.1", timeout=10):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def status_of(s):
    """The status code of the reply on s, 'closed' at EOF, 'timeout'."""
    data = b""
    try:
        while b"\r\n" not in data:
            d = s.recv(4096)
            if not d:
                break
            data += d
    except socket.timeout:
        return "timeout", data
    except ConnectionResetError:
        return "closed", data
    if not data:
        return "closed", data
    try:
        while b"\r\n\r\n" not in data:
            d = s.recv(4096)
            if not d:
                break
            data += d
    except (socket.timeout, ConnectionResetError):
        pass
    parts = data.split(b" ", 2)
    return parts[1].decode() if len(parts) > 1 else "garbage", data


def request(port, raw, src="127.0.0.1", timeout=10):
    s = conn(port, src, timeout)
    t0 = time.monotonic()
    try:
        s.sendall(raw)
    except (BrokenPipeError, ConnectionResetError):
        pass
    code, data = status_of(s)
    el = time.monotonic() - t0
    s.close()
    return code, el, data


# ABUSE_AUTH: an Authorization header value sent with every request
AUTH = os.environ.get("ABUSE_AUTH", "")
AUTH_LINE = ("Authorization: %s\r\n" % AUTH).encode() if AUTH else b""


def get(path, keep=False):
    return (("GET %s HTTP/1.1\r\nHost: t\r\n" % path).encode() + AUTH_LINE +
            (b"\r\n" if keep else b"Connection: close\r\n\r\n"))


def at_once(el):
    return "at-once" if el < 2.0 else "after-%.0fs" % el


def framing(port, path):
    head = ("POST %s HTTP/1.1\r\nHost: t\r\nce-specversion: 1.0\r\n"
            "ce-id: 1\r\nce-source: /s\r\nce-type: t\r\n" % path).encode()
    head += AUTH_LINE
    cases = [
        ("content-length-conflict",
         head + b"Content-Length: 2\r\nContent-Length: 30\r\n\r\n{}"),
        ("content-length-list",
         head + b"Content-Length: 2, 30\r\n\r\n{}"),
        ("transfer-encoding-gzip-chunked",
         head + b"Transfer-Encoding: gzip, chunked\r\n\r\n"),
        ("transfer-encoding-and-content-length",
         head + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"),
        ("transfer-encoding-twice",
         head + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked"
         b"\r\n\r\n"),
        ("content-length-over-max",
         head + b"Content-Length: 99999999999\r\n\r\n"),
        ("content-length-overflow",
         head + b"Content-Length: 99999999999999999999999\r\n\r\n"),
        ("nul-in-header-name",
         head + b"X-A\x00b: c\r\nContent-Length: 2\r\n\r\n{}"),
        # libmicrohttpd 0.9.75 would cut these values at the NUL
        ("nul-in-header-value",
         head + b"X-A: b\x00c\r\nContent-Length: 2\r\n\r\n{}"),
        ("nul-in-last-header-value",
         head + b"Content-Length: 2\r\nX-A: b\x00c\r\n\r\n{}"),
        ("nul-ending-header-value",
         head + b"X-A: b\x00\r\nContent-Length: 2\r\n\r\n{}"),
        ("nul-starting-header-value",
         head + b"X-A:\x00 b\r\nContent-Length: 2\r\n\r\n{}"),
        ("folded-header",
         head + b"X-A: b\r\n c\r\nContent-Length: 2\r\n\r\n{}"),
        ("chunk-size-17-digits",
         head + b"Transfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\n"),
    ]
    for name, raw in cases:
        code, el, _ = request(port, raw)
        print(name, code, at_once(el))


def intact(port, path):
    """Heads that are odd but whole: the NUL check must let them through."""
    cases = [
        ("bare-lf", ("POST %s HTTP/1.1\nHost: t\nce-specversion: 1.0\n"
                     "ce-id: lf\nce-source: /s\nce-type: t\n" % path).encode()
         + AUTH_LINE.replace(b"\r\n", b"\n")
         + b"X-Empty:\nX-Blank: \t \nContent-Length: 2\n\n{}"),
        ("blanks", ("POST %s HTTP/1.1\r\nHost:t\r\nce-specversion:\t1.0\r\n"
                    "ce-id:   blanks  \r\nce-source: /s\r\nce-type: t\r\n"
                    % path).encode() + AUTH_LINE
         + b"X-Empty:\r\nContent-Length: 2\r\n\r\n{}"),
    ]
    for name, raw in cases:
        code, el, _ = request(port, raw)
        print(name, code, at_once(el))


def body(port, path, wait):
    raw = ("POST %s HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
           % path).encode() + AUTH_LINE + b"\r\nffffffffffffffff\r\n"
    code, el, _ = request(port, raw, timeout=float(wait))
    print("chunk-size-ffffffffffffffff", code, at_once(el) if code != "timeout"
          else "no-answer")


def halfopen(port, n, src, reqfile):
    held, refused = [], 0
    for _ in range(n):
        try:
            s = conn(port, src)
            s.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Le")
            held.append(s)
        except OSError:
            refused += 1
    # The server closes the connections over its bounds as it accepts
    # them, in order: once another client's later connection is answered,
    # it has decided on all of them (a fixed pause was too short under load).
    with open(reqfile, "rb") as f:
        raw = f.read()
    code, el, _ = request(port, raw)
    alive = []
    for s in held:
        s.setblocking(False)
        try:
            d = s.recv(1)
            closed = d == b""
        except BlockingIOError:
            closed = False
        except OSError:
            closed = True
        if closed:
            refused += 1
            s.close()
        else:
            alive.append(s)
    print("held", len(alive))
    print("closed-at-once", refused)
    print("other-client", code, at_once(el))
    for s in alive:
        s.close()


def trickle(port, limit, every):
    s = conn(port, timeout=float(limit))
    t0 = time.monotonic()
    msg = b"GET /api/v1/range HTTP/1.1\r\nHost: t\r\n" + AUTH_LINE + \
        b"X-Slow: " + b"a" * 1000
    i = 0
    while time.monotonic() - t0 < float(limit):
        try:
            s.sendall(msg[i:i + 1])
        except OSError:
            break
        i += 1
        s.settimeout(float(every))
        try:
            if s.recv(4096) == b"":
                break
        except socket.timeout:
            continue
        except OSError:
            break
    el = time.monotonic() - t0
    print("bytes-sent", i)
    print("closed-after", int(el))


def rate(port, path, n, rate_n):
    codes = []
    retry = ""
    t0 = time.monotonic()
    for _ in range(n):
        code, _, data = request(port, get(path))
        codes.append(code)
        for line in data.split(b"\r\n"):
            if line.lower().startswith(b"retry-after:"):
                retry = line.split(b":", 1)[1].strip().decode()
    # the bucket refills while the requests go: the most that may pass
    print("most", int(rate_n + (time.monotonic() - t0) * rate_n) + 1)
    print("codes", " ".join(codes))
    print("retry-after", retry)


def watchers(port, n, peraddr):
    socks, codes = [], {}
    for i in range(n):
        src = "127.0.%d.%d" % (1 + i // peraddr // 250, 1 + i // peraddr % 250)
        try:
            s = conn(port, src)
            s.sendall(get("/api/v1/events?watch=true", keep=True))
            code, _ = status_of(s)
        except OSError:
            code = "refused"
        codes[code] = codes.get(code, 0) + 1
        socks.append(s)
    for k in sorted(codes):
        print("watch", k, codes[k])
    code, el, _ = request(port, get("/api/v1/range"))
    print("range-while-held", code, at_once(el))
    for s in socks:
        s.close()


def main():
    a = sys.argv[1:]
    if a[0] == "framing":
        framing(int(a[1]), a[2])
    elif a[0] == "intact":
        intact(int(a[1]), a[2])
    elif a[0] == "body":
        body(int(a[1]), a[2], a[3])
    elif a[0] == "halfopen":
        halfopen(int(a[1]), int(a[2]), a[3], a[4])
    elif a[0] == "trickle":
        trickle(int(a[1]), a[2], a[3])
    elif a[0] == "rate":
        rate(int(a[1]), a[2], int(a[3]), int(a[4]))
    elif a[0] == "watchers":
        watchers(int(a[1]), int(a[2]), int(a[3]))
    else:
        sys.exit("unknown scenario " + a[0])


main()
