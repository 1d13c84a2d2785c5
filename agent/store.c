// SPDX-License-Identifier: Apache-2.0
/*
 * The store reader: a directory of Kubernetes YAML files -> validated model.
 *
 * A load reads every store file in sorted name order. Each file becomes a
 * version: the objects it defines, owned by that version. A version is good
 * when it parses, validates and merges without conflict into the objects
 * accepted so far. Merging checks each object against the accepted ones, so a
 * conflict (duplicate object, shared pod IP, overlapping pod CIDRs, a pod IP
 * outside its node's pod CIDR) is always blamed on the later object: the one
 * in the later file, or within a file the later one of its nodes, then
 * namespaces, then pods, each in document order.
 *
 * Per file, the store keeps the last good version. A file whose current
 * version is bad contributes its last good version instead, if that one still
 * merges without conflict; otherwise the file contributes nothing until it is
 * fixed. A file that disappeared contributes nothing.
 *
 * The model is shallow: its arrays copy the structs of the versions, whose
 * strings and arrays live until the file's next good version or its removal.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <jansson.h>
#include <yaml.h>

#include "model.h"
#include "netutil.h"

struct store_file {
	char *name;
	struct ew_model *good; /* last good version; NULL when it never was */
};

struct ew_store {
	char *dir;
	size_t n_files;
	struct store_file *files; /* sorted by name */
	struct ew_model model;	  /* shallow: points into files[].good */
};

/* One document being read: where its problems go and how they start. */
struct reader {
	const char *file;
	yaml_document_t *doc;
	struct ew_diags *diags;
	int problems;
	char what[340]; /* the object in messages, e.g. "Pod shop/web-1" */
};

#define EXPECT_DNS_LABEL                                                                 \
	"a DNS label: at most 63 lowercase letters, digits and '-', "                    \
	"starting and ending with a letter or digit"
#define EXPECT_DNS_SUBDOMAIN                                                             \
	"a DNS subdomain: at most 253 characters of dot-separated DNS labels "           \
	"(lowercase letters, digits and '-')"
#define EXPECT_LABEL_NAME                                                                \
	"at most 63 characters from [A-Za-z0-9._-], starting and ending with "           \
	"a letter or digit"

static void *xrealloc(void *p, size_t size)
{
	p = realloc(p, size);
	if (!p) {
		fputs("edgewire: out of memory\n", stderr);
		abort();
	}
	return p;
}

static char *xstrdup(const char *s)
{
	size_t len = strlen(s) + 1;

	return memcpy(xrealloc(NULL, len), s, len);
}

static void *xzalloc(size_t size)
{
	return memset(xrealloc(NULL, size), 0, size);
}

static char *path_in(const char *dir, const char *name)
{
	char *path;

	if (asprintf(&path, "%s/%s", dir, name) < 0) {
		fputs("edgewire: out of memory\n", stderr);
		abort();
	}
	return path;
}

/* Grows arr by one zeroed element and evaluates to a pointer to it. */
#define array_push(arr, n)                                                               \
	((arr) = xrealloc((arr), ((n) + 1) * sizeof(*(arr))),                            \
	 memset(&(arr)[(n)], 0, sizeof(*(arr))), &(arr)[(n)++])

static void labels_free(struct ew_labels *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].key);
		free(l->items[i].value);
	}
	free(l->items);
}

/* Frees a version: a model that owns everything it points to. */
static void version_free(struct ew_model *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n_nodes; i++) {
		free(v->nodes[i].name);
		labels_free(&v->nodes[i].labels);
		free(v->nodes[i].origin.file);
	}
	for (size_t i = 0; i < v->n_namespaces; i++) {
		free(v->namespaces[i].name);
		labels_free(&v->namespaces[i].labels);
		free(v->namespaces[i].origin.file);
	}
	for (size_t i = 0; i < v->n_pods; i++) {
		struct ew_pod *p = &v->pods[i];

		free(p->namespace);
		free(p->name);
		free(p->node_name);
		labels_free(&p->labels);
		for (size_t j = 0; j < p->n_ports; j++)
			free(p->ports[j].name);
		free(p->ports);
		free(p->origin.file);
	}
	free(v->nodes);
	free(v->namespaces);
	free(v->pods);
	free(v);
}

