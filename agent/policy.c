// SPDX-License-Identifier: Apache-2.0
/*
 * Policy compile, with the semantics of Kubernetes NetworkPolicy (Cilium's
 * L3/L4 policies arrive normalised into the same structs):
 *
 *   1. identities: pods with an IP are grouped by label set (namespace +
 *      labels); policy CIDRs (every ipBlock cidr and except) get one each;
 *   2. ew_ipcache: every pod, node and CIDR address -> its identity and the
 *      identity of the longest policy CIDR that holds it (cidr_identity);
 *   3. ew_policy: for each policy, each identity with pods on this node it
 *      selects, each direction it isolates, each rule: peers x ports, one
 *      entry each (a port range is a few prefix entries);
 *   4. each pod of this node: its identity and isolation.
 *
 * Identity numbers. An identity is named by text: for pods "<namespace>\0"
 * then "<key>=<value>\0" per label in key order, for a CIDR
 * "cidr:a.b.c.d/n". Its number is FNV-1a-64 of the text modulo the numbers
 * in [EW_IDENTITY_FIRST_POD, 2^24); when taken, the next free one. Names are
 * numbered in order of their hash, so a number changes only when its label
 * set does, or when a new name lands on it first (a 24-bit collision). So the
 * numbers survive restarts, and edits that do not touch that label set.
 * 0.0.0.0/0 is EW_IDENTITY_WORLD itself.
 *
 * Rule numbers (ew_policy_entry.rule), for bpfctl:
 *
 *   policy << 12 | dir << 11 | index
 *
 * policy: a number in [1, 2^20) for the policy, the same way from the text
 * "<kind>\0<namespace>\0<name>" (kind "NetworkPolicy" or
 * "CiliumNetworkPolicy"); dir: enum ew_dir; index: the rule's position in
 * spec.ingress or spec.egress, 2047 for the 2048th and later. Numbers are
 * stable while the policy is, so adding a policy rewrites no other entry.
 * Where rules give the same key, the entry names the smallest rule.
 *
 * Peers that are CIDRs. A packet's cidr_identity is the identity of the
 * longest policy CIDR holding the address (or world). An address is in an
 * ipBlock exactly when that longest prefix lies inside the block's cidr and
 * inside none of its excepts (every cidr and except is a policy CIDR, and
 * prefixes holding one address nest). So an ipBlock allows the identities of
 * all policy CIDRs within it and outside its excepts: an except narrows only
 * its own block, another block or policy may allow the same addresses.
 *
 * Named ports are resolved on the destination pod: ingress on the subject's
 * pods, egress on each peer's, so an egress named port gives entries only for
 * pod peers that define it (an ipBlock or all-peers rule included). Such an
 * ipBlock may hold some pods of an identity and not others: the pods inside
 * then get their /32 as a policy CIDR, and the entries name its identity.
 * Pods of one identity otherwise share entries: where they resolve a name to
 * different ports, each of them gets all of those ports.
 *
 * The model is read through indexes built here (pods by identity,
 * identities by namespace, CIDRs by address) and each distinct selection of
 * identities is evaluated once, so the cost follows the size of the model
 * and of the output, not pods times rules.
 */
#include "policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "maglev.h"
#include "netutil.h"

#define IDENTITY_LIMIT	  (1u << 24) /* identities are below 2^24 */
#define POLICY_LIMIT	  (1u << 20) /* policy numbers are below 2^20 */
#define RULE_POLICY_SHIFT 12
#define RULE_DIR_SHIFT	  11
#define RULE_INDEX_MAX	  2047u

/* Key bits: subject, peer and dir always count; proto is 8 more; port 16. */
#define PREFIX_PROTO_ANY 72
#define PREFIX_PORT_ANY	 80

#define METADATA_NAME "kubernetes.io/metadata.name"
#define NO_NS	      ((size_t)-1)

/* A namespace that has pods or is in the store. */
struct ns_ref {
	const char *name;
	const struct ew_labels *labels;
	size_t id_lo, id_hi; /* its identities: c->ids[id_lo..id_hi) */
};

/* A pod with an identity: it has an IP and its own network. */
struct pod_ref {
	const struct ew_pod *pod;
	char *text; /* the identity's name */
	size_t len;
	size_t identity; /* index into c->ids */
};

struct identity {
	uint32_t number;
	uint32_t flags;	       /* EW_EP_*_ISOLATED of policies selecting it */
	bool local;	       /* has a pod on this node */
	size_t pod_lo, pod_hi; /* its pods: c->pods[pod_lo..pod_hi) */
};

struct cidr_ref {
	uint32_t addr; /* host byte order */
	uint8_t len;
	uint32_t number;
	char text[sizeof("cidr:255.255.255.255/32")];
};

/* Something to number: its name, and where the number goes. */
struct naming {
	uint64_t hash;
	const char *text;
	size_t len;
	uint32_t *number;
};

/*
 * A selection of identities: those of namespace scope matching pod_sel, or
 * (scope NO_NS) those in namespaces matching ns_sel that match pod_sel. A
 * NULL selector selects everything. Evaluated once, kept in c->selected.
 */
struct selection {
	uint64_t hash;
	size_t scope;
	const struct ew_selector *pod_sel, *ns_sel;
	size_t off, n; /* c->selected[off..off+n) */
	bool used;
};

struct entry {
	struct ew_policy_key key;
	uint32_t rule;
	const struct ew_policy_port *l7; /* its HTTP rules; NULL: L4 */
};

/* What a policy port allows, for one protocol: proto 0 is every protocol
 * (a rule without ports); [lo, hi] are host byte order. */
struct port_spec {
	uint8_t proto;
	uint32_t lo, hi;
	const char *name;
};

struct compile {
	const struct ew_model *m;
	const struct ew_policy_config *cfg;
	struct ew_policy_desired *d;
	struct ew_diags *diags;

	struct pod_ref *pods;
	size_t n_pods;
	struct identity *ids;
	size_t n_ids;
	struct ns_ref *ns;
	size_t n_ns;
	struct ew_label *ns_name_labels; /* of namespaces not in the store */
	struct ew_labels *ns_name_sets;
	struct cidr_ref *cidrs; /* by address, then length */
	size_t n_cidrs;
	uint32_t *policy_numbers;

	struct selection *cache;
	size_t cache_mask;
	size_t *selected;
	size_t n_selected, cap_selected;

	/* The rule being compiled: its subjects (the local identities the
	 * policy selects) and its peers, identities and other numbers apart. */
	size_t *subjects;
	size_t n_subjects;
	size_t *peer_ids;
	size_t n_peer_ids;
	uint32_t *peer_numbers;
	size_t n_peer_numbers;
	uint32_t *id_mark, *cidr_mark, mark; /* set membership of peers */
	uint16_t named[64];		     /* ports a name resolved to */
	size_t n_named;
	const struct ew_policy_port *l7;     /* the port being compiled, if L7 */

	struct entry *entries;
	size_t n_entries, cap_entries;
};

/* Makes room in the array at *items for one more of size bytes beyond n. */
static int grow(void *items, size_t *cap, size_t n, size_t size)
{
	void *old, *grown;
	size_t want;

	memcpy(&old, items, sizeof(old));
	if (old && n < *cap)
		return 0;
	want = *cap ? *cap * 2 : 64;
	grown = realloc(old, want * size);
	if (!grown)
		return -1;
	memcpy(items, &grown, sizeof(grown));
	*cap = want;
	return 0;
}

static uint32_t prefix_mask(uint8_t len)
{
	return len ? ~0u << (32 - len) : 0;
}

static bool prefix_holds(uint32_t net, uint8_t len, uint32_t addr)
{
	return (addr & prefix_mask(len)) == net;
}

