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
lab_of() { EW_LAB=$1 EW_BUILD_DIR=$BUILD "$REPO/tools/lab/lab" "${@:2}"; } # LAB COMMAND...
lab() { lab_of "$EW_LAB_NAME" "$@"; }
lab_down() { lab down >/dev/null 2>&1; }
EW_STORE= # the lab's store: $WORK/store, which a section may add files to (the agent watches it)

# bpfctl on a lab's node, with that node's bpffs root.
lab_bpfctl() { # LAB NODE ARGS...
	lab_of "$1" exec "node:$2" "$BUILD/bpfctl" --bpffs "/sys/fs/bpf/edgewire-lab/$1/$2" "${@:3}"
}
ew_bpffs() { echo "/sys/fs/bpf/edgewire-lab/$EW_LAB_NAME/node-a"; }
ew_bpfctl() { lab_bpfctl "$EW_LAB_NAME" node-a "$@"; }

# bpfctl stats of a lab's nodes: {"forward": packets, ...} summed over directions and nodes.
lab_counters() { # LAB NODE...
	local n
	for n in "${@:2}"; do
		lab_bpfctl "$1" "$n" --json stats
	done | jq -s -c 'add | group_by(.reason) | map({(.[0].reason): (map(.packets) | add)}) | add // {}'
}
edgewire_counters() { lab_counters "$EW_LAB_NAME" node-a; }

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

# --- across two nodes: edgewire's VXLAN, and a kernel vxlan device (flannel-like) ----------------

# A lab of two nodes of its own (bench/store-cross: client on node-a, server on node-b),
# up for the cross_node section only; a second lab, so the first keeps one node.
EW_XLAB_NAME=${RUN_ID}x
xlab_down() { lab_of "$EW_XLAB_NAME" down >/dev/null 2>&1; }

setup_edgewire_cross() {
	local store=$WORK/store-cross mtu
	cp -r "$BENCH/store-cross" "$store"
	CLEANUP_CMDS+=(xlab_down)
	if ! lab_of "$EW_XLAB_NAME" up "$store" >"$WORK/xlab-up.log" 2>&1; then
		tail -n 20 "$WORK/xlab-up.log" >&2
		die "the two-node edgewire lab did not come up (log above)"
	fi
	mtu=$(ip -n "$EW_XLAB_NAME-pod-bench-client" -j link show dev eth0 | jq '.[0].mtu')
	POD_MTU=$mtu
	setup_register cross:edgewire "$EW_XLAB_NAME-pod-bench-client" "$EW_XLAB_NAME-pod-bench-server" \
		"$(lab_of "$EW_XLAB_NAME" ip bench/server)" \
		"tools/lab/lab with two nodes on an underlay bridge (veths): the agents, the CNI plugin (pod MTU $mtu), bpf_lxc encapsulating VXLAN itself and bpf_overlay decapsulating on the node's eth0 (redirect_peer into the pod); client on node-a, server on node-b"
}

# A flannel-like node: eth0 on the underlay bridge, a vxlan device flannel.1 (VNI 1, port
# 4789, no learning) with the node's x.x.x.0/32 of its pod CIDR, and a routed pod.
vxlan_node() { # NODE_NS UNDERLAY_NS PORT NODE_IP VTEP_IP HOST_IF POD_NS POD_IP
	local node=$1 u=$2 port=$3 ip=$4 vtep=$5
	ip -n "$node" link add eth0 type veth peer name "$port" netns "$u"
	ip -n "$u" link set "$port" master br0 up
	ip -n "$node" addr add "$ip/24" dev eth0
	ip -n "$node" link set eth0 up
	in_ns "$node" sysctl -qw net.ipv4.ip_forward=1
	ip -n "$node" link add flannel.1 type vxlan id 1 dstport 4789 local "$ip" dev eth0 nolearning
	ip -n "$node" addr add "$vtep/32" dev flannel.1
	ip -n "$node" link set flannel.1 up
	routed_pod "$node" "$6" "$7" "$8"
}

# What flanneld writes for a peer node: a route to its pod CIDR via its VTEP address
# onlink, a permanent neighbour with its VTEP MAC and an FDB entry to its node IP.
vxlan_peer() { # NODE_NS PEER_NS PEER_IP PEER_VTEP_IP PEER_POD_CIDR
	local mac
	mac=$(mac_of "$2" flannel.1)
	ip -n "$1" route add "$5" via "$4" dev flannel.1 onlink
	ip -n "$1" neigh replace "$4" lladdr "$mac" dev flannel.1 nud permanent
	in_ns "$1" bridge fdb append "$mac" dev flannel.1 dst "$3"
}

setup_vxlan() {
	local u=$RUN_ID-vx-u n1=$RUN_ID-vx-n1 n2=$RUN_ID-vx-n2 a=$RUN_ID-vx-a b=$RUN_ID-vx-b
	netns_new "$u"
	netns_new "$n1"
	netns_new "$n2"
	netns_new "$a"
	netns_new "$b"
	ip -n "$u" link add br0 type bridge
	ip -n "$u" link set br0 up
	vxlan_node "$n1" "$u" u-n1 192.168.78.11 10.97.1.0 va "$a" 10.97.1.10
	vxlan_node "$n2" "$u" u-n2 192.168.78.12 10.97.2.0 vb "$b" 10.97.2.20
	vxlan_peer "$n1" "$n2" 192.168.78.12 10.97.2.0 10.97.2.0/24
	vxlan_peer "$n2" "$n1" 192.168.78.11 10.97.1.0 10.97.1.0/24
	setup_register cross:vxlan "$a" "$b" 10.97.2.20 \
		"two node netns on an underlay bridge (veths), each with a kernel vxlan device (VNI 1, dstport 4789, nolearning, MTU $(ip -n "$n1" -j link show dev flannel.1 | jq '.[0].mtu')) and flanneld's static route, neighbour and FDB entry for the peer; pods as routed veths (MTU $POD_MTU, /32 routes, ip_forward), no iptables rules (flannel-like, minus its rules and bridge)"
}

# Every setup must carry a ping before it is measured (ARP, links up).
setup_check() {
	in_ns "${CLIENT_NS[$1]}" ping -c 1 -W 2 "${SERVER_IP[$1]}" >/dev/null ||
		die "setup $1: the client pod cannot ping ${SERVER_IP[$1]}"
}
