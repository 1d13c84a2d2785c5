// SPDX-License-Identifier: Apache-2.0
/*
 * The store reader's helpers: the syntax of names, reading YAML nodes into
 * typed values and the parts every object has (metadata, labels). Each
 * reports what it rejects through store_problem(); see store_read.h.
 */
#include <stdarg.h>

#include "netutil.h"
#include "store_read.h"

/* --- syntax of names, labels, numbers ------------------------------------------ */

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

bool store_is_dns_label(const char *s)
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

bool store_is_dns_subdomain(const char *s)
{
	return is_dns_subdomain_n(s, strlen(s));
}

/* IANA_SVC_NAME (RFC 6335): a DNS label of at most 15 characters with at
 * least one letter and no "--", so it never reads as a number. */
bool store_is_port_name(const char *s)
{
	size_t len = strlen(s);

	if (len > 15 || !store_is_dns_label(s) || strstr(s, "--"))
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] >= 'a' && s[i] <= 'z')
			return true;
	return false;
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

bool store_parse_number(const char *s, unsigned long min, unsigned long max,
			unsigned long *v)
{
	unsigned long n;
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	n = strtoul(s, &end, 10);
	if (*end || n < min || n > max)
		return false;
	*v = n;
	return true;
}

/* --- reading YAML nodes ------------------------------------------------------------ */

void store_problem(struct reader *r, const yaml_node_t *at, const char *fmt, ...)
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

const char *store_node_type_name(yaml_node_type_t type)
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

bool store_is_null(const yaml_node_t *n)
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

yaml_node_t *store_field(struct reader *r, yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *pair;

	if (!map)
		return NULL;
	for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top;
	     pair++) {
		yaml_node_t *k = yaml_document_get_node(r->doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(r->doc, pair->value);

		if (k->type == YAML_SCALAR_NODE &&
		    !strcmp((char *)k->data.scalar.value, key))
			return store_is_null(v) ? NULL : v;
	}
	return NULL;
}

yaml_node_t *store_typed(struct reader *r, yaml_node_t *n, yaml_node_type_t type,
			 const char *path)
{
	if (!n || n->type == type)
		return n;
	store_problem(r, n, "%s: expected %s, got %s", path, store_node_type_name(type),
		      store_node_type_name(n->type));
	return NULL;
}

const char *store_scalar(struct reader *r, yaml_node_t *n, const char *path)
{
	const char *s;

	if (!store_typed(r, n, YAML_SCALAR_NODE, path))
		return NULL;
	s = (const char *)n->data.scalar.value;
	if (strlen(s) != n->data.scalar.length) {
		store_problem(r, n, "%s contains a NUL character; expected text", path);
		return NULL;
	}
	return s;
}

const char *store_required_scalar(struct reader *r, yaml_node_t *map, const char *key,
				  const char *path, const char *expected)
{
	yaml_node_t *v = store_field(r, map, key);

	if (!v) {
		store_problem(r, map, "%s is missing; expected %s", path, expected);
		return NULL;
	}
	return store_scalar(r, v, path);
}

/* --- typed fields ----------------------------------------------------------------- */

int store_read_number(struct reader *r, yaml_node_t *map, const char *key,
		      const char *path, const char *what, unsigned long min,
		      unsigned long max, unsigned long *v)
{
	yaml_node_t *n = store_field(r, map, key);
	const char *s = store_scalar(r, n, path);

	if (!s)
		return n ? -1 : 0;
	if (store_parse_number(s, min, max, v))
		return 1;
	store_problem(r, n,
		      "%s \"%s\" is not a valid %s; expected a number from %lu to %lu",
		      path, s, what, min, max);
	return -1;
}

bool store_read_port(struct reader *r, yaml_node_t *map, const char *key,
		     const char *path, bool required, uint16_t *port)
{
	unsigned long v;

	switch (store_read_number(r, map, key, path, "port", 1, 65535, &v)) {
	case 1:
		*port = v;
		return true;
	case 0:
		if (required)
			store_problem(
			    r, map,
			    "%s is missing; expected a port number from 1 to 65535",
			    path);
		return false;
	default:
		return false;
	}
}

bool store_read_bool(struct reader *r, yaml_node_t *map, const char *key,
		     const char *path, bool dflt)
{
	yaml_node_t *n = store_field(r, map, key);
	const char *s = store_scalar(r, n, path);

	if (!s)
		return dflt;
	if (!strcmp(s, "true"))
		return true;
	if (!strcmp(s, "false"))
		return false;
	store_problem(r, n, "%s \"%s\" is not a boolean; expected true or false", path,
		      s);
	return dflt;
}

bool store_read_ipv4(struct reader *r, yaml_node_t *n, const char *path,
		     const char *example, uint32_t *ip)
{
	const char *s = store_scalar(r, n, path);

	if (!s)
		return false;
	if (!ew_parse_ipv4(s, ip))
		return true;
	store_problem(
	    r, n, "%s \"%s\" is not an IPv4 address; expected a dotted quad such as %s",
	    path, s, example);
	return false;
}

static const struct {
	const char *name;
	enum ew_proto proto;
} protocols[] = {
    {"TCP", EW_PROTO_TCP},
    {"UDP", EW_PROTO_UDP},
    {"SCTP", EW_PROTO_SCTP},
};

uint8_t store_read_protocol(struct reader *r, yaml_node_t *map, const char *path,
			    bool sctp_ok)
{
	yaml_node_t *n = store_field(r, map, "protocol");
	const char *s = store_scalar(r, n, path);

	if (!s)
		return EW_PROTO_TCP;
	for (size_t i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++)
		if (!strcmp(s, protocols[i].name) &&
		    (sctp_ok || protocols[i].proto != EW_PROTO_SCTP))
			return protocols[i].proto;
	if (!strcmp(s, "SCTP"))
		store_problem(r, n,
			      "%s SCTP is not supported by edgewire; expected TCP or UDP",
			      path);
	else
		store_problem(r, n, "%s \"%s\" is not a supported protocol; expected %s",
			      path, s, sctp_ok ? "TCP, UDP or SCTP" : "TCP or UDP");
	return EW_PROTO_TCP;
}

