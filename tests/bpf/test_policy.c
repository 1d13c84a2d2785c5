// SPDX-License-Identifier: Apache-2.0
/*
 * Network policy (bpf/lib/policy.h) in the real programs: a pod's ingress
 * rules judge what reaches it, wherever it comes from (from_container for a
 * local pod, from_underlay after decapsulation, to_container for what the
 * stack delivers); its egress rules judge what it sends, before routing and
 * after service translation. Each case runs the programs and checks the
 * verdict, the exact bytes left in the packet, every counter, the drop event
 * and the EW_CT_POLICY entries. Criterion runs each test in its own process
 * with freshly loaded objects.
 *
 * The cluster, as node 1's maps describe it (identities in ew_ipcache):
 *
 *   node 1  192.168.0.1 (HOST)  underlay U1, VTEP V1, pods 10.0.1.0/24 (local)
 *           pod A 10.0.1.10 CLIENT, in the ipBlock 10.0.1.8/29 (BLOCK)
 *           pod B 10.0.1.20 SERVER; pod D 10.0.1.30 OTHER
 *   node 2  192.168.0.2 (REMOTE_NODE)  U2, V2: pod C 10.0.2.5 REMOTE
 *   world   1.1.1.1, in no entry; 8.8.8.8, in the ipBlock 8.8.0.0/16 (EXTNET)
 *   169.254.42.1, the hairpin source, is HOST
 *
 * Pods start with no policy; a case isolates the ones it needs and adds the
 * ew_policy entries the agent would compile. Every pod is on ifindex 1, as is
 * the underlay: BPF_PROG_TEST_RUN takes that one without a device lookup. A
 * test run does not follow redirects; the MACs a packet leaves with say which
 * pod it is for.
 */
#include <criterion/criterion.h>

#include <string.h>

#include <linux/pkt_cls.h>

#include "bpf_expect.h"
#include "bpf_harness.h"
#include "overlay_nodes.h"
#include "pkt.h"

#define IF_HERE 1

static const uint8_t MAC_A[ETH_ALEN] = { 0x02, 0x00, 0x0a, 0x00, 0x01, 0x0a };
static const uint8_t GW_A[ETH_ALEN] = { 0xee, 0xee, 0x0a, 0x00, 0x01, 0x0a };
static const uint8_t MAC_B[ETH_ALEN] = { 0x02, 0x00, 0x0a, 0x00, 0x01, 0x14 };
static const uint8_t GW_B[ETH_ALEN] = { 0xee, 0xee, 0x0a, 0x00, 0x01, 0x14 };
static const uint8_t MAC_D[ETH_ALEN] = { 0x02, 0x00, 0x0a, 0x00, 0x01, 0x1e };
static const uint8_t GW_D[ETH_ALEN] = { 0xee, 0xee, 0x0a, 0x00, 0x01, 0x1e };

#define IP_A	 ip4(10, 0, 1, 10)
#define IP_B	 ip4(10, 0, 1, 20)
#define IP_D	 ip4(10, 0, 1, 30)
#define IP_C	 ip4(10, 0, 2, 5)
#define IP_WORLD ip4(1, 1, 1, 1)
#define IP_EXT	 ip4(8, 8, 8, 8)
#define SVC	 ip4(10, 96, 0, 10)
#define HAIRPIN	 htonl(EW_HAIRPIN_ADDR)

enum identity {
	ID_CLIENT = EW_IDENTITY_FIRST_POD, /* pod A */
	ID_SERVER,			   /* pod B */
	ID_OTHER,			   /* pod D */
	ID_REMOTE,			   /* pod C, on node 2 */
	ID_BLOCK,			   /* ipBlock 10.0.1.8/29 */
	ID_EXTNET,			   /* ipBlock 8.8.0.0/16 */
};

/* ew_policy prefix lengths (struct ew_policy_key): one port, every port of
 * a protocol, every protocol. */
#define PREFIX_PORT  EW_POLICY_PREFIX_FULL
#define PREFIX_PROTO 80
#define PREFIX_ALL   72
#define RULE	     7 /* the agent's rule number: bpfctl's, never the datapath's */

#define IN  EW_DIR_INGRESS
#define OUT EW_DIR_EGRESS

#define SVC_PORT   80
#define BE_PORT	   8080
#define BACKEND_ID 1
#define CPORT	   40000 /* a client's source port */
#define TTL	   64

static const char PAYLOAD[] = "edgewire judges this";

struct pod {
	uint32_t ip, identity;
	const uint8_t *mac, *gw; /* its eth0's, and its gateway's (the host veth) */
};

#define POD_A ((struct pod){ IP_A, ID_CLIENT, MAC_A, GW_A })
#define POD_B ((struct pod){ IP_B, ID_SERVER, MAC_B, GW_B })
#define POD_D ((struct pod){ IP_D, ID_OTHER, MAC_D, GW_D })

static struct bh h;
static struct bh_result res;

/* pod on this node, isolated as flags (enum ew_endpoint_flags) say. */
static void endpoint(struct pod pod, uint32_t flags)
{
	cr_assert_eq(bh_add_endpoint_identity(&h, pod.ip, IF_HERE, pod.mac, pod.gw,
					      pod.identity, flags), 0);
}

static void ipcache(uint32_t addr, uint32_t prefixlen, uint32_t identity, uint32_t cidr)
{
	cr_assert_eq(bh_add_ipcache(&h, addr, prefixlen, identity, cidr), 0);
}

static void policy_setup(void)
{
	const struct expect_node node1 = { NODE1, ip4(10, 0, 1, 0), V1 };
	const struct expect_node node2 = { NODE2, ip4(10, 0, 2, 0), V2 };

	open_cluster_node(&h, &node1, &node2, IF_HERE);
	endpoint(POD_A, 0);
	endpoint(POD_B, 0);
	endpoint(POD_D, 0);
	ipcache(NODE1, 32, EW_IDENTITY_HOST, EW_IDENTITY_WORLD);
	ipcache(HAIRPIN, 32, EW_IDENTITY_HOST, EW_IDENTITY_WORLD);
	ipcache(NODE2, 32, EW_IDENTITY_REMOTE_NODE, EW_IDENTITY_WORLD);
	ipcache(IP_A, 32, ID_CLIENT, ID_BLOCK);
	ipcache(IP_B, 32, ID_SERVER, EW_IDENTITY_WORLD);
	ipcache(IP_D, 32, ID_OTHER, EW_IDENTITY_WORLD);
	ipcache(IP_C, 32, ID_REMOTE, EW_IDENTITY_WORLD);
	ipcache(ip4(10, 0, 1, 8), 29, ID_BLOCK, ID_BLOCK);
	ipcache(ip4(8, 8, 0, 0), 16, ID_EXTNET, ID_EXTNET);
}

static void policy_teardown(void)
{
	bh_close(&h);
}

TestSuite(policy, .init = policy_setup, .fini = policy_teardown);

/* subject may exchange proto packets with peer in dir (the subject's side),
 * on the ports of the prefixlen-bit ew_policy prefix of port. */
