// SPDX-License-Identifier: Apache-2.0
/*
 * Policy compile. Most cases run a truth table: every pod and some outside
 * addresses, to every other, on a set of ports, judged twice: by a reference
 * that reads the policies directly with the Kubernetes semantics, and by
 * lookups in the compiled maps that do what the datapath does (bpf/lib/
 * policy.h). The two must agree everywhere.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <edgewire/abi.h>
#include <jansson.h>

#include "netutil.h"
#include "policy.h"

#define N(a) (sizeof(a) / sizeof(a[0]))

static uint32_t ip(const char *s)
{
	return inet_addr(s);
}

/* ---- pools: the model of a test lives in static memory -------------------- */

static char texts[1 << 16];
static size_t n_texts;
static struct ew_label labels_pool[2048];
static size_t n_labels_pool;
static struct ew_selector_expr exprs_pool[256];
static size_t n_exprs_pool;
static char *values_pool[512];
static size_t n_values_pool;
static struct ew_container_port cports_pool[256];
static size_t n_cports_pool;
static struct ew_cidr excepts_pool[128];
static size_t n_excepts_pool;
static struct ew_http_match http_pool[64];
static size_t n_http_pool;
static char *headers_pool[64];
static size_t n_headers_pool;

#define RULE_PEERS   8
#define RULE_PORTS   8
#define POLICY_RULES 8
static struct ew_policy_peer peers_pool[64][RULE_PEERS];
static struct ew_policy_port ports_pool[64][RULE_PORTS];
static size_t n_rule_slots;
static struct ew_policy_rule rules_pool[64][POLICY_RULES];
static size_t n_policy_slots;

static struct ew_node nodes[4];
static struct ew_namespace namespaces[8];
static struct ew_pod pods[32];
static struct ew_network_policy policies[32];
static struct ew_model model;

static char *text(const char *s, size_t len)
{
	char *t = &texts[n_texts];

	cr_assert_lt(n_texts + len + 1, sizeof(texts));
	memcpy(t, s, len);
	t[len] = '\0';
	n_texts += len + 1;
	return t;
}

/* "k=v,k2=v2" */
static struct ew_labels labels(const char *spec)
{
	struct ew_labels l = { .items = &labels_pool[n_labels_pool] };

	while (spec && *spec) {
		size_t len = strcspn(spec, ","), eq = strcspn(spec, "=");

		cr_assert_lt(eq, len, "label without '=' in %s", spec);
		labels_pool[n_labels_pool++] =
			(struct ew_label){ .key = text(spec, eq),
					   .value = text(spec + eq + 1, len - eq - 1) };
		l.n++;
		spec += len + (spec[len] == ',');
	}
	return l;
}

/*
 * A selector: comma-separated "k=v" (matchLabels), "k in a|b", "k notin a|b",
 * "k" (Exists), "!k" (DoesNotExist). "" selects everything.
 */
static struct ew_selector sel(const char *spec)
{
	struct ew_selector s = { .match_labels = { .items = &labels_pool[n_labels_pool] },
				 .exprs = &exprs_pool[n_exprs_pool] };
	char buf[256];

	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *save = NULL, *item = strtok_r(buf, ",", &save); item;
	     item = strtok_r(NULL, ",", &save)) {
		struct ew_selector_expr *e = &exprs_pool[n_exprs_pool];
		char key[64], op[16], values[128];
		char *eq = strchr(item, '=');

		if (eq) {
			labels_pool[n_labels_pool++] =
				(struct ew_label){ .key = text(item, (size_t)(eq - item)),
						   .value =
							   text(eq + 1, strlen(eq + 1)) };
			s.match_labels.n++;
			continue;
		}
		*e = (struct ew_selector_expr){ .values = &values_pool[n_values_pool] };
		if (sscanf(item, "%63s %15s %127s", key, op, values) == 3) {
			e->key = text(key, strlen(key));
			e->op = !strcmp(op, "in") ? EW_SELECTOR_IN : EW_SELECTOR_NOT_IN;
			for (char *s2 = NULL, *v = strtok_r(values, "|", &s2); v;
			     v = strtok_r(NULL, "|", &s2)) {
				values_pool[n_values_pool++] = text(v, strlen(v));
				e->n_values++;
			}
		} else if (item[0] == '!') {
			e->key = text(item + 1, strlen(item + 1));
			e->op = EW_SELECTOR_DOES_NOT_EXIST;
		} else {
			e->key = text(item, strlen(item));
			e->op = EW_SELECTOR_EXISTS;
		}
		n_exprs_pool++;
		s.n_exprs++;
	}
	return s;
}

static struct ew_cidr cidr(const char *s)
{
	struct ew_cidr c = { 0 };

	if (!strcmp(s, "0.0.0.0/0"))
		return c; /* ew_parse_cidr() wants 1..32 */
	cr_assert_eq(ew_parse_cidr(s, &c.addr, &c.prefixlen), EW_CIDR_OK, "%s", s);
	return c;
}

static struct ew_policy_peer pod_peer(const char *podsel)
{
	return (struct ew_policy_peer){ .has_pod_selector = true,
					.pod_selector = sel(podsel) };
}

static struct ew_policy_peer ns_peer(const char *nssel)
{
	return (struct ew_policy_peer){ .has_ns_selector = true,
					.ns_selector = sel(nssel) };
}

static struct ew_policy_peer ns_pod_peer(const char *nssel, const char *podsel)
{
	return (struct ew_policy_peer){ .has_pod_selector = true,
					.pod_selector = sel(podsel),
					.has_ns_selector = true,
					.ns_selector = sel(nssel) };
}

/* "a.b.c.d/n" and excepts "e/n,f/n" or NULL */
static struct ew_policy_peer block(const char *c, const char *excepts)
{
	struct ew_policy_peer p = { .has_ip_block = true,
				    .cidr = cidr(c),
				    .except = &excepts_pool[n_excepts_pool] };
	char buf[256];

	snprintf(buf, sizeof(buf), "%s", excepts ? excepts : "");
	for (char *save = NULL, *e = strtok_r(buf, ",", &save); e;
	     e = strtok_r(NULL, ",", &save)) {
		excepts_pool[n_excepts_pool++] = cidr(e);
		p.n_except++;
	}
	return p;
}

static struct ew_policy_port port(uint8_t proto, uint16_t lo, uint16_t hi)
{
	return (struct ew_policy_port){ .protocol = proto, .port = lo, .end_port = hi };
}

static struct ew_policy_port tcp(uint16_t p)
{
	return port(EW_PROTO_TCP, p, 0);
}

static struct ew_policy_port named(uint8_t proto, const char *name)
{
	return (struct ew_policy_port){ .protocol = proto,
					.name = text(name, strlen(name)) };
}

static char *text_or_null(const char *s)
{
	return s ? text(s, strlen(s)) : NULL;
}

/*
 * p with one more http rule: method, path and host (NULL: any) and headers,
 * "Name" or "Name: value", comma-separated (NULL: none). The store gives
 * such a port TCP and one port; a port's rules are consecutive in the pool,
 * so give them before the next port's.
 */
static struct ew_policy_port with_http(struct ew_policy_port p, const char *method,
				       const char *path, const char *host,
				       const char *headers)
{
	struct ew_http_match *h = &http_pool[n_http_pool];
	char buf[256];

	cr_assert_lt(n_http_pool, N(http_pool));
	cr_assert(!p.n_http || p.http + p.n_http == h,
		  "another port's rules came between");
	*h = (struct ew_http_match){ .method = text_or_null(method),
				     .path = text_or_null(path),
				     .host = text_or_null(host),
				     .headers = &headers_pool[n_headers_pool] };
	snprintf(buf, sizeof(buf), "%s", headers ? headers : "");
	for (char *save = NULL, *hd = strtok_r(buf, ",", &save); hd;
	     hd = strtok_r(NULL, ",", &save)) {
		cr_assert_lt(n_headers_pool, N(headers_pool));
		headers_pool[n_headers_pool++] = text(hd, strlen(hd));
		h->n_headers++;
	}
	if (!p.n_http)
		p.http = h;
	p.n_http++;
	n_http_pool++;
	return p;
}

/* A rule of every peer and port, until peers and ports are added. */
static struct ew_policy_rule rule(void)
{
	size_t slot = n_rule_slots++;

	return (struct ew_policy_rule){ .all_peers = true,
					.peers = peers_pool[slot],
					.ports = ports_pool[slot] };
}

static struct ew_policy_rule *with_peer(struct ew_policy_rule *r, struct ew_policy_peer p)
{
	cr_assert_lt(r->n_peers, RULE_PEERS);
	r->all_peers = false;
	r->peers[r->n_peers++] = p;
	return r;
}

static struct ew_policy_rule *with_port(struct ew_policy_rule *r, struct ew_policy_port p)
{
	cr_assert_lt(r->n_ports, RULE_PORTS);
	r->ports[r->n_ports++] = p;
	return r;
}

/* A rule from (or to) one peer on one port. */
static struct ew_policy_rule peer_port(struct ew_policy_peer peer,
				       struct ew_policy_port p)
{
	struct ew_policy_rule r = rule();

	with_port(with_peer(&r, peer), p);
	return r;
}

/* A NetworkPolicy in ns selecting podsel, isolating ingress only. */
static struct ew_network_policy *policy(const char *ns, const char *name,
					const char *podsel)
{
	struct ew_network_policy *p = &policies[model.n_policies++];
	size_t slot = n_policy_slots;

	n_policy_slots += 2;
	*p = (struct ew_network_policy){
		.kind = EW_POLICY_KUBERNETES,
		.namespace = text(ns, strlen(ns)),
		.name = text(name, strlen(name)),
		.pod_selector = sel(podsel),
		.isolates_ingress = true,
		.ingress = rules_pool[slot],
		.egress = rules_pool[slot + 1],
		.origin = { .file = "policies.yaml", .line = 1, .col = 1 },
	};
	return p;
}

static void ingress(struct ew_network_policy *p, struct ew_policy_rule r)
{
	cr_assert_lt(p->n_ingress, POLICY_RULES);
	p->ingress[p->n_ingress++] = r;
}

/* policyTypes: [Egress] */
static struct ew_network_policy *egress_only(struct ew_network_policy *p)
{
	p->isolates_ingress = false;
	p->isolates_egress = true;
	return p;
}

static void egress(struct ew_network_policy *p, struct ew_policy_rule r)
{
	cr_assert_lt(p->n_egress, POLICY_RULES);
	p->isolates_egress = true;
	p->egress[p->n_egress++] = r;
}

/* "name:port/PROTO,..." */
static void pod_ports(struct ew_pod *pod, const char *spec)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "%s", spec);
	pod->ports = &cports_pool[n_cports_pool];
	for (char *save = NULL, *p = strtok_r(buf, ",", &save); p;
	     p = strtok_r(NULL, ",", &save)) {
		char name[64], proto[8];
		unsigned num;

		cr_assert_eq(sscanf(p, "%63[^:]:%u/%7s", name, &num, proto), 3, "%s", p);
		cports_pool[n_cports_pool++] = (struct ew_container_port){
			.name = text(name, strlen(name)),
			.port = (uint16_t)num,
			.protocol = !strcmp(proto, "UDP")    ? EW_PROTO_UDP
				    : !strcmp(proto, "SCTP") ? EW_PROTO_SCTP
							     : EW_PROTO_TCP
		};
		pod->n_ports++;
	}
}

