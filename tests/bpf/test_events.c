// SPDX-License-Identifier: Apache-2.0
/*
 * Drop events (bpf/lib/events.h) from the real from_container: a drop puts
 * exactly one record into ew_events, read back as bpfctl monitor reads it
 * (ring_buffer__new on the map, then ring_buffer__consume); a forward puts
 * none; the per-CPU token bucket lets EW_EVENT_BURST events through at once
 * and EW_EVENT_RATE a second after that, counting the rest as suppressed.
 *
 * The node is test_lxc.c's: 10.0.1.0/24 is this node's pod CIDR, pod A
 * (10.0.1.10) is on ifindex 1, where every packet arrives, pod B on 42. For
 * from_underlay (the same maps) the node is 192.168.0.1 and 192.168.0.2 is
 * the one other node of the cluster.
 *
 * The bucket is per CPU, and BPF_PROG_TEST_RUN runs the program on the
 * caller's CPU: the fixture pins the test process to one CPU so every run
 * draws from the same bucket.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include <linux/pkt_cls.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf_harness.h"
#include "bpf_lxc.skel.h"
#include "overlay_nodes.h"
#include "pkt.h"

#define IF_HERE 1
#define IF_B	42

#define NS_PER_MS     1000000ULL
#define NS_PER_TOKEN  (1000000000ULL / EW_EVENT_RATE)
#define MAX_COLLECTED 4096

static const uint8_t MAC_A[ETH_ALEN] = { 0x02, 0x00, 0x00, 0x00, 0x01, 0x0a };
static const uint8_t GW_A[ETH_ALEN] = { 0xee, 0xee, 0xee, 0x00, 0x00, 0x01 };
static const uint8_t MAC_B[ETH_ALEN] = { 0x02, 0x00, 0x00, 0x00, 0x01, 0x14 };
static const uint8_t GW_B[ETH_ALEN] = { 0xee, 0xee, 0xee, 0x00, 0x00, 0x02 };

#define IP_A	 ip4(10, 0, 1, 10)
#define IP_B	 ip4(10, 0, 1, 20)
#define IP_NOPOD ip4(10, 0, 1, 99) /* local CIDR, no pod: no-endpoint */
#define IP_WORLD ip4(8, 8, 8, 8)   /* outside every route: to-stack */
#define IP_C	 ip4(10, 0, 2, 5)  /* a pod on node 2 */

#define NODE_UNKNOWN ip4(192, 168, 0, 77) /* no node of the cluster */
#define SPORT_IN     50000 /* outer UDP source port of VXLAN from node 2 */

static struct bh h;
static struct bh_result res;
static struct ring_buffer *ring;

/* Every record ring_buffer__consume() handed over, in order. */
static struct {
	struct ew_event ev[MAX_COLLECTED];
	size_t n;
	size_t bad_size; /* records that were no struct ew_event */
} got;

static int collect(void *ctx, void *data, size_t size)
{
	if (size != sizeof(struct ew_event)) {
		got.bad_size++;
		return 0;
	}
	if (got.n < MAX_COLLECTED)
		memcpy(&got.ev[got.n], data, sizeof(struct ew_event));
	got.n++;
	return 0;
}

/* One CPU, one bucket: see the comment at the top. */
static void pin_to_this_cpu(void)
{
	int cpu = sched_getcpu();
	cpu_set_t set;

	cr_assert_geq(cpu, 0, "sched_getcpu: %s", strerror(errno));
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	cr_assert_eq(sched_setaffinity(0, sizeof(set), &set), 0,
		     "cannot pin the test to CPU %d: %s", cpu, strerror(errno));
}

