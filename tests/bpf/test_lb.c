// SPDX-License-Identifier: Apache-2.0
/*
 * Services (bpf/lib/lb.h, conntrack.h, nat.h, service.h): a client's packet
 * to a frontend is balanced through a Maglev table to a backend, tracked,
 * translated, and the backend's replies translated back. ClusterIP runs in
 * from_container (bpf_lxc.c) and from_underlay (bpf_overlay.c), NodePort in
 * from_netdev (bpf_xdp.c, XDP). Each case runs the real programs and checks
 * the verdict, the exact bytes of the output (built with the pkt builder),
 * its checksums summed from scratch, the counters and the conntrack entries.
 * Criterion runs each test in its own process with freshly loaded objects.
 *
 * The cluster, as node 1's maps describe it:
 *
 *   node 1  192.168.0.1  underlay MAC U1, VTEP V1, pods 10.0.1.0/24 (local)
 *           client pod A 10.0.1.10; backend pods B1 .21, B2 .22, B3 .23
 *   node 2  192.168.0.2  U2, V2, pods 10.0.2.0/24: backend pod C 10.0.2.5
 *   X       192.168.0.200, a client outside the cluster, on the underlay
 *
 *   service 10.96.0.10:80 (ClusterIP) and 192.168.0.1:30080 (NodePort); every
 *   backend listens on 8080. Backend ids: B1 1, B2 2, B3 3, C 4, A 5.
 *
 * Every pod is on ifindex 1, as is the underlay: BPF_PROG_TEST_RUN takes
 * that one without a device lookup. A test run does not follow redirects;
 * the MACs a packet leaves with say which pod it is for.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>

#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include "bpf_expect.h"
#include "bpf_harness.h"
#include "overlay_nodes.h"
#include "pkt.h"

#define IF_HERE 1

static const uint8_t MAC_X[ETH_ALEN] = { 0x02, 0x00, 0xc0, 0xa8, 0x00, 0xc8 };

#define IP_X  ip4(192, 168, 0, 200)
#define IP_A  ip4(10, 0, 1, 10)
#define IP_B1 ip4(10, 0, 1, 21)
#define IP_B2 ip4(10, 0, 1, 22)
#define IP_B3 ip4(10, 0, 1, 23)
#define IP_C  ip4(10, 0, 2, 5)
#define SVC   ip4(10, 96, 0, 10)

#define SVC_PORT  80
#define DNS_PORT  53
#define NODE_PORT 30080
#define BE_PORT	  8080
#define CPORT	  40000 /* the client's source port */
#define SPORT_IN  50000 /* outer UDP source port of VXLAN from node 2 */
#define TTL	  64

enum backend_id { BE_B1 = 1, BE_B2, BE_B3, BE_C, BE_A };

#define TABLE		 1
#define TABLE_SIZE	 EW_MAGLEV_SIZE_DEFAULT
#define AFFINITY_TIMEOUT EW_AFFINITY_TIMEOUT_DEFAULT

/* A pod on node 1: its address, its MAC and its gateway's (the host veth),
 * both made of the address (02:00:<ip>, ee:ee:<ip>). */
struct pod {
	uint32_t ip;
	uint8_t mac[ETH_ALEN], gw[ETH_ALEN];
};

static struct pod pod_of(uint32_t ip)
{
	struct pod p = { .ip = ip, .mac = { 0x02, 0x00 }, .gw = { 0xee, 0xee } };

	memcpy(p.mac + 2, &ip, sizeof(ip));
	memcpy(p.gw + 2, &ip, sizeof(ip));
	return p;
}

#define POD_A pod_of(IP_A)
#define POD_B1 pod_of(IP_B1)
#define POD_B2 pod_of(IP_B2)
#define POD_B3 pod_of(IP_B3)

static const char PAYLOAD[] = "edgewire balances this";

static struct bh h;
static struct bh_result res;

static void add_pod(struct pod pod)
{
	cr_assert_eq(bh_add_endpoint(&h, pod.ip, IF_HERE, pod.mac, pod.gw), 0);
}

static void lb_setup(void)
{
	struct ew_config cfg = {
		.abi_version = EW_ABI_VERSION,
		.node_ip = NODE1,
		.underlay_ifindex = IF_HERE,
		.vni = EW_VXLAN_VNI_DEFAULT,
		.vxlan_port = htons(EW_VXLAN_PORT_DEFAULT),
	};
	int err;

	if (!bh_privileged())
		cr_skip_test("loading BPF programs needs root (or CAP_BPF and CAP_NET_ADMIN)");
	err = bh_open(&h, NULL);
	cr_assert_eq(err, 0, "cannot load the datapath: %s", strerror(-err));
	memcpy(cfg.vtep_mac, V1, sizeof(cfg.vtep_mac));
	cr_assert_eq(bh_set_config(&h, &cfg), 0);
	cr_assert_eq(bh_add_route(&h, ip4(10, 0, 0, 0), 16, 0, EW_ROUTE_CLUSTER), 0);
	cr_assert_eq(bh_add_route_vtep(&h, ip4(10, 0, 1, 0), 24, NODE1, EW_ROUTE_LOCAL, V1), 0);
	cr_assert_eq(bh_add_route_vtep(&h, ip4(10, 0, 2, 0), 24, NODE2, 0, V2), 0);
	cr_assert_eq(bh_add_node(&h, NODE2), 0);
	add_pod(POD_A);
	add_pod(POD_B1);
	add_pod(POD_B2);
	add_pod(POD_B3);
	cr_assert_eq(bh_add_backend(&h, BE_B1, IP_B1, BE_PORT, 0), 0);
	cr_assert_eq(bh_add_backend(&h, BE_B2, IP_B2, BE_PORT, 0), 0);
	cr_assert_eq(bh_add_backend(&h, BE_B3, IP_B3, BE_PORT, 0), 0);
	cr_assert_eq(bh_add_backend(&h, BE_C, IP_C, BE_PORT, 0), 0);
	cr_assert_eq(bh_add_backend(&h, BE_A, IP_A, BE_PORT, 0), 0);
}

