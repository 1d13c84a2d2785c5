/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Service load balancing: frontend -> Maglev slot -> backend, with the choice
 * kept in conntrack. The agent precomputes everything; a new flow costs one
 * hash and a lookup in each of the frontend, table and backend maps, an
 * established one a conntrack and a backend lookup.
 */
#ifndef EW_BPF_LB_H
#define EW_BPF_LB_H

#include "common.h"
#include "config.h"
#include "conntrack.h"
#include "endpoint.h"
#include "hash.h"

/* Attempts to find a free NodePort SNAT source port before giving up. */
#define EW_SNAT_TRIES 8

EW_MAP_FLAGS(ew_lb_frontends, BPF_MAP_TYPE_HASH, struct ew_lb_frontend_key,
	     struct ew_lb_frontend, EW_MAX_FRONTENDS, BPF_F_NO_PREALLOC);
EW_MAP_FLAGS(ew_lb_backends, BPF_MAP_TYPE_HASH, struct ew_lb_backend_key,
	     struct ew_lb_backend, EW_MAX_BACKENDS, BPF_F_NO_PREALLOC);
EW_MAP_FLAGS(ew_lb_tables, BPF_MAP_TYPE_HASH, struct ew_lb_table_key,
	     struct ew_lb_table, EW_MAX_TABLES, BPF_F_NO_PREALLOC);
EW_MAP(ew_lb_affinity, BPF_MAP_TYPE_LRU_HASH, struct ew_lb_affinity_key,
       struct ew_lb_affinity, EW_MAX_AFFINITY);

/* An inner table's size is the agent's choice (BPF_F_INNER_MAP): lookups
 * are bounds-checked at run time, and the frontend says how many slots. */
struct maglev_table {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, EW_MAGLEV_CHUNKS(EW_MAGLEV_SIZE_DEFAULT));
	__uint(map_flags, BPF_F_INNER_MAP);
	/* Sizes, not types: libbpf 1.1 cannot size an inner map's struct, and
	 * the kernel refuses a key type without a value type. */
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct ew_maglev_chunk));
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, EW_MAX_TABLES);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct maglev_table);
} ew_lb_maglev SEC(".maps");

/* What the client's packet becomes. Without SNAT, saddr and sport are the
 * client's own. */
struct lb_xlate {
	__u32 daddr;
	__u32 saddr;
	__u16 dport;
	__u16 sport;
	__u32 flags; /* enum ew_ct_flags */
};

static __always_inline struct ew_lb_frontend *lb_frontend(const struct ew_ct_key *t)
{
	struct ew_lb_frontend_key key = {
		.addr = t->daddr, .port = t->dport, .proto = t->proto,
	};

	return bpf_map_lookup_elem(&ew_lb_frontends, &key);
}

static __always_inline struct ew_lb_backend *lb_backend(__u32 id)
{
	struct ew_lb_backend_key key = { .id = id };

	return bpf_map_lookup_elem(&ew_lb_backends, &key);
}

/* With affinity, a client's flows all hash alike. */
static __always_inline __u32 lb_flow_hash(const struct ew_ct_key *t, bool affinity)
{
	if (affinity)
		return hash_3words(t->saddr, 0, 0);
	return hash_3words(t->saddr, t->daddr ^ t->proto,
			   ((__u32)t->sport << 16) | t->dport);
}

/* The backend id in the flow's Maglev slot; 0 when there is none. */
static __always_inline __u32 lb_maglev_pick(const struct ew_lb_frontend *fe, __u32 hash)
{
	__u32 table_id = fe->table_id, slot, index;
	struct ew_maglev_chunk *chunk;
	void *table;

	if (!table_id || !fe->table_size)
		return 0;
	table = bpf_map_lookup_elem(&ew_lb_maglev, &table_id);
	if (!table)
		return 0;
	slot = hash % fe->table_size;
	index = slot / EW_MAGLEV_CHUNK;
	chunk = bpf_map_lookup_elem(table, &index);
	return chunk ? chunk->ids[slot % EW_MAGLEV_CHUNK] : 0;
}

