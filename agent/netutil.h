/* SPDX-License-Identifier: Apache-2.0 */
/* Text forms of addresses: parse strictly, format canonically. */
#ifndef EW_NETUTIL_H
#define EW_NETUTIL_H

#include <stdbool.h>
#include <stdint.h>

#define EW_MAC_STRLEN 18

/* 0 on success; addresses in network byte order. */
int ew_parse_ipv4(const char *s, uint32_t *ip);
int ew_parse_mac(const char *s, uint8_t mac[6]);
char *ew_format_ipv4(uint32_t ip, char buf[16]);

enum ew_cidr_parse { EW_CIDR_OK, EW_CIDR_INVALID, EW_CIDR_HOST_BITS };

/* "a.b.c.d/len" with len 1..32; *net gets the network even with host bits. */
enum ew_cidr_parse ew_parse_cidr(const char *s, uint32_t *net, uint8_t *len);
bool ew_cidr_contains(uint32_t net, uint8_t len, uint32_t ip);
bool ew_cidrs_overlap(uint32_t a, uint8_t alen, uint32_t b, uint8_t blen);
char *ew_format_mac(const uint8_t mac[6], char buf[EW_MAC_STRLEN]);

#endif /* EW_NETUTIL_H */
