# SPDX-License-Identifier: Apache-2.0
# Section 1's results from its runs (one JSON object per line, see same_node.sh):
# per setup, test and metric the median and range; edgewire's ratios to each baseline;
# the targets of #8 against routing.
include "stats";

. as $runs
| {tcp_p1: ["gbps", "cpu_us_per_mb", "softirq_us_per_mb", "busy_share", "retransmits"],
   tcp_p4: ["gbps", "cpu_us_per_mb", "softirq_us_per_mb", "busy_share", "retransmits"],
   conn: ["per_s", "cpu_us_per_conn", "softirq_us_per_conn", "busy_share", "errors"]} as $metrics

# {test: {metric: ([test, metric] | f)}} for every metric of every test
| def per_metric(f):
	$metrics | with_entries(.key as $t | .value |= (map(. as $m | {($m): ([$t, $m] | f)}) | add));
  def measured($s; $t; $m): [$runs[] | select(.setup == $s and .test == $t) | .[$m]];

  ($setups | keys_unsorted
   | map(. as $s | {($s): per_metric(measured($s; .[0]; .[1]) | summary)}) | add) as $summary

| {params: {repetitions: $reps, tcp_seconds: $tcp_s, conn_seconds: $conn_s,
	    conn_threads: $threads, iperf3: "iperf3 -c SERVER -P 1|4 -t \($tcp_s) -J"},
   setups: $setups,
   summary: $summary,
   ratios: ($baselines | map(. as $b | {($b): per_metric(
	ratio($summary.edgewire[.[0]][.[1]].median; $summary[$b][.[0]][.[1]].median))}) | add
	| map_values(map_values(del(.retransmits, .errors)))), # counts, not costs
   edgewire_datapath: {packets_by_reason: ($after | with_entries(.value -= ($before[.key] // 0)))},
   runs: $runs}

| .targets = (.ratios.routing as $r | [
	{what: "TCP -P 1 throughput at least routing's", test: "tcp_p1", metric: "gbps", op: ">=", limit: 1},
	{what: "TCP -P 4 throughput at least routing's", test: "tcp_p4", metric: "gbps", op: ">=", limit: 1},
	{what: "connections/s at least routing's", test: "conn", metric: "per_s", op: ">=", limit: 1},
	{what: "softirq time per MB (-P 1) at most 0.75x routing's", test: "tcp_p1", metric: "softirq_us_per_mb", op: "<=", limit: 0.75},
	{what: "softirq time per MB (-P 4) at most 0.75x routing's", test: "tcp_p4", metric: "softirq_us_per_mb", op: "<=", limit: 0.75},
	{what: "busy CPU time per connection at most 0.9x routing's", test: "conn", metric: "cpu_us_per_conn", op: "<=", limit: 0.9}
  ] | map(. + {ratio: $r[.test][.metric]}
	| .met = (.ratio != null and (if .op == ">=" then .ratio >= .limit else .ratio <= .limit end))
	# The verdict could flip from noise alone: the ratio is within 20% of the limit, or
	# edgewire's range and routing's overlap (no repetition tells them apart).
	| $summary.edgewire[.test][.metric] as $e | $summary.routing[.test][.metric] as $b
	| .ranges_overlap = ($e.min <= $b.max and $b.min <= $e.max)
	| .within_noise = .ranges_overlap
		or (.ratio != null and .ratio / .limit > 0.8 and .ratio / .limit < 1.25)))
