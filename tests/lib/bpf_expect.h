/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The checks every tests/bpf suite makes on a program run: the verdict, the
 * exact bytes the program left in the packet, and the change of every
 * counter. Criterion assertions, so for tests/bpf only (bpf_harness.h and
 * pkt.h stay plain for the unit tests and the benchmarks).
 */
#ifndef EW_TEST_BPF_EXPECT_H
#define EW_TEST_BPF_EXPECT_H

#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>

#include "bpf_harness.h"
#include "pkt.h"

/* A reason for packets no counter may see. */
#define UNCOUNTED UINT32_MAX

/* got is want, byte for byte; else both are shown in hex. */
static inline void expect_bytes(const void *got, size_t got_len, const void *want,
				size_t want_len)
{
	long diff = pkt_first_diff(got, got_len, want, want_len);
	static char got_hex[8192], want_hex[8192];

	if (diff < 0)
		return;
	pkt_hex(got, got_len, got_hex, sizeof(got_hex));
	pkt_hex(want, want_len, want_hex, sizeof(want_hex));
	cr_expect_fail("output packet differs at byte %ld (got %zu bytes, want %zu)\n"
		       "got:\n%s\nwant:\n%s",
		       diff, got_len, want_len, got_hex, want_hex);
}

/* The packet was counted once, with len bytes, under (reason, dir), and no
 * other counter of either direction moved (none at all for UNCOUNTED). */
static inline void expect_counted(const struct bh_counters *before,
				  const struct bh_counters *after, uint32_t reason,
				  uint32_t dir, size_t len)
{
	uint32_t r, d;

	for (r = 0; r < EW_REASON_MAX; r++) {
		for (d = 0; d < EW_DIR_MAX; d++) {
			struct ew_metrics m = bh_counters_delta(before, after, r, d);
			bool hit = r == reason && d == dir;

			cr_expect_eq(m.packets, hit ? 1 : 0,
				     "%s/%s: %llu packets counted, want %d",
				     bh_reason_name(r), d ? "ingress" : "egress",
				     (unsigned long long)m.packets, hit ? 1 : 0);
			cr_expect_eq(m.bytes, hit ? len : 0,
				     "%s/%s: %llu bytes counted, want %zu",
				     bh_reason_name(r), d ? "ingress" : "egress",
				     (unsigned long long)m.bytes, hit ? len : 0);
		}
	}
}

/* The direction prog counts in: egress leaving a pod, ingress from the
 * underlay (TC and XDP alike) and into a pod from the stack. A drop by the
 * ingress policy of the pod from_container delivers to counts as ingress:
 * expect_run_dir() says so. */
static inline uint32_t expect_prog_dir(enum bh_prog prog)
{
	return prog == BH_FROM_CONTAINER ? EW_DIR_EGRESS : EW_DIR_INGRESS;
}

/* bh_wire_open(), or the test skipped where namespaces may not be made. */
static inline void wire_open_or_skip(struct bh *node, struct bh_wire *w)
{
	int err = bh_wire_open(node, w);

	if (err == -EPERM)
		cr_skip_test("network namespaces need CAP_SYS_ADMIN");
	cr_assert_eq(err, 0, "cannot set up the veth pairs: %s", strerror(-err));
}

/* A node of a two-node cluster, as the other's maps name it. */
struct expect_node {
	uint32_t ip;	     /* InternalIP */
	uint32_t pod_cidr;   /* its pods' /24 */
	const uint8_t *vtep; /* its VTEP's MAC */
};

/*
 * Loads the datapath as node self of a two-node cluster, or skips the test
 * where BPF programs may not be loaded: self's config (the default VNI and
 * port, its underlay on ifindex), its pods' /24 local, peer's routed to peer,
 * whose VXLAN it accepts, and the rest of the cluster CIDR 10.0.0.0/16 no
 * node's.
 */
