#!/bin/sh
# The README's quick start, as pasted: its simulator block runs in the
# background, then its vcpipe block line by line (sh -e: the first line that
# fails stops it), in a throwaway root (t/root.sh) so that `sudo make
# install` and /etc/vmware-event-router stay there.  The last line must
# print the simulator's events as JSON.
. "${0%/*}/lib.sh"
. "$VP_SRCDIR/t/root.sh"
for p in go jq curl; do
	command -v $p >/dev/null 2>&1 || skip_all "$p not installed"
done
root_check
plan 7

S=$T/shared
# blocks N: the Nth ```sh block after the README's quick-start marker
block() {
	awk -v n="$1" '/t\/0802-readme-quickstart.t runs/ { on = 1 }
		on && /^```sh$/ { b++; inb = (b == n); next }
		inb && /^```$/ { exit }
		inb { print }' "$VP_SRCDIR/README.md"
}
block 1 >"$T/sim-block.sh"
block 2 >"$T/main-block.sh"
check "the README has both blocks" sh -c "test -s '$T/sim-block.sh' && grep -q vcpipe '$T/main-block.sh'"
last=$(tail -n 1 "$T/main-block.sh")

cat >"$T/scenario.sh" <<EOF
cd "$VP_SRCDIR"
# a user's PATH: what \`make install\` puts in /usr/local/bin, not the build tree
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# root needs no sudo; a machine without it gets one that runs the command
if ! command -v sudo >/dev/null; then
	mkdir -p /tmp/nosudo
	printf '#!/bin/sh\nexec "\$@"\n' >/tmp/nosudo/sudo
	chmod +x /tmp/nosudo/sudo
	PATH=\$PATH:/tmp/nosudo
fi
export PATH GOCACHE=$VP_BUILDDIR/t/.gocache
sh -e "$T/sim-block.sh" >"$S/sim.out" 2>"$S/sim.err" &
n=0
until grep -q '^{' "$S/sim.out" 2>/dev/null || [ \$n -ge 3000 ]; do n=\$((n + 1)); sleep 0.1; done
sh -e -x "$T/main-block.sh" >"$S/main.out" 2>"$S/main.err" &
main=\$!
n=0
# (make install also writes to stdout: events are the lines that are JSON objects)
until [ "\$(grep -c '^{' "$S/main.out")" -ge 10 ] || ! kill -0 \$main 2>/dev/null || [ \$n -ge 6000 ]; do
	n=\$((n + 1)); sleep 0.1
done
# still running the last line, or what stopped it
if kill -0 \$main 2>/dev/null; then echo running; else wait \$main; echo "exit \$?"; fi >"$S/main.state"
command -v vcpipe >"$S/which"
ls -l /etc/vmware-event-router/config >"$S/config.ls"
EOF
in_root "$T/scenario.sh" >"$T/root.out" 2>&1 || diag "$(cat "$T/root.out")"
check "the simulator block started the simulator" grep -q '"url":"http://127.0.0.1:8989/sdk"' "$S/sim.out"
is "every line ran; the last one is still printing events" running "$(cat "$S/main.state" 2>/dev/null)"
[ "$(cat "$S/main.state" 2>/dev/null)" = running ] || diag "$(tail -n 20 "$S/main.err")"
is "vcpipe is the installed one" /usr/local/bin/vcpipe "$(cat "$S/which" 2>/dev/null)"
check "the config is readable by its owner only" grep -q '^-rw------- ' "$S/config.ls"
check "vcpipe --check accepted the config" grep -q 'vcpipe: info: /etc/vmware-event-router/config: valid' "$S/main.err"
check "$last: the simulator's events, as JSON" sh -c \
	"[ \$(grep '^{' '$S/main.out' | jq -r 'select(.subject != null and .time != null) | .subject' | wc -l) -ge 10 ]"
done_testing
