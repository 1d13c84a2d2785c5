#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# edgewire-cni's success paths against a real edgewire-agent: ADD, CHECK and
# DEL as a container runtime runs them, what the agent refuses (and that a
# refused ADD leaves nothing behind), the agent's restart, an interface that
# vanished while the agent was down, and the kubelet's retry of an ADD that
# came before the store knew the pod.
#
# Everything runs in namespaces made here: a node netns for the agent and the
# plugin, one netns per pod, a private bpffs directory, store, state dir and
# host-local dataDir. The root network namespace is never touched, and the
# EXIT trap removes it all. Run as root; needs ip, nsenter, jq, socat, ping
# and host-local.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

AGENT=$BUILD/edgewire-agent
CNI=$BUILD/edgewire-cni
NODE_NAME="node-a"
NODE=ewca-$$-node # netns names; pods' are ewca-$$-<pod>
NETNS_DIR=/var/run/netns
BPFFS=/sys/fs/bpf/edgewire-test-$$
STORE=$WORK/store
STATE=$WORK/state
IPAM_DIR=$WORK/ipam
SOCKET=$WORK/agent.sock
CONFLIST=$WORK/net.d/05-edgewire.conflist
NETCONF=$WORK/netconf.json
CHECK_CONF=$WORK/check.json # NETCONF with alpha's ADD result as prevResult
CNI_PATH_DIRS=$BUILD:/usr/lib/cni
AGENT_PID=
AGENT_LOG=
AGENT_RUNS=0
GATEWAY=10.244.7.1
ALPHA_IP=10.244.7.10 # default/alpha has this status.podIP
GAMMA_IP=10.244.7.20 # default/gamma too, but ADD asks for another

# --- setup and teardown ----------------------------------------------------------------------------

pod_ns() { echo "ewca-$$-$1"; }

agent_stop() {
	local i
	[[ -n $AGENT_PID ]] || return 0
	kill -TERM "$AGENT_PID" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 "$AGENT_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$AGENT_PID" 2>/dev/null
	wait "$AGENT_PID" 2>/dev/null
	AGENT_PID=
}

teardown() {
	local ns
	agent_stop
	for ns in $(ip netns list | grep -o "^ewca-$$-[^ ]*"); do
		ip netns del "$ns"
	done
	rm -rf "$BPFFS" "$WORK"
}
trap teardown EXIT
# Exiting on a signal runs the EXIT trap too, once the running command returns.
trap 'exit 130' INT
trap 'exit 143' TERM

setup_failed() {
	fail "setup: $*"
	[[ -n $AGENT_LOG && -f $AGENT_LOG ]] && tail -n 15 "$AGENT_LOG"
	finish
	exit 1
}

agent_request() { # JSON -> the answer line
	timeout 5 socat -t 3 - "UNIX-CONNECT:$SOCKET" <<<"$1"
}

agent_up() { agent_request '{"op":"ping"}' | jq -e .ok; }

# Starts the agent in the node netns with a fresh log; returns once it answers ping.
agent_start() {
	AGENT_RUNS=$((AGENT_RUNS + 1))
	AGENT_LOG=$WORK/agent-$AGENT_RUNS.log
	nsenter --net="$NETNS_DIR/$NODE" -- "$AGENT" --node "$NODE_NAME" --store "$STORE" \
		--bpffs "$BPFFS" --socket "$SOCKET" --state-dir "$STATE" \
		--cni-conf "$CONFLIST" </dev/null >"$AGENT_LOG" 2>&1 &
	AGENT_PID=$!
	wait_for 10 agent_up
}

attached_and_programmed() { # the agent's status: "ATTACHMENTS ENDPOINTS"
	agent_request '{"op":"status"}' | jq -r '"\(.attachments) \(.endpoints)"'
}

