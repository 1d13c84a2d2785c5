// SPDX-License-Identifier: Apache-2.0
/* bpfctl: reads edgewire's pinned maps, with or without the agent running. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <edgewire/abi.h>

#define DEFAULT_BPFFS "/sys/fs/bpf/edgewire"

/* bpfctl monitor: a line about missed events after this much silence. */
#define MONITOR_SILENCE_NS (5 * NSEC_PER_SEC)
/* Longest wait in one poll, so a signal or deadline is noticed promptly. */
#define MONITOR_POLL_MS 200
#define MONITOR_MAX_IPS 16
#define NSEC_PER_SEC	1000000000ULL

static const char usage[] =
	"usage: bpfctl [--bpffs PATH] [--json] COMMAND [OPTIONS]\n"
	"\n"
	"Shows the state of edgewire's datapath from its pinned BPF maps.\n"
	"\n"
	"commands:\n"
	"  endpoints   pods on this node: IP, interface, MACs\n"
	"  routes      pod CIDRs of every node and the node that owns each\n"
	"  nodes       the nodes VXLAN is accepted from\n"
	"  stats       packets and bytes per verdict reason and direction\n"
	"  reasons     every verdict reason with its meaning\n"
	"  monitor     dropped packets, live, one line each, until Ctrl-C\n"
	"  events      drop events emitted, suppressed by the rate limit, lost\n"
	"\n"
	"options:\n"
	"  --bpffs PATH  bpffs root the agent pins under (default " DEFAULT_BPFFS ")\n"
	"  --json        one JSON document on stdout, for scripts (monitor: one\n"
	"                JSON object per line)\n"
	"  --all         stats: include reasons that counted nothing\n"
	"\n"
	"monitor options (filters of one kind are alternatives; kinds combine):\n"
	"  --reason NAME      only drops for this reason (repeatable; see 'reasons')\n"
	"  --ip ADDR          only packets from or to this IPv4 address, e.g. a pod's\n"
	"                     (repeatable)\n"
	"  --proto P          only tcp, udp or icmp\n"
	"  --direction D      only egress (leaving a pod) or ingress (entering one)\n"
	"  --count N          exit after N events were shown\n"
	"  --timeout SEC      exit after SEC seconds\n";

/* What bpfctl monitor shows; an empty filter lets everything through. */
_Static_assert(EW_REASON_MAX <= 32, "monitor_filter.reasons has a bit per reason");
struct monitor_filter {
	__u32 reasons;			/* bit per reason code; 0: all */
	__u32 ips[MONITOR_MAX_IPS];	/* network byte order */
	int n_ips;
	int proto;			/* IP protocol; -1: all */
	int dir;			/* enum ew_dir; -1: all */
	unsigned long count;		/* 0: no limit */
	double timeout;			/* seconds; 0: none */
	bool given;			/* any monitor option was on the command line */
};

struct ctl {
	const char *root;
	bool json;
	bool all;
	struct monitor_filter mon;
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

static const char *reason_name(unsigned int code)
{
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].code == code)
			return reasons[i].name;
	return NULL;
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

static int open_pin(const struct ctl *c, const char *name, char path[PATH_MAX])
{
	snprintf(path, PATH_MAX, "%s/maps/%s", c->root, name);
	return bpf_obj_get(path);
}

