/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Connection tracking of service flows: an LRU map of the entries described
 * at struct ew_ct_key in the ABI. Entries are never required for
 * correctness: a lost SERVICE entry is rebuilt from the same Maglev slot, so
 * only flows whose backend set changed meanwhile can move; a lost REPLY entry
 * is rebuilt from its SERVICE entry within EW_CT_REFRESH_NS.
 */
#ifndef EW_BPF_CONNTRACK_H
#define EW_BPF_CONNTRACK_H

#include <linux/tcp.h>
#include <linux/udp.h>

#include "common.h"
#include "parse.h"

#define EW_CT_REFRESH_NS 1000000000ULL /* seen_ns is written at most this often */

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct ew_ct_key);
	__type(value, struct ew_ct_entry);
	__uint(max_entries, EW_CT_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ew_ct SEC(".maps");

#define IP_MF		0x2000
#define IP_OFFSET	0x1fff

static __always_inline bool ipv4_is_later_fragment(const struct iphdr *iph)
{
	return iph->frag_off & bpf_htons(IP_OFFSET);
}

#ifndef IPPROTO_SCTP
#define IPPROTO_SCTP 132
#endif

/* What a packet's tuple holds besides addresses and protocol. */
enum tuple_kind {
	TUPLE_PORTS,	 /* TCP, UDP or SCTP: its ports */
	TUPLE_TCP_SYN,	 /* TUPLE_PORTS of a TCP SYN without ACK: a new connection */
	TUPLE_TCP_CLOSE, /* TUPLE_PORTS of a TCP FIN or RST: the connection ends */
	TUPLE_NO_PORTS,	 /* another protocol: ports 0 */
	TUPLE_FRAGMENT,	 /* a later fragment: ports unknown, 0 */
	TUPLE_TRUNCATED, /* TCP, UDP or SCTP without room for its ports */
	/* ICMP echo: both ports are the echo identifier, so a reply's tuple
	 * is the reverse of its request's. */
	TUPLE_ECHO_REQUEST,
	TUPLE_ECHO_REPLY,
};

/* The start of an ICMP echo message (RFC 792); linux/icmp.h needs libc. */
struct icmp_echo {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be16 id;
	__be16 seq;
};

#define ICMP_ECHO_REPLY	  0
#define ICMP_ECHO_REQUEST 8

/* What a packet's whole TCP header says of its connection: it opens (SYN
 * without ACK), ends (FIN or RST) or goes on; TUPLE_PORTS for other
 * protocols and for a header too short to tell. */
static __always_inline enum tuple_kind tcp_kind(const struct iphdr *iph, const struct cursor *c)
{
	const struct tcphdr *tcp = c->pos;

	if (iph->protocol != IPPROTO_TCP || (void *)(tcp + 1) > c->end)
		return TUPLE_PORTS;
	if (tcp->syn && !tcp->ack)
		return TUPLE_TCP_SYN;
	return tcp->fin || tcp->rst ? TUPLE_TCP_CLOSE : TUPLE_PORTS;
}

/* An echo request or reply with its identifier; TUPLE_NO_PORTS for other
 * ICMP messages and for a header too short to tell. */
static __always_inline enum tuple_kind icmp_tuple(const struct cursor *c, struct ew_ct_key *t)
{
	const struct icmp_echo *echo = c->pos;

	if ((void *)(echo + 1) > c->end ||
	    (echo->type != ICMP_ECHO_REQUEST && echo->type != ICMP_ECHO_REPLY))
		return TUPLE_NO_PORTS;
	t->sport = echo->id;
	t->dport = echo->id;
	return echo->type == ICMP_ECHO_REQUEST ? TUPLE_ECHO_REQUEST : TUPLE_ECHO_REPLY;
}

/*
 * The tuple of the packet whose IPv4 header is iph and whose L4 header
 * starts at c. Only the ports are read: the first 4 bytes of a TCP, UDP or
 * SCTP header, or an ICMP echo's identifier.
 */
static __always_inline enum tuple_kind packet_tuple(const struct iphdr *iph,
						    const struct cursor *c,
						    struct ew_ct_key *t)
{
	__be16 *ports = c->pos;

	*t = (struct ew_ct_key){
		.saddr = iph->saddr, .daddr = iph->daddr, .proto = iph->protocol,
	};
	/* ICMP rules have no ports: a later fragment is judged without them. */
	if (iph->protocol == IPPROTO_ICMP)
		return ipv4_is_later_fragment(iph) ? TUPLE_NO_PORTS : icmp_tuple(c, t);
	if (iph->protocol != IPPROTO_TCP && iph->protocol != IPPROTO_UDP &&
	    iph->protocol != IPPROTO_SCTP)
		return TUPLE_NO_PORTS;
	if (ipv4_is_later_fragment(iph))
		return TUPLE_FRAGMENT;
	if ((void *)(ports + 2) > c->end)
		return TUPLE_TRUNCATED;
	t->sport = ports[0];
	t->dport = ports[1];
	return tcp_kind(iph, c);
}

/* Whether packet_tuple() read the packet's ports. */
static __always_inline bool tuple_has_ports(enum tuple_kind kind)
{
	return kind == TUPLE_PORTS || kind == TUPLE_TCP_SYN || kind == TUPLE_TCP_CLOSE;
}

/* Services translate TCP and UDP with their ports. */
static __always_inline bool tuple_is_tcp_udp(const struct ew_ct_key *t,
					     enum tuple_kind kind)
{
	return tuple_has_ports(kind) &&
	       (t->proto == IPPROTO_TCP || t->proto == IPPROTO_UDP);
}

/* packet_tuple() of a TCP or UDP packet with its ports; false otherwise. */
static __always_inline bool ct_tuple(const struct iphdr *iph, struct cursor *c,
				     struct ew_ct_key *t)
{
	return tuple_is_tcp_udp(t, packet_tuple(iph, c, t));
}

/* Marks e seen now, at most once every EW_CT_REFRESH_NS; true when it did. */
static __always_inline bool ct_refresh(struct ew_ct_entry *e)
{
	__u64 now = bpf_ktime_get_ns();

	if (now - e->seen_ns <= EW_CT_REFRESH_NS)
		return false;
	e->seen_ns = now;
	return true;
}

/* The entry of type for the packet t, without refreshing it. */
static __always_inline struct ew_ct_entry *ct_find(struct ew_ct_key *t,
						   enum ew_ct_type type)
{
	t->type = type;
	return bpf_map_lookup_elem(&ew_ct, t);
}

static __always_inline struct ew_ct_entry *ct_lookup(struct ew_ct_key *t,
						     enum ew_ct_type type)
{
	struct ew_ct_entry *e = ct_find(t, type);

	if (e)
		ct_refresh(e);
	return e;
}

#endif /* EW_BPF_CONNTRACK_H */
