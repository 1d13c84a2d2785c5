/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Services compile: the store's Services, EndpointSlices and Pods become the
 * load balancer's desired state: frontends, backends and Maglev tables. Pure:
 * reads no kernel state. Backend and table ids are the datapath's business
 * (they must stay stable across restarts, so they come from the live maps);
 * here backends are addresses and tables are referred to by index.
 */
#ifndef EW_SERVICES_H
#define EW_SERVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <edgewire/abi.h>

#include "diag.h"
#include "model.h"

struct ew_services_config {
	const char *node;     /* this node's name */
	uint32_t node_ip;     /* network byte order; NodePorts answer here; 0: none */
	uint32_t table_size;  /* Maglev slots per table: a prime */
};

/* One Maglev table: a backend set and its slots. Two frontends with the same
 * backend addresses share one table. */
struct ew_lb_table_plan {
	uint64_t digest;		 /* of size and the backends, in order */
	uint32_t size;			 /* slots */
	size_t n_backends;
	struct ew_lb_backend *backends;	 /* sorted by address then port; flags 0 */
	uint32_t *slots;		 /* size entries, each an index into backends */
};

struct ew_lb_frontend_plan {
	struct ew_lb_frontend_key key;
	struct ew_lb_frontend value;	 /* table_id is left 0: the datapath sets it */
	long table;			 /* index into tables; -1: no backend */
	/* The service port could not be compiled (the problem is in diags):
	 * whatever the datapath holds for this key now stays as it is. */
	bool keep;
	const struct ew_service *service; /* for messages and bpfctl */
	size_t port;			 /* index into service->ports */
};

struct ew_lb_desired {
	size_t n_frontends, n_tables, n_backends;
	struct ew_lb_frontend_plan *frontends; /* sorted by key bytes, unique */
	struct ew_lb_table_plan *tables;
	/* Every backend of every frontend, terminating ones included (flag
	 * EW_BACKEND_TERMINATING; they are in no table), sorted by address then
	 * port, unique. */
	struct ew_lb_backend *backends;
};

void ew_lb_desired_free(struct ew_lb_desired *d);

/*
 * Fills d (which must be zeroed). Problems of single services are reported in
 * diags and affect only that service port. Returns -1 only when out of
 * memory.
 */
int ew_services_compile(const struct ew_model *m, const struct ew_services_config *cfg,
			struct ew_lb_desired *d, struct ew_diags *diags);

#endif /* EW_SERVICES_H */
