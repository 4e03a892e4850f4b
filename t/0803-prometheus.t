#!/bin/sh
# Prometheus as users run it, against vcpipe against the vCenter simulator:
# promtool accepts /metrics; a real Prometheus server scrapes vcpipe-metrics,
# its counters match what the pipelines did, the alert rules in contrib/
# evaluate and fire on dead letters, and every query of the Grafana
# dashboard in contrib/ runs.  promtool checks and unit-tests the rules.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/vcsim.sh"
. "$VP_SRCDIR/t/http-receiver/lib.sh"
PATH=$VP_BUILDDIR/src/vcpipe-metrics:$PATH
for p in prometheus promtool vcpipe-metrics jq curl go python3; do
	command -v $p >/dev/null 2>&1 || skip_all "$p not installed"
done
plan 13

rules=$VP_SRCDIR/contrib/prometheus/vcpipe-alerts.yml
dashboard=$VP_SRCDIR/contrib/grafana/vcpipe-dashboard.json
check "promtool check rules" promtool check rules "$rules"
check "promtool test rules: each alert fires when it should, only then" \
	sh -c "cd '$VP_SRCDIR/contrib/prometheus' && promtool test rules vcpipe-alerts.test.yml"

vcsim_start -history || bail "vcsim did not start"
start_receiver refuse --default 400
mport=$(free_port)
{
	vcfg_head
	vcfg_vcenter sim "$VCSIM_URL" 1h
	vcfg_stdout print
	vcfg_knative refuse "http://127.0.0.1:$RPORT/"
	vcfg_metrics "$mport"
} >"$T/c.yaml"
mkdir -p "$T/state"
$VP_WRAP vcpipe -config "$T/c.yaml" >"$T/out" 2>"$T/err" &
bg_pid $!
M=http://127.0.0.1:$mport
wait_for 30 sh -c "curl -sf $M/metrics | grep -q '^vcpipe_pipeline_running{.*} 1'" ||
	bail "vcpipe did not start: $(cat "$T/err")"
for op in power-off power-on login "create-vm name=prom1"; do
	# shellcheck disable=SC2086
	vcsim_op $op >/dev/null || bail "vcsim_op $op failed"
done

curl -s "$M/metrics" >"$T/metrics.txt"
check "promtool check metrics: /metrics is clean" sh -c \
	"promtool check metrics <'$T/metrics.txt' >'$T/lint' 2>&1 && ! test -s '$T/lint'"

pport=$(free_port)
P=http://127.0.0.1:$pport
cat >"$T/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $rules
scrape_configs:
  - job_name: vcpipe
    static_configs:
      - targets: ["127.0.0.1:$mport"]
YAML
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom" \
	--web.listen-address="127.0.0.1:$pport" --log.level=warn 2>"$T/prom.err" &
bg_pid $!
wait_for 60 curl -sf "$P/-/ready" || bail "prometheus did not start: $(cat "$T/prom.err")"
# query PROMQL: the first sample's value ("" when none)
query() { curl -s -G "$P/api/v1/query" --data-urlencode "query=$1" | jq -r '.data.result[0].value[1] // ""'; }
wait_for 30 sh -c "curl -s $P/api/v1/targets | jq -e '.data.activeTargets[0].health == \"up\"'" || true
is "Prometheus scrapes vcpipe-metrics" up \
	"$(curl -s "$P/api/v1/targets" | jq -r '.data.activeTargets[0].health')"
# more events once Prometheus watches: counters it has seen grow
for op in power-off power-on; do
	vcsim_op $op >/dev/null || bail "vcsim_op $op failed"
done

# the counters, once the events have settled: what the pipelines did
settled() {
	[ "$(query 'vcpipe_events_delivered_total{pipeline="sim.print"}')" = "$(wc -l <"$T/out")" ] &&
	[ "$(query 'vcpipe_events_deadlettered_total{pipeline="sim.refuse"}')" = "$(wc -l <"$T/state/sim.refuse.dlq")" ] &&
	[ "$(query 'vcpipe_events_read_total{pipeline="sim.print"}')" = "$(query 'vcpipe_events_read_total{pipeline="sim.refuse"}')" ]
}
wait_for 60 settled || true
printed=$(wc -l <"$T/out")
check "events were printed and dead-lettered" sh -c "[ $printed -gt 5 ] && [ -s '$T/state/sim.refuse.dlq' ]"
is "vcpipe_events_delivered_total: the events printed" "$printed" \
	"$(query 'vcpipe_events_delivered_total{pipeline="sim.print"}')"
is "vcpipe_events_deadlettered_total: the dead-letter file's events" "$(wc -l <"$T/state/sim.refuse.dlq")" \
	"$(query 'vcpipe_events_deadlettered_total{pipeline="sim.refuse"}')"
is "vcpipe_events_read_total: the same events in both pipelines" \
	"$(query 'vcpipe_events_read_total{pipeline="sim.print"}')" \
	"$(query 'vcpipe_events_read_total{pipeline="sim.refuse"}')"

firing() { curl -s "$P/api/v1/alerts" |
	jq -e '[.data.alerts[] | select(.labels.alertname == "VcpipeEventsDeadLettered" and .state == "firing") | .labels.pipeline] == ["sim.refuse"]'; }
wait_for 30 firing || true
check "the dead-letter alert fires for that pipeline only" firing
is "every rule evaluates without error" "5 ok" \
	"$(curl -s "$P/api/v1/rules" | jq -r '[.data.groups[].rules[]] | "\(length) \([.[].health] | unique | join(","))"')"

# the dashboard: each query runs, the metric names it and the rules use exist
: >"$T/bad"
jq -r '.panels[].targets[].expr' "$dashboard" |
	sed 's/\$__rate_interval/1m/g; s/\$__range/10m/g; s/\$pipeline/.*/g' |
	while IFS= read -r q; do
		# data is expected where every metric the query names has samples
		# (vcpipe_events_retried_total has none until a sink reports retries)
		want=true
		for m in $(printf '%s\n' "$q" | grep -o 'vcpipe_[a-z_]*'); do
			grep -q "^$m[{ ]" "$T/metrics.txt" || want=false
		done
		curl -s -G "$P/api/v1/query" --data-urlencode "query=$q" |
			jq -e --argjson want $want '.status == "success" and (.data.result | length > 0 or ($want | not))' \
			>/dev/null || echo "$q" >>"$T/bad"
	done
check "every dashboard query runs, with data where the metrics have samples" \
	sh -c "! test -s '$T/bad' || { cat '$T/bad'; false; }"
is "the dashboard's pipeline list" '["sim.print","sim.refuse"]' \
	"$(curl -s -G "$P/api/v1/label/pipeline/values" --data-urlencode 'match[]=vcpipe_events_read_total' | jq -c .data)"
grep -ho 'vcpipe_[a-z_]*' "$dashboard" "$rules" | sort -u >"$T/used"
sed -n 's/^# TYPE \([a-z_]*\) .*/\1/p' "$T/metrics.txt" | sort -u >"$T/served"
is "every metric the dashboard and rules use is served" "" "$(comm -23 "$T/used" "$T/served")"
done_testing
