# SPDX-License-Identifier: Apache-2.0
# Section 3's results from its runs (one JSON object per line, see services.sh): per setup,
# number of other services and metric the median and range; edgewire's ratios to each
# baseline; the targets of #8; the agent's map memory with the most services.
include "stats";

. as $runs
| ["per_s", "cpu_us_per_conn", "softirq_us_per_conn", "busy_share", "errors"] as $metrics
| ([$runs[].scale] | unique) as $scales
| def measured($s; $n; $m): [$runs[] | select(.setup == $s and .scale == $n) | .[$m]];
  def per_scale(f): $scales | map(. as $n | {($n | tostring): ($metrics
	| map(. as $m | {($m): ([$n, $m] | f)}) | add)}) | add;

  ($setups | keys_unsorted
   | map(. as $s | {($s): per_scale(measured($s; .[0]; .[1]) | summary)}) | add) as $summary

| def ratio_at($b; $n; $m): ratio($summary.edgewire[$n | tostring][$m].median;
				    $summary[$b][$n | tostring][$m].median);
  def overlap($b; $n; $m): $summary.edgewire[$n | tostring][$m] as $e
	| $summary[$b][$n | tostring][$m] as $x
	| ($e != null and $x != null and $e.min <= $x.max and $x.min <= $e.max);

  ($maps[0] // []) as $m

| {params: {repetitions: $reps, conn_seconds: $conn_s, conn_threads: $threads,
	    cluster_ip: $ip, backends: 3},
   setups: $setups,
   scales: $scales,
   summary: $summary,
   ratios: (["iptables", "nftables"] | map(. as $b | {($b): per_scale(
	ratio($summary.edgewire[.[0] | tostring][.[1]].median; $summary[$b][.[0] | tostring][.[1]].median))
	| map_values(del(.errors))}) | add),
   setup_times: $setup_times,
   edgewire_datapath: {packets_by_reason: ($after | with_entries(.value -= ($before[.key] // 0)))},
   map_memory: {services: ($scales[-1] + 1),
		bytes: (($m | map(.memlock // 0) | add // 0) + ($m | map(.inner.memlock // 0) | add // 0)),
		inner_maps: ($m | map(.inner.maps // 0) | add // 0),
		maps: ($m | map({name, memlock, entries, inner}))},
   runs: $runs}

| ($scales[-1]) as $most | ($scales[0]) as $fewest
| .targets = ([
	{what: "new connections/s with \($most | commas) other services at least nftables'", baseline: "nftables", scale: $most, metric: "per_s", op: ">=", limit: 1},
	{what: "new connections/s with \($most | commas) other services at least 1.6x iptables'", baseline: "iptables", scale: $most, metric: "per_s", op: ">=", limit: 1.6},
	{what: "CPU time per new connection below iptables' with \(if $fewest == 0 then "no" else $fewest | commas end) other services", baseline: "iptables", scale: $fewest, metric: "cpu_us_per_conn", op: "<", limit: 1}
  ] | map(. + {ratio: ratio_at(.baseline; .scale; .metric)}
	| .met = (if .ratio == null then null
		  elif .op == ">=" then .ratio >= .limit else .ratio < .limit end)
	| .within_noise = (.ratio != null and ((.limit == 1 and overlap(.baseline; .scale; .metric))
		or (.ratio / .limit > 0.8 and .ratio / .limit < 1.25)))))
