// SPDX-License-Identifier: Apache-2.0
/* The store reader on v1 Service and discovery.k8s.io/v1 EndpointSlice: the
 * defaults, every rejection and where, and the conflicts between objects. */
#include <arpa/inet.h>

#include <edgewire/abi.h>

#include "store_fixture.h"

TestSuite(store_services, .init = store_setup, .fini = store_teardown);

/* A Service shop/NAME; the fields of its spec follow from line 5, indented by
 * two. */
#define SERVICE(name)                                                                    \
	"apiVersion: v1\n"                                                               \
	"kind: Service\n"                                                                \
	"metadata: {name: " name ", namespace: shop}\n"                                  \
	"spec:\n"

/* An EndpointSlice shop/NAME of the Service SERVICE; its ports and endpoints
 * follow from line 8. */
#define SLICE(name, service)                                                             \
	"apiVersion: discovery.k8s.io/v1\n"                                              \
	"kind: EndpointSlice\n"                                                          \
	"metadata:\n"                                                                    \
	"  name: " name "\n"                                                             \
	"  namespace: shop\n"                                                            \
	"  labels: {kubernetes.io/service-name: " service "}\n"                          \
	"addressType: IPv4\n"

/* A ClusterIP service with one port per the flow mapping PORT */
#define CLUSTER_IP_SERVICE(name, ip, port)                                               \
	SERVICE(name)                                                                    \
	"  clusterIP: " ip "\n"                                                          \
	"  ports: [" port "]\n"

/* A NodePort service with one port per the flow mapping PORT */
#define NODE_PORT_SERVICE(name, port)                                                    \
	SERVICE(name)                                                                    \
	"  type: NodePort\n"                                                             \
	"  ports: [" port "]\n"

/* Writes the documents, each of them a string, as the file name, separated by
 * "---" lines. */
#define write_docs(name, ...) write_docs_null(name, __VA_ARGS__, NULL)

static void write_docs_null(const char *name, ...)
{
	char text[8192] = "";
	const char *doc;
	va_list ap;

	va_start(ap, name);
	while ((doc = va_arg(ap, const char *))) {
		if (*text)
			strcat(text, "---\n");
		cr_assert_lt(strlen(text) + strlen(doc), sizeof(text) - 8);
		strcat(text, doc);
	}
	va_end(ap);
	store_write(name, text);
}

/* --- Service: what is read ---------------------------------------------------- */

Test(store_services, a_service_with_only_a_port_gets_every_default)
{
	const struct ew_service *s;

	store_write("svc.yaml", "apiVersion: v1\n"
				"kind: Service\n"
				"metadata: {name: web}\n"
				"spec:\n"
				"  ports:\n"
				"    - port: 80\n");
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	cr_assert_eq(model()->n_services, 1);
	s = ew_model_service(model(), "default", "web");
	cr_assert_not_null(s, "the namespace defaults to default");
	cr_assert_eq(s->type, EW_SERVICE_CLUSTER_IP);
	cr_assert_eq(s->cluster_ip, 0, "no clusterIP: no ClusterIP frontend");
	cr_assert_not(s->has_selector);
	cr_assert_eq(s->selector.n, 0);
	cr_assert_not(s->affinity);
	cr_assert_eq(s->affinity_timeout, EW_AFFINITY_TIMEOUT_DEFAULT);
	cr_assert_eq(s->n_ports, 1);
	cr_assert_null(s->ports[0].name);
	cr_assert_eq(s->ports[0].protocol, EW_PROTO_TCP);
	cr_assert_eq(s->ports[0].port, 80);
	cr_assert_eq(s->ports[0].target_port, 80, "targetPort defaults to port");
	cr_assert_null(s->ports[0].target_port_name);
	cr_assert_eq(s->ports[0].node_port, 0);
	cr_assert_str_eq(s->origin.file, "svc.yaml");
	cr_assert_eq(s->origin.line, 1);
	cr_assert_eq(s->origin.col, 1);
}

