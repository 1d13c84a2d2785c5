// SPDX-License-Identifier: Apache-2.0
/*
 * ew-bench-pkt: what one packet costs a datapath program, as a ratio to a
 * trivial TC program (bpf_trivial.c, returns TC_ACT_OK) measured the same way
 * in the same run.
 *
 * BPF_PROG_TEST_RUN with repeat=N runs a program N times over one buffer. A
 * program that rewrites the packet would meet its own output from the second
 * run on: from_container decrements the TTL and swaps both MACs (and, for a
 * service, rewrites the destination), so every later run would take another
 * path (a spoofed-source drop) and be measured instead. So each run here is
 * its own BPF_PROG_TEST_RUN with repeat=1 on a fresh copy of the input, every
 * verdict is checked, and the loop is timed two ways:
 *
 *   kernel_ns  the kernel's timing of the program run (opts.duration), summed
 *   wall_ns    the whole syscall: copying the packet in, building the skb
 *
 * The cases:
 *
 *   trivial           bpf_trivial.c
 *   pod_forward       from_container, pod to pod on this node
 *   svc_est_N         from_container, a pod to a ClusterIP whose flow has its
 *                     conntrack SERVICE entry: DNAT to a backend on this node
 *   svc_new_N         the same, each run a new flow: its own source port (and,
 *                     past 64512 flows, its own client pod), so the conntrack
 *                     lookup misses and the flow is balanced and tracked
 *   pol_est_N         from_container, pod to pod on this node, the receiver
 *                     isolated for ingress by N rules that do not match the
 *                     flow and one that allows it; the flow is tracked
 *                     (EW_CT_POLICY), so its packets pass on that entry
 *   pol_new_N         the same, each run a new flow (as svc_new_N): no
 *                     tracked entry, so the receiver's ingress policy is
 *                     looked up (ipcache, then ew_policy) and the flow tracked
 *   encap             from_container, pod to a pod on another node: the
 *                     segment leaves in VXLAN to that node (bpf_redirect_neigh
 *                     to the underlay), 50 bytes longer
 *   decap             from_underlay (bpf_overlay.c), the same segment in
 *                     VXLAN from a known node to a pod of this one: the inner
 *                     frame is redirected to the pod, 50 bytes shorter
 *
 * with N services present (--services), each a ClusterIP frontend with a
 * Maglev table of EW_MAGLEV_SIZE_DEFAULT slots over 3 backends, written
 * through the ABI, or N + 1 policy entries (--rules) as the agent writes one
 * per peer and port of a rule (agent/policy.c): a third of the other rules
 * allow the receiver other peers (each a CIDR identity with its /32 in the
 * ipcache), a third the sender other ports, a third are other subjects'
 * (other pods of this node) for the sender and port. Every case has a node
 * (struct bh, its own maps) of its
 * own, so one case's conntrack entries never meet another's. A new flow's
 * packet is changed in place before its run (addresses, port, checksums:
 * a few ns of wall time, none of kernel time); the conntrack table, an LRU
 * of EW_CT_SIZE entries, is full after EW_CT_SIZE / 2 new flows, so most new
 * flows are timed with an eviction, as on a busy node.
 *
 * Rounds alternate between the cases, so a noisy moment on this shared
 * machine falls on all of them. Checked: the first run of each case byte for
 * byte; every verdict and every run's output length (the kernel reports it
 * without copying the packet back); each node's forward (or, for encap,
 * encap) counter grew by exactly its runs;
 * the established flow's entry was never created again (its created_ns is
 * that of the first run); each new-flow round's last flow was created in
 * that round.
 *
 * Output: one JSON object on stdout, per-round figures for each case.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/pkt_cls.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <edgewire/maglev_table.h>

#include "bpf_harness.h"
#include "bpf_trivial.skel.h"
#include "maglev.h"
#include "overlay_nodes.h"
#include "pkt.h"

#define DEFAULT_ITERATIONS 200000
#define DEFAULT_ROUNDS	   5
#define DEFAULT_SERVICES   "10,1000,10000"
#define MAX_ROUNDS	   100
#define DEFAULT_RULES	   "10,10000"
#define MAX_SCALES	   4
#define MAX_CASES	   (4 + 4 * MAX_SCALES)
#define MAX_SERVICES	   (EW_MAX_TABLES - 1)
#define MAX_RULES	   (EW_MAX_POLICY / 2)
#define IF_HERE		   1 /* skb->ifindex of every run: the client's host veth (lo) */
#define IF_B		   42

/* The node as the maps describe it (the same as tests/bpf/test_lxc.c). */
static const uint8_t MAC_A[ETH_ALEN] = { 0x02, 0x00, 0x00, 0x00, 0x01, 0x0a };
static const uint8_t GW_A[ETH_ALEN] = { 0xee, 0xee, 0xee, 0x00, 0x00, 0x01 };
static const uint8_t MAC_B[ETH_ALEN] = { 0x02, 0x00, 0x00, 0x00, 0x01, 0x14 };
static const uint8_t GW_B[ETH_ALEN] = { 0xee, 0xee, 0xee, 0x00, 0x00, 0x02 };
#define IP_A ip4(10, 0, 1, 10)
#define IP_B ip4(10, 0, 1, 20)

/* The overlay (tests/lib/overlay_nodes.h): this node NODE1 with pods
 * 10.0.1.0/24, node 2 with pods 10.0.2.0/24 and pod C. The underlay is
 * ifindex IF_HERE (lo), so bpf_redirect_neigh() returns TC_ACT_REDIRECT
 * under BPF_PROG_TEST_RUN. */
#define IP_C	     ip4(10, 0, 2, 5)
#define VXLAN_SPORT  50000 /* outer source port of the VXLAN node 2 sends */
#define OUTER_UDP    (ETH_HLEN + 20)

