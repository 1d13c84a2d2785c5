/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Diagnostics: problems found in user input, each pointing at a place.
 * Printed as "FILE:LINE:COL: MESSAGE", the form editors and CI jump to.
 */
#ifndef EW_DIAG_H
#define EW_DIAG_H

#include <stddef.h>

struct ew_diag {
	char *file; /* NULL for problems that have no file */
	int line;   /* 1-based; 0 when unknown */
	int col;    /* 1-based; 0 when unknown */
	char *msg;  /* what is wrong and what was expected */
};

struct ew_diags {
	size_t n, cap;
	struct ew_diag *items;
};

__attribute__((format(printf, 5, 6))) void
ew_diag_add(struct ew_diags *d, const char *file, int line, int col,
	    const char *fmt, ...);

/* "file:line:col: msg" into buf; returns buf. */
char *ew_diag_format(const struct ew_diag *d, char *buf, size_t len);

void ew_diags_clear(struct ew_diags *d);

#endif /* EW_DIAG_H */
