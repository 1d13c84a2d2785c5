#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Network policy conformance with real traffic, after the Kubernetes e2e
# network policy tests and the cyclonus truth tables: per case a store of
# policies, then a table of (client pod or external host) x (server pod,
# external host or Service) x (protocol/port) with the verdict the Kubernetes
# API (and Cilium, for CiliumNetworkPolicy) defines, each probed with a real TCP
# connection or UDP datagram. allow: it connects and the server's name comes
# back; deny: no answer within PROBE_TIMEOUT. Also: live changes, established
# connections across a change, broken files keeping their last good version,
# a Cilium Kafka rule (an L7 rule edgewire does not enforce) rejected, and a
# pod spoofing another pod's address.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

STORE=$WORK/store
mkdir -p "$STORE"
PROBE_TIMEOUT=${EW_PROBE_TIMEOUT:-1}
NODE_A=192.168.77.11 NODE_B=192.168.77.12 EXT=192.168.77.100 EXT2=192.168.77.101
SVC=10.96.0.10


# --- the cluster -------------------------------------------------------------------------------
# Namespaces: default and qa without labels (but the defaulted
# kubernetes.io/metadata.name), prod {env: prod, team: x}, dev {env: dev}.
store_put namespaces.yaml <<'EOF'
apiVersion: v1
kind: List
items:
  - {apiVersion: v1, kind: Namespace, metadata: {name: default}}
  - {apiVersion: v1, kind: Namespace, metadata: {name: qa}}
  - {apiVersion: v1, kind: Namespace, metadata: {name: prod, labels: {env: prod, team: x}}}
  - {apiVersion: v1, kind: Namespace, metadata: {name: dev, labels: {env: dev}}}
EOF
store_put nodes.yaml <<EOF
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Node
    metadata: {name: node-a}
    spec: {podCIDR: 10.244.1.0/24, podCIDRs: [10.244.1.0/24]}
    status: {addresses: [{type: InternalIP, address: $NODE_A}]}
  - apiVersion: v1
    kind: Node
    metadata: {name: node-b}
    spec: {podCIDR: 10.244.2.0/24, podCIDRs: [10.244.2.0/24]}
    status: {addresses: [{type: InternalIP, address: $NODE_B}]}
EOF

