// SPDX-License-Identifier: Apache-2.0
/*
 * edgewire-cni: the CNI 1.0.0 plugin. See docs/cni.md.
 *
 * ADD:   ping agent -> open pod netns -> IPAM ADD -> veth (pod end created
 *        inside the pod) -> pod: lo, ifname up, no IPv6, ip/32, gateway/32
 *        and default via gateway -> node: host end up, route ip/32 ->
 *        agent add -> result. A failure after IPAM undoes what was done.
 * DEL:   agent del (best effort) -> delete the host veth -> IPAM DEL.
 * CHECK: pod interface and address, host veth, IPAM CHECK, agent check.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cni.h"

int cni_fail(struct cni_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	err->code = code;
	err->details[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

void cni_warn(const char *fmt, ...)
{
	va_list ap;

	fputs("edgewire-cni: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Prints out (consumed) as the command's answer on stdout. */
static int json_print(json_t *out, struct cni_error *err)
{
	int ret = -1;

	if (!out)
		cni_fail(err, CNI_ERR_INTERNAL, "out of memory building the answer");
	else if (json_dumpf(out, stdout, JSON_INDENT(4)) || fputc('\n', stdout) == EOF ||
		 fflush(stdout))
		cni_fail(err, CNI_ERR_IO, "cannot write to stdout: %s", strerror(errno));
	else
		ret = 0;
	json_decref(out);
	return ret;
}

static void error_print(const char *version, const struct cni_error *err)
{
	struct cni_error ignored; /* a failed write leaves nothing to report to */
	json_t *out;

	/* jansson refuses strings that are not UTF-8, e.g. echoed environment. */
	out = json_pack("{s:s, s:i, s:s}", "cniVersion", version, "code", err->code,
			"msg", err->msg);
	if (!out)
		out =
		    json_pack("{s:s, s:i, s:s}", "cniVersion", version, "code", err->code,
			      "msg", "(the error message is not valid UTF-8)");
	if (out && err->details[0])
		json_object_set_new(out, "details", json_string(err->details));
	json_print(out, &ignored);
}

static int cmd_version(struct cni_error *err)
{
	json_t *versions = json_array();
	size_t i;

	for (i = 0; i < cni_supported_versions_count; i++)
		json_array_append_new(versions, json_string(cni_supported_versions[i]));
	return json_print(json_pack("{s:s, s:o}", "cniVersion", CNI_SPEC_VERSION,
				    "supportedVersions", versions),
			  err);
}

/* What DEL removes, and a failed ADD removes as far as it got. */
struct teardown_steps {
	bool agent;
	bool veth;
	bool ip;
};

static void keep_first_error(struct cni_error *first, const struct cni_error *step)
{
	if (!first->code)
		*first = *step;
}

/*
 * Every step runs even after another failed; err gets the first failure.
 * The agent's answer never fails it: the agent forgets on its own an
 * attachment whose host interface is gone.
 */
static int teardown(const struct cni_conf *conf, const struct cni_env *env,
		    const char *host_ifname, struct teardown_steps steps,
		    struct cni_error *err)
{
	struct cni_error step = {0};
	struct nl_sock *node = NULL;

	if (steps.agent && agent_del(conf->agent_socket, env, &step))
		cni_warn("%s; going on, the agent drops the attachment once %s is gone",
			 step.msg, host_ifname);
	if (steps.veth &&
	    (!(node = rtnl_open_in(-1, &step)) || veth_delete(node, host_ifname, &step)))
		keep_first_error(err, &step);
	if (steps.ip && ipam_del(conf, env, &step))
		keep_first_error(err, &step);
	rtnl_close(node);
	return err->code ? -1 : 0;
}

/* What ADD made so far: a failed ADD undoes exactly this. */
struct attachment {
	char host_ifname[IFNAMSIZ];
	struct ip_config ip;
	struct link_info host;
	struct link_info pod;
	bool ip_reserved;
	bool veth_created;
	bool agent_told;
};

static void add_undo(const struct cni_conf *conf, const struct cni_env *env,
		     const struct attachment *att)
{
	struct teardown_steps steps = {att->agent_told, att->veth_created,
				       att->ip_reserved};
	struct cni_error err = {0};

	if (teardown(conf, env, att->host_ifname, steps, &err))
		cni_warn("undoing the failed ADD: %s", err.msg);
}

