#!/bin/sh
# The three servers (webhook-source, stream-serve, vcpipe-metrics) under
# abusive clients on loopback (t/server-abuse.py, raw sockets; several client
# addresses from 127.0.0.0/8): connections bounded per client and in total,
# a request read whole within --request-timeout however slowly it trickles,
# authentication before any body is read, the per-client rate, watchers
# bounded, request framing refused at once with the exact status; then
# authentication (Basic and bearer) and TLS on each server.
. "${0%/*}/lib.sh"
for p in curl openssl python3; do
	command -v $p >/dev/null || skip_all "$p not installed"
done
plan 57
# the interpreter itself: a version manager's shim costs seconds a call
PY=$(python3 -c 'import sys; print(sys.executable)')
AB="$PY $VP_SRCDIR/t/server-abuse.py"

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" \
    -days 2 -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
chmod 600 "$T/key.pem"
printf 'hook\nhook-pass\n' >"$T/cred"
printf 's3cret-token\n' >"$T/token"
BASIC="Basic $(printf 'hook:hook-pass' | base64)"

# start NAME PROGRAM ARGS...: run it on a free port; its port in $port
start() {
	name=$1; shift
	$VP_WRAP "$@" --listen 127.0.0.1:0 --log-level info >"$T/$name.out" \
		2>"$T/$name.err" </dev/null &
	pid=$!; bg_pid $pid
	eval "${name}_pid=$pid"
	wait_for 60 grep -q 'port [0-9]' "$T/$name.err" || bail "$name did not start: $(cat "$T/$name.err")"
	port=$(sed -n 's/.*(port \([0-9]*\).*/\1/p' "$T/$name.err")
}
line() { sed -n "s/^$1 //p" "$T/$2"; }
# within LO HI "after-Ns": N in [LO, HI]
within() { n=${3#after-}; n=${n%s}; [ "$n" -ge "$1" ] && [ "$n" -le "$2" ]; }

# ---- webhook-source ---------------------------------------------------------
start wh webhook-source --basic-auth-file "$T/cred" --request-timeout 4s
wp=$port

ABUSE_AUTH="$BASIC" $AB framing $wp /webhook >"$T/wh.framing"
is "webhook: conflicting Content-Length: 400 at once" "400 at-once" "$(line content-length-conflict wh.framing)"
is "webhook: Content-Length list: 400 at once" "400 at-once" "$(line content-length-list wh.framing)"
is "webhook: Transfer-Encoding gzip, chunked: 501 at once" "501 at-once" "$(line transfer-encoding-gzip-chunked wh.framing)"
is "webhook: Transfer-Encoding with Content-Length: 400 at once" "400 at-once" "$(line transfer-encoding-and-content-length wh.framing)"
is "webhook: Transfer-Encoding twice: 501 at once" "501 at-once" "$(line transfer-encoding-twice wh.framing)"
is "webhook: Content-Length over --max-body: 413 at once" "413 at-once" "$(line content-length-over-max wh.framing)"
is "webhook: Content-Length past 2^64: 413 at once" "413 at-once" "$(line content-length-overflow wh.framing)"
is "webhook: NUL in a header name: 400 at once" "400 at-once" "$(line nul-in-header-name wh.framing)"
is "webhook: chunk size of 17 digits: 413 at once" "413 at-once" "$(line chunk-size-17-digits wh.framing)"
# libmicrohttpd 0.9.75 cuts a value at a NUL; the layer sees the cut in the head
is "webhook: NUL inside a header value: 400 at once" "400 at-once" "$(line nul-in-header-value wh.framing)"
is "webhook: NUL inside the last header's value: 400 at once" "400 at-once" "$(line nul-in-last-header-value wh.framing)"
is "webhook: NUL ending a header value (before CRLF): 400 at once" "400 at-once" "$(line nul-ending-header-value wh.framing)"
is "webhook: NUL starting a header value: 400 at once" "400 at-once" "$(line nul-starting-header-value wh.framing)"
is "webhook: folded header line: 400 at once" "400 at-once" "$(line folded-header wh.framing)"
ABUSE_AUTH="$BASIC" $AB intact $wp /webhook >"$T/wh.intact"
is "webhook: bare-LF head with an empty value: 204" "204 at-once" "$(line bare-lf wh.intact)"
is "webhook: blanks around values, an empty value: 204" "204 at-once" "$(line blanks wh.intact)"

# libmicrohttpd 0.9.75 takes a 16-digit chunk size (it fits 64 bits) and
# waits for the chunk without calling the server (no code of ours runs until
# chunk data comes, and no reply can be queued mid-body then): --request-timeout
# ends it (webhook-source(1) CAVEATS)
ABUSE_AUTH="$BASIC" $AB body $wp /webhook 15 >"$T/wh.body"
set -- $(line chunk-size-ffffffffffffffff wh.body)
is "webhook: chunk size ffffffffffffffff: connection closed, no answer" closed "${1:-}"
check "webhook: ... at --request-timeout (4 s; got ${2:-})" within 3 9 "${2:-}"

# no credentials: 401 before a byte of the declared megabyte is sent
printf 'POST /webhook HTTP/1.1\r\nHost: t\r\nContent-Type: application/cloudevents+json\r\nContent-Length: 1000000\r\n\r\n' >"$T/unauth"
code=$($PY -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(open(sys.argv[2], "rb").read())
print(s.recv(100).split(b" ")[1].decode())' $wp "$T/unauth")
is "webhook: no credentials, body not sent: 401 at once (authenticated before the body)" 401 "$code"

# 70 half-open connections from 127.0.0.2: 32 held (per client), 38 closed;
# an authenticated POST from another address gets through
printf 'POST /webhook HTTP/1.1\r\nHost: t\r\nAuthorization: %s\r\nce-specversion: 1.0\r\nce-id: through\r\nce-source: /s\r\nce-type: t\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}' "$BASIC" >"$T/post"
$AB halfopen $wp 70 127.0.0.2 "$T/post" >"$T/wh.half"
is "webhook: 70 half-open from one client: 32 held" 32 "$(line held wh.half)"
is "webhook: ... 38 closed at once" 38 "$(line closed-at-once wh.half)"
is "webhook: ... an authenticated POST from another client: 204 at once" "204 at-once" "$(line other-client wh.half)"
wait_for 5 grep -q '"through"' "$T/wh.out" || true
check "webhook: ... and its event is written" grep -q '"id":"through"' "$T/wh.out"

# ---- stream-serve -----------------------------------------------------------
start ss stream-serve --token-file "$T/token" --request-timeout 10s \
	--max-watchers 100 --client-rate 40
sp=$port
export ABUSE_AUTH="Bearer s3cret-token"

$AB framing $sp /api/v1/range >"$T/ss.framing"
is "stream-serve: conflicting Content-Length: 400 at once" "400 at-once" "$(line content-length-conflict ss.framing)"
is "stream-serve: Transfer-Encoding gzip, chunked: 501 at once" "501 at-once" "$(line transfer-encoding-gzip-chunked ss.framing)"
is "stream-serve: NUL in a header name: 400 at once" "400 at-once" "$(line nul-in-header-name ss.framing)"
is "stream-serve: NUL inside a header value: 400 at once" "400 at-once" "$(line nul-in-header-value ss.framing)"
$AB body $sp /api/v1/range 15 >"$T/ss.body"
is "stream-serve: chunk size ffffffffffffffff: 413 at once (no request takes a body)" "413 at-once" "$(line chunk-size-ffffffffffffffff ss.body)"

# one byte a second: the idle timeout (60 s) would never fire
$AB trickle $sp 30 1 >"$T/ss.trickle"
n=$(line closed-after ss.trickle)
check "stream-serve: 1-byte trickle closed at --request-timeout 10s (after ${n}s)" \
	within 9 15 "after-${n}s"

printf 'GET /api/v1/range HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer s3cret-token\r\nConnection: close\r\n\r\n' >"$T/range"
$AB halfopen $sp 1100 127.0.0.4 "$T/range" >"$T/ss.half"
is "stream-serve: 1100 half-open from one client: 32 held" 32 "$(line held ss.half)"
is "stream-serve: ... 1068 closed at once" 1068 "$(line closed-at-once ss.half)"
is "stream-serve: ... another client's request: 204 (empty log) at once" "204 at-once" "$(line other-client ss.half)"

# 1100 watchers from 37 addresses, 30 each: 100 streams (--max-watchers), the
# rest 503 with no address over its rate; the API still answers
sleep 1
$AB watchers $sp 1100 30 >"$T/ss.watch"
is "stream-serve: 1100 watchers: 100 streaming" 100 "$(line 'watch 200' ss.watch)"
is "stream-serve: ... 1000 refused with 503" 1000 "$(line 'watch 503' ss.watch)"
is "stream-serve: ... /api/v1/range answers at once meanwhile" "204 at-once" "$(line range-while-held ss.watch)"
check "stream-serve: still running" kill -0 $ss_pid

# --client-rate 40 from one address: 40 pass, then 429 with Retry-After
sleep 1.5
$AB rate $sp /api/v1/range 60 40 >"$T/ss.rate"
set -- $(line codes ss.rate)
n204=0; n429=0; for c; do case $c in 204) n204=$((n204 + 1));; 429) n429=$((n429 + 1));; esac; done
most=$(line most ss.rate)
check "stream-serve: --client-rate 40: of 60 quick requests, 40 pass and no more than the refill allows ($n204, at most $most)" \
	sh -c "[ $n204 -ge 40 ] && [ $n204 -le $most ] && [ $n204 -lt 60 ]"
is "stream-serve: ... the others get 429" $((60 - n204)) "$n429"
is "stream-serve: ... with Retry-After: 1" 1 "$(line retry-after ss.rate)"
unset ABUSE_AUTH

# ---- vcpipe-metrics ---------------------------------------------------------
mkdir "$T/run"
start vm vcpipe-metrics --dir "$T/run" --credentials-file "$T/cred" \
	--request-timeout 3s
mp=$port
printf 'GET /metrics HTTP/1.1\r\nHost: t\r\nAuthorization: %s\r\nConnection: close\r\n\r\n' "$BASIC" >"$T/metrics"
$AB halfopen $mp 1100 127.0.0.5 "$T/metrics" >"$T/vm.half"
is "vcpipe-metrics: 1100 half-open from one client: 32 held" 32 "$(line held vm.half)"
is "vcpipe-metrics: ... /metrics for another client: 200 at once" "200 at-once" "$(line other-client vm.half)"
$AB trickle $mp 20 1 >"$T/vm.trickle"
n=$(line closed-after vm.trickle)
check "vcpipe-metrics: 1-byte trickle closed at --request-timeout 3s (after ${n}s)" \
	within 2 8 "after-${n}s"
ABUSE_AUTH="$BASIC" $AB framing $mp /metrics >"$T/vm.framing"
is "vcpipe-metrics: Transfer-Encoding gzip, chunked: 501 at once" "501 at-once" "$(line transfer-encoding-gzip-chunked vm.framing)"
is "vcpipe-metrics: NUL inside a header value: 400 at once" "400 at-once" "$(line nul-in-header-value vm.framing)"
ABUSE_AUTH="$BASIC" $AB body $mp /metrics 15 >"$T/vm.body"
is "vcpipe-metrics: chunk size ffffffffffffffff: 413 at once" "413 at-once" "$(line chunk-size-ffffffffffffffff vm.body)"

# ---- authentication and TLS -------------------------------------------------
code() { curl -s -o /dev/null -w '%{http_code}' --cacert "$T/cert.pem" "$@"; }
start sst stream-serve --basic-auth-file "$T/cred" --token-file "$T/token" \
	--tls-cert "$T/cert.pem" --tls-key "$T/key.pem"
U=https://127.0.0.1:$port/api/v1/range
is "stream-serve TLS: no credentials: 401" 401 "$(code "$U")"
is "stream-serve TLS: Basic: 204" 204 "$(code -u hook:hook-pass "$U")"
is "stream-serve TLS: bearer: 204" 204 "$(code -H 'Authorization: Bearer s3cret-token' "$U")"
is "stream-serve TLS: wrong bearer: 401" 401 "$(code -H 'Authorization: Bearer s3cret-tokem' "$U")"
is "stream-serve TLS: plain HTTP to the TLS port: no HTTP answer" 000 \
	"$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/api/v1/range")"
