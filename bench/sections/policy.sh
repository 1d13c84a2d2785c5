# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Section 4 of #8: the same flow, a client pod's short connections to a server pod on its
# node, with the server isolated for ingress by POL_SCALES rules that do not match the flow
# and the one that allows it (bench/lib/gen_policy.awk writes both forms of them):
#   edgewire  the lab of same_node; the rules are a NetworkPolicy file added to its store,
#             which the agent compiles into ew_ipcache and ew_policy as it would any edit;
#             a new connection costs the datapath an ipcache and a policy lookup, whatever
#             the number of rules, and is tracked (EW_CT_POLICY) from then on
#   iptables  routed pods (as same_node's routing) and the filter rules an iptables
#             NetworkPolicy implementation writes: established connections accepted first,
#             then the server's chain, rule by rule, for the first packet of every new one
# Connections per second and the whole machine's CPU and softirq time per connection, the
# setups taking turns over POL_REPS repetitions at each number of rules. The baseline's
# conntrack table is flushed before every run.

POL_SETUPS=(edgewire iptables)
POL_PORT=7100 # not same_node's 7000: its servers may still listen in the server pod
POL_THREADS=2
POL_IPTABLES_RESTORE=${EW_BENCH_IPTABLES_RESTORE:-iptables-restore}
POL_PROGRAM_TIMEOUT=300 # seconds the agent may take to program a number of rules
POL_TARGET_SCALE=0.9	# edgewire's connections/s with the most rules over the fewest's

declare -gA POL_CLIENT=() POL_SERVER=() POL_DESC=()
POL_NODE=

# --- edgewire: the rules as a store file; wait for the agent to program them -------------------

ew_policy_entries() {
	ew_bpfctl --json maps | jq '.[] | select(.name == "ew_policy") | .entries'
}

# Writes the rules (N < 0: removes them), waits for ew_policy to hold WANT entries; the
# seconds it took on stdout.
pol_program_edgewire() { # N WANT
	local n=$1 want=$2 file=$EW_STORE/zz-policy.yaml t0 i have
	t0=$EPOCHREALTIME
	if ((n >= 0)); then
		awk -v mode=store -v n="$n" -v port="$POL_PORT" -f "$BENCH/lib/gen_policy.awk" \
			>"$WORK/policy.yaml"
		mv "$WORK/policy.yaml" "$file" # one inotify event, a whole file
	else
		rm -f "$file"
	fi
	for ((i = 0; i < POL_PROGRAM_TIMEOUT * 10; i++)); do
		have=$(ew_policy_entries)
		((have == want)) && break
		sleep 0.1
	done
	((have == want)) ||
		die "policy: after $POL_PROGRAM_TIMEOUT s the agent has $have policy entries; expected $want for $n rules"
	jq -n --argjson t0 "$t0" --argjson t1 "$EPOCHREALTIME" '$t1 - $t0'
}

# --- iptables: routed pods and the filter rules ---------------------------------------------------

pol_setup_iptables() {
	local node=$RUN_ID-pol
	netns_new "$node"
	netns_new "$node-c"
	netns_new "$node-s"
	in_ns "$node" sysctl -qw net.ipv4.ip_forward=1
	routed_pod "$node" vc "$node-c" 10.91.0.10
	routed_pod "$node" vs "$node-s" 10.91.0.20
	POL_NODE=$node
	POL_CLIENT[iptables]=$node-c
	POL_SERVER[iptables]=10.91.0.20
}

pol_load_iptables() { # N: the seconds iptables-restore took, on stdout
	local rules=$WORK/policy-$1.rules t0
	awk -v mode=iptables -v n="$1" -v port="$POL_PORT" -v client=10.91.0.10 \
		-v server="${POL_SERVER[iptables]}" -f "$BENCH/lib/gen_policy.awk" >"$rules"
	t0=$EPOCHREALTIME
	in_ns "$POL_NODE" "$POL_IPTABLES_RESTORE" <"$rules" ||
		die "policy: the iptables rules for $1 rules did not load ($rules)"
	jq -n --argjson t0 "$t0" --argjson t1 "$EPOCHREALTIME" '$t1 - $t0'
	rm -f "$rules"
}

