/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The L7 proxy's packets. A connection that policy allows only through the
 * proxy (EW_REASON_PROXY) is handed to edgewire-proxy in this node's
 * namespace with bpf_sk_assign(): its first packet to the proxy's listener,
 * the rest to the socket the proxy accepted for it (whose local address is
 * the server's, so the tuple finds it). EW_MARK_TO_PROXY makes the policy
 * route deliver them locally. No listener, no delivery: the connection
 * fails closed.
 *
 * The proxy reaches the server from the client's address, so the server's
 * replies are addressed to a pod, not to this node: where a pod has L7
 * entries (EW_EP_*_L7), a packet between it and a peer is first offered to
 * the proxy's socket of that tuple. Only TCP is proxied; bpf_sk_assign()
 * works at TC ingress only, where every caller is.
 */
#ifndef EW_BPF_PROXY_H
#define EW_BPF_PROXY_H

#include "common.h"
#include "metrics.h"
#include "policy.h"

#ifndef BPF_F_CURRENT_NETNS
#define BPF_F_CURRENT_NETNS (-1L)
#endif

static __always_inline struct bpf_sock_tuple proxy_tuple(const struct ew_ct_key *t)
{
	return (struct bpf_sock_tuple){
		.ipv4 = { .saddr = t->saddr, .daddr = t->daddr, .sport = t->sport, .dport = t->dport },
	};
}

/* The socket of this namespace that tuple reaches, in the state listen
 * says; NULL when none. The caller releases it. */
static __always_inline struct bpf_sock *proxy_socket(struct __sk_buff *skb,
						     struct bpf_sock_tuple *tuple, bool listen)
{
	struct bpf_sock *sk = bpf_skc_lookup_tcp(skb, tuple, sizeof(tuple->ipv4),
						 BPF_F_CURRENT_NETNS, 0);

	if (sk && (sk->state == BPF_TCP_LISTEN) != listen) {
		bpf_sk_release(sk);
		return NULL;
	}
	return sk;
}

/* Delivers skb to sk, releasing it. */
static __always_inline int proxy_deliver(struct __sk_buff *skb, struct bpf_sock *sk,
					 enum ew_dir dir)
{
	long err = bpf_sk_assign(skb, sk, 0);

	bpf_sk_release(sk);
	if (err)
		return drop(skb, EW_REASON_DROP_PROXY_UNREACHABLE, dir);
	/* volatile: the context takes whole-word stores only */
	*(volatile __u32 *)&skb->mark = (skb->mark & ~EW_MARK_MASK) | EW_MARK_TO_PROXY;
	count(skb, EW_REASON_PROXY, dir);
	return TC_ACT_OK;
}

/* The proxy's upstream socket a packet t between an L7 pod and its peer is
 * for, or NULL (released by proxy_deliver()). */
static __always_inline struct bpf_sock *proxy_upstream(struct __sk_buff *skb,
						       const struct ew_ct_key *t)
{
	struct bpf_sock_tuple tuple = proxy_tuple(t);

	if (t->proto != IPPROTO_TCP)
		return NULL;
	return proxy_socket(skb, &tuple, false);
}

/* A client's packet t of a connection the proxy checks: to the proxy. */
static __always_inline int to_proxy(struct __sk_buff *skb, const struct ew_ct_key *t,
				    enum ew_dir dir)
{
	struct bpf_sock_tuple tuple = proxy_tuple(t);
	struct bpf_sock *sk;

	if (t->proto != IPPROTO_TCP)
		return drop(skb, EW_REASON_DROP_PROXY_UNREACHABLE, dir);
	sk = proxy_socket(skb, &tuple, false);
	if (sk)
		return proxy_deliver(skb, sk, dir);
	tuple.ipv4.daddr = bpf_htonl(EW_PROXY_ADDR);
	tuple.ipv4.dport = bpf_htons(EW_PROXY_PORT);
	sk = proxy_socket(skb, &tuple, true);
	if (!sk)
		return drop(skb, EW_REASON_DROP_PROXY_UNREACHABLE, dir);
	return proxy_deliver(skb, sk, dir);
}

/* to_proxy(), tracking the connection t opens once the proxy has it. */
static __always_inline int to_proxy_tracked(struct __sk_buff *skb, const struct ew_ct_key *t,
					    const struct policy_open *open, enum ew_dir dir)
{
	int ret = to_proxy(skb, t, dir);

	if (ret == TC_ACT_OK && open->track)
		policy_track(skb, t, open);
	return ret;
}

#endif /* EW_BPF_PROXY_H */
