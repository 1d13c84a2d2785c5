// SPDX-License-Identifier: Apache-2.0
/* The model the store builds: objects, defaults and lookups. */
#include <arpa/inet.h>

#include "store_fixture.h"

TestSuite(model, .init = store_setup, .fini = store_teardown);

static const struct ew_pod *pod(const char *ns, const char *name)
{
	const struct ew_pod *p = ew_model_pod(model(), ns, name);

	cr_assert_not_null(p, "no pod %s/%s", ns, name);
	return p;
}

static void assert_port(const struct ew_pod *p, size_t i, const char *name, uint16_t port,
			uint8_t protocol)
{
	cr_assert_lt(i, p->n_ports, "%s has %zu ports", p->name, p->n_ports);
	cr_assert_str_eq(p->ports[i].name, name);
	cr_assert_eq(p->ports[i].port, port);
	cr_assert_eq(p->ports[i].protocol, protocol);
}

Test(model, of_the_example_store)
{
	const struct ew_node *node;
	char *dir;

	cr_assert_not_null(getenv("EW_SOURCE_DIR"), "EW_SOURCE_DIR is not set");
	cr_assert_geq(asprintf(&dir, "%s/examples/store", getenv("EW_SOURCE_DIR")), 0);
	ew_store_free(fx.store);
	fx.store = ew_store_new(dir);
	free(dir);
	cr_assert_eq(store_load(), 0, "%s", diags_text());

	cr_assert_eq(model()->n_nodes, 2);
	node = ew_model_node(model(), "node-a");
	cr_assert_not_null(node);
	cr_assert_eq(node->pod_cidr, inet_addr("10.244.1.0"));
	cr_assert_eq(node->pod_prefixlen, 24);
	cr_assert_eq(node->internal_ip, inet_addr("192.168.77.11"));
	cr_assert_str_eq(ew_labels_get(&node->labels, "kubernetes.io/hostname"),
			 "node-a");

	cr_assert_geq(model()->n_namespaces, 2);
	cr_assert_str_eq(
	    ew_labels_get(&ew_model_namespace(model(), "shop")->labels, "team"), "shop");

	cr_assert_eq(model()->n_pods, 4);
	cr_assert_eq(pod("shop", "web-1")->ip, inet_addr("10.244.1.10"));
	cr_assert_eq(pod("shop", "web-2")->ip, inet_addr("10.244.2.11"));
	cr_assert_eq(pod("shop", "db")->ip, inet_addr("10.244.2.20"));
	cr_assert_str_eq(pod("shop", "db")->node_name, "node-b");
	cr_assert_eq(pod("default", "client")->ip, inet_addr("10.244.1.30"));
	cr_assert_str_eq(pod("shop", "web-1")->node_name, "node-a");
	cr_assert_str_eq(ew_labels_get(&pod("shop", "web-1")->labels, "tier"),
			 "frontend");
	cr_assert_eq(pod("shop", "web-1")->n_ports, 1);
	assert_port(pod("shop", "web-1"), 0, "http", 8080, EW_PROTO_TCP);
	cr_assert_eq(pod("shop", "db")->n_ports, 2);
	assert_port(pod("shop", "db"), 0, "sql", 5432, EW_PROTO_TCP);
	assert_port(pod("shop", "db"), 1, "stats", 9125, EW_PROTO_UDP);
	cr_assert_eq(pod("default", "client")->n_ports, 0);
}

Test(model, namespaces_get_their_name_label_as_from_the_api_server)
{
	const struct ew_namespace *ns;

	store_write("ns.yaml",
		    "apiVersion: v1\n"
		    "kind: Namespace\n"
		    "metadata:\n"
		    "  name: shop\n"
		    "  labels: {team: shop, kubernetes.io/metadata.name: other}\n"
		    "---\n"
		    "{apiVersion: v1, kind: Namespace, metadata: {name: bare}}\n");
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	ns = ew_model_namespace(model(), "shop");
	cr_assert_not_null(ns);
	cr_assert_eq(ns->labels.n, 2);
	cr_assert_str_eq(ew_labels_get(&ns->labels, "team"), "shop");
	cr_assert_str_eq(ew_labels_get(&ns->labels, "kubernetes.io/metadata.name"),
			 "shop");
	ns = ew_model_namespace(model(), "bare");
	cr_assert_eq(ns->labels.n, 1);
	cr_assert_str_eq(ew_labels_get(&ns->labels, "kubernetes.io/metadata.name"),
			 "bare");
}

