// SPDX-License-Identifier: Apache-2.0
/*
 * The store reader: a directory of Kubernetes YAML files -> validated model.
 *
 * A load reads every store file in sorted name order. Each file becomes a
 * version: the objects it defines, owned by that version. A version is good
 * when it parses, validates and merges without conflict into the objects
 * accepted so far. Merging checks each object against the accepted ones, so a
 * conflict (duplicate object, shared pod IP, overlapping pod CIDRs, a pod IP
 * outside its node's pod CIDR, a ClusterIP port or node port two services
 * claim, a policy defined twice) is always blamed on the later object: the one
 * in the later file, or within a file the later one of its nodes, then
 * namespaces, pods, services, endpoint slices and network policies, each in
 * document order.
 *
 * Per file, the store keeps the last good version. A file whose current
 * version is bad contributes its last good version instead, if that one still
 * merges without conflict; otherwise the file contributes nothing until it is
 * fixed. A file that disappeared contributes nothing.
 *
 * The model is shallow: its arrays copy the structs of the versions, whose
 * strings and arrays live until the file's next good version or its removal.
 *
 * This file holds the files, versions and merging; the kinds are read in
 * store_core.c (Node, Namespace, Pod), store_services.c (Service,
 * EndpointSlice) and store_policy.c (NetworkPolicy, CiliumNetworkPolicy), with
 * the helpers of store_read.c.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <time.h>

#include "index.h"
#include "netutil.h"
#include "store_read.h"

/* A file as stat() sees it: what changes whenever its content does. */
struct file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

struct store_file {
	char *name;
	struct ew_model *good; /* last good version; NULL when it never was */
	/* The file as good was read from it, where a change since must show
	 * here (see settled()); all zero otherwise: read the file again. */
	struct file_id good_id;
};

struct ew_store {
	char *dir;
	size_t n_files;
	struct store_file *files; /* sorted by name */
	struct ew_model model;	  /* shallow: points into files[].good */
	struct ew_index index;	  /* of model, for merging: see index_*() */
};

static char *path_in(const char *dir, const char *name)
{
	char *path;

	if (asprintf(&path, "%s/%s", dir, name) < 0) {
		fputs("edgewire: out of memory\n", stderr);
		abort();
	}
	return path;
}

/* Frees a version: a model that owns everything it points to. */
static void version_free(struct ew_model *v)
{
	if (!v)
		return;
	store_core_free(v);
	store_services_free(v);
	store_policy_free(v);
	free(v);
}

/* --- reading a file into a version -------------------------------------------- */

static const struct {
	const char *api_version;
	const char *kind;
	store_read_fn *read;
} kinds[] = {
    {"v1", "Node", store_read_node},
    {"v1", "Namespace", store_read_namespace},
    {"v1", "Pod", store_read_pod},
    {"v1", "Service", store_read_service},
    {"discovery.k8s.io/v1", "EndpointSlice", store_read_endpoint_slice},
    {"networking.k8s.io/v1", "NetworkPolicy", store_read_network_policy},
    {"cilium.io/v2", "CiliumNetworkPolicy", store_read_cilium_network_policy},
};

static void read_object(struct reader *r, yaml_node_t *obj, struct ew_model *m,
			bool in_list);

static void read_list(struct reader *r, yaml_node_t *obj, struct ew_model *m)
{
	yaml_node_t *items;

	items = store_typed(r, store_field(r, obj, "items"), YAML_SEQUENCE_NODE, "items");
	for (size_t i = 0; i < seq_len(items); i++)
		read_object(r, seq_item(r, items, i), m, true);
}

/* Reads an object of the kinds above or a v1 List; ignores every other kind
 * and API version. */
static void read_object(struct reader *r, yaml_node_t *obj, struct ew_model *m,
			bool in_list)
{
	const char *api_version, *kind;

	snprintf(r->what, sizeof(r->what), "%s", in_list ? "List item" : "");
	if (obj->type != YAML_MAPPING_NODE) {
		store_problem(
		    r, obj,
		    "expected a Kubernetes object (a mapping with apiVersion and "
		    "kind), got %s",
		    store_node_type_name(obj->type));
		return;
	}
	api_version = store_required_scalar(
	    r, obj, "apiVersion", "apiVersion",
	    "a Kubernetes object with apiVersion and kind, such as apiVersion: v1");
	kind = store_required_scalar(
	    r, obj, "kind", "kind",
	    "a Kubernetes object with apiVersion and kind, such as kind: Pod");
	if (!api_version || !kind)
		return;
	if (!strcmp(api_version, "v1") && !strcmp(kind, "List")) {
		if (in_list)
			store_problem(
			    r, obj,
			    "a List inside a List; expected objects such as Pod or Node");
		else
			read_list(r, obj, m);
		return;
	}
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(api_version, kinds[i].api_version) &&
		    !strcmp(kind, kinds[i].kind))
			kinds[i].read(r, obj, m);
}

