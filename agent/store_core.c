// SPDX-License-Identifier: Apache-2.0
/*
 * The store's core kinds, v1 Node, Namespace and Pod: what of them edgewire
 * reads, the defaults it applies and what it rejects.
 */
#include <arpa/inet.h>
#include <jansson.h>

#include "netutil.h"
#include "store_read.h"

/* --- Node ------------------------------------------------------------------------ */

/* Takes an IPv4 pod CIDR as the node's when it has none yet; skips IPv6. */
static void take_pod_cidr(struct reader *r, yaml_node_t *v, const char *path,
			  struct ew_node *n)
{
	const char *s = store_scalar(r, v, path);
	char net_str[INET_ADDRSTRLEN];
	uint32_t net;
	uint8_t len;

	if (!s || strchr(s, ':'))
		return;
	switch (ew_parse_cidr(s, &net, &len)) {
	case EW_CIDR_INVALID:
		store_problem(r, v,
			      "%s \"%s\" is not an IPv4 CIDR; expected a network address "
			      "and a prefix length from 1 to 32, such as 10.244.1.0/24",
			      path, s);
		return;
	case EW_CIDR_HOST_BITS:
		store_problem(r, v,
			      "%s \"%s\" has host bits set; expected the network address "
			      "%s/%u",
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

	take_pod_cidr(r, store_field(r, spec, "podCIDR"), "spec.podCIDR", n);
	cidrs = store_typed(r, store_field(r, spec, "podCIDRs"), YAML_SEQUENCE_NODE,
			    "spec.podCIDRs");
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

	addrs = store_typed(r, store_field(r, status, "addresses"), YAML_SEQUENCE_NODE,
			    "status.addresses");
	for (size_t i = 0; i < seq_len(addrs); i++) {
		item = seq_item(r, addrs, i);
		snprintf(path, sizeof(path), "status.addresses[%zu]", i);
		if (!store_typed(r, item, YAML_MAPPING_NODE, path))
			continue;
		snprintf(field_path, sizeof(field_path), "%s.type", path);
		type = store_scalar(r, store_field(r, item, "type"), field_path);
		if (!type || strcmp(type, "InternalIP"))
			continue;
		snprintf(field_path, sizeof(field_path), "%s.address", path);
		addr = store_required_scalar(r, item, "address", field_path,
					     "the node's IP address");
		if (!addr || strchr(addr, ':'))
			continue;
		if (store_read_ipv4(r, store_field(r, item, "address"), field_path,
				    "192.168.1.10", &ip) &&
		    !n->internal_ip)
			n->internal_ip = ip;
	}
}

/* A flannel node publishes its VXLAN device's MAC in this annotation, as
 * JSON: {"VNI":1,"VtepMAC":"aa:bb:cc:dd:ee:ff"}. Reading it lets edgewire
 * nodes and flannel nodes reach each other's pods. */
#define FLANNEL_BACKEND_DATA "flannel.alpha.coreos.com/backend-data"

static void read_vtep_mac(struct reader *r, yaml_node_t *meta, struct ew_node *n)
{
	yaml_node_t *annotations = store_typed(r, store_field(r, meta, "annotations"),
					       YAML_MAPPING_NODE, "metadata.annotations");
	yaml_node_t *v = store_field(r, annotations, FLANNEL_BACKEND_DATA);
	const char *text =
	    store_scalar(r, v, "metadata.annotations." FLANNEL_BACKEND_DATA);
	const char *mac = NULL;
	json_t *doc;

	if (!text)
		return;
	doc = json_loads(text, 0, NULL);
	if (json_unpack(doc, "{s:s}", "VtepMAC", &mac) || ew_parse_mac(mac, n->vtep_mac))
		store_problem(
		    r, v,
		    "annotation " FLANNEL_BACKEND_DATA " is not valid; expected "
		    "JSON such as {\"VNI\":1,\"VtepMAC\":\"aa:bb:cc:dd:ee:ff\"}");
	json_decref(doc);
}

void store_read_node(struct reader *r, yaml_node_t *obj, struct ew_model *v)
{
	struct ew_node *n = array_push(v->nodes, v->n_nodes);
	yaml_node_t *meta;

	meta = store_read_metadata(r, obj, "Node", NAME_DNS_SUBDOMAIN, &n->name, NULL,
				   &n->origin);
	store_read_labels(r, meta, &n->labels);
	read_vtep_mac(r, meta, n);
	read_pod_cidr(
	    r, store_typed(r, store_field(r, obj, "spec"), YAML_MAPPING_NODE, "spec"), n);
	read_internal_ip(
	    r, store_typed(r, store_field(r, obj, "status"), YAML_MAPPING_NODE, "status"),
	    n);
}

/* --- Namespace -------------------------------------------------------------------- */

void store_read_namespace(struct reader *r, yaml_node_t *obj, struct ew_model *v)
{
	struct ew_namespace *ns = array_push(v->namespaces, v->n_namespaces);
	yaml_node_t *meta;

	meta = store_read_metadata(r, obj, "Namespace", NAME_DNS_LABEL, &ns->name, NULL,
				   &ns->origin);
	store_read_labels(r, meta, &ns->labels);
	/* as the API server does, so policies can select namespaces by name */
	store_labels_set(&ns->labels, "kubernetes.io/metadata.name", ns->name);
}

/* --- Pod ---------------------------------------------------------------------------- */

static void read_port(struct reader *r, yaml_node_t *item, const char *path,
		      struct ew_container_port *port)
{
	char field_path[160];
	const char *name;

	snprintf(field_path, sizeof(field_path), "%s.name", path);
	name = store_scalar(r, store_field(r, item, "name"), field_path);
	port->name = name ? xstrdup(name) : NULL;

	snprintf(field_path, sizeof(field_path), "%s.containerPort", path);
	store_read_port(r, item, "containerPort", field_path, true, &port->port);

	snprintf(field_path, sizeof(field_path), "%s.protocol", path);
	port->protocol = store_read_protocol(r, item, field_path, true);
}

static void read_container_ports(struct reader *r, yaml_node_t *spec, struct ew_pod *p)
{
	yaml_node_t *containers, *container, *ports, *port;
	char path[64], port_path[128];

	containers = store_typed(r, store_field(r, spec, "containers"),
				 YAML_SEQUENCE_NODE, "spec.containers");
	for (size_t i = 0; i < seq_len(containers); i++) {
		container = seq_item(r, containers, i);
		snprintf(path, sizeof(path), "spec.containers[%zu]", i);
		if (!store_typed(r, container, YAML_MAPPING_NODE, path))
			continue;
		snprintf(port_path, sizeof(port_path), "%s.ports", path);
		ports = store_typed(r, store_field(r, container, "ports"),
				    YAML_SEQUENCE_NODE, port_path);
		for (size_t j = 0; j < seq_len(ports); j++) {
			port = seq_item(r, ports, j);
			snprintf(port_path, sizeof(port_path), "%s.ports[%zu]", path, j);
			if (store_typed(r, port, YAML_MAPPING_NODE, port_path))
				read_port(r, port, port_path,
					  array_push(p->ports, p->n_ports));
		}
	}
}

void store_read_pod(struct reader *r, yaml_node_t *obj, struct ew_model *v)
{
	struct ew_pod *p = array_push(v->pods, v->n_pods);
	yaml_node_t *meta, *spec, *status;

	meta = store_read_metadata(r, obj, "Pod", NAME_DNS_SUBDOMAIN, &p->name,
				   &p->namespace, &p->origin);
	store_read_labels(r, meta, &p->labels);

	spec = store_typed(r, store_field(r, obj, "spec"), YAML_MAPPING_NODE, "spec");
	p->node_name =
	    store_read_name(r, spec, "nodeName", "spec.nodeName", NAME_DNS_SUBDOMAIN);
	read_container_ports(r, spec, p);
	p->host_network =
	    store_read_bool(r, spec, "hostNetwork", "spec.hostNetwork", false);
	if (p->host_network)
		return; /* its podIP is the node's address, not one edgewire manages */

	status =
	    store_typed(r, store_field(r, obj, "status"), YAML_MAPPING_NODE, "status");
	store_read_ipv4(r, store_field(r, status, "podIP"), "status.podIP", "10.244.1.5",
			&p->ip);
}

void store_core_free(struct ew_model *v)
{
	for (size_t i = 0; i < v->n_nodes; i++) {
		free(v->nodes[i].name);
		store_labels_free(&v->nodes[i].labels);
		free(v->nodes[i].origin.file);
	}
	for (size_t i = 0; i < v->n_namespaces; i++) {
		free(v->namespaces[i].name);
		store_labels_free(&v->namespaces[i].labels);
		free(v->namespaces[i].origin.file);
	}
	for (size_t i = 0; i < v->n_pods; i++) {
		struct ew_pod *p = &v->pods[i];

		free(p->namespace);
		free(p->name);
		free(p->node_name);
		store_labels_free(&p->labels);
		for (size_t j = 0; j < p->n_ports; j++)
			free(p->ports[j].name);
		free(p->ports);
		free(p->origin.file);
	}
	free(v->nodes);
	free(v->namespaces);
	free(v->pods);
}