/* --- syntax of names, labels, addresses ------------------------------------ */

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* RFC 1123 label: lowercase alphanumerics and '-', alphanumeric at both ends */
static bool is_dns_label_n(const char *s, size_t len)
{
	if (len == 0 || len > 63 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

static bool is_dns_label(const char *s)
{
	return is_dns_label_n(s, strlen(s));
}

static bool is_dns_subdomain_n(const char *s, size_t len)
{
	const char *dot;

	if (len == 0 || len > 253)
		return false;
	while ((dot = memchr(s, '.', len))) {
		if (!is_dns_label_n(s, dot - s))
			return false;
		len -= dot - s + 1;
		s = dot + 1;
	}
	return is_dns_label_n(s, len);
}

static bool is_dns_subdomain(const char *s)
{
	return is_dns_subdomain_n(s, strlen(s));
}

static bool is_label_name_n(const char *s, size_t len)
{
	if (len == 0 || len > 63 || !is_alnum(s[0]) || !is_alnum(s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_alnum(s[i]) && !strchr("._-", s[i]))
			return false;
	return true;
}

/* [DNS subdomain "/"] label name */
static bool is_label_key(const char *s)
{
	const char *slash = strchr(s, '/');

	if (!slash)
		return is_label_name_n(s, strlen(s));
	return is_dns_subdomain_n(s, slash - s) &&
	       is_label_name_n(slash + 1, strlen(slash + 1));
}

static bool is_label_value(const char *s)
{
	return !*s || is_label_name_n(s, strlen(s));
}

static bool parse_port(const char *s, uint16_t *port)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return false;
	v = strtol(s, &end, 10);
	if (*end || v < 1 || v > 65535)
		return false;
	*port = v;
	return true;
}

/* --- reading YAML nodes ------------------------------------------------------ */

__attribute__((format(printf, 3, 4))) static void
problem(struct reader *r, const yaml_node_t *at, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ew_diag_add(r->diags, r->file, at->start_mark.line + 1, at->start_mark.column + 1,
		    "%s%s%s", r->what, *r->what ? ": " : "", msg);
	r->problems++;
}

static const char *node_type_name(yaml_node_type_t type)
{
	switch (type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a list";
	default:
		return "a string";
	}
}

static bool is_null(const yaml_node_t *n)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};

	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (!strcmp((char *)n->data.scalar.value, nulls[i]))
			return true;
	return false;
}

static yaml_node_t *node_at(struct reader *r, int id)
{
	return yaml_document_get_node(r->doc, id);
}

/* The value of key in map; NULL when map is NULL or key is absent or null. */
static yaml_node_t *field(struct reader *r, yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *pair;

	if (!map)
		return NULL;
	for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top;
	     pair++) {
		yaml_node_t *k = node_at(r, pair->key);
		yaml_node_t *v = node_at(r, pair->value);

		if (k->type == YAML_SCALAR_NODE &&
		    !strcmp((char *)k->data.scalar.value, key))
			return is_null(v) ? NULL : v;
	}
	return NULL;
}

/* n when it is NULL or has the type; else reports path mistyped, NULL. */
static yaml_node_t *typed(struct reader *r, yaml_node_t *n, yaml_node_type_t type,
			  const char *path)
{
	if (!n || n->type == type)
		return n;
	problem(r, n, "%s: expected %s, got %s", path, node_type_name(type),
		node_type_name(n->type));
	return NULL;
}

/* The string of a scalar node; NULL when n is NULL or no usable string. */
static const char *scalar(struct reader *r, yaml_node_t *n, const char *path)
{
	const char *s;

	if (!typed(r, n, YAML_SCALAR_NODE, path))
		return NULL;
	s = (const char *)n->data.scalar.value;
	if (strlen(s) != n->data.scalar.length) {
		problem(r, n, "%s contains a NUL character; expected text", path);
		return NULL;
	}
	return s;
}

static const char *required_scalar(struct reader *r, yaml_node_t *map, const char *key,
				   const char *path, const char *expected)
{
	yaml_node_t *v = field(r, map, key);

	if (!v) {
		problem(r, map, "%s is missing; expected %s", path, expected);
		return NULL;
	}
	return scalar(r, v, path);
}

