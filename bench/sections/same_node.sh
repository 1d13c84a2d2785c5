# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Section 1 of #8: two pods on one node. edgewire against plain Linux routing between
# veths (Calico-like) and a Linux bridge (flannel/docker-like), all built in this run:
#   tcp_p1, tcp_p4  iperf3 -P 1 / -P 4, client pod -> server pod
#   conn            short TCP connections per second (bench/connrate.c)
# and around every run the whole machine's busy and softirq CPU time (/proc/stat), so a
# cheaper datapath shows even where iperf3 itself is the bottleneck.
# Repetitions are interleaved, and the setups take turns going first, so slow moments of
# this shared machine fall on all of them.

SAME_NODE_SETUPS=(edgewire routing bridge)
SAME_NODE_TESTS=(tcp_p1 tcp_p4 conn)
IPERF_PORT=5201
CONN_PORT=7000
CONN_THREADS=2 # one per core of the machine the issue targets

same_node_servers_start() { # SETUP
	local s=$1
	start_in_ns "${SERVER_NS[$s]}" "$WORK/$s-iperf3.log" iperf3 -s -p "$IPERF_PORT"
	start_in_ns "${SERVER_NS[$s]}" "$WORK/$s-connrate.log" \
		"$BUILD/bench/ew-bench-connrate" server --port "$CONN_PORT" --threads "$CONN_THREADS"
	wait_listening "${SERVER_NS[$s]}" "$IPERF_PORT" || die "setup $s: iperf3 -s did not start"
	wait_listening "${SERVER_NS[$s]}" "$CONN_PORT" || die "setup $s: ew-bench-connrate did not start"
}

# The client's side of one run; its stdout is what `measured` merges the CPU time into.
same_node_client() { # SETUP TEST
	local s=$1 ns=${CLIENT_NS[$1]} ip=${SERVER_IP[$1]}
	case $2 in
	tcp_p1 | tcp_p4)
		in_ns "$ns" iperf3 -c "$ip" -p "$IPERF_PORT" -P "${2#tcp_p}" -t "$TCP_SECONDS" -J
		;;
	conn)
		in_ns "$ns" "$BUILD/bench/ew-bench-connrate" client --addr "$ip" --port "$CONN_PORT" \
			--seconds "$CONN_SECONDS" --threads "$CONN_THREADS"
		;;
	esac
}