/* The network of a policy CIDR, host byte order. */
static uint32_t cidr_net(const struct ew_cidr *cidr)
{
	return ntohl(cidr->addr) & prefix_mask(cidr->prefixlen);
}

/* ---- numbering ------------------------------------------------------------ */

static struct naming naming_of(const char *text, size_t len, uint32_t *number)
{
	return (struct naming){ .hash = ew_fnv1a64(EW_FNV64_OFFSET, text, len),
				.text = text,
				.len = len,
				.number = number };
}

static int cmp_naming(const void *x, const void *y)
{
	const struct naming *a = x, *b = y;
	int c;

	if (a->hash != b->hash)
		return a->hash < b->hash ? -1 : 1;
	c = memcmp(a->text, b->text, a->len < b->len ? a->len : b->len);
	if (c || a->len != b->len)
		return c ? c : (a->len > b->len) - (a->len < b->len);
	return (a->number > b->number) - (a->number < b->number);
}

/* Gives every item a distinct number in [first, limit): its hash's, or the
 * next free one after it, in order of hash. Sorts items. */
static int assign_numbers(struct naming *items, size_t n, uint32_t first, uint32_t limit)
{
	size_t cap = 16, mask;
	uint32_t *taken;

	while (cap < 2 * n + 1)
		cap *= 2;
	mask = cap - 1;
	taken = calloc(cap, sizeof(*taken)); /* 0: free; numbers are never 0 */
	if (!taken)
		return -1;
	if (n)
		qsort(items, n, sizeof(*items), cmp_naming);
	for (size_t i = 0; i < n; i++) {
		uint32_t num = first + (uint32_t)(items[i].hash % (limit - first));

		for (;;) {
			size_t slot = (num * 2654435761u) & mask;

			while (taken[slot] && taken[slot] != num)
				slot = (slot + 1) & mask;
			if (!taken[slot]) {
				taken[slot] = num;
				break;
			}
			num = num + 1 < limit ? num + 1 : first;
		}
		*items[i].number = num;
	}
	free(taken);
	return 0;
}

/* ---- pods, identities, namespaces ---------------------------------------- */

static int cmp_label_ptr(const void *x, const void *y)
{
	const struct ew_label *a = *(const struct ew_label *const *)x;
	const struct ew_label *b = *(const struct ew_label *const *)y;

	return strcmp(a->key, b->key);
}

/* The identity name of pod: "<ns>\0" and "<key>=<value>\0" by key. */
static int pod_text(const struct ew_pod *pod, struct pod_ref *ref)
{
	const struct ew_labels *l = &pod->labels;
	const struct ew_label **sorted = malloc((l->n + 1) * sizeof(*sorted));
	size_t len = strlen(pod->namespace) + 1, at;
	char *text;

	if (!sorted)
		return -1;
	for (size_t i = 0; i < l->n; i++) {
		sorted[i] = &l->items[i];
		len += strlen(l->items[i].key) + strlen(l->items[i].value) + 2;
	}
	qsort(sorted, l->n, sizeof(*sorted), cmp_label_ptr);
	text = malloc(len);
	if (!text) {
		free(sorted);
		return -1;
	}
	at = (size_t)sprintf(text, "%s", pod->namespace) + 1;
	for (size_t i = 0; i < l->n; i++) {
		const struct ew_label *label = sorted[i];

		at += (size_t)sprintf(text + at, "%s=%s", label->key, label->value);
		at++; /* past its '\0' */
	}
	free(sorted);
	ref->text = text;
	ref->len = len;
	return 0;
}

static int cmp_pod_ref(const void *x, const void *y)
{
	const struct pod_ref *a = x, *b = y;
	int c = memcmp(a->text, b->text, a->len < b->len ? a->len : b->len);

	if (c || a->len != b->len)
		return c ? c : (a->len > b->len) - (a->len < b->len);
	return (a->pod > b->pod) - (a->pod < b->pod);
}

static bool pod_is_local(const struct compile *c, const struct ew_pod *pod)
{
	return c->cfg->node && pod->node_name && !strcmp(pod->node_name, c->cfg->node);
}

/* c->pods sorted by identity name, and c->ids, one per distinct name: so
 * pods of an identity and identities of a namespace are contiguous. */
static int build_identities(struct compile *c)
{
	const struct ew_model *m = c->m;

	c->pods = calloc(m->n_pods + 1, sizeof(*c->pods));
	c->ids = calloc(m->n_pods + 1, sizeof(*c->ids));
	if (!c->pods || !c->ids)
		return -1;
	for (size_t i = 0; i < m->n_pods; i++) {
		const struct ew_pod *pod = &m->pods[i];

		if (!pod->ip || pod->host_network)
			continue;
		c->pods[c->n_pods].pod = pod;
		if (pod_text(pod, &c->pods[c->n_pods]))
			return -1;
		c->n_pods++;
	}
	if (c->n_pods)
		qsort(c->pods, c->n_pods, sizeof(*c->pods), cmp_pod_ref);
	for (size_t i = 0; i < c->n_pods; i++) {
		struct pod_ref *p = &c->pods[i];
		struct identity *id = &c->ids[c->n_ids];

		if (!i || p->len != p[-1].len || memcmp(p->text, p[-1].text, p->len)) {
			*id = (struct identity){ .pod_lo = i };
			c->n_ids++;
		}
		id = &c->ids[c->n_ids - 1];
		id->pod_hi = i + 1;
		id->local |= pod_is_local(c, p->pod);
		p->identity = c->n_ids - 1;
	}
	return 0;
}

static const char *identity_ns(const struct compile *c, size_t id)
{
	return c->pods[c->ids[id].pod_lo].pod->namespace;
}

static const struct ew_labels *identity_labels(const struct compile *c, size_t id)
{
	return &c->pods[c->ids[id].pod_lo].pod->labels;
}

static int cmp_ns_ref(const void *x, const void *y)
{
	const struct ns_ref *a = x, *b = y;

	return strcmp(a->name, b->name);
}

/* Of equal names (the store repeats one), the first in the store first. */
static int cmp_ns_order(const void *x, const void *y)
{
	const struct ns_ref *a = x, *b = y;
	int c = strcmp(a->name, b->name);

	return c ? c : (a->labels > b->labels) - (a->labels < b->labels);
}

/* The index of namespace name in c->ns, or NO_NS. */
static size_t find_ns(const struct compile *c, const char *name)
{
	struct ns_ref key = { .name = name };
	const struct ns_ref *ns =
		c->n_ns ? bsearch(&key, c->ns, c->n_ns, sizeof(*c->ns), cmp_ns_ref)
			: NULL;

	return ns ? (size_t)(ns - c->ns) : NO_NS;
}

/* c->ns: every namespace of the store and of a pod, by name, with the
 * labels namespace selectors see (just kubernetes.io/metadata.name for one
 * the store lacks), and the range of its identities. */
