#!/bin/sh
# vc-source: usage errors, credentials, TLS and checkpoint errors that need no
# vCenter: exact exit codes and messages that name the program and the cause.
. "${0%/*}/lib.sh"
plan 22

unset VC_USERNAME VC_PASSWORD || true

expect_exit "no --url is a usage error" 64 vc-source
grep -q '^vc-source: --url is required' "$T/.exit.err" && ok "message names --url" || not_ok "message names --url"
expect_exit "bad --begin" 64 vc-source --url https://127.0.0.1:9/sdk --begin 10x
grep -q '^vc-source: --begin: expected a duration' "$T/.exit.err" && ok "message names --begin" || not_ok "message names --begin"
expect_exit "bad --since" 64 vc-source --url https://127.0.0.1:9/sdk --since yesterday
expect_exit "--since with --begin" 64 vc-source --url https://127.0.0.1:9/sdk --since 2026-01-01T00:00:00Z --begin 1h
expect_exit "--page-size out of range" 64 vc-source --url https://127.0.0.1:9/sdk --page-size 1001
expect_exit "not an http URL" 64 vc-source --url ftp://vc.example.com
grep -q '^vc-source: --url: expected an http:// or https:// URL or a host name' "$T/.exit.err" && ok "message says which addresses work" || not_ok "message says which addresses work"
expect_exit "stray argument" 64 vc-source --url https://127.0.0.1:9/sdk extra
expect_exit "user info in --url is refused" 64 vc-source --url https://admin:s3cret@127.0.0.1:9/sdk
grep -q '^vc-source: --url: user name and password' "$T/.exit.err" && ok "message says why" || not_ok "message says why"
grep -q 's3cret' "$T/.exit.err" && not_ok "the password is not echoed" || ok "the password is not echoed"

expect_exit "no credentials at all is a configuration error" 78 vc-source --url https://127.0.0.1:9/sdk --once
grep -q 'VC_USERNAME and VC_PASSWORD' "$T/.exit.err" && ok "message says how to give credentials" || not_ok "message says how to give credentials"

expect_exit "missing credentials file" 66 vc-source --url https://127.0.0.1:9/sdk --credentials-file "$T/none" --once
printf 'onlyuser\n' >"$T/one-line"
expect_exit "one-line credentials file is a configuration error" 78 vc-source --url https://127.0.0.1:9/sdk --credentials-file "$T/one-line" --once

printf '{"time": 12}\n' >"$T/ckpt"
VC_USERNAME=u VC_PASSWORD=p
export VC_USERNAME VC_PASSWORD
# nothing listens on port 9 (discard): every attempt fails at once
expect_exit "--once gives up: exit 75" 75 vc-source --url http://127.0.0.1:9/sdk --once
is "--once: five attempts, as documented" 5 "$(grep -c 'warn: .*RetrieveServiceContent:' "$T/.exit.err")"
expect_exit "checkpoint with a bad time" 65 vc-source --url https://127.0.0.1:9/sdk --checkpoint "$T/ckpt" --once
printf 'not json\n' >"$T/ckpt"
expect_exit "checkpoint that is not JSON" 65 vc-source --url https://127.0.0.1:9/sdk --checkpoint "$T/ckpt" --once
grep -q "^vc-source: $T/ckpt:1: not a checkpoint" "$T/.exit.err" && ok "message names file and line" || not_ok "message names file and line"
done_testing