static void report_syntax_error(const yaml_parser_t *p, const char *file,
				struct ew_diags *diags)
{
	const char *what = p->problem ?: "unreadable input";

	if (p->error == YAML_READER_ERROR)
		ew_diag_add(diags, file, 0, 0,
			    "YAML syntax error: %s at byte %zu; expected UTF-8 text",
			    what, p->problem_offset);
	else if (p->context)
		ew_diag_add(diags, file, p->problem_mark.line + 1,
			    p->problem_mark.column + 1,
			    "YAML syntax error: %s %s (started at line %zu, column %zu); "
			    "expected well-formed YAML",
			    what, p->context, p->context_mark.line + 1,
			    p->context_mark.column + 1);
	else
		ew_diag_add(diags, file, p->problem_mark.line + 1,
			    p->problem_mark.column + 1,
			    "YAML syntax error: %s; expected well-formed YAML", what);
}

/* Reads every document of the stream; returns the number of problems. */
static int read_documents(yaml_parser_t *parser, const char *name, struct ew_model *v,
			  struct ew_diags *diags)
{
	struct reader r = {.file = name, .diags = diags};
	yaml_document_t doc;
	yaml_node_t *root;

	for (;;) {
		if (!yaml_parser_load(parser, &doc)) {
			report_syntax_error(parser, name, diags);
			return r.problems + 1;
		}
		root = yaml_document_get_root_node(&doc);
		if (!root) {
			yaml_document_delete(&doc);
			return r.problems;
		}
		r.doc = &doc;
		if (!store_is_null(root))
			read_object(&r, root, v, false);
		yaml_document_delete(&doc);
	}
}

/* Reads a store file into a new version; NULL when it had any problem. */
static struct ew_model *read_version(const char *dir, const char *name,
				     struct ew_diags *diags)
{
	struct ew_model *v = xzalloc(sizeof(*v));
	char *path = path_in(dir, name);
	yaml_parser_t parser;
	int problems;
	FILE *f;

	f = fopen(path, "r");
	free(path);
	if (!f) {
		ew_diag_add(diags, name, 0, 0,
			    "cannot open: %s; expected a readable file", strerror(errno));
		free(v);
		return NULL;
	}
	if (!yaml_parser_initialize(&parser))
		abort();
	yaml_parser_set_input_file(&parser, f);
	problems = read_documents(&parser, name, v, diags);
	yaml_parser_delete(&parser);
	fclose(f);
	if (problems) {
		version_free(v);
		return NULL;
	}
	return v;
}

/* --- the merge index -------------------------------------------------------------- */

/* What merging looks objects up by: their names, pod IPs and service
 * frontends, each naming its object's position in the model. */
enum key_tag {
	KEY_NODE = 'N',
	KEY_NAMESPACE = 'S',
	KEY_POD = 'P',
	KEY_POD_IP = 'I',
	KEY_SERVICE = 'V',
	KEY_CLUSTER_PORT = 'C', /* ClusterIP, port, protocol -> service << 16 | port */
	KEY_NODE_PORT = 'T',	/* node port, protocol -> service << 16 | port */
	KEY_SLICE = 'E',
	KEY_NETWORK_POLICY = 'K',
	KEY_CILIUM_POLICY = 'L',
};

struct key {
	size_t n;
	unsigned char bytes[512]; /* names are DNS names: far shorter */
};

static void key_add(struct key *k, const void *p, size_t len)
{
	if (len > sizeof(k->bytes) - k->n)
		len = sizeof(k->bytes) - k->n;
	memcpy(k->bytes + k->n, p, len);
	k->n += len;
}

static struct key key_new(enum key_tag tag)
{
	struct key k = { 0 };
	unsigned char t = tag;

	key_add(&k, &t, 1);
	return k;
}