static void lb_teardown(void)
{
	bh_close(&h);
}

TestSuite(lb, .init = lb_setup, .fini = lb_teardown);

/* --- services ------------------------------------------------------------------ */

#define IDS(...)                                                               \
	(const uint32_t[]){ __VA_ARGS__ },                                     \
		sizeof((const uint32_t[]){ __VA_ARGS__ }) / sizeof(uint32_t)

/* Table TABLE over the backends ids, round robin: like a Maglev table, each
 * backend owns TABLE_SIZE / n slots, within one. */
static void table(const uint32_t *ids, size_t n)
{
	static uint32_t slots[TABLE_SIZE];
	size_t i;

	for (i = 0; i < TABLE_SIZE; i++)
		slots[i] = ids[i % n];
	cr_assert_eq(bh_add_table(&h, TABLE, slots, TABLE_SIZE), 0);
}

/* addr:port/proto served by table TABLE. */
static void frontend(uint32_t addr, uint16_t port, uint8_t proto, uint16_t flags)
{
	cr_assert_eq(bh_add_frontend(&h, addr, port, proto, TABLE, TABLE_SIZE, flags,
				     AFFINITY_TIMEOUT), 0);
}

/* The ClusterIP SVC:SVC_PORT/TCP (with flags), balanced over ids. */
static void clusterip(uint16_t flags, const uint32_t *ids, size_t n)
{
	frontend(SVC, SVC_PORT, IPPROTO_TCP, flags);
	table(ids, n);
}

/* The NodePort NODE1:NODE_PORT/TCP, balanced over ids. */
static void nodeport(const uint32_t *ids, size_t n)
{
	frontend(NODE1, NODE_PORT, IPPROTO_TCP, EW_LB_NODEPORT);
	table(ids, n);
}

/* --- packets --------------------------------------------------------------------- */

/* The addresses and ports of a TCP or UDP packet (ports in host byte order). */
struct flow {
	uint8_t proto;
	uint32_t saddr, daddr;
	uint16_t sport, dport;
};

static struct flow tcp(uint32_t saddr, uint16_t sport, uint32_t daddr, uint16_t dport)
{
	return (struct flow){ IPPROTO_TCP, saddr, daddr, sport, dport };
}

/* Pod A to the ClusterIP, from port sport. */
static struct flow a_to_svc(uint16_t sport)
{
	return tcp(IP_A, sport, SVC, SVC_PORT);
}

/* X to the NodePort. */
static struct flow x_to_nodeport(void)
{
	return tcp(IP_X, CPORT, NODE1, NODE_PORT);
}

static struct flow reversed(struct flow f)
{
	return (struct flow){ f.proto, f.daddr, f.saddr, f.dport, f.sport };
}

static struct flow dst_to(struct flow f, uint32_t daddr, uint16_t dport)
{
	f.daddr = daddr;
	f.dport = dport;
	return f;
}

static struct flow src_to(struct flow f, uint32_t saddr, uint16_t sport)
{
	f.saddr = saddr;
	f.sport = sport;
	return f;
}

/* f's IPv4 header and TCP or UDP header, and PAYLOAD. */
static void flow_layers(struct pkt *p, struct flow f, uint8_t ttl)
{
	pkt_ipv4(p, f.saddr, f.daddr, f.proto, ttl);
	if (f.proto == IPPROTO_TCP)
		pkt_tcp(p, f.sport, f.dport, TH_ACK | TH_PUSH);
	else
		pkt_udp(p, f.sport, f.dport);
	pkt_payload(p, PAYLOAD, sizeof(PAYLOAD) - 1);
}

static void frame(struct pkt *p, const uint8_t *eth_src, const uint8_t *eth_dst,
		  struct flow f, uint8_t ttl)
{
	pkt_init(p);
	pkt_eth(p, eth_src, eth_dst, ETH_P_IP);
	flow_layers(p, f, ttl);
	pkt_finish(p);
	cr_assert(!p->overflow, "test packet does not fit");
}

/* What pod sends its gateway. */
static void sent_by(struct pkt *p, struct pod pod, struct flow f)
{
	frame(p, pod.mac, pod.gw, f, TTL);
}

/* What reaches pod after one router hop. */
static void delivered_to(struct pkt *p, struct pod pod, struct flow f)
{
	frame(p, pod.gw, pod.mac, f, TTL - 1);
}

/* What X sends node 1, as it arrives on the underlay. */
static void from_x(struct pkt *p, struct flow f)
{
	frame(p, MAC_X, U1, f, TTL);
}

static void vxlan_frame(struct pkt *p, const struct pkt_tunnel *t, struct flow inner,
			uint8_t ttl)
{
	pkt_init(p);
	pkt_tunnel(p, t);
	flow_layers(p, inner, ttl);
	pkt_finish(p);
	cr_assert(!p->overflow, "test packet does not fit");
}

/* What node 2 sends node 1 around inner, which it routed (TTL one less). */
static void vxlan_from_node2(struct pkt *p, struct flow inner)
{
	struct pkt_tunnel t = {
		.eth_src = U2, .eth_dst = U1,
		.saddr = NODE2, .daddr = NODE1,
		.sport = SPORT_IN, .dport = EW_VXLAN_PORT_DEFAULT, .vni = EW_VXLAN_VNI_DEFAULT,
		.vtep_src = V2, .vtep_dst = V1,
	};

	vxlan_frame(p, &t, inner, TTL - 1);
}

