# SPDX-License-Identifier: Apache-2.0
# Section 3's results from its runs (one JSON object per line, see services.sh): per setup,
# number of other services and metric the median and range; edgewire's ratios to each
# baseline; the targets of #8; the agent's map memory with the most services.
include "stats";
include "scales";

. as $runs
| ["per_s", "cpu_us_per_conn", "softirq_us_per_conn", "busy_share", "errors"] as $metrics
| ([$runs[].scale] | unique) as $scales
| ($runs | scale_summary($setups | keys_unsorted; $metrics)) as $summary

| def ratio_at($b; $n; $m): ratio($summary.edgewire[$n | tostring][$m].median;
				    $summary[$b][$n | tostring][$m].median);

  ($maps[0] // []) as $m

| {params: {repetitions: $reps, conn_seconds: $conn_s, conn_threads: $threads,
	    cluster_ip: $ip, backends: 3},
   setups: $setups,
   scales: $scales,
   summary: $summary,
   ratios: (["iptables", "nftables"] | map(. as $b | {($b): (scale_ratios($summary; "edgewire"; $b)
	| map_values(del(.errors)))}) | add),
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
  ] | map(. + {ratio: ratio_at(.baseline; .scale; .metric),
		overlap: overlap($summary.edgewire[.scale | tostring][.metric]; $summary[.baseline][.scale | tostring][.metric])})
    | verdicts)
