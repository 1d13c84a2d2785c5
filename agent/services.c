// SPDX-License-Identifier: Apache-2.0
/*
 * Services compile, as kube-proxy reads Services and EndpointSlices:
 *
 *   1. every Service port gives frontends (ClusterIP, NodePort); where two
 *      claim one key, the first in the store wins;
 *   2. each port with a frontend gets its endpoints: from the Service's
 *      EndpointSlices, or, when it has none, from the pods its selector
 *      matches (as the endpoints controller would write them);
 *   3. the ready endpoints (else the serving terminating ones) form the
 *      port's Maglev table; equal backend lists share one table, and equal
 *      address lists one slot array, so every port of a service sends a
 *      client to the same pod.
 *
 * The model is only read through indexes built here (slices by service,
 * pods by namespace and label), so the cost grows with the model, not with
 * services times pods.
 */
#include "services.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "maglev.h"
#include "netutil.h"

/* What an endpoint is to a service port, better last. */
enum endpoint_state {
	EP_NONE = 0,
	EP_SERVING_TERMINATING = 1, /* in the table only when nothing is ready */
	EP_READY = 2,
};

struct candidate {
	uint32_t addr; /* network byte order */
	uint16_t port; /* network byte order */
	uint8_t state; /* enum endpoint_state */
};

/* A pod's label, for finding the pods a selector matches. */
struct pod_label {
	const char *ns, *key, *value;
	const struct ew_pod *pod;
};

/* What a service port compiled to; frontends take it over. */
struct port_plan {
	bool used; /* has a frontend */
	bool keep;
	long table;
};

/* Digest -> table index, open addressing; sized for every port to have a
 * table of its own at half load, so it never fills. */
struct digest_index {
	size_t mask;
	struct digest_entry {
		uint64_t digest;
		long table; /* -1: free */
	} *entries;
};

struct compile {
	const struct ew_model *m;
	const struct ew_services_config *cfg;
	struct ew_lb_desired *d;
	struct ew_diags *diags;
	size_t cap_frontends, cap_tables;

	const struct ew_endpoint_slice **slices; /* by namespace, service */
	size_t n_slices;
	const struct ew_pod **pods; /* endpoint-capable, by namespace */
	size_t n_pods;
	struct pod_label *labels; /* by namespace, key, value */
	size_t n_labels;

	size_t *port_base; /* service i's ports are plans[port_base[i]...] */
	struct port_plan *plans;

	struct digest_index by_backends, by_addrs;

	/* Scratch, reused from port to port. */
	const struct ew_pod **selected;
	size_t n_selected, cap_selected;
	struct candidate *cands;
	size_t n_cands, cap_cands;
	struct ew_lb_backend *set;
	size_t cap_set;
	struct ew_maglev_name *names;
	size_t cap_names;

	/* Every backend of every table or terminating, duplicates included. */
	struct ew_lb_backend *all;
	size_t n_all, cap_all;
};

/* Grows the array *items (any pointer type, passed by address) so that
 * n + want items of size bytes fit; 0, or -1 when out of memory. The pointer
 * is read and written with memcpy, which any pointer type may alias. */
static int reserve(void *items, size_t *cap, size_t n, size_t want, size_t size)
{
	size_t new_cap = *cap ? *cap : 16;
	void *old, *grown;

	memcpy(&old, items, sizeof(old));
	if (old && n + want <= *cap)
		return 0;
	while (new_cap < n + want)
		new_cap *= 2;
	grown = realloc(old, new_cap * size);
	if (!grown)
		return -1;
	memcpy(items, &grown, sizeof(grown));
	*cap = new_cap;
	return 0;
}

static const char *proto_name(uint8_t proto)
{
	switch (proto) {
	case EW_PROTO_TCP:
		return "TCP";
	case EW_PROTO_UDP:
		return "UDP";
	case EW_PROTO_SCTP:
		return "SCTP";
	}
	return "?";
}

/* Port names: absent and empty are the same name. */
static bool same_name(const char *a, const char *b)
{
	return !strcmp(a ? a : "", b ? b : "");
}

static int cmp_addr_port(uint32_t a_addr, uint16_t a_port, uint32_t b_addr,
			 uint16_t b_port)
{
	uint32_t a = ntohl(a_addr), b = ntohl(b_addr);

	if (a != b)
		return a < b ? -1 : 1;
	a = ntohs(a_port);
	b = ntohs(b_port);
	return a < b ? -1 : a > b;
}

