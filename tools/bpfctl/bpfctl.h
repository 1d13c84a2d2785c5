/* SPDX-License-Identifier: Apache-2.0 */
/* bpfctl: what its commands share. */
#ifndef BPFCTL_H
#define BPFCTL_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <edgewire/abi.h>

#define DEFAULT_BPFFS "/sys/fs/bpf/edgewire"
#define NSEC_PER_SEC  1000000000ULL
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define MONITOR_MAX_IPS 16

/* What bpfctl monitor shows; an empty filter lets everything through. */
_Static_assert(EW_REASON_MAX <= 64, "monitor_filter.reasons has a bit per reason");
struct monitor_filter {
	__u64 reasons;		    /* bit per reason code; 0: all */
	__u32 kinds;		    /* bit per enum ew_event_type; 0: all */
	__u32 verdicts;		    /* bit per enum verdict; 0: all */
	__u32 ips[MONITOR_MAX_IPS]; /* network byte order */
	int n_ips;
	int dir;		    /* enum ew_dir; -1: all */
	unsigned long count;	    /* 0: no limit */
	double timeout;		    /* seconds; 0: none */
};

/* Which conntrack entries bpfctl ct shows, counts or flushes. */
struct ct_filter {
	bool has_addr, has_service;
	__u32 addr;	 /* --addr, network byte order */
	int port;	 /* --port, host byte order; -1: all */
	__u32 fe_addr;	 /* --service, network byte order */
	__u16 fe_port;
};

struct ctl {
	const char *root;   /* --bpffs */
	const char *action; /* the command's second word: ct count, ct flush */
	bool json;
	bool all;	    /* stats: reasons that counted nothing too */
	bool tables;	    /* services: the Maglev tables instead */
	bool policy;	    /* stats: policy verdicts and HTTP requests instead */
	bool http;	    /* stats: HTTP requests by rule instead */
	bool yes;	    /* ct flush: no question */
	int proto;	    /* monitor, ct: IP protocol; -1: all */
	struct monitor_filter mon;
	struct ct_filter ct;
};

/* --- pins.c: the pinned maps ---------------------------------------------------- */

int open_pin(const struct ctl *c, const char *name, char path[PATH_MAX]);
/* A pinned map of this bpfctl's ABI, or -1 after saying why not. */
int open_map(const struct ctl *c, const char *name);
/* open_map() of a map that older pins lack: -1 quietly when not pinned. */
int open_optional_map(const struct ctl *c, const char *name);
int check_abi(const struct ctl *c);
/* Every key of a map, sorted with cmp (NULL: in the map's order); the
 * number of keys, or -1 after saying why. *keys is for free(). */
long map_keys(int fd, const char *name, size_t key_size,
	      int (*cmp)(const void *, const void *), void **keys);
/* map_keys() of open_map(name): the map stays open in *fd. */
long open_map_keys(const struct ctl *c, const char *name, size_t key_size,
		   int (*cmp)(const void *, const void *), int *fd, void **keys);
/* Every entry of a pinned map, keys sorted with cmp and values alongside;
 * the number of entries, or -1 after saying why. Both are for free(). */
long read_entries(const struct ctl *c, const char *name, size_t key_size,
		  size_t value_size, int (*cmp)(const void *, const void *), void **keys,
		  void **values);
/* Inner map of a map-in-map slot (-1 when empty), by its id. */
int inner_map_fd(int outer_fd, const void *key);

/* --- format.c: how addresses, times and sizes are written ----------------------- */

struct reason_info {
	unsigned int code;
	const char *name, *desc;
};
extern const struct reason_info reasons[];
extern const size_t n_reasons;

const char *reason_name(unsigned int code);

/* What became of a packet or an HTTP request, as monitor and stats say it;
 * the first three are ew_verdicts' (enum ew_verdict). */
enum verdict {
	VERDICT_ALLOWED = EW_VERDICT_ALLOWED,
	VERDICT_PROXIED = EW_VERDICT_PROXIED, /* allowed, through the L7 proxy */
	VERDICT_DENIED = EW_VERDICT_DENIED,   /* by policy */
	VERDICT_DROPPED,		      /* for another reason */
	VERDICT_MAX,
};

const char *verdict_name(enum verdict v);
int verdict_by_name(const char *name); /* -1: no such verdict */
/* Policy-denied, a fragment of an isolated pod, or its policy failed. */
bool reason_is_policy_drop(unsigned int reason);
/* forward and the like: allowed; proxy: proxied; a policy drop: denied;
 * any other drop: dropped. */
