#!/bin/sh
# sink-eventbridge takes credentials from STS as the AWS SDKs do: web
# identity (IRSA: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN, or a profile's
# web_identity_token_file) through AssumeRoleWithWebIdentity, and profiles
# with role_arn + source_profile / credential_source through AssumeRole
# signed with the source credentials (chained roles, external_id,
# role_session_name, duration_seconds), and credential_process.  The fake
# STS speaks the Query API with STS's XML answers and errors and checks
# AssumeRole's SigV4 with botocore; botocore's own credential providers are
# pointed at the same fake in the same test.  Failures: unreadable token
# file and STS refusals exit 77, network trouble 75, bad profiles 78; no
# secret reaches a log.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/fake-eventbridge/fake.sh"
. "$VP_SRCDIR/t/fake-aws-creds/creds.sh"
plan 75
D=$VP_SRCDIR/t/data
no_env_keys
A=111122223333
IRSA=eyJhbGciOiJSUzI1NiJ9.irsa-token-secret.c2ln
OLD=eyJhbGciOiJSUzI1NiJ9.expired-token-secret.c2ln
OPS_SECRET='ops/Secret+Key=EXAMPLE'
SRC_SECRET='tempsrc/Secret+EXAMPLE'
SRC_TOKEN='tempsrc-session-token+/=EXAMPLE'
CREDS_CFG=$T/creds.json
cat >"$CREDS_CFG" <<EOF
{"region": "us-east-1",
 "principals": [
   {"akid": "AKIDOPSEXAMPLE", "secret": "$OPS_SECRET", "arn": "arn:aws:iam::$A:user/ops"},
   {"akid": "ASIASOURCEEXAMPLE", "secret": "$SRC_SECRET", "token": "$SRC_TOKEN", "arn": "arn:aws:iam::$A:user/temp"}],
 "roles": {
   "arn:aws:iam::$A:role/eb-writer": {"trust": ["arn:aws:iam::$A:user/ops", "arn:aws:iam::$A:user/temp", "arn:aws:iam::$A:role/hop"], "web_tokens": ["$IRSA", "$OLD"], "max_session": 7200},
   "arn:aws:iam::$A:role/hop": {"trust": ["arn:aws:iam::$A:user/ops"]},
   "arn:aws:iam::$A:role/partner": {"trust": ["*"], "external_id": "vcpipe-ext-42"},
   "arn:aws:iam::$A:role/nobody": {"trust": []}},
 "web_tokens": {"$IRSA": {"sub": "system:serviceaccount:vcpipe:sink"},
                "$OLD": {"expired": true}}}
EOF
start_creds "$CREDS_CFG"
fake_config "$T/eb.json"
start_fake "$T/eb.json" --issued "$CREDS_ISSUED"
AWS_ENDPOINT_URL_STS=$CREDS_URL; export AWS_ENDPOINT_URL_STS
FAKE_STS_URL=$CREDS_URL; export FAKE_STS_URL
AWS_DEFAULT_REGION=us-east-1; export AWS_DEFAULT_REGION
ROLE=arn:aws:iam::$A:role/eb-writer
printf '%s' "$IRSA" >"$T/irsa.token"
printf '%s' "$OLD" >"$T/old.token"
EV=$D/sink-eventbridge-binary.ndjson

last_issued() { tail -1 "$CREDS_ISSUED" | jq -r .akid; }
last_put_akid() { tail -1 "$T/fake.req" | jq -r '"\(.akid) \(.token) \(.signed)"'; }
last_sts() { tail -1 "$T/creds.req"; }
err_has() { grep -q -- "$1" "$T/.exit.err"; }

# ---- web identity (IRSA) ------------------------------------------------------
IRSA_ENV="AWS_WEB_IDENTITY_TOKEN_FILE=$T/irsa.token AWS_ROLE_ARN=$ROLE"
run_sink "web identity: delivered" 0 $IRSA_ENV --
is "web identity: PutEvents signed with the role's credentials and token" \
    "$(last_issued) true true" "$(last_put_akid)"
