# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Section 6 of #8, its cold start part: the agent started on a store of CP_SERVICES
# ClusterIP services with CP_ENDPOINTS endpoints in all (bench/lib/gen_services.awk), in a
# netns and bpffs directory of its own, with nothing pinned yet. Measured: the time from
# starting it to its first "programmed" log line, its peak RSS (VmHWM) then, and the
# memory of its pinned maps (bpfctl maps: memlock, the inner Maglev arrays included).
# The agent gets CP_TIMEOUT seconds; if it has not programmed everything by then, what it
# had is recorded and the target is missed.
# Then its policy part: another agent, on a store of CP_PODS pods of this node and
# CP_POLICIES NetworkPolicies (bench/lib/gen_pods_policies.awk), gets CP_EDITS edits of one
# more policy (its port changes, so its ew_policy entry does): each edit's time from the
# file moved into place to the agent's next "programmed" log line that wrote something (that
# line's timestamp, in ms), the apply time the line states, and the agent's own /metrics
# histograms of the same, read at the end. Then the same agent's CPU time (utime + stime of
# /proc/PID/stat, all its threads) over cp_cpu_seconds with the store left alone (idle), and
# over as long again with the policy edited every CP_CHURN_MS ms without waiting for the
# agent (churn), as CPU % of one core.

CP_NODE_IP=192.168.77.11
CP_TARGET_START_S=2
CP_TARGET_MAP_MIB=64
CP_TARGET_EDIT_P99_MS=100
CP_TARGET_RSS_MIB=20 # #8: agent RSS with 1,000 pods
CP_METRICS_ADDR=127.0.0.1:9464 # in the agent's own netns
CP_PID= # the last agent cp_agent_start started
CP_CHURN_MS=100 # one store edit this often while the store churns

# How long the CPU of the agent is measured idle, and as long again under churn.
cp_cpu_seconds() {
	case $MODE in
	smoke) echo 1 ;;
	quick) echo 1 ;;
	*) echo 20 ;;
	esac
}

# The CPU time of PID so far, in clock ticks (utime + stime; the fields after the comm,
# which may hold spaces, are the 12th and 13th).
cp_cpu_ticks() { # PID
	sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

# The agent's CPU while idle and while the store churns: {seconds, churn_ms, idle, churn}
# on stdout, each {cpu_s, wall_s, cpu_pct[, edits]}. Policy edits from number FIRST on.
cp_cpu_usage() { # PID STORE FIRST
	local pid=$1 store=$2 k=$3 secs hz c0 c1 t0 t1 idle n=0 next
	secs=$(cp_cpu_seconds)
	hz=$(getconf CLK_TCK)
	log "control_plane: agent CPU idle for $secs s, then under a policy edit every $CP_CHURN_MS ms for $secs s"
	c0=$(cp_cpu_ticks "$pid") t0=$EPOCHREALTIME
	sleep "$secs"
	c1=$(cp_cpu_ticks "$pid") t1=$EPOCHREALTIME
	idle=$(jq -n -c --argjson c "$((c1 - c0))" --argjson hz "$hz" --argjson t0 "$t0" --argjson t1 "$t1" \
		'{cpu_s: ($c / $hz), wall_s: ($t1 - $t0), cpu_pct: ($c / $hz / ($t1 - $t0) * 100)}')
	c0=$(cp_cpu_ticks "$pid") t0=$EPOCHREALTIME
	next=${t0/./}
	while :; do
		cp_edit_policy "$store" "$((k + n))"
		n=$((n + 1))
		next=$((next + CP_CHURN_MS * 1000)) # µs
		((next < ${t0/./} + secs * 1000000)) || break
		sleep "$(jq -n "($next - ${EPOCHREALTIME/./}) / 1e6 | if . > 0 then . else 0 end")"
	done
	sleep "$(jq -n "(${t0/./} + $secs * 1000000 - ${EPOCHREALTIME/./}) / 1e6 | if . > 0 then . else 0 end")"
	c1=$(cp_cpu_ticks "$pid") t1=$EPOCHREALTIME
	jq -n -c --argjson c "$((c1 - c0))" --argjson hz "$hz" --argjson t0 "$t0" --argjson t1 "$t1" \
		--argjson idle "$idle" --argjson secs "$secs" --argjson ms "$CP_CHURN_MS" --argjson n "$n" \
		'{seconds: $secs, churn_ms: $ms, tick_s: (1 / $hz), idle: $idle,
		  churn: {cpu_s: ($c / $hz), wall_s: ($t1 - $t0), cpu_pct: ($c / $hz / ($t1 - $t0) * 100), edits: $n}}'
}

