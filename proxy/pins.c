// SPDX-License-Identifier: Apache-2.0
/* Opening the agent's pins, and saying clearly why one cannot be. */
#include "pins.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "log.h"

static int pin_open(const char *bpffs, const char *name, __u32 key_size, __u32 value_size)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/maps/%s", bpffs, name);
	fd = bpf_obj_get(path);
	if (fd < 0 && errno == ENOENT) {
		ew_error("proxy",
			 "%s not found: the agent has not run with --bpffs %s; "
			 "start it first (the proxy works on its pinned maps)",
			 path, bpffs);
		return -1;
	}
	if (fd < 0) {
		ew_error("proxy", "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.key_size == key_size &&
	    info.value_size == value_size)
		return fd;
	ew_error("proxy", "%s has %u-byte keys and %u-byte values, this proxy reads %u "
		 "and %u: the agent comes from another edgewire version", path,
		 info.key_size, info.value_size, key_size, value_size);
	close(fd);
	return -1;
}

int pins_open(const char *bpffs, struct l7_maps *maps, int *stats_fd)
{
	maps->endpoints =
		pin_open(bpffs, EW_MAP_ENDPOINTS, sizeof(struct ew_endpoint_key),
			 sizeof(struct ew_endpoint));
	maps->ipcache = pin_open(bpffs, EW_MAP_IPCACHE, sizeof(struct ew_ipcache_key),
				 sizeof(struct ew_ipcache));
	maps->policy = pin_open(bpffs, EW_MAP_POLICY, sizeof(struct ew_policy_key),
				sizeof(struct ew_policy_entry));
	*stats_fd = pin_open(bpffs, EW_MAP_HTTP_STATS, sizeof(struct ew_http_stats_key),
			     sizeof(struct ew_http_stats));
	return maps->endpoints < 0 || maps->ipcache < 0 || maps->policy < 0 ||
			       *stats_fd < 0
		       ? -1
		       : 0;
}