/* A full-size TCP segment, as bulk traffic between pods carries. */
#define PAYLOAD_LEN 1448

/* Services: the measured one is service 0; every service has BACKENDS
 * backends, service 0's on this node (pods 10.0.1.20-22, ifindex 42-44),
 * the others' elsewhere (never reached). */
#define BACKENDS      3
#define SVC_PORT      80
#define BACKEND_PORT  8080
#define CLIENT_PORT   40000
#define svc_addr(s)   htonl(0x0a600000u + 1 + (s)) /* 10.96.0.1, ... */
#define far_backend(i) htonl(0x0a010000u + (i))	   /* 10.1.0.0, ... */
#define local_backend(j) ip4(10, 0, 1, (uint8_t)(20 + (j)))

/* New flows: source ports from FLOW_PORT_MIN, then the next client pod. */
#define FLOW_PORT_MIN 1024
#define FLOW_PORTS    (65536 - FLOW_PORT_MIN)
#define client_addr(k) htonl(0x0a000000u | 16u << 8 | (k)) /* 10.0.16.0 + k */

/* Policy: pod A (and the new flows' client pods) has identity ID_CLIENT,
 * pod B identity ID_SERVER and is isolated for ingress; the allowed flow is
 * A to B's POLICY_PORT/TCP. The other rules' peers are CIDR identities
 * from ID_PEER_FIRST (addresses 10.200.0.0 + k), their subjects identities
 * from ID_SUBJECT_FIRST; their ports are from OTHER_PORT_MIN. */
#define ID_CLIENT	 300
#define ID_SERVER	 301
#define ID_PEER_FIRST	 100000
#define ID_SUBJECT_FIRST 200000
#define POLICY_PORT	 5201
#define OTHER_PORT_MIN	 10000
#define peer_addr(k)	 htonl(0x0ac80000u + (uint32_t)(k)) /* 10.200.0.0, ... */
#define RULE_ALLOW	 1 /* ew_policy_entry.rule of the allowing entry */

enum flow { FLOW_NONE, FLOW_ESTABLISHED, FLOW_NEW };
enum subject { SUBJECT_NONE, SUBJECT_SERVICE, SUBJECT_POLICY, SUBJECT_OVERLAY };

struct bench_case {
	const char *name;
	const char *program;
	int prog_fd;
	struct bh *h;	    /* the node the case runs on; NULL: the trivial program */
	struct pkt in;	    /* what the next run gets */
	struct pkt want;    /* the packet after the first run; its length, every run's */
	int verdict;	    /* every run must return this */
	uint32_t reason;    /* the counter every run must move, and its direction */
	uint32_t dir;
	enum flow flow;
	enum subject subject; /* what the flow goes through */
	long scale;	    /* services or other rules present on its node */
	long runs;	    /* so far */
	uint64_t created_ns; /* FLOW_ESTABLISHED: its conntrack entry's */
	double kernel_ns[MAX_ROUNDS];
	double wall_ns[MAX_ROUNDS];
	char name_buf[32];
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ew-bench-pkt [--iterations N] [--rounds R] [--services LIST]\n"
		"                    [--rules LIST] [--only CASE]\n"
		"\n"
		"Per-packet cost of from_container (bpf/bpf_lxc.c) on a TCP segment: pod to\n"
		"pod on this node; pod to a ClusterIP service (established flow and new\n"
		"flow) with each number of services in LIST present; pod to a pod that\n"
		"policy isolates, with each number of other rules present (established\n"
		"and new flow); pod to a pod on another node (VXLAN encap); of\n"
		"from_underlay (bpf/bpf_overlay.c) on that segment in VXLAN to a pod of\n"
		"this node (decap); and of a trivial TC program. Each case runs N times per\n"
		"round with BPF_PROG_TEST_RUN repeat=1, R rounds, the cases alternating.\n"
		"Prints JSON on stdout. Needs root (or CAP_BPF and CAP_NET_ADMIN).\n"
		"\n"
		"  --iterations N   runs per case and round (default %d)\n"
		"  --rounds R       rounds (default %d, at most %d)\n"
		"  --services LIST  comma-separated numbers of services, at most %d of\n"
		"                   them, each 1 to %d (default %s; empty: no service cases)\n"
		"  --rules LIST     comma-separated numbers of policy rules that do not\n"
		"                   match the flow, at most %d of them, each 1 to %d\n"
		"                   (default %s; empty: no policy cases)\n"
		"  --only CASE      time the trivial program and this case only (trivial,\n"
		"                   pod_forward, svc_est_N, svc_new_N, pol_est_N,\n"
		"                   pol_new_N, encap, decap): to profile one\n",
		DEFAULT_ITERATIONS, DEFAULT_ROUNDS, MAX_ROUNDS, MAX_SCALES, MAX_SERVICES,
		DEFAULT_SERVICES, MAX_SCALES, MAX_RULES, DEFAULT_RULES);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts); /* the clock of bpf_ktime_get_ns() */
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void tcp_segment(struct pkt *p, const uint8_t *eth_src, const uint8_t *eth_dst,
			uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport,
			uint8_t ttl)
{
	static uint8_t payload[PAYLOAD_LEN];

	pkt_init(p);
	pkt_eth(p, eth_src, eth_dst, ETH_P_IP);
	pkt_ipv4(p, saddr, daddr, IPPROTO_TCP, ttl);
	pkt_tcp(p, sport, dport, TH_ACK);
	pkt_payload(p, payload, sizeof(payload));
	pkt_finish(p);
}

/* --- the services on a node ------------------------------------------------------------------------ */

