/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The flow hash that picks a Maglev slot. It depends on the packet alone, with
 * a fixed seed, so a flow hashes alike on every CPU, after an agent restart
 * and after its conntrack entry is gone: the same backend is chosen again.
 * The mixing is Bob Jenkins' lookup3 final round (public domain), as the
 * kernel's jhash_3words.
 */
#ifndef EW_BPF_HASH_H
#define EW_BPF_HASH_H

#include "common.h"

#define EW_HASH_SEED 0x65776c62 /* "ewlb" */

static __always_inline __u32 rol32(__u32 word, unsigned int shift)
{
	return (word << shift) | (word >> (32 - shift));
}

static __always_inline __u32 hash_3words(__u32 a, __u32 b, __u32 c)
{
	a += EW_HASH_SEED;
	b += EW_HASH_SEED;
	c += EW_HASH_SEED;
	c ^= b; c -= rol32(b, 14);
	a ^= c; a -= rol32(c, 11);
	b ^= a; b -= rol32(a, 25);
	c ^= b; c -= rol32(b, 16);
	a ^= c; a -= rol32(c, 4);
	b ^= a; b -= rol32(a, 14);
	c ^= b; c -= rol32(b, 24);
	return c;
}

#endif /* EW_BPF_HASH_H */
