/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The edgewire ABI: every map key and value, limit and counter index shared by
 * the BPF datapath, the agent and the tools. Nothing else defines them.
 *
 * Addresses and ports are stored in network byte order, as they appear on the
 * wire, so the datapath never converts them.
 */
#ifndef EDGEWIRE_ABI_H
#define EDGEWIRE_ABI_H

#include <linux/types.h>
#include "reasons.h"

/* Bumped whenever a map layout below changes; bpfctl refuses to read pins of
 * another version rather than misinterpret them. */
#define EW_ABI_VERSION 4

/* Map names: also the pin file names under the bpffs root (<root>/maps/). */
#define EW_MAP_ENDPOINTS "ew_endpoints"
#define EW_MAP_ROUTES	 "ew_routes"
#define EW_MAP_METRICS	 "ew_metrics"
#define EW_MAP_NODES	 "ew_nodes"
#define EW_MAP_CONFIG	 "ew_config"
#define EW_MAP_EVENTS	 "ew_events"
#define EW_MAP_EVENT_STATS "ew_event_stats"
#define EW_MAP_LB_FRONTENDS "ew_lb_frontends"
#define EW_MAP_LB_BACKENDS "ew_lb_backends"
#define EW_MAP_LB_TABLES   "ew_lb_tables"
#define EW_MAP_LB_MAGLEV   "ew_lb_maglev"
#define EW_MAP_LB_AFFINITY "ew_lb_affinity"
#define EW_MAP_CT	   "ew_ct"
#define EW_MAP_IPCACHE	   "ew_ipcache"
#define EW_MAP_POLICY	   "ew_policy"
#define EW_MAP_IDENTITIES  "ew_identities"
#define EW_MAP_POLICY_RULES "ew_policy_rules"
#define EW_MAP_VERDICTS	   "ew_verdicts"
#define EW_MAP_HTTP_STATS  "ew_http_stats"
#define EW_MAP_ENDPOINT_NAMES "ew_endpoint_names"

#define EW_MAX_ENDPOINTS 4096
#define EW_MAX_ROUTES	 1024
#define EW_MAX_NODES	 1024

/* Services. A frontend is an address, port and protocol a service answers on
 * (its ClusterIP, or this node's InternalIP for a NodePort); a backend is a
 * pod address and port. */
#define EW_MAX_FRONTENDS 65536
#define EW_MAX_BACKENDS	 65536
#define EW_MAX_TABLES	 16384
#define EW_MAX_AFFINITY	 16384 /* clients of ClientIP-affinity services, LRU */
#define EW_CT_SIZE	 65536
#define EW_MAX_IPCACHE	 65536
#define EW_MAX_POLICY	 262144
#define EW_MAX_IDENTITIES 65536 /* each is some ew_ipcache entry's */
#define EW_MAX_POLICY_RULES 65536
#define EW_MAX_HTTP_STATS 4096 /* (rule, verdict, direction) of L7 rules */

/* Maglev lookup tables: a prime number of slots, each naming a backend.
 * Every backend owns M/N slots within one, so M/N >= 100 keeps shares within
 * 1%; the default suits services of up to 10 backends at 4 KiB a table. */
#define EW_MAGLEV_SIZE_DEFAULT 1021
#define EW_MAGLEV_SIZE_MAX     65521

/* A table is an array of chunks (ew_lb_maglev's inner maps): slot s is
 * ids[s % EW_MAGLEV_CHUNK] of chunk s / EW_MAGLEV_CHUNK. An array keeps each
 * value in 8 bytes at least, so a 4-byte id per element would double the
 * memory, and the kernel copies a batch element by element. */
#define EW_MAGLEV_CHUNK 16
#define EW_MAGLEV_CHUNKS(size) (((size) + EW_MAGLEV_CHUNK - 1) / EW_MAGLEV_CHUNK)

struct ew_maglev_chunk {
	__u32 ids[EW_MAGLEV_CHUNK]; /* backend ids, 0: none */
};

/* sessionAffinity: ClientIP without timeoutSeconds (Kubernetes: 3 hours). */
#define EW_AFFINITY_TIMEOUT_DEFAULT 10800