static struct ew_pod *add_pod(const char *ns, const char *name, const char *node,
			      const char *addr, const char *lbls, const char *ports)
{
	struct ew_pod *pod = &pods[model.n_pods++];

	*pod = (struct ew_pod){ .namespace = text(ns, strlen(ns)),
				.name = text(name, strlen(name)),
				.node_name = node ? text(node, strlen(node)) : NULL,
				.ip = addr ? ip(addr) : 0,
				.labels = labels(lbls) };
	if (ports)
		pod_ports(pod, ports);
	return pod;
}

static void add_namespace(const char *name, const char *lbls)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "kubernetes.io/metadata.name=%s%s%s", name,
		 *lbls ? "," : "", lbls);
	namespaces[model.n_namespaces++] =
		(struct ew_namespace){ .name = text(name, strlen(name)),
				       .labels = labels(buf) };
}

static void add_node(const char *name, const char *internal_ip)
{
	nodes[model.n_nodes++] = (struct ew_node){ .name = text(name, strlen(name)),
						   .internal_ip = ip(internal_ip) };
}

/*
 * The cluster of most tests: namespaces x and y in the store, z only named
 * by its pods. x/a and x/a2 share labels (one identity) on different nodes.
 */
static void setup(void)
{
	n_texts = n_labels_pool = n_exprs_pool = n_values_pool = n_cports_pool = 0;
	n_excepts_pool = n_rule_slots = n_policy_slots = n_http_pool = n_headers_pool = 0;
	model = (struct ew_model){ .nodes = nodes,
				   .namespaces = namespaces,
				   .pods = pods,
				   .policies = policies };
	add_node("node-a", "192.168.1.1");
	add_node("node-b", "192.168.1.2");
	add_namespace("x", "team=blue,env=prod");
	add_namespace("y", "team=red,env=prod");
	add_pod("x", "a", "node-a", "10.1.0.1", "app=a",
		"serve-80:80/TCP,serve-81:81/UDP,http:8080/TCP");
	add_pod("x", "a2", "node-b", "10.2.0.7", "app=a",
		"serve-80:80/TCP,serve-81:81/UDP,http:8080/TCP");
	add_pod("x", "b", "node-b", "10.2.0.2", "app=b,tier=db",
		"http:8081/TCP,serve-80:80/TCP");
	add_pod("x", "c", "node-a", "10.1.0.3", "app=c", "dns:53/UDP,assoc:9000/SCTP");
	add_pod("y", "a", "node-b", "10.2.0.4", "app=a", "http:8080/TCP,serve-81:81/UDP");
	add_pod("y", "b", "node-a", "10.1.0.5", "app=b", "http:8082/TCP");
	add_pod("z", "a", "node-b", "10.2.0.6", "app=a,tier=web", NULL);
	add_pod("x", "hostnet", "node-a", "192.168.1.1", "app=a", NULL)->host_network =
		true;
	add_pod("x", "pending", NULL, NULL, "app=a", NULL);
}

TestSuite(policy, .init = setup);

/* ---- compile -------------------------------------------------------------- */

static const struct ew_policy_config on_a = { .node = "node-a" };
static const struct ew_policy_config on_b = { .node = "node-b" };

static void compile(const struct ew_policy_config *cfg, struct ew_policy_desired *d)
{
	struct ew_diags diags = { 0 };

	ew_policy_desired_init(d);
	cr_assert_eq(ew_policy_compile(&model, cfg, d, &diags), 0);
	for (size_t i = 0; i < diags.n; i++)
		cr_log_info("diag: %s", diags.items[i].msg);
	ew_diags_clear(&diags);
}

/* ---- the datapath's lookups, over the compiled state ---------------------- */

static uint32_t mask(int len)
{
	return len ? htonl(~0u << (32 - len)) : 0;
}

static struct ew_ipcache ipcache_lookup(const struct ew_policy_desired *d, uint32_t addr)
{
	for (int len = 32; len >= 0; len--) {
		struct ew_ipcache_key key = { .prefixlen = (uint32_t)len,
					      .addr = addr & mask(len) };
		const struct ew_ipcache *v = ew_map_state_get(&d->ipcache, &key);

		if (v)
			return *v;
	}
	return (struct ew_ipcache){ EW_IDENTITY_WORLD, EW_IDENTITY_WORLD };
}

/* As the LPM trie: an entry whose prefix holds the full key. */
static const struct ew_policy_entry *policy_lookup(const struct ew_policy_desired *d,
						   uint32_t subject, uint32_t peer,
						   uint8_t dir, uint8_t proto,
						   uint16_t port)
{
	for (int len = EW_POLICY_PREFIX_FULL; len >= 72; len--) {
		struct ew_policy_key key;
		const struct ew_policy_entry *e;

		memset(&key, 0, sizeof(key));
		key.prefixlen = (uint32_t)len;
		key.subject = subject;
		key.peer = peer;
		key.dir = dir;
		if (len >= 80)
			key.proto = proto;
		if (len > 80)
			key.port = htons((uint16_t)(port & (0xffff << (96 - len))));
		e = ew_map_state_get(&d->policy, &key);
		if (e)
			return e;
	}
	return NULL;
}

static bool datapath_allows_side(const struct ew_policy_desired *d, uint32_t pod_ip,
				 uint32_t peer_ip, uint8_t dir, uint8_t proto,
				 uint16_t port)
{
	struct ew_pod_policy_key key = { .ip = pod_ip };
	const struct ew_pod_policy *pp = ew_map_state_get(&d->pods, &key);
	uint32_t flag =
		dir == EW_DIR_INGRESS ? EW_EP_INGRESS_ISOLATED : EW_EP_EGRESS_ISOLATED;
	struct ew_ipcache peer;

	cr_assert(pp, "pod %08x has no policy state on its node", pod_ip);
	if (!(pp->flags & flag))
		return true;
	peer = ipcache_lookup(d, peer_ip);
	if (dir == EW_DIR_INGRESS && peer.identity == EW_IDENTITY_HOST)
		return true;
	return policy_lookup(d, pp->identity, peer.identity, dir, proto, port) ||
	       (peer.cidr_identity != peer.identity &&
		policy_lookup(d, pp->identity, peer.cidr_identity, dir, proto, port)) ||
	       policy_lookup(d, pp->identity, EW_IDENTITY_ANY, dir, proto, port);
}

/* ---- the reference: the policies read directly ------------------------------ */

static const struct ew_pod *pod_at(uint32_t addr)
{
	for (size_t i = 0; i < model.n_pods; i++)
		if (pods[i].ip == addr && !pods[i].host_network)
			return &pods[i];
	return NULL;
}

static struct ew_labels ns_labels(const char *ns)
{
	static struct ew_label name = { "kubernetes.io/metadata.name", NULL };

	for (size_t i = 0; i < model.n_namespaces; i++)
		if (!strcmp(namespaces[i].name, ns))
			return namespaces[i].labels;
	name.value = (char *)ns;
	return (struct ew_labels){ .n = 1, .items = &name };
}

static bool in_cidr(struct ew_cidr c, uint32_t addr)
{
	return (addr & mask(c.prefixlen)) == c.addr;
}

static bool peer_matches(const struct ew_network_policy *pol,
			 const struct ew_policy_peer *p, uint32_t addr)
{
	const struct ew_pod *pod = pod_at(addr);
	struct ew_labels nsl;

	if (p->has_ip_block) {
		if (!in_cidr(p->cidr, addr))
			return false;
		for (size_t e = 0; e < p->n_except; e++)
			if (in_cidr(p->except[e], addr))
				return false;
		return true;
	}
	if (!pod)
		return false;
	nsl = ns_labels(pod->namespace);
	if (p->has_ns_selector ? !ew_selector_match(&p->ns_selector, &nsl)
			       : strcmp(pod->namespace, pol->namespace))
		return false;
	return !p->has_pod_selector || ew_selector_match(&p->pod_selector, &pod->labels);
}

static bool port_matches(const struct ew_policy_port *p, const struct ew_pod *dst,
			 uint8_t proto, uint16_t port)
{
	if (p->protocol ? proto != p->protocol
			: proto != EW_PROTO_TCP && proto != EW_PROTO_UDP)
		return false;
	if (p->name) {
		for (size_t i = 0; dst && i < dst->n_ports; i++)
			if (dst->ports[i].name && !strcmp(dst->ports[i].name, p->name) &&
			    dst->ports[i].protocol == proto && dst->ports[i].port == port)
				return true;
		return false;
	}
	return !p->port ||
	       (port >= p->port && port <= (p->end_port ? p->end_port : p->port));
}

static bool rule_matches(const struct ew_network_policy *pol,
			 const struct ew_policy_rule *r, const struct ew_pod *subject,
			 uint32_t peer, uint8_t dir, uint8_t proto, uint16_t port)
{
	const struct ew_pod *dst = dir == EW_DIR_INGRESS ? subject : pod_at(peer);
	bool peer_ok = r->all_peers, port_ok = !r->n_ports;

	for (size_t i = 0; i < r->n_peers; i++)
		peer_ok |= peer_matches(pol, &r->peers[i], peer);
	for (size_t i = 0; i < r->n_ports; i++)
		port_ok |= port_matches(&r->ports[i], dst, proto, port);
	return peer_ok && port_ok;
}

/* Isolated when any policy selecting the pod isolates dir; then allowed
 * when any rule of those allows. */
static bool reference_allows_side(const struct ew_pod *subject, uint32_t peer,
				  uint8_t dir, uint8_t proto, uint16_t port)
{
	bool isolated = false, allowed = false;

	for (size_t p = 0; p < model.n_policies; p++) {
		const struct ew_network_policy *pol = &policies[p];
		bool in = dir == EW_DIR_INGRESS ? pol->isolates_ingress
						: pol->isolates_egress;
		const struct ew_policy_rule *rules =
			dir == EW_DIR_INGRESS ? pol->ingress : pol->egress;
		size_t n = dir == EW_DIR_INGRESS ? pol->n_ingress : pol->n_egress;

		if (!in || strcmp(pol->namespace, subject->namespace) ||
		    !ew_selector_match(&pol->pod_selector, &subject->labels))
			continue;
		isolated = true;
		for (size_t r = 0; r < n; r++)
			allowed |= rule_matches(pol, &rules[r], subject, peer, dir, proto,
						port);
	}
	return !isolated || allowed;
}

static const struct ew_node *node_named(const char *name)
{
	for (size_t i = 0; i < model.n_nodes; i++)
		if (!strcmp(nodes[i].name, name))
			return &nodes[i];
	return NULL;
}

/* The node's own address reaches its pods always (kubelet's probes). */
static bool reference_allows(uint32_t src, uint32_t dst, uint8_t proto, uint16_t port)
{
	const struct ew_pod *from = pod_at(src), *to = pod_at(dst);

	if (from && !reference_allows_side(from, dst, EW_DIR_EGRESS, proto, port))
		return false;
	if (to && node_named(to->node_name)->internal_ip == src)
		return true;
	return !to || reference_allows_side(to, src, EW_DIR_INGRESS, proto, port);
}

/* ---- the truth table -------------------------------------------------------- */

