// SPDX-License-Identifier: Apache-2.0
/* edgewire-agent: programs one node's datapath from a YAML store. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "api.h"
#include "http.h"
#include "log.h"
#include "maglev.h"
#include "metrics.h"
#include "netutil.h"
#include "watch.h"

/* Editors and ConfigMap updates write in several steps: the store is read
 * once it has been quiet this long, or this long after the first change of a
 * batch at the latest, however busy it stays. */
#define QUIET_MS    20
#define MAX_WAIT_MS 200
/* Repairs drift (entries changed behind the agent's back) this often. */
#define RESYNC_MS 30000
#define DEFAULT_METRICS_ADDR "127.0.0.1:9962"

static const char usage[] =
	"usage: edgewire-agent --node NAME --store DIR [options]\n"
	"       edgewire-agent check --store DIR\n"
	"\n"
	"Programs this node's edgewire datapath from a directory of Kubernetes\n"
	"YAML (Node, Namespace, Pod, ...), and keeps it in line as files change.\n"
	"\n"
	"  --node NAME        this node's name in the store (required)\n"
	"  --store DIR        the store directory (required)\n"
	"  --bpffs PATH       bpffs root for pins (default " EW_DEFAULT_BPFFS ")\n"
	"  --socket PATH      API socket for the CNI plugin\n"
	"                     (default " EW_DEFAULT_SOCKET ")\n"
	"  --state-dir DIR    where attachments are kept (default /var/lib/edgewire)\n"
	"  --cni-conf PATH    write the node's CNI config there, with its pod CIDR\n"
	"                     (e.g. /etc/cni/net.d/05-edgewire.conflist)\n"
	"  --cluster-cidr CIDR  the pod CIDR of the whole cluster, so traffic to a\n"
	"                     node that is gone is dropped and counted (no-node)\n"
	"  --vni N            VXLAN network identifier (default 1)\n"
	"  --vxlan-port PORT  VXLAN UDP port (default 4789)\n"
	"  --maglev-table-size N  slots of each service's Maglev table, a prime;\n"
	"                     more slots spread more backends evenly and cost 4\n"
	"                     bytes each per service port (default 1021)\n"
	"  --tc-attach MODE   auto (tcx where the kernel has it, else clsact),\n"
	"                     tcx or clsact (default auto)\n"
	"  --metrics-addr ADDR:PORT  serve /metrics (Prometheus) and /healthz over\n"
	"                     HTTP (default " DEFAULT_METRICS_ADDR "; none: not at all)\n"
	"  --proxy-config PATH  where edgewire-proxy reads the L7 (HTTP) rules\n"
	"                     (default " EW_PROXY_CONFIG_DEFAULT ")\n"
	"  --log-level LEVEL  debug, info, warn or error (default info)\n"
	"\n"
	"check validates the store without touching the kernel: it prints every\n"
	"problem as FILE:LINE:COL and exits 1 if there is any; otherwise it prints\n"
	"the objects it read, one per line, tab separated.\n";

struct options {
	struct ew_agent_config agent;
	const char *metrics_addr; /* NULL: none */
	bool check;
};

static void print_model(const struct ew_model *m)
{
	char ip[16], cidr[16];

	for (size_t i = 0; i < m->n_nodes; i++) {
		const struct ew_node *n = &m->nodes[i];

		printf("node\t%s\t", n->name);
		if (n->pod_cidr)
			printf("%s/%u", ew_format_ipv4(n->pod_cidr, cidr), n->pod_prefixlen);
		else
			printf("-");
		printf("\t%s\n", n->internal_ip ? ew_format_ipv4(n->internal_ip, ip) : "-");
	}
	for (size_t i = 0; i < m->n_namespaces; i++)
		printf("namespace\t%s\n", m->namespaces[i].name);
	for (size_t i = 0; i < m->n_pods; i++) {
		const struct ew_pod *p = &m->pods[i];

		printf("pod\t%s\t%s\t%s\t%s\t", p->namespace, p->name,
		       p->node_name ? p->node_name : "-",
		       p->ip ? ew_format_ipv4(p->ip, ip) : "-");
		for (size_t j = 0; j < p->n_ports; j++)
			printf("%s%u/%s", j ? "," : "", p->ports[j].port,
			       p->ports[j].protocol == EW_PROTO_UDP  ? "udp" :
			       p->ports[j].protocol == EW_PROTO_SCTP ? "sctp" :
								       "tcp");
		printf("%s\t%s\n", p->n_ports ? "" : "-",
		       p->host_network ? "hostNetwork" : "-");
	}
	for (size_t i = 0; i < m->n_services; i++) {
		const struct ew_service *s = &m->services[i];

		printf("service\t%s/%s\t%s\t%s\t", s->namespace, s->name,
		       s->type == EW_SERVICE_NODE_PORT ? "NodePort" : "ClusterIP",
		       s->cluster_ip ? ew_format_ipv4(s->cluster_ip, ip) : "-");
		for (size_t j = 0; j < s->n_ports; j++) {
			const struct ew_service_port *sp = &s->ports[j];

			printf("%s%u/%s->", j ? "," : "", sp->port,
			       sp->protocol == EW_PROTO_UDP ? "udp" : "tcp");
			if (sp->target_port_name)
				printf("%s", sp->target_port_name);
			else
				printf("%u", sp->target_port);
			if (sp->node_port)
				printf(":%u", sp->node_port);
		}
		printf("\n");
	}
	for (size_t i = 0; i < m->n_slices; i++)
		printf("endpointslice\t%s/%s\t%s\t%zu endpoints\n", m->slices[i].namespace,
		       m->slices[i].name, m->slices[i].service, m->slices[i].n_endpoints);
	for (size_t i = 0; i < m->n_policies; i++) {
		const struct ew_network_policy *p = &m->policies[i];
		const char *isolates = p->isolates_ingress ?
			(p->isolates_egress ? "ingress,egress" : "ingress") :
			(p->isolates_egress ? "egress" : "-");

		printf("networkpolicy\t%s/%s\t%s\t%s\t%zu ingress rules\t%zu egress rules\n",
		       p->namespace, p->name,
		       p->kind == EW_POLICY_CILIUM ? "CiliumNetworkPolicy" : "NetworkPolicy",
		       isolates, p->n_ingress, p->n_egress);
	}
}

