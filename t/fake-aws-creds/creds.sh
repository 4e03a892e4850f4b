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
	rm -f "$T/creds.port"
	: >"$T/creds.req"
	python3 "$CREDS_PY" --config "$_cfg" --issued "$CREDS_ISSUED" \
	    --requests "$T/creds.req" --state "$CREDS_STATE" \
	    --port-file "$T/creds.port" "$@" 2>>"$T/creds.err" &
	CREDS_PID=$!
	bg_pid $CREDS_PID
	if ! wait_for 60 test -s "$T/creds.port"; then
		sed 's/^/# fake-creds: /' "$T/creds.err" >&2
		bail "fake-creds did not start"
	fi
	CREDS_URL="http://127.0.0.1:$(cat "$T/creds.port")/"
}

stop_creds() {
	kill "$CREDS_PID" 2>/dev/null || true
	wait "$CREDS_PID" 2>/dev/null || true
}

# The n-th credential handed out (1 = first), as JSON.
issued() { sed -n "${1}p" "$CREDS_ISSUED"; }
issued_count() { wc -l <"$CREDS_ISSUED" | tr -d ' '; }
# Every secret value handed out or configured, one per line (for greps).
all_secrets() {
	jq -r '.secret, .token' "$CREDS_ISSUED"
	jq -r '(.principals // [])[] | .secret, (.token // empty)' "$@"
	jq -r '(.web_tokens // {}) | keys[]' "$@"
	jq -r '.container.token // empty' "$@"
}
# no_secrets_in FILE... : none of the secrets appears in these files
no_secrets_in() {
	all_secrets "$CREDS_CFG" | grep -v '^$' | sort -u >"$T/.secrets"
	[ -s "$T/.secrets" ] || return 1
	! grep -F -f "$T/.secrets" "$@"
}
# A loopback port nothing listens on (for "unreachable" cases).
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