Test(store_services, reads_every_field_of_a_node_port_service)
{
	struct ew_label pod_labels[] = {
	    {"app", "web"}, {"tier", "frontend"}, {"version", "2"}};
	struct ew_labels pod = {3, pod_labels};
	const struct ew_service *s;

	store_write(
	    "svc.yaml",
	    SERVICE(
		"web") "  type: NodePort\n"
		       "  clusterIP: 10.96.0.10\n"
		       "  selector: {app: web, tier: frontend}\n"
		       "  sessionAffinity: ClientIP\n"
		       "  sessionAffinityConfig:\n"
		       "    clientIP: {timeoutSeconds: 600}\n"
		       "  ports:\n"
		       "    - {name: http, port: 80, targetPort: http, nodePort: 30080}\n"
		       "    - name: dns\n"
		       "      protocol: UDP\n"
		       "      port: 53\n"
		       "      targetPort: 5353\n"
		       "      nodePort: 30053\n"
		       "    - {name: dns-tcp, port: 53, nodePort: 30053}\n");
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	s = ew_model_service(model(), "shop", "web");
	cr_assert_not_null(s);
	cr_assert_eq(s->type, EW_SERVICE_NODE_PORT);
	cr_assert_eq(s->cluster_ip, inet_addr("10.96.0.10"));
	cr_assert(s->has_selector);
	cr_assert_eq(s->selector.n, 2);
	cr_assert(ew_labels_match(&s->selector, &pod));
	cr_assert(s->affinity);
	cr_assert_eq(s->affinity_timeout, 600);
	cr_assert_eq(s->n_ports, 3);

	cr_assert_str_eq(s->ports[0].name, "http");
	cr_assert_eq(s->ports[0].protocol, EW_PROTO_TCP);
	cr_assert_eq(s->ports[0].port, 80);
	cr_assert_eq(s->ports[0].target_port, 0, "0 when the target is a name");
	cr_assert_str_eq(s->ports[0].target_port_name, "http");
	cr_assert_eq(s->ports[0].node_port, 30080);

	cr_assert_str_eq(s->ports[1].name, "dns");
	cr_assert_eq(s->ports[1].protocol, EW_PROTO_UDP);
	cr_assert_eq(s->ports[1].port, 53);
	cr_assert_eq(s->ports[1].target_port, 5353);
	cr_assert_null(s->ports[1].target_port_name);
	cr_assert_eq(s->ports[1].node_port, 30053);

	cr_assert_eq(s->ports[2].protocol, EW_PROTO_TCP,
		     "53/TCP and 53/UDP are two ports, and so are their node ports");
	cr_assert_eq(s->ports[2].target_port, 53);
}

Test(store_services, headless_services_empty_selectors_and_unset_target_ports)
{
	const struct ew_service *s;

	store_write("db.yaml", SERVICE("db") "  clusterIP: None\n"
					     "  selector: {}\n"
					     "  sessionAffinity: None\n"
					     "  ports:\n"
					     "    - {port: 5432, targetPort: 0}\n");
	store_write("cache.yaml", CLUSTER_IP_SERVICE("cache", "\"\"",
						     "{port: 6379, targetPort: \"\"}"));
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	s = ew_model_service(model(), "shop", "db");
	cr_assert_not_null(s);
	cr_assert_eq(s->cluster_ip, 0, "None: headless");
	cr_assert_not(s->has_selector, "an empty selector is no selector");
	cr_assert_not(s->affinity);
	cr_assert_eq(s->ports[0].target_port, 5432, "targetPort 0 is unset");
	s = ew_model_service(model(), "shop", "cache");
	cr_assert_not_null(s);
	cr_assert_eq(s->cluster_ip, 0, "an empty clusterIP is none");
	cr_assert_eq(s->ports[0].target_port, 6379, "an empty targetPort is unset");
}

/* --- Service: what is rejected, and where ------------------------------------------ */