struct probe {
	uint8_t proto;
	uint16_t port;
};

static const struct probe probes[] = {
	{ IPPROTO_TCP, 80 },	{ IPPROTO_TCP, 81 },   { IPPROTO_TCP, 1 },
	{ IPPROTO_TCP, 999 },	{ IPPROTO_TCP, 1000 }, { IPPROTO_TCP, 1500 },
	{ IPPROTO_TCP, 2000 },	{ IPPROTO_TCP, 2001 }, { IPPROTO_TCP, 8080 },
	{ IPPROTO_TCP, 8081 },	{ IPPROTO_TCP, 8082 }, { IPPROTO_TCP, 65535 },
	{ IPPROTO_TCP, 53 },	{ IPPROTO_UDP, 53 },   { IPPROTO_UDP, 80 },
	{ IPPROTO_UDP, 81 },	{ IPPROTO_UDP, 1500 }, { IPPROTO_SCTP, 80 },
	{ IPPROTO_SCTP, 9000 }, { IPPROTO_ICMP, 0 },
};

static const char *const outside[] = {
	"192.168.1.1",	  "192.168.1.2", "198.51.100.7", "198.51.100.130",
	"198.51.100.200", "203.0.113.5", "10.1.0.200",	 "10.9.9.9",
};

/* The datapath's verdict: egress on the source pod's node, ingress on the
 * destination's (da: node-a's maps, db: node-b's). */
static bool maps_allow(const struct ew_policy_desired *da,
		       const struct ew_policy_desired *db, uint32_t src, uint32_t dst,
		       uint8_t proto, uint16_t port)
{
	const struct ew_pod *from = pod_at(src), *to = pod_at(dst);
	bool have = true;

	if (from)
		have &= datapath_allows_side(strcmp(from->node_name, "node-a") ? db : da,
					     src, dst, EW_DIR_EGRESS, proto, port);
	if (to)
		have &= datapath_allows_side(strcmp(to->node_name, "node-a") ? db : da,
					     dst, src, EW_DIR_INGRESS, proto, port);
	return have;
}

struct verdicts {
	size_t allowed, denied, mismatches;
};

/* Compares the reference with the compiled maps of each pod's node over
 * every pair of addresses and probe; returns the counts of verdicts. */
static struct verdicts truth_table(void)
{
	struct ew_policy_desired da, db;
	uint32_t addrs[64];
	size_t n = 0, mismatches = 0;
	struct verdicts v = { 0 };

	compile(&on_a, &da);
	compile(&on_b, &db);
	for (size_t i = 0; i < model.n_pods; i++)
		if (pods[i].ip && !pods[i].host_network)
			addrs[n++] = pods[i].ip;
	for (size_t i = 0; i < N(outside); i++)
		addrs[n++] = ip(outside[i]);
	for (size_t s = 0; s < n; s++) {
		for (size_t t = 0; t < n; t++) {
			if (s == t || (!pod_at(addrs[s]) && !pod_at(addrs[t])))
				continue;
			for (size_t k = 0; k < N(probes); k++) {
				const struct probe *pr = &probes[k];
				bool want = reference_allows(addrs[s], addrs[t],
							     pr->proto, pr->port);
				bool have = maps_allow(&da, &db, addrs[s], addrs[t],
						       pr->proto, pr->port);
				char a[16], b[16];

				if (want)
					v.allowed++;
				else
					v.denied++;
				if (want == have)
					continue;
				if (mismatches++ < 20)
					cr_log_error("%s -> %s proto %u port %u: "
						     "reference %s, "
						     "maps %s",
						     ew_format_ipv4(addrs[s], a),
						     ew_format_ipv4(addrs[t], b),
						     pr->proto, pr->port,
						     want ? "allows" : "denies",
						     have ? "allow" : "deny");
			}
		}
	}
	ew_policy_desired_free(&da);
	ew_policy_desired_free(&db);
	cr_expect_eq(mismatches, 0, "%zu verdicts differ from the reference", mismatches);
	v.mismatches = mismatches;
	return v;
}

/* One verdict of the compiled maps, for the assertions naming a case. */
static bool allows(const char *src, const char *dst, uint8_t proto, uint16_t port)
{
	struct ew_policy_desired da, db;
	bool have;

	compile(&on_a, &da);
	compile(&on_b, &db);
	have = maps_allow(&da, &db, ip(src), ip(dst), proto, port);
	ew_policy_desired_free(&da);
	ew_policy_desired_free(&db);
	cr_expect_eq(have, reference_allows(ip(src), ip(dst), proto, port),
		     "%s -> %s %u/%u: maps and reference differ", src, dst, port, proto);
	return have;
}

#define A_X  "10.1.0.1" /* x/a, node-a */
#define A2_X "10.2.0.7" /* x/a2, node-b, same identity as x/a */
#define B_X  "10.2.0.2" /* x/b, node-b */
#define C_X  "10.1.0.3" /* x/c, node-a */
#define A_Y  "10.2.0.4" /* y/a, node-b */
#define B_Y  "10.1.0.5" /* y/b, node-a */
#define A_Z  "10.2.0.6" /* z/a, node-b; z is not in the store */
#define TCP  IPPROTO_TCP
#define UDP  IPPROTO_UDP
#define SCTP IPPROTO_SCTP

/* ---- semantics ------------------------------------------------------------------ */

Test(policy, no_policy_allows_everything)
{
	struct verdicts v = truth_table();

	cr_assert_eq(v.denied, 0);
}

Test(policy, isolation_only_for_selected_pods_and_directions)
{
	struct ew_policy_desired d;
	struct ew_network_policy *p = policy("x", "deny-a", "app=a");
	struct ew_pod_policy_key ka = { ip(A_X) }, kc = { ip(C_X) }, kb = { ip(B_Y) };
	const struct ew_pod_policy *a, *c, *b;

	(void)p;
	compile(&on_a, &d);
	a = ew_map_state_get(&d.pods, &ka);
	c = ew_map_state_get(&d.pods, &kc);
	b = ew_map_state_get(&d.pods, &kb);
	cr_assert(a && c && b);
	cr_expect_eq(a->flags, EW_EP_INGRESS_ISOLATED);
	cr_expect_eq(c->flags, 0);
	cr_expect_eq(b->flags, 0, "app=a in y is not selected by a policy of x");
	cr_expect_eq(d.pods.n, 3, "only pods of node-a with an IP, hostNetwork left out");
	cr_expect_eq(d.policy.n, 0, "isolated with no rules: nothing allowed");
	ew_policy_desired_free(&d);

	cr_expect_not(allows(C_X, A_X, TCP, 80));
	cr_expect_not(allows(A_Y, A2_X, TCP, 80), "remote pods of the identity too");
	cr_expect(allows(A_X, C_X, TCP, 80), "egress is not isolated");
	cr_expect(allows("192.168.1.1", A_X, TCP, 80), "the node reaches its pods");
	cr_expect_not(allows("192.168.1.2", A_X, TCP, 80), "another node does not");
	truth_table();
}

Test(policy, union_of_policies)
{
	struct ew_network_policy *p1 = policy("x", "from-b", "app=a");
	struct ew_network_policy *p2 = policy("x", "from-y", "");

	ingress(p1, peer_port(pod_peer("app=b"), tcp(80)));
	ingress(p2, peer_port(ns_peer("team=red"), port(EW_PROTO_UDP, 81, 0)));
	cr_expect(allows(B_X, A_X, TCP, 80));
	cr_expect(allows(B_Y, A_X, UDP, 81));
	cr_expect(allows(B_Y, C_X, UDP, 81));
	cr_expect_not(allows(B_X, C_X, TCP, 80), "x/c is selected only by from-y");
	cr_expect_not(allows(B_Y, A_X, TCP, 80));
	truth_table();
}

Test(policy, rules_are_never_merged)
{
	struct ew_network_policy *p = policy("x", "two-rules", "app=a");

	ingress(p, peer_port(pod_peer("app=b"), tcp(80)));
	ingress(p, peer_port(pod_peer("app=c"), tcp(81)));
	cr_expect(allows(B_X, A_X, TCP, 80));
	cr_expect(allows(C_X, A_X, TCP, 81));
	cr_expect_not(allows(B_X, A_X, TCP, 81), "peer of rule 1 with port of rule 2");
	cr_expect_not(allows(C_X, A_X, TCP, 80), "peer of rule 2 with port of rule 1");
	truth_table();
}

Test(policy, pod_and_namespace_selector_in_one_peer_is_and_in_two_is_or)
{
	struct ew_network_policy *both = policy("x", "and", "app=a");
	struct ew_network_policy *either = policy("x", "or", "app=c");
	struct ew_policy_rule r = rule();

	ingress(both, peer_port(ns_pod_peer("team=red", "app=b"), tcp(80)));
	with_peer(&r, ns_peer("team=red"));
	with_peer(&r, pod_peer("app=b"));
	with_port(&r, tcp(80));
	ingress(either, r);
	cr_expect(allows(B_Y, A_X, TCP, 80));
	cr_expect_not(allows(A_Y, A_X, TCP, 80), "in a red namespace but not app=b");
	cr_expect_not(allows(B_X, A_X, TCP, 80), "app=b but not in a red namespace");
	cr_expect(allows(A_Y, C_X, TCP, 80));
	cr_expect(allows(B_X, C_X, TCP, 80));
	cr_expect_not(allows(A_Z, C_X, TCP, 80));
	truth_table();
}

Test(policy, empty_selectors)
{
	struct ew_network_policy *p = policy("x", "same-ns", "");
	struct ew_network_policy *q = policy("y", "all-ns", "");

	ingress(p, peer_port(pod_peer(""), tcp(80)));
	ingress(q, peer_port(ns_peer(""), tcp(80)));
	cr_expect(allows(B_X, A_X, TCP, 80));
	cr_expect_not(allows(B_Y, A_X, TCP, 80),
		      "an empty podSelector: its namespace only");
	cr_expect(allows(A_Z, B_Y, TCP, 80),
		  "an empty namespaceSelector: every namespace");
	cr_expect_not(allows("203.0.113.5", B_Y, TCP, 80), "but pods only");
	truth_table();
}

Test(policy, namespace_label_metadata_name)
{
	struct ew_network_policy *p = policy("x", "from-z-and-y", "app=a");
	struct ew_policy_rule r = rule();

	with_peer(&r, ns_peer("kubernetes.io/metadata.name=z"));
	with_peer(&r, ns_pod_peer("kubernetes.io/metadata.name=y", "app=b"));
	ingress(p, r);
	cr_expect(allows(A_Z, A_X, TCP, 80), "z is not in the store but has its name");
	cr_expect(allows(B_Y, A_X, TCP, 80));
	cr_expect_not(allows(A_Y, A_X, TCP, 80));
	truth_table();
}

