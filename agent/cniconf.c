// SPDX-License-Identifier: Apache-2.0
#include "cniconf.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "log.h"
#include "netutil.h"

static json_t *conflist(const char *agent_socket, const char *subnet, int mtu)
{
	json_t *doc = json_pack("{s:s, s:s, s:[{s:s, s:s, s:{s:s, s:[[{s:s}]]}}]}",
				"cniVersion", "1.0.0", "name", "edgewire", "plugins",
				"type", "edgewire-cni", "agentSocket", agent_socket,
				"ipam", "type", "host-local", "ranges", "subnet", subnet);

	if (doc && mtu > 0)
		json_object_set_new(json_array_get(json_object_get(doc, "plugins"), 0),
				    "mtu", json_integer(mtu));
	return doc;
}

static bool same_content(const char *path, const char *text)
{
	char *old = NULL;
	size_t len = 0;
	FILE *f = fopen(path, "r");
	bool same;

	if (!f)
		return false;
	same = getdelim(&old, &len, '\0', f) >= 0 && !strcmp(old, text);
	free(old);
	fclose(f);
	return same;
}

int ew_cniconf_write(const char *path, const char *agent_socket,
		     uint32_t pod_cidr, uint8_t prefixlen, int mtu)
{
	char subnet[24], ip[16];
	json_t *doc;
	char *text;
	int ret;

	snprintf(subnet, sizeof(subnet), "%s/%u", ew_format_ipv4(pod_cidr, ip), prefixlen);
	doc = conflist(agent_socket, subnet, mtu);
	text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
	json_decref(doc);
	if (!text)
		return -1;
	if (same_content(path, text)) {
		free(text);
		return 0;
	}
	ret = ew_write_file_atomic(path, text, strlen(text));
	if (ret)
		ew_error("cni", "cannot write %s: %s", path, strerror(errno));
	else
		ew_info("cni", "wrote %s for pod CIDR %s", path, subnet);
	free(text);
	return ret;
}