Test(store_services, rejects_service_types_other_than_cluster_ip_and_node_port)
{
	/* a LoadBalancer has node ports: they are no problem of their own */
	store_write("a.yaml", SERVICE("a") "  type: LoadBalancer\n"
					   "  ports: [{port: 80, nodePort: 30080}]\n");
	store_write("b.yaml", SERVICE("b") "  type: ExternalName\n"
					   "  ports: [{port: 80}]\n");
	store_write("c.yaml", SERVICE("c") "  type: Balanced\n"
					   "  ports: [{port: 80}]\n");
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 3, "%s", diags_text());
	assert_diag("a.yaml", 5, 9, "Service shop/a", "spec.type LoadBalancer",
		    "edgewire supports ClusterIP and NodePort");
	assert_diag("b.yaml", 5, 9, "Service shop/b", "spec.type ExternalName",
		    "edgewire supports ClusterIP and NodePort");
	assert_diag("c.yaml", 5, 9, "spec.type \"Balanced\"", "ClusterIP or NodePort");
	cr_assert_eq(model()->n_services, 0);
}

Test(store_services, rejects_cluster_ips_that_are_not_ipv4_or_none)
{
	store_write("a.yaml", CLUSTER_IP_SERVICE("a", "10.96.0.300", "{port: 80}"));
	store_write("b.yaml", CLUSTER_IP_SERVICE("b", "fd00::10", "{port: 80}"));
	store_write("c.yaml", SERVICE("c") "  type: NodePort\n"
					   "  clusterIP: None\n"
					   "  ports: [{port: 80, nodePort: 30080}]\n");
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 3, "%s", diags_text());
	assert_diag("a.yaml", 5, 14, "Service shop/a",
		    "spec.clusterIP \"10.96.0.300\" is not an IPv4 address",
		    "10.96.0.10, or None");
	assert_diag("b.yaml", 5, 14, "spec.clusterIP \"fd00::10\"");
	assert_diag(
	    "c.yaml", 6, 14, "Service shop/c",
	    "spec.clusterIP None (headless) is not allowed with spec.type NodePort");
}

Test(store_services, rejects_bad_selectors_and_session_affinity)
{
	store_write("a.yaml", SERVICE("a") "  selector: {app: -web}\n"
					   "  sessionAffinity: Sticky\n"
					   "  sessionAffinityConfig:\n"
					   "    clientIP: {timeoutSeconds: 0}\n"
					   "  ports: [{port: 80}]\n");
	store_write("b.yaml", SERVICE("b") "  sessionAffinity: ClientIP\n"
					   "  sessionAffinityConfig: {clientIP: "
					   "{timeoutSeconds: 86401}}\n"
					   "  ports: [{port: 80}]\n");
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 4, "%s", diags_text());
	assert_diag("a.yaml", 5, 19, "Service shop/a", "label app: value \"-web\"",
		    "spec.selector");
	assert_diag("a.yaml", 6, 20, "spec.sessionAffinity \"Sticky\"",
		    "None or ClientIP");
	assert_diag("a.yaml", 8, 32,
		    "spec.sessionAffinityConfig.clientIP.timeoutSeconds \"0\"",
		    "from 1 to 86400");
	assert_diag("b.yaml", 6, 54, "Service shop/b",
		    "spec.sessionAffinityConfig.clientIP.timeoutSeconds \"86401\"",
		    "from 1 to 86400");
}

Test(store_services, requires_at_least_one_port)
{
	store_write("a.yaml", "{apiVersion: v1, kind: Service, metadata: {name: a}}\n");
	store_write("b.yaml", SERVICE("b") "  clusterIP: 10.96.0.11\n");
	store_write("c.yaml", SERVICE("c") "  ports: []\n");
	store_write("d.yaml", SERVICE("d") "  ports: {port: 80}\n");
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 4, "%s", diags_text());
	assert_diag("a.yaml", 1, 1, "Service default/a", "spec.ports is missing",
		    "at least one port");
	assert_diag("b.yaml", 5, 3, "Service shop/b", "spec.ports is missing");
	assert_diag("c.yaml", 5, 10, "spec.ports is empty", "at least one port");
	assert_diag("d.yaml", 5, 10, "spec.ports: expected a list, got a mapping");
}

