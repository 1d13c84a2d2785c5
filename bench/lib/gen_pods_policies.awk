# SPDX-License-Identifier: Apache-2.0
# The policy store of the control_plane section: n pods on node-a in namespace cp, in g
# label sets (app: a<i mod g>, so g identities), and p NetworkPolicies, policy j isolating
# app a<j mod g> for ingress from app a<(j+1) mod g> on TCP port 8000 + j / g.
#   awk -v n=N -v p=P [-v g=G] -f gen_pods_policies.awk
# Pod i's address is 10.244.0.0 + 2 + i (node-a's pod CIDR is 10.244.0.0/16 in that store).
function ip(base, k) {
	k += base
	return sprintf("%d.%d.%d.%d", int(k / 16777216) % 256, int(k / 65536) % 256,
		       int(k / 256) % 256, k % 256)
}
BEGIN {
	if (g == "") g = 100
	base = 10 * 16777216 + 244 * 65536 + 2
	printf "apiVersion: v1\nkind: List\nitems:\n"
	printf "  - {apiVersion: v1, kind: Namespace, metadata: {name: cp}}\n"
	for (i = 0; i < n; i++) {
		printf "  - apiVersion: v1\n    kind: Pod\n"
		printf "    metadata: {name: p%d, namespace: cp, labels: {app: a%d}}\n", i, i % g
		printf "    spec: {nodeName: node-a, containers: [{name: c, image: x}]}\n"
		printf "    status: {podIP: %s}\n", ip(base, i)
	}
	for (j = 0; j < p; j++) {
		printf "  - apiVersion: networking.k8s.io/v1\n    kind: NetworkPolicy\n"
		printf "    metadata: {name: np%d, namespace: cp}\n", j
		printf "    spec:\n      podSelector: {matchLabels: {app: a%d}}\n", j % g
		printf "      policyTypes: [Ingress]\n"
		printf "      ingress: [{from: [{podSelector: {matchLabels: {app: a%d}}}], ports: [{protocol: TCP, port: %d}]}]\n", (j + 1) % g, 8000 + int(j / g)
	}
}
