# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Pod to pod, for the sections that compare setups of two pods (same_node, cross_node):
#   tcp_p1, tcp_p4  iperf3 -P 1 / -P 4, client pod -> server pod
#   conn            short TCP connections per second (bench/connrate.c)
#   http            wrk -t2 -c100 --latency against nginx serving a static file
# and around every run the whole machine's busy and softirq CPU time (/proc/stat), so a
# cheaper datapath shows even where the load generator itself is the bottleneck.
# A setup is KEY in lib/topo.sh's CLIENT_NS, SERVER_NS and SERVER_IP; a KEY "SECTION:NAME"
# is recorded as NAME (two sections may both have an "edgewire"). Sourced after
# lib/common.sh and lib/topo.sh.

P2P_TESTS=(tcp_p1 tcp_p4 conn http)
IPERF_PORT=5201
CONN_PORT=7000
CONN_THREADS=2 # one per core of the machine the issue targets
HTTP_PORT=80
# #8's `wrk -t12 -c1000 -d30s http://IP/files/FILE`, scaled to 2 cores: a client thread per
# core, 100 connections (kept alive), HTTP_SECONDS long; FILE a static 4 KiB page.
HTTP_THREADS=2
HTTP_CONNECTIONS=100
HTTP_FILE=files/page-4k.html
HTTP_FILE_BYTES=4096

p2p_name() { echo "${1#*:}"; }

# nginx (Debian's) in NETNS on HTTP_PORT, one worker, no access log, serving $WORK/www;
# its files under $WORK/nginx-NETNS. In the foreground, without a master process, so its
# pid is the one start_in_ns registers for stopping.
http_server_start() { # NETNS
	local ns=$1 dir=$WORK/nginx-$1
	if [[ ! -f $WORK/www/$HTTP_FILE ]]; then
		mkdir -p "$(dirname "$WORK/www/$HTTP_FILE")"
		head -c "$HTTP_FILE_BYTES" /dev/zero | tr '\0' x >"$WORK/www/$HTTP_FILE"
	fi
	mkdir -p "$dir"
	cat >"$dir/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	tcp_nodelay on;
	keepalive_timeout 60s;
	keepalive_requests 10000000;
	client_body_temp_path $dir/body;
	proxy_temp_path $dir/proxy;
	fastcgi_temp_path $dir/fastcgi;
	default_type text/html;
	server {
		listen $HTTP_PORT;
		root $WORK/www;
	}
}
EOF
	start_in_ns "$ns" "$dir/nginx.log" nginx -c "$dir/nginx.conf" -p "$dir" -e "$dir/error.log"
}

# iperf3, ew-bench-connrate and nginx in the setup's server pod.
p2p_servers_start() { # KEY
	local k=$1 ns=${SERVER_NS[$1]}
	start_in_ns "$ns" "$WORK/${k/:/-}-iperf3.log" iperf3 -s -p "$IPERF_PORT"
	start_in_ns "$ns" "$WORK/${k/:/-}-connrate.log" \
		"$BUILD/bench/ew-bench-connrate" server --port "$CONN_PORT" --threads "$CONN_THREADS"
	http_server_start "$ns"
	wait_listening "$ns" "$IPERF_PORT" || die "setup $k: iperf3 -s did not start"
	wait_listening "$ns" "$CONN_PORT" || die "setup $k: ew-bench-connrate did not start"
	wait_listening "$ns" "$HTTP_PORT" ||
		die "setup $k: nginx did not start: $(tail -n 3 "$WORK/nginx-$ns/error.log" 2>/dev/null)"
}

# wrk's summary as one JSON line (bench/lib/wrk_json.lua), after its own --latency text.
http_client() { # NETNS IP
	local out
	out=$(in_ns "$1" wrk -t "$HTTP_THREADS" -c "$HTTP_CONNECTIONS" -d "${HTTP_SECONDS}s" --latency \
		-s "$BENCH/lib/wrk_json.lua" "http://$2/$HTTP_FILE") || {
		jq -n -c --arg o "$out" '{error: ("wrk failed: " + $o)}'
		return 1
	}
	tail -n 1 <<<"$out"
}

# The client's side of one run; its stdout is what `measured` merges the CPU time into.
p2p_client() { # KEY TEST
	local ns=${CLIENT_NS[$1]} ip=${SERVER_IP[$1]}
	case $2 in
	tcp_p1 | tcp_p4)
		in_ns "$ns" iperf3 -c "$ip" -p "$IPERF_PORT" -P "${2#tcp_p}" -t "$TCP_SECONDS" -J
		;;
	conn)
		in_ns "$ns" "$BUILD/bench/ew-bench-connrate" client --addr "$ip" --port "$CONN_PORT" \
			--seconds "$CONN_SECONDS" --threads "$CONN_THREADS"
		;;
	http) http_client "$ns" "$ip" ;;
	esac
}

