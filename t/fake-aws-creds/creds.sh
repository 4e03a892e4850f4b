# creds.sh: start t/fake-aws-creds for a test (source after fake.sh).
# The fake STS/IMDS/container server hands out credentials that
# fake-eventbridge accepts (start_fake ... --issued "$CREDS_ISSUED").
CREDS_PY=$VP_SRCDIR/t/fake-aws-creds/fake-creds.py
SDK_CREDS=$VP_SRCDIR/t/fake-aws-creds/sdk-creds.py
CREDS_ISSUED=$T/creds.issued
CREDS_STATE=$T/creds.state
mkdir -p "$CREDS_STATE"
: >"$CREDS_ISSUED"

# start_creds CONFIG [fake options]: sets CREDS_URL (ends with /), CREDS_PID;
# requests logged in $T/creds.req
start_creds() {
	_cfg=$1; shift
	: >"$T/creds.req"
	start_server creds python3 "$CREDS_PY" --config "$_cfg" \
	    --issued "$CREDS_ISSUED" --requests "$T/creds.req" \
	    --state "$CREDS_STATE" "$@"
	CREDS_PID=$SERVER_PID CREDS_URL=$SERVER_URL
}

stop_creds() {
	kill "$CREDS_PID" 2>/dev/null || true
	wait "$CREDS_PID" 2>/dev/null || true
}

# The n-th credential handed out (1 = first), as JSON.
issued() { sed -n "${1}p" "$CREDS_ISSUED"; }
issued_count() { wc -l <"$CREDS_ISSUED" | tr -d ' '; }

# run_sink DESC CODE [VAR=VALUE...] -- [OPTIONS]: expect_exit on the sink
# with that environment and options, reading $EV, sending to the fake
# EventBridge; its stderr is added to $T/stderr.all (for the secret checks)
run_sink() {
	_d=$1 _c=$2; shift 2
	_env=""
	while [ "$1" != "--" ]; do _env="$_env $1"; shift; done
	shift
	expect_exit "$_d" "$_c" env $_env $VP_WRAP sink-eventbridge --region us-east-1 \
	    --endpoint-url "$FAKE_URL" "$@" <"$EV"
	cat "$T/.exit.err" >>"$T/stderr.all"
}
# sdk_chain VAR=VALUE...: botocore's chain with that environment, then one
# PutEvents with what it found; one JSON line (see sdk-creds.py)
sdk_chain() { env "$@" python3 "$SDK_CREDS" --events "$FAKE_URL" 2>>"$T/sdk.err"; }
