// SPDX-License-Identifier: Apache-2.0
/* The store reader on networking.k8s.io/v1 NetworkPolicy and cilium.io/v2
 * CiliumNetworkPolicy: the defaults, every rejection and where, the duplicates
 * between objects and the last good version. */
#include <arpa/inet.h>

#include "store_fixture.h"

TestSuite(store_policy, .init = store_setup, .fini = store_teardown);

/* A NetworkPolicy shop/NAME; the fields of its spec follow from line 5,
 * indented by two. */
#define NETPOL(name)                                                                     \
	"apiVersion: networking.k8s.io/v1\n"                                             \
	"kind: NetworkPolicy\n"                                                          \
	"metadata: {name: " name ", namespace: shop}\n"                                  \
	"spec:\n"

/* A CiliumNetworkPolicy shop/NAME; the fields of its spec follow from line 5,
 * indented by two. */
#define CNP(name)                                                                        \
	"apiVersion: cilium.io/v2\n"                                                     \
	"kind: CiliumNetworkPolicy\n"                                                    \
	"metadata: {name: " name ", namespace: shop}\n"                                  \
	"spec:\n"

/* The policy of the kind named shop/name; the first one of several specs. */
static const struct ew_network_policy *policy(enum ew_policy_kind kind, const char *name)
{
	for (size_t i = 0; i < model()->n_policies; i++) {
		const struct ew_network_policy *p = &model()->policies[i];

		if (p->kind == kind && !strcmp(p->namespace, "shop") &&
		    !strcmp(p->name, name))
			return p;
	}
	cr_assert_fail("no policy shop/%s; diags:\n%s", name, diags_text());
	return NULL;
}

#define netpol(name) policy(EW_POLICY_KUBERNETES, name)
#define cnp(name)    policy(EW_POLICY_CILIUM, name)

/* Labels from "k=v,k=v" (at most 4), for matching selectors. */
struct test_labels {
	struct ew_label items[4];
	char text[128];
	struct ew_labels labels;
};

static const struct ew_labels *labels(struct test_labels *t, const char *spec)
{
	char *save, *pair;

	snprintf(t->text, sizeof(t->text), "%s", spec);
	t->labels = (struct ew_labels){0, t->items};
	for (pair = strtok_r(t->text, ",", &save); pair;
	     pair = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(pair, '=');

		cr_assert_not_null(eq);
		cr_assert_lt(t->labels.n, 4);
		*eq = '\0';
		t->items[t->labels.n++] = (struct ew_label){pair, eq + 1};
	}
	return &t->labels;
}

/* Whether sel selects the labels "k=v,k=v". */
static bool selects(const struct ew_selector *sel, const char *spec)
{
	struct test_labels t;

	return ew_selector_match(sel, labels(&t, spec));
}

/* the labels of Namespace NAME, as the store gives them */
#define NS(name) "kubernetes.io/metadata.name=" name

/* --- NetworkPolicy: what is read --------------------------------------------------- */

Test(store_policy, a_policy_with_only_a_pod_selector_isolates_ingress)
{
	const struct ew_network_policy *p;

	store_write("np.yaml", "apiVersion: networking.k8s.io/v1\n"
			       "kind: NetworkPolicy\n"
			       "metadata: {name: deny-all}\n"
			       "spec: {podSelector: {}}\n");
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	cr_assert_eq(model()->n_policies, 1);
	p = &model()->policies[0];
	cr_assert_eq(p->kind, EW_POLICY_KUBERNETES);
	cr_assert_str_eq(p->namespace, "default", "the namespace defaults to default");
	cr_assert_str_eq(p->name, "deny-all");
	cr_assert_eq(p->pod_selector.match_labels.n, 0);
	cr_assert_eq(p->pod_selector.n_exprs, 0);
	cr_assert(selects(&p->pod_selector, "app=anything"), "{}: every pod");
	cr_assert(p->isolates_ingress, "policyTypes default: Ingress always");
	cr_assert_not(p->isolates_egress, "no egress rules: no Egress");
	cr_assert_eq(p->n_ingress, 0, "isolated with no rule: nothing is allowed");
	cr_assert_eq(p->n_egress, 0);
	cr_assert_str_eq(p->origin.file, "np.yaml");
	cr_assert_eq(p->origin.line, 1);
	cr_assert_eq(p->origin.col, 1);
}

Test(store_policy, egress_rules_without_policy_types_isolate_both_directions)
{
	const struct ew_network_policy *p;

	store_write("np.yaml", NETPOL("web") "  podSelector: {matchLabels: {app: web}}\n"
					     "  egress:\n"
					     "    - to: [{podSelector: {}}]\n");
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	p = netpol("web");
	cr_assert(p->isolates_ingress, "Ingress always, though it has no ingress rules");
	cr_assert(p->isolates_egress, "Egress: it has egress rules");
	cr_assert_eq(p->n_ingress, 0);
	cr_assert_eq(p->n_egress, 1);
	cr_assert(selects(&p->pod_selector, "app=web,tier=a"));
	cr_assert_not(selects(&p->pod_selector, "app=db"));
}

Test(store_policy, listed_policy_types_are_taken_as_they_are)
{
	store_write("a.yaml", NETPOL("ingress-only") "  podSelector: {}\n"
						     "  policyTypes: [Ingress]\n"
						     "  ingress: [{}]\n"
						     "  egress: [{}]\n");
	store_write("b.yaml", NETPOL("egress-only") "  podSelector: {}\n"
						    "  policyTypes: [Egress]\n"
						    "  ingress: [{}]\n");
	store_write("c.yaml", NETPOL("both") "  podSelector: {}\n"
					     "  policyTypes: [Ingress, Egress]\n");
	store_write("d.yaml", NETPOL("empty-list") "  podSelector: {}\n"
						   "  policyTypes: []\n"
						   "  egress: [{}]\n");
	cr_assert_eq(store_load(), 0, "%s", diags_text());

	cr_assert(netpol("ingress-only")->isolates_ingress);
	cr_assert_not(netpol("ingress-only")->isolates_egress,
		      "egress rules do not add Egress to listed policyTypes");
	cr_assert_eq(netpol("ingress-only")->n_ingress, 1);
	cr_assert_eq(netpol("ingress-only")->n_egress, 0,
		     "the rules of a direction it is not about do not apply");

	cr_assert_not(netpol("egress-only")->isolates_ingress);
	cr_assert(netpol("egress-only")->isolates_egress);
	cr_assert_eq(netpol("egress-only")->n_ingress, 0);
	cr_assert_eq(netpol("egress-only")->n_egress, 0, "isolated, nothing allowed");

	cr_assert(netpol("both")->isolates_ingress);
	cr_assert(netpol("both")->isolates_egress);

	cr_assert(netpol("empty-list")->isolates_ingress, "[] is absent: the defaults");
	cr_assert(netpol("empty-list")->isolates_egress);
}

