/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Network policy: L3/L4 verdicts for pods a policy isolates, by identity.
 * The peer's address gives its identities (ew_ipcache); the isolated pod's
 * identity, direction, protocol and port, with each of them, are looked up
 * in ew_policy (see struct ew_policy_key for the layout and why any match
 * allows). Cost per new connection: one ipcache and up to three policy
 * lookups, whatever the number of rules.
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
	     struct ew_http_stats, EW_MAX_POLICY_RULES, BPF_F_NO_PREALLOC);
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

static __always_inline bool policy_entry_exists(struct ew_policy_key *key, __u32 peer)
{
	key->peer = peer;
	return bpf_map_lookup_elem(&ew_policy, key) != NULL;
}

/* Whether a rule of subject allows t (dir: the subject's side); only
 * TCP, UDP and SCTP rules name ports. */
static __always_inline bool policy_allows(__u32 subject, enum ew_dir dir,
					  const struct ew_ct_key *t, enum tuple_kind kind)
{
	struct ew_ipcache peer = ipcache_lookup(dir == EW_DIR_INGRESS ? t->saddr : t->daddr);
	struct ew_policy_key key = {
		.prefixlen = EW_POLICY_PREFIX_FULL,
		.subject = subject,
		.dir = dir,
		.proto = t->proto,
		.port = tuple_has_ports(kind) ? t->dport : 0,
	};

	if (dir == EW_DIR_INGRESS && peer.identity == EW_IDENTITY_HOST)
		return true;
	return policy_entry_exists(&key, peer.identity) ||
	       (peer.cidr_identity != peer.identity &&
		policy_entry_exists(&key, peer.cidr_identity)) ||
	       policy_entry_exists(&key, EW_IDENTITY_ANY);
}

/* A tracked connection other than TCP is over this long after its last
 * packet (Cilium's non-TCP lifetime); a TCP one needs none: its next
 * connection starts with a SYN, which is judged. */
#define EW_CT_POLICY_IDLE_NS (60 * 1000000000ULL)

/* Whether key is tracked; an entry whose connection is over is deleted, so
 * that the next packet, judged, can track it anew. */
static __always_inline bool policy_entry_live(struct ew_ct_key *key)
{
	struct ew_ct_entry *e = ct_find(key, EW_CT_POLICY);

	if (!e)
		return false;
	if (key->proto != IPPROTO_TCP && bpf_ktime_get_ns() - e->seen_ns > EW_CT_POLICY_IDLE_NS) {
		bpf_map_delete_elem(&ew_ct, key);
		return false;
	}
	ct_refresh(e);
	return true;
}

/*
 * A packet of a tracked connection: either way, but an echo request only
 * as its own flow and an echo reply only as the reverse of a request, so a
 * ping a pod sent lets no one ping it; and never a TCP SYN, so a new
 * connection that reuses a tracked tuple is judged by the policy of now.
 */
static __always_inline bool policy_tracked(const struct ew_ct_key *t, enum tuple_kind kind)
{
	struct ew_ct_key key = *t;
	struct ew_ct_key reverse = {
		.saddr = t->daddr, .daddr = t->saddr, .sport = t->dport,
		.dport = t->sport, .proto = t->proto,
	};

	if (kind == TUPLE_TCP_SYN)
		return false;
	return (kind != TUPLE_ECHO_REPLY && policy_entry_live(&key)) ||
	       (kind != TUPLE_ECHO_REQUEST && policy_entry_live(&reverse));
}

static __always_inline void policy_track(const struct ew_ct_key *t)
{
	__u64 now = bpf_ktime_get_ns();
	struct ew_ct_entry e = { .created_ns = now, .seen_ns = now };
	struct ew_ct_key key = *t;

	key.type = EW_CT_POLICY;
	bpf_map_update_elem(&ew_ct, &key, &e, BPF_NOEXIST);
}

/*
 * The verdict on packet t (of the kind packet_tuple() said) for pod ep, on
 * its dir side: EW_REASON_FORWARD or the drop reason. Sets *track (never
 * clears it) when t, allowed, opens a connection to track with
 * policy_track() once every judge on this node allowed it.
 */
static __always_inline int policy_judge(const struct ew_endpoint *ep, enum ew_dir dir,
					const struct ew_ct_key *t, enum tuple_kind kind,
					bool *track)
{
	__u32 isolated = ep->flags & (dir == EW_DIR_INGRESS ? EW_EP_INGRESS_ISOLATED :
							      EW_EP_EGRESS_ISOLATED);

	if (ep->flags & EW_EP_POLICY_FAILED)
		return EW_REASON_DROP_POLICY_FAILED;
	if (!(ep->flags & EW_EP_ISOLATED))
		return EW_REASON_FORWARD;
	if (kind == TUPLE_TRUNCATED)
		return EW_REASON_DROP_MALFORMED;
	if (kind == TUPLE_FRAGMENT)
		return isolated ? EW_REASON_DROP_FRAGMENT : EW_REASON_FORWARD;
	if (policy_tracked(t, kind))
		return EW_REASON_FORWARD;
	if (isolated && !policy_allows(ep->identity, dir, t, kind))
		return EW_REASON_DROP_POLICY_DENIED;
	/* A reply opens nothing: tracked, it would pass the next request. */
	if (kind != TUPLE_ECHO_REPLY)
		*track = true;
	return EW_REASON_FORWARD;
}

/* policy_judge() of the one judge of t on this node, tracking it. */
static __always_inline int policy_check(const struct ew_endpoint *ep, enum ew_dir dir,
					const struct ew_ct_key *t, enum tuple_kind kind)
{
	bool track = false;
	int reason = policy_judge(ep, dir, t, kind, &track);

	if (track)
		policy_track(t);
	return reason;
}

#endif /* EW_BPF_POLICY_H */
