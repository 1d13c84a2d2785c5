/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node stack's routes to the pods of other nodes: each node's pod CIDR
 * via its InternalIP on the underlay, with the overlay's MTU, marked with
 * protocol EW_RTPROT_EDGEWIRE. The underlay's egress program (from_host)
 * wraps what takes them in VXLAN; the L7 proxy and host processes reach
 * remote pods this way. Routes of other owners are never touched.
 */
#ifndef EW_HOST_ROUTES_H
#define EW_HOST_ROUTES_H

#include <stddef.h>
#include <stdint.h>

#include "mapstate.h"

#define EW_RTPROT_EDGEWIRE 238

/* Makes the routes of protocol EW_RTPROT_EDGEWIRE those of the remote
 * nodes in routes (desired ew_routes: ew_route_key -> ew_route) over the
 * interface ifindex with mtu; ifindex 0 removes them all. Failures are
 * logged; returns -1 when some route could not be written. */
int ew_host_routes_sync(const struct ew_map_state *routes, int ifindex, int mtu);

#endif /* EW_HOST_ROUTES_H */
