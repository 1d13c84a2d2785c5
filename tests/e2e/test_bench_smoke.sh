#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The benchmark harness cannot rot: `bench/run --smoke` (one short repetition of every
# section, services and control plane at a small scale) runs, writes a results file with
# every section and numeric figures, renders it (with plots when gnuplot is there, a line
# saying so when not), leaves docs/benchmarks.md alone and removes
# everything it made (namespaces, the lab, pins, servers, the policy file it adds to the
# lab's store, iptables rules: those live only in its namespaces). The figures themselves are never checked: this machine is shared
# and noisy (docs/benchmarks.md).
set -uo pipefail
source "$(dirname "$0")/lib.sh"

RESULTS_DIR=$WORK/results
DOC=$REPO/docs/benchmarks.md
doc_before=$(sha256sum "$DOC" 2>/dev/null || echo none)
mkdir -p "$WORK/tmp"
servers() { { pgrep -x iperf3; pgrep -x ew-bench-connra; pgrep -x nginx; } | sort; } # comm: 15 characters
servers >"$WORK/servers.before"

echo "# bench/run --smoke"
TMPDIR=$WORK/tmp timeout 120 "$REPO/bench/run" --smoke --results-dir "$RESULTS_DIR" >"$WORK/bench.out" 2>"$WORK/bench.err" &
bench_pid=$!
wait "$bench_pid"
rc=$?
run_id=ewbench$bench_pid # what bench/run names its namespaces and lab after
if ((rc != 0)); then
	tail -n 20 "$WORK/bench.err"
fi
check "bench/run --smoke succeeds" test "$rc" -eq 0
RESULTS=$(tail -n 1 "$WORK/bench.out")
check "it prints the results file it wrote" test -f "$RESULTS"
check "the results file is in --results-dir" test "$(dirname "$RESULTS")" = "$RESULTS_DIR"
check "the results file is JSON" jq -e . "$RESULTS"

# has JQ_FILTER: the filter is true on the results file
has() { jq -e "$1" "$RESULTS"; }
numbers() { # every value of the paths the filter yields is a number
	jq -e "[$1] | length > 0 and all(type == \"number\")" "$RESULTS"
}

check "mode and machine are recorded" has '.mode == "smoke" and (.machine.kernel | length > 0)'
check "every section is there" \
	has '.sections | has("same_node") and has("cross_node") and has("services") and has("policy") and has("per_packet") and has("control_plane") and has("verifier")'

echo "# same-node pod to pod"
# pod_to_pod SECTION SETUP...: the figures of lib/pod_to_pod.sh's tests are numbers
pod_to_pod() {
	local section=$1 setup summary=".sections.$1.summary"
	shift
	for setup in "$@"; do
		check "$setup: TCP -P 1 and -P 4 figures are numbers" \
			numbers "$summary.$setup | (.tcp_p1, .tcp_p4) | (.gbps, .cpu_us_per_mb, .softirq_us_per_mb) | .median, .min, .max"
		check "$setup: connection figures are numbers" \
			numbers "$summary.$setup.conn | (.per_s, .cpu_us_per_conn, .softirq_us_per_conn) | .median"
		check "$setup: HTTP figures (wrk) are numbers" \
			numbers "$summary.$setup.http | (.per_s, .p50_ms, .p99_ms, .cpu_us_per_req, .softirq_us_per_req) | .median"
	done
	check "edgewire / baseline ratios are numbers" \
		numbers ".sections.$section.ratios[] | (.tcp_p1.gbps, .tcp_p4.gbps, .conn.per_s, .conn.cpu_us_per_conn, .http.per_s, .http.p99_ms)"
	check "every target has a ratio and a verdict" \
		has ".sections.$section.targets | length > 0 and all((.ratio | type) == \"number\" and (.met | type) == \"boolean\")"
}
pod_to_pod same_node edgewire routing bridge
check "edgewire's traffic went through its datapath (forward counter moved)" \
	has '.sections.same_node.edgewire_datapath.packets_by_reason.forward > 0'

echo "# cross-node pod to pod"
pod_to_pod cross_node edgewire vxlan
check "edgewire's traffic crossed its overlay (encap counter moved)" \
	has '.sections.cross_node.edgewire_datapath.packets_by_reason | .encap > 0 and .forward > 0'

