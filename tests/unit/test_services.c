// SPDX-License-Identifier: Apache-2.0
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <edgewire/abi.h>

#include "services.h"

static uint32_t ip(const char *s)
{
	return inet_addr(s);
}

static const struct ew_services_config cfg = {
	.node = "node-a", .node_ip = 0x0b4da8c0 /* 192.168.77.11 */,
	.table_size = EW_MAGLEV_SIZE_DEFAULT,
};

/* ---- a small model ---------------------------------------------------------- */

static struct ew_label app_web[] = { { "app", "web" } };
static struct ew_label app_web_tier[] = { { "app", "web" }, { "tier", "front" } };
static struct ew_label app_db[] = { { "app", "db" } };

static struct ew_container_port web_ports[] = {
	{ .name = "http", .port = 8080, .protocol = EW_PROTO_TCP },
	{ .name = "https", .port = 8443, .protocol = EW_PROTO_TCP },
	{ .name = "dns", .port = 5353, .protocol = EW_PROTO_UDP },
};
static struct ew_container_port web_ports_v2[] = {
	{ .name = "http", .port = 9090, .protocol = EW_PROTO_TCP },
};

#define LABELS(a) { .n = sizeof(a) / sizeof(a[0]), .items = a }
#define PORTS(a) .n_ports = sizeof(a) / sizeof(a[0]), .ports = a

static struct ew_pod pods[] = {
	{ .namespace = "shop", .name = "web-1", .labels = LABELS(app_web),
	  PORTS(web_ports) },
	{ .namespace = "shop", .name = "web-2", .labels = LABELS(app_web_tier),
	  PORTS(web_ports_v2) },
	{ .namespace = "shop", .name = "web-noports", .labels = LABELS(app_web) },
	{ .namespace = "shop", .name = "db", .labels = LABELS(app_db), PORTS(web_ports) },
	{ .namespace = "shop", .name = "web-hostnet", .labels = LABELS(app_web),
	  .host_network = true, PORTS(web_ports) },
	{ .namespace = "shop", .name = "web-pending", .labels = LABELS(app_web),
	  PORTS(web_ports) },
	{ .namespace = "other", .name = "web-elsewhere", .labels = LABELS(app_web),
	  PORTS(web_ports) },
};

static void setup(void)
{
	pods[0].ip = ip("10.244.1.11");
	pods[1].ip = ip("10.244.2.12");
	pods[2].ip = ip("10.244.1.13");
	pods[3].ip = ip("10.244.1.14");
	pods[4].ip = ip("192.168.77.11");
	pods[5].ip = 0;
	pods[6].ip = ip("10.244.1.16");
}

TestSuite(services, .init = setup);

static struct ew_service svc(const char *ns, const char *name, const char *cluster_ip,
			     struct ew_service_port *ports, size_t n_ports)
{
	return (struct ew_service){
		.namespace = (char *)ns, .name = (char *)name,
		.cluster_ip = cluster_ip ? ip(cluster_ip) : 0,
		.affinity_timeout = EW_AFFINITY_TIMEOUT_DEFAULT,
		.n_ports = n_ports, .ports = ports,
		.origin = { .file = "services.yaml", .line = 3, .col = 1 },
	};
}

static struct ew_service_port tcp(const char *name, uint16_t port, uint16_t target,
				  const char *target_name)
{
	return (struct ew_service_port){ .name = (char *)name, .protocol = EW_PROTO_TCP,
					 .port = port, .target_port = target,
					 .target_port_name = (char *)target_name };
}

static struct ew_slice_endpoint ready(const char *addr)
{
	return (struct ew_slice_endpoint){ .ip = ip(addr), .ready = true,
					   .serving = true };
}

#define N(a) (sizeof(a) / sizeof(a[0]))

/* A slice of service `service` in namespace shop. */
static struct ew_endpoint_slice slice_of(const char *service, struct ew_slice_port *ports,
					 size_t n_ports, struct ew_slice_endpoint *eps,
					 size_t n_eps)
{
	return (struct ew_endpoint_slice){ .namespace = "shop", .name = (char *)service,
					   .service = (char *)service, .n_ports = n_ports,
					   .ports = ports, .n_endpoints = n_eps,
					   .endpoints = eps };
}

