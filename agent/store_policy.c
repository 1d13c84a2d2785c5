// SPDX-License-Identifier: Apache-2.0
/*
 * The store's policy kinds: networking.k8s.io/v1 NetworkPolicy and the L3/L4
 * part of cilium.io/v2 CiliumNetworkPolicy, both read into struct
 * ew_network_policy. What edgewire reads of them, the defaults it applies and
 * each message: docs/policy.md.
 *
 * A NetworkPolicy is checked as the API server checks it, with its defaults
 * (policyTypes, protocol) applied. A CiliumNetworkPolicy is checked as
 * Cilium's agent sanitizes it, and its spelling is turned into the model's:
 * label sources (k8s:, any:) are dropped, and the namespace terms of
 * fromEndpoints/toEndpoints become the peer's namespace selector. What edgewire
 * does not enforce (L7 rules other than HTTP, entities, FQDNs, deny rules, ...) is an error
 * naming the field, never left out: a policy read in part allows what it was
 * written to forbid, or forbids what it allows.
 *
 * For the same reason a field a spec does not have is an error, as with the API
 * server's strict field validation: a misspelt fromEndpoints, or a selector
 * written without matchLabels, would otherwise widen the policy.
 *
 * The check between objects, a policy defined twice, is made when versions
 * are merged, in store.c.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>

#include "match.h"
#include "netutil.h"
#include "store_read.h"

#define POLICY_PATH 192 /* room for the longest field path of a message */

/* Cilium's labels of a pod for its namespace, and for its namespace's labels */
#define CILIUM_NS_KEY	 "io.kubernetes.pod.namespace"
#define CILIUM_NS_LABELS "io.cilium.k8s.namespace.labels."
/* Cilium's labels for service accounts and clusters, which edgewire lacks */
#define CILIUM_POLICY_LABELS "io.cilium.k8s.policy."
/* every Namespace has it, with its name */
#define NS_NAME_LABEL "kubernetes.io/metadata.name"

/* --- paths and fields ------------------------------------------------------------- */

/* buf = base, then the formatted rest: the path of a field in messages */
__attribute__((format(printf, 3, 4))) static char *
subpath(char buf[POLICY_PATH], const char *base, const char *fmt, ...)
{
	size_t len = snprintf(buf, POLICY_PATH, "%s", base);
	va_list ap;

	va_start(ap, fmt);
	if (len < POLICY_PATH)
		vsnprintf(buf + len, POLICY_PATH - len, fmt, ap);
	va_end(ap);
	return buf;
}

/* The list key of map; NULL when absent or not a list (reported). Its path
 * goes to list_path. */
static yaml_node_t *list_field(struct reader *r, yaml_node_t *map, const char *key,
			       const char *path, char list_path[POLICY_PATH])
{
	subpath(list_path, path, ".%s", key);
	return store_typed(r, store_field(r, map, key), YAML_SEQUENCE_NODE, list_path);
}

/* Item i of list when it is a mapping; NULL when not (reported). Its path goes
 * to item_path. */
static yaml_node_t *mapping_item(struct reader *r, yaml_node_t *list, size_t i,
				 const char *list_path, char item_path[POLICY_PATH])
{
	subpath(item_path, list_path, "[%zu]", i);
	return store_typed(r, seq_item(r, list, i), YAML_MAPPING_NODE, item_path);
}

/* The fields of a CiliumNetworkPolicy that edgewire does not enforce, with
 * why, when that is more than "not supported". */
static const struct {
	const char *field;
	const char *why;
} cilium_unsupported[] = {
    {"nodeSelector", "host policies are not supported: edgewire applies policies "
		     "to pods; expected endpointSelector"},
    {"ingressDeny", "deny rules are not supported; expected allow rules only "
		    "(ingress, egress)"},
    {"egressDeny", "deny rules are not supported; expected allow rules only "
		   "(ingress, egress)"},
    {"fromEntities", NULL},
    {"toEntities", NULL},
    {"fromRequires", NULL},
    {"toRequires", NULL},
    {"fromGroups", NULL},
    {"toGroups", NULL},
    {"fromNodes", NULL},
    {"toNodes", NULL},
    {"toServices", NULL},
    {"toFQDNs", NULL},
    {"icmps", NULL},
    {"authentication", NULL},
    {"terminatingTLS", NULL},
    {"originatingTLS", NULL},
    {"serverNames", NULL},
    {"listener", NULL},
    {"cidrGroupRef", NULL},
    {"cidrGroupSelector", NULL},
};

/* "a, b or c" of the NULL-terminated fields */
static const char *field_list(const char *const *fields, char *buf, size_t len)
{
	size_t n = 0, used = 0;

	while (fields[n])
		n++;
	buf[0] = '\0';
	for (size_t i = 0; i < n && used < len; i++)
		used += snprintf(buf + used, len - used, "%s%s",
				 !i	      ? ""
				 : i == n - 1 ? " or "
					      : ", ",
				 fields[i]);
	return buf;
}

/* Reports each key of map that is not one of fields (NULL-terminated), the
 * fields of what; with cilium, the fields of Cilium edgewire does not enforce
 * as such. */
static void check_fields(struct reader *r, yaml_node_t *map, const char *path,
			 const char *what, const char *const *fields, bool cilium)
{
	yaml_node_pair_t *pair;
	char expected[192];

	if (!map)
		return;
	field_list(fields, expected, sizeof(expected));
	for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top;
	     pair++) {
		yaml_node_t *k = yaml_document_get_node(r->doc, pair->key);
		const char *const *f = fields;
		size_t u = 0, n_unsupported = cilium ? sizeof(cilium_unsupported) /
							   sizeof(cilium_unsupported[0])
						     : 0;
		const char *key;

		if (k->type != YAML_SCALAR_NODE)
			continue;
		key = (const char *)k->data.scalar.value;
		while (*f && strcmp(*f, key))
			f++;
		if (*f)
			continue;
		while (u < n_unsupported && strcmp(cilium_unsupported[u].field, key))
			u++;
		if (u == n_unsupported)
			store_problem(r, k, "%s.%s is not a field of %s; expected %s",
				      path, key, what, expected);
		else if (cilium_unsupported[u].why)
			store_problem(r, k, "%s.%s: %s", path, key,
				      cilium_unsupported[u].why);
		else
			store_problem(r, k,
				      "%s.%s is not supported by edgewire; expected %s",
				      path, key, expected);
	}
}