static void allow_prefix(uint32_t subject, uint32_t peer, uint8_t dir, uint8_t proto,
			 uint16_t port, uint32_t prefixlen)
{
	cr_assert_eq(bh_add_policy(&h, subject, peer, dir, proto, port, prefixlen, RULE), 0);
}

static void allow(uint32_t subject, uint32_t peer, uint8_t dir, uint8_t proto, uint16_t port)
{
	allow_prefix(subject, peer, dir, proto, port, PREFIX_PORT);
}

/* --- packets --------------------------------------------------------------------- */

/* An IPv4 packet as policy sees it; frag_off (host byte order) 0 keeps DF. */
struct flow {
	uint8_t proto;
	uint32_t saddr, daddr;
	uint16_t sport, dport; /* for ICMP: the echo id and sequence */
	uint16_t frag_off;
	uint8_t tcp_flags; /* TH_SYN: a connection's first packet */
};

static struct flow flow(uint8_t proto, uint32_t saddr, uint16_t sport, uint32_t daddr,
			uint16_t dport)
{
	return (struct flow){ .proto = proto, .saddr = saddr, .daddr = daddr,
			      .sport = sport, .dport = dport };
}

static struct flow tcp(uint32_t saddr, uint16_t sport, uint32_t daddr, uint16_t dport)
{
	struct flow f = flow(IPPROTO_TCP, saddr, sport, daddr, dport);

	f.tcp_flags = TH_SYN;
	return f;
}

/* A later packet of TCP connection f: no SYN. */
static struct flow established(struct flow f)
{
	f.tcp_flags = TH_ACK;
	return f;
}

static struct flow udp(uint32_t saddr, uint16_t sport, uint32_t daddr, uint16_t dport)
{
	return flow(IPPROTO_UDP, saddr, sport, daddr, dport);
}

/* An ICMP flow is its identifier (sport) and its type (dport). */
static struct flow icmp_echo(uint32_t saddr, uint32_t daddr)
{
	return flow(IPPROTO_ICMP, saddr, 0x4242, daddr, ICMP_ECHO);
}

static struct flow reply_of(struct flow f)
{
	struct flow r = flow(f.proto, f.daddr, f.dport, f.saddr, f.sport);

	if (f.proto == IPPROTO_ICMP)
		return flow(f.proto, f.daddr, f.sport, f.saddr, ICMP_ECHOREPLY);
	if (f.proto == IPPROTO_TCP)
		r.tcp_flags = TH_SYN | TH_ACK;
	return r;
}

/* f sent to daddr:dport instead (translated by a service, or another port). */
static struct flow sent_to(struct flow f, uint32_t daddr, uint16_t dport)
{
	f.daddr = daddr;
	f.dport = dport;
	return f;
}

/* A fragment after the first: where its ports would be is payload. */
static struct flow later_fragment(struct flow f)
{
	f.frag_off = 185; /* offset 1480 bytes */
	return f;
}

static struct flow first_fragment(struct flow f)
{
	f.frag_off = IP_MF;
	return f;
}

/* f's IPv4 packet with TTL ttl and PAYLOAD after the layers already in p. */
static void flow_layers(struct pkt *p, struct flow f, uint8_t ttl)
{
	pkt_ipv4(p, f.saddr, f.daddr, f.proto, ttl);
	if (f.proto == IPPROTO_TCP)
		pkt_tcp(p, f.sport, f.dport, f.tcp_flags);
	else
		pkt_l4(p, f.proto, f.sport, f.dport);
	pkt_payload(p, PAYLOAD, sizeof(PAYLOAD) - 1);
	pkt_finish(p);
	if (f.frag_off) {
		pkt_ipv4_hdr(p)->frag_off = htons(f.frag_off);
		pkt_finish(p);
	}
	cr_assert(!p->overflow, "test packet does not fit");
}

static void frame(struct pkt *p, const uint8_t *eth_src, const uint8_t *eth_dst,
		  struct flow f, uint8_t ttl)
{
	pkt_init(p);
	pkt_eth(p, eth_src, eth_dst, ETH_P_IP);
	flow_layers(p, f, ttl);
}

/* What pod sends its gateway. */
static void sent_by(struct pkt *p, struct pod pod, struct flow f)
{
	frame(p, pod.mac, pod.gw, f, TTL);
}

/* What reaches pod after one router hop: from a local pod, from another
 * node's, or from the stack. */
static void delivered_to(struct pkt *p, struct pod pod, struct flow f)
{
	frame(p, pod.gw, pod.mac, f, TTL - 1);
}

/* What node 2 sends node 1 around f, which it routed. */
static void vxlan_from_node2(struct pkt *p, struct flow f)
{
	struct pkt_tunnel t = {
		.eth_src = U2, .eth_dst = U1,
		.saddr = NODE2, .daddr = NODE1,
		.sport = 50000, .dport = EW_VXLAN_PORT_DEFAULT, .vni = EW_VXLAN_VNI_DEFAULT,
		.vtep_src = V2, .vtep_dst = V1,
	};

	pkt_init(p);
	pkt_tunnel(p, &t);
	flow_layers(p, f, TTL - 1);
}

/* What is left of vxlan_from_node2() once decapsulated: the outer Ethernet
 * header and the inner packet. */
static void decapsulated(struct pkt *p, struct flow f)
{
	frame(p, U2, U1, f, TTL - 1);
}


/* --- the checks ------------------------------------------------------------------- */

/*
 * Runs in through prog: the verdict, the bytes of want (NULL: in unchanged),
 * the packet counted once under (reason, dir) with want's length and nothing
 * else (UNCOUNTED: nothing), and a drop's one event, with the packet as it
 * was dropped; no event for anything else.
 */
static void expect_verdict(enum bh_prog prog, const struct pkt *in, int verdict,
			   uint32_t reason, uint32_t dir, const struct pkt *want)
{
	const struct pkt *out = want ? want : in;
	bool dropped = reason != UNCOUNTED && ew_reason_is_drop(reason);

	expect_run_dir(&h, prog, IF_HERE, in, verdict, reason, dir, out->len, want, &res);
	expect_drop_event(&h, reason, dir, dropped ? out : NULL);
}

/* The pod of this node at ip. */
static struct pod pod_at(uint32_t ip)
{
	const struct pod pods[] = { POD_A, POD_B, POD_D };
	size_t i;

	for (i = 0; i < sizeof(pods) / sizeof(pods[0]); i++)
		if (pods[i].ip == ip)
			return pods[i];
	cr_assert_fail("no pod of this node has address 0x%08x", ntohl(ip));
	return pods[0];
}

/* The ways into a pod of this node, each with the program that judges the
 * pod's ingress on it. */
enum path {
	FROM_POD,   /* from a pod of this node (the flow's source): from_container */
	FROM_NODE2, /* in VXLAN from node 2: from_underlay, after decapsulation */
	FROM_STACK, /* from the node's stack: to_container, at the host veth */
	PATHS,
};

static const enum bh_prog path_prog[PATHS] = {
	[FROM_POD] = BH_FROM_CONTAINER,
	[FROM_NODE2] = BH_FROM_UNDERLAY,
	[FROM_STACK] = BH_TO_CONTAINER,
};

