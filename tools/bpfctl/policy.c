// SPDX-License-Identifier: Apache-2.0
/* bpfctl identities, ipcache, policy: who the datapath takes addresses for,
 * and what a pod may receive and send. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "bpfctl.h"
#include "table.h"

/* Key bits of struct ew_policy_key: subject, peer and dir; then proto. */
#define PREFIX_PROTO_ANY 72
#define PREFIX_PORT_ANY	 80

int identities_open(const struct ctl *c, struct identities *ids)
{
	ids->ipcache_fd = open_map(c, EW_MAP_IPCACHE);
	ids->names_fd = ids->ipcache_fd < 0 ? -1 : open_map(c, EW_MAP_IDENTITIES);
	if (ids->names_fd >= 0)
		return 0;
	identities_close(ids);
	return -1;
}

void identities_close(struct identities *ids)
{
	if (ids->ipcache_fd >= 0)
		close(ids->ipcache_fd);
	if (ids->names_fd >= 0)
		close(ids->names_fd);
	ids->ipcache_fd = ids->names_fd = -1;
}

/* As the datapath: an address in no entry is world. */
struct ew_ipcache identity_of_addr(const struct identities *ids, __u32 addr)
{
	struct ew_ipcache_key key = { .prefixlen = 32, .addr = addr };
	struct ew_ipcache v;

	if (bpf_map_lookup_elem(ids->ipcache_fd, &key, &v))
		return (struct ew_ipcache){ EW_IDENTITY_WORLD, EW_IDENTITY_WORLD };
	return v;
}

static const char *reserved_name(__u32 id)
{
	switch (id) {
	case EW_IDENTITY_ANY: return "any";
	case EW_IDENTITY_HOST: return "reserved:host";
	case EW_IDENTITY_WORLD: return "reserved:world";
	case EW_IDENTITY_REMOTE_NODE: return "reserved:remote-node";
	default: return NULL;
	}
}

const char *identity_name(const struct identities *ids, __u32 id,
			  struct ew_identity_name *buf)
{
	struct ew_identity_key key = { .identity = id };

	if (reserved_name(id))
		return reserved_name(id);
	if (bpf_map_lookup_elem(ids->names_fd, &key, buf))
		return "unknown (not in " EW_MAP_IDENTITIES ")";
	buf->text[sizeof(buf->text) - 1] = '\0';
	return buf->text;
}

/* "12345 shop app=web"; "any" alone. */
static char *identity_str(const struct identities *ids, __u32 id, char *buf, size_t len)
{
	struct ew_identity_name name;

	if (id == EW_IDENTITY_ANY)
		snprintf(buf, len, "any");
	else
		snprintf(buf, len, "%u %s", id, identity_name(ids, id, &name));
	return buf;
}

/* --- identities ------------------------------------------------------------------ */

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

static int cmp_ipcache_key(const void *a, const void *b)
{
	const struct ew_ipcache_key *x = a, *y = b;
	int c = cmp_u32_net(x->addr, y->addr);

	return c ? c : (x->prefixlen > y->prefixlen) - (x->prefixlen < y->prefixlen);
}

struct ipcache_entries {
	long n;
	struct ew_ipcache_key *keys; /* by address, then prefix length */
	struct ew_ipcache *values;
};

static int ipcache_read(const struct ctl *c, struct ipcache_entries *e)
{
	e->n = read_entries(c, EW_MAP_IPCACHE, sizeof(*e->keys), sizeof(*e->values),
			    cmp_ipcache_key, (void **)&e->keys, (void **)&e->values);
	return e->n < 0 ? -1 : 0;
}

static long addresses_of(const struct ipcache_entries *e, __u32 id)
{
	long n = 0;

	for (long i = 0; i < e->n; i++)
		n += e->values[i].identity == id;
	return n;
}

/* A name's labels "k=v,k=v" as an object; NULL for a CIDR or reserved. */
static json_t *labels_json(const char *labels)
{
	json_t *o = json_object();
	char *copy = xstrdup(labels), *save = NULL;

	for (char *l = strtok_r(copy, ",", &save); l; l = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(l, '=');

		if (eq)
			*eq = '\0';
		json_object_set_new(o, l, json_string(eq ? eq + 1 : ""));
	}
	free(copy);
	return o;
}

/* One identity's row: number, namespace, labels (or CIDR, or reserved). */
static void identity_row(struct table *t, __u32 id, const char *name, long addresses)
{
	const char *space = strchr(name, ' ');
	bool pods = id >= EW_IDENTITY_FIRST_POD && strncmp(name, "cidr:", 5) &&
		    strncmp(name, "unknown", 7);
	char ns[64] = "-";

	if (pods)
		snprintf(ns, sizeof(ns), "%.*s", space ? (int)(space - name) : 63, name);
	table_row(t, true);
	table_uint(t, id);
	table_cell(t, pods ? ns : NULL, pods ? json_string(ns) : NULL);
	if (pods)
		table_cell(t, space ? space + 1 : "", labels_json(space ? space + 1 : ""));
	else
		table_cell(t, name, NULL);
	table_str(t, name);
	table_uint(t, (unsigned long long)addresses);
}

