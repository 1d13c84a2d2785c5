# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Section 8, issue #6's benchmark: what L7 (HTTP) enforcement costs. wrk against nginx in a
# server pod whose port 80 is allowed to the client pod by one CiliumNetworkPolicy, in turn:
#   l4  the port without `rules`: the connections stay in the kernel (bpf_lxc, EW_CT_POLICY)
#   l7  the same port with `rules: {http: [{method: GET, path: "/files/.*"}]}`: every
#       connection is handed to the node's edgewire-proxy, which parses and checks each
#       request and forwards it to nginx on a second connection (every one is allowed)
# with the server on the client's node (same_node) and on another node (cross_node, over
# edgewire's VXLAN; the server's node polices its ingress). One two-node lab of its own
# (lab ${RUN_ID}l7, store written here); switching is replacing the policy file in its store.
# Requests/s, p50 and p99 (wrk --latency), CPU time per request of the processes on the path
# (wrk, nginx, the proxies) and of the whole machine, over REPS repetitions, the policies and
# placements taking turns going first; the ratios are L7 / L4 of the medians. And the
# proxies' memory (/proc/PID/status) and the HTTP requests they judged.

L7_LAB_NAME=${RUN_ID}l7
L7_NODES=(node-a node-b)
L7_PLACEMENTS=(l7:same_node l7:cross_node) # keys of lib/topo.sh's CLIENT_NS, SERVER_NS, SERVER_IP
L7_POLICIES=(l4 l7)
L7_THREADS=1      # wrk's; with nginx's one worker and the proxy's one loop, on 2 cores
L7_CONNECTIONS=10 # kept alive; under l7 each is a pair, client-proxy and proxy-nginx
L7_PROGRAM_TIMEOUT=20 # seconds the agents and the proxies may take to apply a policy
L7_PATH_RULE='/files/.*'
L7_STORE=
L7_SECONDS= # l7_seconds, when the section starts

declare -gA L7_SERVER_POD=([l7:same_node]=bench/server [l7:cross_node]=bench/server-b)
declare -gA L7_SERVER_NODE=([l7:same_node]=node-a [l7:cross_node]=node-b)
declare -gA L7_NGINX_PID=()

l7_lab() { lab_of "$L7_LAB_NAME" "$@"; }
l7_lab_down() { l7_lab down >/dev/null 2>&1; }

# wrk's duration: bench/run's HTTP_SECONDS is for 100 connections and 1 s in quick mode;
# these runs are fewer connections and must steady a proxy in the path.
l7_seconds() {
	case $MODE in
	smoke) echo 1 ;;
	quick) echo 3 ;;
	*) echo 8 ;;
	esac
}

# The lab's store: two nodes, the client and a server on node-a, a second server on node-b,
# both servers labelled app=server for the one policy. No ports: nginx is started here.
l7_write_store() { # DIR
	mkdir -p "$1"
	cat >"$1/cluster.yaml" <<'EOF'
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Node
    metadata: {name: node-a}
    spec: {podCIDR: 10.244.1.0/24}
    status: {addresses: [{type: InternalIP, address: 192.168.77.11}]}
  - apiVersion: v1
    kind: Node
    metadata: {name: node-b}
    spec: {podCIDR: 10.244.2.0/24}
    status: {addresses: [{type: InternalIP, address: 192.168.77.12}]}
  - apiVersion: v1
    kind: Namespace
    metadata: {name: bench}
  - apiVersion: v1
    kind: Pod
    metadata: {name: client, namespace: bench, labels: {app: client}}
    spec: {nodeName: node-a, containers: [{name: client, image: wrk}]}
    status: {podIP: 10.244.1.10}
  - apiVersion: v1
    kind: Pod
    metadata: {name: server, namespace: bench, labels: {app: server}}
    spec: {nodeName: node-a, containers: [{name: server, image: nginx}]}
    status: {podIP: 10.244.1.20}
  - apiVersion: v1
    kind: Pod
    metadata: {name: server-b, namespace: bench, labels: {app: server}}
    spec: {nodeName: node-b, containers: [{name: server, image: nginx}]}
    status: {podIP: 10.244.2.20}
EOF
}