/* --- the checks ------------------------------------------------------------------------ */

/* Offsets in an encapsulated frame. */
#define OUTER_UDP (ETH_HLEN + 20)
#define INNER_IP  (OUTER_UDP + 8 + 8 + ETH_HLEN)

/* The verdict, bytes and counters of one run through prog, as
 * expect_run_on() says; the counted length is want's (in's without want). */
static void expect_run(enum bh_prog prog, const struct pkt *in, int verdict,
		       uint32_t reason, const struct pkt *want)
{
	expect_run_on(&h, prog, IF_HERE, in, verdict, reason, want ? want->len : in->len,
		      want, &res);
}

/* The TCP/UDP pseudo header (RFC 793, RFC 768) as a sum of 16-bit words:
 * both addresses, the protocol and the L4 length. */
static uint32_t pseudo_header_sum(const struct iphdr *iph, size_t l4_len)
{
	uint32_t s = ntohl(iph->saddr), d = ntohl(iph->daddr);

	return (s >> 16) + (s & 0xffff) + (d >> 16) + (d & 0xffff) + iph->protocol +
	       (uint32_t)l4_len;
}

/* The output's IPv4 header at offset l3 and its TCP or UDP segment sum to
 * one's complement zero, recomputed here from scratch, whatever the datapath
 * patched incrementally. */
static void expect_checksums_at(size_t l3)
{
	const struct iphdr *iph = (const struct iphdr *)(res.data + l3);
	size_t hlen, l4_len;

	cr_assert_geq(res.len, l3 + sizeof(*iph), "output of %u bytes has no IPv4 header",
		      res.len);
	hlen = (size_t)iph->ihl * 4;
	cr_assert_eq(ntohs(iph->tot_len), res.len - l3, "IPv4 tot_len %u, packet %zu bytes",
		     ntohs(iph->tot_len), res.len - l3);
	l4_len = res.len - l3 - hlen;
	cr_expect_eq(pkt_csum(iph, hlen, 0), 0, "IPv4 header checksum 0x%04x is wrong",
		     ntohs(iph->check));
	cr_expect_eq(pkt_csum(res.data + l3 + hlen, l4_len, pseudo_header_sum(iph, l4_len)),
		     0, "%s checksum is wrong", iph->protocol == IPPROTO_TCP ? "TCP" : "UDP");
}

static struct ew_ct_key ct_key(struct flow f, uint8_t type)
{
	return (struct ew_ct_key){
		.saddr = f.saddr, .daddr = f.daddr,
		.sport = htons(f.sport), .dport = htons(f.dport),
		.proto = f.proto, .type = type,
	};
}

static struct ew_ct_entry ct_entry(struct flow f, uint8_t type)
{
	struct ew_ct_key key = ct_key(f, type);
	struct ew_ct_entry e;
	int err = bh_ct_lookup(&h, &key, &e);

	cr_assert_eq(err, 0, "no %s entry for %u -> %u: %s",
		     type == EW_CT_SERVICE ? "SERVICE" : "REPLY", f.sport, f.dport,
		     strerror(-err));
	cr_expect_neq(e.created_ns, 0, "created_ns not set");
	cr_expect_geq(e.seen_ns, e.created_ns, "seen_ns before created_ns");
	return e;
}

/*
 * The client's flow f, sent to its backend as to_backend, is tracked as
 * abi.h says: the SERVICE entry keyed by f names the backend and the source
 * written; the REPLY entry keyed by the backend's reply to to_backend
 * restores the frontend as source and, with SNAT, the client as destination.
 */
static void expect_tracked(struct flow f, struct flow to_backend, uint32_t backend_id,
			   uint32_t flags)
{
	struct ew_ct_entry svc = ct_entry(f, EW_CT_SERVICE);
	struct ew_ct_entry reply = ct_entry(reversed(to_backend), EW_CT_REPLY);

	cr_expect_eq(svc.backend_id, backend_id, "SERVICE entry names backend %u, want %u",
		     svc.backend_id, backend_id);
	cr_expect_eq(svc.nat_addr, to_backend.saddr, "SERVICE nat_addr");
	cr_expect_eq(svc.nat_port, htons(to_backend.sport), "SERVICE nat_port %u",
		     ntohs(svc.nat_port));
	cr_expect_eq(svc.flags, flags, "SERVICE flags 0x%x, want 0x%x", svc.flags, flags);
	cr_expect_eq(reply.nat_addr, f.daddr, "REPLY nat_addr is not the frontend");
	cr_expect_eq(reply.nat_port, htons(f.dport), "REPLY nat_port %u", ntohs(reply.nat_port));
	cr_expect_eq(reply.orig_addr, f.saddr, "REPLY orig_addr is not the client");
	cr_expect_eq(reply.orig_port, htons(f.sport), "REPLY orig_port %u",
		     ntohs(reply.orig_port));
	cr_expect_eq(reply.flags, flags, "REPLY flags 0x%x, want 0x%x", reply.flags, flags);
}

static void expect_untracked(void)
{
	cr_expect_eq(bh_ct_count(&h, 0), 0, "%d conntrack entries, want none",
		     bh_ct_count(&h, 0));
}

/* Pod A's packet of f reaches backend pod be: destination translated to
 * be:BE_PORT, one router hop. */
static void expect_to_local_backend(struct flow f, struct pod be)
{
	struct pkt in, want;

	sent_by(&in, POD_A, f);
	delivered_to(&want, be, dst_to(f, be.ip, BE_PORT));
	expect_run(BH_FROM_CONTAINER, &in, TC_ACT_REDIRECT, EW_REASON_FORWARD, &want);
	expect_checksums_at(ETH_HLEN);
}