static struct ew_model model_of(struct ew_service *services, size_t n_services,
				struct ew_endpoint_slice *slices, size_t n_slices)
{
	return (struct ew_model){ .n_pods = sizeof(pods) / sizeof(pods[0]), .pods = pods,
				  .n_services = n_services, .services = services,
				  .n_slices = n_slices, .slices = slices };
}

static void compile(const struct ew_model *m, struct ew_lb_desired *d,
		    struct ew_diags *diags)
{
	memset(d, 0, sizeof(*d));
	cr_assert_eq(ew_services_compile(m, &cfg, d, diags), 0);
}

static const struct ew_lb_frontend_plan *frontend(const struct ew_lb_desired *d,
						  const char *addr, uint16_t port)
{
	for (size_t i = 0; i < d->n_frontends; i++)
		if (d->frontends[i].key.addr == ip(addr) &&
		    d->frontends[i].key.port == htons(port))
			return &d->frontends[i];
	cr_assert_fail("no frontend %s:%u", addr, port);
	return NULL;
}

static const struct ew_lb_table_plan *table_of(const struct ew_lb_desired *d,
					       const struct ew_lb_frontend_plan *f)
{
	cr_assert_geq(f->table, 0, "frontend has a table");
	cr_assert_lt((size_t)f->table, d->n_tables);
	return &d->tables[f->table];
}

/* The table's backends as "addr:port addr:port ...". */
static const char *backends_str(const struct ew_lb_backend *b, size_t n, char *buf,
				size_t len)
{
	size_t off = 0;

	buf[0] = 0;
	for (size_t i = 0; i < n; i++) {
		struct in_addr a = { .s_addr = b[i].addr };

		off += snprintf(buf + off, len - off, "%s%s:%u%s", i ? " " : "",
				inet_ntoa(a), ntohs(b[i].port),
				b[i].flags & EW_BACKEND_TERMINATING ? "(t)" : "");
	}
	return buf;
}

static void assert_table(const struct ew_lb_desired *d,
			 const struct ew_lb_frontend_plan *f, const char *want)
{
	const struct ew_lb_table_plan *t = table_of(d, f);
	char got[512];
	uint32_t count[64] = { 0 };

	backends_str(t->backends, t->n_backends, got, sizeof(got));
	cr_assert_str_eq(got, want);
	cr_assert_eq(t->size, cfg.table_size);
	for (uint32_t s = 0; s < t->size; s++) {
		cr_assert_lt(t->slots[s], t->n_backends);
		count[t->slots[s]]++;
	}
	for (size_t b = 0; b < t->n_backends; b++)
		cr_assert_geq(count[b], t->size / t->n_backends, "a fair share");
}

static void assert_backends(const struct ew_lb_desired *d, const char *want)
{
	char got[1024];

	backends_str(d->backends, d->n_backends, got, sizeof(got));
	cr_assert_str_eq(got, want);
}

static void assert_diag(const struct ew_diags *diags, size_t i, const char *part)
{
	cr_assert_gt(diags->n, i, "diag %zu", i);
	cr_assert(strstr(diags->items[i].msg, part), "diag \"%s\" lacks \"%s\"",
		  diags->items[i].msg, part);
	cr_assert_str_eq(diags->items[i].file, "services.yaml");
	cr_assert_eq(diags->items[i].line, 3);
}

/* ---- frontends ----------------------------------------------------------------- */

