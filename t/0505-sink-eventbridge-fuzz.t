#!/bin/sh
# Fuzz target for EventBridge pattern parsing: the seed corpus is replayed by
# the standalone driver in every build; when clang's libFuzzer is available
# the same target is also fuzzed for a short, fixed number of runs.
. "${0%/*}/lib.sh"
drv=$VP_BUILDDIR/src/sink-eventbridge/fuzz-pattern
[ -x "$drv" ] || skip_all "fuzz-pattern not built (make check builds it)"
corpus=$VP_SRCDIR/t/data/ebpattern-corpus
plan 3
expect_exit "corpus replays without a crash" 0 $VP_WRAP "$drv" "$corpus"
n=$(ls "$corpus" | wc -l)
is "driver replayed the whole corpus" "$n inputs replayed" "$(cat "$T/.exit.out")"
src=$VP_SRCDIR/src/sink-eventbridge
if command -v clang >/dev/null 2>&1 &&
    clang -g -O1 -fsanitize=fuzzer,address,undefined -I"$src" \
	$(pkg-config --cflags jansson) "$src/fuzz-pattern.c" "$src/pattern.c" \
	$(pkg-config --libs jansson) -lm -o "$T/fuzz" >"$T/cc.log" 2>&1; then
	mkdir "$T/work"
	expect_exit "libFuzzer: 20000 runs without a finding" 0 "$T/fuzz" \
	    -runs=20000 -max_len=512 -seed=1 "$T/work" "$corpus"
else
	ok "libFuzzer unavailable here (clang -fsanitize=fuzzer failed) # SKIP"
fi
done_testing
