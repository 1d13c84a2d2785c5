// SPDX-License-Identifier: Apache-2.0
/*
 * fill_maps PINS: pins edgewire's maps under PINS/maps by loading the real
 * bpf_lxc object there (loaded, not attached), and fills them with the fixed
 * contents the bpfctl golden files show: a node 192.168.77.11 with three
 * pods, two other nodes, five services and the connections to them.
 * Connection times are relative to NOW_NS, which the test gives bpfctl as
 * BPFCTL_NOW_NS.
 *
 * Policy: the web pods (10.244.1.10 here, 10.244.2.10 and .11 on node-b)
 * are one identity, isolated both ways on 10.244.1.10, whose port 9090 the
 * client may reach through the L7 proxy only; the client pod 10.244.1.30 and
 * the DNS pod 10.244.1.12 are not isolated.
 *
 * fill_maps PINS abi N: only sets ew_config's ABI version to N.
 * fill_maps PINS drops: runs two packets the policy denies through the
 * loaded from_container, for bpfctl monitor: 10.244.1.10 to 10.244.1.30:80
 * and to 8.8.8.8:443.
 * fill_maps PINS events: one event of each kind for bpfctl monitor, in this
 * order: two records bpfctl cannot read (of an unknown type, and a policy
 * event of the wrong size); a drop (10.244.1.10 to 10.244.1.30:80) and a
 * connection allowed (to the DNS pod's 53/tcp), run through from_container;
 * then a connection handed to the L7 proxy and HTTP requests (allowed,
 * denied, malformed) as the datapath and the proxy write them.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>

#include <edgewire/abi.h>
#include <edgewire/maglev_table.h>

#include "bpf_lxc.skel.h"

#define NOW_NS	    100000000000000ULL /* 100000 s */
#define SEC	    1000000000ULL
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

enum identity {
	ID_WEB = 4242,	  /* shop app=web,tier=front */
	ID_CLIENT = 5151, /* shop app=client */
	ID_DNS = 6060,	  /* kube-system k8s-app=kube-dns */
	ID_PARTNER = 7007, /* cidr:203.0.113.0/24 */
};

/* The agent's rule numbers: policy << 12 | dir << 11 | index. */
#define RULE_WEB_IN0  (1234u << 12 | 0)
#define RULE_WEB_IN1  (1234u << 12 | 1)
#define RULE_WEB_OUT0 (1234u << 12 | 1u << 11 | 0)
#define RULE_DNS_OUT0 (999u << 12 | 1u << 11 | 0)
#define RULE_API_IN0  (1300u << 12 | 0) /* L7 */

static __u32 ip(const char *s)
{
	return inet_addr(s);
}

static int put(int fd, const void *key, const void *value, const char *what)
{
	if (!bpf_map_update_elem(fd, key, value, BPF_ANY))
		return 0;
	fprintf(stderr, "fill_maps: cannot write %s: %s\n", what, strerror(errno));
	return -1;
}

static int fill_config(struct bpf_lxc *s)
{
	struct ew_config cfg = {
		.abi_version = EW_ABI_VERSION,
		.node_ip = ip("192.168.77.11"),
		.underlay_ifindex = 2,
		.vni = EW_VXLAN_VNI_DEFAULT,
		.vxlan_port = htons(EW_VXLAN_PORT_DEFAULT),
		.vtep_mac = { 0x02, 0x00, 0xc0, 0xa8, 0x4d, 0x0b },
	};
	__u32 zero = 0;

	return put(bpf_map__fd(s->maps.ew_config), &zero, &cfg, "ew_config");
}

/* Pod 10.244.1.10's veth is ifindex 1 (lo, in every namespace); the other
 * pods' indexes exist nowhere, so their interface shows as "-". */