static void events_setup(void)
{
	int err;

	if (!bh_privileged())
		cr_skip_test("loading BPF programs needs root (or CAP_BPF and CAP_NET_ADMIN)");
	pin_to_this_cpu();
	err = bh_open(&h, NULL);
	cr_assert_eq(err, 0, "cannot load bpf_lxc: %s", strerror(-err));
	cr_assert_eq(bh_add_route(&h, ip4(10, 0, 1, 0), 24, ip4(192, 168, 0, 1),
				  EW_ROUTE_LOCAL), 0);
	cr_assert_eq(bh_add_endpoint(&h, IP_A, IF_HERE, MAC_A, GW_A), 0);
	cr_assert_eq(bh_add_endpoint(&h, IP_B, IF_B, MAC_B, GW_B), 0);
	cr_assert_eq(bh_add_node(&h, NODE2), 0);
	cr_assert_eq(bh_set_config(&h, &(struct ew_config){
		.abi_version = EW_ABI_VERSION,
		.node_ip = NODE1,
		.underlay_ifindex = IF_HERE,
		.vni = EW_VXLAN_VNI_DEFAULT,
		.vxlan_port = htons(EW_VXLAN_PORT_DEFAULT),
	}), 0);
	ring = ring_buffer__new(bpf_map__fd(h.skel->maps.ew_events), collect, NULL, NULL);
	cr_assert_not_null(ring, "ring_buffer__new on ew_events: %s", strerror(errno));
	memset(&got, 0, sizeof(got));
}

static void events_teardown(void)
{
	ring_buffer__free(ring);
	ring = NULL;
	bh_close(&h);
}

TestSuite(events, .init = events_setup, .fini = events_teardown);

/* --- helpers ---------------------------------------------------------------------- */

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Pod A sends proto (TCP 40000->80, UDP 40000->53 or an ICMP echo) to daddr. */
static void from_a(struct pkt *p, uint32_t daddr, uint8_t proto)
{
	pkt_init(p);
	pkt_eth(p, MAC_A, GW_A, ETH_P_IP);
	pkt_ipv4(p, IP_A, daddr, proto, 64);
	switch (proto) {
	case IPPROTO_TCP:
		pkt_tcp(p, 40000, 80, TH_SYN);
		break;
	case IPPROTO_UDP:
		pkt_udp(p, 40000, 53);
		break;
	case IPPROTO_ICMP:
		pkt_icmp_echo(p, 0x4242, 7);
		break;
	}
	pkt_payload(p, "edgewire", 8);
	pkt_finish(p);
	cr_assert(!p->overflow, "test packet does not fit");
}

static void run_expect(const struct pkt *p, int verdict)
{
	int err = bh_run_pkt(&h, p, IF_HERE, &res);

	cr_assert_eq(err, 0, "BPF_PROG_TEST_RUN failed: %s", strerror(-err));
	cr_assert_eq(res.retval, verdict, "verdict %s, expected %s",
		     bh_verdict_name(res.retval), bh_verdict_name(verdict));
}

/* Hands every record in the ring to collect(); returns how many. */
static size_t consume(void)
{
	size_t before = got.n;
	int n = ring_buffer__consume(ring);

	cr_assert_geq(n, 0, "ring_buffer__consume: %s", strerror(-n));
	cr_assert_eq(got.bad_size, 0, "a record of the wrong size was in the ring");
	return got.n - before;
}

/* ew_event_stats summed over CPUs. */
static struct ew_event_stats stats_read(void)
{
	int ncpus = libbpf_num_possible_cpus();
	struct ew_event_stats sum = { 0 };
	__u32 zero = 0;

	cr_assert_gt(ncpus, 0);
	struct ew_event_stats per_cpu[ncpus];

	cr_assert_eq(bpf_map_lookup_elem(bpf_map__fd(h.skel->maps.ew_event_stats),
					 &zero, per_cpu), 0,
		     "cannot read ew_event_stats: %s", strerror(errno));
	for (int cpu = 0; cpu < ncpus; cpu++) {
		sum.emitted += per_cpu[cpu].emitted;
		sum.suppressed += per_cpu[cpu].suppressed;
		sum.lost += per_cpu[cpu].lost;
	}
	return sum;
}

/* n packets pod A sends to a pod-less address of this node: n drops. */
static void drop_burst(unsigned int n)
{
	struct pkt p;

	from_a(&p, IP_NOPOD, IPPROTO_UDP);
	for (unsigned int i = 0; i < n; i++)
		run_expect(&p, TC_ACT_SHOT);
}

/* The tokens a bucket can have gained in elapsed_ns: whole ticks, plus one
 * for a tick boundary that fell inside the interval. */
static uint64_t refill_bound(uint64_t elapsed_ns)
{
	return elapsed_ns / NS_PER_TOKEN + 1;
}

/* --- one event per drop ----------------------------------------------------------------- */