declare -A IP=() ANSWER=()
# pod NS/NAME NODE IP LABELS [PORT...]: every pod also gets the label pod: NAME;
# each PORT is [NAME:]NUMBER/PROTOCOL.
pod() {
	local key=$1 node=$2 ip=$3 labels=$4 port
	shift 4
	IP[$key]=$ip ANSWER[$key]=$key
	printf -- '---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  namespace: %s\n' "${key#*/}" "${key%/*}"
	printf '  labels: {pod: %s%s}\n' "${key#*/}" "${labels:+, $labels}"
	printf 'spec:\n  nodeName: %s\n  containers:\n    - name: main\n      image: busybox\n' "$node"
	(($#)) && printf '      ports:\n'
	for port in "$@"; do
		printf '        - {'
		[[ $port == *:* ]] && printf 'name: %s, ' "${port%%:*}"
		port=${port#*:}
		printf 'containerPort: %s, protocol: %s}\n' "${port%/*}" "${port#*/}"
	done
	printf 'status:\n  podIP: %s\n' "$ip"
}
# The servers: "web" is 8080 on srv-a and 8081 on srv-b (named ports resolve on
# the destination pod).
SRV_A_PORTS=(http:80/TCP 81/TCP web:8080/TCP 8081/TCP 8082/TCP dns:53/UDP 81/UDP)
SRV_B_PORTS=(http:80/TCP 81/TCP 8080/TCP web:8081/TCP 8082/TCP dns:53/UDP 81/UDP)
{
	pod default/srv-a node-a 10.244.1.10 'app: srv, tier: a' "${SRV_A_PORTS[@]}"
	pod default/srv-b node-b 10.244.2.10 'app: srv, tier: b' "${SRV_B_PORTS[@]}"
	pod default/cli-a node-a 10.244.1.20 'role: client'
	pod default/cli-b node-b 10.244.2.20 'role: client'
	pod default/oth-a node-a 10.244.1.21 'role: other'
	pod prod/srv-p node-b 10.244.2.40 'app: srv' http:80/TCP dns:53/UDP
	pod prod/cli-p node-a 10.244.1.30 'role: client'
	pod prod/oth-p node-b 10.244.2.30 'role: other'
	pod dev/cli-d node-b 10.244.2.31 'role: client'
	pod qa/cli-q node-a 10.244.1.31 'role: client'
} >"$WORK/pods.yaml" # not a pipe: pod() fills IP and ANSWER
store_put pods.yaml <"$WORK/pods.yaml"
# svc: ClusterIP $SVC port 8000 -> srv-a's port 80.
store_put services.yaml <<EOF
apiVersion: v1
kind: Service
metadata: {name: svc, namespace: default}
spec:
  clusterIP: $SVC
  selector: {tier: a}
  ports: [{port: 8000, targetPort: 80}]
EOF
IP[ext]=$EXT IP[ext2]=$EXT2 IP[svc]=$SVC
ANSWER[ext]=ext ANSWER[ext2]=ext2 ANSWER[svc]=default/srv-a

if ! "$LAB" up "$STORE" --external "ext=$EXT" --external "ext2=$EXT2" >"$WORK/lab-up.log" 2>&1; then
	cat "$WORK/lab-up.log"
	fail "lab up"
	finish
	exit 1
fi

target() { # a probe's source or destination -> its lab exec target
	case $1 in
	ext | ext2) echo "ext:$1" ;;
	*) echo "$1" ;;
	esac
}

listening() { # TARGET PORT
	"$LAB" exec "$1" -- ss -Hltn "sport = :$2" | grep -q .
}

for ext in ext ext2; do
	"$LAB" exec "ext:$ext" -- "$BUILD/ew-responder" --name $ext --tcp 7000 --udp 7000 \
		>"$WORK/$ext-responder.log" 2>&1 &
	BG_PIDS+=($!)
	wait_for 3 listening "ext:$ext" 7000
done

# --- probing -----------------------------------------------------------------------------------
# probe.py TIMEOUT < "ID PROTO IP PORT" lines: every probe at once, one thread
# each; prints "ID answer NAME", "ID timeout", "ID refused" or "ID error WHAT".
# hold IP PORT DIR: an HTTP/1.1 keep-alive connection, asked once (DIR/first),
# then again once DIR/go exists (DIR/again).
cat >"$WORK/probe.py" <<'EOF'
import os, socket, sys, threading, time

from http_wire import http, plain

def probe(proto, ip, port, t):
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    try:
        with socket.socket(socket.AF_INET, kind) as s:
            s.settimeout(t)
            s.connect((ip, port))
            if proto == "tcp":
                return "answer " + plain(s)
            s.send(b"hello\n")
            return "answer " + s.recv(4096).decode().strip()
    except socket.timeout:
        return "timeout"
    except ConnectionRefusedError:
        return "refused"
    except OSError as e:
        return "error " + (e.strerror or type(e).__name__).replace(" ", "_")

def attempt(f, *a):
    try:
        return f(*a)
    except Exception as e:
        return "!" + type(e).__name__

def write(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text + "\n")
    os.rename(path + ".tmp", path)

if sys.argv[1] == "hold":
    ip, port, out = sys.argv[2], int(sys.argv[3]), sys.argv[4]
    s = socket.create_connection((ip, port), timeout=2)
    write(out + "/first", attempt(http, s))
    deadline = time.time() + 60
    while not os.path.exists(out + "/go") and time.time() < deadline:
        time.sleep(0.05)
    write(out + "/again", attempt(http, s))
    sys.exit(0)

t = float(sys.argv[1])
results = {}
def run(line):
    i, proto, ip, port = line.split()
    results[i] = probe(proto, ip, int(port), t)
threads = [threading.Thread(target=run, args=(l,)) for l in sys.stdin if l.strip()]
for th in threads:
    th.start()
for th in threads:
    th.join()
for i in sorted(results, key=int):
    print(i, results[i])
EOF

# want allow|deny SRC DST PROTO/PORT: one row of the case's table. SRC is a
# pod (NS/NAME) or ext/ext2; DST a pod, ext/ext2 or svc.
ROWS=()
declare -A PAST=([allow]=allowed [deny]=denied)
want() { ROWS+=("$1 $2 $3 $4"); }

short() { echo "${1#default/}"; }

# table CASE: probes every row at once (one process per source), then one
# ok/FAIL line per row; empties the table.
table() {
	local name=$1 i verdict src dst pp got wanted dir=$WORK/probes
	local -A sources=()
	local pids=()
	rm -rf "$dir" && mkdir -p "$dir"
	for i in "${!ROWS[@]}"; do
		read -r verdict src dst pp <<<"${ROWS[$i]}"
		echo "$i ${pp%/*} ${IP[$dst]} ${pp#*/}" >>"$dir/${src//\//_}.in"
		sources[$src]=1
	done
	for src in "${!sources[@]}"; do
		"$LAB" exec "$(target "$src")" -- python3 "$WORK/probe.py" "$PROBE_TIMEOUT" \
			<"$dir/${src//\//_}.in" >"$dir/${src//\//_}.out" 2>&1 &
		pids+=($!)
	done
	wait "${pids[@]}" # not the responders in BG_PIDS
	for i in "${!ROWS[@]}"; do
		read -r verdict src dst pp <<<"${ROWS[$i]}"
		got=$(awk -v i="$i" '$1 == i { $1 = ""; print substr($0, 2) }' "$dir/${src//\//_}.out")
		wanted="answer ${ANSWER[$dst]}"
		[[ $verdict == deny ]] && wanted=timeout
		if [[ $got == "$wanted" ]]; then
			pass "[$name] $(short "$src") -> $(short "$dst") $pp ${PAST[$verdict]}"
		else
			fail "[$name] $(short "$src") -> $(short "$dst") $pp: expected ${PAST[$verdict]} ($wanted), got '${got:-nothing}'"
		fi
	done
	ROWS=()
}

programmed() { grep -c ' programmed ' "/run/edgewire-lab/$EW_LAB/$1/agent.log"; }

applied_after() { (($(programmed "$1") > $2)); } # NODE COUNT

# policies CASE [FILE]: stdin (YAML documents) becomes the store's policy FILE
# (default policy.yaml; nothing: the file is removed); returns once both
# agents programmed the change.
policies() {
	local name=$1 file=${2:-policy.yaml} a b text
	a=$(programmed node-a) b=$(programmed node-b)
	text=$(cat)
	echo "# $name"
	if [[ -z $text ]]; then
		[[ -e $STORE/$file ]] || return 0
		rm -f "$STORE/$file"
	else
		printf '%s\n' "$text" | store_put "$file"
	fi
	{ wait_for 5 applied_after node-a "$a" && wait_for 5 applied_after node-b "$b"; } ||
		fail "[$name] the agents did not program the change within 5 s"
}

# np NAME POD_SELECTOR [NAMESPACE]: a NetworkPolicy document; stdin is the
# rest of its spec, indented as at the top level.
np() {
	printf -- '---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n'
	printf 'metadata:\n  name: %s\n  namespace: %s\nspec:\n  podSelector: %s\n' "$1" "${3:-default}" "$2"
	sed 's/^/  /'
}

cnp() { # NAME ENDPOINT_SELECTOR [NAMESPACE]: a CiliumNetworkPolicy, as np
	printf -- '---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\n'
	printf 'metadata:\n  name: %s\n  namespace: %s\nspec:\n  endpointSelector: %s\n' "$1" "${3:-default}" "$2"
	sed 's/^/  /'
}

pod_sel() { echo "{matchLabels: {pod: $1}}"; } # the pod NAME of the policy's namespace

# --- the cases ---------------------------------------------------------------------------------

policies "no policy: everything allowed" </dev/null
want allow default/cli-a default/srv-a tcp/80
want allow default/cli-a default/srv-b tcp/80
want allow dev/cli-d default/srv-a udp/53
want allow ext default/srv-a tcp/80
want allow ext2 default/srv-b udp/81
want allow default/cli-a ext tcp/7000
want allow default/cli-b prod/srv-p tcp/80
want allow default/cli-a svc tcp/8000
table default

np deny-in '{}' <<<'policyTypes: [Ingress]' | policies "deny-all ingress in default"
want deny default/cli-a default/srv-a tcp/80
want deny default/cli-b default/srv-a tcp/80
want deny prod/cli-p default/srv-b udp/53
want deny ext default/srv-a tcp/80
want deny default/srv-a default/srv-b tcp/8082
want allow default/cli-a ext tcp/7000
want allow default/cli-a prod/srv-p tcp/80
want allow default/srv-b prod/srv-p udp/53
table deny-all-ingress

np deny-out '{}' <<<'policyTypes: [Egress]' | policies "deny-all egress in default"
want deny default/cli-a default/srv-a tcp/80
want deny default/cli-a default/srv-a udp/53
want deny default/cli-a prod/srv-p tcp/80
want deny default/cli-b ext tcp/7000
want deny default/srv-a default/srv-b tcp/80
# Ingress is not isolated, and replies of what came in pass.
want allow prod/cli-p default/srv-a tcp/80
want allow dev/cli-d default/srv-b udp/53
want allow ext default/srv-a tcp/80
table deny-all-egress

{
	np deny-in '{}' <<<'policyTypes: [Ingress]'
	np allow-in '{}' <<<'ingress: [{}]'
} | policies "allow-all ingress (ingress: [{}]) beside deny-all"
want allow default/cli-a default/srv-a tcp/80
want allow ext default/srv-b tcp/81
want allow dev/cli-d default/srv-a udp/53
want allow prod/cli-p default/srv-b tcp/8082
table allow-all-ingress

np pod-peer "$(pod_sel srv-a)" <<<'ingress: [{from: [{podSelector: {matchLabels: {role: client}}}]}]' |
	policies "podSelector peer: srv-a from role=client of its namespace"
want allow default/cli-a default/srv-a tcp/80
want allow default/cli-a default/srv-a udp/53
want allow default/cli-b default/srv-a tcp/81
want deny default/oth-a default/srv-a tcp/80
want deny prod/cli-p default/srv-a tcp/80
want deny ext default/srv-a tcp/80
want allow default/oth-a default/srv-b tcp/80
table pod-peer

np ns-peer "$(pod_sel srv-a)" <<<'ingress: [{from: [{namespaceSelector: {matchLabels: {env: prod}}}]}]' |
	policies "namespaceSelector peer: srv-a from namespaces env=prod"
want allow prod/cli-p default/srv-a tcp/80
want allow prod/oth-p default/srv-a udp/53
want deny default/cli-a default/srv-a tcp/80
want deny dev/cli-d default/srv-a tcp/80
table ns-peer

{
	np and "$(pod_sel srv-a)" <<<'ingress: [{from: [{namespaceSelector: {matchLabels: {env: prod}}, podSelector: {matchLabels: {role: client}}}]}]'
	np or "$(pod_sel srv-b)" <<<'ingress: [{from: [{namespaceSelector: {matchLabels: {env: prod}}}, {podSelector: {matchLabels: {role: client}}}]}]'
} | policies "one peer with both selectors (AND) vs two peers (OR)"
want allow prod/cli-p default/srv-a tcp/80
want deny prod/oth-p default/srv-a tcp/80
want deny default/cli-a default/srv-a tcp/80
want allow prod/cli-p default/srv-b tcp/80
want allow prod/oth-p default/srv-b tcp/80
want allow default/cli-a default/srv-b tcp/80
want deny default/oth-a default/srv-b tcp/80
want deny dev/cli-d default/srv-b tcp/80
table and-or

{
	np in "$(pod_sel srv-a)" <<<'ingress: [{from: [{namespaceSelector: {matchExpressions: [{key: env, operator: In, values: [prod, dev]}]}}]}]'
	np notin "$(pod_sel srv-b)" <<<'ingress: [{from: [{podSelector: {matchExpressions: [{key: role, operator: NotIn, values: [client]}]}}]}]'
} | policies "matchExpressions In (namespaces) and NotIn (pods; no label matches NotIn)"
want allow prod/cli-p default/srv-a tcp/80
want allow dev/cli-d default/srv-a tcp/80
want deny qa/cli-q default/srv-a tcp/80
want deny default/cli-a default/srv-a tcp/80
want allow default/oth-a default/srv-b tcp/80
want allow default/srv-a default/srv-b tcp/80
want deny default/cli-a default/srv-b tcp/80
want deny default/cli-b default/srv-b tcp/80
table in-notin

{
	np dne "$(pod_sel srv-a)" <<<'ingress: [{from: [{namespaceSelector: {matchExpressions: [{key: env, operator: DoesNotExist}]}}]}]'
	np exists "$(pod_sel srv-b)" <<<'ingress: [{from: [{namespaceSelector: {matchExpressions: [{key: team, operator: Exists}]}}]}]'
} | policies "matchExpressions DoesNotExist and Exists"
want allow qa/cli-q default/srv-a tcp/80
want allow default/cli-a default/srv-a tcp/80
want deny prod/cli-p default/srv-a tcp/80
want deny dev/cli-d default/srv-a tcp/80
want allow prod/cli-p default/srv-b tcp/80
want allow prod/oth-p default/srv-b tcp/80
want deny default/cli-a default/srv-b tcp/80
want deny dev/cli-d default/srv-b tcp/80
table exists-dne

{
	np by-name "$(pod_sel srv-a)" <<<'ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: dev}}}]}]'
	np by-name-qa "$(pod_sel srv-b)" <<<'ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: qa}}, podSelector: {matchLabels: {role: client}}}]}]'
} | policies "namespaces by the defaulted kubernetes.io/metadata.name label"
want allow dev/cli-d default/srv-a tcp/80
want deny prod/cli-p default/srv-a tcp/80
want deny default/cli-a default/srv-a tcp/80
want allow qa/cli-q default/srv-b tcp/80
want deny default/cli-b default/srv-b tcp/80
table metadata-name

{
	np ext-block "$(pod_sel srv-a)" <<<'ingress: [{from: [{ipBlock: {cidr: 192.168.77.0/24, except: [192.168.77.101/32]}}]}]'
	np pod-block "$(pod_sel srv-b)" <<<'ingress: [{from: [{ipBlock: {cidr: 10.244.1.0/24, except: [10.244.1.21/32]}}]}]'
} | policies "ingress ipBlock with except: external hosts and pod IPs"
want allow ext default/srv-a tcp/80
want allow ext default/srv-a udp/53
want deny ext2 default/srv-a tcp/80
want deny default/cli-a default/srv-a tcp/80
want allow default/cli-a default/srv-b tcp/80
want allow prod/cli-p default/srv-b tcp/80
want deny default/oth-a default/srv-b tcp/80
want deny default/cli-b default/srv-b tcp/80
want deny ext default/srv-b tcp/80
table ipblock-ingress

{
	np out-block "$(pod_sel cli-a)" <<-'EOF'
		policyTypes: [Egress]
		egress: [{to: [{ipBlock: {cidr: 192.168.77.0/24, except: [192.168.77.100/32]}}]}]
	EOF
	np out-pod-ip "$(pod_sel cli-b)" <<-'EOF'
		policyTypes: [Egress]
		egress: [{to: [{ipBlock: {cidr: 10.244.1.10/32}}]}]
	EOF
} | policies "egress ipBlock with except; a pod IP as an ipBlock"
want deny default/cli-a ext tcp/7000
want allow default/cli-a ext2 tcp/7000
want allow default/cli-a ext2 udp/7000
want deny default/cli-a default/srv-a tcp/80
want allow default/cli-b default/srv-a tcp/80
want deny default/cli-b default/srv-b tcp/80
want deny default/cli-b ext tcp/7000
table ipblock-egress

np ports "$(pod_sel srv-a)" <<'EOF' | policies "ports: protocol defaults to TCP, UDP, endPort"
ingress:
  - ports: [{port: 81}]
  - ports: [{protocol: UDP, port: 53}]
  - ports: [{protocol: TCP, port: 8080, endPort: 8081}]
EOF
want allow default/cli-a default/srv-a tcp/81
want deny default/cli-a default/srv-a udp/81
want allow ext default/srv-a tcp/81
want deny default/cli-a default/srv-a tcp/80
want allow default/cli-b default/srv-a udp/53
want allow default/cli-a default/srv-a tcp/8080
want allow default/cli-b default/srv-a tcp/8081
want deny default/cli-a default/srv-a tcp/8082
table ports

{
	np named-in "$(pod_sel srv-b)" <<<'ingress: [{ports: [{port: web}, {protocol: UDP, port: dns}]}]'
	np named-out "$(pod_sel cli-a)" <<-'EOF'
		policyTypes: [Egress]
		egress: [{to: [{podSelector: {matchLabels: {app: srv}}}], ports: [{port: web}]}]
	EOF
} | policies "named ports, resolved on the destination pod (web: 8080 on srv-a, 8081 on srv-b)"
want allow default/cli-b default/srv-b tcp/8081
want deny default/cli-b default/srv-b tcp/8080
want allow default/cli-b default/srv-b udp/53
want deny default/cli-b default/srv-b udp/81
want allow default/cli-a default/srv-a tcp/8080
want deny default/cli-a default/srv-a tcp/8081
want allow default/cli-a default/srv-b tcp/8081
want deny default/cli-a default/srv-b tcp/8080
table named-ports

np no-merge "$(pod_sel srv-a)" <<'EOF' | policies "rules never merge: peer of rule 1 with port of rule 2"
ingress:
  - {from: [{podSelector: {matchLabels: {pod: cli-a}}}], ports: [{port: 80}]}
  - {from: [{podSelector: {matchLabels: {pod: oth-a}}}], ports: [{port: 81}]}
EOF
want allow default/cli-a default/srv-a tcp/80
want deny default/cli-a default/srv-a tcp/81
want allow default/oth-a default/srv-a tcp/81
want deny default/oth-a default/srv-a tcp/80
table no-merge

{
	np egress-only-rules "$(pod_sel srv-a)" <<<"egress: [{to: [{ipBlock: {cidr: $EXT/32}}]}]"
	np ingress-type "$(pod_sel srv-b)" <<-EOF
		policyTypes: [Ingress]
		ingress: [{from: [{podSelector: {matchLabels: {pod: cli-a}}}]}]
		egress: [{to: [{ipBlock: {cidr: $EXT/32}}]}]
	EOF
} | policies "policyTypes defaults: egress rules alone isolate both ways; [Ingress] ignores egress"
want deny default/cli-a default/srv-a tcp/80
want deny ext default/srv-a tcp/80
want allow default/srv-a ext tcp/7000
want deny default/srv-a ext2 tcp/7000
want allow default/cli-a default/srv-b tcp/80
want deny default/oth-a default/srv-b tcp/80
want allow default/srv-b ext2 tcp/7000
want allow default/srv-b prod/srv-p tcp/80
table policy-types

{
	np u1 "$(pod_sel srv-a)" <<<'ingress: [{from: [{podSelector: {matchLabels: {pod: cli-a}}}], ports: [{port: 80}]}]'
	np u2 "$(pod_sel srv-a)" <<<'ingress: [{from: [{namespaceSelector: {matchLabels: {env: prod}}}], ports: [{port: 81}]}]'
	np u3 "$(pod_sel srv-a)" <<<"ingress: [{from: [{ipBlock: {cidr: $EXT/32}}], ports: [{protocol: UDP, port: 53}]}]"
} | policies "three policies on one pod: their union"
want allow default/cli-a default/srv-a tcp/80
want deny default/cli-a default/srv-a tcp/81
want allow prod/cli-p default/srv-a tcp/81
want deny prod/cli-p default/srv-a tcp/80
want allow ext default/srv-a udp/53
want deny ext default/srv-a tcp/80
table union

{
	np np-b "$(pod_sel srv-b)" <<<'ingress: [{from: [{podSelector: {matchLabels: {pod: cli-a}}}], ports: [{port: 80}]}]'
	cnp cnp-b "$(pod_sel srv-b)" <<<'ingress: [{fromEndpoints: [{matchLabels: {pod: cli-b}}], toPorts: [{ports: [{port: "81", protocol: TCP}]}]}]'
} | policies "a NetworkPolicy and a CiliumNetworkPolicy on one pod: their union"
want allow default/cli-a default/srv-b tcp/80
want deny default/cli-a default/srv-b tcp/81
want allow default/cli-b default/srv-b tcp/81
want deny default/cli-b default/srv-b tcp/80
table np-and-cnp

{
	cnp from-ep "$(pod_sel srv-a)" <<<'ingress: [{fromEndpoints: [{matchLabels: {role: client}}]}]'
	cnp l4-only "$(pod_sel srv-a)" <<<'ingress: [{toPorts: [{ports: [{port: "81"}]}]}]'
	cnp from-prod "$(pod_sel srv-b)" <<<'ingress: [{fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: prod, role: client}}]}]'
} | policies "Cilium fromEndpoints (namespace-scoped unless it names one); toPorts without protocol: TCP and UDP"
want allow default/cli-a default/srv-a tcp/80
want allow default/cli-b default/srv-a udp/53
want deny prod/cli-p default/srv-a tcp/80
want deny dev/cli-d default/srv-a tcp/80
want allow dev/cli-d default/srv-a tcp/81
want allow dev/cli-d default/srv-a udp/81
want allow ext default/srv-a udp/81
want allow prod/cli-p default/srv-b tcp/80
want deny prod/oth-p default/srv-b tcp/80
want deny default/cli-a default/srv-b tcp/80
table cilium-endpoints

{
	cnp to-cidr "$(pod_sel cli-a)" <<<"egress: [{toCIDR: [$EXT/32]}]"
	cnp to-cidrset "$(pod_sel cli-b)" <<-'EOF'
		egress: [{toCIDRSet: [{cidr: 192.168.77.0/24, except: [192.168.77.100/32]}], toPorts: [{ports: [{port: "7000", protocol: UDP}]}]}]
	EOF
} | policies "Cilium toCIDR and toCIDRSet with except"
want allow default/cli-a ext tcp/7000
want allow default/cli-a ext udp/7000
want deny default/cli-a ext2 tcp/7000
want deny default/cli-a default/srv-a tcp/80
want allow default/cli-b ext2 udp/7000
want deny default/cli-b ext2 tcp/7000
want deny default/cli-b ext udp/7000
table cilium-cidr

{
	np cli-in "$(pod_sel cli-a)" <<<'policyTypes: [Ingress]'
	np cli-out "$(pod_sel cli-a)" <<-EOF
		policyTypes: [Egress]
		egress:
		  - {to: [{podSelector: {matchLabels: {pod: srv-a}}}], ports: [{port: 80}, {protocol: UDP, port: 53}]}
		  - {to: [{ipBlock: {cidr: $EXT/32}}]}
	EOF
	np srv-out "$(pod_sel srv-b)" <<<'policyTypes: [Egress]'
} | policies "stateful: replies pass the isolation of their direction"
want allow default/cli-a default/srv-a tcp/80
want allow default/cli-a default/srv-a udp/53
want allow default/cli-a ext tcp/7000
want deny default/cli-a default/srv-a tcp/81
want deny default/cli-a default/srv-b tcp/80
want allow default/cli-b default/srv-b tcp/80
want allow ext default/srv-b udp/53
table stateful

{
	np svc-in "$(pod_sel srv-a)" <<-'EOF'
		ingress:
		  - {from: [{podSelector: {matchLabels: {role: client}}}, {namespaceSelector: {matchLabels: {env: prod}}}], ports: [{port: 80}]}
		  - {from: [{podSelector: {matchLabels: {pod: oth-a}}}], ports: [{port: 8000}]}
	EOF
	np svc-out "$(pod_sel cli-b)" <<<'egress: [{to: [{podSelector: {matchLabels: {pod: srv-a}}}], ports: [{port: 80}]}]'
	np svc-out-ip "$(pod_sel cli-p)" prod <<<"egress: [{to: [{ipBlock: {cidr: $SVC/32}}], ports: [{port: 8000}]}]"
} | policies "a Service $SVC:8000 -> srv-a:80 is judged on the backend and its target port"
want allow default/cli-a svc tcp/8000
want deny default/oth-a svc tcp/8000
want allow default/cli-b svc tcp/8000
want deny default/cli-b default/srv-b tcp/80
want deny prod/cli-p svc tcp/8000
want allow prod/oth-p svc tcp/8000
table service

echo "# an established connection outlives a change that still allows it"
HOLD_POLICY_1='ingress: [{from: [{podSelector: {matchLabels: {role: client}}}], ports: [{port: 80}]}]'
np hold "$(pod_sel srv-a)" <<<"$HOLD_POLICY_1" | policies "hold: srv-a from role=client on 80"
for cli in cli-a cli-b; do
	mkdir -p "$WORK/hold-$cli"
	"$LAB" exec "default/$cli" -- python3 "$WORK/probe.py" hold 10.244.1.10 80 "$WORK/hold-$cli" \
		>"$WORK/hold-$cli/log" 2>&1 &
	BG_PIDS+=($!)
done
for cli in cli-a cli-b; do
	check "$cli -> srv-a:80 keep-alive connection answered" \
		wait_for 5 grep -qx default/srv-a "$WORK/hold-$cli/first"
done
np hold "$(pod_sel srv-a)" <<EOF | policies "hold: the policy changes, adding a rule for oth-a on 81"
ingress:
  - {from: [{podSelector: {matchLabels: {role: client}}}], ports: [{port: 80}]}
  - {from: [{podSelector: {matchLabels: {pod: oth-a}}}], ports: [{port: 81}]}
EOF
want allow default/oth-a default/srv-a tcp/81
want deny default/oth-a default/srv-a tcp/80
table hold-changed
for cli in cli-a cli-b; do
	touch "$WORK/hold-$cli/go"
	check "$cli's connection opened before the change answers again" \
		wait_for 5 grep -qx default/srv-a "$WORK/hold-$cli/again"
done

echo "# live add and remove"
policies "live: no policy" </dev/null
tcp_ok() { # NS/POD IP PORT NAME: one connection, answered by NAME within 0.3 s
	[[ $("$LAB" exec "$1" -- python3 "$WORK/probe.py" 0.3 <<<"0 tcp $2 $3") == "0 answer $4" ]]
}
tcp_silent() { # NS/POD IP PORT: one connection, no answer within 0.3 s
	[[ $("$LAB" exec "$1" -- python3 "$WORK/probe.py" 0.3 <<<"0 tcp $2 $3") == "0 timeout" ]]
}
check "cli-b -> srv-a:80 works" tcp_ok default/cli-b 10.244.1.10 80 default/srv-a
start=$(now_ms)
np deny-in '{}' <<<'policyTypes: [Ingress]' | store_put policy.yaml
check "deny-all added: cli-b -> srv-a:80 is denied within 2 s" wait_for 2 tcp_silent default/cli-b 10.244.1.10 80
echo "  (took $(($(now_ms) - start)) ms)"
start=$(now_ms)
rm -f "$STORE/policy.yaml"
check "deny-all removed: cli-b -> srv-a:80 works again within 2 s" \
	wait_for 2 tcp_ok default/cli-b 10.244.1.10 80 default/srv-a
echo "  (took $(($(now_ms) - start)) ms)"

# where FILE TEXT: "FILE:LINE:COL" of the first TEXT in the store's FILE.
where() {
	local line col
	line=$(grep -nF -- "$2" "$STORE/$1" | head -n 1 | cut -d: -f1)
	col=$(sed -n "${line}p" "$STORE/$1" | awk -v t="$2" '{ print index($0, t) }')
	echo "$1:$line:$col"
}

logged() { grep -F -- "$2" "/run/edgewire-lab/$EW_LAB/$1/agent.log"; } # NODE TEXT

# A good version, then three broken ones, each of which would also allow
# cli-a on 81, oth-a on 80 or 8082 if any of it were taken. The messages
# point at the bad value (each only once in the file).
GOOD_RULE='{from: [{podSelector: {matchExpressions: [{key: pod, operator: In, values: [cli-a]}]}}], ports: [{port: 80}]}'
broken() { # NAME: the broken file's version NAME
	local bad
	case $1 in
	good) bad= ;;
	operator) bad='{from: [{podSelector: {matchExpressions: [{key: pod, operator: Among, values: [oth-a]}]}}]}' ;;
	cidr) bad='{from: [{ipBlock: {cidr: 10.244.0.0/33}}]}' ;;
	endport) bad='{ports: [{port: 8082, endPort: 8080}]}' ;;
	esac
	np broken "$(pod_sel srv-b)" <<-EOF
		ingress:
		  - $GOOD_RULE
		${bad:+  - $bad}
	EOF
}
broken good | policies "broken file: its good version" np-broken.yaml
want allow default/cli-a default/srv-b tcp/80
want deny default/oth-a default/srv-b tcp/80
want deny default/cli-a default/srv-b tcp/81
table broken-good
declare -A BAD_VALUE=([operator]=Among [cidr]=10.244.0.0/33 [endport]=8080)
declare -A BAD_TEXT=(
	[operator]='spec.ingress[1].from[0].podSelector.matchExpressions[0].operator "Among" is not a selector operator; expected In, NotIn, Exists or DoesNotExist'
	[cidr]='spec.ingress[1].from[0].ipBlock.cidr "10.244.0.0/33" is not an IPv4 CIDR'
	[endport]='spec.ingress[1].ports[0].endPort 8080 is below port 8082; expected a number from 8082 to 65535'
)
for bad in operator cidr endport; do
	echo "# broken file: $bad"
	broken $bad | store_put np-broken.yaml
	msg="$(where np-broken.yaml "${BAD_VALUE[$bad]}"): NetworkPolicy default/broken: ${BAD_TEXT[$bad]}"
	for node in node-a node-b; do
		check "$node logs '$msg'" wait_for 5 logged $node "$msg"
	done
	want allow default/cli-a default/srv-b tcp/80
	want deny default/oth-a default/srv-b tcp/80
	want deny default/cli-a default/srv-b tcp/81
	want deny default/oth-a default/srv-b tcp/8082
	table "broken-$bad: the good version stays"
