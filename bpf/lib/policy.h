/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Network policy: L3/L4 verdicts for pods a policy isolates, by identity.
 * The peer's address gives its identities (ew_ipcache); the isolated pod's
 * identity, direction, protocol and port, with each of them, are looked up
 * in ew_policy (see struct ew_policy_key for the layout and why any match
 * allows). Cost per new connection: one ipcache and up to three policy
 * lookups, whatever the number of rules.
 *
 * L7: an entry with EW_POLICY_L7 allows a TCP connection only through the
 * L7 proxy (bpf/lib/proxy.h), which checks each of its HTTP requests; the
 * connection is tracked with EW_CT_PROXY, so its later packets go there too.
 *
 * Statefulness: a connection of a pod isolated in either direction is
 * tracked (EW_CT_POLICY) once allowed, wherever it was judged; its later
 * packets and its replies pass on that entry. A packet between two pods of
 * this node is judged twice, and tracked only after both allowed it: an
 * entry the sender's verdict made would let it past the receiver's. Policy
 * never judges a pod that no policy selects, and tracks nothing for it.
 */
#ifndef EW_BPF_POLICY_H
#define EW_BPF_POLICY_H

#include "common.h"
#include "conntrack.h"
#include "events.h"

EW_MAP_FLAGS(ew_ipcache, BPF_MAP_TYPE_LPM_TRIE, struct ew_ipcache_key,
	     struct ew_ipcache, EW_MAX_IPCACHE, BPF_F_NO_PREALLOC);
EW_MAP_FLAGS(ew_policy, BPF_MAP_TYPE_LPM_TRIE, struct ew_policy_key,
	     struct ew_policy_entry, EW_MAX_POLICY, BPF_F_NO_PREALLOC);
/* What the numbers above stand for, for bpfctl: declared here to be pinned
 * with the rest, never read by the datapath. */
EW_MAP_FLAGS(ew_identities, BPF_MAP_TYPE_HASH, struct ew_identity_key,
	     struct ew_identity_name, EW_MAX_IDENTITIES, BPF_F_NO_PREALLOC);
EW_MAP_FLAGS(ew_policy_rules, BPF_MAP_TYPE_HASH, struct ew_policy_rule_key,
	     struct ew_policy_rule_name, EW_MAX_POLICY_RULES, BPF_F_NO_PREALLOC);
/* Written by edgewire-proxy alone; declared here to be pinned. */
EW_MAP_FLAGS(ew_http_stats, BPF_MAP_TYPE_HASH, struct ew_http_stats_key,
	     struct ew_http_stats, EW_MAX_HTTP_STATS, BPF_F_NO_PREALLOC);
EW_MAP(ew_verdicts, BPF_MAP_TYPE_PERCPU_ARRAY, __u32, __u64, EW_VERDICTS_SIZE);

#define EW_EP_ISOLATED (EW_EP_INGRESS_ISOLATED | EW_EP_EGRESS_ISOLATED)

/* An address outside every entry (there is always 0.0.0.0/0) is world. */
static __always_inline struct ew_ipcache ipcache_lookup(__u32 addr)
{
	struct ew_ipcache_key key = { .prefixlen = 32, .addr = addr };
	struct ew_ipcache *id = bpf_map_lookup_elem(&ew_ipcache, &key);

	if (id)
		return *id;
	return (struct ew_ipcache){ EW_IDENTITY_WORLD, EW_IDENTITY_WORLD };
}

/* The entry of subject's rules that lets t pass between it (dir: its side)
 * and peer, or NULL; one without EW_POLICY_L7 wins over one with it (an L4
 * rule lifts an L7 one). Only TCP, UDP and SCTP rules name ports. */
static __always_inline struct ew_policy_entry *
policy_lookup(__u32 subject, enum ew_dir dir, const struct ew_ct_key *t, enum tuple_kind kind,
	      struct ew_ipcache peer)
{
	__u32 peers[3] = { peer.identity, peer.cidr_identity, EW_IDENTITY_ANY };
	struct ew_policy_key key = {
		.prefixlen = EW_POLICY_PREFIX_FULL,
		.subject = subject,
		.dir = dir,
		.proto = t->proto,
		.port = tuple_has_ports(kind) ? t->dport : 0,
	};
	struct ew_policy_entry *found = NULL, *e;