Test(services, clusterip_and_nodeport_frontends_share_a_table)
{
	struct ew_service_port ports[] = { tcp("http", 80, 8080, NULL) };
	struct ew_service s = svc("shop", "web", "10.96.0.10", ports, 1);
	struct ew_slice_port sp = { .name = "http", .protocol = EW_PROTO_TCP, .port = 8080 };
	struct ew_slice_endpoint eps[] = { ready("10.244.2.12"), ready("10.244.1.11") };
	struct ew_endpoint_slice slice = slice_of("web", &sp, 1, eps, N(eps));
	struct ew_model m;
	struct ew_diags diags = { 0 };
	struct ew_lb_desired d;
	const struct ew_lb_frontend_plan *cip, *np;

	s.type = EW_SERVICE_NODE_PORT;
	ports[0].node_port = 30080;
	m = model_of(&s, 1, &slice, 1);
	compile(&m, &d, &diags);
	cr_assert_eq(diags.n, 0);
	cr_assert_eq(d.n_frontends, 2);
	cr_assert_lt(memcmp(&d.frontends[0].key, &d.frontends[1].key,
			    sizeof(d.frontends[0].key)), 0, "sorted by key bytes");
	cip = frontend(&d, "10.96.0.10", 80);
	np = frontend(&d, "192.168.77.11", 30080);
	cr_assert_eq(cip->key.proto, EW_PROTO_TCP);
	cr_assert_eq(cip->value.flags, 0);
	cr_assert_eq(np->value.flags, EW_LB_NODEPORT);
	cr_assert_eq(cip->value.table_size, EW_MAGLEV_SIZE_DEFAULT);
	cr_assert_eq(cip->value.table_id, 0, "the datapath assigns ids");
	cr_assert_eq(cip->value.affinity_timeout, 0);
	cr_assert_not(cip->keep);
	cr_assert_eq(cip->service, &s);
	cr_assert_eq(cip->port, 0);
	cr_assert_eq(d.n_tables, 1);
	cr_assert_eq(cip->table, np->table, "one backend list, one table");
	assert_table(&d, cip, "10.244.1.11:8080 10.244.2.12:8080");
	assert_backends(&d, "10.244.1.11:8080 10.244.2.12:8080");
	ew_lb_desired_free(&d);

	/* Without an address of this node, no NodePort frontend. */
	{
		struct ew_services_config no_ip = cfg;

		no_ip.node_ip = 0;
		memset(&d, 0, sizeof(d));
		cr_assert_eq(ew_services_compile(&m, &no_ip, &d, &diags), 0);
		cr_assert_eq(d.n_frontends, 1);
		ew_lb_desired_free(&d);
	}
}

Test(services, headless_service_has_no_frontend)
{
	struct ew_service_port ports[] = { tcp("http", 80, 8080, NULL) };
	struct ew_service s = svc("shop", "web", NULL, ports, 1);
	struct ew_model m;
	struct ew_diags diags = { 0 };
	struct ew_lb_desired d;

	s.has_selector = true;
	s.selector = (struct ew_labels)LABELS(app_web);
	m = model_of(&s, 1, NULL, 0);
	compile(&m, &d, &diags);
	cr_assert_eq(d.n_frontends + d.n_tables + d.n_backends, 0);
	ew_lb_desired_free(&d);
}

Test(services, affinity_flag_and_timeout)
{
	struct ew_service_port ports[] = { tcp(NULL, 53, 5353, NULL) };
	struct ew_service s = svc("shop", "dns", "10.96.0.53", ports, 1);
	struct ew_model m;
	struct ew_diags diags = { 0 };
	struct ew_lb_desired d;

	ports[0].protocol = EW_PROTO_UDP;
	s.affinity = true;
	s.affinity_timeout = 600;
	m = model_of(&s, 1, NULL, 0);
	compile(&m, &d, &diags);
	cr_assert_eq(d.n_frontends, 1);
	cr_assert_eq(d.frontends[0].key.proto, EW_PROTO_UDP);
	cr_assert_eq(d.frontends[0].value.flags, EW_LB_AFFINITY);
	cr_assert_eq(d.frontends[0].value.affinity_timeout, 600);
	cr_assert_eq(d.frontends[0].table, -1, "no selector, no slices: no backend");
	cr_assert_not(d.frontends[0].keep);
	cr_assert_eq(d.n_tables + d.n_backends, 0);
	ew_lb_desired_free(&d);
}

/* ---- endpoints from pods ------------------------------------------------------- */