/* Runs in through prog; it must leave in VXLAN to node 2 around inner (TTL
 * one less), with the outer Ethernet header in came with (the kernel fills
 * in the outer MACs after the redirect) and the outer source port the
 * datapath chose. */
static void expect_encapsulated(enum bh_prog prog, const struct pkt *in, struct flow inner)
{
	const struct iphdr *iph = (const struct iphdr *)(in->data + ETH_HLEN);
	struct pkt_tunnel t = {
		.eth_src = in->data + ETH_ALEN, .eth_dst = in->data,
		.saddr = NODE1, .daddr = NODE2,
		.dport = EW_VXLAN_PORT_DEFAULT, .vni = EW_VXLAN_VNI_DEFAULT,
		.vtep_src = V1, .vtep_dst = V2,
	};
	struct expect_run run;
	struct pkt want;
	uint16_t sport;

	run_counted(&h, prog, IF_HERE, in, &res, &run);
	cr_assert_geq(res.len, INNER_IP, "output of %u bytes is no VXLAN frame", res.len);
	memcpy(&sport, res.data + OUTER_UDP, sizeof(sport));
	t.sport = ntohs(sport);
	vxlan_frame(&want, &t, inner, iph->ttl - 1);
	expect_outcome(&run, &res, TC_ACT_REDIRECT, EW_REASON_ENCAP, want.len, &want);
	expect_checksums_at(INNER_IP);
}

/* --- ClusterIP: a pod's flow to a local backend ----------------------------------------- */

Test(lb, clusterip_tcp_from_a_pod_is_dnated_to_a_local_backend)
{
	struct flow f = a_to_svc(CPORT);

	clusterip(0, IDS(BE_B1));
	expect_to_local_backend(f, POD_B1);
	expect_tracked(f, dst_to(f, IP_B1, BE_PORT), BE_B1, 0);
	cr_expect_eq(bh_ct_count(&h, 0), 2, "one flow, two entries");
}

Test(lb, tracked_flow_keeps_its_backend_when_the_table_changes)
{
	clusterip(0, IDS(BE_B1));
	expect_to_local_backend(a_to_svc(CPORT), POD_B1);
	table(IDS(BE_B2));
	expect_to_local_backend(a_to_svc(CPORT), POD_B1);
}

Test(lb, new_flow_follows_the_changed_table)
{
	clusterip(0, IDS(BE_B1));
	expect_to_local_backend(a_to_svc(CPORT), POD_B1);
	table(IDS(BE_B2));
	expect_to_local_backend(a_to_svc(CPORT + 1), POD_B2);
	expect_tracked(a_to_svc(CPORT + 1), dst_to(a_to_svc(CPORT + 1), IP_B2, BE_PORT), BE_B2, 0);
}

Test(lb, local_backend_reply_is_reverse_nated_to_the_frontend)
{
	struct flow f = a_to_svc(CPORT);
	struct pkt in, want;

	clusterip(0, IDS(BE_B1));
	expect_to_local_backend(f, POD_B1);
	sent_by(&in, POD_B1, reversed(dst_to(f, IP_B1, BE_PORT)));
	delivered_to(&want, POD_A, reversed(f));
	expect_run(BH_FROM_CONTAINER, &in, TC_ACT_REDIRECT, EW_REASON_FORWARD, &want);
	expect_checksums_at(ETH_HLEN);
}

/* The frontend's table names no backend: dropped, counted, nothing tracked. */
Test(lb, service_without_backends_is_dropped_as_no_backend)
{
	struct pkt in;

	cr_assert_eq(bh_add_frontend(&h, SVC, SVC_PORT, IPPROTO_TCP, 0, 0, 0, 0), 0);
	sent_by(&in, POD_A, a_to_svc(CPORT));
	expect_run(BH_FROM_CONTAINER, &in, TC_ACT_SHOT, EW_REASON_DROP_NO_BACKEND, NULL);
	expect_untracked();
}

/* The tracked backend is gone from ew_lb_backends: the flow is balanced
 * again, through the table, and tracked anew. */
Test(lb, flow_of_a_removed_backend_is_rebalanced_through_the_table)
{
	struct flow f = a_to_svc(CPORT);

	clusterip(0, IDS(BE_B1));
	expect_to_local_backend(f, POD_B1);
	cr_assert_eq(bh_del_backend(&h, BE_B1), 0);
	table(IDS(BE_B2));
	expect_to_local_backend(f, POD_B2);
	expect_tracked(f, dst_to(f, IP_B2, BE_PORT), BE_B2, 0);
}

/* A terminating backend is in no table; its tracked flows finish there. */
Test(lb, tracked_flow_still_reaches_a_terminating_backend)
{
	clusterip(0, IDS(BE_B1));
	expect_to_local_backend(a_to_svc(CPORT), POD_B1);
	cr_assert_eq(bh_add_backend(&h, BE_B1, IP_B1, BE_PORT, EW_BACKEND_TERMINATING), 0);
	table(IDS(BE_B2));
	expect_to_local_backend(a_to_svc(CPORT), POD_B1);
	expect_to_local_backend(a_to_svc(CPORT + 1), POD_B2);
}

/* --- ClusterIP: a backend on node 2 ------------------------------------------------------ */

Test(lb, clusterip_to_a_remote_backend_is_dnated_and_encapsulated_to_its_node)
{
	struct flow f = a_to_svc(CPORT);
	struct pkt in;

	clusterip(0, IDS(BE_C));
	sent_by(&in, POD_A, f);
	expect_encapsulated(BH_FROM_CONTAINER, &in, dst_to(f, IP_C, BE_PORT));
	expect_tracked(f, dst_to(f, IP_C, BE_PORT), BE_C, 0);
}

/* C's reply comes back in VXLAN; node 1, where the flow is tracked,
 * translates it back and delivers it to pod A. */
