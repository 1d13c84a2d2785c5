// SPDX-License-Identifier: Apache-2.0
/* bpfctl: reads edgewire's pinned maps, with or without the agent running. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpfctl.h"

static const char usage[] =
	"usage: bpfctl [--bpffs PATH] [--json] COMMAND [OPTIONS]\n"
	"\n"
	"Shows the state of edgewire's datapath from its pinned BPF maps.\n"
	"\n"
	"commands:\n"
	"  endpoints   pods on this node: IP, interface, MACs\n"
	"  routes      pod CIDRs of every node and the node that owns each\n"
	"  nodes       the nodes VXLAN is accepted from\n"
	"  services    service frontends, their Maglev table and backends with\n"
	"              their share of it (--tables: the tables)\n"
	"  backends    every backend: state, how many tables and frontends hold it\n"
	"  ct          tracked service connections, their backend and translation\n"
	"  ct count    how many there are\n"
	"  ct flush    deletes them, after asking on a terminal (or --yes)\n"
	"  maps        every pinned map: type, sizes, entries, fill level, memory\n"
	"  stats       packets and bytes per verdict reason and direction\n"
	"              (--policy: policy verdicts and HTTP requests; --http: HTTP\n"
	"              requests per rule)\n"
	"  reasons     every verdict reason with its meaning\n"
	"  monitor     events, live, one line each, until Ctrl-C: dropped packets,\n"
	"              connections policy allowed, HTTP requests the proxy judged\n"
	"  events      events emitted, suppressed by the rate limit, lost\n"
	"  identities  policy identities: a pod label set, a policy CIDR, reserved\n"
	"              ones; how many addresses have each\n"
	"  ipcache     every address and prefix with its identity and CIDR identity\n"
	"  policy POD  a pod's (NAMESPACE/NAME or IP) identity, isolation and what\n"
	"              it may receive and send: peer, protocol, ports, L7, the rule\n"
	"              that allows it\n"
	"\n"
	"options:\n"
	"  --bpffs PATH  bpffs root the agent pins under (default " DEFAULT_BPFFS ")\n"
	"  --json        one JSON document on stdout, for scripts (monitor: one\n"
	"                JSON object per line)\n"
	"  --all         stats: include reasons that counted nothing\n"
	"  --policy      stats: packets policy allowed, proxied and denied, and HTTP\n"
	"                requests the L7 proxy allowed and denied, per direction\n"
	"  --http        stats: HTTP requests the L7 proxy judged, per rule\n"
	"  --tables      services: the Maglev tables instead of the frontends\n"
	"\n"
	"ct options (they combine; count and flush take them too):\n"
	"  --addr ADDR        only entries naming this IPv4 address: source,\n"
	"                     destination, translation or backend\n"
	"  --port N           only entries naming this port, likewise\n"
	"  --proto P          only tcp or udp\n"
	"  --service IP:PORT  only flows to this frontend\n"
	"  --yes              flush without asking\n"
	"\n"
	"monitor options (filters of one kind are alternatives; kinds combine):\n"
	"  --event E          only drop, policy (connections policy allowed) or http\n"
	"                     (requests the L7 proxy judged) events (repeatable)\n"
	"  --verdict V        only what was allowed, proxied (allowed through the L7\n"
	"                     proxy), denied (by policy) or dropped (for another\n"
	"                     reason) (repeatable)\n"
	"  --reason NAME      only events of this reason (repeatable; see 'reasons')\n"
	"  --ip ADDR          only packets from or to this IPv4 address, e.g. a pod's\n"
	"                     (repeatable)\n"
	"  --proto P          only tcp, udp or icmp\n"
	"  --direction D      only egress (leaving a pod) or ingress (entering one)\n"
	"  --count N          exit after N events were shown\n"
	"  --timeout SEC      exit after SEC seconds\n"
	"\n"
	"examples:\n"
	"  bpfctl services                     each service port's backends and shares\n"
	"  bpfctl ct --service 10.96.0.10:80   the connections to one frontend\n"
	"  bpfctl ct flush --addr 10.244.1.30  forget a pod's connections (asks first)\n"
	"  bpfctl --json maps                  how full each map is, for a script\n"
	"  bpfctl monitor --ip 10.244.1.30     a pod's events, as they happen\n"
	"  bpfctl monitor --verdict denied     what policy denies: packets and requests\n"
	"  bpfctl policy shop/web-1            what a pod may receive and send, and why\n"
	"\n"
	"docs/bpfctl.md shows every command's output and explains its columns.\n";

static const struct command {
	const char *name;
	int (*run)(const struct ctl *c);
	bool needs_pins;
	const char *actions[2]; /* words that may follow the command */
	const char *operand;	/* or the one word that must: its name */
} commands[] = {
	{ "endpoints", cmd_endpoints, true, { 0 }, NULL },
	{ "routes", cmd_routes, true, { 0 }, NULL },
	{ "nodes", cmd_nodes, true, { 0 }, NULL },
	{ "services", cmd_services, true, { 0 }, NULL },
	{ "backends", cmd_backends, true, { 0 }, NULL },
	{ "ct", cmd_ct, true, { "count", "flush" }, NULL },
	{ "maps", cmd_maps, false, { 0 }, NULL },
	{ "stats", cmd_stats, true, { 0 }, NULL },
	{ "reasons", cmd_reasons, false, { 0 }, NULL },
	{ "monitor", cmd_monitor, true, { 0 }, NULL },
	{ "events", cmd_events, true, { 0 }, NULL },
	{ "identities", cmd_identities, true, { 0 }, NULL },
	{ "ipcache", cmd_ipcache, true, { 0 }, NULL },
	{ "policy", cmd_policy, true, { 0 }, "POD" }, /* NAMESPACE/NAME or IP */
};

