// SPDX-License-Identifier: Apache-2.0
/*
 * from_container (bpf/bpf_lxc.c) on built packets: each case runs the real
 * program object once and checks the verdict, the exact bytes it leaves in
 * the packet and the change of every counter. Criterion runs each test in its
 * own process, and the fixture loads a fresh object there, so the counters
 * start from zero and no test sees another's map entries.
 *
 * The node, as the maps describe it:
 *
 *   10.0.1.0/24  this node's pod CIDR (EW_ROUTE_LOCAL)
 *   10.0.2.0/24  another node's pod CIDR, via 192.168.0.2
 *   pod A  10.0.1.10  on ifindex 1 (the device the packets arrive on)
 *   pod B  10.0.1.20  on ifindex 42
 *
 * Packets leave pod A unless a case says otherwise. The cases at the end run
 * the same program attached to real veth pairs ("on the wire"), for frames
 * BPF_PROG_TEST_RUN refuses and to see where a redirect really lands.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>

#include <linux/pkt_cls.h>

#include "bpf_expect.h"
#include "bpf_harness.h"
#include "pkt.h"

#define IF_HERE 1 /* skb->ifindex of every run: pod A's host veth */
#define IF_B	42

static const uint8_t MAC_A[ETH_ALEN] = { 0x02, 0x00, 0x00, 0x00, 0x01, 0x0a };
static const uint8_t GW_A[ETH_ALEN] = { 0xee, 0xee, 0xee, 0x00, 0x00, 0x01 };
static const uint8_t MAC_B[ETH_ALEN] = { 0x02, 0x00, 0x00, 0x00, 0x01, 0x14 };
static const uint8_t GW_B[ETH_ALEN] = { 0xee, 0xee, 0xee, 0x00, 0x00, 0x02 };
static const uint8_t MAC_EVIL[ETH_ALEN] = { 0x02, 0xde, 0xad, 0xbe, 0xef, 0x01 };
static const uint8_t MAC_BCAST[ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t MAC_ZERO[ETH_ALEN] = { 0 };

#define IP_A	  ip4(10, 0, 1, 10)
#define IP_B	  ip4(10, 0, 1, 20)
#define IP_NOPOD  ip4(10, 0, 1, 99)  /* local CIDR, no pod */
#define IP_REMOTE ip4(10, 0, 2, 5)   /* another node's pod */
#define IP_WORLD  ip4(8, 8, 8, 8)    /* outside every route */
#define IP_GW	  ip4(169, 254, 1, 1) /* the pods' default gateway */

static const char PAYLOAD[] = "edgewire says hello";

static struct bh h;
static struct bh_result res;

static void lxc_setup(void)
{
	int err;

	if (!bh_privileged())
		cr_skip_test("loading BPF programs needs root (or CAP_BPF and CAP_NET_ADMIN)");
	err = bh_open(&h, NULL);
	cr_assert_eq(err, 0, "cannot load bpf_lxc: %s", strerror(-err));
	cr_assert_eq(bh_add_route(&h, ip4(10, 0, 1, 0), 24, ip4(192, 168, 0, 1),
				  EW_ROUTE_LOCAL), 0);
	cr_assert_eq(bh_add_route(&h, ip4(10, 0, 2, 0), 24, ip4(192, 168, 0, 2), 0), 0);
	cr_assert_eq(bh_add_endpoint(&h, IP_A, IF_HERE, MAC_A, GW_A), 0);
	cr_assert_eq(bh_add_endpoint(&h, IP_B, IF_B, MAC_B, GW_B), 0);
}

static void lxc_teardown(void)
{
	bh_close(&h);
}

TestSuite(lxc, .init = lxc_setup, .fini = lxc_teardown);

/* --- packets ------------------------------------------------------------------ */

/* An IPv4 packet of proto (TCP, UDP or ICMP echo) carrying PAYLOAD. */
static void ipv4_packet(struct pkt *p, const uint8_t *eth_src,
			const uint8_t *eth_dst, uint32_t saddr, uint32_t daddr,
			uint8_t proto, uint8_t ttl)
{
	pkt_init(p);
	pkt_eth(p, eth_src, eth_dst, ETH_P_IP);
	pkt_ipv4(p, saddr, daddr, proto, ttl);
	switch (proto) {
	case IPPROTO_TCP:
		pkt_tcp(p, 40000, 80, TH_SYN);
		break;
	case IPPROTO_UDP:
		pkt_udp(p, 40000, 53);
		break;
	case IPPROTO_ICMP:
		pkt_icmp_echo(p, 0x4242, 7);
		break;
	}
	pkt_payload(p, PAYLOAD, sizeof(PAYLOAD) - 1);
	pkt_finish(p);
	cr_assert(!p->overflow, "test packet does not fit");
}

/* What pod A sends its gateway for daddr. */
static void from_a(struct pkt *p, uint32_t daddr, uint8_t proto, uint8_t ttl)
{
	ipv4_packet(p, MAC_A, GW_A, IP_A, daddr, proto, ttl);
}

static void arp_packet(struct pkt *p, const uint8_t *eth_src,
		       const uint8_t *eth_dst, uint16_t op, const uint8_t *sha,
		       uint32_t sip, const uint8_t *tha, uint32_t tip)
{
	pkt_init(p);
	pkt_eth(p, eth_src, eth_dst, ETH_P_ARP);
	pkt_arp(p, op, sha, sip, tha, tip);
	pkt_finish(p);
	cr_assert(!p->overflow, "test packet does not fit");
}

/* Pod A asks for its gateway, as a pod does before its first packet. */
static void arp_request_from_a(struct pkt *p)
{
	arp_packet(p, MAC_A, MAC_BCAST, ARPOP_REQUEST, MAC_A, IP_A, MAC_ZERO, IP_GW);
}

/* --- the check every case makes ----------------------------------------------------- */

/* Runs in from pod A's interface and checks, as expect_run_on() says, that
 * the program returns verdict, leaves exactly the bytes of want (NULL: the
 * packet unchanged) and counts the packet under (reason, egress) alone. The
 * result stays in res for further checks. */
static void expect_run(const struct pkt *in, int verdict, uint32_t reason,
		       const struct pkt *want)
{
	expect_run_on(&h, BH_FROM_CONTAINER, IF_HERE, in, verdict, reason, in->len, want,
		      &res);
}

/* A forwarded packet: valid IPv4 checksum by full recompute, and everything
 * after the IPv4 header (L4 header, its checksum, payload) as it came in. */
static void expect_router_invariants(const struct pkt *in)
{
	const uint8_t *iph = res.data + ETH_HLEN;
	size_t l4 = in->l4_off;

	cr_assert_geq(res.len, ETH_HLEN + sizeof(struct iphdr));
	cr_expect(ipv4_checksum_ok(iph), "IPv4 header checksum is wrong after the TTL rewrite");
	cr_expect(ipv4_l4_checksum_ok(iph, res.len - ETH_HLEN), "L4 checksum broken");
	cr_assert_eq(res.len, in->len);
	cr_expect_eq(memcmp(res.data + l4, in->data + l4, in->len - l4), 0,
		     "L4 header or payload changed");
}

/* --- IPv4 between pods on this node --------------------------------------------------- */

static void expect_pod_to_pod(uint8_t proto)
{
	struct pkt in, want;

	from_a(&in, IP_B, proto, 64);
	/* a router hop: MACs of B's link, TTL one less, checksum to match */
	ipv4_packet(&want, GW_B, MAC_B, IP_A, IP_B, proto, 63);
	expect_run(&in, TC_ACT_REDIRECT, EW_REASON_FORWARD, &want);
	expect_router_invariants(&in);
}

Test(lxc, pod_to_pod_tcp_is_redirected_as_a_router_hop)
{
	expect_pod_to_pod(IPPROTO_TCP);
}

Test(lxc, pod_to_pod_udp_is_redirected_as_a_router_hop)
{
	expect_pod_to_pod(IPPROTO_UDP);
}

Test(lxc, pod_to_pod_icmp_is_redirected_as_a_router_hop)
{
	expect_pod_to_pod(IPPROTO_ICMP);
}

/* Without bpf_redirect_peer the program falls back to bpf_redirect: the same
 * verdict and the same rewrite. */
Test(lxc, pod_to_pod_without_redirect_peer_is_redirected_the_same)
{
	struct bh_opts opts = { .redirect_peer_unavailable = true };
	struct pkt in, want;
	int err;

	bh_close(&h);
	err = bh_open(&h, &opts);
	cr_assert_eq(err, 0, "cannot load bpf_lxc: %s", strerror(-err));
	cr_assert_eq(bh_add_endpoint(&h, IP_A, IF_HERE, MAC_A, GW_A), 0);
	cr_assert_eq(bh_add_endpoint(&h, IP_B, IF_B, MAC_B, GW_B), 0);

	from_a(&in, IP_B, IPPROTO_TCP, 64);
	ipv4_packet(&want, GW_B, MAC_B, IP_A, IP_B, IPPROTO_TCP, 63);
	expect_run(&in, TC_ACT_REDIRECT, EW_REASON_FORWARD, &want);
	expect_router_invariants(&in);
}

/* The incremental update's end-around carry: a header whose checksum is
 * 0xfeff before the hop sums to one's complement zero after it, which a full
 * recompute writes as 0x0000. */
Test(lxc, ttl_rewrite_checksum_wraps_around)
{
	struct pkt in, want;
	struct iphdr *iph;
	uint32_t id;

	from_a(&in, IP_B, IPPROTO_UDP, 64);
	iph = pkt_ipv4_hdr(&in);
	for (id = 0; id <= 0xffff; id++) {
		iph->id = htons((uint16_t)id);
		pkt_finish(&in);
		if (iph->check == htons(0xfeff))
			break;
	}
	cr_assert_leq(id, 0xffff, "no IP id gives the checksum 0xfeff");

	ipv4_packet(&want, GW_B, MAC_B, IP_A, IP_B, IPPROTO_UDP, 63);
	pkt_ipv4_hdr(&want)->id = htons((uint16_t)id);
	pkt_finish(&want);
	cr_assert_eq(pkt_ipv4_hdr(&want)->check, 0, "the wrap case needs a 0x0000 result");

	expect_run(&in, TC_ACT_REDIRECT, EW_REASON_FORWARD, &want);
	expect_router_invariants(&in);
}

/* A header with options is forwarded whole: the cursor steps over the options
 * and the checksum covers them. */
Test(lxc, ipv4_with_options_is_forwarded)
{
	static const uint8_t router_alert[4] = { 0x94, 0x04, 0x00, 0x00 };
	struct pkt in, want;

	pkt_init(&in);
	pkt_eth(&in, MAC_A, GW_A, ETH_P_IP);
	pkt_ipv4(&in, IP_A, IP_B, IPPROTO_UDP, 64);
	pkt_ipv4_options(&in, router_alert, sizeof(router_alert));
	pkt_udp(&in, 40000, 53);
	pkt_payload(&in, PAYLOAD, sizeof(PAYLOAD) - 1);
	pkt_finish(&in);
	cr_assert(!in.overflow);
	cr_assert_eq(pkt_ipv4_hdr(&in)->ihl, 6);

	pkt_init(&want);
	pkt_eth(&want, GW_B, MAC_B, ETH_P_IP);
	pkt_ipv4(&want, IP_A, IP_B, IPPROTO_UDP, 63);
	pkt_ipv4_options(&want, router_alert, sizeof(router_alert));
	pkt_udp(&want, 40000, 53);
	pkt_payload(&want, PAYLOAD, sizeof(PAYLOAD) - 1);
	pkt_finish(&want);

	expect_run(&in, TC_ACT_REDIRECT, EW_REASON_FORWARD, &want);
	expect_router_invariants(&in);
}

/* The stack, not the datapath, answers an expiring TTL (ICMP time exceeded). */
Test(lxc, ttl_1_goes_to_the_stack_unchanged)
{
	struct pkt in;

	from_a(&in, IP_B, IPPROTO_TCP, 1);
	expect_run(&in, TC_ACT_OK, EW_REASON_TO_STACK, NULL);
}

Test(lxc, ttl_0_goes_to_the_stack_unchanged)
{
	struct pkt in;

	from_a(&in, IP_B, IPPROTO_TCP, 0);
	expect_run(&in, TC_ACT_OK, EW_REASON_TO_STACK, NULL);
}

/* --- IPv4 leaving the node -------------------------------------------------------------- */

/* Without an underlay interface (ew_config left empty) the overlay is off. */
Test(lxc, pod_on_another_node_without_an_underlay_is_dropped)
{
	struct pkt in;

	from_a(&in, IP_REMOTE, IPPROTO_TCP, 64);
	expect_run(&in, TC_ACT_SHOT, EW_REASON_DROP_NO_OVERLAY, NULL);
}

Test(lxc, destination_outside_every_route_goes_to_the_stack_unchanged)
{
	struct pkt in;

	from_a(&in, IP_WORLD, IPPROTO_UDP, 64);
	expect_run(&in, TC_ACT_OK, EW_REASON_TO_STACK, NULL);
}

Test(lxc, local_cidr_address_without_a_pod_is_dropped)
{
	struct pkt in;

	from_a(&in, IP_NOPOD, IPPROTO_TCP, 64);
	expect_run(&in, TC_ACT_SHOT, EW_REASON_DROP_NO_ENDPOINT, NULL);
}

/* --- who may send ----------------------------------------------------------------------- */

Test(lxc, unknown_source_ip_is_dropped)
{
	struct pkt in;

	ipv4_packet(&in, MAC_A, GW_A, ip4(10, 0, 1, 77), IP_B, IPPROTO_TCP, 64);
	expect_run(&in, TC_ACT_SHOT, EW_REASON_DROP_UNKNOWN_SOURCE, NULL);
}

/* Pod A sending as pod B, even with B's MAC: B lives on another interface. */
Test(lxc, source_ip_of_a_pod_on_another_interface_is_spoofed)
{
	struct pkt in;

	ipv4_packet(&in, MAC_B, GW_A, IP_B, IP_WORLD, IPPROTO_TCP, 64);
	expect_run(&in, TC_ACT_SHOT, EW_REASON_DROP_SPOOFED_SOURCE, NULL);
}

Test(lxc, source_mac_other_than_the_pods_is_spoofed)
{
	struct pkt in;

	ipv4_packet(&in, MAC_EVIL, GW_A, IP_A, IP_B, IPPROTO_TCP, 64);
	expect_run(&in, TC_ACT_SHOT, EW_REASON_DROP_SPOOFED_SOURCE, NULL);
}

/* Only the last byte differs: the MAC compare covers all six. */
Test(lxc, source_mac_differing_in_the_last_byte_is_spoofed)
{
	uint8_t mac[ETH_ALEN];
	struct pkt in;

	memcpy(mac, MAC_A, sizeof(mac));
	mac[5] ^= 1;
	ipv4_packet(&in, mac, GW_A, IP_A, IP_B, IPPROTO_TCP, 64);
	expect_run(&in, TC_ACT_SHOT, EW_REASON_DROP_SPOOFED_SOURCE, NULL);
}

/* --- malformed IPv4 ----------------------------------------------------------------------- */

Test(lxc, ihl_below_5_is_malformed)
{
	struct pkt in;

	from_a(&in, IP_B, IPPROTO_TCP, 64);
	pkt_ipv4_hdr(&in)->ihl = 4;
	expect_run(&in, TC_ACT_SHOT, EW_REASON_DROP_MALFORMED, NULL);
}

Test(lxc, ip_version_6_under_the_ipv4_ethertype_is_malformed)
{
	struct pkt in;

	from_a(&in, IP_B, IPPROTO_TCP, 64);
	pkt_ipv4_hdr(&in)->version = 6;
	expect_run(&in, TC_ACT_SHOT, EW_REASON_DROP_MALFORMED, NULL);
}

Test(lxc, tot_len_shorter_than_the_header_is_malformed)
{
	struct pkt in;

	from_a(&in, IP_B, IPPROTO_TCP, 64);
	pkt_ipv4_hdr(&in)->tot_len = htons(sizeof(struct iphdr) - 1);
	expect_run(&in, TC_ACT_SHOT, EW_REASON_DROP_MALFORMED, NULL);
}

/* ihl says 60 bytes of header, the packet holds less: the options would be
 * read past the end. */
Test(lxc, options_past_the_end_of_the_packet_are_malformed)
{
	struct pkt in;
	struct iphdr *iph;

	ipv4_packet(&in, MAC_A, GW_A, IP_A, IP_B, IPPROTO_UDP, 64);
	pkt_truncate(&in, ETH_HLEN + 40);
	iph = pkt_ipv4_hdr(&in);
	iph->ihl = 15;
	iph->tot_len = htons(60);
	expect_run(&in, TC_ACT_SHOT, EW_REASON_DROP_MALFORMED, NULL);
}

/* --- other ethertypes ---------------------------------------------------------------------- */

Test(lxc, ipv6_is_unsupported_l3)
{
	static const uint8_t src[16] = { 0xfd, [15] = 0x0a };
	static const uint8_t dst[16] = { 0xfd, [15] = 0x14 };
	struct pkt in;

	pkt_init(&in);
	pkt_eth(&in, MAC_A, GW_A, ETH_P_IPV6);
	pkt_ipv6(&in, src, dst, IPPROTO_UDP, 64);
	pkt_udp(&in, 40000, 53);
	pkt_payload(&in, PAYLOAD, sizeof(PAYLOAD) - 1);
	pkt_finish(&in);
	expect_run(&in, TC_ACT_SHOT, EW_REASON_DROP_UNSUPPORTED_L3, NULL);
}

/* A VLAN tag in front of IPv4 is no IPv4 to this program. */
Test(lxc, vlan_tagged_frame_is_unsupported_l3)
{
	struct pkt in;

	from_a(&in, IP_B, IPPROTO_TCP, 64);
	pkt_eth_hdr(&in)->ether_type = htons(ETH_P_8021Q);
	expect_run(&in, TC_ACT_SHOT, EW_REASON_DROP_UNSUPPORTED_L3, NULL);
}

/* --- ARP ------------------------------------------------------------------------------------ */

/* The request becomes, in place, the gateway's reply, sent back to the pod. */
Test(lxc, arp_request_is_answered_with_the_gateway_mac)
{
	struct pkt in, want;

	arp_request_from_a(&in);
	arp_packet(&want, GW_A, MAC_A, ARPOP_REPLY, GW_A, IP_GW, MAC_A, IP_A);
	expect_run(&in, TC_ACT_REDIRECT, EW_REASON_ARP_REPLY, &want);
}

/* Any address a pod asks for is at the gateway, another pod's too. */
Test(lxc, arp_request_for_another_pod_is_answered_with_the_gateway_mac)
{
	struct pkt in, want;

	arp_packet(&in, MAC_A, MAC_BCAST, ARPOP_REQUEST, MAC_A, IP_A, MAC_ZERO, IP_B);
	arp_packet(&want, GW_A, MAC_A, ARPOP_REPLY, GW_A, IP_B, MAC_A, IP_A);
	expect_run(&in, TC_ACT_REDIRECT, EW_REASON_ARP_REPLY, &want);
}

/* A real frame is padded to 60 bytes; the reply keeps the padding. */
Test(lxc, padded_arp_request_is_answered_with_its_padding)
{
	static const uint8_t pad[18] = { 0 };
	struct pkt in, want;

	arp_request_from_a(&in);
	pkt_payload(&in, pad, sizeof(pad));
	arp_packet(&want, GW_A, MAC_A, ARPOP_REPLY, GW_A, IP_GW, MAC_A, IP_A);
	pkt_payload(&want, pad, sizeof(pad));
	cr_assert_eq(in.len, 60);
	expect_run(&in, TC_ACT_REDIRECT, EW_REASON_ARP_REPLY, &want);
}

Test(lxc, arp_request_with_a_foreign_sender_mac_is_spoofed)
{
	struct pkt in;

	arp_packet(&in, MAC_A, MAC_BCAST, ARPOP_REQUEST, MAC_EVIL, IP_A, MAC_ZERO, IP_GW);
	expect_run(&in, TC_ACT_SHOT, EW_REASON_DROP_SPOOFED_SOURCE, NULL);
}

Test(lxc, arp_request_as_a_pod_on_another_interface_is_spoofed)
{
	struct pkt in;

	arp_packet(&in, MAC_B, MAC_BCAST, ARPOP_REQUEST, MAC_B, IP_B, MAC_ZERO, IP_GW);
	expect_run(&in, TC_ACT_SHOT, EW_REASON_DROP_SPOOFED_SOURCE, NULL);
}

Test(lxc, arp_request_from_an_unknown_sender_ip_is_unknown_source)
{
	struct pkt in;

	arp_packet(&in, MAC_A, MAC_BCAST, ARPOP_REQUEST, MAC_A, ip4(10, 0, 1, 77),
		   MAC_ZERO, IP_GW);
	expect_run(&in, TC_ACT_SHOT, EW_REASON_DROP_UNKNOWN_SOURCE, NULL);
}

/* A gratuitous ARP (announcing one's own address) asks nothing. */
Test(lxc, gratuitous_arp_is_unsupported)
{
	struct pkt in;

	arp_packet(&in, MAC_A, MAC_BCAST, ARPOP_REQUEST, MAC_A, IP_A, MAC_ZERO, IP_A);
	expect_run(&in, TC_ACT_SHOT, EW_REASON_DROP_ARP_UNSUPPORTED, NULL);
}

/* The pod answering the node's own request: the node's stack wants it. */
Test(lxc, arp_reply_goes_to_the_stack_unchanged)
{
	struct pkt in;

	arp_packet(&in, MAC_A, GW_A, ARPOP_REPLY, MAC_A, IP_A, GW_A, IP_GW);
	expect_run(&in, TC_ACT_OK, EW_REASON_TO_STACK, NULL);
}

/* A pod cannot tell the node that another pod's address is at its MAC. */
Test(lxc, arp_reply_claiming_another_pods_address_is_spoofed)
{
	struct pkt in;

	arp_packet(&in, MAC_A, GW_A, ARPOP_REPLY, MAC_A, IP_B, GW_A, IP_GW);
	expect_run(&in, TC_ACT_SHOT, EW_REASON_DROP_SPOOFED_SOURCE, NULL);
}

Test(lxc, arp_reply_from_an_unknown_sender_ip_is_unknown_source)
{
	struct pkt in;

	arp_packet(&in, MAC_A, GW_A, ARPOP_REPLY, MAC_A, ip4(10, 0, 1, 77), GW_A, IP_GW);
	expect_run(&in, TC_ACT_SHOT, EW_REASON_DROP_UNKNOWN_SOURCE, NULL);
}

Test(lxc, arp_with_a_foreign_ethernet_source_is_spoofed)
{
	struct pkt in;

	arp_packet(&in, MAC_EVIL, MAC_BCAST, ARPOP_REQUEST, MAC_A, IP_A, MAC_ZERO, IP_GW);
	expect_run(&in, TC_ACT_SHOT, EW_REASON_DROP_SPOOFED_SOURCE, NULL);
}

Test(lxc, arp_opcode_other_than_request_and_reply_is_unsupported)
{
	struct pkt in;

	arp_packet(&in, MAC_A, MAC_BCAST, 3 /* RARP request */, MAC_A, IP_A, MAC_ZERO,
		   IP_GW);
	expect_run(&in, TC_ACT_SHOT, EW_REASON_DROP_ARP_UNSUPPORTED, NULL);
}

Test(lxc, arp_hardware_type_other_than_ethernet_is_unsupported)
{
	struct pkt in;

	arp_request_from_a(&in);
	pkt_arp_hdr(&in)->arp_hrd = htons(ARPHRD_IEEE802);
	expect_run(&in, TC_ACT_SHOT, EW_REASON_DROP_ARP_UNSUPPORTED, NULL);
}

Test(lxc, arp_protocol_other_than_ipv4_is_unsupported)
{
	struct pkt in;

	arp_request_from_a(&in);
	pkt_arp_hdr(&in)->arp_pro = htons(ETH_P_IPV6);
	expect_run(&in, TC_ACT_SHOT, EW_REASON_DROP_ARP_UNSUPPORTED, NULL);
}

Test(lxc, arp_address_lengths_other_than_6_and_4_are_unsupported)
{
	struct pkt in;

	arp_request_from_a(&in);
	pkt_arp_hdr(&in)->arp_pln = 16;
	expect_run(&in, TC_ACT_SHOT, EW_REASON_DROP_ARP_UNSUPPORTED, NULL);

	arp_request_from_a(&in);
	pkt_arp_hdr(&in)->arp_hln = 8;
	expect_run(&in, TC_ACT_SHOT, EW_REASON_DROP_ARP_UNSUPPORTED, NULL);
}

Test(lxc, truncated_arp_is_malformed)
{
	struct pkt in;

	arp_request_from_a(&in);
	pkt_truncate(&in, ETH_HLEN + sizeof(struct ether_arp) - 1);
	expect_run(&in, TC_ACT_SHOT, EW_REASON_DROP_MALFORMED, NULL);
}

/* --- on the wire ------------------------------------------------------------------------------ */

/*
 * The same program attached for real (see bh_wire_open): pod A behind ewh0,
 * pod B behind ewh1, their ends in a namespace of their own. Used for what
 * BPF_PROG_TEST_RUN cannot do: frames it refuses, and where a redirect goes.
 */
static struct bh_wire wire;

static void wire_setup(void)
{
	wire_open_or_skip(&h, &wire);
	cr_assert_eq(bh_add_endpoint(&h, IP_A, (uint32_t)wire.host_ifindex[0], MAC_A, GW_A), 0);
	cr_assert_eq(bh_add_endpoint(&h, IP_B, (uint32_t)wire.host_ifindex[1], MAC_B, GW_B), 0);
}

#define NOBODY -1

/* Sends in out of pod A's end: the program counts it as expect_counted()
 * says, and exactly want arrives at pod end to_pod (NOBODY: nothing arrives
 * anywhere). */
static void expect_wire(const struct pkt *in, uint32_t reason, int to_pod,
			const struct pkt *want)
{
	static uint8_t got[PKT_MAX_LEN];
	struct bh_counters before, after;
	int err, n, pod;

	cr_assert_eq(bh_counters_read(&h, &before), 0);
	err = bh_wire_send(&h, &wire, 0, in->data, in->len);
	cr_assert_eq(err, 0, "the frame did not reach the program: %s", strerror(-err));
	if (to_pod != NOBODY) {
		n = bh_wire_recv(&wire, to_pod, got, sizeof(got), 1000);
		cr_assert_gt(n, 0, "nothing arrived at ewp%d: %s", to_pod,
			     n ? strerror(-n) : "timeout");
		expect_bytes(got, (size_t)n, want->data, want->len);
	}
	for (pod = 0; pod < BH_WIRE_PODS; pod++) {
		n = bh_wire_recv(&wire, pod, got, sizeof(got), 50);
		cr_expect_eq(n, 0, "unexpected %d-byte frame at ewp%d", n, pod);
	}
	cr_assert_eq(bh_counters_read(&h, &after), 0);
	expect_counted(&before, &after, reason, EW_DIR_EGRESS, in->len);
}

/* Since Linux 6.18.x BPF_PROG_TEST_RUN refuses an IPv4 frame this short
 * (-EINVAL before the program runs); a pod can still send one. */
Test(lxc, ethernet_header_alone_is_malformed)
{
	struct pkt in;

	wire_setup();
	from_a(&in, IP_B, IPPROTO_TCP, 64);
	pkt_truncate(&in, ETH_HLEN);
	expect_wire(&in, EW_REASON_DROP_MALFORMED, NOBODY, NULL);
}

Test(lxc, truncated_ipv4_header_is_malformed)
{
	struct pkt in;

	wire_setup();
	from_a(&in, IP_B, IPPROTO_TCP, 64);
	pkt_truncate(&in, ETH_HLEN + sizeof(struct iphdr) - 1);
	expect_wire(&in, EW_REASON_DROP_MALFORMED, NOBODY, NULL);
}

/* bpf_redirect_peer() lands the packet in pod B, rewritten, and nowhere else. */
Test(lxc, pod_to_pod_arrives_at_the_other_pod)
{
	struct pkt in, want;

	wire_setup();
	from_a(&in, IP_B, IPPROTO_TCP, 64);
	ipv4_packet(&want, GW_B, MAC_B, IP_A, IP_B, IPPROTO_TCP, 63);
	expect_wire(&in, EW_REASON_FORWARD, 1, &want);
}

Test(lxc, pod_to_pod_without_redirect_peer_arrives_at_the_other_pod)
{
	struct bh_opts opts = { .redirect_peer_unavailable = true };
	struct pkt in, want;
	int err;

	bh_close(&h);
	err = bh_open(&h, &opts);
	cr_assert_eq(err, 0, "cannot load bpf_lxc: %s", strerror(-err));
	wire_setup();
	from_a(&in, IP_B, IPPROTO_UDP, 64);
	ipv4_packet(&want, GW_B, MAC_B, IP_A, IP_B, IPPROTO_UDP, 63);
	expect_wire(&in, EW_REASON_FORWARD, 1, &want);
}

/* The reply goes back out the interface the request came in on: to pod A. */
Test(lxc, arp_reply_arrives_at_the_asking_pod)
{
	struct pkt in, want;

	wire_setup();
	arp_request_from_a(&in);
	arp_packet(&want, GW_A, MAC_A, ARPOP_REPLY, GW_A, IP_GW, MAC_A, IP_A);
	expect_wire(&in, EW_REASON_ARP_REPLY, 0, &want);
}

Test(lxc, spoofed_source_arrives_nowhere)
{
	struct pkt in;

	wire_setup();
	ipv4_packet(&in, MAC_EVIL, GW_A, IP_A, IP_B, IPPROTO_TCP, 64);
	expect_wire(&in, EW_REASON_DROP_SPOOFED_SOURCE, NOBODY, NULL);
}

/* --- counters --------------------------------------------------------------------------------- */

/* Katran-style: one loaded program, packets of several sizes in order; the
 * byte counters add up the exact packet lengths. */
Test(lxc, byte_counters_add_up_packet_lengths)
{
	static uint8_t big[1400];
	struct bh_counters before, after;
	struct ew_metrics fwd, stack;
	struct pkt small, large, out;
	size_t i;

	for (i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)i;
	from_a(&small, IP_B, IPPROTO_ICMP, 64);
	pkt_init(&large);
	pkt_eth(&large, MAC_A, GW_A, ETH_P_IP);
	pkt_ipv4(&large, IP_A, IP_B, IPPROTO_UDP, 64);
	pkt_udp(&large, 40000, 9000);
	pkt_payload(&large, big, sizeof(big));
	pkt_finish(&large);
	from_a(&out, IP_WORLD, IPPROTO_TCP, 64);
	cr_assert_eq(large.len, ETH_HLEN + 20 + 8 + sizeof(big));

	cr_assert_eq(bh_counters_read(&h, &before), 0);
	cr_assert_eq(bh_run_pkt(&h, &small, IF_HERE, &res), 0);
	cr_expect_eq(res.retval, TC_ACT_REDIRECT);
	cr_assert_eq(bh_run_pkt(&h, &large, IF_HERE, &res), 0);
	cr_expect_eq(res.retval, TC_ACT_REDIRECT);
	cr_expect_eq(res.len, large.len);
	cr_assert_eq(bh_run_pkt(&h, &out, IF_HERE, &res), 0);
	cr_expect_eq(res.retval, TC_ACT_OK);
	cr_assert_eq(bh_run_pkt(&h, &small, IF_HERE, &res), 0);
	cr_assert_eq(bh_counters_read(&h, &after), 0);

	fwd = bh_counters_delta(&before, &after, EW_REASON_FORWARD, EW_DIR_EGRESS);
	stack = bh_counters_delta(&before, &after, EW_REASON_TO_STACK, EW_DIR_EGRESS);
	cr_expect_eq(fwd.packets, 3);
	cr_expect_eq(fwd.bytes, 2 * small.len + large.len, "forward bytes %llu, want %zu",
		     (unsigned long long)fwd.bytes, 2 * small.len + large.len);
	cr_expect_eq(stack.packets, 1);
	cr_expect_eq(stack.bytes, out.len);
}