/* --- selectors -------------------------------------------------------------------- */

enum selector_use {
	SELECTOR_KUBERNETES,	 /* metav1.LabelSelector, as the API server reads it */
	SELECTOR_CILIUM_SUBJECT, /* endpointSelector: pod labels, as Cilium spells them */
	SELECTOR_CILIUM_PEER,	 /* fromEndpoints, toEndpoints: may name namespaces */
};

static const char *const operators[] = {
    [EW_SELECTOR_IN] = "In",
    [EW_SELECTOR_NOT_IN] = "NotIn",
    [EW_SELECTOR_EXISTS] = "Exists",
    [EW_SELECTOR_DOES_NOT_EXIST] = "DoesNotExist",
};

#define EXPECT_OPERATOR "In, NotIn, Exists or DoesNotExist"

/* A key of a selector (store_label_key_fn; arg: the enum selector_use). Cilium
 * keys may carry the source k8s: or any:, dropped here. */
static const char *selector_key(struct reader *r, yaml_node_t *k, const char *written,
				const char *path, const void *arg)
{
	enum selector_use use = *(const enum selector_use *)arg;
	const char *colon = strchr(written, ':'), *key = written, *label;

	if (use == SELECTOR_KUBERNETES)
		return store_check_label_key(r, k, key, path) ? key : NULL;
	if (colon && strncmp(key, "k8s:", 4) && strncmp(key, "any:", 4)) {
		store_problem(
		    r, k,
		    "label key \"%s\" in %s has the source %.*s, which edgewire "
		    "does not support; expected a pod label, with no source or "
		    "the source k8s: or any:",
		    written, path, (int)(colon - key), key);
		return NULL;
	}
	if (colon)
		key = colon + 1;
	label = key;
	if (!strncmp(key, CILIUM_NS_LABELS, strlen(CILIUM_NS_LABELS)))
		label = key + strlen(CILIUM_NS_LABELS);
	if (!store_check_label_key(r, k, label, path))
		return NULL;
	if (!strncmp(key, CILIUM_POLICY_LABELS, strlen(CILIUM_POLICY_LABELS))) {
		store_problem(
		    r, k,
		    "label key \"%s\" in %s is not supported: edgewire knows pods "
		    "by their labels and namespace only; expected a pod "
		    "label, " CILIUM_NS_KEY " or " CILIUM_NS_LABELS "KEY",
		    written, path);
		return NULL;
	}
	if (use == SELECTOR_CILIUM_SUBJECT &&
	    (label != key || !strcmp(key, CILIUM_NS_KEY))) {
		store_problem(r, k,
			      "label key \"%s\" in %s selects namespaces, but a "
			      "CiliumNetworkPolicy applies to pods of its own namespace; "
			      "expected pod labels only",
			      written, path);
		return NULL;
	}
	return key;
}

static void read_expression(struct reader *r, yaml_node_t *item, const char *path,
			    enum selector_use use, struct ew_selector_expr *e)
{
	static const char *const fields[] = {"key", "operator", "values", NULL};
	char field[POLICY_PATH], value_path[POLICY_PATH];
	yaml_node_t *n, *values;
	const char *s, *op;
	int found = -1;

	check_fields(r, item, path, "a label selector requirement", fields,
		     use != SELECTOR_KUBERNETES);
	subpath(field, path, ".key");
	s = store_required_scalar(r, item, "key", field, "a label key");
	if (s && (s = selector_key(r, store_field(r, item, "key"), s, field, &use)))
		e->key = xstrdup(s);

	subpath(field, path, ".operator");
	op = store_required_scalar(r, item, "operator", field, EXPECT_OPERATOR);
	for (size_t i = 0; op && i < sizeof(operators) / sizeof(operators[0]); i++)
		if (!strcmp(op, operators[i]))
			found = i;
	if (op && found < 0)
		store_problem(
		    r, store_field(r, item, "operator"),
		    "%s \"%s\" is not a selector operator; expected " EXPECT_OPERATOR,
		    field, op);
	e->op = found < 0 ? EW_SELECTOR_IN : found;

	subpath(field, path, ".values");
	n = store_field(r, item, "values");
	values = store_typed(r, n, YAML_SEQUENCE_NODE, field);
	for (size_t i = 0; i < seq_len(values); i++) {
		yaml_node_t *v = seq_item(r, values, i);

		subpath(value_path, field, "[%zu]", i);
		if ((s = store_scalar(r, v, value_path)) &&
		    store_check_label_value(r, v, e->key ?: "?", s, value_path))
			*array_push(e->values, e->n_values) = xstrdup(s);
	}
	if (found < 0 || (n && !values))
		return;
	if ((found == EW_SELECTOR_IN || found == EW_SELECTOR_NOT_IN) && !seq_len(values))
		store_problem(r, values ?: item,
			      "%s is %s; expected at least one value for operator %s",
			      field, n ? "empty" : "missing", op);
	if ((found == EW_SELECTOR_EXISTS || found == EW_SELECTOR_DOES_NOT_EXIST) &&
	    seq_len(values))
		store_problem(r, values,
			      "%s must be empty for operator %s; expected no values",
			      field, op);
}

/* n (NULL: absent, nothing to read) as a label selector at path */
static void read_selector(struct reader *r, yaml_node_t *n, const char *path,
			  enum selector_use use, struct ew_selector *sel)
{
	static const char *const fields[] = {"matchLabels", "matchExpressions", NULL};
	yaml_node_t *map = store_typed(r, n, YAML_MAPPING_NODE, path), *exprs, *item;
	char field[POLICY_PATH], list_path[POLICY_PATH];