/* The one event of a no-endpoint drop of p, as from_container sees it. */
static void expect_drop_event(const struct ew_event *e, const struct pkt *p,
			      uint8_t proto, uint16_t sport, uint16_t dport,
			      uint64_t t0, uint64_t t1)
{
	cr_expect_eq(e->type, EW_EVENT_DROP);
	cr_expect_eq(e->reason, EW_REASON_DROP_NO_ENDPOINT, "reason %s",
		     bh_reason_name(e->reason));
	cr_expect_eq(e->dir, EW_DIR_EGRESS);
	cr_expect_eq(e->protocol, proto);
	cr_expect_eq(e->ifindex, IF_HERE);
	cr_expect_eq(e->saddr, IP_A);
	cr_expect_eq(e->daddr, IP_NOPOD);
	cr_expect_eq(ntohs(e->sport), sport);
	cr_expect_eq(ntohs(e->dport), dport);
	cr_expect_eq(e->len, p->len);
	cr_expect(e->ts_ns >= t0 && e->ts_ns <= t1,
		  "ts_ns %llu is not CLOCK_MONOTONIC during the run [%llu, %llu]",
		  (unsigned long long)e->ts_ns, (unsigned long long)t0,
		  (unsigned long long)t1);
}

static void drop_gives_one_event(uint8_t proto, uint16_t sport, uint16_t dport)
{
	struct pkt p;
	uint64_t t0, t1;
	struct ew_event_stats s;

	from_a(&p, IP_NOPOD, proto);
	t0 = monotonic_ns();
	run_expect(&p, TC_ACT_SHOT);
	t1 = monotonic_ns();

	cr_assert_eq(consume(), 1, "a drop must put exactly one record in the ring");
	expect_drop_event(&got.ev[0], &p, proto, sport, dport, t0, t1);
	s = stats_read();
	cr_expect_eq(s.emitted, 1);
	cr_expect_eq(s.suppressed, 0);
	cr_expect_eq(s.lost, 0);
}

Test(events, tcp_drop_gives_one_event_with_ports)
{
	drop_gives_one_event(IPPROTO_TCP, 40000, 80);
}

Test(events, udp_drop_gives_one_event_with_ports)
{
	drop_gives_one_event(IPPROTO_UDP, 40000, 53);
}

Test(events, icmp_drop_gives_one_event_without_ports)
{
	drop_gives_one_event(IPPROTO_ICMP, 0, 0);
}

Test(events, forwards_and_stack_traffic_give_no_event)
{
	struct pkt p;
	struct ew_event_stats s;

	from_a(&p, IP_B, IPPROTO_TCP);
	run_expect(&p, TC_ACT_REDIRECT);
	from_a(&p, IP_WORLD, IPPROTO_UDP);
	run_expect(&p, TC_ACT_OK);

	cr_expect_eq(consume(), 0, "only drops are events");
	s = stats_read();
	cr_expect_eq(s.emitted + s.suppressed + s.lost, 0);
}

/* A TCP header cut after the source port: the ports are not in the packet,
 * so both stay 0, while the IPv4 header still names the flow. */
Test(events, truncated_l4_header_gives_no_ports)
{
	struct pkt p;

	from_a(&p, IP_NOPOD, IPPROTO_TCP);
	pkt_truncate(&p, ETH_HLEN + sizeof(struct iphdr) + 2);
	run_expect(&p, TC_ACT_SHOT);

	cr_assert_eq(consume(), 1);
	cr_expect_eq(got.ev[0].reason, EW_REASON_DROP_NO_ENDPOINT);
	cr_expect_eq(got.ev[0].protocol, IPPROTO_TCP);
	cr_expect_eq(got.ev[0].saddr, IP_A);
	cr_expect_eq(got.ev[0].daddr, IP_NOPOD);
	cr_expect_eq(got.ev[0].sport, 0);
	cr_expect_eq(got.ev[0].dport, 0);
	cr_expect_eq(got.ev[0].len, ETH_HLEN + sizeof(struct iphdr) + 2);
}