/* The MAC of local backend j and of its host veth. */
static void backend_macs(int j, uint8_t mac[ETH_ALEN], uint8_t gw[ETH_ALEN])
{
	memcpy(mac, MAC_B, ETH_ALEN);
	memcpy(gw, GW_B, ETH_ALEN);
	mac[5] += (uint8_t)j;
	gw[5] += (uint8_t)j;
}

/* Tables go into ew_lb_maglev this many at a time, in one batch: every
 * write to a map of maps waits for an RCU grace period (the kernel's
 * maybe_wait_bpf_programs(), ~10 ms here), a batch waits once. */
#define TABLE_BATCH 256

/* A Maglev table over the backend ids first_id.. with addresses addrs, as
 * the agent builds it (agent/maglev.c): a new inner array, filled. Returns
 * its fd or a negative errno. */
static int new_table(long s, uint32_t first_id, const uint32_t *addrs)
{
	static uint32_t slots[EW_MAGLEV_SIZE_DEFAULT];
	struct ew_maglev_name names[BACKENDS];
	uint32_t i;
	int fd, err;

	for (i = 0; i < BACKENDS; i++)
		names[i] = (struct ew_maglev_name){ .bytes = &addrs[i], .len = sizeof(addrs[i]) };
	err = ew_maglev_build(names, BACKENDS, EW_MAGLEV_SIZE_DEFAULT, slots);
	if (err) {
		fprintf(stderr, "ew-bench-pkt: cannot build the Maglev table of service %ld: %s\n",
			s, strerror(-err));
		return err;
	}
	for (i = 0; i < EW_MAGLEV_SIZE_DEFAULT; i++)
		slots[i] += first_id; /* index into the backends -> backend id */
	fd = ew_maglev_table_create(slots, EW_MAGLEV_SIZE_DEFAULT);
	if (fd < 0)
		fprintf(stderr, "ew-bench-pkt: cannot create the Maglev table of service %ld: %s\n",
			s, strerror(-fd));
	return fd;
}

/* Publishes n tables (ids[i] -> fds[i]) in one batch and closes their fds. */
static int publish_tables(struct bh *h, uint32_t *ids, uint32_t *fds, uint32_t n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, batch);
	uint32_t count = n, i;
	int err = 0;

	if (n && bpf_map_update_batch(h->lb_maglev_fd, ids, fds, &count, &batch)) {
		err = -errno;
		fprintf(stderr, "ew-bench-pkt: cannot insert %u Maglev tables into "
				"ew_lb_maglev: %s\n",
			n, strerror(-err));
	}
	for (i = 0; i < n; i++)
		close((int)fds[i]); /* ew_lb_maglev holds them now */
	return err;
}

/* n services: service s answers on svc_addr(s):80/TCP with backends
 * 3s+1..3s+3 through table s + 1; service 0's backends are the local pods,
 * whose endpoints are added too. */
static int add_services(struct bh *h, long n)
{
	uint32_t addrs[BACKENDS], id, ids[TABLE_BATCH], fds[TABLE_BATCH], pending = 0;
	uint8_t mac[ETH_ALEN], gw[ETH_ALEN];
	long s;
	int j, fd, err = 0;

	for (j = 0; j < BACKENDS && !err; j++) {
		backend_macs(j, mac, gw);
		err = bh_add_endpoint(h, local_backend(j), (uint32_t)(IF_B + j), mac, gw);
	}
	/* backends, then tables, then the frontends that name them (as the agent) */
	for (s = 0; s < n && !err; s++) {
		id = (uint32_t)(BACKENDS * s + 1);
		for (j = 0; j < BACKENDS && !err; j++) {
			addrs[j] = s ? far_backend(BACKENDS * s + j) : local_backend(j);
			err = bh_add_backend(h, id + (uint32_t)j, addrs[j], BACKEND_PORT, 0);
		}
		fd = err ? -1 : new_table(s, id, addrs);
		if (fd < 0) {
			err = err ? err : fd;
			break;
		}
		ids[pending] = (uint32_t)s + 1;
		fds[pending++] = (uint32_t)fd;
		if (pending == TABLE_BATCH || s == n - 1) {
			err = publish_tables(h, ids, fds, pending);
			pending = 0;
		}
	}
	for (uint32_t i = 0; i < pending; i++)
		close((int)fds[i]);
	for (s = 0; s < n && !err; s++)
		err = bh_add_frontend(h, svc_addr(s), SVC_PORT, IPPROTO_TCP, (uint32_t)s + 1,
				      EW_MAGLEV_SIZE_DEFAULT, 0, 0);
	return err;
}

/* The conntrack SERVICE key of a packet of client:sport to service 0. */
static struct ew_ct_key service_key(uint32_t client, uint16_t sport)
{
	return (struct ew_ct_key){
		.saddr = client, .daddr = svc_addr(0), .sport = htons(sport),
		.dport = htons(SVC_PORT), .proto = IPPROTO_TCP, .type = EW_CT_SERVICE,
	};
}

/* --- policy on a node ------------------------------------------------------------------------------ */

/* The ipcache entry of a pod or CIDR, the policy entry of a rule: as
 * agent/policy.c writes them (one entry per peer and port). */
static int add_policy_entry(struct bh *h, uint32_t subject, uint32_t peer, uint16_t port,
			    uint32_t rule)
{
	return bh_add_policy(h, subject, peer, EW_DIR_INGRESS, IPPROTO_TCP, port,
			     EW_POLICY_PREFIX_FULL, rule);
}

/* Pod B isolated for ingress: its one rule that allows A's flows to
 * POLICY_PORT, and n that do not match them (see the top of this file). */
