/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bounds-checked header parsing. A cursor walks the linear packet data; every
 * pull either returns a pointer to a header that lies wholly inside the packet
 * or NULL, so a header pointer that is not NULL is always safe to read.
 */
#ifndef EW_BPF_PARSE_H
#define EW_BPF_PARSE_H

#include "common.h"

/* Enough linear data for Ethernet, the longest IPv4 header and the ports. */
#define EW_HEADERS_LEN (ETH_HLEN + 60 + 8)

struct cursor {
	void *pos;
	void *end;
};

/* Makes the headers linear when the skb arrived fragmented; packet pointers
 * taken before this call are invalid after it. */
static __always_inline void pull_headers(struct __sk_buff *skb)
{
	__u32 len = skb->len < EW_HEADERS_LEN ? skb->len : EW_HEADERS_LEN;

	if ((void *)(long)skb->data + len > (void *)(long)skb->data_end)
		bpf_skb_pull_data(skb, len);
}

static __always_inline struct cursor cursor_init(struct __sk_buff *skb)
{
	return (struct cursor){
		.pos = (void *)(long)skb->data,
		.end = (void *)(long)skb->data_end,
	};
}

static __always_inline void *cursor_pull(struct cursor *c, __u32 len)
{
	void *hdr = c->pos;

	if (hdr + len > c->end)
		return NULL;
	c->pos = hdr + len;
	return hdr;
}

static __always_inline struct ethhdr *parse_ethhdr(struct cursor *c)
{
	return cursor_pull(c, sizeof(struct ethhdr));
}

/* An IPv4 header with a sane version and length, options included. */
static __always_inline struct iphdr *parse_iphdr(struct cursor *c)
{
	struct iphdr *iph = c->pos;

	if ((void *)(iph + 1) > c->end)
		return NULL;
	if (iph->version != 4 || iph->ihl < 5)
		return NULL;
	if (bpf_ntohs(iph->tot_len) < iph->ihl * 4)
		return NULL;
	return cursor_pull(c, iph->ihl * 4);
}

/* The headers pulled, c at the start of skb's frame: past its Ethernet
 * header when that is IPv4's (returned), NULL for a frame of another
 * protocol or too short for one. */
static __always_inline struct ethhdr *ipv4_frame(struct __sk_buff *skb, struct cursor *c)
{
	struct ethhdr *eth;

	pull_headers(skb);
	*c = cursor_init(skb);
	eth = parse_ethhdr(c);
	return eth && eth->h_proto == bpf_htons(ETH_P_IP) ? eth : NULL;
}

#endif /* EW_BPF_PARSE_H */