static int fill_endpoints(struct bpf_lxc *s)
{
	static const struct {
		const char *ip, *name;
		struct ew_endpoint ep;
	} pods[] = {
		{ "10.244.1.10", "shop/web-1", { .ifindex = 1,
				   .mac = { 0x1a, 0xb9, 0x26, 0xcf, 0x15, 0xfa },
				   .node_mac = { 0xba, 0x14, 0x1c, 0x5c, 0x8b, 0x92 },
				   .flags = EW_EP_INGRESS_ISOLATED | EW_EP_EGRESS_ISOLATED |
					    EW_EP_INGRESS_L7,
				   .identity = ID_WEB } },
		{ "10.244.1.12", "kube-system/coredns-5d78c9869d-qx7vm", { .ifindex = 100002,
				   .mac = { 0x6e, 0x41, 0x0c, 0x9a, 0x22, 0x10 },
				   .node_mac = { 0x9e, 0x07, 0x5d, 0x3b, 0xa1, 0x44 },
				   .identity = ID_DNS } },
		{ "10.244.1.30", "default/client", { .ifindex = 100001,
				   .mac = { 0xf6, 0x3b, 0xf1, 0xc3, 0x5c, 0x03 },
				   .node_mac = { 0x32, 0xd0, 0xd6, 0xb2, 0x81, 0xe9 },
				   .identity = ID_CLIENT } },
	};
	int fd = bpf_map__fd(s->maps.ew_endpoints);
	int names_fd = bpf_map__fd(s->maps.ew_endpoint_names);

	for (size_t i = 0; i < ARRAY_SIZE(pods); i++) {
		struct ew_endpoint_key key = { ip(pods[i].ip) };
		struct ew_endpoint_name name = { 0 };

		snprintf(name.text, sizeof(name.text), "%s", pods[i].name);
		if (put(fd, &key, &pods[i].ep, "ew_endpoints") ||
		    put(names_fd, &key, &name, "ew_endpoint_names"))
			return -1;
	}
	return 0;
}

static int fill_routes_and_nodes(struct bpf_lxc *s)
{
	static const struct {
		const char *addr, *node;
		__u32 prefixlen, flags;
	} routes[] = {
		{ "10.244.1.0", "192.168.77.11", 24, EW_ROUTE_LOCAL },
		{ "10.244.2.0", "192.168.77.12", 24, 0 },
		{ "10.244.3.0", "192.168.77.13", 24, 0 },
		{ "10.244.0.0", "0.0.0.0", 16, EW_ROUTE_CLUSTER },
	};
	static const char *const nodes[] = { "192.168.77.13", "192.168.77.12" };
	int fd = bpf_map__fd(s->maps.ew_routes);
	struct ew_node_info info = { 0 };

	for (size_t i = 0; i < ARRAY_SIZE(routes); i++) {
		struct ew_route_key key = { routes[i].prefixlen, ip(routes[i].addr) };
		struct ew_route r = {
			.node_ip = ip(routes[i].node), .flags = routes[i].flags,
		};

		if (i == 2) /* a flannel node: its VTEP's MAC */
			memcpy(r.vtep_mac, "\x5a\x11\x22\x33\x44\x55", 6);
		if (put(fd, &key, &r, "ew_routes"))
			return -1;
	}
	fd = bpf_map__fd(s->maps.ew_nodes);
	for (size_t i = 0; i < ARRAY_SIZE(nodes); i++) {
		struct ew_node_key key = { ip(nodes[i]) };

		if (put(fd, &key, &info, "ew_nodes"))
			return -1;
	}
	return 0;
}

/* Counters on CPU 0; the others count nothing. */
static int fill_counters(struct bpf_lxc *s)
{
	static const struct {
		unsigned int reason, dir;
		struct ew_metrics m;
	} counts[] = {
		{ EW_REASON_FORWARD, EW_DIR_EGRESS, { 6, 588 } },
		{ EW_REASON_FORWARD, EW_DIR_INGRESS, { 2, 196 } },
		{ EW_REASON_ARP_REPLY, EW_DIR_EGRESS, { 2, 84 } },
		{ EW_REASON_ENCAP, EW_DIR_EGRESS, { 2, 296 } },
		{ EW_REASON_DROP_NO_ENDPOINT, EW_DIR_EGRESS, { 1004, 43344 } },
		{ EW_REASON_DROP_NO_BACKEND, EW_DIR_EGRESS, { 3, 222 } },
	};
	int ncpus = libbpf_num_possible_cpus(), fd = bpf_map__fd(s->maps.ew_metrics);
	struct ew_event_stats *stats;
	struct ew_metrics *m;
	__u32 zero = 0;
	int err = 0;

	if (ncpus <= 0)
		return -1;
	m = calloc(ncpus, sizeof(*m));
	stats = calloc(ncpus, sizeof(*stats));
	if (!m || !stats)
		err = -1;
	for (size_t i = 0; i < ARRAY_SIZE(counts) && !err; i++) {
		__u32 idx = ew_metrics_index(counts[i].reason, counts[i].dir);

		m[0] = counts[i].m;
		err = put(fd, &idx, m, "ew_metrics");
	}
	if (!err) {
		stats[0] = (struct ew_event_stats){ .emitted = 126, .suppressed = 879 };
		err = put(bpf_map__fd(s->maps.ew_event_stats), &zero, stats,
			  "ew_event_stats");
	}
	free(m);
	free(stats);
	return err;
}