	if (!map)
		return;
	check_fields(r, map, path, "a label selector", fields,
		     use != SELECTOR_KUBERNETES);
	subpath(field, path, ".matchLabels");
	store_read_label_map_keys(
	    r,
	    store_typed(r, store_field(r, map, "matchLabels"), YAML_MAPPING_NODE, field),
	    field, selector_key, &use, &sel->match_labels);

	exprs = list_field(r, map, "matchExpressions", path, list_path);
	for (size_t i = 0; i < seq_len(exprs); i++)
		if ((item = mapping_item(r, exprs, i, list_path, field)))
			read_expression(r, item, field, use,
					array_push(sel->exprs, sel->n_exprs));
}

/* The key of the Namespace's label a Cilium peer key stands for; NULL for a
 * pod label. */
static const char *namespace_key(const char *key)
{
	if (!strcmp(key, CILIUM_NS_KEY))
		return NS_NAME_LABEL;
	if (!strncmp(key, CILIUM_NS_LABELS, strlen(CILIUM_NS_LABELS)))
		return key + strlen(CILIUM_NS_LABELS);
	return NULL;
}

/*
 * Moves the namespace terms of a Cilium peer selector (read as
 * SELECTOR_CILIUM_PEER) from pod to ns, as terms on the Namespace's labels. As
 * in Cilium, a peer whose selector does not name io.kubernetes.pod.namespace
 * is in the policy's namespace.
 */
static void split_namespace_terms(struct ew_selector *pod, struct ew_selector *ns,
				  const char *policy_ns)
{
	struct ew_labels labels = pod->match_labels;
	const char *own_name;
	bool named = false;
	size_t kept = 0;

	pod->match_labels = (struct ew_labels){0};
	for (size_t i = 0; i < labels.n; i++) {
		const char *key = labels.items[i].key, *ns_key = namespace_key(key);

		named |= !strcmp(key, CILIUM_NS_KEY);
		store_labels_set(ns_key ? &ns->match_labels : &pod->match_labels,
				 ns_key ?: key, labels.items[i].value);
	}
	store_labels_free(&labels);
	for (size_t i = 0; i < pod->n_exprs; i++) {
		struct ew_selector_expr *e = &pod->exprs[i], *moved;
		const char *ns_key =
		    e->key ? namespace_key(e->key) : NULL; /* NULL: bad */

		if (!ns_key) {
			pod->exprs[kept++] = *e;
			continue;
		}
		named |= !strcmp(e->key, CILIUM_NS_KEY);
		moved = array_push(ns->exprs, ns->n_exprs);
		*moved = *e;
		moved->key = xstrdup(ns_key);
		free(e->key);
	}
	pod->n_exprs = kept;
	if (named)
		return;
	own_name = ew_labels_get(&ns->match_labels, NS_NAME_LABEL);
	if (!own_name || !strcmp(own_name, policy_ns)) {
		store_labels_set(&ns->match_labels, NS_NAME_LABEL, policy_ns);
	} else { /* both must hold: an In term, as the label is taken */
		struct ew_selector_expr *e = array_push(ns->exprs, ns->n_exprs);

		e->key = xstrdup(NS_NAME_LABEL);
		e->op = EW_SELECTOR_IN;
		*array_push(e->values, e->n_values) = xstrdup(policy_ns);
	}
}

/* --- addresses -------------------------------------------------------------------- */

#define EXPECT_CIDR "an IPv4 address and a prefix length from 0 to 32, such as 10.0.0.0/8"

static uint32_t prefix_mask(uint8_t len)
{
	return len ? htonl(~0u << (32 - len)) : 0;
}

/* n as an IPv4 CIDR, host bits cleared; an address alone (a /32) when
 * ip_ok. False when n is NULL or bad (reported). */
static bool read_cidr(struct reader *r, yaml_node_t *n, const char *path, bool ip_ok,
		      struct ew_cidr *c)
{
	const char *s = store_scalar(r, n, path), *slash;
	char addr[INET_ADDRSTRLEN];
	unsigned long len = 32;
	uint32_t ip;

	if (!s)
		return false;
	if (strchr(s, ':')) {
		store_problem(
		    r, n,
		    "%s \"%s\" is an IPv6 CIDR, which is not supported: edgewire "
		    "enforces policy for IPv4; expected " EXPECT_CIDR,
		    path, s);
		return false;
	}
	slash = strchr(s, '/');
	if ((!slash && !ip_ok) ||
	    (slash && (slash - s >= (long)sizeof(addr) ||
		       !store_parse_number(slash + 1, 0, 32, &len)))) {
		store_problem(r, n,
			      "%s \"%s\" is not an IPv4 CIDR; expected " EXPECT_CIDR,
			      path, s);
		return false;
	}
	snprintf(addr, sizeof(addr), "%.*s", slash ? (int)(slash - s) : (int)strlen(s),
		 s);
	if (ew_parse_ipv4(addr, &ip)) {
		store_problem(r, n,
			      "%s \"%s\" is not an IPv4 CIDR; expected " EXPECT_CIDR,
			      path, s);
		return false;
	}
	c->prefixlen = len;
	c->addr = ip & prefix_mask(len);
	return true;
}

/* An ipBlock, or a Cilium CIDR set entry: each except inside cidr, and for
 * Kubernetes (not Cilium) smaller than it. */
