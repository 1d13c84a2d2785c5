// SPDX-License-Identifier: Apache-2.0
/* Opening edgewire's pinned maps, and saying clearly why one cannot be. */
#include <errno.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "bpfctl.h"

/* The layouts this bpfctl reads; a pin of another layout is refused. */
static const struct map_layout {
	const char *name;
	__u32 key_size, value_size;
} layouts[] = {
	{ EW_MAP_ENDPOINTS, sizeof(struct ew_endpoint_key), sizeof(struct ew_endpoint) },
	{ EW_MAP_ROUTES, sizeof(struct ew_route_key), sizeof(struct ew_route) },
	{ EW_MAP_NODES, sizeof(struct ew_node_key), sizeof(struct ew_node_info) },
	{ EW_MAP_METRICS, sizeof(__u32), sizeof(struct ew_metrics) },
	{ EW_MAP_CONFIG, sizeof(__u32), sizeof(struct ew_config) },
	{ EW_MAP_EVENT_STATS, sizeof(__u32), sizeof(struct ew_event_stats) },
	{ EW_MAP_LB_FRONTENDS, sizeof(struct ew_lb_frontend_key),
	  sizeof(struct ew_lb_frontend) },
	{ EW_MAP_LB_BACKENDS, sizeof(struct ew_lb_backend_key),
	  sizeof(struct ew_lb_backend) },
	{ EW_MAP_LB_TABLES, sizeof(struct ew_lb_table_key), sizeof(struct ew_lb_table) },
	{ EW_MAP_LB_MAGLEV, sizeof(__u32), sizeof(__u32) },
	{ EW_MAP_LB_AFFINITY, sizeof(struct ew_lb_affinity_key),
	  sizeof(struct ew_lb_affinity) },
	{ EW_MAP_CT, sizeof(struct ew_ct_key), sizeof(struct ew_ct_entry) },
	{ EW_MAP_IPCACHE, sizeof(struct ew_ipcache_key), sizeof(struct ew_ipcache) },
	{ EW_MAP_POLICY, sizeof(struct ew_policy_key), sizeof(struct ew_policy_entry) },
	{ EW_MAP_IDENTITIES, sizeof(struct ew_identity_key),
	  sizeof(struct ew_identity_name) },
	{ EW_MAP_POLICY_RULES, sizeof(struct ew_policy_rule_key),
	  sizeof(struct ew_policy_rule_name) },
	{ EW_MAP_VERDICTS, sizeof(__u32), sizeof(__u64) },
	{ EW_MAP_HTTP_STATS, sizeof(struct ew_http_stats_key),
	  sizeof(struct ew_http_stats) },
	{ EW_MAP_ENDPOINT_NAMES, sizeof(struct ew_endpoint_key),
	  sizeof(struct ew_endpoint_name) },
};

int open_pin(const struct ctl *c, const char *name, char path[PATH_MAX])
{
	snprintf(path, PATH_MAX, "%s/maps/%s", c->root, name);
	return bpf_obj_get(path);
}

static bool on_bpffs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == BPF_FS_MAGIC;
}

static void explain_missing(const struct ctl *c, const char *name, const char *path)
{
	char config[PATH_MAX];
	struct stat st;

	snprintf(config, sizeof(config), "%s/maps/%s", c->root, EW_MAP_CONFIG);
	if (!stat(c->root, &st) && !on_bpffs(c->root))
		fprintf(stderr, "bpfctl: %s is not on a BPF filesystem, so it holds no "
			"pins; pass the agent's --bpffs, or mount one with 'mount -t bpf "
			"bpf /sys/fs/bpf'\n", c->root);
	else if (!strncmp(c->root, "/sys/fs/bpf/", 12) && !on_bpffs("/sys/fs/bpf"))
		fprintf(stderr, "bpfctl: no bpffs at /sys/fs/bpf; mount one with "
			"'mount -t bpf bpf /sys/fs/bpf'\n");
	else if (strcmp(name, EW_MAP_CONFIG) && !access(config, F_OK))
		fprintf(stderr, "bpfctl: %s not found: the agent that pinned the maps "
			"under %s/maps is older than this bpfctl; restart it with this "
			"edgewire version\n", path, c->root);
	else
		fprintf(stderr, "bpfctl: %s not found: the agent has not run with "
			"--bpffs %s (for a lab node pass its --bpffs)\n", path, c->root);
}

static int check_layout(const char *name, const char *path, int fd)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);

	for (size_t i = 0; i < ARRAY_SIZE(layouts); i++) {
		const struct map_layout *l = &layouts[i];

		if (strcmp(name, l->name))
			continue;
		if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
			fprintf(stderr, "bpfctl: %s: cannot read what map it is: %s\n",
				path, strerror(errno));
			return -1;
		}
		if (info.key_size == l->key_size && info.value_size == l->value_size)
			return 0;
		fprintf(stderr, "bpfctl: %s has %u-byte keys and %u-byte values, this "
			"bpfctl reads %u and %u: the pins come from another edgewire "
			"version; use the bpfctl of the running agent\n", path,
			info.key_size, info.value_size, l->key_size, l->value_size);
		return -1;
	}
	return 0;
}