Test(policy, match_expressions)
{
	struct ew_network_policy *p = policy("x", "exprs", "app in a|c");
	struct ew_network_policy *q =
		egress_only(policy("x", "exprs-egress", "app notin a|c"));
	struct ew_policy_rule r = rule();

	with_peer(&r, ns_pod_peer("env in prod,team notin blue", "!tier"));
	with_peer(&r, ns_pod_peer("!team", "tier"));
	ingress(p, r);
	egress(q, peer_port(ns_pod_peer("team", "app=a,tier notin db"), tcp(80)));
	cr_expect(allows(B_Y, A_X, TCP, 80), "y: prod, red; y/b has no tier");
	cr_expect(allows(A_Z, C_X, TCP, 80), "z has no team label; z/a has a tier");
	cr_expect_not(allows(B_X, A_X, TCP, 80), "x is blue");
	cr_expect(allows(B_X, A_Y, TCP, 80));
	cr_expect_not(allows(B_X, A_Z, TCP, 80), "z has no team");
	truth_table();
}

Test(policy, ipblock_except_narrows_only_its_own_block)
{
	struct ew_network_policy *p = policy("x", "cidr", "app=a");
	struct ew_network_policy *q = policy("x", "cidr-2", "app=a");
	struct ew_policy_rule r = rule();

	with_peer(&r, block("198.51.100.0/24", "198.51.100.128/25"));
	with_port(&r, tcp(80));
	ingress(p, r);
	ingress(p, peer_port(block("198.51.100.192/26", NULL), tcp(81)));
	ingress(q, peer_port(block("198.51.100.128/25", "198.51.100.192/26"), tcp(1000)));
	/* egress of x/c: the pods of 10.2.0.0/16 but x/b's address */
	egress(egress_only(policy("x", "to-pods", "app=c")),
	       peer_port(block("10.2.0.0/16", "10.2.0.2/32"), port(EW_PROTO_TCP, 0, 0)));
	cr_expect(allows("198.51.100.7", A_X, TCP, 80));
	cr_expect_not(allows("198.51.100.200", A_X, TCP, 80), "in the except");
	cr_expect(allows("198.51.100.200", A_X, TCP, 81), "another block allows it");
	cr_expect(allows("198.51.100.130", A_X, TCP, 1000), "another policy allows it");
	cr_expect_not(allows("198.51.100.200", A_X, TCP, 1000), "its own except");
	cr_expect_not(allows("203.0.113.5", A_X, TCP, 80));
	cr_expect(allows(C_X, A_Y, TCP, 8080), "ipBlock matches pod addresses");
	cr_expect_not(allows(C_X, B_X, TCP, 8080), "but not the excepted one");
	cr_expect_not(allows(C_X, A_X, TCP, 8080), "nor one outside");
	truth_table();
}

Test(policy, ipblock_whole_world_with_except)
{
	struct ew_network_policy *p = policy("x", "world", "app=b");

	egress(p, peer_port(block("0.0.0.0/0", "10.0.0.0/8"), tcp(80)));
	ingress(p, peer_port(block("0.0.0.0/0", "10.0.0.0/8,192.168.1.0/24"),
			     port(0, 0, 0)));
	cr_expect(allows(B_X, "203.0.113.5", TCP, 80));
	cr_expect(allows(B_X, "192.168.1.1", TCP, 80));
	cr_expect_not(allows(B_X, A_X, TCP, 80));
	cr_expect(allows("203.0.113.5", B_X, UDP, 53));
	cr_expect_not(allows("192.168.1.1", B_X, UDP, 53), "node-a is remote to x/b");
	cr_expect(allows("192.168.1.2", B_X, UDP, 53), "node-b is x/b's host");
	truth_table();
}

Test(policy, named_ports_resolve_on_the_destination_pod)
{
	struct ew_network_policy *in = policy("x", "http-in", "");
	struct ew_network_policy *out = egress_only(policy("y", "http-out", ""));
	struct ew_network_policy *cidr_out =
		egress_only(policy("x", "cidr-out", "app=c"));
	struct ew_network_policy *sel_out = egress_only(policy("z", "sel-out", ""));
	struct ew_policy_rule any = rule();

	ingress(in, peer_port(ns_peer(""), named(EW_PROTO_TCP, "http")));
	ingress(in, peer_port(ns_peer(""), named(EW_PROTO_TCP, "dns")));
	with_port(&any, named(EW_PROTO_TCP, "http"));
	egress(out, any);
	egress(cidr_out,
	       peer_port(block("10.2.0.0/16", NULL), named(EW_PROTO_TCP, "http")));
	egress(sel_out, peer_port(ns_peer(""), named(EW_PROTO_UDP, "serve-81")));
	cr_expect(allows(B_Y, A_X, TCP, 8080), "x/a's http");
	cr_expect(allows(B_Y, B_X, TCP, 8081), "x/b's http");
	cr_expect_not(allows(B_Y, A_X, TCP, 8081), "x/b's http is not x/a's");
	cr_expect_not(allows(B_Y, C_X, TCP, 8080), "x/c has no http");
	cr_expect_not(allows(B_Y, C_X, TCP, 53), "x/c's dns is UDP");
	cr_expect(allows(A_Y, B_Y, TCP, 8082), "egress: y/b's http on y/b");
	cr_expect(allows(B_Y, A_Y, TCP, 8080));
	cr_expect_not(allows(B_Y, "203.0.113.5", TCP, 8080), "no pod: no named port");
	cr_expect(allows(C_X, B_X, TCP, 8081), "ipBlock peers: pods inside");
	cr_expect(allows(C_X, A2_X, TCP, 8080), "x/a2 is inside");
	cr_expect_not(allows(C_X, A_X, TCP, 8080), "x/a, of the same identity, is not");
	cr_expect_not(allows(C_X, B_Y, TCP, 8082), "not inside");
	cr_expect(allows(A_Z, A_Y, UDP, 81));
	cr_expect_not(allows(A_Z, A_Y, TCP, 81), "the name is UDP");
	cr_expect_not(allows(A_Z, A2_X, UDP, 81), "x/a2 takes only http in");
	truth_table();
}

Test(policy, port_ranges_protocols)
{
	struct ew_network_policy *p = policy("x", "ranges", "app=a");
	struct ew_network_policy *q = egress_only(policy("x", "protocols", "app=c"));
	struct ew_policy_rule r = rule(), s = rule();

	with_port(&r, port(EW_PROTO_TCP, 1000, 2000));
	with_port(&r, port(EW_PROTO_UDP, 1, 65535));
	with_port(&r, port(EW_PROTO_TCP, 80, 0));
	ingress(p, r);
	with_port(&s, port(EW_PROTO_SCTP, 9000, 0));
	with_port(&s, port(0, 53, 0)); /* Cilium ANY: TCP and UDP */
	with_port(&s, port(EW_PROTO_TCP, 0, 0));
	egress(q, s);
	cr_expect(allows(C_X, A_X, TCP, 1000));
	cr_expect(allows(C_X, A_X, TCP, 2000));
	cr_expect_not(allows(C_X, A_X, TCP, 2001));
	cr_expect_not(allows(C_X, A_X, TCP, 999));
	cr_expect(allows(C_X, A_X, UDP, 53));
	cr_expect_not(allows(C_X, A_X, TCP, 81));
	cr_expect_not(allows(C_X, A_X, SCTP, 80), "TCP 80 is not SCTP 80");
	cr_expect(allows(C_X, A_Y, SCTP, 9000));
	cr_expect(allows(C_X, A_Y, UDP, 53));
	cr_expect_not(allows(C_X, A_Y, SCTP, 53), "ANY is TCP and UDP");
	cr_expect(allows(C_X, A_Y, TCP, 65535), "TCP without a port: every port");
	cr_expect_not(allows(C_X, A_Y, IPPROTO_ICMP, 0));
	truth_table();
}

Test(policy, egress_isolation)
{
	struct ew_network_policy *none = egress_only(policy("x", "no-egress", ""));
	struct ew_network_policy *dns = egress_only(policy("x", "dns", "app=a"));
	struct ew_policy_rule r = rule();

	(void)none;
	with_port(&r, port(EW_PROTO_UDP, 53, 0));
	egress(dns, r);
	cr_expect(allows(A_X, C_X, UDP, 53));
	cr_expect_not(allows(A_X, C_X, TCP, 53));
	cr_expect_not(allows(A_X, "203.0.113.5", TCP, 80));
	cr_expect(allows(A_X, "203.0.113.5", UDP, 53), "no peers: every peer");
	cr_expect_not(allows(B_X, C_X, UDP, 53), "x/b may send nothing");
	cr_expect(allows(B_Y, A_X, TCP, 80), "ingress is not isolated");
	truth_table();
}

Test(policy, ingress_rules_of_a_policy_that_does_not_isolate_ingress_do_nothing)
{
	struct ew_network_policy *p = policy("x", "egress-only", "app=a");

	p->isolates_ingress = false;
	ingress(p, peer_port(pod_peer("app=b"), tcp(80)));
	egress(p, peer_port(pod_peer("app=b"), tcp(80)));
	cr_expect(allows(C_X, A_X, TCP, 81));
	cr_expect_not(allows(A_X, C_X, TCP, 81));
	truth_table();
	/* Another policy isolates ingress: the ignored rule still allows nothing. */
	policy("x", "deny-in", "app=a");
	cr_expect_not(allows(B_X, A_X, TCP, 80));
	truth_table();
}

Test(policy, cilium_namespace_scoping_as_normalised)
{
	struct ew_network_policy *p = policy("x", "cnp", "app=a");
	struct ew_policy_rule r = rule();

	p->kind = EW_POLICY_CILIUM;
	/* fromEndpoints: [{app: b}] in x, and [{k8s:io.kubernetes.pod.namespace: y}] */
	with_peer(&r, ns_pod_peer("kubernetes.io/metadata.name=x", "app=b"));
	with_peer(&r, ns_pod_peer("kubernetes.io/metadata.name=y", ""));
	with_port(&r, port(0, 80, 0));
	ingress(p, r);
	/* fromEndpoints: [{}]: every pod of x, nothing outside */
	ingress(p, peer_port(ns_pod_peer("kubernetes.io/metadata.name=x", ""), tcp(81)));
	cr_expect(allows(B_X, A_X, TCP, 80));
	cr_expect(allows(B_X, A_X, UDP, 80));
	cr_expect_not(allows(A_Z, A_X, TCP, 80));
	cr_expect(allows(A_Y, A_X, TCP, 80));
	cr_expect(allows(C_X, A_X, TCP, 81));
	cr_expect_not(allows(A_Z, A_X, TCP, 81));
	cr_expect_not(allows("203.0.113.5", A_X, TCP, 81));
	truth_table();
}

Test(policy, all_together)
{
	struct ew_network_policy *p;
	struct ew_policy_rule r = rule(), s = rule(), t = rule();
	struct verdicts v;

	p = policy("x", "web", "app in a|b");
	with_peer(&r, pod_peer("app=c"));
	with_peer(&r, block("198.51.100.0/24", "198.51.100.128/25"));
	with_port(&r, port(EW_PROTO_TCP, 1000, 2000));
	with_port(&r, named(EW_PROTO_TCP, "http"));
	ingress(p, r);
	ingress(p, peer_port(ns_pod_peer("team=red", ""), port(0, 80, 81)));
	with_peer(&s, ns_peer("kubernetes.io/metadata.name=z"));
	with_port(&s, named(0, "serve-81"));
	egress(p, s);
	egress(p, peer_port(block("0.0.0.0/0", "10.0.0.0/8"), port(EW_PROTO_TCP, 0, 0)));
	p = policy("y", "lockdown", "");
	p->isolates_egress = true;
	p = policy("z", "open", "tier");
	with_port(&t, port(EW_PROTO_SCTP, 0, 0));
	ingress(p, t);
	egress(p, peer_port(block("10.1.0.0/16", "10.1.0.3/32"),
			    named(EW_PROTO_UDP, "serve-81")));
	p = policy("x", "c-egress", "app=c");
	egress(p, peer_port(pod_peer("app=a"), named(EW_PROTO_UDP, "serve-81")));
	egress(p, peer_port(ns_pod_peer("", "app=b"), tcp(80)));
	v = truth_table();
	cr_expect_gt(v.allowed, 100);
	cr_expect_gt(v.denied, 100);
}