# One run as a JSON line: what the client measured, CPU time, and per-unit costs.
same_node_run() { # SETUP TEST REP
	local s=$1 test=$2 out
	if ! out=$(measured same_node_client "$s" "$test"); then
		die "same_node: $test on $s failed: $(jq -r '.error // empty' <<<"$out" 2>/dev/null)"
	fi
	jq -c --arg setup "$s" --arg test "$test" --argjson rep "$3" --argjson cpus "$(nproc)" '
		(if $test == "conn" then
			{connections, errors, per_s: .per_second,
			 cpu_us_per_conn: (.cpu_s * 1e6 / .connections),
			 softirq_us_per_conn: (.softirq_s * 1e6 / .connections)}
		else
			(.end.sum_received.bytes) as $bytes |
			{bytes: $bytes, gbps: (.end.sum_received.bits_per_second / 1e9),
			 retransmits: (.end.sum_sent.retransmits // 0),
			 cpu_us_per_mb: (.cpu_s * 1e6 / ($bytes / 1e6)),
			 softirq_us_per_mb: (.softirq_s * 1e6 / ($bytes / 1e6))}
		end) + {setup: $setup, test: $test, rep: $rep, wall_s, cpu_s, softirq_s,
			busy_share: (.cpu_s / (.wall_s * $cpus))}' <<<"$out"
}

same_node_log_run() { # RUN_JSON
	jq -r '"same_node: \(.test) \(.setup) rep \(.rep): " +
		(if .test == "conn" then "\(.per_s | round) conn/s, \(.cpu_us_per_conn | round) us CPU/conn"
		 else "\(.gbps * 100 | round / 100) Gbit/s, \(.cpu_us_per_mb | round) us CPU/MB" end) +
		", machine \(.busy_share * 100 | round)% busy"' <<<"$1" >&2
}

bench_same_node() {
	local s test rep i n=${#SAME_NODE_SETUPS[@]} order line ew_before ew_after
	log "same_node: building the setups"
	setup_edgewire
	setup_routing
	setup_bridge
	for s in "${SAME_NODE_SETUPS[@]}"; do
		setup_check "$s"
		same_node_servers_start "$s"
	done
	ew_before=$(edgewire_counters)
	: >"$WORK/same_node.runs"
	for ((rep = 1; rep <= REPS; rep++)); do
		order=()
		for ((i = 0; i < n; i++)); do
			order+=("${SAME_NODE_SETUPS[(i + rep - 1) % n]}")
		done
		for test in "${SAME_NODE_TESTS[@]}"; do
			for s in "${order[@]}"; do
				line=$(same_node_run "$s" "$test" "$rep")
				echo "$line" >>"$WORK/same_node.runs"
				printf '[%6.1fs] ' "$(elapsed_s)" >&2
				same_node_log_run "$line"
			done
		done
	done
	ew_after=$(edgewire_counters)

	local setups="{}"
	for s in "${SAME_NODE_SETUPS[@]}"; do
		setups=$(jq -c --arg s "$s" --arg d "${SETUP_DESC[$s]}" --arg ip "${SERVER_IP[$s]}" \
			'. + {($s): {description: $d, server_ip: $ip}}' <<<"$setups")
	done
	jq -s -c -L "$BENCH/lib" -f "$BENCH/sections/same_node.jq" --argjson setups "$setups" \
		--argjson baselines '["routing", "bridge"]' \
		--argjson before "$ew_before" --argjson after "$ew_after" \
		--argjson reps "$REPS" --argjson tcp_s "$TCP_SECONDS" --argjson conn_s "$CONN_SECONDS" \
		--argjson threads "$CONN_THREADS" "$WORK/same_node.runs"
}

# --- docs/benchmarks.md -----------------------------------------------------------------------------

report_same_node() { # RESULTS_JSON
	jq -r -L "$BENCH/lib" 'include "stats";
	.sections.same_node as $s
	| def line(name; t; m; scale):
		[name] + (["edgewire", "routing", "bridge"] | map($s.summary[.][t][m]
			| if . == null then null else with_entries(if .key == "n" then . else .value *= scale end) end
			| cell))
		+ (["routing", "bridge"] | map($s.ratios[.][t][m] | times)) | row;
	"## 1. Same-node pod to pod",
	"",
	"Two pods on one node, the client sending to the server. \($s.params.repetitions) repetition(s) of each test, interleaved, the setups taking turns going first; each cell is the median with the range in brackets. Ratios are edgewire / baseline, of the medians. CPU and softirq times are the whole machine'\''s (all cores, from `/proc/stat` around each run), per MB (10^6 bytes) received or per connection.",
	"",
	(["setup", "what"] | row), "|---|---|",
	($s.setups | to_entries[] | ["**\(.key)**", "\(.value.description); server \(.value.server_ip)"] | row),
	"",
	(["", "edgewire", "routing", "bridge", "edgewire / routing", "edgewire / bridge"] | row),
	"|---|---:|---:|---:|---:|---:|",
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
	"",
	"iperf3 runs `-t \($s.params.tcp_seconds)`; connections are counted for \($s.params.conn_seconds) s with \($s.params.conn_threads) client threads (`build/bench/ew-bench-connrate`: connect, one byte each way, the server closes). Retransmits (median, -P 1 / -P 4): " +
		(["edgewire", "routing", "bridge"] | map("\(.) \($s.summary[.].tcp_p1.retransmits.median | sig) / \($s.summary[.].tcp_p4.retransmits.median | sig)") | join(", ")) +
		"; failed connections (median): " +
		(["edgewire", "routing", "bridge"] | map("\(.) \($s.summary[.].conn.errors.median | sig)") | join(", ")) + ".",
	"",
	"edgewire'\''s datapath counted during this section (packets by verdict reason; no other reason moved): " +
		($s.edgewire_datapath.packets_by_reason | to_entries | map(select(.value != 0) | "\(.key) \(.value)")
		 | if length == 0 then "nothing" else join(", ") end) +
		". So the edgewire figures are its eBPF path, not the node'\''s stack.",
	"",
	"### Targets (#8), against routing",
	"",
	(["target", "ratio", "verdict"] | row), "|---|---:|---|",
	($s.targets[] | [.what, (.ratio | times),
		(if .met then "met" else "**missed**" end) + (if .within_noise then " (within noise)" else "" end)] | row),
	"",
	"*Within noise*: the ratio is within 20% of the target, or edgewire'\''s range and routing'\''s overlap, so another run may give the other verdict.",
	""
	' "$1"
}