static const struct option longopts[] = {
	{ "bpffs", required_argument, NULL, 'b' },
	{ "json", no_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'h' },
	{ "all", no_argument, NULL, 'a' },
	{ "tables", no_argument, NULL, 'T' },
	{ "policy", no_argument, NULL, 'L' },
	{ "http", no_argument, NULL, 'H' },
	{ "event", required_argument, NULL, 'e' },
	{ "verdict", required_argument, NULL, 'v' },
	{ "reason", required_argument, NULL, 'r' },
	{ "ip", required_argument, NULL, 'i' },
	{ "proto", required_argument, NULL, 'p' },
	{ "direction", required_argument, NULL, 'd' },
	{ "count", required_argument, NULL, 'n' },
	{ "timeout", required_argument, NULL, 't' },
	{ "addr", required_argument, NULL, 'A' },
	{ "port", required_argument, NULL, 'P' },
	{ "service", required_argument, NULL, 's' },
	{ "yes", no_argument, NULL, 'y' },
	{ 0 },
};

/* The commands an option belongs to; --bpffs, --json and --help go with all. */
static const struct option_owner {
	int opt;
	const char *commands[2];
} owners[] = {
	{ 'a', { "stats" } },
	{ 'T', { "services" } },
	{ 'L', { "stats" } },
	{ 'H', { "stats" } },
	{ 'e', { "monitor" } },
	{ 'v', { "monitor" } },
	{ 'r', { "monitor" } },
	{ 'i', { "monitor" } },
	{ 'p', { "monitor", "ct" } },
	{ 'd', { "monitor" } },
	{ 'n', { "monitor" } },
	{ 't', { "monitor" } },
	{ 'A', { "ct" } },
	{ 'P', { "ct" } },
	{ 's', { "ct" } },
	{ 'y', { "ct" } },
};

/* --- option values ------------------------------------------------------------------ */

static int parse_reason(struct monitor_filter *f, const char *arg)
{
	for (size_t i = 0; i < n_reasons; i++) {
		if (!strcmp(arg, reasons[i].name)) {
			f->reasons |= 1ull << reasons[i].code;
			return 0;
		}
	}
	fprintf(stderr, "bpfctl: --reason %s: no such reason; 'bpfctl reasons' "
		"lists them (e.g. no-endpoint)\n", arg);
	return -1;
}

static int parse_event_kind(struct monitor_filter *f, const char *arg)
{
	int kind = event_kind_by_name(arg);

	if (kind < 0) {
		fprintf(stderr, "bpfctl: --event %s: expected drop, policy or http\n",
			arg);
		return -1;
	}
	f->kinds |= 1u << kind;
	return 0;
}

