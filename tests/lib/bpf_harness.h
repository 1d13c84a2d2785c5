/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Runs the real datapath objects on test packets: the generated skeletons are
 * opened with every pin path cleared (a test never touches /sys/fs/bpf),
 * loaded, their maps filled through the ABI structs, and a program run once
 * per packet with BPF_PROG_TEST_RUN. One struct bh is one node: bpf_lxc
 * (from_container, to_container), bpf_overlay (from_underlay) and bpf_xdp
 * (from_netdev) share their maps, as their pins do in production, so a
 * packet can walk them all. Counters are read by summing all CPUs, so a test compares snapshots
 * taken before and after a run.
 *
 * Plain helpers only (no criterion): unit tests link this file too. Every
 * function returns 0 or a negative errno and says on stderr what failed.
 */
#ifndef EW_TEST_BPF_HARNESS_H
#define EW_TEST_BPF_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <edgewire/abi.h>

#include "pkt.h"

struct bpf_lxc;
struct bpf_overlay;
struct bpf_xdp;

struct bh {
	struct bpf_lxc *skel;
	struct bpf_overlay *overlay; /* loaded with skel's maps */
	struct bpf_xdp *xdp;	     /* loaded with skel's maps */
	int prog_fd;		     /* from_container */
	int to_container_prog_fd;    /* to_container */
	int underlay_prog_fd;	     /* from_underlay */
	int netdev_prog_fd;	     /* from_netdev */
	int endpoints_fd;
	int routes_fd;
	int metrics_fd;
	int nodes_fd;
	int config_fd;
	int lb_frontends_fd;
	int lb_backends_fd;
	int lb_maglev_fd;
	int lb_affinity_fd;
	int ct_fd;
	int ipcache_fd;
	int policy_fd;
	int verdicts_fd;
	int events_fd;
};

/* The programs a test can run. */
enum bh_prog {
	BH_FROM_CONTAINER, /* bpf_lxc: TC ingress of a pod's host veth */
	BH_FROM_UNDERLAY,  /* bpf_overlay: TC ingress of the underlay */
	BH_FROM_NETDEV,	   /* bpf_xdp: XDP of the underlay */
	BH_TO_CONTAINER,   /* bpf_lxc: TC egress of a pod's host veth */
};

struct bh_opts {
	bool redirect_peer_unavailable; /* rodata, set before load */
};

/* The verdict and the packet as the program left it. */
struct bh_result {
	int retval;		      /* the program's return code (TC_ACT_*, XDP_*) */
	uint8_t data[PKT_MAX_LEN + 256]; /* room for a program that grows it */
	uint32_t len;
};

/* All counters, summed over CPUs, indexed by ew_metrics_index(). */
struct bh_counters {
	struct ew_metrics m[EW_METRICS_SIZE];
};

/* True when the process may load BPF programs (root, or CAP_BPF and
 * CAP_NET_ADMIN). */
bool bh_privileged(void);

int bh_open(struct bh *h, const struct bh_opts *opts);
void bh_close(struct bh *h);

int bh_add_endpoint(struct bh *h, uint32_t ip, uint32_t ifindex,
		    const uint8_t mac[6], const uint8_t node_mac[6]);
/* An endpoint with its security identity and enum ew_endpoint_flags (its
 * isolation); bh_add_endpoint() adds one of identity 0, not isolated. */
int bh_add_endpoint_identity(struct bh *h, uint32_t ip, uint32_t ifindex,
			     const uint8_t mac[6], const uint8_t node_mac[6],
			     uint32_t identity, uint32_t flags);
int bh_add_route(struct bh *h, uint32_t addr, uint32_t prefixlen,
		 uint32_t node_ip, uint32_t flags);
/* A route with the inner destination MAC of the owning node's VTEP. */
int bh_add_route_vtep(struct bh *h, uint32_t addr, uint32_t prefixlen,
		      uint32_t node_ip, uint32_t flags, const uint8_t vtep_mac[6]);
/* A node VXLAN is accepted from. */
int bh_add_node(struct bh *h, uint32_t ip);
/* Writes the one ew_config entry as it is. */
int bh_set_config(struct bh *h, const struct ew_config *cfg);

/*
 * Services, through the ABI structs. Addresses are in network byte order and
 * ports in host byte order, as pkt.h takes them; the harness stores both as
 * the ABI does (network byte order). Entries that take an ABI struct
 * (conntrack, affinity) take it as the datapath sees it.
 */
int bh_add_backend(struct bh *h, uint32_t id, uint32_t addr, uint16_t port,
		   uint8_t flags);
int bh_del_backend(struct bh *h, uint32_t id);
/* A frontend addr:port/proto served by Maglev table table_id of table_size
 * slots (0: no backend); flags and affinity_timeout as struct ew_lb_frontend. */
int bh_add_frontend(struct bh *h, uint32_t addr, uint16_t port, uint8_t proto,
		    uint32_t table_id, uint32_t table_size, uint16_t flags,
		    uint32_t affinity_timeout);