Test(services, selector_picks_pods_and_resolves_named_target_ports)
{
	struct ew_service_port ports[] = {
		tcp("http", 80, 0, "http"),
		tcp("https", 443, 0, "https"),
		tcp("metrics", 9100, 9100, NULL),
	};
	struct ew_service s = svc("shop", "web", "10.96.0.10", ports, 3);
	struct ew_model m;
	struct ew_diags diags = { 0 };
	struct ew_lb_desired d;

	s.has_selector = true;
	s.selector = (struct ew_labels)LABELS(app_web);
	m = model_of(&s, 1, NULL, 0);
	compile(&m, &d, &diags);
	cr_assert_eq(diags.n, 0);
	cr_assert_eq(d.n_frontends, 3);
	/* Not db (labels), web-hostnet, web-pending (no IP), web-elsewhere
	 * (namespace); each pod's own number for "http". */
	assert_table(&d, frontend(&d, "10.96.0.10", 80),
		     "10.244.1.11:8080 10.244.2.12:9090");
	/* web-2 and web-noports define no "https": left out. */
	assert_table(&d, frontend(&d, "10.96.0.10", 443), "10.244.1.11:8443");
	/* A number needs no definition. */
	assert_table(&d, frontend(&d, "10.96.0.10", 9100),
		     "10.244.1.11:9100 10.244.1.13:9100 10.244.2.12:9100");
	cr_assert_eq(d.n_tables, 3);
	assert_backends(&d, "10.244.1.11:8080 10.244.1.11:8443 10.244.1.11:9100 "
			    "10.244.1.13:9100 10.244.2.12:9090 10.244.2.12:9100");
	ew_lb_desired_free(&d);
}

Test(services, every_selector_label_must_match)
{
	struct ew_service_port ports[] = { tcp(NULL, 80, 8080, NULL) };
	struct ew_service s = svc("shop", "front", "10.96.0.11", ports, 1);
	struct ew_model m;
	struct ew_diags diags = { 0 };
	struct ew_lb_desired d;

	s.has_selector = true;
	s.selector = (struct ew_labels)LABELS(app_web_tier);
	m = model_of(&s, 1, NULL, 0);
	compile(&m, &d, &diags);
	assert_table(&d, &d.frontends[0], "10.244.2.12:8080");
	ew_lb_desired_free(&d);

	s.selector.n = 0; /* selector: {} selects the namespace */
	compile(&m, &d, &diags);
	assert_table(&d, &d.frontends[0], "10.244.1.11:8080 10.244.1.13:8080 "
					  "10.244.1.14:8080 10.244.2.12:8080");
	ew_lb_desired_free(&d);
}

Test(services, undefined_target_port_name_keeps_the_frontends)
{
	struct ew_service_port ports[] = {
		tcp("grpc", 50051, 0, "grpc"),
		tcp("http", 80, 0, "http"),
	};
	struct ew_service s = svc("shop", "web", "10.96.0.10", ports, 2);
	struct ew_model m;
	struct ew_diags diags = { 0 };
	struct ew_lb_desired d;
	const struct ew_lb_frontend_plan *f;

	s.has_selector = true;
	s.selector = (struct ew_labels)LABELS(app_web);
	s.type = EW_SERVICE_NODE_PORT;
	ports[0].node_port = 30051;
	m = model_of(&s, 1, NULL, 0);
	compile(&m, &d, &diags);
	cr_assert_eq(diags.n, 1);
	assert_diag(&diags, 0, "Service shop/web: spec.ports[0].targetPort \"grpc\": no "
			       "selected pod defines a container port of that name (TCP)");
	cr_assert_eq(d.n_frontends, 3);
	f = frontend(&d, "10.96.0.10", 50051);
	cr_assert(f->keep);
	cr_assert_eq(f->table, -1);
	cr_assert(frontend(&d, "192.168.77.11", 30051)->keep);
	f = frontend(&d, "10.96.0.10", 80);
	cr_assert_not(f->keep, "the other port is fine");
	assert_table(&d, f, "10.244.1.11:8080 10.244.2.12:9090");
	ew_lb_desired_free(&d);
	ew_diags_clear(&diags);

	/* No pod selected at all: scaled to zero, not a mistake. */
	s.selector = (struct ew_labels)LABELS(app_db);
	s.namespace = "empty";
	compile(&m, &d, &diags);
	cr_assert_eq(diags.n, 0);
	cr_assert_not(d.frontends[0].keep);
	cr_assert_eq(d.frontends[0].table, -1);
	ew_lb_desired_free(&d);
}

/* ---- endpoints from slices ------------------------------------------------------ */

