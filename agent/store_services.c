// SPDX-License-Identifier: Apache-2.0
/*
 * The store's service kinds: v1 Service (types ClusterIP and NodePort) and
 * discovery.k8s.io/v1 EndpointSlice (address type IPv4). What edgewire reads
 * of them, the defaults it applies and each message: docs/services.md.
 *
 * The checks here are those of one object, as the API server makes them;
 * those between objects (a ClusterIP port or a node port two services claim)
 * are made when versions are merged, in store.c.
 */
#include <edgewire/abi.h>

#include "store_read.h"

/* The API server's default --service-node-port-range; edgewire allocates
 * none, so each NodePort service port names its own. */
#define NODE_PORT_MIN 30000
#define NODE_PORT_MAX 32767
/* sessionAffinityConfig.clientIP.timeoutSeconds, as the API server checks it */
#define AFFINITY_TIMEOUT_MAX 86400

#define SERVICE_NAME_LABEL "kubernetes.io/service-name"

/* --- Service --------------------------------------------------------------------- */

/* Unknown: spec.type was bad (reported); node ports are not checked then. */
#define SERVICE_TYPE_UNKNOWN (-1)

static int read_service_type(struct reader *r, yaml_node_t *spec)
{
	yaml_node_t *n = store_field(r, spec, "type");
	const char *type = store_scalar(r, n, "spec.type");

	if (!type) /* absent, or not a string (reported) */
		return n ? SERVICE_TYPE_UNKNOWN : EW_SERVICE_CLUSTER_IP;
	if (!*type || !strcmp(type, "ClusterIP"))
		return EW_SERVICE_CLUSTER_IP;
	if (!strcmp(type, "NodePort"))
		return EW_SERVICE_NODE_PORT;
	if (!strcmp(type, "LoadBalancer") || !strcmp(type, "ExternalName"))
		store_problem(
		    r, n,
		    "spec.type %s is not supported: edgewire supports ClusterIP "
		    "and NodePort services; expected ClusterIP or NodePort",
		    type);
	else
		store_problem(
		    r, n,
		    "spec.type \"%s\" is not a service type; expected ClusterIP "
		    "or NodePort",
		    type);
	return SERVICE_TYPE_UNKNOWN;
}

/* An IPv4 address, None (headless) or nothing: 0 for the last two. */
static void read_cluster_ip(struct reader *r, yaml_node_t *spec, int type,
			    struct ew_service *s)
{
	yaml_node_t *n = store_field(r, spec, "clusterIP");
	const char *ip = store_scalar(r, n, "spec.clusterIP");

	if (!ip || !*ip)
		return;
	if (strcmp(ip, "None")) {
		store_read_ipv4(r, n, "spec.clusterIP", "10.96.0.10, or None",
				&s->cluster_ip);
		return;
	}
	if (type == EW_SERVICE_NODE_PORT)
		store_problem(
		    r, n,
		    "spec.clusterIP None (headless) is not allowed with spec.type "
		    "NodePort; expected an IPv4 address, or spec.type ClusterIP "
		    "for a headless service");
}

static void read_affinity(struct reader *r, yaml_node_t *spec, struct ew_service *s)
{
	yaml_node_t *n = store_field(r, spec, "sessionAffinity");
	const char *affinity = store_scalar(r, n, "spec.sessionAffinity");
	yaml_node_t *config, *client_ip;
	unsigned long timeout;

	if (affinity && !strcmp(affinity, "ClientIP"))
		s->affinity = true;
	else if (affinity && strcmp(affinity, "None"))
		store_problem(
		    r, n,
		    "spec.sessionAffinity \"%s\" is not valid; expected None or "
		    "ClientIP",
		    affinity);

	s->affinity_timeout = EW_AFFINITY_TIMEOUT_DEFAULT;
	config = store_typed(r, store_field(r, spec, "sessionAffinityConfig"),
			     YAML_MAPPING_NODE, "spec.sessionAffinityConfig");
	client_ip = store_typed(r, store_field(r, config, "clientIP"), YAML_MAPPING_NODE,
				"spec.sessionAffinityConfig.clientIP");
	if (store_read_number(r, client_ip, "timeoutSeconds",
			      "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
			      "timeout", 1, AFFINITY_TIMEOUT_MAX, &timeout) > 0)
		s->affinity_timeout = timeout;
}

/* A number, 0 or absent for the port itself, or the name of a container port. */
static void read_target_port(struct reader *r, yaml_node_t *item, const char *path,
			     struct ew_service_port *p)
{
	yaml_node_t *n = store_field(r, item, "targetPort");
	const char *s = store_scalar(r, n, path);
	unsigned long v;

