/* SPDX-License-Identifier: Apache-2.0 */
/* What a router does to an IPv4 packet it forwards. */
#ifndef EW_BPF_L3_H
#define EW_BPF_L3_H

#include "common.h"

/* Decrements the TTL and patches the header checksum incrementally (RFC 1624):
 * the TTL is the high byte of its 16-bit word, so the sum grows by 0x0100. */
static __always_inline void ipv4_dec_ttl(struct iphdr *iph)
{
	__u32 check = iph->check;

	check += bpf_htons(0x0100);
	iph->check = (__u16)(check + (check >= 0xFFFF));
	iph->ttl--;
}

static __always_inline void eth_rewrite(struct ethhdr *eth, const __u8 *src,
					const __u8 *dst)
{
	__builtin_memcpy(eth->h_source, src, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, dst, ETH_ALEN);
}

#endif /* EW_BPF_L3_H */
