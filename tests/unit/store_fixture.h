/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A store in a fresh temporary directory, for the tests of the store reader
 * and the model. Each test (criterion forks one process per test) gets its own
 * directory, removed again by store_teardown.
 */
#ifndef EW_TEST_STORE_FIXTURE_H
#define EW_TEST_STORE_FIXTURE_H

#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

static struct {
	char *dir;
	struct ew_store *store;
	struct ew_diags diags;
} fx;

static inline void store_setup(void)
{
	char dir[] = "/tmp/ew-store-XXXXXX";

	cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	fx.dir = strdup(dir);
	fx.store = ew_store_new(fx.dir);
}

static inline int remove_entry(const char *path, const struct stat *st, int flag,
			       struct FTW *ftw)
{
	return remove(path);
}

static inline void store_teardown(void)
{
	ew_store_free(fx.store);
	ew_diags_clear(&fx.diags);
	nftw(fx.dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(fx.dir);
}

static inline char *store_path(const char *name)
{
	char *path;

	cr_assert_geq(asprintf(&path, "%s/%s", fx.dir, name), 0);
	return path;
}

/* Writes text as the file name, a path relative to the store directory. */
static inline void store_write(const char *name, const char *text)
{
	char *path = store_path(name);
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
	free(path);
}

static inline void store_remove(const char *name)
{
	char *path = store_path(name);

	cr_assert_eq(remove(path), 0, "%s: %s", path, strerror(errno));
	free(path);
}

/* Loads the store with fresh diags; returns what ew_store_load returned. */
static inline int store_load(void)
{
	ew_diags_clear(&fx.diags);
	return ew_store_load(fx.store, &fx.diags);
}

static inline const struct ew_model *model(void)
{
	return ew_store_model(fx.store);
}

/* All diags, one a line, for failure messages. */
static inline const char *diags_text(void)
{
	static char text[8192];
	char line[1024];

	text[0] = '\0';
	for (size_t i = 0; i < fx.diags.n; i++) {
		ew_diag_format(&fx.diags.items[i], line, sizeof(line));
		strncat(text, line, sizeof(text) - strlen(text) - 2);
		strcat(text, "\n");
	}
	return text;
}

/*
 * Asserts a diag at file:line:col whose message holds each of the
 * NULL-terminated words and, as every message must, says what was expected.
 */
static inline void assert_diag_words(const char *file, int line, int col, ...)
{
	const struct ew_diag *d = NULL;
	const char *word;
	va_list ap;

	for (size_t i = 0; i < fx.diags.n && !d; i++)
		if (!strcmp(fx.diags.items[i].file ?: "", file) &&
		    fx.diags.items[i].line == line && fx.diags.items[i].col == col)
			d = &fx.diags.items[i];
	cr_assert_not_null(d, "no diag at %s:%d:%d; diags:\n%s", file, line, col,
			   diags_text());
	cr_assert_not_null(strstr(d->msg, "expected"),
			   "diag does not say what was expected: %s", d->msg);
	va_start(ap, col);
	while ((word = va_arg(ap, const char *)))
		cr_assert_not_null(strstr(d->msg, word), "diag lacks \"%s\": %s", word,
				   d->msg);
	va_end(ap);
}

#define assert_diag(file, line, col, ...)                                                \
	assert_diag_words(file, line, col, __VA_ARGS__, NULL)

/* Asserts that the last load failed with exactly this one diag. */
#define assert_only_diag(file, line, col, ...)                                           \
	do {                                                                             \
		cr_assert_eq(fx.diags.n, 1, "want 1 diag, got:\n%s", diags_text());      \
		assert_diag(file, line, col, __VA_ARGS__);                               \
	} while (0)

#endif /* EW_TEST_STORE_FIXTURE_H */