static inline void open_cluster_node(struct bh *node, const struct expect_node *self,
				     const struct expect_node *peer, uint32_t ifindex)
{
	struct ew_config cfg = {
		.abi_version = EW_ABI_VERSION,
		.node_ip = self->ip,
		.underlay_ifindex = ifindex,
		.vni = EW_VXLAN_VNI_DEFAULT,
		.vxlan_port = htons(EW_VXLAN_PORT_DEFAULT),
	};
	int err;

	if (!bh_privileged())
		cr_skip_test("loading BPF programs needs root (or CAP_BPF and CAP_NET_ADMIN)");
	err = bh_open(node, NULL);
	cr_assert_eq(err, 0, "cannot load the datapath: %s", strerror(-err));
	memcpy(cfg.vtep_mac, self->vtep, sizeof(cfg.vtep_mac));
	cr_assert_eq(bh_set_config(node, &cfg), 0);
	cr_assert_eq(bh_add_route(node, htonl(0x0a000000), 16, 0, EW_ROUTE_CLUSTER), 0);
	cr_assert_eq(bh_add_route_vtep(node, self->pod_cidr, 24, self->ip, EW_ROUTE_LOCAL,
				       self->vtep), 0);
	cr_assert_eq(bh_add_route_vtep(node, peer->pod_cidr, 24, peer->ip, 0, peer->vtep), 0);
	cr_assert_eq(bh_add_node(node, peer->ip), 0);
}

/* One program run and the counters around it. */
struct expect_run {
	enum bh_prog prog;
	struct bh_counters before, after;
};

/* Runs in through prog on node, arriving on ifindex; the packet as the
 * program left it into res, the counters into run. */
static inline void run_counted(struct bh *node, enum bh_prog prog, uint32_t ifindex,
			       const struct pkt *in, struct bh_result *res,
			       struct expect_run *run)
{
	int err;

	cr_assert(!in->overflow, "test packet does not fit");
	run->prog = prog;
	cr_assert_eq(bh_counters_read(node, &run->before), 0);
	err = bh_run_prog(node, prog, in->data, in->len, ifindex, res);
	cr_assert_eq(err, 0, "BPF_PROG_TEST_RUN failed: %s", strerror(-err));
	cr_assert_eq(bh_counters_read(node, &run->after), 0);
}

/* The run returned verdict (TC_ACT_* or XDP_*, as its program is), left
 * exactly the bytes of want in res, and counted the packet once under
 * (reason, dir) with len bytes, and nothing else (UNCOUNTED: nothing). */
static inline void expect_outcome_dir(const struct expect_run *run,
				      const struct bh_result *res, int verdict,
				      uint32_t reason, uint32_t dir, size_t len,
				      const struct pkt *want)
{
	cr_assert(!want->overflow, "test packet does not fit");
	cr_expect_eq(res->retval, verdict, "verdict %s (%d), want %s (%d)",
		     bh_prog_verdict_name(run->prog, res->retval), res->retval,
		     bh_prog_verdict_name(run->prog, verdict), verdict);
	expect_bytes(res->data, res->len, want->data, want->len);
	expect_counted(&run->before, &run->after, reason, dir, len);
}

/* expect_outcome_dir() in the program's own direction. */
static inline void expect_outcome(const struct expect_run *run, const struct bh_result *res,
				  int verdict, uint32_t reason, size_t len,
				  const struct pkt *want)
{
	expect_outcome_dir(run, res, verdict, reason, expect_prog_dir(run->prog), len, want);
}

/* run_counted() and expect_outcome_dir() in one, for a want known
 * beforehand (NULL: the packet unchanged). The result stays in res. */
static inline void expect_run_dir(struct bh *node, enum bh_prog prog, uint32_t ifindex,
				  const struct pkt *in, int verdict, uint32_t reason,
				  uint32_t dir, size_t len, const struct pkt *want,
				  struct bh_result *res)
{
	struct expect_run run;

	run_counted(node, prog, ifindex, in, res, &run);
	expect_outcome_dir(&run, res, verdict, reason, dir, len, want ? want : in);
}

/* expect_run_dir() in the program's own direction. */
static inline void expect_run_on(struct bh *node, enum bh_prog prog, uint32_t ifindex,
				 const struct pkt *in, int verdict, uint32_t reason,
				 size_t len, const struct pkt *want, struct bh_result *res)
{
	expect_run_dir(node, prog, ifindex, in, verdict, reason, expect_prog_dir(prog), len,
		       want, res);
}