# One run as a JSON line: what the client measured, CPU time, and per-unit costs.
p2p_run() { # LABEL KEY TEST REP
	local label=$1 k=$2 test=$3 out
	if ! out=$(measured p2p_client "$k" "$test"); then
		die "$label: $test on $k failed: $(jq -r '.error // empty' <<<"$out" 2>/dev/null)"
	fi
	jq -c --arg setup "$(p2p_name "$k")" --arg test "$test" --argjson rep "$4" --argjson cpus "$(nproc)" '
		(if $test == "conn" then
			{connections, errors, per_s: .per_second,
			 cpu_us_per_conn: (.cpu_s * 1e6 / .connections),
			 softirq_us_per_conn: (.softirq_s * 1e6 / .connections)}
		elif $test == "http" then
			{requests, errors, per_s: (.requests / .seconds),
			 p50_ms: (.p50_us / 1000), p99_ms: (.p99_us / 1000),
			 cpu_us_per_req: (.cpu_s * 1e6 / .requests),
			 softirq_us_per_req: (.softirq_s * 1e6 / .requests)}
		else
			(.end.sum_received.bytes) as $bytes |
			{bytes: $bytes, gbps: (.end.sum_received.bits_per_second / 1e9),
			 retransmits: (.end.sum_sent.retransmits // 0),
			 cpu_us_per_mb: (.cpu_s * 1e6 / ($bytes / 1e6)),
			 softirq_us_per_mb: (.softirq_s * 1e6 / ($bytes / 1e6))}
		end) + {setup: $setup, test: $test, rep: $rep, wall_s, cpu_s, softirq_s,
			busy_share: (.cpu_s / (.wall_s * $cpus))}' <<<"$out"
}

p2p_log_run() { # LABEL RUN_JSON
	jq -r --arg l "$1" '"\($l): \(.test) \(.setup) rep \(.rep): " +
		(if .test == "conn" then "\(.per_s | round) conn/s, \(.cpu_us_per_conn | round) us CPU/conn"
		 elif .test == "http" then "\(.per_s | round) req/s, p50 \(.p50_ms * 100 | round / 100) ms, p99 \(.p99_ms * 100 | round / 100) ms, \(.cpu_us_per_req | round) us CPU/req"
		 else "\(.gbps * 100 | round / 100) Gbit/s, \(.cpu_us_per_mb | round) us CPU/MB" end) +
		", machine \(.busy_share * 100 | round)% busy"' <<<"$2" | while read -r l; do log "$l"; done
}

# REPS repetitions of every test on every setup, into FILE (a JSON line a run): within a
# repetition test by test, the setups taking turns going first (rotation).
p2p_reps() { # LABEL FILE KEY...
	local label=$1 file=$2 rep test k line order
	shift 2
	: >"$file"
	for ((rep = 1; rep <= REPS; rep++)); do
		mapfile -t order < <(rotation "$rep" "$@")
		for test in "${P2P_TESTS[@]}"; do
			for k in "${order[@]}"; do
				line=$(p2p_run "$label" "$k" "$test" "$rep")
				echo "$line" >>"$file"
				p2p_log_run "$label" "$line"
			done
		done
	done
}

# {NAME: {description, server_ip}} of the setups.
p2p_setups_json() { # KEY...
	local k setups="{}"
	for k in "$@"; do
		setups=$(jq -c --arg s "$(p2p_name "$k")" --arg d "${SETUP_DESC[$k]}" --arg ip "${SERVER_IP[$k]}" \
			'. + {($s): {description: $d, server_ip: $ip}}' <<<"$setups")
	done
	echo "$setups"
}

# The section's params: what was run, for the report.
p2p_params_json() {
	jq -n -c --argjson reps "$REPS" --argjson tcp_s "$TCP_SECONDS" --argjson conn_s "$CONN_SECONDS" \
		--argjson threads "$CONN_THREADS" --argjson http_s "$HTTP_SECONDS" \
		--argjson ht "$HTTP_THREADS" --argjson hc "$HTTP_CONNECTIONS" --arg hf "$HTTP_FILE" \
		--argjson hb "$HTTP_FILE_BYTES" --arg nginx "$(nginx -v 2>&1)" --arg wrk "$(wrk -v 2>&1 | head -n 1)" \
		'{repetitions: $reps, tcp_seconds: $tcp_s, conn_seconds: $conn_s, conn_threads: $threads,
		  iperf3: "iperf3 -c SERVER -P 1|4 -t \($tcp_s) -J",
		  http_seconds: $http_s, http_file_bytes: $hb,
		  wrk: "wrk -t\($ht) -c\($hc) -d\($http_s)s --latency http://SERVER/\($hf)",
		  http_server: "\($nginx), 1 worker, sendfile, keepalive, no access log", wrk_version: $wrk}'
}