int cmd_identities(const struct ctl *c)
{
	static const struct table_column cols[] = {
		{ .key = "identity", .heading = "IDENTITY", .width = 8, .right = true },
		{ .key = "namespace", .heading = "NAMESPACE", .width = 10 },
		{ .key = "labels", .heading = "LABELS", .width = 20 },
		{ .key = "name", .json_only = true },
		{ .key = "addresses", .heading = "ADDRESSES", .right = true },
	};
	static const __u32 reserved[] = { EW_IDENTITY_HOST, EW_IDENTITY_WORLD,
					  EW_IDENTITY_REMOTE_NODE };
	struct ipcache_entries e;
	struct ew_identity_key *keys;
	struct ew_identity_name *names;
	struct table *t;
	long n;

	if (ipcache_read(c, &e))
		return 1;
	n = read_entries(c, EW_MAP_IDENTITIES, sizeof(*keys), sizeof(*names), cmp_u32,
			 (void **)&keys, (void **)&names);
	if (n < 0) {
		free(e.keys);
		free(e.values);
		return 1;
	}
	t = TABLE_NEW(cols);
	for (size_t i = 0; i < ARRAY_SIZE(reserved); i++)
		identity_row(t, reserved[i], reserved_name(reserved[i]),
			     addresses_of(&e, reserved[i]));
	for (long i = 0; i < n; i++) {
		names[i].text[sizeof(names[i].text) - 1] = '\0';
		identity_row(t, keys[i].identity, names[i].text,
			     addresses_of(&e, keys[i].identity));
	}
	table_print(t, c->json);
	free(keys);
	free(names);
	free(e.keys);
	free(e.values);
	return 0;
}

/* --- ipcache ---------------------------------------------------------------------- */

int cmd_ipcache(const struct ctl *c)
{
	static const struct table_column cols[] = {
		{ .key = "prefix", .heading = "PREFIX", .width = 18 },
		{ .key = "identity", .heading = "IDENTITY", .width = 8, .right = true },
		{ .key = "name", .heading = "NAME", .width = 24 },
		{ .key = "cidrIdentity", .heading = "CIDR-IDENTITY", .right = true },
		{ .key = "cidrName", .heading = "CIDR-NAME" },
	};
	struct ipcache_entries e;
	struct identities ids;
	struct table *t;

	if (identities_open(c, &ids))
		return 1;
	if (ipcache_read(c, &e)) {
		identities_close(&ids);
		return 1;
	}
	t = TABLE_NEW(cols);
	for (long i = 0; i < e.n; i++) {
		struct ew_identity_name a, b;
		char prefix[24], addr[16];

		snprintf(prefix, sizeof(prefix), "%s/%u", ip_str(e.keys[i].addr, addr),
			 e.keys[i].prefixlen);
		table_row(t, true);
		table_str(t, prefix);
		table_uint(t, e.values[i].identity);
		table_str(t, identity_name(&ids, e.values[i].identity, &a));
		table_uint(t, e.values[i].cidr_identity);
		table_str(t, identity_name(&ids, e.values[i].cidr_identity, &b));
	}
	table_print(t, c->json);
	identities_close(&ids);
	free(e.keys);
	free(e.values);
	return 0;
}

/* --- policy POD ----------------------------------------------------------------- */

/* What an entry allows: a port range [lo, hi] of proto (0: every protocol). */
struct allowed {
	__u8 dir, proto;
	bool l7; /* only through the L7 proxy, which checks each HTTP request */
	__u32 peer, rule;
	__u32 lo, hi;
};

static int cmp_allowed(const void *a, const void *b)
{
	const struct allowed *x = a, *y = b;

	if (x->dir != y->dir)
		return x->dir > y->dir ? -1 : 1; /* ingress first */
	if (x->peer != y->peer)
		return x->peer < y->peer ? -1 : 1;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return (x->rule > y->rule) - (x->rule < y->rule);
}

static struct allowed allowed_of(const struct ew_policy_key *k,
				 const struct ew_policy_entry *e)
{
	struct allowed a = { .dir = k->dir, .proto = k->proto, .peer = k->peer,
			     .l7 = e->flags & EW_POLICY_L7, .rule = e->rule, .lo = 0,
			     .hi = 0xffff };
	__u32 bits = k->prefixlen - PREFIX_PORT_ANY;

	if (k->prefixlen <= PREFIX_PROTO_ANY)
		a.proto = 0;
	if (k->prefixlen > PREFIX_PORT_ANY) {
		a.lo = ntohs(k->port);
		a.hi = a.lo + (1u << (16 - bits)) - 1;
	}
	return a;
}