/* The packet fields of event e are in's: addresses, protocol, and the ports
 * of a TCP or UDP packet that has them (not a later fragment, not cut
 * short); 0 where it has none. */
static inline void expect_event_packet(const struct ew_event *e, const struct pkt *in)
{
	const struct iphdr *iph = (const struct iphdr *)(in->data + in->l3_off);
	uint16_t ports[2] = { 0, 0 };

	cr_assert_eq(in->l3, PKT_IPV4, "an event test needs an IPv4 packet");
	if ((in->l4 == PKT_TCP || in->l4 == PKT_UDP) && !(iph->frag_off & htons(IP_OFFMASK)) &&
	    in->len >= in->l4_off + sizeof(ports))
		memcpy(ports, in->data + in->l4_off, sizeof(ports));
	cr_expect_eq(e->saddr, iph->saddr, "event saddr 0x%08x, want 0x%08x", ntohl(e->saddr),
		     ntohl(iph->saddr));
	cr_expect_eq(e->daddr, iph->daddr, "event daddr 0x%08x, want 0x%08x", ntohl(e->daddr),
		     ntohl(iph->daddr));
	cr_expect_eq(e->protocol, iph->protocol, "event protocol %u, want %u", e->protocol,
		     iph->protocol);
	cr_expect_eq(e->sport, ports[0], "event sport %u, want %u", ntohs(e->sport),
		     ntohs(ports[0]));
	cr_expect_eq(e->dport, ports[1], "event dport %u, want %u", ntohs(e->dport),
		     ntohs(ports[1]));
}

/* The events of type that ew_events received since the last call, in ev
 * (at most max); the others are read and left out. */
static inline int events_of_type(struct bh *node, uint8_t type, struct ew_event *ev, int max)
{
	struct ew_event all[8];
	int n = bh_events_read(node, all, 8), kept = 0;

	cr_assert_geq(n, 0, "cannot read ew_events: %s", strerror(-n));
	for (int i = 0; i < n && i < 8; i++)
		if (all[i].type == type && kept < max)
			ev[kept++] = all[i];
	return kept;
}

/* The drop events ew_events received since the last call are exactly one
 * drop of reason in dir, of the IPv4 packet in (its addresses, protocol
 * and, where it has them, TCP or UDP ports, as the drop saw them); NULL in:
 * no drop event at all. */
static inline void expect_drop_event(struct bh *node, uint32_t reason, uint32_t dir,
				     const struct pkt *in)
{
	struct ew_event ev[4];
	int n = events_of_type(node, EW_EVENT_DROP, ev, 4);

	if (!in) {
		cr_expect_eq(n, 0, "%d drop events, want none", n);
		return;
	}
	cr_assert_eq(n, 1, "%d drop events, want one", n);
	cr_expect_eq(ev[0].reason, reason, "event reason %s, want %s",
		     bh_reason_name(ev[0].reason), bh_reason_name(reason));
	cr_expect_eq(ev[0].dir, dir, "event direction %u, want %u", ev[0].dir, dir);
	cr_expect_eq(ev[0].len, in->len, "event of a %u-byte packet, want %zu", ev[0].len,
		     in->len);
	expect_event_packet(&ev[0], in);
}

/* The policy events since the last call are exactly one connection of the
 * packet in that policy allowed with reason (forward or proxy) in dir, by
 * rule. */
static inline void expect_policy_event(struct bh *node, uint32_t reason, uint32_t dir,
				       uint32_t rule, const struct pkt *in)
{
	struct ew_event ev[4];
	int n = events_of_type(node, EW_EVENT_POLICY, ev, 4);

	cr_assert_eq(n, 1, "%d policy events, want one", n);
	cr_expect_eq(ev[0].reason, reason, "policy event reason %s, want %s",
		     bh_reason_name(ev[0].reason), bh_reason_name(reason));
	cr_expect_eq(ev[0].dir, dir, "policy event direction %u, want %u", ev[0].dir, dir);
	cr_expect_eq(ev[0].rule, rule, "policy event rule %u, want %u", ev[0].rule, rule);
	expect_event_packet(&ev[0], in);
}

#endif /* EW_TEST_BPF_EXPECT_H */
