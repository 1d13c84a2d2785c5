// SPDX-License-Identifier: Apache-2.0
/*
 * The proxy's choice of HTTP rules (proxy/l7policy.c) for a connection
 * client 10.0.1.10 (identity CLIENT) -> server 10.0.2.20:80 (identity
 * SERVER), against real maps with the ABI's types and a config file the
 * test writes, as the agent would.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "l7policy.h"
#include "proxy_maps.h"

#define CLIENT_IP "10.0.1.10"
#define SERVER_IP "10.0.2.20"
#define PORT	  80

enum identity {
	CLIENT = 1000,
	SERVER = 2000,
	PARTNER = 3000, /* a CIDR the client is in */
};

static struct proxy_maps maps;
static struct l7_config cfg;
static char config_path[] = "/tmp/ew-test-l7policy-XXXXXX";

static __u32 ip(const char *s)
{
	return inet_addr(s);
}

static void setup(void)
{
	int fd = mkstemp(config_path);

	cr_assert(fd >= 0);
	close(fd);
	cr_assert_eq(proxy_maps_create(&maps), 0, "bpf_map_create: %m (run as root)");
	cr_assert_eq(proxy_put_ipcache(&maps, ip(CLIENT_IP), 32, CLIENT, CLIENT), 0);
	cr_assert_eq(proxy_put_ipcache(&maps, ip(SERVER_IP), 32, SERVER, SERVER), 0);
}

static void teardown(void)
{
	l7_config_free(&cfg);
	proxy_maps_close(&maps);
	unlink(config_path);
}

TestSuite(proxy_policy, .init = setup, .fini = teardown);

/* Writes json, with ' for " (to be read here), and loads it. */
static int load(const char *json)
{
	FILE *f = fopen(config_path, "w");

	cr_assert(f);
	for (const char *c = json; *c; c++)
		fputc(*c == '\'' ? '"' : *c, f);
	fclose(f);
	return l7_config_load(&cfg, config_path);
}

static struct l7_selection select_conn(void)
{
	struct l7_maps m = { maps.endpoints, maps.ipcache, maps.policy };
	struct l7_conn c = { ip(CLIENT_IP), ip(SERVER_IP), htons(PORT) };
	struct l7_selection sel;

	cr_assert_eq(l7_select(&cfg, &m, &c, &sel), 0);
	return sel;
}

static struct ew_http_str str(const char *s)
{
	return (struct ew_http_str){ s, strlen(s) };
}

static struct l7_verdict judge(const char *method, const char *path)
{
	struct ew_http_head req = {
		.method = str(method), .target = str(path), .host = str("web"),
		.minor_version = 1, .keep_alive = true,
	};
	struct l7_selection sel = select_conn();

	return l7_judge(&sel, &req);
}

static void assert_allowed(const char *method, const char *path, __u32 rule,
			   enum ew_dir dir)
{
	struct l7_verdict v = judge(method, path);

	cr_assert(v.allowed, "%s %s denied", method, path);
	cr_assert_eq(v.rule, rule, "%s %s: rule %u, expected %u", method, path, v.rule,
		     rule);
	cr_assert_eq(v.dir, dir, "%s %s: dir %d, expected %d", method, path, v.dir, dir);
}

static void assert_denied(const char *method, const char *path, enum ew_dir dir)
{
	struct l7_verdict v = judge(method, path);

	cr_assert(!v.allowed, "%s %s allowed by rule %u", method, path, v.rule);
	cr_assert_eq(v.dir, dir, "%s %s: dir %d, expected %d", method, path, v.dir, dir);
}

/* The config of the tests: GET /public.* from the client, for either side;
 * GET /status from anyone and from the partner CIDR, to the server. */