static int cmp_backend(const void *x, const void *y)
{
	const struct ew_lb_backend *a = x, *b = y;

	return cmp_addr_port(a->addr, a->port, b->addr, b->port);
}

static int cmp_candidate(const void *x, const void *y)
{
	const struct candidate *a = x, *b = y;

	return cmp_addr_port(a->addr, a->port, b->addr, b->port);
}

/* ---- indexes ------------------------------------------------------------ */

static int cmp_slice(const void *x, const void *y)
{
	const struct ew_endpoint_slice *a = *(const struct ew_endpoint_slice *const *)x;
	const struct ew_endpoint_slice *b = *(const struct ew_endpoint_slice *const *)y;
	int c = strcmp(a->namespace, b->namespace);

	if (!c)
		c = strcmp(a->service, b->service);
	return c ? c : (a > b) - (a < b);
}

/* The pods that can be endpoints, in the model's order within a namespace. */
static int cmp_pod(const void *x, const void *y)
{
	const struct ew_pod *a = *(const struct ew_pod *const *)x;
	const struct ew_pod *b = *(const struct ew_pod *const *)y;
	int c = strcmp(a->namespace, b->namespace);

	return c ? c : (a > b) - (a < b);
}

static int cmp_label_key(const struct pod_label *a, const char *ns, const char *key,
			 const char *value)
{
	int c = strcmp(a->ns, ns);

	if (!c)
		c = strcmp(a->key, key);
	return c ? c : strcmp(a->value, value);
}

static int cmp_label(const void *x, const void *y)
{
	const struct pod_label *a = x, *b = y;
	int c = cmp_label_key(a, b->ns, b->key, b->value);

	return c ? c : (a->pod > b->pod) - (a->pod < b->pod);
}

static int build_indexes(struct compile *c)
{
	const struct ew_model *m = c->m;
	size_t n_labels = 0;

	c->slices = malloc((m->n_slices + 1) * sizeof(*c->slices));
	c->pods = malloc((m->n_pods + 1) * sizeof(*c->pods));
	if (!c->slices || !c->pods)
		return -1;
	for (size_t i = 0; i < m->n_slices; i++)
		if (m->slices[i].service && m->slices[i].namespace)
			c->slices[c->n_slices++] = &m->slices[i];
	qsort(c->slices, c->n_slices, sizeof(*c->slices), cmp_slice);

	for (size_t i = 0; i < m->n_pods; i++) {
		const struct ew_pod *pod = &m->pods[i];

		if (!pod->ip || pod->host_network)
			continue;
		c->pods[c->n_pods++] = pod;
		n_labels += pod->labels.n;
	}
	qsort(c->pods, c->n_pods, sizeof(*c->pods), cmp_pod);

	c->labels = malloc((n_labels + 1) * sizeof(*c->labels));
	if (!c->labels)
		return -1;
	for (size_t i = 0; i < c->n_pods; i++) {
		const struct ew_pod *pod = c->pods[i];

		for (size_t j = 0; j < pod->labels.n; j++)
			c->labels[c->n_labels++] = (struct pod_label){
				.ns = pod->namespace, .key = pod->labels.items[j].key,
				.value = pod->labels.items[j].value, .pod = pod };
	}
	qsort(c->labels, c->n_labels, sizeof(*c->labels), cmp_label);
	return 0;
}

/* [*lo, *hi) of the slices of service ns/name. */
static void slices_of(const struct compile *c, const struct ew_service *svc, size_t *lo,
		      size_t *hi)
{
	size_t a = 0, b = c->n_slices;

	while (a < b) {
		size_t mid = a + (b - a) / 2;
		int r = strcmp(c->slices[mid]->namespace, svc->namespace);

		if (!r)
			r = strcmp(c->slices[mid]->service, svc->name);
		if (r < 0)
			a = mid + 1;
		else
			b = mid;
	}
	*lo = *hi = a;
	while (*hi < c->n_slices && !strcmp(c->slices[*hi]->namespace, svc->namespace) &&
	       !strcmp(c->slices[*hi]->service, svc->name))
		(*hi)++;
}