static size_t seq_len(const yaml_node_t *seq)
{
	return seq ? seq->data.sequence.items.top - seq->data.sequence.items.start : 0;
}

static yaml_node_t *seq_item(struct reader *r, yaml_node_t *seq, size_t i)
{
	return node_at(r, seq->data.sequence.items.start[i]);
}

/* --- objects --------------------------------------------------------------- */

static void set_origin(struct ew_origin *o, struct reader *r, const yaml_node_t *obj)
{
	o->file = xstrdup(r->file);
	o->line = obj->start_mark.line + 1;
	o->col = obj->start_mark.column + 1;
}

enum name_rule { NAME_DNS_LABEL, NAME_DNS_SUBDOMAIN };

static void check_name(struct reader *r, yaml_node_t *at, const char *path,
		       const char *name, enum name_rule rule)
{
	if (rule == NAME_DNS_LABEL && !is_dns_label(name))
		problem(r, at, "%s \"%s\" is not a valid name; expected %s", path, name,
			EXPECT_DNS_LABEL);
	if (rule == NAME_DNS_SUBDOMAIN && !is_dns_subdomain(name))
		problem(r, at, "%s \"%s\" is not a valid name; expected %s", path, name,
			EXPECT_DNS_SUBDOMAIN);
}

static void labels_set(struct ew_labels *l, const char *key, const char *value)
{
	struct ew_label *label;

	for (size_t i = 0; i < l->n; i++) {
		if (!strcmp(l->items[i].key, key)) {
			free(l->items[i].value);
			l->items[i].value = xstrdup(value);
			return;
		}
	}
	label = array_push(l->items, l->n);
	label->key = xstrdup(key);
	label->value = xstrdup(value);
}

static void read_labels(struct reader *r, yaml_node_t *meta, struct ew_labels *labels)
{
	yaml_node_t *map =
	    typed(r, field(r, meta, "labels"), YAML_MAPPING_NODE, "metadata.labels");
	yaml_node_pair_t *pair;

	if (!map)
		return;
	for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top;
	     pair++) {
		yaml_node_t *k = node_at(r, pair->key);
		yaml_node_t *v = node_at(r, pair->value);
		const char *key = scalar(r, k, "metadata.labels key");
		const char *value = is_null(v) ? "" : scalar(r, v, "label value");

		if (!key || !value)
			continue;
		if (!is_label_key(key))
			problem(
			    r, k,
			    "label key \"%s\" is not valid; expected an optional DNS "
			    "subdomain prefix and '/', then a name of " EXPECT_LABEL_NAME,
			    key);
		else if (!is_label_value(value))
			problem(r, v,
				"label %s: value \"%s\" is not valid; expected an empty "
				"value or " EXPECT_LABEL_NAME,
				key, value);
		else
			labels_set(labels, key, value);
	}
}

/*
 * Reads metadata.name and, when namespace is not NULL, metadata.namespace
 * ("default" when absent), names the object in r->what and returns the
 * metadata mapping; NULL when the object has none.
 */
static yaml_node_t *read_metadata(struct reader *r, yaml_node_t *obj, const char *kind,
				  enum name_rule rule, const char **name,
				  const char **namespace)
{
	yaml_node_t *meta = field(r, obj, "metadata");
	yaml_node_t *ns_node = NULL;

	snprintf(r->what, sizeof(r->what), "%s", kind);
	*name = NULL;
	if (namespace)
		*namespace = "default";
	if (!meta) {
		problem(r, obj,
			"metadata is missing; expected a mapping with at least a name");
		return NULL;
	}
	if (!typed(r, meta, YAML_MAPPING_NODE, "metadata"))
		return NULL;
	*name = required_scalar(r, meta, "name", "metadata.name", "the object's name");
	if (namespace) {
		ns_node = field(r, meta, "namespace");
		*namespace = scalar(r, ns_node, "metadata.namespace") ?: "default";
	}
	if (!*name)
		return meta;
	if (namespace)
		snprintf(r->what, sizeof(r->what), "%s %s/%s", kind, *namespace, *name);
	else
		snprintf(r->what, sizeof(r->what), "%s %s", kind, *name);
	check_name(r, field(r, meta, "name"), "metadata.name", *name, rule);
	if (ns_node)
		check_name(r, ns_node, "metadata.namespace", *namespace, NAME_DNS_LABEL);
	return meta;
}