is "web identity: one unsigned AssumeRoleWithWebIdentity for the role" \
    "AssumeRoleWithWebIdentity $ROLE false null true" \
    "$(last_sts | jq -r '"\(.action) \(.role) \(.signed) \(.signed_anyway) \(.token_known)"')"
check "web identity: a vcpipe session name" sh -c "tail -1 '$T/creds.req' | jq -e '.session_name | test(\"^vcpipe-[0-9]+\$\")'"
run_sink "web identity: AWS_ROLE_SESSION_NAME" 0 $IRSA_ENV AWS_ROLE_SESSION_NAME=vc-prod@eks --
is "web identity: the session name is sent" "vc-prod@eks" "$(last_sts | jq -r .session_name)"
sdk_chain $IRSA_ENV >"$T/sdk.out"
is "botocore: the same fake STS answers its web identity provider" \
    "assume-role-with-web-identity $(last_issued) true 0" \
    "$(jq -r '"\(.method) \(.akid) \(.token) \(.put)"' "$T/sdk.out")"
cat >"$HOME/.aws-config" <<EOF
[profile irsa]
web_identity_token_file = $T/irsa.token
role_arn = $ROLE
role_session_name = from-profile
EOF
run_sink "web identity from a profile" 0 AWS_CONFIG_FILE=$HOME/.aws-config -- --profile irsa
is "profile web identity: its role and session name" "AssumeRoleWithWebIdentity $ROLE from-profile" \
    "$(last_sts | jq -r '"\(.action) \(.role) \(.session_name)"')"

run_sink "unreadable token file: exit 77" 77 AWS_WEB_IDENTITY_TOKEN_FILE=$T/nonexistent.token AWS_ROLE_ARN=$ROLE --
check "unreadable token file: the message names the file" err_has "web identity token file $T/nonexistent.token: No such file or directory"
run_sink "expired token: STS refuses, exit 77" 77 AWS_WEB_IDENTITY_TOKEN_FILE=$T/old.token AWS_ROLE_ARN=$ROLE --
check "expired token: STS's error code in the message" err_has "HTTP 400 ExpiredTokenException: Token expired"
sdk_chain AWS_WEB_IDENTITY_TOKEN_FILE=$T/old.token AWS_ROLE_ARN=$ROLE >"$T/sdk.out"
is "botocore reads the same error" "ExpiredTokenException 400" "$(jq -r '"\(.code) \(.status)"' "$T/sdk.out")"
printf 'not-a-known-token' >"$T/bad.token"
run_sink "unknown token: InvalidIdentityToken, exit 77" 77 AWS_WEB_IDENTITY_TOKEN_FILE=$T/bad.token AWS_ROLE_ARN=$ROLE --
check "unknown token: reported" err_has "InvalidIdentityToken"
run_sink "role without trust for the token: AccessDenied, exit 77" 77 AWS_WEB_IDENTITY_TOKEN_FILE=$T/irsa.token AWS_ROLE_ARN=arn:aws:iam::$A:role/nobody --
check "AccessDenied: STS's message and the status" err_has "HTTP 403 AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity"
sdk_chain AWS_WEB_IDENTITY_TOKEN_FILE=$T/irsa.token AWS_ROLE_ARN=arn:aws:iam::$A:role/nobody >"$T/sdk.out"
is "botocore reads the same AccessDenied" "AccessDenied 403" "$(jq -r '"\(.code) \(.status)"' "$T/sdk.out")"
run_sink "token file without a role: configuration error 78" 78 AWS_WEB_IDENTITY_TOKEN_FILE=$T/irsa.token --
check "no role: says to set AWS_ROLE_ARN" err_has "set AWS_ROLE_ARN"
DEAD=http://127.0.0.1:$(free_port)/
run_sink "STS unreachable: temporary, exit 75" 75 $IRSA_ENV AWS_ENDPOINT_URL_STS=$DEAD --
check "STS unreachable: the URL is named" err_has "STS AssumeRoleWithWebIdentity $ROLE ($DEAD)"
touch "$CREDS_STATE/sts.down"
run_sink "STS answering 503: temporary, exit 75" 75 $IRSA_ENV --
check "STS 503: ServiceUnavailable reported" err_has "HTTP 503 ServiceUnavailable"
rm -f "$CREDS_STATE/sts.down"

