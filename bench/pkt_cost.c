// SPDX-License-Identifier: Apache-2.0
/*
 * ew-bench-pkt: what one packet costs a datapath program, as a ratio to a
 * trivial TC program (bpf_trivial.c, returns TC_ACT_OK) measured the same way
 * in the same run.
 *
 * BPF_PROG_TEST_RUN with repeat=N runs a program N times over one buffer. A
 * program that rewrites the packet would meet its own output from the second
 * run on: from_container decrements the TTL and swaps both MACs, so every
 * later run would take another path (a spoofed-source drop) and be measured
 * instead. So each run here is its own BPF_PROG_TEST_RUN with repeat=1 on a
 * fresh copy of the input, every verdict is checked, and the loop is timed
 * two ways:
 *
 *   kernel_ns  the kernel's timing of the program run (opts.duration), summed
 *   wall_ns    the whole syscall: copying the packet in, building the skb
 *
 * Rounds alternate between the cases, so a noisy moment on this shared
 * machine falls on both. The first run of each case is checked byte for byte,
 * and the forward counter must have grown by exactly the number of runs.
 *
 * Output: one JSON object on stdout, per-round figures for each case.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/pkt_cls.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf_harness.h"
#include "bpf_trivial.skel.h"
#include "pkt.h"

#define DEFAULT_ITERATIONS 200000
#define DEFAULT_ROUNDS	   5
#define MAX_ROUNDS	   100
#define IF_HERE		   1 /* skb->ifindex of every run: pod A's host veth (lo) */
#define IF_B		   42

/* The node as the maps describe it (the same as tests/bpf/test_lxc.c). */
static const uint8_t MAC_A[ETH_ALEN] = { 0x02, 0x00, 0x00, 0x00, 0x01, 0x0a };
static const uint8_t GW_A[ETH_ALEN] = { 0xee, 0xee, 0xee, 0x00, 0x00, 0x01 };
static const uint8_t MAC_B[ETH_ALEN] = { 0x02, 0x00, 0x00, 0x00, 0x01, 0x14 };
static const uint8_t GW_B[ETH_ALEN] = { 0xee, 0xee, 0xee, 0x00, 0x00, 0x02 };
#define IP_A ip4(10, 0, 1, 10)
#define IP_B ip4(10, 0, 1, 20)

/* A full-size TCP segment, as bulk traffic between pods carries. */
#define PAYLOAD_LEN 1448

struct bench_case {
	const char *name;
	const char *program;
	int prog_fd;
	const struct pkt *in;
	const struct pkt *want; /* the packet after one run */
	int verdict;		/* every run must return this */
	double kernel_ns[MAX_ROUNDS];
	double wall_ns[MAX_ROUNDS];
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ew-bench-pkt [--iterations N] [--rounds R]\n"
		"\n"
		"Per-packet cost of the pod forward path (from_container, bpf/bpf_lxc.c, on a\n"
		"TCP segment to a pod on this node) and of a trivial TC program, each run N\n"
		"times per round with BPF_PROG_TEST_RUN repeat=1, R rounds alternating.\n"
		"Prints JSON on stdout. Needs root (or CAP_BPF and CAP_NET_ADMIN).\n"
		"\n"
		"  --iterations N   runs per case and round (default %d)\n"
		"  --rounds R       rounds (default %d, at most %d)\n",
		DEFAULT_ITERATIONS, DEFAULT_ROUNDS, MAX_ROUNDS);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void tcp_segment(struct pkt *p, const uint8_t *eth_src, const uint8_t *eth_dst,
			uint8_t ttl)
{
	static uint8_t payload[PAYLOAD_LEN];

	pkt_init(p);
	pkt_eth(p, eth_src, eth_dst, ETH_P_IP);
	pkt_ipv4(p, IP_A, IP_B, IPPROTO_TCP, ttl);
	pkt_tcp(p, 40000, 5201, TH_ACK);
	pkt_payload(p, payload, sizeof(payload));
	pkt_finish(p);
}

/* One run with the output copied back: the verdict and the exact bytes. */
static int check_first_run(const struct bench_case *c, uint32_t ifindex)
{
	static struct bh_result res;
	struct __sk_buff ctx = { .ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = c->in->data,
		    .data_size_in = (__u32)c->in->len, .data_out = res.data,
		    .data_size_out = sizeof(res.data), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);

	if (bpf_prog_test_run_opts(c->prog_fd, &opts)) {
		fprintf(stderr, "ew-bench-pkt: %s: BPF_PROG_TEST_RUN failed: %s\n", c->name,
			strerror(errno));
		return -1;
	}
	if ((int)opts.retval != c->verdict) {
		fprintf(stderr, "ew-bench-pkt: %s: verdict %s (%u), expected %s\n", c->name,
			bh_verdict_name((int)opts.retval), opts.retval,
			bh_verdict_name(c->verdict));
		return -1;
	}
	if (pkt_first_diff(res.data, opts.data_size_out, c->want->data, c->want->len) >= 0) {
		fprintf(stderr, "ew-bench-pkt: %s: the packet after one run is not the "
				"expected one (byte %ld differs)\n",
			c->name,
			pkt_first_diff(res.data, opts.data_size_out, c->want->data,
				       c->want->len));
		return -1;
	}
	return 0;
}