Test(store_policy, reads_match_labels_and_every_operator)
{
	const struct ew_selector *s;

	store_write("np.yaml",
		    NETPOL("web") "  podSelector:\n"
				  "    matchLabels: {app: web}\n"
				  "    matchExpressions:\n"
				  "      - {key: tier, operator: In, values: [a, b]}\n"
				  "      - {key: env, operator: NotIn, values: [dev]}\n"
				  "      - {key: team, operator: Exists}\n"
				  "      - key: legacy\n"
				  "        operator: DoesNotExist\n"
				  "        values: []\n");
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	s = &netpol("web")->pod_selector;
	cr_assert_eq(s->match_labels.n, 1);
	cr_assert_eq(s->n_exprs, 4);
	cr_assert_str_eq(s->exprs[0].key, "tier");
	cr_assert_eq(s->exprs[0].op, EW_SELECTOR_IN);
	cr_assert_eq(s->exprs[0].n_values, 2);
	cr_assert_str_eq(s->exprs[0].values[1], "b");
	cr_assert_eq(s->exprs[1].op, EW_SELECTOR_NOT_IN);
	cr_assert_eq(s->exprs[2].op, EW_SELECTOR_EXISTS);
	cr_assert_eq(s->exprs[2].n_values, 0);
	cr_assert_eq(s->exprs[3].op, EW_SELECTOR_DOES_NOT_EXIST);
	cr_assert(selects(s, "app=web,tier=b,team=x"));
	cr_assert(selects(s, "app=web,tier=a,env=prod,team=x"));
	cr_assert_not(selects(s, "app=web,tier=c,team=x"), "tier In [a, b]");
	cr_assert_not(selects(s, "app=web,tier=a,env=dev,team=x"), "env NotIn [dev]");
	cr_assert_not(selects(s, "app=web,tier=a"), "team Exists");
	cr_assert_not(selects(s, "app=web,tier=a,team=x,legacy=1"),
		      "legacy DoesNotExist");
}

Test(store_policy, peers_in_a_list_are_alternatives_and_selectors_in_one_peer_all_hold)
{
	const struct ew_policy_rule *r;

	store_write(
	    "np.yaml",
	    NETPOL("web") "  podSelector: {}\n"
			  "  ingress:\n"
			  "    - from:\n"
			  "        - podSelector: {matchLabels: {app: api}}\n"
			  "        - namespaceSelector: {matchLabels: {team: a}}\n"
			  "        - podSelector: {matchLabels: {app: cron}}\n"
			  "          namespaceSelector: {matchLabels: {team: b}}\n"
			  "        - ipBlock: {cidr: 192.168.0.0/16, except: "
			  "[192.168.1.0/24]}\n"
			  "    - ports: [{port: 80}]\n"
			  "    - from: []\n"
			  "      ports: []\n");
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	cr_assert_eq(netpol("web")->n_ingress, 3);
	r = &netpol("web")->ingress[0];
	cr_assert_not(r->all_peers);
	cr_assert_eq(r->n_peers, 4, "four peers: any of them");
	cr_assert_eq(r->n_ports, 0, "no ports: every port");

	cr_assert(r->peers[0].has_pod_selector, "pods of the policy's namespace");
	cr_assert_not(r->peers[0].has_ns_selector);
	cr_assert_not(r->peers[0].has_ip_block);
	cr_assert(selects(&r->peers[0].pod_selector, "app=api"));

	cr_assert_not(r->peers[1].has_pod_selector, "every pod of those namespaces");
	cr_assert(r->peers[1].has_ns_selector);
	cr_assert(selects(&r->peers[1].ns_selector, "team=a"));

	cr_assert(r->peers[2].has_pod_selector,
		  "both: pods matching in namespaces matching");
	cr_assert(r->peers[2].has_ns_selector);
	cr_assert(selects(&r->peers[2].pod_selector, "app=cron"));
	cr_assert(selects(&r->peers[2].ns_selector, "team=b"));
	cr_assert_not(selects(&r->peers[2].ns_selector, "team=a"));

	cr_assert(r->peers[3].has_ip_block);
	cr_assert_not(r->peers[3].has_pod_selector || r->peers[3].has_ns_selector);
	cr_assert_eq(r->peers[3].cidr.addr, inet_addr("192.168.0.0"));
	cr_assert_eq(r->peers[3].cidr.prefixlen, 16);
	cr_assert_eq(r->peers[3].n_except, 1);
	cr_assert_eq(r->peers[3].except[0].addr, inet_addr("192.168.1.0"));
	cr_assert_eq(r->peers[3].except[0].prefixlen, 24);

	r = &netpol("web")->ingress[1];
	cr_assert(r->all_peers, "no from: every peer");
	cr_assert_eq(r->n_peers, 0);
	cr_assert_eq(r->n_ports, 1);
	r = &netpol("web")->ingress[2];
	cr_assert(r->all_peers, "from: [] is every peer too");
	cr_assert_eq(r->n_ports, 0, "ports: [] is every port");
}

Test(store_policy, reads_ports_with_their_defaults)
{
	const struct ew_policy_rule *r;

	store_write("np.yaml", NETPOL("web") "  podSelector: {}\n"
					     "  egress:\n"
					     "    - to: [{ipBlock: {cidr: 0.0.0.0/0}}]\n"
					     "      ports:\n"
					     "        - port: 53\n"
					     "        - {protocol: UDP, port: \"53\"}\n"
					     "        - {protocol: SCTP, port: metrics}\n"
					     "        - {port: 32000, endPort: 32768}\n"
					     "        - {protocol: UDP}\n"
					     "        - {port: 443, endPort: 443}\n");
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	r = &netpol("web")->egress[0];
	cr_assert_eq(r->peers[0].cidr.addr, 0);
	cr_assert_eq(r->peers[0].cidr.prefixlen, 0, "0.0.0.0/0 is every address");
	cr_assert_eq(r->n_ports, 6);
	cr_assert_eq(r->ports[0].protocol, EW_PROTO_TCP, "protocol defaults to TCP");
	cr_assert_eq(r->ports[0].port, 53);
	cr_assert_eq(r->ports[0].end_port, 0);
	cr_assert_null(r->ports[0].name);
	cr_assert_eq(r->ports[1].protocol, EW_PROTO_UDP);
	cr_assert_eq(r->ports[1].port, 53);
	cr_assert_eq(r->ports[2].protocol, EW_PROTO_SCTP);
	cr_assert_eq(r->ports[2].port, 0, "0 with a name");
	cr_assert_str_eq(r->ports[2].name, "metrics");
	cr_assert_eq(r->ports[3].port, 32000);
	cr_assert_eq(r->ports[3].end_port, 32768);
	cr_assert_eq(r->ports[4].protocol, EW_PROTO_UDP);
	cr_assert_eq(r->ports[4].port, 0, "no port: every UDP port");
	cr_assert_null(r->ports[4].name);
	cr_assert_eq(r->ports[5].end_port, 443, "endPort may equal port");
}

