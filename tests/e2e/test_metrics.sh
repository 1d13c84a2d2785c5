#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The agent's /metrics and /healthz over real HTTP. On a lab node: /metrics
# passes a Prometheus text-format parser (prometheus_client's), its counters
# follow traffic, policy verdicts and store changes, every map and conntrack
# entry is counted, /healthz is 200, other paths are 404 and
# other methods 405. On an agent of our own whose store has more nodes than
# the maps hold, so no apply can complete: /healthz is 503 "not ready" until
# the store is fixed, 200 then, and 503 "degraded" when it breaks again.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

PORT=19962
PY=/usr/bin/python3 # Debian's, which has python3-prometheus-client
PRIV_NS=ewm-$$-node
PRIV_BPFFS=/sys/fs/bpf/edgewire-test-metrics-$$
PRIV_PID=
export EW_AGENT_ARGS="--metrics-addr 127.0.0.1:$PORT"

private_down() {
	if [[ -n $PRIV_PID ]]; then
		kill -TERM "$PRIV_PID" 2>/dev/null
		wait "$PRIV_PID" 2>/dev/null
	fi
	ip netns del "$PRIV_NS" 2>/dev/null
	rm -rf "$PRIV_BPFFS"
}
trap 'private_down; cleanup' EXIT

# in_node NODE CMD...: CMD in a lab node's netns, or in ours for "private".
in_node() {
	local node=$1
	shift
	if [[ $node == private ]]; then
		nsenter --net="/var/run/netns/$PRIV_NS" -- "$@"
	else
		"$LAB" exec "node:$node" -- "$@"
	fi
}

get() { in_node "$1" curl -sS -m 5 "http://127.0.0.1:$PORT$2"; } # NODE PATH

status_code() { # NODE PATH [CURL_ARGS...]
	in_node "$1" curl -s -o /dev/null -w '%{http_code}' -m 5 "${@:3}" \
		"http://127.0.0.1:$PORT$2"
}

# health_is NODE CODE REGEX: /healthz answers CODE with one line matching REGEX.
health_is() {
	local got
	got=$(in_node "$1" curl -s -m 5 -w ' %{http_code}' "http://127.0.0.1:$PORT/healthz")
	[[ $got =~ ^$3$'\n'" $2"$ ]] || { echo "expected /$3/ $2, got '$got'"; return 1; }
}

# The parser prints every sample as NAME{K=V,...} VALUE, labels sorted, and
# fails on anything it cannot parse or on a family that appears twice.
cat >"$WORK/parse.py" <<'EOF'
import sys
from prometheus_client.parser import text_string_to_metric_families

seen = set()
for family in text_string_to_metric_families(sys.stdin.read()):
    if family.name in seen:
        sys.exit(f"family {family.name} appears twice")
    seen.add(family.name)
    print(f"# {family.name} {family.type}")
    for s in family.samples:
        labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
        value = int(s.value) if s.value.is_integer() else s.value
        print(f"{s.name}{{{labels}}} {value}")
EOF

scrape() { get "$1" /metrics | "$PY" "$WORK/parse.py"; } # NODE

value() { # NODE SAMPLE: the value of one sample, e.g. 'edgewire_endpoints{}'
	scrape "$1" | awk -v s="$2" '$1 == s { print $2; found = 1 } END { exit !found }'
}

FORWARD='edgewire_datapath_packets_total{direction=egress,reason=forward,verdict=forward}'
CHANGES='edgewire_store_change_to_programmed_seconds_count{}'

STORE=$WORK/store
cp -r "$REPO/examples/store" "$STORE"
lab_start "$STORE"

echo "# /metrics on a lab node"
check "/metrics parses as the Prometheus text format" scrape node-a
check "/metrics has the text format's content type" test \
	"$(in_node node-a curl -s -o /dev/null -w '%{content_type}' "http://127.0.0.1:$PORT/metrics")" \
	= "text/plain; version=0.0.4; charset=utf-8"
scrape node-a >"$WORK/families"
for family in "edgewire_agent_info gauge" "edgewire_datapath_packets counter" \
	"edgewire_datapath_bytes counter" "edgewire_endpoints gauge" \
	"edgewire_map_entries gauge" "edgewire_map_capacity gauge" \
	"edgewire_store_errors gauge" "edgewire_store_loads counter" \
	"edgewire_apply_failures counter" "edgewire_apply_duration_seconds histogram" \
	"edgewire_store_change_to_programmed_seconds histogram" \
	"edgewire_policy_verdicts counter" "edgewire_http_requests counter" \
	"edgewire_conntrack_entries gauge" "edgewire_events_emitted counter" \
	"edgewire_events_lost counter" "edgewire_events_suppressed counter"; do
	check "family $family" grep -qx "# $family" "$WORK/families"
done
check "agent_info names the node" \
	grep -q '^edgewire_agent_info{node=node-a,version=' "$WORK/families"
check "two endpoints on node-a (shop/web-1, default/client)" \
	test "$(value node-a 'edgewire_endpoints{}')" = 2
check "ew_endpoints holds 2 of 4096" test \
	"$(value node-a 'edgewire_map_entries{map=ew_endpoints}')/$(value node-a 'edgewire_map_capacity{map=ew_endpoints}')" = 2/4096
for map in ew_ct ew_policy ew_ipcache ew_lb_frontends ew_endpoint_names; do
	check "the fill of $map" grep -q "^edgewire_map_capacity{map=$map} [1-9]" "$WORK/families"
done
check "ew_endpoint_names has a name per endpoint" \
	test "$(value node-a 'edgewire_map_entries{map=ew_endpoint_names}')" = 2
