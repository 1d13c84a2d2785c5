// SPDX-License-Identifier: Apache-2.0
#include "attachments.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "log.h"
#include "netutil.h"

/* Kubernetes names never contain '_', so "<namespace>_<name>" is unique. */
static void attachment_path(const struct ew_attachments *a, const char *ns,
			    const char *name, char *path, size_t len)
{
	snprintf(path, len, "%s/%s_%s.json", a->dir, ns, name);
}

static void attachment_clear(struct ew_attachment *at)
{
	free(at->namespace);
	free(at->name);
	free(at->container_id);
	free(at->ifname);
	*at = (struct ew_attachment){ 0 };
}

static int attachment_copy(struct ew_attachment *dst, const struct ew_attachment *src)
{
	*dst = *src;
	dst->namespace = strdup(src->namespace);
	dst->name = strdup(src->name);
	dst->container_id = strdup(src->container_id ? src->container_id : "");
	dst->ifname = strdup(src->ifname);
	if (!dst->namespace || !dst->name || !dst->container_id || !dst->ifname) {
		attachment_clear(dst);
		return -1;
	}
	return 0;
}

static int attachment_from_json(json_t *j, struct ew_attachment *at)
{
	const char *ns, *name, *cid, *ifname, *ip, *mac;
	struct ew_attachment parsed = { 0 };

	if (json_unpack(j, "{s:s, s:s, s:s, s:s, s:s, s:s}", "namespace", &ns,
			"name", &name, "containerID", &cid, "ifname", &ifname,
			"ip", &ip, "mac", &mac))
		return -1;
	if (ew_parse_ipv4(ip, &parsed.ip) || ew_parse_mac(mac, parsed.mac))
		return -1;
	parsed.namespace = (char *)ns;
	parsed.name = (char *)name;
	parsed.container_id = (char *)cid;
	parsed.ifname = (char *)ifname;
	return attachment_copy(at, &parsed);
}

static json_t *attachment_to_json(const struct ew_attachment *at)
{
	char ip[16], mac[EW_MAC_STRLEN];

	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "namespace",
			 at->namespace, "name", at->name, "containerID",
			 at->container_id, "ifname", at->ifname, "ip",
			 ew_format_ipv4(at->ip, ip), "mac",
			 ew_format_mac(at->mac, mac));
}

static int append(struct ew_attachments *a, const struct ew_attachment *at)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 16;
		struct ew_attachment *items = realloc(a->items, cap * sizeof(*items));

		if (!items)
			return -1;
		a->items = items;
		a->cap = cap;
	}
	if (attachment_copy(&a->items[a->n], at))
		return -1;
	a->n++;
	return 0;
}

static int load_file(struct ew_attachments *a, const char *path)
{
	struct ew_attachment at;
	json_error_t err;
	json_t *j = json_load_file(path, 0, &err);
	int ret = -1;

	if (!j) {
		ew_warn("attach", "%s:%d:%d: skipped: %s", path, err.line,
			err.column, err.text);
		return 0;
	}
	if (attachment_from_json(j, &at)) {
		ew_warn("attach", "%s: skipped: expected an object with string fields "
			"namespace, name, containerID, ifname, ip, mac", path);
		ret = 0;
	} else {
		ret = append(a, &at);
		attachment_clear(&at);
	}
	json_decref(j);
	return ret;
}

int ew_attachments_load(struct ew_attachments *a, const char *state_dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int ret = 0;

	*a = (struct ew_attachments){ 0 };
	if (asprintf(&a->dir, "%s/attachments", state_dir) < 0)
		return -1;
	if (ew_mkdir_p(a->dir)) {
		ew_error("attach", "cannot create %s: %s", a->dir, strerror(errno));
		return -1;
	}
	d = opendir(a->dir);
	if (!d) {
		ew_error("attach", "cannot read %s: %s", a->dir, strerror(errno));
		return -1;
	}
	while (!ret && (de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (len < 6 || strcmp(de->d_name + len - 5, ".json"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", a->dir, de->d_name);
		ret = load_file(a, path);
	}
	closedir(d);
	return ret;
}

void ew_attachments_free(struct ew_attachments *a)
{
	for (size_t i = 0; i < a->n; i++)
		attachment_clear(&a->items[i]);
	free(a->items);
	free(a->dir);
	*a = (struct ew_attachments){ 0 };
}

struct ew_attachment *ew_attachments_find(struct ew_attachments *a,
					  const char *ns, const char *name)
{
	for (size_t i = 0; i < a->n; i++)
		if (!strcmp(a->items[i].namespace, ns) && !strcmp(a->items[i].name, name))
			return &a->items[i];
	return NULL;
}

/* Written to a temporary name and renamed, so a crash never leaves half a file. */
static int save(const struct ew_attachments *a, const struct ew_attachment *at)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	json_t *j = attachment_to_json(at);
	int ret;

	if (!j)
		return -1;
	attachment_path(a, at->namespace, at->name, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	ret = json_dump_file(j, tmp, JSON_COMPACT);
	json_decref(j);
	if (!ret && rename(tmp, path))
		ret = -1;
	if (ret)
		ew_error("attach", "cannot write %s: %s", path, strerror(errno));
	return ret;
}

int ew_attachments_put(struct ew_attachments *a, const struct ew_attachment *at)
{
	struct ew_attachment *old = ew_attachments_find(a, at->namespace, at->name);

	if (save(a, at))
		return -1;
	if (old) {
		struct ew_attachment copy;

		if (attachment_copy(&copy, at))
			return -1;
		attachment_clear(old);
		*old = copy;
		return 0;
	}
	return append(a, at);
}

int ew_attachments_remove(struct ew_attachments *a, const char *ns,
			  const char *name, const char *container_id)
{
	struct ew_attachment *at = ew_attachments_find(a, ns, name);
	char path[PATH_MAX];

	if (!at || (container_id && strcmp(at->container_id, container_id)))
		return 0;
	attachment_path(a, ns, name, path, sizeof(path));
	if (unlink(path) && errno != ENOENT)
		ew_warn("attach", "cannot remove %s: %s", path, strerror(errno));
	attachment_clear(at);
	*at = a->items[--a->n];
	return 1;
}