curl -s -D "$T/hdr" -o /dev/null --cacert "$T/cert.pem" "$U"
check "stream-serve: 401 challenges for Basic and Bearer" sh -c \
	"grep -q '^WWW-Authenticate: Basic realm=\"stream-serve\"' '$T/hdr' && grep -q '^WWW-Authenticate: Bearer realm=\"stream-serve\"' '$T/hdr'"

start vmt vcpipe-metrics --dir "$T/run" --token-file "$T/token" \
	--tls-cert "$T/cert.pem" --tls-key "$T/key.pem"
U=https://127.0.0.1:$port/metrics
is "vcpipe-metrics TLS: no token: 401" 401 "$(code "$U")"
is "vcpipe-metrics TLS: bearer: 200" 200 "$(code -H 'Authorization: Bearer s3cret-token' "$U")"

start wht webhook-source --token-file "$T/token" --tls-cert "$T/cert.pem" \
	--tls-key "$T/key.pem"
is "webhook-source TLS: bearer POST: 204" 204 "$(code -H 'Authorization: Bearer s3cret-token' \
	-H ce-specversion:1.0 -H ce-id:tls -H ce-source:/s -H ce-type:t -d '{}' \
	"https://127.0.0.1:$port/webhook")"

expect_exit "--tls-cert without --tls-key: 64" 64 stream-serve --tls-cert "$T/cert.pem"
expect_exit "--tls-key not PEM: 78" 78 stream-serve --tls-cert "$T/cert.pem" --tls-key "$T/token"
expect_exit "--token-file unreadable: 66" 66 vcpipe-metrics --listen 127.0.0.1:0 --dir "$T/run" --token-file "$T/none"
done_testing