Test(lb, remote_backend_reply_in_vxlan_is_reverse_nated_and_delivered)
{
	struct flow f = a_to_svc(CPORT);
	struct pkt in, want;

	clusterip(0, IDS(BE_C));
	sent_by(&in, POD_A, f);
	expect_encapsulated(BH_FROM_CONTAINER, &in, dst_to(f, IP_C, BE_PORT));

	vxlan_from_node2(&in, reversed(dst_to(f, IP_C, BE_PORT)));
	delivered_to(&want, POD_A, reversed(f));
	expect_run(BH_FROM_UNDERLAY, &in, TC_ACT_REDIRECT, EW_REASON_FORWARD, &want);
	expect_checksums_at(ETH_HLEN);
}

/* --- sessionAffinity: ClientIP --------------------------------------------------------- */

static struct ew_lb_affinity_key a_affinity_key(void)
{
	return (struct ew_lb_affinity_key){
		.client = IP_A, .addr = SVC, .port = htons(SVC_PORT), .proto = IPPROTO_TCP,
	};
}

static struct ew_lb_affinity a_affinity(void)
{
	struct ew_lb_affinity_key key = a_affinity_key();
	struct ew_lb_affinity a;
	int err = bh_affinity_lookup(&h, &key, &a);

	cr_assert_eq(err, 0, "no affinity entry for pod A: %s", strerror(-err));
	return a;
}

/* The second flow would follow the new table; the client's backend wins. */
Test(lb, affinity_sends_a_clients_flows_to_one_backend)
{
	clusterip(EW_LB_AFFINITY, IDS(BE_B1));
	expect_to_local_backend(a_to_svc(CPORT), POD_B1);
	cr_expect_eq(a_affinity().backend_id, BE_B1);
	cr_expect_neq(a_affinity().seen_ns, 0);
	table(IDS(BE_B2));
	expect_to_local_backend(a_to_svc(CPORT + 1), POD_B1);
}

Test(lb, expired_affinity_leaves_the_choice_to_the_table)
{
	struct ew_lb_affinity_key key = a_affinity_key();
	struct ew_lb_affinity old = { .seen_ns = 1, .backend_id = BE_B1 };

	cr_assert_eq(bh_add_frontend(&h, SVC, SVC_PORT, IPPROTO_TCP, TABLE, TABLE_SIZE,
				     EW_LB_AFFINITY, 1 /* second */), 0);
	table(IDS(BE_B2));
	cr_assert_eq(bh_affinity_update(&h, &key, &old), 0);
	expect_to_local_backend(a_to_svc(CPORT), POD_B2);
	cr_expect_eq(a_affinity().backend_id, BE_B2, "the new choice is remembered");
	cr_expect_gt(a_affinity().seen_ns, 1);
}

Test(lb, affinity_to_a_terminating_backend_gives_way_to_the_table)
{
	clusterip(EW_LB_AFFINITY, IDS(BE_B1));
	expect_to_local_backend(a_to_svc(CPORT), POD_B1);
	cr_assert_eq(bh_add_backend(&h, BE_B1, IP_B1, BE_PORT, EW_BACKEND_TERMINATING), 0);
	table(IDS(BE_B2));
	expect_to_local_backend(a_to_svc(CPORT + 1), POD_B2);
}

Test(lb, service_without_affinity_remembers_no_client)
{
	struct ew_lb_affinity_key key = a_affinity_key();
	struct ew_lb_affinity a;

	clusterip(0, IDS(BE_B1));
	expect_to_local_backend(a_to_svc(CPORT), POD_B1);
	cr_expect_eq(bh_affinity_lookup(&h, &key, &a), -ENOENT);
}

/* --- spreading ------------------------------------------------------------------------- */

#define SPREAD_FLOWS 3000

/* New flows from SPREAD_FLOWS source ports: each backend of a three-way
 * table gets a third of them, within 10%. */
Test(lb, new_flows_spread_evenly_over_the_backends)
{
	const uint32_t backends[3] = { IP_B1, IP_B2, IP_B3 };
	unsigned int got[3] = { 0 }, other = 0, i, b;
	uint32_t daddr;
	struct pkt in;

	clusterip(0, IDS(BE_B1, BE_B2, BE_B3));
	for (i = 0; i < SPREAD_FLOWS; i++) {
		sent_by(&in, POD_A, a_to_svc((uint16_t)(20000 + i)));
		cr_assert_eq(bh_run_pkt(&h, &in, IF_HERE, &res), 0);
		cr_assert_eq(res.retval, TC_ACT_REDIRECT, "flow %u: verdict %s", i,
			     bh_verdict_name(res.retval));
		memcpy(&daddr, res.data + ETH_HLEN + offsetof(struct iphdr, daddr),
		       sizeof(daddr));
		for (b = 0; b < 3 && backends[b] != daddr; b++)
			;
		if (b < 3)
			got[b]++;
		else
			other++;
	}
	cr_expect_eq(other, 0, "%u flows went to no backend", other);
	for (b = 0; b < 3; b++)
		cr_expect(got[b] >= SPREAD_FLOWS / 3 * 9 / 10 && got[b] <= SPREAD_FLOWS / 3 * 11 / 10,
			  "backend B%u got %u of %u flows (%u, %u, %u)", b + 1, got[b],
			  SPREAD_FLOWS, got[0], got[1], got[2]);
}

/* --- hairpin: a pod reaching itself ---------------------------------------------------------- */

/* What A gets of its own flow f through the service: from EW_HAIRPIN_ADDR,
 * so it does not drop a packet carrying its own source address. */
static struct flow hairpinned(struct flow f)
{
	return src_to(dst_to(f, IP_A, BE_PORT), htonl(EW_HAIRPIN_ADDR), f.sport);
}

