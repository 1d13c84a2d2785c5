#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Golden tests of bpfctl: every command, as text and as JSON, against real
# pinned maps with fixed contents, compared with tests/golden/NAME.txt and
# NAME.json. The maps are pinned on a private bpffs by loading the datapath
# (fill_maps.c); nothing on the host is touched.
#
#   EW_UPDATE_GOLDEN=1 ctest -R golden    rewrites the golden files from this run
#
# Connection ages are fixed with BPFCTL_NOW_NS; memory sizes, which depend on
# the kernel and the number of CPUs, are replaced with <size>.
set -uo pipefail

REPO=${EW_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD=${EW_BUILD_DIR:-$REPO/build}
GOLDEN=$REPO/tests/golden
BPFCTL=$BUILD/bpfctl
export BPFCTL_NOW_NS=100000000000000 # fill_maps.c's NOW_NS
PASSED=0
FAILED=0

if ((EUID != 0)); then
	echo "SKIP: needs root to mount a bpffs and load the datapath"
	exit 77
fi
for bin in "$BPFCTL" "$BUILD/golden_fill_maps"; do
	[[ -x $bin ]] || { echo "FAIL - build first: $bin is missing"; exit 1; }
done

WORK=$(mktemp -d /tmp/ew-golden.XXXXXX)
PINS=$WORK/bpffs
cleanup() {
	mountpoint -q "$PINS" && { umount "$PINS" || umount -l "$PINS"; }
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir "$PINS" "$WORK/out"
chmod 755 "$WORK" # lets the permission test reach the pins as nobody
if ! mount -t bpf bpf "$PINS" || ! "$BUILD/golden_fill_maps" "$PINS"; then
	echo "FAIL - could not pin and fill the maps on a private bpffs under $PINS"
	exit 1
fi

# pass/fail MESSAGE: one result, counted for the summary.
pass() { echo "ok - $*" && ((++PASSED)); }
fail() { echo "FAIL - $*" && ((++FAILED)); }

# Output that differs between machines: memory sizes.
normalize() { # KIND FILE
	if [[ $1 == json ]]; then
		python3 - "$2" <<-'EOF'
			import json, sys
			def scrub(v):
			    if isinstance(v, dict):
			        return {k: ("<size>" if k == "memlock" else scrub(x)) for k, x in v.items()}
			    return [scrub(x) for x in v] if isinstance(v, list) else v
			path = sys.argv[1]
			doc = scrub(json.load(open(path)))
			open(path, "w").write(json.dumps(doc, indent=2) + "\n")
		EOF
	else
		sed -i -E -e 's/[0-9.]+ (B|KiB|MiB|GiB)$/<size>/' -e "s#$WORK#<work>#g" "$2"
	fi
}

# compare NAME.KIND: this run's output against the golden file.
compare() {
	local file=$1
	if [[ ${EW_UPDATE_GOLDEN:-} == 1 ]]; then
		cp "$WORK/out/$file" "$GOLDEN/$file"
		pass "$file (rewritten)"
	elif [[ ! -f $GOLDEN/$file ]]; then
		fail "$file: no golden file; run with EW_UPDATE_GOLDEN=1 to create it"
	elif diff -u "$GOLDEN/$file" "$WORK/out/$file" >"$WORK/diff"; then
		pass "$file"
	else
		fail "$file differs from the golden file:"
		cat "$WORK/diff"
	fi
}

# golden NAME ARGS...: bpfctl ARGS, stdout and stderr, and the exit status
# unless 0, as NAME.txt; with AS_NOBODY=1 bpfctl runs as user nobody.
golden() {
	local name=$1 status=0 run=("$BPFCTL")
	shift
	[[ ${AS_NOBODY:-} == 1 ]] && run=(setpriv --reuid=65534 --regid=65534 --clear-groups "$BPFCTL")
	"${run[@]}" "$@" >"$WORK/out/$name.txt" 2>&1 </dev/null || status=$?
	((status == 0)) || echo "(exit status $status)" >>"$WORK/out/$name.txt"
	normalize txt "$WORK/out/$name.txt"
	compare "$name.txt"
}

# golden_json NAME ARGS...: bpfctl --json ARGS as NAME.json; it must succeed,
# say nothing on stderr and print JSON.
golden_json() {
	local name=$1
	shift
	if ! "$BPFCTL" --json "$@" >"$WORK/out/$name.json" 2>"$WORK/err" </dev/null ||
		[[ -s $WORK/err ]]; then
		fail "$name.json: bpfctl --json $* failed: $(cat "$WORK/err")"
	elif ! python3 -m json.tool "$WORK/out/$name.json" >/dev/null 2>"$WORK/err"; then
		fail "$name.json: not JSON: $(cat "$WORK/err")"
	else
		normalize json "$WORK/out/$name.json"
		compare "$name.json"
	fi
}

# on_tty ANSWER NAME ARGS...: bpfctl on a terminal, answering its question.
on_tty() {
	local answer=$1 name=$2
	shift 2
	python3 - "$answer" "$BPFCTL" "$@" >"$WORK/out/$name.txt" <<-'EOF'
		import os, pty, sys
		answer, argv = sys.argv[1], sys.argv[2:]
		pid, fd = pty.fork()
		if pid == 0:
		    os.execv(argv[0], argv)
		out, asked = b"", False
		while True:
		    try:
		        chunk = os.read(fd, 4096)
		    except OSError:
		        break
		    if not chunk:
		        break
		    out += chunk
		    if not asked and b"Type yes" in out:
		        os.write(fd, answer.encode() + b"\n")
		        asked = True
		status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
		sys.stdout.write(out.decode().replace("\r\n", "\n"))
		if status:
		    print(f"(exit status {status})")
	EOF
	normalize txt "$WORK/out/$name.txt"
	compare "$name.txt"
}

P=(--bpffs "$PINS")

echo "# every command, as text and as JSON"
golden help --help
for cmd in endpoints routes nodes services backends ct maps stats reasons events \
	identities ipcache; do
	golden "$cmd" "${P[@]}" "$cmd"
	golden_json "$cmd" "${P[@]}" "$cmd"
done
golden services-tables "${P[@]}" services --tables
golden_json services-tables "${P[@]}" services --tables
golden stats-all "${P[@]}" stats --all
golden stats-policy "${P[@]}" stats --policy
golden_json stats-policy "${P[@]}" stats --policy
golden stats-http "${P[@]}" stats --http
golden_json stats-http "${P[@]}" stats --http
golden ct-count "${P[@]}" ct count
golden_json ct-count "${P[@]}" ct count
golden monitor "${P[@]}" monitor --timeout 0.3
golden monitor-json "${P[@]}" --json monitor --timeout 0.3 --count 1

echo "# ct filters"
golden ct-addr "${P[@]}" ct --addr 203.0.113.7
golden ct-addr-backend "${P[@]}" ct --addr 10.244.2.10
golden ct-port "${P[@]}" ct --port 53
golden ct-proto "${P[@]}" ct --proto udp
golden ct-service "${P[@]}" ct --service 10.96.0.10:80
golden_json ct-service "${P[@]}" ct --service 10.96.0.10:80
golden ct-count-filtered "${P[@]}" ct count --proto tcp --service 192.168.77.11:30080

echo "# errors"
mkdir "$PINS/empty"
golden err-no-pins --bpffs "$PINS/empty" services
golden err-not-bpffs --bpffs "$WORK" maps
if command -v setpriv >/dev/null; then
	AS_NOBODY=1 golden err-permission "${P[@]}" ct
else
	echo "skip - err-permission.txt: no setpriv (util-linux) to run bpfctl as nobody"
fi
golden err-option "${P[@]}" stats --ip 10.244.1.30
golden err-action "${P[@]}" ct drop
golden err-service "${P[@]}" ct --service 10.96.0.10
golden err-command "${P[@]}" frobnicate
golden err-stats-views "${P[@]}" stats --policy --http
golden err-verdict "${P[@]}" monitor --verdict maybe
golden err-event "${P[@]}" monitor --event flow

echo "# policy"
golden policy "${P[@]}" policy 10.244.1.10
golden_json policy "${P[@]}" policy 10.244.1.10
golden policy-by-name "${P[@]}" policy shop/web-1
golden policy-not-isolated "${P[@]}" policy default/client
golden err-policy-no-pod "${P[@]}" policy 10.244.1.99
golden err-policy-name "${P[@]}" policy shop/web
golden err-policy-form "${P[@]}" policy web
golden err-policy-missing "${P[@]}" policy
if python3 - "$WORK/out/policy.json" <<-'EOF'; then
	import json, sys
	doc = json.load(open(sys.argv[1]))
	assert doc["identity"] == 4242 and doc["ingress"]["isolated"], doc
	ports = [(a["direction"], a["peer"], a["ports"]) for a in doc["allowed"]]
	assert ("ingress", 7007, {"from": 8000, "to": 8080}) in ports, ports
	assert ("egress", None, {"from": 53, "to": 53}) in ports, ports
	l7 = [(a["ports"], a["l7"], a["ruleName"]) for a in doc["allowed"] if a["l7"]]
	assert l7 == [({"from": 9090, "to": 9090}, True,
	               "CiliumNetworkPolicy shop/web-api rule 1 of 1, ingress[0]")], l7
	assert doc["pod"] == "shop/web-1" and doc["ingress"]["l7"], doc
EOF
	pass "policy.json parses back: identity, isolation, port ranges, L7"
else
	fail "policy.json does not say what fill_maps wrote"
fi
if python3 - "$WORK/out/endpoints.json" <<-'EOF'; then
	import json, sys
	eps = {e["ip"]: e for e in json.load(open(sys.argv[1]))}
	web = eps["10.244.1.10"]
	assert web["pod"] == "shop/web-1" and web["identity"] == 4242, web
	assert web["identityName"] == "shop app=web,tier=front", web
	assert web["policy"] == {"ingress": {"isolated": True, "l7": True},
	                         "egress": {"isolated": True, "l7": False},
	                         "failed": False}, web
	assert eps["10.244.1.30"]["pod"] == "default/client", eps
	assert not eps["10.244.1.30"]["policy"]["ingress"]["isolated"], eps
EOF
	pass "endpoints.json parses back: names, identities, policy state"
else
	fail "endpoints.json does not say what fill_maps wrote"
fi
if python3 - "$WORK/out/stats-policy.json" "$WORK/out/stats-http.json" <<-'EOF'; then
	import json, sys
	doc = json.load(open(sys.argv[1]))
	packets = {(r["verdict"], r["direction"]): r["packets"] for r in doc["packets"]}
	assert len(packets) == 6 and packets[("proxied", "ingress")] == 5, packets
	assert packets[("denied", "egress")] == 2 and packets[("proxied", "egress")] == 0
	reqs = {(r["reason"], r["direction"]): r["requests"] for r in doc["httpRequests"]}
	assert reqs[("forward", "ingress")] == 120 and reqs[("forward", "egress")] == 0, reqs
	assert reqs[("policy-denied", "ingress")] == 7, reqs
	rules = [(r["rule"], r["verdict"], r["requests"]) for r in json.load(open(sys.argv[2]))]
	assert rules == [(None, "dropped", 1), (None, "denied", 7),
	                 (1300 << 12, "allowed", 120)], rules
EOF
	pass "stats-policy.json and stats-http.json parse back: verdicts, requests, rules"
else
	fail "stats --policy or --http JSON does not say what fill_maps wrote"
fi

# holds_lock PID: PID holds a flock (bpfctl monitor's on the maps directory).
# Trying the lock instead would take it for a moment, and a monitor
# starting then would find it taken.
holds_lock() { awk -v pid="$1" '$2 == "FLOCK" && $5 == pid { found = 1 } END { exit !found }' /proc/locks; }

# monitor_events NAME FILL COUNT ARGS...: bpfctl ARGS --count COUNT while
# fill_maps PINS FILL (drops or events) writes events; times are masked.
monitor_events() {
	local name=$1 fill=$2 count=$3 pid
	shift 3
	"$BPFCTL" "$@" --count "$count" --timeout 10 >"$WORK/out/$name" 2>&1 &
	pid=$!
	for _ in $(seq 100); do # the monitor holds a lock once it reads
		holds_lock "$pid" && break
		sleep 0.05
	done
	"$BUILD/golden_fill_maps" "$PINS" "$fill" 2>"$WORK/err" ||
		fail "$name: fill_maps $fill: $(cat "$WORK/err")"
	wait "$pid"
	sed -i -E -e 's/^[0-9:]{8}\.[0-9]{6} /<time> /' \
		-e 's/"time":"[^"]*"/"time":"<time>"/' "$WORK/out/$name"
	compare "$name"
}
monitor_events monitor-policy.txt drops 2 "${P[@]}" monitor
monitor_events monitor-policy-json.txt drops 2 "${P[@]}" --json monitor
if python3 - "$WORK/out/monitor-policy-json.txt" <<-'EOF'; then
	import json, sys
	lines = [json.loads(l) for l in open(sys.argv[1])]
	assert [l["reason"] for l in lines] == ["policy-denied"] * 2, lines
	ids = [(l["srcIdentity"], l["dstIdentity"]) for l in lines]
	assert ids == [(4242, 5151), (4242, 2)], ids
	assert lines[0]["dstIdentityName"] == "shop app=client", lines
EOF
	pass "monitor-policy-json.txt parses back: both ends' identities"
else
	fail "monitor-policy-json.txt does not name the identities fill_maps wrote"
fi

echo "# monitor: every kind of event, and its filters"
monitor_events monitor-events.txt events 6 "${P[@]}" monitor
monitor_events monitor-events-json.txt events 6 "${P[@]}" --json monitor
monitor_events monitor-allowed.txt events 2 "${P[@]}" monitor --verdict allowed
monitor_events monitor-denied.txt events 2 "${P[@]}" monitor --verdict denied
monitor_events monitor-http-refused.txt events 2 "${P[@]}" monitor --event http \
	--verdict denied --verdict dropped
monitor_events monitor-policy-ingress.txt events 1 "${P[@]}" monitor --event policy \
	--direction ingress
if python3 - "$WORK/out/monitor-events-json.txt" <<-'EOF'; then
	import json, sys
	text = open(sys.argv[1]).read().splitlines()
	lines = [json.loads(l) for l in text if l.startswith("{")]
	kinds = [(l["event"], l["verdict"], l["reason"]) for l in lines]
	assert kinds == [("drop", "denied", "policy-denied"), ("policy", "allowed", "forward"),
	                 ("policy", "proxied", "proxy"), ("http", "allowed", "forward"),
	                 ("http", "denied", "policy-denied"), ("http", "dropped", "malformed")], kinds
	assert lines[1]["ruleName"] == "CiliumNetworkPolicy shop/dns rule 2 of 2, egress[0]", lines[1]
	assert lines[1]["dstIdentity"] == 6060, lines[1]
	http = [(l["method"], l["path"], l["status"], l["rule"]) for l in lines[3:]]
	assert http == [("GET", "/api/items?page=2", 200, 1300 << 12),
	                ("DELETE", "/api/items/7", 403, None),
	                ("GET", "/?[31mred", 400, None)], http
	assert all("method" not in l for l in lines[:3]), lines
	assert text[-1].startswith("(2 records of an unknown type or size skipped"), text
EOF
	pass "monitor-events-json.txt parses back: kinds, verdicts, rules, requests, skipped records"
else
	fail "monitor-events-json.txt does not say what fill_maps wrote"
fi

echo "# ct flush"
golden flush-no-tty "${P[@]}" ct flush
on_tty no flush-tty-no "${P[@]}" ct flush
on_tty yes flush-tty-yes "${P[@]}" ct flush --proto udp
golden flush-filtered "${P[@]}" ct flush --yes --service 10.96.0.10:80
golden flush-left "${P[@]}" ct
golden_json flush-all "${P[@]}" ct flush --yes
golden flush-none-left "${P[@]}" ct count

echo "# ABI version"
"$BUILD/golden_fill_maps" "$PINS" abi 1
golden err-abi "${P[@]}" endpoints

echo "$PASSED passed, $FAILED failed"
((FAILED == 0))
