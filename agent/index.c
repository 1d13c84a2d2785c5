// SPDX-License-Identifier: Apache-2.0
#include "index.h"

#include <stdlib.h>
#include <string.h>

struct ew_index_slot {
	uint64_t hash;
	uint64_t value;
	size_t len;
	unsigned char *key; /* NULL: a free slot */
};

static uint64_t fnv1a(const void *key, size_t len)
{
	const unsigned char *p = key;
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

/* The slot holding key, or the free slot where it would go (linear probing). */
static struct ew_index_slot *find(const struct ew_index *ix, uint64_t hash,
				  const void *key, size_t len)
{
	size_t mask = ix->cap - 1;

	for (size_t i = hash & mask;; i = (i + 1) & mask) {
		struct ew_index_slot *s = &ix->slots[i];

		if (!s->key || (s->hash == hash && s->len == len && !memcmp(s->key, key, len)))
			return s;
	}
}

static int grow(struct ew_index *ix)
{
	struct ew_index bigger = { .cap = ix->cap ? ix->cap * 2 : 64 };

	bigger.slots = calloc(bigger.cap, sizeof(*bigger.slots));
	if (!bigger.slots)
		return -1;
	for (size_t i = 0; i < ix->cap; i++)
		if (ix->slots[i].key)
			*find(&bigger, ix->slots[i].hash, ix->slots[i].key, ix->slots[i].len) =
				ix->slots[i];
	bigger.n = ix->n;
	free(ix->slots);
	*ix = bigger;
	return 0;
}

int ew_index_put(struct ew_index *ix, const void *key, size_t len, uint64_t value)
{
	uint64_t hash = fnv1a(key, len);
	struct ew_index_slot *s;

	if (2 * (ix->n + 1) > ix->cap && grow(ix))
		return -1;
	s = find(ix, hash, key, len);
	if (s->key)
		return 0;
	s->key = malloc(len ? len : 1);
	if (!s->key)
		return -1;
	memcpy(s->key, key, len);
	*s = (struct ew_index_slot){ .hash = hash, .value = value, .len = len, .key = s->key };
	ix->n++;
	return 0;
}

const uint64_t *ew_index_get(const struct ew_index *ix, const void *key, size_t len)
{
	const struct ew_index_slot *s;

	if (!ix->n)
		return NULL;
	s = find(ix, fnv1a(key, len), key, len);
	return s->key ? &s->value : NULL;
}

void ew_index_clear(struct ew_index *ix)
{
	for (size_t i = 0; i < ix->cap; i++) {
		free(ix->slots[i].key);
		ix->slots[i] = (struct ew_index_slot){ 0 };
	}
	ix->n = 0;
}

void ew_index_free(struct ew_index *ix)
{
	ew_index_clear(ix);
	free(ix->slots);
	*ix = (struct ew_index){ 0 };
}
