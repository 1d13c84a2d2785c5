// SPDX-License-Identifier: Apache-2.0
/* The packet builder of pkt.h. */
#include "pkt.h"

#include <stdio.h>
#include <string.h>

/* Appends len zeroed bytes and returns them, or NULL (and marks the packet
 * unusable) when they do not fit. */
static void *pkt_put(struct pkt *p, size_t len)
{
	void *hdr;

	if (p->overflow || p->len + len > sizeof(p->data)) {
		p->overflow = true;
		return NULL;
	}
	hdr = p->data + p->len;
	memset(hdr, 0, len);
	p->len += len;
	return hdr;
}

void pkt_init(struct pkt *p)
{
	memset(p, 0, sizeof(*p));
}

void pkt_eth(struct pkt *p, const uint8_t src[ETH_ALEN],
	     const uint8_t dst[ETH_ALEN], uint16_t ethertype)
{
	struct ether_header *eth = pkt_put(p, sizeof(*eth));

	if (!eth)
		return;
	memcpy(eth->ether_dhost, dst, ETH_ALEN);
	memcpy(eth->ether_shost, src, ETH_ALEN);
	eth->ether_type = htons(ethertype);
}

void pkt_ipv4(struct pkt *p, uint32_t saddr, uint32_t daddr, uint8_t proto,
	      uint8_t ttl)
{
	size_t off = p->len;
	struct iphdr *iph = pkt_put(p, sizeof(*iph));

	if (!iph)
		return;
	iph->version = 4;
	iph->ihl = sizeof(*iph) / 4;
	iph->id = htons(0x1234);
	iph->frag_off = htons(IP_DF);
	iph->ttl = ttl;
	iph->protocol = proto;
	iph->saddr = saddr;
	iph->daddr = daddr;
	p->l3 = PKT_IPV4;
	p->l3_off = off;
}

void pkt_ipv4_options(struct pkt *p, const void *opts, size_t len)
{
	struct iphdr *iph = pkt_ipv4_hdr(p);
	void *dst;

	if (!iph || len % 4 || len > 40 ||
	    p->len != p->l3_off + (size_t)iph->ihl * 4) {
		p->overflow = true; /* misuse: the packet would be a lie */
		return;
	}
	dst = pkt_put(p, len);
	if (!dst)
		return;
	memcpy(dst, opts, len);
	iph = pkt_ipv4_hdr(p);
	iph->ihl += len / 4;
}

void pkt_ipv6(struct pkt *p, const uint8_t saddr[16], const uint8_t daddr[16],
	      uint8_t nexthdr, uint8_t hop_limit)
{
	size_t off = p->len;
	struct ip6_hdr *ip6 = pkt_put(p, sizeof(*ip6));

	if (!ip6)
		return;
	ip6->ip6_flow = htonl(6u << 28);
	ip6->ip6_nxt = nexthdr;
	ip6->ip6_hlim = hop_limit;
	memcpy(&ip6->ip6_src, saddr, 16);
	memcpy(&ip6->ip6_dst, daddr, 16);
	p->l3 = PKT_IPV6;
	p->l3_off = off;
}

void pkt_tcp(struct pkt *p, uint16_t sport, uint16_t dport, uint8_t flags)
{
	size_t off = p->len;
	struct tcphdr *th = pkt_put(p, sizeof(*th));

	if (!th)
		return;
	th->th_sport = htons(sport);
	th->th_dport = htons(dport);
	th->th_seq = htonl(0x01020304);
	th->th_ack = htonl(flags & TH_ACK ? 0x0a0b0c0d : 0);
	th->th_off = sizeof(*th) / 4;
	th->th_flags = flags;
	th->th_win = htons(65535);
	p->l4 = PKT_TCP;
	p->l4_off = off;
}

void pkt_udp(struct pkt *p, uint16_t sport, uint16_t dport)
{
	size_t off = p->len;
	struct udphdr *uh = pkt_put(p, sizeof(*uh));

	if (!uh)
		return;
	uh->uh_sport = htons(sport);
	uh->uh_dport = htons(dport);
	p->l4 = PKT_UDP;
	p->l4_off = off;
}