/* The subject's entries as ranges, adjacent prefixes of a rule joined. */
static long policy_allowed(const struct ctl *c, __u32 subject, struct allowed **out)
{
	struct ew_policy_key *keys;
	struct ew_policy_entry *vals;
	struct allowed *a;
	long n, m = 0;

	n = read_entries(c, EW_MAP_POLICY, sizeof(*keys), sizeof(*vals), NULL,
			 (void **)&keys, (void **)&vals);
	if (n < 0)
		return -1;
	a = xcalloc((size_t)n, sizeof(*a));
	for (long i = 0; i < n; i++)
		if (keys[i].subject == subject)
			a[m++] = allowed_of(&keys[i], &vals[i]);
	qsort(a, (size_t)m, sizeof(*a), cmp_allowed);
	n = 0;
	for (long i = 0; i < m; i++) {
		struct allowed *prev = n ? &a[n - 1] : NULL;

		if (prev && prev->dir == a[i].dir && prev->peer == a[i].peer &&
		    prev->proto == a[i].proto && prev->rule == a[i].rule &&
		    prev->l7 == a[i].l7 && prev->hi + 1 == a[i].lo) {
			prev->hi = a[i].hi;
			continue;
		}
		a[n++] = a[i];
	}
	free(keys);
	free(vals);
	*out = a;
	return n;
}

const char *rule_name(int fd, __u32 rule, struct ew_policy_rule_name *buf)
{
	struct ew_policy_rule_key key = { .rule = rule };

	if (bpf_map_lookup_elem(fd, &key, buf))
		return "unknown (not in " EW_MAP_POLICY_RULES ")";
	buf->text[sizeof(buf->text) - 1] = '\0';
	return buf->text;
}

static char *ports_str(const struct allowed *a, char buf[16])
{
	if (!a->proto || (a->lo == 0 && a->hi == 0xffff))
		snprintf(buf, 16, "any");
	else if (a->lo == a->hi)
		snprintf(buf, 16, "%u", a->lo);
	else
		snprintf(buf, 16, "%u-%u", a->lo, a->hi);
	return buf;
}

static void allowed_row(struct table *t, const struct identities *ids, int rules_fd,
			const struct allowed *a)
{
	struct ew_identity_name peer;
	struct ew_policy_rule_name rule;
	char who[320], proto[8], ports[16];
	json_t *range = NULL;

	if (a->proto && !(a->lo == 0 && a->hi == 0xffff))
		range = json_pack("{s:i, s:i}", "from", (int)a->lo, "to", (int)a->hi);
	table_row(t, true);
	table_str(t, dir_name(a->dir));
	table_cell(t, identity_str(ids, a->peer, who, sizeof(who)),
		   a->peer ? json_integer(a->peer) : NULL);
	table_cell(t, NULL, a->peer ? json_string(identity_name(ids, a->peer, &peer)) : NULL);
	table_cell(t, a->proto ? proto_name(a->proto, proto) : "any",
		   a->proto ? json_string(proto_name(a->proto, proto)) : NULL);
	table_cell(t, ports_str(a, ports), range);
	table_bool(t, a->l7);
	table_uint(t, a->rule);
	table_str(t, rule_name(rules_fd, a->rule, &rule));
}

static const char *isolation(const struct ew_endpoint *ep, enum ew_dir dir)
{
	if (ep->flags & EW_EP_POLICY_FAILED)
		return "policy failed: everything is dropped until the agent programs it";
	if (!pod_isolated(ep, dir))
		return "not isolated: all traffic allowed";
	return dir == EW_DIR_INGRESS
		       ? "isolated: only the peers below, and this node, may connect"
		       : "isolated: only the peers below may be reached";
}

/* The pod the user named, as NAMESPACE/NAME or by its address: 0, or the
 * exit status after saying why it is not one of this node's. */
static int pod_address(const struct ctl *c, const char *pod, __u32 *ip)
{
	struct in_addr a;
	int ret;

	if (inet_pton(AF_INET, pod, &a) == 1) {
		*ip = a.s_addr;
		return 0;
	}
	if (!strchr(pod, '/')) {
		fprintf(stderr, "bpfctl: policy %s: expected a pod as NAMESPACE/NAME or "
			"by its IPv4 address, such as shop/web-1 or 10.244.1.10; "
			"'bpfctl endpoints' lists this node's\n", pod);
		return 2;
	}
	ret = pod_by_name(c, pod, ip);
	if (ret > 0)
		fprintf(stderr, "bpfctl: policy %s: no pod of this node has that name "
			"(policy is enforced on the pod's own node); 'bpfctl endpoints' "
			"lists them\n", pod);
	return ret ? 1 : 0;
}

