/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pod's gateway answers ARP: every pod has a /32 address and a default
 * route via the gateway, so the only ARP it sends is "who has <gateway>", and
 * the answer is always the host-side veth's MAC.
 */
#ifndef EW_BPF_ARP_H
#define EW_BPF_ARP_H

#include "common.h"
#include "endpoint.h"
#include "metrics.h"
#include "parse.h"

/* From linux/if_arp.h, which cannot be included without libc. */
#define ARPHRD_ETHER 1
#define ARPOP_REQUEST 1
#define ARPOP_REPLY 2

struct arp_ipv4 {
	struct {
		__be16 ar_hrd;
		__be16 ar_pro;
		__u8 ar_hln;
		__u8 ar_pln;
		__be16 ar_op;
	} hdr;
	__u8 sha[ETH_ALEN];
	__u32 sip;
	__u8 tha[ETH_ALEN];
	__u32 tip;
} __attribute__((packed));

static __always_inline bool arp_is_ipv4_over_eth(const struct arp_ipv4 *arp)
{
	return arp->hdr.ar_hrd == bpf_htons(ARPHRD_ETHER) &&
	       arp->hdr.ar_pro == bpf_htons(ETH_P_IP) &&
	       arp->hdr.ar_hln == ETH_ALEN && arp->hdr.ar_pln == 4;
}

/* Turns the request into its reply in place: "tip is at mac". */
static __always_inline void arp_make_reply(struct ethhdr *eth,
					   struct arp_ipv4 *arp, const __u8 *mac)
{
	__u32 tip = arp->tip;

	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, mac, ETH_ALEN);
	arp->hdr.ar_op = bpf_htons(ARPOP_REPLY);
	__builtin_memcpy(arp->tha, arp->sha, ETH_ALEN);
	arp->tip = arp->sip;
	__builtin_memcpy(arp->sha, mac, ETH_ALEN);
	arp->sip = tip;
}

/* ARP from a pod must come from the pod attached here, with its own MAC.
 * Requests are answered; replies (to the node's own requests for the pod)
 * go on to the node's stack. */
static __always_inline int arp_from_pod(struct __sk_buff *skb,
					struct cursor *c, struct ethhdr *eth)
{
	struct arp_ipv4 *arp = cursor_pull(c, sizeof(*arp));
	struct ew_endpoint *ep;

	if (!arp)
		return drop(skb, EW_REASON_DROP_MALFORMED, EW_DIR_EGRESS);
	if (!arp_is_ipv4_over_eth(arp) || arp->tip == arp->sip ||
	    (arp->hdr.ar_op != bpf_htons(ARPOP_REQUEST) &&
	     arp->hdr.ar_op != bpf_htons(ARPOP_REPLY)))
		return drop(skb, EW_REASON_DROP_ARP_UNSUPPORTED, EW_DIR_EGRESS);

	ep = endpoint_lookup(arp->sip);
	if (!ep)
		return drop(skb, EW_REASON_DROP_UNKNOWN_SOURCE, EW_DIR_EGRESS);
	if (ep->ifindex != skb->ifindex || !mac_equal(arp->sha, ep->mac) ||
	    !mac_equal(eth->h_source, ep->mac))
		return drop(skb, EW_REASON_DROP_SPOOFED_SOURCE, EW_DIR_EGRESS);

	if (arp->hdr.ar_op == bpf_htons(ARPOP_REPLY)) {
		count(skb, EW_REASON_TO_STACK, EW_DIR_EGRESS);
		return TC_ACT_OK;
	}
	arp_make_reply(eth, arp, ep->node_mac);
	count(skb, EW_REASON_ARP_REPLY, EW_DIR_EGRESS);
	return bpf_redirect(skb->ifindex, 0);
}

#endif /* EW_BPF_ARP_H */
