/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The only stage that touches the kernel: loads the programs with their maps
 * pinned under a bpffs root, attaches them to pod interfaces, and applies
 * desired map state by difference.
 *
 * Pins: <root>/maps/<map>, <root>/progs/<program>, <root>/links/<ifname>.
 * They outlive the agent, so pods keep forwarding while it restarts.
 */
#ifndef EW_DATAPATH_H
#define EW_DATAPATH_H

#include <stdbool.h>
#include <stddef.h>

#include "attachments.h"
#include "compile.h"

#define EW_DEFAULT_BPFFS "/sys/fs/bpf/edgewire"

struct ew_datapath;

struct ew_apply_result {
	size_t upserts, deletes, failures;
};

enum ew_tc_attach {
	EW_TC_ATTACH_AUTO,   /* tcx where the kernel has it, else clsact */
	EW_TC_ATTACH_TCX,
	EW_TC_ATTACH_CLSACT,
};

/* Probes the kernel, loads the programs (reusing existing map pins) and pins
 * them. Every problem is logged with what to do about it. */
struct ew_datapath *ew_datapath_open(const char *bpffs, enum ew_tc_attach attach);
void ew_datapath_close(struct ew_datapath *dp);

/* Attaches the pod program to TC ingress of ifindex, replacing any earlier
 * edgewire program there. */
int ew_datapath_attach(struct ew_datapath *dp, const char *ifname, int ifindex);
void ew_datapath_detach(struct ew_datapath *dp, const char *ifname);

/* Fills in ifindex and node_mac of every attachment from the interfaces
 * present now. */
void ew_datapath_resolve(struct ew_attachments *a);

/* Makes the maps equal to d: adds and changes first, then deletes, routes
 * before the endpoints that rely on them. Entries that fail are logged and
 * counted; the rest is applied. */
int ew_datapath_apply(struct ew_datapath *dp, const struct ew_desired *d,
		      uint32_t node_ip, struct ew_apply_result *res);

size_t ew_datapath_endpoint_count(struct ew_datapath *dp);
bool ew_datapath_has_endpoint(struct ew_datapath *dp, uint32_t ip);

#endif /* EW_DATAPATH_H */
