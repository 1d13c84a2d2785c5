// SPDX-License-Identifier: Apache-2.0
/*
 * bpfctl services, backends, services --tables: the load balancer's maps.
 * A frontend names a Maglev table; the table's slots name backends, each
 * holding a share of the slots: that share is the backend's weight.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <edgewire/maglev_table.h>

#include "bpfctl.h"
#include "table.h"

/* --- backends --------------------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

int lb_backends_read(const struct ctl *c, struct lb_backends *b)
{
	*b = (struct lb_backends){ 0 };
	b->n = read_entries(c, EW_MAP_LB_BACKENDS, sizeof(*b->ids), sizeof(*b->be),
			    cmp_u32, (void **)&b->ids, (void **)&b->be);
	return b->n < 0 ? -1 : 0;
}

const struct ew_lb_backend *lb_backend_by_id(const struct lb_backends *b, __u32 id)
{
	struct ew_lb_backend_key *k;

	k = bsearch(&id, b->ids, b->n, sizeof(*b->ids), cmp_u32);
	return k ? &b->be[k - b->ids] : NULL;
}

__u32 lb_backend_at(const struct lb_backends *b, __u32 addr, __u16 port)
{
	for (long i = 0; i < b->n; i++)
		if (b->be[i].addr == addr && b->be[i].port == port)
			return b->ids[i].id;
	return 0;
}

void lb_backends_free(struct lb_backends *b)
{
	free(b->ids);
	free(b->be);
	*b = (struct lb_backends){ 0 };
}

static const char *backend_state(const struct ew_lb_backend *be)
{
	if (!be)
		return "missing";
	return be->flags & EW_BACKEND_TERMINATING ? "terminating" : "active";
}

/* --- Maglev tables ------------------------------------------------------------- */

/* A backend's slots in one table. */
struct table_share {
	__u32 id;
	__u32 slots;
};

struct lb_table {
	__u32 id;
	bool has_meta;		/* in ew_lb_tables */
	struct ew_lb_table meta;
	__u32 size;		/* slots of the table in ew_lb_maglev; 0: none there */
	size_t n_shares;
	struct table_share *shares; /* by backend id */
};

struct lb_tables {
	size_t n;
	struct lb_table *v; /* by id */
};

/* Reads table t->id and counts each backend's slots: as many slots as its
 * ew_lb_tables entry says, or all its chunks hold without one. */
static int read_shares(int maglev_fd, struct lb_table *t)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info), *slots, capacity;
	int fd = inner_map_fd(maglev_fd, &t->id), err;

	if (fd < 0)
		return 0; /* the table is gone meanwhile */
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		close(fd);
		return -1;
	}
	capacity = info.max_entries * EW_MAGLEV_CHUNK;
	t->size = t->has_meta && t->meta.size <= capacity ? t->meta.size : capacity;
	slots = xcalloc(t->size, sizeof(*slots));
	err = ew_maglev_table_read(fd, slots, t->size);
	close(fd);
	if (err) {
		free(slots);
		errno = -err;
		return -1;
	}
	qsort(slots, t->size, sizeof(*slots), cmp_u32);
	t->shares = xcalloc(t->size, sizeof(*t->shares));
	for (__u32 s = 0; s < t->size; s++) {
		if (!t->n_shares || t->shares[t->n_shares - 1].id != slots[s])
			t->shares[t->n_shares++].id = slots[s];
		t->shares[t->n_shares - 1].slots++;
	}
	free(slots);
	return 0;
}

static struct lb_table *table_by_id(const struct lb_tables *ts, __u32 id)
{
	for (size_t i = 0; i < ts->n; i++)
		if (ts->v[i].id == id)
			return &ts->v[i];
	return NULL;
}

static void lb_tables_free(struct lb_tables *ts)
{
	for (size_t i = 0; i < ts->n; i++)
		free(ts->v[i].shares);
	free(ts->v);
}

static int cmp_lb_table(const void *a, const void *b)
{
	const struct lb_table *x = a, *y = b;

	return cmp_u32(&x->id, &y->id);
}

/* Every table in ew_lb_maglev or ew_lb_tables (either may lack one: the
 * agent writes them in turn). */