static int parse_verdict(struct monitor_filter *f, const char *arg)
{
	int v = verdict_by_name(arg);

	if (v < 0) {
		fprintf(stderr, "bpfctl: --verdict %s: expected allowed, proxied, denied "
			"or dropped\n", arg);
		return -1;
	}
	f->verdicts |= 1u << v;
	return 0;
}

static int parse_ipv4(const char *opt, const char *arg, __u32 *ip)
{
	struct in_addr a;

	if (inet_pton(AF_INET, arg, &a) != 1) {
		fprintf(stderr, "bpfctl: %s %s: expected an IPv4 address such as "
			"10.244.1.10\n", opt, arg);
		return -1;
	}
	*ip = a.s_addr;
	return 0;
}

static int parse_ip(struct monitor_filter *f, const char *arg)
{
	if (f->n_ips == MONITOR_MAX_IPS) {
		fprintf(stderr, "bpfctl: --ip: at most %d addresses\n", MONITOR_MAX_IPS);
		return -1;
	}
	return parse_ipv4("--ip", arg, &f->ips[f->n_ips++]);
}

static int parse_proto(struct ctl *c, const char *arg)
{
	if (!strcmp(arg, "tcp"))
		c->proto = IPPROTO_TCP;
	else if (!strcmp(arg, "udp"))
		c->proto = IPPROTO_UDP;
	else if (!strcmp(arg, "icmp"))
		c->proto = IPPROTO_ICMP;
	else {
		fprintf(stderr, "bpfctl: --proto %s: expected tcp, udp or icmp\n", arg);
		return -1;
	}
	return 0;
}

static int parse_direction(struct monitor_filter *f, const char *arg)
{
	if (!strcmp(arg, "egress"))
		f->dir = EW_DIR_EGRESS;
	else if (!strcmp(arg, "ingress"))
		f->dir = EW_DIR_INGRESS;
	else {
		fprintf(stderr, "bpfctl: --direction %s: expected egress or ingress\n",
			arg);
		return -1;
	}
	return 0;
}

static int parse_count(struct monitor_filter *f, const char *arg)
{
	char *end;

	errno = 0;
	f->count = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || !f->count || arg[0] == '-') {
		fprintf(stderr, "bpfctl: --count %s: expected a number of events, "
			"1 or more\n", arg);
		return -1;
	}
	return 0;
}

static int parse_timeout(struct monitor_filter *f, const char *arg)
{
	char *end;

	errno = 0;
	f->timeout = strtod(arg, &end);
	if (errno || end == arg || *end || !(f->timeout > 0) || f->timeout > 1e9) {
		fprintf(stderr, "bpfctl: --timeout %s: expected seconds, more than 0 "
			"(e.g. 5 or 0.5)\n", arg);
		return -1;
	}
	return 0;
}

static int parse_port(const char *opt, const char *arg, int *port)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < 0 || v > 65535) {
		fprintf(stderr, "bpfctl: %s %s: expected a port, 0 to 65535\n", opt, arg);
		return -1;
	}
	*port = (int)v;
	return 0;
}

/* --service IP:PORT, a frontend as bpfctl services shows it. */
static int parse_service(struct ct_filter *f, const char *arg)
{
	const char *colon = strrchr(arg, ':');
	char ip[INET_ADDRSTRLEN];
	int port;

	if (!colon || colon - arg >= (long)sizeof(ip)) {
		fprintf(stderr, "bpfctl: --service %s: expected a frontend as IP:PORT, "
			"e.g. 10.96.0.10:80\n", arg);
		return -1;
	}
	snprintf(ip, sizeof(ip), "%.*s", (int)(colon - arg), arg);
	if (parse_ipv4("--service", ip, &f->fe_addr) ||
	    parse_port("--service", colon + 1, &port))
		return -1;
	f->fe_port = htons((__u16)port);
	f->has_service = true;
	return 0;
}