# ---- endpoints as the SDKs configure them ------------------------------------------
expect_exit "AWS_ENDPOINT_URL_EVENTS when --endpoint-url is not given" 0 \
    env $IRSA_ENV AWS_ENDPOINT_URL_EVENTS=$FAKE_URL $VP_WRAP sink-eventbridge --region us-east-1 <"$EV"
is "...PutEvents and STS each at their own URL" "$(last_issued) true true" "$(last_put_akid)"
: >"$T/fake.req"
expect_exit "AWS_ENDPOINT_URL for every service" 0 env -u AWS_ENDPOINT_URL_STS \
    AWS_ACCESS_KEY_ID=$AKID AWS_SECRET_ACCESS_KEY=$SECRET AWS_ENDPOINT_URL=$FAKE_URL \
    $VP_WRAP sink-eventbridge --region us-east-1 <"$EV"
is "...PutEvents sent there" "$AKID false true" "$(last_put_akid)"

# ---- AssumeRole profiles --------------------------------------------------------
mkdir -p "$HOME/.aws"
cat >"$HOME/.aws/credentials" <<EOF
[ops]
aws_access_key_id = AKIDOPSEXAMPLE
aws_secret_access_key = $OPS_SECRET

[tempsrc]
aws_access_key_id = ASIASOURCEEXAMPLE
aws_secret_access_key = $SRC_SECRET
aws_session_token = $SRC_TOKEN

[wrong]
aws_access_key_id = AKIDOPSEXAMPLE
aws_secret_access_key = not-the-secret
EOF
cat >"$HOME/.aws/config" <<EOF
# the shapes users deploy with
[default]
region = us-east-1

[profile eb]
role_arn = $ROLE
source_profile = ops
duration_seconds = 7200
s3 =
    max_concurrent_requests = 4

[profile chained]
role_arn = $ROLE
source_profile = hop
role_session_name = vcpipe-chain

[profile hop]
role_arn = arn:aws:iam::$A:role/hop
source_profile = ops

[profile partner]
role_arn = arn:aws:iam::$A:role/partner
source_profile = ops
external_id = vcpipe-ext-42

[profile partner-noext]
role_arn = arn:aws:iam::$A:role/partner
source_profile = ops

[profile fromtemp]
role_arn = $ROLE
source_profile = tempsrc

[profile self]
role_arn = $ROLE
source_profile = self
aws_access_key_id = AKIDOPSEXAMPLE
aws_secret_access_key = $OPS_SECRET

[profile fromenv]
role_arn = $ROLE
credential_source = Environment

[profile denied]
role_arn = arn:aws:iam::$A:role/nobody
source_profile = ops

[profile badsig]
role_arn = $ROLE
source_profile = wrong

[profile nosource]
role_arn = $ROLE

[profile both]
role_arn = $ROLE
source_profile = ops
credential_source = Environment

[profile dangling]
role_arn = $ROLE
source_profile = nosuch

[profile loop1]
role_arn = $ROLE
source_profile = loop2

[profile loop2]
role_arn = $ROLE
source_profile = loop1

[profile mfa]
role_arn = $ROLE
source_profile = ops
mfa_serial = arn:aws:iam::$A:mfa/ops

[profile badsource]
role_arn = $ROLE
credential_source = Laptop

[profile sso]
sso_start_url = https://example.awsapps.com/start
sso_region = us-east-1
sso_account_id = $A
sso_role_name = Admin
EOF
run_sink "role_arn + source_profile (AWS_PROFILE): delivered" 0 AWS_PROFILE=eb --
is "AssumeRole signed by the source keys (botocore verified the signature)" \
    "AssumeRole AKIDOPSEXAMPLE true $ROLE 7200" \
    "$(last_sts | jq -r '"\(.action) \(.caller) \(.signed) \(.role) \(.duration)"')"
