/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EW_FS_H
#define EW_FS_H

/* Creates path and its missing parents (mode 0700); 0 if it exists. */
int ew_mkdir_p(const char *path);

/* Creates the directory a file at path goes into. */
int ew_mkdir_parent(const char *path);

#include <stddef.h>

/* Writes len bytes of text to path, creating its directory: to a temporary
 * name, then renamed, so readers never see half a file. -1 with errno. */
int ew_write_file_atomic(const char *path, const char *text, size_t len);

#endif /* EW_FS_H */
