// SPDX-License-Identifier: Apache-2.0
#include "agent.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <edgewire/abi.h>

#include "cniconf.h"
#include "compile.h"
#include "fs.h"
#include "host_routes.h"
#include "log.h"
#include "netutil.h"

int ew_agent_init(struct ew_agent *a, const struct ew_agent_config *cfg)
{
	*a = (struct ew_agent){
		.node = cfg->node,
		.cni_conf = cfg->cni_conf,
		.socket = cfg->socket,
		.compile = { .node = cfg->node, .cluster_cidr = cfg->cluster_cidr,
			     .cluster_prefixlen = cfg->cluster_prefixlen },
		.vni = cfg->vni,
		.vxlan_port = cfg->vxlan_port,
		.maglev_size = cfg->maglev_size ?: EW_MAGLEV_SIZE_DEFAULT,
		.proxy_config = cfg->proxy_config,
		.nodeport_ifindex = -1,
	};
	a->store = ew_store_new(cfg->store_dir);
	if (!a->store)
		return -1;
	if (ew_attachments_load(&a->attachments, cfg->state_dir))
		return -1;
	a->dp = ew_datapath_open(cfg->bpffs, cfg->tc_attach);
	return a->dp ? 0 : -1;
}

void ew_agent_fini(struct ew_agent *a)
{
	ew_datapath_close(a->dp);
	free(a->proxy_config_written);
	ew_attachments_free(&a->attachments);
	ew_store_free(a->store);
}

void ew_agent_load_store(struct ew_agent *a)
{
	struct ew_diags diags = { 0 };
	const struct ew_node *node;
	char line[4096];

	ew_store_load(a->store, &diags);
	a->stats.store_loads++;
	for (size_t i = 0; i < diags.n; i++)
		ew_error("store", "%s", ew_diag_format(&diags.items[i], line, sizeof(line)));
	if (diags.n)
		ew_warn("store", "%zu problem(s); each file with a problem stays "
			"enforced as it was when it was last valid", diags.n);
	else if (a->store_errors)
		ew_info("store", "all problems resolved");
	a->store_errors = diags.n;
	ew_diags_clear(&diags);
	node = ew_model_node(ew_store_model(a->store), a->node);
	if (!node || !node->pod_cidr)
		ew_warn("store", "node %s has no spec.podCIDR in the store: pods "
			"cannot get addresses here", a->node);
}

/* Follows the interface holding the node's InternalIP; the overlay program
 * is attached whenever it changes. Says so once when there is none. */
static void refresh_underlay(struct ew_agent *a, uint32_t ip)
{
	struct ew_underlay u = { 0 };
	char addr[16];

	if (ip && ew_datapath_find_underlay(ip, &u))
		u = (struct ew_underlay){ 0 };
	if (u.ifindex && u.ifindex != a->underlay.ifindex &&
	    ew_datapath_attach_underlay(a->dp, &u))
		u.ifindex = 0;
	if (!u.ifindex && (a->underlay.ifindex || !a->ready))
		ew_warn("agent", "the node's InternalIP %s is on no interface here: "
			"pods cannot reach other nodes", ip ? ew_format_ipv4(ip, addr) :
			"(none in the store)");
	a->underlay = u;
}

/* The CNI config follows the pod CIDR and the underlay's MTU. */
static void write_cni_conf(const struct ew_agent *a, const struct ew_node *node)
{
	int mtu = a->underlay.ifindex ? a->underlay.mtu - EW_VXLAN_OVERHEAD : 0;

	if (a->cni_conf && node && node->pod_cidr)
		ew_cniconf_write(a->cni_conf, a->socket, node->pod_cidr,
				 node->pod_prefixlen, mtu);
}

static struct ew_config node_config(const struct ew_agent *a, uint32_t ip)
{
	struct ew_config cfg = {
		.node_ip = ip,
		.underlay_ifindex = a->underlay.ifindex,
		.vni = a->vni,
		.vxlan_port = htons(a->vxlan_port),
	};

	memcpy(cfg.vtep_mac, a->underlay.mac, sizeof(cfg.vtep_mac));
	return cfg;
}

/* Pods whose interface is gone were deleted while nobody told us. */
static void forget_vanished(struct ew_agent *a)
{
	for (size_t i = 0; i < a->attachments.n;) {
		struct ew_attachment *at = &a->attachments.items[i];

		if (at->ifindex) {
			i++;
			continue;
		}
		ew_info("agent", "pod %s/%s: interface %s is gone; forgetting it",
			at->namespace, at->name, at->ifname);
		ew_datapath_detach(a->dp, at->ifname);
		ew_attachments_remove(&a->attachments, at->namespace, at->name, NULL);
	}
}

