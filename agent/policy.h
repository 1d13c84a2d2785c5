/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Policy compile: NetworkPolicies and CiliumNetworkPolicies, with the pods,
 * namespaces and nodes of the store, become the desired contents of the
 * identity cache and the policy map, and each local pod's identity and
 * isolation. Pure: reads no kernel state.
 */
#ifndef EW_POLICY_H
#define EW_POLICY_H

#include <stdint.h>

#include <edgewire/abi.h>

#include "diag.h"
#include "mapstate.h"
#include "model.h"

struct ew_policy_config {
	const char *node; /* this node's name */
};

/* What policy decides for one pod of this node. */
struct ew_pod_policy_key {
	uint32_t ip; /* network byte order */
};

struct ew_pod_policy {
	uint32_t identity;
	uint32_t flags; /* EW_EP_*_ISOLATED, EW_EP_*_L7 */
};

struct ew_policy_desired {
	struct ew_map_state ipcache; /* ew_ipcache_key -> ew_ipcache */
	struct ew_map_state policy;  /* ew_policy_key -> ew_policy_entry */
	struct ew_map_state pods;    /* ew_pod_policy_key -> ew_pod_policy, every
				      * pod with an IP on this node */
	/* What the numbers in ipcache and policy stand for, for bpfctl:
	 * ew_identity_key -> ew_identity_name, every identity of ipcache but
	 * the reserved ones; ew_policy_rule_key -> ew_policy_rule_name, every
	 * rule of the policies with a subject on this node. */
	struct ew_map_state identities;
	struct ew_map_state rules;
	/* For edgewire-proxy: the HTTP rules of each L7 entry of policy, as
	 * JSON (format: docs/policy.md, L7). */
	char *proxy_config;
};

void ew_policy_desired_init(struct ew_policy_desired *d);
void ew_policy_desired_free(struct ew_policy_desired *d);

/*
 * Fills d (initialised, empty; its states come out sealed). Problems of
 * single policies go to diags. Returns -1 only when out of memory.
 */
int ew_policy_compile(const struct ew_model *m, const struct ew_policy_config *cfg,
		      struct ew_policy_desired *d, struct ew_diags *diags);

#endif /* EW_POLICY_H */
