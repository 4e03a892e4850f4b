# t/rabbitmq.sh: private RabbitMQ nodes for tests (Debian's rabbitmq-server).
# Source it after t/lib.sh:  . "$VP_SRCDIR/t/rabbitmq.sh"
#
# Every node lives under $T: its own node name, AMQP and distribution ports on
# 127.0.0.1, data (mnesia) and log directories, and an Erlang cookie; the test
# file has its own epmd on its own port (ERL_EPMD_PORT), so nothing touches a
# system RabbitMQ or another test's nodes. Nodes and epmd are stopped at exit,
# by PID and node name only.
#
#   rmq_available          true when rabbitmq-server and its CLI are installed
#   rmq_start NAME [TLS]   start node NAME (a short word) and wait until it
#                          serves AMQP; exports RMQ_PORT_NAME, RMQ_URL_NAME
#                          (amqp://127.0.0.1:PORT), RMQ_NODE_NAME. With TLS
#                          = a directory holding ca.pem, server.pem and
#                          server.key, it also listens for amqps on
#                          RMQ_TLSPORT_NAME. Starting a stopped node again
#                          keeps its ports and data directory.
#   rmq_stop NAME          graceful stop (waits for it)
#   rmq_kill NAME          kill -9 the node's Erlang VM
#   rmq_ctl NAME ARGS...   rabbitmqctl against the node
#   rmq_queues NAME ARGS.. rabbitmq-queues against the node
#   rmq_join NAME SEED     make NAME a cluster member of SEED's cluster
#   rmq_count NAME QUEUE   messages ready + unacknowledged in QUEUE
#   rmq_free_port          print a free TCP port on 127.0.0.1
#   rmq_tls DIR            make DIR a TLS directory for rmq_start: a test CA
#                          (ca.pem) and a server certificate for localhost
#
# A node takes several seconds to boot: start one per test file.

RMQ_SBIN=${RMQ_SBIN:-/usr/lib/rabbitmq/bin}
_rmq_nodes=""

rmq_available() {
	[ -x "$RMQ_SBIN/rabbitmq-server" ] && [ -x "$RMQ_SBIN/rabbitmqctl" ] &&
	    command -v erl >/dev/null 2>&1
}

rmq_free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

rmq_tls() {
	mkdir -p "$1"
	( cd "$1" &&
	  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
	      -subj /CN=vcpipe-test-ca &&
	  openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
	      -subj /CN=localhost &&
	  printf 'subjectAltName=DNS:localhost\n' >ext &&
	  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
	      -out server.pem -days 2 -extfile ext && chmod 644 server.key ) >"$1/openssl.log" 2>&1
}

# The environment every rabbitmq script needs for node $1, on stdout as
# assignments (sourced into a subshell, never into the test's own shell).
_rmq_env() {
	_d="$T/rmq/$1"
	cat <<EOF
HOME='$T/rmq/home'
ERL_EPMD_ADDRESS=127.0.0.1
ERL_EPMD_PORT=$_rmq_epmd
RABBITMQ_NODENAME='vcpt-$1@localhost'
RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
RABBITMQ_NODE_PORT=$(cat "$_d/port")
RABBITMQ_DIST_PORT=$(cat "$_d/distport")
RABBITMQ_MNESIA_BASE='$_d/mnesia'
RABBITMQ_LOG_BASE='$_d/log'
RABBITMQ_PID_FILE='$_d/pid'
RABBITMQ_ENABLED_PLUGINS_FILE='$_d/enabled_plugins'
RABBITMQ_CONFIG_FILE='$_d/rabbitmq'
RABBITMQ_ADVANCED_CONFIG_FILE='$_d/advanced.config'
RABBITMQ_CONF_ENV_FILE='$_d/rabbitmq-env.conf'
RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS='+S 1:1 +sbwt none +sbwtdcpu none +sbwtdio none -kernel inet_dist_use_interface {127,0,0,1}'
RABBITMQ_CTL_ERL_ARGS='+sbwt none'
export HOME ERL_EPMD_ADDRESS ERL_EPMD_PORT RABBITMQ_NODENAME RABBITMQ_NODE_IP_ADDRESS
export RABBITMQ_NODE_PORT RABBITMQ_DIST_PORT RABBITMQ_MNESIA_BASE RABBITMQ_LOG_BASE
export RABBITMQ_PID_FILE RABBITMQ_ENABLED_PLUGINS_FILE RABBITMQ_CONFIG_FILE
export RABBITMQ_ADVANCED_CONFIG_FILE RABBITMQ_CONF_ENV_FILE
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS RABBITMQ_CTL_ERL_ARGS
EOF
}

# _rmq_run NAME CMD ARGS...: run a rabbitmq script with node NAME's environment.
_rmq_run() {
	_n=$1; shift
	( eval "$(_rmq_env "$_n")"; unset RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS; "$@" )
}

rmq_ctl() { _n=$1; shift; _rmq_run "$_n" "$RMQ_SBIN/rabbitmqctl" -q "$@"; }
rmq_queues() { _n=$1; shift; _rmq_run "$_n" "$RMQ_SBIN/rabbitmq-queues" -q "$@"; }

_rmq_cleanup() {
	for _n in $_rmq_nodes; do
		[ -s "$T/rmq/$_n/pid" ] || continue
		kill -0 "$(cat "$T/rmq/$_n/pid")" 2>/dev/null || continue
		rmq_stop "$_n" >/dev/null 2>&1 || rmq_kill "$_n"
	done
	if [ -n "${_rmq_epmd:-}" ]; then
		ERL_EPMD_PORT=$_rmq_epmd epmd -kill >/dev/null 2>&1 || true
	fi
}

