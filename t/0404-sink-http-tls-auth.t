#!/bin/sh
# TLS verified by default (--ca-file, --insecure), HTTP/2 when the server
# offers it (--http1.1 to refuse), basic auth from a credentials file,
# directory or environment, bearer token from a file (re-read on 401).
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/http-receiver/lib.sh"
command -v sink-http >/dev/null || skip_all "sink-http not built"
command -v jq >/dev/null || skip_all "jq not installed"
command -v openssl >/dev/null || skip_all "openssl not installed"
command -v node >/dev/null || skip_all "node not installed"
plan 30
D=$VP_SRCDIR/t/data
S1=$(sed -n 1p "$D/sink-http-structured.ndjson")
printf '%s\n' "$S1" >"$T/one"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" \
    -days 2 -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null

node "$VP_SRCDIR/t/http-receiver/h2.js" "$T/cert.pem" "$T/key.pem" "$T/h2.log" "$T/h2.port" &
bg_pid $!
wait_for 60 test -s "$T/h2.port" || bail "h2 receiver did not start"
U="https://localhost:$(cat "$T/h2.port")/"

# a certificate that is not trusted does not fix itself: permanent (78, as
# vc-source), at once, never retried nor dead-lettered
expect_exit "an unknown CA is refused at once (exit 78, as vc-source)" 78 \
    $VP_WRAP sink-http --url "$U" --max-retries 5 --retry-base 5s --retry-cap 5s \
    --dlq "$T/tls.dlq" --checkpoint "$T/tls.ck" <"$T/one"
check "the error names the certificate problem" grep -qi 'certificate' "$T/.exit.err"
is "not retried, nothing dead-lettered, no checkpoint" "0 no no" \
    "$(grep -c 'retry' "$T/.exit.err") $(test -s "$T/tls.dlq" && echo yes || echo no) $(test -e "$T/tls.ck" && echo yes || echo no)"
expect_exit "--ca-file: delivered" 0 $VP_WRAP sink-http --url "$U" --ca-file "$T/cert.pem" <"$T/one"
is "HTTP/2 negotiated" 2.0 "$(jq -r .proto "$T/h2.log" | tail -1)"
expect_exit "--insecure: delivered" 0 $VP_WRAP sink-http --url "$U" --insecure <"$T/one"
expect_exit "--http1.1: delivered" 0 $VP_WRAP sink-http --url "$U" --ca-file "$T/cert.pem" --http1.1 <"$T/one"
is "HTTP/1.1 when asked" 1.1 "$(jq -r .proto "$T/h2.log" | tail -1)"
is "the body arrived intact over HTTP/2" "$S1" "$(jq -r .body "$T/h2.log" | sed -n 1p)"
: >"$T/h2.log"
expect_exit "three events over HTTP/2" 0 \
    $VP_WRAP sink-http --url "$U" --ca-file "$T/cert.pem" <"$D/sink-http-structured.ndjson"
is "all three on one HTTP/2 connection" "3 1" \
    "$(jq -r 'select(.proto=="2.0")|.conn' "$T/h2.log" | wc -l | tr -d ' ') $(jq -r .conn "$T/h2.log" | sort -u | wc -l | tr -d ' ')"

start_receiver a
U="http://127.0.0.1:$RPORT/"
printf 'alice\ns3cr3t-pw\n' >"$T/cred"
expect_exit "basic auth from a credentials file" 0 \
    $VP_WRAP sink-http --url "$U" --credentials-file "$T/cred" --log-level debug <"$T/one"
is "Authorization: Basic alice:s3cr3t-pw" "Basic $(printf 'alice:s3cr3t-pw' | base64)" \
    "$(jq -r '.headers.authorization' "$T/a.log" | tail -1)"
