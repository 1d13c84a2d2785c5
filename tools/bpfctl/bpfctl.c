// SPDX-License-Identifier: Apache-2.0
/* bpfctl: reads edgewire's pinned maps, with or without the agent running. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <edgewire/abi.h>

#define DEFAULT_BPFFS "/sys/fs/bpf/edgewire"

static const char usage[] =
	"usage: bpfctl [--bpffs PATH] [--json] COMMAND\n"
	"\n"
	"Shows the state of edgewire's datapath from its pinned BPF maps.\n"
	"\n"
	"commands:\n"
	"  endpoints   pods on this node: IP, interface, MACs\n"
	"  routes      pod CIDRs of every node and the node that owns each\n"
	"  nodes       the nodes VXLAN is accepted from\n"
	"  stats       packets and bytes per verdict reason and direction\n"
	"  reasons     every verdict reason with its meaning\n"
	"\n"
	"options:\n"
	"  --bpffs PATH  bpffs root the agent pins under (default " DEFAULT_BPFFS ")\n"
	"  --json        one JSON document on stdout, for scripts\n"
	"  --all         stats: include reasons that counted nothing\n";

struct ctl {
	const char *root;
	bool json;
	bool all;
};

static const struct reason_info {
	unsigned int code;
	const char *name, *desc;
} reasons[] = {
#define EW_REASON_INFO(n, c, s, d) { c, s, d },
	EW_REASONS(EW_REASON_INFO)
#undef EW_REASON_INFO
};

static const char *dir_name(unsigned int dir)
{
	return dir == EW_DIR_EGRESS ? "egress" : "ingress";
}

static char *ip_str(__u32 ip, char buf[16])
{
	struct in_addr a = { .s_addr = ip };

	return (char *)inet_ntop(AF_INET, &a, buf, 16);
}

static char *mac_str(const __u8 *m, char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
		 m[4], m[5]);
	return buf;
}

/* Opens a pinned map, explaining the usual reasons it is not there. */
static int open_map(const struct ctl *c, const char *name)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/maps/%s", c->root, name);
	fd = bpf_obj_get(path);
	if (fd >= 0)
		return fd;
	if (errno == ENOENT && access("/sys/fs/bpf", F_OK))
		fprintf(stderr, "bpfctl: no bpffs at /sys/fs/bpf; mount one with "
			"'mount -t bpf bpf /sys/fs/bpf'\n");
	else if (errno == ENOENT)
		fprintf(stderr, "bpfctl: %s not found: the agent has not run with "
			"--bpffs %s (for a lab node pass its --bpffs)\n", path, c->root);
	else if (errno == EACCES || errno == EPERM)
		fprintf(stderr, "bpfctl: %s: permission denied; run as root\n", path);
	else
		fprintf(stderr, "bpfctl: %s: %s\n", path, strerror(errno));
	return -1;
}

/* The pins must come from an agent with this bpfctl's map layouts. */
static int check_abi(const struct ctl *c)
{
	struct ew_config info;
	__u32 zero = 0;
	int fd = open_map(c, EW_MAP_CONFIG), ret = 0;

	if (fd < 0)
		return -1;
	if (bpf_map_lookup_elem(fd, &zero, &info)) {
		fprintf(stderr, "bpfctl: cannot read %s: %s\n", EW_MAP_CONFIG, strerror(errno));
		ret = -1;
	} else if (info.abi_version && info.abi_version != EW_ABI_VERSION) {
		fprintf(stderr, "bpfctl: the pinned maps have ABI version %u, this "
			"bpfctl reads version %u; use the bpfctl of the running agent\n",
			info.abi_version, EW_ABI_VERSION);
		ret = -1;
	}
	close(fd);
	return ret;
}

static void emit_json(json_t *doc)
{
	json_dumpf(doc, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(doc);
}

static int cmd_endpoints(const struct ctl *c)
{
	struct ew_endpoint_key key, next;
	struct ew_endpoint ep;
	json_t *list = json_array();
	int fd = open_map(c, EW_MAP_ENDPOINTS);
	void *prev = NULL;

	if (fd < 0)
		return 1;
	if (!c->json)
		printf("%-16s %-8s %-16s %-18s %s\n", "IP", "IFINDEX", "INTERFACE",
		       "MAC", "GATEWAY-MAC");
	for (; !bpf_map_get_next_key(fd, prev, &next); prev = &key) {
		char ip[16], mac[18], gw[18], ifname[IF_NAMESIZE] = "-";

		key = next;
		if (bpf_map_lookup_elem(fd, &key, &ep))
			continue;
		if_indextoname(ep.ifindex, ifname);
		ip_str(key.ip, ip);
		mac_str(ep.mac, mac);
		mac_str(ep.node_mac, gw);
		if (c->json)
			json_array_append_new(list, json_pack(
				"{s:s, s:i, s:s, s:s, s:s}", "ip", ip, "ifindex",
				ep.ifindex, "interface", ifname, "mac", mac,
				"gatewayMac", gw));
		else
			printf("%-16s %-8u %-16s %-18s %s\n", ip, ep.ifindex, ifname,
			       mac, gw);
	}
	close(fd);
	if (c->json)
		emit_json(list);
	else
		json_decref(list);
	return 0;
}

static const char *route_scope(const struct ew_route *r)
{
	if (r->flags & EW_ROUTE_LOCAL)
		return "local";
	return r->flags & EW_ROUTE_CLUSTER ? "cluster" : "remote";
}

static int cmd_routes(const struct ctl *c)
{
	struct ew_route_key key, next;
	struct ew_route r;
	json_t *list = json_array();
	int fd = open_map(c, EW_MAP_ROUTES);
	void *prev = NULL;

	if (fd < 0)
		return 1;
	if (!c->json)
		printf("%-20s %-8s %-16s %s\n", "POD-CIDR", "SCOPE", "NODE-IP", "VTEP-MAC");
	for (; !bpf_map_get_next_key(fd, prev, &next); prev = &key) {
		char cidr[24], addr[16], node[16], vtep[18];

		key = next;
		if (bpf_map_lookup_elem(fd, &key, &r))
			continue;
		snprintf(cidr, sizeof(cidr), "%s/%u", ip_str(key.addr, addr), key.prefixlen);
		ip_str(r.node_ip, node);
		mac_str(r.vtep_mac, vtep);
		if (c->json)
			json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s}",
				"cidr", cidr, "scope", route_scope(&r), "nodeIP", node,
				"vtepMac", vtep));
		else
			printf("%-20s %-8s %-16s %s\n", cidr, route_scope(&r),
			       r.node_ip ? node : "-", r.node_ip ? vtep : "-");
	}
	close(fd);
	if (c->json)
		emit_json(list);
	else
		json_decref(list);
	return 0;
}