/* TAG, then NAMESPACE (when not NULL) and NAME with their NULs. */
static struct key name_key(enum key_tag tag, const char *ns, const char *name)
{
	struct key k = key_new(tag);

	if (ns)
		key_add(&k, ns, strlen(ns) + 1);
	key_add(&k, name, strlen(name) + 1);
	return k;
}

static struct key pod_ip_key(uint32_t ip)
{
	struct key k = key_new(KEY_POD_IP);

	key_add(&k, &ip, sizeof(ip));
	return k;
}

/* A ClusterIP frontend (ip not 0) or a node port (ip 0) of protocol. */
static struct key frontend_key(uint32_t ip, uint16_t port, uint8_t protocol)
{
	struct key k = key_new(ip ? KEY_CLUSTER_PORT : KEY_NODE_PORT);

	if (ip)
		key_add(&k, &ip, sizeof(ip));
	key_add(&k, &port, sizeof(port));
	key_add(&k, &protocol, sizeof(protocol));
	return k;
}

static struct key policy_key(const struct ew_network_policy *p)
{
	return name_key(p->kind == EW_POLICY_CILIUM ? KEY_CILIUM_POLICY : KEY_NETWORK_POLICY,
			p->namespace, p->name);
}

static const uint64_t *lookup(const struct ew_store *s, struct key k)
{
	return ew_index_get(&s->index, k.bytes, k.n);
}

static void remember(struct ew_store *s, struct key k, uint64_t value)
{
	if (ew_index_put(&s->index, k.bytes, k.n, value)) {
		fputs("edgewire: out of memory\n", stderr);
		abort();
	}
}

static void index_node(struct ew_store *s, size_t i)
{
	remember(s, name_key(KEY_NODE, NULL, s->model.nodes[i].name), i);
}

static void index_namespace(struct ew_store *s, size_t i)
{
	remember(s, name_key(KEY_NAMESPACE, NULL, s->model.namespaces[i].name), i);
}

static void index_pod(struct ew_store *s, size_t i)
{
	const struct ew_pod *p = &s->model.pods[i];

	remember(s, name_key(KEY_POD, p->namespace, p->name), i);
	if (p->ip)
		remember(s, pod_ip_key(p->ip), i);
}

static void index_service(struct ew_store *s, size_t i)
{
	const struct ew_service *svc = &s->model.services[i];

	remember(s, name_key(KEY_SERVICE, svc->namespace, svc->name), i);
	for (size_t j = 0; j < svc->n_ports; j++) {
		const struct ew_service_port *p = &svc->ports[j];

		if (svc->cluster_ip)
			remember(s, frontend_key(svc->cluster_ip, p->port, p->protocol),
				 i << 16 | j);
		if (p->node_port)
			remember(s, frontend_key(0, p->node_port, p->protocol), i << 16 | j);
	}
}

static void index_slice(struct ew_store *s, size_t i)
{
	const struct ew_endpoint_slice *es = &s->model.slices[i];

	remember(s, name_key(KEY_SLICE, es->namespace, es->name), i);
}

static void index_policy(struct ew_store *s, size_t i)
{
	remember(s, policy_key(&s->model.policies[i]), i);
}

/* After a version was taken back out of the model. */
static void index_model(struct ew_store *s)
{
	ew_index_clear(&s->index);
	for (size_t i = 0; i < s->model.n_nodes; i++)
		index_node(s, i);
	for (size_t i = 0; i < s->model.n_namespaces; i++)
		index_namespace(s, i);
	for (size_t i = 0; i < s->model.n_pods; i++)
		index_pod(s, i);
	for (size_t i = 0; i < s->model.n_services; i++)
		index_service(s, i);
	for (size_t i = 0; i < s->model.n_slices; i++)
		index_slice(s, i);
	for (size_t i = 0; i < s->model.n_policies; i++)
		index_policy(s, i);
}

/* --- merging versions into the model ----------------------------------------- */

static int report_duplicate(struct ew_diags *d, const char *kind, const char *ns,
			    const char *name, const struct ew_origin *again,
			    const struct ew_origin *first)
{
	ew_diag_add(d, again->file, again->line, again->col,
		    "%s %s%s%s is defined twice, first at %s:%d:%d; expected each %s "
		    "once in the store",
		    kind, ns ?: "", ns ? "/" : "", name, first->file, first->line,
		    first->col, kind);
	return 1;
}