static const char config[] =
	"{'version': 1, 'entries': ["
	"{'subject': 2000, 'dir': 'ingress', 'port': 80, 'peer': 1000,"
	" 'rules': [{'rule': 11, 'method': 'GET', 'path': '/public.*'}]},"
	"{'subject': 2000, 'dir': 'ingress', 'port': 80, 'peer': 0,"
	" 'rules': [{'rule': 12, 'path': '/status'}]},"
	"{'subject': 2000, 'dir': 'ingress', 'port': 80, 'peer': 3000,"
	" 'rules': [{'rule': 13, 'method': 'GET', 'path': '/partner'}]},"
	"{'subject': 1000, 'dir': 'egress', 'port': 80, 'peer': 2000,"
	" 'rules': [{'rule': 21, 'path': '/public/a'},"
	"             {'rule': 22, 'method': 'POST', 'path': '/upload'}]}"
	"]}";

static void server_l7(void)
{
	cr_assert_eq(proxy_put_endpoint(&maps, ip(SERVER_IP), SERVER,
					EW_EP_INGRESS_ISOLATED | EW_EP_INGRESS_L7), 0);
}

static void client_l7(void)
{
	cr_assert_eq(proxy_put_endpoint(&maps, ip(CLIENT_IP), CLIENT,
					EW_EP_EGRESS_ISOLATED | EW_EP_EGRESS_L7), 0);
}

Test(proxy_policy, ingress_only)
{
	struct l7_selection sel;

	cr_assert_eq(load(config), 0, "%s", cfg.problem);
	server_l7();
	cr_assert_eq(proxy_put_policy(&maps, SERVER, CLIENT, EW_DIR_INGRESS, PORT, 11,
				      EW_POLICY_L7), 0);
	sel = select_conn();
	cr_assert(sel.side[EW_DIR_INGRESS].checked);
	cr_assert_eq(sel.side[EW_DIR_INGRESS].n_entries, 1);
	cr_assert_eq(sel.side[EW_DIR_INGRESS].entries[0]->peer, CLIENT);
	cr_assert(!sel.side[EW_DIR_EGRESS].checked);
	assert_allowed("GET", "/public/x", 11, EW_DIR_INGRESS);
	assert_denied("POST", "/public/x", EW_DIR_INGRESS);
	assert_denied("GET", "/admin", EW_DIR_INGRESS);
	/* the ANY entry's rules are there only with its policy entry */
	assert_denied("GET", "/status", EW_DIR_INGRESS);
}

Test(proxy_policy, egress_only)
{
	cr_assert_eq(load(config), 0, "%s", cfg.problem);
	client_l7();
	cr_assert_eq(proxy_put_policy(&maps, CLIENT, SERVER, EW_DIR_EGRESS, PORT, 21,
				      EW_POLICY_L7), 0);
	assert_allowed("GET", "/public/a", 21, EW_DIR_EGRESS);
	assert_allowed("POST", "/upload", 22, EW_DIR_EGRESS);
	assert_denied("GET", "/public/b", EW_DIR_EGRESS);
}

/* Both sides must allow: egress is judged first, as the packet meets it. */
Test(proxy_policy, both_directions)
{
	cr_assert_eq(load(config), 0, "%s", cfg.problem);
	server_l7();
	client_l7();
	cr_assert_eq(proxy_put_policy(&maps, SERVER, CLIENT, EW_DIR_INGRESS, PORT, 11,
				      EW_POLICY_L7), 0);
	cr_assert_eq(proxy_put_policy(&maps, CLIENT, SERVER, EW_DIR_EGRESS, PORT, 21,
				      EW_POLICY_L7), 0);
	assert_allowed("GET", "/public/a", 11, EW_DIR_INGRESS);
	assert_denied("GET", "/public/b", EW_DIR_EGRESS);	/* ingress would allow */
	assert_denied("POST", "/upload", EW_DIR_INGRESS); /* egress allows */
}

/* An L4 entry for the same peer and port allows every request, as in Cilium. */
Test(proxy_policy, l4_rule_lifts_l7)
{
	struct l7_selection sel;

	cr_assert_eq(load(config), 0, "%s", cfg.problem);
	server_l7();
	cr_assert_eq(proxy_put_policy(&maps, SERVER, CLIENT, EW_DIR_INGRESS, PORT, 11,
				      EW_POLICY_L7), 0);
	cr_assert_eq(proxy_put_policy(&maps, SERVER, EW_IDENTITY_ANY, EW_DIR_INGRESS,
				      PORT, 5, 0),
		     0);
	sel = select_conn();
	cr_assert(!sel.side[EW_DIR_INGRESS].checked);
	cr_assert_eq(sel.side[EW_DIR_INGRESS].lift_rule, 5);
	assert_allowed("DELETE", "/admin", 5, EW_DIR_INGRESS);
}

