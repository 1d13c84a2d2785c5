#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Pods on different nodes talk through the VXLAN overlay that edgewire's own
# programs write: ping, TCP, UDP and iperf3 with the counters to prove it, the
# pod MTU and ICMP "fragmentation needed", a host outside the cluster, the
# frames on the wire (tshark), VXLAN from strangers and with a wrong VNI, a
# plain Linux vxlan node configured as flannel does, and a Node leaving the
# store and coming back while the agents run.
# shellcheck disable=SC1010 # "ping -M do" is no loop
set -uo pipefail
source "$(dirname "$0")/lib.sh"

STORE=$WORK/store
mkdir -p "$STORE"
cp "$REPO/examples/store/namespaces.yaml" "$STORE/"

NODE_A=192.168.77.11 NODE_B=192.168.77.12 NODE_C=192.168.77.13 EXT=192.168.77.100
WEB_A=10.244.1.10 CLI_A=10.244.1.30 WEB_B=10.244.2.10 CLI_B=10.244.2.30
FLANNEL_VTEP=10.244.3.0 FLANNEL_POD=10.244.3.5
VXLAN_PORT=4789
# The flannel node is a netns of our own joined to the lab's underlay bridge.
# Its name has the lab's external-host prefix, so `lab exec ext:flannel` enters
# it and `lab down` would remove it too; we remove it ourselves first.
FLANNEL_NS=$EW_LAB-ext-flannel
FLANNEL_PORT=flan-c # its bridge port, in the lab's private underlay netns
UNDERLAY_NS=$EW_LAB-underlay

overlay_cleanup() {
	stop_background
	ip -n "$UNDERLAY_NS" link del "$FLANNEL_PORT" 2>/dev/null
	ip netns del "$FLANNEL_NS" 2>/dev/null
	cleanup # lib.sh: lab down, $WORK
}
trap overlay_cleanup EXIT

node_file() { # NAME POD_CIDR INTERNAL_IP [VTEP_MAC]: a Node, flannel-annotated with a VTEP MAC
	{
		printf 'apiVersion: v1\nkind: Node\nmetadata:\n  name: %s\n' "$1"
		[[ -z ${4:-} ]] || printf '  annotations:\n    flannel.alpha.coreos.com/backend-data: %s\n' \
			"'{\"VNI\":1,\"VtepMAC\":\"$4\"}'"
		printf 'spec:\n  podCIDR: %s\n  podCIDRs: [%s]\n' "$2" "$2"
		printf 'status:\n  addresses:\n    - {type: InternalIP, address: %s}\n' "$3"
	} >"$WORK/node-$1.yaml"
	mv "$WORK/node-$1.yaml" "$STORE/" # whole files only: the agents watch the store
}

