/* SPDX-License-Identifier: Apache-2.0 */
/*
 * edgewire-cni: the CNI 1.0.0 plugin that wires a pod into the node's
 * network namespace with a veth pair and hands the host side to the agent.
 *
 * Every step returns 0 or -1; on -1 it has filled a struct cni_error with
 * the CNI error code and a message saying what was wrong and what was
 * expected. main() prints that error as the spec's error JSON.
 */
#ifndef EW_CNI_H
#define EW_CNI_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define CNI_SPEC_VERSION "1.0.0"

extern const char *const cni_supported_versions[];
extern const size_t cni_supported_versions_count;

/* Codes 1-99 are the spec's; 100 and up are ours; 999 is libcni's "internal". */
enum cni_code {
	CNI_ERR_INCOMPATIBLE_VERSION = 1,
	CNI_ERR_UNKNOWN_CONTAINER = 3,
	CNI_ERR_INVALID_ENV = 4,
	CNI_ERR_IO = 5,
	CNI_ERR_DECODE = 6,
	CNI_ERR_INVALID_CONFIG = 7,
	CNI_ERR_TRY_AGAIN_LATER = 11,
	CNI_ERR_CHECK_FAILED = 100,
	CNI_ERR_INTERNAL = 999,
};

struct cni_error {
	int code; /* 0 while nothing failed */
	char msg[1024];
	char details[1024]; /* only from a delegated IPAM plugin's error */
};

/* Records the error and returns -1, so callers can `return cni_fail(...)`. */
__attribute__((format(printf, 3, 4))) int cni_fail(struct cni_error *err, int code,
						   const char *fmt, ...);

/* A line on stderr, which runtimes log: for failures that do not fail the command. */
__attribute__((format(printf, 1, 2))) void cni_warn(const char *fmt, ...);

/* The network config from stdin; the strings point into root. */
struct cni_conf {
	char *raw; /* stdin as read: the IPAM plugin gets exactly these bytes */
	size_t raw_len;
	json_t *root;
	const char *version; /* set only once known to be supported */
	const char *agent_socket;
	int mtu; /* 0: leave the kernel's default */
	const char *ipam_type;
	json_t *prev_result; /* NULL when absent */
};

enum cni_command {
	CNI_CMD_ADD,
	CNI_CMD_DEL,
	CNI_CMD_CHECK,
	CNI_CMD_VERSION,
};

/* The CNI_* environment; the strings point into environ. */
struct cni_env {
	enum cni_command command;
	const char *container_id;
	const char *netns; /* may be NULL for DEL */
	const char *ifname;
	const char *path;
	char pod_namespace[254];
	char pod_name[254];
};

int env_read_command(struct cni_env *env, struct cni_error *err);
int env_read(struct cni_env *env, struct cni_error *err);
int conf_read(struct cni_conf *conf, struct cni_error *err);
bool conf_version_before_0_4(const struct cni_conf *conf);
void conf_free(struct cni_conf *conf);

/* The pod's IPv4 configuration as IPAM (or CHECK's prevResult) states it. */
struct ip_config {
	char address[INET_ADDRSTRLEN + 3]; /* with IPAM's prefix: 10.244.1.10/24 */
	struct in_addr ip;
	struct in_addr gateway;
};

int ip_config_parse(json_t *result, const char *source, struct ip_config *ip,
		    struct cni_error *err);
int ipam_add(const struct cni_conf *conf, const struct cni_env *env, struct ip_config *ip,
	     struct cni_error *err);
int ipam_del(const struct cni_conf *conf, const struct cni_env *env,
	     struct cni_error *err);
int ipam_check(const struct cni_conf *conf, const struct cni_env *env,
	       struct cni_error *err);

/* A link as reported back in the CNI result. */
struct link_info {
	char name[IFNAMSIZ];
	int ifindex;
	char mac[18];
};

struct nl_sock;

void host_ifname_for_pod(const char *pod_namespace, const char *pod_name,
			 char name[IFNAMSIZ]);
int netns_open(const char *path, int *fd, struct cni_error *err);
struct nl_sock *rtnl_open_in(int ns_fd, struct cni_error *err);
void rtnl_close(struct nl_sock *sock);
int veth_create(struct nl_sock *node, const char *host_ifname, const char *pod_ifname,
		int pod_ns_fd, int mtu, struct cni_error *err);
int veth_delete(struct nl_sock *node, const char *host_ifname, struct cni_error *err);
int link_bring_up(struct nl_sock *sock, const char *name, struct link_info *info,
		  struct cni_error *err);
int link_lookup(struct nl_sock *sock, const char *name, struct link_info *info,
		bool *found, struct cni_error *err);
int ipv6_disable_in(int ns_fd, const char *ifname, struct cni_error *err);
int addr_add_host(struct nl_sock *sock, const struct link_info *link, struct in_addr ip,
		  struct cni_error *err);
int addr_lookup(struct nl_sock *sock, const struct link_info *link, struct in_addr ip,
		bool *found, struct cni_error *err);
int route_add_host(struct nl_sock *sock, const struct link_info *link, struct in_addr dst,
		   struct cni_error *err);
int route_add_default(struct nl_sock *sock, const struct link_info *link,
		      struct in_addr gateway, struct cni_error *err);

int agent_ping(const char *socket_path, struct cni_error *err);
int agent_add(const char *socket_path, const struct cni_env *env, const char *host_ifname,
	      struct in_addr ip, const char *mac, struct cni_error *err);
int agent_del(const char *socket_path, const struct cni_env *env, struct cni_error *err);
int agent_check(const char *socket_path, const struct cni_env *env,
		struct cni_error *err);

#endif /* EW_CNI_H */
