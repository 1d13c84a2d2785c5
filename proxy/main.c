// SPDX-License-Identifier: Apache-2.0
/* edgewire-proxy: the node's L7 (HTTP) policy proxy. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "pins.h"
#include "route.h"

#define DEFAULT_BPFFS  "/sys/fs/bpf/edgewire"
#define DEFAULT_CONFIG "/run/edgewire/l7-policy.json"
#define DEFAULT_REQUEST_TIMEOUT_S 60
/* Connections the kernel holds for accept() while the loop is busy. */
#define LISTEN_BACKLOG 1024

static const char usage[] =
	"usage: edgewire-proxy [options]\n"
	"\n"
	"Checks every HTTP request of the connections the datapath hands over\n"
	"(L7-policed: CiliumNetworkPolicy toPorts[].rules.http) against the\n"
	"agent's rules, forwards the allowed ones to their server from the\n"
	"client's own address and answers the others 403. Run one per node, in\n"
	"the node's network namespace, beside edgewire-agent.\n"
	"\n"
	"  --bpffs PATH          bpffs root of the agent's pins\n"
	"                        (default " DEFAULT_BPFFS ")\n"
	"  --config PATH         the agent's L7 rules, read again whenever they\n"
	"                        change; missing or bad: every request is denied\n"
	"                        (default " DEFAULT_CONFIG ")\n"
	"  --listen ADDR:PORT    where the datapath delivers connections\n"
	"                        (default 127.0.0.1:15080)\n"
	"  --request-timeout S   a connection that waits longer for its next request\n"
	"                        (idle, or sending a head slowly) is closed, with 408\n"
	"                        when part of a head came (default 60)\n"
	"  --log-level LEVEL     debug (every request), info, warn or error\n"
	"                        (default info)\n";

struct options {
	const char *bpffs, *config;
	struct sockaddr_in listen;
	unsigned int request_timeout_s;
};

static int parse_listen(const char *s, struct sockaddr_in *sa)
{
	const char *colon = strrchr(s, ':');
	char addr[INET_ADDRSTRLEN];
	char *end;
	unsigned long port;

	if (!colon || colon - s >= (long)sizeof(addr))
		return -1;
	snprintf(addr, sizeof(addr), "%.*s", (int)(colon - s), s);
	port = strtoul(colon + 1, &end, 10);
	if (*end || !colon[1] || port < 1 || port > 65535 ||
	    inet_pton(AF_INET, addr, &sa->sin_addr) != 1)
		return -1;
	sa->sin_family = AF_INET;
	sa->sin_port = htons(port);
	return 0;
}

static int parse_seconds(const char *s, unsigned int *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*end || !*s || v < 1 || v > 86400)
		return -1;
	*out = v;
	return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "bpffs", required_argument, NULL, 'b' },
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "request-timeout", required_argument, NULL, 't' },
		{ "log-level", required_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	*o = (struct options){
		.bpffs = DEFAULT_BPFFS,
		.config = DEFAULT_CONFIG,
		.request_timeout_s = DEFAULT_REQUEST_TIMEOUT_S,
		.listen = { .sin_family = AF_INET, .sin_port = htons(EW_PROXY_PORT),
			    .sin_addr.s_addr = htonl(EW_PROXY_ADDR) },
	};
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'b': o->bpffs = optarg; break;
		case 'c': o->config = optarg; break;
		case 'l':
			if (parse_listen(optarg, &o->listen)) {
				fprintf(stderr,
					"edgewire-proxy: --listen %s is not ADDR:PORT; "
					"expected an IPv4 address and a port from 1 to "
					"65535, such as 127.0.0.1:15080\n",
					optarg);
				return -1;
			}
			break;
		case 't':
			if (parse_seconds(optarg, &o->request_timeout_s)) {
				fprintf(stderr,
					"edgewire-proxy: --request-timeout %s is not a "
					"number of seconds; expected 1 to 86400\n",
					optarg);
				return -1;
			}
			break;
		case 'v':
			if (ew_log_set_level(optarg)) {
				fprintf(stderr,
					"edgewire-proxy: --log-level %s is not a level; "
					"expected debug, info, warn or error\n",
					optarg);
				return -1;
			}
			break;
		case 'h': fputs(usage, stdout); exit(0);
		default: fputs(usage, stderr); return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "edgewire-proxy: unexpected argument '%s'\n%s",
			argv[optind], usage);
		return -1;
	}
	return 0;
}

/*
 * Transparent: bpf_sk_assign() hands it connections to any address, and the
 * sockets it accepts answer from the servers' addresses. No SO_REUSEPORT: a
 * second proxy on the node must fail here, not share the connections.
 */
static int listen_open(const struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	char addr[INET_ADDRSTRLEN];
	int one = 1;

	if (fd >= 0 && !setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) &&
	    !setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one)) &&
	    !bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) &&
	    !listen(fd, LISTEN_BACKLOG))
		return fd;
	inet_ntop(AF_INET, &sa->sin_addr, addr, sizeof(addr));
	ew_error("proxy", "cannot listen on %s:%u: %s", addr, ntohs(sa->sin_port),
		 strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

/* Two sockets a connection, and some to spare. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= 2 * PROXY_MAX_CONNS + 64)
		return;
	rl.rlim_cur = rl.rlim_max < 2 * PROXY_MAX_CONNS + 64 ? rl.rlim_max :
							      2 * PROXY_MAX_CONNS + 64;
	setrlimit(RLIMIT_NOFILE, &rl);
}

int main(int argc, char **argv)
{
	struct proxy p = { .epoll_fd = -1 };
	char maps_dir[PATH_MAX];
	struct options o;
	int stats_fd, listen_fd, ret;

	if (parse_options(argc, argv, &o))
		return 2;
	ew_log_capture_libbpf();
	if (pins_open(o.bpffs, &p.maps, &stats_fd))
		return 1;
	if (proxy_route_install())
		return 1;
	listen_fd = listen_open(&o.listen);
	if (listen_fd < 0)
		return 1;
	raise_fd_limit();
	snprintf(maps_dir, sizeof(maps_dir), "%s/maps", o.bpffs);
	report_open(&p.report, stats_fd, maps_dir);
	p.config_path = o.config;
	p.request_timeout_ms = o.request_timeout_s * 1000;
	ew_info("proxy", "listening on %s:%u, pins in %s, rules in %s",
		inet_ntoa(o.listen.sin_addr), ntohs(o.listen.sin_port), maps_dir,
		o.config);
	ret = proxy_run(&p, listen_fd);
	report_close(&p.report);
	l7_config_free(&p.config);
	return ret ? 1 : 0;
}