static int build_namespaces(struct compile *c)
{
	const struct ew_model *m = c->m;
	size_t n = 0, n_missing = 0;

	c->ns = calloc(m->n_namespaces + c->n_ids + 1, sizeof(*c->ns));
	c->ns_name_labels = calloc(c->n_ids + 1, sizeof(*c->ns_name_labels));
	c->ns_name_sets = calloc(c->n_ids + 1, sizeof(*c->ns_name_sets));
	if (!c->ns || !c->ns_name_labels || !c->ns_name_sets)
		return -1;
	for (size_t i = 0; i < m->n_namespaces; i++)
		c->ns[n++] = (struct ns_ref){ .name = m->namespaces[i].name,
					      .labels = &m->namespaces[i].labels };
	if (n)
		qsort(c->ns, n, sizeof(*c->ns), cmp_ns_order);
	c->n_ns = n;
	/* Identities come sorted by namespace: one lookup per namespace. */
	for (size_t i = 0; i < c->n_ids; i++) {
		const char *name = identity_ns(c, i);

		if (i && !strcmp(name, identity_ns(c, i - 1)))
			continue;
		if (find_ns(c, name) != NO_NS)
			continue;
		c->ns_name_labels[n_missing] =
			(struct ew_label){ .key = METADATA_NAME, .value = (char *)name };
		c->ns_name_sets[n_missing] =
			(struct ew_labels){ .n = 1,
					    .items = &c->ns_name_labels[n_missing] };
		c->ns[n++] = (struct ns_ref){ .name = name,
					      .labels = &c->ns_name_sets[n_missing++] };
	}
	if (n)
		qsort(c->ns, n, sizeof(*c->ns), cmp_ns_order);
	/* A name the store repeats: the first one counts. */
	c->n_ns = 0;
	for (size_t i = 0; i < n; i++)
		if (!c->n_ns || strcmp(c->ns[c->n_ns - 1].name, c->ns[i].name))
			c->ns[c->n_ns++] = c->ns[i];
	for (size_t i = 0, k = 0; i < c->n_ids; i = k) {
		size_t ns = find_ns(c, identity_ns(c, i));

		for (k = i; k < c->n_ids && !strcmp(identity_ns(c, k), c->ns[ns].name);
		     k++)
			;
		c->ns[ns].id_lo = i;
		c->ns[ns].id_hi = k;
	}
	return 0;
}

/* ---- CIDRs ------------------------------------------------------------------ */

static int cmp_cidr(const void *x, const void *y)
{
	const struct cidr_ref *a = x, *b = y;

	if (a->addr != b->addr)
		return a->addr < b->addr ? -1 : 1;
	return (a->len > b->len) - (a->len < b->len);
}

static int add_cidr(struct compile *c, size_t *cap, uint32_t addr, uint8_t len)
{
	if (grow(&c->cidrs, cap, c->n_cidrs, sizeof(*c->cidrs)))
		return -1;
	c->cidrs[c->n_cidrs++] =
		(struct cidr_ref){ .addr = addr & prefix_mask(len), .len = len };
	return 0;
}

static int add_policy_cidr(struct compile *c, size_t *cap, const struct ew_cidr *cidr)
{
	return add_cidr(c, cap, cidr_net(cidr), cidr->prefixlen);
}

/* Whether addr (network byte order) is in the ipBlock of peer. */
static bool in_block(const struct ew_policy_peer *peer, uint32_t addr)
{
	uint32_t a = ntohl(addr);

	if (!prefix_holds(cidr_net(&peer->cidr), peer->cidr.prefixlen, a))
		return false;
	for (size_t e = 0; e < peer->n_except; e++)
		if (prefix_holds(cidr_net(&peer->except[e]), peer->except[e].prefixlen,
				 a))
			return false;
	return true;
}

static bool has_named_port(const struct ew_policy_rule *r)
{
	for (size_t i = 0; i < r->n_ports; i++)
		if (r->ports[i].name)
			return true;
	return false;
}

/*
 * An egress rule with a named port allows the pods of its ipBlocks that
 * define the port, by their identity. Where an identity has pods on both
 * sides of a block's edge, those inside get their own /32 as a policy CIDR:
 * their cidr_identity then tells them apart (add_egress_named()).
 */
static int add_split_pods(struct compile *c, size_t *cap,
			  const struct ew_policy_peer *peer)
{
	for (size_t id = 0; id < c->n_ids; id++) {
		const struct identity *ident = &c->ids[id];
		size_t inside = 0;

		for (size_t i = ident->pod_lo; i < ident->pod_hi; i++)
			inside += in_block(peer, c->pods[i].pod->ip);
		if (!inside || inside == ident->pod_hi - ident->pod_lo)
			continue;
		for (size_t i = ident->pod_lo; i < ident->pod_hi; i++)
			if (in_block(peer, c->pods[i].pod->ip) &&
			    add_cidr(c, cap, ntohl(c->pods[i].pod->ip), 32))
				return -1;
	}
	return 0;
}

static int add_rule_cidrs(struct compile *c, size_t *cap,
			  const struct ew_policy_rule *rules, size_t n, bool egress)
{
	for (size_t r = 0; r < n; r++) {
		bool named = egress && has_named_port(&rules[r]);

		for (size_t i = 0; i < rules[r].n_peers; i++) {
			const struct ew_policy_peer *peer = &rules[r].peers[i];

			if (!peer->has_ip_block)
				continue;
			if (add_policy_cidr(c, cap, &peer->cidr) ||
			    (named && add_split_pods(c, cap, peer)))
				return -1;
			for (size_t e = 0; e < peer->n_except; e++)
				if (add_policy_cidr(c, cap, &peer->except[e]))
					return -1;
		}
	}
	return 0;
}

/* c->cidrs: every distinct cidr and except of every policy, 0.0.0.0/0, and
 * the /32s of split pods, by address then length. */
static int build_cidrs(struct compile *c)
{
	const struct ew_model *m = c->m;
	size_t cap = 0, n = 0;

	if (add_cidr(c, &cap, 0, 0))
		return -1;
	for (size_t p = 0; p < m->n_policies; p++) {
		const struct ew_network_policy *pol = &m->policies[p];

		if (add_rule_cidrs(c, &cap, pol->ingress, pol->n_ingress, false) ||
		    add_rule_cidrs(c, &cap, pol->egress, pol->n_egress, true))
			return -1;
	}
	qsort(c->cidrs, c->n_cidrs, sizeof(*c->cidrs), cmp_cidr);
	for (size_t i = 0; i < c->n_cidrs; i++)
		if (!n || cmp_cidr(&c->cidrs[n - 1], &c->cidrs[i]))
			c->cidrs[n++] = c->cidrs[i];
	c->n_cidrs = n;
	for (size_t i = 0; i < n; i++) {
		uint32_t net = htonl(c->cidrs[i].addr);
		char addr[16];

		snprintf(c->cidrs[i].text, sizeof(c->cidrs[i].text), "cidr:%s/%u",
			 ew_format_ipv4(net, addr), c->cidrs[i].len);
	}
	return 0;
}

