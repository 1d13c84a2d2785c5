/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small packet builder for the datapath tests, after Katran's
 * Eth().IPv4().TCP().payload(): layers are appended in wire order and
 * pkt_finish() fills every length and checksum, so a test states only what
 * the packet means:
 *
 *	pkt_init(&p);
 *	pkt_eth(&p, src_mac, dst_mac, ETH_P_IP);
 *	pkt_ipv4(&p, ip4(10, 0, 1, 10), ip4(10, 0, 1, 20), IPPROTO_TCP, 64);
 *	pkt_tcp(&p, 40000, 80, TH_SYN);
 *	pkt_payload(&p, "hello", 5);
 *	pkt_finish(&p);
 *
 * A VXLAN frame (RFC 7348) is the same calls around pkt_vxlan(): the IPv4
 * and UDP layers before it become the outer headers, the layers after it the
 * inner frame, and pkt_finish() fills both:
 *
 *	pkt_eth(&p, node2_mac, node1_mac, ETH_P_IP);
 *	pkt_ipv4(&p, node2_ip, node1_ip, IPPROTO_UDP, 64);
 *	pkt_udp(&p, 50000, 4789);
 *	pkt_vxlan(&p, 1);
 *	pkt_eth(&p, vtep2_mac, vtep1_mac, ETH_P_IP);
 *	pkt_ipv4(&p, ip4(10, 0, 2, 5), ip4(10, 0, 1, 10), IPPROTO_TCP, 63);
 *	...
 *
 * Addresses are taken in network byte order (as the ABI stores them), ports,
 * VNIs, ethertypes and ARP opcodes in host byte order. A test that wants a broken
 * packet finishes it first and then pokes the header (pkt_ipv4_hdr(),
 * pkt_arp_hdr(), pkt_truncate()); pkt_finish() may be called again to make it
 * consistent after an intended change.
 *
 * Plain helpers only: unit tests link this file too.
 */
#ifndef EW_TEST_PKT_H
#define EW_TEST_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <net/ethernet.h>
#include <netinet/if_ether.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>

/* Room for any test frame: a full Ethernet MTU plus headers. */
#define PKT_MAX_LEN 2048

/* The VXLAN header (RFC 7348), in network byte order. */
struct pkt_vxlanhdr {
	uint32_t flags; /* PKT_VXLAN_FLAG_I, the rest reserved */
	uint32_t vni;	/* VNI in the upper 24 bits, a reserved byte below */
};

#define PKT_VXLAN_FLAG_I 0x08000000 /* the VNI field is valid */

enum pkt_layer {
	PKT_NONE = 0,
	PKT_IPV4,
	PKT_IPV6,
	PKT_ARP,
	PKT_TCP,
	PKT_UDP,
	PKT_ICMP,
};

struct pkt {
	uint8_t data[PKT_MAX_LEN];
	size_t len;
	bool overflow;	    /* a layer did not fit: the packet is unusable */
	enum pkt_layer l3;  /* PKT_IPV4, PKT_IPV6, PKT_ARP or PKT_NONE */
	size_t l3_off;
	enum pkt_layer l4;  /* PKT_TCP, PKT_UDP, PKT_ICMP or PKT_NONE */
	size_t l4_off;
	/* Set by pkt_vxlan(); l3 and l4 above then describe the inner packet. */
	bool vxlan;
	size_t outer_l3_off; /* the outer IPv4 header */
	size_t outer_l4_off; /* the outer UDP header */
	size_t vxlan_off;    /* the VXLAN header; the inner frame follows it */
};

/* An IPv4 address in network byte order: ip4(10, 0, 1, 10). */
static inline uint32_t ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	return htonl((uint32_t)a << 24 | (uint32_t)b << 16 | (uint32_t)c << 8 | d);
}

void pkt_init(struct pkt *p);

/* Layers, in wire order. */
void pkt_eth(struct pkt *p, const uint8_t src[ETH_ALEN],
	     const uint8_t dst[ETH_ALEN], uint16_t ethertype);
void pkt_ipv4(struct pkt *p, uint32_t saddr, uint32_t daddr, uint8_t proto,
	      uint8_t ttl);
/* IPv4 options, right after pkt_ipv4(): len must be a multiple of 4 and at
 * most 40; the header length grows to match. */
void pkt_ipv4_options(struct pkt *p, const void *opts, size_t len);
void pkt_ipv6(struct pkt *p, const uint8_t saddr[16], const uint8_t daddr[16],
	      uint8_t nexthdr, uint8_t hop_limit);