/* The source a pod sees when it reaches itself through a service: it would
 * drop a packet carrying its own address (hairpin). Link-local, as Cilium's. */
#define EW_HAIRPIN_ADDR 0xa9fe2a01 /* 169.254.42.1, host byte order */

/* NodePort connections translated to this node's address take source ports
 * from this range (host byte order), outside Linux's default ephemeral one. */
#define EW_SNAT_PORT_MIN 61000
#define EW_SNAT_PORT_MAX 65535

/* Events: a ring buffer the datapath writes and bpfctl monitor reads. Each
 * CPU may emit EW_EVENT_BURST events at once and EW_EVENT_RATE a second on
 * average; the rest are counted as suppressed, so a flood cannot stall a CPU
 * or drown the reader. */
#define EW_EVENTS_RING_SIZE (256 * 1024)
#define EW_EVENT_RATE	    1000
#define EW_EVENT_BURST	    100

/* VXLAN (RFC 7348) between nodes: outer IPv4 + UDP + VXLAN + inner Ethernet. */
#define EW_VXLAN_PORT_DEFAULT 4789
#define EW_VXLAN_VNI_DEFAULT  1
#define EW_VXLAN_OVERHEAD     (20 + 8 + 8 + 14)

/* ew_endpoints: a pod on this node, by its IPv4 address. */
struct ew_endpoint_key {
	__u32 ip;
};

enum ew_endpoint_flags {
	/* A NetworkPolicy selects the pod for this direction: only what
	 * ew_policy allows passes, and replies of what it allowed. */
	EW_EP_INGRESS_ISOLATED = 1 << 0,
	EW_EP_EGRESS_ISOLATED = 1 << 1,
	/* The agent could not program the pod's policy: nothing passes. */
	EW_EP_POLICY_FAILED = 1 << 2,
	/* Some ew_policy entry of the pod's, for this direction, is L7: the
	 * pod's connections may have been handed to the proxy, so packets
	 * between it and its peers may be for one of the proxy's sockets. */
	EW_EP_INGRESS_L7 = 1 << 3,
	EW_EP_EGRESS_L7 = 1 << 4,
};

struct ew_endpoint {
	__u32 ifindex;	     /* host-side veth, in the node's namespace */
	__u8 mac[6];	     /* the pod's eth0 */
	__u8 node_mac[6];    /* host-side veth: the pod's gateway MAC */
	__u32 flags;	     /* enum ew_endpoint_flags */
	__u32 identity;	     /* the pod's security identity: ew_policy's subject */
};

/* ew_routes: LPM trie from a pod CIDR to the node that owns it. */
struct ew_route_key {
	__u32 prefixlen; /* LPM trie header: bits of addr that count */
	__u32 addr;
};

enum ew_route_flags {
	EW_ROUTE_LOCAL = 1 << 0,   /* this node's pod CIDR: unknown addresses drop */
	EW_ROUTE_CLUSTER = 1 << 1, /* the cluster CIDR: no node owns the address */
};

struct ew_route {
	__u32 node_ip;	    /* the owning node's InternalIP; 0 for the cluster */
	__u32 flags;	    /* enum ew_route_flags */
	__u8 vtep_mac[6];   /* inner destination MAC the node's VTEP accepts */
	__u16 pad;
};

/* ew_nodes: every node's InternalIP; VXLAN is accepted from these only. */
struct ew_node_key {
	__u32 ip;
};

struct ew_node_info {
	__u32 flags; /* reserved, 0 */
};

/* ew_lb_frontends: where a service answers. Keys are exact: a NodePort has
 * one frontend per address of this node it is reachable on. */
struct ew_lb_frontend_key {
	__u32 addr;
	__u16 port;
	__u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad;
};

enum ew_lb_flags {
	EW_LB_AFFINITY = 1 << 0, /* sessionAffinity: ClientIP */
	EW_LB_NODEPORT = 1 << 1, /* reachable from outside the cluster */
};

struct ew_lb_frontend {
	__u32 table_id;		/* ew_lb_maglev key; 0: no backend, drop */
	__u32 table_size;	/* slots in that table (prime) */
	__u32 affinity_timeout; /* seconds, with EW_LB_AFFINITY */
	__u16 flags;		/* enum ew_lb_flags */
	__u16 pad;
};

