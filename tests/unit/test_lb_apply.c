// SPDX-License-Identifier: Apache-2.0
/*
 * ew_lb_apply against real BPF maps of the datapath's shapes (created here,
 * not pinned): ids stay stable while addresses and backend sets do, changed
 * sets get new tables and the old ones go, kept frontends keep everything
 * they use. Needs root, like the BPF tests.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "lb_apply.h"

#define SIZE 7 /* a small prime: tables are easy to read */

static struct ew_lb_maps maps;

static int create_hash(const char *name, size_t key, size_t value, uint32_t max)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC);
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, name, key, value, max, &opts);

	cr_assert_geq(fd, 0, "cannot create %s (root needed)", name);
	return fd;
}

static void setup(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, inner_opts, .map_flags = BPF_F_INNER_MAP);
	LIBBPF_OPTS(bpf_map_create_opts, outer_opts);
	int inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "inner", 4, sizeof(struct ew_maglev_chunk),
				   EW_MAGLEV_CHUNKS(SIZE), &inner_opts);

	cr_assert_geq(inner, 0);
	outer_opts.inner_map_fd = inner;
	maps = (struct ew_lb_maps){
		.frontends = { create_hash("fe", sizeof(struct ew_lb_frontend_key),
					   sizeof(struct ew_lb_frontend), 64), "fe", 64 },
		.backends = { create_hash("be", sizeof(struct ew_lb_backend_key),
					  sizeof(struct ew_lb_backend), 64), "be", 64 },
		.tables = { create_hash("tab", sizeof(struct ew_lb_table_key),
					sizeof(struct ew_lb_table), 16), "tab", 16 },
		.maglev = { bpf_map_create(BPF_MAP_TYPE_HASH_OF_MAPS, "maglev", 4, 4, 16,
					   &outer_opts), "maglev", 16 },
	};
	cr_assert_geq(maps.maglev.fd, 0);
	close(inner);
}

TestSuite(lb_apply, .init = setup);

static struct ew_lb_backend backend(const char *addr, uint16_t port, uint8_t flags)
{
	return (struct ew_lb_backend){ .addr = inet_addr(addr), .port = htons(port),
				       .flags = flags };
}

/* A service: one frontend on a table of the given backends, slots round robin. */
struct one_service {
	struct ew_lb_frontend_plan fe;
	struct ew_lb_table_plan table;
	struct ew_lb_backend backends[4];
	uint32_t slots[SIZE];
	struct ew_lb_desired d;
};

static void one_service(struct one_service *s, uint64_t digest, size_t n,
			const struct ew_lb_backend *backends)
{
	memset(s, 0, sizeof(*s));
	memcpy(s->backends, backends, n * sizeof(*backends));
	for (uint32_t i = 0; i < SIZE; i++)
		s->slots[i] = i % n;
	s->table = (struct ew_lb_table_plan){ .digest = digest, .size = SIZE,
					      .n_backends = n, .backends = s->backends,
					      .slots = s->slots };
	s->fe = (struct ew_lb_frontend_plan){
		.key = { .addr = inet_addr("10.96.0.10"), .port = htons(80), .proto = 6 },
		.value = { .table_size = SIZE },
		.table = 0,
	};
	s->d = (struct ew_lb_desired){ .n_frontends = 1, .frontends = &s->fe,
				       .n_tables = 1, .tables = &s->table,
				       .n_backends = n, .backends = s->backends };
}

static struct ew_lb_frontend frontend(void)
{
	struct ew_lb_frontend_key key = { .addr = inet_addr("10.96.0.10"),
					  .port = htons(80), .proto = 6 };
	struct ew_lb_frontend fe;

	cr_assert_eq(bpf_map_lookup_elem(maps.frontends.fd, &key, &fe), 0);
	return fe;
}

static uint32_t backend_id(const char *addr, uint16_t port)
{
	struct ew_lb_backend be;
	uint32_t key, next, *prev = NULL;

	while (!bpf_map_get_next_key(maps.backends.fd, prev, &next)) {
		key = next;
		prev = &key;
		cr_assert_eq(bpf_map_lookup_elem(maps.backends.fd, &key, &be), 0);
		if (be.addr == inet_addr(addr) && be.port == htons(port))
			return key;
	}
	return 0;
}

static size_t count(int fd)
{
	uint32_t key, next, *prev = NULL;
	size_t n = 0;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		n++;
	}
	return n;
}

/* The backend ids in a table's slots, read as abi.h lays them out: slot s
 * in chunk s / EW_MAGLEV_CHUNK; the slots past SIZE are 0. */
static void table_slots(uint32_t table_id, uint32_t *slots)
{
	struct ew_maglev_chunk chunk;
	uint32_t inner_id;
	int fd;

	cr_assert_eq(bpf_map_lookup_elem(maps.maglev.fd, &table_id, &inner_id), 0);
	fd = bpf_map_get_fd_by_id(inner_id);
	cr_assert_geq(fd, 0);
	for (uint32_t i = 0; i < EW_MAGLEV_CHUNKS(SIZE); i++) {
		cr_assert_eq(bpf_map_lookup_elem(fd, &i, &chunk), 0);
		for (uint32_t j = 0; j < EW_MAGLEV_CHUNK; j++) {
			uint32_t s = i * EW_MAGLEV_CHUNK + j;

			if (s < SIZE)
				slots[s] = chunk.ids[j];
			else
				cr_assert_eq(chunk.ids[j], 0, "slot %u past the table is %u", s,
					     chunk.ids[j]);
		}
	}
	close(fd);
}