static __always_inline struct ew_lb_affinity_key
lb_affinity_key(const struct ew_ct_key *t)
{
	return (struct ew_lb_affinity_key){
		.client = t->saddr, .addr = t->daddr, .port = t->dport, .proto = t->proto,
	};
}

/* The client's backend while its last new connection is recent enough. */
static __always_inline __u32 lb_affinity_get(const struct ew_ct_key *t,
					     const struct ew_lb_frontend *fe, __u64 now)
{
	struct ew_lb_affinity_key key = lb_affinity_key(t);
	struct ew_lb_affinity *a = bpf_map_lookup_elem(&ew_lb_affinity, &key);

	if (!a || now - a->seen_ns > fe->affinity_timeout * 1000000000ULL)
		return 0;
	return a->backend_id;
}

static __always_inline void lb_affinity_put(const struct ew_ct_key *t, __u32 id,
					    __u64 now)
{
	struct ew_lb_affinity_key key = lb_affinity_key(t);
	struct ew_lb_affinity a = { .seen_ns = now, .backend_id = id };

	bpf_map_update_elem(&ew_lb_affinity, &key, &a, BPF_ANY);
}

/* A live backend for a new flow: the affine one, else the Maglev slot's. */
static __always_inline __u32 lb_select(const struct ew_ct_key *t,
				       const struct ew_lb_frontend *fe, __u64 now,
				       struct ew_lb_backend **be)
{
	bool affinity = fe->flags & EW_LB_AFFINITY;
	__u32 id = affinity ? lb_affinity_get(t, fe, now) : 0;

	*be = id ? lb_backend(id) : NULL;
	if (*be && !((*be)->flags & EW_BACKEND_TERMINATING))
		return id;
	id = lb_maglev_pick(fe, lb_flow_hash(t, affinity));
	*be = id ? lb_backend(id) : NULL;
	return *be ? id : 0;
}

/* The REPLY entry at key restores what reply does: the flow's own, left
 * behind when its SERVICE entry was lost. */
static __always_inline bool lb_reply_is_ours(const struct ew_ct_key *key,
					     const struct ew_ct_entry *reply)
{
	struct ew_ct_entry *e = bpf_map_lookup_elem(&ew_ct, key);

	return e && e->orig_addr == reply->orig_addr && e->orig_port == reply->orig_port &&
	       e->nat_addr == reply->nat_addr && e->nat_port == reply->nat_port;
}

/* The reply entry of a flow from t translated as x. With SNAT to this
 * node's address its source port must be free, or already the flow's own
 * (its SERVICE entry was lost, its REPLY entry not): the entry claims it. */
static __always_inline struct ew_ct_entry lb_reply_entry(const struct ew_ct_key *t,
							 const struct lb_xlate *x,
							 __u64 now)
{
	return (struct ew_ct_entry){
		.created_ns = now, .seen_ns = now,
		.nat_addr = t->daddr, .nat_port = t->dport,
		.orig_addr = t->saddr, .orig_port = t->sport,
		.flags = x->flags,
	};
}

/* The key of the backend's replies to a flow translated as x. */
static __always_inline struct ew_ct_key lb_reply_key(const struct ew_ct_key *t,
						     const struct lb_xlate *x)
{
	return (struct ew_ct_key){
		.saddr = x->daddr, .daddr = x->saddr, .sport = x->dport,
		.dport = x->sport, .proto = t->proto, .type = EW_CT_REPLY,
	};
}

static __always_inline int lb_track_reply(const struct ew_ct_key *t,
					  struct lb_xlate *x, __u64 now)
{
	struct ew_ct_entry reply = lb_reply_entry(t, x, now);
	struct ew_ct_key key = lb_reply_key(t, x);
	__u32 range = EW_SNAT_PORT_MAX - EW_SNAT_PORT_MIN + 1;
	__u32 hash = lb_flow_hash(t, false);