/* A later fragment carries payload where the ports would be: none are read. */
Test(events, later_fragment_gives_no_ports)
{
	struct pkt p;

	from_a(&p, IP_NOPOD, IPPROTO_UDP);
	pkt_ipv4_hdr(&p)->frag_off = htons(185); /* offset 1480 bytes */
	pkt_finish(&p);
	run_expect(&p, TC_ACT_SHOT);

	cr_assert_eq(consume(), 1);
	cr_expect_eq(got.ev[0].protocol, IPPROTO_UDP);
	cr_expect_eq(got.ev[0].daddr, IP_NOPOD);
	cr_expect_eq(got.ev[0].sport, 0);
	cr_expect_eq(got.ev[0].dport, 0);
}

/* Not IPv4: the event has the reason and length, no addresses. */
Test(events, ipv6_drop_gives_event_without_addresses)
{
	static const uint8_t src[16] = { 0xfd, [15] = 1 }, dst[16] = { 0xfd, [15] = 2 };
	struct pkt p;

	pkt_init(&p);
	pkt_eth(&p, MAC_A, GW_A, ETH_P_IPV6);
	pkt_ipv6(&p, src, dst, IPPROTO_UDP, 64);
	pkt_udp(&p, 40000, 53);
	pkt_finish(&p);
	cr_assert(!p.overflow);
	run_expect(&p, TC_ACT_SHOT);

	cr_assert_eq(consume(), 1);
	cr_expect_eq(got.ev[0].reason, EW_REASON_DROP_UNSUPPORTED_L3, "reason %s",
		     bh_reason_name(got.ev[0].reason));
	cr_expect_eq(got.ev[0].protocol, 0);
	cr_expect_eq(got.ev[0].saddr, 0);
	cr_expect_eq(got.ev[0].daddr, 0);
	cr_expect_eq(got.ev[0].sport, 0);
	cr_expect_eq(got.ev[0].dport, 0);
	cr_expect_eq(got.ev[0].len, p.len);
}

/* --- the rate limit ------------------------------------------------------------------------ */

/* A fresh bucket is full: a burst of drops gets EW_EVENT_BURST events, plus
 * what refills while the loop runs, and every other drop is suppressed. */
Test(events, burst_is_capped_and_the_rest_suppressed)
{
	const unsigned int n = 5 * EW_EVENT_BURST;
	uint64_t t0, elapsed;
	struct ew_event_stats s;
	size_t events;

	t0 = monotonic_ns();
	drop_burst(n);
	elapsed = monotonic_ns() - t0;
	events = consume();
	s = stats_read();

	cr_expect_geq(events, EW_EVENT_BURST, "only %zu events for a full bucket", events);
	cr_expect_leq(events, EW_EVENT_BURST + refill_bound(elapsed),
		      "%zu events in %llu us: more than the burst and refill allow",
		      events, (unsigned long long)(elapsed / 1000));
	cr_expect_eq(s.emitted, events, "emitted %llu, ring had %zu",
		     (unsigned long long)s.emitted, events);
	cr_expect_eq(s.suppressed, n - events);
	cr_expect_eq(s.lost, 0);
}

/* An empty bucket refills at EW_EVENT_RATE: ~0.2 s would be ~200 tokens,
 * but a bucket never holds more than EW_EVENT_BURST. */
Test(events, refill_is_capped_at_the_burst)
{
	const unsigned int n = 5 * EW_EVENT_BURST;
	struct timespec pause = { .tv_nsec = 200 * NS_PER_MS };
	uint64_t t0, elapsed;
	size_t events;

	drop_burst(n);
	consume();
	nanosleep(&pause, NULL);
	t0 = monotonic_ns();
	drop_burst(n);
	elapsed = monotonic_ns() - t0;
	events = consume();

	cr_expect_geq(events, EW_EVENT_BURST, "only %zu events after 0.2 s", events);
	cr_expect_leq(events, EW_EVENT_BURST + refill_bound(elapsed),
		      "%zu events after 0.2 s: the bucket held more than the burst",
		      events);
}

/* Below the burst the refill is proportional: after 20 ms an empty bucket
 * has about 20 tokens, never fewer than the whole ticks slept. */