store_pod() { # NAME NODE IP|- [SPEC_LINES]: writes pod-NAME.yaml
	local name=$1 node=$2 ip=$3 extra=${4:-}
	{
		printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  namespace: default\n' "$name"
		printf 'spec:\n  nodeName: %s\n%s  containers:\n    - {name: main, image: busybox}\n' \
			"$node" "$extra"
		[[ $ip == - ]] || printf 'status:\n  podIP: %s\n' "$ip"
	} >"$STORE/pod-$name.yaml.tmp"
	mv "$STORE/pod-$name.yaml.tmp" "$STORE/pod-$name.yaml"
}

write_store() {
	mkdir -p "$STORE"
	cat >"$STORE/cluster.yaml" <<-EOF
	apiVersion: v1
	kind: Namespace
	metadata:
	  name: default
	---
	apiVersion: v1
	kind: Node
	metadata:
	  name: $NODE_NAME
	spec:
	  podCIDR: 10.244.7.0/24
	status:
	  addresses:
	    - {type: InternalIP, address: 192.168.77.71}
	---
	apiVersion: v1
	kind: Node
	metadata:
	  name: node-b
	spec:
	  podCIDR: 10.244.8.0/24
	status:
	  addresses:
	    - {type: InternalIP, address: 192.168.77.72}
	EOF
	store_pod alpha "$NODE_NAME" "$ALPHA_IP"
	store_pod beta "$NODE_NAME" -
	store_pod gamma "$NODE_NAME" "$GAMMA_IP"
	store_pod faraway node-b 10.244.8.10
	store_pod hostnet "$NODE_NAME" 192.168.77.71 '  hostNetwork: true
'
}

# The netconf a runtime hands the plugin: the conflist's first plugin with the
# list's name and cniVersion. The dataDir keeps host-local's reservations in
# this test's directory instead of the node's /var/lib/cni/networks.
netconf_from_conflist() {
	jq --arg dir "$IPAM_DIR" '.plugins[0] + {name, cniVersion} | .ipam.dataDir = $dir' \
		"$CONFLIST" >"$NETCONF"
}

# --- the plugin, as a runtime runs it --------------------------------------------------------------

# cni COMMAND POD [EXTRA_CNI_ARGS] [NETCONF_FILE]: sets $out, $err and $rc.
cni() {
	local command=$1 pod=$2 extra=${3:-} conf=${4:-$NETCONF}
	local args="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=$pod$extra"
	out=$(nsenter --net="$NETNS_DIR/$NODE" -- env CNI_COMMAND="$command" \
		CNI_CONTAINERID="ctr-$$-$pod" CNI_NETNS="$NETNS_DIR/$(pod_ns "$pod")" \
		CNI_IFNAME=eth0 CNI_PATH="$CNI_PATH_DIRS" CNI_ARGS="$args" \
		"$CNI" <"$conf" 2>"$WORK/cni.stderr")
	rc=$?
	err=$(<"$WORK/cni.stderr")
}

cni_ok() { # after cni: exit 0
	((rc == 0)) || { echo "exit $rc: $out $err"; return 1; }
}

# cni_error CODE REGEX: the last cni call failed with CODE and a msg matching REGEX.
cni_error() {
	local code msg
	code=$(jq -r .code <<<"$out" 2>/dev/null)
	msg=$(jq -r .msg <<<"$out" 2>/dev/null)
	if ((rc != 1)) || [[ $code != "$1" ]]; then
		echo "expected exit 1 and code $1; got exit $rc: $out"
		return 1
	fi
	grep -Eq -- "$2" <<<"$msg" || { echo "expected a msg matching /$2/, got: $msg"; return 1; }
}