/* [*lo, *hi) of the pods of namespace ns. */
static void pods_of(const struct compile *c, const char *ns, size_t *lo, size_t *hi)
{
	size_t a = 0, b = c->n_pods;

	while (a < b) {
		size_t mid = a + (b - a) / 2;

		if (strcmp(c->pods[mid]->namespace, ns) < 0)
			a = mid + 1;
		else
			b = mid;
	}
	*lo = *hi = a;
	while (*hi < c->n_pods && !strcmp(c->pods[*hi]->namespace, ns))
		(*hi)++;
}

/* [*lo, *hi) of the pods of namespace ns labelled key=value. */
static void labelled(const struct compile *c, const char *ns, const struct ew_label *l,
		     size_t *lo, size_t *hi)
{
	size_t a = 0, b = c->n_labels;

	while (a < b) {
		size_t mid = a + (b - a) / 2;

		if (cmp_label_key(&c->labels[mid], ns, l->key, l->value) < 0)
			a = mid + 1;
		else
			b = mid;
	}
	*lo = *hi = a;
	while (*hi < c->n_labels && !cmp_label_key(&c->labels[*hi], ns, l->key, l->value))
		(*hi)++;
}

/* c->selected: the pods svc's selector matches, from the rarest of its
 * labels. */
static int select_pods(struct compile *c, const struct ew_service *svc)
{
	size_t lo, hi;

	c->n_selected = 0;
	if (!svc->selector.n) {
		pods_of(c, svc->namespace, &lo, &hi);
		if (reserve(&c->selected, &c->cap_selected, 0, hi - lo,
			    sizeof(*c->selected)))
			return -1;
		for (size_t i = lo; i < hi; i++)
			c->selected[c->n_selected++] = c->pods[i];
		return 0;
	}
	labelled(c, svc->namespace, &svc->selector.items[0], &lo, &hi);
	for (size_t i = 1; i < svc->selector.n && hi > lo; i++) {
		size_t l, h;

		labelled(c, svc->namespace, &svc->selector.items[i], &l, &h);
		if (h - l < hi - lo) {
			lo = l;
			hi = h;
		}
	}
	if (reserve(&c->selected, &c->cap_selected, 0, hi - lo, sizeof(*c->selected)))
		return -1;
	for (size_t i = lo; i < hi; i++)
		if (ew_labels_match(&svc->selector, &c->labels[i].pod->labels))
			c->selected[c->n_selected++] = c->labels[i].pod;
	return 0;
}

/* ---- endpoints of a service port --------------------------------------- */

static int add_candidate(struct compile *c, uint32_t addr, uint16_t port,
			 enum endpoint_state state)
{
	if (reserve(&c->cands, &c->cap_cands, c->n_cands, 1, sizeof(*c->cands)))
		return -1;
	c->cands[c->n_cands++] = (struct candidate){ .addr = addr, .port = htons(port),
						     .state = state };
	return 0;
}

/* EndpointSlice conditions as kube-proxy reads them: ready ones serve;
 * serving terminating ones serve only when nothing is ready. */
static enum endpoint_state slice_endpoint_state(const struct ew_slice_endpoint *e)
{
	if (e->ready)
		return EP_READY;
	if (e->serving && e->terminating)
		return EP_SERVING_TERMINATING;
	return EP_NONE;
}

static int candidates_from_slices(struct compile *c, const struct ew_service_port *sp,
				  size_t lo, size_t hi)
{
	for (size_t i = lo; i < hi; i++) {
		const struct ew_endpoint_slice *s = c->slices[i];

		for (size_t j = 0; j < s->n_ports; j++) {
			const struct ew_slice_port *p = &s->ports[j];

			if (!p->port || p->protocol != sp->protocol ||
			    !same_name(p->name, sp->name))
				continue;
			for (size_t k = 0; k < s->n_endpoints; k++) {
				const struct ew_slice_endpoint *e = &s->endpoints[k];
				enum endpoint_state st = slice_endpoint_state(e);

				if (e->ip && st != EP_NONE &&
				    add_candidate(c, e->ip, p->port, st))
					return -1;
			}
		}
	}
	return 0;
}

static uint16_t named_port(const struct ew_pod *pod, const char *name, uint8_t proto)
{
	for (size_t i = 0; i < pod->n_ports; i++)
		if (pod->ports[i].name && !strcmp(pod->ports[i].name, name) &&
		    pod->ports[i].protocol == proto)
			return pod->ports[i].port;
	return 0;
}

