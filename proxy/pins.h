/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's pinned maps the proxy reads and writes. */
#ifndef EW_PROXY_PINS_H
#define EW_PROXY_PINS_H

#include "l7policy.h"

/* Opens <bpffs>/maps/ew_endpoints, ew_ipcache, ew_policy and ew_http_stats,
 * checking their layouts. Returns 0, or -1 after logging which is missing or
 * wrong and what to do. */
int pins_open(const char *bpffs, struct l7_maps *maps, int *stats_fd);

#endif /* EW_PROXY_PINS_H */
