# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Section 6 of #8, its cold start part: the agent started on a store of CP_SERVICES
# ClusterIP services with CP_ENDPOINTS endpoints in all (bench/lib/gen_services.awk), in a
# netns and bpffs directory of its own, with nothing pinned yet. Measured: the time from
# starting it to its first "programmed" log line, its peak RSS (VmHWM) then, and the
# memory of its pinned maps (bpfctl maps: memlock, the inner Maglev arrays included).
# The agent gets CP_TIMEOUT seconds; if it has not programmed everything by then, what it
# had is recorded and the target is missed.

CP_NODE_IP=192.168.77.11
CP_TARGET_START_S=2
CP_TARGET_MAP_MIB=64

# {frontends, tables, bytes, maps}: what the pinned maps under BPFFS hold now.
cp_map_usage() { # BPFFS
	"$BUILD/bpfctl" --bpffs "$1" --json maps 2>/dev/null | jq -c '
		{frontends: (.[] | select(.name == "ew_lb_frontends") | .entries),
		 tables: (.[] | select(.name == "ew_lb_maglev") | .entries),
		 bytes: ((map(.memlock // 0) | add) + (map(.inner.memlock // 0) | add)),
		 maps: map({name, memlock, entries, inner})}'
}

bench_control_plane() {
	local store=$WORK/cp-store ns=$RUN_ID-cp bpffs=/sys/fs/bpf/$RUN_ID-cp per=$((CP_ENDPOINTS / CP_SERVICES))
	local pid t0 t1 line="" i hwm usage programmed=false
	log "control_plane: cold start with $CP_SERVICES services and $CP_ENDPOINTS endpoints (timeout $CP_TIMEOUT s)"
	mkdir -p "$store"
	cat >"$store/node.yaml" <<EOF
apiVersion: v1
kind: Node
metadata: {name: node-a}
spec: {podCIDR: 10.244.1.0/24}
status:
  addresses: [{type: InternalIP, address: $CP_NODE_IP}]
EOF
	awk -v n="$CP_SERVICES" -v e="$per" -f "$BENCH/lib/gen_services.awk" >"$store/services.yaml"
	netns_new "$ns"
	CLEANUP_CMDS+=("rm -rf '$bpffs'")

	t0=$EPOCHREALTIME
	start_in_ns "$ns" "$WORK/cp-agent.log" "$BUILD/edgewire-agent" --node node-a --store "$store" \
		--bpffs "$bpffs" --socket "$WORK/cp-agent.sock" --state-dir "$WORK/cp-state" \
		--metrics-addr none
	pid=$!
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

	jq -n -c -L "$BENCH/lib" --argjson services "$CP_SERVICES" --argjson endpoints "$CP_ENDPOINTS" \
		--argjson timeout "$CP_TIMEOUT" --argjson programmed "$programmed" \
		--argjson t0 "$t0" --argjson t1 "$t1" --argjson hwm_kib "$hwm" --argjson usage "$usage" \
		--arg line "$line" --argjson ts "$CP_TARGET_START_S" --argjson tm "$CP_TARGET_MAP_MIB" '
		include "stats";
		{params: {services: $services, endpoints: $endpoints, timeout_s: $timeout,
			  store: "bench/lib/gen_services.awk: \($services | commas) Services, each with an EndpointSlice of \($endpoints / $services) endpoints"},
		 cold_start: {programmed: $programmed, seconds: (if $programmed then $t1 - $t0 else null end),
			      waited_s: ($t1 - $t0), log_line: $line,
			      frontends: $usage.frontends, tables: $usage.tables},
		 peak_rss_kib: $hwm_kib,
		 map_memory: {bytes: $usage.bytes, maps: $usage.maps, complete: $programmed},
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
	"## 6. Control plane: cold start",
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
	"### Targets (#8)",
	"",
	(["target", "measured", "verdict"] | row), "|---|---:|---|",
	($s.targets[] | [.what, (if .value == null then "–" else "\(.value | sig) \(.unit)" end),
		(if .met == null then "not measured" elif .met then "met" else "**missed**" end)] | row),
	(if $svc != null then (["BPF map memory with \($svc.services | commas) services at most 64 MiB (services section)", "\($svc.bytes | mib) MiB", (if $svc.bytes / 1048576 <= 64 then "met" else "**missed**" end)] | row) else empty end),
	""
	' "$1"
}
