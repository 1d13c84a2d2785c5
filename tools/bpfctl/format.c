// SPDX-License-Identifier: Apache-2.0
/* How bpfctl writes what the maps hold: names, addresses, times, sizes. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpfctl.h"

const struct reason_info reasons[] = {
#define EW_REASON_INFO(n, c, s, d) { c, s, d },
	EW_REASONS(EW_REASON_INFO)
#undef EW_REASON_INFO
};
const size_t n_reasons = ARRAY_SIZE(reasons);

const char *reason_name(unsigned int code)
{
	for (size_t i = 0; i < n_reasons; i++)
		if (reasons[i].code == code)
			return reasons[i].name;
	return NULL;
}

static const char *const verdict_names[VERDICT_MAX] = {
	[VERDICT_ALLOWED] = "allowed",
	[VERDICT_PROXIED] = "proxied",
	[VERDICT_DENIED] = "denied",
	[VERDICT_DROPPED] = "dropped",
};

const char *verdict_name(enum verdict v)
{
	return v < VERDICT_MAX ? verdict_names[v] : "?";
}

int verdict_by_name(const char *name)
{
	for (int v = 0; v < VERDICT_MAX; v++)
		if (!strcmp(name, verdict_names[v]))
			return v;
	return -1;
}

bool reason_is_policy_drop(unsigned int reason)
{
	return reason == EW_REASON_DROP_POLICY_DENIED ||
	       reason == EW_REASON_DROP_FRAGMENT || reason == EW_REASON_DROP_POLICY_FAILED;
}

enum verdict reason_verdict(unsigned int reason)
{
	if (reason == EW_REASON_PROXY)
		return VERDICT_PROXIED;
	if (!ew_reason_is_drop(reason))
		return VERDICT_ALLOWED;
	return reason_is_policy_drop(reason) ? VERDICT_DENIED : VERDICT_DROPPED;
}

const char *dir_name(unsigned int dir)
{
	return dir == EW_DIR_EGRESS ? "egress" : "ingress";
}

const char *proto_name(__u8 proto, char buf[8])
{
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
		return "icmp";
	default:
		snprintf(buf, 8, "%u", proto);
		return buf;
	}
}

char *ip_str(__u32 ip, char buf[16])
{
	struct in_addr a = { .s_addr = ip };

	return (char *)inet_ntop(AF_INET, &a, buf, 16);
}

char *mac_str(const __u8 *m, char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
		 m[4], m[5]);
	return buf;
}

char *ip_port_str(__u32 ip, __u16 port, char buf[24])
{
	char a[16];

	snprintf(buf, 24, "%s:%u", ip_str(ip, a), ntohs(port));
	return buf;
}

json_t *ip_port_json(__u32 ip, __u16 port)
{
	char a[16];

	return json_pack("{s:s, s:i}", "address", ip_str(ip, a), "port", ntohs(port));
}

char *duration_str(__u64 ns, char buf[24])
{
	unsigned long long s = ns / NSEC_PER_SEC;

	if (s < 60)
		snprintf(buf, 24, "%llus", s);
	else if (s < 3600)
		snprintf(buf, 24, "%llum%llus", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, 24, "%lluh%llum", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, 24, "%llud%lluh", s / 86400, s % 86400 / 3600);
	return buf;
}

char *bytes_str(unsigned long long n, char buf[24])
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int u = -1;

	if (n < 1024) {
		snprintf(buf, 24, "%llu B", n);
		return buf;
	}
	while (v >= 1024 && u < (int)ARRAY_SIZE(units) - 1) {
		v /= 1024;
		u++;
	}
	snprintf(buf, 24, "%.1f %s", v, units[u]);
	return buf;
}

double percent(unsigned long long part, unsigned long long whole)
{
	if (!whole)
		return 0;
	return (double)(unsigned long long)(1000.0 * (double)part / (double)whole +
					    0.5) / 10;
}

int cmp_u32_net(__u32 a, __u32 b)
{
	a = ntohl(a);
	b = ntohl(b);
	return a < b ? -1 : a > b;
}

__u64 clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (__u64)ts.tv_sec * NSEC_PER_SEC + (__u64)ts.tv_nsec;
}

void die_oom(void)
{
	fprintf(stderr, "bpfctl: out of memory\n");
	exit(1);
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		die_oom();
	return p;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		die_oom();
	return p;
}
