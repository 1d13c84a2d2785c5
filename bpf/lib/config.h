/* SPDX-License-Identifier: Apache-2.0 */
/* This node's settings, written by the agent; also read by tools. */
#ifndef EW_BPF_CONFIG_H
#define EW_BPF_CONFIG_H

#include "common.h"

EW_MAP(ew_config, BPF_MAP_TYPE_ARRAY, __u32, struct ew_config, 1);

static __always_inline struct ew_config *config_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&ew_config, &zero);
}

#endif /* EW_BPF_CONFIG_H */