Test(store_policy, clears_host_bits_of_ip_blocks)
{
	const struct ew_policy_peer *peer;

	store_write("np.yaml",
		    NETPOL("web") "  podSelector: {}\n"
				  "  ingress:\n"
				  "    - from:\n"
				  "        - ipBlock:\n"
				  "            cidr: 10.1.2.3/8\n"
				  "            except: [10.9.9.9/16, 10.1.2.3/32]\n");
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	peer = &netpol("web")->ingress[0].peers[0];
	cr_assert_eq(peer->cidr.addr, inet_addr("10.0.0.0"),
		     "as the API server takes it");
	cr_assert_eq(peer->cidr.prefixlen, 8);
	cr_assert_eq(peer->except[0].addr, inet_addr("10.9.0.0"));
	cr_assert_eq(peer->except[1].addr, inet_addr("10.1.2.3"));
	cr_assert_eq(peer->except[1].prefixlen, 32);
}

/* --- NetworkPolicy: what is rejected, and where ------------------------------------ */

Test(store_policy, requires_a_spec_and_a_pod_selector)
{
	store_write("a.yaml", "{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, "
			      "metadata: {name: a}}\n");
	store_write("b.yaml", NETPOL("b") "  policyTypes: [Ingress]\n");
	store_write("c.yaml", NETPOL("Bad_Name") "  podSelector: {}\n");
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 3, "%s", diags_text());
	assert_diag("a.yaml", 1, 1, "NetworkPolicy default/a", "spec is missing",
		    "podSelector (a label selector, {} for every pod of the namespace)");
	assert_diag("b.yaml", 5, 3, "NetworkPolicy shop/b", "spec.podSelector is missing",
		    "a label selector, {} for every pod of the namespace");
	assert_diag("c.yaml", 3, 18, "metadata.name \"Bad_Name\"", "DNS subdomain");
	cr_assert_eq(model()->n_policies, 0);
}

Test(store_policy, rejects_bad_selector_operators_and_values)
{
	store_write("np.yaml",
		    NETPOL("web") "  podSelector:\n"
				  "    matchExpressions:\n"
				  "      - {key: tier, operator: Equals, values: [a]}\n"
				  "      - {key: tier, operator: In}\n"
				  "      - {key: tier, operator: NotIn, values: []}\n"
				  "      - {key: tier, operator: Exists, values: [a]}\n"
				  "      - {key: -tier, operator: DoesNotExist}\n"
				  "      - {key: tier, operator: In, values: [-a]}\n"
				  "      - {key: tier}\n");
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 7, "%s", diags_text());
	assert_diag("np.yaml", 7, 31, "NetworkPolicy shop/web",
		    "spec.podSelector.matchExpressions[0].operator \"Equals\" is not a "
		    "selector operator",
		    "In, NotIn, Exists or DoesNotExist");
	assert_diag("np.yaml", 8, 9,
		    "spec.podSelector.matchExpressions[1].values is missing",
		    "at least one value for operator In");
	assert_diag("np.yaml", 9, 46,
		    "spec.podSelector.matchExpressions[2].values is empty",
		    "at least one value for operator NotIn");
	assert_diag("np.yaml", 10, 47,
		    "spec.podSelector.matchExpressions[3].values must be empty for "
		    "operator Exists",
		    "no values");
	assert_diag("np.yaml", 11, 15,
		    "label key \"-tier\" in spec.podSelector.matchExpressions[4].key is "
		    "not valid");
	assert_diag("np.yaml", 12, 44,
		    "label tier: value \"-a\" in "
		    "spec.podSelector.matchExpressions[5].values[0]");
	assert_diag("np.yaml", 13, 9,
		    "spec.podSelector.matchExpressions[6].operator is missing",
		    "In, NotIn, Exists or DoesNotExist");
}

Test(store_policy, rejects_fields_a_policy_does_not_have)
{
	/* a selector written without matchLabels would select every pod */
	store_write("np.yaml", NETPOL("web") "  podSelector: {app: web}\n"
					     "  ingress:\n"
					     "    - form: [{podSelector: {}}]\n"
					     "  egres: []\n");
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 3, "%s", diags_text());
	assert_diag("np.yaml", 5, 17,
		    "spec.podSelector.app is not a field of a label selector",
		    "matchLabels or matchExpressions");
	assert_diag("np.yaml", 7, 7,
		    "spec.ingress[0].form is not a field of a NetworkPolicy ingress rule",
		    "expected from or ports");
	assert_diag("np.yaml", 8, 3, "spec.egres is not a field of a NetworkPolicy spec",
		    "podSelector, policyTypes, ingress or egress");
}

Test(store_policy, rejects_bad_policy_types)
{
	store_write("a.yaml", NETPOL("a") "  podSelector: {}\n"
					  "  policyTypes: [ingress]\n");
	store_write("b.yaml", NETPOL("b") "  podSelector: {}\n"
					  "  policyTypes: [Ingress, Egress, Ingress]\n");
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 2, "%s", diags_text());
	assert_diag("a.yaml", 6, 17,
		    "spec.policyTypes[0] \"ingress\" is not a policy type",
		    "Ingress or Egress");
	assert_diag("b.yaml", 6, 16, "spec.policyTypes lists 3 types",
		    "at most two: Ingress and Egress");
}

Test(store_policy, rejects_empty_peers_and_ip_blocks_with_selectors)
{
	store_write("np.yaml", NETPOL("web") "  podSelector: {}\n"
					     "  ingress:\n"
					     "    - from:\n"
					     "        - {}\n"
					     "        - podSelector: {}\n"
					     "          ipBlock: {cidr: 10.0.0.0/8}\n");
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 2, "%s", diags_text());
	assert_diag("np.yaml", 8, 11, "NetworkPolicy shop/web",
		    "spec.ingress[0].from[0] names no peer",
		    "podSelector, namespaceSelector (or both), or ipBlock");
	assert_diag(
	    "np.yaml", 10, 20,
	    "spec.ingress[0].from[1].ipBlock may not be combined with podSelector "
	    "or namespaceSelector",
	    "an ipBlock alone");
}