void pkt_icmp(struct pkt *p, uint8_t type, uint16_t id, uint16_t seq)
{
	size_t off = p->len;
	/* type, code, checksum, id, sequence: the 8 bytes of an echo header */
	struct icmphdr *ih = pkt_put(p, 8);

	if (!ih)
		return;
	ih->type = type;
	ih->code = 0;
	ih->un.echo.id = htons(id);
	ih->un.echo.sequence = htons(seq);
	p->l4 = PKT_ICMP;
	p->l4_off = off;
}

void pkt_icmp_echo(struct pkt *p, uint16_t id, uint16_t seq)
{
	pkt_icmp(p, ICMP_ECHO, id, seq);
}

void pkt_arp(struct pkt *p, uint16_t op, const uint8_t sha[ETH_ALEN],
	     uint32_t sip, const uint8_t tha[ETH_ALEN], uint32_t tip)
{
	size_t off = p->len;
	struct ether_arp *arp = pkt_put(p, sizeof(*arp));

	if (!arp)
		return;
	arp->arp_hrd = htons(ARPHRD_ETHER);
	arp->arp_pro = htons(ETHERTYPE_IP);
	arp->arp_hln = ETH_ALEN;
	arp->arp_pln = 4;
	arp->arp_op = htons(op);
	memcpy(arp->arp_sha, sha, ETH_ALEN);
	memcpy(arp->arp_spa, &sip, 4);
	memcpy(arp->arp_tha, tha, ETH_ALEN);
	memcpy(arp->arp_tpa, &tip, 4);
	p->l3 = PKT_ARP;
	p->l3_off = off;
}

void pkt_l4(struct pkt *p, uint8_t proto, uint16_t sport, uint16_t dport)
{
	switch (proto) {
	case IPPROTO_TCP:
		pkt_tcp(p, sport, dport, TH_SYN);
		break;
	case IPPROTO_UDP:
		pkt_udp(p, sport, dport);
		break;
	case IPPROTO_ICMP:
		pkt_icmp(p, dport, sport, 1);
		break;
	}
}

void pkt_payload(struct pkt *p, const void *data, size_t len)
{
	void *dst = pkt_put(p, len);

	if (dst && len)
		memcpy(dst, data, len);
}

void pkt_vxlan(struct pkt *p, uint32_t vni)
{
	size_t off = p->len;
	struct pkt_vxlanhdr *vh;

	if (p->vxlan || p->l3 != PKT_IPV4 || p->l4 != PKT_UDP ||
	    p->len != p->l4_off + sizeof(struct udphdr)) {
		p->overflow = true; /* misuse: VXLAN rides right on UDP over IPv4, once */
		return;
	}
	vh = pkt_put(p, sizeof(*vh));
	if (!vh)
		return;
	vh->flags = htonl(PKT_VXLAN_FLAG_I);
	vh->vni = htonl(vni << 8);
	p->vxlan = true;
	p->outer_l3_off = p->l3_off;
	p->outer_l4_off = p->l4_off;
	p->vxlan_off = off;
	p->l3 = p->l4 = PKT_NONE;
	p->l3_off = p->l4_off = 0;
}

void pkt_tunnel(struct pkt *p, const struct pkt_tunnel *t)
{
	struct iphdr *outer;

	pkt_eth(p, t->eth_src, t->eth_dst, ETH_P_IP);
	pkt_ipv4(p, t->saddr, t->daddr, IPPROTO_UDP, 64);
	outer = pkt_ipv4_hdr(p);
	if (outer) {
		outer->id = 0;
		outer->tos = t->tos;
	}
	pkt_udp(p, t->sport, t->dport);
	pkt_vxlan(p, t->vni);
	pkt_eth(p, t->vtep_src, t->vtep_dst, t->inner_type ? t->inner_type : ETH_P_IP);
}

/* Sum of the big-endian 16-bit words of data, a trailing odd byte padded
 * with zero, added to sum. Not folded. */
