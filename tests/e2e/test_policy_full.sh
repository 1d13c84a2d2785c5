#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A policy too large for ew_policy fails closed: the pods it selects receive
# nothing (policy-failed), never an empty policy by accident; other pods keep
# working; the agent names the full map once; and the pod recovers as soon
# as its policy fits again.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

STORE=$WORK/store
mkdir -p "$STORE"
cp "$REPO/examples/store/"*.yaml "$STORE/"
# the lab comes up on a store with a policy in it: web isolated, everything allowed in
cat >"$STORE/web-open.yaml" <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-open, namespace: shop}
spec: {podSelector: {matchLabels: {app: web}}, ingress: [{}]}
EOF

WEB=shop/web-1 CLIENT=default/client DB_IP=10.244.2.20 WEB_IP=10.244.1.10

answers() { # NS/POD IP PORT: a TCP connection is answered within a second or two
	[[ -n $(echo hello | in_pod "$1" socat -T 2 - "TCP:$2:$3,connect-timeout=1" 2>/dev/null) ]]
}

store_put() { # FILE: stdin becomes $STORE/FILE, whole
	cat >"$WORK/.$1.tmp" && mv "$WORK/.$1.tmp" "$STORE/$1"
}

# db_policy NET N: shop/db may receive SQL from the web pods, and TCP from N
# single addresses of NET.0.0/16 on 510 ports each: N x 510 entries (520:
# 265,200, more than ew_policy's 262,144; 500: 255,000, which fit).
db_policy() {
	local i
	printf 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n'
	printf 'metadata: {name: db-large, namespace: shop}\n'
	printf 'spec:\n  podSelector: {matchLabels: {app: db}}\n  ingress:\n'
	printf '    - from: [{podSelector: {matchLabels: {app: web}}}]\n'
	printf '      ports: [{port: 5432}]\n'
	printf '    - from:\n'
	for ((i = 0; i < $2; i++)); do
		printf '        - ipBlock: {cidr: %s.%d.%d/32}\n' "$1" $((i / 250)) $((i % 250 + 1))
	done
	printf '      ports:\n'
	for ((i = 0; i < 510; i++)); do
		printf '        - {port: %d}\n' $((10000 + i))
	done
}

logged() { agent_log "$1" | grep -q "$2"; } # NODE PATTERN
full_logged() { agent_log node-b | grep -q "map ew_policy is full (262144 entries): [0-9]* policy entries not programmed"; }
recovered() { agent_log node-b | tail -n 1 | grep -q " programmed .* 0 failed"; }
programmed() { agent_log node-b | grep -c " programmed "; }
programmed_since() { (($(programmed) > $1)) && recovered; } # COUNT

lab_start "$STORE"
check "before: web-1 reaches db:5432 across nodes" answers "$WEB" "$DB_IP" 5432

echo "# a policy that does not fit"
db_policy 172.31 520 | store_put db-policy.yaml
check "node-b's agent names the full map" wait_for 60 full_logged
check "and says which pods fail closed" logged node-b "policy of identity [0-9]* is incomplete: its pods fail closed until there is room"
check "the map error is logged once per apply, not per entry" \
	test "$(agent_log node-b | grep -c 'map ew_policy is full')" -le 2
check "ew_policy is full" test "$(bpfctl node-b --json maps | jq '.[] | select(.name == "ew_policy") | .entries')" = 262144
failed_before=$(counter node-b policy-failed ingress)
check_not "db fails closed: web-1, which the policy allows, gets no answer" answers "$WEB" "$DB_IP" 5432
check "and its packets are counted as policy-failed" \
	test "$(counter node-b policy-failed ingress)" -gt "${failed_before:-0}"
check "other pods are not affected: client reaches web-1:8080" answers "$CLIENT" "$WEB_IP" 8080

echo "# the policy fits again"
store_put db-policy.yaml <"$REPO/examples/policies/db-from-web.yaml"
check "node-b programs everything" wait_for 60 recovered
check "db recovered: web-1 reaches db:5432" answers "$WEB" "$DB_IP" 5432
check_not "and its policy is enforced: client gets no answer from db:5432" answers "$CLIENT" "$DB_IP" 5432
check "the client's packets are counted as policy-denied" test "$(counter node-b policy-denied ingress)" -gt 0
check "ew_policy holds just the new policy" \
	test "$(bpfctl node-b --json maps | jq '.[] | select(.name == "ew_policy") | .entries')" -lt 10

echo "# a policy that fills most of the map, replaced by another as large"
db_policy 172.31 500 | store_put db-policy.yaml
check "node-b programs the first" wait_for 60 recovered
count=$(programmed) full_logs=$(agent_log node-b | grep -c 'map ew_policy is full')
db_policy 172.30 500 | store_put db-policy.yaml
check "and the second, with nothing failed: its entries fit once the first's are gone" \
	wait_for 60 programmed_since "$count"
check "no entry was left out" test "$(agent_log node-b | grep -c 'map ew_policy is full')" -eq "$full_logs"
check "db never failed closed: web-1 reaches db:5432" answers "$WEB" "$DB_IP" 5432

finish
