/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which HTTP rules judge a proxied connection's requests, and the verdict on
 * one request.
 *
 * The agent writes the rules (l7-policy.json, struct l7_config): one entry
 * per L7 ew_policy entry, keyed as it is by subject, dir, port and peer. The
 * pinned maps say which entries apply to a connection client -> server:port,
 * looked up exactly as bpf/lib/policy.h's policy_allows() does:
 *
 *   - a direction applies when its pod is an endpoint of this node with the
 *     L7 flag for it: ingress when the server is (EW_EP_INGRESS_L7; the peer
 *     is the client), egress when the client is (EW_EP_EGRESS_L7; the peer
 *     is the server);
 *   - ew_policy is looked up with the peer's identity, its cidr_identity
 *     (when different) and EW_IDENTITY_ANY; an entry found without
 *     EW_POLICY_L7 lifts the check of that direction (an L4 rule allows every
 *     request, as in Cilium), otherwise the direction's rules are the union of
 *     the config entries of the L7 entries found, and none found denies all.
 *
 * A request passes when every direction that is checked has a rule it
 * matches. The selection is made again for every request, so a change of
 * the maps or the config applies from the next request on. A config that
 * could not be read denies every request (fail closed), and so does a map
 * that cannot be read.
 */
#ifndef EW_PROXY_L7POLICY_H
#define EW_PROXY_L7POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include <edgewire/abi.h>

#include "match.h"

/* The http rules of one L7 ew_policy entry. */
struct l7_entry {
	__u32 subject, peer;
	__u16 port; /* host byte order, as in the config */
	__u8 dir;   /* enum ew_dir */
	size_t n_rules;
	struct ew_http_rule *rules;
};

/* l7-policy.json, as last read. valid false: every request is denied, and
 * problem says why. */
struct l7_config {
	bool valid;
	char problem[512];
	size_t n_entries;
	struct l7_entry *entries; /* sorted by subject, dir, port, peer */
};

/* "ingress" or "egress", as the config writes them. */
const char *l7_dir_name(enum ew_dir dir);

/* Reads path into cfg, which is always left usable: on any problem it is
 * invalid, with problem naming the file, the place in it and what was
 * expected. Returns 0 when valid, -1 otherwise. */
int l7_config_load(struct l7_config *cfg, const char *path);
void l7_config_free(struct l7_config *cfg);

/* File descriptors of the maps the selection reads. */
struct l7_maps {
	int endpoints, ipcache, policy;
};

/* A connection as the datapath saw it: addresses and port as on the wire. */
struct l7_conn {
	__u32 client, server;
	__u16 server_port;
};

/* Identity, cidr_identity and EW_IDENTITY_ANY: at most three entries. */
#define L7_PEER_LOOKUPS 3

/* One direction of a connection: which L7 entries' rules must allow a
 * request. checked false: the direction does not apply or is lifted. */
struct l7_side {
	bool checked;
	size_t n_entries;
	const struct l7_entry *entries[L7_PEER_LOOKUPS];
	__u32 lift_rule; /* !checked: the rule of the L4 entry that lifted it; 0 */
};

struct l7_selection {
	struct l7_side side[EW_DIR_MAX];
};

/* The rules that apply to c now. Returns 0, or -errno when a map could not
 * be read: then sel denies every request. */
int l7_select(const struct l7_config *cfg, const struct l7_maps *maps,
	      const struct l7_conn *c, struct l7_selection *sel);

struct l7_verdict {
	bool allowed;
	__u32 rule;	  /* the http rule's policy rule that allowed it; 0 */
	enum ew_dir dir;  /* the direction that decided */
};

/* The verdict on req: the first checked direction (egress, the client's,
 * then ingress, the server's) that no rule allows denies it; otherwise it
 * is allowed by the rule of the last one checked, or with none checked by
 * l7_selection_dir()'s lifting rule. */
struct l7_verdict l7_judge(const struct l7_selection *sel,
			   const struct ew_http_head *req);

/* The direction that stands for sel when no request is judged (a malformed
 * one): the first checked, else ingress. */
enum ew_dir l7_selection_dir(const struct l7_selection *sel);

#endif /* EW_PROXY_L7POLICY_H */