static int add_policy(struct bh *h, long n)
{
	uint32_t id, rule = RULE_ALLOW;
	long k;
	int err;

	err = bh_add_ipcache(h, 0, 0, EW_IDENTITY_WORLD, EW_IDENTITY_WORLD);
	err = err ?: bh_add_ipcache(h, IP_A, 32, ID_CLIENT, EW_IDENTITY_WORLD);
	err = err ?: bh_add_ipcache(h, IP_B, 32, ID_SERVER, EW_IDENTITY_WORLD);
	err = err ?: bh_add_endpoint_identity(h, IP_B, IF_B, MAC_B, GW_B, ID_SERVER,
					      EW_EP_INGRESS_ISOLATED);
	err = err ?: add_policy_entry(h, ID_SERVER, ID_CLIENT, POLICY_PORT, rule);
	for (k = 0; k < n && !err; k++) {
		rule++;
		switch (k % 3) {
		case 0: /* another peer of B, a CIDR: its own identity */
			id = ID_PEER_FIRST + (uint32_t)k;
			err = bh_add_ipcache(h, peer_addr(k), 32, id, id);
			err = err ?: add_policy_entry(h, ID_SERVER, id, POLICY_PORT, rule);
			break;
		case 1: /* another port of B for A */
			err = add_policy_entry(h, ID_SERVER, ID_CLIENT,
					       (uint16_t)(OTHER_PORT_MIN +
							  k / 3 % (65536 - OTHER_PORT_MIN)),
					       rule);
			break;
		default: /* another subject's rule for A */
			err = add_policy_entry(h, ID_SUBJECT_FIRST + (uint32_t)k, ID_CLIENT,
					       POLICY_PORT, rule);
			break;
		}
	}
	return err;
}

/* The conntrack POLICY key of a packet of client:sport to pod B. */
static struct ew_ct_key policy_key(uint32_t client, uint16_t sport)
{
	return (struct ew_ct_key){
		.saddr = client, .daddr = IP_B, .sport = htons(sport),
		.dport = htons(POLICY_PORT), .proto = IPPROTO_TCP, .type = EW_CT_POLICY,
	};
}

static struct ew_ct_key flow_key(const struct bench_case *c, uint32_t client, uint16_t sport)
{
	return c->subject == SUBJECT_POLICY ? policy_key(client, sport)
					    : service_key(client, sport);
}

/* --- new flows ------------------------------------------------------------------------------------- */

/* RFC 1624: the checksum at sum after a 16-bit word changes from old to new. */
static void csum_replace16(uint16_t *sum, uint16_t old, uint16_t new)
{
	uint32_t s = (uint16_t)~ntohs(*sum) + (uint16_t)~ntohs(old) + ntohs(new);

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	*sum = htons((uint16_t)~s);
}

static void csum_replace32(uint16_t *sum, uint32_t old, uint32_t new)
{
	csum_replace16(sum, (uint16_t)old, (uint16_t)new);
	csum_replace16(sum, (uint16_t)(old >> 16), (uint16_t)(new >> 16));
}

/* The client and source port of new flow k. */
static uint32_t flow_client(long k)
{
	return client_addr((uint32_t)(k / FLOW_PORTS));
}

static uint16_t flow_port(long k)
{
	return (uint16_t)(FLOW_PORT_MIN + k % FLOW_PORTS);
}

/* Makes c->in the packet of new flow k: its source address and port, with
 * both checksums updated. */
static void set_flow(struct bench_case *c, long k)
{
	struct iphdr *iph = (struct iphdr *)(c->in.data + c->in.l3_off);
	struct tcphdr *th = (struct tcphdr *)(c->in.data + c->in.l4_off);
	uint32_t saddr = flow_client(k);
	uint16_t sport = htons(flow_port(k));

	if (iph->saddr != saddr) {
		csum_replace32(&iph->check, iph->saddr, saddr);
		csum_replace32(&th->check, iph->saddr, saddr);
		iph->saddr = saddr;
	}
	csum_replace16(&th->check, th->source, sport);
	th->source = sport;
}

/* Client pods enough for every flow of the run, as endpoints on IF_HERE
 * (for policy, of A's identity, in the ipcache too). */
static int add_clients(struct bh *h, enum subject subject, long flows)
{
	long k, clients = (flows + FLOW_PORTS - 1) / FLOW_PORTS;
	int err = 0;

	if (clients > EW_MAX_ENDPOINTS - BACKENDS - 1) {
		fprintf(stderr, "ew-bench-pkt: %ld new flows need more client pods than the "
				"endpoint map holds; expected fewer iterations or rounds\n",
			flows);
		return -E2BIG;
	}
	for (k = 0; k < clients && !err; k++) {
		uint32_t addr = client_addr((uint32_t)k);

		if (subject != SUBJECT_POLICY) {
			err = bh_add_endpoint(h, addr, IF_HERE, MAC_A, GW_A);
			continue;
		}
		err = bh_add_endpoint_identity(h, addr, IF_HERE, MAC_A, GW_A, ID_CLIENT, 0);
		err = err ?: bh_add_ipcache(h, addr, 32, ID_CLIENT, EW_IDENTITY_WORLD);
	}
	return err;
}

/* --- runs ------------------------------------------------------------------------------------------ */

static int test_run(struct bench_case *c, void *out, uint32_t out_size, uint32_t *out_len,
		    uint32_t *duration)
{
	struct __sk_buff ctx = { .ifindex = IF_HERE };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = c->in.data,
		    .data_size_in = (__u32)c->in.len, .data_out = out,
		    .data_size_out = out_size, .ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
		    .repeat = 1);

	if (bpf_prog_test_run_opts(c->prog_fd, &opts)) {
		fprintf(stderr, "ew-bench-pkt: %s: BPF_PROG_TEST_RUN failed: %s\n", c->name,
			strerror(errno));
		return -1;
	}
	if ((int)opts.retval != c->verdict) {
		fprintf(stderr, "ew-bench-pkt: %s: run %ld returned %s (%u), expected %s\n",
			c->name, c->runs, bh_verdict_name((int)opts.retval), opts.retval,
			bh_verdict_name(c->verdict));
		return -1;
	}
	/* the kernel reports the output's length even when it copies nothing back */
	if (opts.data_size_out != c->want.len) {
		fprintf(stderr, "ew-bench-pkt: %s: run %ld left a packet of %u bytes, expected "
				"%zu (the input of %zu bytes %s)\n",
			c->name, c->runs, opts.data_size_out, c->want.len, c->in.len,
			c->want.len > c->in.len	  ? "with the VXLAN headers"
			: c->want.len < c->in.len ? "without its VXLAN headers"
						  : "as long");
		return -1;
	}
	c->runs++;
	if (out_len)
		*out_len = opts.data_size_out;
	if (duration)
		*duration = opts.duration;
	return 0;
}