done
policies "broken file removed" np-broken.yaml </dev/null

l7() { # with-kafka|without: a CiliumNetworkPolicy on srv-b, with a Kafka rule or not
	local from='{matchLabels: {pod: cli-a}}' rules=
	[[ $1 == with-kafka ]] && from='{}' rules=', rules: {kafka: [{topic: orders}]}'
	cnp l7 "$(pod_sel srv-b)" <<<"ingress: [{fromEndpoints: [$from], toPorts: [{ports: [{port: \"80\", protocol: TCP}]$rules}]}]"
}
l7 without | policies "Cilium L3/L4 policy, before a Kafka rule is added" cnp-l7.yaml
want allow default/cli-a default/srv-b tcp/80
want deny default/oth-a default/srv-b tcp/80
table cilium-l4
l7 with-kafka | store_put cnp-l7.yaml
msg="$(where cnp-l7.yaml kafka): CiliumNetworkPolicy default/l7: spec.ingress[0].toPorts[0].rules.kafka is not a field of L7 rules (edgewire enforces HTTP only); expected http"
for node in node-a node-b; do
	check "$node logs '$msg'" wait_for 5 logged $node "$msg"
done
want allow default/cli-a default/srv-b tcp/80
want deny default/oth-a default/srv-b tcp/80
table "cilium-kafka rejected: the L3/L4 version stays"
policies "L7 file removed" cnp-l7.yaml </dev/null