static int pod_endpoint(const struct ctl *c, const char *pod, __u32 *ip,
			struct ew_endpoint *ep)
{
	struct ew_endpoint_key key;
	int fd, ret = pod_address(c, pod, ip);

	if (ret)
		return ret;
	key.ip = *ip;
	fd = open_map(c, EW_MAP_ENDPOINTS);
	if (fd < 0)
		return 1;
	if (bpf_map_lookup_elem(fd, &key, ep)) {
		fprintf(stderr, "bpfctl: policy %s: no pod of this node has that address "
			"(policy is enforced on the pod's own node); 'bpfctl endpoints' "
			"lists them\n", pod);
		close(fd);
		return 1;
	}
	close(fd);
	return 0;
}

static void print_isolation(const struct ew_endpoint *ep, enum ew_dir dir)
{
	__u32 l7 = dir == EW_DIR_INGRESS ? EW_EP_INGRESS_L7 : EW_EP_EGRESS_L7;

	printf("%-7s  %s%s\n", dir_name(dir), isolation(ep, dir),
	       ep->flags & l7 ? "; connections of L7 rules go through the L7 proxy" : "");
}

/* "shop/web-1 (10.244.1.10)", or the address alone when it has no name. */
static void print_policy_header(const struct identities *ids, const char *name, __u32 ip,
				const struct ew_endpoint *ep)
{
	char who[320], addr[16];

	ip_str(ip, addr);
	if (name)
		printf("pod %s (%s)", name, addr);
	else
		printf("pod %s", addr);
	printf("  identity %s\n", identity_str(ids, ep->identity, who, sizeof(who)));
	if (!(ep->flags & (EW_EP_INGRESS_ISOLATED | EW_EP_EGRESS_ISOLATED |
			   EW_EP_POLICY_FAILED))) {
		printf("not isolated: all traffic allowed (no policy selects it)\n");
		return;
	}
	print_isolation(ep, EW_DIR_INGRESS);
	print_isolation(ep, EW_DIR_EGRESS);
	putchar('\n');
}

int cmd_policy(const struct ctl *c)
{
	static const struct table_column cols[] = {
		{ .key = "direction", .heading = "DIRECTION", .width = 9 },
		{ .key = "peer", .heading = "PEER", .width = 20 },
		{ .key = "peerName", .json_only = true },
		{ .key = "proto", .heading = "PROTO", .width = 5 },
		{ .key = "ports", .heading = "PORTS", .width = 5 },
		{ .key = "l7", .heading = "L7", .width = 3 },
		{ .key = "rule", .json_only = true },
		{ .key = "ruleName", .heading = "RULE" },
	};
	struct ew_endpoint ep;
	struct identities ids;
	struct allowed *a = NULL;
	struct ew_identity_name name;
	struct ew_endpoint_name pod_buf;
	const char *pod;
	struct table *t;
	int rules_fd, names_fd, ret;
	char addr[16];
	long n;
	__u32 ip;
	json_t *doc;

	ret = pod_endpoint(c, c->action, &ip, &ep);
	if (ret)
		return ret;
	if (identities_open(c, &ids))
		return 1;
	names_fd = open_optional_map(c, EW_MAP_ENDPOINT_NAMES);
	pod = pod_name(names_fd, ip, &pod_buf);
	rules_fd = open_map(c, EW_MAP_POLICY_RULES);
	n = rules_fd < 0 ? -1 : policy_allowed(c, ep.identity, &a);
	if (names_fd >= 0)
		close(names_fd);
	if (n < 0) {
		identities_close(&ids);
		if (rules_fd >= 0)
			close(rules_fd);
		return 1;
	}
	t = TABLE_NEW(cols);
	for (long i = 0; i < n; i++)
		allowed_row(t, &ids, rules_fd, &a[i]);
	if (c->json) {
		doc = json_pack("{s:s?, s:s, s:i, s:s, s:b, s:o, s:o}", "pod", pod, "ip",
				ip_str(ip, addr), "identity", (int)ep.identity, "name",
				identity_name(&ids, ep.identity, &name), "policyFailed",
				!!(ep.flags & EW_EP_POLICY_FAILED), "ingress",
				policy_direction_json(&ep, EW_DIR_INGRESS), "egress",
				policy_direction_json(&ep, EW_DIR_EGRESS));
		json_object_set(doc, "allowed", table_json(t));
		json_print(doc);
		table_free(t);
	} else {
		print_policy_header(&ids, pod, ip, &ep);
		if (ep.flags & (EW_EP_INGRESS_ISOLATED | EW_EP_EGRESS_ISOLATED))
			table_print(t, false);
		else
			table_free(t);
	}
	free(a);
	close(rules_fd);
	identities_close(&ids);
	return 0;
}
