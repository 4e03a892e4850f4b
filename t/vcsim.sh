# t/vcsim.sh: start and drive the vCenter simulator test peer (t/vcsim).
# Source it after t/lib.sh:  . "$VP_SRCDIR/t/vcsim.sh"
# Needs $T, bg_pid (from t/lib.sh), curl and jq.
#
#   vcsim_start [vcsim flags...]   e.g. vcsim_start -tls -history
#       builds the Go peers if needed, starts the simulator in the background
#       and exports VCSIM_URL VCSIM_CTL VCSIM_CAFILE (empty without -tls)
#       VC_USERNAME VC_PASSWORD VCSIM_UUID VCSIM_PID VCSIM_READY (the line).
#   vcsim_op NAME [key=value...]   calls the control API; prints its JSON
#       reply on stdout; fails (printing the reply on stderr) on HTTP errors.
#       A value that is a JSON object or array is passed as JSON.
#   vcsim_stop                     stops the current simulator.
#   vcsim_busy SECONDS             in the background, one everyday operation
#       every SECONDS (power a VM off and on, create, rename, reconfigure and
#       destroy one, log in, post an EventEx, host maintenance mode), forever.
#   govmomi_events [flags...]      runs t/govmomi-events against it
#       (adds -url, and -cafile with -tls).
#   vc_keys FILE                   the keys of vc-source's lines in FILE, one a line.
#   vc_has_key KEY FILE            true when FILE has vc-source's line for KEY.
#   vc_ckpt OUT KEY FILE           writes to OUT the checkpoint a sink writes
#                                  after delivering KEY's line of FILE.
#   vcsim_keys OPREPLY             the event keys an op reply lists, one a line.
#   vcsim_classes OPREPLY          the event classes it lists, one a line.

VCSIM_BIN=${VCSIM_BIN:-$VP_BUILDDIR/t/vcsim/vcsim}
GOVMOMI_EVENTS_BIN=${GOVMOMI_EVENTS_BIN:-$VP_BUILDDIR/t/govmomi-events/govmomi-events}
_vcsim_n=0

vcsim_start() {
	"$VP_SRCDIR/t/build-go.sh" >&2 || return 1
	_vcsim_n=$((_vcsim_n + 1))
	_vcsim_ready="$T/vcsim.$_vcsim_n.ready"
	: >"$_vcsim_ready"
	"$VCSIM_BIN" -cafile "$T/vcsim.$_vcsim_n.ca.pem" "$@" \
		>"$_vcsim_ready" 2>"$T/vcsim.$_vcsim_n.log" &
	VCSIM_PID=$!
	bg_pid "$VCSIM_PID"
	_vcsim_end=$(( $(date +%s) + 60 ))
	while ! grep -q '^{' "$_vcsim_ready" 2>/dev/null; do
		if ! kill -0 "$VCSIM_PID" 2>/dev/null; then
			echo "vcsim_start: simulator exited:" >&2
			cat "$T/vcsim.$_vcsim_n.log" >&2
			return 1
		fi
		if [ "$(date +%s)" -ge "$_vcsim_end" ]; then
			echo "vcsim_start: no ready line after 60 s" >&2
			return 1
		fi
		sleep 0.05
	done
	VCSIM_READY=$(head -n 1 "$_vcsim_ready")
	VCSIM_URL=$(printf '%s\n' "$VCSIM_READY" | jq -r .url)
	VCSIM_CTL=$(printf '%s\n' "$VCSIM_READY" | jq -r .ctl)
	VCSIM_CAFILE=$(printf '%s\n' "$VCSIM_READY" | jq -r .cafile)
	VCSIM_UUID=$(printf '%s\n' "$VCSIM_READY" | jq -r .instanceUuid)
	VC_USERNAME=$(printf '%s\n' "$VCSIM_READY" | jq -r .username)
	VC_PASSWORD=$(printf '%s\n' "$VCSIM_READY" | jq -r .password)
	export VCSIM_URL VCSIM_CTL VCSIM_CAFILE VCSIM_UUID VCSIM_PID VCSIM_READY VC_USERNAME VC_PASSWORD
}

vcsim_op() {
	_vcsim_op=$1; shift
	_vcsim_nargs=$#
	# Each key=value becomes one --data-urlencode; "$@" keeps spaces intact.
	for _vcsim_kv; do set -- "$@" --data-urlencode "$_vcsim_kv"; done
	shift "$_vcsim_nargs"
	_vcsim_reply="$T/vcsim.op.reply"
	_vcsim_code=$(curl -sS -o "$_vcsim_reply" -w '%{http_code}' -X POST "$@" "$VCSIM_CTL/$_vcsim_op") ||
		{ echo "vcsim_op $_vcsim_op: curl failed" >&2; return 1; }
	case $_vcsim_code in
	2??) cat "$_vcsim_reply" ;;
	*) echo "vcsim_op $_vcsim_op: HTTP $_vcsim_code: $(cat "$_vcsim_reply")" >&2; return 1 ;;
	esac
}

vcsim_stop() {
	[ -n "${VCSIM_PID:-}" ] || return 0
	kill "$VCSIM_PID" 2>/dev/null || true
	wait "$VCSIM_PID" 2>/dev/null || true
	VCSIM_PID=
}

vcsim_busy() {
	( # each op's reply goes to its own file: the caller may call vcsim_op too
		T=$T/busy
		mkdir -p "$T"
		i=0
		while :; do
			i=$((i + 1))
			for n in 1 2 3 4 5 6 7 8 9 10; do
				sleep "$1"
				case $n in
				1) vcsim_op power-off ;;
				2) vcsim_op power-on ;;
				3) vcsim_op create-vm "name=demo$i" ;;
				4) vcsim_op rename-vm "vm=demo$i" "name=demo$i-renamed" ;;
				5) vcsim_op reconfigure-vm "vm=demo$i-renamed" ;;
				6) vcsim_op destroy-vm "vm=demo$i-renamed" ;;
				7) vcsim_op login ;;
				8) vcsim_op post-eventex eventTypeId=com.vmware.vc.demo.Event \
					"message=Demo event $i from the simulator" ;;
				9) vcsim_op host-enter-maintenance ;;
				10) vcsim_op host-exit-maintenance ;;
				esac >/dev/null 2>&1 || true
			done
		done
	) &
	bg_pid $!
}

govmomi_events() {
	if [ -n "${VCSIM_CAFILE:-}" ]; then
		"$GOVMOMI_EVENTS_BIN" -url "$VCSIM_URL" -cafile "$VCSIM_CAFILE" "$@"
	else
		"$GOVMOMI_EVENTS_BIN" -url "$VCSIM_URL" "$@"
	fi
}

vcsim_keys() { printf '%s\n' "$1" | jq -r '.events[].key'; }
vcsim_classes() { printf '%s\n' "$1" | jq -r '.events[].class'; }
vc_keys() { jq -r .key "$1"; }
vc_has_key() { grep -q "\"key\":$1," "$2"; }
vc_ckpt() { grep "\"key\":$2," "$3" | head -1 | jq -c '{version:1, source:.vcenter, id:"x", time:.createdTime, key:.key, delivered:1, updated:(now|todate)}' >"$1"; }