/* iterations runs of one case, each a BPF_PROG_TEST_RUN with repeat=1; the
 * packet is not copied back (data_out is NULL), so the kernel reads a fresh
 * copy of the input every time. */
static int run_round(struct bench_case *c, int round, long iterations, uint32_t ifindex)
{
	struct __sk_buff ctx = { .ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = c->in->data,
		    .data_size_in = (__u32)c->in->len, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);
	double kernel = 0, start;
	long i;

	start = now_ns();
	for (i = 0; i < iterations; i++) {
		if (bpf_prog_test_run_opts(c->prog_fd, &opts)) {
			fprintf(stderr, "ew-bench-pkt: %s: BPF_PROG_TEST_RUN failed: %s\n",
				c->name, strerror(errno));
			return -1;
		}
		if ((int)opts.retval != c->verdict) {
			fprintf(stderr, "ew-bench-pkt: %s: run %ld returned %s, expected %s\n",
				c->name, i, bh_verdict_name((int)opts.retval),
				bh_verdict_name(c->verdict));
			return -1;
		}
		kernel += opts.duration;
	}
	if (round >= 0) {
		c->wall_ns[round] = (now_ns() - start) / (double)iterations;
		c->kernel_ns[round] = kernel / (double)iterations;
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
		       int rounds)
{
	int i;

	printf("{\"iterations\":%ld,\"rounds\":%d,\"packet_bytes\":%zu,\"cases\":[",
	       iterations, rounds, cases[0].in->len);
	for (i = 0; i < ncases; i++) {
		const struct bench_case *c = &cases[i];

		printf("%s{\"name\":\"%s\",\"program\":\"%s\",\"verdict\":\"%s\",", i ? "," : "",
		       c->name, c->program, bh_verdict_name(c->verdict));
		print_series("kernel_ns", c->kernel_ns, rounds);
		printf(",");
		print_series("wall_ns", c->wall_ns, rounds);
		printf("}");
	}
	printf("]}\n");
}

static long forward_packets(struct bh *h)
{
	struct bh_counters c;

	if (bh_counters_read(h, &c))
		return -1;
	return (long)c.m[ew_metrics_index(EW_REASON_FORWARD, EW_DIR_EGRESS)].packets;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "iterations", required_argument, NULL, 'n' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static struct bench_case cases[2];
	const int ncases = (int)(sizeof(cases) / sizeof(cases[0]));
	struct bpf_trivial *trivial = NULL;
	static struct pkt in, want;
	struct bh h = { 0 };
	long iterations = DEFAULT_ITERATIONS, warmup, fwd_before, fwd_after, fwd_runs;
	int rounds = DEFAULT_ROUNDS, opt, round, i, ret = 1;
	char *end;

	while ((opt = getopt_long(argc, argv, "n:r:h", longopts, NULL)) != -1) {
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
	warmup = iterations / 10 + 1;

	/* pod A (on the device the runs arrive on) sends to pod B on this node */
	if (bh_open(&h, NULL) || bh_add_endpoint(&h, IP_A, IF_HERE, MAC_A, GW_A) ||
	    bh_add_endpoint(&h, IP_B, IF_B, MAC_B, GW_B))
		goto cleanup;
	tcp_segment(&in, MAC_A, GW_A, 64);
	tcp_segment(&want, GW_B, MAC_B, 63); /* a router hop: B's link, TTL one less */

	trivial = bpf_trivial__open_and_load();
	if (!trivial) {
		fprintf(stderr, "ew-bench-pkt: cannot load bpf_trivial: %s (run as root)\n",
			strerror(errno));
		goto cleanup;
	}

	cases[0] = (struct bench_case){
		.name = "trivial", .program = "bpf_trivial.c:trivial",
		.prog_fd = bpf_program__fd(trivial->progs.trivial),
		.in = &in, .want = &in, .verdict = TC_ACT_OK,
	};
	cases[1] = (struct bench_case){
		.name = "pod_forward", .program = "bpf_lxc.c:from_container",
		.prog_fd = h.prog_fd, .in = &in, .want = &want,
		.verdict = TC_ACT_REDIRECT,
	};

	fwd_before = forward_packets(&h);
	for (i = 0; i < ncases; i++) {
		if (check_first_run(&cases[i], IF_HERE) ||
		    run_round(&cases[i], -1, warmup, IF_HERE))
			goto cleanup;
	}
	for (round = 0; round < rounds; round++) {
		for (i = 0; i < ncases; i++) {
			if (run_round(&cases[i], round, iterations, IF_HERE))
				goto cleanup;
		}
	}
	/* every run of the forward case took the forward path, once */
	fwd_after = forward_packets(&h);
	fwd_runs = 1 + warmup + (long)rounds * iterations;
	if (fwd_before < 0 || fwd_after - fwd_before != fwd_runs) {
		fprintf(stderr, "ew-bench-pkt: the forward counter grew by %ld, expected %ld\n",
			fwd_after - fwd_before, fwd_runs);
		goto cleanup;
	}
	print_json(cases, ncases, iterations, rounds);
	ret = 0;

cleanup:
	bpf_trivial__destroy(trivial);
	bh_close(&h);
	return ret;
}
