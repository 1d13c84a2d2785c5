/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A hash index from byte strings to 64-bit values: what the store merge looks
 * objects up by (names, pod IPs, service frontends), so that a load costs the
 * size of the store rather than its square. Keys are copied; the first put
 * of a key wins.
 */
#ifndef EW_INDEX_H
#define EW_INDEX_H

#include <stddef.h>
#include <stdint.h>

struct ew_index_slot;

struct ew_index {
	size_t n, cap; /* cap: 0 or a power of two, at most half full */
	struct ew_index_slot *slots;
};

/* Returns -1 when out of memory. */
int ew_index_put(struct ew_index *ix, const void *key, size_t len, uint64_t value);
/* The value of key, or NULL. */
const uint64_t *ew_index_get(const struct ew_index *ix, const void *key, size_t len);
/* Empties the index, keeping its room. */
void ew_index_clear(struct ew_index *ix);
void ew_index_free(struct ew_index *ix);

#endif /* EW_INDEX_H */