static void read_ip_block(struct reader *r, yaml_node_t *map, const char *path,
			  bool cilium, struct ew_policy_peer *peer)
{
	static const char *const fields[] = {"cidr", "except", NULL};
	yaml_node_t *cidr_node = store_field(r, map, "cidr"), *excepts, *item;
	char field[POLICY_PATH], list_path[POLICY_PATH];
	const char *cidr, *except;
	bool cidr_ok;

	check_fields(r, map, path, cilium ? "a CIDR set entry" : "an ipBlock", fields,
		     cilium);
	peer->has_ip_block = true;
	subpath(field, path, ".cidr");
	if (!cidr_node)
		store_problem(r, map, "%s is missing; expected " EXPECT_CIDR, field);
	cidr_ok = read_cidr(r, cidr_node, field, false, &peer->cidr);
	cidr = cidr_ok ? (const char *)cidr_node->data.scalar.value : NULL;

	excepts = list_field(r, map, "except", path, list_path);
	for (size_t i = 0; i < seq_len(excepts); i++) {
		struct ew_cidr *x = array_push(peer->except, peer->n_except);

		item = seq_item(r, excepts, i);
		subpath(field, list_path, "[%zu]", i);
		if (!read_cidr(r, item, field, false, x) || !cidr_ok)
			continue;
		except = (const char *)item->data.scalar.value;
		if (x->prefixlen < peer->cidr.prefixlen ||
		    !ew_cidr_contains(peer->cidr.addr, peer->cidr.prefixlen, x->addr))
			store_problem(r, item,
				      "%s %s is not inside cidr %s; expected a block "
				      "inside %s",
				      field, except, cidr, cidr);
		else if (!cilium && x->prefixlen == peer->cidr.prefixlen)
			store_problem(
			    r, item,
			    "%s %s is not smaller than cidr %s; expected a block "
			    "strictly inside %s",
			    field, except, cidr, cidr);
	}
}

/* --- ports ------------------------------------------------------------------------ */

#define EXPECT_PROTOCOL_CILIUM "TCP, UDP, SCTP or ANY"

/* port (a number from min to 65535, or a port name, case-insensitive for
 * Cilium) and endPort (only with a number) of item */
static void read_port_range(struct reader *r, yaml_node_t *item, const char *path,
			    bool cilium, struct ew_policy_port *p)
{
	unsigned long min = cilium ? 0 : 1, end; /* Cilium's 0: every port, unset */
	yaml_node_t *n = store_field(r, item, "port");
	char field[POLICY_PATH], name[16];
	bool numeric = false;
	const char *s;

	subpath(field, path, ".port");
	s = store_scalar(r, n, field);
	if (!n && cilium)
		store_problem(r, item,
			      "%s is missing; expected a port number from 0 (every port) "
			      "to 65535 or a port name",
			      field);
	if (s && *s && strspn(s, "0123456789") == strlen(s)) {
		numeric = store_parse_number(s, min, 65535, &end);
		p->port = numeric ? end : 0;
	} else if (s && strlen(s) < sizeof(name)) {
		for (size_t i = 0; i <= strlen(s); i++)
			name[i] = cilium ? tolower((unsigned char)s[i]) : s[i];
		if (store_is_port_name(name))
			p->name = xstrdup(name);
	}
	if (s && !numeric && !p->name) {
		store_problem(
		    r, n,
		    "%s \"%s\" is not valid; expected a port number from %lu to "
		    "65535 or " EXPECT_PORT_NAME,
		    field, s, min);
		return;
	}

	subpath(field, path, ".endPort");
	if (store_read_number(r, item, "endPort", field, "port", min, 65535, &end) <= 0 ||
	    (cilium && !end))
		return; /* absent, bad (reported), or Cilium's unset */
	if (!p->port)
		store_problem(
		    r, store_field(r, item, "endPort"),
		    "%s is set, but %s.port is %s; expected endPort only with a "
		    "port number from 1 to 65535",
		    field, path,
		    p->name ? "a port name"
		    : s	    ? "0 (every port)"
			    : "absent");
	else if (end < p->port)
		store_problem(
		    r, store_field(r, item, "endPort"),
		    "%s %lu is below port %u; expected a number from %u to 65535", field,
		    end, p->port, p->port);
	else
		p->end_port = end;
}

/* TCP, UDP, SCTP, or 0 for ANY and when absent: TCP and UDP */
static uint8_t read_cilium_protocol(struct reader *r, yaml_node_t *item, const char *path)
{
	static const uint8_t protos[] = {EW_PROTO_TCP, EW_PROTO_UDP, EW_PROTO_SCTP};
	yaml_node_t *n = store_field(r, item, "protocol");
	const char *s = store_scalar(r, n, path);

	if (!s || !strcmp(s, "ANY"))
		return 0;
	for (size_t i = 0; i < sizeof(protos); i++)
		if (!strcmp(s, store_protocol_name(protos[i])))
			return protos[i];
	store_problem(
	    r, n,
	    "%s \"%s\" is not a supported protocol; expected " EXPECT_PROTOCOL_CILIUM,
	    path, s);
	return 0;
}

/* A port of a NetworkPolicy rule, or of a Cilium toPorts entry */
static void read_policy_port(struct reader *r, yaml_node_t *item, const char *path,
			     bool cilium, struct ew_policy_port *p)
{
	static const char *const fields[] = {"protocol", "port", "endPort", NULL};
	char field[POLICY_PATH];

	check_fields(r, item, path, cilium ? "a port of toPorts" : "a NetworkPolicy port",
		     fields, cilium);
	subpath(field, path, ".protocol");
	p->protocol = cilium ? read_cilium_protocol(r, item, field)
			     : store_read_protocol(r, item, field, true);
	read_port_range(r, item, path, cilium, p);
}

/* --- L7 ------------------------------------------------------------------------- */

/* A regular expression field of an http rule, compiled as the proxy
 * compiles it, so a bad one is reported here, where it was written. */
