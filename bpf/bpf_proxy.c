// SPDX-License-Identifier: Apache-2.0
/*
 * The L7 proxy's events. User space cannot write a BPF ring buffer, so
 * edgewire-proxy runs this program (BPF_PROG_TEST_RUN, ctx = one struct
 * ew_http_event) for each request it judged: the event goes into ew_events
 * beside the datapath's, under the same per-CPU rate limit, and bpfctl
 * monitor shows them together. The program owns the time stamp and type;
 * everything else is the proxy's.
 */
#include "lib/common.h"
/* events.h's emitters of packets are the datapath's: this program has none. */
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wunused-function"
#include "lib/events.h"
#pragma clang diagnostic pop

SEC("syscall")
int emit_http_event(struct ew_http_event *ctx)
{
	struct ew_http_event e = *ctx;
	struct ew_event_stats *s;

	s = event_begin(&e.ev, EW_EVENT_HTTP, ctx->ev.reason, ctx->ev.dir, ctx->ev.rule);
	if (!s)
		return 0;
	e.ev.protocol = IPPROTO_TCP;
	e.ev.saddr = ctx->ev.saddr;
	e.ev.daddr = ctx->ev.daddr;
	e.ev.sport = ctx->ev.sport;
	e.ev.dport = ctx->ev.dport;
	e.ev.len = ctx->ev.len;
	event_send(s, &e, sizeof(e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