	if (x->saddr == t->saddr || x->saddr == bpf_htonl(EW_HAIRPIN_ADDR))
		return bpf_map_update_elem(&ew_ct, &key, &reply, BPF_ANY);
	for (int i = 0; i < EW_SNAT_TRIES; i++) {
		key.dport = bpf_htons(EW_SNAT_PORT_MIN + (hash + i * 7919) % range);
		if (!bpf_map_update_elem(&ew_ct, &key, &reply, BPF_NOEXIST) ||
		    lb_reply_is_ours(&key, &reply)) {
			x->sport = key.dport;
			return 0;
		}
	}
	return -1;
}

/*
 * A new flow from t to frontend fe: picks its backend, decides on SNAT and
 * tracks both directions. external: the client is outside the cluster
 * (NodePort); its packets to a backend on another node leave with this
 * node's address, so the replies come back here. A pod reaching itself gets
 * EW_HAIRPIN_ADDR as source. Out of line: both programs call it, and the
 * verifier checks it once.
 */
static __noinline int lb4_new_flow(const struct ew_ct_key *t,
				   const struct ew_lb_frontend *fe, bool external,
				   struct lb_xlate *x)
{
	struct ew_ct_key key = *t;
	struct ew_ct_entry flow = { 0 };
	struct ew_lb_backend *be;
	struct ew_config *cfg;
	__u64 now = bpf_ktime_get_ns();
	__u32 id = lb_select(t, fe, now, &be);

	if (!id || !be)
		return EW_REASON_DROP_NO_BACKEND;
	*x = (struct lb_xlate){
		.daddr = be->addr, .dport = be->port,
		.saddr = t->saddr, .sport = t->sport,
		.flags = external ? EW_CT_NODEPORT : 0,
	};
	if (be->addr == t->saddr) {
		x->saddr = bpf_htonl(EW_HAIRPIN_ADDR);
		x->flags |= EW_CT_SNAT;
	} else if (external && !endpoint_lookup(be->addr)) {
		cfg = config_get();
		if (!cfg)
			return EW_REASON_DROP_NAT_FAILED;
		x->saddr = cfg->node_ip;
		x->flags |= EW_CT_SNAT;
	}
	if (lb_track_reply(t, x, now))
		return EW_REASON_DROP_NAT_FAILED;
	flow = (struct ew_ct_entry){
		.created_ns = now, .seen_ns = now, .backend_id = id,
		.nat_addr = x->saddr, .nat_port = x->sport, .flags = x->flags,
	};
	key.type = EW_CT_SERVICE;
	bpf_map_update_elem(&ew_ct, &key, &flow, BPF_ANY);
	if (fe->flags & EW_LB_AFFINITY)
		lb_affinity_put(t, id, now);
	return EW_REASON_FORWARD;
}

/* How the packet t of a client to frontend fe is translated: as its tracked
 * flow was while that flow's backend exists, else as a new flow. Returns
 * EW_REASON_FORWARD or the drop reason. */
static __always_inline int lb4_xlate(struct ew_ct_key *t,
				     const struct ew_lb_frontend *fe, bool external,
				     struct lb_xlate *x)
{
	struct ew_ct_entry *flow = ct_find(t, EW_CT_SERVICE);
	struct ew_lb_backend *be = flow ? lb_backend(flow->backend_id) : NULL;
	struct ew_ct_entry reply;
	struct ew_ct_key key;

	if (!be)
		return lb4_new_flow(t, fe, external, x);
	*x = (struct lb_xlate){
		.daddr = be->addr, .dport = be->port,
		.saddr = flow->nat_addr, .sport = flow->nat_port,
		.flags = flow->flags,
	};
	/* Once a second, the reply entry is put back if the LRU took it. */
	if (ct_refresh(flow)) {
		reply = lb_reply_entry(t, x, flow->seen_ns);
		key = lb_reply_key(t, x);
		bpf_map_update_elem(&ew_ct, &key, &reply, BPF_NOEXIST);
	}
	return EW_REASON_FORWARD;
}

#endif /* EW_BPF_LB_H */
