# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Section 3 of #8: a pod to a ClusterIP with 3 backends on its node, short connections
# per second and the whole machine's CPU time per connection, with 0, 10, 1,000 and 10,000
# other services present (SVC_SCALES). Three setups, built in this run:
#   edgewire  the lab of same_node, with bench/store/services.yaml; the other services
#             are a file added to its store (bench/lib/gen_services.awk), which the agent
#             programs as it would any edit
#   iptables  routed pods (as same_node's routing) and the rules kube-proxy's iptables
#             mode writes (bench/lib/gen_kube_proxy.awk), loaded with iptables-restore
#   nftables  the same pods and kube-proxy's nftables mode: a verdict map of
#             ClusterIP . proto . port to per-service chains, numgen random to endpoints
# The baselines DNAT in the node's netns with its conntrack, as kube-proxy does; their
# conntrack table is flushed before every run, so each run starts alike. Every other
# service has its own 3 endpoints (nowhere: never reached). Scales go up one by one; at
# each, the setups take turns going first over SVC_REPS repetitions.

SVC_SETUPS=(edgewire iptables nftables)
SVC_IP=10.96.0.10
SVC_PORT=80
SVC_BACKEND_PORT=7000
SVC_THREADS=2 # client threads, as same_node
# The iptables tools kube-proxy would use here: Debian's default, the nf_tables backend.
SVC_IPTABLES_RESTORE=${EW_BENCH_IPTABLES_RESTORE:-iptables-restore}
SVC_PROGRAM_TIMEOUT=600 # seconds the agent may take to program a scale

declare -gA SVC_CLIENT=() SVC_NODE=() SVC_BACKENDS=() SVC_DESC=()

# --- the baselines: a node netns, a client pod and three backend pods, routed ------------------

svc_setup_baseline() { # NAME SUBNET (the first three octets of the pods' addresses)
	local name=$1 net=$2 node=$RUN_ID-$1 i backends=()
	netns_new "$node"
	netns_new "$node-c"
	in_ns "$node" sysctl -qw net.ipv4.ip_forward=1
	routed_pod "$node" vc "$node-c" "$net.10"
	for i in 1 2 3; do
		netns_new "$node-b$i"
		routed_pod "$node" "vb$i" "$node-b$i" "$net.3$i"
		backends+=("$net.3$i")
	done
	SVC_CLIENT[$name]=$node-c
	SVC_NODE[$name]=$node
	SVC_BACKENDS[$name]="${backends[*]}"
}

# The kube-proxy rules of N other services in the baseline's node: TIME seconds it took to
# load them, on stdout.
svc_load_rules() { # SETUP N
	local s=$1 n=$2 t0 rules=$WORK/$1-$2.rules backends first=${SVC_BACKENDS[$1]%% *}
	backends=$(tr ' ' , <<<"${SVC_BACKENDS[$s]}")
	awk -v mode="$s" -v n="$n" -v measured=$((n / 2)) -v cluster_ip="$SVC_IP" \
		-v backends="$backends" -v backend_port="$SVC_BACKEND_PORT" \
		-v pod_cidr="${first%.*}.0/24" -f "$BENCH/lib/gen_kube_proxy.awk" >"$rules"
	t0=$EPOCHREALTIME
	case $s in
	iptables) in_ns "${SVC_NODE[$s]}" "$SVC_IPTABLES_RESTORE" <"$rules" ;;
	nftables) in_ns "${SVC_NODE[$s]}" nft -f "$rules" ;;
	esac || die "services: $s: the rules for $n services did not load ($rules)"
	jq -n --argjson t0 "$t0" --argjson t1 "$EPOCHREALTIME" '$t1 - $t0'
	rm -f "$rules"
}

# --- edgewire: the other services as a store file; wait for the agent to program them -----------

ew_frontends() {
	ew_bpfctl --json maps | jq '.[] | select(.name == "ew_lb_frontends") | .entries'
}

# Seconds from writing the store file to the datapath holding every frontend, on stdout.
svc_program_edgewire() { # N
	local n=$1 file=$EW_STORE/zz-other-services.yaml t0 i have
	t0=$EPOCHREALTIME
	if ((n)); then
		awk -v n="$n" -v e=3 -f "$BENCH/lib/gen_services.awk" >"$WORK/other-services.yaml"
		mv "$WORK/other-services.yaml" "$file" # one inotify event, a whole file
	else
		rm -f "$file"
	fi
	for ((i = 0; i < SVC_PROGRAM_TIMEOUT * 10; i++)); do
		have=$(ew_frontends)
		((have == n + 1)) && break
		sleep 0.1
	done
	((have == n + 1)) || die "services: the agent programmed $have of $((n + 1)) frontends in $SVC_PROGRAM_TIMEOUT s"
	jq -n --argjson t0 "$t0" --argjson t1 "$EPOCHREALTIME" '$t1 - $t0'
}

