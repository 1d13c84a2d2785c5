// SPDX-License-Identifier: Apache-2.0
/*
 * TC ingress on the node's underlay interface (the one holding its
 * InternalIP): VXLAN from other nodes is checked, decapsulated and handed
 * straight to the destination pod. Everything else passes untouched.
 */
#include "lib/common.h"
#include "lib/config.h"
#include "lib/encap.h"
#include "lib/endpoint.h"
#include "lib/l3.h"
#include "lib/metrics.h"
#include "lib/parse.h"
#include "lib/route.h"

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

/* After decap the frame is [outer eth][inner IPv4]; deliver it. */
static __always_inline int deliver_decapped(struct __sk_buff *skb, __u32 daddr)
{
	struct ew_endpoint *ep = endpoint_lookup(daddr);
	struct ew_route *route;
	struct ethhdr *eth;
	struct cursor c;

	if (!ep) {
		route = route_lookup(daddr);
		if (route && (route->flags & EW_ROUTE_LOCAL))
			return drop(skb, EW_REASON_DROP_NO_ENDPOINT, EW_DIR_INGRESS);
		count(skb, EW_REASON_TO_STACK, EW_DIR_INGRESS);
		return TC_ACT_OK;
	}
	c = cursor_init(skb);
	eth = parse_ethhdr(&c);
	if (!eth)
		return drop(skb, EW_REASON_DROP_MALFORMED, EW_DIR_INGRESS);
	eth_rewrite(eth, ep->node_mac, ep->mac);
	count(skb, EW_REASON_FORWARD, EW_DIR_INGRESS);
	return redirect_to_endpoint(ep);
}

SEC("tc")
int from_underlay(struct __sk_buff *skb)
{
	struct ew_config *cfg = config_get();
	struct vxlan_frame f;
	struct iphdr *outer;
	struct ethhdr *eth;
	struct cursor c;
	__u32 daddr, outer_len;
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
	if (!outer || outer->protocol != IPPROTO_UDP || outer->daddr != cfg->node_ip)
		return TC_ACT_OK;
	/* A later fragment carries no UDP header: its bytes only look like one. */
	if (outer->frag_off & bpf_htons(0x1fff))
		return TC_ACT_OK;
	f.udp = cursor_pull(&c, sizeof(*f.udp));
	if (!f.udp || f.udp->dest != cfg->vxlan_port)
		return TC_ACT_OK;

	/* From here on the frame is VXLAN for this node: every verdict counts. */
	reason = check_vxlan(&c, outer, cfg, &f);
	if (reason != EW_REASON_FORWARD)
		return drop(skb, reason, EW_DIR_INGRESS);
	daddr = f.inner_ip->daddr;
	outer_len = (void *)f.inner_ip - (void *)outer;
	if (vxlan_decap(skb, outer_len))
		return drop(skb, EW_REASON_DROP_MALFORMED, EW_DIR_INGRESS);
	return deliver_decapped(skb, daddr);
}

char LICENSE[] SEC("license") = "GPL";
