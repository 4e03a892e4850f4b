#!/bin/sh
# vc-source against govmomi's simulator (stock collectors, TLS): trust,
# credentials, backlog, following with WaitForUpdatesEx, session loss,
# injected server faults, a vCenter restart, SIGTERM. No event lost, none
# repeated, order kept.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/vcsim.sh"
plan 31

vcsim_start -tls || bail "simulator did not start"

# -- trust and credentials ------------------------------------------------
expect_exit "--ca-file: backlog read, exit 0" 0 \
	vc-source --url "$VCSIM_URL" --ca-file "$VCSIM_CAFILE" --begin 1h --once --page-size 1000
n=$(wc -l <"$T/.exit.out")
[ "$n" -gt 10 ] && ok "backlog has events ($n)" || not_ok "backlog has events ($n)"
expect_exit "untrusted certificate is a permanent configuration error" 78 \
	vc-source --url "$VCSIM_URL" --once
grep -q "give --ca-file" "$T/.exit.err" && ok "message says how to trust" || not_ok "message says how to trust"
expect_exit "--insecure skips verification" 0 vc-source --url "$VCSIM_URL" --insecure --begin 1h --once
VC_PASSWORD=wrong expect_exit "wrong password: exit 77" 77 \
	vc-source --url "$VCSIM_URL" --ca-file "$VCSIM_CAFILE" --once
grep -q "InvalidLogin" "$T/.exit.err" && ok "message names InvalidLogin" || not_ok "message names InvalidLogin"
grep -q "VMware1\|wrong" "$T/.exit.err" && not_ok "password not logged" || ok "password not logged"
printf '%s\n%s\n' "$VC_USERNAME" "$VC_PASSWORD" >"$T/cred"
expect_exit "--credentials-file" 0 env -u VC_USERNAME -u VC_PASSWORD \
	vc-source --url "$VCSIM_URL" --ca-file "$VCSIM_CAFILE" --credentials-file "$T/cred" --begin 1h --once
mkdir "$T/secret"; printf '%s' "$VC_USERNAME" >"$T/secret/username"; printf '%s' "$VC_PASSWORD" >"$T/secret/password"
expect_exit "credentials from a Secret directory" 0 env -u VC_USERNAME -u VC_PASSWORD \
	vc-source --url "$VCSIM_URL" --ca-file "$VCSIM_CAFILE" --credentials-file "$T/secret" --begin 1h --once

