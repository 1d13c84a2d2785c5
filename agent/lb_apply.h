/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Applying the load balancer's desired state to its maps. Ids are chosen
 * here, from what the maps hold: a backend address keeps its id, and a table
 * whose backend set is unchanged keeps its id and contents, so conntrack
 * entries and frontends stay valid across changes and restarts.
 *
 * Order, so no packet sees a half-written service: backends, then new tables,
 * then frontends; then the frontends, tables and backends that went away, in
 * that order.
 */
#ifndef EW_LB_APPLY_H
#define EW_LB_APPLY_H

#include "mapsync.h"
#include "services.h"

struct ew_lb_maps {
	struct ew_map_ref frontends, backends, tables, maglev;
};

/* Adds what it did to res. */
int ew_lb_apply(const struct ew_lb_maps *m, const struct ew_lb_desired *d,
		struct ew_apply_result *res);

#endif /* EW_LB_APPLY_H */
