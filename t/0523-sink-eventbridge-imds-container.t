#!/bin/sh
# sink-eventbridge takes credentials from EC2 instance metadata (IMDSv2:
# token PUT first, then the role and its credentials; IMDSv1 only when the
# token is refused; AWS_EC2_METADATA_DISABLED) and from the ECS/EKS container
# endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI with the authorization token
# or its file), in botocore's order after the environment, web identity and
# profiles.  botocore's own providers use the same fakes.  Failures: an
# unreachable metadata service means no credentials (78) with the reason; a
# refused token 77; a failing endpoint 75.  No secret reaches a log.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/fake-eventbridge/fake.sh"
. "$VP_SRCDIR/t/fake-aws-creds/creds.sh"
plan 51
D=$VP_SRCDIR/t/data
no_env_keys
unset AWS_EC2_METADATA_DISABLED
# a loaded machine (or valgrind) may take longer than IMDS's default 1 s
AWS_METADATA_SERVICE_TIMEOUT=5; export AWS_METADATA_SERVICE_TIMEOUT
CTR_TOKEN='ctr-auth-token/EXAMPLE+secret=='
IRSA=eyJhbGciOiJSUzI1NiJ9.irsa-token-secret.c2ln
A=111122223333
CREDS_CFG=$T/creds.json
cat >"$CREDS_CFG" <<EOF
{"region": "us-east-1",
 "roles": {"arn:aws:iam::$A:role/eb-writer": {"trust": [], "web_tokens": ["$IRSA"]}},
 "web_tokens": {"$IRSA": {"sub": "system:serviceaccount:vcpipe:sink"}},
 "imds": {"role": "vcpipe-ec2"},
 "container": {"path": "/v1/credentials", "token": "$CTR_TOKEN"}}
EOF
start_creds "$CREDS_CFG"
fake_config "$T/eb.json"
start_fake "$T/eb.json" --issued "$CREDS_ISSUED"
AWS_DEFAULT_REGION=us-east-1; export AWS_DEFAULT_REGION
FAKE_STS_URL=$CREDS_URL; export FAKE_STS_URL
AWS_ENDPOINT_URL_STS=$CREDS_URL; export AWS_ENDPOINT_URL_STS
EV=$D/sink-eventbridge-binary.ndjson
IMDS="AWS_EC2_METADATA_SERVICE_ENDPOINT=$CREDS_URL"
OFF="AWS_EC2_METADATA_DISABLED=true"
CTR="AWS_CONTAINER_CREDENTIALS_FULL_URI=${CREDS_URL}v1/credentials"
printf '%s' "$CTR_TOKEN" >"$T/ctr.token"
printf '%s' "$IRSA" >"$T/irsa.token"
DEAD=http://127.0.0.1:$(free_port)

via() { jq -r --arg a "$1" 'select(.akid == $a) | .via' "$CREDS_ISSUED"; }
last_put() { tail -1 "$T/fake.req" | jq -r '"\(.akid) \(.token) \(.signed)"'; }
apis() { jq -r .api "$T/creds.req" | uniq | paste -sd ' ' -; }
err_has() { grep -q -- "$1" "$T/.exit.err"; }

