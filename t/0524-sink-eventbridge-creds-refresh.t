#!/bin/sh
# sink-eventbridge renews temporary credentials before they expire, with
# botocore's advisory and mandatory windows scaled to short lifetimes (the
# fakes hand out credentials that live seconds): AssumeRole, web identity
# (the token file read again at each renewal), IMDS (a new session token
# when the old one is refused) and the container endpoint.  A renewal that
# fails in the advisory window is a warning and the current credentials go
# on; past the mandatory point the request fails and is retried until STS is
# back, nothing lost; STS refusing for good ends with 77.  No request is ever
# signed with expired credentials, no secret reaches the log.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/fake-eventbridge/fake.sh"
. "$VP_SRCDIR/t/fake-aws-creds/creds.sh"
plan 30
SE="$VP_WRAP sink-eventbridge"
no_env_keys
A=111122223333
ROLE=arn:aws:iam::$A:role/eb-writer
SLOW=arn:aws:iam::$A:role/eb-slow
TOK1=eyJhbGciOiJSUzI1NiJ9.first-token-secret.c2ln
TOK2=eyJhbGciOiJSUzI1NiJ9.rotated-token-secret.c2ln
OPS_SECRET='ops/Secret+Key=EXAMPLE'
CTR_TOKEN='ctr-auth-token/EXAMPLE+secret=='
CREDS_CFG=$T/creds.json
cat >"$CREDS_CFG" <<EOF
{"region": "us-east-1",
 "principals": [{"akid": "AKIDOPSEXAMPLE", "secret": "$OPS_SECRET", "arn": "arn:aws:iam::$A:user/ops"}],
 "roles": {"$ROLE": {"trust": ["arn:aws:iam::$A:user/ops"], "web_tokens": ["$TOK1", "$TOK2"], "lifetime": 6},
           "$SLOW": {"trust": ["arn:aws:iam::$A:user/ops"], "lifetime": 24}},
 "web_tokens": {"$TOK1": {"sub": "first"}, "$TOK2": {"sub": "rotated"}},
 "imds": {"role": "vcpipe-ec2", "lifetime": 6},
 "container": {"path": "/v1/credentials", "token": "$CTR_TOKEN", "lifetime": 6}}
EOF
start_creds "$CREDS_CFG"
fake_config "$T/eb.json"
start_fake "$T/eb.json" --issued "$CREDS_ISSUED"
AWS_ENDPOINT_URL_STS=$CREDS_URL; export AWS_ENDPOINT_URL_STS
AWS_EC2_METADATA_DISABLED=true; export AWS_EC2_METADATA_DISABLED
# a loaded machine (or valgrind) may take longer than IMDS's default 1 s
AWS_METADATA_SERVICE_TIMEOUT=5; export AWS_METADATA_SERVICE_TIMEOUT
mkdir -p "$HOME/.aws"
cat >"$HOME/.aws/credentials" <<EOF
[ops]
aws_access_key_id = AKIDOPSEXAMPLE
aws_secret_access_key = $OPS_SECRET
EOF
cat >"$HOME/.aws/config" <<EOF
[profile eb]
role_arn = $ROLE
source_profile = ops

[profile slow]
role_arn = $SLOW
source_profile = ops
EOF