static int run_check(const char *dir)
{
	struct ew_store *s = ew_store_new(dir);
	struct ew_diags diags = { 0 };
	char line[4096];
	int ret;

	if (!s) {
		fprintf(stderr, "edgewire-agent: cannot open store %s\n", dir);
		return 1;
	}
	ret = ew_store_load(s, &diags);
	for (size_t i = 0; i < diags.n; i++)
		fprintf(stderr, "%s\n", ew_diag_format(&diags.items[i], line, sizeof(line)));
	if (!ret)
		print_model(ew_store_model(s));
	ew_diags_clear(&diags);
	ew_store_free(s);
	return ret ? 1 : 0;
}

static int parse_tc_attach(const char *s, enum ew_tc_attach *mode)
{
	static const char *const names[] = {
		[EW_TC_ATTACH_AUTO] = "auto",
		[EW_TC_ATTACH_TCX] = "tcx",
		[EW_TC_ATTACH_CLSACT] = "clsact",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i])) {
			*mode = i;
			return 0;
		}
	}
	fprintf(stderr, "edgewire-agent: --tc-attach %s: expected auto, tcx or clsact\n", s);
	return -1;
}

static int parse_number(const char *s, const char *opt, unsigned long min,
			unsigned long max, uint32_t *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*s < '0' || *s > '9' || *end || v < min || v > max) {
		fprintf(stderr, "edgewire-agent: %s %s: expected a number from %lu to %lu\n",
			opt, s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "node", required_argument, NULL, 'n' },
		{ "store", required_argument, NULL, 's' },
		{ "bpffs", required_argument, NULL, 'b' },
		{ "socket", required_argument, NULL, 'S' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "cni-conf", required_argument, NULL, 'c' },
		{ "tc-attach", required_argument, NULL, 't' },
		{ "cluster-cidr", required_argument, NULL, 'C' },
		{ "vni", required_argument, NULL, 'V' },
		{ "vxlan-port", required_argument, NULL, 'P' },
		{ "maglev-table-size", required_argument, NULL, 'M' },
		{ "metrics-addr", required_argument, NULL, 'm' },
		{ "proxy-config", required_argument, NULL, 'X' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	uint32_t number;
	int c;

	*o = (struct options){
		.agent = { .bpffs = EW_DEFAULT_BPFFS, .state_dir = "/var/lib/edgewire",
			   .proxy_config = EW_PROXY_CONFIG_DEFAULT },
	};
	o->agent.socket = EW_DEFAULT_SOCKET;
	o->metrics_addr = DEFAULT_METRICS_ADDR;
	o->agent.vni = EW_VXLAN_VNI_DEFAULT;
	o->agent.vxlan_port = EW_VXLAN_PORT_DEFAULT;
	if (argc > 1 && !strcmp(argv[1], "check")) {
		o->check = true;
		argv++;
		argc--;
	}
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n': o->agent.node = optarg; break;
		case 's': o->agent.store_dir = optarg; break;
		case 'b': o->agent.bpffs = optarg; break;
		case 'S': o->agent.socket = optarg; break;
		case 'd': o->agent.state_dir = optarg; break;
		case 'c': o->agent.cni_conf = optarg; break;
		case 'X': o->agent.proxy_config = optarg; break;
		case 'm': o->metrics_addr = strcmp(optarg, "none") ? optarg : NULL; break;
		case 't':
			if (parse_tc_attach(optarg, &o->agent.tc_attach))
				return -1;
			break;
		case 'C':
			if (ew_parse_cidr(optarg, &o->agent.cluster_cidr,
					  &o->agent.cluster_prefixlen) != EW_CIDR_OK) {
				fprintf(stderr, "edgewire-agent: --cluster-cidr %s: expected "
					"a network such as 10.244.0.0/16\n", optarg);
				return -1;
			}
			break;
		case 'V':
			if (parse_number(optarg, "--vni", 1, 0xffffff, &o->agent.vni))
				return -1;
			break;
		case 'P':
			if (parse_number(optarg, "--vxlan-port", 1, 65535, &number))
				return -1;
			o->agent.vxlan_port = number;
			break;
		case 'M':
			if (parse_number(optarg, "--maglev-table-size", 2,
					 EW_MAGLEV_SIZE_MAX, &o->agent.maglev_size))
				return -1;
			if (!ew_is_prime(o->agent.maglev_size)) {
				fprintf(stderr, "edgewire-agent: --maglev-table-size %s: "
					"expected a prime such as 251, 1021, 4093 or "
					"16381\n", optarg);
				return -1;
			}
			break;
		case 'l':
			if (ew_log_set_level(optarg)) {
				fprintf(stderr, "edgewire-agent: --log-level %s: expected "
					"debug, info, warn or error\n", optarg);
				return -1;
			}
			break;
		case 'h': fputs(usage, stdout); exit(0);
		default: fputs(usage, stderr); return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "edgewire-agent: unexpected argument '%s'\n%s",
			argv[optind], usage);
		return -1;
	}
	if (!o->agent.store_dir || (!o->check && !o->agent.node)) {
		fprintf(stderr, "edgewire-agent: %s required\n%s",
			o->check ? "--store is" : "--node and --store are", usage);
		return -1;
	}
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int signal_fd(void)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &mask, SFD_CLOEXEC);
}