/* The selected pods, as the endpoints controller lists them: all ready. A
 * pod that lacks a named targetPort is left out; when every selected pod
 * lacks it the Service is probably wrong, so *undefined is set. */
static int candidates_from_pods(struct compile *c, const struct ew_service_port *sp,
				bool *undefined)
{
	size_t found = 0;

	for (size_t i = 0; i < c->n_selected; i++) {
		const struct ew_pod *pod = c->selected[i];
		uint16_t port = sp->target_port ? sp->target_port : sp->port;

		if (sp->target_port_name)
			port = named_port(pod, sp->target_port_name, sp->protocol);
		if (!port)
			continue;
		found++;
		if (add_candidate(c, pod->ip, port, EP_READY))
			return -1;
	}
	*undefined = sp->target_port_name && c->n_selected && !found;
	return 0;
}

/* ---- tables -------------------------------------------------------------- */

static int index_init(struct digest_index *ix, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	ix->entries = malloc(cap * sizeof(*ix->entries));
	if (!ix->entries)
		return -1;
	for (size_t i = 0; i < cap; i++)
		ix->entries[i].table = -1;
	ix->mask = cap - 1;
	return 0;
}

typedef bool (*table_matches)(const struct ew_lb_table_plan *t,
			      const struct ew_lb_backend *set, size_t n, uint32_t size);

/* The entry of a table with this digest that matches, or the free entry
 * where such a table goes. */
static struct digest_entry *index_probe(const struct compile *c, struct digest_index *ix,
					uint64_t digest, table_matches match,
					const struct ew_lb_backend *set, size_t n)
{
	struct digest_entry *e;

	for (size_t i = digest & ix->mask;; i = (i + 1) & ix->mask) {
		e = &ix->entries[i];
		if (e->table < 0 ||
		    (e->digest == digest &&
		     match(&c->d->tables[e->table], set, n, c->cfg->table_size)))
			return e;
	}
}

static bool same_backends(const struct ew_lb_table_plan *t,
			  const struct ew_lb_backend *set, size_t n, uint32_t size)
{
	return t->size == size && t->n_backends == n &&
	       !memcmp(t->backends, set, n * sizeof(*set));
}

