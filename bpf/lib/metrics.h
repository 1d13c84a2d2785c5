/* SPDX-License-Identifier: Apache-2.0 */
/* Per-CPU packet and byte counters for every verdict reason and direction. */
#ifndef EW_BPF_METRICS_H
#define EW_BPF_METRICS_H

#include "common.h"
#include "events.h"

EW_MAP(ew_metrics, BPF_MAP_TYPE_PERCPU_ARRAY, __u32, struct ew_metrics,
       EW_METRICS_SIZE);

static __always_inline void count_len(enum ew_reason reason, enum ew_dir dir,
				      __u32 len)
{
	__u32 idx = ew_metrics_index(reason, dir);
	struct ew_metrics *m = bpf_map_lookup_elem(&ew_metrics, &idx);

	if (m) {
		m->packets++;
		m->bytes += len;
	}
}

static __always_inline void count(struct __sk_buff *skb, enum ew_reason reason,
				  enum ew_dir dir)
{
	count_len(reason, dir, skb->len);
}

static __always_inline __u32 xdp_len(const struct xdp_md *ctx)
{
	return ctx->data_end - ctx->data;
}

static __always_inline void count_xdp(struct xdp_md *ctx, enum ew_reason reason,
				      enum ew_dir dir)
{
	count_len(reason, dir, xdp_len(ctx));
}

/* Counts a drop, reports it to bpfctl monitor and returns the verdict that
 * discards the packet. */
static __always_inline int drop(struct __sk_buff *skb, enum ew_reason reason,
				enum ew_dir dir)
{
	count(skb, reason, dir);
	emit_drop(skb, reason, dir);
	return TC_ACT_SHOT;
}

static __always_inline int drop_xdp(struct xdp_md *ctx, enum ew_reason reason,
				    enum ew_dir dir)
{
	count_xdp(ctx, reason, dir);
	emit_drop_xdp(ctx, reason, dir);
	return XDP_DROP;
}

#endif /* EW_BPF_METRICS_H */
