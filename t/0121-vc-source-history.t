#!/bin/sh
# vc-source against collectors with real vCenter semantics (vcsim -history):
# a backlog many pages long read in order, --since/--until windows, key gaps
# larger than a page, int32 key wrap-around, a session lost mid-stream,
# events reading forward misses.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/vcsim.sh"
plan 17

vcsim_start -history || bail "simulator did not start"
VS="vc-source --url $VCSIM_URL"

# a backlog of 3,500 events: several ReadNextEvents pages of 1000
# (vc-source's own logins add events as it reads: compare up to the burst's end)
last=$(vcsim_op post-burst count=3500 | jq .lastKey)
total=$(vcsim_op events | jq .total)
$VS --begin 1h --once 2>>"$T/vc-source.err" | jq -c "select(.key <= $last)" >"$T/backlog.out"
is "the whole backlog is read" "$total" "$(wc -l <"$T/backlog.out")"
jq -r .key "$T/backlog.out" >"$T/keys"; sort -n "$T/keys" >"$T/keys.sorted"
same "oldest first, in key order" "$T/keys.sorted" "$T/keys"
is "no duplicates" 0 "$(sort "$T/keys" | uniq -d | wc -l)"
$VS --begin 1h --once --read-size 7 2>>"$T/vc-source.err" | jq -c "select(.key <= $last)" >"$T/small.out"
same "small ReadNextEvents pages give the same stream" "$T/backlog.out" "$T/small.out"

# --since and --until cut the stream by creation time (both inclusive)
since=$(sed -n 1000p "$T/backlog.out" | jq -r .createdTime)
until=$(sed -n 2000p "$T/backlog.out" | jq -r .createdTime)
$VS --since "$since" --until "$until" --once 2>>"$T/vc-source.err" >"$T/window.out"
first=$(head -1 "$T/window.out" | jq -r .createdTime); last=$(tail -1 "$T/window.out" | jq -r .createdTime)
[ "$first" = "$since" ] && [ "$last" = "$until" ] && ok "--since/--until window" || not_ok "--since/--until window ($first .. $last)"

# following across a key gap of 5,000 (events the user cannot see) and an
# int32 wrap-around to negative keys
$VS --page-size 10 --wait-seconds 5 >"$T/follow.out" 2>"$T/follow.err" &
vcpid=$!; bg_pid $vcpid
wait_for 60 grep -q "reading events from" "$T/follow.err" || bail "vc-source did not start"
vcsim_op post-burst count=5 >"$T/a.json"
vcsim_op skip-keys n=5000 >/dev/null
vcsim_op post-burst count=30 >"$T/b.json"
vcsim_op set-next-key key=2147483630 >/dev/null
vcsim_op post-burst count=40 >"$T/c.json"
for f in a b c; do vcsim_keys "$(cat "$T/$f.json")"; done >"$T/want"
is "the burst across the wrap produced negative keys" "yes" "$(grep -q '^-' "$T/want" && echo yes || echo no)"
have_all() { [ "$(jq -r .key "$T/follow.out" | wc -l)" -ge "$(wc -l <"$T/want")" ]; }
wait_for 60 have_all && ok "75 events across a gap and a wrap arrived" || not_ok "events across a gap and a wrap"
jq -r .key "$T/follow.out" >"$T/got"
same "in creation order, gap and wrap included" "$T/want" "$T/got"

# the session dies in the middle of a burst: nothing lost, nothing repeated
curl -sS -X POST -d count=200 "$VCSIM_CTL/post-burst" >"$T/d.json" &
burst=$!
vcsim_op terminate-sessions >/dev/null
wait $burst
vcsim_op post-burst count=10 >"$T/e.json"
for f in d e; do vcsim_keys "$(cat "$T/$f.json")"; done >>"$T/want"
wait_for 60 have_all && ok "events around a lost session arrived" || not_ok "events around a lost session"
# (its own re-login adds a UserLoginSessionEvent: compare the posted events)
jq -r .key "$T/follow.out" | grep -Fx -f "$T/want" >"$T/got"
same "same events, same order, after the session loss" "$T/want" "$T/got"
is "no duplicates after the session loss" 0 "$(sort "$T/got" | uniq -d | wc -l)"

# a checkpoint on a negative key resumes after it
line=$(grep -n '"key":-' "$T/follow.out" | head -3 | tail -1 | cut -d: -f1)
sed -n "${line}p" "$T/follow.out" | jq -c '{version:1, time:.createdTime, key:.key}' >"$T/ckpt"
# (what the follower had before the resume starts: it then also sees the
# resume's own login and logout, which the resume itself partly cannot)
sed -n "$((line + 1)),\$p" "$T/follow.out" >"$T/rest"
$VS --checkpoint "$T/ckpt" --once 2>>"$T/vc-source.err" >"$T/resume.out"
head -n "$(wc -l <"$T/rest")" "$T/resume.out" >"$T/resume.head"
same "checkpoint on a wrapped key resumes right after it" "$T/rest" "$T/resume.head"
# latestPage is the safety net for events reading forward missed (the
# simulator's ReadNextEvents leaves them out): they arrive late, once. Alone
# (the update after which nothing was read), and first of a burst the same
# update brings (found at a later check of the page)
have_key() { jq -e --argjson k "$1" 'select(.key == $k)' "$T/follow.out" >/dev/null; }
vcsim_op withhold count=1 >/dev/null
k=$(vcsim_op post-burst count=1 | jq .lastKey)
wait_for 30 have_key "$k" && ok "an event ReadNextEvents left out is taken from latestPage" ||
	not_ok "an event ReadNextEvents left out is taken from latestPage"
grep -q "latestPage shows 1 event (key $k) that ReadNextEvents did not return" "$T/follow.err" &&
	ok "the warning names it" || { not_ok "the warning names it"; diag "$(tail -5 "$T/follow.err")"; }
vcsim_op withhold count=1 >/dev/null
k=$(vcsim_op post-burst count=5 | jq '.lastKey - 4')
wait_for 30 have_key "$k" && ok "one left out of a burst is taken too" ||
	not_ok "one left out of a burst is taken too"
is "nothing repeated" 0 "$(jq -r .key "$T/follow.out" | sort | uniq -d | wc -l)"
kill -TERM $vcpid; set +e; wait $vcpid; rc=$?; set -e
is "SIGTERM exits 0" 0 "$rc"
done_testing