echo "# pod to ClusterIP"
SVC='.sections.services'
for setup in edgewire iptables nftables; do
	check "$setup: connections/s and CPU per connection are numbers at every scale" \
		numbers "$SVC.summary.$setup[] | (.per_s, .cpu_us_per_conn, .softirq_us_per_conn) | .median"
done
check "services were measured with 0 and more other services" has "$SVC.scales | length >= 2 and .[0] == 0"
check "edgewire / baseline ratios are numbers" numbers "$SVC.ratios[][] | .per_s, .cpu_us_per_conn"
check "every services target has a verdict" has "$SVC.targets | length == 3 and all((.met | type) == \"boolean\")"
check "edgewire's service traffic went through its datapath" \
	has "$SVC.edgewire_datapath.packets_by_reason.forward > 0"
check "the agent's map memory is recorded" numbers "$SVC.map_memory.bytes"

echo "# policy: rules that do not match the flow"
POL='.sections.policy'
for setup in edgewire iptables; do
	check "$setup: connections/s and CPU per connection are numbers at every number of rules" \
		numbers "$POL.summary.$setup[] | (.per_s, .cpu_us_per_conn, .softirq_us_per_conn) | .median, .min, .max"
done
check "policy was measured at two numbers of rules or more" has "$POL.scales | length >= 2 and all(type == \"number\" and . > 0)"
check "edgewire / iptables ratios are numbers" numbers "$POL.ratios[] | .per_s, .cpu_us_per_conn, .softirq_us_per_conn"
check "the times to program the rules are numbers, for both setups at every number" \
	has "$POL | (.setup_times | length) == 2 * (.scales | length) and (.setup_times | all(.load_s | type == \"number\"))"
check "the agent wrote one policy entry per rule (the allowing one included)" \
	has "$POL.map_entries.ew_policy == $POL.scales[-1] + 1"
check "every policy target has a ratio and a verdict" \
	has "$POL.targets | length == 3 and all((.ratio | type) == \"number\" and (.met | type) == \"boolean\")"
check "edgewire's connections went through its datapath, and its policy denied the check's" \
	has "$POL.edgewire_datapath.packets_by_reason | .forward > 0 and .[\"policy-denied\"] > 0"

echo "# per packet"
check "trivial and pod_forward timings are numbers" \
	numbers '.sections.per_packet.cases | (.trivial, .pod_forward) | (.kernel_ns, .wall_ns) | .median'
check "pod_forward's ratio to trivial is a number" \
	numbers '.sections.per_packet.ratios.pod_forward | .kernel_ns, .wall_ns'
check "service established and new flows are measured at two scales" \
	has '.sections.per_packet.flows | (.established.cases | length) == 2 and (.new.cases | length) == 2'
check "service cases' ratios to trivial are numbers" \
	numbers '.sections.per_packet.ratios | to_entries[] | select(.key | startswith("svc_")) | .value.kernel_ns'
check "policy established and new connections are measured at two numbers of rules" \
	has '.sections.per_packet.policy_flows | (.established.cases | length) == 2 and (.new.cases | length) == 2'
check "policy cases' ratios to trivial are numbers" \
	numbers '.sections.per_packet.ratios | to_entries[] | select(.key | startswith("pol_")) | .value.kernel_ns, .value.wall_ns'
check "encap and decap timings and their ratios to trivial are numbers" \
	numbers '.sections.per_packet | (.cases | (.encap, .decap) | (.kernel_ns, .wall_ns) | .median), (.ratios | (.encap, .decap) | .kernel_ns, .wall_ns), (.overlay | (.encap, .decap) | .ratio, .own_ns)'
check "encap adds and decap removes the 50 bytes of VXLAN headers" \
	has '.sections.per_packet.cases | .encap.bytes_out == .encap.bytes_in + 50 and .decap.bytes_out == .decap.bytes_in - 50'
check "every per-packet target has a ratio and a verdict" \
	has '.sections.per_packet.targets | length == 6 and all((.ratio | type) == "number" and (.met | type) == "boolean")'