static bool same_addrs(const struct ew_lb_table_plan *t, const struct ew_lb_backend *set,
		       size_t n, uint32_t size)
{
	if (t->size != size || t->n_backends != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (t->backends[i].addr != set[i].addr)
			return false;
	return true;
}

static uint64_t digest_size(uint32_t size)
{
	uint8_t le[4] = { size, size >> 8, size >> 16, size >> 24 };

	return ew_fnv1a64(EW_FNV64_OFFSET, le, sizeof(le));
}

/* Of the table's size and backends in order; addresses and ports are hashed
 * in network byte order, so the digest is the same on every machine. */
static uint64_t digest_backends(const struct ew_lb_backend *set, size_t n, uint32_t size)
{
	uint64_t h = digest_size(size);

	for (size_t i = 0; i < n; i++) {
		h = ew_fnv1a64(h, &set[i].addr, sizeof(set[i].addr));
		h = ew_fnv1a64(h, &set[i].port, sizeof(set[i].port));
	}
	return h;
}

static uint64_t digest_addrs(const struct ew_lb_backend *set, size_t n, uint32_t size)
{
	uint64_t h = digest_size(size);

	for (size_t i = 0; i < n; i++)
		h = ew_fnv1a64(h, &set[i].addr, sizeof(set[i].addr));
	return h;
}

/* The slots for c->set: a copy of those of a table with the same addresses
 * (a backend's Maglev name is its address), or built. */
static int table_slots(struct compile *c, size_t n, uint32_t *slots)
{
	uint32_t size = c->cfg->table_size;
	uint64_t digest = digest_addrs(c->set, n, size);
	struct digest_entry *e =
		index_probe(c, &c->by_addrs, digest, same_addrs, c->set, n);

	if (e->table >= 0) {
		memcpy(slots, c->d->tables[e->table].slots, size * sizeof(*slots));
		return 0;
	}
	if (reserve(&c->names, &c->cap_names, 0, n, sizeof(*c->names)))
		return -1;
	for (size_t i = 0; i < n; i++)
		c->names[i] = (struct ew_maglev_name){ .bytes = &c->set[i].addr,
						       .len = sizeof(c->set[i].addr) };
	if (ew_maglev_build(c->names, n, size, slots))
		return -1; /* n <= size was checked: out of memory */
	e->digest = digest;
	e->table = (long)c->d->n_tables;
	return 0;
}

/* The index of the table of c->set[0..n), made when it is new. */
static long table_for_set(struct compile *c, size_t n)
{
	struct ew_lb_desired *d = c->d;
	uint32_t size = c->cfg->table_size;
	uint64_t digest = digest_backends(c->set, n, size);
	struct digest_entry *e =
		index_probe(c, &c->by_backends, digest, same_backends, c->set, n);
	struct ew_lb_table_plan *t;

	if (e->table >= 0)
		return e->table;
	if (reserve(&d->tables, &c->cap_tables, d->n_tables, 1, sizeof(*d->tables)))
		return -1;
	t = &d->tables[d->n_tables];
	*t = (struct ew_lb_table_plan){ .digest = digest, .size = size, .n_backends = n };
	t->backends = malloc(n * sizeof(*t->backends));
	t->slots = malloc(size * sizeof(*t->slots));
	if (!t->backends || !t->slots || table_slots(c, n, t->slots)) {
		free(t->backends);
		free(t->slots);
		return -1;
	}
	memcpy(t->backends, c->set, n * sizeof(*t->backends));
	e->digest = digest;
	e->table = (long)d->n_tables++;
	return e->table;
}

static int add_backend(struct compile *c, uint32_t addr, uint16_t port, uint8_t flags)
{
	if (reserve(&c->all, &c->cap_all, c->n_all, 1, sizeof(*c->all)))
		return -1;
	c->all[c->n_all++] = (struct ew_lb_backend){ .addr = addr, .port = port,
						     .flags = flags };
	return 0;
}

/* c->cands becomes the port's table (plan->table) and backends. */
static int plan_port(struct compile *c, const struct ew_service *svc, size_t p,
		     struct port_plan *plan)
{
	enum endpoint_state serves = EP_SERVING_TERMINATING;
	size_t n = 0, n_set = 0;

	/* An address listed twice counts once, in its best state: a slice
	 * that lags behind must not take a ready pod out of the table. */
	if (c->n_cands)
		qsort(c->cands, c->n_cands, sizeof(*c->cands), cmp_candidate);
	for (size_t i = 0; i < c->n_cands; i++) {
		if (n && !cmp_candidate(&c->cands[n - 1], &c->cands[i])) {
			if (c->cands[i].state > c->cands[n - 1].state)
				c->cands[n - 1].state = c->cands[i].state;
			continue;
		}
		c->cands[n++] = c->cands[i];
	}
	for (size_t i = 0; i < n; i++)
		if (c->cands[i].state == EP_READY)
			serves = EP_READY;

	if (reserve(&c->set, &c->cap_set, 0, n, sizeof(*c->set)))
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct candidate *k = &c->cands[i];

		if (k->state == serves)
			c->set[n_set++] = (struct ew_lb_backend){ .addr = k->addr,
								  .port = k->port };
	}
	plan->table = -1;
	if (n_set > c->cfg->table_size) {
		ew_diag_add(c->diags, svc->origin.file, svc->origin.line, svc->origin.col,
			    "Service %s/%s: spec.ports[%zu]: %zu endpoints do not fit "
			    "in a Maglev table of %u slots; raise --maglev-table-size "
			    "to a prime of at least %zu (100 times the endpoints keeps "
			    "their shares within 1%%)", svc->namespace, svc->name, p,
			    n_set, c->cfg->table_size, n_set);
		plan->keep = true;
		return 0;
	}
	if (n_set && (plan->table = table_for_set(c, n_set)) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct candidate *k = &c->cands[i];

		if (add_backend(c, k->addr, k->port,
				k->state == serves ? 0 : EW_BACKEND_TERMINATING))
			return -1;
	}
	return 0;
}

/* The ports of svc that have a frontend. EndpointSlices, when there are
 * any, are authoritative; otherwise the selector picks pods. */