Test(store_services, names_each_port_of_a_service_with_several_uniquely)
{
	store_write("svc.yaml", SERVICE("a") "  ports:\n"
					     "    - {name: http, port: 80}\n"
					     "    - port: 443\n"
					     "    - {name: HTTPS, port: 8443}\n"
					     "    - {name: http, port: 8080}\n");
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 3, "%s", diags_text());
	assert_diag("svc.yaml", 7, 7, "Service shop/a", "spec.ports[1].name is missing",
		    "more than one port");
	assert_diag("svc.yaml", 8, 14, "spec.ports[2].name \"HTTPS\"", "DNS label");
	assert_diag("svc.yaml", 9, 14,
		    "spec.ports[3].name \"http\" is already the name of spec.ports[0]",
		    "unique port names");
}

Test(store_services, rejects_bad_protocols_and_port_numbers)
{
	store_write("svc.yaml", SERVICE("a") "  ports:\n"
					     "    - {name: a, port: 80, protocol: SCTP}\n"
					     "    - {name: b, port: 81, protocol: ICMP}\n"
					     "    - {name: c}\n"
					     "    - {name: d, port: 0}\n"
					     "    - {name: e, port: 65536}\n");
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 5, "%s", diags_text());
	assert_diag("svc.yaml", 6, 37, "spec.ports[0].protocol SCTP is not supported",
		    "TCP or UDP");
	assert_diag("svc.yaml", 7, 37, "spec.ports[1].protocol \"ICMP\"", "TCP or UDP");
	assert_diag("svc.yaml", 8, 7, "spec.ports[2].port is missing", "1 to 65535");
	assert_diag("svc.yaml", 9, 23, "spec.ports[3].port \"0\"", "1 to 65535");
	assert_diag("svc.yaml", 10, 23, "spec.ports[4].port \"65536\"", "1 to 65535");
}

Test(store_services, target_ports_are_port_numbers_or_port_names)
{
	store_write(
	    "svc.yaml",
	    SERVICE("a") "  ports:\n"
			 "    - {name: a, port: 80, targetPort: 70000}\n"
			 "    - {name: b, port: 81, targetPort: web_http}\n"
			 "    - {name: c, port: 82, targetPort: -web}\n"
			 "    - {name: d, port: 83, targetPort: web--http}\n"
			 "    - {name: e, port: 84, targetPort: abcdefghijklmnop}\n"
			 "    - {name: f, port: 85, targetPort: abcdefghijklmno}\n"
			 "    - {name: g, port: 86, targetPort: 8080}\n");
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 5, "%s", diags_text());
	assert_diag("svc.yaml", 6, 39, "spec.ports[0].targetPort \"70000\"",
		    "a port number from 1 to 65535 or a port name");
	assert_diag("svc.yaml", 7, 39, "spec.ports[1].targetPort \"web_http\"",
		    "at least one letter");
	assert_diag("svc.yaml", 8, 39, "spec.ports[2].targetPort \"-web\"");
	assert_diag("svc.yaml", 9, 39, "spec.ports[3].targetPort \"web--http\"",
		    "no '--'");
	assert_diag("svc.yaml", 10, 39, "spec.ports[4].targetPort \"abcdefghijklmnop\"",
		    "at most 15");
}

Test(store_services, node_ports_are_set_exactly_with_type_node_port)
{
	store_write("a.yaml", SERVICE("a") "  ports: [{port: 80, nodePort: 30080}]\n");
	store_write("b.yaml",
		    SERVICE("b") "  type: NodePort\n"
				 "  ports:\n"
				 "    - {name: a, port: 80}\n"
				 "    - {name: b, port: 81, nodePort: 80}\n"
				 "    - {name: c, port: 82, nodePort: 32768}\n");
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 4, "%s", diags_text());
	assert_diag("a.yaml", 5, 32, "Service shop/a",
		    "spec.ports[0].nodePort is set but spec.type is ClusterIP",
		    "spec.type NodePort");
	assert_diag("b.yaml", 7, 7, "Service shop/b", "spec.ports[0].nodePort is missing",
		    "edgewire allocates no node ports; set spec.ports[0].nodePort",
		    "30000 to 32767");
	assert_diag("b.yaml", 8, 37, "spec.ports[1].nodePort \"80\"", "30000 to 32767");
	assert_diag("b.yaml", 9, 37, "spec.ports[2].nodePort \"32768\"",
		    "30000 to 32767");
}

