// SPDX-License-Identifier: Apache-2.0
/*
 * XDP on the node's underlay interface: NodePort. A connection from outside
 * to this node's address on a node port is balanced here, before the kernel
 * allocates anything for the packet:
 *
 *   client -> node:nodePort   becomes  client -> pod:port       (local pod)
 *                                      node:port' -> pod:port   (pod elsewhere)
 *
 * and passed on: the stack routes it to a local pod (with the pod's MTU), and
 * from_underlay (bpf_overlay.c) sends it in VXLAN to a pod's node elsewhere.
 * Replies are translated back at TC, where the kernel's route and neighbour
 * take them to the client: a local pod's in from_container (bpf_lxc.c), and
 * a remote pod's, which come to this node's address, in from_underlay.
 */
#include "lib/common.h"
#include "lib/config.h"
#include "lib/conntrack.h"
#include "lib/lb.h"
#include "lib/metrics.h"
#include "lib/nat.h"
#include "lib/parse.h"

/* A TCP or UDP packet to this node, parsed whole. */
struct l4_packet {
	struct ethhdr *eth;
	struct iphdr *iph;
	void *l4;	/* the TCP or UDP header: its first 8 bytes at least */
	__sum16 *check; /* its checksum */
	struct ew_ct_key tuple;
};

static __always_inline bool parse_l4_packet(struct xdp_md *ctx, struct l4_packet *p)
{
	struct cursor c = {
		.pos = (void *)(long)ctx->data, .end = (void *)(long)ctx->data_end,
	};
	__u32 check_off;

	p->eth = parse_ethhdr(&c);
	if (!p->eth || p->eth->h_proto != bpf_htons(ETH_P_IP))
		return false;
	p->iph = parse_iphdr(&c);
	if (!p->iph || !ct_tuple(p->iph, &c, &p->tuple))
		return false;
	/* The ports in the first 8 bytes of both headers; the checksum, whose
	 * offset depends on the protocol, checked on its own: the verifier
	 * cannot tie a header length to the protocol field. */
	p->l4 = cursor_pull(&c, sizeof(struct udphdr));
	if (!p->l4)
		return false;
	check_off = p->tuple.proto == IPPROTO_TCP ? offsetof(struct tcphdr, check) :
						    offsetof(struct udphdr, check);
	p->check = p->l4 + check_off;
	return (void *)(p->check + 1) <= c.end;
}

static __always_inline int nodeport_to_backend(struct xdp_md *ctx, struct l4_packet *p,
					       const struct ew_lb_frontend *fe)
{
	struct lb_xlate x;
	int reason = lb4_xlate(&p->tuple, fe, true, &x);

	if (reason != EW_REASON_FORWARD)
		return drop_xdp(ctx, reason, EW_DIR_INGRESS);
	nat4_xdp(p->iph, p->l4, p->check, NAT_DST, x.daddr, x.dport);
	nat4_xdp(p->iph, p->l4, p->check, NAT_SRC, x.saddr, x.sport);
	return XDP_PASS;
}

SEC("xdp")
int from_netdev(struct xdp_md *ctx)
{
	struct ew_config *cfg = config_get();
	struct ew_lb_frontend *fe;
	struct l4_packet p;

	if (!cfg || !parse_l4_packet(ctx, &p) || p.tuple.daddr != cfg->node_ip)
		return XDP_PASS;
	if (p.tuple.proto == IPPROTO_UDP && p.tuple.dport == cfg->vxlan_port)
		return XDP_PASS;
	fe = lb_frontend(&p.tuple);
	if (fe && (fe->flags & EW_LB_NODEPORT))
		return nodeport_to_backend(ctx, &p, fe);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
