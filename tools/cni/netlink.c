// SPDX-License-Identifier: Apache-2.0
/*
 * Links, addresses and routes of a pod attachment, through libnl-route-3.
 *
 * A netlink socket acts in the namespace it was created in, so the plugin
 * holds one socket per namespace and never stays in the pod's namespace;
 * only sysctl writes (per-namespace /proc/sys/net) have to step inside.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>

#include "cni.h"

#define FNV64_OFFSET		0xcbf29ce484222325ULL
#define FNV64_PRIME		0x100000001b3ULL
#define HOST_IFNAME_PREFIX	"lxc"
#define HOST_IFNAME_HASH_DIGITS 11

_Static_assert(sizeof(HOST_IFNAME_PREFIX) - 1 + HOST_IFNAME_HASH_DIGITS < IFNAMSIZ,
	       "host interface names must fit IFNAMSIZ");

static uint64_t fnv1a64(uint64_t hash, const char *s)
{
	for (; *s; s++) {
		hash ^= (unsigned char)*s;
		hash *= FNV64_PRIME;
	}
	return hash;
}

/*
 * "lxc" + the first 11 hex digits of FNV-1a-64("<namespace>/<name>"): the
 * same for every sandbox of a pod, so DEL finds what ADD made from CNI_ARGS
 * alone, and the agent can tell which pod a host interface belongs to.
 */
void host_ifname_for_pod(const char *pod_namespace, const char *pod_name,
			 char name[IFNAMSIZ])
{
	uint64_t hash = FNV64_OFFSET;
	char hex[17];

	hash = fnv1a64(hash, pod_namespace);
	hash = fnv1a64(hash, "/");
	hash = fnv1a64(hash, pod_name);
	snprintf(hex, sizeof(hex), "%016" PRIx64, hash);
	snprintf(name, IFNAMSIZ, HOST_IFNAME_PREFIX "%.*s", HOST_IFNAME_HASH_DIGITS, hex);
}

int netns_open(const char *path, int *fd, struct cni_error *err)
{
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return cni_fail(err, CNI_ERR_UNKNOWN_CONTAINER,
				"cannot open the pod's network namespace CNI_NETNS=%s: "
				"%s; expected the path of an existing network namespace",
				path, strerror(errno));
	return 0;
}

/* Moves this (only) thread into ns_fd; netns_leave(*saved) comes back. */
static int netns_enter(int ns_fd, int *saved, struct cni_error *err)
{
	*saved = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*saved < 0)
		return cni_fail(err, CNI_ERR_INTERNAL,
				"cannot open /proc/self/ns/net: %s", strerror(errno));
	if (setns(ns_fd, CLONE_NEWNET) == 0)
		return 0;
	cni_fail(err, CNI_ERR_INTERNAL, "cannot enter the pod's network namespace: %s",
		 strerror(errno));
	close(*saved);
	return -1;
}

static int netns_leave(int saved, struct cni_error *err)
{
	int ret = setns(saved, CLONE_NEWNET);

	close(saved);
	if (ret)
		return cni_fail(err, CNI_ERR_INTERNAL,
				"cannot return to the node's network namespace: %s",
				strerror(errno));
	return 0;
}

/* A route netlink socket in ns_fd, or in the current namespace for -1. */
struct nl_sock *rtnl_open_in(int ns_fd, struct cni_error *err)
{
	struct nl_sock *sock = nl_socket_alloc();
	int saved = -1, rc;

	if (!sock) {
		cni_fail(err, CNI_ERR_INTERNAL, "out of memory for a netlink socket");
		return NULL;
	}
	if (ns_fd >= 0 && netns_enter(ns_fd, &saved, err))
		goto fail;
	rc = nl_connect(sock, NETLINK_ROUTE);
	if (saved >= 0 && netns_leave(saved, err))
		goto fail;
	if (rc < 0) {
		cni_fail(err, CNI_ERR_INTERNAL, "cannot open a netlink socket: %s",
			 nl_geterror(rc));
		goto fail;
	}
	return sock;
fail:
	nl_socket_free(sock);
	return NULL;
}

void rtnl_close(struct nl_sock *sock)
{
	if (sock)
		nl_socket_free(sock);
}