/* Policy verdicts on CPU 0 (ew_verdicts), and the HTTP requests the proxy
 * judged (ew_http_stats): denied ones were allowed by no rule. */
static int fill_verdicts(struct bpf_lxc *s)
{
	static const struct {
		unsigned int verdict, dir;
		__u64 packets;
	} verdicts[] = {
		{ EW_VERDICT_ALLOWED, EW_DIR_EGRESS, 40 },
		{ EW_VERDICT_ALLOWED, EW_DIR_INGRESS, 12 },
		{ EW_VERDICT_PROXIED, EW_DIR_INGRESS, 5 },
		{ EW_VERDICT_DENIED, EW_DIR_EGRESS, 2 },
		{ EW_VERDICT_DENIED, EW_DIR_INGRESS, 9 },
	};
	static const struct {
		struct ew_http_stats_key key;
		__u64 requests;
	} http[] = {
		{ { RULE_API_IN0, EW_REASON_FORWARD, EW_DIR_INGRESS, 0 }, 120 },
		{ { 0, EW_REASON_DROP_POLICY_DENIED, EW_DIR_INGRESS, 0 }, 7 },
		{ { 0, EW_REASON_DROP_MALFORMED, EW_DIR_INGRESS, 0 }, 1 },
	};
	int ncpus = libbpf_num_possible_cpus(), fd = bpf_map__fd(s->maps.ew_verdicts);
	__u64 *per_cpu;
	int err = 0;

	if (ncpus <= 0 || !(per_cpu = calloc(ncpus, sizeof(*per_cpu))))
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(verdicts) && !err; i++) {
		__u32 idx = ew_verdict_index(verdicts[i].verdict, verdicts[i].dir);

		per_cpu[0] = verdicts[i].packets;
		err = put(fd, &idx, per_cpu, "ew_verdicts");
	}
	free(per_cpu);
	fd = bpf_map__fd(s->maps.ew_http_stats);
	for (size_t i = 0; i < ARRAY_SIZE(http) && !err; i++) {
		struct ew_http_stats v = { http[i].requests };

		err = put(fd, &http[i].key, &v, "ew_http_stats");
	}
	return err;
}

/* A Maglev table: an inner array of size slots, published under id. */
static int put_table(struct bpf_lxc *s, __u32 id, const __u32 *slots, __u32 size,
		     __u32 n_backends, __u64 digest)
{
	struct ew_lb_table meta = {
		.digest = digest, .size = size, .n_backends = n_backends,
	};
	int fd = ew_maglev_table_create(slots, size), err;

	if (fd < 0) {
		fprintf(stderr, "fill_maps: cannot create table %u: %s\n", id, strerror(-fd));
		return -1;
	}
	err = put(bpf_map__fd(s->maps.ew_lb_maglev), &id, &fd, "ew_lb_maglev");
	if (!err)
		err = put(bpf_map__fd(s->maps.ew_lb_tables), &id, &meta, "ew_lb_tables");
	close(fd);
	return err;
}

/*
 * Backends 1-3 serve web (tables 1 and 2), 5 is DNS (table 3), 4 is
 * terminating and in no table. Frontends: web on 80 and, with affinity, on
 * 443 and as NodePort 30080; DNS on 53/udp; 10.96.0.99:8080 has no backend.
 */