/* ---- random policies ---------------------------------------------------------- */

static uint32_t rnd_state;

static uint32_t rnd(uint32_t n)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return (rnd_state >> 8) % n;
}

#define PICK(a) (a[rnd(N(a))])

static struct ew_policy_peer random_peer(void)
{
	static const char *const pod_sels[] = { "",	      "app=a", "app=b",
						"app in a|c", "tier",  "!tier",
						"app notin b" };
	static const char *const ns_sels[] = { "",
					       "team=red",
					       "team=blue",
					       "!team",
					       "kubernetes.io/metadata.name=z",
					       "env in prod" };
	static const char *const blocks[][2] = {
		{ "10.0.0.0/8", "10.2.0.0/16" },
		{ "10.2.0.0/16", "10.2.0.4/32" },
		{ "198.51.100.0/24", "198.51.100.128/25" },
		{ "198.51.100.128/25", NULL },
		{ "0.0.0.0/0", "10.0.0.0/8" },
		{ "192.168.1.0/24", NULL },
		{ "10.1.0.1/32", NULL },
		{ "10.1.0.0/16", "10.1.0.0/30" },
		{ "203.0.113.0/24", "203.0.113.4/30,203.0.113.128/25" },
	};

	switch (rnd(4)) {
	case 0:
		return pod_peer(PICK(pod_sels));
	case 1:
		return ns_peer(PICK(ns_sels));
	case 2:
		return ns_pod_peer(PICK(ns_sels), PICK(pod_sels));
	default: {
		size_t b = rnd(N(blocks));

		return block(blocks[b][0], blocks[b][1]);
	}
	}
}

static struct ew_policy_port random_port(void)
{
	static const char *const names[] = { "http", "serve-80", "serve-81", "dns",
					     "assoc" };
	static const uint8_t protos[] = { EW_PROTO_TCP, EW_PROTO_UDP, EW_PROTO_SCTP, 0 };
	static const uint16_t nums[] = { 0, 53, 80, 81, 1000, 1500, 8080, 9000 };
	uint8_t proto = PICK(protos);

	switch (rnd(3)) {
	case 0:
		return named(proto, PICK(names));
	case 1: {
		uint16_t lo = PICK(nums);

		return port(proto, lo, lo && rnd(2) ? (uint16_t)(lo + rnd(1200)) : 0);
	}
	default:
		return port(proto, (uint16_t)(1 + rnd(3000)), 65535);
	}
}

static struct ew_policy_rule random_rule(void)
{
	struct ew_policy_rule r = rule();

	for (uint32_t i = 0, n = rnd(3); i < n; i++)
		with_peer(&r, random_peer());
	for (uint32_t i = 0, n = rnd(3); i < n; i++)
		with_port(&r, random_port());
	return r;
}

/* Random policies over the cluster of setup(): the maps agree with the
 * reference on every one. */
Test(policy, random_policies_agree_with_the_reference)
{
	static const char *const subject_sels[] = { "",		  "app=a", "app=b",
						    "app in a|c", "tier",  "!tier" };
	static const char *const ns[] = { "x", "y", "z" };
	size_t texts0 = n_texts, labels0 = n_labels_pool, exprs0 = n_exprs_pool;
	size_t values0 = n_values_pool, excepts0 = n_excepts_pool;
	size_t total_allowed = 0, total_denied = 0;

	for (uint32_t seed = 1; seed <= 500; seed++) {
		rnd_state = seed;
		n_texts = texts0;
		n_labels_pool = labels0;
		n_exprs_pool = exprs0;
		n_values_pool = values0;
		n_excepts_pool = excepts0;
		n_rule_slots = n_policy_slots = 0;
		model.n_policies = 0;
		for (uint32_t p = 0, np = 1 + rnd(4); p < np; p++) {
			struct ew_network_policy *pol =
				policy(PICK(ns), "random", PICK(subject_sels));

			pol->isolates_ingress = rnd(3) != 0;
			pol->isolates_egress = rnd(2);
			for (uint32_t r = 0, n = rnd(3); r < n; r++)
				ingress(pol, random_rule());
			for (uint32_t r = 0, n = rnd(3); r < n; r++)
				pol->egress[pol->n_egress++] = random_rule();
		}
		struct verdicts v = truth_table();

		total_allowed += v.allowed;
		total_denied += v.denied;
		if (v.mismatches) {
			cr_log_error("random policies of seed %u differ", seed);
			break;
		}
	}
	cr_log_info("random policies: %zu verdicts allow, %zu deny", total_allowed,
		    total_denied);
	cr_expect_gt(total_denied, total_allowed / 10);
}

/* ---- what the maps hold ------------------------------------------------------------ */

static uint32_t identity_of(const struct ew_policy_desired *d, const char *addr)
{
	struct ew_ipcache_key key = { .prefixlen = 32, .addr = ip(addr) };
	const struct ew_ipcache *v = ew_map_state_get(&d->ipcache, &key);

	cr_assert(v, "%s is not in the ipcache", addr);
	return v->identity;
}

static const struct ew_ipcache *ipcache_at(const struct ew_policy_desired *d,
					   const char *c)
{
	struct ew_cidr k = cidr(c);
	struct ew_ipcache_key key = { .prefixlen = k.prefixlen, .addr = k.addr };

	return ew_map_state_get(&d->ipcache, &key);
}

Test(policy, identities_by_namespace_and_labels)
{
	struct ew_policy_desired d;

	compile(&on_a, &d);
	cr_expect_eq(identity_of(&d, A_X), identity_of(&d, A2_X), "same labels, same ns");
	cr_expect_neq(identity_of(&d, A_X), identity_of(&d, A_Y),
		      "same labels, other ns");
	cr_expect_neq(identity_of(&d, A_X), identity_of(&d, C_X));
	cr_expect_neq(identity_of(&d, A_Y), identity_of(&d, A_Z),
		      "same app, other labels");
	ew_policy_desired_free(&d);
	add_pod("z", "a-again", "node-a", "10.1.0.77", "tier=web,app=a", NULL);
	compile(&on_a, &d);
	cr_expect_eq(identity_of(&d, "10.1.0.77"), identity_of(&d, A_Z),
		     "labels in any order");
	ew_policy_desired_free(&d);
}

Test(policy, identities_are_stable)
{
	struct ew_policy_desired d1, d2;
	const char *addrs[] = { A_X, A2_X, B_X, C_X, A_Y, B_Y, A_Z };
	struct ew_network_policy *p = policy("x", "cidr", "");
	const struct ew_ipcache *c1, *c2;

	ingress(p, peer_port(block("198.51.100.0/24", NULL), tcp(80)));
	compile(&on_a, &d1);
	/* A pod of new labels, a new CIDR and a new namespace. */
	add_pod("x", "new", "node-a", "10.1.0.99", "app=new", NULL);
	add_pod("w", "new", "node-b", "10.2.0.99", "app=a", NULL);
	ingress(p, peer_port(block("203.0.113.0/24", NULL), tcp(80)));
	namespaces[0].labels = labels("kubernetes.io/metadata.name=x,team=green");
	compile(&on_b, &d2);
	for (size_t i = 0; i < N(addrs); i++) {
		uint32_t id = identity_of(&d1, addrs[i]);

		cr_expect_geq(id, EW_IDENTITY_FIRST_POD);
		cr_expect_lt(id, 1u << 24);
		cr_expect_eq(id, identity_of(&d2, addrs[i]), "%s renumbered", addrs[i]);
	}
	c1 = ipcache_at(&d1, "198.51.100.0/24");
	c2 = ipcache_at(&d2, "198.51.100.0/24");
	cr_assert(c1 && c2);
	cr_expect_eq(c1->identity, c2->identity);
	cr_expect_geq(c1->identity, EW_IDENTITY_FIRST_POD);
	ew_policy_desired_free(&d1);
	ew_policy_desired_free(&d2);
}

Test(policy, ipcache_contents)
{
	struct ew_policy_desired d;
	struct ew_network_policy *p = policy("x", "cidrs", "");
	const struct ew_ipcache *v, *net8, *pod32, *node;
	struct ew_ipcache_key hairpin = { .prefixlen = 32,
					  .addr = htonl(EW_HAIRPIN_ADDR) };

	ingress(p, peer_port(block("10.0.0.0/8", "10.2.0.0/16"), tcp(80)));
	ingress(p, peer_port(block("10.2.0.4/32", NULL), tcp(80)));
	ingress(p, peer_port(block("0.0.0.0/0", "192.168.0.0/16"), tcp(80)));
	compile(&on_a, &d);
	/* 7 pods, 2 nodes, hairpin; 0/0 and 4 CIDRs (10.2.0.4/32 is y/a's). */
	cr_expect_eq(d.ipcache.n, 7 + 2 + 1 + 1 + 3);
	v = ipcache_at(&d, "0.0.0.0/0");
	cr_assert(v);
	cr_expect_eq(v->identity, EW_IDENTITY_WORLD);
	cr_expect_eq(v->cidr_identity, EW_IDENTITY_WORLD);
	net8 = ipcache_at(&d, "10.0.0.0/8");
	cr_assert(net8);
	cr_expect_eq(net8->identity, net8->cidr_identity);
	cr_expect_geq(net8->identity, EW_IDENTITY_FIRST_POD);
	v = ipcache_at(&d, "10.1.0.1/32");
	cr_assert(v);
	cr_expect_eq(v->cidr_identity, net8->identity, "x/a: longest CIDR is 10/8");
	v = ipcache_at(&d, "10.2.0.2/32");
	cr_expect_eq(v->cidr_identity, ipcache_at(&d, "10.2.0.0/16")->identity);
	pod32 = ipcache_at(&d, "10.2.0.4/32");
	cr_assert(pod32);
	cr_expect_neq(pod32->identity, pod32->cidr_identity,
		      "y/a: its own and its /32's");
	cr_expect_geq(pod32->cidr_identity, EW_IDENTITY_FIRST_POD);
	cr_expect_neq(pod32->cidr_identity, ipcache_at(&d, "10.2.0.0/16")->identity);
	cr_expect_neq(pod32->identity, identity_of(&d, A_X), "y/a is not x/a");
	node = ipcache_at(&d, "192.168.1.1/32");
	cr_expect_eq(node->identity, EW_IDENTITY_HOST);
	cr_expect_eq(node->cidr_identity, ipcache_at(&d, "192.168.0.0/16")->identity);
	node = ipcache_at(&d, "192.168.1.2/32");
	cr_expect_eq(node->identity, EW_IDENTITY_REMOTE_NODE);
	v = ew_map_state_get(&d.ipcache, &hairpin);
	cr_assert(v);
	cr_expect_eq(v->identity, EW_IDENTITY_HOST);
	for (size_t i = 0; i < d.ipcache.n; i++) {
		const struct ew_ipcache_key *k = ew_map_state_key(&d.ipcache, i);

		cr_expect_eq(k->addr & ~mask((int)k->prefixlen), 0, "host bits are zero");
	}
	ew_policy_desired_free(&d);
}