static int plan_service(struct compile *c, size_t s)
{
	const struct ew_service *svc = &c->m->services[s];
	struct port_plan *plans = &c->plans[c->port_base[s]];
	bool used = false, from_pods;
	size_t lo, hi;

	for (size_t p = 0; p < svc->n_ports; p++)
		used |= plans[p].used;
	if (!used)
		return 0;
	slices_of(c, svc, &lo, &hi);
	from_pods = lo == hi && svc->has_selector;
	if (from_pods && select_pods(c, svc))
		return -1;
	for (size_t p = 0; p < svc->n_ports; p++) {
		const struct ew_service_port *sp = &svc->ports[p];
		bool undefined = false;

		plans[p].table = -1;
		if (!plans[p].used)
			continue;
		c->n_cands = 0;
		if (from_pods ? candidates_from_pods(c, sp, &undefined)
			      : candidates_from_slices(c, sp, lo, hi))
			return -1;
		if (undefined) {
			ew_diag_add(c->diags, svc->origin.file, svc->origin.line,
				    svc->origin.col,
				    "Service %s/%s: spec.ports[%zu].targetPort \"%s\": "
				    "no selected pod defines a container port of that "
				    "name (%s); its frontends keep their last good "
				    "backends",
				    svc->namespace, svc->name, p, sp->target_port_name,
				    proto_name(sp->protocol));
			plans[p].keep = true;
			continue;
		}
		if (plan_port(c, svc, p, &plans[p]))
			return -1;
	}
	return 0;
}

/* ---- frontends ----------------------------------------------------------- */

static int add_frontend(struct compile *c, const struct ew_service *svc, size_t p,
			uint32_t addr, uint16_t port, uint16_t flags)
{
	struct ew_lb_desired *d = c->d;
	struct ew_lb_frontend_plan *f;

	if (reserve(&d->frontends, &c->cap_frontends, d->n_frontends, 1,
		    sizeof(*d->frontends)))
		return -1;
	f = &d->frontends[d->n_frontends++];
	*f = (struct ew_lb_frontend_plan){
		.key = { .addr = addr, .port = htons(port),
			 .proto = svc->ports[p].protocol },
		.value = { .table_size = c->cfg->table_size, .flags = flags },
		.table = -1, .service = svc, .port = p,
	};
	if (svc->affinity) {
		f->value.flags |= EW_LB_AFFINITY;
		f->value.affinity_timeout = svc->affinity_timeout;
	}
	return 0;
}

static int add_frontends(struct compile *c)
{
	const struct ew_model *m = c->m;

	for (size_t s = 0; s < m->n_services; s++) {
		const struct ew_service *svc = &m->services[s];

		for (size_t p = 0; p < svc->n_ports; p++) {
			const struct ew_service_port *sp = &svc->ports[p];

			if (svc->cluster_ip &&
			    add_frontend(c, svc, p, svc->cluster_ip, sp->port, 0))
				return -1;
			if (svc->type == EW_SERVICE_NODE_PORT && sp->node_port &&
			    c->cfg->node_ip &&
			    add_frontend(c, svc, p, c->cfg->node_ip, sp->node_port,
					 EW_LB_NODEPORT))
				return -1;
		}
	}
	return 0;
}

/* By key bytes; of equal keys, the first service in the store first. */
static int cmp_frontend(const void *x, const void *y)
{
	const struct ew_lb_frontend_plan *a = x, *b = y;
	int c = memcmp(&a->key, &b->key, sizeof(a->key));

	if (c)
		return c;
	if (a->service != b->service)
		return a->service < b->service ? -1 : 1;
	return (a->port > b->port) - (a->port < b->port);
}

/* Two services claim one frontend. The store normally rejects that; if it
 * slips through, the first service in the store keeps it. */
static void report_taken(struct compile *c, const struct ew_lb_frontend_plan *f,
			 const struct ew_service *first)
{
	const struct ew_service *svc = f->service;
	char addr[16];

	if (first == svc)
		return;
	ew_diag_add(c->diags, svc->origin.file, svc->origin.line, svc->origin.col,
		    "Service %s/%s: spec.ports[%zu]: %s:%u/%s is already a frontend of "
		    "Service %s/%s; this one is ignored", svc->namespace, svc->name,
		    f->port, ew_format_ipv4(f->key.addr, addr), ntohs(f->key.port),
		    proto_name(f->key.proto), first->namespace, first->name);
}

