# fake.sh: start t/fake-eventbridge for a test (source after t/lib.sh).
# Needs python3 with botocore (Debian: python3-botocore) for SigV4 checks.
python3 -c 'import botocore.auth' 2>/dev/null ||
	skip_all "python3-botocore is needed to verify signatures"
command -v jq >/dev/null 2>&1 || skip_all "jq is needed"

FAKE_PY=$VP_SRCDIR/t/fake-eventbridge/fake-eventbridge.py
AKID=AKIDEXAMPLE
SECRET='wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'
TMP_AKID=ASIAEXAMPLETEMP
TMP_SECRET='temp/Secret+Key=='
TMP_TOKEN='IQoJb3JpZ2luX2VjEXAMPLE//////////token+/='

# fake_config FILE [JSON merged into the default configuration]
fake_config() {
	jq -n --arg a "$AKID" --arg s "$SECRET" --arg ta "$TMP_AKID" \
	    --arg ts "$TMP_SECRET" --arg tt "$TMP_TOKEN" --argjson extra "${2:-{\}}" \
	    '{region: "us-east-1", buses: ["default", "vc"],
	      credentials: [{akid: $a, secret: $s},
	                    {akid: $ta, secret: $ts, token: $tt}]} + $extra' >"$1"
}

# start_fake CONFIG [fake options]: sets FAKE_URL; logs in $T/fake.*
start_fake() {
	_cfg=$1; shift
	: >"$T/fake.log"; : >"$T/fake.req"
	start_server fake python3 "$FAKE_PY" --config "$_cfg" \
	    --log "$T/fake.log" --requests "$T/fake.req" "$@"
	FAKE_PID=$SERVER_PID FAKE_URL=$SERVER_URL
}

stop_fake() {
	kill "$FAKE_PID" 2>/dev/null || true
	wait "$FAKE_PID" 2>/dev/null || true
}

# No AWS setting from the caller's environment reaches a test, and the
# credential chain never asks a real instance metadata service.
aws_env_clean() {
	for _v in $(env | sed -n 's/^\(AWS_[A-Z0-9_]*\)=.*/\1/p'); do
		case $_v in AWS_REGION|AWS_DEFAULT_REGION) ;; *) unset "$_v" ;; esac
	done
	AWS_EC2_METADATA_DISABLED=true; export AWS_EC2_METADATA_DISABLED
}

# Long-lived keys in the environment, nothing else.
use_env_keys() {
	aws_env_clean
	AWS_ACCESS_KEY_ID=$AKID AWS_SECRET_ACCESS_KEY=$SECRET
	export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
	HOME=$T/home; export HOME
	mkdir -p "$HOME"
}
no_env_keys() {
	aws_env_clean
	HOME=$T/home; export HOME
	mkdir -p "$HOME"
}

# Every request the fake saw was signed correctly.
all_signed() { [ "$(jq -s 'length > 0 and all(.signed)' "$T/fake.req")" = true ]; }
# Ids delivered, in the order the fake accepted them, one line.
delivered_ids() { jq -r '.Detail | fromjson | .id' "$T/fake.log" | tr '\n' ' ' | sed 's/ $//'; }