/* The (port, prefix bits) of the entries of proto, by port. */
static size_t port_prefixes(const struct ew_policy_desired *d, uint8_t proto,
			    uint16_t ports[], uint8_t bits[], size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < d->policy.n; i++) {
		const struct ew_policy_key *k = ew_map_state_key(&d->policy, i);
		size_t at = n;

		if (k->proto != proto)
			continue;
		cr_assert_lt(n, max);
		for (; at > 0 && ports[at - 1] > ntohs(k->port); at--) {
			ports[at] = ports[at - 1];
			bits[at] = bits[at - 1];
		}
		ports[at] = ntohs(k->port);
		bits[at] = (uint8_t)(k->prefixlen - 80);
		n++;
	}
	return n;
}

Test(policy, port_ranges_become_the_fewest_exact_prefixes)
{
	struct ew_policy_desired d;
	struct ew_network_policy *p = policy("x", "ranges", "app=c");
	struct ew_policy_rule r = rule();
	uint16_t ports[40];
	uint8_t bits[40];
	static const uint16_t want_ports[] = { 1000, 1008, 1024, 1536,
					       1792, 1920, 1984, 2000 };
	static const uint8_t want_bits[] = { 13, 12, 7, 8, 9, 10, 12, 16 };
	size_t n;

	with_port(&r, port(EW_PROTO_TCP, 1000, 2000));
	with_port(&r, port(EW_PROTO_UDP, 1, 65535));
	with_port(&r, port(EW_PROTO_SCTP, 443, 0));
	with_port(&r, port(EW_PROTO_SCTP, 443, 443));
	ingress(p, r);
	compile(&on_a, &d);
	n = port_prefixes(&d, EW_PROTO_TCP, ports, bits, 40);
	cr_assert_eq(n, N(want_ports));
	for (size_t i = 0; i < n; i++) {
		cr_expect_eq(ports[i], want_ports[i]);
		cr_expect_eq(bits[i], want_bits[i], "%u", ports[i]);
	}
	n = port_prefixes(&d, EW_PROTO_UDP, ports, bits, 40);
	cr_assert_eq(n, 16, "1-65535: one prefix per bit");
	for (size_t i = 0; i < n; i++) {
		cr_expect_eq(ports[i], 1u << i);
		cr_expect_eq(bits[i], 16 - i);
	}
	n = port_prefixes(&d, EW_PROTO_SCTP, ports, bits, 40);
	cr_assert_eq(n, 1);
	cr_expect_eq(ports[0], 443);
	cr_expect_eq(bits[0], 16);
	ew_policy_desired_free(&d);
}

Test(policy, keys_and_rule_numbers)
{
	struct ew_policy_desired d;
	struct ew_network_policy *p = policy("x", "p", "app=c");
	struct ew_network_policy *q = policy("x", "q", "app=c");
	uint32_t c_id, b_id, pol_p = 0, pol_q = 0;

	ingress(p, peer_port(pod_peer("app=a"), tcp(80)));
	ingress(p, rule()); /* everything */
	egress(p, peer_port(pod_peer("app=b,tier=db"), port(EW_PROTO_UDP, 0, 0)));
	ingress(q, peer_port(pod_peer("app=a"), tcp(80))); /* the same key as p's */
	compile(&on_a, &d);
	c_id = identity_of(&d, C_X);
	b_id = identity_of(&d, B_X);
	cr_assert_eq(d.policy.n, 3);
	for (size_t i = 0; i < d.policy.n; i++) {
		const struct ew_policy_key *k = ew_map_state_key(&d.policy, i);
		const struct ew_policy_entry *e = ew_map_state_value(&d.policy, i);
		uint32_t pol = e->rule >> 12, dir = (e->rule >> 11) & 1,
			 idx = e->rule & 0x7ff;

		cr_expect_eq(k->subject, c_id);
		cr_expect_eq(e->flags, 0);
		cr_expect(pol >= 1 && pol < (1u << 20));
		if (k->dir == EW_DIR_EGRESS) {
			cr_expect_eq(k->peer, b_id);
			cr_expect_eq(k->prefixlen, 80);
			cr_expect_eq(k->proto, EW_PROTO_UDP);
			cr_expect_eq(k->port, 0);
			cr_expect_eq(dir, EW_DIR_EGRESS);
			cr_expect_eq(idx, 0);
			pol_p = pol;
		} else if (k->peer == EW_IDENTITY_ANY) {
			cr_expect_eq(k->prefixlen, 72);
			cr_expect_eq(k->proto, 0);
			cr_expect_eq(k->port, 0);
			cr_expect_eq(dir, EW_DIR_INGRESS);
			cr_expect_eq(idx, 1);
		} else {
			cr_expect_eq(k->prefixlen, 96);
			cr_expect_eq(k->proto, EW_PROTO_TCP);
			cr_expect_eq(k->port, htons(80));
			cr_expect_eq(dir, EW_DIR_INGRESS);
			cr_expect_eq(idx, 0);
			pol_q = pol; /* p's or q's: the smaller */
		}
	}
	cr_expect_neq(pol_p, 0);
	cr_expect(pol_q == pol_p || pol_q < pol_p);
	ew_policy_desired_free(&d);
}

Test(policy, entries_only_for_subjects_on_this_node)
{
	struct ew_policy_desired da, db;
	struct ew_network_policy *p = policy("x", "b", "app=b");

	ingress(p, peer_port(pod_peer(""), tcp(80)));
	compile(&on_a, &da);
	compile(&on_b, &db);
	cr_expect_eq(da.policy.n, 0, "x/b runs on node-b");
	cr_expect_eq(db.policy.n, 3, "from x/a, x/b, x/c (a and a2 are one)");
	cr_expect_eq(da.ipcache.n, db.ipcache.n);
	ew_policy_desired_free(&da);
	ew_policy_desired_free(&db);
}

/* ---- scale ------------------------------------------------------------------------- */

#define SCALE_NS	      50
#define SCALE_PODS_PER_NS     20
#define SCALE_APPS	      10
#define SCALE_POLICIES_PER_NS 20
#define SCALE_RULES	      10

static char *fmt(const char *f, unsigned a)
{
	char buf[64];

	snprintf(buf, sizeof(buf), f, a);
	return strdup(buf);
}

static struct ew_labels one_label(const char *key, char *value)
{
	struct ew_label *l = calloc(1, sizeof(*l));

	*l = (struct ew_label){ .key = (char *)key, .value = value };
	return (struct ew_labels){ .n = 1, .items = l };
}

static struct ew_selector label_sel(const char *key, char *value)
{
	return (struct ew_selector){ .match_labels = one_label(key, value) };
}

/*
 * 50 namespaces (teams 0-4) of 20 pods in 10 apps (500 identities), all on
 * node-a; 20 policies a namespace, each selecting one app, with 10 rules
 * (10,000), each from or to one app on ports of its own:
 *   0-6  podSelector app, one port               1 entry
 *   7    namespaceSelector team + podSelector    10 entries (10 namespaces)
 *   8    podSelector, range of 1024 aligned      1 entry
 *   9    ipBlock /24 except /25                  1 entry
 * Policies 0-9 of a namespace isolate ingress, 10-19 egress.
 */
/* ---- names of identities and rules, for bpfctl ------------------------------ */

static const char *identity_name(const struct ew_policy_desired *d, uint32_t identity)
{
	struct ew_identity_key key = { .identity = identity };
	const struct ew_identity_name *name = ew_map_state_get(&d->identities, &key);

	return name ? name->text : NULL;
}

static const char *rule_name(const struct ew_policy_desired *d, uint32_t rule)
{
	struct ew_policy_rule_key key = { .rule = rule };
	const struct ew_policy_rule_name *name = ew_map_state_get(&d->rules, &key);

	return name ? name->text : NULL;
}

Test(policy, identity_names_are_namespace_and_labels_or_the_cidr)
{
	struct ew_policy_desired d;
	struct ew_network_policy *p = policy("x", "cidr", "");
	const struct ew_ipcache *net;

	ingress(p, peer_port(block("198.51.100.0/24", NULL), tcp(80)));
	add_pod("w", "bare", "node-b", "10.2.0.50", "", NULL);
	compile(&on_a, &d);
	cr_expect_str_eq(identity_name(&d, identity_of(&d, B_X)), "x app=b,tier=db");
	cr_expect_str_eq(identity_name(&d, identity_of(&d, A_Z)), "z app=a,tier=web");
	cr_expect_str_eq(identity_name(&d, identity_of(&d, B_Y)), "y app=b");
	cr_expect_str_eq(identity_name(&d, identity_of(&d, "10.2.0.50")), "w",
			 "no labels: the namespace alone");
	net = ipcache_at(&d, "198.51.100.0/24");
	cr_assert(net);
	cr_expect_str_eq(identity_name(&d, net->identity), "cidr:198.51.100.0/24");
	cr_expect_null(identity_name(&d, EW_IDENTITY_WORLD), "reserved: no entry");
	cr_expect_null(identity_name(&d, EW_IDENTITY_HOST));
	/* Every identity ipcache holds has its name, and no other one has. */
	for (size_t i = 0; i < d.ipcache.n; i++) {
		const struct ew_ipcache *v = ew_map_state_value(&d.ipcache, i);

		cr_expect(v->identity < EW_IDENTITY_FIRST_POD ||
				  identity_name(&d, v->identity),
			  "identity %u has no name", v->identity);
	}
	/* x/a, x/b, x/c, y/a, y/b, z/a, w/bare and the CIDR. */
	cr_expect_eq(d.identities.n, 8);
	ew_policy_desired_free(&d);
}

/* What follows a name's end is zero: the agent diffs whole values with the
 * maps, and anything else there would rewrite every name on every apply. */
static void expect_zero_after_the_end(const struct ew_map_state *names, size_t cap)
{
	for (size_t i = 0; i < names->n; i++) {
		const char *text = ew_map_state_value(names, i);

		for (size_t j = strnlen(text, cap); j < cap; j++)
			cr_assert_eq(text[j], 0, "byte %zu of \"%s\" is %d", j, text, text[j]);
	}
}

Test(policy, names_are_zero_after_their_end)
{
	struct ew_policy_desired d;
	struct ew_network_policy *p = policy("x", "allow-c", "app=c");

	ingress(p, peer_port(block("198.51.100.0/24", NULL), tcp(80)));
	egress(p, peer_port(pod_peer("app=a"), port(EW_PROTO_UDP, 53, 0)));
	compile(&on_a, &d);
	cr_assert_gt(d.identities.n, 1);
	cr_assert_gt(d.rules.n, 1);
	expect_zero_after_the_end(&d.identities, EW_IDENTITY_NAME_LEN);
	expect_zero_after_the_end(&d.rules, sizeof(struct ew_policy_rule_name));
	ew_policy_desired_free(&d);
}