/* The packet a flow case's first run must give, a router hop on: to pod B
 * (policy), or to the backend its conntrack entry names (service). */
static int flow_want(struct bench_case *c, uint32_t client, uint16_t sport)
{
	struct ew_ct_key key = flow_key(c, client, sport);
	uint8_t mac[ETH_ALEN], gw[ETH_ALEN];
	struct ew_ct_entry e;
	uint32_t j;

	if (bh_ct_lookup(c->h, &key, &e)) {
		fprintf(stderr, "ew-bench-pkt: %s: the first run tracked no flow\n", c->name);
		return -1;
	}
	c->created_ns = e.created_ns;
	if (c->subject == SUBJECT_POLICY) {
		tcp_segment(&c->want, GW_B, MAC_B, client, IP_B, sport, POLICY_PORT, 63);
		return 0;
	}
	j = e.backend_id - 1;
	if (j >= BACKENDS) {
		fprintf(stderr, "ew-bench-pkt: %s: the flow went to backend %u, expected one of "
				"the service's (1 to %d)\n",
			c->name, e.backend_id, BACKENDS);
		return -1;
	}
	backend_macs((int)j, mac, gw);
	tcp_segment(&c->want, gw, mac, client, local_backend(j), sport, BACKEND_PORT, 63);
	return 0;
}

/* One run with the output copied back: the verdict and the exact bytes. */
static int check_first_run(struct bench_case *c)
{
	static struct bh_result res;
	uint32_t len;

	if (c->flow == FLOW_NEW)
		set_flow(c, c->runs);
	if (test_run(c, res.data, sizeof(res.data), &len, NULL))
		return -1;
	if (c->flow != FLOW_NONE &&
	    flow_want(c, c->flow == FLOW_NEW ? flow_client(0) : IP_A,
			 c->flow == FLOW_NEW ? flow_port(0) : CLIENT_PORT))
		return -1;
	if (pkt_first_diff(res.data, len, c->want.data, c->want.len) >= 0) {
		fprintf(stderr, "ew-bench-pkt: %s: the packet after one run is not the "
				"expected one (byte %ld differs)\n",
			c->name, pkt_first_diff(res.data, len, c->want.data, c->want.len));
		return -1;
	}
	return 0;
}

/* iterations runs of one case, each a BPF_PROG_TEST_RUN with repeat=1; the
 * packet is not copied back (data_out is NULL), so the kernel reads a fresh
 * copy of the input every time. round < 0: a warm-up, not recorded. */
static int run_round(struct bench_case *c, int round, long iterations)
{
	double kernel = 0, start = now_ns();
	uint32_t duration;
	long i;

	for (i = 0; i < iterations; i++) {
		if (c->flow == FLOW_NEW)
			set_flow(c, c->runs);
		if (test_run(c, NULL, 0, NULL, &duration))
			return -1;
		kernel += duration;
	}
	if (round >= 0) {
		c->wall_ns[round] = (now_ns() - start) / (double)iterations;
		c->kernel_ns[round] = kernel / (double)iterations;
	}
	return 0;
}

/* After a round: each new flow really was one (its last flow's entry is
 * from this round), the established flow never was (its entry is the first
 * run's). */
static int check_flows(const struct bench_case *c, double round_start)
{
	struct ew_ct_key key;
	struct ew_ct_entry e;

	if (c->flow == FLOW_NONE)
		return 0;
	key = c->flow == FLOW_NEW ? flow_key(c, flow_client(c->runs - 1), flow_port(c->runs - 1))
				  : flow_key(c, IP_A, CLIENT_PORT);
	if (bh_ct_lookup(c->h, &key, &e)) {
		fprintf(stderr, "ew-bench-pkt: %s: the flow of run %ld is not tracked\n", c->name,
			c->runs - 1);
		return -1;
	}
	if (c->flow == FLOW_NEW && (double)e.created_ns < round_start) {
		fprintf(stderr, "ew-bench-pkt: %s: the flow of run %ld was not a new one\n",
			c->name, c->runs - 1);
		return -1;
	}
	if (c->flow == FLOW_ESTABLISHED && e.created_ns != c->created_ns) {
		fprintf(stderr, "ew-bench-pkt: %s: the established flow was tracked anew "
				"(its entry was lost)\n",
			c->name);
		return -1;
	}
	return 0;
}

/* The packets of the counter every run of c moves (forward, or encap). */
static long case_packets(const struct bench_case *c)
{
	struct bh_counters m;

	if (bh_counters_read(c->h, &m))
		return -1;
	return (long)m.m[ew_metrics_index(c->reason, c->dir)].packets;
}

/* --- set-up and output ------------------------------------------------------------------------------ */

