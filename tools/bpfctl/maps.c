// SPDX-License-Identifier: Apache-2.0
/* bpfctl maps: every pinned map, how full it is and the memory it holds. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpfctl.h"
#include "table.h"

/* What one map holds; entries -1 where every slot exists (arrays) or there
 * are no entries (a ring buffer). */
struct map_usage {
	long entries;
	double fill;		 /* percent; -1: not meaningful */
	unsigned long long memlock;
	bool outer;		 /* a map of maps: the inner ones below */
	long inner_maps, inner_entries;
	unsigned long long inner_memlock;
};

/* The kernel charges a map's memory to its "memlock" line in fdinfo;
 * bpf_map_info has no such field. */
static unsigned long long map_memlock(int fd)
{
	unsigned long long v = 0;
	char path[64], line[128];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* Unread bytes of a ring buffer, from its consumer and producer positions
 * (a page each, at the start of the map's mmap area); -1 when unknown. */
static long ringbuf_unread(int fd)
{
	long page = sysconf(_SC_PAGESIZE), unread = -1;
	unsigned long *cons, *prod;

	cons = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, 0);
	if (cons == MAP_FAILED)
		return -1;
	prod = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, page);
	if (prod != MAP_FAILED) {
		unread = (long)(__atomic_load_n(prod, __ATOMIC_ACQUIRE) -
				__atomic_load_n(cons, __ATOMIC_ACQUIRE));
		munmap(prod, page);
	}
	munmap(cons, page);
	return unread;
}

static bool is_array(__u32 type)
{
	return type == BPF_MAP_TYPE_ARRAY || type == BPF_MAP_TYPE_PERCPU_ARRAY;
}

/* Sums the inner maps of a map of maps. */
static int inner_usage(int fd, const char *name, const struct bpf_map_info *info,
		       struct map_usage *u)
{
	void *keys;
	long n = map_keys(fd, name, info->key_size, NULL, &keys);

	if (n < 0)
		return -1;
	u->outer = true;
	for (long i = 0; i < n; i++) {
		struct bpf_map_info inner = { 0 };
		__u32 len = sizeof(inner);
		int inner_fd = inner_map_fd(fd, (char *)keys + i * info->key_size);

		if (inner_fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(inner_fd, &inner, &len)) {
			u->inner_maps++;
			u->inner_entries += inner.max_entries; /* arrays: all are there */
			u->inner_memlock += map_memlock(inner_fd);
		}
		close(inner_fd);
	}
	free(keys);
	return 0;
}

static int map_usage(int fd, const char *name, const struct bpf_map_info *info,
		     struct map_usage *u)
{
	long unread;
	void *keys;

	*u = (struct map_usage){ .entries = -1, .fill = -1, .memlock = map_memlock(fd) };
	if (info->type == BPF_MAP_TYPE_RINGBUF) {
		unread = ringbuf_unread(fd);
		u->fill = unread < 0 ? -1 : percent(unread, info->max_entries);
		return 0;
	}
	if (is_array(info->type))
		return 0;
	u->entries = map_keys(fd, name, info->key_size, NULL, &keys);
	if (u->entries < 0)
		return -1;
	free(keys);
	u->fill = percent(u->entries, info->max_entries);
	if (info->type == BPF_MAP_TYPE_HASH_OF_MAPS ||
	    info->type == BPF_MAP_TYPE_ARRAY_OF_MAPS)
		return inner_usage(fd, name, info, u);
	return 0;
}

static void usage_cells(struct table *t, const struct bpf_map_info *info,
			const struct map_usage *u)
{
	char text[24];

	if (u->entries >= 0)
		table_uint(t, u->entries);
	else
		table_cell(t, is_array(info->type) ? "fixed" : NULL, NULL);
	/* A few entries in a big map: not "0.0%". */
	snprintf(text, sizeof(text), u->fill == 0 && u->entries > 0 ? "<0.1%%" : "%.1f%%",
		 u->fill);
	table_cell(t, u->fill >= 0 ? text : NULL,
		   u->fill >= 0 ? json_real(u->fill) : NULL);
	table_cell(t, bytes_str(u->memlock, text), json_integer((json_int_t)u->memlock));
	table_cell(t, NULL, u->outer ? json_pack("{s:I, s:I, s:I}", "maps",
		   (json_int_t)u->inner_maps, "entries", (json_int_t)u->inner_entries,
		   "memlock", (json_int_t)u->inner_memlock) : NULL);
}

