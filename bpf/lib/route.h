/* SPDX-License-Identifier: Apache-2.0 */
/* Pod CIDRs of all nodes: which node owns an address. */
#ifndef EW_BPF_ROUTE_H
#define EW_BPF_ROUTE_H

#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct ew_route_key);
	__type(value, struct ew_route);
	__uint(max_entries, EW_MAX_ROUTES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ew_routes SEC(".maps");

static __always_inline struct ew_route *route_lookup(__u32 ip)
{
	struct ew_route_key key = { .prefixlen = 32, .addr = ip };

	return bpf_map_lookup_elem(&ew_routes, &key);
}

#endif /* EW_BPF_ROUTE_H */