check "HTTP requests by reason: forward, malformed, policy-denied, both ways" \
	test "$(grep -c '^edgewire_http_requests_total{' "$WORK/families")" -ge 6
check "a drop reason is labelled as a drop" grep -q \
	'^edgewire_datapath_packets_total{direction=egress,reason=no-endpoint,verdict=drop} ' \
	"$WORK/families"

fwd0=$(value node-a "$FORWARD")
check "ping default/client -> shop/web-1" ping_ok default/client "$(pod_ip shop/web-1)"
fwd1=$(value node-a "$FORWARD")
check "the forward counter grew by the 2 pings both ways ($fwd0 -> $fwd1)" \
	test $((fwd1 - fwd0)) -ge 4
check "it agrees with bpfctl stats" test "$(counter node-a forward)" = "$fwd1"

changes0=$(value node-a "$CHANGES")
loads0=$(value node-a 'edgewire_store_loads_total{}')
echo "# a comment" >>"$WORK/store/namespaces.yaml"
changes_grew() { (($(value node-a "$CHANGES") > changes0)); }
check "a store change is timed until programmed" wait_for 5 changes_grew
check "and counted as a store load" \
	test "$(value node-a 'edgewire_store_loads_total{}')" -gt "$loads0"

echo "# policy verdicts and conntrack"
ALLOWED='edgewire_policy_verdicts_total{direction=ingress,verdict=allowed}'
DENIED='edgewire_policy_verdicts_total{direction=ingress,verdict=denied}'
store_put policy.yaml <"$REPO/tests/e2e/np_allow_client.yaml"
isolated() { bpfctl node-a --json policy shop/web-1 | jq -e .ingress.isolated; }
check "the policy isolates shop/web-1" wait_for 5 isolated
allowed0=$(value node-a "$ALLOWED") denied0=$(value node-a "$DENIED")
check "default/client reaches shop/web-1:8080" http_get default/client "$(pod_ip shop/web-1)" 8080
in_pod default/client socat -T 1 - "TCP:$(pod_ip shop/web-1):9999,connect-timeout=1" \
	</dev/null >/dev/null 2>&1
allowed1=$(value node-a "$ALLOWED") denied1=$(value node-a "$DENIED")
check "the allowed connection was counted ($allowed0 -> $allowed1)" test $((allowed1 - allowed0)) -ge 1
check "the denied one too ($denied0 -> $denied1)" test $((denied1 - denied0)) -ge 1
stats_allowed() {
	bpfctl node-a --json stats --policy |
		jq '[.packets[] | select(.verdict == "allowed" and .direction == "ingress") | .packets] | add'
}
check "it agrees with bpfctl stats --policy" test "$(stats_allowed)" = "$allowed1"
check "the allowed connection is tracked: a policy conntrack entry" \
	test "$(value node-a 'edgewire_conntrack_entries{type=policy}')" -ge 1

echo "# /healthz and the rest on a lab node"
check "/healthz is 200 ok once programmed" health_is node-a 200 ok
check "/nope is 404" test "$(status_code node-a /nope)" = 404
check "POST /metrics is 405" test "$(status_code node-a /metrics -X POST -d x)" = 405
check "HEAD /healthz is 405" test "$(status_code node-a /healthz -I)" = 405

echo "# /healthz of an agent whose apply cannot complete"
# 1100 more nodes than ew_nodes and ew_routes hold (1024 each): the maps
# fill up and the rest of the entries fail, as on a cluster too big for them.
PRIV_STORE=$WORK/private-store
mkdir -p "$PRIV_STORE" "$WORK/private-state"
cp "$REPO/examples/store/nodes.yaml" "$REPO/examples/store/namespaces.yaml" "$PRIV_STORE/"
for ((i = 0; i < 1100; i++)); do
	printf -- '---\napiVersion: v1\nkind: Node\nmetadata: {name: n%d}\n' "$i"
	printf 'spec: {podCIDR: 10.%d.%d.0/24}\n' $((100 + i / 256)) $((i % 256))
	printf 'status: {addresses: [{type: InternalIP, address: 172.%d.%d.1}]}\n' \
		$((20 + i / 256)) $((i % 256))
done >"$WORK/too-many-nodes.yaml"
cp "$WORK/too-many-nodes.yaml" "$PRIV_STORE/"
ip netns add "$PRIV_NS"
ip -n "$PRIV_NS" link set lo up
nsenter --net="/var/run/netns/$PRIV_NS" -- "$BUILD/edgewire-agent" --node node-a \
	--store "$PRIV_STORE" --bpffs "$PRIV_BPFFS" --socket "$WORK/private.sock" \
	--state-dir "$WORK/private-state" --metrics-addr "127.0.0.1:$PORT" \
	>"$WORK/private-agent.log" 2>&1 &
PRIV_PID=$!

FAILED_UPDATES="last apply failed: [0-9]+ map updates failed"
check "/healthz is 503 not ready while no apply completed" wait_for 10 health_is private \
	503 "not ready: the datapath has not been programmed yet; $FAILED_UPDATES"
check "the failure is counted" \
	test "$(value private 'edgewire_apply_failures_total{}')" -ge 1
check "ew_nodes is full" test "$(value private 'edgewire_map_entries{map=ew_nodes}')" = 1024

rm "$PRIV_STORE/too-many-nodes.yaml"
check "/healthz is 200 once the store fits" wait_for 5 health_is private 200 ok
cp "$WORK/too-many-nodes.yaml" "$PRIV_STORE/"
check "/healthz is 503 degraded when an apply fails after that" wait_for 5 \
	health_is private 503 "degraded: $FAILED_UPDATES"
rm "$PRIV_STORE/too-many-nodes.yaml"
check "/healthz is 200 again when it is fixed" wait_for 5 health_is private 200 ok

finish