static char *read_http_regex(struct reader *r, yaml_node_t *item, const char *key,
			     const char *path)
{
	char field[POLICY_PATH], err[192];
	yaml_node_t *n = store_field(r, item, key);
	struct ew_http_rule_spec spec = {0};
	struct ew_http_rule rule;
	const char *s;

	subpath(field, path, ".%s", key);
	if (!(s = store_scalar(r, n, field)))
		return NULL;
	*(!strcmp(key, "method") ? &spec.method : !strcmp(key, "path") ? &spec.path
								       : &spec.host) = s;
	if (ew_http_rule_compile(&rule, 0, &spec, err, sizeof(err))) {
		store_problem(r, n,
			      "%s \"%s\" is not a valid regular expression (%s); "
			      "expected a POSIX extended regular expression, matched "
			      "against the whole %s",
			      field, s, err, key);
		return NULL;
	}
	ew_http_rule_free(&rule);
	return xstrdup(s);
}

/* headers: "Name" or "Name: value", a header name being a token. */
static void read_http_headers(struct reader *r, yaml_node_t *item, const char *path,
			      struct ew_http_match *h)
{
	char list_path[POLICY_PATH], field[POLICY_PATH];
	yaml_node_t *list = list_field(r, item, "headers", path, list_path);
	const char *s;

	for (size_t i = 0; i < seq_len(list); i++) {
		yaml_node_t *n = seq_item(r, list, i);
		size_t name_len;

		subpath(field, list_path, "[%zu]", i);
		if (!(s = store_scalar(r, n, field)))
			continue;
		name_len = strcspn(s, ":");
		if (!name_len || strcspn(s, " \t") < name_len) {
			store_problem(r, n,
				      "%s \"%s\" is not a header; expected \"Name\" or "
				      "\"Name: value\"",
				      field, s);
			continue;
		}
		if (h->n_headers == EW_HTTP_RULE_MAX_HEADERS) {
			store_problem(r, n,
				      "%s \"%s\" is one header too many; expected at "
				      "most %d headers per http rule",
				      field, s, EW_HTTP_RULE_MAX_HEADERS);
			continue;
		}
		*array_push(h->headers, h->n_headers) = xstrdup(s);
	}
}

/* rules: of a toPorts entry: http only. */
static void read_l7_rules(struct reader *r, yaml_node_t *rules, const char *path,
			  struct ew_policy_port *proto)
{
	static const char *const fields[] = {"http", NULL};
	static const char *const http_fields[] = {"method", "path", "host", "headers", NULL};
	char list_path[POLICY_PATH], field[POLICY_PATH];
	yaml_node_t *http, *item;

	if (!store_typed(r, rules, YAML_MAPPING_NODE, path))
		return;
	check_fields(r, rules, path, "L7 rules (edgewire enforces HTTP only)", fields, true);
	http = list_field(r, rules, "http", path, list_path);
	if (!seq_len(http))
		store_problem(r, http ?: rules,
			      "%s is %s; expected at least one http rule, such as "
			      "{method: GET, path: \"/public\"} ({} allows every request)",
			      list_path, http ? "empty" : "missing");
	for (size_t i = 0; i < seq_len(http); i++) {
		struct ew_http_match *h;

		if (!(item = mapping_item(r, http, i, list_path, field)))
			continue;
		check_fields(r, item, field, "an http rule", http_fields, true);
		h = array_push(proto->http, proto->n_http);
		h->method = read_http_regex(r, item, "method", field);
		h->path = read_http_regex(r, item, "path", field);
		h->host = read_http_regex(r, item, "host", field);
		read_http_headers(r, item, field, h);
	}
}

/* The port an L7 rule can hold: one TCP port (ANY is taken as TCP). */
static void check_l7_port(struct reader *r, yaml_node_t *item, const char *path,
			  struct ew_policy_port *p)
{
	if (p->protocol && p->protocol != EW_PROTO_TCP)
		store_problem(r, item,
			      "%s is %s, but HTTP rules need TCP; expected protocol TCP "
			      "with rules.http",
			      path, store_protocol_name(p->protocol));
	else if ((!p->port && !p->name) || p->end_port)
		store_problem(r, item,
			      "%s names %s, but HTTP rules apply to one port; expected "
			      "one port number or name with rules.http",
			      path, p->end_port ? "a port range" : "every port");
	p->protocol = EW_PROTO_TCP;
}

static struct ew_http_match http_match_copy(const struct ew_http_match *h)
{
	struct ew_http_match c = {
		.method = h->method ? xstrdup(h->method) : NULL,
		.path = h->path ? xstrdup(h->path) : NULL,
		.host = h->host ? xstrdup(h->host) : NULL,
	};

	for (size_t i = 0; i < h->n_headers; i++)
		*array_push(c.headers, c.n_headers) = xstrdup(h->headers[i]);
	return c;
}

/* toPorts: every port of each entry, each with the entry's L7 rules */
static void read_cilium_to_ports(struct reader *r, yaml_node_t *to_ports,
				 const char *path, struct ew_policy_rule *rule)
{
	static const char *const fields[] = {"ports", "rules", NULL};
	char entry_path[POLICY_PATH], list_path[POLICY_PATH], field[POLICY_PATH];
	yaml_node_t *entry, *ports, *item, *rules;

	for (size_t k = 0; k < seq_len(to_ports); k++) {
		struct ew_policy_port l7 = {0};

		if (!(entry = mapping_item(r, to_ports, k, path, entry_path)))
			continue;
		check_fields(r, entry, entry_path, "a toPorts entry", fields, true);
		ports = list_field(r, entry, "ports", entry_path, list_path);
		if (!seq_len(ports) && (ports || !store_field(r, entry, "ports")))
			store_problem(r, ports ?: entry,
				      "%s is %s; expected at least one port, such as "
				      "{port: \"80\", protocol: TCP}",
				      list_path, ports ? "empty" : "missing");
		if ((rules = store_field(r, entry, "rules"))) {
			subpath(field, entry_path, ".rules");
			read_l7_rules(r, rules, field, &l7);
		}
		for (size_t i = 0; i < seq_len(ports); i++) {
			struct ew_policy_port *p;
			int problems;

			if (!(item = mapping_item(r, ports, i, list_path, field)))
				continue;
			problems = r->problems;
			p = array_push(rule->ports, rule->n_ports);
			read_policy_port(r, item, field, true, p);
			if (!rules)
				continue;
			/* A port already reported is not what was written. */
			if (r->problems == problems)
				check_l7_port(r, item, field, p);
			for (size_t h = 0; h < l7.n_http; h++)
				*array_push(p->http, p->n_http) = http_match_copy(&l7.http[h]);
		}
		ew_policy_port_free(&l7);
	}
}

