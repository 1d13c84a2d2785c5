/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Verdict reasons, one list for datapath, agent and tools. A reason below
 * EW_DROP_FIRST is a packet that went on; every other one is a drop.
 * Codes are ABI: append, never renumber.
 */
#ifndef EDGEWIRE_REASONS_H
#define EDGEWIRE_REASONS_H

/* X(NAME, code, short name, what it means) */
#define EW_REASONS(X)                                                              \
	X(FORWARD, 0, "forward", "redirected straight to a local pod")             \
	X(TO_STACK, 1, "to-stack", "handed to the node's IP stack")                \
	X(ARP_REPLY, 2, "arp-reply", "ARP request answered with the gateway MAC") \
	X(ENCAP, 3, "encap", "sent in VXLAN to the node that owns the pod")        \
	X(TO_UNDERLAY, 4, "to-underlay",                                           \
	  "NodePort reply sent out the underlay to its external client")           \
	X(PROXY, 5, "proxy", "handed to the L7 proxy, which checks each request")  \
	X(DROP_MALFORMED, 16, "malformed", "truncated or invalid header")          \
	X(DROP_UNSUPPORTED_L3, 17, "unsupported-l3",                               \
	  "ethertype other than IPv4 and ARP")                                     \
	X(DROP_UNKNOWN_SOURCE, 18, "unknown-source",                               \
	  "source is no pod known on this interface")                              \
	X(DROP_SPOOFED_SOURCE, 19, "spoofed-source",                               \
	  "source IP or MAC belongs to another pod or interface")                  \
	X(DROP_NO_ENDPOINT, 20, "no-endpoint",                                     \
	  "destination in this node's pod CIDR has no pod")                        \
	X(DROP_ARP_UNSUPPORTED, 21, "arp-unsupported",                             \
	  "ARP other than an IPv4 request or reply")                               \
	X(DROP_UNKNOWN_NODE, 22, "unknown-node",                                   \
	  "VXLAN from an address that is no node of the cluster")                  \
	X(DROP_VNI_MISMATCH, 23, "vni-mismatch",                                   \
	  "VXLAN with another VNI than the cluster's")                             \
	X(DROP_NO_NODE, 24, "no-node",                                             \
	  "destination in the cluster CIDR that no node owns")                     \
	X(DROP_ENCAP_FAILED, 25, "encap-failed",                                   \
	  "the kernel could not make room for the VXLAN headers")                  \
	X(DROP_NO_OVERLAY, 26, "no-overlay",                                       \
	  "destination on another node, but this node has no underlay interface") \
	X(DROP_NO_BACKEND, 27, "no-backend",                                       \
	  "service port with no ready backend")                                    \
	X(DROP_NAT_FAILED, 28, "nat-failed",                                       \
	  "no free source port to translate a NodePort connection to")             \
	X(DROP_NO_ROUTE, 29, "no-route",                                           \
	  "no route back to the external client of a NodePort reply")             \
	X(DROP_POLICY_DENIED, 30, "policy-denied",                                 \
	  "no network policy rule allows it")                                      \
	X(DROP_FRAGMENT, 31, "fragment",                                           \
	  "a later IP fragment of an isolated pod: its ports are unknown")         \
	X(DROP_POLICY_FAILED, 32, "policy-failed",                                 \
	  "the pod's policy could not be programmed: it fails closed")           \
	X(DROP_PROXY_UNREACHABLE, 33, "proxy-unreachable",                         \
	  "L7-policed, but the L7 proxy is not running or cannot be reached")

enum ew_reason {
#define EW_REASON_ENUM(name, code, str, desc) EW_REASON_##name = code,
	EW_REASONS(EW_REASON_ENUM)
#undef EW_REASON_ENUM
	EW_REASON_MAX = 64,
};

#define EW_DROP_FIRST EW_REASON_DROP_MALFORMED

static inline int ew_reason_is_drop(unsigned int reason)
{
	return reason >= EW_DROP_FIRST;
}

#endif /* EDGEWIRE_REASONS_H */
