/* SPDX-License-Identifier: Apache-2.0 */
/* Facts about the pinned datapath for tools: ABI version, last apply. */
#ifndef EW_BPF_INFO_H
#define EW_BPF_INFO_H

#include "common.h"

EW_MAP(ew_info, BPF_MAP_TYPE_ARRAY, __u32, struct ew_info, 1);

#endif /* EW_BPF_INFO_H */
