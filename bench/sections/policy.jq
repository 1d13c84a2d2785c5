# SPDX-License-Identifier: Apache-2.0
# Section 4's results from its runs (one JSON object per line, see policy.sh): per setup,
# number of rules and metric the median and range; edgewire's ratios to iptables; the
# harness's targets; what the agent's maps held with the most rules.
include "stats";
include "scales";

. as $runs
| ["per_s", "cpu_us_per_conn", "softirq_us_per_conn", "busy_share", "errors"] as $metrics
| ([$runs[].scale] | unique) as $scales
| ($runs | scale_summary($setups | keys_unsorted; $metrics)) as $summary
| (scale_ratios($summary; "edgewire"; "iptables") | map_values(del(.errors))) as $ratios
| ($scales[-1] | tostring) as $most | ($scales[0] | tostring) as $fewest

| {params: {repetitions: $reps, conn_seconds: $conn_s, conn_threads: $threads, port: $port},
   setups: $setups,
   scales: $scales,
   summary: $summary,
   ratios: $ratios,
   setup_times: $setup_times,
   map_entries: (($maps[0] // []) | map(select(.name == "ew_policy" or .name == "ew_ipcache")
	| {(.name): .entries}) | add),
   edgewire_datapath: {packets_by_reason: ($after | with_entries(.value -= ($before[.key] // 0)))},
   runs: $runs}

| .targets = ([
	{what: "edgewire's connections/s with \($most | tonumber | commas) rules at least \($flat)x its own with \($fewest | tonumber | commas)",
	 ratio: ratio($summary.edgewire[$most].per_s.median; $summary.edgewire[$fewest].per_s.median),
	 op: ">=", limit: $flat,
	 overlap: overlap($summary.edgewire[$most].per_s; $summary.edgewire[$fewest].per_s)},
	{what: "connections/s with \($most | tonumber | commas) rules at least iptables'",
	 ratio: $ratios[$most].per_s, op: ">=", limit: 1,
	 overlap: overlap($summary.edgewire[$most].per_s; $summary.iptables[$most].per_s)},
	{what: "CPU time per connection with \($most | tonumber | commas) rules at most iptables'",
	 ratio: $ratios[$most].cpu_us_per_conn, op: "<=", limit: 1,
	 overlap: overlap($summary.edgewire[$most].cpu_us_per_conn; $summary.iptables[$most].cpu_us_per_conn)}
  ] | verdicts)
