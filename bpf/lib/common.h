/* SPDX-License-Identifier: Apache-2.0 */
/* What every datapath file needs: UAPI headers, libbpf helpers, the ABI. */
#ifndef EW_BPF_COMMON_H
#define EW_BPF_COMMON_H

#include <stdbool.h>

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include <edgewire/abi.h>

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#define EW_MAP_FLAGS(_name, _type, _key, _value, _max, _flags)                 \
	struct {                                                               \
		__uint(type, _type);                                           \
		__type(key, _key);                                             \
		__type(value, _value);                                         \
		__uint(max_entries, _max);                                     \
		__uint(map_flags, _flags);                                     \
		__uint(pinning, LIBBPF_PIN_BY_NAME);                           \
	} _name SEC(".maps")

#define EW_MAP(_name, _type, _key, _value, _max)                               \
	EW_MAP_FLAGS(_name, _type, _key, _value, _max, 0)

#endif /* EW_BPF_COMMON_H */
