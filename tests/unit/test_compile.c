// SPDX-License-Identifier: Apache-2.0
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>

#include <edgewire/abi.h>

#include "compile.h"

static uint32_t ip(const char *s)
{
	return inet_addr(s);
}

static struct ew_node nodes[] = {
	{ .name = "node-a", .pod_cidr = 0, .pod_prefixlen = 24 },
	{ .name = "node-b", .pod_cidr = 0, .pod_prefixlen = 24 },
	{ .name = "node-c" }, /* no podCIDR: no route */
};
static struct ew_pod pods[] = {
	{ .namespace = "shop", .name = "web", .node_name = "node-a" },
	{ .namespace = "shop", .name = "db", .node_name = "node-b" },
	{ .namespace = "default", .name = "pending" },
	{ .namespace = "default", .name = "dynamic", .node_name = "node-a" },
	{ .namespace = "kube-system", .name = "proxy", .node_name = "node-a",
	  .host_network = true },
};
static struct ew_compile_config on_a = { .node = "node-a" };

static struct ew_model model = {
	.n_nodes = 3, .nodes = nodes, .n_pods = 5, .pods = pods,
};

static struct ew_attachment att(const char *ns, const char *name,
				const char *addr, uint32_t ifindex)
{
	struct ew_attachment at = {
		.namespace = (char *)ns, .name = (char *)name,
		.container_id = "c1", .ifname = "lxc0", .ip = ip(addr),
		.ifindex = ifindex, .mac = { 0x0a, 0x58, 1, 2, 3, 4 },
		.node_mac = { 0xee, 0xee, 1, 2, 3, 4 },
	};
	return at;
}

static void setup(void)
{
	nodes[0].pod_cidr = ip("10.244.1.0");
	nodes[0].internal_ip = ip("192.168.77.11");
	nodes[1].pod_cidr = ip("10.244.2.0");
	nodes[1].internal_ip = ip("192.168.77.12");
	memcpy(nodes[1].vtep_mac, (uint8_t[]){ 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x02 }, 6);
	pods[0].ip = ip("10.244.1.10");
	pods[1].ip = ip("10.244.2.10");
}

TestSuite(compile, .init = setup);

Test(compile, routes_for_every_node_with_a_cidr_local_flag_on_own)
{
	struct ew_attachments none = { 0 };
	struct ew_desired d;
	struct ew_route_key key = { .prefixlen = 24, .addr = ip("10.244.1.0") };
	const struct ew_route *r;

	ew_desired_init(&d);
	cr_assert_eq(ew_compile(&model, &on_a, &none, &d), 0);
	cr_assert_eq(d.routes.n, 2);
	r = ew_map_state_get(&d.routes, &key);
	cr_assert_not_null(r);
	cr_assert_eq(r->flags, EW_ROUTE_LOCAL);
	cr_assert_eq(r->node_ip, ip("192.168.77.11"));
	key.addr = ip("10.244.2.0");
	r = ew_map_state_get(&d.routes, &key);
	cr_assert_not_null(r);
	cr_assert_eq(r->flags, 0);
	cr_assert_eq(r->node_ip, ip("192.168.77.12"));
	cr_assert_eq(memcmp(r->vtep_mac, nodes[1].vtep_mac, 6), 0);
	cr_assert_eq(d.endpoints.n, 0);
	ew_desired_free(&d);
}

Test(compile, nodes_are_the_other_nodes_with_an_address)
{
	struct ew_attachments none = { 0 };
	struct ew_node_key key = { .ip = ip("192.168.77.12") };
	struct ew_desired d;

	ew_desired_init(&d);
	cr_assert_eq(ew_compile(&model, &on_a, &none, &d), 0);
	cr_assert_eq(d.nodes.n, 1, "node-a is this node, node-c has no address");
	cr_assert_not_null(ew_map_state_get(&d.nodes, &key));
	ew_desired_free(&d);
}

Test(compile, cluster_cidr_catches_what_no_node_owns)
{
	struct ew_compile_config cfg = { .node = "node-a",
					 .cluster_cidr = ip("10.244.0.0"),
					 .cluster_prefixlen = 16 };
	struct ew_attachments none = { 0 };
	struct ew_route_key key = { .prefixlen = 16, .addr = ip("10.244.0.0") };
	const struct ew_route *r;
	struct ew_desired d;

	ew_desired_init(&d);
	cr_assert_eq(ew_compile(&model, &cfg, &none, &d), 0);
	cr_assert_eq(d.routes.n, 3);
	r = ew_map_state_get(&d.routes, &key);
	cr_assert_not_null(r);
	cr_assert_eq(r->flags, EW_ROUTE_CLUSTER);
	cr_assert_eq(r->node_ip, 0);
	ew_desired_free(&d);
}