static int cmd_nodes(const struct ctl *c)
{
	struct ew_node_key key, next;
	json_t *list = json_array();
	int fd = open_map(c, EW_MAP_NODES);
	void *prev = NULL;

	if (fd < 0)
		return 1;
	if (!c->json)
		printf("%s\n", "NODE-IP");
	for (; !bpf_map_get_next_key(fd, prev, &next); prev = &key) {
		char ip[16];

		key = next;
		ip_str(key.ip, ip);
		if (c->json)
			json_array_append_new(list, json_pack("{s:s}", "ip", ip));
		else
			printf("%s\n", ip);
	}
	close(fd);
	if (c->json)
		emit_json(list);
	else
		json_decref(list);
	return 0;
}

/* Sums one per-CPU ew_metrics slot over all possible CPUs. */
static int read_metrics(int fd, __u32 idx, int ncpus, struct ew_metrics *sum)
{
	struct ew_metrics per_cpu[ncpus];

	*sum = (struct ew_metrics){ 0 };
	if (bpf_map_lookup_elem(fd, &idx, per_cpu))
		return -1;
	for (int cpu = 0; cpu < ncpus; cpu++) {
		sum->packets += per_cpu[cpu].packets;
		sum->bytes += per_cpu[cpu].bytes;
	}
	return 0;
}

static int cmd_stats(const struct ctl *c)
{
	int fd = open_map(c, EW_MAP_METRICS), ncpus = libbpf_num_possible_cpus();
	json_t *list = json_array();

	if (fd < 0 || ncpus <= 0)
		return 1;
	if (!c->json)
		printf("%-18s %-8s %-5s %12s %14s\n", "REASON", "DIR", "DROP",
		       "PACKETS", "BYTES");
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		for (unsigned int dir = 0; dir < EW_DIR_MAX; dir++) {
			unsigned int code = reasons[i].code;
			bool is_drop = ew_reason_is_drop(code);
			struct ew_metrics m;

			if (read_metrics(fd, ew_metrics_index(code, dir), ncpus, &m))
				continue;
			if (c->json)
				json_array_append_new(list, json_pack(
					"{s:s, s:i, s:s, s:b, s:I, s:I}", "reason",
					reasons[i].name, "code", code, "direction",
					dir_name(dir), "drop", is_drop, "packets",
					(json_int_t)m.packets, "bytes",
					(json_int_t)m.bytes));
			else if (m.packets || c->all)
				printf("%-18s %-8s %-5s %12llu %14llu\n", reasons[i].name,
				       dir_name(dir), is_drop ? "yes" : "no",
				       (unsigned long long)m.packets,
				       (unsigned long long)m.bytes);
		}
	}
	close(fd);
	if (c->json)
		emit_json(list);
	else
		json_decref(list);
	return 0;
}

static int cmd_reasons(const struct ctl *c)
{
	json_t *list = json_array();

	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		const struct reason_info *r = &reasons[i];

		if (c->json)
			json_array_append_new(list, json_pack("{s:i, s:s, s:b, s:s}",
				"code", r->code, "reason", r->name, "drop",
				ew_reason_is_drop(r->code), "description", r->desc));
		else
			printf("%3u  %-18s %s\n", r->code, r->name, r->desc);
	}
	if (c->json)
		emit_json(list);
	else
		json_decref(list);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "bpffs", required_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'j' },
		{ "all", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static const struct {
		const char *name;
		int (*run)(const struct ctl *c);
		bool needs_pins;
	} commands[] = {
		{ "endpoints", cmd_endpoints, true },
		{ "routes", cmd_routes, true },
		{ "nodes", cmd_nodes, true },
		{ "stats", cmd_stats, true },
		{ "reasons", cmd_reasons, false },
	};
	struct ctl c = { .root = DEFAULT_BPFFS };
	int opt;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'b': c.root = optarg; break;
		case 'j': c.json = true; break;
		case 'a': c.all = true; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		fputs(usage, stderr);
		return 2;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[optind], commands[i].name))
			continue;
		if (commands[i].needs_pins && check_abi(&c))
			return 1;
		return commands[i].run(&c);
	}
	fprintf(stderr, "bpfctl: unknown command '%s'\n%s", argv[optind], usage);
	return 2;
}