Test(model, pods_default_their_namespace_protocol_and_absent_fields)
{
	const struct ew_pod *p;

	store_write("pods.yaml", "apiVersion: v1\n"
				 "kind: Pod\n"
				 "metadata:\n"
				 "  name: web\n"
				 "  labels:\n"
				 "spec:\n"
				 "  containers:\n"
				 "    - name: web\n"
				 "      ports:\n"
				 "        - containerPort: 80\n"
				 "        - {containerPort: 53, protocol: SCTP}\n"
				 "    - name: sidecar\n"
				 "      ports: [{name: metrics, containerPort: 9090}]\n");
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	p = pod("default", "web");
	cr_assert_null(p->node_name);
	cr_assert_eq(p->ip, 0);
	cr_assert_eq(p->labels.n, 0);
	cr_assert_eq(p->n_ports, 3);
	cr_assert_null(p->ports[0].name);
	cr_assert_eq(p->ports[0].port, 80);
	cr_assert_eq(p->ports[0].protocol, EW_PROTO_TCP);
	cr_assert_eq(p->ports[1].protocol, EW_PROTO_SCTP);
	assert_port(p, 2, "metrics", 9090, EW_PROTO_TCP);
	cr_assert_str_eq(p->origin.file, "pods.yaml");
	cr_assert_eq(p->origin.line, 1);
	cr_assert_eq(p->origin.col, 1);
}

Test(model, nodes_take_the_first_ipv4_pod_cidr_and_internal_ip)
{
	const struct ew_node *a, *b, *c;

	store_write("nodes.yaml",
		    "apiVersion: v1\n"
		    "kind: Node\n"
		    "metadata: {name: a}\n"
		    "spec:\n"
		    "  podCIDRs: [\"fd00:1::/64\", 10.244.1.0/24, 10.244.9.0/24]\n"
		    "status:\n"
		    "  addresses:\n"
		    "    - {type: Hostname, address: a}\n"
		    "    - {type: ExternalIP, address: 203.0.113.1}\n"
		    "    - {type: InternalIP, address: \"fd00::11\"}\n"
		    "    - {type: InternalIP, address: 192.168.77.11}\n"
		    "    - {type: InternalIP, address: 192.168.77.99}\n"
		    "---\n"
		    "apiVersion: v1\n"
		    "kind: Node\n"
		    "metadata: {name: b}\n"
		    "spec: {podCIDR: 10.244.2.0/24, podCIDRs: [10.244.2.0/24]}\n"
		    "---\n"
		    "{apiVersion: v1, kind: Node, metadata: {name: c}}\n");
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	a = ew_model_node(model(), "a");
	b = ew_model_node(model(), "b");
	c = ew_model_node(model(), "c");
	cr_assert(a && b && c);
	cr_assert_eq(a->pod_cidr, inet_addr("10.244.1.0"));
	cr_assert_eq(a->pod_prefixlen, 24);
	cr_assert_eq(a->internal_ip, inet_addr("192.168.77.11"));
	cr_assert_eq(b->pod_cidr, inet_addr("10.244.2.0"));
	cr_assert_eq(b->internal_ip, 0);
	cr_assert_eq(c->pod_cidr, 0);
	cr_assert_eq(c->pod_prefixlen, 0);
}

Test(model, lookups_miss_cleanly)
{
	store_write("pods.yaml",
		    "{apiVersion: v1, kind: Pod, metadata: {name: web, namespace: shop,"
		    " labels: {app: web}}, status: {podIP: 10.244.1.10}}\n");
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	cr_assert_not_null(ew_model_pod(model(), "shop", "web"));
	cr_assert_null(ew_model_pod(model(), "default", "web"));
	cr_assert_null(ew_model_pod(model(), "shop", "we"));
	cr_assert_null(ew_model_node(model(), "web"));
	cr_assert_null(ew_model_namespace(model(), "shop"));
	cr_assert_str_eq(ew_labels_get(&pod("shop", "web")->labels, "app"), "web");
	cr_assert_null(ew_labels_get(&pod("shop", "web")->labels, "ap"));
}
