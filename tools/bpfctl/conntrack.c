// SPDX-License-Identifier: Apache-2.0
/*
 * bpfctl ct, ct count, ct flush: the service flows in ew_ct. A flow has two
 * entries (see struct ew_ct_key): SERVICE, keyed by the client's packet to
 * the frontend, and REPLY, keyed by the backend's packet back. Both are
 * listed, the flow's two next to each other.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "bpfctl.h"
#include "table.h"

struct ct_row {
	struct ew_ct_key key;
	struct ew_ct_entry e;
};

/* The client and the frontend of the flow an entry belongs to. */
static __u32 ct_client_addr(const struct ct_row *r)
{
	return r->key.type == EW_CT_REPLY ? r->e.orig_addr : r->key.saddr;
}

static __u16 ct_client_port(const struct ct_row *r)
{
	return r->key.type == EW_CT_REPLY ? r->e.orig_port : r->key.sport;
}

static __u32 ct_frontend_addr(const struct ct_row *r)
{
	return r->key.type == EW_CT_REPLY ? r->e.nat_addr : r->key.daddr;
}

static __u16 ct_frontend_port(const struct ct_row *r)
{
	return r->key.type == EW_CT_REPLY ? r->e.nat_port : r->key.dport;
}

/* Any order: lets map_keys() drop the duplicates a live map can give. */
static int cmp_ct_key(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct ew_ct_key));
}

/* By client, frontend and protocol: a flow's entries come together. */
static int cmp_ct_row(const void *a, const void *b)
{
	const struct ct_row *x = a, *y = b;
	int d = cmp_u32_net(ct_client_addr(x), ct_client_addr(y));

	if (!d)
		d = (int)ntohs(ct_client_port(x)) - (int)ntohs(ct_client_port(y));
	if (!d)
		d = cmp_u32_net(ct_frontend_addr(x), ct_frontend_addr(y));
	if (!d)
		d = (int)ntohs(ct_frontend_port(x)) - (int)ntohs(ct_frontend_port(y));
	if (!d)
		d = (int)x->key.proto - (int)y->key.proto;
	return d ? d : (int)x->key.type - (int)y->key.type;
}

/* The backend of an entry: a SERVICE entry names it, a REPLY entry comes
 * from it. */
static __u32 ct_backend_id(const struct ct_row *r, const struct lb_backends *bs)
{
	if (r->key.type == EW_CT_SERVICE)
		return r->e.backend_id;
	return lb_backend_at(bs, r->key.saddr, r->key.sport);
}

/* The entry names this address (network order) as source, destination,
 * translation or backend. */
static bool ct_has_addr(const struct ct_row *r, const struct ew_lb_backend *be, __u32 a)
{
	return r->key.saddr == a || r->key.daddr == a || r->e.nat_addr == a ||
	       (r->key.type == EW_CT_REPLY && r->e.orig_addr == a) ||
	       (be && be->addr == a);
}

static bool ct_has_port(const struct ct_row *r, const struct ew_lb_backend *be, __u16 p)
{
	return r->key.sport == p || r->key.dport == p || r->e.nat_port == p ||
	       (r->key.type == EW_CT_REPLY && r->e.orig_port == p) ||
	       (be && be->port == p);
}

static bool ct_match(const struct ctl *c, const struct ct_row *r,
		     const struct ew_lb_backend *be)
{
	const struct ct_filter *f = &c->ct;

	if (c->proto >= 0 && r->key.proto != c->proto)
		return false;
	if (f->has_addr && !ct_has_addr(r, be, f->addr))
		return false;
	if (f->port >= 0 && !ct_has_port(r, be, htons((__u16)f->port)))
		return false;
	return !f->has_service || (ct_frontend_addr(r) == f->fe_addr &&
				   ct_frontend_port(r) == f->fe_port);
}

/* The entries that pass the filters, sorted; their number or -1. */
static long ct_read(const struct ctl *c, const struct lb_backends *bs,
		    struct ct_row **rows)
{
	struct ew_ct_entry *entries;
	struct ew_ct_key *keys;
	long n, m = 0;