/* A comma-separated list of at most MAX_SCALES numbers from 1 to max. */
static int parse_scales(const char *option, const char *arg, long max, long *scales, int *n)
{
	char *copy = strdup(arg), *tok, *save = NULL, *end;
	int ret = 0;

	*n = 0;
	for (tok = strtok_r(copy, ",", &save); tok && !ret; tok = strtok_r(NULL, ",", &save)) {
		if (*n == MAX_SCALES) {
			ret = -1;
			break;
		}
		scales[*n] = strtol(tok, &end, 10);
		if (*end || scales[*n] < 1 || scales[*n] > max)
			ret = -1;
		(*n)++;
	}
	free(copy);
	if (ret)
		fprintf(stderr, "ew-bench-pkt: %s '%s': expected at most %d "
				"comma-separated numbers from 1 to %ld\n",
			option, arg, MAX_SCALES, max);
	return ret;
}

/* A node with the client pod A and: pod B (SUBJECT_NONE), scale services
 * (SUBJECT_SERVICE), or pod B isolated with scale other rules
 * (SUBJECT_POLICY). */
static int node_open(struct bh *h, enum subject subject, long scale)
{
	if (bh_open(h, NULL) ||
	    bh_add_endpoint_identity(h, IP_A, IF_HERE, MAC_A, GW_A,
				     subject == SUBJECT_POLICY ? ID_CLIENT : 0, 0))
		return -1;
	switch (subject) {
	case SUBJECT_SERVICE:
		return add_services(h, scale);
	case SUBJECT_POLICY:
		return add_policy(h, scale);
	default:
		return bh_add_endpoint(h, IP_B, IF_B, MAC_B, GW_B);
	}
}

/* Policy is enforced on the node: A's flow to another port of B, which no
 * rule allows, is dropped and not tracked. */
static int check_denied(struct bench_case *c)
{
	static struct bh_result res;
	struct ew_ct_key key = policy_key(IP_A, CLIENT_PORT);
	struct ew_ct_entry e;
	struct pkt p;

	key.dport = htons(POLICY_PORT + 1);
	tcp_segment(&p, MAC_A, GW_A, IP_A, IP_B, CLIENT_PORT, POLICY_PORT + 1, 64);
	if (bh_run_pkt(c->h, &p, IF_HERE, &res))
		return -1;
	if (res.retval != TC_ACT_SHOT || !bh_ct_lookup(c->h, &key, &e)) {
		fprintf(stderr, "ew-bench-pkt: %s: a flow no rule allows returned %s%s, "
				"expected TC_ACT_SHOT and no tracked entry\n",
			c->name, bh_verdict_name(res.retval),
			bh_ct_lookup(c->h, &key, &e) ? "" : " and was tracked");
		return -1;
	}
	return 0;
}

static void flow_case(struct bench_case *c, struct bh *h, enum subject subject,
		      enum flow flow, long scale)
{
	bool svc = subject == SUBJECT_SERVICE;

	*c = (struct bench_case){
		.program = "bpf_lxc.c:from_container", .prog_fd = h->prog_fd, .h = h,
		.verdict = TC_ACT_REDIRECT, .reason = EW_REASON_FORWARD, .dir = EW_DIR_EGRESS,
		.flow = flow, .subject = subject, .scale = scale,
	};
	snprintf(c->name_buf, sizeof(c->name_buf), "%s_%s_%ld", svc ? "svc" : "pol",
		 flow == FLOW_NEW ? "new" : "est", scale);
	c->name = c->name_buf;
	tcp_segment(&c->in, MAC_A, GW_A, IP_A, svc ? svc_addr(0) : IP_B, CLIENT_PORT,
		    svc ? SVC_PORT : POLICY_PORT, 64);
	c->want = c->in; /* as long; the first run's flow_want() makes it exact */
}

/* The established and the new flow case of subject at scale, each on a
 * node of its own: cases[0..1], nodes[0..1]. */
static int flow_cases(struct bench_case *cases, struct bh *nodes, enum subject subject,
		      long scale, long new_flows)
{
	if (node_open(&nodes[0], subject, scale))
		return -1;
	flow_case(&cases[0], &nodes[0], subject, FLOW_ESTABLISHED, scale);
	if (node_open(&nodes[1], subject, scale) ||
	    add_clients(&nodes[1], subject, new_flows))
		return -1;
	flow_case(&cases[1], &nodes[1], subject, FLOW_NEW, scale);
	if (subject == SUBJECT_POLICY && (check_denied(&cases[0]) || check_denied(&cases[1])))
		return -1;
	return 0;
}

/* --- the overlay ----------------------------------------------------------------------------------- */

/* A node of the overlay above: its config, the routes of both nodes' pod
 * CIDRs, node 2 as a known VXLAN source, and pod A on IF_HERE. */
static int overlay_node_open(struct bh *h)
{
	struct ew_config cfg = {
		.abi_version = EW_ABI_VERSION, .node_ip = NODE1, .underlay_ifindex = IF_HERE,
		.vni = EW_VXLAN_VNI_DEFAULT, .vxlan_port = htons(EW_VXLAN_PORT_DEFAULT),
	};
	int err;

	memcpy(cfg.vtep_mac, V1, sizeof(cfg.vtep_mac));
	err = bh_open(h, NULL);
	err = err ?: bh_set_config(h, &cfg);
	err = err ?: bh_add_route(h, ip4(10, 0, 0, 0), 16, 0, EW_ROUTE_CLUSTER);
	err = err ?: bh_add_route_vtep(h, ip4(10, 0, 1, 0), 24, NODE1, EW_ROUTE_LOCAL, V1);
	err = err ?: bh_add_route_vtep(h, ip4(10, 0, 2, 0), 24, NODE2, 0, V2);
	err = err ?: bh_add_node(h, NODE2);
	err = err ?: bh_add_endpoint(h, IP_A, IF_HERE, MAC_A, GW_A);
	return err;
}