/* A peer path brings packets from: pod D, pod C, the world. */
static uint32_t path_peer(enum path path)
{
	return path == FROM_POD ? IP_D : path == FROM_NODE2 ? IP_C : IP_WORLD;
}

/* f as it comes along path. */
static void arriving(struct pkt *in, enum path path, struct flow f)
{
	switch (path) {
	case FROM_POD:
		sent_by(in, pod_at(f.saddr), f);
		break;
	case FROM_NODE2:
		vxlan_from_node2(in, f);
		break;
	default:
		delivered_to(in, pod_at(f.daddr), f);
		break;
	}
}

/* f, along path, reaches its destination pod as delivered (f, or a service
 * translation of it). What the stack delivers, to_container only passes. */
static void expect_arrival_as(enum path path, struct flow f, struct flow delivered)
{
	struct pkt in, want;

	arriving(&in, path, f);
	delivered_to(&want, pod_at(delivered.daddr), delivered);
	if (path == FROM_STACK)
		expect_verdict(BH_TO_CONTAINER, &in, TC_ACT_OK, UNCOUNTED, IN, NULL);
	else
		expect_verdict(path_prog[path], &in, TC_ACT_REDIRECT, EW_REASON_FORWARD,
			       path == FROM_POD ? OUT : IN, &want);
}

static void expect_arrival(enum path path, struct flow f)
{
	expect_arrival_as(path, f, f);
}

/* f, along path, is dropped before its destination pod for reason, an
 * ingress verdict; VXLAN was taken off already. */
static void expect_stopped(enum path path, struct flow f, uint32_t reason)
{
	struct pkt in, want;

	arriving(&in, path, f);
	decapsulated(&want, f);
	expect_verdict(path_prog[path], &in, TC_ACT_SHOT, reason, IN,
		       path == FROM_NODE2 ? &want : NULL);
}

/* f, leaving its pod, is dropped as dropped (f, or its service translation)
 * for reason counted in dir: the sender's verdicts are egress, those of a
 * receiving pod of this node ingress. */
static void expect_dropped_as(struct flow f, struct flow dropped, uint32_t reason,
			      uint32_t dir)
{
	struct pkt in, want;

	sent_by(&in, pod_at(f.saddr), f);
	sent_by(&want, pod_at(f.saddr), dropped);
	expect_verdict(BH_FROM_CONTAINER, &in, TC_ACT_SHOT, reason, dir, &want);
}

/* f is dropped leaving its pod by the pod's own verdict. */
static void expect_sender_drop(struct flow f, uint32_t reason)
{
	expect_dropped_as(f, f, reason, OUT);
}

/* f leaves its pod for the stack: outside the cluster, or the node. */
static void expect_to_stack(struct flow f)
{
	struct pkt in;

	sent_by(&in, pod_at(f.saddr), f);
	expect_verdict(BH_FROM_CONTAINER, &in, TC_ACT_OK, EW_REASON_TO_STACK, OUT, NULL);
}

/* Offsets in an encapsulated frame. */
#define OUTER_UDP (ETH_HLEN + 20)
#define INNER_IP  (OUTER_UDP + 8 + 8 + ETH_HLEN)

/* f leaves its pod in VXLAN to node 2 as inner (f, or its service
 * translation), routed, with the Ethernet header it came with (the kernel
 * fills in the outer MACs) and the outer source port the datapath chose. */
static void expect_encapsulated(struct flow f, struct flow inner)
{
	struct pod src = pod_at(f.saddr);
	struct pkt_tunnel t = {
		.eth_src = src.mac, .eth_dst = src.gw,
		.saddr = NODE1, .daddr = NODE2,
		.dport = EW_VXLAN_PORT_DEFAULT, .vni = EW_VXLAN_VNI_DEFAULT,
		.vtep_src = V1, .vtep_dst = V2,
	};
	struct expect_run run;
	struct pkt in, want;
	uint16_t sport;

	sent_by(&in, src, f);
	run_counted(&h, BH_FROM_CONTAINER, IF_HERE, &in, &res, &run);
	cr_assert_geq(res.len, INNER_IP, "output of %u bytes is no VXLAN frame", res.len);
	memcpy(&sport, res.data + OUTER_UDP, sizeof(sport));
	t.sport = ntohs(sport);
	pkt_init(&want);
	pkt_tunnel(&want, &t);
	flow_layers(&want, inner, TTL - 1);
	expect_outcome(&run, &res, TC_ACT_REDIRECT, EW_REASON_ENCAP, want.len, &want);
	expect_drop_event(&h, UNCOUNTED, OUT, NULL);
}

/* Keyed as f; an ICMP echo has its identifier as both ports. */
static struct ew_ct_key policy_key(struct flow f)
{
	bool echo = f.proto == IPPROTO_ICMP;

	return (struct ew_ct_key){
		.saddr = f.saddr, .daddr = f.daddr, .sport = htons(f.sport),
		.dport = echo ? htons(f.sport) : htons(f.dport),
		.proto = f.proto, .type = EW_CT_POLICY,
	};
}

/* The connection of f is tracked, keyed as f, its first packet. */
static void expect_tracked(struct flow f)
{
	struct ew_ct_key key = policy_key(f);
	struct ew_ct_entry e;
	int err = bh_ct_lookup(&h, &key, &e);

	cr_expect_eq(err, 0, "no EW_CT_POLICY entry for %u -> %u: %s", f.sport, f.dport,
		     strerror(-err));
	cr_expect_neq(e.created_ns, 0, "created_ns not set");
}

static void expect_policy_entries(int n)
{
	int got = bh_ct_count(&h, EW_CT_POLICY);

	cr_expect_eq(got, n, "%d EW_CT_POLICY entries, want %d", got, n);
}

#define DENIED EW_REASON_DROP_POLICY_DENIED

/* --- ingress: what reaches an isolated pod -------------------------------------------- */

/* B's ingress rule for peer at f's port lets f in along path, tracked; the
 * next port and the other protocol are denied, and nothing more tracked. */
static void expect_ingress_rule_judges(enum path path, uint32_t peer, struct flow f)
{
	endpoint(POD_B, EW_EP_INGRESS_ISOLATED);
	allow(ID_SERVER, peer, IN, IPPROTO_TCP, f.dport);
	expect_arrival(path, f);
	expect_tracked(f);
	expect_stopped(path, sent_to(f, f.daddr, f.dport + 1), DENIED);
	expect_stopped(path, udp(f.saddr, f.sport, f.daddr, f.dport), DENIED);
	expect_policy_entries(1);
}

Test(policy, ingress_rule_lets_its_peer_in_from_a_local_pod)
{
	expect_ingress_rule_judges(FROM_POD, ID_CLIENT, tcp(IP_A, CPORT, IP_B, 80));
}

Test(policy, ingress_rule_lets_its_peer_in_from_another_node_after_decapsulation)
{
	expect_ingress_rule_judges(FROM_NODE2, ID_REMOTE, tcp(IP_C, CPORT, IP_B, 80));
}

/* What the stack routes to a pod (a NodePort backend's traffic, a host
 * process's) meets the pod's rules at the host veth's egress. */
