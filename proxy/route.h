/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policy route that delivers the datapath's EW_MARK_TO_PROXY packets to
 * this node's sockets (the proxy's, which bpf_sk_assign() chose):
 *
 *   ip rule add fwmark EW_MARK_TO_PROXY/EW_MARK_MASK lookup EW_PROXY_ROUTE_TABLE
 *           pref EW_PROXY_RULE_PREF
 *   ip route replace local 0.0.0.0/0 dev lo table EW_PROXY_ROUTE_TABLE
 *
 * Installed at start if missing and left in place at exit: without the
 * proxy's socket the datapath fails closed anyway.
 */
#ifndef EW_PROXY_ROUTE_H
#define EW_PROXY_ROUTE_H

/* Returns 0, or -1 after logging what could not be installed. */
int proxy_route_install(void);

#endif /* EW_PROXY_ROUTE_H */
