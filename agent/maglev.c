// SPDX-License-Identifier: Apache-2.0
/* Maglev lookup tables: each backend's permutation of the slots, filled in
 * turns. */
#include "maglev.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FNV64_PRIME 0x100000001b3ULL
#define SLOT_FREE   UINT32_MAX

uint64_t ew_fnv1a64(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= FNV64_PRIME;
	}
	return h;
}

/* MurmurHash3's 64-bit finalizer: every output bit depends on every input
 * bit, which FNV alone does not give for short names such as addresses that
 * differ in their last byte. */
static uint64_t fmix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* The two hashes of the paper: a slot to start from and a step. They must
 * be independent, so they hash the name from different FNV states: the
 * second as if the name were prefixed with "skip". */
static uint64_t hash_offset(const struct ew_maglev_name *name)
{
	return fmix64(ew_fnv1a64(EW_FNV64_OFFSET, name->bytes, name->len));
}

static uint64_t hash_skip(const struct ew_maglev_name *name)
{
	uint64_t h = ew_fnv1a64(EW_FNV64_OFFSET, "skip", 4);

	return fmix64(ew_fnv1a64(h, name->bytes, name->len));
}

bool ew_is_prime(uint32_t n)
{
	if (n < 2)
		return false;
	if (n % 2 == 0)
		return n == 2;
	for (uint32_t d = 3; (uint64_t)d * d <= n; d += 2)
		if (n % d == 0)
			return false;
	return true;
}

/* A backend's walk through its permutation: slot pos, then pos + skip, ...
 * (mod size). The paper's permutation[i][j] = (offset + j * skip) % size. */
struct walk {
	const struct ew_maglev_name *name;
	uint32_t index; /* into the caller's names */
	uint32_t pos;
	uint32_t skip;
};

static int walk_cmp(const void *a, const void *b)
{
	const struct walk *x = a, *y = b;
	size_t len = x->name->len < y->name->len ? x->name->len : y->name->len;
	int c = memcmp(x->name->bytes, y->name->bytes, len);

	if (c)
		return c;
	if (x->name->len != y->name->len)
		return x->name->len < y->name->len ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

int ew_maglev_build(const struct ew_maglev_name *names, size_t n, uint32_t size,
		    uint32_t *slots)
{
	struct walk *w;
	uint32_t filled = 0;

	if (n == 0 || n > size || !ew_is_prime(size))
		return -EINVAL;
	w = malloc(n * sizeof(*w));
	if (!w)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		w[i].name = &names[i];
		w[i].index = (uint32_t)i;
		w[i].pos = (uint32_t)(hash_offset(&names[i]) % size);
		w[i].skip = (uint32_t)(hash_skip(&names[i]) % (size - 1)) + 1;
	}
	/* Turns go in name order, so the caller's order does not matter. */
	qsort(w, n, sizeof(*w), walk_cmp);

	memset(slots, 0xff, size * sizeof(*slots));
	for (;;) {
		for (size_t i = 0; i < n; i++) {
			struct walk *b = &w[i];

			/* The next free slot of b's permutation; there is one,
			 * since a permutation visits every slot. (pos + skip
			 * without overflow: size may be near 2^32.) */
			while (slots[b->pos] != SLOT_FREE)
				b->pos = b->pos >= size - b->skip
						 ? b->pos - (size - b->skip)
						 : b->pos + b->skip;
			slots[b->pos] = b->index;
			if (++filled == size)
				goto done;
		}
	}
done:
	free(w);
	return 0;
}