Test(services, slices_are_authoritative_over_the_selector)
{
	struct ew_service_port ports[] = { tcp("http", 80, 0, "http"),
					   tcp("grpc", 50051, 0, "grpc") };
	struct ew_service s = svc("shop", "web", "10.96.0.10", ports, 2);
	struct ew_slice_port sp[] = {
		{ .name = "http", .protocol = EW_PROTO_TCP, .port = 7000 },
		{ .name = "http", .protocol = EW_PROTO_UDP, .port = 7001 }, /* protocol */
	};
	struct ew_slice_endpoint eps[] = { ready("10.244.3.30") };
	struct ew_slice_endpoint other_eps[] = { ready("10.244.9.9") };
	struct ew_endpoint_slice slices[] = { slice_of("web", sp, 2, eps, 1),
					      slice_of("web", sp, 1, other_eps, 1) };
	struct ew_model m;
	struct ew_diags diags = { 0 };
	struct ew_lb_desired d;

	slices[1].namespace = "other"; /* another namespace's "web" */
	s.has_selector = true;
	s.selector = (struct ew_labels)LABELS(app_web);
	m = model_of(&s, 1, slices, 2);
	compile(&m, &d, &diags);
	cr_assert_eq(diags.n, 0, "with slices, an unmatched port is no mistake");
	assert_table(&d, frontend(&d, "10.96.0.10", 80), "10.244.3.30:7000");
	cr_assert_eq(frontend(&d, "10.96.0.10", 50051)->table, -1);
	cr_assert_not(frontend(&d, "10.96.0.10", 50051)->keep);
	assert_backends(&d, "10.244.3.30:7000");
	ew_lb_desired_free(&d);
}

Test(services, unnamed_ports_match_absent_and_empty_names)
{
	struct ew_service_port ports[] = { tcp(NULL, 80, 8080, NULL) };
	struct ew_service s = svc("shop", "web", "10.96.0.10", ports, 1);
	struct ew_slice_port sp = { .name = "", .protocol = EW_PROTO_TCP, .port = 8080 };
	struct ew_slice_endpoint eps[] = { ready("10.244.3.30") };
	struct ew_endpoint_slice slice = slice_of("web", &sp, 1, eps, 1);
	struct ew_model m = model_of(&s, 1, &slice, 1);
	struct ew_diags diags = { 0 };
	struct ew_lb_desired d;

	compile(&m, &d, &diags);
	assert_table(&d, &d.frontends[0], "10.244.3.30:8080");
	ew_lb_desired_free(&d);
}

Test(services, ready_then_serving_terminating_then_nothing)
{
	struct ew_service_port ports[] = { tcp(NULL, 80, 8080, NULL) };
	struct ew_service services[] = { svc("shop", "a", "10.96.0.1", ports, 1),
					 svc("shop", "b", "10.96.0.2", ports, 1) };
	struct ew_slice_port sp = { .protocol = EW_PROTO_TCP, .port = 8080 };
	struct ew_slice_endpoint a_eps[] = {
		ready("10.244.1.1"),
		{ .ip = ip("10.244.1.2"), .serving = true, .terminating = true },
		{ .ip = ip("10.244.1.3"), .terminating = true }, /* no longer serving */
		{ .ip = ip("10.244.1.4"), .serving = true },	  /* not ready */
		{ .ip = ip("10.244.1.5") },
	};
	struct ew_slice_endpoint b_eps[] = {
		/* terminating for a, in b's table: not terminating overall */
		{ .ip = ip("10.244.1.2"), .serving = true, .terminating = true },
		{ .ip = ip("10.244.2.1"), .serving = true, .terminating = true },
		{ .ip = ip("10.244.2.2"), .serving = true, .terminating = true },
		{ .ip = ip("10.244.2.3"), .terminating = true },
	};
	struct ew_endpoint_slice slices[] = { slice_of("b", &sp, 1, b_eps, N(b_eps)),
					      slice_of("a", &sp, 1, a_eps, N(a_eps)) };
	struct ew_model m = model_of(services, 2, slices, 2);
	struct ew_diags diags = { 0 };
	struct ew_lb_desired d;

	compile(&m, &d, &diags);
	/* a: the ready one only; the serving terminating one finishes its
	 * flows, the others are not backends. */
	assert_table(&d, frontend(&d, "10.96.0.1", 80), "10.244.1.1:8080");
	/* b: nothing ready, so the serving terminating ones take new flows. */
	assert_table(&d, frontend(&d, "10.96.0.2", 80),
		     "10.244.1.2:8080 10.244.2.1:8080 10.244.2.2:8080");
	/* Terminating means in no table at all. */
	assert_backends(&d, "10.244.1.1:8080 10.244.1.2:8080 10.244.2.1:8080 "
			    "10.244.2.2:8080");
	ew_lb_desired_free(&d);

	services[1].cluster_ip = 0; /* b gone: 10.244.1.2 only finishes flows */
	compile(&m, &d, &diags);
	assert_backends(&d, "10.244.1.1:8080 10.244.1.2:8080(t)");
	ew_lb_desired_free(&d);
}