static int fill_services(struct bpf_lxc *s)
{
	static const struct {
		__u32 id;
		const char *addr;
		__u16 port;
		__u8 flags;
	} backends[] = {
		{ 1, "10.244.1.10", 8080, 0 },
		{ 2, "10.244.2.10", 8080, 0 },
		{ 3, "10.244.2.11", 8080, 0 },
		{ 4, "10.244.1.11", 8080, EW_BACKEND_TERMINATING },
		{ 5, "10.244.1.12", 53, 0 },
	};
	static const struct {
		const char *addr;
		__u16 port;
		__u8 proto;
		struct ew_lb_frontend fe;
	} frontends[] = {
		{ "10.96.0.10", 80, IPPROTO_TCP, { .table_id = 1, .table_size = 7 } },
		{ "10.96.0.20", 443, IPPROTO_TCP,
		  { .table_id = 2, .table_size = 13, .affinity_timeout = 10800,
		    .flags = EW_LB_AFFINITY } },
		{ "192.168.77.11", 30080, IPPROTO_TCP,
		  { .table_id = 2, .table_size = 13, .flags = EW_LB_NODEPORT } },
		{ "10.96.0.53", 53, IPPROTO_UDP, { .table_id = 3, .table_size = 7 } },
		{ "10.96.0.99", 8080, IPPROTO_TCP, { .table_id = 0 } },
	};
	static const __u32 web2[] = { 1, 2, 1, 2, 2, 1, 1 };
	static const __u32 web3[] = { 1, 2, 3, 1, 3, 2, 1, 3, 2, 1, 3, 2, 1 };
	static const __u32 dns[] = { 5, 5, 5, 5, 5, 5, 5 };
	int fd = bpf_map__fd(s->maps.ew_lb_backends);

	for (size_t i = 0; i < ARRAY_SIZE(backends); i++) {
		struct ew_lb_backend_key key = { backends[i].id };
		struct ew_lb_backend be = {
			.addr = ip(backends[i].addr), .port = htons(backends[i].port),
			.flags = backends[i].flags,
		};

		if (put(fd, &key, &be, "ew_lb_backends"))
			return -1;
	}
	if (put_table(s, 1, web2, ARRAY_SIZE(web2), 2, 0x3f6c2a9d81e4b507ULL) ||
	    put_table(s, 2, web3, ARRAY_SIZE(web3), 3, 0xa1d0934c7e25f6b8ULL) ||
	    put_table(s, 3, dns, ARRAY_SIZE(dns), 1, 0x5b8e17f20c49d3a6ULL))
		return -1;
	fd = bpf_map__fd(s->maps.ew_lb_frontends);
	for (size_t i = 0; i < ARRAY_SIZE(frontends); i++) {
		struct ew_lb_frontend_key key = {
			.addr = ip(frontends[i].addr), .port = htons(frontends[i].port),
			.proto = frontends[i].proto,
		};

		if (put(fd, &key, &frontends[i].fe, "ew_lb_frontends"))
			return -1;
	}
	return 0;
}

static void tuple(struct ew_ct_key *k, const char *saddr, __u16 sport, const char *daddr,
		  __u16 dport, __u8 proto, __u8 type)
{
	*k = (struct ew_ct_key){
		.saddr = ip(saddr), .daddr = ip(daddr), .sport = htons(sport),
		.dport = htons(dport), .proto = proto, .type = type,
	};
}

/* Both entries of a flow from client to frontend, sent to backend and
 * translated to nat (the client itself without SNAT); age and idle in s. */
static int put_flow(int fd, __u8 proto, const char *client, __u16 cport,
		    const char *frontend, __u16 fport, __u32 backend_id,
		    const char *backend, __u16 bport, const char *nat, __u16 nport,
		    __u32 flags, __u64 age, __u64 idle)
{
	struct ew_ct_entry flow = {
		.created_ns = NOW_NS - age * SEC, .seen_ns = NOW_NS - idle * SEC,
		.backend_id = backend_id, .nat_addr = ip(nat), .nat_port = htons(nport),
		.flags = flags,
	};
	struct ew_ct_entry reply = {
		.created_ns = flow.created_ns, .seen_ns = flow.seen_ns,
		.nat_addr = ip(frontend), .nat_port = htons(fport),
		.orig_addr = ip(client), .orig_port = htons(cport), .flags = flags,
	};
	struct ew_ct_key key;

	tuple(&key, client, cport, frontend, fport, proto, EW_CT_SERVICE);
	if (put(fd, &key, &flow, "ew_ct"))
		return -1;
	tuple(&key, backend, bport, nat, nport, proto, EW_CT_REPLY);
	return put(fd, &key, &reply, "ew_ct");
}