/* Takes an IPv4 pod CIDR as the node's when it has none yet; skips IPv6. */
static void take_pod_cidr(struct reader *r, yaml_node_t *v, const char *path,
			  struct ew_node *n)
{
	const char *s = scalar(r, v, path);
	char net_str[INET_ADDRSTRLEN];
	uint32_t net;
	uint8_t len;

	if (!s || strchr(s, ':'))
		return;
	switch (ew_parse_cidr(s, &net, &len)) {
	case EW_CIDR_INVALID:
		problem(r, v,
			"%s \"%s\" is not an IPv4 CIDR; expected a network address and a "
			"prefix length from 1 to 32, such as 10.244.1.0/24",
			path, s);
		return;
	case EW_CIDR_HOST_BITS:
		problem(r, v,
			"%s \"%s\" has host bits set; expected the network address %s/%u",
			path, s, ew_format_ipv4(net, net_str), len);
		return;
	case EW_CIDR_OK:
		break;
	}
	if (!n->pod_prefixlen) {
		n->pod_cidr = net;
		n->pod_prefixlen = len;
	}
}

/* spec.podCIDR, else the first IPv4 one of spec.podCIDRs */
static void read_pod_cidr(struct reader *r, yaml_node_t *spec, struct ew_node *n)
{
	yaml_node_t *cidrs;
	char path[64];

	take_pod_cidr(r, field(r, spec, "podCIDR"), "spec.podCIDR", n);
	cidrs = typed(r, field(r, spec, "podCIDRs"), YAML_SEQUENCE_NODE, "spec.podCIDRs");
	for (size_t i = 0; i < seq_len(cidrs); i++) {
		snprintf(path, sizeof(path), "spec.podCIDRs[%zu]", i);
		take_pod_cidr(r, seq_item(r, cidrs, i), path, n);
	}
}

/* The first IPv4 address of type InternalIP in status.addresses */
static void read_internal_ip(struct reader *r, yaml_node_t *status, struct ew_node *n)
{
	yaml_node_t *addrs, *item;
	char path[64], field_path[80];
	const char *type, *addr;
	uint32_t ip;

	addrs = typed(r, field(r, status, "addresses"), YAML_SEQUENCE_NODE,
		      "status.addresses");
	for (size_t i = 0; i < seq_len(addrs); i++) {
		item = seq_item(r, addrs, i);
		snprintf(path, sizeof(path), "status.addresses[%zu]", i);
		if (!typed(r, item, YAML_MAPPING_NODE, path))
			continue;
		snprintf(field_path, sizeof(field_path), "%s.type", path);
		type = scalar(r, field(r, item, "type"), field_path);
		if (!type || strcmp(type, "InternalIP"))
			continue;
		snprintf(field_path, sizeof(field_path), "%s.address", path);
		addr = required_scalar(r, item, "address", field_path,
				       "the node's IP address");
		if (!addr || strchr(addr, ':'))
			continue;
		if (ew_parse_ipv4(addr, &ip))
			problem(r, field(r, item, "address"),
				"%s \"%s\" is not an IPv4 address; expected a dotted "
				"quad such as 192.168.1.10",
				field_path, addr);
		else if (!n->internal_ip)
			n->internal_ip = ip;
	}
}

/* A flannel node publishes its VXLAN device's MAC in this annotation, as
 * JSON: {"VNI":1,"VtepMAC":"aa:bb:cc:dd:ee:ff"}. Reading it lets edgewire
 * nodes and flannel nodes reach each other's pods. */
#define FLANNEL_BACKEND_DATA "flannel.alpha.coreos.com/backend-data"

static void read_vtep_mac(struct reader *r, yaml_node_t *meta, struct ew_node *n)
{
	yaml_node_t *annotations = typed(r, field(r, meta, "annotations"),
					 YAML_MAPPING_NODE, "metadata.annotations");
	yaml_node_t *v = field(r, annotations, FLANNEL_BACKEND_DATA);
	const char *text = scalar(r, v, "metadata.annotations." FLANNEL_BACKEND_DATA);
	const char *mac = NULL;
	json_t *doc;

	if (!text)
		return;
	doc = json_loads(text, 0, NULL);
	if (json_unpack(doc, "{s:s}", "VtepMAC", &mac) || ew_parse_mac(mac, n->vtep_mac))
		problem(r, v, "annotation " FLANNEL_BACKEND_DATA " is not valid; expected "
			"JSON such as {\"VNI\":1,\"VtepMAC\":\"aa:bb:cc:dd:ee:ff\"}");
	json_decref(doc);
}

