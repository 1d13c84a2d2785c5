/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one way bpfctl prints a list: rows of cells under columns, as aligned
 * text for people or as a JSON array of objects for scripts. A cell has both
 * forms, so a command fills its rows once and never asks which is wanted.
 */
#ifndef BPFCTL_TABLE_H
#define BPFCTL_TABLE_H

#include <jansson.h>
#include <stdbool.h>

struct table_column {
	const char *key;     /* member name in the JSON objects */
	const char *heading; /* NULL in every column: no heading line */
	int width;	     /* minimum text width; wider cells widen the column */
	bool right;	     /* right-aligned (counters) */
	int gap;	     /* spaces before the column; 0: two */
	bool json_only;	     /* no text column */
};

struct table;

struct table *table_new(const struct table_column *cols, int n_cols);
#define TABLE_NEW(cols) table_new(cols, (int)(sizeof(cols) / sizeof((cols)[0])))

/* Starts a row; cells then fill its columns in order. A row that is not
 * shown is only in the JSON (e.g. counters at zero). */
void table_row(struct table *t, bool shown);

/* The next cell: text (lines separated by '\n'; NULL: "-") and its JSON
 * value, which the table takes over (NULL: JSON null). */
void table_cell(struct table *t, const char *text, json_t *value);
void table_str(struct table *t, const char *s); /* NULL: "-" and null */
void table_uint(struct table *t, unsigned long long v);
void table_bool(struct table *t, bool v); /* "yes"/"no", true/false */

/* The rows as the JSON array (the table's: valid until it is freed). */
json_t *table_json(struct table *t);

/* Prints the table and frees it. */
void table_print(struct table *t, bool json);
void table_free(struct table *t);

/* One JSON document on stdout, as every command prints it; takes doc. */
void json_print(json_t *doc);

#endif /* BPFCTL_TABLE_H */
