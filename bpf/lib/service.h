/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Services at TC: a client's packet to a frontend is translated to its
 * backend, a backend's reply back to the frontend. Both happen on the node of
 * the client, where the flow is tracked: leaving the client's pod, and where
 * the replies of a remote backend arrive.
 */
#ifndef EW_BPF_SERVICE_H
#define EW_BPF_SERVICE_H

#include "common.h"
#include "conntrack.h"
#include "lb.h"
#include "nat.h"
#include "parse.h"

static __always_inline int service_to_backend(struct __sk_buff *skb, struct ew_ct_key *t,
					      const struct ew_lb_frontend *fe, __u32 l4_off,
					      struct lb_xlate *x)
{
	int reason = lb4_xlate(t, fe, false, x);

	if (reason != EW_REASON_FORWARD)
		return reason;
	if (nat4_skb(skb, l4_off, t->proto, NAT_DST, t->daddr, x->daddr, t->dport, x->dport) ||
	    nat4_skb(skb, l4_off, t->proto, NAT_SRC, t->saddr, x->saddr, t->sport, x->sport))
		return EW_REASON_DROP_MALFORMED;
	return EW_REASON_FORWARD;
}

static __always_inline int service_reply(struct __sk_buff *skb, const struct ew_ct_key *t,
					 const struct ew_ct_entry *reply, __u32 l4_off)
{
	if (nat4_skb(skb, l4_off, t->proto, NAT_SRC, t->saddr, reply->nat_addr,
		     t->sport, reply->nat_port))
		return EW_REASON_DROP_MALFORMED;
	if ((reply->flags & EW_CT_SNAT) &&
	    nat4_skb(skb, l4_off, t->proto, NAT_DST, t->daddr, reply->orig_addr,
		     t->dport, reply->orig_port))
		return EW_REASON_DROP_MALFORMED;
	return reply->flags & EW_CT_NODEPORT ? EW_REASON_TO_UNDERLAY : EW_REASON_FORWARD;
}

/*
 * Translates the packet with tuple t, whose L4 header is at l4_off. Returns
 * EW_REASON_FORWARD when the packet goes on to its (possibly new)
 * destination, EW_REASON_TO_UNDERLAY for a NodePort reply to an external
 * client, or a drop reason. t becomes the tuple between the two pods, which
 * policy judges: a request's after translation, a reply's before. Packet
 * pointers are invalid afterwards.
 */
static __always_inline int service_xlate(struct __sk_buff *skb, struct ew_ct_key *t,
					 enum tuple_kind kind, __u32 l4_off)
{
	struct ew_lb_frontend *fe;
	struct ew_ct_entry *reply;
	struct lb_xlate x;
	int reason;

	if (!tuple_is_tcp_udp(t, kind))
		return EW_REASON_FORWARD;
	fe = lb_frontend(t);
	if (fe) {
		reason = service_to_backend(skb, t, fe, l4_off, &x);
		if (reason == EW_REASON_FORWARD)
			*t = (struct ew_ct_key){ .saddr = x.saddr, .daddr = x.daddr,
						 .sport = x.sport, .dport = x.dport,
						 .proto = t->proto };
		return reason;
	}
	reply = ct_lookup(t, EW_CT_REPLY);
	if (reply)
		return service_reply(skb, t, reply, l4_off);
	return EW_REASON_FORWARD;
}

#endif /* EW_BPF_SERVICE_H */