	p->target_port = p->port;
	if (!s || !*s)
		return;
	if (store_parse_number(s, 0, 65535, &v)) {
		if (v) /* 0, like "", is the API's "unset" */
			p->target_port = v;
		return;
	}
	if (store_is_port_name(s)) {
		p->target_port = 0;
		p->target_port_name = xstrdup(s);
		return;
	}
	store_problem(r, n,
		      "%s \"%s\" is not valid; expected a port number from 1 to 65535 "
		      "or " EXPECT_PORT_NAME,
		      path, s);
}

/* Required with type NodePort (no API server allocates one), forbidden with
 * type ClusterIP. */
static void read_node_port(struct reader *r, yaml_node_t *item, const char *path,
			   int type, struct ew_service_port *p)
{
	yaml_node_t *n = store_field(r, item, "nodePort");
	unsigned long v;

	if (type == EW_SERVICE_CLUSTER_IP && n)
		store_problem(
		    r, n,
		    "%s is set but spec.type is ClusterIP; expected no nodePort, "
		    "or spec.type NodePort",
		    path);
	if (type != EW_SERVICE_NODE_PORT)
		return;
	switch (store_read_number(r, item, "nodePort", path, "node port", NODE_PORT_MIN,
				  NODE_PORT_MAX, &v)) {
	case 1:
		p->node_port = v;
		break;
	case 0:
		store_problem(r, item,
			      "%s is missing: edgewire allocates no node ports; set %s, "
			      "expected a number from %d to %d",
			      path, path, NODE_PORT_MIN, NODE_PORT_MAX);
		break;
	}
}

static void read_service_port(struct reader *r, yaml_node_t *item, const char *path,
			      bool several, int type, struct ew_service_port *p)
{
	char field_path[64];
	int problems = r->problems;

	snprintf(field_path, sizeof(field_path), "%s.name", path);
	p->name = store_read_name(r, item, "name", field_path, NAME_DNS_LABEL);
	if (!p->name && several && r->problems == problems)
		store_problem(r, item,
			      "%s is missing; expected a name for each port of a service "
			      "with more than one port",
			      field_path);

	snprintf(field_path, sizeof(field_path), "%s.protocol", path);
	p->protocol = store_read_protocol(r, item, field_path, false);

	snprintf(field_path, sizeof(field_path), "%s.port", path);
	store_read_port(r, item, "port", field_path, true, &p->port);

	snprintf(field_path, sizeof(field_path), "%s.targetPort", path);
	read_target_port(r, item, field_path, p);

	snprintf(field_path, sizeof(field_path), "%s.nodePort", path);
	read_node_port(r, item, field_path, type, p);
}

/* Each port name, each port and protocol, each node port and protocol once;
 * a port is reported at its first clash with an earlier one. */
static void check_unique_ports(struct reader *r, yaml_node_t *ports,
			       const struct ew_service *s)
{
	for (size_t i = 1; i < s->n_ports; i++) {
		const struct ew_service_port *p = &s->ports[i];
		yaml_node_t *item = seq_item(r, ports, i);
		bool name = p->name, port = p->port, node_port = p->node_port;

		for (size_t j = 0; j < i; j++) {
			const struct ew_service_port *q = &s->ports[j];
			const char *proto = store_protocol_name(p->protocol);

			if (name && q->name && !strcmp(p->name, q->name)) {
				store_problem(
				    r, store_field(r, item, "name"),
				    "spec.ports[%zu].name \"%s\" is already the "
				    "name of spec.ports[%zu]; expected unique port "
				    "names",
				    i, p->name, j);
				name = false;
			}
			if (port && p->port == q->port && p->protocol == q->protocol) {
				store_problem(r, store_field(r, item, "port"),
					      "spec.ports[%zu].port %u/%s is already "
					      "spec.ports[%zu]; expected each port and "
					      "protocol once",
					      i, p->port, proto, j);
				port = false;
			}
			if (node_port && p->node_port == q->node_port &&
			    p->protocol == q->protocol) {
				store_problem(
				    r, store_field(r, item, "nodePort"),
				    "spec.ports[%zu].nodePort %u/%s is already the "
				    "node port of spec.ports[%zu]; expected each "
				    "node port and protocol once",
				    i, p->node_port, proto, j);
				node_port = false;
			}
		}
	}
}

#define EXPECT_SERVICE_PORTS "at least one port, such as {port: 80}"

