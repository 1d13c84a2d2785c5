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
 * underlay (TC and XDP alike). */
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
 * reason with len bytes in its program's direction, and nothing else
 * (UNCOUNTED: nothing). */
static inline void expect_outcome(const struct expect_run *run, const struct bh_result *res,
				  int verdict, uint32_t reason, size_t len,
				  const struct pkt *want)
{
	cr_assert(!want->overflow, "test packet does not fit");
	cr_expect_eq(res->retval, verdict, "verdict %s (%d), want %s (%d)",
		     bh_prog_verdict_name(run->prog, res->retval), res->retval,
		     bh_prog_verdict_name(run->prog, verdict), verdict);
	expect_bytes(res->data, res->len, want->data, want->len);
	expect_counted(&run->before, &run->after, reason, expect_prog_dir(run->prog), len);
}

/* run_counted() and expect_outcome() in one, for a want known beforehand
 * (NULL: the packet unchanged). The result stays in res. */
static inline void expect_run_on(struct bh *node, enum bh_prog prog, uint32_t ifindex,
				 const struct pkt *in, int verdict, uint32_t reason,
				 size_t len, const struct pkt *want, struct bh_result *res)
{
	struct expect_run run;

	run_counted(node, prog, ifindex, in, res, &run);
	expect_outcome(&run, res, verdict, reason, len, want ? want : in);
}

#endif /* EW_TEST_BPF_EXPECT_H */