# The policy of POLICY (l4 or l7) as a store file, on stdout.
l7_policy_yaml() { # POLICY
	local rules=
	[[ $1 == l4 ]] || rules="
          rules: {http: [{method: GET, path: \"$L7_PATH_RULE\"}]}"
	cat <<EOF
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: bench-server-http, namespace: bench}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
    - fromEndpoints: [{matchLabels: {app: client}}]
      toPorts:
        - ports: [{port: "$HTTP_PORT", protocol: TCP}]$rules
EOF
}

l7_setup() {
	local k
	L7_STORE=$WORK/store-l7
	l7_write_store "$L7_STORE"
	CLEANUP_CMDS+=(l7_lab_down)
	if ! l7_lab up "$L7_STORE" >"$WORK/l7lab-up.log" 2>&1; then
		tail -n 20 "$WORK/l7lab-up.log" >&2
		die "l7: the two-node edgewire lab did not come up (log above)"
	fi
	setup_register l7:same_node "$L7_LAB_NAME-pod-bench-client" "$L7_LAB_NAME-pod-bench-server" \
		"$(l7_lab ip bench/server)" \
		"client and server pods on node-a: bpf_lxc between their veths (L4), or through node-a's edgewire-proxy (L7)"
	setup_register l7:cross_node "$L7_LAB_NAME-pod-bench-client" "$L7_LAB_NAME-pod-bench-server-b" \
		"$(l7_lab ip bench/server-b)" \
		"client pod on node-a, server pod on node-b, over edgewire's VXLAN: the server's node polices its ingress, so L7 goes through node-b's edgewire-proxy"
	for k in "${L7_PLACEMENTS[@]}"; do
		setup_check "$k"
		http_server_start "${SERVER_NS[$k]}"
		# shellcheck disable=SC2153 # lib/common.sh's
		L7_NGINX_PID[$k]=${CLEANUP_PIDS[-1]} # nginx itself: start_in_ns's nsenter execs it
		wait_listening "${SERVER_NS[$k]}" "$HTTP_PORT" ||
			die "l7: nginx did not start in ${SERVER_NS[$k]}: $(tail -n 3 "$WORK/nginx-${SERVER_NS[$k]}/error.log" 2>/dev/null)"
	done
}

# --- switching policies ----------------------------------------------------------------------------

# The status code of one GET PATH from the client pod to IP:HTTP_PORT, on a new connection.
l7_status() { # NETNS IP PATH
	# shellcheck disable=SC2016 # expanded by the inner bash
	in_ns "$1" timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2" &&
		printf "GET %s HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n" "$3" >&3 &&
		read -r _ code _ <&3 && echo "$code"' _ "$2" "$HTTP_PORT" "$3" 2>/dev/null || true
}

# Whether POLICY is in force for placement KEY: the server pod's entry for the client is
# L7 or not in its node's maps, wrk's file is served, and a path the rule does not allow is
# denied by the proxy (403) under l7 and reaches nginx (404) under l4.
l7_in_force() { # KEY POLICY
	local k=$1 want=false denied=404 l7
	[[ $2 == l4 ]] || { want=true denied=403; }
	l7=$(lab_bpfctl "$L7_LAB_NAME" "${L7_SERVER_NODE[$k]}" --json policy "${L7_SERVER_POD[$k]}" |
		jq --argjson port "$HTTP_PORT" '[.allowed[] | select(.direction == "ingress" and
			.ports.from <= $port and .ports.to >= $port) | .l7] | if length == 1 then .[0] else null end')
	[[ $l7 == "$want" ]] &&
		[[ $(l7_status "${CLIENT_NS[$k]}" "${SERVER_IP[$k]}" "/$HTTP_FILE") == 200 ]] &&
		[[ $(l7_status "${CLIENT_NS[$k]}" "${SERVER_IP[$k]}" /not-files/x) == "$denied" ]]
}

# Replaces the policy file by POLICY's and waits until it is in force for every placement;
# {policy, rep, seconds} on stdout.
l7_apply() { # POLICY REP
	local file=$L7_STORE/bench-server-http.yaml t0 k i ok
	t0=$EPOCHREALTIME
	l7_policy_yaml "$1" >"$WORK/l7-policy.yaml"
	mv "$WORK/l7-policy.yaml" "$file" # one inotify event, a whole file
	for k in "${L7_PLACEMENTS[@]}"; do
		ok=
		for ((i = 0; i < L7_PROGRAM_TIMEOUT * 10; i++)); do
			l7_in_force "$k" "$1" && { ok=1; break; }
			sleep 0.1
		done
		[[ -n $ok ]] ||
			die "l7: after $L7_PROGRAM_TIMEOUT s the $1 policy is not in force for ${L7_SERVER_POD[$k]} (agent log: $(tail -n 2 "/run/edgewire-lab/$L7_LAB_NAME/${L7_SERVER_NODE[$k]}/agent.log"))"
	done
	jq -n -c --arg p "$1" --argjson rep "$2" --argjson t0 "$t0" --argjson t1 "$EPOCHREALTIME" \
		'{policy: $p, rep: $rep, seconds: ($t1 - $t0)}'
}

# --- the proxies -----------------------------------------------------------------------------------

l7_proxy_pid() { cat "/run/edgewire-lab/$L7_LAB_NAME/$1/proxy.pid"; } # NODE

# Clock ticks PID... have run (user + system: their syscalls, and the softirq work that
# interrupted them, included).
l7_ticks() { # PID...
	local pid t=0 f
	for pid in "$@"; do
		read -ra f <"/proc/$pid/stat" # nginx and edgewire-proxy: no space in comm
		t=$((t + f[13] + f[14]))
	done
	echo "$t"
}

l7_proxy_ticks() {
	local n pids=()
	for n in "${L7_NODES[@]}"; do
		pids+=("$(l7_proxy_pid "$n")")
	done
	l7_ticks "${pids[@]}"
}

# User + system milliseconds of the children this shell waited for (wrk, in a run), into
# VAR: bash's `times`, never in a subshell (it would count the subshell's children).
l7_children_ms() { # VAR
	local u s
	times >"$WORK/l7.times"
	{ read -r _; read -r u s; } <"$WORK/l7.times" # "0m1.234s 0m0.567s", children second
	u=${u%s} s=${s%s}
	u=${u/./} s=${s/./} # minutes "m" seconds with three decimals: "0m1234" is 1234 ms
	printf -v "$1" %d $(((${u%%m*} + ${s%%m*}) * 60000 + 10#${u#*m} + 10#${s#*m}))
}

# {NODE: {rss_kib, peak_rss_kib}} of the proxies now.
l7_proxy_memory() {
	local n
	for n in "${L7_NODES[@]}"; do
		awk -v n="$n" '/^VmRSS:/ {rss = $2} /^VmHWM:/ {hwm = $2}
			END {printf "{\"%s\":{\"rss_kib\":%d,\"peak_rss_kib\":%d}}\n", n, rss, hwm}' \
			"/proc/$(l7_proxy_pid "$n")/status"
	done | jq -s -c add
}

# HTTP requests the proxies judged, {"allowed": N, "denied": N, "dropped": N}, both nodes.
l7_proxy_requests() {
	local n
	for n in "${L7_NODES[@]}"; do
		lab_bpfctl "$L7_LAB_NAME" "$n" --json stats --policy
	done | jq -s -c '[.[].httpRequests[]] | group_by(.verdict)
		| map({(.[0].verdict): (map(.requests) | add)}) | add // {}'
}

# --- runs ------------------------------------------------------------------------------------------

# One wrk run (lib/pod_to_pod.sh's, with this section's threads, connections and duration)
# as a JSON line, with the CPU time of the processes on the path per request: wrk's (and
# the harness's few jq calls around it), nginx's and the proxies'. Unlike the machine's,
# it leaves out whatever else runs on this shared machine.
l7_run() { # KEY POLICY REP
	# shellcheck disable=SC2034 # http_client (lib/pod_to_pod.sh) reads them, dynamically scoped
	local HTTP_THREADS=$L7_THREADS HTTP_CONNECTIONS=$L7_CONNECTIONS HTTP_SECONDS=$L7_SECONDS
	local proxy0 nginx0 client0 client1 line
	proxy0=$(l7_proxy_ticks)
	nginx0=$(l7_ticks "${L7_NGINX_PID[@]}")
	l7_children_ms client0
	line=$(p2p_run "l7 $2" "$1" http "$3")
	l7_children_ms client1
	jq -c --arg p "$2" --argjson hz "$CLK_TCK" --argjson proxy "$(($(l7_proxy_ticks) - proxy0))" \
		--argjson nginx "$(($(l7_ticks "${L7_NGINX_PID[@]}") - nginx0))" \
		--argjson client "$((client1 - client0))" '
		{proxy_s: ($proxy / $hz), server_s: ($nginx / $hz), client_s: ($client / 1000)} as $c
		| . + {policy: $p, proxy_cpu_s: $c.proxy_s, path_cpu_s: ($c | add),
		       proxy_cpu_us_per_req: ($c.proxy_s * 1e6 / .requests),
		       path_cpu_us_per_req: (($c | add) * 1e6 / .requests),
		       client_cpu_us_per_req: ($c.client_s * 1e6 / .requests),
		       server_cpu_us_per_req: ($c.server_s * 1e6 / .requests)}' <<<"$line"
}

l7_log_run() { # RUN_JSON
	jq -r '"l7: \(.setup) \(.policy) rep \(.rep): \(.per_s | round) req/s, p50 \(.p50_ms * 100 | round / 100) ms, p99 \(.p99_ms * 100 | round / 100) ms, \(.cpu_us_per_req | round) us CPU/req (path \(.path_cpu_us_per_req | round), proxies \(.proxy_cpu_us_per_req | round)), \(.errors) errors, machine \(.busy_share * 100 | round)% busy"' <<<"$1" |
		while read -r l; do log "$l"; done
}

bench_l7() {
	local rep pol k line pols places requests_before requests_after memory_idle memory
	L7_SECONDS=$(l7_seconds)
	log "l7: building the two-node lab $L7_LAB_NAME (wrk -t$L7_THREADS -c$L7_CONNECTIONS -d${L7_SECONDS}s)"
	l7_setup
	memory_idle=$(l7_proxy_memory)
	requests_before=$(l7_proxy_requests)
	: >"$WORK/l7.runs"
	: >"$WORK/l7.switches"
	for ((rep = 1; rep <= REPS; rep++)); do
		mapfile -t pols < <(rotation "$rep" "${L7_POLICIES[@]}")
		mapfile -t places < <(rotation "$rep" "${L7_PLACEMENTS[@]}")
		for pol in "${pols[@]}"; do
			line=$(l7_apply "$pol" "$rep")
			echo "$line" >>"$WORK/l7.switches"
			log "l7: $pol policy in force in $(jq '.seconds * 1000 | round' <<<"$line") ms"
			for k in "${places[@]}"; do
				line=$(l7_run "$k" "$pol" "$rep")
				echo "$line" >>"$WORK/l7.runs"
				l7_log_run "$line"
			done
		done
	done
	requests_after=$(l7_proxy_requests)
	memory=$(l7_proxy_memory)
	jq -s -c -L "$BENCH/lib" -f "$BENCH/sections/l7.jq" \
		--argjson setups "$(p2p_setups_json "${L7_PLACEMENTS[@]}")" \
		--argjson params "$(jq -n -c --argjson reps "$REPS" --argjson s "$L7_SECONDS" \
			--argjson t "$L7_THREADS" --argjson c "$L7_CONNECTIONS" --arg f "$HTTP_FILE" \
			--argjson b "$HTTP_FILE_BYTES" --arg rule "$L7_PATH_RULE" --argjson port "$HTTP_PORT" \
			--arg nginx "$(nginx -v 2>&1)" --arg wrk "$(wrk -v 2>&1 | head -n 1)" \
			'{repetitions: $reps, seconds: $s, threads: $t, connections: $c, port: $port,
			  path_rule: $rule, http_file_bytes: $b, wrk_version: $wrk,
			  wrk: "wrk -t\($t) -c\($c) -d\($s)s --latency http://SERVER/\($f)",
			  http_server: "\($nginx), 1 worker, sendfile, keepalive, no access log"}')" \
		--slurpfile switches "$WORK/l7.switches" \
		--argjson memory_idle "$memory_idle" --argjson memory "$memory" \
		--argjson before "$requests_before" --argjson after "$requests_after" "$WORK/l7.runs"
	l7_lab_down # its agents and proxies would only add to the later sections' background
}

# --- docs/benchmarks.md -----------------------------------------------------------------------------

report_l7() { # RESULTS_JSON
	jq -r -L "$BENCH/lib" 'include "stats";
	.sections.l7 as $s
	| ($s.setups | keys_unsorted) as $places
	| def place_name: {same_node: "same node", cross_node: "cross node"}[.] // .;
	  def line(name; m; scale):
		[name] + ($places | map(. as $p
			| ([$s.summary[$p].l4[m], $s.summary[$p].l7[m]]
			   | map(if . == null then null else with_entries(if .key == "n" then . else .value *= scale end) end
			   | cell))
			+ [$s.ratios[$p][m] | times]) | add) | row;
	  def fig(p; pol; m): $s.summary[p][pol][m].median | sig;
	  def x(p; m): $s.ratios[p][m] | times;
	  def mem($m): $m | to_entries | map("\(.key) \(.value.rss_kib | commas) KiB (peak \(.value.peak_rss_kib | commas) KiB)") | join(", ");
	"## 8. L7 policy: HTTP through edgewire-proxy vs an L4 allow",
	"",
	"What HTTP enforcement costs (issue #6): wrk against nginx in a server pod whose port \($s.params.port) one `CiliumNetworkPolicy` allows to the client pod, either without `rules` (**L4**: connections stay in the kernel, `bpf_lxc` and its connection tracking) or with `rules: {http: [{method: GET, path: \"\($s.params.path_rule)\"}]}` (**L7**: the datapath hands every connection to the node'\''s `edgewire-proxy`, which parses and checks each request, all of them allowed, and forwards it to nginx on a connection of its own from the client'\''s address). The policies are switched by replacing the policy file in the lab'\''s store; before each set of runs the harness waits until the server pod'\''s entry is (or is not) L7 in `bpfctl policy` and a path the rule does not allow gets 403 from the proxy (L7) or 404 from nginx (L4). A two-node lab of its own, \($s.params.repetitions) repetition(s), the policies and the placements taking turns going first; median (range); ratios are L7 / L4 of the medians. *Path CPU* is the user and system time of the processes on the path, per request: wrk (`getrusage` of the harness'\''s children, its few `jq` calls around each run included), nginx and both nodes'\'' proxies (`/proc/PID/stat`), their system calls and the softirq work that interrupted them included; unlike the *machine'\''s* busy and softirq time (`/proc/stat`, all cores), it leaves out whatever else runs on this shared machine (the two are accounted differently: on a quiet machine the path may read a few % above the machine).",
	"",
	(["placement", "what"] | row), "|---|---|",
	($places[] as $p | ["**\($p | place_name)**", "\($s.setups[$p].description); server \($s.setups[$p].server_ip)"] | row),
	"",
	([""] + ($places | map(place_name | "\(.) L4", "\(.) L7", "\(.) L7 / L4")) | row),
	"|---|" + ($places | map("---:|---:|---:|") | join("")),
	line("requests/s"; "per_s"; 1),
	line("latency p50, ms"; "p50_ms"; 1),
	line("latency p99, ms"; "p99_ms"; 1),
	line("path CPU µs/request: wrk, nginx, proxies"; "path_cpu_us_per_req"; 1),
	line("of which wrk"; "client_cpu_us_per_req"; 1),
	line("of which nginx"; "server_cpu_us_per_req"; 1),
	line("of which the proxies"; "proxy_cpu_us_per_req"; 1),
	line("machine busy CPU µs/request"; "cpu_us_per_req"; 1),
	line("machine softirq µs/request"; "softirq_us_per_req"; 1),
	line("machine busy %"; "busy_share"; 100),
	"",
	"HTTP is `\($s.params.wrk)` (\($s.params.wrk_version | split(" ")[0:2] | join(" "))) from the client pod, \($s.params.connections) kept-alive connections on one thread, against \($s.params.http_server), serving a static file of \($s.params.http_file_bytes) bytes; latency is wrk'\''s, per request. Failed requests (median; socket errors and non-2xx/3xx answers), L4 / L7: " +
	($places | map("\(place_name) \($s.summary[.].l4.errors.median | sig) / \($s.summary[.].l7.errors.median | sig)") | join(", ")) +
	". The proxies judged \($s.proxy_requests.allowed // 0 | commas) requests allowed, \($s.proxy_requests.denied // 0 | commas) denied (the switch checks'\'') and \($s.proxy_requests.dropped // 0 | commas) malformed during this section; wrk completed \($s.l7_requests | commas) in its L7 runs. Applying a policy, from the file replaced to both placements checked: \($s.switch_s.median * 1000 | round) ms median (\($s.switch_s.min * 1000 | round)–\($s.switch_s.max * 1000 | round) ms).",
	"",
	"edgewire-proxy'\''s memory (VmRSS of `/proc/PID/status`, one proxy per node): idle before the runs \(mem($s.proxy_memory_idle)); after them \(mem($s.proxy_memory)).",
	"",
	"### Reading",
	"",
	"- **What L7 costs here.** " +
	($places | map(. as $p | "\($p | place_name): requests/s \(x($p; "per_s")), p50 \(x($p; "p50_ms")), p99 \(x($p; "p99_ms")); path CPU per request \(x($p; "path_cpu_us_per_req")) (\(fig($p; "l4"; "path_cpu_us_per_req")) → \(fig($p; "l7"; "path_cpu_us_per_req")) µs, the proxy'\''s own \(fig($p; "l7"; "proxy_cpu_us_per_req")) µs of it)") | join("; ")) + ".",
	"- **Where it goes.** Under L4 a request is one TCP exchange between the pods, which `bpf_lxc` forwards veth to veth. Under L7 each client connection is two: the client'\''s, which the node'\''s stack delivers to the proxy'\''s socket (`bpf_sk_assign`), and the proxy'\''s own to nginx (`IP_TRANSPARENT`, from the client'\''s address). Each request and its \($s.params.http_file_bytes / 1024 | round) KiB answer are received and sent again in user space by the proxy'\''s single event loop (a 64 KiB buffer per direction and connection, `recv`/`send`, no splice): two extra TCP hops, every byte copied across the kernel boundary twice more, twice the segments and ACKs through the stack. On top of that the proxy parses each request head and matches the method and path patterns. The proxies'\'' row is that work, their socket calls included. wrk'\''s and nginx'\''s rows move too: the kernel charges a segment'\''s path through the stack to the process whose send or interrupted time carries it, so part of what wrk and nginx paid under L4 lands on the proxy under L7; compare the path totals.",
	"- **Throughput and latency.** wrk, nginx'\''s one worker and the proxy'\''s loop compete for \(.machine.cpus) cores; if the path'\''s CPU were all that bounds the rate, requests/s would fall to 1 / (the path CPU ratio): " +
	($places | map(. as $p | "\($p | place_name) \($s.ratios[$p].path_cpu_us_per_req | if . == null then null else 1 / . end | times) expected, \(x($p; "per_s")) measured") | join("; ")) +
	". Measured above expected means the L4 runs did not keep both cores busy (the machine busy row: wrk'\''s one thread and the round trips of 10 connections bound them) and the proxy ran on what they left idle; below, that something else took cores too. The proxy'\''s queueing adds to p50 and p99; it is one thread per node, so on a bigger machine its loop, not the cores, bounds a node'\''s L7 throughput.",
	(if .machine.background_busy_share > 0.3 then
	 "- **This run shared the machine**: \(.machine.background_busy_share * 100 | round)% of it was busy before the run, \(.machine.background_busy_share_after // 0 | . * 100 | round)% after. The machine'\''s CPU per request then counts that other work too, and the scheduler gives a third busy process on the path (the proxy) a larger share of a contended machine, which flatters L7'\''s requests/s; p99 is then mostly the other work'\''s scheduling stalls (see the ranges). Read the path CPU rows, and the ratios of a run on a quiet machine."
	 else empty end),
	"- **Cross node** the server'\''s node polices the ingress, so its proxy is in the path; the VXLAN hop between the nodes is paid with either policy.",
	"- Connections no HTTP rule applies to never meet the proxy (docs/l7.md): an L4 allow for the same peer and port lifts the check, and every other port and pod stays on the L4 path.",
	""
	' "$1"
}
