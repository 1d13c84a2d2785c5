# SPDX-License-Identifier: Apache-2.0
# Writes N ClusterIP Services, each with an EndpointSlice of E ready endpoints, as
# Kubernetes YAML for the edgewire store (docs/services.md): the "other services" of the
# services section and the scale store of the control_plane section.
#   awk -v n=N -v e=E [-v ns=NAMESPACE] -f gen_services.awk
# Service i (0-based) is NS/s<i>, ClusterIP 10.100.0.0 + i + 1, port 80/TCP to 8080; its
# endpoints are 10.128.0.0 + i*E + j (outside every node's pod CIDR: never reached).
function ip(base, k) {
	k += base
	return sprintf("%d.%d.%d.%d", int(k / 16777216) % 256, int(k / 65536) % 256,
		       int(k / 256) % 256, k % 256)
}
BEGIN {
	if (ns == "") ns = "scale"
	svc_base = 10 * 16777216 + 100 * 65536    # 10.100.0.0
	ep_base = 10 * 16777216 + 128 * 65536     # 10.128.0.0
	printf "apiVersion: v1\nkind: List\nitems:\n"
	printf "  - {apiVersion: v1, kind: Namespace, metadata: {name: %s}}\n", ns
	for (i = 0; i < n; i++) {
		printf "  - apiVersion: v1\n    kind: Service\n    metadata: {name: s%d, namespace: %s}\n", i, ns
		printf "    spec:\n      clusterIP: %s\n      ports: [{port: 80, targetPort: 8080}]\n", ip(svc_base, i + 1)
		printf "  - apiVersion: discovery.k8s.io/v1\n    kind: EndpointSlice\n"
		printf "    metadata:\n      name: s%d-1\n      namespace: %s\n", i, ns
		printf "      labels: {kubernetes.io/service-name: s%d}\n", i
		printf "    addressType: IPv4\n    ports: [{port: 8080}]\n    endpoints:\n"
		for (j = 0; j < e; j++)
			printf "      - addresses: [%s]\n", ip(ep_base, i * e + j)
	}
}