Test(proxy_policy, cidr_identity)
{
	struct l7_selection sel;

	cr_assert_eq(load(config), 0, "%s", cfg.problem);
	server_l7();
	cr_assert_eq(proxy_put_ipcache(&maps, ip(CLIENT_IP), 32, CLIENT, PARTNER), 0);
	cr_assert_eq(proxy_put_policy(&maps, SERVER, PARTNER, EW_DIR_INGRESS, PORT, 13,
				      EW_POLICY_L7), 0);
	sel = select_conn();
	cr_assert_eq(sel.side[EW_DIR_INGRESS].n_entries, 1);
	cr_assert_eq(sel.side[EW_DIR_INGRESS].entries[0]->peer, PARTNER);
	assert_allowed("GET", "/partner", 13, EW_DIR_INGRESS);
	assert_denied("GET", "/public", EW_DIR_INGRESS);
}

/* The identity's, the CIDR's and ANY's entries: the union of their rules. */
Test(proxy_policy, union_with_any)
{
	struct l7_selection sel;

	cr_assert_eq(load(config), 0, "%s", cfg.problem);
	server_l7();
	cr_assert_eq(proxy_put_ipcache(&maps, ip(CLIENT_IP), 32, CLIENT, PARTNER), 0);
	cr_assert_eq(proxy_put_policy(&maps, SERVER, CLIENT, EW_DIR_INGRESS, PORT, 11,
				      EW_POLICY_L7), 0);
	cr_assert_eq(proxy_put_policy(&maps, SERVER, PARTNER, EW_DIR_INGRESS, PORT, 13,
				      EW_POLICY_L7), 0);
	cr_assert_eq(proxy_put_policy(&maps, SERVER, EW_IDENTITY_ANY, EW_DIR_INGRESS,
				      PORT, 12, EW_POLICY_L7),
		     0);
	sel = select_conn();
	cr_assert_eq(sel.side[EW_DIR_INGRESS].n_entries, 3);
	assert_allowed("GET", "/public", 11, EW_DIR_INGRESS);
	assert_allowed("GET", "/partner", 13, EW_DIR_INGRESS);
	assert_allowed("PUT", "/status", 12, EW_DIR_INGRESS);
	assert_denied("GET", "/admin", EW_DIR_INGRESS);
}

/* L7-flagged, but no policy entry for the peer (or for this port): nothing
 * passes; nor does an L7 entry the config has no rules for. */
Test(proxy_policy, no_entry_denies)
{
	struct l7_selection sel;

	cr_assert_eq(load(config), 0, "%s", cfg.problem);
	server_l7();
	cr_assert_eq(proxy_put_policy(&maps, SERVER, CLIENT, EW_DIR_INGRESS, 8080, 11,
				      EW_POLICY_L7), 0);
	sel = select_conn();
	cr_assert(sel.side[EW_DIR_INGRESS].checked);
	cr_assert_eq(sel.side[EW_DIR_INGRESS].n_entries, 0);
	assert_denied("GET", "/public", EW_DIR_INGRESS);

	cr_assert_eq(proxy_put_policy(&maps, SERVER, PARTNER + 1, EW_DIR_INGRESS, PORT,
				      99, EW_POLICY_L7),
		     0);
	cr_assert_eq(
		proxy_put_ipcache(&maps, ip(CLIENT_IP), 32, PARTNER + 1, PARTNER + 1), 0);
	assert_denied("GET", "/public", EW_DIR_INGRESS);
}

