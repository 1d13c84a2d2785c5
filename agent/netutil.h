/* SPDX-License-Identifier: Apache-2.0 */
/* Text forms of addresses: parse strictly, format canonically. */
#ifndef EW_NETUTIL_H
#define EW_NETUTIL_H

#include <stdint.h>

#define EW_MAC_STRLEN 18

/* 0 on success; addresses in network byte order. */
int ew_parse_ipv4(const char *s, uint32_t *ip);
int ew_parse_mac(const char *s, uint8_t mac[6]);
char *ew_format_ipv4(uint32_t ip, char buf[16]);
char *ew_format_mac(const uint8_t mac[6], char buf[EW_MAC_STRLEN]);

#endif /* EW_NETUTIL_H */