/* A Maglev table: a new inner array of size slots (BPF_F_INNER_MAP), slot i
 * naming backend_ids[i], inserted into ew_lb_maglev as table_id (replacing
 * the table of that id, if any). */
int bh_add_table(struct bh *h, uint32_t table_id, const uint32_t *backend_ids,
		 uint32_t size);

/*
 * Network policy, through the ABI structs: addr in network byte order, port
 * in host byte order. An ipcache entry gives addr/prefixlen its identity and
 * its cidr_identity; a policy entry is the ew_policy key of prefixlen bits
 * (EW_POLICY_PREFIX_FULL: one port; 80: any port of proto; 72: any
 * protocol) naming the agent's rule number.
 */
int bh_add_ipcache(struct bh *h, uint32_t addr, uint32_t prefixlen, uint32_t identity,
		   uint32_t cidr_identity);
int bh_add_policy(struct bh *h, uint32_t subject, uint32_t peer, uint8_t dir,
		  uint8_t proto, uint16_t port, uint32_t prefixlen, uint32_t rule);
/* bh_add_policy() of an entry with flags (enum ew_policy_flags). */
int bh_add_policy_flags(struct bh *h, uint32_t subject, uint32_t peer, uint8_t dir,
			uint8_t proto, uint16_t port, uint32_t prefixlen, uint32_t rule,
			uint32_t flags);
/* ew_verdicts' count of verdict (enum ew_verdict) in dir, over every CPU;
 * a negative errno when it cannot be read. */
int64_t bh_verdicts(struct bh *h, uint32_t verdict, uint32_t dir);
int bh_del_policy(struct bh *h, uint32_t subject, uint32_t peer, uint8_t dir,
		  uint8_t proto, uint16_t port, uint32_t prefixlen);

/* The conntrack entry of key: 0, -ENOENT or another negative errno. */
int bh_ct_lookup(struct bh *h, const struct ew_ct_key *key, struct ew_ct_entry *entry);
/* Conntrack entries of type (enum ew_ct_type; 0: all), or a negative errno. */
int bh_ct_count(struct bh *h, uint8_t type);
/* Writes or removes one conntrack entry, as the datapath would have. */
int bh_ct_update(struct bh *h, const struct ew_ct_key *key, const struct ew_ct_entry *entry);
int bh_ct_delete(struct bh *h, const struct ew_ct_key *key);

/* The affinity entry of key: 0, -ENOENT or another negative errno. */
int bh_affinity_lookup(struct bh *h, const struct ew_lb_affinity_key *key,
		       struct ew_lb_affinity *val);
int bh_affinity_update(struct bh *h, const struct ew_lb_affinity_key *key,
		       const struct ew_lb_affinity *val);

/* Runs prog once on data: a TC program with skb->ifindex = ifindex, an XDP
 * program with ingress_ifindex = ifindex (1 is the loopback device; a TC
 * program needs no lookup for it, and every namespace has it). */
int bh_run_prog(struct bh *h, enum bh_prog prog, const void *data, size_t len,
		uint32_t ifindex, struct bh_result *res);

/* The skb fields of a run beyond its data (see struct __sk_buff). For
 * BH_FROM_NETDEV only ifindex counts (ingress_ifindex); the GSO fields must be 0. */
struct bh_skb {
	uint32_t ifindex;
	uint32_t gso_size; /* not 0: a GSO skb, of no gso_type (test runs set none) */
	uint32_t gso_segs;
};

int bh_run_skb(struct bh *h, enum bh_prog prog, const void *data, size_t len,
	       const struct bh_skb *skb, struct bh_result *res);

/* Runs from_container once. */
static inline int bh_run(struct bh *h, const void *data, size_t len,
			 uint32_t ifindex, struct bh_result *res)
{
	return bh_run_prog(h, BH_FROM_CONTAINER, data, len, ifindex, res);
}

static inline int bh_run_pkt(struct bh *h, const struct pkt *p,
			     uint32_t ifindex, struct bh_result *res)
{
	return bh_run(h, p->data, p->len, ifindex, res);
}

/* Runs from_underlay once. */
static inline int bh_run_underlay_pkt(struct bh *h, const struct pkt *p,
				      uint32_t ifindex, struct bh_result *res)
{
	return bh_run_prog(h, BH_FROM_UNDERLAY, p->data, p->len, ifindex, res);
}

/* Runs from_netdev once, as received on ifindex. */
static inline int bh_run_netdev_pkt(struct bh *h, const struct pkt *p,
				    uint32_t ifindex, struct bh_result *res)
{
	return bh_run_prog(h, BH_FROM_NETDEV, p->data, p->len, ifindex, res);
}

int bh_counters_read(struct bh *h, struct bh_counters *c);

/* Reads the events ew_events holds and no earlier call read, in order, as
 * bpfctl monitor does: up to max into ev, the rest consumed too. Returns how
 * many there were, or a negative errno. */
int bh_events_read(struct bh *h, struct ew_event *ev, size_t max);

