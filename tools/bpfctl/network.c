// SPDX-License-Identifier: Apache-2.0
/* bpfctl endpoints, routes, nodes: where the datapath sends packets. */
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "bpfctl.h"
#include "table.h"

static int cmp_ip_key(const void *a, const void *b)
{
	return cmp_u32_net(*(const __u32 *)a, *(const __u32 *)b);
}

/* A pod's policy state: "ingress+l7,egress" for people, every flag in JSON. */
static json_t *policy_json(const struct ew_endpoint *ep)
{
	return json_pack("{s:o, s:o, s:b}", "ingress",
			 policy_direction_json(ep, EW_DIR_INGRESS), "egress",
			 policy_direction_json(ep, EW_DIR_EGRESS), "failed",
			 !!(ep->flags & EW_EP_POLICY_FAILED));
}

static void endpoint_row(struct table *t, const struct identities *ids, int names_fd,
			 __u32 addr, const struct ew_endpoint *ep)
{
	char ip[16], mac[18], gw[18], ifname[IF_NAMESIZE] = "-", state[POLICY_STATE_LEN];
	struct ew_endpoint_name name;
	struct ew_identity_name labels;
	bool has_id = ep->identity != EW_IDENTITY_ANY;

	if_indextoname(ep->ifindex, ifname);
	table_row(t, true);
	table_str(t, ip_str(addr, ip));
	table_str(t, pod_name(names_fd, addr, &name));
	table_uint(t, ep->ifindex);
	table_str(t, ifname);
	table_str(t, mac_str(ep->mac, mac));
	table_str(t, mac_str(ep->node_mac, gw));
	if (has_id)
		table_uint(t, ep->identity);
	else
		table_str(t, NULL);
	table_cell(t, policy_state_str(ep, state), policy_json(ep));
	table_str(t, has_id ? identity_name(ids, ep->identity, &labels) : NULL);
}

/* Names are optional: pins of an agent that wrote none show "-". */
int cmd_endpoints(const struct ctl *c)
{
	static const struct table_column cols[] = {
		{ .key = "ip", .heading = "IP", .width = 16 },
		{ .key = "pod", .heading = "POD", .width = 16, .gap = 1 },
		{ .key = "ifindex", .heading = "IFINDEX", .width = 8, .gap = 1 },
		{ .key = "interface", .heading = "INTERFACE", .width = 16, .gap = 1 },
		{ .key = "mac", .heading = "MAC", .width = 18, .gap = 1 },
		{ .key = "gatewayMac", .heading = "GATEWAY-MAC", .width = 18, .gap = 1 },
		{ .key = "identity", .heading = "IDENTITY", .width = 8, .right = true,
		  .gap = 1 },
		{ .key = "policy", .heading = "POLICY", .width = 8 },
		{ .key = "identityName", .heading = "LABELS" },
	};
	struct ew_endpoint_key *keys;
	struct ew_endpoint *eps;
	struct identities ids;
	struct table *t;
	int names_fd;
	long n;

	if (identities_open(c, &ids))
		return 1;
	n = read_entries(c, EW_MAP_ENDPOINTS, sizeof(*keys), sizeof(*eps), cmp_ip_key,
			 (void **)&keys, (void **)&eps);
	if (n < 0) {
		identities_close(&ids);
		return 1;
	}
	names_fd = open_optional_map(c, EW_MAP_ENDPOINT_NAMES);
	t = TABLE_NEW(cols);
	for (long i = 0; i < n; i++)
		endpoint_row(t, &ids, names_fd, keys[i].ip, &eps[i]);
	table_print(t, c->json);
	if (names_fd >= 0)
		close(names_fd);
	identities_close(&ids);
	free(keys);
	free(eps);
	return 0;
}

static const char *route_scope(const struct ew_route *r)
{
	if (r->flags & EW_ROUTE_LOCAL)
		return "local";
	return r->flags & EW_ROUTE_CLUSTER ? "cluster" : "remote";
}

int cmd_routes(const struct ctl *c)
{
	static const struct table_column cols[] = {
		{ .key = "cidr", .heading = "POD-CIDR", .width = 20 },
		{ .key = "scope", .heading = "SCOPE", .width = 8, .gap = 1 },
		{ .key = "nodeIP", .heading = "NODE-IP", .width = 16, .gap = 1 },
		{ .key = "vtepMac", .heading = "VTEP-MAC", .gap = 1 },
	};
	struct ew_route_key *keys;
	struct ew_route *routes;
	struct table *t;
	long n;

	/* The trie's own order: longest prefixes first. */
	n = read_entries(c, EW_MAP_ROUTES, sizeof(*keys), sizeof(*routes), NULL,
			 (void **)&keys, (void **)&routes);
	if (n < 0)
		return 1;
	t = TABLE_NEW(cols);
	for (long i = 0; i < n; i++) {
		const struct ew_route *r = &routes[i];
		char cidr[24], addr[16], node[16], vtep[18];

		snprintf(cidr, sizeof(cidr), "%s/%u", ip_str(keys[i].addr, addr),
			 keys[i].prefixlen);
		ip_str(r->node_ip, node);
		mac_str(r->vtep_mac, vtep);
		table_row(t, true);
		table_str(t, cidr);
		table_str(t, route_scope(r));
		/* A cluster route has no node: "-" for people, zeros in JSON. */
		table_cell(t, r->node_ip ? node : "-", json_string(node));
		table_cell(t, r->node_ip ? vtep : "-", json_string(vtep));
	}
	table_print(t, c->json);
	free(keys);
	free(routes);
	return 0;
}

int cmd_nodes(const struct ctl *c)
{
	static const struct table_column cols[] = {
		{ .key = "ip", .heading = "NODE-IP" },
	};
	int fd;
	struct ew_node_key *keys;
	struct table *t;
	long n;

	n = open_map_keys(c, EW_MAP_NODES, sizeof(*keys), cmp_ip_key, &fd,
			  (void **)&keys);
	if (n < 0)
		return 1;
	t = TABLE_NEW(cols);
	for (long i = 0; i < n; i++) {
		char ip[16];

		table_row(t, true);
		table_str(t, ip_str(keys[i].ip, ip));
	}
	table_print(t, c->json);
	free(keys);
	close(fd);
	return 0;
}
