/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The two nodes of the overlay that the BPF tests and bench/pkt_cost.c put
 * in their maps: this node NODE1, the remote one NODE2. U are their
 * underlay MACs, V their VTEP MACs.
 */
#ifndef EW_TESTS_OVERLAY_NODES_H
#define EW_TESTS_OVERLAY_NODES_H

#include <stdint.h>
#include <linux/if_ether.h>

#include "pkt.h"

static const uint8_t U1[ETH_ALEN] = { 0x02, 0x00, 0xc0, 0xa8, 0x00, 0x01 };
static const uint8_t U2[ETH_ALEN] = { 0x02, 0x00, 0xc0, 0xa8, 0x00, 0x02 };
static const uint8_t V1[ETH_ALEN] = { 0x0e, 0x00, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t V2[ETH_ALEN] = { 0x0e, 0x00, 0x00, 0x00, 0x00, 0x02 };
#define NODE1 ip4(192, 168, 0, 1)
#define NODE2 ip4(192, 168, 0, 2)

#endif /* EW_TESTS_OVERLAY_NODES_H */
