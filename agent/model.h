/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cluster model: the typed, validated objects of the store that the agent
 * compiles into datapath state. Built by store.c from YAML; never touches the
 * kernel.
 */
#ifndef EW_MODEL_H
#define EW_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"

/* Where an object was read from, for messages that point at it. */
struct ew_origin {
	char *file;
	int line;
	int col;
};

struct ew_label {
	char *key;
	char *value;
};

struct ew_labels {
	size_t n;
	struct ew_label *items;
};

struct ew_node {
	char *name;
	uint32_t pod_cidr;    /* network byte order; 0 when the node has none */
	uint8_t pod_prefixlen;
	uint32_t internal_ip; /* network byte order; 0 when the node has none */
	/* The MAC its VXLAN device accepts, from flannel's backend-data
	 * annotation; all zero for edgewire nodes, which accept any. */
	uint8_t vtep_mac[6];
	struct ew_labels labels;
	struct ew_origin origin;
};

struct ew_namespace {
	char *name;
	struct ew_labels labels; /* includes kubernetes.io/metadata.name */
	struct ew_origin origin;
};

enum ew_proto {
	EW_PROTO_TCP = 6,
	EW_PROTO_UDP = 17,
	EW_PROTO_SCTP = 132,
};

struct ew_container_port {
	char *name;	 /* NULL when unnamed */
	uint16_t port;	 /* host byte order */
	uint8_t protocol; /* enum ew_proto; defaults to TCP */
};

struct ew_pod {
	char *namespace;
	char *name;
	char *node_name; /* NULL when not scheduled */
	uint32_t ip;	 /* status.podIP, network byte order; 0 when unset or
			  * when the pod uses the node's network */
	bool host_network; /* spec.hostNetwork: not an endpoint of edgewire's */
	struct ew_labels labels;
	size_t n_ports;
	struct ew_container_port *ports;
	struct ew_origin origin;
};

/* v1 Service: the ClusterIP and NodePort parts edgewire implements. */
enum ew_service_type {
	EW_SERVICE_CLUSTER_IP,
	EW_SERVICE_NODE_PORT,
};

struct ew_service_port {
	char *name;		 /* NULL when unnamed (allowed for a single port) */
	uint8_t protocol;	 /* EW_PROTO_TCP or EW_PROTO_UDP; default TCP */
	uint16_t port;		 /* host byte order */
	uint16_t node_port;	 /* host byte order; 0: none */
	uint16_t target_port;	 /* host byte order; 0 when target_port_name is set */
	char *target_port_name;	 /* a container port name; NULL when numeric */
};

struct ew_service {
	char *namespace;
	char *name;
	enum ew_service_type type;
	uint32_t cluster_ip;	/* network byte order; 0: headless or none yet */
	bool has_selector;	/* spec.selector present: endpoints may be derived */
	struct ew_labels selector;
	bool affinity;		/* sessionAffinity: ClientIP */
	uint32_t affinity_timeout; /* seconds; EW_AFFINITY_TIMEOUT_DEFAULT when unset */
	size_t n_ports;
	struct ew_service_port *ports;
	struct ew_origin origin;
};

/* discovery.k8s.io/v1 EndpointSlice (IPv4 address type). */
struct ew_slice_port {
	char *name;	  /* matches a service port's name; NULL when unnamed */
	uint8_t protocol; /* default TCP */
	uint16_t port;	  /* host byte order; 0 when absent */
};

struct ew_slice_endpoint {
	uint32_t ip;	  /* network byte order; addresses[0] */
	bool ready;	  /* conditions; unset ready and serving mean true, */
	bool serving;	  /* unset terminating means false */
	bool terminating;
	char *node_name;  /* NULL when absent */
};

struct ew_endpoint_slice {
	char *namespace;
	char *name;
	char *service;	  /* label kubernetes.io/service-name */
	size_t n_ports;
	struct ew_slice_port *ports;
	size_t n_endpoints;
	struct ew_slice_endpoint *endpoints;
	struct ew_origin origin;
};

/* A label selector (metav1.LabelSelector): every matchLabels pair and every
 * expression must hold; an empty selector selects everything. */
enum ew_selector_op {
	EW_SELECTOR_IN,
	EW_SELECTOR_NOT_IN,
	EW_SELECTOR_EXISTS,
	EW_SELECTOR_DOES_NOT_EXIST,
};

struct ew_selector_expr {
	char *key;
	enum ew_selector_op op;
	size_t n_values; /* In and NotIn: at least one; the others: none */
	char **values;
};

struct ew_selector {
	struct ew_labels match_labels;
	size_t n_exprs;
	struct ew_selector_expr *exprs;
};