# start_sink NAME [VAR=VALUE...] [-- OPTIONS]: the sink with that environment
# and options reading the FIFO $T/NAME.in (fd 3); it retries through the
# STS outages below as bin/vcpipe runs it (the default gives up after 10)
start_sink() {
	_n=$1; shift
	_env=""
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do _env="$_env $1"; shift; done
	[ $# -gt 0 ] && shift
	rm -f "$T/$_n.in"; mkfifo "$T/$_n.in"
	env $_env $SE --region us-east-1 --endpoint-url "$FAKE_URL" --linger 10ms \
	    --retry-base 100ms --retry-cap 500ms --max-retries 1000 "$@" <"$T/$_n.in" >/dev/null 2>"$T/$_n.err" &
	SPID=$!; bg_pid $SPID
	exec 3>"$T/$_n.in"
}
# feed FROM TO SECONDS: events FROM..TO, one every SECONDS
feed() {
	_i=$1
	while [ "$_i" -le "$2" ]; do
		printf '{"specversion":"1.0","id":"r-%d","source":"s","type":"t"}\n' "$_i" >&3
		_i=$((_i + 1))
		sleep "$3"
	done
}
# finish: close the input, wait for the sink; sets RC; keeps its stderr
finish() {
	exec 3>&-
	set +e; wait $SPID; RC=$?; set -e
	cat "$T/$1.err" >>"$T/stderr.all"
}
# begin NAME FLAG [VAR=VALUE...] [-- OPTIONS]: a sink has delivered event 1,
# then the fake's state file FLAG is set
begin() {
	_b=$1 _flag=$2; shift 2
	: >"$T/creds.req"; : >"$T/fake.req"; : >"$T/fake.log"
	start_sink "$_b" "$@"
	feed 1 1 0
	wait_for 20 test -s "$T/fake.log" || true
	touch "$CREDS_STATE/$_flag"
}
ids() { jq -r '.Detail | fromjson | .id' "$T/fake.log" | sed 's/^r-//' | sort -n | paste -sd ' ' -; }
seq_ids() { seq "$1" "$2" | paste -sd ' ' -; }
# distinct credentials PutEvents was signed with, in order of use
used() { jq -r .akid "$T/fake.req" | uniq | wc -l | tr -d ' '; }
never_expired() { [ "$(jq -s 'map(select(.expired or (.signed | not))) | length' "$T/fake.req")" = 0 ]; }
sts_calls() { jq -r 'select(.api == "sts") | .status' "$T/creds.req" | paste -sd ' ' -; }

# ---- AssumeRole credentials living 6 s, events over 13 s -------------------------------
: >"$T/creds.req"; : >"$T/fake.req"; : >"$T/fake.log"
start_sink a -- --profile eb
feed 1 13 1
finish a
is "AssumeRole: all 13 events delivered, exit 0" "0 $(seq_ids 1 13)" "$RC $(ids)"
check "AssumeRole: renewed before expiry (at least 3 sets of credentials used)" test "$(used)" -ge 3
check "AssumeRole: no request signed with expired credentials" never_expired
check "AssumeRole: every renewal signed by the source keys" sh -c \
    "jq -e -s 'map(select(.api == \"sts\")) | length >= 3 and all(.signed and .caller == \"AKIDOPSEXAMPLE\")' '$T/creds.req'"
check "AssumeRole: renewals logged without secrets" grep -q "credentials renewed from role $ROLE" "$T/a.err"

# ---- web identity: the token file is read at each renewal -----------------------------
: >"$T/creds.req"; : >"$T/fake.req"; : >"$T/fake.log"
printf '%s' "$TOK1" >"$T/token"
start_sink w AWS_WEB_IDENTITY_TOKEN_FILE=$T/token AWS_ROLE_ARN=$ROLE
feed 1 4 1
printf '%s' "$TOK2" >"$T/token.new"; mv "$T/token.new" "$T/token"
feed 5 9 1
finish w
is "web identity: all delivered" "0 $(seq_ids 1 9)" "$RC $(ids)"
is "web identity: the rotated token was used for the later renewals" "first rotated" \
    "$(jq -r 'select(.action == "AssumeRoleWithWebIdentity") | .token_sub' "$T/creds.req" | uniq | paste -sd ' ' -)"
check "web identity: no request signed with expired credentials" never_expired

# ---- STS down in the advisory window: a warning, the current credentials go on --------
# credentials live 24 s: the advisory window opens after 12 s, the mandatory one after 18 s
begin s sts.down -- --profile slow
feed 2 14 1
rm -f "$CREDS_STATE/sts.down"
feed 15 17 1
finish s
is "advisory failure: all delivered, exit 0" "0 $(seq_ids 1 17)" "$RC $(ids)"
check "advisory failure: a warning that names STS's error and the expiry" \
    grep -q "credentials: renewing from role $SLOW .* failed: .*HTTP 503 ServiceUnavailable.*; the current ones are valid until" "$T/s.err"
check "advisory failure: STS failed, then renewed" sh -c "echo '$(sts_calls)' | grep -Eq '^200( 503)+ 200\$'"
check "advisory failure: a renewal after STS came back, the new credentials used" test "$(used)" -eq 2
check "advisory failure: no request signed with expired credentials" never_expired

# ---- STS down past the expiry: requests wait and retry, nothing is lost ----------------
begin m sts.down -- --profile eb
sleep 7
feed 2 4 0.2
sleep 3
check "mandatory failure: nothing is sent with credentials about to expire" test "$(wc -l <"$T/fake.log")" -eq 1
rm -f "$CREDS_STATE/sts.down"
feed 5 6 0.5
finish m
is "mandatory failure: every event delivered once STS is back, exit 0" "0 $(seq_ids 1 6)" "$RC $(ids)"
check "mandatory failure: the failed requests were reported as temporary and retried" \
    grep -q "PutEvents (.* entries): credentials: STS AssumeRole $ROLE .*HTTP 503 ServiceUnavailable" "$T/m.err"
check "mandatory failure: no request signed with expired credentials" never_expired

# ---- STS refusing for good: exit 77 -----------------------------------------------------
begin d sts.deny -- --profile eb
sleep 5.5
feed 2 2 0
finish d
rm -f "$CREDS_STATE/sts.deny"
is "revoked role: exit 77, the first event delivered only" "77 1" "$RC $(ids)"
check "revoked role: STS's AccessDenied in the message" grep -q "PutEvents: credentials: STS AssumeRole $ROLE .*HTTP 403 AccessDenied" "$T/d.err"

# ---- instance metadata: renewed, a new session token when the old one is refused -------
: >"$T/creds.req"; : >"$T/fake.req"; : >"$T/fake.log"
start_sink i AWS_EC2_METADATA_DISABLED=false AWS_EC2_METADATA_SERVICE_ENDPOINT=$CREDS_URL
feed 1 5 1
touch "$CREDS_STATE/imds.forget"
feed 6 10 1
finish i
is "IMDS: all delivered" "0 $(seq_ids 1 10)" "$RC $(ids)"
check "IMDS: renewed (at least 2 sets used)" test "$(used)" -ge 2
# the IMDS requests, runs of the same merged: "PUT 200 GET 200 ..."
new_token() {
	_s=$(jq -r 'select(.api == "imds") | "\(.method) \(.status)"' "$T/creds.req" |
	    uniq | paste -sd ' ' -)
	echo "$_s"
	echo "$_s" | grep -q '^PUT 200 GET 200 .*GET 401 PUT 200 GET 200'
}
check "IMDS: one session token until refused (401), then a new one" new_token
check "IMDS: no request signed with expired credentials" never_expired

# ---- container endpoint: renewed ----------------------------------------------------------
: >"$T/creds.req"; : >"$T/fake.req"; : >"$T/fake.log"
printf '%s' "$CTR_TOKEN" >"$T/ctr.token"
start_sink c AWS_CONTAINER_CREDENTIALS_FULL_URI=${CREDS_URL}v1/credentials AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=$T/ctr.token
feed 1 10 1
finish c
is "container: all delivered" "0 $(seq_ids 1 10)" "$RC $(ids)"
check "container: renewed (at least 2 sets used)" test "$(used)" -ge 2
check "container: every fetch with the token from the file" sh -c "jq -e -s 'map(select(.api == \"container\")) | length >= 2 and all(.auth and .status == 200)' '$T/creds.req'"
check "container: no request signed with expired credentials" never_expired

# ---- IMDS handing out expired credentials (credential service out) -----------------------
: >"$T/creds.req"; : >"$T/fake.req"; : >"$T/fake.log"
python3 -c '
import json, sys
c = json.load(open(sys.argv[1])); c["imds"]["stale"] = True; c["imds"]["lifetime"] = 3600
json.dump(c, open(sys.argv[2], "w"))' "$CREDS_CFG" "$T/stale.json"
stop_creds
start_creds "$T/stale.json"
start_sink x AWS_EC2_METADATA_DISABLED=false AWS_EC2_METADATA_SERVICE_ENDPOINT=$CREDS_URL
feed 1 3 0.2
finish x
is "stale IMDS credentials: used (AWS still takes them), delivered" "0 $(seq_ids 1 3)" "$RC $(ids)"
check "stale IMDS credentials: a warning, no renewal storm" sh -c \
    "grep -q 'expired at .* by this host.s clock; using them, renewing again in a few minutes' '$T/x.err' &&
	[ \$(jq -s 'map(select(.api == \"imds\" and .method == \"PUT\")) | length' '$T/creds.req') -eq 1 ]"

check "no secret in any stderr of the sink" sh -c "
	{ jq -r '.secret, .token' '$CREDS_ISSUED'; printf '%s\n' '$OPS_SECRET' '$TOK1' '$TOK2' '$CTR_TOKEN'; } | sort -u >'$T/secrets'
	[ -s '$T/stderr.all' ] && ! grep -F -f '$T/secrets' '$T/stderr.all'"
done_testing