# --- runs ------------------------------------------------------------------------------------------

# The flow passes, and a connection to a port no rule allows does not (the rules are enforced).
pol_check() { # SETUP
	local out
	out=$(connrate_client "${POL_CLIENT[$1]}" "${POL_SERVER[$1]}" "$POL_PORT" 0.2 1 2>&1) ||
		die "policy: $1: the client cannot connect to ${POL_SERVER[$1]}:$POL_PORT: $out"
	# dropped, so the connection times out: refused means the SYN reached the server pod
	out=$(in_ns "${POL_CLIENT[$1]}" socat /dev/null \
		"TCP:${POL_SERVER[$1]}:$((POL_PORT + 1)),connect-timeout=0.5" 2>&1) ||
		[[ $out != *refused* ]] ||
		die "policy: $1: a connection to port $((POL_PORT + 1)), which no rule allows, reached the server"
}

pol_run() { # SETUP SCALE REP
	local node=$POL_NODE
	[[ $1 != edgewire ]] || node=
	connrate_section_run policy "$node" "$@" "${POL_CLIENT[$1]}" "${POL_SERVER[$1]}" \
		"$POL_PORT" "$POL_THREADS"
}

bench_policy() {
	local s n t ew_before ew_after
	log "policy: building the setups (rules: ${POL_SCALES[*]})"
	setup_edgewire
	pol_setup_iptables
	POL_CLIENT[edgewire]=$EW_LAB_NAME-pod-bench-client
	POL_SERVER[edgewire]=$(lab ip bench/server)
	connrate_servers_start policy-edgewire "$POL_PORT" "$EW_LAB_NAME-pod-bench-server"
	connrate_servers_start policy-iptables "$POL_PORT" "$POL_NODE-s"
	CLEANUP_CMDS+=("rm -f '$EW_STORE/zz-policy.yaml'")
	POL_DESC[edgewire]="the lab of same_node (agent, CNI plugin, bpf_lxc): pod bench/client to bench/server ${POL_SERVER[edgewire]}:$POL_PORT; the rules are one NetworkPolicy selecting the server, a file added to the agent's store (ingress rules from ipBlock /32s to the port, and from the client to other ports, then the one allowing the client)"
	POL_DESC[iptables]="routed pods (as routing in section 1), and the same rules as filter rules ($POL_IPTABLES_RESTORE, $("$POL_IPTABLES_RESTORE" --version 2>&1 | head -n 1)): FORWARD accepts RELATED,ESTABLISHED, drops INVALID, sends new connections to the server to its chain, which holds the rules in order (-s PEER/32 -p tcp --dport PORT -j ACCEPT), the allowing one last, then DROP"

	: >"$WORK/policy.runs"
	: >"$WORK/policy.setup"
	ew_before=$(edgewire_counters)
	for n in "${POL_SCALES[@]}"; do
		t=$(pol_program_edgewire "$n" $((n + 1)))
		log "policy: $n rules: the agent programmed them in $(printf %.2f "$t") s"
		echo "{\"setup\":\"edgewire\",\"scale\":$n,\"load_s\":$t,\"entries\":$((n + 1))}" >>"$WORK/policy.setup"
		t=$(pol_load_iptables "$n")
		log "policy: $n rules: iptables rules loaded in $(printf %.2f "$t") s"
		echo "{\"setup\":\"iptables\",\"scale\":$n,\"load_s\":$t}" >>"$WORK/policy.setup"
		for s in "${POL_SETUPS[@]}"; do
			pol_check "$s"
		done
		connrate_reps policy "$WORK/policy.runs" "$n" "$POL_REPS" pol_run "${POL_SETUPS[@]}"
	done
	ew_after=$(edgewire_counters)
	ew_bpfctl --json maps >"$WORK/policy.maps"
	pol_program_edgewire -1 0 >/dev/null # the later sections' pods are not isolated

	local setups="{}"
	for s in "${POL_SETUPS[@]}"; do
		setups=$(jq -c --arg s "$s" --arg d "${POL_DESC[$s]}" '. + {($s): {description: $d}}' <<<"$setups")
	done
	jq -s -c -L "$BENCH/lib" -f "$BENCH/sections/policy.jq" --argjson setups "$setups" \
		--slurpfile setup_times "$WORK/policy.setup" --slurpfile maps "$WORK/policy.maps" \
		--argjson before "$ew_before" --argjson after "$ew_after" \
		--argjson reps "$POL_REPS" --argjson conn_s "$CONN_SECONDS" \
		--argjson threads "$POL_THREADS" --argjson port "$POL_PORT" \
		--argjson flat "$POL_TARGET_SCALE" "$WORK/policy.runs"
}