Test(policy, ingress_rule_judges_what_the_stack_delivers)
{
	expect_ingress_rule_judges(FROM_STACK, EW_IDENTITY_WORLD,
				   tcp(IP_WORLD, CPORT, IP_B, BE_PORT));
}

/* Neither another peer nor a rule of the other direction lets one in. */
Test(policy, ingress_isolated_pod_denies_other_peers)
{
	endpoint(POD_B, EW_EP_INGRESS_ISOLATED);
	allow(ID_SERVER, ID_CLIENT, IN, IPPROTO_TCP, 80);
	allow(ID_SERVER, ID_OTHER, OUT, IPPROTO_TCP, 80);
	expect_stopped(FROM_POD, tcp(IP_D, CPORT, IP_B, 80), DENIED);
	expect_stopped(FROM_NODE2, tcp(IP_C, CPORT, IP_B, 80), DENIED);
	expect_policy_entries(0);
}

/* to_container judges pods only, and IPv4 only. */
Test(policy, stack_delivery_to_no_isolated_pod_passes_untracked)
{
	struct pkt in;

	endpoint(POD_B, EW_EP_INGRESS_ISOLATED);
	expect_arrival(FROM_STACK, tcp(IP_WORLD, CPORT, IP_D, 80));
	frame(&in, GW_B, MAC_B, tcp(IP_WORLD, CPORT, ip4(10, 0, 1, 99), 80), TTL);
	expect_verdict(BH_TO_CONTAINER, &in, TC_ACT_OK, UNCOUNTED, IN, NULL);
	pkt_init(&in);
	pkt_eth(&in, GW_B, MAC_B, ETH_P_ARP);
	pkt_arp(&in, ARPOP_REQUEST, GW_B, NODE1, MAC_B, IP_B);
	pkt_finish(&in);
	expect_verdict(BH_TO_CONTAINER, &in, TC_ACT_OK, UNCOUNTED, IN, NULL);
	expect_policy_entries(0);
}

/* --- egress: what an isolated pod sends ------------------------------------------------ */

/* Another port or peer, or a rule of the other direction, does not. */
Test(policy, egress_rule_lets_the_sender_reach_its_peers_port)
{
	struct flow f = tcp(IP_A, CPORT, IP_B, 80);

	endpoint(POD_A, EW_EP_EGRESS_ISOLATED);
	allow(ID_CLIENT, ID_SERVER, OUT, IPPROTO_TCP, 80);
	allow(ID_CLIENT, ID_OTHER, IN, IPPROTO_TCP, 80);
	expect_arrival(FROM_POD, f);
	expect_tracked(f);
	expect_sender_drop(sent_to(f, IP_B, 81), DENIED);
	expect_sender_drop(sent_to(f, IP_D, 80), DENIED);
	expect_policy_entries(1);
}

/* Traffic out of the cluster is judged before the stack sees it. */
Test(policy, egress_rule_judges_traffic_to_the_world_before_the_stack)
{
	endpoint(POD_A, EW_EP_EGRESS_ISOLATED);
	allow(ID_CLIENT, EW_IDENTITY_WORLD, OUT, IPPROTO_TCP, 443);
	expect_to_stack(tcp(IP_A, CPORT, IP_WORLD, 443));
	expect_sender_drop(tcp(IP_A, CPORT, IP_WORLD, 444), DENIED);
}

/* The node is a peer as any other to egress rules (HOST admits it only
 * into pods). */
Test(policy, egress_to_the_node_needs_a_rule_for_the_host)
{
	endpoint(POD_A, EW_EP_EGRESS_ISOLATED);
	expect_sender_drop(udp(IP_A, CPORT, NODE1, 53), DENIED);
	allow(ID_CLIENT, EW_IDENTITY_HOST, OUT, IPPROTO_UDP, 53);
	expect_to_stack(udp(IP_A, CPORT, NODE1, 53));
}

/* Encapsulation happens only for what the sender may send. */
Test(policy, egress_rule_judges_traffic_to_other_nodes_before_encapsulation)
{
	struct flow f = tcp(IP_A, CPORT, IP_C, 80);

	endpoint(POD_A, EW_EP_EGRESS_ISOLATED);
	allow(ID_CLIENT, ID_REMOTE, OUT, IPPROTO_TCP, 80);
	expect_encapsulated(f, f);
	expect_tracked(f);
	expect_sender_drop(sent_to(f, IP_C, 81), DENIED);
}

/* Between two pods of this node both judge: the sender's rule allowing a
 * connection lets it past none of the receiver's, nor the other way round. */
Test(policy, local_delivery_needs_the_senders_and_the_receivers_rules)
{
	struct flow f = tcp(IP_A, CPORT, IP_B, 80);

	endpoint(POD_A, EW_EP_EGRESS_ISOLATED);
	endpoint(POD_B, EW_EP_INGRESS_ISOLATED);
	allow(ID_CLIENT, ID_SERVER, OUT, IPPROTO_TCP, 80);
	allow(ID_SERVER, ID_CLIENT, IN, IPPROTO_TCP, 81);
	expect_stopped(FROM_POD, f, DENIED);
	expect_sender_drop(sent_to(f, IP_B, 81), DENIED);
	expect_policy_entries(0);
	allow(ID_SERVER, ID_CLIENT, IN, IPPROTO_TCP, 80);
	expect_arrival(FROM_POD, f);
	expect_policy_entries(1);
}

/* --- wildcards -------------------------------------------------------------------------- */

Test(policy, rule_for_any_peer_admits_every_identity)
{
	enum path path;

	endpoint(POD_B, EW_EP_INGRESS_ISOLATED);
	allow(ID_SERVER, EW_IDENTITY_ANY, IN, IPPROTO_TCP, 80);
	expect_arrival(FROM_POD, tcp(IP_A, CPORT, IP_B, 80));
	for (path = FROM_POD; path < PATHS; path++)
		expect_arrival(path, tcp(path_peer(path), CPORT, IP_B, 80));
	expect_stopped(FROM_POD, tcp(IP_A, CPORT, IP_B, 81), DENIED);
}

/* prefixlen 80: subject, peer, direction and protocol; every port. */
Test(policy, protocol_rule_admits_every_port_of_its_protocol_only)
{
	endpoint(POD_B, EW_EP_INGRESS_ISOLATED);
	allow_prefix(ID_SERVER, ID_CLIENT, IN, IPPROTO_TCP, 0, PREFIX_PROTO);
	expect_arrival(FROM_POD, tcp(IP_A, CPORT, IP_B, 1));
	expect_arrival(FROM_POD, tcp(IP_A, CPORT, IP_B, 65535));
	expect_stopped(FROM_POD, udp(IP_A, CPORT, IP_B, 53), DENIED);
	expect_stopped(FROM_POD, icmp_echo(IP_A, IP_B), DENIED);
}