/* Sorts the frontends and drops the later claims on a key; marks the
 * service ports left with a frontend. */
static void dedupe_frontends(struct compile *c)
{
	struct ew_lb_desired *d = c->d;
	size_t n = 0;

	if (d->n_frontends)
		qsort(d->frontends, d->n_frontends, sizeof(*d->frontends), cmp_frontend);
	for (size_t i = 0; i < d->n_frontends; i++) {
		struct ew_lb_frontend_plan *f = &d->frontends[i];

		if (n && !memcmp(&d->frontends[n - 1].key, &f->key, sizeof(f->key))) {
			report_taken(c, f, d->frontends[n - 1].service);
			continue;
		}
		d->frontends[n++] = *f;
	}
	d->n_frontends = n;
	for (size_t i = 0; i < n; i++) {
		const struct ew_lb_frontend_plan *f = &d->frontends[i];

		c->plans[c->port_base[f->service - c->m->services] + f->port].used = true;
	}
}

/* ---- backends ------------------------------------------------------------ */

/* d->backends: c->all unique; a backend in any table is not terminating. */
static int merge_backends(struct compile *c)
{
	struct ew_lb_desired *d = c->d;
	size_t n = 0;

	if (c->n_all)
		qsort(c->all, c->n_all, sizeof(*c->all), cmp_backend);
	for (size_t i = 0; i < c->n_all; i++) {
		if (n && !cmp_backend(&c->all[n - 1], &c->all[i])) {
			c->all[n - 1].flags &= c->all[i].flags;
			continue;
		}
		c->all[n++] = c->all[i];
	}
	d->backends = c->all;
	d->n_backends = n;
	c->all = NULL;
	return 0;
}

void ew_lb_desired_free(struct ew_lb_desired *d)
{
	for (size_t i = 0; i < d->n_tables; i++) {
		free(d->tables[i].backends);
		free(d->tables[i].slots);
	}
	free(d->tables);
	free(d->frontends);
	free(d->backends);
	memset(d, 0, sizeof(*d));
}

static void compile_free(struct compile *c)
{
	free(c->slices);
	free(c->pods);
	free(c->labels);
	free(c->port_base);
	free(c->plans);
	free(c->by_backends.entries);
	free(c->by_addrs.entries);
	free(c->selected);
	free(c->cands);
	free(c->set);
	free(c->names);
	free(c->all);
}

static int compile_services(struct compile *c)
{
	const struct ew_model *m = c->m;
	size_t n_ports = 0;

	c->port_base = malloc((m->n_services + 1) * sizeof(*c->port_base));
	if (!c->port_base)
		return -1;
	for (size_t s = 0; s < m->n_services; s++) {
		c->port_base[s] = n_ports;
		n_ports += m->services[s].n_ports;
	}
	c->plans = calloc(n_ports + 1, sizeof(*c->plans));
	if (!c->plans || build_indexes(c) || index_init(&c->by_backends, n_ports) ||
	    index_init(&c->by_addrs, n_ports) || add_frontends(c))
		return -1;
	dedupe_frontends(c);
	for (size_t s = 0; s < m->n_services; s++)
		if (plan_service(c, s))
			return -1;
	for (size_t i = 0; i < c->d->n_frontends; i++) {
		struct ew_lb_frontend_plan *f = &c->d->frontends[i];
		const struct port_plan *plan =
			&c->plans[c->port_base[f->service - m->services] + f->port];

		f->table = plan->table;
		f->keep = plan->keep;
	}
	return merge_backends(c);
}

int ew_services_compile(const struct ew_model *m, const struct ew_services_config *cfg,
			struct ew_lb_desired *d, struct ew_diags *diags)
{
	struct compile c = { .m = m, .cfg = cfg, .d = d, .diags = diags };
	int err;

	if (!ew_is_prime(cfg->table_size)) {
		ew_diag_add(diags, NULL, 0, 0,
			    "Maglev table size %u is not a prime; use one such as %u",
			    cfg->table_size, EW_MAGLEV_SIZE_DEFAULT);
		errno = EINVAL;
		return -1;
	}
	err = compile_services(&c);
	compile_free(&c);
	if (err) {
		ew_lb_desired_free(d);
		errno = ENOMEM;
	}
	return err;
}
