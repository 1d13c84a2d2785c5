#!/usr/bin/env bash
# The two entry points README.md starts with:
#   ./run.sh demo   install, build, bring the lab up on examples/store, show traffic,
#                   add a network policy and an L7 (HTTP) policy live and take
#                   them out again
#   ./run.sh test   install, build, run every test
set -euo pipefail
cd "$(dirname "$0")"

# Both install packages and make network namespaces: root's work.
if ((EUID != 0)); then
	if command -v sudo >/dev/null; then
		exec sudo "./$(basename "$0")" "$@"
	fi
	echo "$0: run this as root (it installs packages and creates network namespaces)" >&2
	exit 1
fi

build() {
	scripts/deps.sh
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build -j"$(nproc)"
}

case "${1:-}" in
demo)
	build
	# The lab runs on a copy of the example, which the demo adds a policy to and
	# takes it from again; `tools/lab/lab down` removes it.
	store=/run/edgewire-lab/${EW_LAB:-ew}/_store
	rm -rf "$store" && mkdir -p "$store" && cp examples/store/*.yaml "$store/"
	tools/lab/lab up "$store" --external ext=192.168.77.100
	tools/lab/demo-report --policy examples/policies/db-from-web.yaml \
		--l7 examples/policies/web-get-public.yaml default/client shop/web-2:8080
	;;
test)
	build
	cd build
	ctest --output-on-failure
	;;
*)
	echo "usage: $0 demo|test" >&2
	exit 2
	;;
esac