Test(policy, identity_names_that_do_not_fit_are_cut)
{
	struct ew_policy_desired d;
	char lbls[600];
	const char *name;
	size_t n = 0;

	for (int i = 0; i < 20; i++)
		n += (size_t)snprintf(lbls + n, sizeof(lbls) - n, "%slabel-%02d=value-%02d",
				      i ? "," : "", i, i);
	add_pod("x", "long", "node-a", "10.1.0.60", lbls, NULL);
	compile(&on_a, &d);
	name = identity_name(&d, identity_of(&d, "10.1.0.60"));
	cr_assert(name);
	cr_expect_eq(strlen(name), EW_IDENTITY_NAME_LEN - 1);
	cr_expect(!strncmp(name, "x label-00=value-00,label-01=value-01,", 38), "%s", name);
	cr_expect_str_eq(name + EW_IDENTITY_NAME_LEN - 4, "...");
	ew_policy_desired_free(&d);
}

Test(policy, rule_names_say_kind_policy_direction_and_index)
{
	struct ew_policy_desired d;
	struct ew_network_policy *p = policy("x", "allow-c", "app=c");
	struct ew_network_policy *far = policy("x", "only-b", "app=b"); /* node-b */
	bool seen[2][2] = { { false } };

	ingress(p, peer_port(pod_peer("app=a"), tcp(80)));
	ingress(p, peer_port(pod_peer("app=b,tier=db"), tcp(81)));
	egress(p, peer_port(pod_peer("app=a"), port(EW_PROTO_UDP, 53, 0)));
	ingress(far, peer_port(pod_peer(""), tcp(80)));
	compile(&on_a, &d);
	cr_assert_eq(d.policy.n, 3);
	for (size_t i = 0; i < d.policy.n; i++) {
		const struct ew_policy_key *k = ew_map_state_key(&d.policy, i);
		const struct ew_policy_entry *e = ew_map_state_value(&d.policy, i);
		const char *name = rule_name(&d, e->rule);
		size_t idx = e->rule & 0x7ff;
		char want[64];

		cr_assert(name, "rule %u of an entry has no name", e->rule);
		snprintf(want, sizeof(want), "NetworkPolicy x/allow-c %s[%zu]",
			 k->dir == EW_DIR_INGRESS ? "ingress" : "egress", idx);
		cr_expect_str_eq(name, want);
		seen[k->dir][idx] = true;
	}
	cr_expect(seen[EW_DIR_INGRESS][0] && seen[EW_DIR_INGRESS][1] &&
		  seen[EW_DIR_EGRESS][0]);
	cr_expect_eq(d.rules.n, 3, "x/only-b selects no pod of node-a: not named");
	ew_policy_desired_free(&d);
}

/* A CiliumNetworkPolicy with specs: one model policy per rule, same origin. */
Test(policy, rule_names_of_a_cilium_policy_with_several_rules)
{
	struct ew_policy_desired d;
	struct ew_network_policy *one = policy("x", "cnp", "app=c");
	struct ew_network_policy *two = policy("x", "cnp", "app=c");
	struct ew_network_policy *single = policy("x", "single", "app=c");
	const char *want[] = { "CiliumNetworkPolicy x/cnp rule 1 of 2, ingress[0]",
			       "CiliumNetworkPolicy x/cnp rule 2 of 2, egress[0]",
			       "CiliumNetworkPolicy x/single ingress[0]" };
	size_t found = 0;

	one->kind = two->kind = single->kind = EW_POLICY_CILIUM;
	single->origin.line = 20;
	ingress(one, peer_port(pod_peer("app=a"), tcp(80)));
	egress(two, peer_port(pod_peer("app=a"), tcp(443)));
	ingress(single, peer_port(pod_peer("app=b,tier=db"), tcp(8081)));
	compile(&on_a, &d);
	cr_assert_eq(d.rules.n, N(want));
	for (size_t i = 0; i < d.rules.n; i++) {
		const struct ew_policy_rule_name *name = ew_map_state_value(&d.rules, i);

		for (size_t k = 0; k < N(want); k++)
			found += !strcmp(name->text, want[k]);
	}
	cr_expect_eq(found, N(want));
	ew_policy_desired_free(&d);
}

/* ---- L7: HTTP rules, for edgewire-proxy ------------------------------------- */

/* A CiliumNetworkPolicy: the only kind with HTTP rules. */
static struct ew_network_policy *cilium(struct ew_network_policy *p)
{
	p->kind = EW_POLICY_CILIUM;
	return p;
}

/* Policy web: x/a's ingress from x/c on TCP 80 through the proxy, GET only. */
static void add_l7_web(void)
{
	struct ew_policy_port get = with_http(tcp(80), "GET", NULL, NULL, NULL);

	ingress(cilium(policy("x", "web", "app=a")), peer_port(pod_peer("app=c"), get));
}

/* The entry of exactly this key (a full prefix: one port), or NULL. */
static const struct ew_policy_entry *port_entry(const struct ew_policy_desired *d,
						const char *subject, const char *peer,
						uint8_t dir, uint8_t proto, uint16_t port)
{
	struct ew_policy_key key;

	memset(&key, 0, sizeof(key));
	key.prefixlen = EW_POLICY_PREFIX_FULL;
	key.subject = identity_of(d, subject);
	key.peer = identity_of(d, peer);
	key.dir = dir;
	key.proto = proto;
	key.port = htons(port);
	return ew_map_state_get(&d->policy, &key);
}

/* The entry of exactly this TCP port, asserted to be there and L7. */
static const struct ew_policy_entry *l7_entry(const struct ew_policy_desired *d,
					      const char *subject, const char *peer,
					      uint8_t dir, uint16_t port)
{
	const struct ew_policy_entry *e =
		port_entry(d, subject, peer, dir, EW_PROTO_TCP, port);

	cr_assert(e, "%s -> %s TCP %u: no entry", peer, subject, port);
	cr_expect_eq(e->flags, EW_POLICY_L7, "%s -> %s TCP %u: not L7", peer, subject,
		     port);
	return e;
}

static uint32_t pod_flags(const struct ew_policy_desired *d, const char *addr)
{
	struct ew_pod_policy_key key = { .ip = ip(addr) };
	const struct ew_pod_policy *pp = ew_map_state_get(&d->pods, &key);

	cr_assert(pp, "%s has no policy state on this node", addr);
	return pp->flags;
}

/* d->proxy_config's entries, checked to be of version 1. */
static json_t *proxy_entries(const struct ew_policy_desired *d, json_t **root)
{
	json_error_t err;
	json_t *entries;

	cr_assert(d->proxy_config, "no proxy configuration");
	*root = json_loads(d->proxy_config, 0, &err);
	cr_assert(*root, "proxy configuration: %s: %s", err.text, d->proxy_config);
	cr_assert_eq(json_integer_value(json_object_get(*root, "version")), 1);
	entries = json_object_get(*root, "entries");
	cr_assert(json_is_array(entries), "%s", d->proxy_config);
	return entries;
}

