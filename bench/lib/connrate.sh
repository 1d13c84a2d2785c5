# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Short TCP connections between pods (bench/connrate.c), for the sections that count
# connections per second and the CPU time per connection. Sourced after lib/common.sh.

# ew-bench-connrate servers, one thread each, on PORT in every NETNS; LABEL names their logs.
connrate_servers_start() { # LABEL PORT NETNS...
	local label=$1 port=$2 ns
	shift 2
	for ns in "$@"; do
		start_in_ns "$ns" "$WORK/$label-$ns-connrate.log" \
			"$BUILD/bench/ew-bench-connrate" server --port "$port" --threads 1
	done
	for ns in "$@"; do
		wait_listening "$ns" "$port" || die "$label: ew-bench-connrate did not start in $ns"
	done
}

connrate_client() { # NETNS ADDR PORT SECONDS THREADS
	in_ns "$1" "$BUILD/bench/ew-bench-connrate" client --addr "$2" --port "$3" --seconds "$4" \
		--threads "$5"
}

# One run of the client, with the machine's CPU time around it: a JSON line of
# connections/s and the busy and softirq µs per connection, and the fields of EXTRA (a
# JSON object naming the run). Fails with the client's output when it fails.
connrate_measure() { # EXTRA NETNS ADDR PORT SECONDS THREADS
	local extra=$1 out
	shift
	out=$(measured connrate_client "$@") || { echo "$out"; return 1; }
	jq -c --argjson extra "$extra" --argjson cpus "$(nproc)" '
		$extra + {connections, errors, per_s: .per_second,
		 cpu_us_per_conn: (.cpu_s * 1e6 / .connections),
		 softirq_us_per_conn: (.softirq_s * 1e6 / .connections),
		 busy_share: (.cpu_s / (.wall_s * $cpus)), wall_s, cpu_s, softirq_s}' <<<"$out"
}

# One run of a section comparing setups: SETUP's client in CLIENT_NS for CONN_SECONDS, as a
# JSON line naming SETUP, SCALE and REP. A baseline's conntrack table (in NODE_NS; none for
# edgewire) is flushed first, so each run starts alike.
connrate_section_run() { # LABEL NODE_NS SETUP SCALE REP CLIENT_NS ADDR PORT THREADS
	local label=$1 node=$2 s=$3 n=$4 rep=$5 out
	shift 5
	[[ -z $node ]] || in_ns "$node" conntrack -F >/dev/null 2>&1 ||
		die "$label: $s: cannot flush conntrack in $node"
	out=$(connrate_measure "{\"setup\":\"$s\",\"scale\":$n,\"rep\":$rep}" "$1" "$2" "$3" \
		"$CONN_SECONDS" "$4") || die "$label: $s at $n: the client failed: $out"
	echo "$out"
}

# REPS repetitions of `RUN SETUP SCALE REP` (a JSON line of connrate_measure) for every
# SETUP, the setups taking turns going first so slow moments of this shared machine fall on
# all of them; the lines go to FILE and, shortened, to the log as "LABEL: ...".
connrate_reps() { # LABEL FILE SCALE REPS RUN SETUP...
	local label=$1 file=$2 n=$3 reps=$4 run=$5 rep s line
	shift 5
	for ((rep = 1; rep <= reps; rep++)); do
		for s in $(rotation "$rep" "$@"); do
			line=$("$run" "$s" "$n" "$rep")
			echo "$line" >>"$file"
			jq -r --arg l "$label" '"\($l): \(.setup) at \(.scale), rep \(.rep): \(.per_s | round) conn/s, \(.cpu_us_per_conn | round) us CPU/conn, machine \(.busy_share * 100 | round)% busy"' <<<"$line" |
				while read -r l; do log "$l"; done
		done
	done
}
