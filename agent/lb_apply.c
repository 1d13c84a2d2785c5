// SPDX-License-Identifier: Apache-2.0
#include "lb_apply.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <edgewire/maglev_table.h>

#include "log.h"

/* Ids 1..max, taken or free; 0 is never an id (the datapath's "none"). */
struct id_pool {
	uint8_t *bits;
	uint32_t max, next;
};

static int pool_init(struct id_pool *p, uint32_t max)
{
	*p = (struct id_pool){ .bits = calloc(max / 8 + 1, 1), .max = max, .next = 1 };
	return p->bits ? 0 : -1;
}

static bool pool_taken(const struct id_pool *p, uint32_t id)
{
	return id > p->max || (p->bits[id / 8] & (1u << (id % 8)));
}

static void pool_take(struct id_pool *p, uint32_t id)
{
	if (id <= p->max)
		p->bits[id / 8] |= 1u << (id % 8);
}

/* The lowest free id, taken; 0 when none is left. */
static uint32_t pool_alloc(struct id_pool *p)
{
	while (p->next <= p->max && pool_taken(p, p->next))
		p->next++;
	if (p->next > p->max)
		return 0;
	pool_take(p, p->next);
	return p->next++;
}

static void pool_take_all(struct id_pool *p, const struct ew_map_state *s)
{
	for (size_t i = 0; i < s->n; i++)
		pool_take(p, *(const uint32_t *)ew_map_state_key(s, i));
}

/* A backend address with its id; arrays of them are sorted by address. */
struct backend_id {
	uint32_t addr;
	uint16_t port;
	uint32_t id;
};

static int backend_id_cmp(const void *a, const void *b)
{
	const struct backend_id *x = a, *y = b;

	if (x->addr != y->addr)
		return ntohl(x->addr) < ntohl(y->addr) ? -1 : 1;
	return (int)ntohs(x->port) - (int)ntohs(y->port);
}

static uint32_t find_id(const struct backend_id *v, size_t n, uint32_t addr, uint16_t port)
{
	struct backend_id key = { .addr = addr, .port = port };
	const struct backend_id *hit = bsearch(&key, v, n, sizeof(*v), backend_id_cmp);

	return hit ? hit->id : 0;
}

struct lb_apply {
	const struct ew_lb_maps *maps;
	const struct ew_lb_desired *d;
	struct ew_apply_result *res;
	/* the maps as they are */
	struct ew_map_state cur_backends, cur_tables, cur_frontends;
	/* the maps as they must be, by id */
	struct ew_map_state backends, tables, frontends;
	struct backend_id *ids; /* d->backends with their ids, sorted */
	size_t n_ids;
	uint32_t *table_ids;	/* per d->tables */
	bool *table_new;	/* per d->tables: not in the maps yet */
};

static int read_current(struct lb_apply *a)
{
	const struct ew_lb_maps *m = a->maps;

	ew_map_state_init(&a->cur_backends, sizeof(struct ew_lb_backend_key),
			  sizeof(struct ew_lb_backend));
	ew_map_state_init(&a->cur_tables, sizeof(struct ew_lb_table_key),
			  sizeof(struct ew_lb_table));
	ew_map_state_init(&a->cur_frontends, sizeof(struct ew_lb_frontend_key),
			  sizeof(struct ew_lb_frontend));
	ew_map_state_init(&a->backends, sizeof(struct ew_lb_backend_key),
			  sizeof(struct ew_lb_backend));
	ew_map_state_init(&a->tables, sizeof(struct ew_lb_table_key),
			  sizeof(struct ew_lb_table));
	ew_map_state_init(&a->frontends, sizeof(struct ew_lb_frontend_key),
			  sizeof(struct ew_lb_frontend));
	return ew_map_read(m->backends.fd, &a->cur_backends) ||
	       ew_map_read(m->tables.fd, &a->cur_tables) ||
	       ew_map_read(m->frontends.fd, &a->cur_frontends);
}