# _rmq_config NAME [TLS]: fresh ports and the node's rabbitmq.conf
_rmq_config() {
	_d="$T/rmq/$1"
	rmq_free_port >"$_d/port"
	rmq_free_port >"$_d/distport"
	{
		echo "listeners.tcp.default = 127.0.0.1:$(cat "$_d/port")"
		echo "log.file.level = info"
		echo "log.console = false"
		echo "disk_free_limit.absolute = 10MB"
		if [ -n "${2:-}" ]; then
			rmq_free_port >"$_d/tlsport"
			echo "listeners.ssl.default = 127.0.0.1:$(cat "$_d/tlsport")"
			echo "ssl_options.cacertfile = $2/ca.pem"
			echo "ssl_options.certfile = $2/server.pem"
			echo "ssl_options.keyfile = $2/server.key"
			echo "ssl_options.verify = verify_none"
			echo "ssl_options.fail_if_no_peer_cert = false"
		fi
	} >"$_d/rabbitmq.conf"
}

# _rmq_boot NAME: start the node, wait until it serves; 0, 1 (it did not
# start), 2 (a port it was given was taken meanwhile by someone else)
_rmq_boot() {
	_d="$T/rmq/$1"
	rm -f "$_d/pid"
	_rmq_from=0
	[ ! -f "$_d/server.out" ] || _rmq_from=$(wc -c <"$_d/server.out")
	_rmq_run "$1" "$RMQ_SBIN/rabbitmq-server" >>"$_d/server.out" 2>&1 &
	_rmq_srv=$!
	_rmq_run "$1" "$RMQ_SBIN/rabbitmqctl" -q wait --timeout 120 "$_d/pid" \
	    >>"$_d/wait.out" 2>&1 &
	_rmq_w=$!
	# a node that exits while we wait did not start: no need to wait 120 s
	while kill -0 "$_rmq_w" 2>/dev/null && kill -0 "$_rmq_srv" 2>/dev/null; do
		sleep 0.2
	done
	if kill -0 "$_rmq_srv" 2>/dev/null && wait "$_rmq_w"; then
		return 0
	fi
	kill "$_rmq_w" 2>/dev/null || true
	wait "$_rmq_w" 2>/dev/null || true
	if tail -c +"$((_rmq_from + 1))" "$_d/server.out" |
	    grep -q 'already_used\|eaddrinuse'; then
		return 2
	fi
	return 1
}

rmq_start() {
	_n=$1
	_d="$T/rmq/$_n"
	if [ -z "${_rmq_epmd:-}" ]; then
		_rmq_epmd=$(rmq_free_port)
		mkdir -p "$T/rmq/home"
		# one cookie for every node of the test: they may form a cluster
		od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$T/rmq/home/.erlang.cookie"
		chmod 400 "$T/rmq/home/.erlang.cookie"
		at_exit _rmq_cleanup
	fi
	_rmq_fresh=
	if [ ! -d "$_d" ]; then
		mkdir -p "$_d/mnesia" "$_d/log"
		echo '[].' >"$_d/enabled_plugins"
		_rmq_config "$_n" "${2:-}"
		_rmq_nodes="$_rmq_nodes $_n"
		_rmq_fresh=1
	fi
	_rmq_try=1
	while :; do
		set +e; _rmq_boot "$_n"; _rmq_rc=$?; set -e
		[ "$_rmq_rc" -eq 0 ] && break
		# ports are picked free, then bound by the node seconds later:
		# another test may take one meanwhile (a new node picks again)
		if [ "$_rmq_rc" -eq 2 ] && [ -n "$_rmq_fresh" ] && [ "$_rmq_try" -lt 3 ]; then
			_rmq_try=$((_rmq_try + 1))
			_rmq_config "$_n" "${2:-}"
			continue
		fi
		echo "rmq_start $_n: the node did not start:" >&2
		tail -n 20 "$_d/server.out" "$_d/wait.out" >&2
		return 1
	done
	_p=$(cat "$_d/port")
	eval "RMQ_PORT_$_n=$_p RMQ_URL_$_n=amqp://127.0.0.1:$_p RMQ_NODE_$_n=vcpt-$_n@localhost"
	export "RMQ_PORT_$_n" "RMQ_URL_$_n" "RMQ_NODE_$_n"
	if [ -f "$_d/tlsport" ]; then
		eval "RMQ_TLSPORT_$_n=$(cat "$_d/tlsport")"
		export "RMQ_TLSPORT_$_n"
	fi
}

rmq_stop() {
	_n=$1
	_pid=$(cat "$T/rmq/$_n/pid" 2>/dev/null || true)
	rmq_ctl "$_n" shutdown --timeout 60 >/dev/null 2>&1 || true
	# shutdown returns once the VM is gone; make sure of it
	if [ -n "$_pid" ] && kill -0 "$_pid" 2>/dev/null; then
		sleep 2
		kill -9 "$_pid" 2>/dev/null || true
	fi
}

rmq_kill() {
	_pid=$(cat "$T/rmq/$1/pid" 2>/dev/null || true)
	[ -n "$_pid" ] || return 0
	kill -9 "$_pid" 2>/dev/null || true
	while kill -0 "$_pid" 2>/dev/null; do sleep 0.1; done
}

rmq_join() {
	rmq_ctl "$1" stop_app >/dev/null &&
	rmq_ctl "$1" join_cluster "vcpt-$2@localhost" >/dev/null &&
	rmq_ctl "$1" start_app >/dev/null
}

rmq_count() {
	rmq_ctl "$1" list_queues name messages | awk -v q="$2" '$1 == q { print $2 }'
}
