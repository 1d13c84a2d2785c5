// SPDX-License-Identifier: Apache-2.0
#include "fs.h"

#include <errno.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ew_mkdir_p(const char *path)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, 0700) && errno != EEXIST ? -1 : 0;
}

int ew_mkdir_parent(const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	return ew_mkdir_p(dir);
}

int ew_write_file_atomic(const char *path, const char *text, size_t len)
{
	char tmp[PATH_MAX + 8];
	bool written;
	FILE *f;

	ew_mkdir_parent(path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -1;
	written = fwrite(text, 1, len, f) == len;
	written = !fclose(f) && written;
	if (written && !rename(tmp, path))
		return 0;
	unlink(tmp);
	return -1;
}
