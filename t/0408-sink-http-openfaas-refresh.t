#!/bin/sh
# OpenFaaS mode keeps going on the function list it has when a refresh fails
# (404, 401), reads a rotated credentials file, and only a first fetch that
# fails ends the run; a stop invokes no further function; a dead-letter
# record cannot steer a request elsewhere on the gateway.
. "${0%/*}/lib.sh"
command -v sink-http >/dev/null || skip_all "sink-http not built"
command -v jq >/dev/null || skip_all "jq not installed"
plan 25
D=$VP_SRCDIR/t/data
FAST="--retry-base 10ms --retry-cap 40ms"
S1=$(sed -n 1p "$D/sink-http-structured.ndjson")

# start_gateway NAME FUNCTIONS [gateway.py options]: the fake gateway, its
# URL in GW
start_gateway() {
	_n=$1 _f=$2; shift 2
	python3 "$VP_SRCDIR/t/fake-openfaas/gateway.py" --functions "$_f" \
	    --password gw-pass-1 --log "$T/$_n.log" --port-file "$T/$_n.port" \
	    "$@" 2>"$T/$_n.gw.err" &
	bg_pid $!
	wait_for 60 test -s "$T/$_n.port" || bail "fake gateway $_n did not start: $(cat "$T/$_n.gw.err" 2>/dev/null)"
	GW=http://127.0.0.1:$(cat "$T/$_n.port")
}
# calls NAME: "function event-id" for each invocation
calls() {
	jq -r 'select(.function)|"\(.function) \(.body|fromjson|.id)"' "$T/$1.log"
}
ncalls() { calls "$1" | wc -l | tr -d ' '; }
# run_fifo NAME ARGS...: sink-http reading the fifo $T/NAME.in on fd 3
run_fifo() {
	_n=$1; shift
	rm -f "$T/$_n.in"; mkfifo "$T/$_n.in"
	$VP_WRAP sink-http "$@" <"$T/$_n.in" 2>"$T/$_n.err" &
	SPID=$!; bg_pid $SPID
	exec 3>"$T/$_n.in"
}
finish() { exec 3>&-; set +e; wait $SPID; RC=$?; set -e; }
ev() { printf '%s\n' "$S1" | jq -c --arg id "$1" '.id=$id' >&3; }

# A proxy in front of the fake gateway that can make the list request fail:
# $T/px.status holds a status to answer instead, $T/px.pass the password it
# wants (the gateway's own is fixed); all else goes to the gateway. Each
# request is noted in $T/px.log.
cat >"$T/proxy.py" <<'EOF'
import base64, http.client, os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
up, ctl, portfile = int(sys.argv[1]), sys.argv[2], sys.argv[3]

