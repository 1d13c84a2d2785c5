// SPDX-License-Identifier: Apache-2.0
/* The proxy's policy route, through libnl-route-3. */
#include "route.h"

#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <netlink/netlink.h>
#include <netlink/route/route.h>
#include <netlink/route/rule.h>

#include <edgewire/abi.h>

#include "log.h"

/* The rule is added only when missing: the kernel would keep duplicates. */
static int install_rule(struct nl_sock *sock)
{
	struct rtnl_rule *rule = rtnl_rule_alloc();
	int rc;

	if (!rule)
		return -NLE_NOMEM;
	rtnl_rule_set_family(rule, AF_INET);
	rtnl_rule_set_mark(rule, EW_MARK_TO_PROXY);
	rtnl_rule_set_mask(rule, EW_MARK_MASK);
	rtnl_rule_set_table(rule, EW_PROXY_ROUTE_TABLE);
	rtnl_rule_set_prio(rule, EW_PROXY_RULE_PREF);
	rtnl_rule_set_action(rule, FR_ACT_TO_TBL);
	rc = rtnl_rule_add(sock, rule, NLM_F_EXCL);
	rtnl_rule_put(rule);
	return rc == -NLE_EXIST ? 0 : rc;
}

static int install_local_route(struct nl_sock *sock)
{
	struct rtnl_route *route = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	struct nl_addr *any = NULL;
	int rc = -NLE_NOMEM;

	if (!route || !nh)
		goto out;
	rc = nl_addr_parse("0.0.0.0/0", AF_INET, &any);
	if (rc)
		goto out;
	rtnl_route_set_family(route, AF_INET);
	rtnl_route_set_table(route, EW_PROXY_ROUTE_TABLE);
	rtnl_route_set_type(route, RTN_LOCAL);
	rtnl_route_set_scope(route, RT_SCOPE_HOST);
	rtnl_route_set_dst(route, any);
	rtnl_route_nh_set_ifindex(nh, if_nametoindex("lo"));
	rtnl_route_add_nexthop(route, nh);
	nh = NULL; /* the route owns it */
	rc = rtnl_route_add(sock, route, NLM_F_REPLACE);
out:
	nl_addr_put(any);
	if (nh)
		rtnl_route_nh_free(nh);
	if (route)
		rtnl_route_put(route);
	return rc;
}

int proxy_route_install(void)
{
	struct nl_sock *sock = nl_socket_alloc();
	int rc = sock ? nl_connect(sock, NETLINK_ROUTE) : -NLE_NOMEM;

	if (rc)
		ew_error("proxy", "cannot open a netlink socket: %s", nl_geterror(rc));
	else if ((rc = install_rule(sock)))
		ew_error("proxy",
			 "cannot add the rule 'fwmark 0x%x/0x%x lookup %d pref %d': %s",
			 EW_MARK_TO_PROXY, EW_MARK_MASK, EW_PROXY_ROUTE_TABLE,
			 EW_PROXY_RULE_PREF, nl_geterror(rc));
	else if ((rc = install_local_route(sock)))
		ew_error("proxy",
			 "cannot add the route 'local 0.0.0.0/0 dev lo table %d': %s",
			 EW_PROXY_ROUTE_TABLE, nl_geterror(rc));
	nl_socket_free(sock);
	return rc ? -1 : 0;
}
