// SPDX-License-Identifier: Apache-2.0
/*
 * TC ingress on the node's underlay interface (the one holding its
 * InternalIP): VXLAN from other nodes is checked, decapsulated and handed
 * straight to the destination pod. NodePort connections bpf_xdp.c sent to
 * pods on other nodes leave in VXLAN. Everything else passes untouched.
 * TC egress on the same interface (from_host): the node's own packets to
 * pods on other nodes leave in VXLAN too.
 */
#include "lib/common.h"
#include "lib/config.h"
#include "lib/conntrack.h"
#include "lib/encap.h"
#include "lib/endpoint.h"
#include "lib/forward.h"
#include "lib/l3.h"
#include "lib/metrics.h"
#include "lib/parse.h"
#include "lib/policy.h"
#include "lib/proxy.h"
#include "lib/route.h"
#include "lib/service.h"

/* Outer headers through the inner IPv4 header, options included. */
#define EW_OVERLAY_HEADERS_LEN (ETH_HLEN + 60 + 8 + 8 + ETH_HLEN + 60)

/* The VXLAN frame after the outer IPv4 header is taken apart. */
struct vxlan_frame {
	struct udphdr *udp;
	struct vxlanhdr *vxlan;
	struct ethhdr *inner_eth;
	struct iphdr *inner_ip;
};

static __always_inline bool is_fragment(const struct iphdr *iph)
{
	return iph->frag_off & bpf_htons(0x3fff); /* MF or an offset */
}

/* Checks a VXLAN frame addressed to this node; returns the verdict reason
 * that lets it in (EW_REASON_FORWARD) or the drop reason. */
static __always_inline int check_vxlan(struct cursor *c, const struct iphdr *outer,
				       const struct ew_config *cfg,
				       struct vxlan_frame *f)
{
	f->vxlan = cursor_pull(c, sizeof(*f->vxlan));
	f->inner_eth = cursor_pull(c, sizeof(*f->inner_eth));
	if (!f->vxlan || !f->inner_eth || is_fragment(outer) ||
	    !(f->vxlan->flags & bpf_htonl(VXLAN_FLAG_VNI)))
		return EW_REASON_DROP_MALFORMED;
	if (!node_known(outer->saddr))
		return EW_REASON_DROP_UNKNOWN_NODE;
	if (bpf_ntohl(f->vxlan->vni) >> 8 != cfg->vni)
		return EW_REASON_DROP_VNI_MISMATCH;
	if (f->inner_eth->h_proto != bpf_htons(ETH_P_IP))
		return EW_REASON_DROP_UNSUPPORTED_L3;
	f->inner_ip = parse_iphdr(c);
	return f->inner_ip ? EW_REASON_FORWARD : EW_REASON_DROP_MALFORMED;
}

/* Decapsulated packet t for ep, a pod of this node: to the proxy's
 * socket it is for, to the proxy, or past ep's ingress policy to ep. */
static __always_inline int overlay_to_pod(struct __sk_buff *skb, struct ethhdr *eth,
					  const struct ew_endpoint *ep, const struct ew_ct_key *t,
					  enum tuple_kind kind)
{
	struct policy_open open = {};
	struct bpf_sock *sk;
	int reason;

	if ((ep->flags & EW_EP_EGRESS_L7) && (sk = proxy_upstream(skb, t)))
		return proxy_deliver(skb, sk, EW_DIR_INGRESS);
	reason = policy_judge(ep, EW_DIR_INGRESS, t, kind, &open);
	if (reason == EW_REASON_PROXY)
		return to_proxy_tracked(skb, t, &open, EW_DIR_INGRESS);
	if (reason != EW_REASON_FORWARD)
		return drop(skb, reason, EW_DIR_INGRESS);
	if (open.track)
		policy_track(skb, t, &open);
	return to_endpoint(skb, eth, ep, EW_DIR_INGRESS);
}

/* Decapsulated VXLAN for this node's pods, as [eth][IPv4]. Replies of
 * services whose client is here are translated back first. */
static __always_inline int to_local_pod(struct __sk_buff *skb)
{
	struct ew_endpoint *ep;
	struct ew_route *route;
	enum tuple_kind kind;
	struct ethhdr *eth;
	struct iphdr *iph;
	struct ew_ct_key t;
	struct cursor c = cursor_init(skb);
	int reason;

	eth = parse_ethhdr(&c);
	iph = eth ? parse_iphdr(&c) : NULL;
	if (!iph)
		return drop(skb, EW_REASON_DROP_MALFORMED, EW_DIR_INGRESS);
	kind = packet_tuple(iph, &c, &t);
	reason = service_xlate(skb, &t, kind, c.pos - (void *)(long)skb->data);
	if (reason == EW_REASON_TO_UNDERLAY)
		return to_underlay(skb, EW_DIR_INGRESS);
	if (reason != EW_REASON_FORWARD)
		return drop(skb, reason, EW_DIR_INGRESS);

	/* NAT may have moved the packet: find the headers again. */
	c = cursor_init(skb);
	eth = parse_ethhdr(&c);
	iph = eth ? parse_iphdr(&c) : NULL;
	if (!iph)
		return drop(skb, EW_REASON_DROP_MALFORMED, EW_DIR_INGRESS);
	ep = endpoint_lookup(iph->daddr);
	if (ep)
		return overlay_to_pod(skb, eth, ep, &t, kind);
	route = route_lookup(iph->daddr);
	if (route && (route->flags & EW_ROUTE_LOCAL))
		return drop(skb, EW_REASON_DROP_NO_ENDPOINT, EW_DIR_INGRESS);
	count(skb, EW_REASON_TO_STACK, EW_DIR_INGRESS);
	return TC_ACT_OK;
}