static void expect_hairpin(struct flow f)
{
	struct pkt in, want;

	sent_by(&in, POD_A, f);
	delivered_to(&want, POD_A, hairpinned(f));
	expect_run(BH_FROM_CONTAINER, &in, TC_ACT_REDIRECT, EW_REASON_FORWARD, &want);
	expect_checksums_at(ETH_HLEN);
}

Test(lb, pod_reaching_itself_through_a_service_gets_the_hairpin_source)
{
	struct flow f = a_to_svc(CPORT);

	clusterip(0, IDS(BE_A));
	expect_hairpin(f);
	expect_tracked(f, hairpinned(f), BE_A, EW_CT_SNAT);
}

Test(lb, hairpin_reply_is_translated_back_to_frontend_and_pod)
{
	struct flow f = a_to_svc(CPORT);
	struct pkt in, want;

	clusterip(0, IDS(BE_A));
	expect_hairpin(f);
	sent_by(&in, POD_A, reversed(hairpinned(f)));
	delivered_to(&want, POD_A, reversed(f));
	expect_run(BH_FROM_CONTAINER, &in, TC_ACT_REDIRECT, EW_REASON_FORWARD, &want);
	expect_checksums_at(ETH_HLEN);
}

/* --- UDP checksums ---------------------------------------------------------------------- */

enum udp_checksum {
	UDP_CHECKSUM,	   /* a checksum: it stays right */
	UDP_NO_CHECKSUM,   /* 0, none: it stays none */
	UDP_CHECKSUM_FFFF, /* one the translation makes 0: sent as 0xffff (RFC 768) */
};

/* The client port for which the UDP checksum of f, translated to B1, comes
 * out 0: the builder writes it 0xffff, as the datapath must. */
static uint16_t port_making_checksum_0(struct flow f)
{
	struct pkt p;
	uint32_t port;

	for (port = 1; port <= 0xffff; port++) {
		frame(&p, U1, U1, dst_to(src_to(f, f.saddr, (uint16_t)port), IP_B1, BE_PORT), TTL);
		if (((struct udphdr *)pkt_l4_hdr(&p))->uh_sum == 0xffff)
			return (uint16_t)port;
	}
	cr_assert_fail("no client port makes the translated UDP checksum 0");
	return 0;
}

/* f (to a UDP frontend on B1) from a client port that makes its checksum c. */
static struct flow udp_flow(struct flow f, enum udp_checksum c)
{
	return c == UDP_CHECKSUM_FFFF ? src_to(f, f.saddr, port_making_checksum_0(f)) : f;
}

/* Runs in through prog, expecting want; in's and want's UDP checksums are
 * made 0 first for UDP_NO_CHECKSUM, and after the run it is still 0. */
static void expect_udp(enum bh_prog prog, struct pkt *in, struct pkt *want, int verdict,
		       uint32_t reason, enum udp_checksum c)
{
	struct udphdr *out = (struct udphdr *)(res.data + ETH_HLEN + sizeof(struct iphdr));

	if (c == UDP_NO_CHECKSUM) {
		((struct udphdr *)pkt_l4_hdr(in))->uh_sum = 0;
		((struct udphdr *)pkt_l4_hdr(want))->uh_sum = 0;
	}
	expect_run(prog, in, verdict, reason, want);
	if (c == UDP_NO_CHECKSUM)
		cr_expect_eq(out->uh_sum, 0, "a UDP packet without checksum got one");
	else
		expect_checksums_at(ETH_HLEN);
}

/* Pod A's DNS query to the ClusterIP, to B1. */
static void expect_udp_clusterip(enum udp_checksum c)
{
	struct flow f = udp_flow((struct flow){ IPPROTO_UDP, IP_A, SVC, CPORT, DNS_PORT }, c);
	struct pkt in, want;

	frontend(SVC, DNS_PORT, IPPROTO_UDP, 0);
	table(IDS(BE_B1));
	sent_by(&in, POD_A, f);
	delivered_to(&want, POD_B1, dst_to(f, IP_B1, BE_PORT));
	expect_udp(BH_FROM_CONTAINER, &in, &want, TC_ACT_REDIRECT, EW_REASON_FORWARD, c);
}

/* X's datagram to a UDP NodePort, to B1, in XDP. */
static void expect_udp_nodeport(enum udp_checksum c)
{
	struct flow f = udp_flow((struct flow){ IPPROTO_UDP, IP_X, NODE1, CPORT, NODE_PORT }, c);
	struct pkt in, want;

	frontend(NODE1, NODE_PORT, IPPROTO_UDP, EW_LB_NODEPORT);
	table(IDS(BE_B1));
	from_x(&in, f);
	from_x(&want, dst_to(f, IP_B1, BE_PORT));
	expect_udp(BH_FROM_NETDEV, &in, &want, XDP_PASS, UNCOUNTED, c);
}

Test(lb, clusterip_udp_checksum_stays_valid)
{
	expect_udp_clusterip(UDP_CHECKSUM);
}

Test(lb, clusterip_udp_without_checksum_keeps_none)
{
	expect_udp_clusterip(UDP_NO_CHECKSUM);
}

Test(lb, clusterip_udp_checksum_translated_to_0_is_sent_as_ffff)
{
	expect_udp_clusterip(UDP_CHECKSUM_FFFF);
}

Test(lb, nodeport_udp_checksum_stays_valid)
{
	expect_udp_nodeport(UDP_CHECKSUM);
}

Test(lb, nodeport_udp_without_checksum_keeps_none)
{
	expect_udp_nodeport(UDP_NO_CHECKSUM);
}

Test(lb, nodeport_udp_checksum_translated_to_0_is_sent_as_ffff)
{
	expect_udp_nodeport(UDP_CHECKSUM_FFFF);
}

