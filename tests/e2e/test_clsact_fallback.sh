#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The clsact attach path, which kernels before 6.6 (no tcx) take: pods talk
# through the same program, and an agent restart replaces it in place.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
export EW_AGENT_ARGS="--tc-attach clsact"

lab_start "$REPO/examples/store"
WEB1=$(pod_ip shop/web-1)
veth=$(jq -r '.interfaces[0].name' "/run/edgewire-lab/$EW_LAB/_pods/default/client/cni-result.json")

check "the agent attached with clsact" \
	grep -q "attach=clsact" "/run/edgewire-lab/$EW_LAB/node-a/agent.log"
check "the pod veth has edgewire's program as a tc ingress filter" \
	bash -c "'$LAB' exec node:node-a tc filter show dev $veth ingress | grep -q 'from_container'"
check "no tcx link was pinned (only NodePort's XDP link)" \
	test -z "$(ls "/sys/fs/bpf/edgewire-lab/$EW_LAB/node-a/links" 2>/dev/null | grep -v '^xdp:')"
fwd0=$(counter node-a forward)
check "ping client -> shop/web-1" ping_ok default/client "$WEB1"
check "HTTP client -> web-1 answers shop/web-1" says shop/web-1 http_get default/client "$WEB1" 8080
check "the traffic went through the program" test "$(counter node-a forward)" -ge $((fwd0 + 4))

prog_id() {
	"$LAB" exec node:node-a tc filter show dev "$veth" ingress | sed -n 's/.* id \([0-9]*\).*/\1/p'
}
old_id=$(prog_id)
kill "$(cat "/run/edgewire-lab/$EW_LAB/node-a/agent.pid")"
sleep 0.3
check "lab up restarts the agent" "$LAB" up
check "the restarted agent replaced the filter's program" test "$(prog_id)" != "$old_id"
check "exactly one edgewire filter is attached" \
	test "$("$LAB" exec node:node-a tc filter show dev "$veth" ingress | grep -c from_container)" -eq 1
check "pods still talk" ping_ok default/client "$WEB1"

finish