Test(services, duplicated_endpoints_count_once_in_their_best_state)
{
	struct ew_service_port ports[] = { tcp(NULL, 80, 8080, NULL) };
	struct ew_service s = svc("shop", "a", "10.96.0.1", ports, 1);
	struct ew_slice_port sp = { .protocol = EW_PROTO_TCP, .port = 8080 };
	struct ew_slice_endpoint one[] = {
		{ .ip = ip("10.244.1.1"), .serving = true, .terminating = true },
		ready("10.244.1.2"),
		ready("10.244.1.2"),
	};
	struct ew_slice_endpoint two[] = { ready("10.244.1.1"), ready("10.244.1.2") };
	struct ew_endpoint_slice slices[] = { slice_of("a", &sp, 1, one, N(one)),
					      slice_of("a", &sp, 1, two, N(two)) };
	struct ew_model m = model_of(&s, 1, slices, 2);
	struct ew_diags diags = { 0 };
	struct ew_lb_desired d;

	compile(&m, &d, &diags);
	assert_table(&d, &d.frontends[0], "10.244.1.1:8080 10.244.1.2:8080");
	assert_backends(&d, "10.244.1.1:8080 10.244.1.2:8080");
	ew_lb_desired_free(&d);
}

static struct ew_slice_endpoint *four_pods(struct ew_slice_endpoint eps[4])
{
	eps[0] = ready("10.244.1.5");
	eps[1] = ready("10.244.2.7");
	eps[2] = ready("10.244.1.9");
	eps[3] = ready("10.244.3.2");
	return eps;
}

/* ---- tables --------------------------------------------------------------------- */

Test(services, ports_of_a_service_send_a_client_to_the_same_pod)
{
	struct ew_service_port ports[] = { tcp("http", 80, 0, "http"),
					   tcp("https", 443, 0, "https") };
	struct ew_service s = svc("shop", "web", "10.96.0.10", ports, 2);
	struct ew_slice_port sp[] = {
		{ .name = "http", .protocol = EW_PROTO_TCP, .port = 8080 },
		{ .name = "https", .protocol = EW_PROTO_TCP, .port = 8443 },
	};
	struct ew_slice_endpoint eps[4];
	struct ew_endpoint_slice slice = slice_of("web", sp, 2, four_pods(eps), 4);
	struct ew_model m = model_of(&s, 1, &slice, 1);
	struct ew_diags diags = { 0 };
	struct ew_lb_desired d;
	const struct ew_lb_table_plan *http, *https;

	compile(&m, &d, &diags);
	cr_assert_eq(d.n_tables, 2, "other ports, other backends");
	http = table_of(&d, frontend(&d, "10.96.0.10", 80));
	https = table_of(&d, frontend(&d, "10.96.0.10", 443));
	cr_assert_neq(http->digest, https->digest);
	for (uint32_t i = 0; i < http->size; i++)
		cr_assert_eq(http->backends[http->slots[i]].addr,
			     https->backends[https->slots[i]].addr, "slot %u", i);
	ew_lb_desired_free(&d);
}

/* Not just a cache effect: the slots follow the addresses, so a port's
 * targetPort can change without moving a client to another pod. */