echo "# control plane"
check "the cold start was programmed, its time and the agent's peak RSS are numbers" \
	has '.sections.control_plane | .cold_start.programmed and (.cold_start.seconds | type) == "number" and (.peak_rss_kib | type) == "number"'
check "the cold start's map memory is recorded" numbers '.sections.control_plane.map_memory.bytes'
check "every policy edit was timed; p50, p99 and the agent's apply time are numbers" \
	has '.sections.control_plane.policy | (.edits | length) == .params.edits and .params.edits > 0 and all(.edits[]; (.ms | type) == "number" and (.apply_ms | type) == "number") and ([.edit_ms.p50, .edit_ms.p99, .apply_ms.p50, .apply_ms.p99] | all(type == "number"))'
check "the agent's CPU idle and under churn are numbers, the churn's edits counted" \
	has '.sections.control_plane.policy.cpu | ([.idle, .churn][] | [.cpu_pct, .cpu_s, .wall_s] | all(type == "number")) and .churn.edits > 0'
check "the agent's /metrics histograms were read" \
	numbers '.sections.control_plane.policy.metrics | ."edgewire_store_change_to_programmed_seconds_count", ."edgewire_apply_duration_seconds_count"'
check "every control-plane target has a verdict" \
	has '(.sections.control_plane | .targets + .policy.targets) | length == 4 and all((.met | type) == "boolean" or .met == null)'

echo "# verifier"
check "from_container is measured" has '[.sections.verifier.programs[].program] | index("from_container") != null'
check "every program has verifier figures" \
	numbers '.sections.verifier.programs[] | .processed, .total_states, .peak_states, .verification_us, .load_ms.median'

echo "# report and cleanup"
check "bench/report renders the results" \
	bash -c "'$REPO/bench/report' --plots '$WORK/plots' '$RESULTS' >'$WORK/report.md' &&
		grep -q '^## 1\\. ' '$WORK/report.md' && grep -q '^## 2\\. ' '$WORK/report.md' &&
		grep -q '^## 3\\. ' '$WORK/report.md' && grep -q '^## 4\\. ' '$WORK/report.md' &&
		grep -q '^## 5\\. ' '$WORK/report.md' && grep -q 'pol_new_' '$WORK/report.md' &&
		grep -q 'store edit to datapath programmed' '$WORK/report.md' &&
		grep -q '^| encap |' '$WORK/report.md' && grep -q 'agent CPU under churn' '$WORK/report.md' &&
		grep -q '^## 6\\. ' '$WORK/report.md' && grep -q '^## 7\\. ' '$WORK/report.md'"
if command -v gnuplot >/dev/null; then
	check "it draws the plots of the scaling curves and embeds them" \
		bash -c "for p in services policy per_packet; do test -s '$WORK/plots/'\$p.png &&
			grep -q \"(.*plots/\$p.png)\" '$WORK/report.md' || exit 1; done"
fi
check "without gnuplot it says the plots are not drawn" \
	bash -c "EW_BENCH_GNUPLOT=/nonexistent/gnuplot '$REPO/bench/report' --plots '$WORK/plots-none' '$RESULTS' |
		grep -q 'not drawn, gnuplot is not installed'"
check "--smoke leaves docs/benchmarks.md alone" \
	test "$(sha256sum "$DOC" 2>/dev/null || echo none)" = "$doc_before"
check "no namespace of the run is left" \
	bash -c "! ip netns list | grep -Eq '^${run_id}x?-'"
check "no lab of the run is left (nor the two-node one)" \
	test ! -e "/run/edgewire-lab/$run_id" -a ! -e "/sys/fs/bpf/edgewire-lab/$run_id" \
	-a ! -e "/run/edgewire-lab/${run_id}x" -a ! -e "/sys/fs/bpf/edgewire-lab/${run_id}x"
check "no pins of the control-plane agents are left" \
	test ! -e "/sys/fs/bpf/$run_id-cp" -a ! -e "/sys/fs/bpf/$run_id-cpp"
check "no server it started is left running" \
	bash -c "! { pgrep -x iperf3; pgrep -x ew-bench-connra; pgrep -x nginx; } | sort | comm -13 '$WORK/servers.before' - | grep -q ."
check "its temporary directory is removed" test -z "$(ls -A "$WORK/tmp")"

finish