/* The segment saddr -> daddr (ttl) in VXLAN of tunnel t. */
static void vxlan_segment(struct pkt *p, const struct pkt_tunnel *t, uint32_t saddr,
			  uint32_t daddr, uint8_t ttl)
{
	static uint8_t payload[PAYLOAD_LEN];

	pkt_init(p);
	pkt_tunnel(p, t);
	pkt_ipv4(p, saddr, daddr, IPPROTO_TCP, ttl);
	pkt_tcp(p, CLIENT_PORT, 5201, TH_ACK);
	pkt_payload(p, payload, sizeof(payload));
	pkt_finish(p);
}

/* The encap and the decap case, each on a node of its own: cases[0..1],
 * nodes[0..1]. The encap's outer source port is a hash of the flow: it is
 * taken from one run's output, the rest of the frame built here. */
static int overlay_cases(struct bench_case *cases, struct bh *nodes)
{
	static struct bh_result res;
	struct pkt_tunnel t;
	uint16_t sport;

	if (overlay_node_open(&nodes[0]) || overlay_node_open(&nodes[1]))
		return -1;
	cases[0] = (struct bench_case){
		.name = "encap", .program = "bpf_lxc.c:from_container",
		.prog_fd = nodes[0].prog_fd, .h = &nodes[0], .verdict = TC_ACT_REDIRECT,
		.reason = EW_REASON_ENCAP, .dir = EW_DIR_EGRESS,
	};
	tcp_segment(&cases[0].in, MAC_A, GW_A, IP_A, IP_C, CLIENT_PORT, 5201, 64);
	if (bh_run_pkt(&nodes[0], &cases[0].in, IF_HERE, &res))
		return -1;
	if (res.retval != TC_ACT_REDIRECT || res.len < OUTER_UDP + sizeof(sport)) {
		fprintf(stderr, "ew-bench-pkt: encap: pod A's segment to pod C on node 2 returned "
				"%s with %u bytes, expected TC_ACT_REDIRECT in VXLAN\n",
			bh_verdict_name(res.retval), res.len);
		return -1;
	}
	memcpy(&sport, res.data + OUTER_UDP, sizeof(sport));
	/* the outer Ethernet header is the pod's (the kernel fills it in after
	 * the redirect), the inner one from VTEP to VTEP, a router hop on */
	t = (struct pkt_tunnel){
		.eth_src = MAC_A, .eth_dst = GW_A, .saddr = NODE1, .daddr = NODE2,
		.sport = ntohs(sport), .dport = EW_VXLAN_PORT_DEFAULT, .vni = EW_VXLAN_VNI_DEFAULT,
		.vtep_src = V1, .vtep_dst = V2,
	};
	vxlan_segment(&cases[0].want, &t, IP_A, IP_C, 63);

	/* pod C on node 2 sends the same segment to pod A: it arrives in VXLAN */
	cases[1] = (struct bench_case){
		.name = "decap", .program = "bpf_overlay.c:from_underlay",
		.prog_fd = nodes[1].underlay_prog_fd, .h = &nodes[1], .verdict = TC_ACT_REDIRECT,
		.reason = EW_REASON_FORWARD, .dir = EW_DIR_INGRESS,
	};
	t = (struct pkt_tunnel){
		.eth_src = U2, .eth_dst = U1, .saddr = NODE2, .daddr = NODE1,
		.sport = VXLAN_SPORT, .dport = EW_VXLAN_PORT_DEFAULT, .vni = EW_VXLAN_VNI_DEFAULT,
		.vtep_src = V2, .vtep_dst = V1,
	};
	vxlan_segment(&cases[1].in, &t, IP_C, IP_A, 63);
	/* the inner frame behind the MACs of pod A's link */
	tcp_segment(&cases[1].want, GW_A, MAC_A, IP_C, IP_A, CLIENT_PORT, 5201, 63);
	if (cases[0].want.overflow || cases[1].in.overflow) {
		fprintf(stderr, "ew-bench-pkt: a VXLAN segment does not fit a test packet\n");
		return -1;
	}
	return 0;
}

static void print_series(const char *key, const double *v, int n)
{
	int i;

	printf("\"%s\":[", key);
	for (i = 0; i < n; i++)
		printf("%s%.2f", i ? "," : "", v[i]);
	printf("]");
}