def read(name):
    try:
        return open(os.path.join(ctl, name)).read().strip()
    except FileNotFoundError:
        return ""

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def note(self):
        with open(os.path.join(ctl, "px.log"), "a") as f:
            f.write("%s %s\n" % (self.command, self.path))
    def answer(self, status, body, hdrs=()):
        self.send_response(status)
        for k, v in hdrs:
            if k.lower() not in ("content-length", "connection", "date", "server"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def forward(self, body, auth=None):
        h = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        if auth:
            h["Authorization"] = auth
        c = http.client.HTTPConnection("127.0.0.1", up)
        c.request(self.command, self.path, body=body, headers=h)
        r = c.getresponse()
        self.answer(r.status, r.read(), r.getheaders())
    def do_GET(self):
        self.note()
        st = read("px.status")
        if st:
            return self.answer(int(st), b"scripted\n")
        want = "Basic " + base64.b64encode(("admin:" + read("px.pass")).encode()).decode()
        if self.headers.get("Authorization") != want:
            return self.answer(401, b"Unauthorized\n")
        self.forward(None, "Basic " + base64.b64encode(b"admin:gw-pass-1").decode())
    def do_POST(self):
        self.note()
        n = int(self.headers.get("content-length") or 0)
        self.forward(self.rfile.read(n) if n else b"")

srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
with open(portfile + ".tmp", "w") as f:
    f.write("%d\n" % srv.server_address[1])
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
EOF

cp "$D/sink-http-functions.json" "$T/fns.json"
start_gateway a "$T/fns.json"
python3 "$T/proxy.py" "$(cat "$T/a.port")" "$T" "$T/px.port" 2>"$T/px.err" &
bg_pid $!
wait_for 60 test -s "$T/px.port" || bail "proxy did not start"
PX=http://127.0.0.1:$(cat "$T/px.port")
printf 'p1\n' >"$T/px.pass"
printf 'admin\np1\n' >"$T/cred"

# the first fetch failing still ends the run
printf '%s\n' "$S1" >"$T/one"
printf '404\n' >"$T/px.status"
expect_exit "first list fetch answered 404: exit 78" 78 \
    $VP_WRAP sink-http --openfaas "$PX" --credentials-file "$T/cred" $FAST <"$T/one"
rm "$T/px.status"
printf 'admin\nwrong\n' >"$T/bad"
expect_exit "first list fetch answered 401: exit 77" 77 \
    $VP_WRAP sink-http --openfaas "$PX" --credentials-file "$T/bad" $FAST <"$T/one"
check "it says to check the credentials" grep -q 'system/functions: HTTP 401: check --credentials-file' "$T/.exit.err"

# later refreshes that fail keep the list (VmPoweredOnEvent: fn-on, fn-all)
run_fifo r --openfaas "$PX" --credentials-file "$T/cred" --refresh 100ms $FAST
ev e1
wait_for 10 sh -c "[ \$(jq -r 'select(.function)' '$T/a.log' | grep -c '\"fn-') -ge 2 ]" || true
is "the first event reached its functions" "fn-on e1,fn-all e1" "$(calls a | paste -sd, -)"
printf '404\n' >"$T/px.status"
sleep 0.3
ev e2
wait_for 10 sh -c "[ \$(grep -c e2 '$T/a.log') -ge 2 ]" || true
is "a refresh answered 404: the event still reached both" "fn-on e2,fn-all e2" \
    "$(calls a | grep e2 | paste -sd, -)"
check "it warned and kept the list" \
    grep -q 'system/functions: HTTP 404; keeping the previous function list' "$T/r.err"
# the gateway's password changes; the credentials file not yet
rm "$T/px.status"
printf 'p2\n' >"$T/px.pass"
sleep 0.3
ev e3
wait_for 10 sh -c "[ \$(grep -c e3 '$T/a.log') -ge 2 ]" || true
is "a refresh answered 401: the event still reached both" "fn-on e3,fn-all e3" \
    "$(calls a | grep e3 | paste -sd, -)"
check "it warned and kept the list" \
    grep -q 'system/functions: HTTP 401; keeping the previous function list' "$T/r.err"
# now the Secret is rotated too, and a function was added
printf 'admin\np2\n' >"$T/cred"
jq '. + [{"name":"fn-new","annotations":{"topic":"vm.powered.on"}}]' "$T/fns.json" >"$T/fns.tmp"
mv "$T/fns.tmp" "$T/fns.json"
sleep 0.3
ev e4
wait_for 10 sh -c "[ \$(grep -c e4 '$T/a.log') -ge 3 ]" || true
finish
is "the run went on to the end: exit 0" 0 "$RC"
is "after the rotation the new list was used" "fn-on e4,fn-all e4,fn-new e4" \
    "$(calls a | grep e4 | paste -sd, -)"
check "it says the credentials file changed" grep -q 'credentials file changed' "$T/r.err"

# a stop while the first list is still being fetched: 75 even with --dlq,
# nothing dead-lettered (no function is known)
# a port that is bound but never listens refuses every connection (a fixed
# port such as 1 may be anybody's on a shared machine)
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0))
open(sys.argv[1], "w").write(str(s.getsockname()[1])); time.sleep(600)' "$T/closed.port" &
bg_pid $!
wait_for 60 test -s "$T/closed.port" || bail "no closed port"
run_fifo s --openfaas "http://127.0.0.1:$(cat "$T/closed.port")" --retry-base 2s --retry-cap 2s \
    --dlq "$T/s.dlq" --checkpoint "$T/s.ck"