/* A peer in no ipcache entry is world, as in the datapath. */
Test(proxy_policy, unknown_peer_is_world)
{
	struct ew_ipcache_key key = { .prefixlen = 32, .addr = ip(CLIENT_IP) };

	cr_assert_eq(load(config), 0, "%s", cfg.problem);
	server_l7();
	cr_assert_eq(bpf_map_delete_elem(maps.ipcache, &key), 0);
	cr_assert_eq(proxy_put_policy(&maps, SERVER, EW_IDENTITY_WORLD, EW_DIR_INGRESS,
				      PORT, 12, 0),
		     0);
	assert_allowed("GET", "/anything", 12, EW_DIR_INGRESS);
}

/* Neither end L7-policed (the datapath sent nothing here), or the host: no check. */
Test(proxy_policy, not_l7)
{
	cr_assert_eq(load(config), 0, "%s", cfg.problem);
	cr_assert_eq(
		proxy_put_endpoint(&maps, ip(SERVER_IP), SERVER, EW_EP_INGRESS_ISOLATED),
		0);
	assert_allowed("GET", "/admin", 0, EW_DIR_INGRESS);
	server_l7();
	cr_assert_eq(proxy_put_ipcache(&maps, ip(CLIENT_IP), 32, EW_IDENTITY_HOST,
				       EW_IDENTITY_HOST), 0);
	assert_allowed("GET", "/admin", 0, EW_DIR_INGRESS);
}

/* A config of one entry for subject 1 and peer 0 with these fields. */
#define ENTRY(fields) "{'version': 1, 'entries': [{'subject': 1, 'peer': 0, " fields "}]}"

/* Whatever the maps say, a config that could not be read denies everything. */
static void assert_bad_config(const char *json, const char *problem)
{
	cr_assert_eq(load(json), -1, "loaded: %s", json);
	cr_assert(!cfg.valid);
	cr_assert(strstr(cfg.problem, problem), "problem \"%s\" does not say \"%s\"",
		  cfg.problem, problem);
	cr_assert(strstr(cfg.problem, config_path), "problem \"%s\" names no file",
		  cfg.problem);
	assert_denied("GET", "/public", EW_DIR_EGRESS);
}

Test(proxy_policy, bad_config_denies_all)
{
	server_l7();
	cr_assert_eq(proxy_put_policy(&maps, SERVER, EW_IDENTITY_ANY, EW_DIR_INGRESS,
				      PORT, 5, 0),
		     0); /* L4: would allow all */
	assert_bad_config("{'version': 1, 'entries': [", "line 1");
	assert_bad_config("{'version': 2, 'entries': []}", "version 2");
	assert_bad_config(ENTRY("'dir': 'in', 'port': 80, 'rules': []"),
			  "entries[0]: dir \"in\"");
	assert_bad_config(ENTRY("'dir': 'ingress', 'port': 70000, 'rules': []"),
			  "port 70000");
	assert_bad_config(ENTRY("'dir': 'ingress', 'port': 80, "
				"'rules': [{'rule': 1, 'path': '/a('}]"),
			  "entries[0].rules[0]: path");
	assert_bad_config(ENTRY("'dir': 'ingress', 'port': 80, "
				"'rules': [{'rule': 1, 'paht': '/'}]"),
			  "paht");
	unlink(config_path);
	cr_assert_eq(l7_config_load(&cfg, config_path), -1);
	cr_assert(strstr(cfg.problem, "No such file"), "%s", cfg.problem);
	assert_denied("GET", "/public", EW_DIR_EGRESS);
	/* and a good one again takes over */
	cr_assert_eq(load(config), 0, "%s", cfg.problem);
	assert_allowed("GET", "/public", 5, EW_DIR_INGRESS);
}

#define EGRESS_TO_2 "{'subject': 1, 'dir': 'egress', 'port': 80, 'peer': 2, 'rules': []}"

Test(proxy_policy, duplicate_entries)
{
	const char *twice = "{'version': 1, 'entries': [" EGRESS_TO_2 ", " EGRESS_TO_2 "]}";

	cr_assert_eq(load(twice), -1);
	cr_assert(strstr(cfg.problem, "two entries for subject 1, dir egress, port 80, "
				      "peer 2"), "%s", cfg.problem);
}