Test(store_policy, rejects_malformed_cidrs_and_excepts_outside_their_cidr)
{
	store_write(
	    "np.yaml",
	    NETPOL("web") "  podSelector: {}\n"
			  "  egress:\n"
			  "    - to:\n"
			  "        - ipBlock: {cidr: 10.0.0.0/33}\n"
			  "        - ipBlock: {cidr: 10.0.0.0}\n"
			  "        - ipBlock: {cidr: 10.0.0/8}\n"
			  "        - ipBlock: {cidr: \"fd00::/8\"}\n"
			  "        - ipBlock: {except: [10.1.0.0/16]}\n"
			  "        - ipBlock:\n"
			  "            cidr: 10.0.0.0/16\n"
			  "            except: [10.1.0.0/24, 10.0.0.0/16, 10.0.0.0/8, "
			  "10.0.1.0/24]\n");
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 8, "%s", diags_text());
	assert_diag(
	    "np.yaml", 8, 27,
	    "spec.egress[0].to[0].ipBlock.cidr \"10.0.0.0/33\" is not an IPv4 CIDR",
	    "a prefix length from 0 to 32, such as 10.0.0.0/8");
	assert_diag("np.yaml", 9, 27,
		    "spec.egress[0].to[1].ipBlock.cidr \"10.0.0.0\" is not an IPv4 CIDR");
	assert_diag("np.yaml", 10, 27,
		    "spec.egress[0].to[2].ipBlock.cidr \"10.0.0/8\" is not an IPv4 CIDR");
	assert_diag("np.yaml", 11, 27, "spec.egress[0].to[3].ipBlock.cidr \"fd00::/8\"",
		    "is an IPv6 CIDR, which is not supported");
	assert_diag("np.yaml", 12, 20, "spec.egress[0].to[4].ipBlock.cidr is missing",
		    "such as 10.0.0.0/8");
	assert_diag("np.yaml", 15, 22,
		    "spec.egress[0].to[5].ipBlock.except[0] 10.1.0.0/24 is not inside "
		    "cidr 10.0.0.0/16",
		    "a block inside 10.0.0.0/16");
	assert_diag("np.yaml", 15, 35,
		    "spec.egress[0].to[5].ipBlock.except[1] 10.0.0.0/16 is not smaller "
		    "than cidr 10.0.0.0/16",
		    "strictly inside 10.0.0.0/16");
	assert_diag(
	    "np.yaml", 15, 48,
	    "spec.egress[0].to[5].ipBlock.except[2] 10.0.0.0/8 is not inside cidr "
	    "10.0.0.0/16");
}

Test(store_policy, rejects_ports_out_of_range_and_end_ports_below_their_port)
{
	store_write("np.yaml", NETPOL("web") "  podSelector: {}\n"
					     "  ingress:\n"
					     "    - ports:\n"
					     "        - port: 0\n"
					     "        - port: 65536\n"
					     "        - {port: 8080, endPort: 80}\n"
					     "        - {port: 80, endPort: 65536}\n"
					     "        - {port: http, endPort: 90}\n"
					     "        - {endPort: 90}\n"
					     "        - {port: web_http}\n"
					     "        - {port: 80, protocol: ICMP}\n");
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 8, "%s", diags_text());
	assert_diag("np.yaml", 8, 17, "NetworkPolicy shop/web",
		    "spec.ingress[0].ports[0].port \"0\" is not valid",
		    "a port number from 1 to 65535 or a port name");
	assert_diag("np.yaml", 9, 17, "spec.ingress[0].ports[1].port \"65536\"",
		    "from 1 to 65535");
	assert_diag("np.yaml", 10, 33,
		    "spec.ingress[0].ports[2].endPort 80 is below port 8080",
		    "a number from 8080 to 65535");
	assert_diag("np.yaml", 11, 31, "spec.ingress[0].ports[3].endPort \"65536\"",
		    "from 1 to 65535");
	assert_diag("np.yaml", 12, 33,
		    "spec.ingress[0].ports[4].endPort is set, but "
		    "spec.ingress[0].ports[4].port is a port name",
		    "endPort only with a port number");
	assert_diag("np.yaml", 13, 21, "spec.ingress[0].ports[5].port is absent");
	assert_diag("np.yaml", 14, 18, "spec.ingress[0].ports[6].port \"web_http\"",
		    "at least one letter");
	assert_diag("np.yaml", 15, 32, "spec.ingress[0].ports[7].protocol \"ICMP\"",
		    "TCP, UDP or SCTP");
}

/* --- CiliumNetworkPolicy: what is read -----------------------------------------------
 */

Test(store_policy, a_cilium_policy_isolates_each_direction_it_has_rules_for)
{
	const struct ew_network_policy *p;

	store_write("cnp.yaml",
		    CNP("web") "  endpointSelector: {matchLabels: {app: web}}\n"
			       "  ingress:\n"
			       "    - fromEndpoints: [{}]\n");
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	p = cnp("web");
	cr_assert_eq(p->kind, EW_POLICY_CILIUM);
	cr_assert(selects(&p->pod_selector, "app=web"));
	cr_assert(p->isolates_ingress);
	cr_assert_not(p->isolates_egress, "no egress section");
	cr_assert_eq(p->n_ingress, 1);
	cr_assert_eq(p->origin.line, 1);
}

Test(store_policy, cilium_peers_are_in_the_policys_namespace_unless_they_name_one)
{
	const struct ew_policy_rule *r;
	const struct ew_policy_peer *peer;

	store_write("cnp.yaml",
		    CNP("web") "  endpointSelector: {}\n"
			       "  ingress:\n"
			       "    - fromEndpoints:\n"
			       "        - {}\n"
			       "        - matchLabels: {k8s:app: api, any:tier: be}\n"
			       "        - matchLabels:\n"
			       "            k8s:io.kubernetes.pod.namespace: monitoring\n"
			       "            app: prometheus\n"
			       "        - matchExpressions:\n"
			       "            - key: io.kubernetes.pod.namespace\n"
			       "              operator: In\n"
			       "              values: [a, b]\n"
			       "        - matchLabels: "
			       "{io.cilium.k8s.namespace.labels.team: x}\n");
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	r = &cnp("web")->ingress[0];
	cr_assert_not(r->all_peers);
	cr_assert_eq(r->n_peers, 5);

	peer = &r->peers[0];
	cr_assert(peer->has_pod_selector && peer->has_ns_selector);
	cr_assert(selects(&peer->pod_selector, "app=anything"), "{}: every pod...");
	cr_assert(selects(&peer->ns_selector, NS("shop")),
		  "...of the policy's namespace");
	cr_assert_not(selects(&peer->ns_selector, NS("other")));
	cr_assert_eq(peer->ns_selector.match_labels.n, 1);
	cr_assert_str_eq(peer->ns_selector.match_labels.items[0].key,
			 "kubernetes.io/metadata.name");
	cr_assert_str_eq(peer->ns_selector.match_labels.items[0].value, "shop");

	peer = &r->peers[1];
	cr_assert_str_eq(peer->pod_selector.match_labels.items[0].key, "app",
			 "the source k8s: is not part of the label");
	cr_assert_str_eq(peer->pod_selector.match_labels.items[1].key, "tier");
	cr_assert(selects(&peer->pod_selector, "app=api,tier=be"));
	cr_assert(selects(&peer->ns_selector, NS("shop")));

	peer = &r->peers[2];
	cr_assert_eq(peer->pod_selector.match_labels.n, 1, "the namespace moved out");
	cr_assert(selects(&peer->pod_selector, "app=prometheus"));
	cr_assert(selects(&peer->ns_selector, NS("monitoring")));
	cr_assert_not(selects(&peer->ns_selector, NS("shop")),
		      "a named namespace replaces the policy's");

	peer = &r->peers[3];
	cr_assert_eq(peer->pod_selector.n_exprs, 0);
	cr_assert_eq(peer->ns_selector.n_exprs, 1);
	cr_assert(selects(&peer->ns_selector, NS("a")));
	cr_assert(selects(&peer->ns_selector, NS("b")));
	cr_assert_not(selects(&peer->ns_selector, NS("shop")));

	peer = &r->peers[4];
	cr_assert(selects(&peer->ns_selector, NS("shop") ",team=x"),
		  "namespace labels, in the policy's namespace");
	cr_assert_not(selects(&peer->ns_selector, NS("shop") ",team=y"));
	cr_assert_not(selects(&peer->ns_selector, NS("other") ",team=x"));
}

