/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rewriting IPv4 addresses and TCP/UDP ports with their checksums. TC uses
 * the kernel's checksum helpers, which also keep offloaded (CHECKSUM_PARTIAL)
 * packets right; XDP sees only received frames with full checksums and
 * patches them in place (RFC 1624).
 */
#ifndef EW_BPF_NAT_H
#define EW_BPF_NAT_H

#include <stddef.h>
#include <linux/tcp.h>
#include <linux/udp.h>

#include "common.h"

enum nat_side {
	NAT_SRC,
	NAT_DST,
};

/* Where one side's address and port are, and the L4 checksum. */
struct nat_offsets {
	__u32 addr, port, csum;
};

static __always_inline struct nat_offsets nat_offsets(__u32 l4_off, __u8 proto,
						      enum nat_side side)
{
	return (struct nat_offsets){
		.addr = ETH_HLEN + (side == NAT_DST ? offsetof(struct iphdr, daddr) :
						      offsetof(struct iphdr, saddr)),
		.port = l4_off + (side == NAT_DST ? offsetof(struct udphdr, dest) :
						    offsetof(struct udphdr, source)),
		.csum = l4_off + (proto == IPPROTO_TCP ? offsetof(struct tcphdr, check) :
							 offsetof(struct udphdr, check)),
	};
}

/* Rewrites one side of the Ethernet + IPv4 + TCP/UDP frame in skb, whose L4
 * header is at l4_off. Packet pointers are invalid afterwards. */
static __always_inline int nat4_skb(struct __sk_buff *skb, __u32 l4_off, __u8 proto,
				    enum nat_side side, __be32 old_addr, __be32 new_addr,
				    __be16 old_port, __be16 new_port)
{
	struct nat_offsets off = nat_offsets(l4_off, proto, side);
	/* a UDP checksum of 0 means none: it stays 0 */
	__u64 mangled = proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;

	if (old_addr != new_addr &&
	    (bpf_l4_csum_replace(skb, off.csum, old_addr, new_addr,
				 BPF_F_PSEUDO_HDR | mangled | sizeof(new_addr)) ||
	     bpf_l3_csum_replace(skb, ETH_HLEN + offsetof(struct iphdr, check),
				 old_addr, new_addr, sizeof(new_addr)) ||
	     bpf_skb_store_bytes(skb, off.addr, &new_addr, sizeof(new_addr), 0)))
		return -1;
	if (old_port != new_port &&
	    (bpf_l4_csum_replace(skb, off.csum, old_port, new_port,
				 mangled | sizeof(new_port)) ||
	     bpf_skb_store_bytes(skb, off.port, &new_port, sizeof(new_port), 0)))
		return -1;
	return 0;
}

static __always_inline __u16 csum_fold32(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	return (sum & 0xffff) + (sum >> 16);
}

/* The checksum after the 16-bit words from become to (RFC 1624, eqn. 3). */
static __always_inline __sum16 csum_replace(__sum16 check, __u32 from, __u32 to,
					    bool is32)
{
	__u32 sum = (__u16)~check;

	sum += (__u16)~from + (__u16)to;
	if (is32)
		sum += (__u16)~(from >> 16) + (__u16)(to >> 16);
	return ~csum_fold32(csum_fold32(sum));
}

/* Rewrites one side of an IPv4 + TCP/UDP packet in place; l4 points at the
 * TCP or UDP header (its first 4 bytes, the ports, checked), check at its
 * checksum (checked). */
static __always_inline void nat4_xdp(struct iphdr *iph, void *l4, __sum16 *check,
				     enum nat_side side, __be32 new_addr, __be16 new_port)
{
	__be32 *addr = side == NAT_DST ? &iph->daddr : &iph->saddr;
	__be16 *port = l4 + (side == NAT_DST ? offsetof(struct udphdr, dest) :
					      offsetof(struct udphdr, source));
	bool no_csum = iph->protocol == IPPROTO_UDP && !*check;

	iph->check = csum_replace(iph->check, *addr, new_addr, true);
	if (!no_csum) {
		*check = csum_replace(*check, *addr, new_addr, true);
		*check = csum_replace(*check, *port, new_port, false);
		if (iph->protocol == IPPROTO_UDP && !*check)
			*check = 0xffff; /* 0 would mean none */
	}
	*addr = new_addr;
	*port = new_port;
}

#endif /* EW_BPF_NAT_H */