static int node_conflicts(const struct ew_store *s, const struct ew_node *n,
			  struct ew_diags *d)
{
	const struct ew_model *m = &s->model;
	const uint64_t *dup = lookup(s, name_key(KEY_NODE, NULL, n->name));
	char cidr[INET_ADDRSTRLEN], other[INET_ADDRSTRLEN], ip[INET_ADDRSTRLEN];
	int conflicts = 0;

	if (dup)
		return report_duplicate(d, "Node", NULL, n->name, &n->origin,
					&m->nodes[*dup].origin);
	if (!n->pod_prefixlen)
		return 0;
	ew_format_ipv4(n->pod_cidr, cidr);
	for (size_t i = 0; i < m->n_nodes; i++) {
		const struct ew_node *o = &m->nodes[i];

		if (!o->pod_prefixlen || !ew_cidrs_overlap(n->pod_cidr, n->pod_prefixlen,
							   o->pod_cidr, o->pod_prefixlen))
			continue;
		ew_diag_add(d, n->origin.file, n->origin.line, n->origin.col,
			    "Node %s: spec.podCIDR %s/%u overlaps %s/%u of Node %s at "
			    "%s:%d:%d; expected disjoint pod CIDRs",
			    n->name, cidr, n->pod_prefixlen,
			    ew_format_ipv4(o->pod_cidr, other), o->pod_prefixlen, o->name,
			    o->origin.file, o->origin.line, o->origin.col);
		conflicts++;
	}
	for (size_t i = 0; i < m->n_pods; i++) {
		const struct ew_pod *p = &m->pods[i];

		if (!p->ip || !p->node_name || strcmp(p->node_name, n->name) ||
		    ew_cidr_contains(n->pod_cidr, n->pod_prefixlen, p->ip))
			continue;
		ew_diag_add(d, n->origin.file, n->origin.line, n->origin.col,
			    "Node %s: spec.podCIDR %s/%u does not contain %s, the "
			    "status.podIP of Pod %s/%s at %s:%d:%d scheduled on it; "
			    "expected a pod CIDR holding its pods' IPs",
			    n->name, cidr, n->pod_prefixlen, ew_format_ipv4(p->ip, ip),
			    p->namespace, p->name, p->origin.file, p->origin.line,
			    p->origin.col);
		conflicts++;
	}
	return conflicts;
}

static int namespace_conflicts(const struct ew_store *s, const struct ew_namespace *ns,
			       struct ew_diags *d)
{
	const uint64_t *dup = lookup(s, name_key(KEY_NAMESPACE, NULL, ns->name));

	if (!dup)
		return 0;
	return report_duplicate(d, "Namespace", NULL, ns->name, &ns->origin,
				&s->model.namespaces[*dup].origin);
}

static int pod_conflicts(const struct ew_store *s, const struct ew_pod *p,
			 struct ew_diags *d)
{
	const struct ew_model *m = &s->model;
	const uint64_t *dup = lookup(s, name_key(KEY_POD, p->namespace, p->name));
	const uint64_t *same_ip_at, *node_at;
	const struct ew_pod *same_ip;
	const struct ew_node *node;
	char ip[INET_ADDRSTRLEN], cidr[INET_ADDRSTRLEN];
	int conflicts = 0;

	if (dup)
		return report_duplicate(d, "Pod", p->namespace, p->name, &p->origin,
					&m->pods[*dup].origin);
	if (!p->ip)
		return 0;
	ew_format_ipv4(p->ip, ip);
	same_ip_at = lookup(s, pod_ip_key(p->ip));
	if (same_ip_at) {
		same_ip = &m->pods[*same_ip_at];
		ew_diag_add(d, p->origin.file, p->origin.line, p->origin.col,
			    "Pod %s/%s: status.podIP %s is already the IP of Pod %s/%s "
			    "at %s:%d:%d; expected a unique pod IP",
			    p->namespace, p->name, ip, same_ip->namespace, same_ip->name,
			    same_ip->origin.file, same_ip->origin.line,
			    same_ip->origin.col);
		conflicts++;
	}
	node_at = p->node_name ? lookup(s, name_key(KEY_NODE, NULL, p->node_name)) : NULL;
	node = node_at ? &m->nodes[*node_at] : NULL;
	if (node && node->pod_prefixlen &&
	    !ew_cidr_contains(node->pod_cidr, node->pod_prefixlen, p->ip)) {
		ew_diag_add(
		    d, p->origin.file, p->origin.line, p->origin.col,
		    "Pod %s/%s: status.podIP %s is outside spec.podCIDR %s/%u of its "
		    "Node %s at %s:%d:%d; expected an IP from the node's pod CIDR",
		    p->namespace, p->name, ip, ew_format_ipv4(node->pod_cidr, cidr),
		    node->pod_prefixlen, node->name, node->origin.file, node->origin.line,
		    node->origin.col);
		conflicts++;
	}
	return conflicts;
}

