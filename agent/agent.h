/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent: read store -> validate -> model (store.c) -> desired map state
 * (compile.c) -> diff with the pinned maps and apply (datapath.c). This file
 * runs that pipeline and keeps what it needs between runs.
 */
#ifndef EW_AGENT_H
#define EW_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attachments.h"
#include "compile.h"
#include "datapath.h"
#include "diag.h"
#include "metrics.h"
#include "model.h"

struct ew_agent {
	const char *node;
	const char *cni_conf;	  /* NULL: no CNI config to write */
	const char *socket;	  /* the API socket, named in the CNI config */
	struct ew_compile_config compile;
	uint32_t vni;
	uint16_t vxlan_port;	  /* host byte order */
	struct ew_underlay underlay; /* ifindex 0 while there is none */
	struct ew_store *store;
	struct ew_attachments attachments;
	struct ew_datapath *dp;
	size_t store_errors; /* problems reported by the last store load */
	uint32_t maglev_size; /* slots of every service's Maglev table */
	size_t service_errors; /* problems of services in the last compile */
	uint64_t service_diags_digest; /* of the service problems last logged */
	const char *proxy_config; /* where edgewire-proxy reads its HTTP rules */
	char *proxy_config_written; /* what was last written there */
	uint64_t host_routes_digest; /* of the host routes last written */
	int nodeport_ifindex; /* where the NodePort program is attached; 0: nowhere,
			       * -1: not known yet (an earlier agent's may be) */
	bool ready;	     /* programmed from the store at least once */
	char apply_error[96]; /* why the last apply failed; "" when it did not */
	struct ew_agent_stats stats; /* for /metrics */
};

struct ew_agent_config {
	const char *node;
	const char *store_dir;
	const char *state_dir;
	const char *bpffs;
	enum ew_tc_attach tc_attach;
	const char *socket;
	const char *cni_conf;
	uint32_t cluster_cidr; /* network byte order; 0: none */
	uint8_t cluster_prefixlen;
	uint32_t vni;
	uint16_t vxlan_port; /* host byte order */
	uint32_t maglev_size; /* a prime; 0: EW_MAGLEV_SIZE_DEFAULT */
	const char *proxy_config; /* edgewire-proxy's HTTP rules file */
};

int ew_agent_init(struct ew_agent *a, const struct ew_agent_config *cfg);
void ew_agent_fini(struct ew_agent *a);

/* First load and apply after start; re-attaches every known pod interface
 * so it runs the program this agent loaded. */
int ew_agent_start(struct ew_agent *a);

/* Re-reads the store and logs its problems. */
void ew_agent_load_store(struct ew_agent *a);

/* Brings the datapath in line with the model and attachments. */
int ew_agent_reconcile(struct ew_agent *a);

/* CNI requests. On failure they return -1 with the reason in err. */
int ew_agent_add(struct ew_agent *a, const struct ew_attachment *at, char *err,
		 size_t len);
int ew_agent_del(struct ew_agent *a, const char *ns, const char *name,
		 const char *container_id);
int ew_agent_check(struct ew_agent *a, const char *ns, const char *name,
		   char *err, size_t len);

#endif /* EW_AGENT_H */