# The host end's name: "lxc" + 11 hex digits of FNV-1a-64("<namespace>/<name>").
host_ifname() {
	local s="default/$1" hash=$((0xcbf29ce484222325)) i c
	for ((i = 0; i < ${#s}; i++)); do
		printf -v c '%d' "'${s:i:1}"
		hash=$(((hash ^ c) * 0x100000001b3))
	done
	printf -v hash '%016x' "$hash"
	echo "lxc${hash:0:11}"
}

# --- what is where ---------------------------------------------------------------------------------

in_node() { nsenter --net="$NETNS_DIR/$NODE" -- "$@"; }
in_pod_ns() { # POD CMD...
	local pod=$1
	shift
	nsenter --net="$NETNS_DIR/$(pod_ns "$pod")" -- "$@"
}

dp() { in_node "$BUILD/bpfctl" --bpffs "$BPFFS" --json "$@"; }
endpoints_sorted() { dp endpoints | jq -cS 'sort_by(.ip)'; } # one line
endpoint() { dp endpoints | jq -e ".[] | select(.ip == \"$1\")"; }
no_endpoint() { ! endpoint "$1"; }
fwd_count() { dp stats | jq '[.[] | select(.reason == "forward") | .packets] | add // 0'; }

node_veths() { ip -n "$NODE" -o link show | grep -o 'lxc[0-9a-f]*' | sort | tr '\n' ' '; }
reserved_ips() { ls "$IPAM_DIR/edgewire" 2>/dev/null | grep -E '^[0-9.]+$' | sort | tr '\n' ' '; }
attachment_files() { ls "$STATE/attachments" 2>/dev/null | tr '\n' ' '; }
attached() { [[ -f $STATE/attachments/default_$1.json ]]; }
ifindex_of() { ip -n "$NODE" -j link show "$1" | jq '.[0].ifindex'; }
mac_of() { ip -n "$(pod_ns "$1")" -j link show eth0 | jq -r '.[0].address'; }
pod_has_only_lo() { [[ $(ip -n "$(pod_ns "$1")" -o link show | awk '{print $2}') == "lo:" ]]; }
pod_ping() { in_pod_ns "$1" ping -c 2 -i 0.2 -W 1 "$2"; }
gone() { ! ip -n "$NODE" link show "$1"; }
# With tcx the agent pins each pod interface's link; clsact (kernels before 6.6) has no pin.
link_pinned() { grep -q 'attach=clsact' "$AGENT_LOG" || [[ -e $BPFFS/links/$1 ]]; }

# What a refused ADD must leave as it was.
leftovers() { echo "veths: $(node_veths)| ips: $(reserved_ips)| attachments: $(attachment_files)"; }

# --- the cases -------------------------------------------------------------------------------------

# The pod with status.podIP, asking host-local for that IP as the lab does.
test_add_with_pod_ip() {
	local host ep
	echo "# ADD of a pod with status.podIP"
	host=$(host_ifname alpha)
	cni ADD alpha ";IP=$ALPHA_IP"
	check "ADD alpha succeeds" cni_ok
	ALPHA_RESULT=$out
	check "result: cniVersion 1.0.0" jq -e '.cniVersion == "1.0.0"' <<<"$out"
	check "result: host $host then pod eth0 with its sandbox" jq -e --arg h "$host" \
		--arg s "$NETNS_DIR/$(pod_ns alpha)" \
		'(.interfaces | length) == 2 and .interfaces[0].name == $h and
		 (.interfaces[0] | has("sandbox") | not) and .interfaces[1].name == "eth0" and
		 .interfaces[1].sandbox == $s and .interfaces[1].mac != .interfaces[0].mac' <<<"$out"
	check "result: ips[0] is $ALPHA_IP/24 via $GATEWAY on interface 1" jq -e \
		--arg a "$ALPHA_IP/24" --arg g "$GATEWAY" \
		'(.ips | length) == 1 and .ips[0].address == $a and .ips[0].gateway == $g and
		 .ips[0].interface == 1' <<<"$out"
	check "result: default route via $GATEWAY" jq -e --arg g "$GATEWAY" \
		'.routes == [{"dst": "0.0.0.0/0", "gw": $g}]' <<<"$out"
	check "result: eth0's MAC is the pod's" jq -e --arg m "$(mac_of alpha)" \
		'.interfaces[1].mac == $m' <<<"$out"
	check "pod alpha has $ALPHA_IP/32 on eth0" \
		in_pod_ns alpha sh -c "ip -4 -o addr show dev eth0 | grep -q ' $ALPHA_IP/32 '"
	check "pod alpha routes: $GATEWAY/32 scope link and default via $GATEWAY" jq -e \
		--arg g "$GATEWAY" 'any(.[]; .dst == $g and .dev == "eth0" and .scope == "link") and
		 any(.[]; .dst == "default" and .gateway == $g and .dev == "eth0")' \
		<<<"$(ip -n "$(pod_ns alpha)" -j route show)"
	check "node has $ALPHA_IP/32 dev $host scope link" jq -e --arg ip "$ALPHA_IP" --arg h "$host" \
		'any(.[]; .dst == $ip and .dev == $h and .scope == "link")' \
		<<<"$(ip -n "$NODE" -j route show)"
	ep=$(dp endpoints | jq -c ".[] | select(.ip == \"$ALPHA_IP\")")
	check "bpfctl lists $ALPHA_IP on $host's ifindex with the pod's MAC" jq -e \
		--argjson i "$(ifindex_of "$host")" --arg m "$(mac_of alpha)" --arg h "$host" \
		'.ifindex == $i and .mac == $m and .interface == $h' <<<"${ep:-null}"
	check "agent status: attachments=1 endpoints=1" says "1 1" attached_and_programmed
	check "the program's link on $host is pinned" link_pinned "$host"
	check "the attachment is recorded in the state dir" jq -e \
		--arg ip "$ALPHA_IP" --arg h "$host" --arg c "ctr-$$-alpha" \
		'.ip == $ip and .ifname == $h and .containerID == $c' "$STATE/attachments/default_alpha.json"
}

test_add_without_pod_ip() {
	echo "# ADD of a pod without status.podIP: host-local picks the address"
	cni ADD beta
	check "ADD beta succeeds" cni_ok
	BETA_IP=$(jq -r '.ips[0].address // "" | sub("/24$"; "")' <<<"$out")
	check "beta got a 10.244.7.x address other than alpha's ($BETA_IP)" \
		sh -c "echo '$BETA_IP' | grep -Eq '^10\.244\.7\.[0-9]+$' && [ '$BETA_IP' != '$ALPHA_IP' ]"
	check "host-local reserved it" test -f "$IPAM_DIR/edgewire/$BETA_IP"
	check "beta is an endpoint with that address and its MAC" jq -e \
		--arg ip "$BETA_IP" --arg m "$(mac_of beta)" \
		'any(.[]; .ip == $ip and .mac == $m)' <<<"$(dp endpoints)"
	check "agent status: attachments=2 endpoints=2" says "2 2" attached_and_programmed
}

test_ping() {
	local fwd0 fwd1
	echo "# the datapath carries pod to pod"
	fwd0=$(fwd_count)
	check "alpha pings beta" pod_ping alpha "$BETA_IP"
	check "beta pings alpha" pod_ping beta "$ALPHA_IP"
	fwd1=$(fwd_count)
	# 2 pings x 2 directions x request and reply
	check "the forward counter grew by every packet (+$((fwd1 - fwd0)))" \
		test $((fwd1 - fwd0)) -ge 8
}

test_check() {
	echo "# CHECK"
	jq --argjson prev "$ALPHA_RESULT" '. + {prevResult: $prev}' "$NETCONF" >"$CHECK_CONF"
	cni CHECK alpha "" "$CHECK_CONF"
	check "CHECK alpha with its ADD result succeeds" cni_ok
	in_pod_ns alpha ip addr del "$ALPHA_IP/32" dev eth0
	cni CHECK alpha "" "$CHECK_CONF"
	check "CHECK alpha without its address fails with code 100 naming it" \
		cni_error 100 "eth0 .* lacks address $ALPHA_IP/32"
	# Removing the last address flushed the pod's routes too: put all back.
	in_pod_ns alpha ip addr add "$ALPHA_IP/32" dev eth0
	in_pod_ns alpha ip route add "$GATEWAY/32" dev eth0 scope link
	in_pod_ns alpha ip route add default via "$GATEWAY" dev eth0
	cni CHECK alpha "" "$CHECK_CONF"
	check "CHECK alpha passes again once the address is back" cni_ok
}

# add_refused WHAT POD EXTRA_CNI_ARGS MSG_REGEX: ADD fails with code 11 and
# leaves nothing behind: no veth, nothing in the pod, no IP, no attachment.
add_refused() {
	local what=$1 pod=$2 extra=$3 regex=$4 before eps
	echo "# ADD refused: $what"
	ip netns add "$(pod_ns "$pod")"
	before=$(leftovers)
	eps=$(endpoints_sorted)
	cni ADD "$pod" "$extra"
	check "ADD $pod fails with code 11: $what" cni_error 11 "$regex"
	check "ADD $pod left no veth, IP or attachment behind" says "$before" leftovers
	check "ADD $pod left only lo in the pod" pod_has_only_lo "$pod"
	check "ADD $pod left the endpoints as they were" says "$eps" endpoints_sorted
	check "ADD $pod left no attachment file" test ! -e "$STATE/attachments/default_$pod.json"
	ip netns del "$(pod_ns "$pod")"
}

test_refused() {
	add_refused "scheduled on another node" faraway "" \
		"refused: pod default/faraway is scheduled on node-b, not on this node \($NODE_NAME\)"
	add_refused "IP= differs from the store's podIP" gamma ";IP=10.244.7.21" \
		"status.podIP $GAMMA_IP .* given 10\.244\.7\.21"
	add_refused "hostNetwork pod" hostnet "" "default/hostnet .*spec\.hostNetwork"
	add_refused "pod not in the store" ghost "" "pod default/ghost is not in the store"
}

test_restart() {
	local before fwd0
	echo "# agent restart"
	before=$(endpoints_sorted)
	agent_stop
	fwd0=$(fwd_count)
	check "with the agent stopped, alpha pings beta" pod_ping alpha "$BETA_IP"
	check "with the agent stopped, beta pings alpha" pod_ping beta "$ALPHA_IP"
	check "with the agent stopped, the datapath forwarded it (+$(($(fwd_count) - fwd0)))" \
		test $(($(fwd_count) - fwd0)) -ge 8
	agent_start || setup_failed "the agent did not come back"
	check "after the restart the endpoints are the same" says "$before" endpoints_sorted
	check "after the restart the agent wrote 0 and deleted 0" \
		grep -Eq 'programmed 2 endpoints, [^:]*: 0 written, 0 deleted, 0 failed' "$AGENT_LOG"
	check "after the restart alpha pings beta" pod_ping alpha "$BETA_IP"
	cni CHECK alpha "" "$CHECK_CONF"
	check "after the restart CHECK alpha succeeds" cni_ok
	check "agent status: attachments=2 endpoints=2" says "2 2" attached_and_programmed
}

test_vanished() {
	local host
	host=$(host_ifname beta)
	echo "# beta's interface vanished while the agent was down"
	agent_stop
	ip netns del "$(pod_ns beta)"
	wait_for 5 gone "$host" || fail "$host still exists 5 s after its pod netns was deleted"
	agent_start || setup_failed "the agent did not come back"
	check "beta's endpoint $BETA_IP is gone" no_endpoint "$BETA_IP"
	check "beta's attachment file is gone" test ! -e "$STATE/attachments/default_beta.json"
	check "beta's link pin is gone" test ! -e "$BPFFS/links/$host"
	check "the agent logged that it forgot beta" grep -q "default/beta: interface $host is gone" "$AGENT_LOG"
	check "alpha's endpoint remains" endpoint "$ALPHA_IP"
	check "alpha's attachment remains" attached alpha
	check "agent status: attachments=1 endpoints=1" says "1 1" attached_and_programmed
	cni DEL beta
	check "DEL beta, whose netns is gone, succeeds" cni_ok
	check "DEL beta released $BETA_IP" test ! -e "$IPAM_DIR/edgewire/$BETA_IP"
}

test_del() {
	local host
	host=$(host_ifname alpha)
	echo "# DEL"
	cni DEL alpha
	check "DEL alpha succeeds" cni_ok
	check "alpha's endpoint is gone" no_endpoint "$ALPHA_IP"
	check "alpha's attachment file is gone" test ! -e "$STATE/attachments/default_alpha.json"
	check "alpha's veth $host is gone" gone "$host"
	check "alpha's link pin is gone" test ! -e "$BPFFS/links/$host"
	check "alpha's pod has only lo left" pod_has_only_lo alpha
	check "$ALPHA_IP is released" test ! -e "$IPAM_DIR/edgewire/$ALPHA_IP"
	check "agent status: attachments=0 endpoints=0" says "0 0" attached_and_programmed
	cni DEL alpha
	check "DEL alpha again succeeds" cni_ok
}

test_store_catches_up() {
	local ip
	echo "# ADD before the store has the pod, then the kubelet's retry"
	ip netns add "$(pod_ns late)"
	cni ADD late
	check "ADD late before the store has it fails with code 11" \
		cni_error 11 "pod default/late is not in the store"
	check "... and leaves no veth, IP or attachment behind" \
		says "veths: | ips: | attachments: " leftovers
	store_pod late "$NODE_NAME" -
	cni ADD late
	check "ADD late succeeds once the store has it" cni_ok
	ip=$(jq -r '.ips[0].address // "" | sub("/24$"; "")' <<<"$out")
	check "late is an endpoint ($ip)" endpoint "$ip"
	check "late's attachment is recorded" attached late
	cni DEL late
	check "DEL late succeeds and removes its endpoint" no_endpoint "$ip"
}

main() {
	local dep
	for dep in ip nsenter jq socat ping; do
		command -v "$dep" >/dev/null || setup_failed "$dep not found"
	done
	[[ -x /usr/lib/cni/host-local ]] || setup_failed "/usr/lib/cni/host-local not found; install containernetworking-plugins"
	[[ -x $AGENT && -x $CNI && -x $BUILD/bpfctl ]] || setup_failed "build first: $BUILD lacks the binaries"
	write_store
	"$AGENT" check --store "$STORE" >/dev/null || setup_failed "the test's store is invalid"
	mkdir -p "$(dirname "$CONFLIST")" # as a CNI installation has /etc/cni/net.d
	ip netns add "$NODE" || setup_failed "cannot create network namespaces (not root?)"
	ip -n "$NODE" link set lo up
	ip netns add "$(pod_ns alpha)"
	ip netns add "$(pod_ns beta)"
	agent_start || setup_failed "the agent did not answer ping within 10 s"

	echo "# the agent's CNI config"
	check "the agent wrote $CONFLIST for 10.244.7.0/24 and its socket" jq -e --arg s "$SOCKET" \
		'.cniVersion == "1.0.0" and .name == "edgewire" and (.plugins | length) == 1 and
		 .plugins[0].type == "edgewire-cni" and .plugins[0].agentSocket == $s and
		 .plugins[0].ipam.type == "host-local" and
		 .plugins[0].ipam.ranges == [[{"subnet": "10.244.7.0/24"}]]' "$CONFLIST"
	netconf_from_conflist || setup_failed "cannot make the netconf from $CONFLIST"
	check "agent status: ready, nothing attached yet" jq -e \
		'.ready and .attachments == 0 and .endpoints == 0 and .storeErrors == 0' \
		<<<"$(agent_request '{"op":"status"}')"

	test_add_with_pod_ip
	test_add_without_pod_ip
	test_ping
	test_check
	test_refused
	test_restart
	test_vanished
	test_del
	test_store_catches_up
	finish
}

main