/* Everything leaves through the gateway, whose MAC the datapath answers ARP for. */
static int pod_side_configure(const struct cni_env *env, struct nl_sock *pod, int pod_ns,
			      struct attachment *att, struct cni_error *err)
{
	if (ipv6_disable_in(pod_ns, env->ifname, err) ||
	    link_bring_up(pod, "lo", NULL, err) ||
	    link_bring_up(pod, env->ifname, &att->pod, err) ||
	    addr_add_host(pod, &att->pod, att->ip.ip, err) ||
	    route_add_host(pod, &att->pod, att->ip.gateway, err) ||
	    route_add_default(pod, &att->pod, att->ip.gateway, err))
		return -1;
	return 0;
}

static int host_side_configure(struct nl_sock *node, struct attachment *att,
			       struct cni_error *err)
{
	if (link_bring_up(node, att->host_ifname, &att->host, err) ||
	    route_add_host(node, &att->host, att->ip.ip, err))
		return -1;
	return 0;
}

/* The host end comes first, so "interface": 1 in "ips" names the pod's end. */
static json_t *result_interfaces(const struct cni_env *env, const struct attachment *att)
{
	return json_pack("[{s:s, s:s}, {s:s, s:s, s:s}]", "name", att->host.name, "mac",
			 att->host.mac, "name", att->pod.name, "mac", att->pod.mac,
			 "sandbox", env->netns);
}

static json_t *result_ip(const struct cni_conf *conf, const struct attachment *att,
			 const char *gateway)
{
	json_t *ip = json_pack("{s:s, s:s, s:i}", "address", att->ip.address, "gateway",
			       gateway, "interface", 1);

	/* Results before 1.0.0 name each IP's family. */
	if (ip && strcmp(conf->version, CNI_SPEC_VERSION) != 0)
		json_object_set_new(ip, "version", json_string("4"));
	return ip;
}

static int result_print(const struct cni_conf *conf, const struct cni_env *env,
			const struct attachment *att, struct cni_error *err)
{
	char gateway[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &att->ip.gateway, gateway, sizeof(gateway));
	return json_print(json_pack("{s:s, s:o, s:[o], s:[{s:s, s:s}], s:{}}",
				    "cniVersion", conf->version, "interfaces",
				    result_interfaces(env, att), "ips",
				    result_ip(conf, att, gateway), "routes", "dst",
				    "0.0.0.0/0", "gw", gateway, "dns"),
			  err);
}

static int cmd_add(const struct cni_conf *conf, const struct cni_env *env,
		   struct cni_error *err)
{
	struct attachment att = {0};
	struct nl_sock *node = NULL, *pod = NULL;
	int pod_ns = -1, ret = -1;

	host_ifname_for_pod(env->pod_namespace, env->pod_name, att.host_ifname);
	/* What can fail without leaving anything behind comes before IPAM. */
	if (agent_ping(conf->agent_socket, err) || netns_open(env->netns, &pod_ns, err))
		goto cleanup;
	if (!(node = rtnl_open_in(-1, err)) || !(pod = rtnl_open_in(pod_ns, err)))
		goto cleanup;
	if (ipam_add(conf, env, &att.ip, err))
		goto cleanup;
	att.ip_reserved = true;
	if (veth_create(node, att.host_ifname, env->ifname, pod_ns, conf->mtu, err))
		goto cleanup;
	att.veth_created = true;
	if (pod_side_configure(env, pod, pod_ns, &att, err) ||
	    host_side_configure(node, &att, err))
		goto cleanup;
	/* Once sent, the agent may have programmed it, answer or not. */
	att.agent_told = true;
	if (agent_add(conf->agent_socket, env, att.host_ifname, att.ip.ip, att.pod.mac,
		      err) ||
	    result_print(conf, env, &att, err))
		goto cleanup;
	ret = 0;
cleanup:
	if (ret)
		add_undo(conf, env, &att);
	rtnl_close(pod);
	rtnl_close(node);
	if (pod_ns >= 0)
		close(pod_ns);
	return ret;
}

static int cmd_del(const struct cni_conf *conf, const struct cni_env *env,
		   struct cni_error *err)
{
	struct teardown_steps all = {true, true, true};
	char host_ifname[IFNAMSIZ];