static int lb_tables_read(const struct ctl *c, struct lb_tables *ts)
{
	int maglev_fd, meta_fd = -1, ret = -1;
	__u32 *ids = NULL, *meta_ids = NULL;
	long n, n_meta = 0;

	*ts = (struct lb_tables){ 0 };
	n = open_map_keys(c, EW_MAP_LB_MAGLEV, sizeof(*ids), cmp_u32, &maglev_fd,
			  (void **)&ids);
	if (n < 0)
		return -1;
	n_meta = open_map_keys(c, EW_MAP_LB_TABLES, sizeof(*meta_ids), cmp_u32, &meta_fd,
			       (void **)&meta_ids);
	if (n_meta < 0)
		goto out;
	ts->v = xcalloc(n + n_meta, sizeof(*ts->v));
	for (long i = 0; i < n_meta; i++) {
		struct lb_table *t = &ts->v[ts->n++];

		t->id = meta_ids[i];
		t->has_meta = !bpf_map_lookup_elem(meta_fd, &meta_ids[i], &t->meta);
	}
	/* the metadata first: it says how many slots a table has */
	for (long i = 0; i < n; i++) {
		struct lb_table *t = table_by_id(ts, ids[i]);

		if (!t) {
			t = &ts->v[ts->n++];
			t->id = ids[i];
		}
		if (read_shares(maglev_fd, t)) {
			fprintf(stderr, "bpfctl: cannot read table %u of %s: %s\n",
				ids[i], EW_MAP_LB_MAGLEV, strerror(errno));
			goto out;
		}
	}
	qsort(ts->v, ts->n, sizeof(*ts->v), cmp_lb_table);
	ret = 0;
out:
	free(ids);
	free(meta_ids);
	close(maglev_fd);
	if (meta_fd >= 0)
		close(meta_fd);
	return ret;
}

/* How many tables hold backend id. */
static unsigned int tables_holding(const struct lb_tables *ts, __u32 id)
{
	unsigned int n = 0;

	for (size_t i = 0; i < ts->n; i++)
		for (size_t j = 0; j < ts->v[i].n_shares; j++)
			n += ts->v[i].shares[j].id == id;
	return n;
}

/* --- frontends --------------------------------------------------------------------- */

static int cmp_frontend_key(const void *a, const void *b)
{
	const struct ew_lb_frontend_key *x = a, *y = b;
	int d = cmp_u32_net(x->addr, y->addr);

	if (!d)
		d = (int)ntohs(x->port) - (int)ntohs(y->port);
	return d ? d : (int)x->proto - (int)y->proto;
}

/* The load balancer's maps, read once per command. */
struct lb_state {
	long n_frontends;
	struct ew_lb_frontend_key *fe_keys; /* by address, port, protocol */
	struct ew_lb_frontend *fes;
	struct lb_tables tables;
	struct lb_backends backends;
};

static void lb_state_free(struct lb_state *lb)
{
	free(lb->fe_keys);
	free(lb->fes);
	lb_tables_free(&lb->tables);
	lb_backends_free(&lb->backends);
}

static int lb_state_read(const struct ctl *c, struct lb_state *lb)
{
	*lb = (struct lb_state){ 0 };
	lb->n_frontends = read_entries(c, EW_MAP_LB_FRONTENDS, sizeof(*lb->fe_keys),
				       sizeof(*lb->fes), cmp_frontend_key,
				       (void **)&lb->fe_keys, (void **)&lb->fes);
	if (lb->n_frontends >= 0 && !lb_tables_read(c, &lb->tables) &&
	    !lb_backends_read(c, &lb->backends))
		return 0;
	lb_state_free(lb);
	return -1;
}

static unsigned int frontends_of_table(const struct lb_state *lb, __u32 table_id)
{
	unsigned int n = 0;

	for (long i = 0; i < lb->n_frontends; i++)
		n += lb->fes[i].table_id == table_id;
	return n;
}

/* Frontends whose table holds the backend: the services it serves. */
static unsigned int frontends_of_backend(const struct lb_state *lb, __u32 backend_id)
{
	unsigned int n = 0;

	for (long i = 0; i < lb->n_frontends; i++) {
		const struct lb_table *t = table_by_id(&lb->tables, lb->fes[i].table_id);

		for (size_t j = 0; t && j < t->n_shares; j++)
			n += t->shares[j].id == backend_id;
	}
	return n;
}

