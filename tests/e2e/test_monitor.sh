#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bpfctl monitor on a lab node: a pod's packet to an address of its node's pod
# CIDR without a pod is dropped, and the drop shows up in the monitor within a
# second with its reason, pod and destination; TCP shows its ports; filters
# keep other drops out; the counts agree with bpfctl stats and events; a flood
# is rate limited and reported; a connection a NetworkPolicy allows shows up
# within a second with its rule and both ends' identities; errors say what is
# wrong.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

STORE=$WORK/store
cp -r "$REPO/examples/store" "$STORE"
lab_start "$STORE"

CLIENT=10.244.1.30 # default/client on node-a
WEB1=10.244.1.10   # shop/web-1 on node-a, answers on 8080
NOPOD=10.244.1.99  # in node-a's pod CIDR, no pod
PINS=/sys/fs/bpf/edgewire-lab/$EW_LAB/node-a

# monitor NAME ARGS...: bpfctl monitor on node-a in the background, output in
# $WORK/NAME.out and .err, its pid in MON_PID (lab exec execs into bpfctl);
# returns once the monitor holds its lock, after which it misses no event.
monitor() {
	local name=$1
	shift
	"$LAB" exec node:node-a -- "$BUILD/bpfctl" --bpffs "$PINS" monitor "$@" \
		>"$WORK/$name.out" 2>"$WORK/$name.err" &
	MON_PID=$!
	wait_for 3 monitor_running || echo "monitor $name did not start: $(cat "$WORK/$name.err")"
}

# Some process holds a flock on the maps directory: the monitor's. Trying
# the lock instead would take it for a moment, and a monitor starting then
# would find it taken.
monitor_running() {
	awk -v ino=":$(stat -c %i "$PINS/maps")\$" '$2 == "FLOCK" && $6 ~ ino { found = 1 }
		END { exit !found }' /proc/locks
}

# monitor_exit SECONDS: the monitor's exit code, 124 if it is still running.
monitor_exit() {
	if wait_for "$1" bash -c "! kill -0 $MON_PID"; then
		wait "$MON_PID"
	else
		kill "$MON_PID" 2>/dev/null
		wait "$MON_PID" 2>/dev/null
		return 124
	fi
}

lines() { grep -c . "$1" || true; }

# field NAME KEY [LINE]: a field of the monitor's JSON line LINE (default 1).
field() { sed -n "${3:-1}p" "$WORK/$1.out" | jq -r ".$2"; }

ping_nopod() { in_pod default/client ping -c "${1:-1}" -i 0.2 -W 1 $NOPOD >/dev/null 2>&1; }

echo "# a drop shows up within a second, with reason, pod and destination"
monitor icmp --json --count 1 --timeout 5 --ip $CLIENT
sent=$(now_ms)
ping_nopod & # waits a second for an answer that never comes
check "the event is printed within 1 s of the send" \
	wait_for 1 test -s "$WORK/icmp.out"
echo "  (after $(($(now_ms) - sent)) ms)"
wait $!
monitor_exit 5
check "--count 1 ends the monitor with status 0" test $? -eq 0
check "the output is one JSON line" \
	bash -c "test $(lines "$WORK/icmp.out") -eq 1 && jq -e . '$WORK/icmp.out'"
check "reason no-endpoint, code 20" \
	test "$(field icmp reason)/$(field icmp code)" = no-endpoint/20
check "source is the client pod, destination the pod-less address" \
	test "$(field icmp src) -> $(field icmp dst)" = "$CLIENT -> $NOPOD"
check "proto icmp, direction egress, no ports" \
	test "$(field icmp proto)/$(field icmp direction)/$(field icmp sport)/$(field icmp dport)" = icmp/egress/0/0
check "the interface is the client's host veth" \
	test "$(field icmp interface)" = "$("$LAB" status | awk '$1 == "default/client" { print $4 }')"
check "length is the ICMP echo's frame (14 + 84)" test "$(field icmp len)" = 98
event_ms=$(date -d "$(field icmp time)" +%s%3N)
check "the event's wall-clock time is the send's ($((event_ms - sent)) ms after it)" \
	test $((event_ms - sent)) -ge -50 -a $((event_ms - sent)) -lt 1000