echo "# spoofing: cli-a sends with oth-a's address"
spoofed0=$(counter node-a spoofed-source)
spoofed0=${spoofed0//null/0}
in_pod default/cli-a ip addr add 10.244.1.21/32 dev eth0
spoofed_udp_unanswered() { # socat exits 0 after -T whether answered or not
	local got
	got=$(in_pod default/cli-a socat -T 1 - UDP:10.244.1.10:53,bind=10.244.1.21 <<<hello)
	[[ -z $got ]] || { echo "answered: $got"; return 1; }
}
check "cli-a -> srv-a:53/udp from 10.244.1.21 gets no answer" spoofed_udp_unanswered
check_not "cli-a -> srv-a:80 from 10.244.1.21 does not connect" \
	in_pod default/cli-a socat -T 1 - TCP:10.244.1.10:80,bind=10.244.1.21,connect-timeout=1 <<<hello
in_pod default/cli-a ip addr del 10.244.1.21/32 dev eth0
spoofed=$(counter node-a spoofed-source)
spoofed=${spoofed//null/0}
check "node-a counted them as spoofed-source (+$((spoofed - spoofed0)))" test $((spoofed - spoofed0)) -ge 2
check "cli-a with its own address still works" tcp_ok default/cli-a 10.244.1.10 80 default/srv-a

finish
