#!/usr/bin/env bash
# Installs what edgewire needs to build, run the lab and run the tests on
# Debian 12, and mounts bpffs. Installs only what is missing.
set -euo pipefail

packages=(
	build-essential cmake pkg-config clang llvm bpftool
	libbpf-dev libelf-dev zlib1g-dev libyaml-dev libjansson-dev
	libnl-3-dev libnl-route-3-dev libcriterion-dev libclang-rt-14-dev
	iproute2 iputils-ping util-linux containernetworking-plugins socat iperf3 jq procps tshark
	curl python3-prometheus-client iptables nftables conntrack wrk nginx gnuplot-nox
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! mountpoint -q /sys/fs/bpf; then
	mount -t bpf bpf /sys/fs/bpf
fi
