// SPDX-License-Identifier: Apache-2.0
#include "proxy_maps.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <unistd.h>

#include <bpf/bpf.h>

/* As bpf/lib declares them: libbpf reuses a pin only of the same definition. */
int proxy_maps_create(struct proxy_maps *m)
{
	LIBBPF_OPTS(bpf_map_create_opts, no_prealloc, .map_flags = BPF_F_NO_PREALLOC);

	m->endpoints = bpf_map_create(BPF_MAP_TYPE_HASH, EW_MAP_ENDPOINTS,
				      sizeof(struct ew_endpoint_key),
				      sizeof(struct ew_endpoint), EW_MAX_ENDPOINTS, NULL);
	m->ipcache = bpf_map_create(
		BPF_MAP_TYPE_LPM_TRIE, EW_MAP_IPCACHE, sizeof(struct ew_ipcache_key),
		sizeof(struct ew_ipcache), EW_MAX_IPCACHE, &no_prealloc);
	m->policy = bpf_map_create(
		BPF_MAP_TYPE_LPM_TRIE, EW_MAP_POLICY, sizeof(struct ew_policy_key),
		sizeof(struct ew_policy_entry), EW_MAX_POLICY, &no_prealloc);
	m->http_stats = bpf_map_create(
		BPF_MAP_TYPE_HASH, EW_MAP_HTTP_STATS, sizeof(struct ew_http_stats_key),
		sizeof(struct ew_http_stats), EW_MAX_POLICY_RULES, &no_prealloc);
	m->events = bpf_map_create(BPF_MAP_TYPE_RINGBUF, EW_MAP_EVENTS, 0, 0,
				   EW_EVENTS_RING_SIZE, NULL);
	m->event_stats =
		bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, EW_MAP_EVENT_STATS,
			       sizeof(__u32), sizeof(struct ew_event_stats), 1, NULL);
	return m->endpoints < 0 || m->ipcache < 0 || m->policy < 0 || m->http_stats < 0 ||
		       m->events < 0 || m->event_stats < 0 ?
		       -1 : 0;
}

void proxy_maps_close(struct proxy_maps *m)
{
	int *fds[] = { &m->endpoints, &m->ipcache, &m->policy,
		       &m->http_stats, &m->events, &m->event_stats };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

int proxy_maps_pin(const struct proxy_maps *m, const char *dir)
{
	const struct {
		int fd;
		const char *name;
	} pins[] = {
		{ m->endpoints, EW_MAP_ENDPOINTS },
		{ m->ipcache, EW_MAP_IPCACHE },
		{ m->policy, EW_MAP_POLICY },
		{ m->http_stats, EW_MAP_HTTP_STATS },
		{ m->events, EW_MAP_EVENTS },
		{ m->event_stats, EW_MAP_EVENT_STATS },
	};
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(pins) / sizeof(pins[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, pins[i].name);
		if (bpf_obj_pin(pins[i].fd, path)) {
			perror(path);
			return -1;
		}
	}
	return 0;
}

int proxy_put_endpoint(const struct proxy_maps *m, __u32 ip, __u32 identity, __u32 flags)
{
	struct ew_endpoint_key key = { .ip = ip };
	struct ew_endpoint ep = { .ifindex = 1, .flags = flags, .identity = identity };

	return bpf_map_update_elem(m->endpoints, &key, &ep, BPF_ANY);
}

int proxy_put_ipcache(const struct proxy_maps *m, __u32 addr, __u32 prefixlen,
		      __u32 identity, __u32 cidr_identity)
{
	struct ew_ipcache_key key = { .prefixlen = prefixlen, .addr = addr };
	struct ew_ipcache id = { .identity = identity, .cidr_identity = cidr_identity };

	return bpf_map_update_elem(m->ipcache, &key, &id, BPF_ANY);
}

int proxy_put_policy(const struct proxy_maps *m, __u32 subject, __u32 peer,
		     enum ew_dir dir, __u16 port, __u32 rule, __u32 flags)
{
	struct ew_policy_key key = {
		.prefixlen = EW_POLICY_PREFIX_FULL,
		.subject = subject,
		.peer = peer,
		.dir = dir,
		.proto = IPPROTO_TCP,
		.port = htons(port),
	};
	struct ew_policy_entry e = { .rule = rule, .flags = flags };

	return bpf_map_update_elem(m->policy, &key, &e, BPF_ANY);
}
