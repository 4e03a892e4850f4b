#!/bin/sh
# The fake EventBridge itself, checked against botocore's own EventBridge
# client: the SDK's signed requests are accepted, its parsed responses and
# error codes are what AWS would give, and a wrong secret is refused.  This
# keeps the fake honest, since the sink's tests rely on it.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/fake-eventbridge/fake.sh"
plan 3
fake_config "$T/cfg.json"
printf '%s\n' '{"vc/vm-power": {"EventPattern": "{\"source\": [\"x\"]}"}}' >"$T/rules.json"
start_fake "$T/cfg.json" --rules "$T/rules.json"
check "botocore's client runs against the fake" sh -c \
    "FAKE_SECRET='$SECRET' python3 '$VP_SRCDIR/t/fake-eventbridge/sdk-client.py' '$FAKE_URL' '$AKID' - >'$T/sdk.out'"
same "responses and errors as botocore parses them" "$VP_SRCDIR/t/expected/sink-eventbridge-fake-sdk.out" "$T/sdk.out"
is "signatures: four accepted, the wrong secret refused" "true true true true false" \
    "$(jq -r .signed "$T/fake.req" | tr '\n' ' ' | sed 's/ $//')"
done_testing
