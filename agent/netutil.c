// SPDX-License-Identifier: Apache-2.0
#include "netutil.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ew_parse_ipv4(const char *s, uint32_t *ip)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return -1;
	*ip = a.s_addr;
	return 0;
}

int ew_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char end;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &end) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = b[i];
	return 0;
}

char *ew_format_ipv4(uint32_t ip, char buf[16])
{
	struct in_addr a = { .s_addr = ip };

	return (char *)inet_ntop(AF_INET, &a, buf, 16);
}

char *ew_format_mac(const uint8_t mac[6], char buf[EW_MAC_STRLEN])
{
	snprintf(buf, EW_MAC_STRLEN, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0],
		 mac[1], mac[2], mac[3], mac[4], mac[5]);
	return buf;
}

static uint32_t prefix_mask(uint8_t len)
{
	return len ? htonl(~0u << (32 - len)) : 0;
}

bool ew_cidr_contains(uint32_t net, uint8_t len, uint32_t ip)
{
	return (ip & prefix_mask(len)) == net;
}

bool ew_cidrs_overlap(uint32_t a, uint8_t alen, uint32_t b, uint8_t blen)
{
	return ((a ^ b) & prefix_mask(alen < blen ? alen : blen)) == 0;
}

enum ew_cidr_parse ew_parse_cidr(const char *s, uint32_t *net, uint8_t *len)
{
	char addr[INET_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	uint32_t ip;
	char *end;
	long prefix;

	if (!slash || slash - s >= (long)sizeof(addr) || slash[1] < '0' || slash[1] > '9')
		return EW_CIDR_INVALID;
	memcpy(addr, s, slash - s);
	addr[slash - s] = '\0';
	prefix = strtol(slash + 1, &end, 10);
	if (*end || prefix < 1 || prefix > 32 || ew_parse_ipv4(addr, &ip))
		return EW_CIDR_INVALID;
	*len = prefix;
	*net = ip & prefix_mask(*len);
	return *net == ip ? EW_CIDR_OK : EW_CIDR_HOST_BITS;
}
