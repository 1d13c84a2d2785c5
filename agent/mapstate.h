/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The contents of one BPF map as plain memory: fixed-size key/value entries.
 * Desired state is built in one, the live map is read into another, and the
 * difference between them is what gets applied.
 *
 * Entries are appended in any order, then sealed: sorted by key bytes, with
 * the last put of a key winning. Lookups and diffs need sealed states.
 */
#ifndef EW_MAPSTATE_H
#define EW_MAPSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ew_map_state {
	size_t key_size, value_size;
	size_t n, cap;
	uint8_t *entries; /* n * (key_size + value_size) bytes */
};

void ew_map_state_init(struct ew_map_state *s, size_t key_size, size_t value_size);
void ew_map_state_free(struct ew_map_state *s);
void ew_map_state_clear(struct ew_map_state *s);

/* Appends an entry. Returns -1 when out of memory. */
int ew_map_state_put(struct ew_map_state *s, const void *key, const void *value);
int ew_map_state_seal(struct ew_map_state *s);
const void *ew_map_state_get(const struct ew_map_state *s, const void *key);
const void *ew_map_state_key(const struct ew_map_state *s, size_t i);
const void *ew_map_state_value(const struct ew_map_state *s, size_t i);
/* Entries [from, s->n) as a state of their own, in s's memory: to read,
 * never to grow or free. */
struct ew_map_state ew_map_state_tail(const struct ew_map_state *s, size_t from);

/*
 * What turns `current` into `desired`: upserts holds the desired entries that
 * are missing or different in current, deletes the keys of current that
 * desired lacks (with current's values). Both must be initialised with the
 * same sizes as the inputs; they come out sealed.
 */
int ew_map_state_diff(const struct ew_map_state *desired,
		      const struct ew_map_state *current,
		      struct ew_map_state *upserts, struct ew_map_state *deletes);

#endif /* EW_MAPSTATE_H */
