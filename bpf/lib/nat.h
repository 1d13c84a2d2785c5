/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rewriting IPv4 addresses and TCP/UDP ports with their checksums, in place
 * and incrementally (RFC 1624). At TC the L4 checksum is left to the
 * kernel's helper, which also keeps offloaded (CHECKSUM_PARTIAL) packets
 * right; XDP sees only received frames with full checksums.
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

/* Rewrites one side of the Ethernet + IPv4 + TCP/UDP frame in skb, whose L4
 * header is at l4_off, from old to new. Address, port and IPv4 checksum are
 * written directly; the L4 checksum by the kernel's helper, which alone
 * knows whether it is offloaded (CHECKSUM_PARTIAL: only the pseudo-header's
 * address is in it then). Packet pointers are invalid afterwards. */
static __always_inline int nat4_skb(struct __sk_buff *skb, __u32 l4_off, __u8 proto,
				    enum nat_side side, __be32 old_addr, __be32 new_addr,
				    __be16 old_port, __be16 new_port)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct iphdr *iph = data + ETH_HLEN;
	__be16 *ports = data + l4_off;
	__u32 csum_off = l4_off + (proto == IPPROTO_TCP ? offsetof(struct tcphdr, check) :
							  offsetof(struct udphdr, check));
	/* a UDP checksum of 0 means none: it stays 0 */
	__u64 mangled = proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;

	if (l4_off > 0xff || (void *)(iph + 1) > end || (void *)(ports + 2) > end)
		return -1;
	if (old_addr != new_addr) {
		iph->check = csum_replace(iph->check, old_addr, new_addr, true);
		if (side == NAT_DST)
			iph->daddr = new_addr;
		else
			iph->saddr = new_addr;
	}
	if (old_port != new_port)
		ports[side == NAT_DST ? 1 : 0] = new_port;
	if (old_addr != new_addr &&
	    bpf_l4_csum_replace(skb, csum_off, old_addr, new_addr,
				BPF_F_PSEUDO_HDR | mangled | sizeof(new_addr)))
		return -1;
	if (old_port != new_port &&
	    bpf_l4_csum_replace(skb, csum_off, old_port, new_port, mangled | sizeof(new_port)))
		return -1;
	return 0;
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