/* prefixlen 72: every protocol, ICMP (which has no ports) too. */
Test(policy, all_protocols_rule_admits_icmp_udp_and_tcp)
{
	endpoint(POD_B, EW_EP_INGRESS_ISOLATED);
	allow_prefix(ID_SERVER, ID_CLIENT, IN, 0, 0, PREFIX_ALL);
	expect_arrival(FROM_POD, icmp_echo(IP_A, IP_B));
	expect_tracked(icmp_echo(IP_A, IP_B));
	expect_arrival(FROM_POD, udp(IP_A, CPORT, IP_B, 53));
	expect_arrival(FROM_POD, tcp(IP_A, CPORT, IP_B, 80));
	expect_stopped(FROM_POD, icmp_echo(IP_D, IP_B), DENIED);
}

/* 1024-2047 is one prefix: the first 6 bits of the port (80 + 16 - 10). */
Test(policy, port_range_is_a_port_prefix)
{
	endpoint(POD_B, EW_EP_INGRESS_ISOLATED);
	allow_prefix(ID_SERVER, ID_CLIENT, IN, IPPROTO_TCP, 1024, PREFIX_PROTO + 16 - 10);
	expect_arrival(FROM_POD, tcp(IP_A, CPORT, IP_B, 1024));
	expect_arrival(FROM_POD, tcp(IP_A, CPORT, IP_B, 2047));
	expect_stopped(FROM_POD, tcp(IP_A, CPORT, IP_B, 1023), DENIED);
	expect_stopped(FROM_POD, tcp(IP_A, CPORT, IP_B, 2048), DENIED);
}

/* An ipBlock matches pod addresses too: A's /32 carries the identity of the
 * ipBlock holding it, D's (outside it) does not. */
Test(policy, ipblock_rule_admits_the_pods_inside_it)
{
	endpoint(POD_B, EW_EP_INGRESS_ISOLATED);
	allow(ID_SERVER, ID_BLOCK, IN, IPPROTO_TCP, 80);
	expect_arrival(FROM_POD, tcp(IP_A, CPORT, IP_B, 80));
	expect_stopped(FROM_POD, tcp(IP_D, CPORT, IP_B, 80), DENIED);
}

/*
 * World is every address in no policy CIDR: under the one 0.0.0.0/0 entry
 * the agent writes, or in no entry at all. An address in a policy CIDR has
 * that CIDR's identity instead; a rule naming an enclosing CIDR is the
 * agent's to compile into entries for every identity it holds.
 */
Test(policy, world_is_every_address_in_no_policy_cidr)
{
	endpoint(POD_A, EW_EP_EGRESS_ISOLATED);
	allow(ID_CLIENT, EW_IDENTITY_WORLD, OUT, IPPROTO_TCP, 443);
	expect_to_stack(tcp(IP_A, CPORT, IP_WORLD, 443));
	ipcache(0, 0, EW_IDENTITY_WORLD, EW_IDENTITY_WORLD);
	expect_to_stack(tcp(IP_A, CPORT + 1, IP_WORLD, 443));
	expect_sender_drop(tcp(IP_A, CPORT, IP_EXT, 443), DENIED);
	allow(ID_CLIENT, ID_EXTNET, OUT, IPPROTO_TCP, 443);
	expect_to_stack(tcp(IP_A, CPORT, IP_EXT, 443));
}

/* --- replies: connections are tracked ------------------------------------------------- */

/* A, isolated both ways, may open connections to peer's port only. */
static void a_may_only_reach(uint32_t peer, uint16_t port)
{
	endpoint(POD_A, EW_EP_INGRESS_ISOLATED | EW_EP_EGRESS_ISOLATED);
	allow(ID_CLIENT, peer, OUT, IPPROTO_TCP, port);
}

/* After A's connection f, its reply comes in along path; the same peer
 * port to another port of A does not. */
static void expect_only_the_reply_comes_back(enum path path, struct flow f)
{
	expect_arrival(path, reply_of(f));
	expect_stopped(path, tcp(f.daddr, f.dport, f.saddr, f.sport + 1), DENIED);
}

Test(policy, reply_passes_the_ingress_isolation_of_an_egress_allowed_sender)
{
	struct flow f = tcp(IP_A, CPORT, IP_B, 80);

	a_may_only_reach(ID_SERVER, 80);
	expect_arrival(FROM_POD, f);
	expect_only_the_reply_comes_back(FROM_POD, f);
	expect_arrival(FROM_POD, f);
	expect_policy_entries(1);
}

/* The entry is the connection's, wherever it was made: B's verdict lets
 * B's replies past A's isolation. */
Test(policy, reply_of_an_ingress_allowed_connection_passes_the_senders_isolation)
{
	struct flow f = tcp(IP_A, CPORT, IP_B, 80);

	endpoint(POD_A, EW_EP_INGRESS_ISOLATED);
	endpoint(POD_B, EW_EP_INGRESS_ISOLATED);
	allow(ID_SERVER, ID_CLIENT, IN, IPPROTO_TCP, 80);
	expect_stopped(FROM_POD, reply_of(f), DENIED);
	expect_arrival(FROM_POD, f);
	expect_only_the_reply_comes_back(FROM_POD, f);
}

/* A tracked connection keeps passing when its rule goes away; a new one on
 * the same tuple (its SYN) is judged by the rules of now. */
Test(policy, syn_on_a_tracked_tuple_is_judged_again)
{
	struct flow f = tcp(IP_A, CPORT, IP_B, 80);

	endpoint(POD_B, EW_EP_INGRESS_ISOLATED);
	allow(ID_SERVER, ID_CLIENT, IN, IPPROTO_TCP, 80);
	expect_arrival(FROM_POD, f);
	expect_tracked(f);
	cr_assert_eq(bh_del_policy(&h, ID_SERVER, ID_CLIENT, IN, IPPROTO_TCP, 80, PREFIX_PORT), 0);
	expect_arrival(FROM_POD, established(f));
	expect_stopped(FROM_POD, f, DENIED);
	expect_policy_entries(1);
}

/* The tracked connection of f, as if its last packet was seconds ago. */
static void age_tracked(struct flow f, uint64_t seconds)
{
	struct ew_ct_key key = policy_key(f);
	struct ew_ct_entry e;

	cr_assert_eq(bh_ct_lookup(&h, &key, &e), 0, "f is not tracked");
	e.seen_ns -= seconds * 1000000000ull;
	cr_assert_eq(bh_ct_update(&h, &key, &e), 0);
}

/* A UDP exchange is over a minute after its last packet: the reply of an
 * old query is judged, and the next query tracks anew. An open TCP
 * connection lives six hours. */
Test(policy, udp_tracking_ends_after_a_minute_idle_tcp_after_six_hours)
{
	struct flow q = udp(IP_A, CPORT, IP_B, 53), c = tcp(IP_A, CPORT, IP_B, 80);

	endpoint(POD_A, EW_EP_INGRESS_ISOLATED);
	expect_arrival(FROM_POD, q);
	expect_arrival(FROM_POD, c);
	age_tracked(q, 59);
	expect_arrival(FROM_POD, reply_of(q));
	age_tracked(q, 61);
	age_tracked(c, 3600);
	expect_stopped(FROM_POD, reply_of(q), DENIED);
	expect_policy_entries(1);
	expect_arrival(FROM_POD, established(reply_of(c)));
	expect_arrival(FROM_POD, q);
	expect_arrival(FROM_POD, reply_of(q));
	expect_policy_entries(2);
	age_tracked(c, 21601);
	expect_stopped(FROM_POD, established(reply_of(c)), DENIED);
}

