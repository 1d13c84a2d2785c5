// SPDX-License-Identifier: Apache-2.0
/* The table renderer: see table.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpfctl.h"
#include "table.h"

struct table_row {
	bool shown;
	int n_cells;
	char **text; /* one per column */
};

struct table {
	const struct table_column *cols;
	int n_cols;
	struct table_row *rows;
	size_t n_rows, cap;
	json_t *json; /* the array the rows are also written to */
};

struct table *table_new(const struct table_column *cols, int n_cols)
{
	struct table *t = xcalloc(1, sizeof(*t));

	t->cols = cols;
	t->n_cols = n_cols;
	t->json = json_array();
	return t;
}

void table_row(struct table *t, bool shown)
{
	struct table_row *r;

	if (t->n_rows == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 16;
		t->rows = realloc(t->rows, t->cap * sizeof(*t->rows));
		if (!t->rows)
			die_oom();
	}
	r = &t->rows[t->n_rows++];
	*r = (struct table_row){ .shown = shown };
	r->text = xcalloc(t->n_cols, sizeof(*r->text));
	json_array_append_new(t->json, json_object());
}

void table_cell(struct table *t, const char *text, json_t *value)
{
	struct table_row *r = &t->rows[t->n_rows - 1];
	json_t *obj = json_array_get(t->json, t->n_rows - 1);

	if (r->n_cells == t->n_cols) {
		fprintf(stderr, "bpfctl: bug: more cells than the %d columns of a "
			"table\n", t->n_cols);
		abort();
	}
	json_object_set_new(obj, t->cols[r->n_cells].key, value ? value : json_null());
	r->text[r->n_cells++] = xstrdup(text ? text : "-");
}

void table_str(struct table *t, const char *s)
{
	table_cell(t, s, s ? json_string(s) : NULL);
}

void table_uint(struct table *t, unsigned long long v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%llu", v);
	table_cell(t, buf, json_integer((json_int_t)v));
}

void table_bool(struct table *t, bool v)
{
	table_cell(t, v ? "yes" : "no", json_boolean(v));
}

/* Characters, not bytes: a UTF-8 sequence takes one column. */
static int text_width(const char *s, size_t len)
{
	int w = 0;

	for (size_t i = 0; i < len; i++)
		w += ((unsigned char)s[i] & 0xc0) != 0x80;
	return w;
}

/* Line `line` of a cell: its start and length; length 0 past the end. */
static const char *cell_line(const char *text, int line, size_t *len)
{
	const char *end;

	for (; line > 0 && text; line--) {
		text = strchr(text, '\n');
		text = text ? text + 1 : NULL;
	}
	if (!text) {
		*len = 0;
		return "";
	}
	end = strchr(text, '\n');
	*len = end ? (size_t)(end - text) : strlen(text);
	return text;
}

static int cell_lines(const char *text)
{
	int n = 1;

	for (; *text; text++)
		n += *text == '\n';
	return n;
}

static void column_widths(const struct table *t, int *width)
{
	for (int i = 0; i < t->n_cols; i++) {
		const char *h = t->cols[i].heading;

		width[i] = t->cols[i].width;
		if (h && (int)strlen(h) > width[i])
			width[i] = (int)strlen(h);
	}
	for (size_t r = 0; r < t->n_rows; r++) {
		if (!t->rows[r].shown)
			continue;
		for (int i = 0; i < t->rows[r].n_cells; i++) {
			const char *text = t->rows[r].text[i];
			int lines = cell_lines(text);

			for (int l = 0; l < lines; l++) {
				size_t len;
				const char *s = cell_line(text, l, &len);
				int w = text_width(s, len);

				if (w > width[i])
					width[i] = w;
			}
		}
	}
}

/* One printed line: line `line` of each cell, padded, trailing blanks cut. */
static void print_line(const struct table *t, const int *width, const char *const *cells,
		       int line)
{
	char buf[4096];
	size_t n = 0;
	bool first = true;

	for (int i = 0; i < t->n_cols; i++) {
		const struct table_column *col = &t->cols[i];
		size_t len;
		const char *s;
		int pad;

		if (col->json_only)
			continue;
		s = cells[i] ? cell_line(cells[i], line, &len) : (len = 0, "");
		pad = width[i] - text_width(s, len);
		if (!first)
			n += snprintf(buf + n, sizeof(buf) - n, "%*s",
				      col->gap ? col->gap : 2, "");
		first = false;
		if (n >= sizeof(buf))
			break;
		n += snprintf(buf + n, sizeof(buf) - n, "%*s%.*s%*s",
			      col->right ? pad : 0, "", (int)len, s,
			      col->right ? 0 : pad, "");
		if (n >= sizeof(buf))
			break;
	}
	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	while (n && buf[n - 1] == ' ')
		n--;
	printf("%.*s\n", (int)n, buf);
}

static void print_text(const struct table *t)
{
	int width[t->n_cols];
	const char *headings[t->n_cols];
	bool any_heading = false;

	column_widths(t, width);
	for (int i = 0; i < t->n_cols; i++) {
		headings[i] = t->cols[i].heading;
		any_heading |= headings[i] && !t->cols[i].json_only;
	}
	if (any_heading)
		print_line(t, width, headings, 0);
	for (size_t r = 0; r < t->n_rows; r++) {
		const struct table_row *row = &t->rows[r];
		int lines = 1;

		if (!row->shown)
			continue;
		for (int i = 0; i < row->n_cells; i++)
			if (!t->cols[i].json_only && cell_lines(row->text[i]) > lines)
				lines = cell_lines(row->text[i]);
		for (int l = 0; l < lines; l++)
			print_line(t, width, (const char *const *)row->text, l);
	}
}

void json_print(json_t *doc)
{
	json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
	putchar('\n');
	json_decref(doc);
}

json_t *table_json(struct table *t)
{
	return t->json;
}

void table_print(struct table *t, bool json)
{
	if (json) {
		json_print(t->json);
		t->json = NULL;
	} else {
		print_text(t);
	}
	table_free(t);
}

void table_free(struct table *t)
{
	for (size_t r = 0; r < t->n_rows; r++) {
		for (int i = 0; i < t->n_cols; i++)
			free(t->rows[r].text[i]);
		free(t->rows[r].text);
	}
	free(t->rows);
	json_decref(t->json);
	free(t);
}