/* Existing addresses keep their ids; new ones get the lowest free. */
static int assign_backend_ids(struct lb_apply *a)
{
	const struct ew_map_state *cur = &a->cur_backends;
	struct backend_id *old = calloc(cur->n + 1, sizeof(*old));
	struct id_pool pool = { 0 };
	int err = -1;

	a->ids = calloc(a->d->n_backends + 1, sizeof(*a->ids));
	if (!old || !a->ids || pool_init(&pool, a->maps->backends.max_entries))
		goto out;
	pool_take_all(&pool, cur);
	for (size_t i = 0; i < cur->n; i++) {
		const struct ew_lb_backend *be = ew_map_state_value(cur, i);

		old[i] = (struct backend_id){ .addr = be->addr, .port = be->port,
					      .id = *(const uint32_t *)ew_map_state_key(cur, i) };
	}
	qsort(old, cur->n, sizeof(*old), backend_id_cmp);
	for (size_t i = 0; i < a->d->n_backends; i++) {
		const struct ew_lb_backend *be = &a->d->backends[i];
		uint32_t id = find_id(old, cur->n, be->addr, be->port) ?: pool_alloc(&pool);

		if (!id) {
			a->res->failures++;
			ew_error("datapath", "map %s is full (%u entries): backend not "
				 "programmed", a->maps->backends.name,
				 a->maps->backends.max_entries);
			continue;
		}
		a->ids[a->n_ids++] = (struct backend_id){ .addr = be->addr,
							   .port = be->port, .id = id };
		if (ew_map_state_put(&a->backends, &id, be))
			goto out;
	}
	qsort(a->ids, a->n_ids, sizeof(*a->ids), backend_id_cmp);
	err = 0;
out:
	free(old);
	free(pool.bits);
	return err;
}

/* A table in the maps, found by its digest. */
struct table_id {
	struct ew_lb_table meta;
	uint32_t id;
};

static int table_id_cmp(const void *a, const void *b)
{
	const struct ew_lb_table *x = a, *y = b;

	if (x->digest != y->digest)
		return x->digest < y->digest ? -1 : 1;
	if (x->size != y->size)
		return x->size < y->size ? -1 : 1;
	return x->n_backends < y->n_backends ? -1 : x->n_backends > y->n_backends;
}

static struct table_id *tables_by_digest(const struct ew_map_state *cur)
{
	struct table_id *v = calloc(cur->n + 1, sizeof(*v));

	if (!v)
		return NULL;
	for (size_t i = 0; i < cur->n; i++)
		v[i] = (struct table_id){ .meta = *(const struct ew_lb_table *)
						  ew_map_state_value(cur, i),
					  .id = *(const uint32_t *)ew_map_state_key(cur, i) };
	qsort(v, cur->n, sizeof(*v), table_id_cmp);
	return v;
}

/* A table whose backend set is in the maps already keeps its id. */
static int assign_table_ids(struct lb_apply *a)
{
	struct table_id *old = tables_by_digest(&a->cur_tables);
	struct id_pool pool = { 0 };
	int err = -1;

	a->table_ids = calloc(a->d->n_tables + 1, sizeof(*a->table_ids));
	a->table_new = calloc(a->d->n_tables + 1, sizeof(*a->table_new));
	if (!old || !a->table_ids || !a->table_new ||
	    pool_init(&pool, a->maps->tables.max_entries))
		goto out;
	pool_take_all(&pool, &a->cur_tables);
	for (size_t i = 0; i < a->d->n_tables; i++) {
		const struct ew_lb_table_plan *t = &a->d->tables[i];
		struct ew_lb_table meta = { .digest = t->digest, .size = t->size,
					    .n_backends = t->n_backends };
		struct table_id *hit = bsearch(&meta, old, a->cur_tables.n, sizeof(*old),
					       table_id_cmp);
		uint32_t id = hit ? hit->id : pool_alloc(&pool);

		a->table_new[i] = !hit;
		if (!id) {
			a->res->failures++;
			ew_error("datapath", "map %s is full (%u tables): service "
				 "table not programmed", a->maps->tables.name,
				 a->maps->tables.max_entries);
			continue;
		}
		a->table_ids[i] = id;
		if (ew_map_state_put(&a->tables, &id, &meta))
			goto out;
	}
	err = 0;
out:
	free(old);
	free(pool.bits);
	return err;
}