/* The index of the first CIDR at or after addr/len in c->cidrs. */
static size_t cidr_lower_bound(const struct compile *c, uint32_t addr, uint8_t len)
{
	struct cidr_ref key = { .addr = addr, .len = len };
	size_t lo = 0, hi = c->n_cidrs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp_cidr(&c->cidrs[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The identity of the longest policy CIDR holding addr (network order):
 * what the datapath reads as cidr_identity. */
static uint32_t cidr_identity_of(const struct compile *c, uint32_t addr)
{
	uint32_t a = ntohl(addr);

	for (int len = 32; len >= 0; len--) {
		uint32_t net = a & prefix_mask((uint8_t)len);
		size_t i = cidr_lower_bound(c, net, (uint8_t)len);

		if (i < c->n_cidrs && c->cidrs[i].addr == net && c->cidrs[i].len == len)
			return c->cidrs[i].number;
	}
	return EW_IDENTITY_WORLD;
}

/* ---- numbers ---------------------------------------------------------------- */

static const char *kind_name(enum ew_policy_kind kind)
{
	return kind == EW_POLICY_CILIUM ? "CiliumNetworkPolicy" : "NetworkPolicy";
}

static int number_policies(struct compile *c)
{
	const struct ew_model *m = c->m;
	struct naming *items = calloc(m->n_policies + 1, sizeof(*items));
	char **texts = calloc(m->n_policies + 1, sizeof(*texts));
	int err = -1;

	c->policy_numbers = calloc(m->n_policies + 1, sizeof(*c->policy_numbers));
	if (!items || !texts || !c->policy_numbers)
		goto cleanup;
	for (size_t p = 0; p < m->n_policies; p++) {
		const struct ew_network_policy *pol = &m->policies[p];
		const char *kind = kind_name(pol->kind);
		size_t len =
			strlen(kind) + strlen(pol->namespace) + strlen(pol->name) + 3;

		texts[p] = malloc(len);
		if (!texts[p])
			goto cleanup;
		snprintf(texts[p], len, "%s%c%s%c%s", kind, 0, pol->namespace, 0,
			 pol->name);
		items[p] = naming_of(texts[p], len, &c->policy_numbers[p]);
	}
	err = assign_numbers(items, m->n_policies, 1, POLICY_LIMIT);
cleanup:
	for (size_t p = 0; texts && p < m->n_policies; p++)
		free(texts[p]);
	free(texts);
	free(items);
	return err;
}

/* Pod and CIDR identities share one space; 0.0.0.0/0 is world. */
static int number_identities(struct compile *c)
{
	struct naming *items = calloc(c->n_ids + c->n_cidrs + 1, sizeof(*items));
	size_t n = 0;
	int err;

	if (!items)
		return -1;
	for (size_t i = 0; i < c->n_ids; i++) {
		const struct pod_ref *p = &c->pods[c->ids[i].pod_lo];

		items[n++] = naming_of(p->text, p->len, &c->ids[i].number);
	}
	for (size_t i = 0; i < c->n_cidrs; i++) {
		struct cidr_ref *r = &c->cidrs[i];

		if (!r->len) {
			r->number = EW_IDENTITY_WORLD;
			continue;
		}
		items[n++] = naming_of(r->text, strlen(r->text), &r->number);
	}
	err = assign_numbers(items, n, EW_IDENTITY_FIRST_POD, IDENTITY_LIMIT);
	free(items);
	return err;
}

/* ---- selections ------------------------------------------------------------- */

static uint64_t hash_string(uint64_t h, const char *s)
{
	return ew_fnv1a64(h, s, strlen(s) + 1);
}

static uint64_t hash_selector(uint64_t h, const struct ew_selector *s)
{
	uint64_t sizes[3] = { s != NULL, s ? s->match_labels.n : 0, s ? s->n_exprs : 0 };

	h = ew_fnv1a64(h, sizes, sizeof(sizes));
	for (size_t i = 0; s && i < s->match_labels.n; i++) {
		h = hash_string(h, s->match_labels.items[i].key);
		h = hash_string(h, s->match_labels.items[i].value);
	}
	for (size_t i = 0; s && i < s->n_exprs; i++) {
		uint64_t op_values[2] = { s->exprs[i].op, s->exprs[i].n_values };

		h = hash_string(h, s->exprs[i].key);
		h = ew_fnv1a64(h, op_values, sizeof(op_values));
		for (size_t v = 0; v < s->exprs[i].n_values; v++)
			h = hash_string(h, s->exprs[i].values[v]);
	}
	return h;
}

static bool same_expr(const struct ew_selector_expr *a, const struct ew_selector_expr *b)
{
	if (strcmp(a->key, b->key) || a->op != b->op || a->n_values != b->n_values)
		return false;
	for (size_t v = 0; v < a->n_values; v++)
		if (strcmp(a->values[v], b->values[v]))
			return false;
	return true;
}

/* Written the same way (a selector written otherwise is just evaluated
 * again). */
static bool same_selector(const struct ew_selector *a, const struct ew_selector *b)
{
	if (!a || !b)
		return a == b;
	if (a->match_labels.n != b->match_labels.n || a->n_exprs != b->n_exprs)
		return false;
	for (size_t i = 0; i < a->match_labels.n; i++)
		if (strcmp(a->match_labels.items[i].key, b->match_labels.items[i].key) ||
		    strcmp(a->match_labels.items[i].value,
			   b->match_labels.items[i].value))
			return false;
	for (size_t i = 0; i < a->n_exprs; i++)
		if (!same_expr(&a->exprs[i], &b->exprs[i]))
			return false;
	return true;
}

/* Room for every selection the policies can make, at half load at most. */
static int cache_init(struct compile *c)
{
	const struct ew_model *m = c->m;
	size_t n = 1, cap = 16;

	for (size_t p = 0; p < m->n_policies; p++) {
		n++;
		for (size_t r = 0; r < m->policies[p].n_ingress; r++)
			n += m->policies[p].ingress[r].n_peers;
		for (size_t r = 0; r < m->policies[p].n_egress; r++)
			n += m->policies[p].egress[r].n_peers;
	}
	while (cap < 2 * n)
		cap *= 2;
	c->cache = calloc(cap, sizeof(*c->cache));
	c->cache_mask = cap - 1;
	return c->cache ? 0 : -1;
}

static bool selects(const struct ew_selector *sel, const struct ew_labels *labels)
{
	return !sel || ew_selector_match(sel, labels);
}

static int select_namespace(struct compile *c, size_t ns,
			    const struct ew_selector *pod_sel)
{
	for (size_t id = c->ns[ns].id_lo; id < c->ns[ns].id_hi; id++) {
		if (!selects(pod_sel, identity_labels(c, id)))
			continue;
		if (grow(&c->selected, &c->cap_selected, c->n_selected,
			 sizeof(*c->selected)))
			return -1;
		c->selected[c->n_selected++] = id;
	}
	return 0;
}

/* The selection (scope, pod_sel, ns_sel), evaluated on first use: its
 * identities are c->selected[*off..*off + *n), valid until the next call. */
static int select_identities(struct compile *c, size_t scope,
			     const struct ew_selector *pod_sel,
			     const struct ew_selector *ns_sel, size_t *off, size_t *n)
{
	uint64_t h = ew_fnv1a64(EW_FNV64_OFFSET, &scope, sizeof(scope));
	struct selection *s;

	h = hash_selector(hash_selector(h, pod_sel), ns_sel);
	for (size_t i = h & c->cache_mask;; i = (i + 1) & c->cache_mask) {
		s = &c->cache[i];
		if (!s->used)
			break;
		if (s->hash == h && s->scope == scope &&
		    same_selector(s->pod_sel, pod_sel) &&
		    same_selector(s->ns_sel, ns_sel)) {
			*off = s->off;
			*n = s->n;
			return 0;
		}
	}
	*s = (struct selection){ .hash = h,
				 .scope = scope,
				 .pod_sel = pod_sel,
				 .ns_sel = ns_sel,
				 .off = c->n_selected,
				 .used = true };
	if (scope != NO_NS) {
		if (select_namespace(c, scope, pod_sel))
			return -1;
	} else {
		for (size_t ns = 0; ns < c->n_ns; ns++)
			if (selects(ns_sel, c->ns[ns].labels) &&
			    select_namespace(c, ns, pod_sel))
				return -1;
	}
	s->n = c->n_selected - s->off;
	*off = s->off;
	*n = s->n;
	return 0;
}

/* ---- peers of a rule ---------------------------------------------------------- */

/* Whether CIDR r lies inside an except of peer's ipBlock. */
static bool in_except(const struct ew_policy_peer *peer, const struct cidr_ref *r)
{
	for (size_t e = 0; e < peer->n_except; e++) {
		const struct ew_cidr *ex = &peer->except[e];

		if (r->len >= ex->prefixlen &&
		    prefix_holds(cidr_net(ex), ex->prefixlen, r->addr))
			return true;
	}
	return false;
}

/* The identities of the policy CIDRs inside the block and outside its
 * excepts: those the addresses of the block have as cidr_identity. */
static void add_block_peers(struct compile *c, const struct ew_policy_peer *peer)
{
	uint8_t len = peer->cidr.prefixlen;
	uint32_t lo = cidr_net(&peer->cidr), hi = lo | ~prefix_mask(len);

	for (size_t i = cidr_lower_bound(c, lo, 0);
	     i < c->n_cidrs && c->cidrs[i].addr <= hi; i++) {
		const struct cidr_ref *r = &c->cidrs[i];

		if (r->len < len || in_except(peer, r) || c->cidr_mark[i] == c->mark)
			continue;
		c->cidr_mark[i] = c->mark;
		c->peer_numbers[c->n_peer_numbers++] = r->number;
	}
}

/* c->peer_ids and c->peer_numbers: every peer of rule r of a policy of
 * namespace scope. */
static int rule_peers(struct compile *c, size_t scope, const struct ew_policy_rule *r)
{
	c->n_peer_ids = c->n_peer_numbers = 0;
	c->mark++;
	if (r->all_peers) {
		c->peer_numbers[c->n_peer_numbers++] = EW_IDENTITY_ANY;
		return 0;
	}
	for (size_t i = 0; i < r->n_peers; i++) {
		const struct ew_policy_peer *peer = &r->peers[i];
		size_t off, n;

		if (peer->has_ip_block) {
			add_block_peers(c, peer);
			continue;
		}
		if (!peer->has_pod_selector && !peer->has_ns_selector)
			continue; /* selects nothing; the store does not make these */
		if (select_identities(c, peer->has_ns_selector ? NO_NS : scope,
				      peer->has_pod_selector ? &peer->pod_selector : NULL,
				      peer->has_ns_selector ? &peer->ns_selector : NULL,
				      &off, &n))
			return -1;
		for (size_t k = 0; k < n; k++) {
			size_t id = c->selected[off + k];

			if (c->id_mark[id] == c->mark)
				continue;
			c->id_mark[id] = c->mark;
			c->peer_ids[c->n_peer_ids++] = id;
		}
	}
	return 0;
}

/* ---- entries ------------------------------------------------------------------ */

static int add_entry(struct compile *c, uint32_t subject, uint32_t peer, uint8_t dir,
		     uint8_t proto, uint16_t port, uint8_t port_bits, uint32_t rule)
{
	struct entry *e;

	if (grow(&c->entries, &c->cap_entries, c->n_entries, sizeof(*c->entries)))
		return -1;
	e = &c->entries[c->n_entries++];
	memset(e, 0, sizeof(*e)); /* bits past prefixlen are 0: one key per prefix */
	e->key.subject = subject;
	e->key.peer = peer;
	e->key.dir = dir;
	e->rule = rule;
	e->l7 = c->l7;
	if (!proto) {
		e->key.prefixlen = PREFIX_PROTO_ANY;
		return 0;
	}
	e->key.prefixlen = PREFIX_PORT_ANY + port_bits;
	e->key.proto = proto;
	e->key.port =
		htons(port_bits ? port & (uint16_t)(0xffff << (16 - port_bits)) : 0);
	return 0;
}

/* Entries for ports [lo, hi] of proto: the fewest prefixes that cover the
 * range exactly (at most 30 for any range). Proto 0: every protocol. */
static int add_entries(struct compile *c, uint32_t subject, uint32_t peer, uint8_t dir,
		       uint8_t proto, uint32_t lo, uint32_t hi, uint32_t rule)
{
	if (!proto)
		return add_entry(c, subject, peer, dir, 0, 0, 0, rule);
	while (lo <= hi) {
		unsigned k = 0; /* the block at lo: 2^k ports */

		while (k < 16 && !(lo & (1u << k)) && lo + (2u << k) - 1 <= hi)
			k++;
		if (add_entry(c, subject, peer, dir, proto, (uint16_t)lo,
			      (uint8_t)(16 - k), rule))
			return -1;
		lo += 1u << k;
	}
	return 0;
}

/* c->named: the ports the pods [lo, hi) name `name` for proto. */
static void resolve_named(struct compile *c, size_t lo, size_t hi, const char *name,
			  uint8_t proto)
{
	c->n_named = 0;
	for (size_t i = lo; i < hi; i++) {
		const struct ew_pod *pod = c->pods[i].pod;

		for (size_t k = 0; k < pod->n_ports; k++) {
			const struct ew_container_port *cp = &pod->ports[k];
			bool seen = false;

			if (!cp->name || strcmp(cp->name, name) ||
			    cp->protocol != proto || !cp->port)
				continue;
			for (size_t j = 0; j < c->n_named; j++)
				seen |= c->named[j] == cp->port;
			if (!seen && c->n_named < sizeof(c->named) / sizeof(c->named[0]))
				c->named[c->n_named++] = cp->port;
		}
	}
}

/* subject to peer, on the ports in c->named. */
static int add_named_entries(struct compile *c, uint32_t subject, uint32_t peer,
			     uint8_t dir, uint8_t proto, uint32_t rule)
{
	for (size_t k = 0; k < c->n_named; k++)
		if (add_entries(c, subject, peer, dir, proto, c->named[k], c->named[k],
				rule))
			return -1;
	return 0;
}

/* Every subject to peer, on the ports in c->named. */
static int add_named_to_peer(struct compile *c, uint32_t peer, uint8_t proto,
			     uint32_t rule)
{
	for (size_t s = 0; s < c->n_subjects; s++)
		if (add_named_entries(c, c->ids[c->subjects[s]].number, peer,
				      EW_DIR_EGRESS, proto, rule))
			return -1;
	return 0;
}

/* The number that names pod p as a peer: its identity's, or, for a peer
 * by ipBlock, its /32's where that is a policy CIDR (a split pod). */
static uint32_t pod_peer_number(const struct compile *c, const struct pod_ref *p,
				bool all_peers)
{
	uint32_t addr = ntohl(p->pod->ip);
	size_t i = cidr_lower_bound(c, addr, 32);

	if (!all_peers && i < c->n_cidrs && c->cidrs[i].addr == addr &&
	    c->cidrs[i].len == 32)
		return c->cidrs[i].number;
	return c->ids[p->identity].number;
}

static bool has_ip_block(const struct ew_policy_rule *r)
{
	for (size_t k = 0; k < r->n_peers; k++)
		if (r->peers[k].has_ip_block)
			return true;
	return false;
}

/* An egress named port, resolved on each peer pod: the selected identities,
 * the pods inside the rule's ipBlocks, or every pod for a rule of all peers. */
static int add_egress_named(struct compile *c, const struct ew_policy_rule *r,
			    const struct port_spec *ps, uint32_t rule)
{
	for (size_t i = 0; i < c->n_peer_ids; i++) {
		const struct identity *id = &c->ids[c->peer_ids[i]];

		resolve_named(c, id->pod_lo, id->pod_hi, ps->name, ps->proto);
		if (add_named_to_peer(c, id->number, ps->proto, rule))
			return -1;
	}
	for (size_t i = 0; (r->all_peers || has_ip_block(r)) && i < c->n_pods; i++) {
		const struct pod_ref *p = &c->pods[i];
		bool peer = r->all_peers;

		for (size_t k = 0; k < r->n_peers && !peer; k++)
			peer = r->peers[k].has_ip_block &&
			       in_block(&r->peers[k], p->pod->ip);
		if (!peer)
			continue;
		resolve_named(c, i, i + 1, ps->name, ps->proto);
		if (add_named_to_peer(c, pod_peer_number(c, p, r->all_peers), ps->proto,
				      rule))
			return -1;
	}
	return 0;
}

/* An ingress named port, resolved on each subject's pods. */
static int add_ingress_named(struct compile *c, const struct port_spec *ps, uint32_t rule)
{
	for (size_t s = 0; s < c->n_subjects; s++) {
		const struct identity *id = &c->ids[c->subjects[s]];

		resolve_named(c, id->pod_lo, id->pod_hi, ps->name, ps->proto);
		for (size_t i = 0; i < c->n_peer_ids; i++)
			if (add_named_entries(c, id->number,
					      c->ids[c->peer_ids[i]].number,
					      EW_DIR_INGRESS, ps->proto, rule))
				return -1;
		for (size_t i = 0; i < c->n_peer_numbers; i++)
			if (add_named_entries(c, id->number, c->peer_numbers[i],
					      EW_DIR_INGRESS, ps->proto, rule))
				return -1;
	}
	return 0;
}

/* Every subject with every peer of rule r, on the ports of ps. */
static int add_port_spec(struct compile *c, const struct ew_policy_rule *r, uint8_t dir,
			 const struct port_spec *ps, uint32_t rule)
{
	if (ps->name)
		return dir == EW_DIR_INGRESS ? add_ingress_named(c, ps, rule)
					     : add_egress_named(c, r, ps, rule);
	for (size_t s = 0; s < c->n_subjects; s++) {
		uint32_t subject = c->ids[c->subjects[s]].number;

		for (size_t i = 0; i < c->n_peer_ids; i++)
			if (add_entries(c, subject, c->ids[c->peer_ids[i]].number, dir,
					ps->proto, ps->lo, ps->hi, rule))
				return -1;
		for (size_t i = 0; i < c->n_peer_numbers; i++)
			if (add_entries(c, subject, c->peer_numbers[i], dir, ps->proto,
					ps->lo, ps->hi, rule))
				return -1;
	}
	return 0;
}

/* Peers x ports of one rule, for the subjects in c->subjects. */
static int add_rule(struct compile *c, const struct ew_policy_rule *r, uint8_t dir,
		    uint32_t rule)
{
	static const uint8_t tcp_udp[] = { EW_PROTO_TCP, EW_PROTO_UDP };

	if (!r->n_ports)
		return add_port_spec(c, r, dir, &(struct port_spec){ .hi = 0xffff },
				     rule);
	for (size_t i = 0; i < r->n_ports; i++) {
		const struct ew_policy_port *p = &r->ports[i];
		struct port_spec ps = { .lo = p->port,
					.hi = p->end_port ? p->end_port : p->port,
					.name = p->name };

		if (!p->name && !p->port)
			ps.hi = 0xffff;
		if (ps.hi < ps.lo)
			continue; /* endPort below port: the store rejects it */
		c->l7 = p->n_http ? p : NULL; /* the store made it one TCP port */
		for (size_t k = 0; k < (p->protocol ? 1 : 2); k++) {
			ps.proto = p->protocol ? p->protocol : tcp_udp[k];
			if (add_port_spec(c, r, dir, &ps, rule))
				return -1;
		}
		c->l7 = NULL;
	}
	return 0;
}

/* ---- names, for bpfctl ------------------------------------------------------ */

/* Ends text (len characters written, or that would have been) in its cap
 * bytes: NUL-terminated, or cut to end in "..." when it does not fit. */
static void end_text(char *text, size_t cap, size_t len)
{
	if (len < cap)
		text[len] = '\0';
	else
		memcpy(text + cap - 4, "...", 4);
}

/* The identity name "<ns>\0k=v\0k=v\0" as "<ns> k=v,k=v". */
static int put_identity_name(struct compile *c, const struct identity *id)
{
	const struct pod_ref *p = &c->pods[id->pod_lo];
	struct ew_identity_key key = { .identity = id->number };
	struct ew_identity_name name = { 0 };
	size_t len = p->len - 1, ns_len = strlen(p->text); /* len: without the last '\0' */

	for (size_t i = 0; i < len && i < sizeof(name.text); i++) {
		name.text[i] = p->text[i];
		if (!p->text[i])
			name.text[i] = i == ns_len ? ' ' : ',';
	}
	end_text(name.text, sizeof(name.text), len);
	return ew_map_state_put(&c->d->identities, &key, &name);
}

/* Every identity of ipcache but world (0.0.0.0/0): pods' and CIDRs'. */
static int fill_identities(struct compile *c)
{
	for (size_t i = 0; i < c->n_ids; i++)
		if (put_identity_name(c, &c->ids[i]))
			return -1;
	for (size_t i = 0; i < c->n_cidrs; i++) {
		struct ew_identity_key key = { .identity = c->cidrs[i].number };
		struct ew_identity_name name = { 0 };

		if (!c->cidrs[i].len)
			continue;
		end_text(name.text, sizeof(name.text),
			 (size_t)snprintf(name.text, sizeof(name.text), "%s",
					  c->cidrs[i].text));
		if (ew_map_state_put(&c->d->identities, &key, &name))
			return -1;
	}
	return ew_map_state_seal(&c->d->identities);
}

static bool same_object(const struct ew_network_policy *a,
			const struct ew_network_policy *b)
{
	return a->kind == b->kind && !strcmp(a->namespace, b->namespace) &&
	       !strcmp(a->name, b->name) && a->origin.line == b->origin.line &&
	       a->origin.col == b->origin.col &&
	       !strcmp(a->origin.file ? a->origin.file : "",
		       b->origin.file ? b->origin.file : "");
}

/* Policy p is rule *k (from 1) of the *n rules of its object: a Cilium
 * policy's spec and specs, which the store keeps together in order. */
static void object_rule(const struct compile *c, size_t p, size_t *k, size_t *n)
{
	const struct ew_network_policy *pols = c->m->policies;
	size_t lo = p, hi = p + 1;

	while (lo > 0 && same_object(&pols[lo - 1], &pols[p]))
		lo--;
	while (hi < c->m->n_policies && same_object(&pols[hi], &pols[p]))
		hi++;
	*k = p - lo + 1;
	*n = hi - lo;
}

/* "NetworkPolicy shop/web ingress[0]"; the last number of a direction with
 * more rules than numbers names the range it stands for. */
static int put_rule_name(struct compile *c, size_t p, uint8_t dir, size_t index,
			 size_t n_rules, uint32_t rule)
{
	const struct ew_network_policy *pol = &c->m->policies[p];
	struct ew_policy_rule_key key = { .rule = rule };
	struct ew_policy_rule_name name = { 0 };
	char part[48] = "", range[48];
	size_t k, n;
	int len;

	object_rule(c, p, &k, &n);
	if (n > 1)
		snprintf(part, sizeof(part), " rule %zu of %zu,", k, n);
	if (index == RULE_INDEX_MAX && n_rules > RULE_INDEX_MAX + 1)
		snprintf(range, sizeof(range), "%u..%zu", RULE_INDEX_MAX, n_rules - 1);
	else
		snprintf(range, sizeof(range), "%zu", index);
	len = snprintf(name.text, sizeof(name.text), "%s %s/%s%s %s[%s]",
		       kind_name(pol->kind), pol->namespace, pol->name, part,
		       dir == EW_DIR_INGRESS ? "ingress" : "egress", range);
	end_text(name.text, sizeof(name.text), (size_t)len);
	return ew_map_state_put(&c->d->rules, &key, &name);
}

static uint32_t rule_number(const struct compile *c, size_t policy, uint8_t dir,
			    size_t index)
{
	return c->policy_numbers[policy] << RULE_POLICY_SHIFT |
	       (uint32_t)dir << RULE_DIR_SHIFT |
	       (index < RULE_INDEX_MAX ? (uint32_t)index : RULE_INDEX_MAX);
}

static int add_rules(struct compile *c, size_t p, size_t scope, uint8_t dir)
{
	const struct ew_network_policy *pol = &c->m->policies[p];
	const struct ew_policy_rule *rules =
		dir == EW_DIR_INGRESS ? pol->ingress : pol->egress;
	size_t n = dir == EW_DIR_INGRESS ? pol->n_ingress : pol->n_egress;

	if (n > RULE_INDEX_MAX + 1)
		ew_diag_add(c->diags, pol->origin.file, pol->origin.line, pol->origin.col,
			    "%s %s/%s: %zu %s rules; entries of the rules from #%u on "
			    "all name rule #%u",
			    kind_name(pol->kind), pol->namespace, pol->name, n,
			    dir == EW_DIR_INGRESS ? "ingress" : "egress", RULE_INDEX_MAX,
			    RULE_INDEX_MAX);
	for (size_t r = 0; r < n; r++)
		if (rule_peers(c, scope, &rules[r]) ||
		    add_rule(c, &rules[r], dir, rule_number(c, p, dir, r)) ||
		    (r <= RULE_INDEX_MAX &&
		     put_rule_name(c, p, dir, r, n, rule_number(c, p, dir, r))))
			return -1;
	return 0;
}

/* The identities policy p selects get its isolation; those on this node
 * are the subjects of its rules. */
static int add_policy(struct compile *c, size_t p)
{
	const struct ew_network_policy *pol = &c->m->policies[p];
	uint32_t flags = (pol->isolates_ingress ? EW_EP_INGRESS_ISOLATED : 0) |
			 (pol->isolates_egress ? EW_EP_EGRESS_ISOLATED : 0);
	size_t scope = find_ns(c, pol->namespace), off, n;

	if (scope == NO_NS || !flags)
		return 0;
	if (select_identities(c, scope, &pol->pod_selector, NULL, &off, &n))
		return -1;
	c->n_subjects = 0;
	for (size_t i = 0; i < n; i++) {
		struct identity *id = &c->ids[c->selected[off + i]];

		id->flags |= flags;
		if (id->local)
			c->subjects[c->n_subjects++] = c->selected[off + i];
	}
	if (!c->n_subjects)
		return 0;
	if (pol->isolates_ingress && add_rules(c, p, scope, EW_DIR_INGRESS))
		return -1;
	if (pol->isolates_egress && add_rules(c, p, scope, EW_DIR_EGRESS))
		return -1;
	return 0;
}

static int cmp_entry(const void *x, const void *y)
{
	const struct entry *a = x, *b = y;
	int c = memcmp(&a->key, &b->key, sizeof(a->key));

	return c ? c : (a->rule > b->rule) - (a->rule < b->rule);
}

static bool same_key(const struct entry *a, const struct entry *b)
{
	return !memcmp(&a->key, &b->key, sizeof(a->key));
}

/* ---- the proxy's configuration -------------------------------------------------- */

/* One http[] entry of rule, as edgewire-proxy reads it (proxy/l7policy.h). */
static json_t *http_rule_json(const struct ew_http_match *h, uint32_t rule)
{
	json_t *o = json_pack("{s:I}", "rule", (json_int_t)rule), *headers;

	if (!o)
		return NULL;
	if (h->method)
		json_object_set_new(o, "method", json_string(h->method));
	if (h->path)
		json_object_set_new(o, "path", json_string(h->path));
	if (h->host)
		json_object_set_new(o, "host", json_string(h->host));
	if (h->n_headers && (headers = json_array())) {
		for (size_t k = 0; k < h->n_headers; k++)
			json_array_append_new(headers, json_string(h->headers[k]));
		json_object_set_new(o, "headers", headers);
	}
	return o;
}

/* The proxy's entry of the key of entries [i, j): the HTTP rules of all. */
static json_t *proxy_entry_json(const struct entry *entries, size_t i, size_t j)
{
	const struct ew_policy_key *k = &entries[i].key;
	json_t *rules = json_array(), *o;

	for (size_t e = i; rules && e < j; e++) {
		if (e > i && entries[e].l7 == entries[e - 1].l7 &&
		    entries[e].rule == entries[e - 1].rule)
			continue; /* the same rule, through another peer term */
		for (size_t h = 0; h < entries[e].l7->n_http; h++)
			json_array_append_new(rules, http_rule_json(&entries[e].l7->http[h],
								    entries[e].rule));
	}
	o = json_pack("{s:I, s:s, s:I, s:I, s:o}", "subject", (json_int_t)k->subject, "dir",
		      k->dir == EW_DIR_INGRESS ? "ingress" : "egress", "port",
		      (json_int_t)ntohs(k->port), "peer", (json_int_t)k->peer, "rules", rules);
	return o;
}

/* d->proxy_config: for edgewire-proxy, the HTTP rules of each L7 entry of
 * d->policy (c->entries sorted, lifted). */
static int fill_proxy_config(struct compile *c)
{
	json_t *entries = json_array(), *root;

	for (size_t i = 0, j; entries && i < c->n_entries; i = j) {
		bool l7 = true;

		for (j = i; j < c->n_entries && same_key(&c->entries[j], &c->entries[i]); j++)
			l7 &= c->entries[j].l7 != NULL;
		if (l7 && json_array_append_new(entries, proxy_entry_json(c->entries, i, j)))
			break;
	}
	root = json_pack("{s:i, s:o}", "version", 1, "entries", entries);
	c->d->proxy_config = root ? json_dumps(root, JSON_INDENT(1)) : NULL;
	json_decref(root);
	return c->d->proxy_config ? 0 : -1;
}

/* Whether b, an L4 entry, allows all that a, an L7 one (one TCP port), does
 * for the same subject, peer and direction: then a is no L7 entry, as in
 * Cilium, where an L4 rule for the same peer lifts the L7 check. */
static bool lifts(const struct ew_policy_key *b, const struct ew_policy_key *a)
{
	unsigned bits;

	if (b->subject != a->subject || b->peer != a->peer || b->dir != a->dir)
		return false;
	if (b->prefixlen == PREFIX_PROTO_ANY)
		return true;
	bits = b->prefixlen - PREFIX_PORT_ANY; /* of the port: 0 to 16 */
	return b->proto == a->proto && b->prefixlen < EW_POLICY_PREFIX_FULL &&
	       (ntohs(a->port) & (bits ? 0xffffu << (16 - bits) : 0)) == ntohs(b->port);
}

static int cmp_l4_entry(const void *x, const void *y)
{
	const struct entry *a = *(const struct entry *const *)x,
			   *b = *(const struct entry *const *)y;

	if (a->key.subject != b->key.subject)
		return a->key.subject < b->key.subject ? -1 : 1;
	if (a->key.peer != b->key.peer)
		return a->key.peer < b->key.peer ? -1 : 1;
	return (a->key.dir > b->key.dir) - (a->key.dir < b->key.dir);
}

/* Whether some L4 entry of l4 (sorted by cmp_l4_entry) lifts L7 entry e. */
static bool lifted(struct entry **l4, size_t n, const struct entry *e)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp_l4_entry(&l4[mid], &e) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < n && !cmp_l4_entry(&l4[lo], &e); lo++)
		if (lifts(&l4[lo]->key, &e->key))
			return true;
	return false;
}

/* Drops the L7 port of every entry an L4 entry of the same key or a wider
 * one lifts, so that each key is L7 only when all its entries are. */
static int lift_l7(struct compile *c)
{
	struct entry **l4 = calloc(c->n_entries + 1, sizeof(*l4));
	size_t n = 0;

	if (!l4)
		return -1;
	for (size_t i = 0; i < c->n_entries; i++)
		if (!c->entries[i].l7)
			l4[n++] = &c->entries[i];
	qsort(l4, n, sizeof(*l4), cmp_l4_entry);
	for (size_t i = 0; i < c->n_entries; i++) {
		struct entry *e = &c->entries[i];

		if (e->l7 && lifted(l4, n, e))
			e->l7 = NULL;
	}
	free(l4);
	return 0;
}

/* The local identity numbered number, or NULL. */
static struct identity *identity_numbered(struct compile *c, uint32_t number)
{
	for (size_t i = 0; i < c->n_ids; i++)
		if (c->ids[i].local && c->ids[i].number == number)
			return &c->ids[i];
	return NULL;
}

/* Marks the subject of L7 entry e: its pods' connections meet the proxy. */
static void mark_l7_subject(struct compile *c, const struct entry *e, struct identity **last)
{
	if (!*last || (*last)->number != e->key.subject)
		*last = identity_numbered(c, e->key.subject);
	if (*last)
		(*last)->flags |= e->key.dir == EW_DIR_INGRESS ? EW_EP_INGRESS_L7
							       : EW_EP_EGRESS_L7;
}

/* d->policy: the entries, each key once, naming its smallest rule; L7 when
 * every entry of the key is (after lift_l7). */
static int fill_policy(struct compile *c)
{
	struct identity *last = NULL;

	if (lift_l7(c))
		return -1;
	if (c->n_entries)
		qsort(c->entries, c->n_entries, sizeof(*c->entries), cmp_entry);
	for (size_t i = 0, j; i < c->n_entries; i = j) {
		struct ew_policy_entry value = { .rule = c->entries[i].rule,
						 .flags = EW_POLICY_L7 };

		for (j = i; j < c->n_entries && same_key(&c->entries[j], &c->entries[i]); j++)
			if (!c->entries[j].l7)
				value.flags = 0;
		if (value.flags)
			mark_l7_subject(c, &c->entries[i], &last);
		if (ew_map_state_put(&c->d->policy, &c->entries[i].key, &value))
			return -1;
	}
	return ew_map_state_seal(&c->d->policy) || fill_proxy_config(c);
}

/* ---- ipcache and pods ------------------------------------------------------- */

static int put_ipcache(struct compile *c, uint32_t addr, uint8_t len, uint32_t identity,
		       uint32_t cidr_identity)
{
	struct ew_ipcache_key key = { .prefixlen = len, .addr = addr };
	struct ew_ipcache value = { .identity = identity,
				    .cidr_identity = cidr_identity };

	return ew_map_state_put(&c->d->ipcache, &key, &value);
}

/* CIDRs first: a pod's or node's own /32 wins over a policy /32; nodes over
 * pods; this node last of all. */
static int fill_ipcache(struct compile *c)
{
	const struct ew_model *m = c->m;
	uint32_t hairpin = htonl(EW_HAIRPIN_ADDR);

	for (size_t i = 0; i < c->n_cidrs; i++)
		if (put_ipcache(c, htonl(c->cidrs[i].addr), c->cidrs[i].len,
				c->cidrs[i].number, c->cidrs[i].number))
			return -1;
	for (size_t i = 0; i < c->n_pods; i++) {
		uint32_t addr = c->pods[i].pod->ip;

		if (put_ipcache(c, addr, 32, c->ids[c->pods[i].identity].number,
				cidr_identity_of(c, addr)))
			return -1;
	}
	for (size_t i = 0; i < m->n_nodes; i++) {
		const struct ew_node *n = &m->nodes[i];
		bool local = c->cfg->node && !strcmp(n->name, c->cfg->node);

		if (n->internal_ip && !local &&
		    put_ipcache(c, n->internal_ip, 32, EW_IDENTITY_REMOTE_NODE,
				cidr_identity_of(c, n->internal_ip)))
			return -1;
	}
	for (size_t i = 0; i < m->n_nodes; i++) {
		const struct ew_node *n = &m->nodes[i];
		bool local = c->cfg->node && !strcmp(n->name, c->cfg->node);

		if (n->internal_ip && local &&
		    put_ipcache(c, n->internal_ip, 32, EW_IDENTITY_HOST,
				cidr_identity_of(c, n->internal_ip)))
			return -1;
	}
	if (put_ipcache(c, hairpin, 32, EW_IDENTITY_HOST, cidr_identity_of(c, hairpin)))
		return -1;
	return ew_map_state_seal(&c->d->ipcache);
}

static int fill_pods(struct compile *c)
{
	for (size_t i = 0; i < c->n_pods; i++) {
		const struct pod_ref *p = &c->pods[i];
		const struct identity *id = &c->ids[p->identity];
		struct ew_pod_policy_key key = { .ip = p->pod->ip };
		struct ew_pod_policy value = { .identity = id->number,
					       .flags = id->flags };

		if (pod_is_local(c, p->pod) &&
		    ew_map_state_put(&c->d->pods, &key, &value))
			return -1;
	}
	return ew_map_state_seal(&c->d->pods);
}

/* ---- the whole ------------------------------------------------------------------ */

void ew_policy_desired_init(struct ew_policy_desired *d)
{
	d->proxy_config = NULL;
	ew_map_state_init(&d->ipcache, sizeof(struct ew_ipcache_key),
			  sizeof(struct ew_ipcache));
	ew_map_state_init(&d->policy, sizeof(struct ew_policy_key),
			  sizeof(struct ew_policy_entry));
	ew_map_state_init(&d->pods, sizeof(struct ew_pod_policy_key),
			  sizeof(struct ew_pod_policy));
	ew_map_state_init(&d->identities, sizeof(struct ew_identity_key),
			  sizeof(struct ew_identity_name));
	ew_map_state_init(&d->rules, sizeof(struct ew_policy_rule_key),
			  sizeof(struct ew_policy_rule_name));
}

void ew_policy_desired_free(struct ew_policy_desired *d)
{
	ew_map_state_free(&d->ipcache);
	ew_map_state_free(&d->policy);
	ew_map_state_free(&d->pods);
	ew_map_state_free(&d->identities);
	ew_map_state_free(&d->rules);
	free(d->proxy_config);
	d->proxy_config = NULL;
}

static int compile_policy(struct compile *c)
{
	size_t n_peers_max;

	if (build_identities(c) || build_namespaces(c) || build_cidrs(c) ||
	    number_identities(c) || number_policies(c) || cache_init(c))
		return -1;
	n_peers_max = c->n_ids + c->n_cidrs + 1;
	c->subjects = calloc(c->n_ids + 1, sizeof(*c->subjects));
	c->peer_ids = calloc(c->n_ids + 1, sizeof(*c->peer_ids));
	c->peer_numbers = calloc(n_peers_max, sizeof(*c->peer_numbers));
	c->id_mark = calloc(c->n_ids + 1, sizeof(*c->id_mark));
	c->cidr_mark = calloc(c->n_cidrs + 1, sizeof(*c->cidr_mark));
	if (!c->subjects || !c->peer_ids || !c->peer_numbers || !c->id_mark ||
	    !c->cidr_mark)
		return -1;
	for (size_t p = 0; p < c->m->n_policies; p++)
		if (add_policy(c, p))
			return -1;
	return fill_policy(c) || fill_ipcache(c) || fill_pods(c) ||
	       fill_identities(c) || ew_map_state_seal(&c->d->rules) ? -1 : 0;
}

static void compile_free(struct compile *c)
{
	for (size_t i = 0; i < c->n_pods; i++)
		free(c->pods[i].text);
	free(c->pods);
	free(c->ids);
	free(c->ns);
	free(c->ns_name_labels);
	free(c->ns_name_sets);
	free(c->cidrs);
	free(c->policy_numbers);
	free(c->cache);
	free(c->selected);
	free(c->subjects);
	free(c->peer_ids);
	free(c->peer_numbers);
	free(c->id_mark);
	free(c->cidr_mark);
	free(c->entries);
}

int ew_policy_compile(const struct ew_model *m, const struct ew_policy_config *cfg,
		      struct ew_policy_desired *d, struct ew_diags *diags)
{
	struct compile c = { .m = m, .cfg = cfg, .d = d, .diags = diags };
	int err = compile_policy(&c);

	compile_free(&c);
	if (err) {
		ew_policy_desired_free(d);
		errno = ENOMEM;
	}
	return err;
}