/* ew_lb_backends: backend id -> address. Ids are stable while the address
 * stays a backend, so conntrack entries and tables stay valid. */
struct ew_lb_backend_key {
	__u32 id;
};

enum ew_lb_backend_flags {
	/* Not in any table: new flows never go there, tracked ones finish. */
	EW_BACKEND_TERMINATING = 1 << 0,
};

struct ew_lb_backend {
	__u32 addr;
	__u16 port;
	__u8 flags; /* enum ew_lb_backend_flags */
	__u8 pad;
};

/* ew_lb_maglev: table id -> array of table_size backend ids, indexed by a
 * flow's hash modulo table_size. Tables are immutable: a changed backend set
 * gets a new table, and the frontends switch to it in one write each.
 * ew_lb_tables describes each for the agent and bpfctl; the datapath never
 * reads it. */
struct ew_lb_table_key {
	__u32 id;
};

struct ew_lb_table {
	__u64 digest;	   /* of the backend addresses, in table order */
	__u32 size;	   /* slots */
	__u32 n_backends;
};

/* ew_lb_affinity: LRU, a client's backend for a service port. */
struct ew_lb_affinity_key {
	__u32 client;
	__u32 addr; /* the frontend */
	__u16 port;
	__u8 proto;
	__u8 pad;
};

struct ew_lb_affinity {
	__u64 seen_ns; /* bpf_ktime_get_ns() of the last new connection */
	__u32 backend_id;
	__u32 pad;
};

/*
 * ew_ct: LRU connection tracking of service flows. Two entries per flow,
 * each keyed by a packet exactly as the datapath sees it before rewriting:
 *
 *   EW_CT_SERVICE  client -> frontend     (the client's packets: DNAT them)
 *   EW_CT_REPLY    backend -> client'     (the backend's replies: reverse NAT)
 *
 * client' is the client, or the address it was translated to (EW_CT_SNAT):
 * EW_HAIRPIN_ADDR for a pod reaching itself, this node's address for a
 * NodePort client sent to another node.
 */
enum ew_ct_type {
	EW_CT_SERVICE = 1,
	EW_CT_REPLY = 2,
	/* A connection policy allowed, keyed as its first packet: packets
	 * with this key or its reverse pass without another lookup. */
	EW_CT_POLICY = 3,
};

enum ew_ct_flags {
	EW_CT_SNAT = 1 << 0,	 /* the client's source was translated */
	EW_CT_NODEPORT = 1 << 1, /* the client is outside: replies leave by the underlay */
	EW_CT_PROXY = 1 << 2,	 /* POLICY: the connection's packets go to the L7 proxy */
	EW_CT_CLOSING = 1 << 3,	 /* POLICY, TCP: a FIN or RST passed: over soon */
};

struct ew_ct_key {
	__u32 saddr;
	__u32 daddr;
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 type; /* enum ew_ct_type */
	__u16 pad;
};

struct ew_ct_entry {
	__u64 created_ns;
	__u64 seen_ns;	   /* refreshed at most once a second */
	__u32 backend_id;  /* SERVICE: the backend the flow is pinned to */
	__u32 nat_addr;	   /* SERVICE: source written with SNAT; REPLY: source
			    * to restore (the frontend) */
	__u32 orig_addr;   /* REPLY with SNAT: destination to restore (the client) */
	__u16 nat_port;	   /* pairs with nat_addr */
	__u16 orig_port;   /* pairs with orig_addr */
	__u32 flags;	   /* enum ew_ct_flags */
	__u32 pad;
};

/*
 * Security identities: a number per set of labels (a pod's namespace and
 * labels) or per CIDR of a policy, valid on this node. Identities of pods
 * with the same labels are the same, so their policy is one set of entries.
 */
enum ew_identity_reserved {
	EW_IDENTITY_ANY = 0,	     /* in ew_policy keys: every peer */
	EW_IDENTITY_HOST = 1,	     /* this node (and hairpin), always allowed in */
	EW_IDENTITY_WORLD = 2,	     /* outside the cluster, in no policy CIDR */
	EW_IDENTITY_REMOTE_NODE = 3, /* another node's InternalIP */
	EW_IDENTITY_FIRST_POD = 256, /* pods' and CIDRs' identities start here */
};