# {frontends, tables, bytes, maps}: what the pinned maps under BPFFS hold now.
cp_map_usage() { # BPFFS
	"$BUILD/bpfctl" --bpffs "$1" --json maps 2>/dev/null | jq -c '
		{frontends: (.[] | select(.name == "ew_lb_frontends") | .entries),
		 tables: (.[] | select(.name == "ew_lb_maglev") | .entries),
		 bytes: ((map(.memlock // 0) | add) + (map(.inner.memlock // 0) | add)),
		 maps: map({name, memlock, entries, inner})}'
}

# A store directory DIR holding node-a with pod CIDR CIDR.
cp_store_new() { # DIR CIDR
	mkdir -p "$1"
	cat >"$1/node.yaml" <<EOF
apiVersion: v1
kind: Node
metadata: {name: node-a}
spec: {podCIDR: $2}
status:
  addresses: [{type: InternalIP, address: $CP_NODE_IP}]
EOF
}

# Starts an agent NAME on STORE in a new netns NETNS, its pins under BPFFS (all removed on
# exit), logging to $WORK/NAME.log; more agent options may follow. Its pid in CP_PID.
cp_agent_start() { # NAME STORE NETNS BPFFS [OPTION...]
	local name=$1 store=$2 ns=$3 bpffs=$4
	shift 4
	netns_new "$ns"
	CLEANUP_CMDS+=("rm -rf '$bpffs'")
	start_in_ns "$ns" "$WORK/$name.log" "$BUILD/edgewire-agent" --node node-a --store "$store" \
		--bpffs "$bpffs" --socket "$WORK/$name.sock" --state-dir "$WORK/$name-state" "$@"
	CP_PID=$!
}

# The "programmed" lines of an agent's log that wrote something, in order.
cp_programmed_lines() { # LOG
	grep ' programmed .* [1-9][0-9]* written' "$1" || true
}

# The agent's /metrics (over its netns' loopback), as {metric{labels}: value}.
cp_metrics() { # NETNS
	# shellcheck disable=SC2016 # expanded by the inner bash
	in_ns "$1" bash -c 'exec 3<>"/dev/tcp/${0%:*}/${0##*:}" && printf "GET /metrics HTTP/1.0\r\n\r\n" >&3 && cat <&3' \
		"$CP_METRICS_ADDR" 2>/dev/null | awk '/^edgewire_(apply_duration|store_change_to_programmed)_seconds/ {print $1, $2}' |
		jq -R -s -c 'split("\n") | map(select(length > 0) | split(" ") | {(.[0]): (.[1] | tonumber)}) | add // {}'
}

# One more policy, cp/edit, its port 9000 + I: the file written whole, moved into place.
cp_edit_policy() { # STORE I
	cat >"$WORK/cp-edit.yaml" <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: edit, namespace: cp}
spec:
  podSelector: {matchLabels: {app: a0}}
  policyTypes: [Ingress]
  ingress: [{from: [{podSelector: {matchLabels: {app: a1}}}], ports: [{protocol: TCP, port: $((9000 + $2))}]}]
EOF
	mv "$WORK/cp-edit.yaml" "$1/edit.yaml"
}

# The policy edits: {params, edit_ms, apply_ms, metrics, rss_kib, targets, ...} on stdout.
cp_policy_edits() {
	local store=$WORK/cp-policy-store ns=$RUN_ID-cpp bpffs=/sys/fs/bpf/$RUN_ID-cpp
	local log=$WORK/cp-policy-agent.log pid i k have line t0 t1 rss hwm metrics cpu
	log "control_plane: $CP_EDITS policy edits with $CP_PODS pods and $CP_POLICIES policies"
	cp_store_new "$store" 10.244.0.0/16
	awk -v n="$CP_PODS" -v p="$CP_POLICIES" -f "$BENCH/lib/gen_pods_policies.awk" >"$store/pods.yaml"
	cp_edit_policy "$store" 0
	cp_agent_start cp-policy-agent "$store" "$ns" "$bpffs" --metrics-addr "$CP_METRICS_ADDR"
	pid=$CP_PID
	for ((i = 0; i < CP_TIMEOUT * 20; i++)); do
		[[ -z $(cp_programmed_lines "$log") ]] || break
		kill -0 "$pid" 2>/dev/null || { tail -n 5 "$log" >&2; die "control_plane: the policy agent exited"; }
		sleep 0.05
	done
	[[ -n $(cp_programmed_lines "$log") ]] ||
		die "control_plane: the agent did not program $CP_PODS pods and $CP_POLICIES policies in $CP_TIMEOUT s"
	: >"$WORK/cp-edits.jsonl"
	for ((k = 1; k <= CP_EDITS; k++)); do
		have=$(cp_programmed_lines "$log" | wc -l)
		t0=$EPOCHREALTIME
		cp_edit_policy "$store" "$k"
		line=
		for ((i = 0; i < 2000; i++)); do # 10 s
			line=$(cp_programmed_lines "$log" | sed -n "$((have + 1))p")
			[[ -z $line ]] || break
			sleep 0.005
		done
		[[ -n $line ]] || die "control_plane: edit $k of the policy was not programmed within 10 s"
		t1=$(date -d "$(cut -d' ' -f1 <<<"$line")" +%s.%N)
		jq -n -c --argjson t0 "$t0" --argjson t1 "$t1" --arg line "$line" \
			'{ms: (($t1 - $t0) * 1000), apply_ms: ($line | capture(" in (?<ms>[0-9.]+) ms").ms | tonumber),
			  log_line: $line}' >>"$WORK/cp-edits.jsonl"
		sleep 0.05
	done
	rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
	metrics=$(cp_metrics "$ns") # before the churn: the histograms are of the timed edits
	cpu=$(cp_cpu_usage "$pid" "$store" "$((CP_EDITS + 1))")
	hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
	stop_pids "$pid"
	wait "$pid" 2>/dev/null || true
	jq -s -c -L "$BENCH/lib" --argjson pods "$CP_PODS" --argjson policies "$CP_POLICIES" \
		--argjson rss "$rss" --argjson hwm "$hwm" --argjson metrics "$metrics" --argjson cpu "$cpu" \
		--argjson p99 "$CP_TARGET_EDIT_P99_MS" --argjson tr "$CP_TARGET_RSS_MIB" \
		--arg first "$(cp_programmed_lines "$log" | head -n 1)" 'include "stats";
		def pct($p): sort | .[(length * $p | ceil) - 1];
		(map(.ms) | pct(0.99)) as $edit_p99
		| {params: {pods: $pods, policies: $policies, edits: length,
			  store: "bench/lib/gen_pods_policies.awk: \($pods | commas) pods of this node in 100 label sets, \($policies | commas) NetworkPolicies of one ingress rule each, and the edited one"},
		 edit_ms: {p50: (map(.ms) | pct(0.5)), p99: $edit_p99, summary: (map(.ms) | summary)},
		 apply_ms: {p50: (map(.apply_ms) | pct(0.5)), p99: (map(.apply_ms) | pct(0.99)), summary: (map(.apply_ms) | summary)},
		 first_log_line: $first,
		 rss_kib: $rss, peak_rss_kib: $hwm, metrics: $metrics, cpu: $cpu,
		 edits: .,
		 targets: [
			{what: "store edit to datapath programmed, p99, with \($pods | commas) pods and \($policies | commas) policies at most \($p99) ms",
			 value: $edit_p99, unit: "ms", limit: $p99, met: ($edit_p99 <= $p99)},
			{what: "agent RSS with \($pods | commas) pods (and \($policies | commas) policies) at most \($tr) MiB",
			 value: ($rss / 1024), unit: "MiB", limit: $tr, met: ($rss / 1024 <= $tr)}
		 ]}' "$WORK/cp-edits.jsonl"
}

bench_control_plane() {
	local store=$WORK/cp-store ns=$RUN_ID-cp bpffs=/sys/fs/bpf/$RUN_ID-cp per=$((CP_ENDPOINTS / CP_SERVICES))
	local pid t0 t1 line="" i hwm usage programmed=false
	log "control_plane: cold start with $CP_SERVICES services and $CP_ENDPOINTS endpoints (timeout $CP_TIMEOUT s)"
	cp_store_new "$store" 10.244.1.0/24
	awk -v n="$CP_SERVICES" -v e="$per" -f "$BENCH/lib/gen_services.awk" >"$store/services.yaml"

	t0=$EPOCHREALTIME
	cp_agent_start cp-agent "$store" "$ns" "$bpffs" --metrics-addr none
	pid=$CP_PID
	for ((i = 0; i < CP_TIMEOUT * 20; i++)); do
		line=$(grep -m 1 ' programmed ' "$WORK/cp-agent.log" || true)
		[[ -z $line ]] || break
		kill -0 "$pid" 2>/dev/null || { tail -n 5 "$WORK/cp-agent.log" >&2; die "control_plane: the agent exited"; }
		sleep 0.05
	done
	t1=$EPOCHREALTIME
	hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
	usage=$(cp_map_usage "$bpffs")
	[[ -z $line ]] || programmed=true
	if $programmed; then
		# the log line's own time, not our polling's
		t1=$(date -d "$(cut -d' ' -f1 <<<"$line")" +%s.%N)
		log "control_plane: programmed after $(jq -n "$t1 - $t0 | . * 100 | round / 100") s, peak RSS $((hwm / 1024)) MiB"
	else
		log "control_plane: not programmed within $CP_TIMEOUT s; $(jq -r .frontends <<<"$usage") frontends so far"
	fi
	stop_pids "$pid"
	wait "$pid" 2>/dev/null || true # reaped here, so bash does not announce it (Killed)

	cp_policy_edits >"$WORK/cp-policy.json"
	jq -n -c -L "$BENCH/lib" --argjson services "$CP_SERVICES" --argjson endpoints "$CP_ENDPOINTS" \
		--argjson timeout "$CP_TIMEOUT" --argjson programmed "$programmed" \
		--argjson t0 "$t0" --argjson t1 "$t1" --argjson hwm_kib "$hwm" --argjson usage "$usage" \
		--arg line "$line" --argjson ts "$CP_TARGET_START_S" --argjson tm "$CP_TARGET_MAP_MIB" \
		--slurpfile policy "$WORK/cp-policy.json" '
		include "stats";
		{params: {services: $services, endpoints: $endpoints, timeout_s: $timeout,
			  store: "bench/lib/gen_services.awk: \($services | commas) Services, each with an EndpointSlice of \($endpoints / $services) endpoints"},
		 cold_start: {programmed: $programmed, seconds: (if $programmed then $t1 - $t0 else null end),
			      waited_s: ($t1 - $t0), log_line: $line,
			      frontends: $usage.frontends, tables: $usage.tables},
		 peak_rss_kib: $hwm_kib,
		 map_memory: {bytes: $usage.bytes, maps: $usage.maps, complete: $programmed},
		 policy: $policy[0],
		 targets: [
			{what: "cold start with \($services | commas) services and \($endpoints | commas) endpoints at most \($ts) s",
			 value: (if $programmed then $t1 - $t0 else null end), unit: "s", limit: $ts,
			 met: ($programmed and $t1 - $t0 <= $ts)},
			{what: "BPF map memory with \($services | commas) services at most \($tm) MiB",
			 value: ($usage.bytes / 1048576), unit: "MiB", limit: $tm,
			 met: (if $programmed then $usage.bytes / 1048576 <= $tm else null end)}
		 ]}'
}

report_control_plane() { # RESULTS_JSON
	jq -r -L "$BENCH/lib" 'include "stats";
	.sections.control_plane as $s
	| .sections.services.map_memory as $svc
	| def mib: . / 1048576 | sig;
	"## 6. Control plane: cold start and policy edits",
	"",
	"The agent started on a store of \($s.params.store) (\($s.params.endpoints | commas) endpoints), in a netns and bpffs directory of its own with nothing pinned: the time from starting it to its first `programmed` log line (that line'\''s timestamp), its peak RSS (`VmHWM`) then, and the memory of its pinned maps (`bpfctl --json maps`: each map'\''s memlock, the inner Maglev arrays included). It was given \($s.params.timeout_s) s.",
	"",
	(["", ""] | row), "|---|---|",
	(["cold start to programmed", (if $s.cold_start.programmed then "\($s.cold_start.seconds | sig) s" else "**not programmed within \($s.params.timeout_s) s**: \($s.cold_start.frontends) of \($s.params.services | commas) frontends, \($s.cold_start.tables | commas) tables written by then" end)] | row),
	(["the agent'\''s log line", (if $s.cold_start.programmed then "`\($s.cold_start.log_line | sub("^[^ ]+ +[^ ]+ +[^ ]+ +"; ""))`" else "–" end)] | row),
	(["peak RSS (VmHWM)", "\($s.peak_rss_kib / 1024 | sig) MiB"] | row),
	(["BPF map memory", "\($s.map_memory.bytes | mib) MiB" + (if $s.map_memory.complete then "" else " (not all programmed)" end)] | row),
	(if $svc != null then (["BPF map memory, services section", "\($svc.bytes | mib) MiB with \($svc.services | commas) services of 3 backends each (\($svc.inner_maps | commas) Maglev tables), programmed in full"] | row) else empty end),
	"",
	"Map memory by map (" + (if $svc != null then "services section, \($svc.services | commas) services" else "cold start" end) + "): " +
		(($svc.maps // $s.map_memory.maps) | map(select(.memlock != null and .memlock >= 65536)) | sort_by(-.memlock)
		 | map("\(.name) \(.memlock | mib) MiB" + (if .inner != null then " + \(.inner.memlock | mib) MiB in \(.inner.maps | commas) inner arrays" else "" end)) | join(", ")) + "; the rest under 64 KiB each.",
	"",
	# Where it goes: the Maglev tables grow with the services; the two LRU maps are
	# preallocated (the kernel allows no other kind), their size whatever they hold.
	(($svc.maps // $s.map_memory.maps) as $m | ($svc.bytes // $s.map_memory.bytes) as $all
	 | ([$s.targets[] | select(.what | test("map memory")) | .limit] | first // 64) as $limit
	 | ([$m[] | select(.name == "ew_lb_maglev")] | first) as $mg
	 | ([$m[] | select(.name == "ew_ct" or .name == "ew_lb_affinity") | .memlock] | add // 0) as $lru
	 | ([$m[] | select(.name == "ew_lb_affinity") | .entries] | first // 0) as $aff
	 | (if $mg == null then 0 else $mg.memlock + ($mg.inner.memlock // 0) end) as $maglev
	 | (if ($mg.inner.maps // 0) > 0 then "\($mg.inner.memlock / $mg.inner.maps / 1024 | sig) KiB per table, " else "" end) as $per
	 | ($all / 1048576 - $limit) as $over
	 | "Where it goes: the Maglev tables \($maglev | mib) MiB (\($per)the outer map included); the two preallocated LRU maps `ew_ct` and `ew_lb_affinity` \($lru | mib) MiB whatever they hold (`ew_lb_affinity` held \($aff | commas) entries); all other maps \(($all - $maglev - $lru) | mib) MiB. "
	   + (if $over > 0 then "\($over * 100 | round / 100) MiB over the target of \($limit) MiB; the notes below say what would bring it under." else "Within the target of \($limit) MiB." end)),
	"",
	(if $s.policy != null then $s.policy as $p
	| def ms: "\(.p50 | sig) / \(.p99 | sig) ms (\(.summary.min | sig)–\(.summary.max | sig))";
	  def bucket(name; le): $p.metrics["\(name)_bucket{le=\"\(le)\"}"] as $b | $p.metrics["\(name)_count"] as $n
		| if $b == null or $n == null or $n == 0 then "–" else "\($b * 100 / $n | round)% of \($n)" end;
	"Policy edits: another agent, on a store of \($p.params.store), given \($p.params.edits) edits of that policy one after another (its port changes, so its `ew_policy` entry is replaced): each edit'\''s time from the file moved into the store to the agent'\''s next `programmed` log line that wrote something (that line'\''s timestamp, ms resolution), and the apply time that line states (compile and map writes; the agent reads the store once it has been quiet for 20 ms, to batch an editor'\''s writes, and parses only the files that changed).",
	"",
	(["", "p50 / p99 (range)"] | row), "|---|---|",
	(["store edit to datapath programmed", ($p.edit_ms | ms)] | row),
	(["the agent'\''s apply (\"programmed ... in X ms\")", ($p.apply_ms | ms)] | row),
	(["the agent'\''s /metrics: changes programmed within 100 ms / 250 ms (`edgewire_store_change_to_programmed_seconds`)", "\(bucket("edgewire_store_change_to_programmed_seconds"; "0.1")) / \(bucket("edgewire_store_change_to_programmed_seconds"; "0.25"))"] | row),
	(["the agent'\''s /metrics: applies within 10 ms / 25 ms (`edgewire_apply_duration_seconds`, the first one included)", "\(bucket("edgewire_apply_duration_seconds"; "0.01")) / \(bucket("edgewire_apply_duration_seconds"; "0.025"))"] | row),
	(["agent RSS after the edits (peak, the churn below included)", "\($p.rss_kib / 1024 | sig) MiB (\($p.peak_rss_kib / 1024 | sig) MiB)"] | row),
	(if $p.cpu != null then
	(["agent CPU idle (no store change for \($p.cpu.seconds) s)", (if $p.cpu.idle.cpu_s == 0 then "below \($p.cpu.tick_s / $p.cpu.idle.wall_s * 100 | sig)% of one core (not one clock tick of \($p.cpu.tick_s * 1000 | sig) ms in \($p.cpu.idle.wall_s | sig) s)" else "\($p.cpu.idle.cpu_pct | sig)% of one core (\($p.cpu.idle.cpu_s | sig) s of CPU in \($p.cpu.idle.wall_s | sig) s)" end)] | row),
	(["agent CPU under churn (a policy edit every \($p.cpu.churn_ms) ms for \($p.cpu.seconds) s, not waiting for the agent)", "\($p.cpu.churn.cpu_pct | sig)% of one core (\($p.cpu.churn.cpu_s | sig) s of CPU in \($p.cpu.churn.wall_s | sig) s, \($p.cpu.churn.edits) edits)"] | row)
	else empty end),
	(["its first log line", "`\($p.first_log_line | sub("^[^ ]+ +[^ ]+ +[^ ]+ +"; ""))`"] | row),
	""
	else empty end),
	"### Targets (#8)",
	"",
	(["target", "measured", "verdict"] | row), "|---|---:|---|",
	(($s.targets + ($s.policy.targets // []))[] | [.what, (if .value == null then "–" else "\(.value | sig) \(.unit)" end),
		(if .met == null then "not measured" elif .met then "met" else "**missed**" end)] | row),
	(if $svc != null then (["BPF map memory with \($svc.services | commas) services at most 64 MiB (services section)", "\($svc.bytes | mib) MiB", (if $svc.bytes / 1048576 <= 64 then "met" else "**missed**" end)] | row) else empty end),
	""
	' "$1"
}