/* The pod end is created inside the pod's namespace, never visible on the node. */
int veth_create(struct nl_sock *node, const char *host_ifname, const char *pod_ifname,
		int pod_ns_fd, int mtu, struct cni_error *err)
{
	struct rtnl_link *host = rtnl_link_veth_alloc(), *pod;
	int rc;

	if (!host)
		return cni_fail(err, CNI_ERR_INTERNAL, "out of memory for a veth link");
	pod = rtnl_link_veth_get_peer(host);
	rtnl_link_set_name(host, host_ifname);
	rtnl_link_set_name(pod, pod_ifname);
	rtnl_link_set_ns_fd(pod, pod_ns_fd);
	if (mtu) {
		rtnl_link_set_mtu(host, mtu);
		rtnl_link_set_mtu(pod, mtu);
	}
	rc = rtnl_link_add(node, host, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_link_put(pod);
	rtnl_link_veth_release(host);
	if (rc == -NLE_EXIST)
		return cni_fail(err, CNI_ERR_TRY_AGAIN_LATER,
				"cannot create veth %s (node) / %s (pod): one of the "
				"names is taken; expected neither to exist, is an "
				"earlier sandbox of this pod not yet deleted?",
				host_ifname, pod_ifname);
	if (rc < 0)
		return cni_fail(err, CNI_ERR_INTERNAL,
				"cannot create veth %s (node) / %s (pod): %s",
				host_ifname, pod_ifname, nl_geterror(rc));
	return 0;
}

/* Deleting one end deletes its peer and every route through either; absent is fine. */
int veth_delete(struct nl_sock *node, const char *host_ifname, struct cni_error *err)
{
	struct rtnl_link *link = rtnl_link_alloc();
	int rc;

	if (!link)
		return cni_fail(err, CNI_ERR_INTERNAL, "out of memory for a link");
	rtnl_link_set_name(link, host_ifname);
	rc = rtnl_link_delete(node, link);
	rtnl_link_put(link);
	if (rc < 0 && rc != -NLE_NODEV && rc != -NLE_OBJ_NOTFOUND)
		return cni_fail(err, CNI_ERR_INTERNAL, "cannot delete veth %s: %s",
				host_ifname, nl_geterror(rc));
	return 0;
}

static void link_info_fill(struct rtnl_link *link, struct link_info *info)
{
	struct nl_addr *mac = rtnl_link_get_addr(link);

	snprintf(info->name, sizeof(info->name), "%s", rtnl_link_get_name(link));
	info->ifindex = rtnl_link_get_ifindex(link);
	if (mac)
		nl_addr2str(mac, info->mac, sizeof(info->mac));
}

/* *found says whether the link exists; info is filled when it does. */
int link_lookup(struct nl_sock *sock, const char *name, struct link_info *info,
		bool *found, struct cni_error *err)
{
	struct rtnl_link *link = NULL;
	int rc = rtnl_link_get_kernel(sock, 0, name, &link);

	*found = rc == 0;
	if (rc == -NLE_NODEV || rc == -NLE_OBJ_NOTFOUND)
		return 0;
	if (rc < 0)
		return cni_fail(err, CNI_ERR_INTERNAL, "cannot look up interface %s: %s",
				name, nl_geterror(rc));
	link_info_fill(link, info);
	rtnl_link_put(link);
	return 0;
}

int link_bring_up(struct nl_sock *sock, const char *name, struct link_info *info,
		  struct cni_error *err)
{
	struct rtnl_link *link = NULL, *change = rtnl_link_alloc();
	int rc, ret = -1;

	if (!change) {
		cni_fail(err, CNI_ERR_INTERNAL, "out of memory for a link");
		goto cleanup;
	}
	rc = rtnl_link_get_kernel(sock, 0, name, &link);
	if (rc == 0) {
		rtnl_link_set_flags(change, IFF_UP);
		rc = rtnl_link_change(sock, link, change, 0);
	}
	if (rc < 0) {
		cni_fail(err, CNI_ERR_INTERNAL, "cannot bring interface %s up: %s", name,
			 nl_geterror(rc));
		goto cleanup;
	}
	if (info)
		link_info_fill(link, info);
	ret = 0;
cleanup:
	if (link)
		rtnl_link_put(link);
	if (change)
		rtnl_link_put(change);
	return ret;
}

/* The datapath is IPv4-only: no link-local addresses, no router solicitations. */
int ipv6_disable_in(int ns_fd, const char *ifname, struct cni_error *err)
{
	char path[128];
	int saved, fd, ret = 0;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname);
	if (netns_enter(ns_fd, &saved, err))
		return -1;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	/* ENOENT: a kernel without IPv6 has nothing to disable. */
	if ((fd < 0 && errno != ENOENT) || (fd >= 0 && write(fd, "1", 1) != 1))
		ret = cni_fail(err, CNI_ERR_INTERNAL,
			       "cannot disable IPv6 on %s in the pod: %s: %s", ifname,
			       path, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (netns_leave(saved, err))
		ret = -1;
	return ret;
}

/* ip/32: the pod reaches everything, its own subnet included, via the gateway. */
int addr_add_host(struct nl_sock *sock, const struct link_info *link, struct in_addr ip,
		  struct cni_error *err)
{
	struct rtnl_addr *addr = rtnl_addr_alloc();
	struct nl_addr *local = nl_addr_build(AF_INET, &ip, sizeof(ip));
	int rc = -NLE_NOMEM;

	if (addr && local) {
		nl_addr_set_prefixlen(local, 32);
		rtnl_addr_set_ifindex(addr, link->ifindex);
		rc = rtnl_addr_set_local(addr, local);
	}
	if (rc == 0)
		rc = rtnl_addr_add(sock, addr, 0);
	if (local)
		nl_addr_put(local);
	if (addr)
		rtnl_addr_put(addr);
	if (rc < 0)
		return cni_fail(err, CNI_ERR_INTERNAL,
				"cannot add address %s/32 to %s: %s", inet_ntoa(ip),
				link->name, nl_geterror(rc));
	return 0;
}

int addr_lookup(struct nl_sock *sock, const struct link_info *link, struct in_addr ip,
		bool *found, struct cni_error *err)
{
	struct nl_cache *cache = NULL;
	struct nl_object *obj;
	struct nl_addr *local;
	int rc = rtnl_addr_alloc_cache(sock, &cache);

	if (rc < 0)
		return cni_fail(err, CNI_ERR_INTERNAL,
				"cannot list the addresses of %s: %s", link->name,
				nl_geterror(rc));
	*found = false;
	for (obj = nl_cache_get_first(cache); obj; obj = nl_cache_get_next(obj)) {
		local = rtnl_addr_get_local((struct rtnl_addr *)obj);
		if (rtnl_addr_get_ifindex((struct rtnl_addr *)obj) == link->ifindex &&
		    local && nl_addr_get_family(local) == AF_INET &&
		    !memcmp(nl_addr_get_binary_addr(local), &ip, sizeof(ip)))
			*found = true;
	}
	nl_cache_free(cache);
	return 0;
}

static int route_add(struct nl_sock *sock, const struct link_info *link,
		     struct in_addr dst, int dst_len, const struct in_addr *gateway,
		     uint8_t scope, struct cni_error *err)
{
	struct rtnl_route *route = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	struct nl_addr *dst_addr = nl_addr_build(AF_INET, &dst, sizeof(dst));
	struct nl_addr *gw_addr =
	    gateway ? nl_addr_build(AF_INET, gateway, sizeof(*gateway)) : NULL;
	int rc = -NLE_NOMEM;

	if (route && nh && dst_addr && (gw_addr || !gateway)) {
		nl_addr_set_prefixlen(dst_addr, dst_len);
		rtnl_route_set_family(route, AF_INET);
		rtnl_route_set_table(route, RT_TABLE_MAIN);
		rtnl_route_set_scope(route, scope);
		rc = rtnl_route_set_dst(route, dst_addr);
		rtnl_route_nh_set_ifindex(nh, link->ifindex);
		if (gw_addr)
			rtnl_route_nh_set_gateway(nh, gw_addr);
		rtnl_route_add_nexthop(route, nh);
		nh = NULL; /* the route owns it now */
	}
	if (rc == 0)
		rc = rtnl_route_add(sock, route, NLM_F_EXCL);
	if (rc < 0)
		cni_fail(err, CNI_ERR_INTERNAL, "cannot add route %s/%d dev %s: %s",
			 inet_ntoa(dst), dst_len, link->name, nl_geterror(rc));
	if (gw_addr)
		nl_addr_put(gw_addr);
	if (dst_addr)
		nl_addr_put(dst_addr);
	if (nh)
		rtnl_route_nh_free(nh);
	if (route)
		rtnl_route_put(route);
	return rc < 0 ? -1 : 0;
}

/* dst/32 dev link scope link */
int route_add_host(struct nl_sock *sock, const struct link_info *link, struct in_addr dst,
		   struct cni_error *err)
{
	return route_add(sock, link, dst, 32, NULL, RT_SCOPE_LINK, err);
}

/* default via gateway dev link; needs route_add_host(gateway) first */
int route_add_default(struct nl_sock *sock, const struct link_info *link,
		      struct in_addr gateway, struct cni_error *err)
{
	struct in_addr any = {.s_addr = INADDR_ANY};

	return route_add(sock, link, any, 0, &gateway, RT_SCOPE_UNIVERSE, err);
}