/* Once a FIN or RST passed, either way, a TCP connection is over ten
 * seconds after its last packet. */
Test(policy, tcp_tracking_ends_ten_seconds_after_a_fin_or_rst)
{
	struct flow c = tcp(IP_A, CPORT, IP_B, 80), d = tcp(IP_A, CPORT + 1, IP_B, 80);
	struct flow fin = established(reply_of(c)), rst = established(d);

	fin.tcp_flags |= TH_FIN;
	rst.tcp_flags = TH_RST;
	endpoint(POD_A, EW_EP_INGRESS_ISOLATED);
	expect_arrival(FROM_POD, c);
	expect_arrival(FROM_POD, d);
	expect_arrival(FROM_POD, fin);
	expect_arrival(FROM_POD, rst);
	age_tracked(c, 9);
	age_tracked(d, 11);
	expect_arrival(FROM_POD, established(reply_of(c)));
	expect_stopped(FROM_POD, established(reply_of(d)), DENIED);
	age_tracked(c, 11);
	expect_stopped(FROM_POD, established(reply_of(c)), DENIED);
}

/* A's connection to B, A isolated for ingress only, brings its SYN-ACK back;
 * a SYN from B on the reverse tuple opens a connection to A: judged. */
Test(policy, syn_on_the_reverse_of_a_tracked_connection_is_judged)
{
	struct flow f = tcp(IP_A, CPORT, IP_B, 80);

	endpoint(POD_A, EW_EP_INGRESS_ISOLATED);
	expect_arrival(FROM_POD, f);
	expect_arrival(FROM_POD, reply_of(f));
	expect_arrival(FROM_POD, established(reply_of(f)));
	expect_stopped(FROM_POD, tcp(IP_B, 80, IP_A, CPORT), DENIED);
}

/* A ping of A, isolated for ingress only, is tracked: its reply comes back,
 * but B may not ping A with the same identifier (the reverse of A's ping). */
Test(policy, ping_a_pod_sent_lets_its_reply_in_and_no_request)
{
	struct flow ping = icmp_echo(IP_A, IP_B);

	endpoint(POD_A, EW_EP_INGRESS_ISOLATED);
	expect_arrival(FROM_POD, ping);
	expect_tracked(ping);
	expect_arrival(FROM_POD, reply_of(ping));
	expect_stopped(FROM_POD, icmp_echo(IP_B, IP_A), DENIED);
	expect_policy_entries(1);
}

/* An echo reply no ping of A's asked for is judged as any ICMP, and
 * tracking it would let the next request in: it opens nothing. */
Test(policy, unasked_echo_reply_is_judged_and_opens_nothing)
{
	struct flow ping = icmp_echo(IP_A, IP_B);

	endpoint(POD_A, EW_EP_INGRESS_ISOLATED);
	expect_stopped(FROM_POD, reply_of(ping), DENIED);
	allow_prefix(ID_CLIENT, ID_SERVER, IN, 0, 0, PREFIX_ALL);
	expect_arrival(FROM_POD, reply_of(ping));
	expect_policy_entries(0);
}

Test(policy, reply_from_another_node_passes_after_decapsulation)
{
	struct flow f = tcp(IP_A, CPORT, IP_C, 80);

	a_may_only_reach(ID_REMOTE, 80);
	expect_encapsulated(f, f);
	expect_only_the_reply_comes_back(FROM_NODE2, f);
}

Test(policy, reply_from_the_world_passes_what_the_stack_delivers)
{
	struct flow f = tcp(IP_A, CPORT, IP_WORLD, 443);

	a_may_only_reach(EW_IDENTITY_WORLD, 443);
	expect_to_stack(f);
	expect_only_the_reply_comes_back(FROM_STACK, f);
}

/* --- pods no policy selects ------------------------------------------------------------ */

/* Not judged and not tracked, whatever ew_policy holds for their identities
 * and whatever the packet (fragments too). */
Test(policy, pods_without_policy_are_neither_judged_nor_tracked)
{
	allow(ID_SERVER, ID_OTHER, IN, IPPROTO_TCP, 80);
	allow(ID_CLIENT, ID_OTHER, OUT, IPPROTO_TCP, 80);
	expect_arrival(FROM_POD, tcp(IP_A, CPORT, IP_B, 80));
	expect_arrival(FROM_POD, udp(IP_B, CPORT, IP_A, 53));
	expect_arrival(FROM_POD, icmp_echo(IP_A, IP_D));
	expect_arrival(FROM_POD, later_fragment(tcp(IP_A, CPORT, IP_B, 80)));
	expect_arrival(FROM_NODE2, tcp(IP_C, CPORT, IP_A, 80));
	expect_arrival(FROM_STACK, tcp(IP_WORLD, CPORT, IP_B, 80));
	expect_to_stack(tcp(IP_A, CPORT, IP_WORLD, 443));
	cr_expect_eq(bh_ct_count(&h, 0), 0, "%d conntrack entries, want none",
		     bh_ct_count(&h, 0));
}

/* --- the node --------------------------------------------------------------------------- */

/* Kubelet's probes come from the node's address, through the stack; another
 * node is no host. */
Test(policy, node_reaches_an_ingress_isolated_pod)
{
	endpoint(POD_B, EW_EP_INGRESS_ISOLATED);
	expect_arrival(FROM_STACK, tcp(NODE1, CPORT, IP_B, BE_PORT));
	expect_stopped(FROM_STACK, tcp(NODE2, CPORT, IP_B, BE_PORT), DENIED);
}

Test(policy, hairpin_source_mapped_to_the_host_reaches_an_ingress_isolated_pod)
{
	endpoint(POD_B, EW_EP_INGRESS_ISOLATED);
	expect_arrival(FROM_STACK, tcp(HAIRPIN, CPORT, IP_B, BE_PORT));
	ipcache(HAIRPIN, 32, EW_IDENTITY_WORLD, EW_IDENTITY_WORLD);
	expect_stopped(FROM_STACK, tcp(HAIRPIN, CPORT + 1, IP_B, BE_PORT), DENIED);
}

/* --- fragments ---------------------------------------------------------------------------- */

/* A later fragment has no ports to judge: dropped for an isolated pod
 * whatever its rules allow, on every way in. */
Test(policy, later_fragment_to_an_ingress_isolated_pod_is_dropped)
{
	enum path path;

	endpoint(POD_B, EW_EP_INGRESS_ISOLATED);
	allow_prefix(ID_SERVER, EW_IDENTITY_ANY, IN, 0, 0, PREFIX_ALL);
	for (path = FROM_POD; path < PATHS; path++)
		expect_stopped(path, later_fragment(tcp(path_peer(path), CPORT, IP_B, 80)),
			       EW_REASON_DROP_FRAGMENT);
}

