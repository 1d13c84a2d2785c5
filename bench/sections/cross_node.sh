# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Section 2 of #8: two pods on two nodes. edgewire's VXLAN (a two-node lab: bpf_lxc
# encapsulates, bpf_overlay decapsulates) against a kernel vxlan device configured as
# flanneld does (lib/topo.sh: setup_vxlan), with the tests of lib/pod_to_pod.sh. The
# two-node lab is up for this section only.

CROSS_NODE_SETUPS=(cross:edgewire cross:vxlan)

bench_cross_node() {
	local k ew_before ew_after
	log "cross_node: building the setups"
	setup_edgewire_cross
	setup_vxlan
	for k in "${CROSS_NODE_SETUPS[@]}"; do
		setup_check "$k"
		p2p_servers_start "$k"
	done
	ew_before=$(lab_counters "$EW_XLAB_NAME" node-a node-b)
	p2p_reps cross_node "$WORK/cross_node.runs" "${CROSS_NODE_SETUPS[@]}"
	ew_after=$(lab_counters "$EW_XLAB_NAME" node-a node-b)
	jq -s -c -L "$BENCH/lib" -f "$BENCH/sections/cross_node.jq" \
		--argjson setups "$(p2p_setups_json "${CROSS_NODE_SETUPS[@]}")" \
		--argjson params "$(p2p_params_json)" \
		--argjson before "$ew_before" --argjson after "$ew_after" "$WORK/cross_node.runs"
	xlab_down # its agents and pods would only add to the later sections' background
}

# --- docs/benchmarks.md -----------------------------------------------------------------------------

report_cross_node() { # RESULTS_JSON
	jq -r -L "$BENCH/lib" 'include "stats"; include "scales"; include "pod_to_pod";
	.sections.cross_node as $s
	| "## 2. Cross-node pod to pod: edgewire VXLAN vs a kernel vxlan device",
	"",
	"Two pods on two nodes (network namespaces joined by an underlay bridge of veths), the client on the first sending to the server on the second, so every packet is wrapped in VXLAN on one node and unwrapped on the other. The same tests as section 1: \($s.params.repetitions) repetition(s) of each, interleaved, the setups taking turns going first; median (range), ratios of the medians, the whole machine'\''s CPU time per MB, connection or request.",
	"",
	p2p_setups_table($s),
	"",
	p2p_table($s; ["vxlan"]),
	"",
	p2p_how($s; ["edgewire", "vxlan"]),
	"",
	($s | datapath_counted | sub("during this section"; "on both nodes during this section")),
	"",
	"### Targets (#8), against the kernel vxlan device",
	"",
	p2p_targets($s; "the vxlan device"),
	""
	' "$1"
}