Test(store_services, rejects_a_port_or_node_port_twice_in_one_service)
{
	store_write(
	    "svc.yaml",
	    SERVICE("a") "  type: NodePort\n"
			 "  ports:\n"
			 "    - {name: a, port: 80, nodePort: 30080}\n"
			 "    - {name: b, port: 80, nodePort: 30081, protocol: UDP}\n"
			 "    - {name: c, port: 80, nodePort: 30082}\n"
			 "    - {name: d, port: 81, nodePort: 30080}\n"
			 "    - {name: e, port: 80, nodePort: 30083}\n");
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 3, "%s", diags_text());
	assert_diag("svc.yaml", 9, 23,
		    "spec.ports[2].port 80/TCP is already spec.ports[0]",
		    "each port and protocol once");
	assert_diag("svc.yaml", 10, 37,
		    "spec.ports[3].nodePort 30080/TCP is already the node port of "
		    "spec.ports[0]",
		    "each node port and protocol once");
	assert_diag("svc.yaml", 11, 23,
		    "spec.ports[4].port 80/TCP is already spec.ports[0]");
}

/* --- EndpointSlice: what is read ------------------------------------------------ */

Test(store_services, reads_an_endpoint_slice_with_its_defaults)
{
	const struct ew_endpoint_slice *es;

	store_write("slice.yaml",
		    SLICE("web-abc12",
			  "web") "ports:\n"
				 "  - {name: http, port: 8080}\n"
				 "  - {protocol: UDP, port: 53}\n"
				 "  - {name: \"\"}\n"
				 "endpoints:\n"
				 "  - addresses: [10.244.1.10]\n"
				 "    nodeName: node-a\n"
				 "  - addresses: [10.244.2.11, 10.244.2.99]\n"
				 "    conditions: {ready: false, terminating: true}\n"
				 "  - addresses: [10.244.2.12]\n"
				 "    conditions: {ready: false, serving: true, "
				 "terminating: true}\n");
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	cr_assert_eq(model()->n_slices, 1);
	es = &model()->slices[0];
	cr_assert_str_eq(es->namespace, "shop");
	cr_assert_str_eq(es->name, "web-abc12");
	cr_assert_str_eq(es->service, "web");
	cr_assert_eq(es->origin.line, 1);

	cr_assert_eq(es->n_ports, 3);
	cr_assert_str_eq(es->ports[0].name, "http");
	cr_assert_eq(es->ports[0].protocol, EW_PROTO_TCP);
	cr_assert_eq(es->ports[0].port, 8080);
	cr_assert_null(es->ports[1].name);
	cr_assert_eq(es->ports[1].protocol, EW_PROTO_UDP);
	cr_assert_null(es->ports[2].name, "an empty name is no name");
	cr_assert_eq(es->ports[2].port, 0, "no port: 0");

	cr_assert_eq(es->n_endpoints, 3);
	cr_assert_eq(es->endpoints[0].ip, inet_addr("10.244.1.10"));
	cr_assert(es->endpoints[0].ready, "unset ready is true");
	cr_assert(es->endpoints[0].serving, "unset serving is ready");
	cr_assert_not(es->endpoints[0].terminating, "unset terminating is false");
	cr_assert_str_eq(es->endpoints[0].node_name, "node-a");

	cr_assert_eq(es->endpoints[1].ip, inet_addr("10.244.2.11"), "addresses[0]");
	cr_assert_not(es->endpoints[1].ready);
	cr_assert_not(es->endpoints[1].serving, "unset serving is ready, here false");
	cr_assert(es->endpoints[1].terminating);
	cr_assert_null(es->endpoints[1].node_name);

	cr_assert_not(es->endpoints[2].ready);
	cr_assert(es->endpoints[2].serving);
	cr_assert(es->endpoints[2].terminating);
}

Test(store_services, a_slice_without_ports_or_endpoints_is_empty)
{
	store_write("slice.yaml", SLICE("web-abc12", "web"));
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	cr_assert_eq(model()->slices[0].n_ports, 0);
	cr_assert_eq(model()->slices[0].n_endpoints, 0);
}

/* --- EndpointSlice: what is rejected, and where --------------------------------------
 */