Test(policy, later_fragment_from_an_egress_isolated_pod_is_dropped)
{
	endpoint(POD_A, EW_EP_EGRESS_ISOLATED);
	allow_prefix(ID_CLIENT, EW_IDENTITY_ANY, OUT, 0, 0, PREFIX_ALL);
	expect_sender_drop(later_fragment(tcp(IP_A, CPORT, IP_B, 80)), EW_REASON_DROP_FRAGMENT);
	expect_sender_drop(later_fragment(udp(IP_A, CPORT, IP_WORLD, 53)),
			   EW_REASON_DROP_FRAGMENT);
}

/* Only the direction a pod is isolated in drops them. */
Test(policy, later_fragment_passes_where_its_direction_is_not_isolated)
{
	endpoint(POD_A, EW_EP_INGRESS_ISOLATED);
	endpoint(POD_D, EW_EP_EGRESS_ISOLATED);
	expect_arrival(FROM_POD, later_fragment(tcp(IP_A, CPORT, IP_B, 80)));
	expect_arrival(FROM_POD, later_fragment(tcp(IP_B, CPORT, IP_D, 80)));
	expect_policy_entries(0);
}

/* The first fragment (MF, offset 0) carries the ports. */
Test(policy, first_fragment_is_judged_by_its_ports)
{
	endpoint(POD_B, EW_EP_INGRESS_ISOLATED);
	allow(ID_SERVER, ID_CLIENT, IN, IPPROTO_TCP, 80);
	expect_arrival(FROM_POD, first_fragment(tcp(IP_A, CPORT, IP_B, 80)));
	expect_stopped(FROM_POD, first_fragment(tcp(IP_A, CPORT, IP_B, 81)), DENIED);
}

/* --- what policy never gets to judge ------------------------------------------------------- */

/* A pod that borrows another's address is dropped as a spoofer, whatever
 * policy would say of the packet. */
Test(policy, spoofed_source_is_dropped_before_policy)
{
	struct pkt in;

	endpoint(POD_A, EW_EP_EGRESS_ISOLATED | EW_EP_POLICY_FAILED);
	endpoint(POD_B, EW_EP_INGRESS_ISOLATED);
	frame(&in, MAC_A, GW_A, tcp(IP_D, CPORT, IP_B, 80), TTL);
	expect_verdict(BH_FROM_CONTAINER, &in, TC_ACT_SHOT, EW_REASON_DROP_SPOOFED_SOURCE, OUT,
		       NULL);
}

/* A TCP header too short for its ports cannot be judged: malformed for an
 * isolated pod, from a pod as from the stack. */
Test(policy, truncated_tcp_header_to_an_isolated_pod_is_malformed)
{
	enum path paths[] = { FROM_POD, FROM_STACK };
	struct pkt in;
	size_t i;

	endpoint(POD_B, EW_EP_INGRESS_ISOLATED);
	allow_prefix(ID_SERVER, EW_IDENTITY_ANY, IN, 0, 0, PREFIX_ALL);
	for (i = 0; i < 2; i++) {
		arriving(&in, paths[i], tcp(path_peer(paths[i]), CPORT, IP_B, 80));
		pkt_truncate(&in, in.l4_off + 2);
		pkt_finish(&in);
		expect_verdict(path_prog[paths[i]], &in, TC_ACT_SHOT, EW_REASON_DROP_MALFORMED,
			       IN, NULL);
	}
}

/* --- a pod whose policy could not be programmed -------------------------------------------- */

Test(policy, pod_whose_policy_failed_sends_nothing)
{
	endpoint(POD_A, EW_EP_POLICY_FAILED);
	allow_prefix(ID_CLIENT, EW_IDENTITY_ANY, OUT, 0, 0, PREFIX_ALL);
	expect_sender_drop(tcp(IP_A, CPORT, IP_B, 80), EW_REASON_DROP_POLICY_FAILED);
	expect_sender_drop(icmp_echo(IP_A, IP_WORLD), EW_REASON_DROP_POLICY_FAILED);
	expect_sender_drop(tcp(IP_A, CPORT, IP_C, 80), EW_REASON_DROP_POLICY_FAILED);
}

/* Not even from the node, nor replies of what it was allowed before. */
Test(policy, pod_whose_policy_failed_receives_nothing)
{
	const uint32_t both = EW_EP_INGRESS_ISOLATED | EW_EP_EGRESS_ISOLATED;
	struct flow f = tcp(IP_A, CPORT, IP_B, 80);
	enum path path;

	endpoint(POD_A, both);
	allow_prefix(ID_CLIENT, EW_IDENTITY_ANY, IN, 0, 0, PREFIX_ALL);
	allow_prefix(ID_CLIENT, EW_IDENTITY_ANY, OUT, 0, 0, PREFIX_ALL);
	expect_arrival(FROM_POD, f);
	endpoint(POD_A, both | EW_EP_POLICY_FAILED);
	expect_stopped(FROM_POD, reply_of(f), EW_REASON_DROP_POLICY_FAILED);
	for (path = FROM_POD; path < PATHS; path++)
		expect_stopped(path, tcp(path_peer(path), CPORT, IP_A, 80),
			       EW_REASON_DROP_POLICY_FAILED);
	expect_stopped(FROM_STACK, tcp(NODE1, CPORT, IP_A, 80), EW_REASON_DROP_POLICY_FAILED);
}

/* --- services: judged between the pods, after translation --------------------------------- */

/* The ClusterIP SVC:SVC_PORT/TCP with one backend, addr:BE_PORT. */
static void clusterip(uint32_t addr)
{
	static const uint32_t slot[1] = { BACKEND_ID };

	cr_assert_eq(bh_add_backend(&h, BACKEND_ID, addr, BE_PORT, 0), 0);
	cr_assert_eq(bh_add_frontend(&h, SVC, SVC_PORT, IPPROTO_TCP, 1, 1, 0, 0), 0);
	cr_assert_eq(bh_add_table(&h, 1, slot, 1), 0);
}

/*
 * judge, isolated in dir, may exchange with peer what names the service
 * port only: A's connection to the ClusterIP, to B, is denied (counted in
 * dir) after translation. Once the rule names the backend's port, it passes.
 */
static void expect_judged_on_the_backends_port(struct pod judge, uint32_t peer, uint8_t dir)
{
	struct flow f = tcp(IP_A, CPORT, SVC, SVC_PORT), to_b = sent_to(f, IP_B, BE_PORT);

	clusterip(IP_B);
	endpoint(judge, dir == IN ? EW_EP_INGRESS_ISOLATED : EW_EP_EGRESS_ISOLATED);
	allow(judge.identity, peer, dir, IPPROTO_TCP, SVC_PORT);
	expect_dropped_as(f, to_b, DENIED, dir);
	allow(judge.identity, peer, dir, IPPROTO_TCP, BE_PORT);
	expect_arrival_as(FROM_POD, f, to_b);
	expect_tracked(to_b);
}

Test(policy, clusterip_is_judged_on_the_backends_address_and_port)
{
	expect_judged_on_the_backends_port(POD_A, ID_SERVER, OUT);
}

Test(policy, clusterip_to_an_ingress_isolated_backend_is_judged_on_its_port)
{
	expect_judged_on_the_backends_port(POD_B, ID_CLIENT, IN);
}

/* The reply is translated back to come from the service, and passes the
 * client's ingress isolation on the connection's entry. */