	n = read_entries(c, EW_MAP_CT, sizeof(*keys), sizeof(*entries), cmp_ct_key,
			 (void **)&keys, (void **)&entries);
	if (n < 0)
		return -1;
	*rows = xcalloc(n, sizeof(**rows));
	for (long i = 0; i < n; i++) {
		struct ct_row *r = &(*rows)[m];

		*r = (struct ct_row){ keys[i], entries[i] };
		m += ct_match(c, r, lb_backend_by_id(bs, ct_backend_id(r, bs)));
	}
	free(keys);
	free(entries);
	qsort(*rows, m, sizeof(**rows), cmp_ct_row);
	return m;
}

/* CLOCK_MONOTONIC, which bpf_ktime_get_ns() reads; tests fix it with
 * BPFCTL_NOW_NS so ages come out alike. */
static __u64 ct_now(void)
{
	const char *fixed = getenv("BPFCTL_NOW_NS");

	return fixed ? strtoull(fixed, NULL, 10) : clock_ns(CLOCK_MONOTONIC);
}

static void backend_cell(struct table *t, const struct ct_row *r,
			 const struct lb_backends *bs)
{
	__u32 id = ct_backend_id(r, bs);
	const struct ew_lb_backend *be = lb_backend_by_id(bs, id);
	char text[48], addr[24];
	json_t *value;

	if (!id) {
		table_cell(t, NULL, NULL);
		return;
	}
	snprintf(text, sizeof(text), "#%u %s", id,
		 be ? ip_port_str(be->addr, be->port, addr) : "missing");
	value = json_pack("{s:I}", "id", (json_int_t)id);
	if (be) {
		json_t *where = ip_port_json(be->addr, be->port);

		json_object_update(value, where);
		json_decref(where);
	}
	table_cell(t, text, value);
}

/* What the datapath writes besides the backend: a SERVICE entry with SNAT
 * the client's source; a REPLY entry the frontend as source and, with SNAT,
 * the client as destination. */
static void nat_cell(struct table *t, const struct ct_row *r)
{
	bool snat = r->e.flags & EW_CT_SNAT, reply = r->key.type == EW_CT_REPLY;
	char text[64] = "", src[24], dst[24];
	json_t *src_json = NULL, *dst_json = NULL;

	if (reply || snat) {
		ip_port_str(r->e.nat_addr, r->e.nat_port, src);
		src_json = ip_port_json(r->e.nat_addr, r->e.nat_port);
	}
	if (reply && snat) {
		ip_port_str(r->e.orig_addr, r->e.orig_port, dst);
		dst_json = ip_port_json(r->e.orig_addr, r->e.orig_port);
	}
	snprintf(text, sizeof(text), "%s%s%s%s%s", src_json ? "src=" : "",
		 src_json ? src : "", src_json && dst_json ? " " : "",
		 dst_json ? "dst=" : "", dst_json ? dst : "");
	table_cell(t, *text ? text : NULL,
		   json_pack("{s:o?, s:o?}", "src", src_json, "dst", dst_json));
}

static void flags_cell(struct table *t, __u32 flags)
{
	static const struct {
		__u32 bit;
		const char *name;
	} names[] = { { EW_CT_SNAT, "snat" }, { EW_CT_NODEPORT, "nodeport" } };
	json_t *list = json_array();
	char text[32] = "";

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (!(flags & names[i].bit))
			continue;
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s%s",
			 *text ? "," : "", names[i].name);
		json_array_append_new(list, json_string(names[i].name));
	}
	table_cell(t, *text ? text : NULL, list);
}

static void time_cell(struct table *t, __u64 now, __u64 then)
{
	__u64 ns = now > then ? now - then : 0;
	char text[24];

	table_cell(t, duration_str(ns, text),
		   json_integer((json_int_t)(ns / NSEC_PER_SEC)));
}

