// SPDX-License-Identifier: Apache-2.0
/*
 * The yardstick of the per-packet benchmark: a TC program that does nothing.
 * ew-bench-pkt runs it exactly as it runs from_container, so the ratio between
 * the two leaves out what BPF_PROG_TEST_RUN itself costs.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int trivial(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