/*
 * Port i of svc claims a frontend that port j of o, another service, has: the
 * same ClusterIP and port (cluster true) or the same node port, with the
 * same protocol.
 */
static int report_frontend_taken(const struct ew_service *svc, size_t i,
				 const struct ew_service *o, size_t j, bool cluster,
				 struct ew_diags *d)
{
	const struct ew_service_port *p = &svc->ports[i];
	const char *proto = store_protocol_name(p->protocol);
	char ip[INET_ADDRSTRLEN];

	if (cluster)
		ew_diag_add(
		    d, svc->origin.file, svc->origin.line, svc->origin.col,
		    "Service %s/%s: spec.clusterIP %s with spec.ports[%zu].port "
		    "%u/%s is already taken by spec.ports[%zu] of Service %s/%s "
		    "at %s:%d:%d; expected a ClusterIP, port and protocol no other "
		    "service uses",
		    svc->namespace, svc->name, ew_format_ipv4(svc->cluster_ip, ip), i,
		    p->port, proto, j, o->namespace, o->name, o->origin.file,
		    o->origin.line, o->origin.col);
	else
		ew_diag_add(d, svc->origin.file, svc->origin.line, svc->origin.col,
			    "Service %s/%s: spec.ports[%zu].nodePort %u/%s is already "
			    "taken by spec.ports[%zu] of Service %s/%s at %s:%d:%d; "
			    "expected a node port and protocol no other service uses",
			    svc->namespace, svc->name, i, p->node_port, proto, j,
			    o->namespace, o->name, o->origin.file, o->origin.line,
			    o->origin.col);
	return 1;
}

/* The frontend k of port i of svc, where another service has it. */
static int frontend_conflicts(const struct ew_store *s, const struct ew_service *svc,
			      size_t i, struct key k, bool cluster, struct ew_diags *d)
{
	const uint64_t *at = lookup(s, k);

	if (!at)
		return 0;
	return report_frontend_taken(svc, i, &s->model.services[*at >> 16], *at & 0xffff,
				     cluster, d);
}

static int service_conflicts(const struct ew_store *s, const struct ew_service *svc,
			     struct ew_diags *d)
{
	const uint64_t *dup = lookup(s, name_key(KEY_SERVICE, svc->namespace, svc->name));
	int conflicts = 0;

	if (dup)
		return report_duplicate(d, "Service", svc->namespace, svc->name,
					&svc->origin, &s->model.services[*dup].origin);
	for (size_t i = 0; i < svc->n_ports; i++) {
		const struct ew_service_port *p = &svc->ports[i];

		if (svc->cluster_ip)
			conflicts += frontend_conflicts(
			    s, svc, i, frontend_key(svc->cluster_ip, p->port, p->protocol),
			    true, d);
		if (p->node_port)
			conflicts += frontend_conflicts(
			    s, svc, i, frontend_key(0, p->node_port, p->protocol), false, d);
	}
	return conflicts;
}

static int slice_conflicts(const struct ew_store *s, const struct ew_endpoint_slice *es,
			   struct ew_diags *d)
{
	const uint64_t *dup = lookup(s, name_key(KEY_SLICE, es->namespace, es->name));

	if (!dup)
		return 0;
	return report_duplicate(d, "EndpointSlice", es->namespace, es->name, &es->origin,
				&s->model.slices[*dup].origin);
}

static const char *policy_kind_name(enum ew_policy_kind kind)
{
	return kind == EW_POLICY_CILIUM ? "CiliumNetworkPolicy" : "NetworkPolicy";
}

/* A NetworkPolicy and a CiliumNetworkPolicy may share a name. */
static int policy_conflicts(const struct ew_store *s, const struct ew_network_policy *p,
			    struct ew_diags *d)
{
	const uint64_t *dup = lookup(s, policy_key(p));

	if (!dup)
		return 0;
	return report_duplicate(d, policy_kind_name(p->kind), p->namespace, p->name,
				&p->origin, &s->model.policies[*dup].origin);
}