/* ew_ipcache: LPM trie from an address to the identities it has. */
struct ew_ipcache_key {
	__u32 prefixlen;
	__u32 addr;
};

struct ew_ipcache {
	__u32 identity;	     /* the pod's, node's or CIDR's */
	/* The identity the address has as a CIDR member: of the longest
	 * policy CIDR holding it, or world. ipBlocks match pod addresses too,
	 * so a pod's /32 carries both. */
	__u32 cidr_identity;
};

/*
 * ew_policy: LPM trie of what isolated pods may send and receive. A key is
 * a prefix over subject, peer, dir, proto, port (in that order): subject,
 * peer and dir always count whole (72 bits); proto is whole or left out
 * (every protocol); port is a prefix (a port range is a few prefixes). A
 * packet is allowed when a lookup with the peer's identity, its
 * cidr_identity or EW_IDENTITY_ANY finds an entry: rules only allow, so the
 * most specific match needs no precedence over the others.
 */
#define EW_POLICY_PREFIX_FULL 96

struct ew_policy_key {
	__u32 prefixlen;
	__u32 subject;	/* the isolated pod's identity */
	__u32 peer;	/* the other side's identity, or EW_IDENTITY_ANY */
	__u8 dir;	/* enum ew_dir, the subject's: egress = sent */
	__u8 proto;	/* IPPROTO_TCP, UDP or SCTP */
	__u16 port;	/* the subject's for ingress, the peer's for egress */
};

enum ew_policy_flags {
	/* Allowed only through the L7 proxy, which checks each HTTP request.
	 * An entry without it that also matches (an L4 rule for the same
	 * peer and port) lifts the L7 check, as in Cilium. */
	EW_POLICY_L7 = 1 << 0,
};

struct ew_policy_entry {
	__u32 rule;	/* which rule allowed it, for bpfctl (agent's numbering) */
	__u32 flags;	/* enum ew_policy_flags */
};

/*
 * The L7 proxy (edgewire-proxy) in each node's network namespace. The
 * datapath hands it an L7-policed TCP connection with bpf_sk_assign() and
 * EW_MARK_TO_PROXY, which a policy route (EW_PROXY_ROUTE_TABLE) delivers
 * locally; the proxy reaches the server from the client's own address
 * (IP_TRANSPARENT) with EW_MARK_FROM_PROXY on its socket, which tells the
 * datapath the connection's requests were checked.
 */
#define EW_PROXY_CONFIG_DEFAULT "/run/edgewire/l7-policy.json" /* its HTTP rules */
#define EW_PROXY_ADDR	     0x7f000001 /* 127.0.0.1, host byte order */
#define EW_PROXY_PORT	     15080
#define EW_MARK_MASK	     0x00ff0000
#define EW_MARK_TO_PROXY     0x00e10000
#define EW_MARK_FROM_PROXY   0x00e20000
#define EW_PROXY_ROUTE_TABLE 231
#define EW_PROXY_RULE_PREF   90

/* ew_verdicts: per-CPU array indexed by ew_verdict_index(verdict, dir):
 * packets of isolated pods that policy judged (tracked ones are not). */
enum ew_verdict {
	EW_VERDICT_ALLOWED = 0,
	EW_VERDICT_PROXIED = 1, /* allowed, to the L7 proxy */
	EW_VERDICT_DENIED = 2,
	EW_VERDICT_MAX,
};

/* ew_http_stats: hash, HTTP requests the proxy judged, written by it. */
struct ew_http_stats_key {
	__u32 rule;	/* ew_policy_rules number of the rule that allowed it; 0 */
	__u8 reason;	/* EW_REASON_FORWARD (allowed), _DROP_POLICY_DENIED
			 * (answered 403), _DROP_MALFORMED (400, closed) */
	__u8 dir;	/* enum ew_dir of the policy that judged it */
	__u16 pad;
};

struct ew_http_stats {
	__u64 requests;
};