echo "# TCP: protocol and ports"
monitor tcp --json --count 1 --timeout 5 --proto tcp --ip $NOPOD
in_pod default/client socat -T 1 - "TCP:$NOPOD:8080,connect-timeout=1" </dev/null >/dev/null 2>&1
monitor_exit 5
check "the connection attempt is a tcp event to port 8080" \
	test "$(field tcp proto) $(field tcp dst):$(field tcp dport)" = "tcp $NOPOD:8080"
check "with the client's source port" \
	test "$(field tcp src)" = $CLIENT -a "$(field tcp sport)" -gt 0

echo "# the human format"
monitor text --count 1 --timeout 5
ping_nopod
monitor_exit 5
check "one line: time, drop, reason, direction, interface, proto, src -> dst, len" \
	grep -qE "^[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6} drop no-endpoint +egress +lxc[0-9a-f]+ +icmp $CLIENT -> $NOPOD len 98$" \
	"$WORK/text.out"

echo "# filters keep other drops out"
monitor reason --json --count 1 --timeout 5 --reason unknown-source
ping_nopod # no-endpoint: filtered out
in_pod default/client ip addr add $NOPOD/32 dev eth0
in_pod default/client ping -c 1 -W 1 -I $NOPOD $WEB1 >/dev/null 2>&1
in_pod default/client ip addr del $NOPOD/32 dev eth0
monitor_exit 5
check "--reason unknown-source shows that drop only" \
	test "$(lines "$WORK/reason.out") $(field reason reason)" = "1 unknown-source"
monitor ingress --json --timeout 1.5 --direction ingress
ping_nopod
monitor_exit 5
check "--direction ingress shows no egress drop" test "$(lines "$WORK/ingress.out")" -eq 0
monitor udp --json --timeout 1.5 --proto udp --ip $CLIENT
ping_nopod
monitor_exit 5
check "--proto udp shows no ICMP" test "$(lines "$WORK/udp.out")" -eq 0
monitor other --json --timeout 1.5 --ip $WEB1
ping_nopod
monitor_exit 5
check "--ip of another pod shows nothing of the client's" test "$(lines "$WORK/other.out")" -eq 0

echo "# the monitor agrees with bpfctl stats and events"
emitted() { bpfctl node-a --json events | jq .emitted; }
monitor all --json --timeout 4
noep0=$(counter node-a no-endpoint) emitted0=$(emitted)
ping_nopod 3
sleep 0.3
noep1=$(counter node-a no-endpoint) emitted1=$(emitted)
monitor_exit 6
seen=$(jq -s '[.[] | select(.reason == "no-endpoint")] | length' "$WORK/all.out")
check "no-endpoint grew by 3 in stats and 3 events were shown" \
	test "$((noep1 - noep0)) $seen" = "3 3"
check "every event emitted meanwhile was shown ($((emitted1 - emitted0)))" \
	test $((emitted1 - emitted0)) -eq "$(lines "$WORK/all.out")"

echo "# a flood is rate limited, and the monitor says so"
suppressed() { bpfctl node-a --json events | jq .suppressed; }
MISSED_RE='^\([0-9]+ events suppressed by the rate limit, [0-9]+ lost\)$'
supp0=$(suppressed)
monitor flood --json --timeout 8 --ip $NOPOD
in_pod default/client bash -c "for i in {1..3000}; do echo >/dev/udp/$NOPOD/9; done" 2>/dev/null
supp1=$(suppressed)
check "the datapath suppressed events ($((supp1 - supp0)))" test $((supp1 - supp0)) -gt 0
check "after 5 s of silence the monitor says how many, on stderr" \
	wait_for 7 grep -qE "$MISSED_RE" "$WORK/flood.err"
check "while it keeps running" kill -0 "$MON_PID"
monitor_exit 4
shown=$(lines "$WORK/flood.out")
check "it showed no more than the CPUs' budgets allow ($shown of 3000)" \
	test "$shown" -lt 3000
check "it said so once: nothing new was missed by the exit" \
	test "$(grep -cE "$MISSED_RE" "$WORK/flood.err")" -eq 1
check "the numbers add up: shown + suppressed = 3000 ($shown + $((supp1 - supp0)))" \
	test $((shown + supp1 - supp0)) -eq 3000
check "stdout stayed JSON lines" jq -e . "$WORK/flood.out"