/* Opens a pinned map, explaining the usual reasons it is not there. */
static int open_map(const struct ctl *c, const char *name)
{
	char path[PATH_MAX], config[PATH_MAX];
	int fd;

	fd = open_pin(c, name, path);
	if (fd >= 0)
		return fd;
	snprintf(config, sizeof(config), "%s/maps/%s", c->root, EW_MAP_CONFIG);
	if (errno == ENOENT && access("/sys/fs/bpf", F_OK))
		fprintf(stderr, "bpfctl: no bpffs at /sys/fs/bpf; mount one with "
			"'mount -t bpf bpf /sys/fs/bpf'\n");
	else if (errno == ENOENT && strcmp(name, EW_MAP_CONFIG) && !access(config, F_OK))
		fprintf(stderr, "bpfctl: %s not found: the agent that pinned the maps "
			"under %s/maps is older than this bpfctl; restart it with this "
			"edgewire version\n", path, c->root);
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

/* What happened to drop events, summed over CPUs. */
struct event_totals {
	__u64 emitted;
	__u64 suppressed;
	__u64 lost;
};

static int read_event_totals(int fd, struct event_totals *t)
{
	int ncpus = libbpf_num_possible_cpus();
	__u32 zero = 0;

	*t = (struct event_totals){ 0 };
	if (ncpus <= 0)
		return -1;
	struct ew_event_stats per_cpu[ncpus];

	if (bpf_map_lookup_elem(fd, &zero, per_cpu))
		return -1;
	for (int cpu = 0; cpu < ncpus; cpu++) {
		t->emitted += per_cpu[cpu].emitted;
		t->suppressed += per_cpu[cpu].suppressed;
		t->lost += per_cpu[cpu].lost;
	}
	return 0;
}

/* The last line of the stats table; left out when the pins predate events. */
static void print_events_footer(const struct ctl *c)
{
	char path[PATH_MAX];
	struct event_totals t;
	int fd = open_pin(c, EW_MAP_EVENT_STATS, path);

	if (fd < 0)
		return;
	if (!read_event_totals(fd, &t))
		printf("\ndrop events: %llu emitted, %llu suppressed by the rate limit, "
		       "%llu lost (bpfctl monitor shows them)\n",
		       (unsigned long long)t.emitted, (unsigned long long)t.suppressed,
		       (unsigned long long)t.lost);
	close(fd);
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
	if (!c->json)
		print_events_footer(c);
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

static int cmd_events(const struct ctl *c)
{
	struct event_totals t;
	int fd = open_map(c, EW_MAP_EVENT_STATS);

	if (fd < 0)
		return 1;
	if (read_event_totals(fd, &t)) {
		fprintf(stderr, "bpfctl: cannot read %s: %s\n", EW_MAP_EVENT_STATS,
			strerror(errno));
		close(fd);
		return 1;
	}
	close(fd);
	if (c->json) {
		emit_json(json_pack("{s:I, s:I, s:I, s:i, s:i}",
			"emitted", (json_int_t)t.emitted,
			"suppressed", (json_int_t)t.suppressed,
			"lost", (json_int_t)t.lost,
			"ratePerCpu", EW_EVENT_RATE, "burstPerCpu", EW_EVENT_BURST));
		return 0;
	}
	printf("%-11s %12s\n", "EVENTS", "TOTAL");
	printf("%-11s %12llu\n", "emitted", (unsigned long long)t.emitted);
	printf("%-11s %12llu\n", "suppressed", (unsigned long long)t.suppressed);
	printf("%-11s %12llu\n", "lost", (unsigned long long)t.lost);
	printf("\nrate limit: %d events a second per CPU, bursts of %d\n",
	       EW_EVENT_RATE, EW_EVENT_BURST);
	return 0;
}

/* --- monitor ------------------------------------------------------------------ */

static volatile sig_atomic_t monitor_stop;

static void monitor_on_signal(int sig)
{
	monitor_stop = 1;
}

static __u64 clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (__u64)ts.tv_sec * NSEC_PER_SEC + (__u64)ts.tv_nsec;
}

struct monitor {
	const struct ctl *c;
	int stats_fd;
	__u64 start_ns;		      /* CLOCK_MONOTONIC; older events are backlog */
	__s64 wall_offset_ns;	      /* CLOCK_REALTIME - CLOCK_MONOTONIC */
	__u64 quiet_since_ns;	      /* last line printed, or last silence check */
	unsigned long shown;
	struct event_totals reported; /* counts up to the last "missed" line */
};

static const char *proto_name(__u8 proto, char buf[8])
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

/* The ABI leaves protocol and addresses 0 when the packet was not IPv4. */
static bool event_has_ipv4(const struct ew_event *e)
{
	return e->protocol || e->saddr || e->daddr;
}

static bool event_has_ports(const struct ew_event *e)
{
	return e->protocol == IPPROTO_TCP || e->protocol == IPPROTO_UDP;
}

static bool monitor_match(const struct monitor_filter *f, const struct ew_event *e)
{
	bool ip_ok = !f->n_ips;

	if (f->reasons && (e->reason >= EW_REASON_MAX || !(f->reasons & (1u << e->reason))))
		return false;
	if (f->proto >= 0 && e->protocol != f->proto)
		return false;
	if (f->dir >= 0 && e->dir != f->dir)
		return false;
	for (int i = 0; i < f->n_ips && !ip_ok; i++)
		ip_ok = e->saddr == f->ips[i] || e->daddr == f->ips[i];
	return ip_ok;
}

/* Event time on the wall clock, local for people, UTC (RFC 3339) in JSON. */
static char *event_time(const struct monitor *m, const struct ew_event *e,
			char *buf, size_t size)
{
	__u64 wall = e->ts_ns + m->wall_offset_ns;
	time_t sec = (time_t)(wall / NSEC_PER_SEC);
	unsigned int usec = (unsigned int)(wall % NSEC_PER_SEC / 1000);
	struct tm tm;
	size_t n;

	if (m->c->json)
		n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", gmtime_r(&sec, &tm));
	else
		n = strftime(buf, size, "%H:%M:%S", localtime_r(&sec, &tm));
	snprintf(buf + n, size - n, m->c->json ? ".%06uZ" : ".%06u", usec);
	return buf;
}

/* "10.244.1.30:41234", "10.244.1.30" without ports, "-" without IPv4. */
static char *endpoint_str(const struct ew_event *e, __u32 addr, __u16 port,
			  char buf[24])
{
	char ip[16];

	if (!event_has_ipv4(e))
		snprintf(buf, 24, "-");
	else if (event_has_ports(e))
		snprintf(buf, 24, "%s:%u", ip_str(addr, ip), ntohs(port));
	else
		snprintf(buf, 24, "%s", ip_str(addr, ip));
	return buf;
}

static void monitor_print_text(const struct monitor *m, const struct ew_event *e,
			       const char *when, const char *reason,
			       const char *ifname)
{
	char src[24], dst[24], proto[8];

	printf("%s drop %-16s %-7s %-15s %-4s %s -> %s len %u\n", when, reason,
	       dir_name(e->dir), ifname ? ifname : "-",
	       event_has_ipv4(e) ? proto_name(e->protocol, proto) : "-",
	       endpoint_str(e, e->saddr, e->sport, src),
	       endpoint_str(e, e->daddr, e->dport, dst), e->len);
}

/* One JSON object a line; fields the packet does not have are null. */
static void monitor_print_json(const struct monitor *m, const struct ew_event *e,
			       const char *when, const char *reason,
			       const char *ifname)
{
	bool ipv4 = event_has_ipv4(e);
	char src[16], dst[16], proto[8];
	json_t *o;

	o = json_pack("{s:s, s:s, s:s, s:i, s:s, s:i, s:s?, s:s?, s:s?, s:i, s:s?, s:i, s:i}",
		      "time", when, "event", "drop", "reason", reason, "code",
		      e->reason, "direction", dir_name(e->dir), "ifindex",
		      (int)e->ifindex, "interface", ifname, "proto",
		      ipv4 ? proto_name(e->protocol, proto) : NULL, "src",
		      ipv4 ? ip_str(e->saddr, src) : NULL, "sport", ntohs(e->sport),
		      "dst", ipv4 ? ip_str(e->daddr, dst) : NULL, "dport",
		      ntohs(e->dport), "len", (int)e->len);
	json_dumpf(o, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(o);
}

/* ring_buffer sample callback: one record of ew_events. */
static int monitor_on_event(void *ctx, void *data, size_t size)
{
	struct monitor *m = ctx;
	const struct ew_event *e = data;
	char when[40], reason_buf[16], ifbuf[IF_NAMESIZE];
	const char *reason, *ifname;

	if (size < sizeof(*e) || e->type != EW_EVENT_DROP || e->ts_ns < m->start_ns)
		return 0;
	if (m->c->mon.count && m->shown >= m->c->mon.count)
		return 0;
	if (!monitor_match(&m->c->mon, e))
		return 0;
	reason = reason_name(e->reason);
	if (!reason) {
		snprintf(reason_buf, sizeof(reason_buf), "reason-%u", e->reason);
		reason = reason_buf;
	}
	ifname = if_indextoname(e->ifindex, ifbuf);
	event_time(m, e, when, sizeof(when));
	if (m->c->json)
		monitor_print_json(m, e, when, reason, ifname);
	else
		monitor_print_text(m, e, when, reason, ifname);
	fflush(stdout);
	m->shown++;
	m->quiet_since_ns = clock_ns(CLOCK_MONOTONIC);
	return 0;
}

/* Says how many events the datapath could not deliver since the last time
 * it said so (or the start); nothing when none were missed. */
static void monitor_report_missed(struct monitor *m)
{
	struct event_totals now;
	__u64 suppressed, lost;

	if (read_event_totals(m->stats_fd, &now))
		return;
	suppressed = now.suppressed - m->reported.suppressed;
	lost = now.lost - m->reported.lost;
	m->reported = now;
	if (!suppressed && !lost)
		return;
	fprintf(m->c->json ? stderr : stdout,
		"(%llu events suppressed by the rate limit, %llu lost)\n",
		(unsigned long long)suppressed, (unsigned long long)lost);
	fflush(stdout);
}

static bool monitor_done(const struct monitor *m, __u64 now, __u64 deadline)
{
	const struct monitor_filter *f = &m->c->mon;

	return monitor_stop || (f->count && m->shown >= f->count) ||
	       (deadline && now >= deadline);
}

static int monitor_loop(struct monitor *m, struct ring_buffer *rb)
{
	__u64 deadline = 0, now;
	int wait_ms, err;

	if (m->c->mon.timeout > 0)
		deadline = m->start_ns + (__u64)(m->c->mon.timeout * NSEC_PER_SEC);
	for (now = m->start_ns; !monitor_done(m, now, deadline);
	     now = clock_ns(CLOCK_MONOTONIC)) {
		if (now - m->quiet_since_ns >= MONITOR_SILENCE_NS) {
			monitor_report_missed(m);
			m->quiet_since_ns = now;
		}
		wait_ms = MONITOR_POLL_MS;
		if (deadline && (deadline - now) / 1000000 < (__u64)wait_ms)
			wait_ms = (int)((deadline - now) / 1000000) + 1;
		err = ring_buffer__poll(rb, wait_ms);
		if (err < 0 && err != -EINTR) {
			fprintf(stderr, "bpfctl: reading %s failed: %s\n",
				EW_MAP_EVENTS, strerror(-err));
			return 1;
		}
	}
	monitor_report_missed(m);
	return 0;
}

/* Ctrl-C and SIGTERM end the loop, which then reports and cleans up. */
static void monitor_catch_signals(void)
{
	struct sigaction sa = { .sa_handler = monitor_on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* A ring buffer has one reader position: two monitors would each miss the
 * events the other consumed. The lock (on the maps directory, which every
 * node's pins have) goes with the process. */
static int monitor_lock(const struct ctl *c)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/maps", c->root);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "bpfctl: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!flock(fd, LOCK_EX | LOCK_NB))
		return fd;
	if (errno == EWOULDBLOCK)
		fprintf(stderr, "bpfctl: another bpfctl monitor is reading the events "
			"of %s; a ring buffer has one reader, so stop that one first "
			"(filters can be combined in one monitor)\n", c->root);
	else
		fprintf(stderr, "bpfctl: cannot lock %s: %s\n", path, strerror(errno));
	close(fd);
	return -1;
}

static int cmd_monitor(const struct ctl *c)
{
	struct monitor m = { .c = c, .stats_fd = -1 };
	struct ring_buffer *rb = NULL;
	int lock_fd, ring_fd, ret = 1;

	/* Events from here on are shown, also those that come before the ring
	 * is open: once the lock is taken (what tests wait for), none is missed. */
	m.start_ns = clock_ns(CLOCK_MONOTONIC);
	m.wall_offset_ns = (__s64)(clock_ns(CLOCK_REALTIME) - m.start_ns);
	m.quiet_since_ns = m.start_ns;
	ring_fd = open_map(c, EW_MAP_EVENTS);
	if (ring_fd < 0)
		return 1;
	lock_fd = monitor_lock(c);
	if (lock_fd < 0) {
		close(ring_fd);
		return 1;
	}
	m.stats_fd = open_map(c, EW_MAP_EVENT_STATS);
	if (m.stats_fd < 0)
		goto out;
	rb = ring_buffer__new(ring_fd, monitor_on_event, &m, NULL);
	if (!rb) {
		fprintf(stderr, "bpfctl: cannot read the ring buffer %s/maps/%s: %s\n",
			c->root, EW_MAP_EVENTS, strerror(errno));
		goto out;
	}
	monitor_catch_signals();
	read_event_totals(m.stats_fd, &m.reported);
	ret = monitor_loop(&m, rb);
out:
	ring_buffer__free(rb);
	if (m.stats_fd >= 0)
		close(m.stats_fd);
	close(ring_fd);
	close(lock_fd);
	return ret;
}

/* --- command line ----------------------------------------------------------------- */

static int parse_reason(struct monitor_filter *f, const char *arg)
{
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		if (!strcmp(arg, reasons[i].name)) {
			f->reasons |= 1u << reasons[i].code;
			return 0;
		}
	}
	fprintf(stderr, "bpfctl: --reason %s: no such reason; 'bpfctl reasons' "
		"lists them (e.g. no-endpoint)\n", arg);
	return -1;
}

static int parse_ip(struct monitor_filter *f, const char *arg)
{
	struct in_addr a;

	if (inet_pton(AF_INET, arg, &a) != 1) {
		fprintf(stderr, "bpfctl: --ip %s: expected an IPv4 address such as "
			"10.244.1.10\n", arg);
		return -1;
	}
	if (f->n_ips == MONITOR_MAX_IPS) {
		fprintf(stderr, "bpfctl: --ip: at most %d addresses\n", MONITOR_MAX_IPS);
		return -1;
	}
	f->ips[f->n_ips++] = a.s_addr;
	return 0;
}

static int parse_proto(struct monitor_filter *f, const char *arg)
{
	if (!strcmp(arg, "tcp"))
		f->proto = IPPROTO_TCP;
	else if (!strcmp(arg, "udp"))
		f->proto = IPPROTO_UDP;
	else if (!strcmp(arg, "icmp"))
		f->proto = IPPROTO_ICMP;
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
		fprintf(stderr, "bpfctl: --direction %s: expected egress or ingress\n", arg);
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

/* Options of bpfctl monitor; 0 or -1 after saying what was wrong. */
static int parse_monitor_option(struct monitor_filter *f, int opt, const char *arg)
{
	f->given = true;
	switch (opt) {
	case 'r': return parse_reason(f, arg);
	case 'i': return parse_ip(f, arg);
	case 'p': return parse_proto(f, arg);
	case 'd': return parse_direction(f, arg);
	case 'n': return parse_count(f, arg);
	case 't': return parse_timeout(f, arg);
	default: return -1;
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "bpffs", required_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'j' },
		{ "all", no_argument, NULL, 'a' },
		{ "reason", required_argument, NULL, 'r' },
		{ "ip", required_argument, NULL, 'i' },
		{ "proto", required_argument, NULL, 'p' },
		{ "direction", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
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
		{ "monitor", cmd_monitor, true },
		{ "events", cmd_events, true },
	};
	struct ctl c = { .root = DEFAULT_BPFFS, .mon = { .proto = -1, .dir = -1 } };
	int opt;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'b': c.root = optarg; break;
		case 'j': c.json = true; break;
		case 'a': c.all = true; break;
		case 'h': fputs(usage, stdout); return 0;
		case 'r': case 'i': case 'p': case 'd': case 'n': case 't':
			if (parse_monitor_option(&c.mon, opt, optarg))
				return 2;
			break;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		fputs(usage, stderr);
		return 2;
	}
	if (c.mon.given && strcmp(argv[optind], "monitor")) {
		fprintf(stderr, "bpfctl: --reason, --ip, --proto, --direction, --count "
			"and --timeout are options of monitor, not of %s\n", argv[optind]);
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
