/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading a BPF map into a map state, and applying a difference to it entry
 * by entry. Every failure is logged with the map's name and counted.
 */
#ifndef EW_MAPSYNC_H
#define EW_MAPSYNC_H

#include <stddef.h>
#include <stdint.h>

#include "mapstate.h"

struct ew_apply_result {
	size_t upserts, deletes, failures;
};

/* A map by fd, with what messages about it need. */
struct ew_map_ref {
	int fd;
	const char *name;
	uint32_t max_entries;
};

/* Appends every entry of the map to s and seals it. */
int ew_map_read(int fd, struct ew_map_state *s);

/* Writes every entry of ups. Entries that find the map full go to retry,
 * when there is one, instead of counting as failures. */
void ew_map_upsert(const struct ew_map_ref *m, const struct ew_map_state *ups,
		   struct ew_map_state *retry, struct ew_apply_result *res);

/* Deletes every key of dels; a key already gone counts as deleted. */
void ew_map_delete(const struct ew_map_ref *m, const struct ew_map_state *dels,
		   struct ew_apply_result *res);

/* The changes one map needs, to apply in a safe order. */
struct ew_map_plan {
	struct ew_map_ref map;
	struct ew_map_state upserts, deletes;
	struct ew_map_state retry; /* upserts that found the map full */
};

/* Reads the map and computes what turns it into desired. */
int ew_map_plan(struct ew_map_plan *p, const struct ew_map_ref *m,
		const struct ew_map_state *desired);
void ew_map_plan_free(struct ew_map_plan *p);

#endif /* EW_MAPSYNC_H */