static void read_node(struct reader *r, yaml_node_t *obj, struct ew_model *m)
{
	struct ew_node *n = array_push(m->nodes, m->n_nodes);
	yaml_node_t *meta;
	const char *name;

	meta = read_metadata(r, obj, "Node", NAME_DNS_SUBDOMAIN, &name, NULL);
	n->name = xstrdup(name ?: "");
	set_origin(&n->origin, r, obj);
	read_labels(r, meta, &n->labels);
	read_vtep_mac(r, meta, n);
	read_pod_cidr(r, typed(r, field(r, obj, "spec"), YAML_MAPPING_NODE, "spec"), n);
	read_internal_ip(
	    r, typed(r, field(r, obj, "status"), YAML_MAPPING_NODE, "status"), n);
}

static void read_namespace(struct reader *r, yaml_node_t *obj, struct ew_model *m)
{
	struct ew_namespace *ns = array_push(m->namespaces, m->n_namespaces);
	yaml_node_t *meta;
	const char *name;

	meta = read_metadata(r, obj, "Namespace", NAME_DNS_LABEL, &name, NULL);
	ns->name = xstrdup(name ?: "");
	set_origin(&ns->origin, r, obj);
	read_labels(r, meta, &ns->labels);
	/* as the API server does, so policies can select namespaces by name */
	labels_set(&ns->labels, "kubernetes.io/metadata.name", ns->name);
}

static const struct {
	const char *name;
	enum ew_proto proto;
} protocols[] = {
    {"TCP", EW_PROTO_TCP},
    {"UDP", EW_PROTO_UDP},
    {"SCTP", EW_PROTO_SCTP},
};

static void read_port(struct reader *r, yaml_node_t *item, const char *path,
		      struct ew_container_port *port)
{
	char field_path[160];
	const char *name, *number, *proto;

	snprintf(field_path, sizeof(field_path), "%s.name", path);
	name = scalar(r, field(r, item, "name"), field_path);
	port->name = name ? xstrdup(name) : NULL;

	snprintf(field_path, sizeof(field_path), "%s.containerPort", path);
	number = required_scalar(r, item, "containerPort", field_path,
				 "a port number from 1 to 65535");
	if (number && !parse_port(number, &port->port))
		problem(
		    r, field(r, item, "containerPort"),
		    "%s \"%s\" is not a valid port; expected a number from 1 to 65535",
		    field_path, number);

	snprintf(field_path, sizeof(field_path), "%s.protocol", path);
	proto = scalar(r, field(r, item, "protocol"), field_path);
	port->protocol = EW_PROTO_TCP;
	if (!proto)
		return;
	for (size_t i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++)
		if (!strcmp(proto, protocols[i].name)) {
			port->protocol = protocols[i].proto;
			return;
		}
	problem(r, field(r, item, "protocol"),
		"%s \"%s\" is not a supported protocol; expected TCP, UDP or SCTP",
		field_path, proto);
}

static void read_container_ports(struct reader *r, yaml_node_t *spec, struct ew_pod *p)
{
	yaml_node_t *containers, *container, *ports, *port;
	char path[64], port_path[128];

	containers =
	    typed(r, field(r, spec, "containers"), YAML_SEQUENCE_NODE, "spec.containers");
	for (size_t i = 0; i < seq_len(containers); i++) {
		container = seq_item(r, containers, i);
		snprintf(path, sizeof(path), "spec.containers[%zu]", i);
		if (!typed(r, container, YAML_MAPPING_NODE, path))
			continue;
		snprintf(port_path, sizeof(port_path), "%s.ports", path);
		ports =
		    typed(r, field(r, container, "ports"), YAML_SEQUENCE_NODE, port_path);
		for (size_t j = 0; j < seq_len(ports); j++) {
			port = seq_item(r, ports, j);
			snprintf(port_path, sizeof(port_path), "%s.ports[%zu]", path, j);
			if (typed(r, port, YAML_MAPPING_NODE, port_path))
				read_port(r, port, port_path,
					  array_push(p->ports, p->n_ports));
		}
	}
}