Test(store_services, a_slice_names_its_service_in_a_label)
{
	store_write("a.yaml", "apiVersion: discovery.k8s.io/v1\n"
			      "kind: EndpointSlice\n"
			      "metadata: {name: web-1, labels: {app: web}}\n"
			      "addressType: IPv4\n");
	store_write("b.yaml", "apiVersion: discovery.k8s.io/v1\n"
			      "kind: EndpointSlice\n"
			      "metadata: {name: web-2}\n"
			      "addressType: IPv4\n");
	store_write("c.yaml", SLICE("web-3", "Web"));
	store_write("d.yaml", SLICE("Web_4", "web"));
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 4, "%s", diags_text());
	assert_diag("a.yaml", 3, 33, "EndpointSlice default/web-1",
		    "metadata.labels.kubernetes.io/service-name is missing",
		    "the Service this slice belongs to");
	assert_diag("b.yaml", 3, 11,
		    "metadata.labels.kubernetes.io/service-name is missing");
	assert_diag("c.yaml", 6, 40, "EndpointSlice shop/web-3",
		    "label kubernetes.io/service-name \"Web\" is not a Service name",
		    "DNS label");
	assert_diag("d.yaml", 4, 9, "metadata.name \"Web_4\"", "DNS subdomain");
}

Test(store_services, a_slice_holds_ipv4_addresses)
{
	store_write("a.yaml",
		    "apiVersion: discovery.k8s.io/v1\n"
		    "kind: EndpointSlice\n"
		    "metadata: {name: a, labels: {kubernetes.io/service-name: web}}\n"
		    "endpoints: [{addresses: [10.244.1.10]}]\n");
	store_write("b.yaml",
		    "{apiVersion: discovery.k8s.io/v1, kind: EndpointSlice, "
		    "metadata: {name: b, labels: {kubernetes.io/service-name: "
		    "web}}, addressType: IPv6, endpoints: [{addresses: [fd00::1]}]}\n");
	store_write("c.yaml", "{apiVersion: discovery.k8s.io/v1, kind: EndpointSlice, "
			      "metadata: {name: c, labels: {kubernetes.io/service-name: "
			      "web}}, addressType: FQDN}\n");
	store_write("d.yaml", "{apiVersion: discovery.k8s.io/v1, kind: EndpointSlice, "
			      "metadata: {name: d, labels: {kubernetes.io/service-name: "
			      "web}}, addressType: ipv4}\n");
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 4, "%s", diags_text());
	assert_diag("a.yaml", 1, 1, "EndpointSlice default/a", "addressType is missing",
		    "IPv4");
	assert_diag("b.yaml", 1, 133, "addressType IPv6 is not supported",
		    "edgewire serves IPv4 only", "expected IPv4");
	assert_diag("c.yaml", 1, 133, "addressType FQDN is not supported");
	assert_diag("d.yaml", 1, 133, "addressType \"ipv4\" is not valid",
		    "expected IPv4");
}

Test(store_services, rejects_bad_endpoints)
{
	store_write("slice.yaml",
		    SLICE("web-abc12", "web") "endpoints:\n"
					      "  - nodeName: node-a\n"
					      "  - addresses: []\n"
					      "  - addresses: [10.244.1.10, 10.244.1]\n"
					      "  - addresses: [10.244.1.11]\n"
					      "    conditions: {ready: yes}\n"
					      "    nodeName: -node\n"
					      "  - 10.244.1.12\n");
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 6, "%s", diags_text());
	assert_diag("slice.yaml", 9, 5, "EndpointSlice shop/web-abc12",
		    "endpoints[0].addresses is missing", "at least one IPv4 address");
	assert_diag("slice.yaml", 10, 16, "endpoints[1].addresses is empty");
	assert_diag("slice.yaml", 11, 30,
		    "endpoints[2].addresses[1] \"10.244.1\" is not an IPv4 address");
	assert_diag("slice.yaml", 13, 25, "endpoints[3].conditions.ready \"yes\"",
		    "is not a boolean", "true or false");
	assert_diag("slice.yaml", 14, 15, "endpoints[3].nodeName \"-node\"",
		    "DNS subdomain");
	assert_diag("slice.yaml", 15, 5,
		    "endpoints[4]: expected a mapping, got a string");
}