/* Problems of single services and policies, logged when they change: a
 * reconcile runs on every store change and pod, and the same problem should
 * not flood the log. */
static void report_service_diags(struct ew_agent *a, const struct ew_diags *diags)
{
	uint64_t digest = 1469598103934665603ull;
	char line[4096];

	for (size_t i = 0; i < diags->n; i++)
		for (const char *c = ew_diag_format(&diags->items[i], line, sizeof(line));
		     *c; c++)
			digest = (digest ^ (uint8_t)*c) * 1099511628211ull;
	if (digest == a->service_diags_digest)
		return;
	a->service_diags_digest = digest;
	for (size_t i = 0; i < diags->n; i++)
		ew_error("services", "%s", ew_diag_format(&diags->items[i], line,
							  sizeof(line)));
	if (diags->n)
		ew_warn("services", "%zu problem(s); each affected service port keeps "
			"what the datapath had for it", diags->n);
}

/* The desired state of every map: policy first (endpoints take their
 * identity from it), then endpoints, routes, nodes and services. */
static int compile_all(struct ew_agent *a, const struct ew_model *m, uint32_t ip,
		       struct ew_desired *d)
{
	struct ew_services_config scfg = {
		.node = a->node, .node_ip = ip, .table_size = a->maglev_size,
	};
	struct ew_policy_config pcfg = { .node = a->node };
	struct ew_diags diags = { 0 };
	int err = ew_policy_compile(m, &pcfg, &d->policy, &diags) ||
		  ew_compile(m, &a->compile, &a->attachments, d) ||
		  ew_services_compile(m, &scfg, &d->lb, &diags);

	a->service_errors = diags.n;
	report_service_diags(a, &diags);
	ew_diags_clear(&diags);
	return err ? -1 : 0;
}

/* The proxy's HTTP rules, written before the maps that send it
 * connections, so it knows every rule of a connection it gets. */
static void write_proxy_config(struct ew_agent *a, const char *config)
{
	if (!a->proxy_config || !config ||
	    (a->proxy_config_written && !strcmp(a->proxy_config_written, config)))
		return;
	if (ew_write_file_atomic(a->proxy_config, config, strlen(config))) {
		ew_error("agent", "cannot write the L7 proxy's rules to %s: %s; it "
			 "denies the requests of rules it does not have", a->proxy_config,
			 strerror(errno));
		return;
	}
	free(a->proxy_config_written);
	a->proxy_config_written = strdup(config);
}

/* The node's routes to remote pods follow the remote nodes' routes. */
static void sync_host_routes(struct ew_agent *a, const struct ew_map_state *routes)
{
	int ifindex = a->underlay.ifindex;
	uint64_t digest = 1469598103934665603ull ^ (uint64_t)ifindex;
	size_t bytes = routes->n * (routes->key_size + routes->value_size);

	for (size_t i = 0; i < bytes; i++)
		digest = (digest ^ routes->entries[i]) * 1099511628211ull;
	if (digest == a->host_routes_digest)
		return;
	if (!ew_host_routes_sync(routes, ifindex, a->underlay.mtu - EW_VXLAN_OVERHEAD))
		a->host_routes_digest = digest;
}

static bool has_nodeport(const struct ew_lb_desired *lb)
{
	for (size_t i = 0; i < lb->n_frontends; i++)
		if (lb->frontends[i].value.flags & EW_LB_NODEPORT)
			return true;
	return false;
}

/* The NodePort program is on the underlay while some NodePort is; its
 * frontends are written before it comes and removed before it goes. */
static void sync_nodeport(struct ew_agent *a, const struct ew_lb_desired *lb)
{
	int want = a->underlay.ifindex && has_nodeport(lb) ? a->underlay.ifindex : 0;

	if (want == a->nodeport_ifindex)
		return;
	if (a->underlay.ifindex && !ew_datapath_nodeport(a->dp, &a->underlay, want))
		a->nodeport_ifindex = want;
}

static double ms_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1e3 + (now.tv_nsec - start->tv_nsec) / 1e6;
}

