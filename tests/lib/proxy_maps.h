/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The maps edgewire-proxy reads and writes, made with the ABI's types for
 * its tests (no agent, no datapath): the unit test uses them unpinned, the
 * lab test pins them on a private bpffs.
 */
#ifndef EW_TEST_PROXY_MAPS_H
#define EW_TEST_PROXY_MAPS_H

#include <edgewire/abi.h>

struct proxy_maps {
	int endpoints, ipcache, policy, http_stats, events, event_stats;
};

/* Creates all six; -1 (errno) on failure. */
int proxy_maps_create(struct proxy_maps *m);
void proxy_maps_close(struct proxy_maps *m);
/* Pins them in dir under their ABI names. */
int proxy_maps_pin(const struct proxy_maps *m, const char *dir);

/* Addresses in network byte order; port in host byte order. */
int proxy_put_endpoint(const struct proxy_maps *m, __u32 ip, __u32 identity, __u32 flags);
int proxy_put_ipcache(const struct proxy_maps *m, __u32 addr, __u32 prefixlen,
		      __u32 identity, __u32 cidr_identity);
int proxy_put_policy(const struct proxy_maps *m, __u32 subject, __u32 peer,
		     enum ew_dir dir, __u16 port, __u32 rule, __u32 flags);

#endif /* EW_TEST_PROXY_MAPS_H */