static int fill_conntrack(struct bpf_lxc *s)
{
	int fd = bpf_map__fd(s->maps.ew_ct);
	struct ew_lb_affinity_key akey = {
		.client = ip("10.244.1.30"), .addr = ip("10.96.0.20"), .port = htons(443),
		.proto = IPPROTO_TCP,
	};
	struct ew_lb_affinity a = { .seen_ns = NOW_NS - 10 * SEC, .backend_id = 2 };
	int afd = bpf_map__fd(s->maps.ew_lb_affinity);

	/* More clients than bpfctl's first buffer of keys holds. */
	for (__u32 i = 1; i <= 200; i++) {
		struct ew_lb_affinity_key k = akey;

		k.client = htonl(0x0af40300 + i); /* 10.244.3.i, 10.244.4.* */
		if (put(afd, &k, &a, "ew_lb_affinity"))
			return -1;
	}
	return put_flow(fd, IPPROTO_TCP, "10.244.1.30", 41234, "10.96.0.10", 80, 2,
			"10.244.2.10", 8080, "10.244.1.30", 41234, 0, 125, 3) ||
	       put_flow(fd, IPPROTO_TCP, "10.244.1.10", 40000, "10.96.0.10", 80, 1,
			"10.244.1.10", 8080, "169.254.42.1", 40000, EW_CT_SNAT, 8, 8) ||
	       put_flow(fd, IPPROTO_TCP, "203.0.113.7", 50000, "192.168.77.11", 30080, 3,
			"10.244.2.11", 8080, "192.168.77.11", 61234,
			EW_CT_SNAT | EW_CT_NODEPORT, 3725, 42) ||
	       put_flow(fd, IPPROTO_UDP, "10.244.1.30", 5353, "10.96.0.53", 53, 5,
			"10.244.1.12", 53, "10.244.1.30", 5353, 0, 90000, 30) ||
	       put(afd, &akey, &a, "ew_lb_affinity");
}

static int fill_identities(struct bpf_lxc *s)
{
	static const struct {
		const char *addr;
		__u32 prefixlen, identity, cidr_identity;
	} addrs[] = {
		{ "0.0.0.0", 0, EW_IDENTITY_WORLD, EW_IDENTITY_WORLD },
		{ "203.0.113.0", 24, ID_PARTNER, ID_PARTNER },
		{ "10.244.1.10", 32, ID_WEB, EW_IDENTITY_WORLD },
		{ "10.244.2.10", 32, ID_WEB, EW_IDENTITY_WORLD },
		{ "10.244.2.11", 32, ID_WEB, EW_IDENTITY_WORLD },
		{ "10.244.1.30", 32, ID_CLIENT, EW_IDENTITY_WORLD },
		{ "10.244.1.12", 32, ID_DNS, EW_IDENTITY_WORLD },
		{ "192.168.77.11", 32, EW_IDENTITY_HOST, EW_IDENTITY_WORLD },
		{ "192.168.77.12", 32, EW_IDENTITY_REMOTE_NODE, EW_IDENTITY_WORLD },
		{ "192.168.77.13", 32, EW_IDENTITY_REMOTE_NODE, EW_IDENTITY_WORLD },
		{ "169.254.42.1", 32, EW_IDENTITY_HOST, EW_IDENTITY_WORLD },
	};
	static const struct {
		__u32 identity;
		const char *text;
	} names[] = {
		{ ID_WEB, "shop app=web,tier=front" },
		{ ID_CLIENT, "shop app=client" },
		{ ID_DNS, "kube-system k8s-app=kube-dns" },
		{ ID_PARTNER, "cidr:203.0.113.0/24" },
	};
	int fd = bpf_map__fd(s->maps.ew_ipcache);

	for (size_t i = 0; i < ARRAY_SIZE(addrs); i++) {
		struct ew_ipcache_key key = { addrs[i].prefixlen, ip(addrs[i].addr) };
		struct ew_ipcache v = { addrs[i].identity, addrs[i].cidr_identity };

		if (put(fd, &key, &v, "ew_ipcache"))
			return -1;
	}
	fd = bpf_map__fd(s->maps.ew_identities);
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		struct ew_identity_key key = { names[i].identity };
		struct ew_identity_name name = { 0 };

		snprintf(name.text, sizeof(name.text), "%s", names[i].text);
		if (put(fd, &key, &name, "ew_identities"))
			return -1;
	}
	return 0;
}

/* An ew_policy entry of the web identity: port/bits, bits 0 for every port,
 * proto 0 for every protocol; flags: enum ew_policy_flags. */
static int put_policy(int fd, __u32 peer, __u8 dir, __u8 proto, __u16 port, __u32 bits,
		      __u32 rule, __u32 flags)
{
	struct ew_policy_key key = {
		.prefixlen = proto ? 80 + bits : 72, .subject = ID_WEB, .peer = peer,
		.dir = dir, .proto = proto, .port = htons(port),
	};
	struct ew_policy_entry e = { .rule = rule, .flags = flags };

	return put(fd, &key, &e, "ew_policy");
}

/* Web: in from the client on 8080, and on 9090 through the L7 proxy; from
 * the partner CIDR on 8000-8080; out to anyone on 53/udp and to DNS pods on
 * everything. */