ev s1
wait_for 10 grep -q 'retry in' "$T/s.err" || true
kill -TERM $SPID
finish
is "stopped before a function list: exit 75" 75 "$RC"
is "no dead letter, no checkpoint" "no no" \
    "$(test -s "$T/s.dlq" && echo yes || echo no) $(test -e "$T/s.ck" && echo yes || echo no)"

# SIGTERM while the first of three functions is retried, with --dlq: the
# others are not invoked, nothing is dead-lettered, the event is not done
# (it comes again after the restart): exit 75
printf '%s\n' '[{"name":"fn-slow","annotations":{"topic":"*"}},
 {"name":"fn-two","annotations":{"topic":"*"}},
 {"name":"fn-three","annotations":{"topic":"*"}}]' >"$T/fns3.json"
i=0 slow=""
while [ $i -lt 300 ]; do i=$((i + 1)); slow="$slow,503"; done
start_gateway b "$T/fns3.json" --script "fn-slow=${slow#,}"
printf 'admin\ngw-pass-1\n' >"$T/cred1"
run_fifo t --openfaas "$GW" --credentials-file "$T/cred1" $FAST --max-retries 100000 \
    --dlq "$T/t.dlq" --checkpoint "$T/t.ck"
ev t1
wait_for 10 sh -c "[ \$(grep -c fn-slow '$T/b.log') -ge 3 ]" || true
kill -TERM $SPID
finish
is "SIGTERM with --dlq: exit 75" 75 "$RC"
is "only fn-slow was invoked" "fn-slow" "$(calls b | cut -d' ' -f1 | sort -u)"
is "nothing dead-lettered" no "$(test -s "$T/t.dlq" && echo yes || echo no)"
is "the event is not done: no checkpoint names it" no "$(test -e "$T/t.ck" && echo yes || echo no)"

# the same without --dlq: exit 75, the event not done
: >"$T/b.log"
run_fifo u --openfaas "$GW" --credentials-file "$T/cred1" $FAST --max-retries 100000 \
    --checkpoint "$T/u.ck"
ev u1
wait_for 10 sh -c "[ \$(grep -c fn-slow '$T/b.log') -ge 3 ]" || true
kill -TERM $SPID
finish
is "SIGTERM without --dlq: exit 75" 75 "$RC"
is "still only fn-slow was invoked" "fn-slow" "$(calls b | cut -d' ' -f1 | sort -u)"
check "no checkpoint names the event" sh -c "! grep -q u1 '$T/u.ck' 2>/dev/null"

# a replayed record whose function is a path (to the gateway's deploy
# endpoint): refused as an invalid line
printf '%s\n' "$S1" | jq -c '. + {deadletter:{reason:"rejected",function:"../system/functions"}}' >"$T/evil"
printf '%s\n' "$S1" | jq -c '. + {deadletter:{reason:"rejected",function:".."}}' >>"$T/evil"
: >"$T/px.log"
expect_exit "a function that is a path, without --dlq: exit 65" 65 \
    $VP_WRAP sink-http --openfaas "$PX" --credentials-file "$T/cred" <"$T/evil"
check "the error names the line" grep -q '^sink-http: stdin:1: dead-letter record with a bad "function"' "$T/.exit.err"
expect_exit "with --dlq both are dead-lettered" 0 \
    $VP_WRAP sink-http --openfaas "$PX" --credentials-file "$T/cred" --dlq "$T/evil.dlq" <"$T/evil"
is "as invalid lines 1 and 2" "invalid line 1,invalid line 2" \
    "$(jq -r '"\(.deadletter.reason) \(.deadletter.line)"' "$T/evil.dlq" | paste -sd, -)"
is "no POST reached the gateway" 0 "$(grep -c '^POST' "$T/px.log" || true)"
done_testing