# --- runs ------------------------------------------------------------------------------------------

svc_client() { # SETUP SECONDS
	connrate_client "${SVC_CLIENT[$1]}" "$SVC_IP" "$SVC_PORT" "$2" "$SVC_THREADS"
}

# Every setup must reach its backends through the ClusterIP (DNAT working) before it is measured.
svc_check() { # SETUP
	local out
	out=$(svc_client "$1" 0.2 2>&1) ||
		die "services: $1: the client cannot connect to $SVC_IP:$SVC_PORT: $out"
}

svc_run() { # SETUP SCALE REP
	connrate_section_run services "${SVC_NODE[$1]:-}" "$@" "${SVC_CLIENT[$1]}" "$SVC_IP" \
		"$SVC_PORT" "$SVC_THREADS"
}

bench_services() {
	local s n i t ew_before ew_after ns=()
	log "services: building the setups (other services: ${SVC_SCALES[*]})"
	setup_edgewire
	svc_setup_baseline iptables 10.93.0
	svc_setup_baseline nftables 10.92.0
	for s in iptables nftables; do
		ns=()
		for i in 1 2 3; do ns+=("${SVC_NODE[$s]}-b$i"); done
		connrate_servers_start "services-$s" "$SVC_BACKEND_PORT" "${ns[@]}"
	done
	SVC_CLIENT[edgewire]=$EW_LAB_NAME-pod-bench-client
	SVC_BACKENDS[edgewire]="$(lab ip bench/svc-1) $(lab ip bench/svc-2) $(lab ip bench/svc-3)"
	connrate_servers_start services-edgewire "$SVC_BACKEND_PORT" "$EW_LAB_NAME-pod-bench-svc-1" \
		"$EW_LAB_NAME-pod-bench-svc-2" "$EW_LAB_NAME-pod-bench-svc-3"
	SVC_DESC[edgewire]="the lab of same_node (agent, CNI plugin, bpf_lxc): Service bench/svc with ClusterIP $SVC_IP:$SVC_PORT to pods ${SVC_BACKENDS[edgewire]// /, } port $SVC_BACKEND_PORT; the other services are a file added to the agent's store, each a Service with an EndpointSlice of 3 endpoints"
	SVC_DESC[iptables]="routed pods (as routing in section 1), and the nat and filter rules kube-proxy's iptables mode writes (KUBE-SERVICES -> KUBE-SVC-* with statistic --mode random -> KUBE-SEP-* DNAT, KUBE-MARK-MASQ, KUBE-POSTROUTING, KUBE-FORWARD), loaded with $SVC_IPTABLES_RESTORE ($("$SVC_IPTABLES_RESTORE" --version 2>&1 | head -n 1)); the measured service in the middle of KUBE-SERVICES"
	SVC_DESC[nftables]="routed pods, and kube-proxy's nftables mode (table ip kube-proxy: service-ips verdict map of ip daddr . meta l4proto . th dport to per-service chains, numgen random mod 3 vmap to endpoint chains that DNAT, mark-for-masquerade, ct state invalid drop), loaded with nft -f ($(nft --version))"

	: >"$WORK/services.runs"
	: >"$WORK/services.setup"
	ew_before=$(edgewire_counters)
	for n in "${SVC_SCALES[@]}"; do
		t=$(svc_program_edgewire "$n")
		log "services: $n other services: the agent programmed them in $(printf %.1f "$t") s"
		echo "{\"setup\":\"edgewire\",\"scale\":$n,\"load_s\":$t}" >>"$WORK/services.setup"
		for s in iptables nftables; do
			t=$(svc_load_rules "$s" "$n")
			log "services: $n other services: $s rules loaded in $(printf %.1f "$t") s"
			echo "{\"setup\":\"$s\",\"scale\":$n,\"load_s\":$t}" >>"$WORK/services.setup"
		done
		for s in "${SVC_SETUPS[@]}"; do
			svc_check "$s"
		done
		connrate_reps services "$WORK/services.runs" "$n" "$SVC_REPS" svc_run "${SVC_SETUPS[@]}"
	done
	ew_after=$(edgewire_counters)
	# Map memory with the most services, from the agent's pins (inner Maglev arrays too).
	ew_bpfctl --json maps >"$WORK/services.maps"

	local setups="{}"
	for s in "${SVC_SETUPS[@]}"; do
		setups=$(jq -c --arg s "$s" --arg d "${SVC_DESC[$s]}" --arg b "${SVC_BACKENDS[$s]}" \
			'. + {($s): {description: $d, backends: ($b | split(" "))}}' <<<"$setups")
	done
	jq -s -c -L "$BENCH/lib" -f "$BENCH/sections/services.jq" --argjson setups "$setups" \
		--slurpfile setup_times "$WORK/services.setup" --slurpfile maps "$WORK/services.maps" \
		--argjson before "$ew_before" --argjson after "$ew_after" \
		--argjson reps "$SVC_REPS" --argjson conn_s "$CONN_SECONDS" \
		--argjson threads "$SVC_THREADS" --arg ip "$SVC_IP:$SVC_PORT" "$WORK/services.runs"
}