void pkt_tcp(struct pkt *p, uint16_t sport, uint16_t dport, uint8_t flags);
void pkt_udp(struct pkt *p, uint16_t sport, uint16_t dport);
/* An ICMP echo (ICMP_ECHO) or echo reply (ICMP_ECHOREPLY). */
void pkt_icmp(struct pkt *p, uint8_t type, uint16_t id, uint16_t seq);
void pkt_icmp_echo(struct pkt *p, uint16_t id, uint16_t seq); /* a request */
/* The first L4 header of a flow of proto: a TCP SYN, a UDP header, an ICMP
 * echo of type dport with identifier sport (sequence 1); nothing for another
 * protocol. */
void pkt_l4(struct pkt *p, uint8_t proto, uint16_t sport, uint16_t dport);
/* An IPv4-over-Ethernet ARP packet (htype 1, ptype 0x0800, 6/4). */
void pkt_arp(struct pkt *p, uint16_t op, const uint8_t sha[ETH_ALEN],
	     uint32_t sip, const uint8_t tha[ETH_ALEN], uint32_t tip);
void pkt_payload(struct pkt *p, const void *data, size_t len);
/* The VXLAN header, with the I flag and vni (host byte order, 24 bits), right
 * after the outer pkt_ipv4() and pkt_udp(); the next layer is the inner
 * Ethernet header. */
void pkt_vxlan(struct pkt *p, uint32_t vni);

/* The outer headers of a VXLAN frame, through the inner Ethernet header. */
struct pkt_tunnel {
	const uint8_t *eth_src, *eth_dst;   /* outer Ethernet */
	uint32_t saddr, daddr;		    /* outer IPv4: the nodes */
	uint8_t tos;
	uint16_t sport, dport;		    /* outer UDP */
	uint32_t vni;
	const uint8_t *vtep_src, *vtep_dst; /* inner Ethernet */
	uint16_t inner_type;		    /* inner ethertype; 0: IPv4 */
};

/* Appends t's headers, the outer IPv4 header as edgewire's datapath writes
 * it (id 0, DF, TTL 64): pkt_eth(), pkt_ipv4(), pkt_udp(), pkt_vxlan() and
 * the inner pkt_eth(). The inner packet's layers follow. */
void pkt_tunnel(struct pkt *p, const struct pkt_tunnel *t);

/* Fills IPv4 tot_len and header checksum, IPv6 payload_len, UDP length and
 * the TCP/UDP/ICMP checksums (TCP and UDP with the pseudo header); of a VXLAN
 * frame the inner packet first, then the outer IPv4 header and the outer UDP
 * length, its checksum 0 (no checksum, as VXLAN over IPv4 may send).
 * Layers cut off by pkt_truncate() are left alone, so a truncated frame can be
 * finished to be consistent up to where it ends. */
void pkt_finish(struct pkt *p);

/* Cuts the packet to len bytes (no-op when it is shorter already). */
void pkt_truncate(struct pkt *p, size_t len);

/* Headers of a finished packet, to poke at; NULL when the layer is absent. */
struct ether_header *pkt_eth_hdr(struct pkt *p);
struct iphdr *pkt_ipv4_hdr(struct pkt *p);
struct ether_arp *pkt_arp_hdr(struct pkt *p);
void *pkt_l4_hdr(struct pkt *p);
/* The outer headers of a VXLAN frame; NULL when it is none. pkt_ipv4_hdr()
 * and pkt_l4_hdr() give its inner packet. */
struct iphdr *pkt_outer_ipv4_hdr(struct pkt *p);
struct pkt_vxlanhdr *pkt_vxlan_hdr(struct pkt *p);

/* The Internet checksum (RFC 1071) of data, folded and complemented, in
 * network byte order. sum is a partial sum to start from (0 for none). */
uint16_t pkt_csum(const void *data, size_t len, uint32_t sum);

/* True when the IPv4 header at iph (options included, ihl taken from the
 * header) sums to the one's complement zero: a full recompute, independent
 * of how the checksum was updated. */
bool ipv4_checksum_ok(const void *iph);

/* True when the TCP/UDP checksum of the IPv4 packet at iph is right
 * (pseudo header included; a UDP checksum of 0 means "none" and passes). */
bool ipv4_l4_checksum_ok(const void *iph, size_t len);

/* Offset of the first byte where a and b differ (lengths count), or -1 when
 * they are equal. */
long pkt_first_diff(const void *a, size_t alen, const void *b, size_t blen);

/* Hex dump of data into buf (always terminated), 16 bytes a line, for
 * assertion messages. */
void pkt_hex(const void *data, size_t len, char *buf, size_t size);

#endif /* EW_TEST_PKT_H */
