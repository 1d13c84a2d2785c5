// SPDX-License-Identifier: Apache-2.0
/*
 * TC ingress on the host side of every pod veth: packets leaving a pod.
 * One program serves all pods; it learns who sent a packet from the
 * endpoint map, never from per-pod compiled constants.
 */
#include "lib/common.h"
#include "lib/arp.h"
#include "lib/config.h"
#include "lib/encap.h"
#include "lib/endpoint.h"
#include "lib/l3.h"
#include "lib/metrics.h"
#include "lib/parse.h"
#include "lib/route.h"

/* The source must be the pod attached to this interface, with its own MAC:
 * a pod cannot borrow another pod's address. */
static __always_inline int check_source(struct __sk_buff *skb,
					const struct ethhdr *eth,
					const struct iphdr *iph)
{
	struct ew_endpoint *src = endpoint_lookup(iph->saddr);

	if (!src)
		return EW_REASON_DROP_UNKNOWN_SOURCE;
	if (src->ifindex != skb->ifindex || !mac_equal(eth->h_source, src->mac))
		return EW_REASON_DROP_SPOOFED_SOURCE;
	return EW_REASON_FORWARD;
}

static __always_inline int to_stack(struct __sk_buff *skb)
{
	count(skb, EW_REASON_TO_STACK, EW_DIR_EGRESS);
	return TC_ACT_OK;
}

/* The destination's pod is on the node that route names. */
static __always_inline int to_remote_node(struct __sk_buff *skb,
					  struct iphdr *iph,
					  const struct ew_route *route)
{
	struct ew_config *cfg = config_get();
	__u8 tos = iph->tos;

	if (!cfg || !cfg->underlay_ifindex)
		return drop(skb, EW_REASON_DROP_NO_OVERLAY, EW_DIR_EGRESS);
	ipv4_dec_ttl(iph);
	if (vxlan_encap(skb, cfg, route, tos))
		return drop(skb, EW_REASON_DROP_ENCAP_FAILED, EW_DIR_EGRESS);
	count(skb, EW_REASON_ENCAP, EW_DIR_EGRESS);
	/* The kernel routes the outer packet and fills in the MACs. */
	return bpf_redirect_neigh(cfg->underlay_ifindex, NULL, 0, 0);
}

static __always_inline int ipv4_from_pod(struct __sk_buff *skb,
					 struct cursor *c, struct ethhdr *eth)
{
	struct iphdr *iph = parse_iphdr(c);
	struct ew_endpoint *dst;
	struct ew_route *route;
	int reason;

	if (!iph)
		return drop(skb, EW_REASON_DROP_MALFORMED, EW_DIR_EGRESS);
	reason = check_source(skb, eth, iph);
	if (reason != EW_REASON_FORWARD)
		return drop(skb, reason, EW_DIR_EGRESS);

	dst = endpoint_lookup(iph->daddr);
	route = dst ? NULL : route_lookup(iph->daddr);
	if (!dst && !route)
		return to_stack(skb);
	if (route && (route->flags & EW_ROUTE_LOCAL))
		return drop(skb, EW_REASON_DROP_NO_ENDPOINT, EW_DIR_EGRESS);
	if (route && (route->flags & EW_ROUTE_CLUSTER))
		return drop(skb, EW_REASON_DROP_NO_NODE, EW_DIR_EGRESS);
	/* The stack answers an expiring TTL with ICMP time exceeded. */
	if (iph->ttl <= 1)
		return to_stack(skb);
	if (route)
		return to_remote_node(skb, iph, route);

	ipv4_dec_ttl(iph);
	eth_rewrite(eth, dst->node_mac, dst->mac);
	count(skb, EW_REASON_FORWARD, EW_DIR_EGRESS);
	return redirect_to_endpoint(dst);
}

SEC("tc")
int from_container(struct __sk_buff *skb)
{
	struct ethhdr *eth;
	struct cursor c;

	pull_headers(skb);
	c = cursor_init(skb);
	eth = parse_ethhdr(&c);
	if (!eth)
		return drop(skb, EW_REASON_DROP_MALFORMED, EW_DIR_EGRESS);

	switch (eth->h_proto) {
	case bpf_htons(ETH_P_IP):
		return ipv4_from_pod(skb, &c, eth);
	case bpf_htons(ETH_P_ARP):
		return arp_from_pod(skb, &c, eth);
	default:
		return drop(skb, EW_REASON_DROP_UNSUPPORTED_L3, EW_DIR_EGRESS);
	}
}

char LICENSE[] SEC("license") = "GPL";