/* Widths that align the backends of one cell. */
struct share_widths {
	int id, addr, state;
};

static void share_widths(const struct lb_table *t, const struct lb_backends *bs,
			 struct share_widths *w)
{
	char text[24];

	*w = (struct share_widths){ 0 };
	for (size_t i = 0; i < t->n_shares; i++) {
		const struct ew_lb_backend *be = lb_backend_by_id(bs, t->shares[i].id);
		int id = snprintf(text, sizeof(text), "#%u", t->shares[i].id);
		int addr = be ? (int)strlen(ip_port_str(be->addr, be->port, text)) : 1;
		int state = (int)strlen(backend_state(be));

		w->id = id > w->id ? id : w->id;
		w->addr = addr > w->addr ? addr : w->addr;
		w->state = state > w->state ? state : w->state;
	}
}

/* The BACKENDS cell of a frontend: a line and an object per backend. */
static void backends_cell(struct table *out, const struct ew_lb_frontend *fe,
			  const struct lb_table *t, const struct lb_backends *bs)
{
	json_t *list = json_array();
	char *text = NULL, id[16], addr[40], ip[16];
	struct share_widths w;
	size_t len = 0;
	FILE *f;

	if (!fe->table_id) {
		table_cell(out, "no backend", list);
		return;
	}
	if (!t || !t->size) {
		snprintf(addr, sizeof(addr), "table %u missing", fe->table_id);
		table_cell(out, addr, list);
		return;
	}
	share_widths(t, bs, &w);
	f = open_memstream(&text, &len);
	if (!f)
		die_oom();
	for (size_t i = 0; i < t->n_shares; i++) {
		const struct table_share *s = &t->shares[i];
		const struct ew_lb_backend *be = lb_backend_by_id(bs, s->id);
		double share = percent(s->slots, t->size);

		snprintf(id, sizeof(id), "#%u", s->id);
		fprintf(f, "%s%-*s %-*s  %-*s  %5.1f%%", i ? "\n" : "", w.id, id, w.addr,
			be ? ip_port_str(be->addr, be->port, addr) : "-", w.state,
			backend_state(be), share);
		json_array_append_new(list, json_pack(
			"{s:I, s:s?, s:o?, s:s, s:I, s:f}", "id", (json_int_t)s->id,
			"address", be ? ip_str(be->addr, ip) : NULL,
			"port", be ? json_integer(ntohs(be->port)) : NULL,
			"state", backend_state(be), "slots", (json_int_t)s->slots,
			"share", share));
	}
	if (t->size != fe->table_size)
		fprintf(f, "\n(the table has %u slots, the frontend says %u)", t->size,
			fe->table_size);
	fclose(f);
	table_cell(out, text, list);
	free(text);
}

static void services_rows(struct table *out, const struct lb_state *lb)
{
	for (long i = 0; i < lb->n_frontends; i++) {
		const struct ew_lb_frontend_key *k = &lb->fe_keys[i];
		const struct ew_lb_frontend *fe = &lb->fes[i];
		bool affinity = fe->flags & EW_LB_AFFINITY;
		char ip[16], text[40], buf[8];
		const char *proto = proto_name(k->proto, buf);

		table_row(out, true);
		snprintf(text, sizeof(text), "%s:%u/%s", ip_str(k->addr, ip),
			 ntohs(k->port), proto);
		table_cell(out, text, json_string(ip));
		table_uint(out, ntohs(k->port));
		table_str(out, proto);
		table_str(out, fe->flags & EW_LB_NODEPORT ? "NodePort" : "ClusterIP");
		snprintf(text, sizeof(text), "%us", fe->affinity_timeout);
		table_cell(out, affinity ? text : NULL,
			   affinity ? json_integer(fe->affinity_timeout) : NULL);
		snprintf(text, sizeof(text), "%u", fe->table_id);
		table_cell(out, fe->table_id ? text : NULL,
			   fe->table_id ? json_integer(fe->table_id) : NULL);
		snprintf(text, sizeof(text), "%u", fe->table_size);
		table_cell(out, fe->table_id ? text : NULL,
			   fe->table_id ? json_integer(fe->table_size) : NULL);
		backends_cell(out, fe, table_by_id(&lb->tables, fe->table_id),
			      &lb->backends);
	}
}

