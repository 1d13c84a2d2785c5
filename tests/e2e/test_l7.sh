#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# L7 (HTTP) policy in the two-node lab, through each node's edgewire-proxy:
# ingress rules for pods on the same node, on another node and behind a
# ClusterIP; keep-alive, pipelined and split requests; malformed input; an
# L4 rule that lifts the L7 check; egress rules; the proxy killed (fail
# closed, the rest keeps working); an agent restart under an open connection.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

STORE=$WORK/store
mkdir -p "$STORE"
cp "$REPO/examples/store/"*.yaml "$STORE/"
cp "$REPO/tools/lab/http-client" "$WORK/" # run inside pods, by python3

CLIENT=default/client DB=shop/db
WEB1_IP=10.244.1.10 WEB2_IP=10.244.2.11 DB_IP=10.244.2.20 SVC_IP=10.96.0.10

# The example policy, with db as a second peer whose L4 rule (below) lifts it.
sed 's/- matchLabels: {io.kubernetes.pod.namespace: default, app: client}/&\n        - matchLabels: {app: db}/' \
	"$REPO/examples/policies/web-get-public.yaml" | store_put web-get-public.yaml
lab_start "$STORE"

l7() { # NS/POD HOST PORT MODE ARGS...: the answers, one per line, space-joined
	in_pod "$1" timeout 20 python3 "$WORK/http-client" "${@:2}" | paste -sd ' ' -
}

# answers_are EXPECTED NS/POD HOST PORT MODE ARGS...
answers_are() {
	local want=$1 got
	shift
	got=$(l7 "$@")
	[[ $got == "$want" ]] || { echo "expected '$want', got '$got'"; return 1; }
}

codes_are() { # EXPECTED NS/POD HOST PORT MODE ARGS...: the status codes only
	local want=$1 got
	shift
	got=$(l7 "$@" | grep -oE '(^| )[0-9]{3}( |$)' | tr -d ' ' | paste -sd ' ' -)
	[[ $got == "$want" ]] || { echo "expected '$want', got '$got'"; return 1; }
}

# http_requests NODE REASON: HTTP requests node's proxy counted with reason
http_requests() {
	bpftool -j map dump pinned "/sys/fs/bpf/edgewire-lab/$EW_LAB/$1/maps/ew_http_stats" |
		jq "[.[].formatted | select(.key.reason == $2) | .value.requests] | add // 0"
}

KEEPALIVE="200 shop/web-2 403 Access denied 200 shop/web-2"
for target in "same-node $WEB1_IP shop/web-1" "cross-node $WEB2_IP shop/web-2"; do
	read -r where ip pod <<<"$target"
	check "$where, to $pod: GET /public 200, POST /admin 403, GET /public/x 200 on one connection" \
		answers_are "200 $pod 403 Access denied 200 $pod" "$CLIENT" "$ip" 8080 sequence \
		GET:/public POST:/admin GET:/public/x
done
check "through the ClusterIP (either backend): allowed, then denied, on one connection" \
	codes_are "200 403" "$CLIENT" "$SVC_IP" 80 sequence GET:/public POST:/admin
check "pipelined requests in one write are answered in order" \
	answers_are "$KEEPALIVE" "$CLIENT" "$WEB2_IP" 8080 pipeline GET:/public POST:/admin GET:/public/x
check "request lines split across segments are still checked" \
	answers_are "200 shop/web-2 403 Access denied" "$CLIENT" "$WEB2_IP" 8080 split GET:/public POST:/admin
check "malformed HTTP gets 400 and the connection is closed" \
	answers_are "400 Bad request closed" "$CLIENT" "$WEB2_IP" 8080 raw 'GET /public HTTP/1.1\r\nHost lab\r\n\r\n'
check "non-HTTP bytes on the L7 port get 400 and are closed" \
	answers_are "400 Bad request closed" "$CLIENT" "$WEB2_IP" 8080 raw 'hello\n'
check "a dot segment is refused, not matched as /public" \
	answers_are "400 Bad request closed" "$CLIENT" "$WEB2_IP" 8080 raw 'GET /public/../admin HTTP/1.1\r\nHost: lab\r\n\r\n'
check "db, an L7 peer, is filtered before its L4 rule exists" \
	answers_are "403 Access denied" "$DB" "$WEB2_IP" 8080 sequence POST:/admin

echo "# an L4 rule for db on the same port lifts the L7 check for db only"
store_put web-db-l4.yaml <<EOF
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: web-db-l4, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress:
    - fromEndpoints: [{matchLabels: {app: db}}]
      toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
EOF
check "db's POST /admin reaches web-2" wait_for 10 answers_are "200 shop/web-2" "$DB" "$WEB2_IP" 8080 sequence POST:/admin
check "the client is still filtered" answers_are "403 Access denied" "$CLIENT" "$WEB2_IP" 8080 sequence POST:/admin
requests_at_least() { (($(http_requests "$1" "$2") >= $3)); } # NODE REASON N
check "node-b's proxy counted the denied requests" requests_at_least node-b 30 5
check "and the malformed ones" requests_at_least node-b 16 3

