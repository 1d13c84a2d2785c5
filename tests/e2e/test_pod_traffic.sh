#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Pods on one node talk through edgewire's datapath: ping, TCP, UDP, with the
# counters to prove it; store changes (pod removed, file broken and fixed,
# ConfigMap-style ..data swaps) apply live; the agent's restart is invisible.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

# The store is laid out as a Kubernetes ConfigMap mount: visible files are
# symlinks into ..data, which is swapped atomically to publish a revision.
STORE=$WORK/store
NEXT=$WORK/next
REV=0
mkdir -p "$STORE" "$NEXT"
cp "$REPO/examples/store/nodes.yaml" "$REPO/examples/store/namespaces.yaml" "$NEXT/"

pod_file() { # NS NAME IP PORT/PROTO...
	local ns=$1 name=$2 ip=$3 port
	shift 3
	{
		printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  namespace: %s\n' "$name" "$ns"
		printf '  labels: {app: %s}\nspec:\n  nodeName: node-a\n  containers:\n' "$name"
		printf '    - name: main\n      image: busybox\n'
		(($#)) && printf '      ports:\n'
		for port in "$@"; do
			printf '        - {containerPort: %s, protocol: %s}\n' "${port%/*}" "${port#*/}"
		done
		printf 'status:\n  podIP: %s\n' "$ip"
	} >"$NEXT/pod-$ns-$name.yaml"
}

publish() {
	local rev="..rev_$((++REV))" f
	rm -rf "${STORE:?}/$rev"
	cp -r "$NEXT" "$STORE/$rev"
	ln -sfn "$rev" "$STORE/..data_tmp"
	mv -T "$STORE/..data_tmp" "$STORE/..data"
	for f in "$STORE"/*.yaml; do
		[[ -e $NEXT/$(basename "$f") ]] || rm -f "$f"
	done
	for f in "$NEXT"/*.yaml; do
		ln -sfn "..data/$(basename "$f")" "$STORE/$(basename "$f")"
	done
}

pod_file shop web-1 10.244.1.10 8080/TCP
pod_file shop web-2 10.244.1.11 8080/TCP
pod_file shop db 10.244.1.20 5432/TCP 9125/UDP
pod_file default client 10.244.1.30
publish
lab_start "$STORE"

WEB1=10.244.1.10 WEB2=10.244.1.11 DB=10.244.1.20

echo "# traffic between pods on one node"
fwd0=$(counter node-a forward)
check "ping client -> shop/web-1" ping_ok default/client $WEB1
check "ping shop/web-1 -> shop/db" ping_ok shop/web-1 $DB
check "HTTP client -> web-1:8080 answers shop/web-1" \
	says shop/web-1 http_get default/client $WEB1 8080
check "TCP client -> db:5432 answers shop/db" \
	says shop/db tcp_hello default/client $DB 5432
check "UDP client -> db:9125 answers shop/db" \
	says shop/db udp_hello default/client $DB 9125
fwd1=$(counter node-a forward)
# 2 pings x 2 directions x 2 pairs, plus TCP and UDP both ways.
check "the forward counter grew by every packet (+$((fwd1 - fwd0)))" \
	test $((fwd1 - fwd0)) -ge 14
check "no packet was dropped as malformed or spoofed" \
	test "$(counter node-a malformed)$(counter node-a spoofed-source)" = 00
check "the pods' ARP for the gateway was answered by the datapath" \
	test "$(counter node-a arp-reply)" -ge 1
check "node -> pod through the node's stack" \
	"$LAB" exec node:node-a ping -c 1 -W 1 $WEB1

echo "# a pod cannot send as another"
in_pod default/client ip addr add 10.244.1.99/32 dev eth0
unknown0=$(counter node-a unknown-source)
check_not "ping from a borrowed address fails" \
	in_pod default/client ping -c 1 -W 1 -I 10.244.1.99 $WEB1
check "it is dropped as unknown-source" \
	test "$(counter node-a unknown-source)" -gt "$unknown0"
in_pod default/client ip addr del 10.244.1.99/32 dev eth0

echo "# the agent's restart does not touch forwarding"
AGENT_LOG=/run/edgewire-lab/$EW_LAB/node-a/agent.log
agent_pid=$(cat "/run/edgewire-lab/$EW_LAB/node-a/agent.pid")
log_lines=$(wc -l <"$AGENT_LOG")
kill "$agent_pid"
wait_for 5 bash -c "! kill -0 $agent_pid"
check "pods still talk while the agent is down" ping_ok default/client $WEB1
fwd2=$(counter node-a forward)
check "lab up restarts the agent" "$LAB" up "$STORE"
check "counters survive the restart (maps were reused)" \
	test "$(counter node-a forward)" -ge "$fwd2"
check "endpoints are all still there" \
	test "$(bpfctl node-a --json endpoints | jq length)" -eq 4
new_agent_logged() { tail -n "+$((log_lines + 1))" "$AGENT_LOG" | grep -q "$1"; }
check "the new agent changed nothing that was right" \
	new_agent_logged "programmed 4 endpoints, 3 routes, 1 nodes, .*: 0 written, 0 deleted"

echo "# a broken store file changes nothing and is reported"
cp "$NEXT/pod-shop-web-1.yaml" "$WORK/web-1.good"
printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: web-1\n  namespace: shop\nspec:\n  nodeName: [node-a\n' \
	>"$NEXT/pod-shop-web-1.yaml"
publish
check "the agent reports file, line and column" \
	wait_for 3 grep -qE "pod-shop-web-1.yaml:[0-9]+:[0-9]+: " "/run/edgewire-lab/$EW_LAB/node-a/agent.log"
check "web-1 is still an endpoint" endpoint_present node-a $WEB1
check "web-1 still answers" says shop/web-1 http_get default/client $WEB1 8080
cp "$WORK/web-1.good" "$NEXT/pod-shop-web-1.yaml"
publish
check "fixing the file is noticed" \
	wait_for 3 grep -q "all problems resolved" "/run/edgewire-lab/$EW_LAB/node-a/agent.log"

echo "# a pod removed from the store is unreachable within a second"
rm "$NEXT/pod-shop-web-2.yaml"
start=$(now_ms)
publish
check "web-2 leaves the endpoint map within 1 s" \
	wait_for 1 endpoint_absent node-a $WEB2
echo "  (took $(($(now_ms) - start)) ms)"
noep0=$(counter node-a no-endpoint)
check_not "web-2 does not answer" ping_ok default/client $WEB2
check "its drops are counted as no-endpoint" \
	test "$(counter node-a no-endpoint)" -gt "$noep0"
check "CNI DEL of web-2 succeeds" "$LAB" del-pod shop/web-2
check "CNI DEL removed the attachment" \
	test ! -e "/run/edgewire-lab/$EW_LAB/node-a/state/attachments/shop_web-2.json"
check_not "web-2 stays unreachable" ping_ok default/client $WEB2
check "other pods are unaffected" ping_ok default/client $WEB1

finish