is "PutEvents signed with the assumed role's credentials" "$(last_issued) true true" "$(last_put_akid)"
sdk_chain AWS_PROFILE=eb >"$T/sdk.out"
is "botocore: assume-role through the same fake STS, signature accepted" \
    "assume-role $(last_issued) 0 true" \
    "$(jq -r '"\(.method) \(.akid) \(.put)"' "$T/sdk.out") $(last_sts | jq -r .signed)"

: >"$T/creds.req"
run_sink "chained roles (source_profile assumes a role too)" 0 -- --profile chained
is "chain: hop assumed with the keys, then the role with hop's credentials and token" \
    "arn:aws:iam::$A:role/hop AKIDOPSEXAMPLE true|$ROLE $(sed -n 1p "$T/creds.req" | jq -r .issued) true|vcpipe-chain" \
    "$(jq -r '"\(.role) \(.caller) \(.signed)"' "$T/creds.req" | paste -sd '|')|$(last_sts | jq -r .session_name)"
sdk_chain AWS_PROFILE=chained >"$T/sdk.out"
is "botocore follows the same chain" "assume-role 0" "$(jq -r '"\(.method) \(.put)"' "$T/sdk.out")"

run_sink "external_id" 0 -- --profile partner
is "external_id sent, role assumed" "vcpipe-ext-42 200" "$(last_sts | jq -r '"\(.external_id) \(.status)"')"
run_sink "a role that wants an external_id, without one: AccessDenied (77)" 77 -- --profile partner-noext
check "the AccessDenied names the role" err_has "not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::$A:role/partner"

run_sink "source credentials with a session token" 0 -- --profile fromtemp
is "their token is sent and signed" "ASIASOURCEEXAMPLE true 200" "$(last_sts | jq -r '"\(.caller) \(.signed) \(.status)"')"
run_sink "a profile that is its own source_profile (keys and role together)" 0 -- --profile self
is "self source: keys used for AssumeRole" "AKIDOPSEXAMPLE 200" "$(last_sts | jq -r '"\(.caller) \(.status)"')"

: >"$T/creds.req"
run_sink "precedence: environment keys win over AWS_PROFILE's role" 0 AWS_PROFILE=eb AWS_ACCESS_KEY_ID=$AKID AWS_SECRET_ACCESS_KEY=$SECRET --
is "precedence: no STS call, the environment's keys signed PutEvents" "0 $AKID false true" \
    "$(wc -l <"$T/creds.req" | tr -d ' ') $(last_put_akid)"
is "botocore: the same precedence" "env $AKID" \
    "$(sdk_chain AWS_PROFILE=eb AWS_ACCESS_KEY_ID=$AKID AWS_SECRET_ACCESS_KEY=$SECRET | jq -r '"\(.method) \(.akid)"')"
run_sink "credential_source Environment with --profile (the environment is the source)" 0 \
    AWS_ACCESS_KEY_ID=AKIDOPSEXAMPLE AWS_SECRET_ACCESS_KEY=$OPS_SECRET -- --profile fromenv
is "credential_source Environment: AssumeRole signed with the environment's keys" \
    "AKIDOPSEXAMPLE true $(last_issued)" "$(last_sts | jq -r '"\(.caller) \(.signed) \(.issued)"')"

run_sink "STS refuses the role: exit 77" 77 -- --profile denied
check "refusal: STS's code and message" err_has "HTTP 403 AccessDenied: User: arn:aws:iam::$A:user/ops is not authorized"
run_sink "wrong source secret: SignatureDoesNotMatch, exit 77" 77 -- --profile badsig
check "wrong secret: SignatureDoesNotMatch reported" err_has "SignatureDoesNotMatch"
is "botocore gets the same SignatureDoesNotMatch" "SignatureDoesNotMatch 403" \
    "$(sdk_chain AWS_PROFILE=badsig | jq -r '"\(.code) \(.status)"')"