const char *store_protocol_name(uint8_t protocol)
{
	for (size_t i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++)
		if (protocols[i].proto == protocol)
			return protocols[i].name;
	return "?";
}

/* --- objects ---------------------------------------------------------------------- */

void store_set_origin(struct ew_origin *o, struct reader *r, const yaml_node_t *obj)
{
	o->file = xstrdup(r->file);
	o->line = obj->start_mark.line + 1;
	o->col = obj->start_mark.column + 1;
}

void store_check_name(struct reader *r, yaml_node_t *at, const char *path,
		      const char *name, enum name_rule rule)
{
	if (rule == NAME_DNS_LABEL && !store_is_dns_label(name))
		store_problem(r, at, "%s \"%s\" is not a valid name; expected %s", path,
			      name, EXPECT_DNS_LABEL);
	if (rule == NAME_DNS_SUBDOMAIN && !store_is_dns_subdomain(name))
		store_problem(r, at, "%s \"%s\" is not a valid name; expected %s", path,
			      name, EXPECT_DNS_SUBDOMAIN);
}

char *store_read_name(struct reader *r, yaml_node_t *map, const char *key,
		      const char *path, enum name_rule rule)
{
	yaml_node_t *n = store_field(r, map, key);
	const char *name = store_scalar(r, n, path);
	int problems = r->problems;

	if (!name || !*name)
		return NULL;
	store_check_name(r, n, path, name, rule);
	return r->problems == problems ? xstrdup(name) : NULL;
}

void store_labels_set(struct ew_labels *l, const char *key, const char *value)
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

void store_labels_free(struct ew_labels *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].key);
		free(l->items[i].value);
	}
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

bool store_check_label_key(struct reader *r, yaml_node_t *at, const char *key,
			   const char *path)
{
	if (is_label_key(key))
		return true;
	store_problem(r, at,
		      "label key \"%s\" in %s is not valid; expected " EXPECT_LABEL_KEY,
		      key, path);
	return false;
}

bool store_check_label_value(struct reader *r, yaml_node_t *at, const char *key,
			     const char *value, const char *path)
{
	if (is_label_value(value))
		return true;
	store_problem(
	    r, at,
	    "label %s: value \"%s\" in %s is not valid; expected an empty value "
	    "or " EXPECT_LABEL_NAME,
	    key, value, path);
	return false;
}

void store_read_label_map_keys(struct reader *r, yaml_node_t *map, const char *path,
			       store_label_key_fn *key_fn, const void *arg,
			       struct ew_labels *labels)
{
	char key_path[160];
	yaml_node_pair_t *pair;

	if (!map)
		return;
	snprintf(key_path, sizeof(key_path), "%s key", path);
	for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top;
	     pair++) {
		yaml_node_t *k = yaml_document_get_node(r->doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(r->doc, pair->value);
		const char *key = store_scalar(r, k, key_path);
		const char *value =
		    store_is_null(v) ? "" : store_scalar(r, v, "label value");

		if (!key || !value)
			continue;
		if (key_fn)
			key = key_fn(r, k, key, path, arg);
		else if (!store_check_label_key(r, k, key, path))
			key = NULL;
		if (key && store_check_label_value(r, v, key, value, path))
			store_labels_set(labels, key, value);
	}
}

void store_read_label_map(struct reader *r, yaml_node_t *map, const char *path,
			  struct ew_labels *labels)
{
	store_read_label_map_keys(r, map, path, NULL, NULL, labels);
}

void store_read_labels(struct reader *r, yaml_node_t *meta, struct ew_labels *labels)
{
	yaml_node_t *map = store_typed(r, store_field(r, meta, "labels"),
				       YAML_MAPPING_NODE, "metadata.labels");

	store_read_label_map(r, map, "metadata.labels", labels);
}

yaml_node_t *store_read_metadata(struct reader *r, yaml_node_t *obj, const char *kind,
				 enum name_rule rule, char **name, char **namespace,
				 struct ew_origin *origin)
{
	yaml_node_t *meta = store_field(r, obj, "metadata");
	yaml_node_t *ns_node = NULL;
	const char *name_str = NULL, *ns_str = "default";

	snprintf(r->what, sizeof(r->what), "%s", kind);
	store_set_origin(origin, r, obj);
	if (!meta)
		store_problem(
		    r, obj,
		    "metadata is missing; expected a mapping with at least a name");
	else if (store_typed(r, meta, YAML_MAPPING_NODE, "metadata"))
		name_str = store_required_scalar(r, meta, "name", "metadata.name",
						 "the object's name");
	else
		meta = NULL;
	if (meta && namespace) {
		ns_node = store_field(r, meta, "namespace");
		ns_str = store_scalar(r, ns_node, "metadata.namespace") ?: "default";
	}
	*name = xstrdup(name_str ?: "");
	if (namespace)
		*namespace = xstrdup(ns_str);
	if (!name_str)
		return meta;
	if (namespace)
		snprintf(r->what, sizeof(r->what), "%s %s/%s", kind, ns_str, name_str);
	else
		snprintf(r->what, sizeof(r->what), "%s %s", kind, name_str);
	store_check_name(r, store_field(r, meta, "name"), "metadata.name", name_str,
			 rule);
	if (ns_node)
		store_check_name(r, ns_node, "metadata.namespace", ns_str,
				 NAME_DNS_LABEL);
	return meta;
}
