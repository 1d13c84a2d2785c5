# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Section 5 of #8: per-packet cost under BPF_PROG_TEST_RUN, as a ratio to a trivial TC
# program measured the same way in the same run (bench/pkt_cost.c says how, and why every
# run is a single one): the pod forward path; a pod to a ClusterIP service, its flow
# established or new, with PKT_SERVICES services present; and a pod to a pod isolated by
# policy, its flow established (tracked) or new (looked up), with PKT_RULES rules that do
# not match the flow beside the one that allows it; and VXLAN: a pod's segment to a pod on
# another node encapsulated by from_container (encap), and the same segment in VXLAN from a
# known node decapsulated by from_underlay to a pod here (decap), every run's output checked
# to be 50 bytes longer (shorter).

# Targets of #8 (ratios of kernel ns to the trivial program's; scale: the most services'
# or rules' cost over the fewest's).
PKT_TARGET_EST=4
PKT_TARGET_NEW=10
PKT_TARGET_SCALE=1.1

bench_per_packet() {
	local out
	log "per_packet: $PKT_ITERATIONS runs per case and round, $PKT_ROUNDS rounds, services $PKT_SERVICES, policy rules $PKT_RULES"
	out=$("$BUILD/bench/ew-bench-pkt" --iterations "$PKT_ITERATIONS" --rounds "$PKT_ROUNDS" \
		--services "$PKT_SERVICES" --rules "$PKT_RULES") ||
		die "per_packet: ew-bench-pkt failed (its message is above)"
	jq -c -L "$BENCH/lib" --argjson est "$PKT_TARGET_EST" --argjson new "$PKT_TARGET_NEW" \
		--argjson scale "$PKT_TARGET_SCALE" 'include "stats";
		(.cases | map({(.name): {program, verdict, flow, services, rules, bytes_in, bytes_out,
			kernel_ns: (.kernel_ns | summary), wall_ns: (.wall_ns | summary)}}
			| map_values(with_entries(select(.value != null)))) | add) as $c
		| ($c | del(.trivial) | map_values({
			kernel_ns: ratio(.kernel_ns.median; $c.trivial.kernel_ns.median),
			wall_ns: ratio(.wall_ns.median; $c.trivial.wall_ns.median)})) as $r
		| ([.cases[] | select(.services != null) | .services] | unique) as $n
		| ([.cases[] | select(.rules != null) | .rules] | unique) as $p
		# per flow kind of the cases with a $by (services or rules): the cases by
		# that number, and the most / the fewest
		| def flows($by): ["established", "new"] | map(. as $f | {($f): ([$c | to_entries[]
			| select(.value.flow == $f and .value[$by] != null)] | sort_by(.value[$by])
			| {cases: map(.key), ($by): map(.value[$by]),
			   scale: (if length > 1 then ratio(.[-1].value.kernel_ns.median;
					.[0].value.kernel_ns.median) else null end)})}) | add;
		  flows("services") as $flows | flows("rules") as $pflows
		| {params: {iterations, rounds, packet_bytes, maglev_slots, backends_per_service,
			    services: $n, rules: $p, setup_s,
			    method: "BPF_PROG_TEST_RUN, repeat=1 per run, every verdict checked"},
		   cases: $c,
		   ratios: $r,
		   own_ns: ($c | del(.trivial) | map_values(.kernel_ns.median - $c.trivial.kernel_ns.median)),
		   flows: $flows,
		   policy_flows: $pflows,
		   overlay: ([$c | to_entries[] | select(.key == "encap" or .key == "decap")
			| {(.key): {ratio: $r[.key].kernel_ns, own_ns: (.value.kernel_ns.median - $c.trivial.kernel_ns.median),
				   bytes_in: .value.bytes_in, bytes_out: .value.bytes_out}}] | add),
		   targets: ([
			($flows.established.cases[-1] // empty | {what: "service established flow at most \($est)x trivial (\($c[.].services | commas) services)", case: ., ratio: $r[.].kernel_ns, limit: $est}),
			($flows.new.cases[-1] // empty | {what: "service new flow at most \($new)x trivial (\($c[.].services | commas) services)", case: ., ratio: $r[.].kernel_ns, limit: $new}),
			(select($flows.established.scale != null) | {what: "established flow, \($n[-1] | commas) services / \($n[0] | commas) services at most \($scale)x", ratio: $flows.established.scale, limit: $scale}),
			(select($flows.new.scale != null) | {what: "new flow, \($n[-1] | commas) services / \($n[0] | commas) services at most \($scale)x", ratio: $flows.new.scale, limit: $scale}),
			(select($pflows.new.scale != null) | {what: "policy allow, new connection (policy lookup), \($p[-1] | commas) rules / \($p[0] | commas) rules at most \($scale)x", ratio: $pflows.new.scale, limit: $scale}),
			(select($pflows.established.scale != null) | {what: "policy allow, established connection (tracked), \($p[-1] | commas) rules / \($p[0] | commas) rules at most \($scale)x", ratio: $pflows.established.scale, limit: $scale})
			] | map(. + {met: (.ratio != null and .ratio <= .limit),
				     within_noise: (.ratio != null and .ratio / .limit > 0.8 and .ratio / .limit < 1.25)})),
		   raw: .cases}' <<<"$out"
}

report_per_packet() { # RESULTS_JSON
	jq -r -L "$BENCH/lib" 'include "stats";
	.sections.per_packet as $s
	| "## 5. Per packet (BPF_PROG_TEST_RUN)",
	"",
	"Each case runs \($s.params.rounds) rounds of \($s.params.iterations) single runs (repeat=1, a fresh copy of a \($s.params.packet_bytes)-byte TCP segment each time, every verdict checked; each case'\''s forward counter must grow by exactly its number of runs), the cases alternating. A repeated run would measure the already-rewritten packet: from_container rewrites the TTL and both MACs (and a service packet'\''s destination), so its second pass would be a spoofed-source drop. *kernel ns* is the kernel'\''s own timing of each run (`opts.duration`), *wall ns* the whole syscall.",
	"",
	"The service cases send from a pod to a ClusterIP (port 80) with N services present, each a ClusterIP frontend with a Maglev table of \($s.params.maglev_slots) slots over \($s.params.backends_per_service) backends (built by the agent'\''s `maglev.c`), written through the ABI; the measured service'\''s backends are pods on this node, so the verdict is a redirect. Every case runs on a node of its own (its own maps). *svc_est_N*: the flow'\''s conntrack entry exists (the first run made it); after every round the entry must still be the first run'\''s, so no run was a new flow. *svc_new_N*: every run is a new flow: the packet gets a source port never used before (1024-65535, then the next of a set of client pods), changed in place between runs (a few ns of wall time, no kernel time); after every round the last flow'\''s entry must have been created in that round. The conntrack LRU (65,536 entries, two per flow) is full after 32,768 flows, so most new flows are timed with an eviction, as on a busy node.",
	"",
	(if ($s.params.rules // []) | length > 0 then
	"The policy cases (*pol_est_N*, *pol_new_N*) send from a pod to another pod of the node that a policy isolates for ingress, with N rules that do not match the flow besides the one that allows it: `ew_policy` entries as the agent writes them (one per peer and port of a rule), a third for other peers of the receiver (each a CIDR identity with its /32 in `ew_ipcache`), a third for other ports of the receiver, a third of other subjects; \($s.params.rules | map(commas) | join(" and ")) rules here. *pol_est_N*: the connection is tracked (`EW_CT_POLICY`, made by the first run), so its packets pass on the tracked entry; after every round the entry must still be the first run'\''s. *pol_new_N*: every run is a new connection as for *svc_new_N*, so the tracked lookup misses and the receiver'\''s policy is looked up (`ew_ipcache`, then `ew_policy`) and the connection tracked; after every round the last connection'\''s entry must be from that round. Before the runs, a packet to a port no rule allows must be dropped on each policy node. The ew_ct LRU holds 65,536 policy entries, one per connection.",
	""
	else empty end),
	(if $s.cases.encap != null then
	"The overlay cases: *encap* sends the same segment from a pod to a pod on another node, which `from_container` wraps in VXLAN to that node (\($s.cases.encap.bytes_in) -> \($s.cases.encap.bytes_out) bytes) and hands to `bpf_redirect_neigh()` on the underlay; *decap* gives `from_underlay` that segment in VXLAN from a known node to a pod of this node (\($s.cases.decap.bytes_in) -> \($s.cases.decap.bytes_out) bytes), redirected to the pod. Each runs on a node of its own; the first run'\''s output must be the expected frame byte for byte, and every run'\''s verdict and output length are checked (the kernel reports the length without copying the packet back), and the encap (or forward) counter must grow by exactly the number of runs. The encap'\''s input is the same as the pod forward'\''s, so their difference is what the encapsulation costs.",
	""
	else empty end),
	(["case", "program", "verdict", "kernel ns/run", "wall ns/run", "kernel ratio to trivial", "wall ratio to trivial"] | row),
	"|---|---|---|---:|---:|---:|---:|",
	($s.cases | to_entries[] | [.key, "`\(.value.program)`", .value.verdict, (.value.kernel_ns | cell),
		(.value.wall_ns | cell), ($s.ratios[.key].kernel_ns // 1 | times),
		($s.ratios[.key].wall_ns // 1 | times)] | row),
	"",
	"With repeat=1 the kernel'\''s timing includes its own clock reads and the run'\''s set-up, which the trivial program shows alone, so the ratio understates a program'\''s relative cost; the difference is the better estimate of the program'\''s own time: " +
		($s.own_ns | to_entries | map("\(.key) \(.value | sig) ns") | join(", ")) + ".",
	"",
	(if ($s.targets // []) | length > 0 then
		"### Targets (#8)",
		"",
		"Kernel ns, ratio to the trivial program'\''s; the scale rows are the most services'\'' (or rules'\'') cost over the fewest'\''s (" +
		([[["flows", "services", "service"], ["policy_flows", "rules", "policy"]][] as [$k, $by, $what]
		 | ["established", "new"][] as $f | $s[$k][$f] // empty | select(.cases | length > 0)
		 | "\($what) \($f): " + ([.cases[] | "\($s.cases[.].kernel_ns.median | sig) ns"] | join(" / ")) + " for " + (.[$by] | map(commas) | join(" / ")) + " \($by)"]
		| join("; ")) + ").",
		"",
		(["target", "ratio", "verdict"] | row), "|---|---:|---|",
		($s.targets[] | [.what, (.ratio | times),
			(if .met then "met" else "**missed**" end) + (if .within_noise then " (within noise)" else "" end)] | row),
		""
	else empty end)
	' "$1"
}