/* --- rules ------------------------------------------------------------------------ */

/* The names of a direction in either kind. */
struct direction {
	const char *section; /* ingress, egress */
	const char *peers;   /* NetworkPolicy: from, to */
	/* CiliumNetworkPolicy: its kinds of peers, and every field of a rule */
	const char *endpoints, *cidr, *cidr_set;
	const char *const *cilium_fields;
};

static const char *const cilium_ingress_fields[] = {"fromEndpoints", "fromCIDR",
						    "fromCIDRSet", "toPorts", NULL};
static const char *const cilium_egress_fields[] = {"toEndpoints", "toCIDR", "toCIDRSet",
						   "toPorts", NULL};

static const struct direction ingress = {
    "ingress", "from", "fromEndpoints", "fromCIDR", "fromCIDRSet", cilium_ingress_fields};
static const struct direction egress = {"egress", "to",	       "toEndpoints",
					"toCIDR", "toCIDRSet", cilium_egress_fields};

typedef void rule_read_fn(struct reader *r, yaml_node_t *item, const char *path,
			  const struct direction *dir, const char *ns,
			  struct ew_policy_rule *rule);

/* The rules of the sequence rules at path, one per item. */
static void read_rules(struct reader *r, yaml_node_t *rules, const char *path,
		       rule_read_fn *read_rule, const struct direction *dir,
		       const char *ns, struct ew_policy_rule **out, size_t *n_out)
{
	char field[POLICY_PATH];
	yaml_node_t *item;

	for (size_t i = 0; i < seq_len(rules); i++)
		if ((item = mapping_item(r, rules, i, path, field)))
			read_rule(r, item, field, dir, ns, array_push(*out, *n_out));
}

static void read_k8s_peer(struct reader *r, yaml_node_t *item, const char *path,
			  struct ew_policy_peer *peer)
{
	static const char *const fields[] = {"podSelector", "namespaceSelector",
					     "ipBlock", NULL};
	yaml_node_t *pods = store_field(r, item, "podSelector");
	yaml_node_t *namespaces = store_field(r, item, "namespaceSelector");
	yaml_node_t *ip_block = store_field(r, item, "ipBlock");
	char field[POLICY_PATH];

	check_fields(r, item, path, "a NetworkPolicy peer", fields, false);
	if (!pods && !namespaces && !ip_block) {
		store_problem(r, item,
			      "%s names no peer; expected podSelector, namespaceSelector "
			      "(or both), or ipBlock",
			      path);
		return;
	}
	if (ip_block && (pods || namespaces)) {
		store_problem(r, ip_block,
			      "%s.ipBlock may not be combined with podSelector or "
			      "namespaceSelector; expected an ipBlock alone, or the "
			      "selectors in a peer of their own",
			      path);
		return;
	}
	subpath(field, path, ".ipBlock");
	if (store_typed(r, ip_block, YAML_MAPPING_NODE, field))
		read_ip_block(r, ip_block, field, false, peer);
	peer->has_pod_selector = pods;
	subpath(field, path, ".podSelector");
	read_selector(r, pods, field, SELECTOR_KUBERNETES, &peer->pod_selector);
	peer->has_ns_selector = namespaces;
	subpath(field, path, ".namespaceSelector");
	read_selector(r, namespaces, field, SELECTOR_KUBERNETES, &peer->ns_selector);
}

/* rule_read_fn of a NetworkPolicy: from (to) and ports; none listed: all */
static void read_k8s_rule(struct reader *r, yaml_node_t *item, const char *path,
			  const struct direction *dir, const char *ns,
			  struct ew_policy_rule *rule)
{
	const char *const fields[] = {dir->peers, "ports", NULL};
	char what[48], list_path[POLICY_PATH], field[POLICY_PATH];
	yaml_node_t *peers, *ports, *it;

	snprintf(what, sizeof(what), "a NetworkPolicy %s rule", dir->section);
	check_fields(r, item, path, what, fields, false);
	peers = list_field(r, item, dir->peers, path, list_path);
	rule->all_peers = !seq_len(peers);
	for (size_t i = 0; i < seq_len(peers); i++)
		if ((it = mapping_item(r, peers, i, list_path, field)))
			read_k8s_peer(r, it, field,
				      array_push(rule->peers, rule->n_peers));
	ports = list_field(r, item, "ports", path, list_path);
	for (size_t i = 0; i < seq_len(ports); i++)
		if ((it = mapping_item(r, ports, i, list_path, field)))
			read_policy_port(r, it, field, false,
					 array_push(rule->ports, rule->n_ports));
}

/* The peer lists of a Cilium rule; Cilium takes one kind per rule. Returns
 * the index of the kind used, -1 for none. */
static int cilium_peer_lists(struct reader *r, yaml_node_t *item, const char *path,
			     const char *const kinds[3], yaml_node_t *lists[3])
{
	char field[POLICY_PATH];
	int used = -1;

	for (int k = 0; k < 3; k++) {
		lists[k] = list_field(r, item, kinds[k], path, field);
		if (lists[k] && !seq_len(lists[k]))
			store_problem(
			    r, lists[k],
			    "%s is empty, which Cilium versions read differently; "
			    "expected at least one %s, or no %s",
			    field,
			    k ? "CIDR"
			      : "selector ({} for every pod of "
				"the namespace)",
			    kinds[k]);
		if (!seq_len(lists[k]))
			continue;
		if (used >= 0)
			store_problem(
			    r, lists[k],
			    "%s: %s together with %s is not supported, as in "
			    "Cilium; expected one of %s, %s or %s per rule, each "
			    "in a rule of its own",
			    path, kinds[k], kinds[used], kinds[0], kinds[1], kinds[2]);
		else
			used = k;
	}
	return used;
}