# -- addresses as users write them (govmomi's soap.ParseURL) ---------------------
hostport=${VCSIM_URL#https://}; hostport=${hostport%/sdk}
for u in "$hostport" "https://$hostport" "https://$hostport/"; do
	vc-source --url "$u" --ca-file "$VCSIM_CAFILE" --begin 1h --once >"$T/u.out" 2>"$T/u.err" &&
	[ -s "$T/u.out" ] && jq -e -s 'all(.[]; .vcenter == env.VCSIM_URL)' "$T/u.out" >/dev/null &&
		ok "--url $u reads https://HOST/sdk" || { not_ok "--url $u reads https://HOST/sdk"; diag "$(cat "$T/u.err")"; }
done
expect_exit "HTTP 404 at the SOAP path: configuration error, not retried" 78 \
	vc-source --url "https://$hostport/vsphere" --ca-file "$VCSIM_CAFILE" --begin 1h
grep -q "https://$hostport/vsphere: HTTP 404" "$T/.exit.err" && ok "the 404 message names the URL tried" ||
	{ not_ok "the 404 message names the URL tried"; diag "$(cat "$T/.exit.err")"; }

# -- following --------------------------------------------------------------
vc-source --url "$VCSIM_URL" --ca-file "$VCSIM_CAFILE" --page-size 1000 --wait-seconds 5 \
	>"$T/follow.out" 2>"$T/follow.err" &
vcpid=$!; bg_pid $vcpid
wait_for 60 grep -q "reading events from" "$T/follow.err" || bail "vc-source did not start"
: >"$T/want"
op() { vcsim_op "$@" >"$T/op.json" && vcsim_keys "$(cat "$T/op.json")" >>"$T/want"; }
got_all() { jq -r .key "$T/follow.out" | sort -n >"$T/got"; sort -n "$T/want" | comm -23 - "$T/got" | grep -q . && return 1; return 0; }

op power-off; op power-on; op suspend; op power-on; op create-vm name=t120a
op rename-vm vm=t120a name=t120b; op reconfigure-vm vm=t120b; op destroy-vm vm=t120b
op login; op post-eventex eventTypeId=com.vmware.vc.test.Event; op post-extendedevent eventTypeId=com.example.ext
if wait_for 30 got_all; then ok "every event of 11 operations arrived while following"; else not_ok "every event arrived"; diag "missing: $(sort -n "$T/want" | comm -23 - "$T/got" | tr '\n' ' ')"; fi

# session lost: every client session is terminated under vc-source's feet
vcsim_op terminate-sessions >/dev/null
op power-off; op power-on
wait_for 60 got_all && ok "events after a terminated session arrive" || not_ok "events after a terminated session arrive"
grep -q "session lost" "$T/follow.err" && ok "the session loss was logged" || not_ok "the session loss was logged"

# server faults: HTTP 500, malformed XML, a cut connection, NotAuthenticated, a slow answer
for mode in http500 malformed-xml cut notauthenticated; do
	vcsim_op fault mode=$mode count=2 >/dev/null
	op power-off; op power-on
	wait_for 60 got_all && ok "recovered from fault $mode" || not_ok "recovered from fault $mode"
done
vcsim_op fault mode=slow delay=1500 count=2 >/dev/null
op suspend; op power-on
wait_for 60 got_all && ok "slow answers: events still arrive" || not_ok "slow answers"

# vCenter restart: connection refused for a while, every session gone
vcsim_op restart delay=2000 >/dev/null
op power-off; op power-on
wait_for 90 got_all && ok "events after a vCenter restart arrive" || not_ok "events after a vCenter restart"

# nothing repeated, and in creation order
dups=$(jq -r .key "$T/follow.out" | sort | uniq -d | wc -l)
is "no event emitted twice" 0 "$dups"
jq -r '.createdTime' "$T/follow.out" >"$T/times"
sort -c "$T/times" 2>/dev/null && ok "emitted in creation order" || not_ok "emitted in creation order"
jq -e -s 'all(.[]; .vcenter == env.VCSIM_URL and .instanceUuid == env.VCSIM_UUID and (.category|IN("event","eventex","extendedevent")) and (.data.Key == .key))' \
	"$T/follow.out" >/dev/null && ok "every line carries vcenter, instanceUuid, category, key" || not_ok "line members"
jq -e -s 'any(.[]; .category == "eventex" and .class == "com.vmware.vc.test.Event") and any(.[]; .category == "extendedevent" and .class == "com.example.ext")' \
	"$T/follow.out" >/dev/null && ok "EventEx and ExtendedEvent named by their type id" || not_ok "EventEx/ExtendedEvent class"

# SIGTERM: a clean stop with exit 0
kill -TERM $vcpid
set +e; wait $vcpid; rc=$?; set -e
is "SIGTERM exits 0" 0 "$rc"

# -- resume from a checkpoint -------------------------------------------------
line=$(sed -n 5p "$T/follow.out")
printf '%s\n' "$line" | jq -c '{version:1, source:.vcenter, id:"x", time:.createdTime, key:.key}' >"$T/ckpt"
vc-source --url "$VCSIM_URL" --ca-file "$VCSIM_CAFILE" --page-size 1000 --checkpoint "$T/ckpt" --once 2>>"$T/vc-source.err" >"$T/resume.out"
want_first=$(sed -n 6p "$T/follow.out" | jq .key)
is "checkpoint: resumes right after the checkpointed event" "$want_first" "$(head -1 "$T/resume.out" | jq .key)"
jq -r .key "$T/follow.out" | sed -n '6,$p' >"$T/k1"; jq -r .key "$T/resume.out" | head -n "$(wc -l <"$T/k1")" >"$T/k2"
same "checkpoint: the same events follow" "$T/k1" "$T/k2"
done_testing
