#!/bin/sh
# Every program answers --help on stdout with exit 0, --version naming its
# libraries, and a usage error with exit 64 and its own name on stderr.
. "${0%/*}/lib.sh"
progs=""
for p in vc-source ce-encode sink-http sink-eventbridge; do
	command -v "$p" >/dev/null 2>&1 && progs="$progs $p"
done
n=0; for p in $progs; do n=$((n + 5)); done
plan "$n"
for p in $progs; do
	expect_exit "$p --help exits 0" 0 $p --help
	if grep -q "^usage: $p" "$T/.exit.out"; then ok "$p --help prints usage on stdout"; else not_ok "$p --help prints usage on stdout"; fi
	expect_exit "$p --version exits 0" 0 $p --version
	if grep -q libcurl "$T/.exit.out" && grep -q jansson "$T/.exit.out"; then ok "$p --version names libraries"; else not_ok "$p --version names libraries"; fi
	expect_exit "$p --no-such-option is a usage error" 64 $p --no-such-option
done
done_testing