# --- docs/benchmarks.md -----------------------------------------------------------------------------

report_policy() { # RESULTS_JSON
	jq -r -L "$BENCH/lib" 'include "stats"; include "scales";
	.sections.policy as $s
	| def cellof(setup; n; m): $s.summary[setup][n | tostring][m] | cell;
	  def metric_table(title; m):
		(["rules", "edgewire \(title)", "iptables \(title)", "edgewire / iptables"] | row),
		"|---:|---:|---:|---:|",
		($s.scales[] | . as $n | [($n | commas), cellof("edgewire"; $n; m), cellof("iptables"; $n; m),
			($s.ratios[$n | tostring][m] | times)] | row),
		"";
	"## 4. Network policy: rules that do not match the flow, edgewire vs iptables",
	"",
	"A client pod opens short connections to a server pod on the same node, the server isolated for ingress by \($s.scales | map(commas) | join(", ")) rules that do not match the flow (half from other peers to the port, half from the client to other ports) and, after them, the one that allows it. \($s.params.repetitions) repetition(s) per setup and number of rules, the setups taking turns going first; connections are counted for \($s.params.conn_seconds) s with \($s.params.conn_threads) client threads (`ew-bench-connrate`: connect, one byte each way, the server closes), one server thread. CPU time is the whole machine'\''s, per connection. Only a connection'\''s first packet meets the rules: later packets and replies pass as established (iptables'\'' conntrack, edgewire'\''s `EW_CT_POLICY` entries). The baseline'\''s conntrack table is flushed before every run.",
	"",
	(["setup", "what"] | row), "|---|---|",
	($s.setups | to_entries[] | ["**\(.key)**", .value.description] | row),
	"",
	metric_table("conn/s"; "per_s"),
	metric_table("CPU µs/conn"; "cpu_us_per_conn"),
	metric_table("softirq µs/conn"; "softirq_us_per_conn"),
	"Failed connections (median; edgewire / iptables): " +
		($s | per_scale_line(["edgewire", "iptables"]; median_of($s; "errors"))) + ".",
	"",
	"Time to program the rules (edgewire: from the store file written to `ew_policy` holding every entry, the agent'\''s incremental apply; iptables: loading the filter table): " +
		($s | per_scale_line(["edgewire", "iptables"]; load_time_of($s))) +
		". With the most rules the agent'\''s maps held \($s.map_entries.ew_policy // "–" | tostring) `ew_policy` and \($s.map_entries.ew_ipcache // "–" | tostring) `ew_ipcache` entries.",
	"",
	($s | datapath_counted),
	"",
	"### Targets",
	"",
	"#8 names the comparison but no figure for it; these are the harness'\''s own: that edgewire'\''s cost does not grow with the rules, and that it is no worse than iptables'\'' with the most.",
	"",
	($s | targets_table),
	""
	' "$1"
}
