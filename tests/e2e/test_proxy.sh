#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# edgewire-proxy on its own: a node namespace holding the proxy, a client
# and a server namespace behind veths. The datapath's delivery is played by
# iptables TPROXY (the proxy's own ip rule and route deliver locally), the
# agent's maps by proxy_fill on a private bpffs, its rules by a JSON file.
#
#   client 10.231.1.10 (identity 2000) --veth-- node --veth-- server 10.231.2.20:80
#                                            proxy            (identity 1000,
#                                                              ingress L7: GET /public.*)
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PX=ew-px-$$
NODE=$PX-node CLI=$PX-cli SRV=$PX-srv
CLIENT_IP=10.231.1.10 SERVER_IP=10.231.2.20
BPFFS=$WORK/bpffs MAPS=$WORK/bpffs/maps
CONFIG_DIR=$WORK/l7 CONFIG=$WORK/l7/l7-policy.json
PROXY_LOG=$WORK/proxy.log
FILL=$BUILD/proxy_fill
HTTP=$REPO/tests/e2e/proxy_http.py
MARK=0xe10000/0xff0000 # EW_MARK_TO_PROXY/EW_MARK_MASK

# Not lib.sh's cleanup: there is no lab here.
proxy_cleanup() {
	stop_background
	((FAILED == 0)) || tail -n 40 "$WORK"/proxy*.log
	local ns
	for ns in "$NODE" "$CLI" "$SRV"; do
		ip netns del "$ns" 2>/dev/null
	done
	umount "$BPFFS" 2>/dev/null
	rm -rf "$WORK"
}
trap proxy_cleanup EXIT

topology() {
	local side ns addr
	for ns in "$NODE" "$CLI" "$SRV"; do
		ip netns add "$ns" || return 1
		ip -n "$ns" link set lo up
	done
	for side in cli:1:$CLIENT_IP:$CLI srv:2:$SERVER_IP:$SRV; do
		IFS=: read -r name net addr ns <<<"$side"
		ip link add "px$name" netns "$NODE" type veth peer eth0 netns "$ns" || return 1
		ip -n "$NODE" addr add "10.231.$net.1/24" dev "px$name"
		ip -n "$NODE" link set "px$name" up
		ip -n "$ns" addr add "$addr/24" dev eth0
		ip -n "$ns" link set eth0 up
		ip -n "$ns" route add default via "10.231.$net.1"
	done
	ip netns exec "$NODE" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.ip_forward=1
	# The datapath's part: the client's connections to port 80 go to the
	# proxy's socket, and the server's answers to the proxy's upstream
	# sockets (transparent, from the client's address).
	ip netns exec "$NODE" iptables -t mangle -A PREROUTING -m socket --transparent \
		-j MARK --set-xmark "$MARK"
	ip netns exec "$NODE" iptables -t mangle -A PREROUTING -i pxcli -p tcp --dport 80 \
		-j TPROXY --on-port 15080 --on-ip 127.0.0.1 --tproxy-mark "$MARK"
}

maps() {
	mkdir -p "$BPFFS" && mount -t bpf bpf "$BPFFS" && mkdir "$MAPS" &&
		"$FILL" "$MAPS" create &&
		"$FILL" "$MAPS" endpoint $SERVER_IP 1000 ingress-l7 &&
		"$FILL" "$MAPS" ipcache $SERVER_IP 1000 1000 &&
		"$FILL" "$MAPS" ipcache $CLIENT_IP 2000 2000 &&
		"$FILL" "$MAPS" policy 1000 2000 ingress 80 7 l7
}

# config_put FILE [RULES...]: the config for the server's ingress from the
# client, with these rules (JSON objects), renamed into place as the agent does.
config_json() {
	local IFS=,
	printf '{"version":1,"entries":[{"subject":1000,"dir":"ingress","port":80,"peer":2000,"rules":[%s]}]}\n' "$*"
}
PUBLIC='{"rule":7,"method":"GET|POST","path":"/public.*"}'
ADMIN='{"rule":8,"method":"POST","path":"/admin"}'

start_proxy() {
	ip netns exec "$NODE" "$BUILD/edgewire-proxy" --bpffs "$BPFFS" --config "$CONFIG" \
		--request-timeout 2 --log-level debug >>"$PROXY_LOG" 2>&1 &
	PROXY_PID=$!
	BG_PIDS+=("$PROXY_PID")
	wait_for 5 grep -q "L7 policy entries" "$PROXY_LOG"
}