/* after - before for one reason and direction. */
static inline struct ew_metrics bh_counters_delta(const struct bh_counters *before,
						  const struct bh_counters *after,
						  uint32_t reason, uint32_t dir)
{
	uint32_t i = ew_metrics_index(reason, dir);

	return (struct ew_metrics){
		.packets = after->m[i].packets - before->m[i].packets,
		.bytes = after->m[i].bytes - before->m[i].bytes,
	};
}

/*
 * The real receive path, for what BPF_PROG_TEST_RUN cannot show: frames it
 * refuses (since Linux 6.18.x an IPv4 ethertype with fewer than 20 bytes of
 * L3 is -EINVAL before the program runs) and where a redirect really goes.
 *
 * bh_wire_open() moves the calling process into a new network namespace, the
 * node's, for good (criterion runs every test in a process of its own), and
 * creates BH_WIRE_PODS veth pairs: "ewh<i>" on the node, from_container on
 * its TC ingress, and "ewp<i>" in a second namespace, the pods', with a
 * packet socket on it, so bpf_redirect_peer() works as in production. IPv6 is
 * off in both namespaces so the kernel sends nothing of its own.
 */
#define BH_WIRE_PODS 2

struct bh_wire {
	int host_ns;			 /* the node's namespace (the process's) */
	int pods_ns;			 /* where the pod ends live */
	int host_ifindex[BH_WIRE_PODS]; /* ewh<i>, in host_ns */
	int pod_ifindex[BH_WIRE_PODS];	 /* ewp<i>, in pods_ns */
	int sock[BH_WIRE_PODS];		 /* AF_PACKET on ewp<i> */
};

int bh_wire_open(struct bh *h, struct bh_wire *w);
void bh_wire_close(struct bh_wire *w);

/* Sends data out of pod end `pod` (so it enters host veth `pod`) and waits up
 * to a second for the program to count it (any egress counter moving). */
int bh_wire_send(struct bh *h, struct bh_wire *w, int pod, const void *data,
		 size_t len);

/* Sends a finished Ethernet/IPv4/TCP frame out of pod end `pod` as one GSO
 * skb of mss-byte segments, the way a pod's TCP stack hands a large segment
 * to its veth (the TCP checksum left to offload), and waits like
 * bh_wire_send(). */
int bh_wire_send_tcp_gso(struct bh *h, struct bh_wire *w, int pod, const void *data,
			 size_t len, uint16_t mss);

/* Receives the next frame arriving at pod end `pod` within timeout_ms.
 * Returns its length, 0 on timeout or a negative errno. */
int bh_wire_recv(struct bh_wire *w, int pod, void *buf, size_t size,
		 int timeout_ms);

/*
 * The underlay, for VXLAN on the wire (after bh_wire_open): veth "ewu0" in
 * the node's namespace, holding node_ip/24, with from_underlay on its TC
 * ingress, and "ewu1" in a third namespace, the other node's, holding
 * peer_ip/24, with a packet socket on it. The kernels resolve each other's
 * MACs by ARP, so bpf_redirect_neigh() to ewu0 works as in production.
 */
#define BH_UNDERLAY_PREFIXLEN 24

struct bh_underlay {
	int peer_ns;	     /* the other node's namespace */
	int ifindex;	     /* ewu0, in the node's namespace */
	int peer_ifindex;    /* ewu1, in peer_ns */
	uint8_t mac[6];	     /* ewu0's */
	uint8_t peer_mac[6]; /* ewu1's */
	int sock;	     /* AF_PACKET on ewu1 */
};

int bh_underlay_open(struct bh *h, struct bh_wire *w, struct bh_underlay *u,
		     uint32_t node_ip, uint32_t peer_ip);
void bh_underlay_close(struct bh_underlay *u);

/* Turns checksum and segmentation offload of ewu0 off: the kernel then
 * segments a GSO packet in software before it leaves, as for a NIC without
 * VXLAN offload, and every checksum is final on the wire. */
int bh_underlay_no_offload(struct bh_underlay *u);

/* Sends data out of ewu1 (so it enters ewu0) and waits up to a second for
 * the program to count it (any counter moving). */
int bh_underlay_send(struct bh *h, struct bh_underlay *u, const void *data, size_t len);

/* Receives the next frame arriving at ewu1 within timeout_ms, ARP (the
 * kernels' neighbour resolution) skipped. Returns its length, 0 on timeout
 * or a negative errno. */
int bh_underlay_recv(struct bh_underlay *u, void *buf, size_t size, int timeout_ms);

/* Name of a TC_ACT_* verdict, for messages. */
const char *bh_verdict_name(int retval);
/* Name of an XDP_* verdict. */
const char *bh_xdp_verdict_name(int retval);
/* Name of prog's verdict retval: TC_ACT_* or XDP_*. */
const char *bh_prog_verdict_name(enum bh_prog prog, int retval);
/* Short name of a reason ("spoofed-source"), or "reason-<n>". */
const char *bh_reason_name(uint32_t reason);

#endif /* EW_TEST_BPF_HARNESS_H */
