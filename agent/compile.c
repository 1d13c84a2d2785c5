// SPDX-License-Identifier: Apache-2.0
#include "compile.h"

#include <stdio.h>
#include <string.h>

#include <edgewire/abi.h>

#include "log.h"
#include "netutil.h"

void ew_desired_init(struct ew_desired *d)
{
	ew_map_state_init(&d->endpoints, sizeof(struct ew_endpoint_key),
			  sizeof(struct ew_endpoint));
	ew_map_state_init(&d->endpoint_names, sizeof(struct ew_endpoint_key),
			  sizeof(struct ew_endpoint_name));
	ew_map_state_init(&d->routes, sizeof(struct ew_route_key),
			  sizeof(struct ew_route));
	ew_map_state_init(&d->nodes, sizeof(struct ew_node_key),
			  sizeof(struct ew_node_info));
	d->lb = (struct ew_lb_desired){ 0 };
	ew_policy_desired_init(&d->policy);
}

void ew_desired_free(struct ew_desired *d)
{
	ew_map_state_free(&d->endpoints);
	ew_map_state_free(&d->endpoint_names);
	ew_map_state_free(&d->routes);
	ew_map_state_free(&d->nodes);
	ew_lb_desired_free(&d->lb);
	ew_policy_desired_free(&d->policy);
}

const char *ew_attachment_problem(const struct ew_model *m, const char *node,
				  const struct ew_attachment *at, char *buf,
				  size_t len)
{
	const struct ew_pod *pod = ew_model_pod(m, at->namespace, at->name);
	char want[16], have[16];

	if (!pod)
		snprintf(buf, len, "pod %s/%s is not in the store", at->namespace,
			 at->name);
	else if (pod->host_network)
		snprintf(buf, len, "pod %s/%s uses the node's network "
			 "(spec.hostNetwork); it gets no interface of its own",
			 at->namespace, at->name);
	else if (!pod->node_name || strcmp(pod->node_name, node))
		snprintf(buf, len, "pod %s/%s is scheduled on %s, not on this node (%s)",
			 at->namespace, at->name,
			 pod->node_name ? pod->node_name : "no node", node);
	else if (pod->ip && pod->ip != at->ip)
		snprintf(buf, len, "pod %s/%s has status.podIP %s in the store but "
			 "its interface was given %s", at->namespace, at->name,
			 ew_format_ipv4(pod->ip, want), ew_format_ipv4(at->ip, have));
	else if (!at->ifindex)
		snprintf(buf, len, "interface %s of pod %s/%s does not exist",
			 at->ifname, at->namespace, at->name);
	else
		return NULL;
	return buf;
}

/* A pod policy compile did not see (no status.podIP in the store) has no
 * identity and no isolation: no policy can name it anyway. */
static void endpoint_policy(const struct ew_desired *d, uint32_t ip, struct ew_endpoint *ep)
{
	struct ew_pod_policy_key key = { .ip = ip };
	const struct ew_pod_policy *pp = d->policy.pods.key_size ?
					 ew_map_state_get(&d->policy.pods, &key) : NULL;

	if (pp) {
		ep->identity = pp->identity;
		ep->flags = pp->flags;
	}
}

/* Zero after its end: the agent diffs whole values with the map, and any
 * other bytes there would rewrite every name on every apply. */
static int put_endpoint_name(struct ew_desired *d, const struct ew_endpoint_key *key,
			     const struct ew_attachment *at)
{
	struct ew_endpoint_name name = { 0 };

	snprintf(name.text, sizeof(name.text), "%s/%s", at->namespace, at->name);
	return ew_map_state_put(&d->endpoint_names, key, &name);
}

static int compile_endpoints(const struct ew_model *m, const char *node,
			     const struct ew_attachments *a, struct ew_desired *d)
{
	char why[256];

	for (size_t i = 0; i < a->n; i++) {
		const struct ew_attachment *at = &a->items[i];
		struct ew_endpoint_key key = { .ip = at->ip };
		struct ew_endpoint ep = { .ifindex = at->ifindex };

		if (ew_attachment_problem(m, node, at, why, sizeof(why))) {
			ew_debug("compile", "not an endpoint: %s", why);
			continue;
		}
		memcpy(ep.mac, at->mac, sizeof(ep.mac));
		memcpy(ep.node_mac, at->node_mac, sizeof(ep.node_mac));
		endpoint_policy(d, at->ip, &ep);
		if (ew_map_state_put(&d->endpoints, &key, &ep) ||
		    put_endpoint_name(d, &key, at))
			return -1;
	}
	return ew_map_state_seal(&d->endpoints) || ew_map_state_seal(&d->endpoint_names);
}

/* Every node's pod CIDR leads to it; the cluster CIDR around them catches
 * addresses of nodes that are gone. A remote node without an InternalIP
 * cannot be reached, so its CIDR falls to the cluster route too. */
static int compile_routes(const struct ew_model *m, const struct ew_compile_config *cfg,
			  struct ew_desired *d)
{
	struct ew_route_key key = { .prefixlen = cfg->cluster_prefixlen,
				    .addr = cfg->cluster_cidr };
	struct ew_route route = { .flags = EW_ROUTE_CLUSTER };

	if (cfg->cluster_cidr && ew_map_state_put(&d->routes, &key, &route))
		return -1;
	for (size_t i = 0; i < m->n_nodes; i++) {
		const struct ew_node *n = &m->nodes[i];
		bool local = !strcmp(n->name, cfg->node);

		if (!n->pod_cidr || (!local && !n->internal_ip))
			continue;
		key = (struct ew_route_key){ .prefixlen = n->pod_prefixlen,
					     .addr = n->pod_cidr };
		route = (struct ew_route){ .flags = local ? EW_ROUTE_LOCAL : 0,
					   .node_ip = n->internal_ip };
		memcpy(route.vtep_mac, n->vtep_mac, sizeof(route.vtep_mac));
		if (ew_map_state_put(&d->routes, &key, &route))
			return -1;
	}
	return ew_map_state_seal(&d->routes);
}

/* The peers VXLAN is accepted from: every other node with an address. */
static int compile_nodes(const struct ew_model *m, const struct ew_compile_config *cfg,
			 struct ew_desired *d)
{
	for (size_t i = 0; i < m->n_nodes; i++) {
		const struct ew_node *n = &m->nodes[i];
		struct ew_node_key key = { .ip = n->internal_ip };
		struct ew_node_info info = { 0 };

		if (!n->internal_ip || !strcmp(n->name, cfg->node))
			continue;
		if (ew_map_state_put(&d->nodes, &key, &info))
			return -1;
	}
	return ew_map_state_seal(&d->nodes);
}

int ew_compile(const struct ew_model *m, const struct ew_compile_config *cfg,
	       const struct ew_attachments *a, struct ew_desired *d)
{
	if (compile_endpoints(m, cfg->node, a, d) || compile_routes(m, cfg, d) ||
	    compile_nodes(m, cfg, d))
		return -1;
	return 0;
}