Test(policy, local_backends_reply_passes_back_to_an_isolated_client)
{
	struct flow f = tcp(IP_A, CPORT, SVC, SVC_PORT), to_b = sent_to(f, IP_B, BE_PORT);

	clusterip(IP_B);
	a_may_only_reach(ID_SERVER, BE_PORT);
	expect_arrival_as(FROM_POD, f, to_b);
	expect_arrival_as(FROM_POD, reply_of(to_b), reply_of(f));
}

Test(policy, remote_backends_reply_passes_back_to_an_isolated_client)
{
	struct flow f = tcp(IP_A, CPORT, SVC, SVC_PORT), to_c = sent_to(f, IP_C, BE_PORT);

	clusterip(IP_C);
	a_may_only_reach(ID_REMOTE, BE_PORT);
	expect_encapsulated(f, to_c);
	expect_arrival_as(FROM_NODE2, reply_of(to_c), reply_of(f));
}

/* B reaching itself through its service comes from the hairpin address,
 * the host's: B's ingress isolation lets it in. */
Test(policy, pod_reaching_itself_through_a_service_passes_its_ingress_isolation)
{
	clusterip(IP_B);
	endpoint(POD_B, EW_EP_INGRESS_ISOLATED);
	expect_arrival_as(FROM_POD, tcp(IP_B, CPORT, SVC, SVC_PORT),
			  tcp(HAIRPIN, CPORT, IP_B, BE_PORT));
}

/* --- L7: connections only the proxy may carry ------------------------------------------ */

#define PROXY_UNREACHABLE EW_REASON_DROP_PROXY_UNREACHABLE

static void allow_l7(uint32_t subject, uint32_t peer, uint8_t dir, uint16_t port)
{
	cr_assert_eq(bh_add_policy_flags(&h, subject, peer, dir, IPPROTO_TCP, port, PREFIX_PORT,
					 RULE, EW_POLICY_L7), 0);
}

static void expect_verdicts(uint32_t verdict, uint32_t dir, int64_t n)
{
	int64_t got = bh_verdicts(&h, verdict, dir);

	cr_expect_eq(got, n, "%" PRId64 " verdicts %u/%u, want %" PRId64, got, verdict, dir, n);
}

/* No proxy listens in this namespace (or bpf_sk_assign() refuses a test
 * run's packet): an L7-policed connection fails closed wherever it comes
 * from, counted as proxied, and nothing is tracked. */
Test(policy, l7_connection_without_the_proxy_fails_closed)
{
	endpoint(POD_B, EW_EP_INGRESS_ISOLATED | EW_EP_INGRESS_L7);
	allow_l7(ID_SERVER, ID_CLIENT, IN, 80);
	allow_l7(ID_SERVER, ID_REMOTE, IN, 80);
	expect_stopped(FROM_POD, tcp(IP_A, CPORT, IP_B, 80), PROXY_UNREACHABLE);
	expect_stopped(FROM_NODE2, tcp(IP_C, CPORT, IP_B, 80), PROXY_UNREACHABLE);
	expect_verdicts(EW_VERDICT_PROXIED, IN, 2);
	expect_verdicts(EW_VERDICT_ALLOWED, IN, 0);
	expect_policy_entries(0);
	expect_drop_event(&h, PROXY_UNREACHABLE, IN, NULL);
}

/* The stack cannot hand a connection to the proxy from the host veth's
 * egress: one to an L7 port that came through it is refused. */
Test(policy, l7_connection_through_the_stack_is_refused)
{
	endpoint(POD_B, EW_EP_INGRESS_ISOLATED | EW_EP_INGRESS_L7);
	allow_l7(ID_SERVER, EW_IDENTITY_WORLD, IN, BE_PORT);
	expect_stopped(FROM_STACK, tcp(IP_WORLD, CPORT, IP_B, BE_PORT), PROXY_UNREACHABLE);
	expect_policy_entries(0);
}

/* An egress L7 rule sends the client's connection to the proxy, wherever
 * the server is. */
Test(policy, egress_l7_connection_goes_to_the_proxy_for_local_and_remote_servers)
{
	struct flow to_b = tcp(IP_A, CPORT, IP_B, 80), to_c = tcp(IP_A, CPORT, IP_C, 80);

	endpoint(POD_A, EW_EP_EGRESS_ISOLATED | EW_EP_EGRESS_L7);
	allow_l7(ID_CLIENT, ID_SERVER, OUT, 80);
	allow_l7(ID_CLIENT, ID_REMOTE, OUT, 80);
	expect_dropped_as(to_b, to_b, PROXY_UNREACHABLE, OUT);
	expect_dropped_as(to_c, to_c, PROXY_UNREACHABLE, OUT);
	expect_verdicts(EW_VERDICT_PROXIED, OUT, 2);
}

/* An L4 rule for the same peer and port, or for every peer, lifts the L7
 * check: the connection is forwarded in the kernel and tracked. */
Test(policy, l4_rule_for_the_same_peer_and_port_lifts_the_l7_check)
{
	struct flow f = tcp(IP_A, CPORT, IP_B, 80), g = tcp(IP_D, CPORT, IP_B, 80);

	endpoint(POD_B, EW_EP_INGRESS_ISOLATED | EW_EP_INGRESS_L7);
	allow_l7(ID_SERVER, ID_CLIENT, IN, 80);
	allow(ID_SERVER, ID_CLIENT, IN, IPPROTO_TCP, 80);
	expect_arrival(FROM_POD, f);
	expect_tracked(f);
	allow_l7(ID_SERVER, ID_OTHER, IN, 80);
	allow(ID_SERVER, EW_IDENTITY_ANY, IN, IPPROTO_TCP, 80);
	expect_arrival(FROM_POD, g);
	expect_verdicts(EW_VERDICT_ALLOWED, IN, 2);
	expect_verdicts(EW_VERDICT_PROXIED, IN, 0);
}

/* A new connection policy allowed is reported once, with its rule; its
 * tracked packets are not. */
Test(policy, allowed_connection_is_an_event_with_its_rule)
{
	struct flow f = tcp(IP_A, CPORT, IP_B, 80);
	struct ew_event ev[1];
	struct pkt in;

	endpoint(POD_B, EW_EP_INGRESS_ISOLATED);
	allow(ID_SERVER, ID_CLIENT, IN, IPPROTO_TCP, 80);
	arriving(&in, FROM_POD, f);
	cr_assert_eq(bh_run_prog(&h, BH_FROM_CONTAINER, in.data, in.len, IF_HERE, &res), 0);
	cr_expect_eq(res.retval, TC_ACT_REDIRECT);
	expect_policy_event(&h, EW_REASON_FORWARD, IN, RULE, &in);
	arriving(&in, FROM_POD, established(f));
	cr_assert_eq(bh_run_prog(&h, BH_FROM_CONTAINER, in.data, in.len, IF_HERE, &res), 0);
	cr_expect_eq(res.retval, TC_ACT_REDIRECT);
	cr_expect_eq(events_of_type(&h, EW_EVENT_POLICY, ev, 1), 0,
		     "a tracked packet made a policy event");
	expect_verdicts(EW_VERDICT_ALLOWED, IN, 1);
}