	for (int i = 0; i < 3; i++) {
		if (i == 1 && peer.cidr_identity == peer.identity)
			continue;
		key.peer = peers[i];
		e = bpf_map_lookup_elem(&ew_policy, &key);
		if (e && !(e->flags & EW_POLICY_L7))
			return e;
		if (!found)
			found = e;
	}
	return found;
}

/* How long a tracked connection lives after its last packet, Cilium's
 * lifetimes: a minute for other protocols than TCP, six hours for an open
 * TCP connection, ten seconds once a FIN or RST passed. A TCP connection's
 * successor starts with a SYN, which is judged anyway. */
#define EW_CT_POLICY_IDLE_NS	  (60 * 1000000000ULL)
#define EW_CT_POLICY_TCP_IDLE_NS  (21600 * 1000000000ULL)
#define EW_CT_POLICY_TCP_CLOSE_NS (10 * 1000000000ULL)

static __always_inline __u64 policy_lifetime_ns(const struct ew_ct_key *key,
						const struct ew_ct_entry *e)
{
	if (key->proto != IPPROTO_TCP)
		return EW_CT_POLICY_IDLE_NS;
	return e->flags & EW_CT_CLOSING ? EW_CT_POLICY_TCP_CLOSE_NS : EW_CT_POLICY_TCP_IDLE_NS;
}

/* The tracking entry of key, for a packet of kind, NULL when none; an entry
 * whose connection is over is deleted, so that the next packet, judged, can
 * track it anew. */
static __always_inline struct ew_ct_entry *policy_entry_live(struct ew_ct_key *key,
							     enum tuple_kind kind)
{
	struct ew_ct_entry *e = ct_find(key, EW_CT_POLICY);

	if (!e)
		return NULL;
	if (bpf_ktime_get_ns() - e->seen_ns > policy_lifetime_ns(key, e)) {
		bpf_map_delete_elem(&ew_ct, key);
		return NULL;
	}
	if (kind == TUPLE_TCP_CLOSE && !(e->flags & EW_CT_CLOSING))
		e->flags |= EW_CT_CLOSING;
	ct_refresh(e);
	return e;
}

/*
 * Whether t is a packet of a tracked connection; *reason is then
 * EW_REASON_PROXY for the client's packets of one the L7 proxy terminates,
 * EW_REASON_FORWARD for every other. Either way, but an echo request only as its own
 * flow and an echo reply only as the reverse of a request, so a ping a pod
 * sent lets no one ping it; and never a TCP SYN, so a new connection that
 * reuses a tracked tuple is judged by the policy of now.
 */
static __always_inline bool policy_tracked(const struct ew_ct_key *t, enum tuple_kind kind,
					   int *reason)
{
	struct ew_ct_key key = *t;
	struct ew_ct_key reverse = {
		.saddr = t->daddr, .daddr = t->saddr, .sport = t->dport,
		.dport = t->sport, .proto = t->proto,
	};
	struct ew_ct_entry *e;

	*reason = EW_REASON_FORWARD;
	if (kind == TUPLE_TCP_SYN)
		return false;
	if (kind != TUPLE_ECHO_REPLY && (e = policy_entry_live(&key, kind))) {
		if (e->flags & EW_CT_PROXY)
			*reason = EW_REASON_PROXY;
		return true;
	}
	return kind != TUPLE_ECHO_REQUEST && policy_entry_live(&reverse, kind);
}

/* What the judges of a packet on this node said of the connection it opens. */
struct policy_open {
	bool track;	 /* allowed, and it opens a connection to track */
	bool proxy;	 /* through the L7 proxy */
	enum ew_dir dir; /* of the judge whose rule allowed it */
	__u32 rule;	 /* that rule; 0: allowed without one (the host) */
};

/* Tracks the connection t opens once every judge on this node allowed it,
 * and reports it to bpfctl monitor. */