/*
 * ew_identities and ew_policy_rules: what identity and rule numbers stand
 * for, as text, written by the agent for bpfctl; the datapath never reads
 * them. Each number in ew_ipcache or ew_policy that the agent wrote has its
 * entry (reserved identities have none: tools name them). A text is
 * NUL-terminated; one that does not fit is cut and ends in "...".
 *
 *   identity  "<namespace> <key>=<value>,<key>=<value>" (labels by key;
 *             just "<namespace>" without labels), or "cidr:a.b.c.d/n"
 *   rule      "<kind> <namespace>/<name> ingress[i]" (or egress[i]); for a
 *             CiliumNetworkPolicy of several rules, "... rule k of n,
 *             egress[i]" (k counts spec, then specs, from 1)
 */
#define EW_IDENTITY_NAME_LEN 256
#define EW_RULE_NAME_LEN     256

struct ew_identity_key {
	__u32 identity;
};

struct ew_identity_name {
	char text[EW_IDENTITY_NAME_LEN];
};

struct ew_policy_rule_key {
	__u32 rule; /* ew_policy_entry.rule */
};

struct ew_policy_rule_name {
	char text[EW_RULE_NAME_LEN];
};

/*
 * ew_endpoint_names: which pod each ew_endpoints entry is, as text, written
 * by the agent with the endpoint, for bpfctl; the datapath never reads it.
 * Keyed by struct ew_endpoint_key; the text is "<namespace>/<name>",
 * NUL-terminated and zero after its end. A namespace (63 characters at most)
 * and a pod name (253) always fit.
 */
#define EW_ENDPOINT_NAME_LEN 320

struct ew_endpoint_name {
	char text[EW_ENDPOINT_NAME_LEN];
};

/* ew_metrics: per-CPU array indexed by ew_metrics_index(reason, dir). */
enum ew_dir {
	EW_DIR_EGRESS = 0,  /* leaving a pod */
	EW_DIR_INGRESS = 1, /* entering a pod */
	EW_DIR_MAX,
};

struct ew_metrics {
	__u64 packets;
	__u64 bytes;
};

#define EW_METRICS_SIZE (EW_REASON_MAX * EW_DIR_MAX)

static inline __u32 ew_metrics_index(__u32 reason, __u32 dir)
{
	return reason * EW_DIR_MAX + dir;
}

#define EW_VERDICTS_SIZE (EW_VERDICT_MAX * EW_DIR_MAX)

static inline __u32 ew_verdict_index(__u32 verdict, __u32 dir)
{
	return verdict * EW_DIR_MAX + dir;
}

/* ew_events: records in the ring buffer. */
enum ew_event_type {
	EW_EVENT_DROP = 1,
	/* A packet policy allowed that opened a connection (reason forward,
	 * or proxy when it went to the L7 proxy), with the rule. */
	EW_EVENT_POLICY = 2,
	/* An HTTP request the proxy judged: struct ew_http_event. */
	EW_EVENT_HTTP = 3,
};

struct ew_event {
	__u64 ts_ns;	 /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u8 type;	 /* enum ew_event_type */
	__u8 reason;	 /* enum ew_reason */
	__u8 dir;	 /* enum ew_dir */
	__u8 protocol;	 /* IP protocol; 0 when the packet is not IPv4 */
	__u32 ifindex;	 /* interface the packet came in on */
	__u32 saddr;	 /* IPv4 addresses and L4 ports as on the wire; */
	__u32 daddr;	 /* 0 where the packet has none or is truncated */
	__u16 sport;
	__u16 dport;
	__u32 len;	 /* packet length */
	__u32 rule;	 /* POLICY, HTTP: ew_policy_rules number; 0: none known */
	__u32 pad;
};

/* An HTTP request line as the proxy saw it, cut to fit and NUL-terminated. */
#define EW_HTTP_METHOD_LEN 16
#define EW_HTTP_PATH_LEN   128

struct ew_http_event {
	struct ew_event ev; /* type HTTP; reason as in ew_http_stats_key;
			     * addresses and ports: client and server */
	__u16 status;	    /* what the client was answered: the server's
			     * status, or 403 or 400 from the proxy */
	__u16 pad[3];
	char method[EW_HTTP_METHOD_LEN];
	char path[EW_HTTP_PATH_LEN];
};