check "the password is not logged" sh -c "! grep -q s3cr3t '$T/.exit.err'"
mkdir "$T/secret"; printf 'bob' >"$T/secret/username"; printf 'pw2\n' >"$T/secret/password"
expect_exit "basic auth from a Secret directory" 0 \
    $VP_WRAP sink-http --url "$U" --credentials-file "$T/secret" <"$T/one"
is "Authorization: Basic bob:pw2" "Basic $(printf 'bob:pw2' | base64)" \
    "$(jq -r '.headers.authorization' "$T/a.log" | tail -1)"
expect_exit "basic auth from SINK_HTTP_USERNAME/SINK_HTTP_PASSWORD" 0 \
    env SINK_HTTP_USERNAME=carol SINK_HTTP_PASSWORD=pw3 $VP_WRAP sink-http --url "$U" <"$T/one"
is "Authorization: Basic carol:pw3" "Basic $(printf 'carol:pw3' | base64)" \
    "$(jq -r '.headers.authorization' "$T/a.log" | tail -1)"
printf 'tok-1\n' >"$T/token"
expect_exit "bearer token from a file" 0 $VP_WRAP sink-http --url "$U" --token-file "$T/token" <"$T/one"
is "Authorization: Bearer tok-1" "Bearer tok-1" "$(jq -r '.headers.authorization' "$T/a.log" | tail -1)"
expect_exit "a missing credentials file: exit 66" 66 \
    $VP_WRAP sink-http --url "$U" --credentials-file "$T/nonesuch" <"$T/one"
# half a pair of environment credentials is a configuration error, not "no auth"
: >"$T/a.log"
expect_exit "SINK_HTTP_PASSWORD without SINK_HTTP_USERNAME: exit 78" 78 \
    env -u SINK_HTTP_USERNAME SINK_HTTP_PASSWORD=pw3 $VP_WRAP sink-http --url "$U" <"$T/one"
check "the error names the missing variable" grep -q '^sink-http: credentials: .*SINK_HTTP_USERNAME' "$T/.exit.err"
expect_exit "SINK_HTTP_USERNAME without SINK_HTTP_PASSWORD: exit 78" 78 \
    env -u SINK_HTTP_PASSWORD SINK_HTTP_USERNAME=carol $VP_WRAP sink-http --url "$U" <"$T/one"
# a CA file that cannot be read fails at startup, not event by event
expect_exit "a missing --ca-file: exit 66" 66 \
    $VP_WRAP sink-http --url "$U" --ca-file "$T/nonesuch.pem" --dlq "$T/ca.dlq" <"$T/one"
check "the error names the option and the file" grep -q '^sink-http: --ca-file: .*nonesuch.pem: No such file' "$T/.exit.err"
expect_exit "a directory as --ca-file: exit 66" 66 \
    $VP_WRAP sink-http --url "$U" --ca-file "$T/secret" --dlq "$T/ca.dlq" <"$T/one"
is "nothing was sent or dead-lettered" "0 no" \
    "$(requests a) $(test -e "$T/ca.dlq" && echo yes || echo no)"
stop_receiver a

# a rotated token: the 401 makes sink-http read the file again
start_receiver b --script 200,401
rm -f "$T/b.in"; mkfifo "$T/b.in"
$VP_WRAP sink-http --url "http://127.0.0.1:$RPORT/" --token-file "$T/token" <"$T/b.in" 2>"$T/b.err" &
SPID=$!; bg_pid $SPID
exec 3>"$T/b.in"
printf '%s\n' "$S1" >&3
wait_for 10 test -s "$T/b.log" || true
printf 'tok-2\n' >"$T/token"
printf '%s\n' "$S1" >&3
exec 3>&-
set +e; wait $SPID; rc=$?; set -e
is "401 then a new token: delivered" 0 "$rc"
is "the retry carried the new token" "Bearer tok-1 Bearer tok-1 Bearer tok-2" \
    "$(jq -r '.headers.authorization' "$T/b.log" | tr '\n' ' ' | sed 's/ $//')"
done_testing