pod_file() { # NAME NODE IP PORT/PROTO...
	local name=$1 node=$2 ip=$3 port
	shift 3
	{
		printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  namespace: default\n' "$name"
		printf 'spec:\n  nodeName: %s\n  containers:\n    - name: main\n      image: busybox\n' "$node"
		(($#)) && printf '      ports:\n'
		for port in "$@"; do
			printf '        - {containerPort: %s, protocol: %s}\n' "${port%/*}" "${port#*/}"
		done
		printf 'status:\n  podIP: %s\n' "$ip"
	} >"$STORE/pod-$name.yaml"
}

node_file node-a 10.244.1.0/24 $NODE_A
node_file node-b 10.244.2.0/24 $NODE_B
pod_file web-a node-a $WEB_A 8080/TCP 5432/TCP 9125/UDP
pod_file cli-a node-a $CLI_A
pod_file web-b node-b $WEB_B 8080/TCP 5432/TCP 9125/UDP
pod_file cli-b node-b $CLI_B

# lab_start, plus the external host.
if ! "$LAB" up "$STORE" --external "ext=$EXT" >"$WORK/lab-up.log" 2>&1; then
	cat "$WORK/lab-up.log"
	fail "lab up"
	finish
	exit 1
fi

in_ext() { # NAME CMD...
	local name=$1
	shift
	"$LAB" exec "ext:$name" -- "$@"
}

num() { # COMMAND...: its output when it is a number, else 0 (a counter never seen)
	local v
	v=$("$@")
	[[ $v =~ ^[0-9]+$ ]] && echo "$v" || echo 0
}

pkts() { num counter "$@"; } # NODE REASON [DIRECTION]

bytes_of() { # NODE REASON [DIRECTION]
	bpfctl "$1" --json stats |
		jq "[.[] | select(.reason == \"$2\" and .direction == \"${3:-egress}\") | .bytes] | add"
}

bytes() { num bytes_of "$@"; } # NODE REASON [DIRECTION]

drops() { # NODE: packets dropped for any reason, both directions
	bpfctl "$1" --json stats | jq '[.[] | select(.drop) | .packets] | add // 0'
}

route_present() { # NODE CIDR
	bpfctl "$1" --json routes | jq -e ".[] | select(.cidr == \"$2\")"
}

route_absent() { ! route_present "$@"; }

node_ip_present() { # NODE IP: IP is in the node's ew_nodes
	bpfctl "$1" --json nodes | jq -e ".[] | select(.ip == \"$2\")"
}

node_ip_absent() { ! node_ip_present "$@"; }

route_has_vtep() { # NODE CIDR MAC
	bpfctl "$1" --json routes | jq -e ".[] | select(.cidr == \"$2\" and .vtepMac == \"$3\")"
}

mtu_is() { # NS/POD MTU: the pod's eth0
	in_pod "$1" ip -o link show eth0 | grep -q " mtu $2 "
}

ping1() { # NS/POD IP: one ping, answered within a second
	in_pod "$1" ping -c 1 -W 1 "$2"
}

listening() { # TARGET PORT: something listens on TCP PORT in TARGET (a lab exec target)
	"$LAB" exec "$1" -- ss -Hltn "sport = :$2" | grep -q .
}

icmp_echos_in() { # NS/POD: echo requests the pod's stack has received
	in_pod "$1" awk '/^Icmp:/ && !c { for (i = 1; i <= NF; i++) if ($i == "InEchos") c = i; next }
		/^Icmp:/ { print $c }' /proc/net/snmp
}

# tcp_ask TARGET IP PORT REQUEST [SOCAT-OPTION]: the last line IP:PORT answers
# REQUEST (printf %b) with, asked from TARGET (NS/POD or ext:NAME). Gives up
# after 3 s, connecting included, so a broken path fails fast instead of after
# the kernel's two minutes of SYN retries.
tcp_ask() {
	printf '%b' "$4" |
		"$LAB" exec "$1" -- socat -T 3 - "TCP:$2:$3,connect-timeout=3${5:+,$5}" | tail -n 1
}

HELLO='hello\n'
HTTP_GET='GET / HTTP/1.0\r\n\r\n'

start_bg() { # LOG CMD...: starts CMD in the background, to be ended by the cleanup
	local log=$1
	shift
	"$@" >"$log" 2>&1 &
	BG_PIDS+=($!)
}

echo "# pods on different nodes"
for pod in web-a cli-a web-b cli-b; do
	check "$pod: eth0 MTU is 1450 (underlay 1500 - 50 of VXLAN)" mtu_is default/$pod 1450
done
a_encap0=$(pkts node-a encap) a_fwd0=$(pkts node-a forward ingress)
b_encap0=$(pkts node-b encap) b_fwd0=$(pkts node-b forward ingress)
drops0=$(($(drops node-a) + $(drops node-b)))
check "ping cli-a -> web-b" ping_ok default/cli-a $WEB_B
check "ping cli-b -> web-a" ping_ok default/cli-b $WEB_A
check "HTTP cli-a -> web-b:8080 answers default/web-b" \
	says default/web-b tcp_ask default/cli-a $WEB_B 8080 "$HTTP_GET"
check "HTTP cli-b -> web-a:8080 answers default/web-a" \
	says default/web-a tcp_ask default/cli-b $WEB_A 8080 "$HTTP_GET"
check "TCP cli-a -> web-b:5432 answers default/web-b" \
	says default/web-b tcp_ask default/cli-a $WEB_B 5432 "$HELLO"
check "TCP cli-b -> web-a:5432 answers default/web-a" \
	says default/web-a tcp_ask default/cli-b $WEB_A 5432 "$HELLO"
check "UDP cli-a -> web-b:9125 answers default/web-b" \
	says default/web-b udp_hello default/cli-a $WEB_B 9125
check "UDP cli-b -> web-a:9125 answers default/web-a" \
	says default/web-a udp_hello default/cli-b $WEB_A 9125
a_encap=$(($(pkts node-a encap) - a_encap0)) a_fwd=$(($(pkts node-a forward ingress) - a_fwd0))
b_encap=$(($(pkts node-b encap) - b_encap0)) b_fwd=$(($(pkts node-b forward ingress) - b_fwd0))
# Each side sent at least 2 pings (or replies), 2 TCP exchanges of >= 3
# packets and a datagram: >= 10. Every packet one node wraps, the other unwraps.
check "node-a encapsulated them (+$a_encap) and node-b delivered the same (+$b_fwd)" \
	test "$a_encap" -ge 10 -a "$a_encap" -eq "$b_fwd"
check "node-b encapsulated the answers (+$b_encap) and node-a delivered the same (+$a_fwd)" \
	test "$b_encap" -ge 10 -a "$b_encap" -eq "$a_fwd"
check "nothing was dropped on either node" \
	test "$(($(drops node-a) + $(drops node-b)))" -eq "$drops0"

echo "# iperf3 for 10 s from node-a to node-b"
start_bg "$WORK/iperf-server.log" "$LAB" exec default/web-b -- iperf3 -s -1 -p 5201
wait_for 3 listening default/web-b 5201
b_fwd0=$(pkts node-b forward ingress) b_bytes0=$(bytes node-b forward ingress)
check "iperf3 cli-a -> web-b runs for 10 s" \
	timeout 25 "$LAB" exec default/cli-a -- iperf3 -c $WEB_B -p 5201 -t 10 -J --connect-timeout 3000
cp "$WORK/out" "$WORK/iperf.json"
bps=$(jq '.end.sum_received.bits_per_second // 0 | floor' "$WORK/iperf.json" 2>/dev/null || echo 0)
received=$(jq '.end.sum_received.bytes // 0' "$WORK/iperf.json" 2>/dev/null || echo 0)
echo "  ($((bps / 1000000)) Mbit/s received, $((received / 1000000)) MB," \
	"$(jq '.end.sum_sent.retransmits // "?"' "$WORK/iperf.json" 2>/dev/null) retransmits)"
check "it moved more than 100 Mbit/s (it works; no performance claim)" test "$bps" -gt 100000000
b_fwd=$(($(pkts node-b forward ingress) - b_fwd0))
b_bytes=$(($(bytes node-b forward ingress) - b_bytes0))
check "node-b delivered it from the overlay: +$b_fwd packets, +$((b_bytes / 1000000)) MB" \
	test "$b_fwd" -gt 0 -a "$b_bytes" -ge "$received" -a "$received" -gt 0

echo "# large packets"
check "ping -M do -s 1422 (1450 bytes) cli-a -> web-b" \
	in_pod default/cli-a ping -c 2 -i 0.2 -W 1 -M do -s 1422 $WEB_B
check_not "a 1451-byte DF ping does not leave cli-a" \
	in_pod default/cli-a ping -c 1 -W 1 -M do -s 1423 $WEB_B
frag_needed() { # the 1500-byte DF ping from ext fails with an MTU of 1450 reported back
	local out
	out=$(in_ext ext ping -c 1 -W 1 -M do -s 1472 $WEB_B 2>&1) && return 1
	echo "$out"
	grep -qE 'Frag needed and DF set \(mtu = 1450\)|message too long, mtu=1450' <<<"$out"
}
ext_knows_pmtu() { in_ext ext ip route get $WEB_B | grep -q 'mtu 1450'; }
check "ext: ping -M do -s 1472 web-b gets 'fragmentation needed, mtu 1450' back" frag_needed
check "ext learnt the path MTU 1450 to web-b" ext_knows_pmtu
check "ext: ping -M do -s 1422 web-b works" \
	in_ext ext ping -c 2 -i 0.2 -W 1 -M do -s 1422 $WEB_B

echo "# a host outside the cluster"
check "HTTP ext -> web-a:8080 (node-a) answers default/web-a" \
	says default/web-a tcp_ask ext:ext $WEB_A 8080 "$HTTP_GET"
check "TCP ext -> web-b:5432 (node-b) answers default/web-b" \
	says default/web-b tcp_ask ext:ext $WEB_B 5432 "$HELLO"
start_bg "$WORK/ext-responder.log" \
	"$LAB" exec ext:ext -- "$BUILD/ew-responder" --name ext --tcp 7000
wait_for 3 listening ext:ext 7000
check "ping cli-a -> ext" ping_ok default/cli-a $EXT
check "TCP cli-a -> ext:7000 answers ext" says ext tcp_ask default/cli-a $EXT 7000 "$HELLO"
check "TCP web-b -> ext:7000 answers ext" says ext tcp_ask default/web-b $EXT 7000 "$HELLO"

echo "# the frames on the wire"
# Only node-a's VXLAN, pings and four TCP connections to web-b. The capture is
# bounded by a packet count, tshark's own duration and timeout; SIGINT ends it
# once the traffic is done.
start_bg "$WORK/tshark.log" timeout 20 "$LAB" exec underlay -- tshark -i br0 -n -q \
	-f "udp dst port $VXLAN_PORT and src host $NODE_A" -c 500 -a duration:15 -w "$WORK/vxlan.pcapng"
tshark_pid=${BG_PIDS[-1]}
check "tshark captures on the underlay bridge" wait_for 5 grep -q "Capturing on" "$WORK/tshark.log"
# tshark may say "Capturing on" a moment before it captures: three pings,
# of which at least two must be seen.
in_pod default/cli-a ping -c 3 -i 0.2 -W 1 $WEB_B >/dev/null
for port in 8080 8080 5432 5432; do
	tcp_ask default/cli-a $WEB_B $port "$HELLO" >/dev/null
done
sleep 0.3
kill -INT "$tshark_pid" 2>/dev/null
wait "$tshark_pid" 2>/dev/null
wire() { # FIELD...: one line per frame, outer header fields first
	tshark -r "$WORK/vxlan.pcapng" -n -o ip.check_checksum:TRUE -T fields -E occurrence=f \
		-E separator=, "${@/#/-e}" 2>/dev/null
}
wire ip.src ip.dst udp.srcport udp.dstport vxlan.vni ip.checksum.status icmp.type tcp.srcport \
	tcp.dstport >"$WORK/wire.txt"
tshark -r "$WORK/vxlan.pcapng" -n 2>/dev/null | head -n 3 | sed 's/^ */  tshark: /'
echo "  outer src,dst,sport,dport,vni,ip-csum-status | inner icmp-type,tcp-sport,tcp-dport:"
sed -n '1p;3p' "$WORK/wire.txt" | sed 's/^/  tshark: /'
frames=$(wc -l <"$WORK/wire.txt")
# occurrence=f: the outer IPv4 and UDP header come first; tcp.* is the inner one.
check "$frames VXLAN frames, all node-a -> node-b, UDP $VXLAN_PORT, VNI 1" \
	awk -F, -v a=$NODE_A -v b=$NODE_B -v p=$VXLAN_PORT \
	'$1 != a || $2 != b || $4 != p || $5 != 1 { bad = 1 } END { exit bad || NR < 10 }' "$WORK/wire.txt"
check "tshark verified every outer IPv4 header checksum (status good)" \
	awk -F, '$6 != 1 { bad = 1 } END { exit bad || NR == 0 }' "$WORK/wire.txt"
check "the pings are in it, as ICMP echo requests inside (at least 2 of 3)" \
	awk -F, '$7 == 8 { n++ } END { exit n < 2 }' "$WORK/wire.txt"
# Columns: inner client port, outer source port. One port per flow; flows spread.
awk -F, '$9 == 8080 || $9 == 5432 { print $8, $3 }' "$WORK/wire.txt" | sort -u >"$WORK/flows.txt"
check "4 TCP connections, each with one outer UDP source port" \
	test "$(cut -d' ' -f1 "$WORK/flows.txt" | sort -u | wc -l)" -eq 4 \
	-a "$(wc -l <"$WORK/flows.txt")" -eq 4
outer_ports=$(cut -d' ' -f2 "$WORK/flows.txt" | sort -u | tr '\n' ' ')
check "different flows use different outer UDP source ports (${outer_ports% })" \
	test "$(wc -w <<<"$outer_ports")" -ge 2

echo "# a plain Linux vxlan node, configured as flannel does"
fl() { ip -n "$FLANNEL_NS" "$@"; }
# What flanneld sets up: flannel.1 with the node's /32 of its pod CIDR, and per
# peer node a route via that node's x.x.x.0 onlink, a permanent neighbour with
# the peer's VTEP MAC (any MAC for edgewire nodes) and an fdb entry to its IP.
# The flannel node's "pod" is an address on its lo.
flannel_node_up() {
	local n mac peer_ip
	ip netns add "$FLANNEL_NS" &&
		fl link set lo up &&
		fl link add eth0 type veth peer name "$FLANNEL_PORT" netns "$UNDERLAY_NS" &&
		ip -n "$UNDERLAY_NS" link set "$FLANNEL_PORT" master br0 up &&
		fl addr add $NODE_C/24 dev eth0 &&
		fl link set eth0 up &&
		fl link add flannel.1 type vxlan id 1 dstport $VXLAN_PORT local $NODE_C dev eth0 nolearning &&
		fl addr add $FLANNEL_VTEP/32 dev flannel.1 &&
		fl link set flannel.1 up &&
		fl addr add $FLANNEL_POD/32 dev lo || return
	for n in 1 2; do
		mac=02:ee:00:00:00:0$n peer_ip=192.168.77.1$n
		fl route add "10.244.$n.0/24" via "10.244.$n.0" dev flannel.1 onlink &&
			fl neigh add "10.244.$n.0" lladdr $mac dev flannel.1 nud permanent &&
			bridge -n "$FLANNEL_NS" fdb append $mac dev flannel.1 dst "$peer_ip" || return
	done
}
check "a flannel-style node $NODE_C with flannel.1 and a pod $FLANNEL_POD" flannel_node_up
FLANNEL_MAC=$(fl -j link show flannel.1 | jq -r '.[0].address')
node_file flannel-c 10.244.3.0/24 $NODE_C "$FLANNEL_MAC"
check "node-a routes 10.244.3.0/24 to flannel.1's MAC $FLANNEL_MAC" \
	wait_for 2 route_has_vtep node-a 10.244.3.0/24 "$FLANNEL_MAC"
check "node-b too" wait_for 2 route_has_vtep node-b 10.244.3.0/24 "$FLANNEL_MAC"
start_bg "$WORK/flannel-responder.log" \
	"$LAB" exec ext:flannel -- "$BUILD/ew-responder" --name flannel-c --tcp 7000
wait_for 3 listening ext:flannel 7000
check "ping cli-a -> flannel pod $FLANNEL_POD" ping_ok default/cli-a $FLANNEL_POD
check "ping web-b -> flannel pod, 1450 bytes DF" \
	in_pod default/web-b ping -c 2 -i 0.2 -W 1 -M do -s 1422 $FLANNEL_POD
check "TCP cli-a -> flannel pod:7000 answers flannel-c" \
	says flannel-c tcp_ask default/cli-a $FLANNEL_POD 7000 "$HELLO"
check "TCP cli-b -> flannel pod:7000 answers flannel-c" \
	says flannel-c tcp_ask default/cli-b $FLANNEL_POD 7000 "$HELLO"
check "ping flannel node (from flannel.1's $FLANNEL_VTEP) -> cli-a" \
	in_ext flannel ping -c 2 -i 0.2 -W 1 $CLI_A
check "ping flannel pod -> web-b" \
	in_ext flannel ping -c 2 -i 0.2 -W 1 -I $FLANNEL_POD $WEB_B
check "TCP flannel pod -> web-a:5432 answers default/web-a" \
	says default/web-a tcp_ask ext:flannel $WEB_A 5432 "$HELLO" bind=$FLANNEL_POD
check "HTTP flannel pod -> web-b:8080 answers default/web-b" \
	says default/web-b tcp_ask ext:flannel $WEB_B 8080 "$HTTP_GET" bind=$FLANNEL_POD

echo "# VXLAN from a host that is no node, and with another VNI"
stranger_vxlan_up() { # ext sends cli-a's packets to node-a in VXLAN VNI 1
	in_ext ext ip link add vx0 type vxlan id 1 dstport $VXLAN_PORT \
		remote $NODE_A local $EXT dev eth0 &&
		in_ext ext ip link set vx0 up &&
		in_ext ext ip route add $CLI_A/32 dev vx0 &&
		in_ext ext ip neigh add $CLI_A lladdr 02:00:00:00:00:99 dev vx0 nud permanent
}
check "ext routes cli-a through its own vxlan device vx0 to node-a" stranger_vxlan_up
unknown0=$(pkts node-a unknown-node ingress) echos0=$(icmp_echos_in default/cli-a)
check_not "ping ext -> cli-a in VXLAN from a stranger gets no answer" \
	in_ext ext ping -c 2 -i 0.2 -W 1 $CLI_A
check "cli-a's stack never saw the echo requests" \
	test "$(icmp_echos_in default/cli-a)" -eq "$echos0"
check "node-a counted them as unknown-node (+$(($(pkts node-a unknown-node ingress) - unknown0)))" \
	test "$(($(pkts node-a unknown-node ingress) - unknown0))" -ge 2
in_ext ext ip link del vx0
wrong_vni_up() { # the flannel node, a real node, sends cli-a's packets in VNI 9
	fl link add vx9 type vxlan id 9 dstport $VXLAN_PORT local $NODE_C dev eth0 nolearning &&
		fl link set vx9 up &&
		fl route add $CLI_A/32 via 10.244.1.0 dev vx9 onlink &&
		fl neigh add 10.244.1.0 lladdr 02:ee:00:00:00:09 dev vx9 nud permanent &&
		bridge -n "$FLANNEL_NS" fdb append 02:ee:00:00:00:09 dev vx9 dst $NODE_A
}
check "the flannel node routes cli-a through a vxlan device with VNI 9" wrong_vni_up
vni0=$(pkts node-a vni-mismatch ingress) echos0=$(icmp_echos_in default/cli-a)
check_not "ping flannel pod -> cli-a in VNI 9 gets no answer" \
	in_ext flannel ping -c 2 -i 0.2 -W 1 -I $FLANNEL_POD $CLI_A
check "cli-a's stack never saw them" test "$(icmp_echos_in default/cli-a)" -eq "$echos0"
check "node-a counted them as vni-mismatch (+$(($(pkts node-a vni-mismatch ingress) - vni0)))" \
	test "$(($(pkts node-a vni-mismatch ingress) - vni0))" -ge 2
fl link del vx9
check "VNI 1 from the same node still works" \
	in_ext flannel ping -c 1 -W 1 -I $FLANNEL_POD $CLI_A

echo "# a node leaves the store and comes back, live"
# Only node-b's Node object goes; its pods' files stay in the store, as pods
# of a lost node do until they are evicted.
mv "$STORE/node-node-b.yaml" "$WORK/"
start=$(now_ms)
check "node-a drops the route to 10.244.2.0/24 within 1 s" \
	wait_for 1 route_absent node-a 10.244.2.0/24
echo "  (took $(($(now_ms) - start)) ms)"
check "node-a's ew_nodes no longer has $NODE_B" wait_for 1 node_ip_absent node-a $NODE_B
nonode0=$(pkts node-a no-node)
check_not "ping cli-a -> web-b fails" ping_ok default/cli-a $WEB_B
check "node-a counts it as no-node (+$(($(pkts node-a no-node) - nonode0)))" \
	test "$(($(pkts node-a no-node) - nonode0))" -ge 2
check "the flannel node is unaffected" ping_ok default/cli-a $FLANNEL_POD
node_b_back_on_node_a() {
	route_present node-a 10.244.2.0/24 && node_ip_present node-a $NODE_B
}
mv "$WORK/node-node-b.yaml" "$STORE/"
start=$(now_ms)
check "node-a has node-b's route and node again within 1 s" wait_for 1 node_b_back_on_node_a
echo "  (took $(($(now_ms) - start)) ms)"
check "cli-a reaches web-b again within 5 s" wait_for 5 ping1 default/cli-a $WEB_B
echo "  (took $(($(now_ms) - start)) ms since the Node came back)"
check "cli-b reaches web-a again" wait_for 5 ping1 default/cli-b $WEB_A
check "HTTP cli-a -> web-b:8080 answers default/web-b" \
	says default/web-b tcp_ask default/cli-a $WEB_B 8080 "$HTTP_GET"

echo "# the NodePort program is on the underlay only while there is a NodePort"
xdp_on() { ip -n "$EW_LAB-node-$1" -d link show eth0 | grep -q 'prog/xdp'; } # NODE
xdp_off() { ! xdp_on "$1"; }
xdp_on_both() { xdp_on node-a && xdp_on node-b; }
check "no NodePort: node-a's eth0 has no XDP program (its veth peer keeps GSO)" xdp_off node-a
store_put nodeport.yaml <<EOF
apiVersion: v1
kind: Service
metadata: {name: web-np, namespace: default}
spec: {type: NodePort, selector: {app: web}, ports: [{port: 80, targetPort: 8080, nodePort: 30099}]}
EOF
check "a NodePort Service attaches it on both nodes" wait_for 5 xdp_on_both
rm "$STORE/nodeport.yaml"
check "and its removal detaches it" wait_for 5 xdp_off node-a
check "pods still reach each other across nodes" wait_for 5 ping1 default/cli-a $WEB_B

finish
