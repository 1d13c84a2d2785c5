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

echo "# policy"
golden policy "${P[@]}" policy 10.244.1.10
golden_json policy "${P[@]}" policy 10.244.1.10
golden policy-not-isolated "${P[@]}" policy 10.244.1.30
golden err-policy-no-pod "${P[@]}" policy 10.244.1.99
golden err-policy-name "${P[@]}" policy shop/web
golden err-policy-missing "${P[@]}" policy
if python3 - "$WORK/out/policy.json" <<-'EOF'; then
	import json, sys
	doc = json.load(open(sys.argv[1]))
	assert doc["identity"] == 4242 and doc["ingress"]["isolated"], doc
	ports = [(a["direction"], a["peer"], a["ports"]) for a in doc["allowed"]]
	assert ("ingress", 7007, {"from": 8000, "to": 8080}) in ports, ports
	assert ("egress", None, {"from": 53, "to": 53}) in ports, ports
EOF
	pass "policy.json parses back: identity, isolation, port ranges"
else
	fail "policy.json does not say what fill_maps wrote"
fi

# monitor_drops NAME ARGS...: bpfctl ARGS while fill_maps makes two policy
# drops; event times are masked.
monitor_drops() {
	local name=$1 pid
	shift
	"$BPFCTL" "$@" --count 2 --timeout 10 >"$WORK/out/$name" 2>&1 &
	pid=$!
	for _ in $(seq 100); do # the monitor holds this lock once it reads
		flock -n "$PINS/maps" true || break
		sleep 0.05
	done
	"$BUILD/golden_fill_maps" "$PINS" drops 2>"$WORK/err" ||
		fail "$name: fill_maps drops: $(cat "$WORK/err")"
	wait "$pid"
	sed -i -E -e 's/^[0-9:]{8}\.[0-9]{6} /<time> /' \
		-e 's/"time":"[^"]*"/"time":"<time>"/' "$WORK/out/$name"
	compare "$name"
}
monitor_drops monitor-policy.txt "${P[@]}" monitor
monitor_drops monitor-policy-json.txt "${P[@]}" --json monitor
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
