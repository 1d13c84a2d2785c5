// SPDX-License-Identifier: Apache-2.0
/*
 * VXLAN between nodes: from_container (bpf/bpf_lxc.c) wrapping a packet for
 * a pod on another node, from_underlay (bpf/bpf_overlay.c) checking and
 * unwrapping it on the node that owns the pod. Each case runs the real
 * program objects once and checks the verdict, the exact bytes the program
 * leaves in the packet and the change of every counter. Criterion runs each
 * test in its own process with freshly loaded objects, so the counters start
 * from zero.
 *
 * The cluster, as node 1's maps describe it (node 2's only in the round trip):
 *
 *   node 1  192.168.0.1  underlay MAC U1, VTEP MAC V1, pods 10.0.1.0/24 (local)
 *           pod A 10.0.1.10 on ifindex 1 (the device packets arrive on)
 *           pod B 10.0.1.20 on ifindex 42
 *   node 2  192.168.0.2  U2, V2, pods 10.0.2.0/24; pod C 10.0.2.5
 *   10.0.0.0/16  the cluster CIDR (EW_ROUTE_CLUSTER): 10.0.9.0/24 is no node's
 *
 * ew_config points the overlay at ifindex 1 (lo): bpf_redirect_neigh() then
 * returns TC_ACT_REDIRECT under BPF_PROG_TEST_RUN as it does on the wire.
 * The cases at the end attach both programs to real veths instead, for the
 * kernel's part: outer MACs, delivery into the pod, GSO segmentation.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>

#include <linux/pkt_cls.h>

#include "bpf_expect.h"
#include "bpf_harness.h"
#include "overlay_nodes.h"
#include "pkt.h"

#define IF_HERE 1 /* skb->ifindex of every run: pod A's host veth, the underlay */
#define IF_B	42
#define IF_C	7 /* pod C's host veth on node 2 */