static int fill_policy(struct bpf_lxc *s)
{
	static const struct {
		__u32 rule;
		const char *text;
	} rules[] = {
		{ RULE_WEB_IN0, "NetworkPolicy shop/allow-web ingress[0]" },
		{ RULE_WEB_IN1, "NetworkPolicy shop/allow-web ingress[1]" },
		{ RULE_WEB_OUT0, "NetworkPolicy shop/allow-web egress[0]" },
		{ RULE_DNS_OUT0, "CiliumNetworkPolicy shop/dns rule 2 of 2, egress[0]" },
		{ RULE_API_IN0, "CiliumNetworkPolicy shop/web-api rule 1 of 1, ingress[0]" },
	};
	/* 8000-8080: the prefixes the agent writes for the range. */
	static const struct {
		__u16 port;
		__u32 bits;
	} range[] = { { 8000, 10 }, { 8064, 12 }, { 8080, 16 } };
	int fd = bpf_map__fd(s->maps.ew_policy);
	int rfd = bpf_map__fd(s->maps.ew_policy_rules);

	for (size_t i = 0; i < ARRAY_SIZE(range); i++)
		if (put_policy(fd, ID_PARTNER, EW_DIR_INGRESS, IPPROTO_TCP, range[i].port,
			       range[i].bits, RULE_WEB_IN1, 0))
			return -1;
	if (put_policy(fd, ID_CLIENT, EW_DIR_INGRESS, IPPROTO_TCP, 8080, 16, RULE_WEB_IN0,
		       0) ||
	    put_policy(fd, ID_CLIENT, EW_DIR_INGRESS, IPPROTO_TCP, 9090, 16, RULE_API_IN0,
		       EW_POLICY_L7) ||
	    put_policy(fd, EW_IDENTITY_ANY, EW_DIR_EGRESS, IPPROTO_UDP, 53, 16,
		       RULE_WEB_OUT0, 0) ||
	    put_policy(fd, ID_DNS, EW_DIR_EGRESS, 0, 0, 0, RULE_DNS_OUT0, 0))
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(rules); i++) {
		struct ew_policy_rule_key key = { rules[i].rule };
		struct ew_policy_rule_name name = { 0 };

		snprintf(name.text, sizeof(name.text), "%s", rules[i].text);
		if (put(rfd, &key, &name, "ew_policy_rules"))
			return -1;
	}
	return 0;
}

static __u16 ip_checksum(const void *hdr, size_t len)
{
	const __u16 *w = hdr;
	__u32 sum = 0;

	for (size_t i = 0; i < len / 2; i++)
		sum += w[i];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* A TCP SYN from pod 10.244.1.10 (on ifindex 1) to daddr:dport, which the
 * datapath must answer with verdict. */
static int run_syn(struct bpf_lxc *s, const char *daddr, __u16 dport, int verdict)
{
	struct {
		struct ethhdr eth;
		struct iphdr ip;
		struct tcphdr tcp;
	} __attribute__((packed)) pkt = {
		.eth = { .h_dest = { 0xba, 0x14, 0x1c, 0x5c, 0x8b, 0x92 },
			 .h_source = { 0x1a, 0xb9, 0x26, 0xcf, 0x15, 0xfa },
			 .h_proto = htons(ETH_P_IP) },
		.ip = { .ihl = 5, .version = 4, .tot_len = htons(40), .ttl = 64,
			.protocol = IPPROTO_TCP, .saddr = ip("10.244.1.10"),
			.daddr = ip(daddr) },
		.tcp = { .source = htons(40000), .dest = htons(dport), .doff = 5,
			 .syn = 1, .window = htons(65535) },
	};
	struct __sk_buff ctx = { .ifindex = 1 };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = &pkt, .data_size_in = sizeof(pkt),
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);

	pkt.ip.check = ip_checksum(&pkt.ip, sizeof(pkt.ip));
	if (!bpf_prog_test_run_opts(bpf_program__fd(s->progs.from_container), &opts) &&
	    (int)opts.retval == verdict)
		return 0;
	fprintf(stderr, "fill_maps: the packet to %s:%u got verdict %u, not %d (%s)\n",
		daddr, dport, opts.retval, verdict, strerror(errno));
	return -1;
}

static int run_denied(struct bpf_lxc *s, const char *daddr, __u16 dport)
{
	return run_syn(s, daddr, dport, TC_ACT_SHOT);
}

