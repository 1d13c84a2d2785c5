# SPDX-License-Identifier: Apache-2.0
# Pod-to-pod sections (same_node, cross_node): their runs (one JSON object each, see
# lib/pod_to_pod.sh) summed up per setup, test and metric (median and range), edgewire's
# ratios to each baseline, targets with verdicts; and their tables in the report.
# jq -L bench/lib 'include "pod_to_pod"; ...'
include "stats";

def p2p_metrics:
	{tcp_p1: ["gbps", "cpu_us_per_mb", "softirq_us_per_mb", "busy_share", "retransmits"],
	 tcp_p4: ["gbps", "cpu_us_per_mb", "softirq_us_per_mb", "busy_share", "retransmits"],
	 conn: ["per_s", "cpu_us_per_conn", "softirq_us_per_conn", "busy_share", "errors"],
	 http: ["per_s", "p50_ms", "p99_ms", "cpu_us_per_req", "softirq_us_per_req", "busy_share", "errors"]};

# The runs (an array) -> {setups, summary, ratios, targets, runs}. $targets: [{what,
# baseline, test, metric, op (">=" or "<="), limit}]; edgewire's setup is "edgewire".
def p2p_results($setups; $baselines; $targets):
	. as $runs
	# {test: {metric: ([test, metric] | f)}} for every metric of every test that was run
	| def per_metric(f):
		p2p_metrics | with_entries(select(.key as $t | any($runs[]; .test == $t)))
		| with_entries(.key as $t | .value |= (map(. as $m | {($m): ([$t, $m] | f)}) | add));
	  def measured($s; $t; $m): [$runs[] | select(.setup == $s and .test == $t) | .[$m]];

	  ($setups | keys_unsorted
	   | map(. as $s | {($s): per_metric(measured($s; .[0]; .[1]) | summary)}) | add) as $summary
	| {setups: $setups,
	   summary: $summary,
	   ratios: ($baselines | map(. as $b | {($b): per_metric(
		ratio($summary.edgewire[.[0]][.[1]].median; $summary[$b][.[0]][.[1]].median))}) | add
		| map_values(map_values(del(.retransmits, .errors)))), # counts, not costs
	   runs: $runs}
	| .ratios as $r
	| .targets = ($targets | map(. + {ratio: $r[.baseline][.test][.metric]}
		| .met = (.ratio != null and (if .op == ">=" then .ratio >= .limit else .ratio <= .limit end))
		# The verdict could flip from noise alone: the ratio is within 20% of the limit, or
		# edgewire's range and the baseline's overlap (no repetition tells them apart).
		| $summary.edgewire[.test][.metric] as $e | $summary[.baseline][.test][.metric] as $b
		| .ranges_overlap = ($e != null and $b != null and $e.min <= $b.max and $b.min <= $e.max)
		| .within_noise = .ranges_overlap
			or (.ratio != null and .ratio / .limit > 0.8 and .ratio / .limit < 1.25)));

# --- report --------------------------------------------------------------------------------------

# What each setup of a pod-to-pod section is.
def p2p_setups_table($s):
	(["setup", "what"] | row), "|---|---|",
	($s.setups | to_entries[] | ["**\(.key)**", "\(.value.description); server \(.value.server_ip)"] | row);

# The table of a pod-to-pod section: a row per test and metric, a column per setup, then
# edgewire / each baseline.
def p2p_table($s; $baselines):
	(["edgewire"] + $baselines) as $setups
	| def line(name; t; m; scale):
		select($s.summary.edgewire[t] != null)
		| [name] + ($setups | map($s.summary[.][t][m]
			| if . == null then null else with_entries(if .key == "n" then . else .value *= scale end) end
			| cell))
		+ ($baselines | map($s.ratios[.][t][m] | times)) | row;
	(["", ($setups[] | .), ($baselines[] | "edgewire / \(.)")] | row),
	"|---|" + ([$setups[], $baselines[]] | map("---:|") | join("")),
	line("TCP -P 1, Gbit/s"; "tcp_p1"; "gbps"; 1),
	line("TCP -P 1, busy CPU µs/MB"; "tcp_p1"; "cpu_us_per_mb"; 1),
	line("TCP -P 1, softirq µs/MB"; "tcp_p1"; "softirq_us_per_mb"; 1),
	line("TCP -P 1, machine busy %"; "tcp_p1"; "busy_share"; 100),
	line("TCP -P 4, Gbit/s"; "tcp_p4"; "gbps"; 1),
	line("TCP -P 4, busy CPU µs/MB"; "tcp_p4"; "cpu_us_per_mb"; 1),
	line("TCP -P 4, softirq µs/MB"; "tcp_p4"; "softirq_us_per_mb"; 1),
	line("TCP -P 4, machine busy %"; "tcp_p4"; "busy_share"; 100),
	line("connections/s"; "conn"; "per_s"; 1),
	line("busy CPU µs/connection"; "conn"; "cpu_us_per_conn"; 1),
	line("softirq µs/connection"; "conn"; "softirq_us_per_conn"; 1),
	line("connections, machine busy %"; "conn"; "busy_share"; 100),
	line("HTTP requests/s"; "http"; "per_s"; 1),
	line("HTTP latency p50, ms"; "http"; "p50_ms"; 1),
	line("HTTP latency p99, ms"; "http"; "p99_ms"; 1),
	line("busy CPU µs/request"; "http"; "cpu_us_per_req"; 1),
	line("softirq µs/request"; "http"; "softirq_us_per_req"; 1),
	line("HTTP, machine busy %"; "http"; "busy_share"; 100);

# What the tests ran, the retransmits and failures, for the text under the table.
def p2p_how($s; $setups):
	"iperf3 runs `-t \($s.params.tcp_seconds)`; connections are counted for \($s.params.conn_seconds) s with \($s.params.conn_threads) client threads (`build/bench/ew-bench-connrate`: connect, one byte each way, the server closes)"
	+ (if $s.params.wrk == null then "" else "; HTTP is `\($s.params.wrk)` (\($s.params.wrk_version | split(" ")[0:2] | join(" "))) against \($s.params.http_server | sub("^nginx version: "; "")) in the server pod, serving a static file of \($s.params.http_file_bytes) bytes; latency is wrk's, per request over kept-alive connections" end)
	+ ". Retransmits (median, -P 1 / -P 4): " +
	($setups | map("\(.) \($s.summary[.].tcp_p1.retransmits.median | sig) / \($s.summary[.].tcp_p4.retransmits.median | sig)") | join(", ")) +
	"; failed connections (median): " +
	($setups | map("\(.) \($s.summary[.].conn.errors.median | sig)") | join(", ")) +
	(if $s.summary.edgewire.http == null then "" else
	 "; failed HTTP requests (median; socket errors and non-2xx/3xx answers): " +
	 ($setups | map("\(.) \($s.summary[.].http.errors.median | sig)") | join(", ")) end) + ".";

# A section's targets as a table, and what noise means.
def p2p_targets($s; $against):
	(["target", "ratio", "verdict"] | row), "|---|---:|---|",
	($s.targets[] | [.what, (.ratio | times),
		(if .met then "met" else "**missed**" end) + (if .within_noise then " (within noise)" else "" end)] | row),
	"",
	"*Within noise*: the ratio is within 20% of the target, or edgewire's range and \($against)'s overlap, so another run may give the other verdict.";