Test(store_policy, cilium_cidrs_ports_and_protocols)
{
	const struct ew_policy_rule *r;

	store_write(
	    "cnp.yaml",
	    CNP("web") "  endpointSelector: {}\n"
		       "  egress:\n"
		       "    - toCIDR: [10.0.0.0/8, 192.168.1.1]\n"
		       "      toPorts:\n"
		       "        - ports:\n"
		       "            - {port: \"53\"}\n"
		       "            - {port: \"53\", protocol: ANY}\n"
		       "            - {port: 8080, protocol: TCP, endPort: 8090}\n"
		       "        - ports:\n"
		       "            - {port: HTTP-Alt, protocol: UDP}\n"
		       "            - {port: \"0\", protocol: SCTP}\n"
		       "            - {port: \"443\", endPort: 0}\n"
		       "    - toCIDRSet:\n"
		       "        - {cidr: 10.0.0.0/8, except: [10.96.0.0/12]}\n");
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	cr_assert_eq(cnp("web")->n_egress, 2);
	r = &cnp("web")->egress[0];
	cr_assert_eq(r->n_peers, 2);
	cr_assert(r->peers[0].has_ip_block);
	cr_assert_eq(r->peers[0].cidr.prefixlen, 8);
	cr_assert_eq(r->peers[1].cidr.addr, inet_addr("192.168.1.1"));
	cr_assert_eq(r->peers[1].cidr.prefixlen, 32, "an address alone is a /32");
	cr_assert_eq(r->n_ports, 6, "the ports of every toPorts entry");
	cr_assert_eq(r->ports[0].protocol, 0, "no protocol: ANY, TCP and UDP");
	cr_assert_eq(r->ports[0].port, 53);
	cr_assert_eq(r->ports[1].protocol, 0);
	cr_assert_eq(r->ports[2].protocol, EW_PROTO_TCP);
	cr_assert_eq(r->ports[2].end_port, 8090);
	cr_assert_eq(r->ports[3].protocol, EW_PROTO_UDP);
	cr_assert_str_eq(r->ports[3].name, "http-alt", "names are case-insensitive");
	cr_assert_eq(r->ports[4].protocol, EW_PROTO_SCTP);
	cr_assert_eq(r->ports[4].port, 0, "port 0: every port");
	cr_assert_null(r->ports[4].name);
	cr_assert_eq(r->ports[5].end_port, 0, "endPort 0 is unset");

	r = &cnp("web")->egress[1];
	cr_assert_eq(r->n_peers, 1);
	cr_assert_eq(r->peers[0].n_except, 1);
	cr_assert_eq(r->peers[0].except[0].addr, inet_addr("10.96.0.0"));
	cr_assert_eq(r->n_ports, 0, "no toPorts: every port");
}

/* Asserts http rule h: method, path and host (NULL: absent), and its headers. */
static void assert_http(const struct ew_http_match *h, const char *method,
			const char *path, const char *host, size_t n_headers, ...)
{
	const char *want[] = {method, path, host},
		   *have[] = {h->method, h->path, h->host};
	va_list ap;

	for (size_t i = 0; i < 3; i++)
		if (want[i])
			cr_assert_str_eq(have[i], want[i]);
		else
			cr_assert_null(have[i], "want no field, got \"%s\"", have[i]);
	cr_assert_eq(h->n_headers, n_headers);
	va_start(ap, n_headers);
	for (size_t i = 0; i < n_headers; i++)
		cr_assert_str_eq(h->headers[i], va_arg(ap, const char *));
	va_end(ap);
}

Test(store_policy, cilium_http_rules_are_read_into_each_port_of_their_entry)
{
	const struct ew_policy_rule *r;

	store_write("cnp.yaml",
		    CNP("web") "  endpointSelector: {}\n"
			       "  ingress:\n"
			       "    - fromEndpoints: [{matchLabels: {app: api}}]\n"
			       "      toPorts:\n"
			       "        - ports:\n"
			       "            - {port: \"80\", protocol: TCP}\n"
			       "            - {port: http-alt}\n"
			       "          rules:\n"
			       "            http:\n"
			       "              - {method: GET, path: \"/public/.*\"}\n"
			       "              - method: POST\n"
			       "                host: \"api\\\\.example\\\\.com\"\n"
			       "                headers: [X-Token, \"Content-Type: "
			       "application/json\"]\n"
			       "  egress:\n"
			       "    - toPorts:\n"
			       "        - ports: [{port: \"8080\", protocol: ANY}]\n"
			       "          rules: {http: [{}]}\n"
			       "        - ports: [{port: \"53\", protocol: UDP}]\n");
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	r = &cnp("web")->ingress[0];
	cr_assert_eq(r->n_ports, 2);
	for (size_t i = 0; i < 2; i++) {
		const struct ew_policy_port *p = &r->ports[i];

		cr_assert_eq(p->protocol, EW_PROTO_TCP, "HTTP: TCP, absent or not");
		cr_assert_eq(p->n_http, 2, "each port of the entry has its rules");
		assert_http(&p->http[0], "GET", "/public/.*", NULL, 0);
		assert_http(&p->http[1], "POST", NULL, "api\\.example\\.com", 2,
			    "X-Token", "Content-Type: application/json");
	}
	cr_assert_eq(r->ports[0].port, 80);
	cr_assert_str_eq(r->ports[1].name, "http-alt");
	cr_assert_neq(r->ports[0].http, r->ports[1].http, "copies, freed one by one");

	r = &cnp("web")->egress[0];
	cr_assert_eq(r->n_ports, 2);
	cr_assert_eq(r->ports[0].protocol, EW_PROTO_TCP, "ANY with HTTP rules is TCP");
	cr_assert_eq(r->ports[0].port, 8080);
	cr_assert_eq(r->ports[0].n_http, 1);
	assert_http(&r->ports[0].http[0], NULL, NULL, NULL, 0);
	cr_assert_eq(r->ports[1].protocol, EW_PROTO_UDP);
	cr_assert_eq(r->ports[1].n_http, 0, "another entry's rules are not this one's");
}

Test(store_policy, cilium_rules_without_peers_allow_all_with_ports_and_nothing_without)
{
	const struct ew_network_policy *p;

	store_write("cnp.yaml", CNP("web") "  endpointSelector: {}\n"
					   "  ingress:\n"
					   "    - {}\n"
					   "  egress:\n"
					   "    - toPorts: [{ports: [{port: \"53\"}]}]\n"
					   "    - toPorts: []\n");
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	p = cnp("web");
	cr_assert(p->isolates_ingress, "ingress: [{}] isolates...");
	cr_assert_eq(p->n_ingress, 1);
	cr_assert_not(p->ingress[0].all_peers, "...and allows nothing");
	cr_assert_eq(p->ingress[0].n_peers, 0);
	cr_assert(p->isolates_egress);
	cr_assert(p->egress[0].all_peers, "L4 only: every peer on those ports");
	cr_assert_eq(p->egress[0].n_ports, 1);
	cr_assert_not(p->egress[1].all_peers, "toPorts: [] is no toPorts");
}

