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
#include "lib/proxy.h"
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

/* Out of this node or to its stack; the egress verdict (forward or proxy)
 * was the last. */
static __always_inline int leave_node(struct __sk_buff *skb, struct iphdr *iph,
				      const struct ew_route *route, const struct ew_ct_key *t,
				      const struct policy_open *open, int egress)
{
	if (egress == EW_REASON_PROXY)
		return to_proxy_tracked(skb, t, open, EW_DIR_EGRESS);
	if (open->track)
		policy_track(skb, t, open);
	if (!route)
		return to_stack(skb);
	if (route->flags & EW_ROUTE_LOCAL)
		return drop(skb, EW_REASON_DROP_NO_ENDPOINT, EW_DIR_EGRESS);
	if (route->flags & EW_ROUTE_CLUSTER)
		return drop(skb, EW_REASON_DROP_NO_NODE, EW_DIR_EGRESS);
	/* The stack answers an expiring TTL with ICMP time exceeded. */
	if (iph->ttl <= 1)
		return to_stack(skb);
	return to_remote_node(skb, iph, route, EW_DIR_EGRESS);
}

/* To dst, a pod of this node, which judges the packet too: tracked only
 * after both verdicts allowed it. */
static __always_inline int to_node_pod(struct __sk_buff *skb, struct ethhdr *eth,
				       struct iphdr *iph, const struct ew_endpoint *dst,
				       const struct ew_ct_key *t, enum tuple_kind kind,
				       struct policy_open *open, int egress)
{
	int reason;

	if (iph->ttl <= 1)
		return to_stack(skb);
	reason = policy_judge(dst, EW_DIR_INGRESS, t, kind, open);
	if (reason == EW_REASON_PROXY || (reason == EW_REASON_FORWARD && egress == EW_REASON_PROXY))
		return to_proxy_tracked(skb, t, open,
					reason == EW_REASON_PROXY ? EW_DIR_INGRESS : EW_DIR_EGRESS);
	if (reason != EW_REASON_FORWARD)
		return drop(skb, reason, EW_DIR_INGRESS);
	if (open->track)
		policy_track(skb, t, open);
	ipv4_dec_ttl(iph);
	return to_endpoint(skb, eth, dst, EW_DIR_EGRESS);
}

/* Routes the IPv4 packet of pod src (services translated, egress policy
 * passed with verdict egress: forward or proxy) to its destination; t is
 * its tuple between the pods, open what the egress judge said of the
 * connection it opens. */
static __always_inline int route_from_pod(struct __sk_buff *skb, struct ethhdr *eth,
					  struct iphdr *iph, const struct ew_endpoint *src,
					  const struct ew_ct_key *t, enum tuple_kind kind,
					  struct policy_open *open, int egress)
{
	struct ew_endpoint *dst = endpoint_lookup(iph->daddr);
	struct bpf_sock *sk;

	if (((src->flags & EW_EP_INGRESS_L7) || (dst && (dst->flags & EW_EP_EGRESS_L7))) &&
	    (sk = proxy_upstream(skb, t)))
		return proxy_deliver(skb, sk, EW_DIR_EGRESS);
	if (dst)
		return to_node_pod(skb, eth, iph, dst, t, kind, open, egress);
	return leave_node(skb, iph, route_lookup(iph->daddr), t, open, egress);
}

static __always_inline int ipv4_from_pod(struct __sk_buff *skb,
					 struct cursor *c, struct ethhdr *eth)
{
	struct iphdr *iph = parse_iphdr(c);
	struct policy_open open = {};
	struct ew_endpoint *src;
	enum tuple_kind kind;
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
		reason = policy_judge(src, EW_DIR_EGRESS, &t, kind, &open);
	if (reason != EW_REASON_FORWARD && reason != EW_REASON_PROXY)
		return drop(skb, reason, EW_DIR_EGRESS);
	if (verdict == EW_REASON_TO_UNDERLAY) {
		/* A NodePort reply: never the start of a connection to proxy. */
		if (reason == EW_REASON_PROXY)
			return drop(skb, EW_REASON_DROP_PROXY_UNREACHABLE, EW_DIR_EGRESS);
		if (open.track)
			policy_track(skb, &t, &open);
		return to_underlay(skb, EW_DIR_EGRESS);
	}

	/* NAT may have moved the packet: find the headers again. */
	*c = cursor_init(skb);
	eth = parse_ethhdr(c);
	iph = eth ? parse_iphdr(c) : NULL;
	if (!iph)
		return drop(skb, EW_REASON_DROP_MALFORMED, EW_DIR_EGRESS);
	return route_from_pod(skb, eth, iph, src, &t, kind, &open, reason);
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

/* Whether the proxy sent skb from its upstream socket: its requests were
 * checked. */
static __always_inline bool from_proxy(const struct __sk_buff *skb)
{
	return (skb->mark & EW_MARK_MASK) == EW_MARK_FROM_PROXY;
}

/*
 * What the stack hands a pod passes the pod's ingress policy first. Replies
 * of services are translated back here too: the L7 proxy answers a client
 * from the backend's address. A connection to proxy that came through the
 * stack (not from the proxy) cannot be handed to it from here, egress: it
 * fails closed.
 */
SEC("tc")
int to_container(struct __sk_buff *skb)
{
	struct policy_open open = {};
	struct ew_endpoint *ep;
	enum tuple_kind kind;
	struct iphdr *iph;
	struct ew_ct_key t;
	struct cursor c;
	int reason;

	if (!ipv4_frame(skb, &c))
		return TC_ACT_OK;
	iph = parse_iphdr(&c);
	if (!iph)
		return drop(skb, EW_REASON_DROP_MALFORMED, EW_DIR_INGRESS);
	ep = endpoint_lookup(iph->daddr);
	if (!ep)
		return TC_ACT_OK;
	kind = packet_tuple(iph, &c, &t);
	reason = service_xlate(skb, &t, kind, c.pos - (void *)(long)skb->data);
	if (reason != EW_REASON_FORWARD)
		return drop(skb, reason, EW_DIR_INGRESS);
	reason = policy_judge(ep, EW_DIR_INGRESS, &t, kind, &open);
	if (reason == EW_REASON_PROXY) {
		reason = from_proxy(skb) ? EW_REASON_FORWARD : EW_REASON_DROP_PROXY_UNREACHABLE;
		open.proxy = false;
	}
	if (reason != EW_REASON_FORWARD)
		return drop(skb, reason, EW_DIR_INGRESS);
	if (open.track)
		policy_track(skb, &t, &open);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