/* --- NodePort to a local backend ------------------------------------------------------ */

/* XDP translates the destination only and passes the packet on: the
 * backend's reply comes back through this node anyway. */
static void expect_nodeport_to_b1(void)
{
	struct flow f = x_to_nodeport();
	struct pkt in, want;

	from_x(&in, f);
	from_x(&want, dst_to(f, IP_B1, BE_PORT));
	expect_run(BH_FROM_NETDEV, &in, XDP_PASS, UNCOUNTED, &want);
	expect_checksums_at(ETH_HLEN);
}

Test(lb, nodeport_to_a_local_backend_is_dnated_in_xdp)
{
	struct flow f = x_to_nodeport();

	nodeport(IDS(BE_B1));
	expect_nodeport_to_b1();
	expect_tracked(f, dst_to(f, IP_B1, BE_PORT), BE_B1, EW_CT_NODEPORT);
}

/* What XDP passed, from_underlay delivers to the pod. */
/* The stack routes it to the local backend, with the pod's MTU: from_underlay
 * leaves it alone. */
Test(lb, nodeport_packet_passed_by_xdp_to_a_local_backend_is_the_stacks)
{
	struct pkt in;

	nodeport(IDS(BE_B1));
	expect_nodeport_to_b1();
	pkt_init(&in);
	pkt_payload(&in, res.data, res.len);
	expect_run(BH_FROM_UNDERLAY, &in, TC_ACT_OK, UNCOUNTED, NULL);
}

/* B1's reply leaves as from the NodePort, on the kernel's route to X. The
 * node does not decrement the TTL of the reply. */
Test(lb, local_backend_reply_to_a_nodeport_client_leaves_by_the_underlay)
{
	struct flow f = x_to_nodeport();
	struct pod b1 = POD_B1;
	struct pkt in, want;

	nodeport(IDS(BE_B1));
	expect_nodeport_to_b1();
	sent_by(&in, b1, reversed(dst_to(f, IP_B1, BE_PORT)));
	frame(&want, b1.mac, b1.gw, reversed(f), TTL);
	expect_run(BH_FROM_CONTAINER, &in, TC_ACT_REDIRECT, EW_REASON_TO_UNDERLAY, &want);
	expect_checksums_at(ETH_HLEN);
}

/* --- NodePort to a backend on node 2 ---------------------------------------------------- */

/* X's packet through XDP to C: the destination translated to C, the source
 * to this node and a port of the SNAT range, which is returned. */
static uint16_t expect_nodeport_to_c(void)
{
	struct flow f = x_to_nodeport();
	struct expect_run run;
	struct pkt in, want;
	uint16_t sport;
	uint32_t port;

	from_x(&in, f);
	run_counted(&h, BH_FROM_NETDEV, IF_HERE, &in, &res, &run);
	cr_assert_geq(res.len, ETH_HLEN + 20 + 2, "output of %u bytes", res.len);
	memcpy(&sport, res.data + ETH_HLEN + 20, sizeof(sport));
	port = ntohs(sport);
	cr_expect(port >= EW_SNAT_PORT_MIN && port <= EW_SNAT_PORT_MAX,
		  "SNAT source port %u outside %u-%u", port, EW_SNAT_PORT_MIN, EW_SNAT_PORT_MAX);
	from_x(&want, tcp(NODE1, (uint16_t)port, IP_C, BE_PORT));
	expect_outcome(&run, &res, XDP_PASS, UNCOUNTED, want.len, &want);
	expect_checksums_at(ETH_HLEN);
	return (uint16_t)port;
}

Test(lb, nodeport_to_a_remote_backend_is_dnated_and_snated_in_xdp)
{
	struct flow f = x_to_nodeport();
	uint16_t port;

	nodeport(IDS(BE_C));
	port = expect_nodeport_to_c();
	expect_tracked(f, tcp(NODE1, port, IP_C, BE_PORT), BE_C,
		       EW_CT_SNAT | EW_CT_NODEPORT);
}

/* What XDP passed, from this node's address, from_underlay sends to node 2. */
Test(lb, nodeport_packet_passed_by_xdp_is_encapsulated_to_the_backends_node)
{
	uint16_t port;
	struct pkt in;

	nodeport(IDS(BE_C));
	port = expect_nodeport_to_c();
	pkt_init(&in);
	pkt_payload(&in, res.data, res.len);
	expect_encapsulated(BH_FROM_UNDERLAY, &in, tcp(NODE1, port, IP_C, BE_PORT));
}

/* The REPLY entry of a NodePort flow of another client of C (another port
 * of X) that took SNAT port port. */
static void occupy_snat_port(uint16_t port)
{
	struct flow theirs = src_to(x_to_nodeport(), IP_X, CPORT + 1);
	struct ew_ct_key key = ct_key(tcp(IP_C, BE_PORT, NODE1, port), EW_CT_REPLY);
	struct ew_ct_entry e = {
		.created_ns = 1, .seen_ns = 1,
		.nat_addr = theirs.daddr, .nat_port = htons(theirs.dport),
		.orig_addr = theirs.saddr, .orig_port = htons(theirs.sport),
		.flags = EW_CT_SNAT | EW_CT_NODEPORT,
	};

	cr_assert_eq(bh_ct_update(&h, &key, &e), 0);
}

/* The port the flow hashes to is another flow's: the next free one is
 * taken, and the other flow's entry stays as it was. */
