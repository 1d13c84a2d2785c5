# SPDX-License-Identifier: Apache-2.0
# Shared by the lab end-to-end tests: a private lab, assertions, counters.
# Source it, then call lab_start STORE_DIR; everything is removed on exit.

REPO=${EW_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD=${EW_BUILD_DIR:-$REPO/build}
export EW_BUILD_DIR=$BUILD
export EW_LAB=${EW_LAB:-t$$}
LAB=$REPO/tools/lab/lab
WORK=$(mktemp -d /tmp/ew-e2e.XXXXXX)
cp "$REPO/tests/e2e/http_wire.py" "$WORK/" # what the tests' Python clients import
PASSED=0
FAILED=0

BG_PIDS=() # background processes of the test: stop_background (and cleanup) end them

cleanup() {
	stop_background
	"$LAB" down >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

stop_background() { # TERM to each of BG_PIDS, then waits for them
	local pid
	for pid in "${BG_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${BG_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
}

# store_put FILE: stdin becomes $STORE/FILE, written beside it and renamed into
# it: the agents watch the store with inotify and must only see whole files.
store_put() {
	cat >"$WORK/.$1.tmp" && mv "$WORK/.$1.tmp" "$STORE/$1"
}

pass() {
	PASSED=$((PASSED + 1))
	echo "ok - $*"
}

fail() {
	FAILED=$((FAILED + 1))
	echo "FAIL - $*"
}

# check DESCRIPTION CMD...: passes when CMD succeeds.
check() {
	local what=$1
	shift
	if "$@" >"$WORK/out" 2>&1; then
		pass "$what"
	else
		fail "$what: $(tail -n 5 "$WORK/out" | tr '\n' ' ')"
	fi
}

# check_not DESCRIPTION CMD...: passes when CMD fails.
check_not() {
	local what=$1
	shift
	if "$@" >"$WORK/out" 2>&1; then
		fail "$what: unexpectedly succeeded: $(tail -n 3 "$WORK/out" | tr '\n' ' ')"
	else
		pass "$what"
	fi
}

# Prints the summary line and exits non-zero on any failure.
finish() {
	echo "$PASSED passed, $FAILED failed"
	((FAILED == 0))
}

lab_start() {
	if ! "$LAB" up "$1" >"$WORK/lab-up.log" 2>&1; then
		cat "$WORK/lab-up.log"
		fail "lab up"
		finish
		exit 1
	fi
}

in_pod() { # NS/POD CMD...
	local pod=$1
	shift
	"$LAB" exec "$pod" -- "$@"
}

pod_ip() { "$LAB" ip "$1"; }

agent_log() { cat "/run/edgewire-lab/$EW_LAB/$1/agent.log"; }

bpfctl() { # NODE ARGS...
	local node=$1
	shift
	"$LAB" exec "node:$node" -- "$BUILD/bpfctl" --bpffs "/sys/fs/bpf/edgewire-lab/$EW_LAB/$node" "$@"
}

# counter NODE REASON [DIRECTION]: packets counted for a verdict reason.
counter() {
	bpfctl "$1" --json stats |
		jq "[.[] | select(.reason == \"$2\" and .direction == \"${3:-egress}\") | .packets] | add"
}

# http_get NS/POD IP PORT: the body a pod's responder answers with.
http_get() {
	in_pod "$1" socat -T 3 - "TCP:$2:$3" <<<$'GET / HTTP/1.0\r\n\r' | tail -n 1
}

tcp_hello() { # NS/POD IP PORT: the plain TCP answer
	echo hello | in_pod "$1" socat -T 3 - "TCP:$2:$3"
}

udp_hello() { # NS/POD IP PORT
	echo hello | in_pod "$1" socat -T 2 - "UDP:$2:$3"
}

ping_ok() { # NS/POD IP
	in_pod "$1" ping -c 2 -i 0.2 -W 1 "$2"
}

now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

# wait_for SECONDS CMD...: polls CMD every 50 ms until it succeeds.
wait_for() {
	local deadline=$(($(now_ms) + $1 * 1000))
	shift
	until "$@" >/dev/null 2>&1; do
		(($(now_ms) < deadline)) || return 1
		sleep 0.05
	done
}

endpoint_present() { # NODE IP
	bpfctl "$1" --json endpoints | jq -e ".[] | select(.ip == \"$2\")"
}

endpoint_absent() { ! endpoint_present "$@"; }

# says EXPECTED CMD...: CMD's last line of output is EXPECTED.
says() {
	local want=$1 got
	shift
	got=$("$@" | tail -n 1)
	[[ $got == "$want" ]] || { echo "expected '$want', got '$got'"; return 1; }
}
