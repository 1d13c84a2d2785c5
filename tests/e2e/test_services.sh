#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Services end to end, with real connections between the lab's pods: Maglev
# spreading over same-node and cross-node backends, a backend leaving while
# connections are open, hairpin, NodePort from a host outside the cluster to
# local and remote backends, UDP, sessionAffinity ClientIP, a named targetPort,
# an EndpointSlice with a terminating endpoint, a service without backends, and
# a broken Service file while its last good version keeps serving.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

STORE=$WORK/store
mkdir -p "$STORE"
cp "$REPO/examples/store/namespaces.yaml" "$STORE/"

NODE_A=192.168.77.11 NODE_B=192.168.77.12 EXT=192.168.77.100
CLI_A=10.244.1.30
NODE_PORT=30080
node_file() { # NAME POD_CIDR INTERNAL_IP
	store_put "node-$1.yaml" <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $1
spec:
  podCIDR: $2
  podCIDRs: [$2]
status:
  addresses:
    - {type: InternalIP, address: $3}
EOF
}

# pod_file NAME NODE IP LABELS [PORT...]: LABELS a flow mapping ("{app: web}")
# or "-"; each PORT is [NAME:]NUMBER/PROTOCOL, e.g. http:8080/TCP.
pod_file() {
	local name=$1 node=$2 ip=$3 labels=$4 port
	shift 4
	{
		printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  namespace: default\n' "$name"
		[[ $labels == - ]] || printf '  labels: %s\n' "$labels"
		printf 'spec:\n  nodeName: %s\n  containers:\n    - name: main\n      image: busybox\n' "$node"
		(($#)) && printf '      ports:\n'
		for port in "$@"; do
			printf '        - {'
			[[ $port == *:* ]] && printf 'name: %s, ' "${port%%:*}"
			port=${port#*:}
			printf 'containerPort: %s, protocol: %s}\n' "${port%/*}" "${port#*/}"
		done
		printf 'status:\n  podIP: %s\n' "$ip"
	} | store_put "pod-$name.yaml"
}

# service_yaml NAME CLUSTER_IP SELECTOR PORTS [SPEC...]: a Service of the
# namespace default; SELECTOR a flow mapping or "-", PORTS the flow sequence of
# spec.ports, each SPEC one more line of spec (e.g. "type: NodePort").
service_yaml() {
	local name=$1 ip=$2 selector=$3 ports=$4 line
	shift 4
	printf 'apiVersion: v1\nkind: Service\nmetadata:\n  name: %s\n  namespace: default\n' "$name"
	printf 'spec:\n  clusterIP: %s\n' "$ip"
	[[ $selector == - ]] || printf '  selector: %s\n' "$selector"
	for line in "$@"; do
		printf '  %s\n' "$line"
	done
	printf '  ports: %s\n' "$ports"
}

service_file() { service_yaml "$@" | store_put "svc-$1.yaml"; } # as service_yaml, into svc-NAME.yaml

HTTP='{name: http, port: 80, targetPort: 8080}'
SPREAD_IP=10.96.1.1 CHURN_IP=10.96.1.2 SOLO_A_IP=10.96.1.41 SOLO_B_IP=10.96.1.42
NP_IP=10.96.1.5 UDP_IP=10.96.1.6 STICKY_IP=10.96.1.7 NAMED_IP=10.96.1.8
SLICED_IP=10.96.1.9 EMPTY_IP=10.96.1.10 EDIT_IP=10.96.1.11 EDIT2_IP=10.96.1.12

node_file node-a 10.244.1.0/24 $NODE_A
node_file node-b 10.244.2.0/24 $NODE_B
# The spread pods: two on node-a, one on node-b; most services choose them.
pod_file sp-a1 node-a 10.244.1.11 '{app: spread, solo: a}' http:8080/TCP stats:9125/UDP
pod_file sp-a2 node-a 10.244.1.12 '{app: spread}' http:8080/TCP stats:9125/UDP
pod_file sp-b1 node-b 10.244.2.11 '{app: spread, solo: b}' http:8080/TCP stats:9125/UDP
# The churn pods, one of which leaves its service while connections are open.
pod_file ch-a1 node-a 10.244.1.21 '{app: churn}' http:8080/TCP
pod_file ch-a2 node-a 10.244.1.22 '{app: churn}' http:8080/TCP
pod_file ch-b1 node-b 10.244.2.21 '{app: churn}' http:8080/TCP
# A port named web-alt, with another number on each pod and nothing on 80 or 8080.
pod_file nt-a node-a 10.244.1.41 '{app: named}' web-alt:8081/TCP
pod_file nt-b node-b 10.244.2.41 '{app: named}' web-alt:8082/TCP
pod_file cli-a node-a $CLI_A '{app: client}'

service_file spread $SPREAD_IP '{app: spread}' "[$HTTP]"
service_file churn $CHURN_IP '{app: churn}' "[$HTTP]"
service_file solo-a $SOLO_A_IP '{solo: a}' "[$HTTP]"
service_file solo-b $SOLO_B_IP '{solo: b}' "[$HTTP]"
service_file np $NP_IP '{app: spread}' \
	"[{name: http, port: 80, targetPort: http, nodePort: $NODE_PORT}]" 'type: NodePort'
service_file udp $UDP_IP '{app: spread}' '[{name: dns, port: 53, protocol: UDP, targetPort: stats}]'
service_file sticky $STICKY_IP '{app: spread}' "[$HTTP]" 'sessionAffinity: ClientIP' \
	'sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}'
service_file named $NAMED_IP '{app: named}' '[{name: web, port: 80, targetPort: web-alt}]'
service_file sliced $SLICED_IP - '[{port: 80, targetPort: 8080}]'
# The slice of service sliced: sp-a2 (10.244.1.12) with CONDITIONS; sp-b1
# terminating but still serving.
sliced_slice() { # CONDITIONS
	store_put slice-sliced.yaml <<EOF
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: sliced-1
  namespace: default
  labels:
    kubernetes.io/service-name: sliced
addressType: IPv4
ports:
  - {port: 8080, protocol: TCP}
endpoints:
  - addresses: [10.244.1.12]
    conditions: $1
    nodeName: node-a
  - addresses: [10.244.2.11]
    conditions: {ready: false, serving: true, terminating: true}
    nodeName: node-b
EOF
}
sliced_slice '{ready: true}'
service_file empty $EMPTY_IP '{app: nothing}' "[$HTTP]"
service_file edit $EDIT_IP '{app: spread}' "[$HTTP]"

# lab_start, plus the external host.
if ! "$LAB" up "$STORE" --external "ext=$EXT" >"$WORK/lab-up.log" 2>&1; then
	cat "$WORK/lab-up.log"
	fail "lab up"
	finish
	exit 1
fi

# The client, run in a pod's (or the external host's) netns.
#   count IP PORT N tcp|http|udp: N connections (datagrams from N sockets) one
#     after the other; prints "NAME COUNT" per answer, "!ERROR COUNT" per failure.
#   hold IP PORT N DIR: N HTTP/1.1 keep-alive connections, the answer of each in
#     DIR/first; then waits for DIR/go, asks again on every one (DIR/again) and
#     opens N new ones (DIR/new). A line per connection: its answer or !ERROR.
cat >"$WORK/client.py" <<'EOF'
import collections, os, socket, sys, time

from http_wire import http, plain, request, response

def ask(ip, port, mode):
    if mode == "udp":
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(2)
            s.connect((ip, port))
            s.send(b"hello\n")
            return s.recv(4096).decode().strip()
    with socket.create_connection((ip, port), timeout=2) as s:
        return (http if mode == "http" else plain)(s)

def attempt(f, *a):
    try:
        return f(*a) or "!empty"
    except Exception as e:
        return "!" + type(e).__name__

def answers(f, args):
    """f(*a) for each a of args, until 3 have failed: a broken path fails fast."""
    out = []
    for a in args:
        if sum(x.startswith("!") for x in out) >= 3:
            out.append("!skipped")
        else:
            out.append(attempt(f, *a))
    return out

def write(path, lines):
    with open(path + ".tmp", "w") as f:
        f.write("".join(l + "\n" for l in lines))
    os.rename(path + ".tmp", path)

cmd, ip, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if cmd == "count":
    counts = collections.Counter(answers(ask, [(ip, port, sys.argv[5])] * n))
    for name, c in sorted(counts.items()):
        print(name, c)
elif cmd == "hold":
    out = sys.argv[5]
    socks = [None] * n
    def connect(i):
        socks[i] = socket.create_connection((ip, port), timeout=2)
        return http(socks[i])
    write(out + "/first", answers(connect, [(i,) for i in range(n)]))
    deadline = time.time() + 60
    while not os.path.exists(out + "/go") and time.time() < deadline:
        time.sleep(0.05)
    # Every request first, then the answers: silent connections time out
    # together, not one after the other.
    asked = []
    for s in socks:
        try:
            request(s)
            asked.append(s)
        except Exception:
            asked.append(None)
    deadline = time.time() + 3
    def answer(s):
        s.settimeout(max(0.2, deadline - time.time()))
        return response(s)
    write(out + "/again", [attempt(answer, s) if s else "!send" for s in asked])
    write(out + "/new", answers(ask, [(ip, port, "http")] * n))
EOF

conns() { # TARGET IP PORT N MODE: the client's count, from a pod or ext:NAME
	"$LAB" exec "$1" -- python3 "$WORK/client.py" count "$2" "$3" "$4" "$5"
}

got() { # FILE NAME: how many answers of FILE came from NAME
	awk -v n="$2" '$1 == n { c = $2 } END { print c + 0 }' "$1"
}

# only FILE NAME...: every answer came from one of the NAMEs (no failures), and
# each NAME answered at least once.
only() {
	local file=$1 name
	shift
	awk -v ok=" $* " 'index(ok, " " $1 " ") == 0 { print "unexpected: " $0; bad = 1 }
		END { exit bad }' "$file" || return 1
	for name in "$@"; do
		(($(got "$file" "$name") > 0)) || { echo "no answer from $name: $(tr '\n' ' ' <"$file")"; return 1; }
	done
}

show() { echo "  ($(tr '\n' ' ' <"$1" | sed 's/ $//'))"; }

num() { # COMMAND...: its output when it is a number, else 0 (a counter never seen)
	local v
	v=$("$@")
	[[ $v =~ ^[0-9]+$ ]] && echo "$v" || echo 0
}

pkts() { num counter "$@"; } # NODE REASON [DIRECTION]

# The backends of the frontend IP:PORT in the node's datapath, "ADDR:PORT" sorted.
frontend_backends() { # NODE IP PORT
	bpfctl "$1" --json services | jq -r --arg ip "$2" --argjson port "$3" \
		'.[] | select(.address == $ip and .port == $port) | .backends[] |
		"\(.address):\(.port)"' | sort | tr '\n' ' ' | sed 's/ $//'
}

backends_are() { # NODE IP PORT "ADDR:PORT ..."
	local got
	got=$(frontend_backends "$1" "$2" "$3")
	[[ $got == "$4" ]] || { echo "backends of $2:$3 on $1: '$got', expected '$4'"; return 1; }
}

frontend_present() { # NODE IP PORT
	bpfctl "$1" --json services | jq -e --arg ip "$2" --argjson port "$3" \
		'.[] | select(.address == $ip and .port == $port)'
}

frontend_absent() { ! frontend_present "$@"; }

reason_pkts() { # NODE REASON: packets counted for REASON, both directions
	bpfctl "$1" --json stats | jq --arg r "$2" '[.[] | select(.reason == $r) | .packets] | add // 0'
}

tally() { # FILE: one answer a line -> "NAME COUNT" lines, as count prints them
	sort "$1" | uniq -c | awk '{ print $2, $1 }'
}

# hold_start TARGET IP PORT N DIR: the client's hold, in the background; its
# answers appear in DIR/first, then after `touch DIR/go` in DIR/again and DIR/new.
hold_start() {
	mkdir -p "$5"
	"$LAB" exec "$1" -- python3 "$WORK/client.py" hold "$2" "$3" "$4" "$5" >"$5/log" 2>&1 &
	HOLD_PID=$!
	BG_PIDS+=($!)
}

# hold_end POD...: waits for the last hold's client to exit, then until none
# of its connections is left on the PODs.
hold_end() {
	wait "$HOLD_PID"
	wait_for 3 idle "$@"
}

established() { # POD: the pod's established connections to its port 8080, "PEER:PORT" each
	in_pod "default/$1" ss -Htn state established '( sport = :8080 )' | awk '{ print $4 }'
}

idle() { # POD...: none of them has an established connection on 8080
	local pod
	for pod in "$@"; do
		[[ -z $(established "$pod") ]] || return 1
	done
}

# peers_are POD COUNT ADDR [LOW HIGH]: the pod serves COUNT connections on
# 8080, every one from ADDR (and a port from LOW to HIGH): who it sees.
peers_are() {
	established "$1" | awk -v n="$2" -v a="$3" -v lo="${4:-1}" -v hi="${5:-65535}" '
		{ split($1, p, ":"); c++; if (p[1] != a || p[2] < lo || p[2] > hi) { print "peer " $1; bad = 1 } }
		END { if (c != n) print c + 0 " connections, expected " n; exit bad || c != n }'
}

# same_answers FIRST AGAIN NAME...: every connection whose first answer was one
# of the NAMEs answered again, from the same pod.
same_answers() {
	local first=$1 again=$2
	shift 2
	paste -d' ' "$first" "$again" | awk -v ok=" $* " '
		index(ok, " " $1 " ") { n++; if ($1 != $2) { print "connection " NR ": " $1 ", then " $2; bad = 1 } }
		END { if (!n) print "no connection to " ok; exit bad || !n }'
}

echo "# every service is programmed"
check "node-a: $SPREAD_IP:80 has the three spread pods" wait_for 5 backends_are node-a $SPREAD_IP 80 \
	"10.244.1.11:8080 10.244.1.12:8080 10.244.2.11:8080"
check "node-b: the same" wait_for 5 backends_are node-b $SPREAD_IP 80 \
	"10.244.1.11:8080 10.244.1.12:8080 10.244.2.11:8080"

echo "# 1. spreading: 3000 connections over two same-node and one cross-node backend"
conns default/cli-a $SPREAD_IP 80 3000 tcp >"$WORK/spread.txt"
show "$WORK/spread.txt"
within() { # FILE NAME LOW HIGH
	local n
	n=$(got "$1" "$2")
	((n >= $3 && n <= $4)) || { echo "$2 answered $n times"; return 1; }
}
check "all 3000 answered, by spread pods only" only "$WORK/spread.txt" default/sp-a1 default/sp-a2 default/sp-b1
for pod in sp-a1 sp-a2 sp-b1; do
	check "default/$pod (node-${pod:3:1}) answered 1000 +- 100 times ($(got "$WORK/spread.txt" default/$pod))" \
		within "$WORK/spread.txt" default/$pod 900 1100
done

echo "# 2. a backend leaves its service while 30 connections are open"
H=$WORK/churn
hold_start default/cli-a $CHURN_IP 80 30 "$H"
check "30 HTTP/1.1 keep-alive connections cli-a -> $CHURN_IP:80 answered" wait_for 15 test -e "$H/first"
tally "$H/first" >"$H/first.txt"
show "$H/first.txt"
check "by the three churn pods" only "$H/first.txt" default/ch-a1 default/ch-a2 default/ch-b1
# ch-a2 stays, without the label its service selects.
pod_file ch-a2 node-a 10.244.1.22 '{app: retired}' http:8080/TCP
start=$(now_ms)
check "node-a's datapath has only ch-a1 and ch-b1 behind $CHURN_IP:80" \
	wait_for 5 backends_are node-a $CHURN_IP 80 "10.244.1.21:8080 10.244.2.21:8080"
echo "  (took $(($(now_ms) - start)) ms)"
touch "$H/go"
check "the client asked again on every connection and opened 30 new ones" wait_for 20 test -e "$H/new"
kept=$(grep -cxE 'default/ch-(a1|b1)' "$H/first")
check "all $kept connections to ch-a1 (same node) and ch-b1 (other node) answered again, by the same pod" \
	same_answers "$H/first" "$H/again" default/ch-a1 default/ch-b1
tally "$H/new" >"$H/new.txt"
show "$H/new.txt"
check "the 30 new connections reach only ch-a1 and ch-b1" only "$H/new.txt" default/ch-a1 default/ch-b1
echo "  (the connections that were on ch-a2 then got: $(paste -d' ' "$H/first" "$H/again" |
	awk '$1 == "default/ch-a2" { print $2 }' | sort | uniq -c | awk '{ printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1 }'))"
hold_end ch-a1 ch-b1 # ch-a2 keeps the sockets the client gave up on

echo "# 3. hairpin: a backend reaches its own service"
conns default/sp-a1 $SPREAD_IP 80 300 tcp >"$WORK/hairpin.txt"
show "$WORK/hairpin.txt"
check "300 connections sp-a1 -> $SPREAD_IP:80 answered by sp-a1 itself and the two others" \
	only "$WORK/hairpin.txt" default/sp-a1 default/sp-a2 default/sp-b1
H=$WORK/hairpin
hold_start default/sp-a1 $SPREAD_IP 80 30 "$H"
check "30 keep-alive connections sp-a1 -> $SPREAD_IP:80 answered" wait_for 15 test -e "$H/first"
self=$(grep -cx default/sp-a1 "$H/first")
hairpin_seen() { ((self > 0)) && peers_are sp-a1 "$self" 169.254.42.1; }
check "sp-a1 serves the $self that reached itself, all from 169.254.42.1" hairpin_seen
touch "$H/go"
check "the client asked again on every connection" wait_for 20 test -e "$H/new"
check "every one answered again, by the same pod, hairpin ones included" \
	same_answers "$H/first" "$H/again" default/sp-a1 default/sp-a2 default/sp-b1
hold_end sp-a1 sp-a2 sp-b1

echo "# 4. same node and other node through a ClusterIP"
encap0=$(pkts node-a encap)
conns default/cli-a $SOLO_A_IP 80 20 tcp >"$WORK/solo-a.txt"
check "cli-a (node-a) -> $SOLO_A_IP:80: 20 connections, all to sp-a1 on node-a" \
	only "$WORK/solo-a.txt" default/sp-a1
check "none of it left node-a in VXLAN" test "$(pkts node-a encap)" -eq "$encap0"
conns default/cli-a $SOLO_B_IP 80 20 tcp >"$WORK/solo-b.txt"
check "cli-a (node-a) -> $SOLO_B_IP:80: 20 connections, all to sp-b1 on node-b" \
	only "$WORK/solo-b.txt" default/sp-b1
check "node-a sent them to node-b in VXLAN (+$(($(pkts node-a encap) - encap0)))" \
	test "$(($(pkts node-a encap) - encap0))" -ge 80

echo "# 5. NodePort $NODE_PORT from the external host $EXT"
under_a0=$(reason_pkts node-a to-underlay) under_b0=$(reason_pkts node-b to-underlay)
for node in a b; do
	ip=$NODE_A
	[[ $node == b ]] && ip=$NODE_B
	conns ext:ext $ip $NODE_PORT 60 http >"$WORK/np-$node.txt"
	show "$WORK/np-$node.txt"
	check "60 connections ext -> node-$node $ip:$NODE_PORT reach the pods of both nodes" \
		only "$WORK/np-$node.txt" default/sp-a1 default/sp-a2 default/sp-b1
done
under_a=$(($(reason_pkts node-a to-underlay) - under_a0))
under_b=$(($(reason_pkts node-b to-underlay) - under_b0))
# Each connection's answers go out through the node the client chose: at least
# a SYN-ACK, the response and a FIN each.
check "node-a sent the replies out its underlay (to-underlay +$under_a)" test "$under_a" -ge 180
check "node-b too (to-underlay +$under_b)" test "$under_b" -ge 180
# Who the backends see: the external host itself on the node it asked, the
# node's address and a port from 61000-65535 on the other node.
for node in a b; do
	ip=$NODE_A local=(sp-a1 sp-a2) remote=(sp-b1)
	[[ $node == b ]] && ip=$NODE_B local=(sp-b1) remote=(sp-a1 sp-a2)
	H=$WORK/np-hold-$node
	hold_start ext:ext $ip $NODE_PORT 30 "$H"
	check "30 keep-alive connections ext -> node-$node $ip:$NODE_PORT answered" wait_for 15 test -e "$H/first"
	for pod in "${local[@]}"; do
		n=$(grep -cx "default/$pod" "$H/first")
		check "$pod, on node-$node, serves its $n from $EXT (destination translated only)" \
			peers_are "$pod" "$n" $EXT
	done
	for pod in "${remote[@]}"; do
		n=$(grep -cx "default/$pod" "$H/first")
		check "$pod, on the other node, serves its $n from $ip:61000-65535 (source translated too)" \
			peers_are "$pod" "$n" "$ip" 61000 65535
	done
	touch "$H/go"
	check "the client asked again on every connection" wait_for 20 test -e "$H/new"
	check "every one answered again, by the same pod" \
		same_answers "$H/first" "$H/again" default/sp-a1 default/sp-a2 default/sp-b1
	hold_end sp-a1 sp-a2 sp-b1
done

echo "# 6. UDP"
conns default/cli-a $UDP_IP 53 30 udp >"$WORK/udp.txt"
show "$WORK/udp.txt"
check "30 datagrams from 30 sockets to $UDP_IP:53/udp, each answered from the service address by a spread pod" \
	only "$WORK/udp.txt" default/sp-a1 default/sp-a2 default/sp-b1

echo "# 7. sessionAffinity: ClientIP"
affinity_is() { # NODE IP PORT SECONDS
	bpfctl "$1" --json services | jq -e --arg ip "$2" --argjson port "$3" --argjson t "$4" \
		'.[] | select(.address == $ip and .port == $port and .affinityTimeout == $t)'
}
check "node-a: $STICKY_IP:80 has a 60 s affinity" affinity_is node-a $STICKY_IP 80 60
conns default/cli-a $STICKY_IP 80 20 http >"$WORK/sticky.txt"
show "$WORK/sticky.txt"
one_backend() { # FILE N: all N answers from one spread pod
	awk -v n="$2" '$1 !~ /^default\/sp-/ || $2 != n { bad = 1 } { all = all " " $0 }
		END { if (bad || NR != 1) print "answers:" all; exit bad || NR != 1 }' "$1"
}
check "20 connections cli-a -> $STICKY_IP:80 all reach one backend" one_backend "$WORK/sticky.txt" 20
conns default/sp-b1 $STICKY_IP 80 20 http >"$WORK/sticky-b.txt"
show "$WORK/sticky-b.txt"
check "20 from sp-b1 (node-b) all reach one backend too" one_backend "$WORK/sticky-b.txt" 20

echo "# 8. a named targetPort"
check "node-a: $NAMED_IP:80 goes to web-alt, 8081 on nt-a and 8082 on nt-b" \
	backends_are node-a $NAMED_IP 80 "10.244.1.41:8081 10.244.2.41:8082"
conns default/cli-a $NAMED_IP 80 30 http >"$WORK/named.txt"
show "$WORK/named.txt"
check "30 connections cli-a -> $NAMED_IP:80 reach both, each on its own port" \
	only "$WORK/named.txt" default/nt-a default/nt-b

echo "# 9. an EndpointSlice instead of a selector"
check "node-a: $SLICED_IP:80 has only the ready endpoint" \
	backends_are node-a $SLICED_IP 80 "10.244.1.12:8080"
conns default/cli-a $SLICED_IP 80 30 http >"$WORK/sliced.txt"
show "$WORK/sliced.txt"
check "30 connections to $SLICED_IP:80 reach only the ready endpoint sp-a2, not the terminating sp-b1" \
	only "$WORK/sliced.txt" default/sp-a2
# With no ready endpoint left, the serving terminating one takes new connections.
sliced_slice '{ready: false, serving: false, terminating: true}'
check "with no ready endpoint left, node-a falls back to the serving sp-b1" \
	wait_for 5 backends_are node-a $SLICED_IP 80 "10.244.2.11:8080"
conns default/cli-a $SLICED_IP 80 30 http >"$WORK/sliced-2.txt"
check "30 new connections reach only sp-b1" only "$WORK/sliced-2.txt" default/sp-b1

echo "# 10. a service without backends"
nobackend0=$(reason_pkts node-a no-backend)
check_not "cli-a -> $EMPTY_IP:80 does not connect" \
	in_pod default/cli-a socat -T 2 - "TCP:$EMPTY_IP:80,connect-timeout=2" </dev/null
nobackend=$(($(reason_pkts node-a no-backend) - nobackend0))
check "node-a counted its SYNs as no-backend (+$nobackend)" test "$nobackend" -ge 1

echo "# 11. a broken edit to a Service file"
conns default/cli-a $EDIT_IP 80 30 http >"$WORK/edit-0.txt"
check "$EDIT_IP:80 works before" only "$WORK/edit-0.txt" default/sp-a1 default/sp-a2 default/sp-b1
# The same file, now with a second port that is no port and a second service.
{
	service_yaml edit $EDIT_IP '{app: spread}' "[$HTTP, {name: bad, port: 70000, targetPort: 8080}]"
	echo ---
	service_yaml edit2 $EDIT2_IP '{app: spread}' "[$HTTP]"
} | store_put svc-edit.yaml
line=$(grep -n 70000 "$STORE/svc-edit.yaml" | cut -d: -f1)
col=$(sed -n "${line}p" "$STORE/svc-edit.yaml" | awk '{ print index($0, "70000") }')
WHERE="svc-edit.yaml:$line:$col"
PROBLEM="Service default/edit: spec.ports[1].port \"70000\" is not a valid port; expected a number from 1 to 65535"
check_reports() {
	local out
	out=$("$BUILD/edgewire-agent" check --store "$STORE" 2>&1) && { echo "exit 0: $out"; return 1; }
	grep -F "$WHERE: $PROBLEM" <<<"$out" || { echo "got: $out"; return 1; }
}
check "edgewire-agent check: $WHERE: ${PROBLEM%%;*}" check_reports
logged() { grep -F "$WHERE: $PROBLEM" "/run/edgewire-lab/$EW_LAB/$1/agent.log"; }
check "node-a's agent logs it" wait_for 5 logged node-a
check "node-b's agent logs it" wait_for 5 logged node-b
conns default/cli-a $EDIT_IP 80 30 http >"$WORK/edit-1.txt"
check "$EDIT_IP:80 keeps working from the file's last good version" \
	only "$WORK/edit-1.txt" default/sp-a1 default/sp-a2 default/sp-b1
check "the bad file's new service edit2 is not programmed" frontend_absent node-a $EDIT2_IP 80
{
	service_yaml edit $EDIT_IP '{app: spread}' "[$HTTP]"
	echo ---
	service_yaml edit2 $EDIT2_IP '{app: spread}' "[$HTTP]"
} | store_put svc-edit.yaml
check "fixed: edit2 appears on node-a" wait_for 5 frontend_present node-a $EDIT2_IP 80
conns default/cli-a $EDIT2_IP 80 30 http >"$WORK/edit-2.txt"
check "and answers" only "$WORK/edit-2.txt" default/sp-a1 default/sp-a2 default/sp-b1
check "edgewire-agent check accepts the store again" "$BUILD/edgewire-agent" check --store "$STORE"

finish