for p in nosource both dangling loop1 mfa badsource sso; do
	run_sink "profile $p: configuration error (78)" 78 -- --profile $p
done
check "messages say what is wrong" sh -c "grep -c -e 'neither source_profile nor credential_source' \
    -e 'both source_profile and credential_source' -e 'source_profile \[nosuch\] does not exist' \
    -e 'makes a loop' -e 'cannot type an MFA code' -e 'is not Environment, Ec2InstanceMetadata or EcsContainer' \
    -e 'IAM Identity Center' '$T/stderr.all' | grep -qx 7"
run_sink "a named profile that does not exist: 78" 78 AWS_PROFILE=nosuch --
check "unknown profile: both files named" err_has "no profile \[nosuch\] in $HOME/.aws/credentials or $HOME/.aws/config"

# ---- credential_process ---------------------------------------------------------
cat >"$T/helper" <<EOF
#!/bin/sh
env | sed 's/=.*//' | sort >"$T/helper.env"
printf '{"Version": 1, "AccessKeyId": "%s", "SecretAccessKey": "%s", "Expiration": "2099-01-01T00:00:00Z"}\n' "$AKID" "$SECRET"
EOF
printf '#!/bin/sh\necho "helper: certificate expired" >&2\nexit 3\n' >"$T/failing"
printf '#!/bin/sh\necho "{\\"Version\\": 2}"\n' >"$T/badjson"
chmod +x "$T/helper" "$T/failing" "$T/badjson"
cat >>"$HOME/.aws/config" <<EOF

[profile proc]
credential_process = $T/helper --certificate /etc/pki/vcpipe.pem

[profile proc-fail]
credential_process = $T/failing

[profile proc-missing]
credential_process = $T/no-such-helper

[profile proc-bad]
credential_process = $T/badjson
EOF
run_sink "credential_process: delivered" 0 AWS_SECRET_ACCESS_KEY=must-not-leak AWS_SESSION_TOKEN=nor-this -- --profile proc
is "credential_process: its keys signed PutEvents" "$AKID false true" "$(last_put_akid)"
check "credential_process: no secret of ours in its environment" sh -c "! grep -q -e AWS_SECRET_ACCESS_KEY -e AWS_SESSION_TOKEN '$T/helper.env'"
is "botocore runs the same helper" "custom-process $AKID 0" "$(sdk_chain AWS_PROFILE=proc | jq -r '"\(.method) \(.akid) \(.put)"')"
run_sink "credential_process failing: temporary (75), its stderr kept" 75 -- --profile proc-fail
check "failing helper: its message and status" sh -c "grep -q 'helper: certificate expired' '$T/.exit.err' && grep -q 'credential_process: exit status 3' '$T/.exit.err'"
run_sink "credential_process not found: 78" 78 -- --profile proc-missing
run_sink "credential_process with a bad answer: 78" 78 -- --profile proc-bad
check "bad answer: says what was wrong" err_has 'not JSON with "Version": 1'

# ---- secrets --------------------------------------------------------------------
printf '%s\n' "$OPS_SECRET" "$SRC_SECRET" "$SRC_TOKEN" "$IRSA" "$OLD" "$SECRET" must-not-leak nor-this >"$T/extra.secrets"
check "no secret in any stderr of the sink (issued, configured, tokens)" sh -c "
	{ jq -r '.secret, .token' '$CREDS_ISSUED'; cat '$T/extra.secrets'; } | sort -u >'$T/secrets'
	[ \$(wc -l <'$T/secrets') -gt 20 ] && [ -s '$T/stderr.all' ] && ! grep -F -f '$T/secrets' '$T/stderr.all'"
check "no secret in the fakes' request logs" sh -c "! grep -F -f '$T/secrets' '$T/creds.req' '$T/fake.req'"
done_testing
