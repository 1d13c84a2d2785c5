/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Attachments: the pod interfaces the CNI plugin created on this node. They
 * are kept as one JSON file per pod in <state-dir>/attachments/, written only
 * by the agent, so a restarted agent knows the same pods.
 */
#ifndef EW_ATTACHMENTS_H
#define EW_ATTACHMENTS_H

#include <stddef.h>
#include <stdint.h>

struct ew_attachment {
	char *namespace;
	char *name;
	char *container_id;
	char *ifname;	     /* host-side veth */
	uint32_t ip;	     /* network byte order */
	uint8_t mac[6];	     /* the pod's eth0 */
	/* Resolved from the node's interfaces; ifindex 0 when it is gone. */
	uint32_t ifindex;
	uint8_t node_mac[6];
};

struct ew_attachments {
	char *dir;
	size_t n, cap;
	struct ew_attachment *items;
};

/* Loads every attachment under state_dir; files that do not parse are
 * reported and skipped. */
int ew_attachments_load(struct ew_attachments *a, const char *state_dir);
void ew_attachments_free(struct ew_attachments *a);

struct ew_attachment *ew_attachments_find(struct ew_attachments *a,
					  const char *ns, const char *name);

/* Records (replacing any for the same pod) and writes it to disk. */
int ew_attachments_put(struct ew_attachments *a, const struct ew_attachment *at);

/* Forgets the pod's attachment when container_id matches it (or is NULL).
 * Returns 1 when one was removed, 0 when there was none. */
int ew_attachments_remove(struct ew_attachments *a, const char *ns,
			  const char *name, const char *container_id);

#endif /* EW_ATTACHMENTS_H */
