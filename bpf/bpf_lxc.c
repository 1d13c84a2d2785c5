// SPDX-License-Identifier: Apache-2.0
/*
 * The host side of every pod veth. TC ingress (from_container): packets
 * leaving a pod. TC egress (to_container): packets the node's stack delivers
 * to a pod, for its ingress policy; packets edgewire delivers itself skip
 * that hook (bpf_redirect_peer) and are judged where they are redirected.
 * One program serves all pods; it learns who sent a packet from the
 * endpoint map, never from per-pod compiled constants.
 */
#include "lib/common.h"
#include "lib/arp.h"
#include "lib/endpoint.h"
#include "lib/forward.h"
#include "lib/metrics.h"
#include "lib/parse.h"
#include "lib/policy.h"
#include "lib/route.h"
#include "lib/service.h"

/* The source must be the pod attached to this interface, with its own MAC:
 * a pod cannot borrow another pod's address. */
static __always_inline int check_source(struct __sk_buff *skb,
					const struct ethhdr *eth,
					const struct ew_endpoint *src)
{
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

/* Routes the IPv4 packet (services translated, egress policy passed) to
 * its destination; t is its tuple between the pods, track what the egress
 * verdict said of tracking it. */
static __always_inline int route_from_pod(struct __sk_buff *skb, struct ethhdr *eth,
					  struct iphdr *iph, const struct ew_ct_key *t,
					  enum tuple_kind kind, bool track)
{
	struct ew_endpoint *dst = endpoint_lookup(iph->daddr);
	struct ew_route *route = dst ? NULL : route_lookup(iph->daddr);
	int reason;

	/* A local pod judges the packet again below: tracked only after that. */
	if (track && !dst)
		policy_track(t);
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
		return to_remote_node(skb, iph, route, EW_DIR_EGRESS);
	reason = policy_judge(dst, EW_DIR_INGRESS, t, kind, &track);
	if (reason != EW_REASON_FORWARD)
		return drop(skb, reason, EW_DIR_INGRESS);
	if (track)
		policy_track(t);
	ipv4_dec_ttl(iph);
	return to_endpoint(skb, eth, dst, EW_DIR_EGRESS);
}

static __always_inline int ipv4_from_pod(struct __sk_buff *skb,
					 struct cursor *c, struct ethhdr *eth)
{
	struct iphdr *iph = parse_iphdr(c);
	struct ew_endpoint *src;
	enum tuple_kind kind;
	bool track = false;
	struct ew_ct_key t;
	int reason, verdict;

	if (!iph)
		return drop(skb, EW_REASON_DROP_MALFORMED, EW_DIR_EGRESS);
	src = endpoint_lookup(iph->saddr);
	reason = check_source(skb, eth, src);
	if (reason != EW_REASON_FORWARD || !src)
		return drop(skb, reason, EW_DIR_EGRESS);
	kind = packet_tuple(iph, c, &t);
	verdict = service_xlate(skb, &t, kind, c->pos - (void *)(long)skb->data);
	reason = verdict;
	if (verdict == EW_REASON_FORWARD || verdict == EW_REASON_TO_UNDERLAY)
		reason = policy_judge(src, EW_DIR_EGRESS, &t, kind, &track);
	if (reason != EW_REASON_FORWARD)
		return drop(skb, reason, EW_DIR_EGRESS);
	if (verdict == EW_REASON_TO_UNDERLAY) {
		if (track)
			policy_track(&t);
		return to_underlay(skb, EW_DIR_EGRESS);
	}

	/* NAT may have moved the packet: find the headers again. */
	*c = cursor_init(skb);
	eth = parse_ethhdr(c);
	iph = eth ? parse_iphdr(c) : NULL;
	if (!iph)
		return drop(skb, EW_REASON_DROP_MALFORMED, EW_DIR_EGRESS);
	return route_from_pod(skb, eth, iph, &t, kind, track);
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

/* What the stack hands a pod passes the pod's ingress policy first. */
SEC("tc")
int to_container(struct __sk_buff *skb)
{
	struct ew_endpoint *ep;
	enum tuple_kind kind;
	struct ethhdr *eth;
	struct iphdr *iph;
	struct ew_ct_key t;
	struct cursor c;
	int reason;

	pull_headers(skb);
	c = cursor_init(skb);
	eth = parse_ethhdr(&c);
	if (!eth || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	iph = parse_iphdr(&c);
	if (!iph)
		return drop(skb, EW_REASON_DROP_MALFORMED, EW_DIR_INGRESS);
	ep = endpoint_lookup(iph->daddr);
	if (!ep)
		return TC_ACT_OK;
	kind = packet_tuple(iph, &c, &t);
	reason = policy_check(ep, EW_DIR_INGRESS, &t, kind);
	if (reason != EW_REASON_FORWARD)
		return drop(skb, reason, EW_DIR_INGRESS);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
