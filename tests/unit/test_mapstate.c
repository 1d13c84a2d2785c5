// SPDX-License-Identifier: Apache-2.0
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "mapstate.h"

struct kv {
	uint32_t key, value;
};

static struct ew_map_state a, b, ups, dels;

static void setup(void)
{
	ew_map_state_init(&a, 4, 4);
	ew_map_state_init(&b, 4, 4);
	ew_map_state_init(&ups, 4, 4);
	ew_map_state_init(&dels, 4, 4);
}

static void teardown(void)
{
	ew_map_state_free(&a);
	ew_map_state_free(&b);
	ew_map_state_free(&ups);
	ew_map_state_free(&dels);
}

static void fill(struct ew_map_state *s, const struct kv *kvs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(ew_map_state_put(s, &kvs[i].key, &kvs[i].value), 0);
	cr_assert_eq(ew_map_state_seal(s), 0);
}

static uint32_t key_at(const struct ew_map_state *s, size_t i)
{
	uint32_t k;

	memcpy(&k, ew_map_state_key(s, i), 4);
	return k;
}

static uint32_t value_of(const struct ew_map_state *s, uint32_t key)
{
	const void *v = ew_map_state_get(s, &key);
	uint32_t out;

	cr_assert_not_null(v, "key %u missing", key);
	memcpy(&out, v, 4);
	return out;
}

TestSuite(mapstate, .init = setup, .fini = teardown);

Test(mapstate, seal_sorts_and_last_put_wins)
{
	const struct kv kvs[] = { { 3, 30 }, { 1, 10 }, { 3, 31 }, { 2, 20 }, { 1, 11 } };

	fill(&a, kvs, 5);
	cr_assert_eq(a.n, 3);
	cr_assert_eq(value_of(&a, 1), 11);
	cr_assert_eq(value_of(&a, 2), 20);
	cr_assert_eq(value_of(&a, 3), 31);
	for (size_t i = 1; i < a.n; i++)
		cr_assert(memcmp(ew_map_state_key(&a, i - 1), ew_map_state_key(&a, i), 4) < 0);
	uint32_t absent = 9;
	cr_assert_null(ew_map_state_get(&a, &absent));
}

Test(mapstate, diff_of_equal_states_is_empty)
{
	const struct kv kvs[] = { { 1, 10 }, { 2, 20 } };

	fill(&a, kvs, 2);
	fill(&b, kvs, 2);
	cr_assert_eq(ew_map_state_diff(&a, &b, &ups, &dels), 0);
	cr_assert_eq(ups.n, 0);
	cr_assert_eq(dels.n, 0);
}

Test(mapstate, diff_adds_changes_and_deletes)
{
	const struct kv desired[] = { { 1, 10 }, { 2, 21 }, { 4, 40 } };
	const struct kv current[] = { { 2, 20 }, { 3, 30 }, { 4, 40 }, { 5, 50 } };

	fill(&a, desired, 3);
	fill(&b, current, 4);
	cr_assert_eq(ew_map_state_diff(&a, &b, &ups, &dels), 0);
	cr_assert_eq(ups.n, 2);
	cr_assert_eq(value_of(&ups, 1), 10);
	cr_assert_eq(value_of(&ups, 2), 21);
	cr_assert_eq(dels.n, 2);
	cr_assert_eq(key_at(&dels, 0) == 3 || key_at(&dels, 1) == 3, 1);
	cr_assert_eq(value_of(&dels, 5), 50);
}

Test(mapstate, diff_against_empty_sides)
{
	const struct kv kvs[] = { { 7, 70 }, { 8, 80 } };

	fill(&a, kvs, 2);
	cr_assert_eq(ew_map_state_diff(&a, &b, &ups, &dels), 0);
	cr_assert_eq(ups.n, 2);
	cr_assert_eq(dels.n, 0);
	ew_map_state_clear(&ups);
	cr_assert_eq(ew_map_state_diff(&b, &a, &ups, &dels), 0);
	cr_assert_eq(ups.n, 0);
	cr_assert_eq(dels.n, 2);
}

Test(mapstate, many_entries_seal_in_one_sort)
{
	for (uint32_t i = 50000; i > 0; i--) {
		uint32_t v = i * 2;

		cr_assert_eq(ew_map_state_put(&a, &i, &v), 0);
	}
	cr_assert_eq(ew_map_state_seal(&a), 0);
	cr_assert_eq(a.n, 50000);
	cr_assert_eq(value_of(&a, 12345), 24690);
}
