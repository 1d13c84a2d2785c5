/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and Reliable
 * Software Network Load Balancer", NSDI 2016, section 3.4): a lookup table of
 * a prime number of slots, each naming a backend. Every backend owns an equal
 * share of the slots, and removing one backend moves few slots of the others.
 * Pure computation: the agent builds tables, the datapath only indexes them.
 */
#ifndef EW_MAGLEV_H
#define EW_MAGLEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A backend's stable name: the bytes its permutation is derived from (for a
 * pod, its address in network byte order). */
struct ew_maglev_name {
	const void *bytes;
	size_t len;
};

bool ew_is_prime(uint32_t n);

/*
 * Fills slots[0..size) with indexes into names. size must be a prime and
 * 1 <= n <= size. Each backend gets size / n slots, rounded down or up.
 *
 * The table depends on the names only, not on their order: the same set of
 * names in another order gives every slot the same name. (Equal names are
 * told apart by their order.)
 *
 * Returns 0, -EINVAL for a size that is not a prime or n out of range, or
 * -ENOMEM.
 */
int ew_maglev_build(const struct ew_maglev_name *names, size_t n, uint32_t size,
		    uint32_t *slots);

/* 64-bit FNV-1a over len bytes, continuing from h; start a hash with
 * EW_FNV64_OFFSET. Deterministic on every machine. */
#define EW_FNV64_OFFSET 0xcbf29ce484222325ULL
uint64_t ew_fnv1a64(uint64_t h, const void *data, size_t len);

#endif /* EW_MAGLEV_H */
