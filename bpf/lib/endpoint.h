/* SPDX-License-Identifier: Apache-2.0 */
/* Local pods by IPv4 address, and the ways a packet reaches one. */
#ifndef EW_BPF_ENDPOINT_H
#define EW_BPF_ENDPOINT_H

#include "common.h"

EW_MAP(ew_endpoints, BPF_MAP_TYPE_HASH, struct ew_endpoint_key,
       struct ew_endpoint, EW_MAX_ENDPOINTS);
/* Which pod each endpoint is ("namespace/name"), written by the agent for
 * bpfctl; the datapath never reads it. */
EW_MAP_FLAGS(ew_endpoint_names, BPF_MAP_TYPE_HASH, struct ew_endpoint_key,
	     struct ew_endpoint_name, EW_MAX_ENDPOINTS, BPF_F_NO_PREALLOC);

/* Set by the agent at load time when the kernel lacks bpf_redirect_peer. */
const volatile bool redirect_peer_unavailable = false;

static __always_inline struct ew_endpoint *endpoint_lookup(__u32 ip)
{
	struct ew_endpoint_key key = { .ip = ip };

	return bpf_map_lookup_elem(&ew_endpoints, &key);
}

static __always_inline bool mac_equal(const __u8 *a, const __u8 *b)
{
	return *(const __u32 *)a == *(const __u32 *)b &&
	       *(const __u16 *)(a + 4) == *(const __u16 *)(b + 4);
}

/* Hands the packet to the pod behind ep. From TC ingress, redirect_peer
 * enters the pod's namespace directly, skipping the host veth's backlog. */
static __always_inline int redirect_to_endpoint(const struct ew_endpoint *ep)
{
	if (redirect_peer_unavailable)
		return bpf_redirect(ep->ifindex, 0);
	return bpf_redirect_peer(ep->ifindex, 0);
}

#endif /* EW_BPF_ENDPOINT_H */
