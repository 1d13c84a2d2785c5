// SPDX-License-Identifier: Apache-2.0
#include "agent.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <edgewire/abi.h>

#include "cniconf.h"
#include "compile.h"
#include "log.h"

int ew_agent_init(struct ew_agent *a, const struct ew_agent_config *cfg)
{
	*a = (struct ew_agent){ .node = cfg->node, .cni_conf = cfg->cni_conf,
				.socket = cfg->socket };
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
	ew_attachments_free(&a->attachments);
	ew_store_free(a->store);
}

void ew_agent_load_store(struct ew_agent *a)
{
	struct ew_diags diags = { 0 };
	const struct ew_node *node;
	char line[4096];

	ew_store_load(a->store, &diags);
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
	else if (a->cni_conf)
		ew_cniconf_write(a->cni_conf, a->socket, node->pod_cidr,
				 node->pod_prefixlen);
}

static uint32_t node_ip(const struct ew_agent *a)
{
	const struct ew_node *n = ew_model_node(ew_store_model(a->store), a->node);

	return n ? n->internal_ip : 0;
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

static double ms_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1e3 + (now.tv_nsec - start->tv_nsec) / 1e6;
}

int ew_agent_reconcile(struct ew_agent *a)
{
	const struct ew_model *m = ew_store_model(a->store);
	struct ew_apply_result res;
	struct ew_desired d;
	struct timespec start;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &start);
	ew_datapath_resolve(&a->attachments);
	forget_vanished(a);
	ew_desired_init(&d);
	err = ew_compile(m, a->node, &a->attachments, &d);
	if (!err)
		err = ew_datapath_apply(a->dp, &d, node_ip(a), &res);
	if (!err || res.upserts || res.deletes)
		ew_info("agent", "programmed %zu endpoints, %zu routes: %zu written, "
			"%zu deleted, %zu failed in %.1f ms", d.endpoints.n,
			d.routes.n, res.upserts, res.deletes, res.failures,
			ms_since(&start));
	ew_desired_free(&d);
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