static uint32_t csum_add(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *b = data;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)b[i] << 8 | b[i + 1];
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

uint16_t pkt_csum(const void *data, size_t len, uint32_t sum)
{
	return htons((uint16_t)~csum_fold(csum_add(data, len, sum)));
}

/* The pseudo header of TCP and UDP, as a partial sum. */
static uint32_t pseudo_sum(const struct pkt *p, uint8_t proto, size_t l4_len)
{
	uint32_t sum = proto + (uint32_t)(l4_len & 0xffff) + (uint32_t)(l4_len >> 16);
	const uint8_t *l3 = p->data + p->l3_off;

	if (p->l3 == PKT_IPV4)
		return csum_add(l3 + offsetof(struct iphdr, saddr), 8, sum);
	return csum_add(l3 + offsetof(struct ip6_hdr, ip6_src), 32, sum);
}

/* True when len bytes at off are still in the packet (not truncated away). */
static bool pkt_holds(const struct pkt *p, size_t off, size_t len)
{
	return off + len <= p->len;
}

static void finish_l4(struct pkt *p)
{
	uint8_t *l4 = p->data + p->l4_off;
	size_t len = p->len - p->l4_off;
	struct tcphdr *th;
	struct udphdr *uh;
	struct icmphdr *ih;

	switch (p->l4) {
	case PKT_TCP:
		if (!pkt_holds(p, p->l4_off, sizeof(*th)))
			break;
		th = (struct tcphdr *)l4;
		th->th_sum = 0;
		th->th_sum = pkt_csum(l4, len, pseudo_sum(p, IPPROTO_TCP, len));
		break;
	case PKT_UDP:
		if (!pkt_holds(p, p->l4_off, sizeof(*uh)))
			break;
		uh = (struct udphdr *)l4;
		uh->uh_ulen = htons((uint16_t)len);
		uh->uh_sum = 0;
		uh->uh_sum = pkt_csum(l4, len, pseudo_sum(p, IPPROTO_UDP, len));
		/* RFC 768: a computed 0 is sent as all ones */
		if (!uh->uh_sum)
			uh->uh_sum = 0xffff;
		break;
	case PKT_ICMP:
		if (!pkt_holds(p, p->l4_off, 8))
			break;
		ih = (struct icmphdr *)l4;
		ih->checksum = 0;
		ih->checksum = pkt_csum(l4, len, 0);
		break;
	default:
		break;
	}
}

/* Outer UDP length and IPv4 header of a VXLAN frame, after the inner packet. */
static void finish_outer(struct pkt *p)
{
	struct iphdr *iph = (struct iphdr *)(p->data + p->outer_l3_off);
	struct udphdr *uh = (struct udphdr *)(p->data + p->outer_l4_off);

	if (pkt_holds(p, p->outer_l4_off, sizeof(*uh))) {
		uh->uh_ulen = htons((uint16_t)(p->len - p->outer_l4_off));
		uh->uh_sum = 0;
	}
	if (pkt_holds(p, p->outer_l3_off, sizeof(*iph)) &&
	    pkt_holds(p, p->outer_l3_off, (size_t)iph->ihl * 4)) {
		iph->tot_len = htons((uint16_t)(p->len - p->outer_l3_off));
		iph->check = 0;
		iph->check = pkt_csum(iph, (size_t)iph->ihl * 4, 0);
	}
}

void pkt_finish(struct pkt *p)
{
	struct iphdr *iph;
	struct ip6_hdr *ip6;

	if (p->overflow)
		return;
	if (p->l3 == PKT_IPV6 && pkt_holds(p, p->l3_off, sizeof(*ip6))) {
		ip6 = (struct ip6_hdr *)(p->data + p->l3_off);
		ip6->ip6_plen = htons((uint16_t)(p->len - p->l3_off - sizeof(*ip6)));
	}
	if (p->l4 != PKT_NONE && (p->l3 == PKT_IPV4 || p->l3 == PKT_IPV6))
		finish_l4(p);
	/* last: the IPv4 header checksum does not cover L4, but tot_len must
	 * be in place before the header is summed */
	iph = pkt_ipv4_hdr(p);
	if (iph && pkt_holds(p, p->l3_off, sizeof(*iph)) &&
	    pkt_holds(p, p->l3_off, (size_t)iph->ihl * 4)) {
		iph->tot_len = htons((uint16_t)(p->len - p->l3_off));
		iph->check = 0;
		iph->check = pkt_csum(iph, (size_t)iph->ihl * 4, 0);
	}
	/* the outer headers carry the inner packet: after it */
	if (p->vxlan)
		finish_outer(p);
}