/* rule_read_fn of a CiliumNetworkPolicy: one kind of peers and toPorts. No
 * peers: all of them with toPorts (an L4-only rule), none without (the rule
 * {} allows nothing, Cilium's way to isolate only). */
static void read_cilium_rule(struct reader *r, yaml_node_t *item, const char *path,
			     const struct direction *dir, const char *ns,
			     struct ew_policy_rule *rule)
{
	const char *const kinds[3] = {dir->endpoints, dir->cidr, dir->cidr_set};
	char what[48], field[POLICY_PATH];
	yaml_node_t *lists[3], *to_ports, *it;
	int used;

	snprintf(what, sizeof(what), "a CiliumNetworkPolicy %s rule", dir->section);
	check_fields(r, item, path, what, dir->cilium_fields, true);
	used = cilium_peer_lists(r, item, path, kinds, lists);
	for (size_t i = 0; used >= 0 && i < seq_len(lists[used]); i++) {
		struct ew_policy_peer *peer = array_push(rule->peers, rule->n_peers);

		it = seq_item(r, lists[used], i);
		subpath(field, path, ".%s[%zu]", kinds[used], i);
		if (used == 0) {
			peer->has_pod_selector = peer->has_ns_selector = true;
			read_selector(r, it, field, SELECTOR_CILIUM_PEER,
				      &peer->pod_selector);
			split_namespace_terms(&peer->pod_selector, &peer->ns_selector,
					      ns);
		} else if (used == 1) {
			peer->has_ip_block = read_cidr(r, it, field, true, &peer->cidr);
		} else if (store_typed(r, it, YAML_MAPPING_NODE, field)) {
			read_ip_block(r, it, field, true, peer);
		}
	}
	to_ports = list_field(r, item, "toPorts", path, field);
	read_cilium_to_ports(r, to_ports, field, rule);
	rule->all_peers = used < 0 && seq_len(to_ports);
}

/* --- NetworkPolicy ---------------------------------------------------------------- */

#define EXPECT_SELECTOR "a label selector, {} for every pod of the namespace"

/* spec.policyTypes into *ingress and *egress; false when it lists none. */
static bool read_policy_types(struct reader *r, yaml_node_t *spec, bool *ingress,
			      bool *egress)
{
	yaml_node_t *types = store_typed(r, store_field(r, spec, "policyTypes"),
					 YAML_SEQUENCE_NODE, "spec.policyTypes");
	char path[48];
	const char *s;

	if (seq_len(types) > 2)
		store_problem(r, types,
			      "spec.policyTypes lists %zu types; expected at most two: "
			      "Ingress and Egress",
			      seq_len(types));
	for (size_t i = 0; i < seq_len(types); i++) {
		yaml_node_t *item = seq_item(r, types, i);

		snprintf(path, sizeof(path), "spec.policyTypes[%zu]", i);
		if (!(s = store_scalar(r, item, path)))
			continue;
		if (!strcmp(s, "Ingress"))
			*ingress = true;
		else if (!strcmp(s, "Egress"))
			*egress = true;
		else
			store_problem(
			    r, item,
			    "%s \"%s\" is not a policy type; expected Ingress or "
			    "Egress",
			    path, s);
	}
	return seq_len(types);
}

static void rules_free(struct ew_policy_rule *rules, size_t n);

/* Checks metadata.labels, which a policy does not keep. */
static void check_labels(struct reader *r, yaml_node_t *meta)
{
	struct ew_labels labels = {0};

	store_read_labels(r, meta, &labels);
	store_labels_free(&labels);
}

void store_read_network_policy(struct reader *r, yaml_node_t *obj, struct ew_model *v)
{
	static const char *const fields[] = {"podSelector", "policyTypes", "ingress",
					     "egress", NULL};
	struct ew_network_policy *p = array_push(v->policies, v->n_policies);
	yaml_node_t *spec, *selector, *ingress_rules, *egress_rules;

	p->kind = EW_POLICY_KUBERNETES;
	check_labels(r, store_read_metadata(r, obj, "NetworkPolicy", NAME_DNS_SUBDOMAIN,
					    &p->name, &p->namespace, &p->origin));
	spec = store_field(r, obj, "spec");
	if (!spec)
		store_problem(r, obj,
			      "spec is missing; expected a mapping with at least "
			      "podSelector (" EXPECT_SELECTOR ")");
	if (!store_typed(r, spec, YAML_MAPPING_NODE, "spec"))
		return;
	check_fields(r, spec, "spec", "a NetworkPolicy spec", fields, false);
	selector = store_field(r, spec, "podSelector");
	if (!selector)
		store_problem(r, spec,
			      "spec.podSelector is missing; expected " EXPECT_SELECTOR);
	read_selector(r, selector, "spec.podSelector", SELECTOR_KUBERNETES,
		      &p->pod_selector);

	ingress_rules = store_typed(r, store_field(r, spec, "ingress"),
				    YAML_SEQUENCE_NODE, "spec.ingress");
	egress_rules = store_typed(r, store_field(r, spec, "egress"), YAML_SEQUENCE_NODE,
				   "spec.egress");
	read_rules(r, ingress_rules, "spec.ingress", read_k8s_rule, &ingress,
		   p->namespace, &p->ingress, &p->n_ingress);
	read_rules(r, egress_rules, "spec.egress", read_k8s_rule, &egress, p->namespace,
		   &p->egress, &p->n_egress);

	/* the API server's defaults: Ingress, and Egress when it has rules */
	if (!read_policy_types(r, spec, &p->isolates_ingress, &p->isolates_egress)) {
		p->isolates_ingress = true;
		p->isolates_egress = seq_len(egress_rules);
	}
	/* the rules of a direction the policy is not about do not apply */
	if (!p->isolates_ingress) {
		rules_free(p->ingress, p->n_ingress);
		p->ingress = NULL;
		p->n_ingress = 0;
	}
	if (!p->isolates_egress) {
		rules_free(p->egress, p->n_egress);
		p->egress = NULL;
		p->n_egress = 0;
	}
}

