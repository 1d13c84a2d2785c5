// SPDX-License-Identifier: Apache-2.0
#include "mapstate.h"

#include <stdlib.h>
#include <string.h>

static size_t entry_size(const struct ew_map_state *s)
{
	return s->key_size + s->value_size;
}

void ew_map_state_init(struct ew_map_state *s, size_t key_size, size_t value_size)
{
	*s = (struct ew_map_state){ .key_size = key_size, .value_size = value_size };
}

void ew_map_state_free(struct ew_map_state *s)
{
	free(s->entries);
	ew_map_state_init(s, s->key_size, s->value_size);
}

void ew_map_state_clear(struct ew_map_state *s)
{
	s->n = 0;
}

const void *ew_map_state_key(const struct ew_map_state *s, size_t i)
{
	return s->entries + i * entry_size(s);
}

const void *ew_map_state_value(const struct ew_map_state *s, size_t i)
{
	return s->entries + i * entry_size(s) + s->key_size;
}

struct ew_map_state ew_map_state_tail(const struct ew_map_state *s, size_t from)
{
	return (struct ew_map_state){
		.key_size = s->key_size, .value_size = s->value_size, .n = s->n - from,
		.entries = from < s->n ? (uint8_t *)ew_map_state_key(s, from) : NULL,
	};
}

int ew_map_state_put(struct ew_map_state *s, const void *key, const void *value)
{
	uint8_t *at;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		uint8_t *entries = realloc(s->entries, cap * entry_size(s));

		if (!entries)
			return -1;
		s->entries = entries;
		s->cap = cap;
	}
	at = s->entries + s->n++ * entry_size(s);
	memcpy(at, key, s->key_size);
	memcpy(at + s->key_size, value, s->value_size);
	return 0;
}

struct sort_ref {
	const uint8_t *entry;
	size_t key_size;
};

/* Equal keys keep their put order, so the last put of a key sorts last. */
static int compare_refs(const void *a, const void *b)
{
	const struct sort_ref *x = a, *y = b;
	int cmp = memcmp(x->entry, y->entry, x->key_size);

	if (cmp)
		return cmp;
	return (x->entry > y->entry) - (x->entry < y->entry);
}

int ew_map_state_seal(struct ew_map_state *s)
{
	size_t esz = entry_size(s), i, n = 0;
	struct sort_ref *refs;
	uint8_t *sorted;

	if (s->n < 2)
		return 0;
	refs = calloc(s->n, sizeof(*refs));
	sorted = malloc(s->n * esz);
	if (!refs || !sorted) {
		free(refs);
		free(sorted);
		return -1;
	}
	for (i = 0; i < s->n; i++)
		refs[i] = (struct sort_ref){ s->entries + i * esz, s->key_size };
	qsort(refs, s->n, sizeof(*refs), compare_refs);
	for (i = 0; i < s->n; i++) {
		bool superseded = i + 1 < s->n &&
				  !memcmp(refs[i].entry, refs[i + 1].entry, s->key_size);

		if (!superseded)
			memcpy(sorted + n++ * esz, refs[i].entry, esz);
	}
	free(refs);
	free(s->entries);
	s->entries = sorted;
	s->n = n;
	s->cap = s->n;
	return 0;
}

const void *ew_map_state_get(const struct ew_map_state *s, const void *key)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = memcmp(ew_map_state_key(s, mid), key, s->key_size);

		if (cmp == 0)
			return ew_map_state_value(s, mid);
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Walks both sealed states in key order, like a merge. */
int ew_map_state_diff(const struct ew_map_state *desired,
		      const struct ew_map_state *current,
		      struct ew_map_state *upserts, struct ew_map_state *deletes)
{
	size_t i = 0, j = 0, ks = desired->key_size, vs = desired->value_size;

	while (i < desired->n || j < current->n) {
		int cmp = i == desired->n ? 1 :
			  j == current->n ? -1 :
					    memcmp(ew_map_state_key(desired, i),
						   ew_map_state_key(current, j), ks);
		int err = 0;

		if (cmp < 0 || (cmp == 0 && memcmp(ew_map_state_value(desired, i),
						   ew_map_state_value(current, j), vs)))
			err = ew_map_state_put(upserts, ew_map_state_key(desired, i),
					       ew_map_state_value(desired, i));
		else if (cmp > 0)
			err = ew_map_state_put(deletes, ew_map_state_key(current, j),
					       ew_map_state_value(current, j));
		if (err)
			return -1;
		i += cmp <= 0;
		j += cmp >= 0;
	}
	return 0;
}