# --- docs/benchmarks.md -----------------------------------------------------------------------------

report_services() { # RESULTS_JSON
	jq -r -L "$BENCH/lib" 'include "stats"; include "scales";
	.sections.services as $s
	| def cellof(setup; n; m): $s.summary[setup][n | tostring][m] | cell;
	"## 3. Pod to ClusterIP: edgewire vs kube-proxy (iptables, nftables)",
	"",
	"A client pod opens short connections to a ClusterIP (\($s.params.cluster_ip)) with 3 backend pods on the same node, with \($s.scales | map(commas) | join(", ")) *other* services present, each with 3 endpoints of its own. \($s.params.repetitions) repetition(s) per setup and number of services, the setups taking turns going first; connections are counted for \($s.params.conn_seconds) s with \($s.params.conn_threads) client threads (`ew-bench-connrate`: connect, one byte each way, the server closes), one server thread in each backend. CPU time is the whole machine'\''s, per connection. The baselines'\'' conntrack table is flushed before every run. IPVS is not built into this kernel, so kube-proxy'\''s IPVS mode is not measured.",
	"",
	(["setup", "what"] | row), "|---|---|",
	($s.setups | to_entries[] | ["**\(.key)**", .value.description] | row),
	"",
	(["other services", "edgewire conn/s", "iptables conn/s", "nftables conn/s", "edgewire / iptables", "edgewire / nftables"] | row),
	"|---:|---:|---:|---:|---:|---:|",
	($s.scales[] | . as $n | [($n | commas), cellof("edgewire"; $n; "per_s"), cellof("iptables"; $n; "per_s"),
		cellof("nftables"; $n; "per_s"), ($s.ratios.iptables[$n | tostring].per_s | times),
		($s.ratios.nftables[$n | tostring].per_s | times)] | row),
	"",
	(["other services", "edgewire CPU µs/conn", "iptables CPU µs/conn", "nftables CPU µs/conn", "edgewire / iptables", "edgewire / nftables"] | row),
	"|---:|---:|---:|---:|---:|---:|",
	($s.scales[] | . as $n | [($n | commas), cellof("edgewire"; $n; "cpu_us_per_conn"), cellof("iptables"; $n; "cpu_us_per_conn"),
		cellof("nftables"; $n; "cpu_us_per_conn"), ($s.ratios.iptables[$n | tostring].cpu_us_per_conn | times),
		($s.ratios.nftables[$n | tostring].cpu_us_per_conn | times)] | row),
	"",
	["edgewire", "iptables", "nftables"] as $setups
	| "Softirq µs per connection (median; edgewire / iptables / nftables): " +
		($s | per_scale_line($setups; median_of($s; "softirq_us_per_conn"))) +
		". Failed connections (median): " + ($s | per_scale_line($setups; median_of($s; "errors"))) + ".",
	"",
	"Time to program the other services (edgewire: from the store file written to the last frontend in the map, the agent'\''s incremental apply; iptables and nftables: loading the whole rule set): " +
		($s | per_scale_line($setups; load_time_of($s))) + ".",
	"",
	($s | datapath_counted),
	"",
	"### Targets (#8)",
	"",
	($s | targets_table),
	""
	' "$1"
}