void pkt_truncate(struct pkt *p, size_t len)
{
	if (len < p->len)
		p->len = len;
}

struct ether_header *pkt_eth_hdr(struct pkt *p)
{
	if (p->len < sizeof(struct ether_header))
		return NULL;
	return (struct ether_header *)p->data;
}

struct iphdr *pkt_ipv4_hdr(struct pkt *p)
{
	if (p->l3 != PKT_IPV4)
		return NULL;
	return (struct iphdr *)(p->data + p->l3_off);
}

struct ether_arp *pkt_arp_hdr(struct pkt *p)
{
	if (p->l3 != PKT_ARP)
		return NULL;
	return (struct ether_arp *)(p->data + p->l3_off);
}

void *pkt_l4_hdr(struct pkt *p)
{
	if (p->l4 == PKT_NONE)
		return NULL;
	return p->data + p->l4_off;
}

struct iphdr *pkt_outer_ipv4_hdr(struct pkt *p)
{
	if (!p->vxlan)
		return NULL;
	return (struct iphdr *)(p->data + p->outer_l3_off);
}

struct pkt_vxlanhdr *pkt_vxlan_hdr(struct pkt *p)
{
	if (!p->vxlan)
		return NULL;
	return (struct pkt_vxlanhdr *)(p->data + p->vxlan_off);
}

bool ipv4_checksum_ok(const void *iph)
{
	const struct iphdr *h = iph;

	if (h->ihl < 5)
		return false;
	return csum_fold(csum_add(iph, (size_t)h->ihl * 4, 0)) == 0xffff;
}

bool ipv4_l4_checksum_ok(const void *iph, size_t len)
{
	const struct iphdr *h = iph;
	size_t hlen = (size_t)h->ihl * 4, l4_len;
	const uint8_t *l4 = (const uint8_t *)iph + hlen;
	uint32_t sum;

	if (h->ihl < 5 || len < ntohs(h->tot_len) || ntohs(h->tot_len) < hlen)
		return false;
	l4_len = ntohs(h->tot_len) - hlen;
	if (h->protocol == IPPROTO_ICMP)
		return csum_fold(csum_add(l4, l4_len, 0)) == 0xffff;
	if (h->protocol == IPPROTO_UDP && l4_len >= sizeof(struct udphdr) &&
	    ((const struct udphdr *)l4)->uh_sum == 0)
		return true;
	sum = h->protocol + (uint32_t)l4_len;
	sum = csum_add(&h->saddr, 8, sum);
	return csum_fold(csum_add(l4, l4_len, sum)) == 0xffff;
}

long pkt_first_diff(const void *a, size_t alen, const void *b, size_t blen)
{
	const uint8_t *x = a, *y = b;
	size_t n = alen < blen ? alen : blen, i;

	for (i = 0; i < n; i++)
		if (x[i] != y[i])
			return (long)i;
	return alen == blen ? -1 : (long)n;
}

void pkt_hex(const void *data, size_t len, char *buf, size_t size)
{
	const uint8_t *b = data;
	size_t i, used = 0;
	int n;

	if (!size)
		return;
	buf[0] = '\0';
	for (i = 0; i < len && used < size; i++) {
		n = snprintf(buf + used, size - used, "%02x%s", b[i],
			     i + 1 == len ? "" : (i % 16 == 15 ? "\n" : " "));
		if (n < 0)
			break;
		used += (size_t)n;
	}
}