/* Serves the socket and HTTP, and follows the store until SIGINT or SIGTERM. */
static int run(struct ew_agent *a, int api_fd, int watch_fd, int sig_fd,
	       struct ew_http *http)
{
	long long reload_at = -1, changed_at = 0, resync_at = now_ms() + RESYNC_MS;

	for (;;) {
		struct pollfd fds[3 + EW_HTTP_POLL_FDS] = {
			{ .fd = sig_fd, .events = POLLIN },
			{ .fd = watch_fd, .events = POLLIN },
			{ .fd = api_fd, .events = POLLIN },
		};
		long long due = reload_at >= 0 ? reload_at : resync_at;
		long long left = due - now_ms();
		int wait = left < 0 ? 0 : (int)left;
		int n_http = ew_http_poll_fds(http, fds + 3, &wait);

		if (poll(fds, 3 + n_http, wait) < 0 && errno != EINTR)
			return -1;
		if (fds[0].revents)
			return 0;
		/* A batch of changes is timed from its first event. */
		if (fds[1].revents && ew_watch_drain(watch_fd)) {
			if (reload_at < 0)
				changed_at = now_ms();
			reload_at = now_ms() + QUIET_MS;
			if (reload_at > changed_at + MAX_WAIT_MS)
				reload_at = changed_at + MAX_WAIT_MS;
		}
		if (fds[2].revents)
			ew_api_serve_one(api_fd, a);
		ew_http_process(http, fds + 3, n_http);
		if (reload_at >= 0 && now_ms() >= reload_at) {
			reload_at = -1;
			ew_agent_load_store(a);
			if (!ew_agent_reconcile(a)) /* a change not programmed is not timed */
				ew_histogram_observe(&a->stats.change_seconds,
						     (now_ms() - changed_at) / 1e3);
			resync_at = now_ms() + RESYNC_MS;
		} else if (now_ms() >= resync_at) {
			ew_agent_reconcile(a);
			resync_at = now_ms() + RESYNC_MS;
		}
	}
}

int main(int argc, char **argv)
{
	int api_fd = -1, watch_fd = -1, sig_fd = -1, ret = 1;
	struct ew_http *http = NULL;
	struct options o;
	struct ew_agent a = { 0 };

	if (parse_options(argc, argv, &o))
		return 2;
	if (o.check)
		return run_check(o.agent.store_dir);

	ew_log_capture_libbpf();
	ew_info("agent", "starting on node %s, store %s", o.agent.node, o.agent.store_dir);
	sig_fd = signal_fd();
	watch_fd = ew_watch_open(o.agent.store_dir);
	if (sig_fd < 0 || watch_fd < 0)
		goto out;
	if (o.metrics_addr &&
	    !(http = ew_http_listen(o.metrics_addr, ew_metrics_serve, &a))) {
		ew_error("agent", "--metrics-addr %s: cannot serve metrics there; pass "
			 "another address, or none", o.metrics_addr);
		goto out;
	}
	if (ew_agent_init(&a, &o.agent))
		goto out;
	if (ew_agent_start(&a))
		ew_warn("agent", "first apply was incomplete; retrying on every change");
	api_fd = ew_api_listen(o.agent.socket);
	if (api_fd < 0)
		goto out;
	ew_info("agent", "ready; serving %s", o.agent.socket);
	if (http)
		ew_info("agent", "metrics on http://%s/metrics, health on /healthz",
			o.metrics_addr);
	ret = run(&a, api_fd, watch_fd, sig_fd, http) ? 1 : 0;
	ew_info("agent", "stopping; the datapath stays programmed");
out:
	ew_http_close(http);
	ew_agent_fini(&a);
	unlink(o.agent.socket);
	return ret;
}