static __always_inline void policy_track(struct __sk_buff *skb, const struct ew_ct_key *t,
					 const struct policy_open *open)
{
	__u64 now = bpf_ktime_get_ns();
	struct ew_ct_entry e = {
		.created_ns = now,
		.seen_ns = now,
		.flags = open->proxy ? EW_CT_PROXY : 0,
	};
	struct ew_ct_key key = *t;

	key.type = EW_CT_POLICY;
	bpf_map_update_elem(&ew_ct, &key, &e, BPF_NOEXIST);
	emit_skb(skb, EW_EVENT_POLICY, open->proxy ? EW_REASON_PROXY : EW_REASON_FORWARD,
		 open->dir, open->rule);
}

static __always_inline void count_verdict(enum ew_verdict verdict, enum ew_dir dir)
{
	__u32 idx = ew_verdict_index(verdict, dir);
	__u64 *n = bpf_map_lookup_elem(&ew_verdicts, &idx);

	if (n)
		*n += 1;
}

/* The verdict of subject's rules on t, which no tracking entry lets pass:
 * EW_REASON_FORWARD, EW_REASON_PROXY or the drop reason; counted. The host
 * may always reach its pods. */
static __always_inline int policy_rules_judge(__u32 subject, enum ew_dir dir,
					      const struct ew_ct_key *t, enum tuple_kind kind,
					      struct policy_open *open)
{
	struct ew_ipcache peer = ipcache_lookup(dir == EW_DIR_INGRESS ? t->saddr : t->daddr);
	struct ew_policy_entry *e;

	open->dir = dir;
	if (dir == EW_DIR_INGRESS && peer.identity == EW_IDENTITY_HOST) {
		count_verdict(EW_VERDICT_ALLOWED, dir);
		return EW_REASON_FORWARD;
	}
	e = policy_lookup(subject, dir, t, kind, peer);
	if (!e) {
		count_verdict(EW_VERDICT_DENIED, dir);
		return EW_REASON_DROP_POLICY_DENIED;
	}
	open->rule = e->rule;
	if (e->flags & EW_POLICY_L7) {
		open->proxy = true;
		count_verdict(EW_VERDICT_PROXIED, dir);
		return EW_REASON_PROXY;
	}
	count_verdict(EW_VERDICT_ALLOWED, dir);
	return EW_REASON_FORWARD;
}

/*
 * The verdict on packet t (of the kind packet_tuple() said) for pod ep, on
 * its dir side: EW_REASON_FORWARD, EW_REASON_PROXY (allowed, but only
 * through the L7 proxy) or the drop reason. Fills in open (never clearing
 * open->track) when t, allowed, opens a connection to track with
 * policy_track() once every judge on this node allowed it.
 */
static __always_inline int policy_judge(const struct ew_endpoint *ep, enum ew_dir dir,
					const struct ew_ct_key *t, enum tuple_kind kind,
					struct policy_open *open)
{
	__u32 isolated = ep->flags & (dir == EW_DIR_INGRESS ? EW_EP_INGRESS_ISOLATED :
							      EW_EP_EGRESS_ISOLATED);
	int reason;

	if (ep->flags & EW_EP_POLICY_FAILED)
		return EW_REASON_DROP_POLICY_FAILED;
	if (!(ep->flags & EW_EP_ISOLATED))
		return EW_REASON_FORWARD;
	if (kind == TUPLE_TRUNCATED)
		return EW_REASON_DROP_MALFORMED;
	if (kind == TUPLE_FRAGMENT)
		return isolated ? EW_REASON_DROP_FRAGMENT : EW_REASON_FORWARD;
	if (policy_tracked(t, kind, &reason))
		return reason;
	if (isolated)
		reason = policy_rules_judge(ep->identity, dir, t, kind, open);
	/* A reply opens nothing: tracked, it would pass the next request. */
	if (reason != EW_REASON_DROP_POLICY_DENIED && kind != TUPLE_ECHO_REPLY)
		open->track = true;
	return reason;
}

#endif /* EW_BPF_POLICY_H */
