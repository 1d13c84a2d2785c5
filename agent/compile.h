/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Compile: the store's model plus this node's attachments become the desired
 * contents of every datapath map. Pure: reads no kernel state.
 */
#ifndef EW_COMPILE_H
#define EW_COMPILE_H

#include <stddef.h>

#include "attachments.h"
#include "mapstate.h"
#include "model.h"
#include "policy.h"
#include "services.h"

struct ew_desired {
	struct ew_map_state endpoints; /* ew_endpoint_key -> ew_endpoint */
	struct ew_map_state endpoint_names; /* ew_endpoint_key -> ew_endpoint_name,
					     * each endpoint's, for bpfctl */
	struct ew_map_state routes;    /* ew_route_key -> ew_route */
	struct ew_map_state nodes;     /* ew_node_key -> ew_node_info */
	struct ew_lb_desired lb;       /* filled by ew_services_compile() */
	struct ew_policy_desired policy; /* filled by ew_policy_compile(), first:
					  * endpoints take their identity and
					  * isolation from it */
};

/* What compile needs to know beyond the store. */
struct ew_compile_config {
	const char *node;	    /* this node's name */
	uint32_t cluster_cidr;	    /* network byte order; 0: none */
	uint8_t cluster_prefixlen;
};

void ew_desired_init(struct ew_desired *d);
void ew_desired_free(struct ew_desired *d);

/*
 * Why an attachment cannot become an endpoint, in words for the CNI plugin's
 * user, or NULL when it can. The text lives in buf.
 */
const char *ew_attachment_problem(const struct ew_model *m, const char *node,
				  const struct ew_attachment *at, char *buf,
				  size_t len);

/* Fills d (which must be empty). Attachments with a problem are left out and
 * logged. Returns -1 only when out of memory. */
int ew_compile(const struct ew_model *m, const struct ew_compile_config *cfg,
	       const struct ew_attachments *a, struct ew_desired *d);

#endif /* EW_COMPILE_H */
