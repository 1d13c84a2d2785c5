# SPDX-License-Identifier: Apache-2.0
# Section 2's results from its runs (one JSON object per line, see lib/pod_to_pod.sh):
# per setup, test and metric the median and range; edgewire's ratios to the kernel vxlan
# device; the targets of #8 against it.
include "pod_to_pod";

p2p_results($setups; ["vxlan"]; [
	{what: "TCP -P 1 throughput at least 1.3x the kernel vxlan device's", test: "tcp_p1", metric: "gbps", op: ">=", limit: 1.3},
	{what: "TCP -P 4 throughput at least 1.3x the kernel vxlan device's", test: "tcp_p4", metric: "gbps", op: ">=", limit: 1.3},
	{what: "connections/s at least 1.3x the kernel vxlan device's", test: "conn", metric: "per_s", op: ">=", limit: 1.3}
	] | map(. + {baseline: "vxlan"}))
| {params: $params} + .
| .edgewire_datapath = {packets_by_reason: ($after | with_entries(.value -= ($before[.key] // 0)))}
