# SPDX-License-Identifier: Apache-2.0
# Section 8's results from its runs (one JSON object per line, see l7.sh): per placement,
# policy (l4, l7) and metric the median and range; L7 / L4 of the medians per placement;
# how long switching took; the proxies' memory and the HTTP requests they judged.
include "stats";

. as $runs
| ["per_s", "p50_ms", "p99_ms", "path_cpu_us_per_req", "client_cpu_us_per_req",
   "server_cpu_us_per_req", "proxy_cpu_us_per_req", "cpu_us_per_req", "softirq_us_per_req",
   "busy_share", "errors"] as $metrics
| ($setups | keys_unsorted | map(. as $p | {($p): (["l4", "l7"] | map(. as $pol | {($pol): ($metrics
	| map(. as $m | {($m): ([$runs[] | select(.setup == $p and .policy == $pol) | .[$m]] | summary)})
	| add)}) | add)}) | add) as $summary

| {params: $params,
   setups: $setups,
   summary: $summary,
   ratios: ($summary | map_values(. as $x | $metrics - ["errors", "proxy_cpu_us_per_req"]
	| map(. as $m | {($m): ratio($x.l7[$m].median; $x.l4[$m].median)}) | add)),
   switch_s: ([$switches[].seconds] | summary),
   switches: $switches,
   proxy_memory_idle: $memory_idle,
   proxy_memory: $memory,
   proxy_requests: ($after | with_entries(.value -= ($before[.key] // 0))),
   l7_requests: ([$runs[] | select(.policy == "l7") | .requests] | add // 0),
   runs: $runs}