enum verdict reason_verdict(unsigned int reason);
const char *dir_name(unsigned int dir);
const char *proto_name(__u8 proto, char buf[8]);
char *ip_str(__u32 ip, char buf[16]);
char *mac_str(const __u8 *m, char buf[18]);
char *ip_port_str(__u32 ip, __u16 port, char buf[24]); /* port in network order */
json_t *ip_port_json(__u32 ip, __u16 port);		/* {"address", "port"} */
char *duration_str(__u64 ns, char buf[24]);		/* 45s, 2m5s, 3h12m, 2d4h */
char *bytes_str(unsigned long long n, char buf[24]);	/* 512 B, 12.0 KiB */
double percent(unsigned long long part, unsigned long long whole); /* 1 decimal */
int cmp_u32_net(__u32 a, __u32 b); /* orders addresses as numbers */
__u64 clock_ns(clockid_t clock);

void *xcalloc(size_t n, size_t size);
char *xstrdup(const char *s);
void die_oom(void) __attribute__((noreturn));

/* --- counters.c: drop event totals, for stats and monitor ----------------------- */

/* What happened to drop events, summed over CPUs. */
struct event_totals {
	__u64 emitted;
	__u64 suppressed;
	__u64 lost;
};

int read_event_totals(int fd, struct event_totals *t);

/* --- the commands -------------------------------------------------------------- */

int cmd_endpoints(const struct ctl *c);
int cmd_routes(const struct ctl *c);
int cmd_nodes(const struct ctl *c);
int cmd_stats(const struct ctl *c);
int cmd_reasons(const struct ctl *c);
int cmd_events(const struct ctl *c);
int cmd_monitor(const struct ctl *c);
/* enum ew_event_type of "drop", "policy" or "http"; -1: none of them. */
int event_kind_by_name(const char *name);
int cmd_services(const struct ctl *c);
int cmd_backends(const struct ctl *c);
int cmd_ct(const struct ctl *c);
int cmd_maps(const struct ctl *c);
int cmd_identities(const struct ctl *c);
int cmd_ipcache(const struct ctl *c);
int cmd_policy(const struct ctl *c);

/* --- policy.c: identities, for policy and monitor -------------------------------- */

struct identities {
	int ipcache_fd, names_fd; /* ew_ipcache, ew_identities */
};

int identities_open(const struct ctl *c, struct identities *ids);
void identities_close(struct identities *ids);
/* The identities of addr now, as the datapath looks them up. */
struct ew_ipcache identity_of_addr(const struct identities *ids, __u32 addr);
/* Its labels or CIDR ("shop app=web", "cidr:10.0.0.0/8"), a reserved name
 * ("reserved:world"), or "unknown (...)"; may be in buf. */
const char *identity_name(const struct identities *ids, __u32 id,
			  struct ew_identity_name *buf);

/* The name of rule (ew_policy_rules, open in rules_fd), or "unknown (...)";
 * may be in buf. */
const char *rule_name(int rules_fd, __u32 rule, struct ew_policy_rule_name *buf);

/* --- pods.c: pods by name, and their policy state --------------------------------- */

#define POLICY_STATE_LEN 32

/* The pod's "namespace/name" (ew_endpoint_names, open in names_fd), in buf;
 * NULL when it has none or names_fd is -1. */
const char *pod_name(int names_fd, __u32 ip, struct ew_endpoint_name *buf);
/* The address of the pod called name: 0, 1 when none is, or -1 after
 * saying why the names cannot be read. */
int pod_by_name(const struct ctl *c, const char *name, __u32 *ip);
bool pod_isolated(const struct ew_endpoint *ep, enum ew_dir dir);
/* "ingress+l7,egress", "egress", "failed"; "-": not isolated. */
char *policy_state_str(const struct ew_endpoint *ep, char buf[POLICY_STATE_LEN]);
/* {"isolated": bool, "l7": bool} */
json_t *policy_direction_json(const struct ew_endpoint *ep, enum ew_dir dir);

/* --- services.c: the backends, for services and ct ------------------------------- */

struct lb_backends {
	long n;
	struct ew_lb_backend_key *ids; /* ascending */
	struct ew_lb_backend *be;
};

int lb_backends_read(const struct ctl *c, struct lb_backends *b);
const struct ew_lb_backend *lb_backend_by_id(const struct lb_backends *b, __u32 id);
/* The backend at addr:port (network order); its id, 0 when none. */
__u32 lb_backend_at(const struct lb_backends *b, __u32 addr, __u16 port);
void lb_backends_free(struct lb_backends *b);

#endif /* BPFCTL_H */
