// SPDX-License-Identifier: Apache-2.0
/* Pods of this node: their names (ew_endpoint_names) and policy state, for
 * endpoints and policy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "bpfctl.h"

const char *pod_name(int names_fd, __u32 ip, struct ew_endpoint_name *buf)
{
	struct ew_endpoint_key key = { .ip = ip };

	if (names_fd < 0 || bpf_map_lookup_elem(names_fd, &key, buf))
		return NULL;
	buf->text[sizeof(buf->text) - 1] = '\0';
	return buf->text;
}

int pod_by_name(const struct ctl *c, const char *name, __u32 *ip)
{
	struct ew_endpoint_key *keys;
	struct ew_endpoint_name *names;
	long n = read_entries(c, EW_MAP_ENDPOINT_NAMES, sizeof(*keys), sizeof(*names),
			      NULL, (void **)&keys, (void **)&names);
	int ret = 1;

	if (n < 0)
		return -1;
	for (long i = 0; i < n && ret; i++) {
		names[i].text[sizeof(names[i].text) - 1] = '\0';
		if (!strcmp(names[i].text, name)) {
			*ip = keys[i].ip;
			ret = 0;
		}
	}
	free(keys);
	free(names);
	return ret;
}

static __u32 isolated_flag(enum ew_dir dir)
{
	return dir == EW_DIR_INGRESS ? EW_EP_INGRESS_ISOLATED : EW_EP_EGRESS_ISOLATED;
}

static __u32 l7_flag(enum ew_dir dir)
{
	return dir == EW_DIR_INGRESS ? EW_EP_INGRESS_L7 : EW_EP_EGRESS_L7;
}

bool pod_isolated(const struct ew_endpoint *ep, enum ew_dir dir)
{
	return ep->flags & isolated_flag(dir);
}

char *policy_state_str(const struct ew_endpoint *ep, char buf[POLICY_STATE_LEN])
{
	static const enum ew_dir dirs[] = { EW_DIR_INGRESS, EW_DIR_EGRESS };
	size_t n = 0;

	if (ep->flags & EW_EP_POLICY_FAILED) {
		snprintf(buf, POLICY_STATE_LEN, "failed");
		return buf;
	}
	snprintf(buf, POLICY_STATE_LEN, "-");
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		bool l7 = ep->flags & l7_flag(dirs[i]);

		if (pod_isolated(ep, dirs[i]))
			n += snprintf(buf + n, POLICY_STATE_LEN - n, "%s%s%s", n ? "," : "",
				      dir_name(dirs[i]), l7 ? "+l7" : "");
	}
	return buf;
}

json_t *policy_direction_json(const struct ew_endpoint *ep, enum ew_dir dir)
{
	return json_pack("{s:b, s:b}", "isolated", pod_isolated(ep, dir), "l7",
			 !!(ep->flags & l7_flag(dir)));
}