int open_map(const struct ctl *c, const char *name)
{
	char path[PATH_MAX];
	int fd;

	fd = open_pin(c, name, path);
	if (fd < 0 && errno == ENOENT)
		explain_missing(c, name, path);
	else if (fd < 0 && (errno == EACCES || errno == EPERM))
		fprintf(stderr, "bpfctl: %s: permission denied; run as root\n", path);
	else if (fd < 0)
		fprintf(stderr, "bpfctl: %s: %s\n", path, strerror(errno));
	if (fd >= 0 && check_layout(name, path, fd)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

int open_optional_map(const struct ctl *c, const char *name)
{
	char path[PATH_MAX];
	int fd = open_pin(c, name, path);

	if (fd >= 0)
		close(fd);
	return fd < 0 && errno == ENOENT ? -1 : open_map(c, name);
}

/* The pins must come from an agent with this bpfctl's map layouts. */
int check_abi(const struct ctl *c)
{
	struct ew_config info;
	__u32 zero = 0;
	int fd = open_map(c, EW_MAP_CONFIG), ret = 0;

	if (fd < 0)
		return -1;
	if (bpf_map_lookup_elem(fd, &zero, &info)) {
		fprintf(stderr, "bpfctl: cannot read %s: %s\n", EW_MAP_CONFIG,
			strerror(errno));
		ret = -1;
	} else if (info.abi_version && info.abi_version != EW_ABI_VERSION) {
		fprintf(stderr, "bpfctl: the pinned maps have ABI version %u, this "
			"bpfctl reads version %u; use the bpfctl of the running agent\n",
			info.abi_version, EW_ABI_VERSION);
		ret = -1;
	}
	close(fd);
	return ret;
}

/* A key deleted while we walk makes the kernel start over: the walk stops
 * at this many keys, and duplicates are dropped after sorting. */
#define MAP_KEYS_MAX (1 << 24)

long map_keys(int fd, const char *name, size_t key_size,
	      int (*cmp)(const void *, const void *), void **keys)
{
	size_t n = 0, cap = 64, uniq = 0;
	char *v = xcalloc(cap, key_size);

	for (;;) {
		if (n == cap) {
			cap *= 2;
			v = realloc(v, cap * key_size);
			if (!v)
				die_oom();
		}
		if (n == MAP_KEYS_MAX ||
		    bpf_map_get_next_key(fd, n ? v + (n - 1) * key_size : NULL,
					 v + n * key_size))
			break;
		n++;
	}
	if (n < MAP_KEYS_MAX && errno != ENOENT) {
		fprintf(stderr, "bpfctl: cannot list %s: %s\n", name, strerror(errno));
		free(v);
		return -1;
	}
	if (!cmp) {
		*keys = v;
		return (long)n;
	}
	qsort(v, n, key_size, cmp);
	for (size_t i = 0; i < n; i++)
		if (!uniq ||
		    memcmp(v + (uniq - 1) * key_size, v + i * key_size, key_size))
			memmove(v + uniq++ * key_size, v + i * key_size, key_size);
	*keys = v;
	return (long)uniq;
}

long open_map_keys(const struct ctl *c, const char *name, size_t key_size,
		   int (*cmp)(const void *, const void *), int *fd, void **keys)
{
	long n;

	*fd = open_map(c, name);
	if (*fd < 0)
		return -1;
	n = map_keys(*fd, name, key_size, cmp, keys);
	if (n < 0) {
		close(*fd);
		*fd = -1;
	}
	return n;
}

long read_entries(const struct ctl *c, const char *name, size_t key_size,
		  size_t value_size, int (*cmp)(const void *, const void *), void **keys,
		  void **values)
{
	char *k, *v;
	long n, m = 0;
	int fd;

	n = open_map_keys(c, name, key_size, cmp, &fd, (void **)&k);
	if (n < 0)
		return -1;
	v = xcalloc(n, value_size);
	for (long i = 0; i < n; i++) {
		if (bpf_map_lookup_elem(fd, k + i * key_size, v + m * value_size))
			continue; /* deleted meanwhile */
		memmove(k + m * key_size, k + i * key_size, key_size);
		m++;
	}
	close(fd);
	*keys = k;
	*values = v;
	return m;
}

int inner_map_fd(int outer_fd, const void *key)
{
	__u32 id;

	if (bpf_map_lookup_elem(outer_fd, key, &id))
		return -1;
	return bpf_map_get_fd_by_id(id);
}