Test(services, slots_follow_addresses_not_ports)
{
	struct ew_service_port ports[] = { tcp(NULL, 80, 8080, NULL) };
	struct ew_service s = svc("shop", "web", "10.96.0.10", ports, 1);
	struct ew_slice_port sp = { .protocol = EW_PROTO_TCP, .port = 8080 };
	struct ew_slice_endpoint eps[4];
	struct ew_endpoint_slice slice = slice_of("web", &sp, 1, four_pods(eps), 4);
	struct ew_model m = model_of(&s, 1, &slice, 1);
	struct ew_diags diags = { 0 };
	struct ew_lb_desired before, after;

	compile(&m, &before, &diags);
	sp.port = 9090;
	compile(&m, &after, &diags);
	cr_assert_neq(before.tables[0].digest, after.tables[0].digest);
	cr_assert_eq(memcmp(before.tables[0].slots, after.tables[0].slots,
			    cfg.table_size * sizeof(uint32_t)), 0);
	ew_lb_desired_free(&before);
	ew_lb_desired_free(&after);
}

Test(services, services_with_the_same_backends_share_a_table)
{
	struct ew_service_port ports[] = { tcp(NULL, 80, 8080, NULL) };
	struct ew_service services[] = {
		svc("shop", "web", "10.96.0.10", ports, 1),
		svc("shop", "web-alias", "10.96.0.11", ports, 1),
		svc("shop", "web-copy", "10.96.0.10", ports, 1), /* the same ClusterIP */
		svc("shop", "db", "10.96.0.12", ports, 1),
	};
	struct ew_model m;
	struct ew_diags diags = { 0 };
	struct ew_lb_desired d;

	for (int i = 0; i < 3; i++) {
		services[i].has_selector = true;
		services[i].selector = (struct ew_labels)LABELS(app_web);
	}
	services[3].has_selector = true;
	services[3].selector = (struct ew_labels)LABELS(app_db);
	m = model_of(services, 4, NULL, 0);
	compile(&m, &d, &diags);
	cr_assert_eq(diags.n, 1);
	assert_diag(&diags, 0, "Service shop/web-copy: spec.ports[0]: 10.96.0.10:80/TCP is "
			       "already a frontend of Service shop/web");
	cr_assert_eq(d.n_frontends, 3);
	cr_assert_eq(frontend(&d, "10.96.0.10", 80)->service, &services[0], "first wins");
	cr_assert_eq(frontend(&d, "10.96.0.10", 80)->table,
		     frontend(&d, "10.96.0.11", 80)->table);
	cr_assert_eq(d.n_tables, 2);
	assert_table(&d, frontend(&d, "10.96.0.12", 80), "10.244.1.14:8080");
	ew_lb_desired_free(&d);
	ew_diags_clear(&diags);
}

Test(services, tables_bigger_than_the_size_keep_the_frontend)
{
	struct ew_service_port ports[] = { tcp(NULL, 80, 8080, NULL) };
	struct ew_service s = svc("shop", "web", "10.96.0.10", ports, 1);
	struct ew_services_config tiny = cfg;
	struct ew_model m;
	struct ew_diags diags = { 0 };
	struct ew_lb_desired d = { 0 };

	s.has_selector = true;
	s.selector.n = 0; /* 4 pods */
	m = model_of(&s, 1, NULL, 0);
	tiny.table_size = 3;
	cr_assert_eq(ew_services_compile(&m, &tiny, &d, &diags), 0);
	assert_diag(&diags, 0, "4 endpoints do not fit in a Maglev table of 3 slots");
	cr_assert(d.frontends[0].keep);
	ew_lb_desired_free(&d);
	ew_diags_clear(&diags);

	tiny.table_size = 1020;
	cr_assert_eq(ew_services_compile(&m, &tiny, &d, &diags), -1);
	cr_assert(strstr(diags.items[0].msg, "1020 is not a prime"));
	cr_assert_eq(d.n_frontends, 0);
	ew_diags_clear(&diags);
}

/* ---- scale ------------------------------------------------------------------------ */

#define SCALE_NS	  10
#define SCALE_SLICED	  5000 /* services with an EndpointSlice of 10 */
#define SCALE_SELECTED	  5000 /* services selecting 2 pods each */
#define SCALE_PER_SLICE	  10
#define SCALE_PODS	  (2 * SCALE_SELECTED)

static char *fmt(const char *f, unsigned a)
{
	char *s;

	cr_assert_geq(asprintf(&s, f, a), 0);
	return s;
}

/* 10,000 services in 10 namespaces: half with slices (50,000 endpoints),
 * half selecting 2 of 10,000 pods by label; every tenth a NodePort. */