static void read_service_ports(struct reader *r, yaml_node_t *obj, yaml_node_t *spec,
			       int type, struct ew_service *s)
{
	yaml_node_t *n = store_field(r, spec, "ports"), *item;
	yaml_node_t *ports = store_typed(r, n, YAML_SEQUENCE_NODE, "spec.ports");
	char path[48];

	if (!n) {
		/* a spec that is not a mapping was reported already */
		if (spec || !store_field(r, obj, "spec"))
			store_problem(
			    r, spec ?: obj,
			    "spec.ports is missing; expected " EXPECT_SERVICE_PORTS);
		return;
	}
	if (ports && !seq_len(ports))
		store_problem(r, ports,
			      "spec.ports is empty; expected " EXPECT_SERVICE_PORTS);
	for (size_t i = 0; i < seq_len(ports); i++) {
		/* one entry per item, so that s->ports[i] is spec.ports[i] */
		struct ew_service_port *p = array_push(s->ports, s->n_ports);

		item = seq_item(r, ports, i);
		snprintf(path, sizeof(path), "spec.ports[%zu]", i);
		if (store_typed(r, item, YAML_MAPPING_NODE, path))
			read_service_port(r, item, path, seq_len(ports) > 1, type, p);
	}
	check_unique_ports(r, ports, s);
}

void store_read_service(struct reader *r, yaml_node_t *obj, struct ew_model *v)
{
	struct ew_service *s = array_push(v->services, v->n_services);
	struct ew_labels labels = {0};
	yaml_node_t *meta, *spec, *selector;
	int type;

	meta = store_read_metadata(r, obj, "Service", NAME_DNS_LABEL, &s->name,
				   &s->namespace, &s->origin);
	store_read_labels(r, meta, &labels); /* checked, not kept */
	store_labels_free(&labels);

	spec = store_typed(r, store_field(r, obj, "spec"), YAML_MAPPING_NODE, "spec");
	type = read_service_type(r, spec);
	s->type =
	    type == EW_SERVICE_NODE_PORT ? EW_SERVICE_NODE_PORT : EW_SERVICE_CLUSTER_IP;
	read_cluster_ip(r, spec, type, s);
	/* an empty selector is no selector, as the API server stores it */
	selector = store_typed(r, store_field(r, spec, "selector"), YAML_MAPPING_NODE,
			       "spec.selector");
	store_read_label_map(r, selector, "spec.selector", &s->selector);
	s->has_selector = s->selector.n > 0;
	read_affinity(r, spec, s);
	read_service_ports(r, obj, spec, type, s);
}

/* --- EndpointSlice ------------------------------------------------------------------ */

/* The label kubernetes.io/service-name: the Service the slice belongs to. */
static void read_slice_service(struct reader *r, yaml_node_t *meta,
			       struct ew_endpoint_slice *es)
{
	struct ew_labels labels = {0};
	int problems = r->problems;
	const char *service;

	store_read_labels(r, meta, &labels);
	service = ew_labels_get(&labels, SERVICE_NAME_LABEL);
	if (service && *service && !store_is_dns_label(service))
		store_problem(
		    r, store_field(r, store_field(r, meta, "labels"), SERVICE_NAME_LABEL),
		    "label " SERVICE_NAME_LABEL " \"%s\" is not a Service name; "
		    "expected " EXPECT_DNS_LABEL,
		    service);
	else if ((!service || !*service) && meta && r->problems == problems)
		store_problem(r, store_field(r, meta, "labels") ?: meta,
			      "metadata.labels." SERVICE_NAME_LABEL
			      " is missing; expected "
			      "the name of the Service this slice belongs to");
	es->service = xstrdup(service ?: "");
	store_labels_free(&labels);
}

/* Whether the slice holds IPv4 addresses, the only type edgewire reads. */
static bool read_address_type(struct reader *r, yaml_node_t *obj)
{
	yaml_node_t *n = store_field(r, obj, "addressType");
	const char *type =
	    store_required_scalar(r, obj, "addressType", "addressType", "IPv4");

	if (!type)
		return false;
	if (!strcmp(type, "IPv4"))
		return true;
	if (!strcmp(type, "IPv6") || !strcmp(type, "FQDN"))
		store_problem(
		    r, n,
		    "addressType %s is not supported: edgewire serves IPv4 only; "
		    "expected IPv4",
		    type);
	else
		store_problem(r, n, "addressType \"%s\" is not valid; expected IPv4",
			      type);
	return false;
}

static void read_slice_ports(struct reader *r, yaml_node_t *obj,
			     struct ew_endpoint_slice *es)
{
	yaml_node_t *ports, *item;
	char path[48], field_path[64];