int ew_agent_reconcile(struct ew_agent *a)
{
	const struct ew_model *m = ew_store_model(a->store);
	const struct ew_node *node = ew_model_node(m, a->node);
	uint32_t ip = node ? node->internal_ip : 0;
	struct ew_apply_result res = { 0 };
	struct ew_desired d;
	struct timespec start;
	double ms;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &start);
	refresh_underlay(a, ip);
	write_cni_conf(a, node);
	ew_datapath_resolve(&a->attachments);
	forget_vanished(a);
	ew_desired_init(&d);
	err = compile_all(a, m, ip, &d);
	if (!err) {
		write_proxy_config(a, d.policy.proxy_config);
		err = ew_datapath_apply(a->dp, &d, node_config(a, ip), &res);
		sync_host_routes(a, &d.routes);
		sync_nodeport(a, &d.lb);
	}
	ms = ms_since(&start);
	if (!err || res.upserts || res.deletes)
		ew_info("agent", "programmed %zu endpoints, %zu routes, %zu nodes, "
			"%zu service frontends, %zu backends, %zu tables, %zu "
			"identities, %zu ipcache entries, %zu policy rules, %zu policy "
			"entries: %zu written, %zu deleted, %zu failed in %.1f ms",
			d.endpoints.n, d.routes.n, d.nodes.n, d.lb.n_frontends,
			d.lb.n_backends, d.lb.n_tables, d.policy.identities.n,
			d.policy.ipcache.n, d.policy.rules.n, d.policy.policy.n,
			res.upserts, res.deletes,
			res.failures, ms);
	ew_desired_free(&d);
	ew_histogram_observe(&a->stats.apply_seconds, ms / 1e3);
	if (!err)
		a->apply_error[0] = '\0';
	else if (res.failures)
		snprintf(a->apply_error, sizeof(a->apply_error),
			 "%zu map updates failed", res.failures);
	else
		snprintf(a->apply_error, sizeof(a->apply_error),
			 "the maps could not be read, or memory ran out");
	a->stats.apply_failures += err != 0;
	a->ready = a->ready || !err;
	return err;
}

/* Attaches the current program to every pod interface, replacing what an
 * earlier agent attached. Called once after start. */
static int attach_all(struct ew_agent *a)
{
	int err = 0;

	ew_datapath_resolve(&a->attachments);
	for (size_t i = 0; i < a->attachments.n; i++) {
		const struct ew_attachment *at = &a->attachments.items[i];

		if (at->ifindex && ew_datapath_attach(a->dp, at->ifname, at->ifindex))
			err = -1;
	}
	return err;
}

int ew_agent_add(struct ew_agent *a, const struct ew_attachment *req, char *err,
		 size_t len)
{
	struct ew_attachment at = *req;
	struct ew_attachments one = { .n = 1, .items = &at };

	ew_datapath_resolve(&one);
	if (!ew_model_pod(ew_store_model(a->store), at.namespace, at.name))
		ew_agent_load_store(a);
	if (ew_attachment_problem(ew_store_model(a->store), a->node, &at, err, len))
		return -1;
	if (ew_datapath_attach(a->dp, at.ifname, at.ifindex)) {
		snprintf(err, len, "cannot attach the datapath to %s; see the agent's log",
			 at.ifname);
		return -1;
	}
	if (ew_attachments_put(&a->attachments, &at)) {
		snprintf(err, len, "cannot record the attachment; see the agent's log");
		return -1;
	}
	if (ew_agent_reconcile(a) || ew_agent_check(a, at.namespace, at.name, err, len)) {
		if (!*err)
			snprintf(err, len, "the datapath was not fully programmed; see "
				 "the agent's log");
		return -1;
	}
	ew_info("agent", "pod %s/%s attached on %s", at.namespace, at.name, at.ifname);
	return 0;
}

int ew_agent_del(struct ew_agent *a, const char *ns, const char *name,
		 const char *container_id)
{
	struct ew_attachment *at = ew_attachments_find(&a->attachments, ns, name);

	if (!at || strcmp(at->container_id, container_id))
		return 0;
	ew_datapath_detach(a->dp, at->ifname);
	ew_attachments_remove(&a->attachments, ns, name, container_id);
	ew_info("agent", "pod %s/%s detached", ns, name);
	return ew_agent_reconcile(a);
}

int ew_agent_check(struct ew_agent *a, const char *ns, const char *name,
		   char *err, size_t len)
{
	struct ew_attachment *at = ew_attachments_find(&a->attachments, ns, name);
	struct ew_attachments one;

	*err = '\0';
	if (!at) {
		snprintf(err, len, "pod %s/%s is not attached on this node", ns, name);
		return -1;
	}
	one = (struct ew_attachments){ .n = 1, .items = at };
	ew_datapath_resolve(&one);
	if (ew_attachment_problem(ew_store_model(a->store), a->node, at, err, len))
		return -1;
	if (!ew_datapath_has_endpoint(a->dp, at->ip)) {
		snprintf(err, len, "pod %s/%s is not in the endpoint map", ns, name);
		return -1;
	}
	return 0;
}

int ew_agent_start(struct ew_agent *a)
{
	ew_agent_load_store(a);
	attach_all(a);
	return ew_agent_reconcile(a);
}
