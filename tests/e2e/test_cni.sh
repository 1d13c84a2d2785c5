#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# edgewire-cni against real network namespaces and the real host-local IPAM,
# without an agent: validation and error codes, and that a failed ADD and
# every DEL leave nothing behind. ADD, CHECK and DEL with a running agent are
# covered by the lab e2e tests.
#
# The plugin runs under `nsenter --net` in a node namespace made here, so the
# root namespace is never touched. Run as root; needs ip, nsenter and jq.
set -u

CNI=${EW_BUILD_DIR:?EW_BUILD_DIR must name the build directory}/edgewire-cni
NODE=ewcni-$$-node
POD=ewcni-$$-pod
NETWORK=ewcni-test
TMP=$(mktemp -d "/tmp/ewcni-$$.XXXXXX")
DATA_DIR=$TMP/ipam
AGENT_SOCKET=$TMP/agent.sock # never created: there is no agent here
passed=0
failed=0

cleanup() {
	ip netns del "$NODE" 2>/dev/null
	ip netns del "$POD" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

pass() {
	passed=$((passed + 1))
	echo "ok   - $1"
}

# fail NAME WHY...
fail() {
	failed=$((failed + 1))
	echo "FAIL - $1"
	shift
	printf '       %s\n' "$@"
}

ipam_dir() {
	local dir
	for dir in /opt/cni/bin /usr/lib/cni /usr/libexec/cni; do
		if [ -x "$dir/host-local" ]; then
			echo "$dir"
			return 0
		fi
	done
	return 1
}

# config [CNI_VERSION]: a valid network config.
config() {
	cat <<-EOF
	{"cniVersion":"${1:-1.0.0}","name":"$NETWORK","type":"edgewire-cni",
	 "agentSocket":"$AGENT_SOCKET",
	 "ipam":{"type":"host-local","ranges":[[{"subnet":"10.244.1.0/24"}]],
	         "dataDir":"$DATA_DIR"}}
	EOF
}

# cni COMMAND CONFIG [env(1) arguments...]: runs the plugin in the node
# namespace with a complete environment that the arguments override
# (NAME=VALUE) or trim (-u NAME); sets $out and $rc.
cni() {
	local command=$1 config=$2
	shift 2
	out=$(printf '%s' "$config" |
		env CNI_COMMAND="$command" CNI_CONTAINERID="ctr-$$" \
		    CNI_NETNS="/var/run/netns/$POD" CNI_IFNAME=eth0 \
		    CNI_PATH="$TMP/empty:$IPAM_DIR" \
		    CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-$$" \
		env "$@" nsenter --net="/var/run/netns/$NODE" "$CNI" 2>"$TMP/stderr")
	rc=$?
}

# expect_error NAME CODE MSG_REGEX: the last cni call failed the CNI way.
expect_error() {
	local name=$1 code=$2 regex=$3 got_code msg
	got_code=$(jq -r .code <<<"$out" 2>/dev/null)
	msg=$(jq -r .msg <<<"$out" 2>/dev/null)
	if [ "$rc" -ne 1 ] || [ "$got_code" != "$code" ]; then
		fail "$name" "expected exit 1 and error code $code" \
		     "got exit $rc and: $out"
	elif ! grep -Eq -- "$regex" <<<"$msg"; then
		fail "$name" "expected a message matching /$regex/" "got: $msg"
	else
		pass "$name"
	fi
}

# expect_success NAME: the last cni call succeeded.
expect_success() {
	if [ "$rc" -eq 0 ]; then
		pass "$1"
	else
		fail "$1" "expected exit 0, got $rc: $out" "stderr: $(cat "$TMP/stderr")"
	fi
}

# The host-side name the plugin derives: "lxc" + 11 hex digits of
# FNV-1a-64("<namespace>/<name>"), computed here independently.
host_ifname() {
	local s="$1/$2" hash=$((0xcbf29ce484222325)) i c
	for ((i = 0; i < ${#s}; i++)); do
		printf -v c '%d' "'${s:i:1}"
		hash=$(((hash ^ c) * 0x100000001b3))
	done
	printf -v hash '%016x' "$hash"
	echo "lxc${hash:0:11}"
}

node_veths() {
	ip -n "$NODE" -o link show | grep -o 'lxc[0-9a-f]*' || true
}

# host-local names each reservation file after its address.
reserved_ips() {
	ls "$DATA_DIR/$NETWORK" 2>/dev/null | grep -E '^[0-9.]+$' || true
}

test_version() {
	cni VERSION ''
	if [ "$rc" -eq 0 ] &&
	   [ "$(jq -c . <<<"$out")" = '{"cniVersion":"1.0.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0"]}' ]; then
		pass "VERSION lists 0.3.0 to 1.0.0"
	else
		fail "VERSION lists 0.3.0 to 1.0.0" "got exit $rc: $out"
	fi
}

test_environment_errors() {
	cni ADD "$(config)" -u CNI_COMMAND
	expect_error "missing CNI_COMMAND is code 4" 4 '^CNI_COMMAND is not set'
	cni FROB "$(config)"
	expect_error "unknown CNI_COMMAND is code 4" 4 'CNI_COMMAND=FROB .*expected ADD, DEL, CHECK or VERSION'
	cni ADD "$(config)" -u CNI_NETNS
	expect_error "ADD without CNI_NETNS is code 4" 4 '^CNI_NETNS is not set'
	cni ADD "$(config)" CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default"
	expect_error "ADD without K8S_POD_NAME is code 4" 4 'has no K8S_POD_NAME'
	cni ADD "$(config)" CNI_IFNAME=eth0-much-too-long
	expect_error "over-long CNI_IFNAME is code 4" 4 'at most 15 characters'
}

test_config_errors() {
	cni ADD $'{"cniVersion":"1.0.0",\n "name":"x",\n "type": edgewire}'
	expect_error "bad JSON is code 6 with its line" 6 'line 3, column [0-9]+'
	cni ADD '["not", "an", "object"]'
	expect_error "a non-object config is code 7" 7 'is an array; expected a JSON object'
	cni ADD "$(config | jq -c 'del(.name)')"
	expect_error "missing name is code 7" 7 'no "name"; expected a string'
	cni ADD "$(config | jq -c '.mtu = "1500"')"
	expect_error "mtu as a string is code 7" 7 '"mtu" is a string; expected an integer'
	cni ADD "$(config | jq -c '.mtu = 20')"
	expect_error "mtu out of range is code 7" 7 '"mtu" is 20; expected an integer from 68'
	cni ADD "$(config | jq -c '.ipam.type = 7')"
	expect_error "ipam.type as a number is code 7" 7 '"ipam.type" is an integer; expected a string'
	cni ADD "$(config | jq -c 'del(.ipam)')"
	expect_error "missing ipam is code 7" 7 'no "ipam"'
}

test_version_errors() {
	cni ADD "$(config 0.2.0)"
	expect_error "cniVersion 0.2.0 is code 1" 1 'cniVersion 0.2.0 is not supported; expected one of'
	cni CHECK "$(config 0.3.1)"
	expect_error "CHECK with cniVersion 0.3.1 is code 1" 1 'CHECK is not defined for cniVersion 0.3.1'
}

test_add_without_agent() {
	local name="ADD without an agent is code 11 and leaves nothing behind"

	cni ADD "$(config)"
	expect_error "ADD without an agent is code 11" 11 "$AGENT_SOCKET.*cannot connect"
	if [ -n "$(node_veths)" ] || [ -n "$(reserved_ips)" ] ||
	   [ "$(ip -n "$POD" -o link show | wc -l)" -ne 1 ]; then
		fail "$name" "node veths: $(node_veths)" "reserved IPs: $(reserved_ips)" \
		     "pod links: $(ip -n "$POD" -o link show)"
	else
		pass "$name"
	fi
}

test_del_of_nothing() {
	cni DEL "$(config)"
	expect_success "DEL of nothing succeeds"
	cni DEL "$(config)"
	expect_success "DEL of nothing succeeds again"
	cni DEL "$(config)" -u CNI_NETNS
	expect_success "DEL without CNI_NETNS succeeds"
	cni DEL "$(config)" CNI_NETNS=/var/run/netns/ewcni-$$-gone
	expect_success "DEL with a vanished CNI_NETNS succeeds"
}

# What an ADD interrupted before it could undo itself leaves: the veth and the
# reserved IP. DEL must remove both even with the agent away.
test_del_of_leftovers() {
	local name="DEL removes a leftover veth and releases its IP"
	local host
	host=$(host_ifname default "web-$$")

	ip -n "$NODE" link add "$host" type veth peer name eth0 netns "$POD"
	config | CNI_COMMAND=ADD CNI_CONTAINERID="ctr-$$" \
		CNI_NETNS="/var/run/netns/$POD" CNI_IFNAME=eth0 CNI_PATH="$IPAM_DIR" \
		"$IPAM_DIR/host-local" >/dev/null
	if [ -z "$(reserved_ips)" ] || [ -z "$(node_veths)" ]; then
		fail "$name" "setup failed: reserved IPs: $(reserved_ips), veths: $(node_veths)"
		return
	fi
	cni DEL "$(config)"
	if [ "$rc" -ne 0 ] || [ -n "$(node_veths)" ] || [ -n "$(reserved_ips)" ]; then
		fail "$name" "exit $rc: $out" "node veths: $(node_veths)" \
		     "reserved IPs: $(reserved_ips)"
	else
		pass "$name"
	fi
}

# setup_failed WHY: nothing can be tested.
setup_failed() {
	echo "FAIL - setup: $1"
	echo "0 passed, 1 failed"
	exit 1
}

main() {
	command -v jq >/dev/null || setup_failed "jq not found; install jq"
	IPAM_DIR=$(ipam_dir) ||
		setup_failed "host-local not in /opt/cni/bin, /usr/lib/cni or /usr/libexec/cni; install containernetworking-plugins"
	mkdir -p "$TMP/empty"
	{ ip netns add "$NODE" && ip netns add "$POD"; } ||
		setup_failed "cannot create network namespaces (not root?)"

	test_version
	test_environment_errors
	test_config_errors
	test_version_errors
	test_add_without_agent
	test_del_of_nothing
	test_del_of_leftovers

	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}

main
