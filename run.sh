#!/usr/bin/env bash
# The two entry points README.md starts with:
#   ./run.sh demo   install, build, bring the lab up on examples/store, show traffic
#   ./run.sh test   install, build, run every test
set -euo pipefail
cd "$(dirname "$0")"

build() {
	scripts/deps.sh
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build -j"$(nproc)"
}

case "${1:-}" in
demo)
	build
	tools/lab/lab up examples/store --external ext=192.168.77.100
	tools/lab/demo-report
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