Test(store_services, rejects_bad_slice_ports)
{
	store_write("slice.yaml",
		    SLICE("web-abc12", "web") "ports:\n"
					      "  - {name: HTTP, port: 8080}\n"
					      "  - {port: 0}\n"
					      "  - {port: 9000, protocol: SCTP}\n");
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 3, "%s", diags_text());
	assert_diag("slice.yaml", 9, 12, "ports[0].name \"HTTP\"", "DNS label");
	assert_diag("slice.yaml", 10, 12, "ports[1].port \"0\"", "1 to 65535");
	assert_diag("slice.yaml", 11, 28, "ports[2].protocol SCTP is not supported",
		    "TCP or UDP");
}

/* --- which objects are read ------------------------------------------------------- */

Test(store_services, reads_services_and_slices_in_lists_and_only_their_api_versions)
{
	store_write(
	    "list.yaml",
	    "apiVersion: v1\n"
	    "kind: List\n"
	    "items:\n"
	    "  - {apiVersion: v1, kind: Service, metadata: {name: web}, spec: "
	    "{ports: [{port: 80}]}}\n"
	    "  - {apiVersion: discovery.k8s.io/v1, kind: EndpointSlice, metadata: "
	    "{name: web-1, labels: {kubernetes.io/service-name: web}}, addressType: "
	    "IPv4}\n"
	    "  - {apiVersion: v2, kind: Service, metadata: {name: other}}\n"
	    "  - {apiVersion: v1, kind: EndpointSlice, metadata: {name: other}}\n"
	    "  - {apiVersion: discovery.k8s.io/v1beta1, kind: EndpointSlice, "
	    "metadata: {name: other}}\n");
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	cr_assert_eq(model()->n_services, 1);
	cr_assert_eq(model()->n_slices, 1);
	cr_assert_eq(model()->services[0].origin.line, 4);
	cr_assert_eq(model()->services[0].origin.col, 5);
	cr_assert_str_eq(model()->slices[0].name, "web-1");
}

/* --- conflicts between objects ------------------------------------------------------ */

Test(store_services, a_second_service_or_slice_of_a_name_is_blamed)
{
	write_docs("a.yaml", CLUSTER_IP_SERVICE("web", "10.96.0.10", "{port: 80}"),
		   SLICE("web-1", "web"));
	write_docs("b.yaml", CLUSTER_IP_SERVICE("web", "10.96.0.11", "{port: 81}"),
		   SLICE("web-1", "web"));
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 2, "%s", diags_text());
	assert_diag("b.yaml", 1, 1, "Service shop/web is defined twice",
		    "first at a.yaml:1:1");
	assert_diag("b.yaml", 8, 1, "EndpointSlice shop/web-1 is defined twice",
		    "first at a.yaml:8:1");
	cr_assert_eq(model()->n_services, 1);
	cr_assert_eq(model()->services[0].cluster_ip, inet_addr("10.96.0.10"));
	cr_assert_eq(model()->n_slices, 1);
	cr_assert_str_eq(model()->slices[0].origin.file, "a.yaml");
}

Test(store_services, services_may_not_share_a_cluster_ip_port_and_protocol)
{
	store_write("a.yaml", CLUSTER_IP_SERVICE("web", "10.96.0.10",
						 "{name: http, port: 80}, "
						 "{name: dns, port: 53, protocol: UDP}"));
	/* another port, another protocol, another address: no conflict */
	write_docs("b.yaml",
		   CLUSTER_IP_SERVICE("api", "10.96.0.10",
				      "{name: https, port: 443}, {name: dns, port: 53}"),
		   CLUSTER_IP_SERVICE("api2", "10.96.0.11", "{port: 80}"));
	store_write("c.yaml",
		    CLUSTER_IP_SERVICE("dns", "10.96.0.10", "{port: 53, protocol: UDP}"));
	cr_assert_eq(store_load(), -1);
	assert_only_diag("c.yaml", 1, 1, "Service shop/dns",
			 "spec.clusterIP 10.96.0.10 with spec.ports[0].port 53/UDP",
			 "is already taken by spec.ports[1] of Service shop/web at "
			 "a.yaml:1:1",
			 "no other service uses");
	cr_assert_eq(model()->n_services, 3);
	cr_assert_null(ew_model_service(model(), "shop", "dns"));
}

