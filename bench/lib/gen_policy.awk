# SPDX-License-Identifier: Apache-2.0
# The ingress policy of the policy section: the server pod accepts its client's
# connections to port `port` through one rule, after n rules that do not match them (even
# k: a peer 10.200.0.0 + k/2 to `port`; odd k: the client to port 10000 + k/2), and drops
# everything else. In one of two forms:
#   awk -v mode=store -v n=N -v port=P -f gen_policy.awk
#       a NetworkPolicy bench/server-ingress for the edgewire store: pods app=server, the
#       client by podSelector app=client, the peers as ipBlock /32s
#   awk -v mode=iptables -v n=N -v port=P -v client=IP -v server=IP -f gen_policy.awk
#       filter rules as an iptables NetworkPolicy implementation writes them (kube-router
#       style): established connections accepted first, then a chain of the pod's rules
#       for its new connections, in order, ending in a drop; for iptables-restore
function ip(base, k) {
	k += base
	return sprintf("%d.%d.%d.%d", int(k / 16777216) % 256, int(k / 65536) % 256,
		       int(k / 256) % 256, k % 256)
}
BEGIN {
	peer_base = 10 * 16777216 + 200 * 65536 # 10.200.0.0
	if (mode == "store") {
		print "apiVersion: networking.k8s.io/v1"
		print "kind: NetworkPolicy"
		print "metadata: {name: server-ingress, namespace: bench}"
		print "spec:"
		print "  podSelector: {matchLabels: {app: server}}"
		print "  policyTypes: [Ingress]"
		print "  ingress:"
		for (k = 0; k < n; k++)
			if (k % 2 == 0)
				printf "    - {from: [{ipBlock: {cidr: %s/32}}], ports: [{protocol: TCP, port: %d}]}\n", ip(peer_base, k / 2), port
			else
				printf "    - {from: [{podSelector: {matchLabels: {app: client}}}], ports: [{protocol: TCP, port: %d}]}\n", 10000 + int(k / 2)
		printf "    - {from: [{podSelector: {matchLabels: {app: client}}}], ports: [{protocol: TCP, port: %d}]}\n", port
		exit
	}
	print "*filter"
	print ":POD-FW-SERVER - [0:0]"
	print "-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
	print "-A FORWARD -m conntrack --ctstate INVALID -j DROP"
	printf "-A FORWARD -d %s/32 -m comment --comment \"bench/server ingress\" -j POD-FW-SERVER\n", server
	for (k = 0; k < n; k++)
		if (k % 2 == 0)
			printf "-A POD-FW-SERVER -s %s/32 -p tcp -m tcp --dport %d -j ACCEPT\n", ip(peer_base, k / 2), port
		else
			printf "-A POD-FW-SERVER -s %s/32 -p tcp -m tcp --dport %d -j ACCEPT\n", client, 10000 + int(k / 2)
	printf "-A POD-FW-SERVER -s %s/32 -p tcp -m tcp --dport %d -j ACCEPT\n", client, port
	print "-A POD-FW-SERVER -j DROP"
	print "COMMIT"
}