# ---- EC2 instance metadata ------------------------------------------------------
: >"$T/creds.req"
run_sink "IMDS: delivered with the instance role's credentials" 0 $IMDS --
AK=$(tail -1 "$T/fake.req" | jq -r .akid)
is "IMDS: PutEvents signed with them and their token" "imds true true" "$(via "$AK") $(last_put | cut -d' ' -f2-)"
is "IMDSv2: token PUT (TTL 21600) first, then the role and its credentials with the token" \
    "PUT /latest/api/token 21600 200|GET /latest/meta-data/iam/security-credentials/ true 200|GET /latest/meta-data/iam/security-credentials/vcpipe-ec2 true 200" \
    "$(jq -r '"\(.method) \(.path) \(.ttl // .token) \(.status)"' "$T/creds.req" | paste -sd '|' -)"
is "botocore's IMDS provider gets the same credentials from the fake" "iam-role $AK 0" \
    "$(sdk_chain $IMDS | jq -r '"\(.method) \(.akid) \(.put)"')"
touch "$CREDS_STATE/imds.v1only"
: >"$T/creds.req"
run_sink "IMDSv1-only service (token PUT answered 405): falls back" 0 $IMDS --
is "IMDSv1: GETs without a token" "PUT 405|GET false|GET false" \
    "$(jq -r '"\(.method) \(if .method == "PUT" then .status else .token end)"' "$T/creds.req" | paste -sd '|' -)"
run_sink "IMDSv1 refused with AWS_EC2_METADATA_V1_DISABLED=true: 78" 78 $IMDS AWS_EC2_METADATA_V1_DISABLED=true --
check "v1 disabled: the reason" err_has "AWS_EC2_METADATA_V1_DISABLED is true"
rm -f "$CREDS_STATE/imds.v1only"
touch "$CREDS_STATE/imds.norole"
run_sink "an instance without a role: 78" 78 $IMDS --
check "no role: said so" err_has "no IAM role is attached to this instance"
rm -f "$CREDS_STATE/imds.norole"
touch "$CREDS_STATE/imds.down"
run_sink "IMDS answering 500: temporary (75)" 75 $IMDS --
rm -f "$CREDS_STATE/imds.down"
: >"$T/creds.req"
run_sink "AWS_EC2_METADATA_DISABLED=true: IMDS is not asked, no credentials (78)" 78 $IMDS $OFF --
is "disabled: no request to the metadata service" "0" "$(wc -l <"$T/creds.req" | tr -d ' ')"
check "disabled: the message says so" err_has "AWS_EC2_METADATA_DISABLED is true"
run_sink "IMDS unreachable (not EC2): no credentials (78)" 78 AWS_EC2_METADATA_SERVICE_ENDPOINT=$DEAD/ --
check "unreachable: the message lists what was tried, with the metadata URL" \
    sh -c "grep -q 'no credentials: not in the environment' '$T/.exit.err' && grep -q 'EC2 instance metadata ($DEAD)' '$T/.exit.err'"
is "botocore finds nothing there either" "NoCredentials" \
    "$(sdk_chain AWS_EC2_METADATA_SERVICE_ENDPOINT=$DEAD/ | jq -r .error)"

# ---- container endpoint ----------------------------------------------------------
: >"$T/creds.req"
run_sink "container endpoint with AWS_CONTAINER_AUTHORIZATION_TOKEN" 0 $OFF $CTR AWS_CONTAINER_AUTHORIZATION_TOKEN=$CTR_TOKEN --
AK=$(tail -1 "$T/fake.req" | jq -r .akid)
is "container: PutEvents signed with its credentials" "container true true" "$(via "$AK") $(last_put | cut -d' ' -f2-)"
is "container: one GET with the Authorization header" "container /v1/credentials true 200" \
    "$(jq -r '"\(.api) \(.path) \(.auth) \(.status)"' "$T/creds.req")"
is "botocore's container provider gets the same credentials" "container-role $AK 0" \
    "$(sdk_chain $OFF $CTR AWS_CONTAINER_AUTHORIZATION_TOKEN=$CTR_TOKEN | jq -r '"\(.method) \(.akid) \(.put)"')"
run_sink "EKS Pod Identity: the token from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (it wins)" 0 \
    $OFF $CTR AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=$T/ctr.token AWS_CONTAINER_AUTHORIZATION_TOKEN=wrong --
run_sink "a refused token: 77" 77 $OFF $CTR AWS_CONTAINER_AUTHORIZATION_TOKEN=wrong --
check "refused token: said so, with the status" err_has "container endpoint ${CREDS_URL}v1/credentials: HTTP 403 (the authorization token was refused)"
run_sink "no token where one is needed: 77" 77 $OFF $CTR --
run_sink "unreadable token file: 77" 77 $OFF $CTR AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=$T/missing.token --
check "unreadable token file: named" err_has "container authorization token file $T/missing.token: No such file or directory"
run_sink "plain http to another host: refused (78)" 78 $OFF AWS_CONTAINER_CREDENTIALS_FULL_URI=http://192.0.2.10/creds --
check "host not allowed: the rule is given" err_has "plain http is only for a loopback address"
touch "$CREDS_STATE/container.down"
run_sink "container endpoint answering 500: temporary (75)" 75 $OFF $CTR AWS_CONTAINER_AUTHORIZATION_TOKEN=$CTR_TOKEN --
rm -f "$CREDS_STATE/container.down"
run_sink "container endpoint unreachable: temporary (75)" 75 $OFF AWS_CONTAINER_CREDENTIALS_FULL_URI=$DEAD/v1/credentials --
check "unreachable endpoint: the URL is named" err_has "container endpoint $DEAD/v1/credentials:"

# ---- the order of the chain -------------------------------------------------------
ALL="$IMDS $CTR AWS_CONTAINER_AUTHORIZATION_TOKEN=$CTR_TOKEN"
: >"$T/creds.req"
run_sink "environment keys first" 0 $ALL AWS_ACCESS_KEY_ID=$AKID AWS_SECRET_ACCESS_KEY=$SECRET --
is "environment keys first: neither endpoint asked" "$AKID false true" "$(last_put)"
is "...no request to the container endpoint or IMDS" "0" "$(wc -l <"$T/creds.req" | tr -d ' ')"
run_sink "web identity before the container endpoint" 0 $ALL AWS_WEB_IDENTITY_TOKEN_FILE=$T/irsa.token AWS_ROLE_ARN=arn:aws:iam::$A:role/eb-writer --
is "web identity first: only STS asked" "sts" "$(apis)"
is "botocore agrees" "assume-role-with-web-identity" \
    "$(sdk_chain $ALL AWS_WEB_IDENTITY_TOKEN_FILE=$T/irsa.token AWS_ROLE_ARN=arn:aws:iam::$A:role/eb-writer | jq -r .method)"
mkdir -p "$HOME/.aws"
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n\n[regiononly]\nregion = us-east-1\n' \
    "$AKID" "$SECRET" >"$HOME/.aws/credentials"
: >"$T/creds.req"
run_sink "the shared credentials file before the container endpoint" 0 $ALL --
is "profile keys first: no endpoint asked" "0 $AKID" "$(wc -l <"$T/creds.req" | tr -d ' ') $(last_put | cut -d' ' -f1)"
is "botocore agrees" "shared-credentials-file" "$(sdk_chain $ALL | jq -r .method)"
: >"$T/creds.req"
run_sink "a named profile without credentials: on to the container endpoint" 0 $ALL -- --profile regiononly
is "container endpoint before IMDS" "container" "$(apis)"
is "botocore agrees" "container-role" "$(sdk_chain $ALL AWS_PROFILE=regiononly | jq -r .method)"
rm -f "$HOME/.aws/credentials"
: >"$T/creds.req"
run_sink "a failing container endpoint is an error, not a reason to try IMDS (75)" 75 \
    $IMDS AWS_CONTAINER_CREDENTIALS_FULL_URI=$DEAD/v1/credentials --
is "...IMDS was not asked" "0" "$(wc -l <"$T/creds.req" | tr -d ' ')"
is "botocore stops there too" "CredentialRetrievalError" \
    "$(sdk_chain $IMDS AWS_CONTAINER_CREDENTIALS_FULL_URI=$DEAD/v1/credentials | jq -r .error)"
run_sink "IMDS last" 0 $IMDS --
is "IMDS last: its credentials" "imds" "$(via "$(tail -1 "$T/fake.req" | jq -r .akid)")"

check "no secret in any stderr of the sink" sh -c "
	{ jq -r '.secret, .token' '$CREDS_ISSUED'; printf '%s\n' '$CTR_TOKEN' '$IRSA' '$SECRET'; } | sort -u >'$T/secrets'
	[ -s '$T/stderr.all' ] && ! grep -F -f '$T/secrets' '$T/stderr.all'"
check "no secret in the fakes' request logs" sh -c "! grep -F -f '$T/secrets' '$T/creds.req' '$T/fake.req'"
done_testing
