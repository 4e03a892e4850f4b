#!/bin/sh
# Fuzz the vim25 XML -> JSON mapper. With clang and libFuzzer (Debian: clang,
# libclang-rt-14-dev) a short libFuzzer run under ASan+UBSan from the seed
# corpus t/data/fuzz-vimjson; always the corpus replayed through the
# standalone driver. Any crash or sanitizer report fails. VP_FUZZ_SECONDS
# sets the length of the run (default 20).
. "${0%/*}/lib.sh"

plan 2
corpus="$VP_SRCDIR/t/data/fuzz-vimjson"
driver="$VP_BUILDDIR/src/vc-source/fuzz-vimjson"
[ -x "$driver" ] || bail "fuzz-vimjson not built (make check builds it)"

expect_exit "seed corpus replays cleanly through the standalone driver" 0 \
    $VP_WRAP "$driver" "$corpus" "$VP_SRCDIR/t/data/events" "$VP_SRCDIR/t/data/vimjson-bad"

cc=$(command -v clang || command -v clang-14 || true)
S="$VP_SRCDIR/src"
if [ -n "$cc" ] && echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' >"$T/probe.c" &&
    "$cc" -fsanitize=fuzzer -o "$T/probe" "$T/probe.c" >/dev/null 2>&1; then
	# shellcheck disable=SC2046
	if ! "$cc" -DVP_LIBFUZZER -g -O1 -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=undefined -D_GNU_SOURCE -I"$S/lib" -I"$S/vc-source" \
	    $(pkg-config --cflags expat jansson) -o "$T/fuzz" \
	    "$S/vc-source/fuzz-vimjson.c" "$S/vc-source/vimjson.c" "$S/vc-source/vimtypes.c" \
	    "$S/lib/buf.c" "$S/lib/json.c" "$S/lib/log.c" "$S/lib/time.c" "$S/lib/sig.c" $(pkg-config --libs expat jansson) -lm \
	    >"$T/cc.log" 2>&1; then
		not_ok "libFuzzer target builds"; sed 's/^/# /' "$T/cc.log" >&2
	else
		mkdir -p "$T/corpus"
		cp "$corpus"/* "$T/corpus/"
		secs=${VP_FUZZ_SECONDS:-20}
		if (cd "$T" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		    ./fuzz -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		    -max_len=65536 -print_final_stats=1 corpus >"$T/fuzz.log" 2>&1); then
			ok "libFuzzer ${secs}s under ASan+UBSan: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$T/fuzz.log" | grep -o '[0-9]*$') runs, no crash"
		else
			not_ok "libFuzzer found a crash"; tail -n 60 "$T/fuzz.log" 2>&1 | sed 's/^/# /' >&2
			ls "$T"/crash-* "$T"/leak-* "$T"/timeout-* 2>/dev/null | sed 's/^/# /' >&2 || true
		fi
	fi
else
	ok "# SKIP clang with libFuzzer not available (apt-get install clang libclang-rt-14-dev)"
fi
done_testing