echo "# a connection a policy allows shows up within a second, with its rule"
web_isolated() { bpfctl node-a --json endpoints | jq -e ".[] | select(.ip == \"$WEB1\") | .policy.ingress.isolated"; }
store_put policy.yaml <"$REPO/tests/e2e/np_allow_client.yaml"
check "the policy isolates shop/web-1" wait_for 5 web_isolated
check "bpfctl endpoints names the pods (the agent's ew_endpoint_names)" \
	test "$(bpfctl node-a --json endpoints | jq -r ".[] | select(.ip == \"$WEB1\") | .pod")" = shop/web-1
policy_by_name() { bpfctl node-a --json policy shop/web-1 | jq -e ".ip == \"$WEB1\" and .ingress.isolated"; }
check "bpfctl policy takes the pod's name" policy_by_name
monitor allowed --json --count 1 --timeout 5 --event policy --verdict allowed --ip $WEB1
sent=$(now_ms)
http_get default/client $WEB1 8080 >/dev/null &
check "the allowed connection is printed within 1 s of the connect" \
	wait_for 1 test -s "$WORK/allowed.out"
echo "  (after $(($(now_ms) - sent)) ms)"
wait $!
monitor_exit 5
check "a policy event, verdict allowed, reason forward" \
	test "$(field allowed event)/$(field allowed verdict)/$(field allowed reason)" = policy/allowed/forward
check "from the client to web-1:8080, on web-1's ingress" \
	test "$(field allowed src) -> $(field allowed dst):$(field allowed dport) $(field allowed direction)" = \
	"$CLIENT -> $WEB1:8080 ingress"
check "with the rule that allowed it" \
	test "$(field allowed ruleName)" = "NetworkPolicy shop/allow-client ingress[0]"
both_identities() {
	[[ $(field allowed srcIdentityName) == "default app=client" &&
		$(field allowed dstIdentityName) == "shop app=web"* ]]
}
check "and both ends' identities" both_identities
check "bpfctl stats --policy counted it" \
	test "$(bpfctl node-a --json stats --policy | jq '[.packets[] | select(.verdict == "allowed" and .direction == "ingress") | .packets] | add')" -ge 1
monitor denied_text --count 1 --timeout 5 --verdict denied
in_pod default/client socat -T 1 - "TCP:$WEB1:9999,connect-timeout=1" </dev/null >/dev/null 2>&1
monitor_exit 5
check "a port no rule allows: a denied drop, with both identities" \
	grep -qE "^[0-9:.]+ drop policy-denied +ingress .* tcp +$CLIENT:[0-9]+ -> $WEB1:9999 len [0-9]+  identity [0-9]+ \(default app=client\) -> [0-9]+ \(shop app=web" \
	"$WORK/denied_text.out"

echo "# signals and errors"
monitor term
kill -TERM "$MON_PID"
monitor_exit 2
check "SIGTERM ends the monitor cleanly (status 0)" test $? -eq 0
monitor first --timeout 5
"$LAB" exec node:node-a -- "$BUILD/bpfctl" --bpffs "$PINS" monitor --timeout 1 \
	>"$WORK/second.out" 2>&1
check "a second monitor on the node is refused (status 1)" test $? -eq 1
check "saying why" grep -q "another bpfctl monitor is reading" "$WORK/second.out"
kill -INT "$MON_PID"
monitor_exit 2
check "Ctrl-C (SIGINT) ends the monitor cleanly (status 0)" test $? -eq 0

"$BUILD/bpfctl" --bpffs /nonexistent monitor >"$WORK/err.out" 2>&1
check "--bpffs /nonexistent: exit status 1" test $? -eq 1
check "and the pins are said to be missing" \
	grep -q "/nonexistent/maps/ew_config not found: the agent has not run with --bpffs /nonexistent" \
	"$WORK/err.out"
"$BUILD/bpfctl" --bpffs "$PINS" monitor --reason nonsense >"$WORK/err.out" 2>&1
check "an unknown --reason is a usage error (status 2) naming it" \
	bash -c "test $? -eq 2 && grep -q 'reason nonsense: no such reason' '$WORK/err.out'"
"$BUILD/bpfctl" --bpffs "$PINS" stats --ip $CLIENT >"$WORK/err.out" 2>&1
check "monitor options on another command are refused (status 2)" \
	bash -c "test $? -eq 2 && grep -q 'options of monitor, not of stats' '$WORK/err.out'"

finish