echo "# egress: the client may send GET /ok to db's 5432 and nothing else to db"
store_put client-egress.yaml <<EOF
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: client-egress, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: client}}
  egress:
    - toEndpoints: [{matchLabels: {io.kubernetes.pod.namespace: shop, app: db}}]
      toPorts:
        - ports: [{port: "5432", protocol: TCP}]
          rules: {http: [{method: GET, path: /ok}]}
    - toEndpoints: [{matchLabels: {io.kubernetes.pod.namespace: shop, app: web}}]
      toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
EOF
check "client -> db: GET /ok 200, DELETE /ok 403, GET /ok 200 on one connection" wait_for 10 \
	answers_are "200 shop/db 403 Access denied 200 shop/db" "$CLIENT" "$DB_IP" 5432 sequence \
	GET:/ok DELETE:/ok GET:/ok
check "client -> web-2 under egress isolation still meets web's ingress L7 rule" \
	answers_are "200 shop/web-2 403 Access denied" "$CLIENT" "$WEB2_IP" 8080 sequence GET:/public POST:/admin

echo "# bpfctl monitor on node-b shows the proxy's verdicts as they happen"
PINS_B=/sys/fs/bpf/edgewire-lab/$EW_LAB/node-b
monitor_running() { # the monitor holds its flock on the maps directory
	awk -v ino=":$(stat -c %i "$PINS_B/maps")\$" '$2 == "FLOCK" && $6 ~ ino { found = 1 }
		END { exit !found }' /proc/locks
}
"$LAB" exec node:node-b -- "$BUILD/bpfctl" --bpffs "$PINS_B" monitor --json --event http \
	--verdict denied --count 1 --timeout 10 >"$WORK/monitor.out" 2>"$WORK/monitor.err" &
MON_PID=$!
wait_for 3 monitor_running
l7 "$CLIENT" "$WEB2_IP" 8080 sequence GET:/public DELETE:/orders/7 >/dev/null
wait "$MON_PID"
http_event() { jq -e "$1" "$WORK/monitor.out"; }
check "the denied request is an http event with method, path and status" http_event \
	'select(.event == "http" and .verdict == "denied" and .method == "DELETE" and .path == "/orders/7" and .status == 403)'
check "naming both ends' identities" http_event \
	'select(.src == "10.244.1.30" and .dst == "10.244.2.11" and (.srcIdentityName | test("app=client")) and (.dstIdentityName | test("app=web")))'

echo "# an agent restart under an open L7 connection"
rm -f "$WORK/go"
in_pod "$CLIENT" timeout 30 python3 "$WORK/http-client" "$WEB2_IP" 8080 hold "$WORK/go" \
	GET:/public POST:/admin >"$WORK/held" 2>&1 &
BG_PIDS+=($!)
wait_for 5 grep -q 403 "$WORK/held"
kill "$(cat "/run/edgewire-lab/$EW_LAB/node-b/agent.pid")"
"$LAB" up "$STORE" >"$WORK/relab.log" 2>&1
touch "$WORK/go"
check "the connection carries on, still checked, after node-b's agent restarted" \
	wait_for 10 bash -c "[[ \$(paste -sd' ' $WORK/held) == '200 shop/web-2 403 Access denied 200 shop/web-2 403 Access denied' ]]"

echo "# node-b's proxy killed: its L7 connections fail closed, the rest works"
PROXY_PID=$(cat "/run/edgewire-lab/$EW_LAB/node-b/proxy.pid")
kill "$PROXY_PID"
wait_for 5 bash -c "! kill -0 $PROXY_PID"
before=$(counter node-b proxy-unreachable ingress)
check_not "client -> web-2:8080 is refused" \
	in_pod "$CLIENT" timeout 5 python3 "$WORK/http-client" "$WEB2_IP" 8080 sequence GET:/public
counted_more() { (($(counter node-b proxy-unreachable ingress) > ${before:-0})); }
check "counted as proxy-unreachable on node-b" counted_more
check "db's L4-lifted connection to web-2 still works" \
	answers_are "200 shop/web-2" "$DB" "$WEB2_IP" 8080 sequence POST:/admin
check "web-1, on node-a, still answers GET /public" \
	answers_are "200 shop/web-1" "$CLIENT" "$WEB1_IP" 8080 sequence GET:/public
"$LAB" up "$STORE" >"$WORK/relab.log" 2>&1
check "the restarted proxy takes connections again" \
	wait_for 10 answers_are "200 shop/web-2 403 Access denied" "$CLIENT" "$WEB2_IP" 8080 sequence GET:/public POST:/admin

finish