Test(store_services, headless_services_share_no_cluster_ip)
{
	write_docs("a.yaml", CLUSTER_IP_SERVICE("a", "None", "{port: 80}"),
		   CLUSTER_IP_SERVICE("b", "None", "{port: 80}"));
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	cr_assert_eq(model()->n_services, 2);
}

Test(store_services, services_may_not_share_a_node_port_and_protocol)
{
	write_docs("svc.yaml", NODE_PORT_SERVICE("web", "{port: 80, nodePort: 30080}"),
		   NODE_PORT_SERVICE("dns", "{port: 53, nodePort: 30080, protocol: UDP}"),
		   NODE_PORT_SERVICE("api", "{port: 443, nodePort: 30080}"));
	cr_assert_eq(store_load(), -1);
	assert_only_diag("svc.yaml", 15, 1, "Service shop/api",
			 "spec.ports[0].nodePort 30080/TCP is already taken by "
			 "spec.ports[0] of Service shop/web at svc.yaml:1:1",
			 "a node port and protocol no other service uses");
	cr_assert_eq(model()->n_services, 0, "the file is not taken in part");
}

/* The objects of a file that was not taken are not there for later files. */
Test(store_services, a_file_not_taken_claims_nothing_for_later_files)
{
	write_docs("a.yaml", NODE_PORT_SERVICE("web", "{port: 80, nodePort: 30080}"),
		   NODE_PORT_SERVICE("api", "{port: 443, nodePort: 30080}"));
	store_write("b.yaml", NODE_PORT_SERVICE("web", "{port: 80, nodePort: 30080}"));
	cr_assert_eq(store_load(), -1);
	assert_only_diag("a.yaml", 8, 1, "Service shop/api", "nodePort 30080/TCP is already taken");
	cr_assert_eq(model()->n_services, 1);
	cr_assert_str_eq(model()->services[0].origin.file, "b.yaml");
}

/* --- last good state ------------------------------------------------------------ */

Test(store_services, a_bad_edit_keeps_the_last_good_service)
{
	store_write("svc.yaml", CLUSTER_IP_SERVICE("web", "10.96.0.10",
						   "{port: 80, targetPort: 8080}"));
	cr_assert_eq(store_load(), 0, "%s", diags_text());

	store_write("svc.yaml", CLUSTER_IP_SERVICE("web", "10.96.0.10",
						   "{port: 80, targetPort: 80800}"));
	cr_assert_eq(store_load(), -1);
	assert_only_diag("svc.yaml", 6, 34, "Service shop/web",
			 "spec.ports[0].targetPort \"80800\"");
	cr_assert_eq(model()->n_services, 1);
	cr_assert_eq(model()->services[0].ports[0].target_port, 8080);

	store_write("svc.yaml", CLUSTER_IP_SERVICE("web", "10.96.0.10",
						   "{port: 80, targetPort: 9090}"));
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	cr_assert_eq(model()->services[0].ports[0].target_port, 9090);

	store_remove("svc.yaml");
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	cr_assert_eq(model()->n_services, 0);
}

Test(store_services, a_later_file_is_blamed_and_the_earlier_keeps_its_service)
{
	store_write("b.yaml", CLUSTER_IP_SERVICE("b", "10.96.0.10", "{port: 80}"));
	cr_assert_eq(store_load(), 0, "%s", diags_text());

	/* a.yaml sorts first: b.yaml, already good, is now the later one */
	store_write("a.yaml", CLUSTER_IP_SERVICE("a", "10.96.0.10", "{port: 80}"));
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 2, "%s", diags_text());
	assert_diag("b.yaml", 1, 1, "Service shop/b", "Service shop/a at a.yaml:1:1");
	assert_diag("b.yaml", 0, 0, "last good version conflicts");
	cr_assert_eq(model()->n_services, 1);
	cr_assert_str_eq(model()->services[0].name, "a");
}