Test(store_policy, cilium_isolation_follows_non_empty_sections_and_enable_default_deny)
{
	store_write("a.yaml", CNP("empty-lists") "  endpointSelector: {}\n"
						 "  ingress: []\n"
						 "  egress: []\n");
	store_write("b.yaml", CNP("no-deny") "  endpointSelector: {}\n"
					     "  enableDefaultDeny: {ingress: false}\n"
					     "  ingress: [{fromEndpoints: [{}]}]\n"
					     "  egress: [{}]\n");
	store_write("c.yaml", CNP("deny-only") "  endpointSelector: {}\n"
					       "  enableDefaultDeny: {egress: true}\n");
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	cr_assert_not(cnp("empty-lists")->isolates_ingress,
		      "[] is no section, as in Cilium");
	cr_assert_not(cnp("empty-lists")->isolates_egress);
	cr_assert_not(cnp("no-deny")->isolates_ingress);
	cr_assert_eq(cnp("no-deny")->n_ingress, 1, "its rules still allow");
	cr_assert(cnp("no-deny")->isolates_egress);
	cr_assert_not(cnp("deny-only")->isolates_ingress);
	cr_assert(cnp("deny-only")->isolates_egress);
}

Test(store_policy, each_of_specs_is_a_policy_of_its_own)
{
	store_write("cnp.yaml", "apiVersion: cilium.io/v2\n"
				"kind: CiliumNetworkPolicy\n"
				"metadata: {name: web, namespace: shop}\n"
				"spec:\n"
				"  endpointSelector: {matchLabels: {app: web}}\n"
				"  ingress: [{}]\n"
				"specs:\n"
				"  - endpointSelector: {matchLabels: {app: db}}\n"
				"    egress: [{}]\n"
				"  - endpointSelector: {matchLabels: {app: api}}\n");
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	cr_assert_eq(model()->n_policies, 3, "a spec and two specs, not duplicates");
	for (size_t i = 0; i < 3; i++) {
		cr_assert_str_eq(model()->policies[i].name, "web");
		cr_assert_eq(model()->policies[i].origin.line, 1, "each at the object");
	}
	cr_assert(selects(&model()->policies[0].pod_selector, "app=web"));
	cr_assert(model()->policies[0].isolates_ingress);
	cr_assert(selects(&model()->policies[1].pod_selector, "app=db"));
	cr_assert(model()->policies[1].isolates_egress);
	cr_assert_not(model()->policies[2].isolates_ingress ||
		      model()->policies[2].isolates_egress);
}

/* --- CiliumNetworkPolicy: what is rejected, and where ---------------------------------
 */

Test(store_policy, rejects_l7_rules_other_than_http_naming_them)
{
	store_write("cnp.yaml",
		    CNP("web") "  endpointSelector: {}\n"
			       "  ingress:\n"
			       "    - toPorts:\n"
			       "        - ports: [{port: \"9092\", protocol: TCP}]\n"
			       "          rules: {kafka: [{topic: orders}]}\n"
			       "    - toPorts:\n"
			       "        - ports: [{port: \"80\", protocol: TCP}]\n"
			       "          rules: {http: []}\n"
			       "    - toPorts:\n"
			       "        - ports: [{port: \"80\", protocol: TCP}]\n"
			       "          rules: {}\n");
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 4, "%s", diags_text());
	assert_diag("cnp.yaml", 9, 19,
		    "spec.ingress[0].toPorts[0].rules.kafka is not a field of L7 rules",
		    "edgewire enforces HTTP only", "expected http");
	assert_diag("cnp.yaml", 9, 18, "spec.ingress[0].toPorts[0].rules.http is missing",
		    "expected at least one http rule");
	assert_diag("cnp.yaml", 12, 25, "spec.ingress[1].toPorts[0].rules.http is empty",
		    "expected at least one http rule", "{} allows every request");
	assert_diag("cnp.yaml", 15, 18,
		    "spec.ingress[2].toPorts[0].rules.http is missing");
	cr_assert_eq(model()->n_policies, 0, "never silently allowed");
}

/* Asserts that the diag at file:line:col says what was expected once. */
static void assert_expected_once(const char *file, int line, int col)
{
	for (size_t i = 0; i < fx.diags.n; i++) {
		const struct ew_diag *d = &fx.diags.items[i];

		if (!strcmp(d->file ?: "", file) && d->line == line && d->col == col) {
			cr_assert_null(strstr(strstr(d->msg, "expected") + 1, "expected"),
				       "expected twice: %s", d->msg);
			return;
		}
	}
	cr_assert_fail("no diag at %s:%d:%d; diags:\n%s", file, line, col, diags_text());
}

Test(store_policy, rejects_http_rules_that_are_not_valid)
{
	store_write("cnp.yaml",
		    CNP("web") "  endpointSelector: {}\n"
			       "  ingress:\n"
			       "    - toPorts:\n"
			       "        - ports: [{port: \"80\", protocol: TCP}]\n"
			       "          rules:\n"
			       "            http:\n"
			       "              - path: \"/a(\"\n"
			       "              - {method: \"GET|(\", host: \"[a\"}\n"
			       "              - {url: /x, path: /ok}\n"
			       "              - headers: [\"\", \"X Token\", \": v\", "
			       "\"Good: yes\"]\n"
			       "              - GET\n"
			       "              - headers: [A, B, C, D, E, F, G, H, I, J, "
			       "K, L, M, N, O, P, Q]\n");
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 9, "%s", diags_text());
	assert_diag(
	    "cnp.yaml", 11, 23,
	    "spec.ingress[0].toPorts[0].rules.http[0].path \"/a(\" is not a valid "
	    "regular expression",
	    "expected a POSIX extended regular expression, matched against the "
	    "whole path");
	assert_diag("cnp.yaml", 12, 26,
		    "spec.ingress[0].toPorts[0].rules.http[1].method \"GET|(\" is not a "
		    "valid regular expression",
		    "against the whole method");
	assert_diag("cnp.yaml", 12, 41,
		    "spec.ingress[0].toPorts[0].rules.http[1].host \"[a\" is not a valid "
		    "regular expression");
	assert_diag("cnp.yaml", 13, 18,
		    "spec.ingress[0].toPorts[0].rules.http[2].url is not a field of an "
		    "http rule; expected method, path, host or headers");
	assert_expected_once("cnp.yaml", 13, 18);
	assert_diag("cnp.yaml", 14, 27,
		    "spec.ingress[0].toPorts[0].rules.http[3].headers[0] \"\" is not a "
		    "header",
		    "expected \"Name\" or \"Name: value\"");
	assert_diag("cnp.yaml", 14, 31, "http[3].headers[1] \"X Token\" is not a header");
	assert_diag("cnp.yaml", 14, 42, "http[3].headers[2] \": v\" is not a header");
	assert_diag("cnp.yaml", 15, 17, "spec.ingress[0].toPorts[0].rules.http[4]",
		    "expected a mapping, got a string");
	assert_diag("cnp.yaml", 16, 75,
		    "spec.ingress[0].toPorts[0].rules.http[5].headers[16] \"Q\" is one "
		    "header too many",
		    "expected at most 16 headers per http rule");
	cr_assert_eq(model()->n_policies, 0);
}