Test(events, partial_refill_follows_the_rate)
{
	const unsigned int n = 5 * EW_EVENT_BURST;
	const uint64_t sleep_ns = 20 * NS_PER_MS;
	struct timespec pause = { .tv_nsec = (long)sleep_ns };
	uint64_t t_empty, elapsed;
	size_t events;

	/* The bucket's clock stands at most a tick before its last draw, and
	 * that draw comes after t_empty. */
	drop_burst(n - 1);
	t_empty = monotonic_ns();
	drop_burst(1);
	consume();
	nanosleep(&pause, NULL);
	drop_burst(n);
	elapsed = monotonic_ns() - t_empty;
	events = consume();

	cr_expect_geq(events, sleep_ns / NS_PER_TOKEN - 1,
		      "%zu events after 20 ms, expected about %llu", events,
		      (unsigned long long)(sleep_ns / NS_PER_TOKEN));
	cr_expect_leq(events, refill_bound(elapsed) + 1,
		      "%zu events in %llu us since the bucket was empty", events,
		      (unsigned long long)(elapsed / 1000));
}

/* --- drops on the underlay ----------------------------------------------------------- */

/* VXLAN from outer_src to this node around a TCP SYN from pod C to daddr. */
static void vxlan_to_node1(struct pkt *p, uint32_t outer_src, uint32_t daddr)
{
	pkt_init(p);
	pkt_eth(p, U2, U1, ETH_P_IP);
	pkt_ipv4(p, outer_src, NODE1, IPPROTO_UDP, 64);
	pkt_udp(p, SPORT_IN, EW_VXLAN_PORT_DEFAULT);
	pkt_vxlan(p, EW_VXLAN_VNI_DEFAULT);
	pkt_eth(p, V2, V1, ETH_P_IP);
	pkt_ipv4(p, IP_C, daddr, IPPROTO_TCP, 63);
	pkt_tcp(p, 40000, 80, TH_SYN);
	pkt_finish(p);
	cr_assert(!p->overflow, "test packet does not fit");
}

static void run_underlay_expect_drop(const struct pkt *p)
{
	int err = bh_run_underlay_pkt(&h, p, IF_HERE, &res);

	cr_assert_eq(err, 0, "BPF_PROG_TEST_RUN failed: %s", strerror(-err));
	cr_assert_eq(res.retval, TC_ACT_SHOT, "verdict %s, expected TC_ACT_SHOT",
		     bh_verdict_name(res.retval));
}

/* Refused before decap: the event is the outer packet, entering a pod's
 * direction (ingress). */
Test(events, vxlan_from_unknown_node_is_an_ingress_event_of_the_outer_packet)
{
	struct pkt p;
	const struct ew_event *e = &got.ev[0];

	vxlan_to_node1(&p, NODE_UNKNOWN, IP_A);
	run_underlay_expect_drop(&p);

	cr_assert_eq(consume(), 1);
	cr_expect_eq(e->reason, EW_REASON_DROP_UNKNOWN_NODE, "reason %s",
		     bh_reason_name(e->reason));
	cr_expect_eq(e->dir, EW_DIR_INGRESS);
	cr_expect_eq(e->ifindex, IF_HERE);
	cr_expect_eq(e->protocol, IPPROTO_UDP);
	cr_expect_eq(e->saddr, NODE_UNKNOWN);
	cr_expect_eq(e->daddr, NODE1);
	cr_expect_eq(ntohs(e->sport), SPORT_IN);
	cr_expect_eq(ntohs(e->dport), EW_VXLAN_PORT_DEFAULT);
	cr_expect_eq(e->len, p.len);
}

/* Dropped after decap: the event is the inner packet, pod C's flow. */
Test(events, decapsulated_drop_is_an_event_of_the_inner_packet)
{
	struct pkt p;
	const struct ew_event *e = &got.ev[0];

	vxlan_to_node1(&p, NODE2, IP_NOPOD);
	run_underlay_expect_drop(&p);

	cr_assert_eq(consume(), 1);
	cr_expect_eq(e->reason, EW_REASON_DROP_NO_ENDPOINT, "reason %s",
		     bh_reason_name(e->reason));
	cr_expect_eq(e->dir, EW_DIR_INGRESS);
	cr_expect_eq(e->protocol, IPPROTO_TCP);
	cr_expect_eq(e->saddr, IP_C);
	cr_expect_eq(e->daddr, IP_NOPOD);
	cr_expect_eq(ntohs(e->sport), 40000);
	cr_expect_eq(ntohs(e->dport), 80);
	cr_expect_eq(e->len, p.len - EW_VXLAN_OVERHEAD);
}
