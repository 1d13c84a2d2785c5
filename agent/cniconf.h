/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node's CNI network config, written by the agent because only it knows
 * the node's pod CIDR (as flannel and Cilium do): container runtimes read it
 * from /etc/cni/net.d and run edgewire-cni with it.
 */
#ifndef EW_CNICONF_H
#define EW_CNICONF_H

#include <stdint.h>

/* Writes the conflist at path if its content would change; atomic. An mtu
 * of 0 leaves the pods' MTU to the kernel. */
int ew_cniconf_write(const char *path, const char *agent_socket,
		     uint32_t pod_cidr, uint8_t prefixlen, int mtu);

#endif /* EW_CNICONF_H */
