// SPDX-License-Identifier: Apache-2.0
/* Diagnostics: a growing list of "file:line:col: message" problems. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"

static int diags_reserve_one(struct ew_diags *d)
{
	size_t cap = d->cap ? 2 * d->cap : 8;
	struct ew_diag *items;

	if (d->n < d->cap)
		return 0;
	items = realloc(d->items, cap * sizeof(*items));
	if (!items)
		return -1;
	d->items = items;
	d->cap = cap;
	return 0;
}

/* Under memory pressure a diag is dropped rather than the agent aborted. */
void ew_diag_add(struct ew_diags *d, const char *file, int line, int col, const char *fmt,
		 ...)
{
	struct ew_diag *diag;
	char *msg, *file_copy = NULL;
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (len < 0)
		return;
	if (file && !(file_copy = strdup(file)))
		goto fail;
	if (diags_reserve_one(d))
		goto fail;
	diag = &d->items[d->n++];
	diag->file = file_copy;
	diag->line = line;
	diag->col = col;
	diag->msg = msg;
	return;
fail:
	free(file_copy);
	free(msg);
}

char *ew_diag_format(const struct ew_diag *d, char *buf, size_t len)
{
	if (!d->file)
		snprintf(buf, len, "%s", d->msg);
	else if (d->line <= 0)
		snprintf(buf, len, "%s: %s", d->file, d->msg);
	else
		snprintf(buf, len, "%s:%d:%d: %s", d->file, d->line, d->col, d->msg);
	return buf;
}

void ew_diags_clear(struct ew_diags *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->items[i].file);
		free(d->items[i].msg);
	}
	free(d->items);
	d->items = NULL;
	d->n = d->cap = 0;
}
