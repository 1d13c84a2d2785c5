/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside the store reader: how one YAML document becomes model objects.
 *
 * store.c reads the files and merges their versions; the readers of the kinds
 * (store_core.c: Node, Namespace, Pod; store_services.c: Service,
 * EndpointSlice; store_policy.c: NetworkPolicy, CiliumNetworkPolicy) fill a
 * version from a document with the helpers below. Every problem goes through
 * store_problem(), which points at a YAML node and names the object being read
 * (r->what), so each message reads
 * "FILE:LINE:COL: Kind ns/name: field.path ... ; expected ...".
 *
 * Not an interface of the agent: only the store's own files include this.
 */
#ifndef EW_STORE_READ_H
#define EW_STORE_READ_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "model.h"

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
#define EXPECT_LABEL_KEY                                                                 \
	"an optional DNS subdomain prefix and '/', then a name of " EXPECT_LABEL_NAME
#define EXPECT_PORT_NAME                                                                 \
	"a port name: at most 15 lowercase letters, digits and '-', with at least "      \
	"one letter, no '--' and no '-' at either end"

/* --- memory: the store treats running out as fatal ------------------------------ */

static inline void *xrealloc(void *p, size_t size)
{
	p = realloc(p, size);
	if (!p) {
		fputs("edgewire: out of memory\n", stderr);
		abort();
	}
	return p;
}

static inline char *xstrdup(const char *s)
{
	size_t len = strlen(s) + 1;

	return memcpy(xrealloc(NULL, len), s, len);
}

static inline void *xzalloc(size_t size)
{
	return memset(xrealloc(NULL, size), 0, size);
}

/* Grows arr by one zeroed element and evaluates to a pointer to it. */
#define array_push(arr, n)                                                               \
	((arr) = xrealloc((arr), ((n) + 1) * sizeof(*(arr))),                            \
	 memset(&(arr)[(n)], 0, sizeof(*(arr))), &(arr)[(n)++])

/* --- syntax of names and numbers --------------------------------------------------- */

bool store_is_dns_label(const char *s);
bool store_is_dns_subdomain(const char *s);
/* IANA_SVC_NAME, the form of a container port's and a targetPort's name */
bool store_is_port_name(const char *s);
/* s: decimal digits only, a number from min to max */
bool store_parse_number(const char *s, unsigned long min, unsigned long max,
			unsigned long *v);

/* --- reading YAML nodes ---------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) void
store_problem(struct reader *r, const yaml_node_t *at, const char *fmt, ...);

const char *store_node_type_name(yaml_node_type_t type);
/* a plain empty, ~ or null scalar */
bool store_is_null(const yaml_node_t *n);

/* The value of key in map; NULL when map is NULL or key is absent or null. */
yaml_node_t *store_field(struct reader *r, yaml_node_t *map, const char *key);
/* n when it is NULL or has the type; else reports path mistyped, NULL. */
yaml_node_t *store_typed(struct reader *r, yaml_node_t *n, yaml_node_type_t type,
			 const char *path);
/* The string of a scalar node; NULL when n is NULL or no usable string. */
const char *store_scalar(struct reader *r, yaml_node_t *n, const char *path);
/* store_scalar of key in map; reported as missing, with what was expected */
const char *store_required_scalar(struct reader *r, yaml_node_t *map, const char *key,
				  const char *path, const char *expected);

/* The number of items of a sequence node; 0 for NULL. */
static inline size_t seq_len(const yaml_node_t *seq)
{
	return seq ? seq->data.sequence.items.top - seq->data.sequence.items.start : 0;
}

static inline yaml_node_t *seq_item(struct reader *r, yaml_node_t *seq, size_t i)
{
	return yaml_document_get_node(r->doc, seq->data.sequence.items.start[i]);
}

/* --- typed fields: each reports a bad value by its path ------------------------- */

/* key of map as a number from min to max, a "what" in messages.
 * Returns 1 when read, 0 when absent, -1 when bad (reported). */
int store_read_number(struct reader *r, yaml_node_t *map, const char *key,
		      const char *path, const char *what, unsigned long min,
		      unsigned long max, unsigned long *v);