Test(services, scale)
{
	static struct ew_service services[SCALE_SLICED + SCALE_SELECTED];
	static struct ew_service_port ports[SCALE_SLICED + SCALE_SELECTED];
	static struct ew_endpoint_slice slices[SCALE_SLICED];
	static struct ew_slice_endpoint eps[SCALE_SLICED * SCALE_PER_SLICE];
	static struct ew_pod scale_pods[SCALE_PODS];
	static struct ew_label labels[SCALE_PODS][2], selectors[SCALE_SELECTED];
	struct ew_slice_port sp = { .name = "http", .protocol = EW_PROTO_TCP, .port = 8080 };
	struct ew_model m = { 0 };
	struct ew_diags diags = { 0 };
	struct ew_lb_desired d = { 0 };
	struct timespec t0, t1;
	size_t n_services = SCALE_SLICED + SCALE_SELECTED, nodeports = 0;

	for (unsigned i = 0; i < n_services; i++) {
		char *ns = fmt("ns-%u", i % SCALE_NS);

		ports[i] = tcp("http", 80, 0, "http");
		services[i] = svc(ns, fmt("svc-%u", i), NULL, &ports[i], 1);
		services[i].cluster_ip = htonl(0x0a600000 + i + 1); /* 10.96/16 */
		if (i % 10 == 0) {
			services[i].type = EW_SERVICE_NODE_PORT;
			ports[i].node_port = 30000 + i / 10;
			nodeports++;
		}
	}
	for (unsigned i = 0; i < SCALE_SLICED; i++) {
		slices[i] = (struct ew_endpoint_slice){
			.namespace = services[i].namespace, .name = fmt("slice-%u", i),
			.service = services[i].name, .n_ports = 1, .ports = &sp,
			.n_endpoints = SCALE_PER_SLICE,
			.endpoints = &eps[i * SCALE_PER_SLICE] };
		for (unsigned j = 0; j < SCALE_PER_SLICE; j++)
			eps[i * SCALE_PER_SLICE + j] = (struct ew_slice_endpoint){
				.ip = htonl(0x0af00000 + i * SCALE_PER_SLICE + j + 1),
				.ready = true, .serving = true };
	}
	for (unsigned i = 0; i < SCALE_PODS; i++) {
		unsigned k = i / 2; /* the selected service's number */
		struct ew_service *s = &services[SCALE_SLICED + k];

		labels[i][0] = (struct ew_label){ "app", fmt("app-%u", k) };
		labels[i][1] = (struct ew_label){ "tier", "web" };
		scale_pods[i] = (struct ew_pod){
			.namespace = s->namespace, .name = fmt("pod-%u", i),
			.ip = htonl(0x0af80000 + i + 1), .labels = { 2, labels[i] },
			.n_ports = 1, .ports = web_ports };
		if (i % 2 == 0) {
			selectors[k] = labels[i][0];
			s->has_selector = true;
			s->selector = (struct ew_labels){ 1, &selectors[k] };
		}
	}
	m = (struct ew_model){ .n_services = n_services, .services = services,
			       .n_slices = SCALE_SLICED, .slices = slices,
			       .n_pods = SCALE_PODS, .pods = scale_pods };

	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(ew_services_compile(&m, &cfg, &d, &diags), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(stderr, "services: %zu services, %d endpoints, %d pods: %.1f ms\n",
		n_services, SCALE_SLICED * SCALE_PER_SLICE, SCALE_PODS,
		(t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);

	cr_assert_eq(diags.n, 0);
	cr_assert_eq(d.n_frontends, n_services + nodeports);
	cr_assert_eq(d.n_tables, n_services, "a NodePort shares its ClusterIP's table");
	cr_assert_eq(d.n_backends, SCALE_SLICED * SCALE_PER_SLICE + SCALE_PODS);
	for (size_t i = 0; i < d.n_frontends; i++) {
		const struct ew_lb_frontend_plan *f = &d.frontends[i];
		size_t want = f->service < services + SCALE_SLICED ? SCALE_PER_SLICE : 2;

		cr_assert_geq(f->table, 0);
		cr_assert_eq(d.tables[f->table].n_backends, want);
		if (i)
			cr_assert_lt(memcmp(&d.frontends[i - 1].key, &f->key,
					    sizeof(f->key)), 0, "sorted, unique");
	}
	ew_lb_desired_free(&d);
}