static bool same_origin(const struct ew_origin *a, const struct ew_origin *b)
{
	return a->line == b->line && a->col == b->col && !strcmp(a->file, b->file);
}

/* Appends the policies of v to m, as MERGE_OBJECTS below does. The policies
 * of one CiliumNetworkPolicy with several specs (next to each other, with its
 * origin) are one object: checked once, taken together. */
static int merge_policies(struct ew_store *s, const struct ew_model *v,
			  struct ew_diags *d)
{
	int conflicts = 0, c;
	size_t n;

	for (size_t i = 0; i < v->n_policies; i += n) {
		n = 1;
		while (i + n < v->n_policies &&
		       same_origin(&v->policies[i].origin, &v->policies[i + n].origin))
			n++;
		c = policy_conflicts(s, &v->policies[i], d);
		for (size_t k = 0; !c && k < n; k++) {
			*array_push(s->model.policies, s->model.n_policies) = v->policies[i + k];
			index_policy(s, s->model.n_policies - 1);
		}
		conflicts += c;
	}
	return conflicts;
}

/* Appends each object of v->items to m->items that does not conflict with
 * those already there, counting the conflicts. */
#define MERGE_OBJECTS(s, v, items, n_items, conflicts_fn, index_fn, d, conflicts)        \
	for (size_t i = 0; i < (v)->n_items; i++) {                                      \
		int c = conflicts_fn((s), &(v)->items[i], (d));                          \
		if (!c) {                                                                \
			*array_push((s)->model.items, (s)->model.n_items) = (v)->items[i]; \
			index_fn((s), (s)->model.n_items - 1);                           \
		}                                                                        \
		(conflicts) += c;                                                        \
	}

/*
 * Appends the version's objects to the model, each checked against those
 * already there. Returns the number of conflicts, reported in diags; when
 * there is any, the model is left as it was.
 */
static int merge_version(struct ew_store *s, const struct ew_model *v, struct ew_diags *d)
{
	struct ew_model *m = &s->model, before = *m;
	int conflicts = 0;

	MERGE_OBJECTS(s, v, nodes, n_nodes, node_conflicts, index_node, d, conflicts);
	MERGE_OBJECTS(s, v, namespaces, n_namespaces, namespace_conflicts, index_namespace, d,
		      conflicts);
	MERGE_OBJECTS(s, v, pods, n_pods, pod_conflicts, index_pod, d, conflicts);
	MERGE_OBJECTS(s, v, services, n_services, service_conflicts, index_service, d,
		      conflicts);
	MERGE_OBJECTS(s, v, slices, n_slices, slice_conflicts, index_slice, d, conflicts);
	conflicts += merge_policies(s, v, d);
	if (conflicts) {
		m->n_nodes = before.n_nodes;
		m->n_namespaces = before.n_namespaces;
		m->n_pods = before.n_pods;
		m->n_services = before.n_services;
		m->n_slices = before.n_slices;
		m->n_policies = before.n_policies;
		index_model(s);
	}
	return conflicts;
}

static int file_id_of(const char *dir, const char *name, struct file_id *id)
{
	char *path = path_in(dir, name);
	struct stat st;
	int err = stat(path, &st);

	free(path);
	*id = err ? (struct file_id){ 0 } :
		    (struct file_id){ .dev = st.st_dev, .ino = st.st_ino, .size = st.st_size,
				      .mtime = st.st_mtim, .ctime = st.st_ctim };
	return err;
}