/* The reply of a pod elsewhere to a NodePort client bpf_xdp.c sent there
 * from this node's address: back to the client, as from the NodePort. */
static __always_inline int nodeport_reply(struct __sk_buff *skb, const struct iphdr *iph,
					  struct cursor *c)
{
	__u32 l4_off = c->pos - (void *)(long)skb->data;
	struct ew_ct_entry *reply;
	struct ew_ct_key t;
	int reason;

	if (!ct_tuple(iph, c, &t))
		return TC_ACT_OK;
	reply = ct_lookup(&t, EW_CT_REPLY);
	if (!reply || !(reply->flags & EW_CT_NODEPORT) || !(reply->flags & EW_CT_SNAT))
		return TC_ACT_OK;
	reason = service_reply(skb, &t, reply, l4_off);
	if (reason != EW_REASON_TO_UNDERLAY)
		return drop(skb, reason, EW_DIR_INGRESS);
	return to_underlay(skb, EW_DIR_INGRESS);
}

/*
 * Plain IPv4 from the underlay is the stack's (it also routes to local pods,
 * with their MTU), but for NodePort connections bpf_xdp.c translated to this
 * node's address for a pod on another node: they go there in VXLAN, and the
 * pod's replies go back to the client.
 */
static __always_inline int plain_from_underlay(struct __sk_buff *skb,
					       const struct ew_config *cfg,
					       struct iphdr *iph, struct cursor *c)
{
	struct ew_route *route;

	if (iph->daddr == cfg->node_ip)
		return nodeport_reply(skb, iph, c);
	if (iph->saddr != cfg->node_ip || iph->ttl <= 1)
		return TC_ACT_OK;
	route = route_lookup(iph->daddr);
	if (!route || (route->flags & (EW_ROUTE_LOCAL | EW_ROUTE_CLUSTER)))
		return TC_ACT_OK;
	return to_remote_node(skb, iph, route, EW_DIR_INGRESS);
}

SEC("tc")
int from_underlay(struct __sk_buff *skb)
{
	struct ew_config *cfg = config_get();
	struct vxlan_frame f;
	struct cursor l4;
	struct iphdr *outer;
	struct ethhdr *eth;
	struct cursor c;
	__u32 outer_len;
	int reason;

	if (!cfg)
		return TC_ACT_OK;
	if (skb->len < EW_OVERLAY_HEADERS_LEN)
		bpf_skb_pull_data(skb, skb->len);
	else
		bpf_skb_pull_data(skb, EW_OVERLAY_HEADERS_LEN);
	c = cursor_init(skb);
	eth = parse_ethhdr(&c);
	if (!eth || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	outer = parse_iphdr(&c);
	if (!outer)
		return TC_ACT_OK;
	/* A later fragment carries no UDP header: its bytes only look like one. */
	if (outer->protocol != IPPROTO_UDP || outer->daddr != cfg->node_ip ||
	    ipv4_is_later_fragment(outer))
		return plain_from_underlay(skb, cfg, outer, &c);
	l4 = c;
	f.udp = cursor_pull(&c, sizeof(*f.udp));
	if (!f.udp || f.udp->dest != cfg->vxlan_port)
		return plain_from_underlay(skb, cfg, outer, &l4);

	/* From here on the frame is VXLAN for this node: every verdict counts. */
	reason = check_vxlan(&c, outer, cfg, &f);
	if (reason != EW_REASON_FORWARD)
		return drop(skb, reason, EW_DIR_INGRESS);
	outer_len = (void *)f.inner_ip - (void *)outer;
	if (vxlan_decap(skb, outer_len))
		return drop(skb, EW_REASON_DROP_MALFORMED, EW_DIR_INGRESS);
	return to_local_pod(skb);
}

/*
 * TC egress on the underlay interface: what the node's own stack sends to a
 * pod on another node (the L7 proxy's connections, host processes) goes in
 * VXLAN like the pods' traffic. The agent routes each node's pod CIDR via
 * that node's InternalIP, so the Ethernet header, kept as the outer one,
 * already names it. VXLAN edgewire sent is to a node, no pod: untouched.
 */
SEC("tc")
int from_host(struct __sk_buff *skb)
{
	struct ew_config *cfg = config_get();
	struct ew_route *route;
	struct iphdr *iph;
	struct cursor c;

	if (!cfg)
		return TC_ACT_OK;
	if (!ipv4_frame(skb, &c))
		return TC_ACT_OK;
	iph = parse_iphdr(&c);
	if (!iph)
		return TC_ACT_OK;
	route = route_lookup(iph->daddr);
	if (!route || (route->flags & (EW_ROUTE_LOCAL | EW_ROUTE_CLUSTER)))
		return TC_ACT_OK;
	if (vxlan_encap(skb, cfg, route, iph->tos))
		return drop(skb, EW_REASON_DROP_ENCAP_FAILED, EW_DIR_EGRESS);
	count(skb, EW_REASON_ENCAP, EW_DIR_EGRESS);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