/* Reads the backend ids of a table in the maps. */
static int read_table(const struct ew_lb_maps *m, uint32_t id, uint32_t size,
		      uint32_t *slots)
{
	uint32_t inner_id;
	int fd, err;

	if (bpf_map_lookup_elem(m->maglev.fd, &id, &inner_id))
		return -1;
	fd = bpf_map_get_fd_by_id(inner_id);
	if (fd < 0)
		return -1;
	err = ew_maglev_table_read(fd, slots, size);
	close(fd);
	return err;
}

/* A frontend whose service could not be compiled keeps what it has: its
 * value, its table and that table's backends. */
static int keep_frontend(struct lb_apply *a, const struct ew_lb_frontend_plan *f)
{
	const struct ew_lb_frontend *fe = ew_map_state_get(&a->cur_frontends, &f->key);
	const struct ew_lb_table *meta;
	uint32_t *slots;
	int err = 0;

	if (!fe)
		return 0;
	if (ew_map_state_put(&a->frontends, &f->key, fe))
		return -1;
	meta = fe->table_id ? ew_map_state_get(&a->cur_tables, &fe->table_id) : NULL;
	if (!meta || ew_map_state_put(&a->tables, &fe->table_id, meta))
		return meta ? -1 : 0;
	slots = calloc(meta->size, sizeof(*slots));
	if (!slots || read_table(a->maps, fe->table_id, meta->size, slots)) {
		free(slots);
		return slots ? 0 : -1;
	}
	for (uint32_t s = 0; s < meta->size && !err; s++) {
		const void *be = ew_map_state_get(&a->cur_backends, &slots[s]);

		if (be)
			err = ew_map_state_put(&a->backends, &slots[s], be);
	}
	free(slots);
	return err;
}

static int desired_frontends(struct lb_apply *a)
{
	for (size_t i = 0; i < a->d->n_frontends; i++) {
		const struct ew_lb_frontend_plan *f = &a->d->frontends[i];
		struct ew_lb_frontend value = f->value;

		if (f->keep) {
			if (keep_frontend(a, f))
				return -1;
			continue;
		}
		value.table_id = f->table >= 0 ? a->table_ids[f->table] : 0;
		if (ew_map_state_put(&a->frontends, &f->key, &value))
			return -1;
	}
	return 0;
}

/*
 * New tables go into the map of maps TABLE_BATCH at a time, in one batch:
 * every write to a map of maps waits for an RCU grace period (the kernel's
 * maybe_wait_bpf_programs(), 10-15 ms here), a batch waits once. A batch
 * keeps its tables' fds open, so it is bounded well below RLIMIT_NOFILE.
 */
#define TABLE_BATCH 256

struct table_batch {
	uint32_t n;
	uint32_t ids[TABLE_BATCH];
	uint32_t fds[TABLE_BATCH];
};

/* Creates table t's array and fills it; its fd, or -1. slots: room for
 * t->size ids. */
static int create_table(struct lb_apply *a, const struct ew_lb_table_plan *t, uint32_t *slots)
{
	uint32_t *ids = calloc(t->n_backends + 1, sizeof(*ids));
	int fd;

	if (!ids)
		return -1;
	for (size_t i = 0; i < t->n_backends; i++)
		ids[i] = find_id(a->ids, a->n_ids, t->backends[i].addr, t->backends[i].port);
	for (uint32_t s = 0; s < t->size; s++)
		slots[s] = ids[t->slots[s]];
	free(ids);
	fd = ew_maglev_table_create(slots, t->size);
	if (fd < 0) {
		ew_error("datapath", "cannot create a service table of %u slots: %s",
			 t->size, strerror(-fd));
		return -1;
	}
	return fd;
}

/* Publishes the batch's tables and closes their fds (the map holds them).
 * Where the batch stops, the rest go one by one, each failure its own. */
static void publish_tables(struct lb_apply *a, struct table_batch *b)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	uint32_t done = b->n;

	if (b->n && bpf_map_update_batch(a->maps->maglev.fd, b->ids, b->fds, &done, &opts))
		done = done < b->n ? done : 0;
	for (uint32_t i = done; i < b->n; i++) {
		if (!bpf_map_update_elem(a->maps->maglev.fd, &b->ids[i], &b->fds[i], BPF_ANY))
			continue;
		a->res->failures++;
		ew_error("datapath", "cannot write service table %u to %s: %s", b->ids[i],
			 a->maps->maglev.name, strerror(errno));
	}
	for (uint32_t i = 0; i < b->n; i++)
		close((int)b->fds[i]);
	b->n = 0;
}

