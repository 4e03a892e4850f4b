# t/vcpipe-config.sh: what tests (through t/lib.sh) and benches
# (bench/lib-pipeline.sh) share without TAP: a free port, and a writer of
# vcpipe Config files.  The vcfg_* functions print pieces of one Config to
# stdout; a test strings them together, adding its own YAML between them:
#   { vcfg_head; vcfg_vcenter sim "$VCSIM_URL" 1h
#     vcfg_knative rcv "http://127.0.0.1:$RPORT/"; vcfg_metrics "$mport"
#   } >"$T/c.yaml"
# Needs $T (the state directory is $T/state) and, for the vCenter provider,
# $VC_USERNAME and the password in $VC_PASSWORD at run time (t/vcsim.sh).

# A loopback port nothing listens on now.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The Config's head, up to its list of providers.
vcfg_head() {
	printf 'apiVersion: vcpipe/v1\nkind: Config\nstateDir: %s\nproviders:\n' "$T/state"
}

# vcfg_vcenter NAME URL [BEGIN]: a vCenter provider (Basic authentication
# with the simulator's user), up to its list of processors.
vcfg_vcenter() {
	printf '  - type: vcenter\n    name: %s\n    vcenter:\n      address: %s\n' "$1" "$2"
	[ -z "${3:-}" ] || printf '      begin: %s\n' "$3"
	printf '      auth:\n        type: basic_auth\n        basicAuth:\n'
	printf '          username: %s\n          passwordEnv: VC_PASSWORD\n' "$VC_USERNAME"
	printf '    processors:\n'
}

# vcfg_knative NAME URI [INFLIGHT]: a processor posting to URI, with up
# to INFLIGHT events on their way at once.
vcfg_knative() {
	printf '      - type: knative\n        name: %s\n        knative:\n' "$1"
	printf '          destination:\n            uri: %s\n' "$2"
	[ -z "${3:-}" ] || printf '          inflight: %s\n' "$3"
}

# vcfg_stdout NAME: a processor printing the events.
vcfg_stdout() { printf '      - type: stdout\n        name: %s\n' "$1"; }

# vcfg_metrics PORT: the metrics endpoint on 127.0.0.1:PORT.
vcfg_metrics() {
	printf 'metricsProvider:\n  type: default\n  name: m\n  default:\n'
	printf '    bindAddress: 127.0.0.1:%s\n' "$1"
}

# vcfg_eventbridge NAME ENDPOINT: a processor putting events on the bus
# "vc" of the fake EventBridge at ENDPOINT, with the rule vc/all, signed
# with the fake's keys $AKID and $SECRET (t/fake-eventbridge/fake.sh).
vcfg_eventbridge() {
	printf '      - type: aws_event_bridge\n        name: %s\n        awsEventBridge:\n' "$1"
	printf '          region: us-east-1\n          eventBus: vc\n'
	printf '          ruleARN: arn:aws:events:us-east-1:123456789012:rule/vc/all\n'
	printf '          endpointUrl: %s\n          auth:\n            type: aws_access_key\n' "$2"
	printf '            awsAccessKeyAuth:\n              accessKey: %s\n              secretKey: %s\n' "$AKID" "$SECRET"
}