/*
 * Records the datapath cannot write here (a connection to the L7 proxy
 * needs the proxy's socket; HTTP events are the proxy's) are put into
 * ew_events by this program: the packet it runs on is the record.
 * Instructions by hand, for a program of a dozen:
 *
 *	if (skb->len < ETH_HLEN || skb->len > RECORD_MAX) return 0;
 *	bpf_skb_load_bytes(skb, 0, buf, skb->len);
 *	bpf_ringbuf_output(&ew_events, buf, skb->len, 0);
 */
#define RECORD_MAX 256
#define INSN(c, d, s, o, i) \
	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define MOV_REG(d, s)	 INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOV_IMM(d, i)	 INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define ADD_IMM(d, i)	 INSN(BPF_ALU64 | BPF_ADD | BPF_K, d, 0, 0, i)
#define JUMP_IF(op, d, i, to) INSN(BPF_JMP | (op) | BPF_K, d, 0, to, i)
#define CALL(helper)	 INSN(BPF_JMP | BPF_CALL, 0, 0, 0, helper)

static int load_record_writer(struct bpf_lxc *s)
{
	const struct bpf_insn insns[] = {
		MOV_REG(6, 1),
		INSN(BPF_LDX | BPF_MEM | BPF_W, 7, 1, offsetof(struct __sk_buff, len), 0),
		JUMP_IF(BPF_JLT, 7, ETH_HLEN, 15), /* to the return */
		JUMP_IF(BPF_JGT, 7, RECORD_MAX, 14),
		MOV_REG(1, 6),
		MOV_IMM(2, 0),
		MOV_REG(3, 10),
		ADD_IMM(3, -RECORD_MAX),
		MOV_REG(4, 7),
		CALL(BPF_FUNC_skb_load_bytes),
		JUMP_IF(BPF_JNE, 0, 0, 7),
		INSN(BPF_LD | BPF_DW | BPF_IMM, 1, BPF_PSEUDO_MAP_FD, 0,
		     bpf_map__fd(s->maps.ew_events)),
		INSN(0, 0, 0, 0, 0),
		MOV_REG(2, 10),
		ADD_IMM(2, -RECORD_MAX),
		MOV_REG(3, 7),
		MOV_IMM(4, 0),
		CALL(BPF_FUNC_ringbuf_output),
		MOV_IMM(0, 0),
		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	int fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "ew_golden_rec", "GPL", insns,
			       ARRAY_SIZE(insns), NULL);

	if (fd < 0)
		fprintf(stderr, "fill_maps: cannot load the record writer: %s\n",
			strerror(-fd));
	return fd;
}

static int write_record(int prog_fd, const void *record, __u32 size)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = record, .data_size_in = size,
		    .repeat = 1);

	if (!bpf_prog_test_run_opts(prog_fd, &opts))
		return 0;
	fprintf(stderr, "fill_maps: cannot write a %u-byte record: %s\n", size,
		strerror(errno));
	return -1;
}

/* A TCP or UDP event of now (the monitor skips older ones as backlog). */
static struct ew_event event(__u8 type, __u8 reason, __u8 dir, __u8 proto,
			     const char *saddr, __u16 sport, const char *daddr, __u16 dport,
			     __u32 rule)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (struct ew_event){
		.ts_ns = (__u64)now.tv_sec * SEC + (__u64)now.tv_nsec, .type = type,
		.reason = reason, .dir = dir, .protocol = proto, .saddr = ip(saddr),
		.daddr = ip(daddr), .sport = htons(sport), .dport = htons(dport),
		.rule = rule,
	};
}

/* A new connection the policy let pass, from the pod's veth (ifindex 1). */
static int write_policy_event(int prog_fd, __u8 reason, __u8 dir, __u8 proto,
			      const char *saddr, __u16 sport, const char *daddr,
			      __u16 dport, __u32 rule, __u32 len)
{
	struct ew_event e = event(EW_EVENT_POLICY, reason, dir, proto, saddr, sport, daddr,
				  dport, rule);

	e.ifindex = 1;
	e.len = len;
	return write_record(prog_fd, &e, sizeof(e));
}

/* A request of the client 10.244.1.30:41234 to web's 9090, as the proxy
 * reports it: no interface, no length. */
static int write_http_event(int prog_fd, __u8 reason, __u32 rule, const char *method,
			    const char *path, __u16 status)
{
	struct ew_http_event h = {
		.ev = event(EW_EVENT_HTTP, reason, EW_DIR_INGRESS, IPPROTO_TCP,
			    "10.244.1.30", 41234, "10.244.1.10", 9090, rule),
		.status = status,
	};

	snprintf(h.method, sizeof(h.method), "%s", method);
	snprintf(h.path, sizeof(h.path), "%s", path);
	return write_record(prog_fd, &h, sizeof(h));
}