Test(lb, snat_port_in_use_is_skipped)
{
	struct flow f = x_to_nodeport();
	struct ew_ct_key svc_key = ct_key(f, EW_CT_SERVICE), reply_key;
	uint16_t first, port;

	nodeport(IDS(BE_C));
	first = expect_nodeport_to_c();
	reply_key = ct_key(tcp(IP_C, BE_PORT, NODE1, first), EW_CT_REPLY);
	cr_assert_eq(bh_ct_delete(&h, &svc_key), 0);
	cr_assert_eq(bh_ct_delete(&h, &reply_key), 0);
	occupy_snat_port(first);

	port = expect_nodeport_to_c();
	cr_expect_neq(port, first, "the flow took SNAT port %u, which is in use", port);
	expect_tracked(f, tcp(NODE1, port, IP_C, BE_PORT), BE_C, EW_CT_SNAT | EW_CT_NODEPORT);
	cr_expect_eq(ct_entry(tcp(IP_C, BE_PORT, NODE1, first), EW_CT_REPLY).orig_port,
		     htons(CPORT + 1), "the other flow's entry was overwritten");
}

/* Conntrack is never required for correctness (conntrack.h): a flow whose
 * SERVICE entry is lost (LRU) is rebuilt on its own SNAT port, which its
 * REPLY entry still holds, so the backend sees the same connection. */
Test(lb, flow_that_lost_its_service_entry_keeps_its_snat_port)
{
	struct flow f = x_to_nodeport();
	struct ew_ct_key svc_key = ct_key(f, EW_CT_SERVICE);
	uint16_t first, port;

	nodeport(IDS(BE_C));
	first = expect_nodeport_to_c();
	cr_assert_eq(bh_ct_delete(&h, &svc_key), 0);
	port = expect_nodeport_to_c();
	cr_expect_eq(port, first, "the flow moved from SNAT port %u to %u", first, port);
	expect_tracked(f, tcp(NODE1, port, IP_C, BE_PORT), BE_C, EW_CT_SNAT | EW_CT_NODEPORT);
}

/* Every port of the range in use towards C: the connection cannot be
 * translated, and is dropped untouched. */
Test(lb, nodeport_without_a_free_snat_port_is_nat_failed)
{
	uint32_t port;
	struct pkt in;

	nodeport(IDS(BE_C));
	for (port = EW_SNAT_PORT_MIN; port <= EW_SNAT_PORT_MAX; port++)
		occupy_snat_port((uint16_t)port);
	from_x(&in, x_to_nodeport());
	expect_run(BH_FROM_NETDEV, &in, XDP_DROP, EW_REASON_DROP_NAT_FAILED, NULL);
	cr_expect_eq(bh_ct_count(&h, EW_CT_SERVICE), 0, "the dropped flow is tracked");
}

/* C's reply, routed by node 2 to this node's address, as XDP sees it
 * (port: the SNAT port of the flow). */
static void reply_from_c(struct pkt *p, uint16_t port)
{
	frame(p, U2, U1, tcp(IP_C, BE_PORT, NODE1, port), TTL - 1);
}

/* XDP leaves C's reply to TC, where the kernel's route and neighbour are. */
Test(lb, remote_backend_reply_passes_xdp_untouched)
{
	struct pkt in;

	nodeport(IDS(BE_C));
	reply_from_c(&in, expect_nodeport_to_c());
	expect_run(BH_FROM_NETDEV, &in, XDP_PASS, UNCOUNTED, NULL);
}

/* from_underlay translates it back, as from the NodePort to X, and sends it
 * out of the underlay with bpf_redirect_neigh(). */
Test(lb, remote_backend_reply_is_translated_back_and_leaves_by_the_underlay)
{
	struct pkt in, want;
	uint16_t port;

	nodeport(IDS(BE_C));
	port = expect_nodeport_to_c();
	reply_from_c(&in, port);
	frame(&want, U2, U1, reversed(x_to_nodeport()), TTL - 1);
	expect_run(BH_FROM_UNDERLAY, &in, TC_ACT_REDIRECT, EW_REASON_TO_UNDERLAY, &want);
	expect_checksums_at(ETH_HLEN);
}

/* A reply to this node's address that belongs to no NodePort flow is the
 * stack's. */
Test(lb, untracked_packet_to_the_node_is_the_stacks)
{
	struct pkt in;

	nodeport(IDS(BE_C));
	reply_from_c(&in, EW_SNAT_PORT_MIN);
	expect_run(BH_FROM_UNDERLAY, &in, TC_ACT_OK, UNCOUNTED, NULL);
}

/* --- what XDP leaves alone ---------------------------------------------------------------- */

/* A frontend on this node's address without EW_LB_NODEPORT is no NodePort. */
Test(lb, clusterip_frontend_on_the_node_address_is_not_served_in_xdp)
{
	struct pkt in;

	frontend(NODE1, NODE_PORT, IPPROTO_TCP, 0);
	table(IDS(BE_B1));
	from_x(&in, x_to_nodeport());
	expect_run(BH_FROM_NETDEV, &in, XDP_PASS, UNCOUNTED, NULL);
	expect_untracked();
}

/* Only packets to this node's address are XDP's. */
Test(lb, clusterip_from_outside_is_not_served_in_xdp)
{
	struct pkt in;

	clusterip(0, IDS(BE_B1));
	from_x(&in, tcp(IP_X, CPORT, SVC, SVC_PORT));
	expect_run(BH_FROM_NETDEV, &in, XDP_PASS, UNCOUNTED, NULL);
	expect_untracked();
}

/* --- everything else ------------------------------------------------------------------- */

Test(lb, pod_to_pod_traffic_is_untouched_by_services)
{
	struct flow f = tcp(IP_A, CPORT, IP_B2, SVC_PORT);
	struct pkt in, want;

	clusterip(0, IDS(BE_B1));
	nodeport(IDS(BE_B1));
	sent_by(&in, POD_A, f);
	delivered_to(&want, POD_B2, f);
	expect_run(BH_FROM_CONTAINER, &in, TC_ACT_REDIRECT, EW_REASON_FORWARD, &want);
	expect_untracked();
}
