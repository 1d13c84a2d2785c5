# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Section 5 of #8: per-packet cost under BPF_PROG_TEST_RUN, as a ratio to a trivial TC
# program measured the same way in the same run (bench/pkt_cost.c says how, and why every
# run is a single one). Today: the pod forward path. Policy, service and encap cases are
# added to pkt_cost.c as those programs land.

bench_per_packet() {
	local out
	log "per_packet: $PKT_ITERATIONS runs per case and round, $PKT_ROUNDS rounds"
	out=$("$BUILD/bench/ew-bench-pkt" --iterations "$PKT_ITERATIONS" --rounds "$PKT_ROUNDS") ||
		die "per_packet: ew-bench-pkt failed (its message is above)"
	jq -c -L "$BENCH/lib" 'include "stats";
		(.cases | map({(.name): {program, verdict, kernel_ns: (.kernel_ns | summary),
			wall_ns: (.wall_ns | summary)}}) | add) as $c
		| {params: {iterations, rounds, packet_bytes,
			    method: "BPF_PROG_TEST_RUN, repeat=1 per run, every verdict checked"},
		   cases: $c,
		   ratios: ($c | del(.trivial) | map_values({
			kernel_ns: ratio(.kernel_ns.median; $c.trivial.kernel_ns.median),
			wall_ns: ratio(.wall_ns.median; $c.trivial.wall_ns.median)})),
		   own_ns: ($c | del(.trivial) | map_values(.kernel_ns.median - $c.trivial.kernel_ns.median)),
		   raw: .cases}' <<<"$out"
}

report_per_packet() { # RESULTS_JSON
	jq -r -L "$BENCH/lib" 'include "stats";
	.sections.per_packet as $s
	| "## 5. Per packet (BPF_PROG_TEST_RUN)",
	"",
	"Each case runs \($s.params.rounds) rounds of \($s.params.iterations) single runs (repeat=1, a fresh copy of a \($s.params.packet_bytes)-byte TCP segment each time, every verdict checked; the forward counter must grow by exactly the number of runs), the cases alternating. A repeated run would measure the already-rewritten packet: from_container rewrites the TTL and both MACs, so its second pass would be a spoofed-source drop. *kernel ns* is the kernel'\''s own timing of each run (`opts.duration`), *wall ns* the whole syscall.",
	"",
	(["case", "program", "verdict", "kernel ns/run", "wall ns/run", "kernel ratio to trivial", "wall ratio to trivial"] | row),
	"|---|---|---|---:|---:|---:|---:|",
	($s.cases | to_entries[] | [.key, "`\(.value.program)`", .value.verdict, (.value.kernel_ns | cell),
		(.value.wall_ns | cell), ($s.ratios[.key].kernel_ns // 1 | times),
		($s.ratios[.key].wall_ns // 1 | times)] | row),
	"",
	"With repeat=1 the kernel'\''s timing includes its own clock reads and the run'\''s set-up, which the trivial program shows alone, so the ratio understates a program'\''s relative cost; the difference is the better estimate of the program'\''s own time: " +
		($s.own_ns | to_entries | map("\(.key) \(.value | sig) ns") | join(", ")) + ".",
	""
	' "$1"
}