static void read_pod(struct reader *r, yaml_node_t *obj, struct ew_model *m)
{
	struct ew_pod *p = array_push(m->pods, m->n_pods);
	yaml_node_t *meta, *spec, *status;
	const char *name, *namespace, *node_name, *ip, *host_network;

	meta = read_metadata(r, obj, "Pod", NAME_DNS_SUBDOMAIN, &name, &namespace);
	p->name = xstrdup(name ?: "");
	p->namespace = xstrdup(namespace);
	set_origin(&p->origin, r, obj);
	read_labels(r, meta, &p->labels);

	spec = typed(r, field(r, obj, "spec"), YAML_MAPPING_NODE, "spec");
	node_name = scalar(r, field(r, spec, "nodeName"), "spec.nodeName");
	if (node_name) {
		check_name(r, field(r, spec, "nodeName"), "spec.nodeName", node_name,
			   NAME_DNS_SUBDOMAIN);
		p->node_name = xstrdup(node_name);
	}
	read_container_ports(r, spec, p);
	host_network = scalar(r, field(r, spec, "hostNetwork"), "spec.hostNetwork");
	if (host_network && strcmp(host_network, "false")) {
		if (strcmp(host_network, "true"))
			problem(r, field(r, spec, "hostNetwork"),
				"spec.hostNetwork \"%s\" is not a boolean; expected "
				"true or false", host_network);
		p->host_network = true;
		/* its podIP is the node's address, not one edgewire manages */
		return;
	}

	status = typed(r, field(r, obj, "status"), YAML_MAPPING_NODE, "status");
	ip = scalar(r, field(r, status, "podIP"), "status.podIP");
	if (ip && ew_parse_ipv4(ip, &p->ip))
		problem(r, field(r, status, "podIP"),
			"status.podIP \"%s\" is not an IPv4 address; expected a dotted "
			"quad such as 10.244.1.5",
			ip);
}

static const struct {
	const char *kind;
	void (*read)(struct reader *r, yaml_node_t *obj, struct ew_model *m);
} kinds[] = {
    {"Node", read_node},
    {"Namespace", read_namespace},
    {"Pod", read_pod},
};

static void read_object(struct reader *r, yaml_node_t *obj, struct ew_model *m,
			bool in_list);

static void read_list(struct reader *r, yaml_node_t *obj, struct ew_model *m)
{
	yaml_node_t *items;

	items = typed(r, field(r, obj, "items"), YAML_SEQUENCE_NODE, "items");
	for (size_t i = 0; i < seq_len(items); i++)
		read_object(r, seq_item(r, items, i), m, true);
}

/* Reads a v1 Node, Namespace, Pod or List; ignores every other kind. */
static void read_object(struct reader *r, yaml_node_t *obj, struct ew_model *m,
			bool in_list)
{
	const char *api_version, *kind;

	snprintf(r->what, sizeof(r->what), "%s", in_list ? "List item" : "");
	if (obj->type != YAML_MAPPING_NODE) {
		problem(r, obj,
			"expected a Kubernetes object (a mapping with apiVersion and "
			"kind), got %s",
			node_type_name(obj->type));
		return;
	}
	api_version = required_scalar(
	    r, obj, "apiVersion", "apiVersion",
	    "a Kubernetes object with apiVersion and kind, such as apiVersion: v1");
	kind = required_scalar(
	    r, obj, "kind", "kind",
	    "a Kubernetes object with apiVersion and kind, such as kind: Pod");
	if (!api_version || !kind || strcmp(api_version, "v1"))
		return;
	if (!strcmp(kind, "List")) {
		if (in_list)
			problem(
			    r, obj,
			    "a List inside a List; expected objects such as Pod or Node");
		else
			read_list(r, obj, m);
		return;
	}
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(kind, kinds[i].kind))
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
		if (!is_null(root))
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

static int node_conflicts(const struct ew_model *m, const struct ew_node *n,
			  struct ew_diags *d)
{
	const struct ew_node *dup = ew_model_node(m, n->name);
	char cidr[INET_ADDRSTRLEN], other[INET_ADDRSTRLEN], ip[INET_ADDRSTRLEN];
	int conflicts = 0;

