// SPDX-License-Identifier: Apache-2.0
/* The store merge's hash index: byte-string keys, first put wins, growth. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "index.h"

static struct ew_index ix;

static void put(const void *key, size_t len, uint64_t value)
{
	cr_assert_eq(ew_index_put(&ix, key, len, value), 0);
}

static void teardown(void)
{
	ew_index_free(&ix);
}

TestSuite(index, .fini = teardown);

Test(index, finds_what_was_put_and_nothing_else)
{
	cr_assert_null(ew_index_get(&ix, "a", 1), "an empty index finds nothing");
	put("shop\0web", 9, 7);
	cr_assert_eq(*ew_index_get(&ix, "shop\0web", 9), 7);
	cr_assert_null(ew_index_get(&ix, "shop\0we", 8));
	cr_assert_null(ew_index_get(&ix, "shopweb", 8), "NULs are part of the key");
	put("", 0, 3);
	cr_assert_eq(*ew_index_get(&ix, "", 0), 3, "the empty key is a key");
}

Test(index, the_first_put_of_a_key_wins)
{
	put("web", 3, 1);
	put("web", 3, 2);
	cr_assert_eq(*ew_index_get(&ix, "web", 3), 1);
	cr_assert_eq(ix.n, 1);
}

Test(index, keeps_every_key_as_it_grows_and_forgets_them_when_cleared)
{
	char key[32];

	for (uint64_t i = 0; i < 20000; i++)
		put(key, (size_t)snprintf(key, sizeof(key), "s%llu", (unsigned long long)i), i);
	cr_assert_eq(ix.n, 20000);
	cr_assert_leq(2 * ix.n, ix.cap, "at most half full");
	for (uint64_t i = 0; i < 20000; i++) {
		const uint64_t *v = ew_index_get(
			&ix, key, (size_t)snprintf(key, sizeof(key), "s%llu", (unsigned long long)i));

		cr_assert_not_null(v, "key %s lost", key);
		cr_assert_eq(*v, i);
	}
	ew_index_clear(&ix);
	cr_assert_eq(ix.n, 0);
	cr_assert_null(ew_index_get(&ix, "s1", 2));
	put("s1", 2, 9);
	cr_assert_eq(*ew_index_get(&ix, "s1", 2), 9, "usable after clear");
}