Test(store_policy, rejects_http_rules_on_ports_that_are_not_one_tcp_port)
{
	store_write("cnp.yaml",
		    CNP("web") "  endpointSelector: {}\n"
			       "  egress:\n"
			       "    - toPorts:\n"
			       "        - ports:\n"
			       "            - {port: \"53\", protocol: UDP}\n"
			       "            - {port: \"80\", protocol: SCTP}\n"
			       "            - {port: \"8080\", endPort: 8090}\n"
			       "            - {port: \"0\", protocol: TCP}\n"
			       "            - {port: \"70000\", protocol: TCP}\n"
			       "            - {port: \"80\", protocol: TCP}\n"
			       "          rules: {http: [{method: GET}]}\n");
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 5, "%s", diags_text());
	assert_diag("cnp.yaml", 9, 15,
		    "spec.egress[0].toPorts[0].ports[0] is UDP, but HTTP rules need TCP",
		    "expected protocol TCP with rules.http");
	assert_diag(
	    "cnp.yaml", 10, 15,
	    "spec.egress[0].toPorts[0].ports[1] is SCTP, but HTTP rules need TCP");
	assert_diag(
	    "cnp.yaml", 11, 15,
	    "spec.egress[0].toPorts[0].ports[2] names a port range, but HTTP rules "
	    "apply to one port",
	    "expected one port number or name with rules.http");
	assert_diag("cnp.yaml", 12, 15,
		    "spec.egress[0].toPorts[0].ports[3] names every port, but HTTP rules "
		    "apply to one port");
	assert_diag("cnp.yaml", 13, 22,
		    "spec.egress[0].toPorts[0].ports[4].port \"70000\" is not valid",
		    "from 0 to 65535");
	cr_assert_eq(model()->n_policies, 0);
}

Test(store_policy, rejects_what_edgewire_does_not_enforce)
{
	store_write(
	    "a.yaml",
	    CNP("a") "  endpointSelector: {}\n"
		     "  ingressDeny: [{fromEndpoints: [{}]}]\n"
		     "  ingress:\n"
		     "    - fromEntities: [world]\n"
		     "  egress:\n"
		     "    - toFQDNs: [{matchName: example.com}]\n"
		     "    - toServices: [{k8sService: {serviceName: x}}]\n"
		     "    - toCIDRSet: [{cidrGroupRef: corp, cidr: 10.0.0.0/8}]\n");
	store_write("b.yaml", CNP("b") "  nodeSelector: {}\n"
				       "  egressDeny: [{}]\n");
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 7, "%s", diags_text());
	assert_diag("a.yaml", 6, 3, "spec.ingressDeny: deny rules are not supported",
		    "allow rules only");
	assert_diag("a.yaml", 8, 7, "spec.ingress[0].fromEntities is not supported",
		    "fromEndpoints, fromCIDR, fromCIDRSet or toPorts");
	assert_diag("a.yaml", 10, 7, "spec.egress[0].toFQDNs is not supported",
		    "toEndpoints, toCIDR, toCIDRSet or toPorts");
	assert_diag("a.yaml", 11, 7, "spec.egress[1].toServices is not supported");
	assert_diag("a.yaml", 12, 20,
		    "spec.egress[2].toCIDRSet[0].cidrGroupRef is not supported");
	assert_diag("b.yaml", 5, 3, "spec.nodeSelector: host policies are not supported",
		    "endpointSelector");
	assert_diag("b.yaml", 6, 3, "spec.egressDeny: deny rules are not supported");
}

Test(store_policy, rejects_cilium_selectors_edgewire_cannot_evaluate)
{
	store_write(
	    "cnp.yaml",
	    CNP("web") "  endpointSelector:\n"
		       "    matchLabels: {k8s:io.kubernetes.pod.namespace: other}\n"
		       "  ingress:\n"
		       "    - fromEndpoints:\n"
		       "        - matchLabels: {reserved:host: \"\"}\n"
		       "        - matchLabels: {io.cilium.k8s.policy.serviceaccount: x}\n"
		       "        - matchExpressions: [{key: k8s:-a, operator: Exists}]\n"
		       "        - {app: web}\n");
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 5, "%s", diags_text());
	assert_diag("cnp.yaml", 6, 19,
		    "label key \"k8s:io.kubernetes.pod.namespace\" in "
		    "spec.endpointSelector.matchLabels selects namespaces",
		    "pods of its own namespace", "pod labels only");
	assert_diag("cnp.yaml", 9, 25,
		    "label key \"reserved:host\" in spec.ingress[0].fromEndpoints[0]."
		    "matchLabels has the source reserved",
		    "k8s: or any:");
	assert_diag("cnp.yaml", 10, 25,
		    "label key \"io.cilium.k8s.policy.serviceaccount\"", "not supported",
		    "a pod label");
	assert_diag(
	    "cnp.yaml", 11, 36,
	    "label key \"-a\" in spec.ingress[0].fromEndpoints[2].matchExpressions[0]."
	    "key is not valid");
	assert_diag(
	    "cnp.yaml", 12, 12,
	    "spec.ingress[0].fromEndpoints[3].app is not a field of a label selector");
}

Test(store_policy, rejects_cilium_rules_cilium_rejects)
{
	store_write("cnp.yaml",
		    CNP("web") "  ingress:\n"
			       "    - fromEndpoints: [{}]\n"
			       "      fromCIDR: [10.0.0.0/8]\n"
			       "    - fromEndpoints: []\n"
			       "    - toPorts: [{ports: [{protocol: TCP}]}]\n"
			       "    - toPorts: [{ports: []}]\n"
			       "    - toPorts:\n"
			       "        - ports:\n"
			       "            - {port: \"80\", protocol: ICMP}\n"
			       "            - {port: \"80\", endPort: 79}\n"
			       "            - {port: \"0\", endPort: 90}\n"
			       "            - {port: \"70000\"}\n"
			       "    - fromCIDRSet: [{cidr: 10.0.0.0/16, except: "
			       "[10.1.0.0/24]}]\n");
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 10, "%s", diags_text());
	assert_diag("cnp.yaml", 5, 3, "spec.endpointSelector is missing",
		    "a label selector, {} for every pod of the namespace");
	assert_diag(
	    "cnp.yaml", 7, 17,
	    "spec.ingress[0]: fromCIDR together with fromEndpoints is not supported",
	    "one of fromEndpoints, fromCIDR or fromCIDRSet per rule");
	assert_diag("cnp.yaml", 8, 22, "spec.ingress[1].fromEndpoints is empty",
		    "at least one selector");
	assert_diag("cnp.yaml", 9, 26,
		    "spec.ingress[2].toPorts[0].ports[0].port is missing",
		    "0 (every port) to 65535");
	assert_diag("cnp.yaml", 10, 25, "spec.ingress[3].toPorts[0].ports is empty",
		    "at least one port");
	assert_diag("cnp.yaml", 13, 38,
		    "spec.ingress[4].toPorts[0].ports[0].protocol \"ICMP\"",
		    "TCP, UDP, SCTP or ANY");
	assert_diag("cnp.yaml", 14, 37,
		    "spec.ingress[4].toPorts[0].ports[1].endPort 79 is below port 80");
	assert_diag("cnp.yaml", 15, 36,
		    "spec.ingress[4].toPorts[0].ports[2].endPort is set, but "
		    "spec.ingress[4].toPorts[0].ports[2].port is 0 (every port)");
	assert_diag("cnp.yaml", 16, 22,
		    "spec.ingress[4].toPorts[0].ports[3].port \"70000\" is not valid",
		    "from 0 to 65535");
	assert_diag("cnp.yaml", 17, 50,
		    "spec.ingress[5].fromCIDRSet[0].except[0] 10.1.0.0/24 is not inside "
		    "cidr 10.0.0.0/16");
}