	ports = store_typed(r, store_field(r, obj, "ports"), YAML_SEQUENCE_NODE, "ports");
	for (size_t i = 0; i < seq_len(ports); i++) {
		struct ew_slice_port *p = array_push(es->ports, es->n_ports);

		item = seq_item(r, ports, i);
		snprintf(path, sizeof(path), "ports[%zu]", i);
		if (!store_typed(r, item, YAML_MAPPING_NODE, path))
			continue;
		snprintf(field_path, sizeof(field_path), "%s.name", path);
		p->name = store_read_name(r, item, "name", field_path, NAME_DNS_LABEL);
		snprintf(field_path, sizeof(field_path), "%s.protocol", path);
		p->protocol = store_read_protocol(r, item, field_path, false);
		snprintf(field_path, sizeof(field_path), "%s.port", path);
		store_read_port(r, item, "port", field_path, false, &p->port);
	}
}

static void read_slice_endpoint(struct reader *r, yaml_node_t *item, const char *path,
				struct ew_slice_endpoint *e)
{
	yaml_node_t *n, *addrs, *conditions;
	char field_path[96];
	uint32_t ip;

	snprintf(field_path, sizeof(field_path), "%s.addresses", path);
	n = store_field(r, item, "addresses");
	addrs = store_typed(r, n, YAML_SEQUENCE_NODE, field_path);
	if (!n || (addrs && !seq_len(addrs)))
		store_problem(r, addrs ?: item,
			      "%s is %s; expected at least one IPv4 address", field_path,
			      n ? "empty" : "missing");
	for (size_t i = 0; i < seq_len(addrs); i++) {
		snprintf(field_path, sizeof(field_path), "%s.addresses[%zu]", path, i);
		store_read_ipv4(r, seq_item(r, addrs, i), field_path, "10.244.1.10",
				i ? &ip : &e->ip);
	}

	snprintf(field_path, sizeof(field_path), "%s.conditions", path);
	conditions = store_typed(r, store_field(r, item, "conditions"), YAML_MAPPING_NODE,
				 field_path);
	snprintf(field_path, sizeof(field_path), "%s.conditions.ready", path);
	e->ready = store_read_bool(r, conditions, "ready", field_path, true);
	/* unset serving defers to ready, as the API documents it */
	snprintf(field_path, sizeof(field_path), "%s.conditions.serving", path);
	e->serving = store_read_bool(r, conditions, "serving", field_path, e->ready);
	snprintf(field_path, sizeof(field_path), "%s.conditions.terminating", path);
	e->terminating = store_read_bool(r, conditions, "terminating", field_path, false);

	snprintf(field_path, sizeof(field_path), "%s.nodeName", path);
	e->node_name =
	    store_read_name(r, item, "nodeName", field_path, NAME_DNS_SUBDOMAIN);
}

void store_read_endpoint_slice(struct reader *r, yaml_node_t *obj, struct ew_model *v)
{
	struct ew_endpoint_slice *es = array_push(v->slices, v->n_slices);
	yaml_node_t *meta, *endpoints, *item;
	char path[48];

	meta = store_read_metadata(r, obj, "EndpointSlice", NAME_DNS_SUBDOMAIN, &es->name,
				   &es->namespace, &es->origin);
	read_slice_service(r, meta, es);
	if (!read_address_type(r, obj))
		return; /* its addresses are not edgewire's to read */
	read_slice_ports(r, obj, es);

	endpoints = store_typed(r, store_field(r, obj, "endpoints"), YAML_SEQUENCE_NODE,
				"endpoints");
	for (size_t i = 0; i < seq_len(endpoints); i++) {
		struct ew_slice_endpoint *e = array_push(es->endpoints, es->n_endpoints);

		item = seq_item(r, endpoints, i);
		snprintf(path, sizeof(path), "endpoints[%zu]", i);
		if (store_typed(r, item, YAML_MAPPING_NODE, path))
			read_slice_endpoint(r, item, path, e);
	}
}

void store_services_free(struct ew_model *v)
{
	for (size_t i = 0; i < v->n_services; i++) {
		struct ew_service *s = &v->services[i];

		free(s->namespace);
		free(s->name);
		store_labels_free(&s->selector);
		for (size_t j = 0; j < s->n_ports; j++) {
			free(s->ports[j].name);
			free(s->ports[j].target_port_name);
		}
		free(s->ports);
		free(s->origin.file);
	}
	for (size_t i = 0; i < v->n_slices; i++) {
		struct ew_endpoint_slice *es = &v->slices[i];

		free(es->namespace);
		free(es->name);
		free(es->service);
		for (size_t j = 0; j < es->n_ports; j++)
			free(es->ports[j].name);
		free(es->ports);
		for (size_t j = 0; j < es->n_endpoints; j++)
			free(es->endpoints[j].node_name);
		free(es->endpoints);
		free(es->origin.file);
	}
	free(v->services);
	free(v->slices);
}