static bool same_file(const struct file_id *a, const struct file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
	       a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/*
 * Whether a change after read_at would show in the file's id: file times
 * have the kernel's clock tick as resolution, so a file changed within a
 * second of being read may keep its times (git's "racily clean" files).
 */
static bool settled(const struct file_id *id, const struct timespec *read_at)
{
	return id->ctime.tv_sec + 1 < read_at->tv_sec;
}

/* The file's current version: its last good one while the file is as that
 * was read from, else read anew (*id: the file before reading). */
static struct ew_model *current_version(struct ew_store *s, struct store_file *f,
					struct file_id *id, struct ew_diags *diags)
{
	if (!file_id_of(s->dir, f->name, id) && f->good && same_file(id, &f->good_id))
		return f->good;
	return read_version(s->dir, f->name, diags);
}

/* Merges the file's current version if good, else its last good one. */
static void load_file(struct ew_store *s, struct store_file *f, struct ew_diags *diags)
{
	struct file_id id;
	struct timespec read_at;
	struct ew_model *v;
	struct ew_diags quiet = {0};
	int conflicts;

	clock_gettime(CLOCK_REALTIME, &read_at);
	v = current_version(s, f, &id, diags);
	if (v && !merge_version(s, v, diags)) {
		if (v != f->good) {
			version_free(f->good);
			f->good = v;
			f->good_id = settled(&id, &read_at) ? id : (struct file_id){ 0 };
		}
		return;
	}
	if (v != f->good)
		version_free(v);
	if (!f->good)
		return;
	/* its conflicts were reported for the current version already */
	conflicts = merge_version(s, f->good, &quiet);
	ew_diags_clear(&quiet);
	if (conflicts)
		ew_diag_add(diags, f->name, 0, 0,
			    "none of its objects are used: its last good version "
			    "conflicts with earlier files too; expected a version of "
			    "this file without problems");
}

/* --- the store directory -------------------------------------------------------- */

/* *.yaml, *.yml, *.json regular files or symlinks to one; not hidden. */
static bool is_store_file(const char *dir, const char *name)
{
	static const char *const exts[] = {".yaml", ".yml", ".json"};
	size_t len = strlen(name);
	struct stat st;
	char *path;
	int err;

	if (name[0] == '.')
		return false;
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		size_t ext_len = strlen(exts[i]);

		if (len <= ext_len || strcmp(name + len - ext_len, exts[i]))
			continue;
		path = path_in(dir, name);
		err = stat(path, &st);
		free(path);
		return !err && S_ISREG(st.st_mode);
	}
	return false;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted names of the store files in dir; -1 when it is unreadable. */
static int list_store_files(const char *dir, char ***names, size_t *n,
			    struct ew_diags *diags)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d) {
		ew_diag_add(diags, dir, 0, 0,
			    "cannot read the store: %s; expected a readable directory of "
			    "YAML files",
			    strerror(errno));
		return -1;
	}
	*names = NULL;
	*n = 0;
	while ((e = readdir(d)))
		if (is_store_file(dir, e->d_name))
			*array_push(*names, *n) = xstrdup(e->d_name);
	closedir(d);
	if (*n)
		qsort(*names, *n, sizeof(**names), compare_names);
	return 0;
}

/* Moves the last good version of file f (and its id) out of the store's
 * file list into f. */
static void take_last_good(struct ew_store *s, struct store_file *f)
{
	for (size_t i = 0; i < s->n_files; i++) {
		if (strcmp(s->files[i].name, f->name))
			continue;
		f->good = s->files[i].good;
		f->good_id = s->files[i].good_id;
		s->files[i].good = NULL;
		return;
	}
}

static void files_free(struct store_file *files, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(files[i].name);
		version_free(files[i].good);
	}
	free(files);
}

struct ew_store *ew_store_new(const char *dir)
{
	struct ew_store *s = xzalloc(sizeof(*s));

	s->dir = xstrdup(dir);
	return s;
}

void ew_store_free(struct ew_store *s)
{
	if (!s)
		return;
	files_free(s->files, s->n_files);
	free(s->model.nodes);
	free(s->model.namespaces);
	free(s->model.pods);
	free(s->model.services);
	free(s->model.slices);
	free(s->model.policies);
	ew_index_free(&s->index);
	free(s->dir);
	free(s);
}

int ew_store_load(struct ew_store *s, struct ew_diags *diags)
{
	size_t first_diag = diags->n, n_names, n_files = 0;
	struct store_file *files = NULL, *f;
	char **names;

	if (list_store_files(s->dir, &names, &n_names, diags))
		return -1;
	s->model.n_nodes = s->model.n_namespaces = s->model.n_pods = 0;
	s->model.n_services = s->model.n_slices = s->model.n_policies = 0;
	ew_index_clear(&s->index);
	for (size_t i = 0; i < n_names; i++) {
		f = array_push(files, n_files);
		*f = (struct store_file){ .name = names[i] };
		take_last_good(s, f);
		load_file(s, f, diags);
	}
	free(names);
	/* what is left are the versions of files that disappeared */
	files_free(s->files, s->n_files);
	s->files = files;
	s->n_files = n_files;
	return diags->n == first_diag ? 0 : -1;
}

const struct ew_model *ew_store_model(const struct ew_store *s)
{
	return &s->model;
}
