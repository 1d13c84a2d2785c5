# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Section 1 of #8: two pods on one node. edgewire against plain Linux routing between
# veths (Calico-like) and a Linux bridge (flannel/docker-like), all built in this run, with
# the tests of lib/pod_to_pod.sh: iperf3 -P 1 and -P 4, short connections per second,
# HTTP (wrk against nginx), and the whole machine's CPU time around every run.

SAME_NODE_SETUPS=(edgewire routing bridge)

bench_same_node() {
	local s ew_before ew_after
	log "same_node: building the setups"
	setup_edgewire
	setup_routing
	setup_bridge
	for s in "${SAME_NODE_SETUPS[@]}"; do
		setup_check "$s"
		p2p_servers_start "$s"
	done
	ew_before=$(edgewire_counters)
	p2p_reps same_node "$WORK/same_node.runs" "${SAME_NODE_SETUPS[@]}"
	ew_after=$(edgewire_counters)
	jq -s -c -L "$BENCH/lib" -f "$BENCH/sections/same_node.jq" \
		--argjson setups "$(p2p_setups_json "${SAME_NODE_SETUPS[@]}")" \
		--argjson baselines '["routing", "bridge"]' --argjson params "$(p2p_params_json)" \
		--argjson before "$ew_before" --argjson after "$ew_after" "$WORK/same_node.runs"
}

# --- docs/benchmarks.md -----------------------------------------------------------------------------

report_same_node() { # RESULTS_JSON
	jq -r -L "$BENCH/lib" 'include "stats"; include "scales"; include "pod_to_pod";
	.sections.same_node as $s
	| "## 1. Same-node pod to pod",
	"",
	"Two pods on one node, the client sending to the server. \($s.params.repetitions) repetition(s) of each test, interleaved, the setups taking turns going first; each cell is the median with the range in brackets. Ratios are edgewire / baseline, of the medians. CPU and softirq times are the whole machine'\''s (all cores, from `/proc/stat` around each run), per MB (10^6 bytes) received, per connection or per HTTP request.",
	"",
	p2p_setups_table($s),
	"",
	p2p_table($s; ["routing", "bridge"]),
	"",
	p2p_how($s; ["edgewire", "routing", "bridge"]),
	"",
	($s | datapath_counted) + " So the edgewire figures are its eBPF path, not the node'\''s stack.",
	"",
	"### Targets (#8), against routing",
	"",
	p2p_targets($s; "routing"),
	""
	' "$1"
}