struct ew_cidr {
	uint32_t addr;	  /* network byte order, host bits zero */
	uint8_t prefixlen;
};

/*
 * One peer of a rule. NetworkPolicy: a podSelector (pods of the policy's
 * namespace), a namespaceSelector (every pod of those namespaces), both
 * (pods matching in matching namespaces: AND), or an ipBlock. Cilium's
 * fromEndpoints/toEndpoints become a pod selector with a namespace selector
 * (the policy's namespace unless the selector names one); fromCIDR(Set) and
 * toCIDR(Set) become ipBlocks.
 */
struct ew_policy_peer {
	bool has_pod_selector, has_ns_selector, has_ip_block;
	struct ew_selector pod_selector;
	struct ew_selector ns_selector;
	struct ew_cidr cidr;	  /* the ipBlock */
	size_t n_except;	  /* each inside cidr */
	struct ew_cidr *except;
};

/* One http[] entry of a CiliumNetworkPolicy's toPorts rules: method, path
 * and host are POSIX extended regular expressions matched whole (NULL:
 * any); each header is "Name" or "Name: value". */
struct ew_http_match {
	char *method, *path, *host;
	size_t n_headers;
	char **headers;
};

struct ew_policy_port {
	uint8_t protocol;   /* EW_PROTO_*; 0: TCP and UDP (Cilium's ANY) */
	uint16_t port;	    /* host byte order; 0 with no name: every port */
	uint16_t end_port;  /* host byte order; 0: just port */
	char *name;	    /* a named port, resolved on the destination pod */
	/* L7: only HTTP requests one of these matches pass, through the
	 * proxy (the port is TCP, one port); n_http 0: L4 only. */
	size_t n_http;
	struct ew_http_match *http;
};

void ew_policy_port_free(struct ew_policy_port *p);

/* One ingress or egress rule: peers x ports, never merged with another
 * rule's. No peers listed (all_peers): every peer; no ports: every port. */
struct ew_policy_rule {
	bool all_peers;
	size_t n_peers;
	struct ew_policy_peer *peers;
	size_t n_ports;
	struct ew_policy_port *ports;
};

enum ew_policy_kind {
	EW_POLICY_KUBERNETES, /* networking.k8s.io/v1 NetworkPolicy */
	EW_POLICY_CILIUM,     /* cilium.io/v2 CiliumNetworkPolicy */
};

struct ew_network_policy {
	enum ew_policy_kind kind;
	char *namespace;
	char *name;
	struct ew_selector pod_selector; /* the pods it applies to, in its namespace */
	/* policyTypes, with the API server's defaults applied: Ingress always
	 * unless listed otherwise, Egress when listed or when there are egress
	 * rules. A Cilium policy isolates each direction it has a section for. */
	bool isolates_ingress, isolates_egress;
	size_t n_ingress, n_egress;
	struct ew_policy_rule *ingress, *egress;
	struct ew_origin origin;
};

struct ew_model {
	size_t n_nodes, n_namespaces, n_pods, n_services, n_slices, n_policies;
	struct ew_node *nodes;
	struct ew_namespace *namespaces;
	struct ew_pod *pods;
	struct ew_service *services;
	struct ew_endpoint_slice *slices;
	struct ew_network_policy *policies;
};

const struct ew_node *ew_model_node(const struct ew_model *m, const char *name);
const struct ew_namespace *ew_model_namespace(const struct ew_model *m,
					      const char *name);
const struct ew_pod *ew_model_pod(const struct ew_model *m, const char *ns,
				  const char *name);
const char *ew_labels_get(const struct ew_labels *l, const char *key);
const struct ew_service *ew_model_service(const struct ew_model *m, const char *ns,
					  const char *name);
/* true when every label of selector is in labels (an empty selector selects
 * everything) */
bool ew_labels_match(const struct ew_labels *selector, const struct ew_labels *labels);
/* true when labels satisfy every matchLabels pair and expression of sel */
bool ew_selector_match(const struct ew_selector *sel, const struct ew_labels *labels);

/*
 * A store is a directory of Kubernetes-style YAML files. Each load re-reads
 * it. A file that fails to parse or validate keeps contributing the objects of
 * its last good version (none if it never had one), so bad input never
 * withdraws state; its problems are reported in diags.
 */
struct ew_store;

struct ew_store *ew_store_new(const char *dir);
void ew_store_free(struct ew_store *s);

/* Re-reads the directory. Returns 0 when every file was good, -1 when any
 * file was reported in diags (the model is still complete and usable). */
int ew_store_load(struct ew_store *s, struct ew_diags *diags);

/* The model of the last load: per file, its current or last good version. */
const struct ew_model *ew_store_model(const struct ew_store *s);

#endif /* EW_MODEL_H */