static void print_json(const struct bench_case *cases, int ncases, long iterations,
		       int rounds, double setup_s)
{
	static const char *const flows[] = { "", "established", "new" };
	int i;

	printf("{\"iterations\":%ld,\"rounds\":%d,\"packet_bytes\":%zu,"
	       "\"maglev_slots\":%d,\"backends_per_service\":%d,\"setup_s\":%.2f,\"cases\":[",
	       iterations, rounds, cases[0].in.len, EW_MAGLEV_SIZE_DEFAULT, BACKENDS, setup_s);
	for (i = 0; i < ncases; i++) {
		const struct bench_case *c = &cases[i];

		printf("%s{\"name\":\"%s\",\"program\":\"%s\",\"verdict\":\"%s\","
		       "\"bytes_in\":%zu,\"bytes_out\":%zu,",
		       i ? "," : "", c->name, c->program, bh_verdict_name(c->verdict), c->in.len,
		       c->want.len);
		if (c->flow != FLOW_NONE)
			printf("\"flow\":\"%s\",\"%s\":%ld,", flows[c->flow],
			       c->subject == SUBJECT_POLICY ? "rules" : "services", c->scale);
		print_series("kernel_ns", c->kernel_ns, rounds);
		printf(",");
		print_series("wall_ns", c->wall_ns, rounds);
		printf("}");
	}
	printf("]}\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "iterations", required_argument, NULL, 'n' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "services", required_argument, NULL, 's' },
		{ "rules", required_argument, NULL, 'p' },
		{ "only", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static struct bench_case cases[MAX_CASES];
	static struct bh nodes[MAX_CASES];
	struct bpf_trivial *trivial = NULL;
	long iterations = DEFAULT_ITERATIONS, warmup, scales[MAX_SCALES], rules[MAX_SCALES];
	long fwd_before[MAX_CASES], new_flows;
	int rounds = DEFAULT_ROUNDS, nscales = 0, nrules = 0, ncases = 0, opt, round, i, ret = 1;
	const char *services = DEFAULT_SERVICES, *rule_list = DEFAULT_RULES, *only = NULL;
	double setup_start, setup_s, round_start;
	char *end;

	while ((opt = getopt_long(argc, argv, "n:r:s:p:o:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			iterations = strtol(optarg, &end, 10);
			if (*end || iterations < 1) {
				fprintf(stderr, "ew-bench-pkt: --iterations '%s': expected a "
						"positive integer\n",
					optarg);
				return 2;
			}
			break;
		case 'r':
			rounds = (int)strtol(optarg, &end, 10);
			if (*end || rounds < 1 || rounds > MAX_ROUNDS) {
				fprintf(stderr, "ew-bench-pkt: --rounds '%s': expected 1 to %d\n",
					optarg, MAX_ROUNDS);
				return 2;
			}
			break;
		case 's':
			services = optarg;
			break;
		case 'p':
			rule_list = optarg;
			break;
		case 'o':
			only = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (*services && parse_scales("--services", services, MAX_SERVICES, scales, &nscales))
		return 2;
	if (*rule_list && parse_scales("--rules", rule_list, MAX_RULES, rules, &nrules))
		return 2;
	warmup = iterations / 10 + 1;
	new_flows = 1 + warmup + (long)rounds * iterations;
	setup_start = now_ns();

	trivial = bpf_trivial__open_and_load();
	if (!trivial) {
		fprintf(stderr, "ew-bench-pkt: cannot load bpf_trivial: %s (run as root)\n",
			strerror(errno));
		goto cleanup;
	}
	cases[ncases] = (struct bench_case){
		.name = "trivial", .program = "bpf_trivial.c:trivial",
		.prog_fd = bpf_program__fd(trivial->progs.trivial), .verdict = TC_ACT_OK,
	};
	tcp_segment(&cases[ncases].in, MAC_A, GW_A, IP_A, IP_B, CLIENT_PORT, 5201, 64);
	cases[ncases].want = cases[ncases].in;
	ncases++;

	/* pod A (on the device the runs arrive on) sends to pod B on this node */
	if (node_open(&nodes[ncases], SUBJECT_NONE, 0))
		goto cleanup;
	cases[ncases] = (struct bench_case){
		.name = "pod_forward", .program = "bpf_lxc.c:from_container",
		.prog_fd = nodes[ncases].prog_fd, .h = &nodes[ncases],
		.verdict = TC_ACT_REDIRECT, .reason = EW_REASON_FORWARD, .dir = EW_DIR_EGRESS,
	};
	tcp_segment(&cases[ncases].in, MAC_A, GW_A, IP_A, IP_B, CLIENT_PORT, 5201, 64);
	/* a router hop: B's link, TTL one less */
	tcp_segment(&cases[ncases].want, GW_B, MAC_B, IP_A, IP_B, CLIENT_PORT, 5201, 63);
	ncases++;

	if (overlay_cases(&cases[ncases], &nodes[ncases]))
		goto cleanup;
	ncases += 2;

	for (i = 0; i < nscales; i++, ncases += 2)
		if (flow_cases(&cases[ncases], &nodes[ncases], SUBJECT_SERVICE, scales[i],
			       new_flows))
			goto cleanup;
	for (i = 0; i < nrules; i++, ncases += 2)
		if (flow_cases(&cases[ncases], &nodes[ncases], SUBJECT_POLICY, rules[i],
			       new_flows))
			goto cleanup;
	setup_s = (now_ns() - setup_start) / 1e9;
	if (only) { /* keep the trivial program (cases[0]) and the one asked for */
		for (i = 1; i < ncases && strcmp(cases[i].name, only); i++)
			;
		if (i == ncases) {
			fprintf(stderr, "ew-bench-pkt: --only '%s': no such case; expected "
					"trivial, pod_forward, encap, decap, svc_est_N or svc_new_N "
					"with N in --services, pol_est_N or pol_new_N with N in "
					"--rules\n",
				only);
			goto cleanup;
		}
		if (i > 1)
			cases[1] = cases[i]; /* its node stays where it was: closed below */
		ncases = strcmp(only, "trivial") ? 2 : 1;
	}

	for (i = 0; i < ncases; i++) {
		fwd_before[i] = cases[i].h ? case_packets(&cases[i]) : 0;
		if (fwd_before[i] < 0 || check_first_run(&cases[i]) ||
		    run_round(&cases[i], -1, warmup))
			goto cleanup;
	}
	for (round = 0; round < rounds; round++) {
		for (i = 0; i < ncases; i++) {
			round_start = now_ns();
			if (run_round(&cases[i], round, iterations) ||
			    check_flows(&cases[i], round_start))
				goto cleanup;
		}
	}
	/* every run of a datapath case took its path (forward, or encap), once */
	for (i = 0; i < ncases; i++) {
		long grew;

		if (!cases[i].h)
			continue;
		grew = case_packets(&cases[i]) - fwd_before[i];
		if (grew != cases[i].runs) {
			fprintf(stderr, "ew-bench-pkt: %s: the %s counter grew by %ld, "
					"expected %ld\n",
				cases[i].name, bh_reason_name(cases[i].reason), grew,
				cases[i].runs);
			goto cleanup;
		}
	}
	print_json(cases, ncases, iterations, rounds, setup_s);
	ret = 0;

cleanup:
	bpf_trivial__destroy(trivial);
	for (i = 0; i < MAX_CASES; i++)
		if (nodes[i].skel)
			bh_close(&nodes[i]);
	return ret;
}