static const uint8_t MAC_A[ETH_ALEN] = { 0x02, 0x00, 0x00, 0x00, 0x01, 0x0a };
static const uint8_t GW_A[ETH_ALEN] = { 0xee, 0xee, 0xee, 0x00, 0x00, 0x01 };
static const uint8_t MAC_B[ETH_ALEN] = { 0x02, 0x00, 0x00, 0x00, 0x01, 0x14 };
static const uint8_t GW_B[ETH_ALEN] = { 0xee, 0xee, 0xee, 0x00, 0x00, 0x02 };
static const uint8_t MAC_C[ETH_ALEN] = { 0x02, 0x00, 0x00, 0x00, 0x02, 0x05 };
static const uint8_t GW_C[ETH_ALEN] = { 0xee, 0xee, 0xee, 0x00, 0x02, 0x01 };
static const uint8_t MAC_BCAST[ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t MAC_ZERO[ETH_ALEN] = { 0 };

#define NODE_UNKNOWN ip4(192, 168, 0, 77) /* no node of the cluster */
#define NODE_OTHER   ip4(192, 168, 0, 99) /* some other host on the underlay */

#define IP_A	  ip4(10, 0, 1, 10)
#define IP_B	  ip4(10, 0, 1, 20)
#define IP_C	  ip4(10, 0, 2, 5)
#define IP_NOPOD  ip4(10, 0, 1, 99) /* node 1's CIDR, no pod */
#define IP_NONODE ip4(10, 0, 9, 5)  /* the cluster CIDR, no node's */

#define VNI	   EW_VXLAN_VNI_DEFAULT
#define PORT	   EW_VXLAN_PORT_DEFAULT
#define VNI_OTHER  0xabcdef /* a configured VNI, all 24 bits used */
#define PORT_OTHER 8472	    /* a configured port (Linux's old default) */
#define SPORT_IN   50000    /* outer source port of VXLAN arriving at node 1 */
#define TOS_EF	   0xb8

static const char PAYLOAD[] = "edgewire says hello";

static struct bh h;
static struct bh_result res;

static struct ew_config node_config(uint32_t node_ip, const uint8_t *vtep_mac,
				    uint32_t vni, uint16_t port)
{
	struct ew_config cfg = {
		.abi_version = EW_ABI_VERSION,
		.node_ip = node_ip,
		.underlay_ifindex = IF_HERE,
		.vni = vni,
		.vxlan_port = htons(port),
	};

	memcpy(cfg.vtep_mac, vtep_mac, sizeof(cfg.vtep_mac));
	return cfg;
}

static void set_config(struct bh *node, uint32_t node_ip, const uint8_t *vtep_mac,
		       uint32_t vni, uint16_t port)
{
	struct ew_config cfg = node_config(node_ip, vtep_mac, vni, port);

	cr_assert_eq(bh_set_config(node, &cfg), 0);
}

static void open_node(struct bh *node)
{
	int err;

	if (!bh_privileged())
		cr_skip_test("loading BPF programs needs root (or CAP_BPF and CAP_NET_ADMIN)");
	err = bh_open(node, NULL);
	cr_assert_eq(err, 0, "cannot load the datapath: %s", strerror(-err));
	cr_assert_eq(bh_add_route(node, ip4(10, 0, 0, 0), 16, 0, EW_ROUTE_CLUSTER), 0);
}

static void overlay_setup(void)
{
	open_node(&h);
	set_config(&h, NODE1, V1, VNI, PORT);
	cr_assert_eq(bh_add_route_vtep(&h, ip4(10, 0, 1, 0), 24, NODE1, EW_ROUTE_LOCAL, V1), 0);
	cr_assert_eq(bh_add_route_vtep(&h, ip4(10, 0, 2, 0), 24, NODE2, 0, V2), 0);
	cr_assert_eq(bh_add_node(&h, NODE2), 0);
	cr_assert_eq(bh_add_endpoint(&h, IP_A, IF_HERE, MAC_A, GW_A), 0);
	cr_assert_eq(bh_add_endpoint(&h, IP_B, IF_B, MAC_B, GW_B), 0);
}

static void overlay_teardown(void)
{
	bh_close(&h);
}

TestSuite(overlay, .init = overlay_setup, .fini = overlay_teardown);

/* --- packets ------------------------------------------------------------------ */

/* An IPv4 header and proto (TCP, UDP or ICMP echo) carrying PAYLOAD; flow
 * sets the L4 source port (or the echo id), so flows can differ. */
static void ipv4_layers(struct pkt *p, uint32_t saddr, uint32_t daddr,
			uint8_t proto, uint8_t ttl, uint16_t flow)
{
	pkt_ipv4(p, saddr, daddr, proto, ttl);
	switch (proto) {
	case IPPROTO_TCP:
		pkt_tcp(p, flow, 80, TH_SYN);
		break;
	case IPPROTO_UDP:
		pkt_udp(p, flow, 53);
		break;
	case IPPROTO_ICMP:
		pkt_icmp_echo(p, flow, 7);
		break;
	}
	pkt_payload(p, PAYLOAD, sizeof(PAYLOAD) - 1);
}

static void ipv4_packet(struct pkt *p, const uint8_t *eth_src,
			const uint8_t *eth_dst, uint32_t saddr, uint32_t daddr,
			uint8_t proto, uint8_t ttl)
{
	pkt_init(p);
	pkt_eth(p, eth_src, eth_dst, ETH_P_IP);
	ipv4_layers(p, saddr, daddr, proto, ttl, 40000);
	pkt_finish(p);
	cr_assert(!p->overflow, "test packet does not fit");
}

static void vxlan_packet(struct pkt *p, const struct pkt_tunnel *t, uint32_t saddr,
			 uint32_t daddr, uint8_t proto, uint8_t ttl)
{
	pkt_init(p);
	pkt_tunnel(p, t);
	ipv4_layers(p, saddr, daddr, proto, ttl, 40000);
	pkt_finish(p);
	cr_assert(!p->overflow, "test packet does not fit");
}

/* The tunnel node 1 sends node 2 for pod A's frame: the frame's own first
 * 14 bytes (the kernel fills in the outer MACs after the redirect). */
static struct pkt_tunnel to_node2(uint16_t sport)
{
	return (struct pkt_tunnel){
		.eth_src = MAC_A, .eth_dst = GW_A,
		.saddr = NODE1, .daddr = NODE2,
		.sport = sport, .dport = PORT, .vni = VNI,
		.vtep_src = V1, .vtep_dst = V2,
	};
}

/* The tunnel node 2 sends node 1, as it arrives on node 1's underlay. */
static struct pkt_tunnel from_node2(void)
{
	return (struct pkt_tunnel){
		.eth_src = U2, .eth_dst = U1,
		.saddr = NODE2, .daddr = NODE1,
		.sport = SPORT_IN, .dport = PORT, .vni = VNI,
		.vtep_src = V2, .vtep_dst = V1,
	};
}

/* What pod C on node 2 sent pod A (or any daddr), as it arrives on node 1. */
static void vxlan_from_c(struct pkt *p, uint32_t daddr, uint8_t proto)
{
	struct pkt_tunnel t = from_node2();

	vxlan_packet(p, &t, IP_C, daddr, proto, 63);
}

/* --- the checks ----------------------------------------------------------------- */

static void expect_container(const struct pkt *in, int verdict, uint32_t reason,
			     size_t len, const struct pkt *want)
{
	expect_run_on(&h, BH_FROM_CONTAINER, IF_HERE, in, verdict, reason, len, want, &res);
}

static void expect_underlay(const struct pkt *in, int verdict, uint32_t reason,
			    size_t len, const struct pkt *want)
{
	expect_run_on(&h, BH_FROM_UNDERLAY, IF_HERE, in, verdict, reason, len, want, &res);
}

/* Traffic that is no VXLAN for this node: untouched, and no counter moves. */
static void expect_passed_untouched(const struct pkt *in)
{
	expect_underlay(in, TC_ACT_OK, UNCOUNTED, 0, NULL);
}

/* --- encapsulation: from_container to a pod on node 2 ------------------------------ */

/* Offsets in an encapsulated frame. */
#define OUTER_IP  ETH_HLEN
#define OUTER_UDP (OUTER_IP + 20)
#define VXLAN_HDR (OUTER_UDP + 8)
#define INNER_ETH (VXLAN_HDR + 8)
#define INNER_IP  (INNER_ETH + ETH_HLEN)

static uint16_t out_udp_sport(void)
{
	uint16_t sport;

	cr_assert_geq(res.len, OUTER_UDP + 8, "output of %u bytes has no outer UDP", res.len);
	memcpy(&sport, res.data + OUTER_UDP, sizeof(sport));
	return ntohs(sport);
}

/* Runs pod A's packet in, which must leave encapsulated; returns the outer
 * UDP source port, after checking it is in the dynamic range. */
static uint16_t run_encap(const struct pkt *in)
{
	int err;

	err = bh_run_pkt(&h, in, IF_HERE, &res);
	cr_assert_eq(err, 0, "BPF_PROG_TEST_RUN failed: %s", strerror(-err));
	cr_assert_eq(res.retval, TC_ACT_REDIRECT, "verdict %s (%d), want TC_ACT_REDIRECT",
		     bh_verdict_name(res.retval), res.retval);
	cr_assert_eq(res.len, in->len + EW_VXLAN_OVERHEAD);
	cr_expect_geq(out_udp_sport(), 49152, "outer source port %u below 49152",
		      out_udp_sport());
	return out_udp_sport();
}

/* What the full recompute says, apart from the builder: both IPv4 headers
 * sum right, the inner L4 checksum still holds and the payload came along;
 * and the fields RFC 7348 fixes, read at their offsets. */
static void expect_encap_invariants(const struct pkt *in, uint32_t vni, uint16_t port)
{
	const struct iphdr *outer = (const struct iphdr *)(res.data + OUTER_IP);
	const struct udphdr *udp = (const struct udphdr *)(res.data + OUTER_UDP);
	const struct pkt_vxlanhdr *vx = (const struct pkt_vxlanhdr *)(res.data + VXLAN_HDR);
	const struct ether_header *inner_eth =
		(const struct ether_header *)(res.data + INNER_ETH);
	size_t l4 = in->l4_off;

	cr_assert_eq(res.len, in->len + EW_VXLAN_OVERHEAD);
	cr_expect(ipv4_checksum_ok(outer), "outer IPv4 checksum is wrong");
	cr_expect(ipv4_checksum_ok(res.data + INNER_IP), "inner IPv4 checksum is wrong");
	cr_expect(ipv4_l4_checksum_ok(res.data + INNER_IP, res.len - INNER_IP),
		  "inner L4 checksum broken");
	cr_expect_eq(memcmp(res.data + EW_VXLAN_OVERHEAD + l4, in->data + l4, in->len - l4),
		     0, "inner L4 header or payload changed");

	cr_expect_eq(res.data[OUTER_IP], 0x45, "outer version/ihl 0x%02x", res.data[OUTER_IP]);
	cr_expect_eq(outer->tos, ((const struct iphdr *)(in->data + ETH_HLEN))->tos);
	cr_expect_eq(ntohs(outer->tot_len), res.len - ETH_HLEN);
	cr_expect_eq(outer->frag_off, htons(IP_DF), "outer frag_off 0x%04x, want DF only",
		     ntohs(outer->frag_off));
	cr_expect_eq(outer->ttl, 64);
	cr_expect_eq(outer->protocol, IPPROTO_UDP);
	cr_expect_eq(outer->saddr, NODE1);
	cr_expect_eq(outer->daddr, NODE2);
	cr_expect_eq(ntohs(udp->uh_dport), port, "outer UDP port %u, want %u",
		     ntohs(udp->uh_dport), port);
	cr_expect_eq(ntohs(udp->uh_ulen), res.len - OUTER_UDP);
	cr_expect_eq(udp->uh_sum, 0, "outer UDP checksum 0x%04x, want none (0)",
		     ntohs(udp->uh_sum));
	cr_expect_eq(ntohl(vx->flags), 0x08000000u, "VXLAN flags 0x%08x", ntohl(vx->flags));
	cr_expect_eq(ntohl(vx->vni), vni << 8, "VXLAN VNI field 0x%08x, want 0x%08x",
		     ntohl(vx->vni), vni << 8);
	cr_expect_eq(memcmp(inner_eth->ether_dhost, V2, ETH_ALEN), 0,
		     "inner destination MAC is not the route's VTEP MAC");
	cr_expect_eq(memcmp(inner_eth->ether_shost, V1, ETH_ALEN), 0,
		     "inner source MAC is not this node's VTEP MAC");
	cr_expect_eq(ntohs(inner_eth->ether_type), ETH_P_IP);
	cr_expect_eq(res.data[INNER_IP + offsetof(struct iphdr, ttl)],
		     ((const struct iphdr *)(in->data + ETH_HLEN))->ttl - 1, "inner TTL");
	cr_expect_eq(memcmp(res.data, in->data, ETH_HLEN), 0,
		     "outer Ethernet header differs from the pod's");
}

/* Pod A to pod C: outer headers to node 2 around the router hop's result. */
static void expect_encap(uint8_t proto)
{
	struct bh_counters before, after;
	struct pkt in, want;
	struct pkt_tunnel t;

	ipv4_packet(&in, MAC_A, GW_A, IP_A, IP_C, proto, 64);
	cr_assert_eq(bh_counters_read(&h, &before), 0);
	t = to_node2(run_encap(&in));
	cr_assert_eq(bh_counters_read(&h, &after), 0);

	vxlan_packet(&want, &t, IP_A, IP_C, proto, 63);
	expect_bytes(res.data, res.len, want.data, want.len);
	expect_encap_invariants(&in, VNI, PORT);
	/* counted after the encap: the outer headers are in skb->len */
	expect_counted(&before, &after, EW_REASON_ENCAP, EW_DIR_EGRESS, want.len);
}

Test(overlay, pod_to_remote_pod_tcp_is_encapsulated_to_its_node)
{
	expect_encap(IPPROTO_TCP);
}

Test(overlay, pod_to_remote_pod_udp_is_encapsulated_to_its_node)
{
	expect_encap(IPPROTO_UDP);
}

Test(overlay, pod_to_remote_pod_icmp_is_encapsulated_to_its_node)
{
	expect_encap(IPPROTO_ICMP);
}

/* The outer header carries the inner TOS (DSCP and ECN) to the underlay. */
Test(overlay, encap_copies_the_inner_tos)
{
	struct pkt in, want;
	struct pkt_tunnel t;

	ipv4_packet(&in, MAC_A, GW_A, IP_A, IP_C, IPPROTO_UDP, 64);
	pkt_ipv4_hdr(&in)->tos = TOS_EF | 0x01 /* ECT(1) */;
	pkt_finish(&in);

	t = to_node2(run_encap(&in));
	t.tos = TOS_EF | 0x01;
	vxlan_packet(&want, &t, IP_A, IP_C, IPPROTO_UDP, 63);
	pkt_ipv4_hdr(&want)->tos = TOS_EF | 0x01;
	pkt_finish(&want);
	expect_bytes(res.data, res.len, want.data, want.len);
	expect_encap_invariants(&in, VNI, PORT);
}

/* IPv4 options travel inside the tunnel, covered by the inner checksum. */
Test(overlay, inner_ipv4_options_are_encapsulated_whole)
{
	static const uint8_t router_alert[4] = { 0x94, 0x04, 0x00, 0x00 };
	struct pkt in, want;
	struct pkt_tunnel t;

	pkt_init(&in);
	pkt_eth(&in, MAC_A, GW_A, ETH_P_IP);
	pkt_ipv4(&in, IP_A, IP_C, IPPROTO_UDP, 64);
	pkt_ipv4_options(&in, router_alert, sizeof(router_alert));
	pkt_udp(&in, 40000, 53);
	pkt_payload(&in, PAYLOAD, sizeof(PAYLOAD) - 1);
	pkt_finish(&in);

	t = to_node2(run_encap(&in));
	pkt_init(&want);
	pkt_tunnel(&want, &t);
	pkt_ipv4(&want, IP_A, IP_C, IPPROTO_UDP, 63);
	pkt_ipv4_options(&want, router_alert, sizeof(router_alert));
	pkt_udp(&want, 40000, 53);
	pkt_payload(&want, PAYLOAD, sizeof(PAYLOAD) - 1);
	pkt_finish(&want);
	cr_assert(!want.overflow);
	expect_bytes(res.data, res.len, want.data, want.len);
	cr_expect(ipv4_checksum_ok(res.data + INNER_IP), "inner IPv4 checksum is wrong");
}

/* A flow keeps its outer source port (no reordering over underlay ECMP);
 * flows spread over the range (RSS and ECMP see them apart). */
Test(overlay, outer_source_port_is_stable_per_flow_and_spreads_over_flows)
{
	uint16_t ports[16], first;
	struct pkt in;
	int i, j, distinct = 0;

	ipv4_packet(&in, MAC_A, GW_A, IP_A, IP_C, IPPROTO_TCP, 64);
	first = run_encap(&in);
	cr_expect_eq(run_encap(&in), first, "the same flow got another source port");

	for (i = 0; i < 16; i++) {
		pkt_init(&in);
		pkt_eth(&in, MAC_A, GW_A, ETH_P_IP);
		ipv4_layers(&in, IP_A, IP_C, IPPROTO_TCP, 64, (uint16_t)(41000 + i));
		pkt_finish(&in);
		ports[i] = run_encap(&in);
		cr_expect_eq(run_encap(&in), ports[i], "flow %d got another source port", i);
		for (j = 0; j < i && ports[j] != ports[i]; j++)
			;
		distinct += j == i;
	}
	/* 14 bits of hash: 16 flows all but never collide; 8 leaves ample room */
	cr_expect_geq(distinct, 8, "16 flows got only %d distinct source ports", distinct);
}

Test(overlay, encap_honours_the_configured_vni_and_port)
{
	struct pkt in, want;
	struct pkt_tunnel t;

	set_config(&h, NODE1, V1, VNI_OTHER, PORT_OTHER);
	ipv4_packet(&in, MAC_A, GW_A, IP_A, IP_C, IPPROTO_TCP, 64);
	t = to_node2(run_encap(&in));
	t.vni = VNI_OTHER;
	t.dport = PORT_OTHER;
	vxlan_packet(&want, &t, IP_A, IP_C, IPPROTO_TCP, 63);
	expect_bytes(res.data, res.len, want.data, want.len);
	expect_encap_invariants(&in, VNI_OTHER, PORT_OTHER);
}

/* No underlay interface in ew_config: the overlay is off. */
Test(overlay, remote_pod_without_an_underlay_is_no_overlay)
{
	struct ew_config cfg = node_config(NODE1, V1, VNI, PORT);
	struct pkt in;

	cfg.underlay_ifindex = 0;
	cr_assert_eq(bh_set_config(&h, &cfg), 0);
	ipv4_packet(&in, MAC_A, GW_A, IP_A, IP_C, IPPROTO_TCP, 64);
	expect_container(&in, TC_ACT_SHOT, EW_REASON_DROP_NO_OVERLAY, in.len, NULL);
}

Test(overlay, cluster_address_of_no_node_is_no_node)
{
	struct pkt in;

	ipv4_packet(&in, MAC_A, GW_A, IP_A, IP_NONODE, IPPROTO_TCP, 64);
	expect_container(&in, TC_ACT_SHOT, EW_REASON_DROP_NO_NODE, in.len, NULL);
}

/* The kernel refuses to wrap a GSO packet of a type it cannot segment inside
 * a tunnel (a test run can make one: its GSO skbs have no type). The TTL was
 * already decremented when the encap failed; the packet is dropped anyway. */
Test(overlay, packet_the_kernel_cannot_encapsulate_is_encap_failed)
{
	struct bh_skb skb = { .ifindex = IF_HERE, .gso_size = 1000, .gso_segs = 1 };
	struct bh_counters before, after;
	struct pkt in, want;
	int err;

	ipv4_packet(&in, MAC_A, GW_A, IP_A, IP_C, IPPROTO_TCP, 64);
	ipv4_packet(&want, MAC_A, GW_A, IP_A, IP_C, IPPROTO_TCP, 63);
	cr_assert_eq(bh_counters_read(&h, &before), 0);
	err = bh_run_skb(&h, BH_FROM_CONTAINER, in.data, in.len, &skb, &res);
	cr_assert_eq(err, 0, "BPF_PROG_TEST_RUN failed: %s", strerror(-err));
	cr_assert_eq(bh_counters_read(&h, &after), 0);

	cr_expect_eq(res.retval, TC_ACT_SHOT, "verdict %s (%d), want TC_ACT_SHOT",
		     bh_verdict_name(res.retval), res.retval);
	expect_bytes(res.data, res.len, want.data, want.len);
	expect_counted(&before, &after, EW_REASON_DROP_ENCAP_FAILED, EW_DIR_EGRESS, in.len);
}

/* The stack answers an expiring TTL, for remote pods as for local ones. */
Test(overlay, ttl_1_to_a_remote_pod_goes_to_the_stack_unchanged)
{
	struct pkt in;

	ipv4_packet(&in, MAC_A, GW_A, IP_A, IP_C, IPPROTO_UDP, 1);
	expect_container(&in, TC_ACT_OK, EW_REASON_TO_STACK, in.len, NULL);
}

/* --- decapsulation: from_underlay on node 1 ----------------------------------------- */

/* VXLAN from node 2 to pod A: the inner packet as it came, behind the MACs
 * of pod A's link (the sending node made the router hop). */
static void expect_delivered(uint8_t proto)
{
	struct pkt in, want;

	vxlan_from_c(&in, IP_A, proto);
	ipv4_packet(&want, GW_A, MAC_A, IP_C, IP_A, proto, 63);
	expect_underlay(&in, TC_ACT_REDIRECT, EW_REASON_FORWARD, want.len, &want);
	cr_expect(ipv4_checksum_ok(res.data + ETH_HLEN), "inner IPv4 checksum is wrong");
}

Test(overlay, vxlan_tcp_to_a_local_pod_is_decapsulated_and_delivered)
{
	expect_delivered(IPPROTO_TCP);
}

Test(overlay, vxlan_udp_to_a_local_pod_is_decapsulated_and_delivered)
{
	expect_delivered(IPPROTO_UDP);
}

Test(overlay, vxlan_icmp_to_a_local_pod_is_decapsulated_and_delivered)
{
	expect_delivered(IPPROTO_ICMP);
}

/* Without bpf_redirect_peer the program falls back to bpf_redirect. */
Test(overlay, vxlan_without_redirect_peer_is_delivered_the_same)
{
	struct bh_opts opts = { .redirect_peer_unavailable = true };
	struct pkt in, want;
	int err;

	bh_close(&h);
	err = bh_open(&h, &opts);
	cr_assert_eq(err, 0, "cannot load the datapath: %s", strerror(-err));
	set_config(&h, NODE1, V1, VNI, PORT);
	cr_assert_eq(bh_add_node(&h, NODE2), 0);
	cr_assert_eq(bh_add_endpoint(&h, IP_A, IF_HERE, MAC_A, GW_A), 0);

	vxlan_from_c(&in, IP_A, IPPROTO_TCP);
	ipv4_packet(&want, GW_A, MAC_A, IP_C, IP_A, IPPROTO_TCP, 63);
	expect_underlay(&in, TC_ACT_REDIRECT, EW_REASON_FORWARD, want.len, &want);
}

/* The decap drops the outer options with the rest of the outer header. */
Test(overlay, vxlan_with_outer_ipv4_options_is_delivered)
{
	static const uint8_t nops[8] = { 1, 1, 1, 1, 1, 1, 1, 0 };
	struct pkt_tunnel t = from_node2();
	struct pkt in, want;

	pkt_init(&in);
	pkt_eth(&in, t.eth_src, t.eth_dst, ETH_P_IP);
	pkt_ipv4(&in, t.saddr, t.daddr, IPPROTO_UDP, 64);
	pkt_ipv4_options(&in, nops, sizeof(nops));
	pkt_udp(&in, t.sport, t.dport);
	pkt_vxlan(&in, t.vni);
	pkt_eth(&in, t.vtep_src, t.vtep_dst, ETH_P_IP);
	ipv4_layers(&in, IP_C, IP_A, IPPROTO_UDP, 63, 40000);
	pkt_finish(&in);
	cr_assert_eq(pkt_outer_ipv4_hdr(&in)->ihl, 7);

	ipv4_packet(&want, GW_A, MAC_A, IP_C, IP_A, IPPROTO_UDP, 63);
	expect_underlay(&in, TC_ACT_REDIRECT, EW_REASON_FORWARD, want.len, &want);
}

Test(overlay, vxlan_with_inner_ipv4_options_is_delivered_with_them)
{
	static const uint8_t router_alert[4] = { 0x94, 0x04, 0x00, 0x00 };
	struct pkt_tunnel t = from_node2();
	struct pkt in, want;

	pkt_init(&in);
	pkt_tunnel(&in, &t);
	pkt_ipv4(&in, IP_C, IP_A, IPPROTO_UDP, 63);
	pkt_ipv4_options(&in, router_alert, sizeof(router_alert));
	pkt_udp(&in, 40000, 53);
	pkt_finish(&in);

	pkt_init(&want);
	pkt_eth(&want, GW_A, MAC_A, ETH_P_IP);
	pkt_ipv4(&want, IP_C, IP_A, IPPROTO_UDP, 63);
	pkt_ipv4_options(&want, router_alert, sizeof(router_alert));
	pkt_udp(&want, 40000, 53);
	pkt_finish(&want);
	expect_underlay(&in, TC_ACT_REDIRECT, EW_REASON_FORWARD, want.len, &want);
}

/* Dropped after the decap: the counter sees the inner frame. */
Test(overlay, vxlan_to_a_local_cidr_address_without_a_pod_is_no_endpoint)
{
	struct pkt in, want;

	vxlan_from_c(&in, IP_NOPOD, IPPROTO_TCP);
	ipv4_packet(&want, U2, U1, IP_C, IP_NOPOD, IPPROTO_TCP, 63);
	expect_underlay(&in, TC_ACT_SHOT, EW_REASON_DROP_NO_ENDPOINT, want.len, &want);
}

/* Anything else inside (here the node's own address) is the stack's, behind
 * the outer Ethernet header. */
Test(overlay, vxlan_to_the_node_goes_to_the_stack_decapsulated)
{
	struct pkt in, want;

	vxlan_from_c(&in, NODE1, IPPROTO_ICMP);
	ipv4_packet(&want, U2, U1, IP_C, NODE1, IPPROTO_ICMP, 63);
	expect_underlay(&in, TC_ACT_OK, EW_REASON_TO_STACK, want.len, &want);
}

Test(overlay, vxlan_from_an_unknown_node_is_dropped_untouched)
{
	struct pkt_tunnel t = from_node2();
	struct pkt in;

	t.saddr = NODE_UNKNOWN;
	vxlan_packet(&in, &t, IP_C, IP_A, IPPROTO_TCP, 63);
	expect_underlay(&in, TC_ACT_SHOT, EW_REASON_DROP_UNKNOWN_NODE, in.len, NULL);
}

Test(overlay, vxlan_with_another_vni_is_dropped)
{
	struct pkt_tunnel t = from_node2();
	struct pkt in;

	t.vni = VNI + 1;
	vxlan_packet(&in, &t, IP_C, IP_A, IPPROTO_TCP, 63);
	expect_underlay(&in, TC_ACT_SHOT, EW_REASON_DROP_VNI_MISMATCH, in.len, NULL);
}

/* RFC 7348: reserved fields are ignored on receipt. */
Test(overlay, vxlan_reserved_bits_are_ignored)
{
	struct pkt in, want;

	vxlan_from_c(&in, IP_A, IPPROTO_TCP);
	pkt_vxlan_hdr(&in)->flags |= htonl(0x00ffffff);
	pkt_vxlan_hdr(&in)->vni |= htonl(0xff);
	ipv4_packet(&want, GW_A, MAC_A, IP_C, IP_A, IPPROTO_TCP, 63);
	expect_underlay(&in, TC_ACT_REDIRECT, EW_REASON_FORWARD, want.len, &want);
}

Test(overlay, vxlan_with_the_configured_vni_and_port_is_delivered)
{
	struct pkt_tunnel t = from_node2();
	struct pkt in, want;

	set_config(&h, NODE1, V1, VNI_OTHER, PORT_OTHER);
	t.vni = VNI_OTHER;
	t.dport = PORT_OTHER;
	vxlan_packet(&in, &t, IP_C, IP_A, IPPROTO_TCP, 63);
	ipv4_packet(&want, GW_A, MAC_A, IP_C, IP_A, IPPROTO_TCP, 63);
	expect_underlay(&in, TC_ACT_REDIRECT, EW_REASON_FORWARD, want.len, &want);

	/* the default port is now some other UDP port */
	vxlan_from_c(&in, IP_A, IPPROTO_TCP);
	expect_passed_untouched(&in);
}

/* --- malformed VXLAN: every one counted, none decapsulated ----------------------------- */

Test(overlay, vxlan_without_the_i_flag_is_malformed)
{
	struct pkt in;

	vxlan_from_c(&in, IP_A, IPPROTO_TCP);
	pkt_vxlan_hdr(&in)->flags = 0;
	expect_underlay(&in, TC_ACT_SHOT, EW_REASON_DROP_MALFORMED, in.len, NULL);
}

/* Cuts in to len bytes and makes its outer lengths and checksum match. */
static void truncate_frame(struct pkt *in, size_t len)
{
	pkt_truncate(in, len);
	pkt_finish(in);
	cr_assert_eq(ntohs(pkt_outer_ipv4_hdr(in)->tot_len), len - ETH_HLEN);
}

Test(overlay, truncated_vxlan_header_is_malformed)
{
	struct pkt in;

	vxlan_from_c(&in, IP_A, IPPROTO_TCP);
	truncate_frame(&in, VXLAN_HDR + 7);
	expect_underlay(&in, TC_ACT_SHOT, EW_REASON_DROP_MALFORMED, in.len, NULL);
}

Test(overlay, truncated_inner_ethernet_header_is_malformed)
{
	struct pkt in;

	vxlan_from_c(&in, IP_A, IPPROTO_TCP);
	truncate_frame(&in, INNER_ETH + ETH_HLEN - 1);
	expect_underlay(&in, TC_ACT_SHOT, EW_REASON_DROP_MALFORMED, in.len, NULL);
}

Test(overlay, truncated_inner_ipv4_header_is_malformed)
{
	struct pkt in;

	vxlan_from_c(&in, IP_A, IPPROTO_TCP);
	truncate_frame(&in, INNER_IP + sizeof(struct iphdr) - 1);
	expect_underlay(&in, TC_ACT_SHOT, EW_REASON_DROP_MALFORMED, in.len, NULL);
}

Test(overlay, inner_ipv4_header_of_another_version_is_malformed)
{
	struct pkt in;

	vxlan_from_c(&in, IP_A, IPPROTO_TCP);
	pkt_ipv4_hdr(&in)->version = 6;
	expect_underlay(&in, TC_ACT_SHOT, EW_REASON_DROP_MALFORMED, in.len, NULL);
}

/* The only way to rebuild a fragmented VXLAN datagram is the stack; the
 * datapath does not reassemble, so every fragment is malformed to it. */
Test(overlay, outer_ipv4_first_fragment_is_malformed)
{
	struct pkt in;

	vxlan_from_c(&in, IP_A, IPPROTO_TCP);
	pkt_outer_ipv4_hdr(&in)->frag_off = htons(IP_MF);
	pkt_finish(&in);
	expect_underlay(&in, TC_ACT_SHOT, EW_REASON_DROP_MALFORMED, in.len, NULL);
}

/* A later fragment has no UDP header, so whatever its first bytes say it is
 * not VXLAN: the stack reassembles it like any UDP fragment. */
Test(overlay, outer_ipv4_later_fragment_passes_to_the_stack)
{
	struct pkt in;

	vxlan_from_c(&in, IP_A, IPPROTO_TCP);
	pkt_outer_ipv4_hdr(&in)->frag_off = htons(185); /* offset 1480 bytes */
	pkt_finish(&in);
	expect_passed_untouched(&in);
}

Test(overlay, inner_arp_is_unsupported_l3)
{
	struct pkt_tunnel t = from_node2();
	struct pkt in;

	t.inner_type = ETH_P_ARP;
	pkt_init(&in);
	pkt_tunnel(&in, &t);
	pkt_arp(&in, ARPOP_REQUEST, MAC_C, IP_C, MAC_ZERO, IP_A);
	pkt_finish(&in);
	expect_underlay(&in, TC_ACT_SHOT, EW_REASON_DROP_UNSUPPORTED_L3, in.len, NULL);
}

Test(overlay, inner_ipv6_is_unsupported_l3)
{
	static const uint8_t src[16] = { 0xfd, [15] = 0x05 };
	static const uint8_t dst[16] = { 0xfd, [15] = 0x0a };
	struct pkt_tunnel t = from_node2();
	struct pkt in;

	t.inner_type = ETH_P_IPV6;
	pkt_init(&in);
	pkt_tunnel(&in, &t);
	pkt_ipv6(&in, src, dst, IPPROTO_UDP, 64);
	pkt_udp(&in, 40000, 53);
	pkt_payload(&in, PAYLOAD, sizeof(PAYLOAD) - 1);
	pkt_finish(&in);
	expect_underlay(&in, TC_ACT_SHOT, EW_REASON_DROP_UNSUPPORTED_L3, in.len, NULL);
}

/* --- not VXLAN for this node: untouched, uncounted --------------------------------------- */

Test(overlay, tcp_to_the_node_passes_untouched)
{
	struct pkt in;

	ipv4_packet(&in, U2, U1, NODE2, NODE1, IPPROTO_TCP, 64);
	expect_passed_untouched(&in);
}

Test(overlay, udp_to_another_port_of_the_node_passes_untouched)
{
	struct pkt in;

	ipv4_packet(&in, U2, U1, NODE2, NODE1, IPPROTO_UDP, 64); /* port 53 */
	expect_passed_untouched(&in);
}

Test(overlay, vxlan_to_another_address_passes_untouched)
{
	struct pkt_tunnel t = from_node2();
	struct pkt in;

	t.daddr = NODE_OTHER;
	vxlan_packet(&in, &t, IP_C, IP_A, IPPROTO_TCP, 63);
	expect_passed_untouched(&in);
}

/* Too short for a UDP header: no port to call it VXLAN by. */
Test(overlay, udp_to_the_node_cut_inside_the_udp_header_passes_untouched)
{
	struct pkt in;

	vxlan_from_c(&in, IP_A, IPPROTO_TCP);
	truncate_frame(&in, OUTER_UDP + 4);
	expect_passed_untouched(&in);
}

Test(overlay, arp_passes_untouched)
{
	struct pkt in;

	pkt_init(&in);
	pkt_eth(&in, U2, MAC_BCAST, ETH_P_ARP);
	pkt_arp(&in, ARPOP_REQUEST, U2, NODE2, MAC_ZERO, NODE1);
	pkt_finish(&in);
	expect_passed_untouched(&in);
}

/* Even carrying UDP to the VXLAN port: the underlay is IPv4. */
Test(overlay, ipv6_passes_untouched)
{
	static const uint8_t src[16] = { 0xfd, 0x00, [15] = 0x02 };
	static const uint8_t dst[16] = { 0xfd, 0x00, [15] = 0x01 };
	struct pkt in;

	pkt_init(&in);
	pkt_eth(&in, U2, U1, ETH_P_IPV6);
	pkt_ipv6(&in, src, dst, IPPROTO_UDP, 64);
	pkt_udp(&in, SPORT_IN, PORT);
	pkt_payload(&in, PAYLOAD, sizeof(PAYLOAD) - 1);
	pkt_finish(&in);
	expect_passed_untouched(&in);
}

/* --- round trip: node 1 to node 2 ----------------------------------------------------- */

static struct bh node2;

/* Node 2's maps: pod C local, node 1 a known peer. */
static void open_node2(void)
{
	open_node(&node2);
	set_config(&node2, NODE2, V2, VNI, PORT);
	cr_assert_eq(bh_add_route_vtep(&node2, ip4(10, 0, 2, 0), 24, NODE2, EW_ROUTE_LOCAL,
				       V2), 0);
	cr_assert_eq(bh_add_route_vtep(&node2, ip4(10, 0, 1, 0), 24, NODE1, 0, V1), 0);
	cr_assert_eq(bh_add_node(&node2, NODE1), 0);
	cr_assert_eq(bh_add_endpoint(&node2, IP_C, IF_C, MAC_C, GW_C), 0);
}

/* What node 1 sends arrives at node 2 as what pod A sent, after one router
 * hop, at pod C's link. */
static void expect_round_trip(uint8_t proto)
{
	struct pkt in, wire, want;

	open_node2();
	ipv4_packet(&in, MAC_A, GW_A, IP_A, IP_C, proto, 64);
	run_encap(&in);
	pkt_init(&wire);
	pkt_payload(&wire, res.data, res.len);

	ipv4_packet(&want, GW_C, MAC_C, IP_A, IP_C, proto, 63);
	expect_run_on(&node2, BH_FROM_UNDERLAY, IF_HERE, &wire, TC_ACT_REDIRECT,
		      EW_REASON_FORWARD, want.len, &want, &res);
	bh_close(&node2);
}

Test(overlay, round_trip_tcp_gives_back_the_inner_packet)
{
	expect_round_trip(IPPROTO_TCP);
}

Test(overlay, round_trip_udp_gives_back_the_inner_packet)
{
	expect_round_trip(IPPROTO_UDP);
}

Test(overlay, round_trip_icmp_gives_back_the_inner_packet)
{
	expect_round_trip(IPPROTO_ICMP);
}

/* --- counters ---------------------------------------------------------------------------- */

/* One loaded node, packets in order through both programs: each counter
 * adds up the lengths it saw. */
Test(overlay, byte_counters_add_up_packet_lengths)
{
	static uint8_t big[1300];
	struct bh_counters before, after;
	struct ew_metrics encap, fwd, drop;
	struct pkt small, large, decap, unknown;
	struct pkt_tunnel t = from_node2();
	size_t i;

	for (i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)i;
	ipv4_packet(&small, MAC_A, GW_A, IP_A, IP_C, IPPROTO_ICMP, 64);
	pkt_init(&large);
	pkt_eth(&large, MAC_A, GW_A, ETH_P_IP);
	pkt_ipv4(&large, IP_A, IP_C, IPPROTO_UDP, 64);
	pkt_udp(&large, 40000, 9000);
	pkt_payload(&large, big, sizeof(big));
	pkt_finish(&large);
	vxlan_from_c(&decap, IP_A, IPPROTO_UDP);
	t.saddr = NODE_UNKNOWN;
	vxlan_packet(&unknown, &t, IP_C, IP_A, IPPROTO_UDP, 63);

	cr_assert_eq(bh_counters_read(&h, &before), 0);
	run_encap(&small);
	run_encap(&large);
	cr_assert_eq(bh_run_underlay_pkt(&h, &decap, IF_HERE, &res), 0);
	cr_expect_eq(res.retval, TC_ACT_REDIRECT);
	cr_assert_eq(bh_run_underlay_pkt(&h, &unknown, IF_HERE, &res), 0);
	cr_expect_eq(res.retval, TC_ACT_SHOT);
	cr_assert_eq(bh_run_underlay_pkt(&h, &decap, IF_HERE, &res), 0);
	cr_assert_eq(bh_counters_read(&h, &after), 0);

	encap = bh_counters_delta(&before, &after, EW_REASON_ENCAP, EW_DIR_EGRESS);
	fwd = bh_counters_delta(&before, &after, EW_REASON_FORWARD, EW_DIR_INGRESS);
	drop = bh_counters_delta(&before, &after, EW_REASON_DROP_UNKNOWN_NODE,
				 EW_DIR_INGRESS);
	cr_expect_eq(encap.packets, 2);
	cr_expect_eq(encap.bytes, small.len + large.len + 2 * EW_VXLAN_OVERHEAD,
		     "encap bytes %llu, want %zu", (unsigned long long)encap.bytes,
		     small.len + large.len + 2 * EW_VXLAN_OVERHEAD);
	cr_expect_eq(fwd.packets, 2);
	cr_expect_eq(fwd.bytes, 2 * (decap.len - EW_VXLAN_OVERHEAD));
	cr_expect_eq(drop.packets, 1);
	cr_expect_eq(drop.bytes, unknown.len);
}

/* --- on the wire ------------------------------------------------------------------------ */

/*
 * Both programs attached for real: pod A behind ewh0 (bh_wire_open), the
 * underlay ewu0 with node 1's address, and node 2 at its far end, ewu1
 * (bh_underlay_open). Shows what a test run cannot: the kernel filling in
 * the outer MACs after bpf_redirect_neigh(), bpf_redirect_peer() from the
 * underlay into the pod, and GSO packets through the tunnel.
 */
static struct bh_wire wire;
static struct bh_underlay ul;

static void wire_setup(void)
{
	struct ew_config cfg = node_config(NODE1, V1, VNI, PORT);
	int err;

	wire_open_or_skip(&h, &wire);
	err = bh_underlay_open(&h, &wire, &ul, NODE1, NODE2);
	cr_assert_eq(err, 0, "cannot set up the underlay: %s", strerror(-err));
	cfg.underlay_ifindex = (uint32_t)ul.ifindex;
	cr_assert_eq(bh_set_config(&h, &cfg), 0);
	cr_assert_eq(bh_add_endpoint(&h, IP_A, (uint32_t)wire.host_ifindex[0], MAC_A, GW_A), 0);
	cr_assert_eq(bh_add_endpoint(&h, IP_B, (uint32_t)wire.host_ifindex[1], MAC_B, GW_B), 0);
}

/* Nothing more arrives at the pods or at node 2. */
static void expect_wire_quiet(void)
{
	static uint8_t got[PKT_MAX_LEN];
	int n, pod;

	for (pod = 0; pod < BH_WIRE_PODS; pod++) {
		n = bh_wire_recv(&wire, pod, got, sizeof(got), 50);
		cr_expect_eq(n, 0, "unexpected %d-byte frame at ewp%d", n, pod);
	}
	n = bh_underlay_recv(&ul, got, sizeof(got), 50);
	cr_expect_eq(n, 0, "unexpected %d-byte frame at ewu1", n);
}

/* The next frame at node 2, into res. */
static void recv_at_node2(void)
{
	int n = bh_underlay_recv(&ul, res.data, sizeof(res.data), 1000);

	cr_assert_gt(n, 0, "nothing arrived at ewu1: %s", n ? strerror(-n) : "timeout");
	res.len = (uint32_t)n;
}

/* Pod A's packet leaves ewu0 from ewu0's MAC to ewu1's (the kernel's
 * neighbour entry), the rest as a test run makes it. */
Test(overlay, encapsulated_packet_leaves_the_underlay_to_node_2)
{
	struct bh_counters before, after;
	struct pkt in, want;
	struct pkt_tunnel t;
	int err;

	wire_setup();
	ipv4_packet(&in, MAC_A, GW_A, IP_A, IP_C, IPPROTO_TCP, 64);
	cr_assert_eq(bh_counters_read(&h, &before), 0);
	err = bh_wire_send(&h, &wire, 0, in.data, in.len);
	cr_assert_eq(err, 0, "the frame did not reach the program: %s", strerror(-err));
	recv_at_node2();
	cr_assert_eq(bh_counters_read(&h, &after), 0);

	t = to_node2(out_udp_sport());
	t.eth_src = ul.mac;
	t.eth_dst = ul.peer_mac;
	vxlan_packet(&want, &t, IP_A, IP_C, IPPROTO_TCP, 63);
	expect_bytes(res.data, res.len, want.data, want.len);
	expect_counted(&before, &after, EW_REASON_ENCAP, EW_DIR_EGRESS, want.len);
	expect_wire_quiet();
}

/* VXLAN from node 2 lands in pod A, unwrapped, and nowhere else. */
Test(overlay, decapsulated_packet_arrives_at_the_pod)
{
	static uint8_t got[PKT_MAX_LEN];
	struct bh_counters before, after;
	struct pkt_tunnel t = from_node2();
	struct pkt in, want;
	int err, n;

	wire_setup();
	t.eth_src = ul.peer_mac;
	t.eth_dst = ul.mac;
	vxlan_packet(&in, &t, IP_C, IP_A, IPPROTO_UDP, 63);
	ipv4_packet(&want, GW_A, MAC_A, IP_C, IP_A, IPPROTO_UDP, 63);
	cr_assert_eq(bh_counters_read(&h, &before), 0);
	err = bh_underlay_send(&h, &ul, in.data, in.len);
	cr_assert_eq(err, 0, "the frame did not reach the program: %s", strerror(-err));
	n = bh_wire_recv(&wire, 0, got, sizeof(got), 1000);
	cr_assert_gt(n, 0, "nothing arrived at ewp0: %s", n ? strerror(-n) : "timeout");
	cr_assert_eq(bh_counters_read(&h, &after), 0);

	expect_bytes(got, (size_t)n, want.data, want.len);
	expect_counted(&before, &after, EW_REASON_FORWARD, EW_DIR_INGRESS, want.len);
	expect_wire_quiet();
}

/* A large TCP segment from pod A, in GSO_SEGS segments of GSO_MSS bytes. */
#define GSO_MSS	 600
#define GSO_SEGS 3

static uint8_t gso_payload[GSO_MSS * GSO_SEGS];

static void gso_packet(struct pkt *p)
{
	size_t i;

	for (i = 0; i < sizeof(gso_payload); i++)
		gso_payload[i] = (uint8_t)(i * 7 + i / 251);
	pkt_init(p);
	pkt_eth(p, MAC_A, GW_A, ETH_P_IP);
	pkt_ipv4(p, IP_A, IP_C, IPPROTO_TCP, 64);
	pkt_tcp(p, 40000, 80, TH_ACK | TH_PUSH);
	pkt_payload(p, gso_payload, sizeof(gso_payload));
	pkt_finish(p);
	cr_assert(!p->overflow, "the GSO packet does not fit");
}

/*
 * Where the underlay cannot segment VXLAN itself, the kernel does it in
 * software after the redirect: node 2 gets GSO_SEGS frames, each a whole
 * VXLAN packet with its own lengths and checksums, sharing one outer source
 * port, and together the payload in order. The datapath saw the one large
 * packet, and counted it once. Node 2's from_underlay unwraps every segment.
 */
Test(overlay, gso_packet_is_encapsulated_once_and_segmented_by_the_kernel)
{
	struct bh_counters before, after;
	struct pkt in, seg, outer_want;
	struct pkt_tunnel t;
	size_t payload_at = 0;
	int i, err;

	wire_setup();
	cr_assert_eq(bh_underlay_no_offload(&ul), 0);
	open_node2();
	gso_packet(&in);

	cr_assert_eq(bh_counters_read(&h, &before), 0);
	err = bh_wire_send_tcp_gso(&h, &wire, 0, in.data, in.len, GSO_MSS);
	cr_assert_eq(err, 0, "the GSO packet did not reach the program: %s", strerror(-err));
	cr_assert_eq(bh_counters_read(&h, &after), 0);
	expect_counted(&before, &after, EW_REASON_ENCAP, EW_DIR_EGRESS,
		       in.len + EW_VXLAN_OVERHEAD);

	for (i = 0; i < GSO_SEGS; i++) {
		const struct iphdr *outer, *inner;
		const struct tcphdr *th;
		size_t seg_payload;

		recv_at_node2();
		cr_assert_eq(res.len, INNER_IP + 20 + 20 + GSO_MSS,
			     "segment %d has %u bytes", i, res.len);
		outer = (const struct iphdr *)(res.data + OUTER_IP);
		inner = (const struct iphdr *)(res.data + INNER_IP);
		th = (const struct tcphdr *)(res.data + INNER_IP + 20);
		cr_expect(ipv4_checksum_ok(inner), "segment %d: inner IPv4 checksum is wrong", i);
		cr_expect_eq(ntohs(inner->tot_len), res.len - INNER_IP, "segment %d inner tot_len", i);
		cr_expect_eq(inner->ttl, 63, "segment %d: inner TTL %u", i, inner->ttl);
		cr_expect(ipv4_l4_checksum_ok(inner, res.len - INNER_IP),
			  "segment %d: TCP checksum is wrong", i);
		cr_expect_eq(ntohl(th->seq), 0x01020304 + i * GSO_MSS, "segment %d: sequence", i);

		/* outer headers as for one packet of this size, one source port
		 * for all; only the outer IP id is the kernel's (it counts up) */
		if (!i) {
			t = to_node2(out_udp_sport());
			t.eth_src = ul.mac;
			t.eth_dst = ul.peer_mac;
		}
		pkt_init(&outer_want);
		pkt_tunnel(&outer_want, &t);
		pkt_payload(&outer_want, res.data + INNER_IP, res.len - INNER_IP);
		pkt_outer_ipv4_hdr(&outer_want)->id = outer->id;
		pkt_finish(&outer_want);
		expect_bytes(res.data, INNER_IP, outer_want.data, INNER_IP);
		cr_expect(ipv4_checksum_ok(outer), "segment %d: outer IPv4 checksum is wrong", i);

		seg_payload = res.len - INNER_IP - 40;
		cr_expect_eq(memcmp(res.data + INNER_IP + 40, gso_payload + payload_at,
				    seg_payload), 0, "segment %d: payload out of order", i);
		payload_at += seg_payload;

		/* and node 2 takes it */
		pkt_init(&seg);
		pkt_payload(&seg, res.data, res.len);
		cr_assert_eq(bh_run_underlay_pkt(&node2, &seg, IF_HERE, &res), 0);
		cr_expect_eq(res.retval, TC_ACT_REDIRECT, "node 2: segment %d: verdict %s", i,
			     bh_verdict_name(res.retval));
		cr_expect_eq(res.len, seg.len - EW_VXLAN_OVERHEAD);
	}
	cr_expect_eq(payload_at, sizeof(gso_payload));
	expect_wire_quiet();
	bh_close(&node2);
}

/* Where the underlay can, the packet stays one GSO packet to the device: a
 * veth hands it to node 2 whole, outer lengths covering all of it. */
Test(overlay, gso_packet_stays_one_packet_where_the_underlay_offloads_vxlan)
{
	static uint8_t got[PKT_MAX_LEN * 4];
	const struct iphdr *outer;
	struct pkt in;
	int err, n;

	wire_setup();
	gso_packet(&in);
	err = bh_wire_send_tcp_gso(&h, &wire, 0, in.data, in.len, GSO_MSS);
	cr_assert_eq(err, 0, "the GSO packet did not reach the program: %s", strerror(-err));
	n = bh_underlay_recv(&ul, got, sizeof(got), 1000);
	cr_assert_gt(n, 0, "nothing arrived at ewu1: %s", n ? strerror(-n) : "timeout");
	cr_assert_eq((size_t)n, in.len + EW_VXLAN_OVERHEAD);
	outer = (const struct iphdr *)(got + OUTER_IP);
	cr_expect_eq(ntohs(outer->tot_len), n - ETH_HLEN);
	cr_expect(ipv4_checksum_ok(outer), "outer IPv4 checksum is wrong");
	cr_expect_eq(memcmp(got + n - sizeof(gso_payload), gso_payload, sizeof(gso_payload)),
		     0, "payload changed");
	expect_wire_quiet();
}