/* ew_event_stats: per-CPU array[1], what happened to events. */
struct ew_event_stats {
	__u64 emitted;
	__u64 suppressed; /* over the rate limit */
	__u64 lost;	  /* the ring buffer was full */
	__u64 tokens;	  /* rate limiter state: events that may still go */
	__u64 refill_ns;  /* rate limiter state: when tokens were last added */
};

/* ew_config: one entry, written by the agent; the datapath's node settings. */
struct ew_config {
	__u32 abi_version;
	__u32 node_ip;		 /* this node's InternalIP: outer source of VXLAN */
	__u32 underlay_ifindex;	 /* the interface that holds node_ip; 0: no overlay */
	__u32 vni;		 /* host byte order */
	__u16 vxlan_port;	 /* network byte order */
	__u8 vtep_mac[6];	 /* inner source MAC of VXLAN frames sent */
	__u64 programmed_ns;	 /* CLOCK_REALTIME of the last complete apply */
};

_Static_assert(sizeof(struct ew_endpoint_key) == 4, "ew_endpoint_key layout");
_Static_assert(sizeof(struct ew_endpoint) == 24, "ew_endpoint layout");
_Static_assert(sizeof(struct ew_route_key) == 8, "ew_route_key layout");
_Static_assert(sizeof(struct ew_route) == 16, "ew_route layout");
_Static_assert(sizeof(struct ew_node_key) == 4, "ew_node_key layout");
_Static_assert(sizeof(struct ew_node_info) == 4, "ew_node_info layout");
_Static_assert(sizeof(struct ew_metrics) == 16, "ew_metrics layout");
_Static_assert(sizeof(struct ew_config) == 32, "ew_config layout");
_Static_assert(sizeof(struct ew_event) == 40, "ew_event layout");
_Static_assert(sizeof(struct ew_http_event) == 192, "ew_http_event layout");
_Static_assert(sizeof(struct ew_http_stats_key) == 8, "ew_http_stats_key layout");
_Static_assert(sizeof(struct ew_http_stats) == 8, "ew_http_stats layout");
_Static_assert(sizeof(struct ew_event_stats) == 40, "ew_event_stats layout");
_Static_assert(sizeof(struct ew_lb_frontend_key) == 8, "ew_lb_frontend_key layout");
_Static_assert(sizeof(struct ew_lb_frontend) == 16, "ew_lb_frontend layout");
_Static_assert(sizeof(struct ew_lb_backend_key) == 4, "ew_lb_backend_key layout");
_Static_assert(sizeof(struct ew_lb_backend) == 8, "ew_lb_backend layout");
_Static_assert(sizeof(struct ew_lb_table_key) == 4, "ew_lb_table_key layout");
_Static_assert(sizeof(struct ew_lb_table) == 16, "ew_lb_table layout");
_Static_assert(sizeof(struct ew_lb_affinity_key) == 12, "ew_lb_affinity_key layout");
_Static_assert(sizeof(struct ew_lb_affinity) == 16, "ew_lb_affinity layout");
_Static_assert(sizeof(struct ew_maglev_chunk) == 64, "ew_maglev_chunk layout");
_Static_assert(sizeof(struct ew_ct_key) == 16, "ew_ct_key layout");
_Static_assert(sizeof(struct ew_ct_entry) == 40, "ew_ct_entry layout");
_Static_assert(sizeof(struct ew_ipcache_key) == 8, "ew_ipcache_key layout");
_Static_assert(sizeof(struct ew_ipcache) == 8, "ew_ipcache layout");
_Static_assert(sizeof(struct ew_policy_key) == 16, "ew_policy_key layout");
_Static_assert(sizeof(struct ew_policy_entry) == 8, "ew_policy_entry layout");
_Static_assert(sizeof(struct ew_identity_key) == 4, "ew_identity_key layout");
_Static_assert(sizeof(struct ew_identity_name) == 256, "ew_identity_name layout");
_Static_assert(sizeof(struct ew_policy_rule_key) == 4, "ew_policy_rule_key layout");
_Static_assert(sizeof(struct ew_policy_rule_name) == 256, "ew_policy_rule_name layout");
_Static_assert(sizeof(struct ew_endpoint_name) == 320, "ew_endpoint_name layout");

#endif /* EDGEWIRE_ABI_H */
