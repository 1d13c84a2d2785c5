/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Events for bpfctl monitor (drops, policy verdicts that open connections,
 * and the L7 proxy's HTTP verdicts), through one ring buffer shared by every
 * program and CPU. Each CPU owns a token bucket: EW_EVENT_BURST events at
 * once, refilled at EW_EVENT_RATE a second. An event over budget is counted
 * as suppressed and one the full ring refuses as lost, so a flood costs a
 * CPU a map lookup and a counter, and the reader sees how much it missed.
 *
 * Events are best effort: only the packet as it is at the drop is read, with
 * bpf_skb_load_bytes (which checks every offset against skb->len), and any
 * field the packet does not have stays 0.
 */
#ifndef EW_BPF_EVENTS_H
#define EW_BPF_EVENTS_H

#include "common.h"

/* The bucket gains one token every EW_EVENT_NS_PER_TOKEN nanoseconds. */
#define EW_EVENT_NS_PER_TOKEN (1000000000ULL / EW_EVENT_RATE)

#define IP_OFFSET_MASK 0x1fff /* frag_off bits: the fragment's offset */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, EW_EVENTS_RING_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ew_events SEC(".maps");

EW_MAP(ew_event_stats, BPF_MAP_TYPE_PERCPU_ARRAY, __u32, struct ew_event_stats, 1);

/*
 * Takes one token from this CPU's bucket; false when it is empty. Tokens are
 * added for the whole ticks elapsed since refill_ns, which then advances by
 * exactly those ticks, so no fraction of a tick is lost between calls. A full
 * bucket restarts the clock: idle time never builds credit beyond the burst.
 * The state is per CPU, so no atomics; a program interrupting another on the
 * same CPU can at worst miscount one token.
 */
static __always_inline bool event_budget_take(struct ew_event_stats *s, __u64 now)
{
	__u64 ticks = (now - s->refill_ns) / EW_EVENT_NS_PER_TOKEN;

	if (s->tokens + ticks >= EW_EVENT_BURST) {
		s->tokens = EW_EVENT_BURST;
		s->refill_ns = now;
	} else {
		s->tokens += ticks;
		s->refill_ns += ticks * EW_EVENT_NS_PER_TOKEN;
	}
	if (!s->tokens)
		return false;
	s->tokens--;
	return true;
}

/* Defines fn(ctx, e): the IPv4 addresses, protocol and TCP/UDP ports of the
 * Ethernet frame in ctx, where it has them, read with load (which checks
 * every offset). A fragment after the first carries no ports. */
#define EW_DEFINE_EVENT_READ_IPV4(fn, ctx_type, load)                          \
	static __always_inline void fn(ctx_type *ctx, struct ew_event *e)      \
	{                                                                      \
		struct iphdr iph;                                              \
		__be16 proto;                                                  \
		__be16 ports[2];                                               \
                                                                               \
		if (load(ctx, offsetof(struct ethhdr, h_proto), &proto,        \
			 sizeof(proto)) ||                                     \
		    proto != bpf_htons(ETH_P_IP))                              \
			return;                                                \
		if (load(ctx, ETH_HLEN, &iph, sizeof(iph)) ||                  \
		    iph.version != 4 || iph.ihl < 5)                           \
			return;                                                \
		e->protocol = iph.protocol;                                    \
		e->saddr = iph.saddr;                                          \
		e->daddr = iph.daddr;                                          \
		if ((iph.protocol != IPPROTO_TCP &&                            \
		     iph.protocol != IPPROTO_UDP) ||                           \
		    (iph.frag_off & bpf_htons(IP_OFFSET_MASK)))                \
			return;                                                \
		if (load(ctx, ETH_HLEN + iph.ihl * 4, ports, sizeof(ports)))   \
			return;                                                \
		e->sport = ports[0];                                           \
		e->dport = ports[1];                                           \
	}

EW_DEFINE_EVENT_READ_IPV4(event_read_skb, struct __sk_buff, bpf_skb_load_bytes)
EW_DEFINE_EVENT_READ_IPV4(event_read_xdp, struct xdp_md, bpf_xdp_load_bytes)

/* An event of type, when this CPU's budget allows one: e is filled in but
 * for the packet's fields. NULL when over budget (counted). */
static __always_inline struct ew_event_stats *
event_begin(struct ew_event *e, enum ew_event_type type, enum ew_reason reason,
	    enum ew_dir dir, __u32 rule)
{
	__u64 now = bpf_ktime_get_ns();
	struct ew_event_stats *s;
	__u32 zero = 0;

	s = bpf_map_lookup_elem(&ew_event_stats, &zero);
	if (!s)
		return NULL;
	if (!event_budget_take(s, now)) {
		s->suppressed++;
		return NULL;
	}
	*e = (struct ew_event){
		.ts_ns = now,
		.type = type,
		.reason = reason,
		.dir = dir,
		.rule = rule,
	};
	return s;
}

static __always_inline void event_send(struct ew_event_stats *s, const void *e, __u32 size)
{
	if (bpf_ringbuf_output(&ew_events, (void *)e, size, 0))
		s->lost++;
	else
		s->emitted++;
}

/* Reports a packet to bpfctl monitor, within this CPU's budget. Not
 * inlined: a program has a dozen drop sites, and one out-of-line copy (a
 * BPF-to-BPF call, where Cilium uses a tail call) keeps each of them a few
 * instructions instead of a hundred. */
static __noinline void emit_skb(struct __sk_buff *skb, enum ew_event_type type,
				enum ew_reason reason, enum ew_dir dir, __u32 rule)
{
	struct ew_event_stats *s;
	struct ew_event e;

	s = event_begin(&e, type, reason, dir, rule);
	if (!s)
		return;
	e.ifindex = skb->ifindex;
	e.len = skb->len;
	event_read_skb(skb, &e);
	event_send(s, &e, sizeof(e));
}

static __always_inline void emit_drop(struct __sk_buff *skb, enum ew_reason reason,
				      enum ew_dir dir)
{
	emit_skb(skb, EW_EVENT_DROP, reason, dir, 0);
}

static __noinline void emit_drop_xdp(struct xdp_md *ctx, enum ew_reason reason,
				     enum ew_dir dir)
{
	struct ew_event_stats *s;
	struct ew_event e;

	s = event_begin(&e, EW_EVENT_DROP, reason, dir, 0);
	if (!s)
		return;
	e.ifindex = ctx->ingress_ifindex;
	e.len = ctx->data_end - ctx->data;
	event_read_xdp(ctx, &e);
	event_send(s, &e, sizeof(e));
}

#endif /* EW_BPF_EVENTS_H */
