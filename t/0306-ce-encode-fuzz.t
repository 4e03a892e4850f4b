#!/bin/sh
# The line parser/encoder fuzz target (src/ce-encode/fuzz-line.c): every
# input in each mode and style must not crash, and whatever is accepted must
# re-encode to itself. The seed corpus is replayed by every build; with clang
# and libFuzzer (bin/bootstrap installs clang and libclang-rt-14-dev) a short
# fuzzing run under ASan and UBSan follows.
. "${0%/*}/lib.sh"
plan 3
S=$VP_SRCDIR/src
C=$VP_SRCDIR/t/data/ce-encode-corpus

replay=$VP_BUILDDIR/src/ce-encode/fuzz-line-replay
if [ -x "$replay" ]; then
	expect_exit "the seed corpus replays without a crash" 0 $VP_WRAP "$replay" "$C"/*
else
	not_ok "fuzz-line-replay is built (make check builds it)"
fi

if command -v clang >/dev/null 2>&1 &&
    clang -fsanitize=fuzzer -x c -o "$T/probe" - >/dev/null 2>&1 <<'PROBE'
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }
PROBE
then
	if clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	    -D_GNU_SOURCE -DPACKAGE_VERSION='"fuzz"' -I"$S/lib" -I"$S/ce-encode" \
	    "$S/ce-encode/fuzz-line.c" "$S/ce-encode/encode.c" "$S/lib/json.c" "$S/lib/ce.c" \
	    "$S/ce-encode/sha1.c" "$S/lib/buf.c" "$S/lib/log.c" "$S/lib/time.c" \
		    "$S/lib/sig.c" \
	    -o "$T/fuzz-line" >"$T/cc.log" 2>&1; then
		ok "the libFuzzer target builds with ASan and UBSan"
		mkdir -p "$T/corpus"
		cp "$C"/* "$T/corpus/"
		if "$T/fuzz-line" -runs=150000 -max_len=4096 -seed=1 -artifact_prefix="$T/" \
		    "$T/corpus" >"$T/fuzz.log" 2>&1; then
			ok "150000 fuzzing runs: no crash, leak or undefined behaviour"
		else
			not_ok "fuzzing found a problem"; tail -40 "$T/fuzz.log" | sed 's/^/# /' >&2
			cp "$T"/crash-* "$T"/leak-* "$T"/timeout-* "$VP_BUILDDIR/" 2>/dev/null || true
			diag "reproducers copied to $VP_BUILDDIR"
		fi
	else
		not_ok "the libFuzzer target builds"; sed 's/^/# /' "$T/cc.log" >&2
		ok "# SKIP fuzzing run: the target did not build"
	fi
else
	ok "# SKIP libFuzzer target: clang with libFuzzer not installed"
	ok "# SKIP fuzzing run: clang with libFuzzer not installed"
fi
done_testing