	host_ifname_for_pod(env->pod_namespace, env->pod_name, host_ifname);
	return teardown(conf, env, host_ifname, all, err);
}

static int pod_iface_check(struct nl_sock *pod, const struct cni_env *env,
			   struct in_addr ip, struct cni_error *err)
{
	struct link_info link;
	bool found;

	if (link_lookup(pod, env->ifname, &link, &found, err))
		return -1;
	if (!found)
		return cni_fail(err, CNI_ERR_CHECK_FAILED,
				"interface %s is missing from the pod's network "
				"namespace %s; expected the veth end ADD created",
				env->ifname, env->netns);
	if (addr_lookup(pod, &link, ip, &found, err))
		return -1;
	if (!found)
		return cni_fail(err, CNI_ERR_CHECK_FAILED,
				"interface %s in %s lacks address %s/32; expected the "
				"address of prevResult",
				env->ifname, env->netns, inet_ntoa(ip));
	return 0;
}

static int host_iface_check(struct nl_sock *node, const struct cni_env *env,
			    const char *host_ifname, struct cni_error *err)
{
	struct link_info link;
	bool found;

	if (link_lookup(node, host_ifname, &link, &found, err))
		return -1;
	if (!found)
		return cni_fail(
		    err, CNI_ERR_CHECK_FAILED,
		    "host interface %s of pod %s/%s is missing from the node's network "
		    "namespace; expected the veth end ADD created",
		    host_ifname, env->pod_namespace, env->pod_name);
	return 0;
}

static int cmd_check(const struct cni_conf *conf, const struct cni_env *env,
		     struct cni_error *err)
{
	struct nl_sock *node = NULL, *pod = NULL;
	char host_ifname[IFNAMSIZ];
	int pod_ns = -1, ret = -1;
	struct ip_config ip;

	host_ifname_for_pod(env->pod_namespace, env->pod_name, host_ifname);
	if (conf_version_before_0_4(conf)) {
		cni_fail(err, CNI_ERR_INCOMPATIBLE_VERSION,
			 "CHECK is not defined for cniVersion %s; expected cniVersion "
			 "0.4.0 or later",
			 conf->version);
		goto cleanup;
	}
	if (!conf->prev_result) {
		cni_fail(err, CNI_ERR_INVALID_CONFIG,
			 "network config has no \"prevResult\"; expected CHECK to carry "
			 "the result of the ADD it verifies");
		goto cleanup;
	}
	if (ip_config_parse(conf->prev_result, "prevResult", &ip, err) ||
	    netns_open(env->netns, &pod_ns, err))
		goto cleanup;
	if (!(node = rtnl_open_in(-1, err)) || !(pod = rtnl_open_in(pod_ns, err)))
		goto cleanup;
	if (pod_iface_check(pod, env, ip.ip, err) ||
	    host_iface_check(node, env, host_ifname, err))
		goto cleanup;
	if (ipam_check(conf, env, err) || agent_check(conf->agent_socket, env, err))
		goto cleanup;
	ret = 0;
cleanup:
	rtnl_close(pod);
	rtnl_close(node);
	if (pod_ns >= 0)
		close(pod_ns);
	return ret;
}

static int command_run(const struct cni_conf *conf, const struct cni_env *env,
		       struct cni_error *err)
{
	switch (env->command) {
	case CNI_CMD_ADD:
		return cmd_add(conf, env, err);
	case CNI_CMD_DEL:
		return cmd_del(conf, env, err);
	case CNI_CMD_CHECK:
		return cmd_check(conf, env, err);
	default:
		return cmd_version(err);
	}
}

int main(void)
{
	struct cni_conf conf = {0};
	struct cni_env env = {0};
	struct cni_error err = {0};
	int ret = -1;

	/* A peer that went away is an error return, not a reason to die. */
	signal(SIGPIPE, SIG_IGN);
	if (env_read_command(&env, &err))
		goto cleanup;
	/* VERSION needs no config; the runtime's stdin for it is not read. */
	if (env.command != CNI_CMD_VERSION &&
	    (conf_read(&conf, &err) || env_read(&env, &err)))
		goto cleanup;
	ret = command_run(&conf, &env, &err);
cleanup:
	if (ret)
		error_print(conf.version ? conf.version : CNI_SPEC_VERSION, &err);
	conf_free(&conf);
	return ret ? 1 : 0;
}