/* A line under the table per map of maps, and the total. */
static void print_footer(const char *const *names, const struct map_usage *u, int n)
{
	unsigned long long total = 0;
	char size[24];

	putchar('\n');
	for (int i = 0; i < n; i++) {
		total += u[i].memlock + u[i].inner_memlock;
		if (u[i].outer)
			printf("%s: %ld inner maps, %ld entries, %s\n", names[i],
			       u[i].inner_maps, u[i].inner_entries,
			       bytes_str(u[i].inner_memlock, size));
	}
	printf("memory of all maps: %s\n", bytes_str(total, size));
}

static int pins_unreadable(const struct ctl *c, const char *dir)
{
	int fd;

	if (errno == EACCES || errno == EPERM) {
		fprintf(stderr, "bpfctl: %s: permission denied; run as root\n", dir);
		return 1;
	}
	/* Says why with the map every agent pins. */
	fd = open_map(c, EW_MAP_CONFIG);
	if (fd >= 0) {
		fprintf(stderr, "bpfctl: cannot list %s: %s\n", dir, strerror(errno));
		close(fd);
	}
	return 1;
}

int cmd_maps(const struct ctl *c)
{
	static const struct table_column cols[] = {
		{ .key = "name", .heading = "NAME" },
		{ .key = "type", .heading = "TYPE" },
		{ .key = "keySize", .heading = "KEY", .right = true },
		{ .key = "valueSize", .heading = "VALUE", .right = true },
		{ .key = "maxEntries", .heading = "MAX", .right = true },
		{ .key = "entries", .heading = "ENTRIES", .right = true },
		{ .key = "fill", .heading = "FILL", .right = true },
		{ .key = "memlock", .heading = "MEMORY" },
		{ .key = "inner", .json_only = true },
	};
	char dir[PATH_MAX], path[PATH_MAX + NAME_MAX + 2];
	struct dirent **pins;
	struct map_usage *usage;
	const char **names;
	int n, shown = 0, ret = 0;
	struct table *t;

	snprintf(dir, sizeof(dir), "%s/maps", c->root);
	n = scandir(dir, &pins, NULL, alphasort);
	if (n < 0)
		return pins_unreadable(c, dir);
	usage = xcalloc(n, sizeof(*usage));
	names = xcalloc(n, sizeof(*names));
	t = TABLE_NEW(cols);
	for (int i = 0; i < n && !ret; i++) {
		struct bpf_map_info info = { 0 };
		__u32 len = sizeof(info);
		const char *type;
		int fd;

		if (pins[i]->d_name[0] == '.' || pins[i]->d_type == DT_DIR)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, pins[i]->d_name);
		fd = bpf_obj_get(path);
		if (fd < 0 && (errno == EACCES || errno == EPERM)) {
			ret = pins_unreadable(c, path);
			break;
		}
		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len)) {
			if (fd >= 0)
				close(fd);
			continue; /* a directory or a program: no map */
		}
		if (map_usage(fd, pins[i]->d_name, &info, &usage[shown])) {
			close(fd);
			ret = 1;
			break;
		}
		close(fd);
		names[shown] = pins[i]->d_name;
		type = libbpf_bpf_map_type_str(info.type);
		table_row(t, true);
		table_str(t, pins[i]->d_name);
		table_str(t, type ? type : "unknown");
		table_uint(t, info.key_size);
		table_uint(t, info.value_size);
		table_uint(t, info.max_entries);
		usage_cells(t, &info, &usage[shown++]);
	}
	if (ret) {
		table_free(t);
	} else {
		table_print(t, c->json);
		if (!c->json)
			print_footer(names, usage, shown);
	}
	for (int i = 0; i < n; i++)
		free(pins[i]);
	free(pins);
	free(usage);
	free(names);
	return ret;
}