static void apply(const struct ew_lb_desired *d)
{
	struct ew_apply_result res = { 0 };

	cr_assert_eq(ew_lb_apply(&maps, d, &res), 0);
	cr_assert_eq(res.failures, 0);
}

Test(lb_apply, writes_backends_table_and_frontend)
{
	struct ew_lb_backend bs[] = { backend("10.244.1.10", 8080, 0),
				      backend("10.244.2.10", 8080, 0) };
	struct one_service s;
	uint32_t slots[SIZE];

	one_service(&s, 42, 2, bs);
	apply(&s.d);
	cr_assert_neq(frontend().table_id, 0);
	cr_assert_eq(count(maps.backends.fd), 2);
	cr_assert_eq(count(maps.tables.fd), 1);
	table_slots(frontend().table_id, slots);
	for (uint32_t i = 0; i < SIZE; i++)
		cr_assert_eq(slots[i], backend_id(i % 2 ? "10.244.2.10" : "10.244.1.10", 8080),
			     "slot %u", i);
}

Test(lb_apply, same_state_again_writes_nothing_and_keeps_ids)
{
	struct ew_lb_backend bs[] = { backend("10.244.1.10", 8080, 0),
				      backend("10.244.2.10", 8080, 0) };
	struct ew_apply_result res = { 0 };
	struct one_service s;
	uint32_t table, id;

	one_service(&s, 42, 2, bs);
	apply(&s.d);
	table = frontend().table_id;
	id = backend_id("10.244.2.10", 8080);
	/* as after an agent restart: the maps are all that is left */
	cr_assert_eq(ew_lb_apply(&maps, &s.d, &res), 0);
	cr_assert_eq(res.upserts + res.deletes + res.failures, 0);
	cr_assert_eq(frontend().table_id, table);
	cr_assert_eq(backend_id("10.244.2.10", 8080), id);
}

Test(lb_apply, changed_set_gets_new_table_old_goes_surviving_ids_stay)
{
	struct ew_lb_backend before[] = { backend("10.244.1.10", 8080, 0),
					  backend("10.244.2.10", 8080, 0) };
	struct ew_lb_backend after[] = { backend("10.244.2.10", 8080, 0),
					 backend("10.244.3.10", 8080, 0) };
	struct one_service s;
	uint32_t old_table, kept_id, slots[SIZE];

	one_service(&s, 42, 2, before);
	apply(&s.d);
	old_table = frontend().table_id;
	kept_id = backend_id("10.244.2.10", 8080);
	one_service(&s, 43, 2, after);
	apply(&s.d);
	cr_assert_neq(frontend().table_id, old_table);
	cr_assert_eq(count(maps.tables.fd), 1);
	cr_assert_eq(count(maps.maglev.fd), 1);
	cr_assert_eq(count(maps.backends.fd), 2);
	cr_assert_eq(backend_id("10.244.1.10", 8080), 0, "removed backend deleted");
	cr_assert_eq(backend_id("10.244.2.10", 8080), kept_id);
	table_slots(frontend().table_id, slots);
	cr_assert_eq(slots[0], kept_id);
}

Test(lb_apply, no_backend_frontend_has_table_zero)
{
	struct ew_lb_backend bs[] = { backend("10.244.1.10", 8080, 0) };
	struct one_service s;

	one_service(&s, 42, 1, bs);
	s.fe.table = -1;
	s.d.n_tables = 0;
	s.d.n_backends = 0;
	apply(&s.d);
	cr_assert_eq(frontend().table_id, 0);
	cr_assert_eq(count(maps.tables.fd), 0);
}

Test(lb_apply, terminating_backend_stays_with_its_flag)
{
	struct ew_lb_backend bs[] = { backend("10.244.1.10", 8080, 0),
				      backend("10.244.2.10", 8080, EW_BACKEND_TERMINATING) };
	struct ew_lb_backend be;
	struct one_service s;
	uint32_t id;

	one_service(&s, 42, 1, bs);
	s.backends[1] = bs[1]; /* listed, but in no table */
	s.d.n_backends = 2;
	apply(&s.d);
	id = backend_id("10.244.2.10", 8080);
	cr_assert_neq(id, 0);
	cr_assert_eq(bpf_map_lookup_elem(maps.backends.fd, &id, &be), 0);
	cr_assert_eq(be.flags, EW_BACKEND_TERMINATING);
}

Test(lb_apply, kept_frontend_keeps_its_table_and_backends)
{
	struct ew_lb_backend bs[] = { backend("10.244.1.10", 8080, 0) };
	struct one_service s;
	uint32_t table, id;

	one_service(&s, 42, 1, bs);
	apply(&s.d);
	table = frontend().table_id;
	id = backend_id("10.244.1.10", 8080);
	/* the service became invalid: nothing compiled for it but keep */
	s.fe.keep = true;
	s.fe.table = -1;
	s.d.n_tables = 0;
	s.d.n_backends = 0;
	apply(&s.d);
	cr_assert_eq(frontend().table_id, table);
	cr_assert_eq(backend_id("10.244.1.10", 8080), id);
	cr_assert_eq(count(maps.tables.fd), 1);
}

Test(lb_apply, removed_service_takes_everything_with_it)
{
	struct ew_lb_backend bs[] = { backend("10.244.1.10", 8080, 0) };
	struct ew_lb_desired none = { 0 };
	struct one_service s;

	one_service(&s, 42, 1, bs);
	apply(&s.d);
	apply(&none);
	cr_assert_eq(count(maps.frontends.fd), 0);
	cr_assert_eq(count(maps.tables.fd), 0);
	cr_assert_eq(count(maps.maglev.fd), 0);
	cr_assert_eq(count(maps.backends.fd), 0);
}