Test(compile, remote_node_without_address_gets_no_route)
{
	struct ew_attachments none = { 0 };
	struct ew_compile_config on_c = { .node = "node-c" };
	struct ew_route_key key = { .prefixlen = 24, .addr = ip("10.244.2.0") };
	const struct ew_route *r;
	struct ew_desired d;
	uint32_t saved = nodes[1].internal_ip;

	nodes[1].internal_ip = 0;
	ew_desired_init(&d);
	cr_assert_eq(ew_compile(&model, &on_c, &none, &d), 0);
	cr_assert_null(ew_map_state_get(&d.routes, &key));
	key.addr = ip("10.244.1.0");
	r = ew_map_state_get(&d.routes, &key);
	cr_assert_not_null(r);
	cr_assert_eq(r->flags, 0, "node-a is remote from node-c");
	ew_desired_free(&d);
	nodes[1].internal_ip = saved;
}

Test(compile, endpoint_only_for_attached_pods_of_this_node)
{
	struct ew_attachment items[] = {
		att("shop", "web", "10.244.1.10", 7),	  /* ok */
		att("shop", "db", "10.244.2.10", 8),	  /* other node */
		att("shop", "gone", "10.244.1.99", 9),	  /* not in store */
		att("default", "dynamic", "10.244.1.50", 0), /* interface gone */
	};
	struct ew_attachments a = { .n = 4, .items = items };
	struct ew_endpoint_key key = { .ip = ip("10.244.1.10") };
	const struct ew_endpoint *ep;
	struct ew_desired d;

	ew_desired_init(&d);
	cr_assert_eq(ew_compile(&model, &on_a, &a, &d), 0);
	cr_assert_eq(d.endpoints.n, 1);
	ep = ew_map_state_get(&d.endpoints, &key);
	cr_assert_not_null(ep);
	cr_assert_eq(ep->ifindex, 7);
	cr_assert_eq(memcmp(ep->mac, items[0].mac, 6), 0);
	cr_assert_eq(memcmp(ep->node_mac, items[0].node_mac, 6), 0);
	ew_desired_free(&d);
}

/* Each endpoint is named "namespace/name", zero after the end: the agent
 * diffs whole values with the map, so anything else there would rewrite
 * every name on every apply (and after every restart). */
Test(compile, endpoints_are_named_and_zero_after_the_name)
{
	struct ew_attachment items[] = {
		att("shop", "web", "10.244.1.10", 7),
		att("shop", "db", "10.244.2.10", 8), /* other node: no name either */
	};
	struct ew_attachments a = { .n = 2, .items = items };
	struct ew_endpoint_key key = { .ip = ip("10.244.1.10") };
	const struct ew_endpoint_name *name;
	struct ew_desired d;

	ew_desired_init(&d);
	cr_assert_eq(ew_compile(&model, &on_a, &a, &d), 0);
	cr_assert_eq(d.endpoint_names.n, 1);
	name = ew_map_state_get(&d.endpoint_names, &key);
	cr_assert_not_null(name);
	cr_assert_str_eq(name->text, "shop/web");
	for (size_t i = strlen(name->text); i < sizeof(name->text); i++)
		cr_assert_eq(name->text[i], 0, "byte %zu after \"%s\" is %d", i, name->text,
			     name->text[i]);
	ew_desired_free(&d);
}

Test(compile, pod_without_store_ip_takes_the_attachment_ip)
{
	struct ew_attachment at = att("default", "dynamic", "10.244.1.50", 3);
	struct ew_attachments a = { .n = 1, .items = &at };
	struct ew_desired d;
	char why[256];

	cr_assert_null(ew_attachment_problem(&model, "node-a", &at, why, sizeof(why)));
	ew_desired_init(&d);
	cr_assert_eq(ew_compile(&model, &on_a, &a, &d), 0);
	cr_assert_eq(d.endpoints.n, 1);
	ew_desired_free(&d);
}

Test(compile, problems_are_explained)
{
	struct ew_attachment at = att("shop", "web", "10.244.1.11", 7);
	char why[256];

	cr_assert_not_null(ew_attachment_problem(&model, "node-a", &at, why, sizeof(why)));
	cr_assert(strstr(why, "status.podIP 10.244.1.10") && strstr(why, "10.244.1.11"),
		  "got: %s", why);
	at = att("shop", "db", "10.244.2.10", 7);
	ew_attachment_problem(&model, "node-a", &at, why, sizeof(why));
	cr_assert(strstr(why, "scheduled on node-b"), "got: %s", why);
	at = att("default", "pending", "10.244.1.77", 7);
	ew_attachment_problem(&model, "node-a", &at, why, sizeof(why));
	cr_assert(strstr(why, "scheduled on no node"), "got: %s", why);
	at = att("x", "y", "10.244.1.12", 7);
	ew_attachment_problem(&model, "node-a", &at, why, sizeof(why));
	cr_assert(strstr(why, "not in the store"), "got: %s", why);
	at = att("shop", "web", "10.244.1.10", 0);
	ew_attachment_problem(&model, "node-a", &at, why, sizeof(why));
	cr_assert(strstr(why, "does not exist"), "got: %s", why);
	at = att("kube-system", "proxy", "10.244.1.13", 7);
	ew_attachment_problem(&model, "node-a", &at, why, sizeof(why));
	cr_assert(strstr(why, "spec.hostNetwork"), "got: %s", why);
}
