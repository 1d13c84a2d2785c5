# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash disable=SC2034 # its variables are for the files that source it
# The setups a benchmark compares: two pods on one node, wired by edgewire (a lab) or by a
# baseline built here from plain Linux parts. Each setup_* function builds one, registers
# it for removal on exit and records, under the setup's name:
#   CLIENT_NS[name]  netns of the pod that sends
#   SERVER_NS[name]  netns of the pod that listens
#   SERVER_IP[name]  the listening pod's address
#   SETUP_DESC[name] one line for the report
# Nothing here touches the root netns; no packet leaves the namespaces made here.

declare -gA CLIENT_NS=() SERVER_NS=() SERVER_IP=() SETUP_DESC=()

# The pods' MTU in the baselines: the edgewire pods' (its CNI plugin leaves room for the
# overlay), so that no setup sends bigger segments than another. setup_edgewire sets it.
POD_MTU=1500

setup_register() { # NAME CLIENT_NS SERVER_NS SERVER_IP DESCRIPTION
	CLIENT_NS[$1]=$2
	SERVER_NS[$1]=$3
	SERVER_IP[$1]=$4
	SETUP_DESC[$1]=$5
}

# --- edgewire: a lab (tools/lab/lab) of one node and its pods, from a copy of bench/store ------

EW_LAB_NAME=$RUN_ID
lab() { EW_LAB=$EW_LAB_NAME EW_BUILD_DIR=$BUILD "$REPO/tools/lab/lab" "$@"; }
lab_down() { lab down >/dev/null 2>&1; }
EW_STORE= # the lab's store: $WORK/store, which a section may add files to (the agent watches it)

# The lab's node's bpffs root, for bpfctl.
ew_bpffs() { echo "/sys/fs/bpf/edgewire-lab/$EW_LAB_NAME/node-a"; }
ew_bpfctl() { lab exec node:node-a "$BUILD/bpfctl" --bpffs "$(ew_bpffs)" "$@"; }

# bpfctl stats of the lab's node: {"forward": packets, ...} summed over directions.
edgewire_counters() {
	ew_bpfctl --json stats | jq -c 'group_by(.reason) | map({(.[0].reason): (map(.packets) | add)}) | add // {}'
}

# Builds the lab once; later calls (another section) find it up.
setup_edgewire() {
	[[ -z $EW_STORE ]] || return 0
	EW_STORE=$WORK/store
	cp -r "$BENCH/store" "$EW_STORE"
	CLEANUP_CMDS+=(lab_down)
	if ! lab up "$EW_STORE" >"$WORK/lab-up.log" 2>&1; then
		tail -n 20 "$WORK/lab-up.log" >&2
		die "the edgewire lab did not come up (log above)"
	fi
	POD_MTU=$(ip -n "$EW_LAB_NAME-pod-bench-client" -j link show dev eth0 | jq '.[0].mtu')
	setup_register edgewire "$EW_LAB_NAME-pod-bench-client" "$EW_LAB_NAME-pod-bench-server" \
		"$(lab ip bench/server)" \
		"tools/lab/lab: the agent, the CNI plugin (pod MTU $POD_MTU) and bpf_lxc on the pods' host veths (redirect_peer between pods)"
}

# --- routing: Calico-like, /32 routes between veths ----------------------------------------------

# A pod on a routed node: HOST_IF in NODE_NS, eth0 in POD_NS with IP/32 and a default route
# via 169.254.1.1 (as Calico does). Static neighbours on both sides stand in for proxy_arp.
routed_pod() { # NODE_NS HOST_IF POD_NS IP
	local node=$1 hif=$2 pod=$3 ip=$4
	ip -n "$node" link add "$hif" mtu "$POD_MTU" type veth peer name eth0 mtu "$POD_MTU" netns "$pod"
	ip -n "$node" link set "$hif" up
	ip -n "$pod" link set eth0 up
	ip -n "$pod" addr add "$ip/32" dev eth0
	ip -n "$pod" route add 169.254.1.1 dev eth0 scope link
	ip -n "$pod" route add default via 169.254.1.1 dev eth0
	ip -n "$pod" neigh replace 169.254.1.1 lladdr "$(mac_of "$node" "$hif")" dev eth0 nud permanent
	ip -n "$node" route add "$ip/32" dev "$hif" scope link
	ip -n "$node" neigh replace "$ip" lladdr "$(mac_of "$pod" eth0)" dev "$hif" nud permanent
}

setup_routing() {
	local node=$RUN_ID-rt-node a=$RUN_ID-rt-a b=$RUN_ID-rt-b
	netns_new "$node"
	netns_new "$a"
	netns_new "$b"
	in_ns "$node" sysctl -qw net.ipv4.ip_forward=1
	routed_pod "$node" va "$a" 10.99.0.10
	routed_pod "$node" vb "$b" 10.99.0.20
	setup_register routing "$a" "$b" 10.99.0.20 \
		"veth pairs (MTU $POD_MTU) into a node netns, pod /32 routes, ip_forward, static neighbours; no iptables rules (Calico-like, minus its rules)"
}

# --- bridge: flannel/docker-like, one L2 segment -------------------------------------------------

bridged_pod() { # NODE_NS HOST_IF POD_NS IP
	local node=$1 hif=$2 pod=$3 ip=$4
	ip -n "$node" link add "$hif" mtu "$POD_MTU" type veth peer name eth0 mtu "$POD_MTU" netns "$pod"
	ip -n "$node" link set "$hif" master br0 up
	ip -n "$pod" addr add "$ip/24" dev eth0
	ip -n "$pod" link set eth0 up
	ip -n "$pod" route add default via 10.98.0.1 dev eth0
}

setup_bridge() {
	local node=$RUN_ID-br-node a=$RUN_ID-br-a b=$RUN_ID-br-b nf
	netns_new "$node"
	netns_new "$a"
	netns_new "$b"
	ip -n "$node" link add br0 type bridge
	ip -n "$node" addr add 10.98.0.1/24 dev br0
	ip -n "$node" link set br0 up
	bridged_pod "$node" va "$a" 10.98.0.10
	bridged_pod "$node" vb "$b" 10.98.0.20
	nf=$(in_ns "$node" sysctl -n net.bridge.bridge-nf-call-iptables 2>/dev/null || echo n/a)
	setup_register bridge "$a" "$b" 10.98.0.20 \
		"veth pairs (MTU $POD_MTU) on a Linux bridge in a node netns, pods in one /24 (flannel/docker-like); bridge-nf-call-iptables=$nf, no rules"
}

# Every setup must carry a ping before it is measured (ARP, links up).
setup_check() {
	in_ns "${CLIENT_NS[$1]}" ping -c 1 -W 2 "${SERVER_IP[$1]}" >/dev/null ||
		die "setup $1: the client pod cannot ping ${SERVER_IP[$1]}"
}