static const char *json_text(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static json_int_t json_number(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* The rules of d's one proxy entry, asserted to be of this key and to
 * number n_rules. */
static json_t *only_proxy_rules(const struct ew_policy_desired *d, json_t **root,
				const char *subject, const char *dir, uint16_t port,
				const char *peer, size_t n_rules)
{
	json_t *entries = proxy_entries(d, root), *o = json_array_get(entries, 0);

	cr_assert_eq(json_array_size(entries), 1, "%s", d->proxy_config);
	cr_expect_eq(json_number(o, "subject"), identity_of(d, subject));
	cr_expect_str_eq(json_text(o, "dir"), dir);
	cr_expect_eq(json_number(o, "port"), port);
	cr_expect_eq(json_number(o, "peer"), identity_of(d, peer));
	cr_assert_eq(json_array_size(json_object_get(o, "rules")), n_rules, "%s",
		     d->proxy_config);
	return json_object_get(o, "rules");
}

Test(policy, an_ingress_http_rule_gives_an_l7_entry_and_the_proxy_its_rules)
{
	struct ew_policy_desired d;
	const struct ew_policy_entry *e;
	struct ew_policy_port web = with_http(tcp(80), "GET", "/public/.*", "web\\.x",
					      "X-Token,Accept: text/html");
	json_t *root, *r, *headers;

	ingress(cilium(policy("x", "web", "app=a")), peer_port(pod_peer("app=c"), web));
	compile(&on_a, &d);
	cr_assert_eq(d.policy.n, 1, "TCP 80 only: no UDP, no other port");
	e = l7_entry(&d, A_X, C_X, EW_DIR_INGRESS, 80);
	cr_expect_eq(pod_flags(&d, A_X), EW_EP_INGRESS_ISOLATED | EW_EP_INGRESS_L7);
	cr_expect_eq(pod_flags(&d, C_X), 0, "the peer meets no proxy");

	r = json_array_get(only_proxy_rules(&d, &root, A_X, "ingress", 80, C_X, 1), 0);
	cr_expect_eq(json_number(r, "rule"), e->rule);
	cr_expect_str_eq(rule_name(&d, e->rule), "CiliumNetworkPolicy x/web ingress[0]");
	cr_expect_str_eq(json_text(r, "method"), "GET");
	cr_expect_str_eq(json_text(r, "path"), "/public/.*");
	cr_expect_str_eq(json_text(r, "host"), "web\\.x");
	headers = json_object_get(r, "headers");
	cr_assert_eq(json_array_size(headers), 2);
	cr_expect_str_eq(json_string_value(json_array_get(headers, 0)), "X-Token");
	cr_expect_str_eq(json_string_value(json_array_get(headers, 1)),
			 "Accept: text/html");
	json_decref(root);
	ew_policy_desired_free(&d);
}

Test(policy, an_egress_http_rule_marks_the_subject_egress_l7)
{
	struct ew_policy_desired d;
	struct ew_policy_port v1 = with_http(tcp(8081), NULL, "/v1/.*", NULL, NULL);
	const struct ew_policy_entry *e;
	json_t *root, *r;

	egress(cilium(egress_only(policy("x", "api", "app=c"))),
	       peer_port(pod_peer("app=b,tier=db"), v1));
	compile(&on_a, &d);
	cr_assert_eq(d.policy.n, 1);
	e = l7_entry(&d, C_X, B_X, EW_DIR_EGRESS, 8081);
	cr_expect_eq(pod_flags(&d, C_X), EW_EP_EGRESS_ISOLATED | EW_EP_EGRESS_L7);
	cr_expect_eq(pod_flags(&d, A_X), 0);

	r = json_array_get(only_proxy_rules(&d, &root, C_X, "egress", 8081, B_X, 1), 0);
	cr_expect_eq(json_number(r, "rule"), e->rule);
	cr_expect_str_eq(json_text(r, "path"), "/v1/.*");
	cr_expect_null(json_object_get(r, "method"), "absent: any method");
	cr_expect_null(json_object_get(r, "host"));
	cr_expect_null(json_object_get(r, "headers"));
	json_decref(root);
	ew_policy_desired_free(&d);
}

/* Asserts that policy web's L7 entry (add_l7_web) was lifted: x/a's
 * connections from x/c on TCP 80 pass without the proxy. */
static void expect_l7_web_lifted(void)
{
	struct ew_policy_desired d;
	const struct ew_policy_entry *e;
	json_t *root;

	compile(&on_a, &d);
	e = port_entry(&d, A_X, C_X, EW_DIR_INGRESS, EW_PROTO_TCP, 80);
	cr_assert(e, "the L7 rule's entry stays, as an L4 one");
	cr_expect_eq(e->flags, 0);
	for (size_t i = 0; i < d.policy.n; i++) {
		const struct ew_policy_entry *any = ew_map_state_value(&d.policy, i);

		cr_expect_eq(any->flags, 0, "entry %zu is L7", i);
	}
	cr_expect_eq(pod_flags(&d, A_X), EW_EP_INGRESS_ISOLATED, "no L7 flag");
	cr_expect_eq(json_array_size(proxy_entries(&d, &root)), 0, "%s", d.proxy_config);
	json_decref(root);
	ew_policy_desired_free(&d);
}

Test(policy, an_l4_rule_for_the_same_peer_and_port_lifts_l7)
{
	add_l7_web();
	ingress(policy("x", "l4", "app=a"), peer_port(pod_peer("app=c"), tcp(80)));
	expect_l7_web_lifted();
}

Test(policy, an_l4_port_range_holding_the_port_lifts_l7)
{
	add_l7_web();
	ingress(policy("x", "l4", "app=a"),
		peer_port(pod_peer("app=c"), port(EW_PROTO_TCP, 64, 127)));
	expect_l7_web_lifted();
}

Test(policy, an_l4_rule_of_every_port_of_the_protocol_lifts_l7)
{
	add_l7_web();
	ingress(policy("x", "l4", "app=a"),
		peer_port(pod_peer("app=c"), port(EW_PROTO_TCP, 0, 0)));
	expect_l7_web_lifted();
}

Test(policy, an_l4_rule_without_ports_lifts_l7)
{
	struct ew_policy_rule r = rule();

	add_l7_web();
	ingress(policy("x", "l4", "app=a"), *with_peer(&r, pod_peer("app=c")));
	expect_l7_web_lifted();
}

Test(policy, l4_rules_for_another_peer_port_or_protocol_leave_l7)
{
	struct ew_policy_desired d;
	struct ew_network_policy *l4 = policy("x", "l4", "app=a");
	json_t *root;

	add_l7_web();
	ingress(l4, peer_port(pod_peer("app=b"), tcp(80)));
	ingress(l4, peer_port(pod_peer("app=c"), port(EW_PROTO_TCP, 81, 1000)));
	ingress(l4, peer_port(pod_peer("app=c"), port(EW_PROTO_UDP, 80, 0)));
	ingress(l4, peer_port(pod_peer("app=c"), port(EW_PROTO_UDP, 0, 0)));
	compile(&on_a, &d);
	l7_entry(&d, A_X, C_X, EW_DIR_INGRESS, 80);
	cr_expect_eq(port_entry(&d, A_X, B_X, EW_DIR_INGRESS, EW_PROTO_TCP, 80)->flags, 0,
		     "x/b's own L4 entry");
	cr_expect_eq(pod_flags(&d, A_X), EW_EP_INGRESS_ISOLATED | EW_EP_INGRESS_L7);
	only_proxy_rules(&d, &root, A_X, "ingress", 80, C_X, 1);
	json_decref(root);
	ew_policy_desired_free(&d);
}

Test(policy, http_rules_of_two_policies_for_one_key_are_one_entry_with_both)
{
	struct ew_policy_desired d;
	const struct ew_policy_entry *e;
	json_t *root, *rules;
	struct ew_policy_port admin = with_http(tcp(80), "POST", "/admin", NULL, NULL);
	bool seen_web = false, seen_admin = false;

	admin = with_http(admin, "PUT", "/admin", NULL, NULL);
	add_l7_web();
	ingress(cilium(policy("x", "admin", "app=a")),
		peer_port(pod_peer("app=c"), admin));
	compile(&on_a, &d);
	cr_assert_eq(d.policy.n, 1);
	e = l7_entry(&d, A_X, C_X, EW_DIR_INGRESS, 80);
	rules = only_proxy_rules(&d, &root, A_X, "ingress", 80, C_X, 3);
	for (size_t i = 0; i < json_array_size(rules); i++) {
		const json_t *r = json_array_get(rules, i);
		const char *name = rule_name(&d, (uint32_t)json_number(r, "rule"));
		const char *method = json_text(r, "method");

		cr_assert(name && method, "%s", d.proxy_config);
		if (!strcmp(name, "CiliumNetworkPolicy x/web ingress[0]")) {
			cr_expect_str_eq(method, "GET");
			seen_web = true;
		} else {
			cr_expect_str_eq(name, "CiliumNetworkPolicy x/admin ingress[0]");
			cr_expect(!strcmp(method, "POST") || !strcmp(method, "PUT"));
			seen_admin = true;
		}
		cr_expect_geq(json_number(r, "rule"), e->rule,
			      "the entry names the smallest");
	}
	cr_expect(seen_web && seen_admin, "%s", d.proxy_config);
	json_decref(root);
	ew_policy_desired_free(&d);
}

Test(policy, a_named_port_with_http_rules_resolves_on_the_destination)
{
	struct ew_policy_desired d;
	struct ew_policy_port http = with_http(named(EW_PROTO_TCP, "http"), "GET", NULL,
					       NULL, NULL);
	json_t *root;

	ingress(cilium(policy("x", "web", "app=a")), peer_port(pod_peer("app=c"), http));
	compile(&on_a, &d);
	cr_assert_eq(d.policy.n, 1);
	l7_entry(&d, A_X, C_X, EW_DIR_INGRESS, 8080); /* x/a names 8080 http */
	cr_expect_eq(pod_flags(&d, A_X), EW_EP_INGRESS_ISOLATED | EW_EP_INGRESS_L7);
	only_proxy_rules(&d, &root, A_X, "ingress", 8080, C_X, 1);
	json_decref(root);
	ew_policy_desired_free(&d);
}

Test(policy, scale_1000_pods_1000_policies_10000_rules)
{
	struct ew_model m = { 0 };
	struct ew_policy_desired d;
	struct ew_diags diags = { 0 };
	struct ew_policy_config cfg = { .node = "node-a" };
	struct timespec t0, t1;
	char *apps[SCALE_APPS], *teams[5], *ns_names[SCALE_NS];
	double ms;

	m.n_nodes = 1;
	m.nodes = calloc(1, sizeof(*m.nodes));
	m.nodes[0] =
		(struct ew_node){ .name = "node-a", .internal_ip = ip("192.168.1.1") };
	for (unsigned i = 0; i < SCALE_APPS; i++)
		apps[i] = fmt("app-%u", i);
	for (unsigned i = 0; i < 5; i++)
		teams[i] = fmt("team-%u", i);
	m.namespaces = calloc(SCALE_NS, sizeof(*m.namespaces));
	m.pods = calloc(SCALE_NS * SCALE_PODS_PER_NS, sizeof(*m.pods));
	m.policies = calloc(SCALE_NS * SCALE_POLICIES_PER_NS, sizeof(*m.policies));
	for (unsigned n = 0; n < SCALE_NS; n++) {
		struct ew_label *l = calloc(2, sizeof(*l));

		ns_names[n] = fmt("ns-%u", n);
		l[0] = (struct ew_label){ "kubernetes.io/metadata.name", ns_names[n] };
		l[1] = (struct ew_label){ "team", teams[n % 5] };
		m.namespaces[m.n_namespaces++] =
			(struct ew_namespace){ .name = ns_names[n],
					       .labels = { .n = 2, .items = l } };
		for (unsigned i = 0; i < SCALE_PODS_PER_NS; i++)
			m.pods[m.n_pods++] = (struct ew_pod){
				.namespace = ns_names[n],
				.name = fmt("pod-%u", i),
				.node_name = "node-a",
				.ip = htonl(0x0a000000 | n << 8 | (i + 1)),
				.labels = one_label("app", apps[i % SCALE_APPS])
			};
		for (unsigned k = 0; k < SCALE_POLICIES_PER_NS; k++) {
			struct ew_network_policy *p = &m.policies[m.n_policies++];
			struct ew_policy_rule *rules =
				calloc(SCALE_RULES, sizeof(*rules));

			*p = (struct ew_network_policy){
				.namespace = ns_names[n],
				.name = fmt("policy-%u", k),
				.pod_selector = label_sel("app", apps[k % SCALE_APPS])
			};
			for (unsigned r = 0; r < SCALE_RULES; r++) {
				struct ew_policy_peer *peer = calloc(1, sizeof(*peer));
				struct ew_policy_port *pp = calloc(1, sizeof(*pp));
				char *app = apps[(k + r) % SCALE_APPS];

				*pp = port(EW_PROTO_TCP, (uint16_t)(10000 + k * 16 + r),
					   0);
				*peer = (struct ew_policy_peer){
					.has_pod_selector = true,
					.pod_selector = label_sel("app", app)
				};
				if (r == 7) {
					peer->has_ns_selector = true;
					peer->ns_selector =
						label_sel("team", teams[n % 5]);
				} else if (r == 8) {
					*pp = port(EW_PROTO_TCP,
						   (uint16_t)(32768 + k * 1024),
						   (uint16_t)(32768 + k * 1024 + 1023));
				} else if (r == 9) {
					*peer = (struct ew_policy_peer){
						.has_ip_block = true,
						.cidr = { htonl(0xac100000 | n << 8),
							  24 },
						.n_except = 1,
						.except =
							calloc(1, sizeof(struct ew_cidr))
					};
					peer->except[0] = (struct ew_cidr){
						htonl(0xac100080 | n << 8), 25
					};
				}
				rules[r] = (struct ew_policy_rule){ .n_peers = 1,
								    .peers = peer,
								    .n_ports = 1,
								    .ports = pp };
			}
			if (k < 10) {
				p->isolates_ingress = true;
				p->n_ingress = SCALE_RULES;
				p->ingress = rules;
			} else {
				p->isolates_egress = true;
				p->n_egress = SCALE_RULES;
				p->egress = rules;
			}
		}
	}

	ew_policy_desired_init(&d);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(ew_policy_compile(&m, &cfg, &d, &diags), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	     (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	printf("policy compile: %zu pods, %zu policies, %u rules -> %zu identities "
	       "and CIDRs, %zu policy entries, %zu pods in %.1f ms\n",
	       m.n_pods, m.n_policies, SCALE_NS * SCALE_POLICIES_PER_NS * SCALE_RULES,
	       d.ipcache.n, d.policy.n, d.pods.n, ms);
	cr_expect_eq(diags.n, 0);
	cr_expect_eq(d.pods.n, 1000);
	/* 1000 pods, 50 x 2 CIDRs, 0/0, the node, hairpin */
	cr_expect_eq(d.ipcache.n, 1000 + 100 + 1 + 1 + 1);
	cr_expect_eq(d.policy.n, 1000 * (7 + 10 + 1 + 1));
	for (size_t i = 0; i < d.pods.n; i++) {
		const struct ew_pod_policy *pp = ew_map_state_value(&d.pods, i);

		cr_expect_eq(pp->flags, EW_EP_INGRESS_ISOLATED | EW_EP_EGRESS_ISOLATED);
	}
	ew_policy_desired_free(&d);
	ew_diags_clear(&diags);
	/* The model is left to the test process's exit. */
}
