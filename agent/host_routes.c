// SPDX-License-Identifier: Apache-2.0
#include "host_routes.h"

#include <arpa/inet.h>
#include <linux/rtnetlink.h>
#include <string.h>

#include <netlink/route/route.h>

#include <edgewire/abi.h>

#include "log.h"

/* The remote node's route of entry i of routes, or NULL. */
static const struct ew_route *remote_route(const struct ew_map_state *routes, size_t i)
{
	const struct ew_route *r = ew_map_state_value(routes, i);

	return r->node_ip && !(r->flags & (EW_ROUTE_LOCAL | EW_ROUTE_CLUSTER)) ? r : NULL;
}

static struct nl_addr *ipv4_addr(uint32_t ip, int prefixlen)
{
	struct nl_addr *a = nl_addr_build(AF_INET, &ip, sizeof(ip));

	if (a)
		nl_addr_set_prefixlen(a, prefixlen);
	return a;
}

/* The route of ours to key's CIDR via gateway (0: none, to delete). */
static struct rtnl_route *host_route(const struct ew_route_key *key, uint32_t gateway,
				     int ifindex, int mtu)
{
	struct rtnl_route *route = rtnl_route_alloc();
	struct nl_addr *dst = ipv4_addr(key->addr, key->prefixlen), *gw = NULL;
	struct rtnl_nexthop *nh = NULL;

	if (!route || !dst)
		goto fail;
	rtnl_route_set_family(route, AF_INET);
	rtnl_route_set_table(route, RT_TABLE_MAIN);
	rtnl_route_set_protocol(route, EW_RTPROT_EDGEWIRE);
	if (rtnl_route_set_dst(route, dst))
		goto fail;
	if (gateway) {
		if (!(nh = rtnl_route_nh_alloc()) || !(gw = ipv4_addr(gateway, 32)))
			goto fail;
		rtnl_route_nh_set_ifindex(nh, ifindex);
		rtnl_route_nh_set_gateway(nh, gw);
		rtnl_route_add_nexthop(route, nh);
		nh = NULL;
		rtnl_route_set_metric(route, RTAX_MTU, mtu);
	}
	nl_addr_put(dst);
	if (gw)
		nl_addr_put(gw);
	return route;
fail:
	if (nh)
		rtnl_route_nh_free(nh);
	if (gw)
		nl_addr_put(gw);
	if (dst)
		nl_addr_put(dst);
	if (route)
		rtnl_route_put(route);
	return NULL;
}

static const char *cidr_text(const struct ew_route_key *key, char *buf, size_t len)
{
	char addr[INET_ADDRSTRLEN];

	snprintf(buf, len, "%s/%u", inet_ntop(AF_INET, &key->addr, addr, sizeof(addr)),
		 key->prefixlen);
	return buf;
}

/* Whether route is ours and routes, with the same gateway, a CIDR of a
 * remote node; removes it when not. */
static int keep_or_remove(struct nl_sock *sock, struct rtnl_route *route,
			  const struct ew_map_state *routes, int ifindex)
{
	struct nl_addr *dst = rtnl_route_get_dst(route);
	struct ew_route_key key = { .prefixlen = nl_addr_get_prefixlen(dst) };
	const struct ew_route *want;
	char text[32];
	int rc;

	if (rtnl_route_get_protocol(route) != EW_RTPROT_EDGEWIRE ||
	    rtnl_route_get_family(route) != AF_INET ||
	    nl_addr_get_len(dst) != sizeof(key.addr))
		return 0;
	memcpy(&key.addr, nl_addr_get_binary_addr(dst), sizeof(key.addr));
	want = ifindex ? ew_map_state_get(routes, &key) : NULL;
	if (want && !(want->flags & (EW_ROUTE_LOCAL | EW_ROUTE_CLUSTER)) && want->node_ip)
		return 0; /* rewritten below: a replace is idempotent */
	rc = rtnl_route_delete(sock, route, 0);
	if (rc < 0)
		ew_warn("routes", "cannot remove the route to %s: %s",
			cidr_text(&key, text, sizeof(text)), nl_geterror(rc));
	return rc < 0 ? -1 : 0;
}

static int remove_stale(struct nl_sock *sock, const struct ew_map_state *routes, int ifindex)
{
	struct nl_cache *cache;
	struct nl_object *obj;
	int err = 0;

	if (rtnl_route_alloc_cache(sock, AF_INET, 0, &cache) < 0)
		return -1;
	for (obj = nl_cache_get_first(cache); obj; obj = nl_cache_get_next(obj))
		err |= keep_or_remove(sock, (struct rtnl_route *)obj, routes, ifindex);
	nl_cache_free(cache);
	return err;
}

static int write_wanted(struct nl_sock *sock, const struct ew_map_state *routes,
			int ifindex, int mtu)
{
	int err = 0;

	for (size_t i = 0; ifindex && i < routes->n; i++) {
		const struct ew_route *r = remote_route(routes, i);
		const struct ew_route_key *key = ew_map_state_key(routes, i);
		struct rtnl_route *route;
		char text[32];
		int rc;

		if (!r)
			continue;
		route = host_route(key, r->node_ip, ifindex, mtu);
		rc = route ? rtnl_route_add(sock, route, NLM_F_CREATE | NLM_F_REPLACE) : -NLE_NOMEM;
		if (rc < 0) {
			ew_warn("routes", "cannot route %s via its node: %s; the node "
				"cannot reach those pods itself", cidr_text(key, text, sizeof(text)),
				nl_geterror(rc));
			err = -1;
		}
		if (route)
			rtnl_route_put(route);
	}
	return err;
}

int ew_host_routes_sync(const struct ew_map_state *routes, int ifindex, int mtu)
{
	struct nl_sock *sock = nl_socket_alloc();
	int err = -1;

	if (sock && !nl_connect(sock, NETLINK_ROUTE))
		err = remove_stale(sock, routes, ifindex) | write_wanted(sock, routes, ifindex, mtu);
	else
		ew_warn("routes", "cannot open a netlink socket: the node cannot reach "
			"pods of other nodes itself");
	if (sock)
		nl_socket_free(sock);
	return err;
}
