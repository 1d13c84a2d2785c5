/* SPDX-License-Identifier: Apache-2.0 */
/* The last step of a forwarded packet: into a local pod or to another node. */
#ifndef EW_BPF_FORWARD_H
#define EW_BPF_FORWARD_H

#include "common.h"
#include "config.h"
#include "encap.h"
#include "endpoint.h"
#include "l3.h"
#include "metrics.h"
#include "route.h"

static __always_inline int to_endpoint(struct __sk_buff *skb, struct ethhdr *eth,
				       const struct ew_endpoint *ep, enum ew_dir dir)
{
	eth_rewrite(eth, ep->node_mac, ep->mac);
	count(skb, EW_REASON_FORWARD, dir);
	return redirect_to_endpoint(ep);
}

/* The destination's pod is on the node that route names. */
static __always_inline int to_remote_node(struct __sk_buff *skb, struct iphdr *iph,
					  const struct ew_route *route, enum ew_dir dir)
{
	struct ew_config *cfg = config_get();
	__u8 tos = iph->tos;

	if (!cfg || !cfg->underlay_ifindex)
		return drop(skb, EW_REASON_DROP_NO_OVERLAY, dir);
	ipv4_dec_ttl(iph);
	if (vxlan_encap(skb, cfg, route, tos))
		return drop(skb, EW_REASON_DROP_ENCAP_FAILED, dir);
	count(skb, EW_REASON_ENCAP, dir);
	/* The kernel routes the outer packet and fills in the MACs. */
	return bpf_redirect_neigh(cfg->underlay_ifindex, NULL, 0, 0);
}

/* A NodePort reply, translated back: to the external client through the
 * underlay, on the kernel's route and neighbour. */
static __always_inline int to_underlay(struct __sk_buff *skb, enum ew_dir dir)
{
	struct ew_config *cfg = config_get();

	if (!cfg || !cfg->underlay_ifindex)
		return drop(skb, EW_REASON_DROP_NO_ROUTE, dir);
	count(skb, EW_REASON_TO_UNDERLAY, dir);
	return bpf_redirect_neigh(cfg->underlay_ifindex, NULL, 0, 0);
}

#endif /* EW_BPF_FORWARD_H */
