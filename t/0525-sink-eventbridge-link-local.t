#!/bin/sh
# The metadata services at their real addresses, with nothing pointed
# anywhere: in a private network namespace (unshare -rn) the fakes listen on
# 169.254.169.254:80 (EC2 instance metadata) and 169.254.170.2:80 (the ECS
# agent, reached through AWS_CONTAINER_CREDENTIALS_RELATIVE_URI), and both
# sink-eventbridge and botocore find credentials there by their defaults.
# The sink calls them directly even when the environment names a proxy.
if [ -z "${VP_NETNS:-}" ] && unshare -rn true 2>/dev/null; then
	VP_NETNS=1 exec unshare -rn /bin/sh "$0" "$@"
fi
. "${0%/*}/lib.sh"
[ -n "${VP_NETNS:-}" ] || skip_all "no private network namespace (unshare -rn refused)"
IP=$(command -v ip || echo /usr/sbin/ip)
[ -x "$IP" ] || skip_all "ip (iproute2) is needed"
. "$VP_SRCDIR/t/fake-eventbridge/fake.sh"
. "$VP_SRCDIR/t/fake-aws-creds/creds.sh"
plan 8
SE="$VP_WRAP sink-eventbridge"
no_env_keys
unset AWS_EC2_METADATA_DISABLED
# a loaded machine (or valgrind) may take longer than IMDS's default 1 s
AWS_METADATA_SERVICE_TIMEOUT=5; export AWS_METADATA_SERVICE_TIMEOUT
"$IP" link set lo up
"$IP" addr add 169.254.169.254/32 dev lo
"$IP" addr add 169.254.170.2/32 dev lo
CREDS_CFG=$T/creds.json
cat >"$CREDS_CFG" <<EOF
{"region": "us-east-1",
 "imds": {"role": "vcpipe-ec2"},
 "container": {"path": "/v2/credentials/2d3f0bc8-1c32-4d6a-9f4c-7e2a5b8a3c11"}}
EOF
# one fake per address, sharing the list of what they hand out
start_creds "$CREDS_CFG" --bind 169.254.169.254 --port 80
python3 "$CREDS_PY" --config "$CREDS_CFG" --issued "$CREDS_ISSUED" \
    --requests "$T/ecs.req" --bind 169.254.170.2 --port 80 \
    --port-file "$T/ecs.port" 2>>"$T/creds.err" &
bg_pid $!
wait_for 60 test -s "$T/ecs.port" || bail "fake-creds on 169.254.170.2 did not start"
fake_config "$T/eb.json"
start_fake "$T/eb.json" --issued "$CREDS_ISSUED"
AWS_DEFAULT_REGION=us-east-1; export AWS_DEFAULT_REGION
EV=$VP_SRCDIR/t/data/sink-eventbridge-binary.ndjson
via() { jq -r --arg a "$1" 'select(.akid == $a) | .via' "$CREDS_ISSUED"; }
last_akid() { tail -1 "$T/fake.req" | jq -r .akid; }

expect_exit "EC2 instance metadata at 169.254.169.254, nothing configured" 0 \
    $SE --region us-east-1 --endpoint-url "$FAKE_URL" <"$EV"
is "IMDS: the instance role's credentials signed PutEvents" "imds" "$(via "$(last_akid)")"
is "botocore's defaults find the same" "iam-role $(last_akid)" \
    "$(python3 "$SDK_CREDS" | jq -r '"\(.method) \(.akid)"')"
expect_exit "a proxy in the environment is not used for the metadata service" 0 \
    env http_proxy=http://127.0.0.1:9/ HTTP_PROXY=http://127.0.0.1:9/ no_proxy=127.0.0.1 NO_PROXY=127.0.0.1 \
    $SE --region us-east-1 --endpoint-url "$FAKE_URL" <"$EV"
REL=/v2/credentials/2d3f0bc8-1c32-4d6a-9f4c-7e2a5b8a3c11
expect_exit "ECS: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI on 169.254.170.2" 0 \
    env AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=$REL \
    $SE --region us-east-1 --endpoint-url "$FAKE_URL" <"$EV"
is "ECS: the task role's credentials signed PutEvents" "container" "$(via "$(last_akid)")"
is "the agent saw the relative URI" "$REL 200" "$(tail -1 "$T/ecs.req" | jq -r '"\(.path) \(.status)"')"
is "botocore's defaults find the same" "container-role $(last_akid)" \
    "$(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=$REL python3 "$SDK_CREDS" | jq -r '"\(.method) \(.akid)"')"
done_testing
