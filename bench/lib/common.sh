# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash disable=SC2034 # its variables are for the files that source it
# What every part of bench/ needs: names, logging, namespaces and processes that are
# removed on exit, whole-machine CPU samples. Sourced by bench/run and bench/report.

BENCH=${BENCH:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
REPO=${REPO:-$(dirname "$BENCH")}
BUILD=${EW_BUILD_DIR:-$REPO/build}
NETNS_DIR=/var/run/netns

# The sections of a run, in the order of the issue (#8) and of docs/benchmarks.md. A
# section NAME lives in bench/sections/NAME.sh and defines bench_NAME (measure; one JSON
# object on stdout) and report_NAME RESULTS (markdown on stdout).
SECTIONS=(same_node cross_node services policy per_packet control_plane verifier l7)

# Everything a run creates is named after it: netns "ewbench<pid>-...", lab "ewbench<pid>".
RUN_ID=ewbench$$

log() { printf '[%6.1fs] %s\n' "$(elapsed_s)" "$*" >&2; }
die() {
	echo "bench: $*" >&2
	exit 1
}
elapsed_s() {
	local now=${EPOCHREALTIME/./}
	echo "$(((now - ${BENCH_T0:-$now}) / 1000000)).$((((now - ${BENCH_T0:-$now}) / 100000) % 10))"
}
BENCH_T0=${EPOCHREALTIME/./}

# --- cleanup: every netns and process a run makes is registered here ------------------------

CLEANUP_PIDS=()
CLEANUP_NETNS=()
CLEANUP_CMDS=()

# Processes whose network namespace is one of the given netns names (started inside them).
procs_in_netns() {
	local ns inode link pid target
	local -A inodes=()
	for ns in "$@"; do
		inode=$(stat -L -c %i "$NETNS_DIR/$ns" 2>/dev/null) && inodes["net:[$inode]"]=1
	done
	((${#inodes[@]})) || return 0
	for link in /proc/[0-9]*/ns/net; do
		target=$(readlink "$link" 2>/dev/null) || continue
		pid=${link#/proc/}
		[[ -z ${inodes[$target]:-} ]] || echo "${pid%%/*}"
	done
}

stop_pids() { # TERM, then KILL what is left after a second
	local pid alive=() i
	(($#)) || return 0
	kill -TERM "$@" 2>/dev/null || true
	for ((i = 0; i < 20; i++)); do
		alive=()
		for pid in "$@"; do
			kill -0 "$pid" 2>/dev/null && alive+=("$pid")
		done
		((${#alive[@]})) || return 0
		sleep 0.05
	done
	kill -KILL "${alive[@]}" 2>/dev/null || true
}

cleanup() {
	local cmd pids=() ns
	trap - EXIT INT TERM
	stop_pids "${CLEANUP_PIDS[@]}"
	for cmd in "${CLEANUP_CMDS[@]}"; do
		eval "$cmd" || true
	done
	if ((${#CLEANUP_NETNS[@]})); then
		mapfile -t pids < <(procs_in_netns "${CLEANUP_NETNS[@]}")
		stop_pids "${pids[@]}"
		for ns in "${CLEANUP_NETNS[@]}"; do
			ip netns del "$ns" 2>/dev/null || true
		done
	fi
	[[ -z ${WORK:-} ]] || rm -rf "$WORK"
}

# --- namespaces ----------------------------------------------------------------------------------

in_ns() { # NETNS CMD...: nsenter, never `ip netns exec` (it remounts /sys and hides bpffs)
	local ns=$1
	shift
	nsenter --net="$NETNS_DIR/$ns" -- "$@"
}

# A new netns, registered for removal: lo up, no IPv6 (no router solicitations or MLD
# reports of its own in the measurements).
netns_new() {
	ip netns add "$1"
	CLEANUP_NETNS+=("$1")
	in_ns "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip -n "$1" link set lo up
}

mac_of() { ip -n "$1" -j link show dev "$2" | jq -r '.[0].address'; }

# Starts CMD in NETNS in the background, logging to LOG; registered for stopping on exit.
# A simple command, not a function, so $! is nsenter, which execs CMD: $! is CMD itself.
start_in_ns() {
	local ns=$1 logfile=$2
	shift 2
	nsenter --net="$NETNS_DIR/$ns" -- "$@" </dev/null >"$logfile" 2>&1 &
	CLEANUP_PIDS+=("$!")
}

# Waits up to 5 s for a TCP listener on PORT in NETNS.
wait_listening() {
	local ns=$1 port=$2 i
	for ((i = 0; i < 100; i++)); do
		[[ -z $(in_ns "$ns" ss -Hltn "sport = :$port") ]] || return 0
		sleep 0.05
	done
	return 1
}

# The ITEMs in the order of repetition REP (from 1): each repetition starts with the next,
# so the setups of a comparison take turns going first and slow moments of this shared
# machine fall on all of them.
rotation() { # REP ITEM...
	local rep=$1 i
	shift
	for ((i = 0; i < $#; i++)); do
		echo "${@:(i + rep - 1) % $# + 1:1}"
	done
}

# --- whole-machine CPU time --------------------------------------------------------------------

CLK_TCK=$(getconf CLK_TCK)

# "BUSY SOFTIRQ" in clock ticks since boot, all CPUs: busy is everything but idle and
# iowait (user, nice, system, irq, softirq, steal; guest time is inside user).
cpu_sample() {
	local _cpu user nice system _idle _iowait irq softirq steal _rest
	read -r _cpu user nice system _idle _iowait irq softirq steal _rest </proc/stat
	echo "$((user + nice + system + irq + softirq + steal)) $softirq"
}

# Runs CMD... and prints its stdout as JSON merged with what the machine spent meanwhile:
# {wall_s, cpu_s, softirq_s}. CMD must print one JSON object. When CMD fails, its output
# is printed as it is and the status is 1.
measured() {
	local before after t0 t1 out
	before=$(cpu_sample)
	t0=$EPOCHREALTIME
	if ! out=$("$@"); then
		echo "$out"
		return 1
	fi
	t1=$EPOCHREALTIME
	after=$(cpu_sample)
	jq -c --argjson b "[${before/ /,}]" --argjson a "[${after/ /,}]" \
		--argjson t0 "$t0" --argjson t1 "$t1" --argjson hz "$CLK_TCK" \
		'. + {wall_s: ($t1 - $t0), cpu_s: (($a[0] - $b[0]) / $hz),
		      softirq_s: (($a[1] - $b[1]) / $hz)}' <<<"$out"
}

# Share of the whole machine busy over SECONDS while bench does nothing: the background
# load of this shared machine, recorded with every run.
background_load() {
	local before after
	read -ra before <<<"$(cpu_sample)"
	sleep "$1"
	read -ra after <<<"$(cpu_sample)"
	jq -n --argjson busy "$((after[0] - before[0]))" --argjson hz "$CLK_TCK" \
		--argjson cpus "$(nproc)" --argjson s "$1" '$busy / $hz / ($cpus * $s)'
}