Test(store_policy, a_cilium_policy_needs_a_spec_and_names_the_spec_at_fault)
{
	store_write("a.yaml", "{apiVersion: cilium.io/v2, kind: CiliumNetworkPolicy, "
			      "metadata: {name: a}}\n");
	store_write("b.yaml", "apiVersion: cilium.io/v2\n"
			      "kind: CiliumNetworkPolicy\n"
			      "metadata: {name: b}\n"
			      "specs:\n"
			      "  - endpointSelector: {}\n"
			      "  - endpointSelector: {}\n"
			      "    egress: [{toCIDR: [300.0.0.0/8]}]\n");
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 2, "%s", diags_text());
	assert_diag("a.yaml", 1, 1, "CiliumNetworkPolicy default/a", "spec is missing",
		    "endpointSelector, or specs");
	assert_diag("b.yaml", 7, 24, "CiliumNetworkPolicy default/b",
		    "specs[1].egress[0].toCIDR[0] \"300.0.0.0/8\" is not an IPv4 CIDR");
}

/* --- which objects are read ----------------------------------------------------------
 */

Test(store_policy, reads_policies_in_lists_and_only_their_api_versions)
{
	store_write(
	    "list.yaml",
	    "apiVersion: v1\n"
	    "kind: List\n"
	    "items:\n"
	    "  - {apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, "
	    "metadata: {name: a}, spec: {podSelector: {}}}\n"
	    "  - {apiVersion: cilium.io/v2, kind: CiliumNetworkPolicy, "
	    "metadata: {name: a}, spec: {endpointSelector: {}}}\n"
	    "  - {apiVersion: extensions/v1beta1, kind: NetworkPolicy, "
	    "metadata: {name: b}}\n"
	    "  - {apiVersion: cilium.io/v2alpha1, kind: CiliumNetworkPolicy, "
	    "metadata: {name: b}}\n"
	    "  - {apiVersion: cilium.io/v2, kind: CiliumClusterwideNetworkPolicy, "
	    "metadata: {name: b}}\n");
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	cr_assert_eq(model()->n_policies, 2);
	cr_assert_eq(model()->policies[0].kind, EW_POLICY_KUBERNETES);
	cr_assert_eq(model()->policies[0].origin.line, 4);
	cr_assert_eq(model()->policies[0].origin.col, 5);
	cr_assert_eq(model()->policies[1].kind, EW_POLICY_CILIUM);
}

/* --- conflicts between objects --------------------------------------------------------
 */

Test(store_policy, a_second_policy_of_a_kind_and_name_is_blamed)
{
	store_write("a.yaml",
		    NETPOL("web") "  podSelector: {}\n"
				  "---\n" CNP("web") "  endpointSelector: {}\n");
	store_write("b.yaml", CNP("web") "  endpointSelector: {}\n"
					 "---\n" NETPOL("web") "  podSelector: {}\n");
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 2, "%s", diags_text());
	assert_diag("b.yaml", 1, 1, "CiliumNetworkPolicy shop/web is defined twice",
		    "first at a.yaml:7:1");
	assert_diag("b.yaml", 7, 1, "NetworkPolicy shop/web is defined twice",
		    "first at a.yaml:1:1");
	cr_assert_eq(model()->n_policies, 2, "one of each kind, from a.yaml");
	cr_assert_str_eq(model()->policies[0].origin.file, "a.yaml");
	cr_assert_str_eq(model()->policies[1].origin.file, "a.yaml");
}

Test(store_policy, a_policy_with_several_specs_is_blamed_once)
{
	store_write("a.yaml", CNP("web") "  endpointSelector: {}\n");
	store_write("b.yaml",
		    "apiVersion: cilium.io/v2\n"
		    "kind: CiliumNetworkPolicy\n"
		    "metadata: {name: web, namespace: shop}\n"
		    "specs: [{endpointSelector: {}}, {endpointSelector: {}}]\n");
	cr_assert_eq(store_load(), -1);
	assert_only_diag("b.yaml", 1, 1, "CiliumNetworkPolicy shop/web is defined twice",
			 "first at a.yaml:1:1");
	cr_assert_eq(model()->n_policies, 1);
}

/* --- last good state ------------------------------------------------------------------
 */

Test(store_policy, a_bad_edit_keeps_the_last_good_policy)
{
	store_write("np.yaml", NETPOL("web") "  podSelector: {}\n"
					     "  ingress: [{ports: [{port: 80}]}]\n");
	cr_assert_eq(store_load(), 0, "%s", diags_text());

	store_write("np.yaml",
		    NETPOL("web") "  podSelector: {}\n"
				  "  ingress: [{ports: [{port: 80, endPort: 79}]}]\n");
	cr_assert_eq(store_load(), -1);
	assert_only_diag("np.yaml", 6, 42, "NetworkPolicy shop/web",
			 "spec.ingress[0].ports[0].endPort 79 is below port 80");
	cr_assert_eq(model()->n_policies, 1, "the last good version stays enforced");
	cr_assert_eq(netpol("web")->ingress[0].ports[0].port, 80);
	cr_assert_eq(netpol("web")->ingress[0].ports[0].end_port, 0);

	store_write("np.yaml",
		    NETPOL("web") "  podSelector: {}\n"
				  "  ingress: [{ports: [{port: 80, endPort: 89}]}]\n");
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	cr_assert_eq(netpol("web")->ingress[0].ports[0].end_port, 89);

	store_write("np.yaml",
		    CNP("web") "  endpointSelector: {}\n"
			       "  ingress: [{toPorts: [{ports: [{port: \"80\"}], "
			       "rules: {kafka: [{}]}}]}]\n");
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(model()->n_policies, 1);
	cr_assert_eq(
	    model()->policies[0].kind, EW_POLICY_KUBERNETES,
	    "an L7 rule edgewire rejects does not replace the last good version");

	store_remove("np.yaml");
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	cr_assert_eq(model()->n_policies, 0);
}