static void write_new_tables(struct lb_apply *a)
{
	struct table_batch *b = calloc(1, sizeof(*b));
	uint32_t max = 0, *slots;
	int fd;

	for (size_t i = 0; i < a->d->n_tables; i++)
		if (a->d->tables[i].size > max)
			max = a->d->tables[i].size;
	slots = calloc(max + 1, sizeof(*slots));
	for (size_t i = 0; i < a->d->n_tables; i++) {
		if (!a->table_new[i] || !a->table_ids[i])
			continue;
		fd = b && slots ? create_table(a, &a->d->tables[i], slots) : -1;
		if (fd < 0) {
			a->res->failures++;
			continue;
		}
		b->ids[b->n] = a->table_ids[i];
		b->fds[b->n++] = (uint32_t)fd;
		if (b->n == TABLE_BATCH)
			publish_tables(a, b);
	}
	if (b)
		publish_tables(a, b);
	free(b);
	free(slots);
}

/* Tables leave the map of maps in batches, as they came (TABLE_BATCH);
 * where a batch stops (a table already gone), the rest go one by one. */
static void delete_maglev_tables(struct lb_apply *a, const struct ew_map_state *dels)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	uint32_t ids[TABLE_BATCH], n, done;
	struct ew_map_state rest;

	for (size_t from = 0; from < dels->n; from += done) {
		n = dels->n - from < TABLE_BATCH ? dels->n - from : TABLE_BATCH;
		for (uint32_t i = 0; i < n; i++)
			ids[i] = *(const uint32_t *)ew_map_state_key(dels, from + i);
		done = n;
		if (!bpf_map_delete_batch(a->maps->maglev.fd, ids, &done, &opts))
			continue;
		if (done > n)
			done = 0;
		rest = ew_map_state_tail(dels, from + done);
		ew_map_delete(&a->maps->maglev, &rest, a->res);
		return;
	}
}

static void delete_tables(struct lb_apply *a, const struct ew_map_state *dels)
{
	size_t deletes = a->res->deletes;

	delete_maglev_tables(a, dels);
	a->res->deletes = deletes; /* one table, counted once below */
	ew_map_delete(&a->maps->tables, dels, a->res);
}

static void lb_apply_free(struct lb_apply *a)
{
	ew_map_state_free(&a->cur_backends);
	ew_map_state_free(&a->cur_tables);
	ew_map_state_free(&a->cur_frontends);
	ew_map_state_free(&a->backends);
	ew_map_state_free(&a->tables);
	ew_map_state_free(&a->frontends);
	free(a->ids);
	free(a->table_ids);
	free(a->table_new);
}

int ew_lb_apply(const struct ew_lb_maps *m, const struct ew_lb_desired *d,
		struct ew_apply_result *res)
{
	struct lb_apply a = { .maps = m, .d = d, .res = res };
	struct ew_map_plan backends = { 0 }, tables = { 0 }, frontends = { 0 };
	int err;

	err = read_current(&a) || assign_backend_ids(&a) || assign_table_ids(&a) ||
	      desired_frontends(&a) || ew_map_state_seal(&a.backends) ||
	      ew_map_state_seal(&a.tables) || ew_map_state_seal(&a.frontends) ||
	      ew_map_plan(&backends, &m->backends, &a.backends) ||
	      ew_map_plan(&tables, &m->tables, &a.tables) ||
	      ew_map_plan(&frontends, &m->frontends, &a.frontends);
	if (!err) {
		ew_map_upsert(&m->backends, &backends.upserts, NULL, res);
		write_new_tables(&a);
		ew_map_upsert(&m->tables, &tables.upserts, NULL, res);
		ew_map_upsert(&m->frontends, &frontends.upserts, NULL, res);
		ew_map_delete(&m->frontends, &frontends.deletes, res);
		delete_tables(&a, &tables.deletes);
		ew_map_delete(&m->backends, &backends.deletes, res);
	} else {
		ew_error("datapath", "cannot plan the service maps: out of memory "
			 "or a map cannot be read");
	}
	ew_map_plan_free(&backends);
	ew_map_plan_free(&tables);
	ew_map_plan_free(&frontends);
	lb_apply_free(&a);
	return err || res->failures ? -1 : 0;
}
