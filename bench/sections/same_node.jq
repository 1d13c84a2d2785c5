# SPDX-License-Identifier: Apache-2.0
# Section 1's results from its runs (one JSON object per line, see lib/pod_to_pod.sh):
# per setup, test and metric the median and range; edgewire's ratios to each baseline;
# the targets of #8 against routing.
include "pod_to_pod";

p2p_results($setups; $baselines; [
	{what: "TCP -P 1 throughput at least routing's", test: "tcp_p1", metric: "gbps", op: ">=", limit: 1},
	{what: "TCP -P 4 throughput at least routing's", test: "tcp_p4", metric: "gbps", op: ">=", limit: 1},
	{what: "connections/s at least routing's", test: "conn", metric: "per_s", op: ">=", limit: 1},
	{what: "softirq time per MB (-P 1) at most 0.75x routing's", test: "tcp_p1", metric: "softirq_us_per_mb", op: "<=", limit: 0.75},
	{what: "softirq time per MB (-P 4) at most 0.75x routing's", test: "tcp_p4", metric: "softirq_us_per_mb", op: "<=", limit: 0.75},
	{what: "busy CPU time per connection at most 0.9x routing's", test: "conn", metric: "cpu_us_per_conn", op: "<=", limit: 0.9}
	] | map(. + {baseline: "routing"}))
| {params: $params} + .
| .edgewire_datapath = {packets_by_reason: ($after | with_entries(.value -= ($before[.key] // 0)))}
