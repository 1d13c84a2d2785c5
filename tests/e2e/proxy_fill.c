// SPDX-License-Identifier: Apache-2.0
/*
 * proxy_fill: the maps of test_proxy.sh, pinned in DIR (a private bpffs's
 * maps/), with the ABI's types, as the agent would leave them.
 *
 *   proxy_fill DIR create
 *   proxy_fill DIR endpoint IP IDENTITY FLAGS      FLAGS: ingress-l7, egress-l7, both,
 * none proxy_fill DIR ipcache IP IDENTITY CIDR_IDENTITY proxy_fill DIR policy SUBJECT
 * PEER ingress|egress PORT RULE l7|l4 proxy_fill DIR stats     one line a counter: RULE
 * REASON DIR REQUESTS proxy_fill DIR events    the HTTP events in the ring, taken from
 * it: METHOD PATH STATUS REASON RULE
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "proxy_maps.h"

static const char *dir;

static int pin(const char *name)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		perror(path);
		exit(1);
	}
	return fd;
}

static __u32 ip(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1) {
		fprintf(stderr, "proxy_fill: %s is not an IPv4 address\n", s);
		exit(2);
	}
	return a.s_addr;
}

static __u32 endpoint_flags(const char *s)
{
	__u32 in = EW_EP_INGRESS_ISOLATED | EW_EP_INGRESS_L7;
	__u32 out = EW_EP_EGRESS_ISOLATED | EW_EP_EGRESS_L7;

	return !strcmp(s, "ingress-l7") ? in : !strcmp(s, "egress-l7") ? out :
	       !strcmp(s, "both")	? in | out : 0;
}

static const char *reason_name(__u8 reason)
{
	return reason == EW_REASON_FORWARD	       ? "forward" :
	       reason == EW_REASON_DROP_POLICY_DENIED ? "policy-denied" :
	       reason == EW_REASON_DROP_MALFORMED     ? "malformed" : "?";
}

static const char *dir_name(__u8 d)
{
	return d == EW_DIR_INGRESS ? "ingress" : "egress";
}

static int print_stats(void)
{
	struct ew_http_stats_key key, next, *prev = NULL;
	struct ew_http_stats value;
	int fd = pin(EW_MAP_HTTP_STATS);

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (!bpf_map_lookup_elem(fd, &key, &value))
			printf("%u %s %s %llu\n", key.rule, reason_name(key.reason),
			       dir_name(key.dir), (unsigned long long)value.requests);
	}
	return 0;
}

static int print_event(void *ctx, void *data, size_t size)
{
	const struct ew_http_event *e = data;

	if (size >= sizeof(*e) && e->ev.type == EW_EVENT_HTTP)
		printf("%s %s %u %s %u\n", e->method, e->path, e->status,
		       reason_name(e->ev.reason), e->ev.rule);
	return 0;
}

static int print_events(void)
{
	struct ring_buffer *rb =
		ring_buffer__new(pin(EW_MAP_EVENTS), print_event, NULL, NULL);

	if (!rb || ring_buffer__consume(rb) < 0) {
		perror("ring buffer");
		return 1;
	}
	ring_buffer__free(rb);
	return 0;
}

static int create(void)
{
	struct proxy_maps m;

	if (proxy_maps_create(&m)) {
		perror("bpf_map_create");
		return 1;
	}
	return proxy_maps_pin(&m, dir) ? 1 : 0;
}

static int put(int argc, char **argv)
{
	struct proxy_maps m = { .endpoints = -1, .ipcache = -1, .policy = -1 };
	const char *what = argv[2];
	int rc = -1;

	if (!strcmp(what, "endpoint") && argc == 6) {
		m.endpoints = pin(EW_MAP_ENDPOINTS);
		rc = proxy_put_endpoint(&m, ip(argv[3]), atoi(argv[4]),
					endpoint_flags(argv[5]));
	} else if (!strcmp(what, "ipcache") && argc == 6) {
		m.ipcache = pin(EW_MAP_IPCACHE);
		rc = proxy_put_ipcache(&m, ip(argv[3]), 32, atoi(argv[4]), atoi(argv[5]));
	} else if (!strcmp(what, "policy") && argc == 9) {
		m.policy = pin(EW_MAP_POLICY);
		rc = proxy_put_policy(&m, atoi(argv[3]), atoi(argv[4]),
				      !strcmp(argv[5], "ingress") ? EW_DIR_INGRESS
								  : EW_DIR_EGRESS,
				      atoi(argv[6]), atoi(argv[7]),
				      !strcmp(argv[8], "l7") ? EW_POLICY_L7 : 0);
	} else {
		fprintf(stderr,
			"proxy_fill: cannot make sense of '%s' with %d arguments\n", what,
			argc - 3);
		return 2;
	}
	if (rc)
		fprintf(stderr, "proxy_fill: %s: %s\n", what, strerror(errno));
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: proxy_fill DIR "
				"create|endpoint|ipcache|policy|stats|events ...\n");
		return 2;
	}
	dir = argv[1];
	if (!strcmp(argv[2], "create"))
		return create();
	if (!strcmp(argv[2], "stats"))
		return print_stats();
	if (!strcmp(argv[2], "events"))
		return print_events();
	return put(argc, argv);
}
