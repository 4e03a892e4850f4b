#!/bin/sh
# sink-eventbridge's EventBridge pattern matcher against a table of cases
# taken from AWS's EventBridge User Guide (each case names its section):
# every operator matches and refuses what the guide says, and every pattern
# the matcher cannot evaluate is refused when it is compiled.
. "${0%/*}/lib.sh"
check_bin=$VP_BUILDDIR/src/sink-eventbridge/ebpattern-check
[ -x "$check_bin" ] || skip_all "ebpattern-check not built (make check builds it)"
plan 4
expect_exit "every case agrees with the table" 0 $VP_WRAP "$check_bin" "$VP_SRCDIR/t/data/ebpattern-cases.ndjson"
cp "$T/.exit.out" "$T/cases.out"
same "case results and error messages" "$VP_SRCDIR/t/expected/sink-eventbridge-pattern-cases.out" "$T/cases.out"
# a wrong expectation is reported (the checker can fail)
printf '%s\n' '{"doc":"deliberately wrong","pattern":{"a":["x"]},"event":{"a":"y"},"match":true}' >"$T/wrong.ndjson"
expect_exit "a disagreeing case fails the checker" 1 "$check_bin" "$T/wrong.ndjson"
n=$(grep -c -v '^#' "$VP_SRCDIR/t/data/ebpattern-cases.ndjson")
is "the table has at least 100 cases" yes "$([ "$n" -ge 100 ] && echo yes || echo "no ($n)")"
done_testing
