// SPDX-License-Identifier: Apache-2.0
#include "mapsync.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "log.h"

int ew_map_read(int fd, struct ew_map_state *s)
{
	uint8_t *key = malloc(s->key_size), *next = malloc(s->key_size);
	uint8_t *value = malloc(s->value_size);
	void *prev = NULL;
	int err = key && next && value ? 0 : -1;

	while (!err && !bpf_map_get_next_key(fd, prev, next)) {
		if (!bpf_map_lookup_elem(fd, next, value) &&
		    ew_map_state_put(s, next, value))
			err = -1;
		memcpy(key, next, s->key_size);
		prev = key;
	}
	free(key);
	free(next);
	free(value);
	return err ? -1 : ew_map_state_seal(s);
}

static bool is_full(int err)
{
	return err == E2BIG || err == ENOSPC;
}

void ew_map_upsert(const struct ew_map_ref *m, const struct ew_map_state *ups,
		   struct ew_map_state *retry, struct ew_apply_result *res)
{
	for (size_t i = 0; i < ups->n; i++) {
		const void *key = ew_map_state_key(ups, i), *value = ew_map_state_value(ups, i);

		if (!bpf_map_update_elem(m->fd, key, value, BPF_ANY)) {
			res->upserts++;
			continue;
		}
		if (is_full(errno) && retry && !ew_map_state_put(retry, key, value))
			continue;
		res->failures++;
		if (is_full(errno))
			ew_error("datapath", "map %s is full (%u entries): entry not "
				 "programmed", m->name, m->max_entries);
		else
			ew_error("datapath", "cannot update map %s: %s", m->name,
				 strerror(errno));
	}
}

void ew_map_delete(const struct ew_map_ref *m, const struct ew_map_state *dels,
		   struct ew_apply_result *res)
{
	for (size_t i = 0; i < dels->n; i++) {
		if (!bpf_map_delete_elem(m->fd, ew_map_state_key(dels, i)) ||
		    errno == ENOENT) {
			res->deletes++;
			continue;
		}
		res->failures++;
		ew_error("datapath", "cannot delete from map %s: %s", m->name,
			 strerror(errno));
	}
}

int ew_map_plan(struct ew_map_plan *p, const struct ew_map_ref *m,
		const struct ew_map_state *desired)
{
	struct ew_map_state current;
	int err;

	p->map = *m;
	ew_map_state_init(&current, desired->key_size, desired->value_size);
	ew_map_state_init(&p->upserts, desired->key_size, desired->value_size);
	ew_map_state_init(&p->deletes, desired->key_size, desired->value_size);
	ew_map_state_init(&p->retry, desired->key_size, desired->value_size);
	err = ew_map_read(m->fd, &current) ||
	      ew_map_state_diff(desired, &current, &p->upserts, &p->deletes);
	ew_map_state_free(&current);
	return err ? -1 : 0;
}

void ew_map_plan_free(struct ew_map_plan *p)
{
	ew_map_state_free(&p->upserts);
	ew_map_state_free(&p->deletes);
	ew_map_state_free(&p->retry);
}