/* --- CiliumNetworkPolicy ---------------------------------------------------------- */

/* One rule of the policy (spec, or an item of specs) as a policy of its own,
 * with the namespace, name and origin of obj. */
static void read_cilium_spec(struct reader *r, yaml_node_t *spec, const char *path,
			     const struct ew_network_policy *obj, struct ew_model *v)
{
	static const char *const fields[] = {
	    "endpointSelector", "ingress",     "egress", "enableDefaultDeny",
	    "labels",		"description", NULL};
	static const char *const default_deny_fields[] = {"ingress", "egress", NULL};
	struct ew_network_policy *p = array_push(v->policies, v->n_policies);
	yaml_node_t *selector, *ingress_rules, *egress_rules, *default_deny;
	char field[POLICY_PATH];

	p->kind = EW_POLICY_CILIUM;
	p->namespace = xstrdup(obj->namespace);
	p->name = xstrdup(obj->name);
	p->origin = obj->origin;
	p->origin.file = xstrdup(obj->origin.file);
	check_fields(r, spec, path, "a CiliumNetworkPolicy rule", fields, true);

	subpath(field, path, ".endpointSelector");
	selector = store_field(r, spec, "endpointSelector");
	if (!selector && !store_field(r, spec, "nodeSelector"))
		store_problem(r, spec, "%s is missing; expected " EXPECT_SELECTOR, field);
	read_selector(r, selector, field, SELECTOR_CILIUM_SUBJECT, &p->pod_selector);

	ingress_rules = list_field(r, spec, "ingress", path, field);
	read_rules(r, ingress_rules, field, read_cilium_rule, &ingress, p->namespace,
		   &p->ingress, &p->n_ingress);
	egress_rules = list_field(r, spec, "egress", path, field);
	read_rules(r, egress_rules, field, read_cilium_rule, &egress, p->namespace,
		   &p->egress, &p->n_egress);

	/* Cilium's default: isolated in each direction the rule has rules for */
	subpath(field, path, ".enableDefaultDeny");
	default_deny = store_typed(r, store_field(r, spec, "enableDefaultDeny"),
				   YAML_MAPPING_NODE, field);
	check_fields(r, default_deny, field, "enableDefaultDeny", default_deny_fields,
		     true);
	subpath(field, path, ".enableDefaultDeny.ingress");
	p->isolates_ingress =
	    store_read_bool(r, default_deny, "ingress", field, seq_len(ingress_rules));
	subpath(field, path, ".enableDefaultDeny.egress");
	p->isolates_egress =
	    store_read_bool(r, default_deny, "egress", field, seq_len(egress_rules));
}

void store_read_cilium_network_policy(struct reader *r, yaml_node_t *obj,
				      struct ew_model *v)
{
	struct ew_network_policy o = {.kind = EW_POLICY_CILIUM};
	yaml_node_t *spec, *specs_node, *specs, *item;
	char path[32];

	check_labels(r, store_read_metadata(r, obj, "CiliumNetworkPolicy",
					    NAME_DNS_SUBDOMAIN, &o.name, &o.namespace,
					    &o.origin));
	spec = store_field(r, obj, "spec");
	specs_node = store_field(r, obj, "specs");
	specs = store_typed(r, specs_node, YAML_SEQUENCE_NODE, "specs");
	if (!spec && !specs_node)
		store_problem(r, obj,
			      "spec is missing; expected a rule with at least "
			      "endpointSelector, or specs: a list of such rules");
	else if (!spec && specs && !seq_len(specs))
		store_problem(r, specs,
			      "specs is empty; expected at least one rule with at least "
			      "endpointSelector");
	if (store_typed(r, spec, YAML_MAPPING_NODE, "spec"))
		read_cilium_spec(r, spec, "spec", &o, v);
	for (size_t i = 0; i < seq_len(specs); i++) {
		item = seq_item(r, specs, i);
		snprintf(path, sizeof(path), "specs[%zu]", i);
		if (store_typed(r, item, YAML_MAPPING_NODE, path))
			read_cilium_spec(r, item, path, &o, v);
	}
	free(o.namespace);
	free(o.name);
	free(o.origin.file);
}

/* --- freeing ---------------------------------------------------------------------- */

static void selector_free(struct ew_selector *s)
{
	store_labels_free(&s->match_labels);
	for (size_t i = 0; i < s->n_exprs; i++) {
		free(s->exprs[i].key);
		for (size_t j = 0; j < s->exprs[i].n_values; j++)
			free(s->exprs[i].values[j]);
		free(s->exprs[i].values);
	}
	free(s->exprs);
}

static void rules_free(struct ew_policy_rule *rules, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < rules[i].n_peers; j++) {
			selector_free(&rules[i].peers[j].pod_selector);
			selector_free(&rules[i].peers[j].ns_selector);
			free(rules[i].peers[j].except);
		}
		free(rules[i].peers);
		for (size_t j = 0; j < rules[i].n_ports; j++)
			ew_policy_port_free(&rules[i].ports[j]);
		free(rules[i].ports);
	}
	free(rules);
}

void store_policy_free(struct ew_model *v)
{
	for (size_t i = 0; i < v->n_policies; i++) {
		struct ew_network_policy *p = &v->policies[i];

		free(p->namespace);
		free(p->name);
		selector_free(&p->pod_selector);
		rules_free(p->ingress, p->n_ingress);
		rules_free(p->egress, p->n_egress);
		free(p->origin.file);
	}
	free(v->policies);
}