/* A connection policy allows, opened through from_container: its event is
 * the datapath's. The tracking entry it made is deleted, as its age would
 * depend on the machine's uptime in bpfctl ct. */
static int run_allowed(struct bpf_lxc *s, const char *daddr, __u16 dport)
{
	struct ew_ct_key key;

	if (run_syn(s, daddr, dport, TC_ACT_REDIRECT))
		return -1;
	tuple(&key, "10.244.1.10", 40000, daddr, dport, IPPROTO_TCP, EW_CT_POLICY);
	bpf_map_delete_elem(bpf_map__fd(s->maps.ew_ct), &key);
	return 0;
}

/* Two records bpfctl cannot read, then one event of each kind. */
static int write_events(struct bpf_lxc *s)
{
	struct ew_event unknown = event(9, 0, 0, 0, "0.0.0.0", 0, "0.0.0.0", 0, 0);
	struct ew_event short_policy = event(EW_EVENT_POLICY, EW_REASON_FORWARD,
					     EW_DIR_EGRESS, IPPROTO_TCP, "10.244.1.10",
					     40002, "10.244.1.12", 53, 0);
	int fd = load_record_writer(s), err;

	if (fd < 0)
		return -1;
	err = write_record(fd, &unknown, sizeof(unknown)) ||
	      write_record(fd, &short_policy, 32) || run_denied(s, "10.244.1.30", 80) ||
	      run_allowed(s, "10.244.1.12", 53) ||
	      write_policy_event(fd, EW_REASON_PROXY, EW_DIR_INGRESS, IPPROTO_TCP,
				 "10.244.1.30", 41234, "10.244.1.10", 9090, RULE_API_IN0, 74) ||
	      write_http_event(fd, EW_REASON_FORWARD, RULE_API_IN0, "GET",
			       "/api/items?page=2", 200) ||
	      write_http_event(fd, EW_REASON_DROP_POLICY_DENIED, 0, "DELETE",
			       "/api/items/7", 403) ||
	      write_http_event(fd, EW_REASON_DROP_MALFORMED, 0, "GET", "/\x1b[31mred", 400);
	close(fd);
	return err;
}

static int set_abi(const char *pins, const char *version)
{
	struct ew_config cfg;
	char path[4096];
	__u32 zero = 0;
	int fd, err;

	snprintf(path, sizeof(path), "%s/maps/%s", pins, EW_MAP_CONFIG);
	fd = bpf_obj_get(path);
	if (fd < 0 || bpf_map_lookup_elem(fd, &zero, &cfg)) {
		fprintf(stderr, "fill_maps: cannot read %s: %s\n", path, strerror(errno));
		return 1;
	}
	cfg.abi_version = (__u32)atoi(version);
	err = put(fd, &zero, &cfg, EW_MAP_CONFIG);
	close(fd);
	return err ? 1 : 0;
}

int main(int argc, char **argv)
{
	char maps[4096];
	struct bpf_lxc *s;
	int err;

	bool drops = argc == 3 && !strcmp(argv[2], "drops");
	bool events = argc == 3 && !strcmp(argv[2], "events");

	if (argc == 4 && !strcmp(argv[2], "abi"))
		return set_abi(argv[1], argv[3]);
	if (argc != 2 && !drops && !events) {
		fprintf(stderr, "usage: fill_maps PINS [abi VERSION | drops | events]\n");
		return 2;
	}
	snprintf(maps, sizeof(maps), "%s/maps", argv[1]);
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = maps);
	s = bpf_lxc__open_opts(&opts);
	if (!s) {
		fprintf(stderr, "fill_maps: cannot open bpf_lxc: %s\n", strerror(errno));
		return 1;
	}
	err = bpf_lxc__load(s);
	if (err)
		fprintf(stderr, "fill_maps: cannot load bpf_lxc with pins under %s: %s\n",
			maps, strerror(-err));
	else if (drops)
		err = run_denied(s, "10.244.1.30", 80) || run_denied(s, "8.8.8.8", 443);
	else if (events)
		err = write_events(s);
	else
		err = fill_config(s) || fill_endpoints(s) || fill_routes_and_nodes(s) ||
		      fill_counters(s) || fill_verdicts(s) || fill_services(s) ||
		      fill_conntrack(s) ||
		      fill_identities(s) || fill_policy(s);
	bpf_lxc__destroy(s);
	return err ? 1 : 0;
}