in_ns() { # NS CMD...
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

client() { in_ns "$CLI" python3 "$HTTP" "$@"; }

stat_is() { # RULE REASON REQUESTS
	local got
	got=$("$FILL" "$MAPS" stats | awk -v r="$1" -v why="$2" '$1 == r && $2 == why && $3 == "ingress" {print $4}')
	[[ ${got:-0} == "$3" ]] || { echo "rule $1 $2: $got requests, expected $3"; return 1; }
}

proxy_exits_without_pins() {
	mkdir -p "$WORK/nopins"
	! in_ns "$NODE" "$BUILD/edgewire-proxy" --bpffs "$WORK/nopins" >"$WORK/nopins.log" 2>&1 &&
		grep -q "ew_endpoints not found: the agent has not run with --bpffs" "$WORK/nopins.log"
}

one_rule_and_route() {
	[[ $(in_ns "$NODE" ip rule show | grep -c "fwmark $MARK lookup 231") == 1 ]] &&
		in_ns "$NODE" ip rule show | grep -q "^90:" &&
		in_ns "$NODE" ip route show table 231 | grep -q "local default dev lo"
}

check "topology" topology
check "maps pinned on a private bpffs" maps
mkdir -p "$CONFIG_DIR"
config_json "$PUBLIC" >"$CONFIG"
ip netns exec "$SRV" python3 "$HTTP" serve $SERVER_IP 80 &
SERVER_PID=$!
BG_PIDS+=("$SERVER_PID")
check "the proxy refuses to start without the agent's pins" proxy_exits_without_pins
check "the proxy starts" start_proxy
check "the server answers" wait_for 5 in_ns "$SRV" bash -c "echo >/dev/tcp/$SERVER_IP/80"
check "ip rule and local route installed" one_rule_and_route

check "keep-alive: allowed, denied (403), allowed on one connection" client keepalive $SERVER_IP
check "pipelined requests, then a half-close: all answered in order, then closed" client pipelined $SERVER_IP
check "a request head split across sends" client split $SERVER_IP
check "bodies of 1 MiB both ways, and a denied one dropped, on one connection" \
	client big $SERVER_IP
check "the server closes after its answer: the client is closed after it" \
	client server_closes $SERVER_IP
check "a head too large: 431, closed" client too_large $SERVER_IP
check "half a head, then nothing: 408 at the request timeout, closed" client slow $SERVER_IP
check "an idle keep-alive connection closed at the request timeout" client idle $SERVER_IP
check "a malformed request: 400, closed" client malformed $SERVER_IP
check "bytes that are no HTTP: 400, closed" client not_http $SERVER_IP
check "a denied request with Connection: close: 403, closed" client closing $SERVER_IP
check "ew_http_stats: forwarded" stat_is 7 forward 10
check "ew_http_stats: denied" stat_is 0 policy-denied 4
check "ew_http_stats: malformed" stat_is 0 malformed 3

config_json "$PUBLIC" "$ADMIN" >"$CONFIG_DIR/.new"
check "config replaced live, under an open connection" \
	client reload $SERVER_IP "$CONFIG_DIR/.new" "$CONFIG"
check "ew_http_stats: allowed by the new rule" stat_is 8 forward 1

echo '{"version":1,"entries":[' >"$CONFIG_DIR/.bad" && mv "$CONFIG_DIR/.bad" "$CONFIG"
check "a bad config is logged" wait_for 3 grep -q "denying every request until it is fixed" "$PROXY_LOG"
check "a bad config denies everything" says 403 client status $SERVER_IP GET /public
config_json "$PUBLIC" >"$CONFIG_DIR/.new" && mv "$CONFIG_DIR/.new" "$CONFIG"
check "a fixed config allows again" wait_for 3 says 200 client status $SERVER_IP GET /public

check "HTTP events in ew_events" bash -c "'$FILL' '$MAPS' events >'$WORK/events' &&
	grep -qx 'GET /public 200 forward 7' '$WORK/events' &&
	grep -qx 'POST /admin 403 policy-denied 0' '$WORK/events' &&
	grep -qx '  400 malformed 0' '$WORK/events'"

kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
check "the server gone: 503, closed" client unavailable $SERVER_IP

kill -TERM "$PROXY_PID"
check "SIGTERM: a clean exit" wait "$PROXY_PID"
PROXY_LOG=$WORK/proxy-again.log
check "the proxy starts again" start_proxy
check "a restart keeps one rule and the route (idempotent)" one_rule_and_route
kill -TERM "$PROXY_PID"
check "SIGTERM again: a clean exit" wait "$PROXY_PID"
check "ip rule and local route left in place at exit" one_rule_and_route

finish
