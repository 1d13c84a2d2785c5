/* SPDX-License-Identifier: Apache-2.0 */
/*
 * VXLAN between nodes (RFC 7348), written by the datapath itself:
 *
 *   [outer eth][outer IPv4][UDP][VXLAN][inner eth][inner IPv4 ...]
 *
 * bpf_skb_adjust_room inserts or removes everything between the outer
 * Ethernet header and the inner IPv4 header, so the frame keeps its first 14
 * bytes and GSO packets stay GSO (the kernel records the tunnel for TSO).
 */
#ifndef EW_BPF_ENCAP_H
#define EW_BPF_ENCAP_H

#include <linux/udp.h>

#include "common.h"
#include "config.h"

/* Linux 6.3; Debian 12's UAPI headers predate it. Where the kernel does not
 * know it, decap falls back to a plain shrink. */
#ifndef BPF_F_ADJ_ROOM_DECAP_L3_IPV4
#define BPF_F_ADJ_ROOM_DECAP_L3_IPV4 (1ULL << 7)
#endif

#define VXLAN_FLAG_VNI 0x08000000 /* the I flag: the VNI field is valid */

struct vxlanhdr {
	__be32 flags;
	__be32 vni; /* VNI in the upper 24 bits */
};

/* Everything encap inserts after the outer Ethernet header. */
struct vxlan_encap {
	struct iphdr ip;
	struct udphdr udp;
	struct vxlanhdr vxlan;
	struct ethhdr inner;
} __attribute__((packed));

_Static_assert(sizeof(struct vxlan_encap) == EW_VXLAN_OVERHEAD, "VXLAN overhead");

EW_MAP(ew_nodes, BPF_MAP_TYPE_HASH, struct ew_node_key, struct ew_node_info,
       EW_MAX_NODES);

static __always_inline bool node_known(__u32 ip)
{
	struct ew_node_key key = { .ip = ip };

	return bpf_map_lookup_elem(&ew_nodes, &key) != NULL;
}

static __always_inline __u16 csum_fold(__u64 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/* A flow's packets share a source port and flows spread over the dynamic
 * range 49152-65535, so underlay ECMP and RSS see the inner flow. */
static __always_inline __be16 vxlan_source_port(struct __sk_buff *skb)
{
	return bpf_htons(0xc000 | (bpf_get_hash_recalc(skb) & 0x3fff));
}

static __always_inline void vxlan_encap_fill(struct vxlan_encap *h,
					     struct __sk_buff *skb,
					     const struct ew_config *cfg,
					     const struct ew_route *route,
					     __u8 tos, __u32 inner_len)
{
	__u32 outer_len = inner_len + sizeof(*h);
	struct iphdr ip = {
		.version = 4,
		.ihl = 5,
		.tos = tos,
		.tot_len = bpf_htons(outer_len),
		.frag_off = bpf_htons(0x4000), /* DF: pod MTUs leave room */
		.ttl = 64,
		.protocol = IPPROTO_UDP,
		.saddr = cfg->node_ip,
		.daddr = route->node_ip,
	};

	ip.check = csum_fold(bpf_csum_diff(NULL, 0, (__be32 *)&ip, sizeof(ip), 0));
	h->ip = ip;
	h->udp.source = vxlan_source_port(skb);
	h->udp.dest = cfg->vxlan_port;
	h->udp.len = bpf_htons(outer_len - sizeof(ip));
	/* UDP checksum 0: allowed for VXLAN over IPv4, and keeps GSO simple */
	h->udp.check = 0;
	h->vxlan.flags = bpf_htonl(VXLAN_FLAG_VNI);
	h->vxlan.vni = bpf_htonl(cfg->vni << 8);
	__builtin_memcpy(h->inner.h_dest, route->vtep_mac, ETH_ALEN);
	__builtin_memcpy(h->inner.h_source, cfg->vtep_mac, ETH_ALEN);
	h->inner.h_proto = bpf_htons(ETH_P_IP);
}

/* Wraps the IPv4 packet after the Ethernet header in VXLAN to route's node.
 * Packet pointers are invalid afterwards. */
static __always_inline int vxlan_encap(struct __sk_buff *skb,
				       const struct ew_config *cfg,
				       const struct ew_route *route, __u8 tos)
{
	const __u64 flags = BPF_F_ADJ_ROOM_FIXED_GSO | BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 |
			    BPF_F_ADJ_ROOM_ENCAP_L4_UDP | BPF_F_ADJ_ROOM_ENCAP_L2_ETH |
			    BPF_F_ADJ_ROOM_ENCAP_L2(ETH_HLEN);
	struct vxlan_encap h;

	vxlan_encap_fill(&h, skb, cfg, route, tos, skb->len - ETH_HLEN);
	if (bpf_skb_adjust_room(skb, sizeof(h), BPF_ADJ_ROOM_MAC, flags))
		return -1;
	return bpf_skb_store_bytes(skb, ETH_HLEN, &h, sizeof(h), 0);
}

/* Removes len bytes of outer headers after the Ethernet header. */
static __always_inline int vxlan_decap(struct __sk_buff *skb, __u32 len)
{
	const __u64 flags = BPF_F_ADJ_ROOM_FIXED_GSO | BPF_F_ADJ_ROOM_DECAP_L3_IPV4;

	if (!bpf_skb_adjust_room(skb, -(__s32)len, BPF_ADJ_ROOM_MAC, flags))
		return 0;
	return bpf_skb_adjust_room(skb, -(__s32)len, BPF_ADJ_ROOM_MAC,
				   BPF_F_ADJ_ROOM_FIXED_GSO);
}

#endif /* EW_BPF_ENCAP_H */