static void ct_list(const struct ctl *c, const struct ct_row *rows, long n,
		    const struct lb_backends *bs)
{
	static const struct table_column cols[] = {
		{ .key = "type", .heading = "TYPE" },
		{ .key = "proto", .heading = "PROTO" },
		{ .key = "src", .heading = "SOURCE" },
		{ .key = "dst", .heading = "DESTINATION" },
		{ .key = "frontend", .json_only = true },
		{ .key = "backend", .heading = "BACKEND" },
		{ .key = "nat", .heading = "NAT" },
		{ .key = "flags", .heading = "FLAGS" },
		{ .key = "ageSeconds", .heading = "AGE", .right = true },
		{ .key = "idleSeconds", .heading = "IDLE", .right = true },
	};
	struct table *t = TABLE_NEW(cols);
	__u64 now = ct_now();

	for (long i = 0; i < n; i++) {
		const struct ct_row *r = &rows[i];
		char text[24], proto[8];

		table_row(t, true);
		table_str(t, r->key.type == EW_CT_REPLY ? "reply" : "service");
		table_str(t, proto_name(r->key.proto, proto));
		table_cell(t, ip_port_str(r->key.saddr, r->key.sport, text),
			   ip_port_json(r->key.saddr, r->key.sport));
		table_cell(t, ip_port_str(r->key.daddr, r->key.dport, text),
			   ip_port_json(r->key.daddr, r->key.dport));
		table_cell(t, NULL,
			   ip_port_json(ct_frontend_addr(r), ct_frontend_port(r)));
		backend_cell(t, r, bs);
		nat_cell(t, r);
		flags_cell(t, r->e.flags);
		time_cell(t, now, r->e.created_ns);
		time_cell(t, now, r->e.seen_ns);
	}
	table_print(t, c->json);
}

static void ct_count(const struct ctl *c, const struct ct_row *rows, long n)
{
	long service = 0;

	for (long i = 0; i < n; i++)
		service += rows[i].key.type == EW_CT_SERVICE;
	if (c->json)
		json_print(json_pack("{s:I, s:I, s:I, s:i}", "entries", (json_int_t)n,
				     "service", (json_int_t)service, "reply",
				     (json_int_t)(n - service), "max", EW_CT_SIZE));
	else
		printf("%ld entries (%ld service, %ld reply) of at most %d\n", n, service,
		       n - service, EW_CT_SIZE);
}

/* On a terminal the user types "yes"; elsewhere --yes is required. */
static bool ct_confirm(const struct ctl *c, long n)
{
	char answer[16] = "";

	if (c->yes)
		return true;
	if (!isatty(STDIN_FILENO)) {
		fprintf(stderr, "bpfctl: ct flush would delete %ld entries; pass --yes "
			"(there is no terminal to ask on)\n", n);
		return false;
	}
	fprintf(stderr, "Delete %ld connection tracking entries under %s/maps? Their "
		"flows pick a backend again; NodePort connections may break.\n"
		"Type yes to delete: ", n, c->root);
	if (!fgets(answer, sizeof(answer), stdin) || strcmp(answer, "yes\n")) {
		fprintf(stderr, "bpfctl: nothing deleted\n");
		return false;
	}
	return true;
}

static int ct_flush(const struct ctl *c, const struct ct_row *rows, long n)
{
	long deleted = 0, failed = 0;
	int fd;

	if (n && !ct_confirm(c, n))
		return 1;
	fd = open_map(c, EW_MAP_CT);
	if (fd < 0)
		return 1;
	for (long i = 0; i < n; i++) {
		if (!bpf_map_delete_elem(fd, &rows[i].key))
			deleted++;
		else if (errno != ENOENT && !failed++) /* ENOENT: it expired meanwhile */
			fprintf(stderr, "bpfctl: cannot delete from %s: %s\n", EW_MAP_CT,
				strerror(errno));
	}
	close(fd);
	if (c->json)
		json_print(json_pack("{s:I}", "deleted", (json_int_t)deleted));
	else
		printf("deleted %ld entries from %s/maps/%s\n", deleted, c->root,
		       EW_MAP_CT);
	return failed ? 1 : 0;
}

int cmd_ct(const struct ctl *c)
{
	struct lb_backends bs;
	struct ct_row *rows = NULL;
	int ret = 0;
	long n;

	if (lb_backends_read(c, &bs))
		return 1;
	n = ct_read(c, &bs, &rows);
	if (n < 0)
		ret = 1;
	else if (!c->action)
		ct_list(c, rows, n, &bs);
	else if (!strcmp(c->action, "count"))
		ct_count(c, rows, n);
	else
		ret = ct_flush(c, rows, n);
	free(rows);
	lb_backends_free(&bs);
	return ret;
}