static void tables_rows(struct table *out, const struct lb_state *lb)
{
	for (size_t i = 0; i < lb->tables.n; i++) {
		const struct lb_table *t = &lb->tables.v[i];
		json_t *ids = json_array();
		char text[64];

		table_row(out, true);
		table_uint(out, t->id);
		if (t->size)
			table_uint(out, t->size);
		else
			table_cell(out, "missing", NULL);
		for (size_t j = 0; j < t->n_shares; j++)
			json_array_append_new(ids, json_integer(t->shares[j].id));
		if (t->has_meta && t->size && t->meta.n_backends != t->n_shares)
			snprintf(text, sizeof(text), "%zu (ew_lb_tables says %u)",
				 t->n_shares, t->meta.n_backends);
		else
			snprintf(text, sizeof(text), "%zu", t->n_shares);
		table_cell(out, t->size ? text : NULL,
			   t->size ? json_integer((json_int_t)t->n_shares) : NULL);
		table_cell(out, NULL, ids);
		table_uint(out, frontends_of_table(lb, t->id));
		snprintf(text, sizeof(text), "%016llx",
			 (unsigned long long)t->meta.digest);
		table_str(out, t->has_meta ? text : NULL);
	}
}

static void backends_rows(struct table *out, const struct lb_state *lb)
{
	for (long i = 0; i < lb->backends.n; i++) {
		const struct ew_lb_backend *be = &lb->backends.be[i];
		__u32 id = lb->backends.ids[i].id;
		char addr[24], ip[16];

		table_row(out, true);
		table_uint(out, id);
		table_cell(out, ip_port_str(be->addr, be->port, addr),
			   json_string(ip_str(be->addr, ip)));
		table_uint(out, ntohs(be->port));
		table_str(out, backend_state(be));
		table_uint(out, tables_holding(&lb->tables, id));
		table_uint(out, frontends_of_backend(lb, id));
	}
}

static const struct table_column service_cols[] = {
	{ .key = "address", .heading = "FRONTEND" },
	{ .key = "port", .json_only = true },
	{ .key = "proto", .json_only = true },
	{ .key = "type", .heading = "TYPE" },
	{ .key = "affinityTimeout", .heading = "AFFINITY" },
	{ .key = "table", .heading = "TABLE" },
	{ .key = "slots", .heading = "SLOTS", .right = true },
	{ .key = "backends", .heading = "BACKENDS" },
};

static const struct table_column table_cols[] = {
	{ .key = "id", .heading = "TABLE" },
	{ .key = "slots", .heading = "SLOTS", .right = true },
	{ .key = "backends", .heading = "BACKENDS", .right = true },
	{ .key = "backendIds", .json_only = true },
	{ .key = "frontends", .heading = "FRONTENDS", .right = true },
	{ .key = "digest", .heading = "DIGEST" },
};

static const struct table_column backend_cols[] = {
	{ .key = "id", .heading = "ID" },
	{ .key = "address", .heading = "ADDRESS" },
	{ .key = "port", .json_only = true },
	{ .key = "state", .heading = "STATE" },
	{ .key = "tables", .heading = "TABLES", .right = true },
	{ .key = "frontends", .heading = "FRONTENDS", .right = true },
};

/* One of the views above: the maps read, rows filled, the table printed. */
static int lb_view(const struct ctl *c, const struct table_column *cols, int n_cols,
		   void (*rows)(struct table *out, const struct lb_state *lb))
{
	struct lb_state lb;
	struct table *out;

	if (lb_state_read(c, &lb))
		return 1;
	out = table_new(cols, n_cols);
	rows(out, &lb);
	table_print(out, c->json);
	lb_state_free(&lb);
	return 0;
}

int cmd_services(const struct ctl *c)
{
	if (c->tables)
		return lb_view(c, table_cols, ARRAY_SIZE(table_cols), tables_rows);
	return lb_view(c, service_cols, ARRAY_SIZE(service_cols), services_rows);
}

int cmd_backends(const struct ctl *c)
{
	return lb_view(c, backend_cols, ARRAY_SIZE(backend_cols), backends_rows);
}