	if (dup)
		return report_duplicate(d, "Node", NULL, n->name, &n->origin,
					&dup->origin);
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

static int namespace_conflicts(const struct ew_model *m, const struct ew_namespace *ns,
			       struct ew_diags *d)
{
	const struct ew_namespace *dup = ew_model_namespace(m, ns->name);

	if (!dup)
		return 0;
	return report_duplicate(d, "Namespace", NULL, ns->name, &ns->origin,
				&dup->origin);
}

static int pod_conflicts(const struct ew_model *m, const struct ew_pod *p,
			 struct ew_diags *d)
{
	const struct ew_pod *dup = ew_model_pod(m, p->namespace, p->name);
	const struct ew_pod *same_ip;
	const struct ew_node *node;
	char ip[INET_ADDRSTRLEN], cidr[INET_ADDRSTRLEN];
	int conflicts = 0;

	if (dup)
		return report_duplicate(d, "Pod", p->namespace, p->name, &p->origin,
					&dup->origin);
	if (!p->ip)
		return 0;
	ew_format_ipv4(p->ip, ip);
	same_ip = ew_model_pod_by_ip(m, p->ip);
	if (same_ip) {
		ew_diag_add(d, p->origin.file, p->origin.line, p->origin.col,
			    "Pod %s/%s: status.podIP %s is already the IP of Pod %s/%s "
			    "at %s:%d:%d; expected a unique pod IP",
			    p->namespace, p->name, ip, same_ip->namespace, same_ip->name,
			    same_ip->origin.file, same_ip->origin.line,
			    same_ip->origin.col);
		conflicts++;
	}
	node = p->node_name ? ew_model_node(m, p->node_name) : NULL;
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
 * Appends the version's objects to the model, each checked against those
 * already there. Returns the number of conflicts, reported in diags; when
 * there is any, the model is left as it was.
 */
static int merge_version(struct ew_model *m, const struct ew_model *v, struct ew_diags *d)
{
	size_t n_nodes = m->n_nodes, n_namespaces = m->n_namespaces;
	size_t n_pods = m->n_pods;
	int conflicts = 0, c;

	for (size_t i = 0; i < v->n_nodes; i++) {
		c = node_conflicts(m, &v->nodes[i], d);
		if (!c)
			*array_push(m->nodes, m->n_nodes) = v->nodes[i];
		conflicts += c;
	}
	for (size_t i = 0; i < v->n_namespaces; i++) {
		c = namespace_conflicts(m, &v->namespaces[i], d);
		if (!c)
			*array_push(m->namespaces, m->n_namespaces) = v->namespaces[i];
		conflicts += c;
	}
	for (size_t i = 0; i < v->n_pods; i++) {
		c = pod_conflicts(m, &v->pods[i], d);
		if (!c)
			*array_push(m->pods, m->n_pods) = v->pods[i];
		conflicts += c;
	}
	if (conflicts) {
		m->n_nodes = n_nodes;
		m->n_namespaces = n_namespaces;
		m->n_pods = n_pods;
	}
	return conflicts;
}

/* Merges the file's current version if good, else its last good one. */
static void load_file(struct ew_store *s, struct store_file *f, struct ew_diags *diags)
{
	struct ew_model *v = read_version(s->dir, f->name, diags);
	struct ew_diags quiet = {0};
	int conflicts;

	if (v && !merge_version(&s->model, v, diags)) {
		version_free(f->good);
		f->good = v;
		return;
	}
	version_free(v);
	if (!f->good)
		return;
	/* its conflicts were reported for the current version already */
	conflicts = merge_version(&s->model, f->good, &quiet);
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

/* Moves the last good version of the file out of the store's file list. */
static struct ew_model *take_last_good(struct ew_store *s, const char *name)
{
	struct ew_model *good;

	for (size_t i = 0; i < s->n_files; i++) {
		if (strcmp(s->files[i].name, name))
			continue;
		good = s->files[i].good;
		s->files[i].good = NULL;
		return good;
	}
	return NULL;
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
	for (size_t i = 0; i < n_names; i++) {
		f = array_push(files, n_files);
		f->name = names[i];
		f->good = take_last_good(s, names[i]);
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
