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

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>

#include <edgewire/abi.h>

#include "attachments.h"
#include "compile.h"
#include "mapsync.h"

#define EW_DEFAULT_BPFFS "/sys/fs/bpf/edgewire"

struct ew_datapath;


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

/* The interface that carries the node's InternalIP: VXLAN leaves and
 * arrives there. */
struct ew_underlay {
	char ifname[IF_NAMESIZE];
	int ifindex;
	int mtu;
	uint8_t mac[6];
};

/* 0 when an interface holds ip; -1 otherwise. */
int ew_datapath_find_underlay(uint32_t ip, struct ew_underlay *u);

/* Attaches the overlay program to TC ingress of the underlay. */
int ew_datapath_attach_underlay(struct ew_datapath *dp, const struct ew_underlay *u);

/* NodePorts are balanced in XDP on the underlay, attached only while there
 * are some (on): XDP on a veth turns off its peer's GSO, so every overlay
 * packet would cross it segmented. Without it NodePorts answer pods only. */
int ew_datapath_nodeport(struct ew_datapath *dp, const struct ew_underlay *u, bool on);

/* Fills in ifindex and node_mac of every attachment from the interfaces
 * present now. */
void ew_datapath_resolve(struct ew_attachments *a);

/* Makes the maps equal to d, then writes cfg (abi_version and programmed_ns
 * are filled in). Adds and changes come first, then deletes; nodes before the
 * routes that lead to them, routes before the endpoints in them; adds that
 * found a map full are tried again after the deletes. Entries that fail are
 * logged and counted; the rest is applied. */
int ew_datapath_apply(struct ew_datapath *dp, const struct ew_desired *d,
		      struct ew_config cfg, struct ew_apply_result *res);

size_t ew_datapath_endpoint_count(struct ew_datapath *dp);
bool ew_datapath_has_endpoint(struct ew_datapath *dp, uint32_t ip);

/* A map of the loaded programs by name (EW_MAP_*), for reading: its fd, owned
 * by dp, and its capacity. -1 when the programs have no such map. */
int ew_datapath_map_fd(struct ew_datapath *dp, const char *name,
		       uint32_t *max_entries);

#endif /* EW_DATAPATH_H */
