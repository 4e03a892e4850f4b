#!/bin/sh
# bench/e2e-latency.sh [BUILDDIR]: end-to-end latency through the whole
# pipeline as bin/vcpipe runs it (vc-source | vcpipe-tap | ce-encode |
# vcpipe-tap | sink-http, metrics on), from an event's creation in the
# simulator (vcsim -history: real vCenter collector semantics, wake-ups as
# soon as latestPage changes) to its arrival at a receiver, at 10, 1,000 and
# 10,000 events/s (the simulator's post-burst rate=R: event i created at
# i/R s). Beside each figure, the event router's design figure for the same
# events (bench/latency.py: its published loop, one ReadNextEvents(100) per
# 1 s tick, 1-5 s backoff when idle).
#
# env: RATES (default "10 1000 10000"), SECS seconds per rate (default 5),
#      RUNS (default 3: min / median / max of each figure at the end),
#      INFLIGHT (the knative processor's inflight: default 1, in order),
#      PAGE_SIZE (vc-source --page-size, default its own 100: the latestPage
#      every wake-up carries whole; vcpipe's config has no such field, so a
#      wrapper first in PATH adds it, and vc-source then runs as its own
#      program instead of a stage vcpipe-group forks: compare PAGE_SIZE=100
#      with PAGE_SIZE=N, not with no PAGE_SIZE)
# Target (issue 16): p99 under 10 ms at 1,000 events/s.
# The receiver (bench/stamp-receiver.c) answers at once; same clock for
# the simulator and the receiver. The machine may be shared: the load
# average is printed with each run.
set -eu
. "$(dirname "$0")/lib-pipeline.sh"
RATES=${RATES:-10 1000 10000}
SECS=${SECS:-5}
RUNS=${RUNS:-3}

if [ -n "${PAGE_SIZE:-}" ]; then
	mkdir -p "$T/wrap"
	printf '#!/bin/sh\nexec %s --page-size %s "$@"\n' \
	    "$(command -v vc-source)" "$PAGE_SIZE" >"$T/wrap/vc-source"
	chmod +x "$T/wrap/vc-source"
	PATH=$T/wrap:$PATH
fi
vcsim_start -history >/dev/null
stamp_receiver
vcpipe_config "$T/c.yaml" "$VCSIM_URL"
vcpipe_run "$T/c.yaml" 1
echo "host: $(nproc) CPUs; one vcpipe pipeline (knative uri, inflight ${INFLIGHT:-1}${PAGE_SIZE:+, vc-source --page-size $PAGE_SIZE}) on vcsim -history; $SECS s per rate"
for run in $(seq 1 "$RUNS"); do
	for rate in $RATES; do
		n=$((rate * SECS))
		r=$(vcsim_op post-burst count=$n rate=$rate)
		first=$(printf '%s\n' "$r" | jq .firstKey) last=$(printf '%s\n' "$r" | jq .lastKey)
		end=$(( $(date +%s) + 120 ))
		while [ "$(received "$first" "$last")" -lt "$n" ] && [ "$(date +%s)" -lt "$end" ]; do
			sleep 0.5
		done
		got=$(received "$first" "$last")
		python3 "$VP_SRCDIR/bench/latency.py" "$RLOG" --keys "$first-$last" >"$T/lat"
		printf 'run %d  %5d events/s (posted in %.2f s, load %s)  %d/%d arrived\n' "$run" "$rate" \
			"$(printf '%s\n' "$r" | jq .seconds)" "$(load)" "$got" "$n"
		sed 's/^/    /' "$T/lat"
		set -- $(sed -n 's/^vcpipe .* p50 *\([0-9.]*\) ms *p99 *\([0-9.]*\) ms.*/\1 \2/p' "$T/lat")
		echo "$1" >>"$T/p50.$rate"; echo "$2" >>"$T/p99.$rate"
		set -- $(sed -n 's/^router .* p50 *\([0-9.]*\) ms *p99 *\([0-9.]*\) ms.*/\1 \2/p' "$T/lat")
		echo "$1" >>"$T/r50.$rate"; echo "$2" >>"$T/r99.$rate"
		sleep 2
	done
done
vcpipe_end
echo
echo "summary over $RUNS runs, min / median / max (ms)"
for rate in $RATES; do
	printf '%6d events/s  vcpipe p50 %s  p99 %s    router design p50 %s  p99 %s\n' "$rate" \
		"$(mmm <"$T/p50.$rate")" "$(mmm <"$T/p99.$rate")" "$(mmm <"$T/r50.$rate")" "$(mmm <"$T/r99.$rate")"
done