/* key of map as a port from 1 to 65535; false when absent (reported when
 * required) or bad. */
bool store_read_port(struct reader *r, yaml_node_t *map, const char *key,
		     const char *path, bool required, uint16_t *port);
/* key of map as true or false; dflt when absent or bad (reported). */
bool store_read_bool(struct reader *r, yaml_node_t *map, const char *key,
		     const char *path, bool dflt);
/* n as an IPv4 address; false when n is NULL or bad (reported, with example as
 * a good one). */
bool store_read_ipv4(struct reader *r, yaml_node_t *n, const char *path,
		     const char *example, uint32_t *ip);
/* The protocol field of map (path is its path): TCP when absent or bad, SCTP
 * only when sctp_ok. */
uint8_t store_read_protocol(struct reader *r, yaml_node_t *map, const char *path,
			    bool sctp_ok);
/* "TCP", "UDP" or "SCTP", as Kubernetes spells them */
const char *store_protocol_name(uint8_t protocol);

/* --- objects ---------------------------------------------------------------------- */

void store_set_origin(struct ew_origin *o, struct reader *r, const yaml_node_t *obj);

enum name_rule { NAME_DNS_LABEL, NAME_DNS_SUBDOMAIN };

void store_check_name(struct reader *r, yaml_node_t *at, const char *path,
		      const char *name, enum name_rule rule);

/* key of map as a name of the rule, copied; NULL when absent or empty (the
 * API's "unset"), or bad (reported). */
char *store_read_name(struct reader *r, yaml_node_t *map, const char *key,
		      const char *path, enum name_rule rule);

void store_labels_set(struct ew_labels *l, const char *key, const char *value);
void store_labels_free(struct ew_labels *l);
/* Whether key (value) is a valid label key (value) of the labels at path;
 * reported at at when not. */
bool store_check_label_key(struct reader *r, yaml_node_t *at, const char *key,
			   const char *path);
bool store_check_label_value(struct reader *r, yaml_node_t *at, const char *key,
			     const char *value, const char *path);
/* The labels of a mapping node (NULL: none), such as spec.selector at path. */
void store_read_label_map(struct reader *r, yaml_node_t *map, const char *path,
			  struct ew_labels *labels);
/* How a selector spells a label key: the key to use (key or a part of it), or
 * NULL when it is bad (reported at k). */
typedef const char *store_label_key_fn(struct reader *r, yaml_node_t *k, const char *key,
				       const char *path, const void *arg);
/* store_read_label_map, with each key read by key_fn(..., arg) */
void store_read_label_map_keys(struct reader *r, yaml_node_t *map, const char *path,
			       store_label_key_fn *key_fn, const void *arg,
			       struct ew_labels *labels);
/* metadata.labels */
void store_read_labels(struct reader *r, yaml_node_t *meta, struct ew_labels *labels);

/*
 * Starts reading an object of the kind: reads metadata.name into a new string
 * ("" when missing) and, when namespace is not NULL, metadata.namespace
 * ("default" when absent), sets its origin, names it in r->what and returns
 * the metadata mapping; NULL when the object has none.
 */
yaml_node_t *store_read_metadata(struct reader *r, yaml_node_t *obj, const char *kind,
				 enum name_rule rule, char **name, char **namespace,
				 struct ew_origin *origin);

/* --- the kinds: each appends one object to a version ----------------------------- */

typedef void store_read_fn(struct reader *r, yaml_node_t *obj, struct ew_model *v);

store_read_fn store_read_node, store_read_namespace, store_read_pod;
store_read_fn store_read_service, store_read_endpoint_slice;
store_read_fn store_read_network_policy, store_read_cilium_network_policy;

/* Free what a version owns (not the version itself). */
void store_core_free(struct ew_model *v);     /* nodes, namespaces, pods */
void store_services_free(struct ew_model *v); /* services, endpoint slices */
void store_policy_free(struct ew_model *v);   /* network policies */

#endif /* EW_STORE_READ_H */