/* The value of an option; 0 or -1 after saying what was wrong. */
static int parse_option(struct ctl *c, int opt, const char *arg)
{
	switch (opt) {
	case 'a': c->all = true; return 0;
	case 'T': c->tables = true; return 0;
	case 'L': c->policy = true; return 0;
	case 'H': c->http = true; return 0;
	case 'e': return parse_event_kind(&c->mon, arg);
	case 'v': return parse_verdict(&c->mon, arg);
	case 'y': c->yes = true; return 0;
	case 'r': return parse_reason(&c->mon, arg);
	case 'i': return parse_ip(&c->mon, arg);
	case 'p': return parse_proto(c, arg);
	case 'd': return parse_direction(&c->mon, arg);
	case 'n': return parse_count(&c->mon, arg);
	case 't': return parse_timeout(&c->mon, arg);
	case 'A': c->ct.has_addr = true; return parse_ipv4("--addr", arg, &c->ct.addr);
	case 'P': return parse_port("--port", arg, &c->ct.port);
	case 's': return parse_service(&c->ct, arg);
	default: return -1;
	}
}

/* --- command line ------------------------------------------------------------------- */

static const char *option_name(int opt)
{
	for (const struct option *o = longopts; o->name; o++)
		if (o->val == opt)
			return o->name;
	return "?";
}

static bool owned_by(const struct option_owner *o, const char *command)
{
	for (size_t i = 0; i < ARRAY_SIZE(o->commands) && o->commands[i]; i++)
		if (!strcmp(o->commands[i], command))
			return true;
	return false;
}

/* Every option given must be one of the command's. */
static int check_options(const bool *given, const char *command)
{
	for (size_t i = 0; i < ARRAY_SIZE(owners); i++) {
		const struct option_owner *o = &owners[i];
		const char *also = o->commands[1];

		if (!given[i] || owned_by(o, command))
			continue;
		fprintf(stderr, "bpfctl: --%s belongs to the options of %s%s%s, "
			"not of %s\n", option_name(o->opt), o->commands[0],
			also ? " and " : "", also ? also : "", command);
		return -1;
	}
	return 0;
}

/* The word after the command, if it takes one. */
static int check_action(const struct command *cmd, const char *action)
{
	if (cmd->operand && !action) {
		fprintf(stderr, "bpfctl: %s needs a %s, e.g. bpfctl %s 10.244.1.10\n",
			cmd->name, cmd->operand, cmd->name);
		return -1;
	}
	if (cmd->operand)
		return 0;
	for (size_t i = 0; action && i < ARRAY_SIZE(cmd->actions) && cmd->actions[i]; i++)
		if (!strcmp(action, cmd->actions[i]))
			return 0;
	if (!action)
		return 0;
	if (cmd->actions[0])
		fprintf(stderr, "bpfctl: %s %s: expected %s, %s %s or %s %s\n", cmd->name,
			action, cmd->name, cmd->name, cmd->actions[0], cmd->name,
			cmd->actions[1]);
	else
		fprintf(stderr, "bpfctl: %s takes no '%s'\n", cmd->name, action);
	return -1;
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(name, commands[i].name))
			return &commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	struct ctl c = {
		.root = DEFAULT_BPFFS, .proto = -1,
		.mon = { .dir = -1 }, .ct = { .port = -1 },
	};
	bool given[ARRAY_SIZE(owners)] = { 0 };
	const struct command *cmd;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'b': c.root = optarg; continue;
		case 'j': c.json = true; continue;
		case 'h': fputs(usage, stdout); return 0;
		case '?': fputs(usage, stderr); return 2;
		}
		for (size_t i = 0; i < ARRAY_SIZE(owners); i++)
			given[i] |= owners[i].opt == opt;
		if (parse_option(&c, opt, optarg))
			return 2;
	}
	if (optind == argc || argc - optind > 2) {
		fputs(usage, stderr);
		return 2;
	}
	cmd = find_command(argv[optind]);
	if (!cmd) {
		fprintf(stderr, "bpfctl: unknown command '%s'\n%s", argv[optind], usage);
		return 2;
	}
	c.action = argv[optind + 1];
	if (check_options(given, cmd->name) || check_action(cmd, c.action))
		return 2;
	if (cmd->needs_pins && check_abi(&c))
		return 1;
	return cmd->run(&c);
}
