# SPDX-License-Identifier: Apache-2.0
# The rules kube-proxy writes for N+1 ClusterIP services of 3 endpoints each, with
# conntrack as kube-proxy uses it (DNAT in the nat table; the filter table drops
# conntrack-INVALID packets), in one of its two modes:
#   awk -v mode=iptables -v n=N -v measured=M -v cluster_ip=IP -v backends=A,B,C \
#       -v backend_port=P -v pod_cidr=CIDR -f gen_kube_proxy.awk | iptables-restore
#   awk -v mode=nftables ... | nft -f -
# Service M (0 to N) is the measured one: ClusterIP cluster_ip:80 to backends:backend_port;
# the others are those of bench/lib/gen_services.awk (10.100.0.0 + i + 1, endpoints
# 10.128.0.0 + 3 i + j). iptables: the measured service sits at position M of
# KUBE-SERVICES, which kube-proxy fills in no particular order (M = N/2: half the others
# are matched against first). nftables: one verdict map lookup, whatever the position.
function ip(base, k) {
	k += base
	return sprintf("%d.%d.%d.%d", int(k / 16777216) % 256, int(k / 65536) % 256,
		       int(k / 256) % 256, k % 256)
}
# kube-proxy names its chains after a hash of the service port or endpoint; any unique
# name of the same length will do.
function svc_chain(i) { return sprintf("KUBE-SVC-%016X", i + 1) }
function sep_chain(i, j) { return sprintf("KUBE-SEP-%016X", (i + 1) * 4 + j) }
function service(i,   j, port) {
	if (i == measured) {
		addr = cluster_ip
		for (j = 0; j < 3; j++) ep[j] = be[j + 1]
		port = backend_port
	} else {
		k = i < measured ? i : i - 1
		addr = ip(svc_base, k + 1)
		for (j = 0; j < 3; j++) ep[j] = ip(ep_base, 3 * k + j)
		port = 8080
	}
	name = i == measured ? "bench/svc:http" : sprintf("scale/s%d:http", k)
	return port
}
BEGIN {
	svc_base = 10 * 16777216 + 100 * 65536
	ep_base = 10 * 16777216 + 128 * 65536
	split(backends, be, ",")
	if (mode == "iptables") {
		print "*filter"
		print ":KUBE-FORWARD - [0:0]"
		print "-A FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD"
		print "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP"
		print "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding rules\" -m mark --mark 0x4000/0x4000 -j ACCEPT"
		print "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
		print "COMMIT"
		print "*nat"
		print ":KUBE-SERVICES - [0:0]"
		print ":KUBE-POSTROUTING - [0:0]"
		print ":KUBE-MARK-MASQ - [0:0]"
		print ":KUBE-NODEPORTS - [0:0]"
		for (i = 0; i <= n; i++) {
			print ":" svc_chain(i) " - [0:0]"
			for (j = 0; j < 3; j++) print ":" sep_chain(i, j) " - [0:0]"
		}
		print "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"
		print "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"
		print "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING"
		print "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN"
		print "-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000"
		print "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE --random-fully"
		print "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000"
		for (i = 0; i <= n; i++) {
			port = service(i)
			printf "-A KUBE-SERVICES -d %s/32 -p tcp -m comment --comment \"%s cluster IP\" -m tcp --dport 80 -j %s\n", addr, name, svc_chain(i)
		}
		print "-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS"
		for (i = 0; i <= n; i++) {
			port = service(i)
			printf "-A %s ! -s %s -d %s/32 -p tcp -m comment --comment \"%s cluster IP\" -m tcp --dport 80 -j KUBE-MARK-MASQ\n", svc_chain(i), pod_cidr, addr, name
			printf "-A %s -m comment --comment \"%s -> %s:%s\" -m statistic --mode random --probability 0.33333333349 -j %s\n", svc_chain(i), name, ep[0], port, sep_chain(i, 0)
			printf "-A %s -m comment --comment \"%s -> %s:%s\" -m statistic --mode random --probability 0.50000000000 -j %s\n", svc_chain(i), name, ep[1], port, sep_chain(i, 1)
			printf "-A %s -m comment --comment \"%s -> %s:%s\" -j %s\n", svc_chain(i), name, ep[2], port, sep_chain(i, 2)
			for (j = 0; j < 3; j++) {
				printf "-A %s -s %s/32 -m comment --comment \"%s\" -j KUBE-MARK-MASQ\n", sep_chain(i, j), ep[j], name
				printf "-A %s -p tcp -m comment --comment \"%s\" -m tcp -j DNAT --to-destination %s:%s\n", sep_chain(i, j), name, ep[j], port
			}
		}
		print "COMMIT"
		exit
	}
	# nftables: kube-proxy's nftables mode (table ip kube-proxy)
	print "table ip kube-proxy"
	print "delete table ip kube-proxy"
	print "table ip kube-proxy {"
	print "  chain mark-for-masquerade { mark set mark or 0x4000; }"
	print "  chain masquerading { mark and 0x4000 == 0 return; mark set mark xor 0x4000; masquerade fully-random; }"
	print "  chain nat-prerouting { type nat hook prerouting priority dstnat; policy accept; jump services; }"
	print "  chain nat-output { type nat hook output priority -100; policy accept; jump services; }"
	print "  chain nat-postrouting { type nat hook postrouting priority srcnat; policy accept; jump masquerading; }"
	print "  chain filter-forward { type filter hook forward priority filter; policy accept; ct state invalid drop; }"
	print "  map service-ips { type ipv4_addr . inet_proto . inet_service : verdict; comment \"ClusterIP, ExternalIP and LoadBalancer IP traffic\"; }"
	print "  chain services { ip daddr . meta l4proto . th dport vmap @service-ips; }"
	for (i = 0; i <= n; i++) {
		port = service(i)
		c = sprintf("service-%08X-%s", i + 1, i == measured ? "bench/svc/tcp/http" : "scale/s" k "/tcp/http")
		# The measured service's chain is kube-proxy's: an anonymous numgen verdict map.
		# The others' pick their endpoint with three plain rules instead: the kernel
		# names every anonymous set by scanning all sets of the table, so 10,000 of them
		# take minutes to load (nf_tables_newset). They are never traversed here: only
		# the service-ips lookup, which they fill, is on the measured path.
		if (i == measured)
			pick = sprintf("numgen random mod 3 vmap { 0 : goto endpoint-%08X-0, 1 : goto endpoint-%08X-1, 2 : goto endpoint-%08X-2 }", i + 1, i + 1, i + 1)
		else
			pick = sprintf("numgen random mod 3 == 0 goto endpoint-%08X-0; numgen random mod 2 == 0 goto endpoint-%08X-1; goto endpoint-%08X-2", i + 1, i + 1, i + 1)
		printf "  chain %s { ip daddr %s tcp dport 80 ip saddr != %s jump mark-for-masquerade; %s; }\n", c, addr, pod_cidr, pick
		for (j = 0; j < 3; j++)
			printf "  chain endpoint-%08X-%d { ip saddr %s jump mark-for-masquerade; meta l4proto tcp dnat to %s:%s; }\n", i + 1, j, ep[j], ep[j], port
		svcs[i] = sprintf("%s . tcp . 80 : goto %s", addr, c)
	}
	print "}"
	# the map's elements in batches: one line of 10,000 elements is slow to parse
	for (i = 0; i <= n; i += 500) {
		line = ""
		for (j = i; j <= n && j < i + 500; j++) line = line (j > i ? ", " : "") svcs[j]
		print "add element ip kube-proxy service-ips { " line " }"
	}
}
