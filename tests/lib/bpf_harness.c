// SPDX-License-Identifier: Apache-2.0
/* Loading and running the real datapath object; see bpf_harness.h. */
#include "bpf_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <linux/pkt_cls.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf_lxc.skel.h"

/* libbpf's own messages: warnings always, debug output with EW_TEST_DEBUG. */
static int bh_libbpf_print(enum libbpf_print_level level, const char *fmt,
			   va_list args)
{
	if (level == LIBBPF_DEBUG && !getenv("EW_TEST_DEBUG"))
		return 0;
	return vfprintf(stderr, fmt, args);
}

bool bh_privileged(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2] = { 0 };
	__u32 bpf = 1u << (CAP_BPF - 32), admin = 1u << CAP_NET_ADMIN;

	if (geteuid() == 0)
		return true;
	if (syscall(SYS_capget, &hdr, data))
		return false;
	return (data[1].effective & bpf) && (data[0].effective & admin);
}

int bh_open(struct bh *h, const struct bh_opts *opts)
{
	struct bpf_map *map;
	int err;

	memset(h, 0, sizeof(*h));
	libbpf_set_print(bh_libbpf_print);

	h->skel = bpf_lxc__open();
	if (!h->skel) {
		err = -errno;
		fprintf(stderr, "bh_open: cannot open the bpf_lxc skeleton: %s\n",
			strerror(-err));
		return err;
	}
	/* The object pins its maps by name; a test must never share them with
	 * a running agent or another test, so no map gets a pin path. */
	bpf_object__for_each_map(map, h->skel->obj) {
		err = bpf_map__set_pin_path(map, NULL);
		if (err) {
			fprintf(stderr, "bh_open: cannot clear the pin path of map %s: %s\n",
				bpf_map__name(map), strerror(-err));
			goto fail;
		}
	}
	if (opts)
		h->skel->rodata->redirect_peer_unavailable =
			opts->redirect_peer_unavailable;

	err = bpf_lxc__load(h->skel);
	if (err) {
		fprintf(stderr, "bh_open: cannot load bpf_lxc: %s "
			"(run as root; EW_TEST_DEBUG=1 shows the verifier log)\n",
			strerror(-err));
		goto fail;
	}
	h->prog_fd = bpf_program__fd(h->skel->progs.from_container);
	h->endpoints_fd = bpf_map__fd(h->skel->maps.ew_endpoints);
	h->routes_fd = bpf_map__fd(h->skel->maps.ew_routes);
	h->metrics_fd = bpf_map__fd(h->skel->maps.ew_metrics);
	return 0;

fail:
	bpf_lxc__destroy(h->skel);
	h->skel = NULL;
	return err;
}

void bh_close(struct bh *h)
{
	if (h->skel)
		bpf_lxc__destroy(h->skel);
	memset(h, 0, sizeof(*h));
}

int bh_add_endpoint(struct bh *h, uint32_t ip, uint32_t ifindex,
		    const uint8_t mac[6], const uint8_t node_mac[6])
{
	struct ew_endpoint_key key = { .ip = ip };
	struct ew_endpoint ep = { .ifindex = ifindex };
	char addr[INET_ADDRSTRLEN];

	memcpy(ep.mac, mac, sizeof(ep.mac));
	memcpy(ep.node_mac, node_mac, sizeof(ep.node_mac));
	if (bpf_map_update_elem(h->endpoints_fd, &key, &ep, BPF_ANY)) {
		fprintf(stderr, "bh_add_endpoint: cannot add %s: %s\n",
			inet_ntop(AF_INET, &ip, addr, sizeof(addr)), strerror(errno));
		return -errno;
	}
	return 0;
}

int bh_add_route(struct bh *h, uint32_t addr, uint32_t prefixlen,
		 uint32_t node_ip, uint32_t flags)
{
	struct ew_route_key key = { .prefixlen = prefixlen, .addr = addr };
	struct ew_route route = { .node_ip = node_ip, .flags = flags };
	char text[INET_ADDRSTRLEN];

	if (bpf_map_update_elem(h->routes_fd, &key, &route, BPF_ANY)) {
		fprintf(stderr, "bh_add_route: cannot add %s/%u: %s\n",
			inet_ntop(AF_INET, &addr, text, sizeof(text)), prefixlen,
			strerror(errno));
		return -errno;
	}
	return 0;
}

int bh_run(struct bh *h, const void *data, size_t len, uint32_t ifindex,
	   struct bh_result *res)
{
	struct __sk_buff ctx = { .ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = data,
		.data_size_in = (__u32)len,
		.data_out = res->data,
		.data_size_out = sizeof(res->data),
		.ctx_in = &ctx,
		.ctx_size_in = sizeof(ctx),
		.repeat = 1,
	);
	int err;

	memset(res, 0, sizeof(*res));
	err = bpf_prog_test_run_opts(h->prog_fd, &opts);
	if (err) {
		err = -errno;
		fprintf(stderr, "bh_run: BPF_PROG_TEST_RUN of a %zu-byte packet "
			"failed: %s\n", len, strerror(-err));
		return err;
	}
	res->retval = (int)opts.retval;
	res->len = opts.data_size_out;
	return 0;
}

int bh_counters_read(struct bh *h, struct bh_counters *c)
{
	int ncpus = libbpf_num_possible_cpus();
	struct ew_metrics *percpu;
	__u32 i;
	int cpu;

	if (ncpus <= 0) {
		fprintf(stderr, "bh_counters_read: cannot count CPUs: %s\n",
			strerror(-ncpus));
		return ncpus ? ncpus : -EINVAL;
	}
	percpu = calloc((size_t)ncpus, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	memset(c, 0, sizeof(*c));
	for (i = 0; i < EW_METRICS_SIZE; i++) {
		if (bpf_map_lookup_elem(h->metrics_fd, &i, percpu)) {
			int err = -errno;

			fprintf(stderr, "bh_counters_read: cannot read ew_metrics[%u]: %s\n",
				i, strerror(-err));
			free(percpu);
			return err;
		}
		for (cpu = 0; cpu < ncpus; cpu++) {
			c->m[i].packets += percpu[cpu].packets;
			c->m[i].bytes += percpu[cpu].bytes;
		}
	}
	free(percpu);
	return 0;
}

/* --- the wire: veth pairs in a private network namespace ---------------------- */

struct nl_req {
	struct nlmsghdr nh;
	struct ifinfomsg ifi;
	char attrs[256];
};

static struct rtattr *nl_put(struct nl_req *req, int type, const void *data,
			     size_t len)
{
	size_t off = NLMSG_ALIGN(req->nh.nlmsg_len);
	struct rtattr *rta = (struct rtattr *)((char *)req + off);

	if (off + RTA_ALIGN(RTA_LENGTH(len)) > sizeof(*req))
		return NULL;
	rta->rta_type = (unsigned short)type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(rta), data, len);
	req->nh.nlmsg_len = (__u32)(off + RTA_ALIGN(rta->rta_len));
	return rta;
}

static void nl_nest_end(struct nl_req *req, struct rtattr *nest)
{
	nest->rta_len = (unsigned short)((char *)req + req->nh.nlmsg_len - (char *)nest);
}

/* ip link add <host> type veth peer name <pod> netns <pod_ns> */
static int veth_create(const char *host, const char *pod, int pod_ns)
{
	struct nl_req req = {
		.nh = {
			.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)),
			.nlmsg_type = RTM_NEWLINK,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
			.nlmsg_seq = 1,
		},
		.ifi = { .ifi_family = AF_UNSPEC },
	};
	struct ifinfomsg peer_ifi = { .ifi_family = AF_UNSPEC };
	struct rtattr *linkinfo, *data, *peer;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	__u32 ns_fd = (__u32)pod_ns;
	char reply[1024];
	struct nlmsghdr *nh = (struct nlmsghdr *)reply;
	ssize_t n;
	int fd, err;

	if (!nl_put(&req, IFLA_IFNAME, host, strlen(host) + 1) ||
	    !(linkinfo = nl_put(&req, IFLA_LINKINFO, NULL, 0)) ||
	    !nl_put(&req, IFLA_INFO_KIND, "veth", 5) ||
	    !(data = nl_put(&req, IFLA_INFO_DATA, NULL, 0)) ||
	    !(peer = nl_put(&req, VETH_INFO_PEER, &peer_ifi, sizeof(peer_ifi))) ||
	    !nl_put(&req, IFLA_IFNAME, pod, strlen(pod) + 1) ||
	    !nl_put(&req, IFLA_NET_NS_FD, &ns_fd, sizeof(ns_fd)))
		return -ENOSPC;
	nl_nest_end(&req, peer);
	nl_nest_end(&req, data);
	nl_nest_end(&req, linkinfo);

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (sendto(fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&kernel,
		   sizeof(kernel)) < 0) {
		err = -errno;
		goto out;
	}
	n = recv(fd, reply, sizeof(reply), 0);
	if (n < 0)
		err = -errno;
	else if (!NLMSG_OK(nh, (size_t)n) || nh->nlmsg_type != NLMSG_ERROR)
		err = -EPROTO;
	else
		err = ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
out:
	close(fd);
	return err;
}

static int link_up(const char *name)
{
	struct ifreq ifr = { 0 };
	int fd, err = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		err = -errno;
	} else {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
			err = -errno;
	}
	close(fd);
	return err;
}

/* No IPv6 on new links: no router solicitation or MLD report may reach the
 * program and disturb the counters. Absent IPv6 is fine too. */
static int ipv6_off(void)
{
	static const char *const paths[] = {
		"/proc/sys/net/ipv6/conf/all/disable_ipv6",
		"/proc/sys/net/ipv6/conf/default/disable_ipv6",
	};
	size_t i;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		FILE *f = fopen(paths[i], "w");

		if (!f) {
			if (errno == ENOENT)
				continue;
			return -errno;
		}
		fputs("1\n", f);
		if (fclose(f))
			return -errno;
	}
	return 0;
}

static int wire_attach(struct bh *h, int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, tc, .prog_fd = h->prog_fd, .handle = 1, .priority = 1);
	int err;

	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST)
		return err;
	return bpf_tc_attach(&hook, &tc);
}

static int wire_socket(int ifindex)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ALL),
		.sll_ifindex = ifindex,
	};
	int fd, err;

	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* A new network namespace with IPv6 off; the process stays in it. */
static int netns_new(int *fd)
{
	int err;

	if (unshare(CLONE_NEWNET))
		return -errno;
	err = ipv6_off();
	if (err)
		return err;
	*fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	return *fd < 0 ? -errno : 0;
}

/* Pod end i, inside the pods' namespace: up, and a packet socket on it. */
static int wire_pod_end(struct bh_wire *w, int i, const char *pod)
{
	int err;

	if (setns(w->pods_ns, CLONE_NEWNET))
		return -errno;
	err = link_up(pod);
	if (!err) {
		w->pod_ifindex[i] = (int)if_nametoindex(pod);
		w->sock[i] = wire_socket(w->pod_ifindex[i]);
		if (w->sock[i] < 0)
			err = w->sock[i];
	}
	if (setns(w->host_ns, CLONE_NEWNET) && !err)
		err = -errno;
	return err;
}

int bh_wire_open(struct bh *h, struct bh_wire *w)
{
	char host[IFNAMSIZ], pod[IFNAMSIZ];
	const char *step;
	int i, err;

	w->host_ns = w->pods_ns = -1;
	for (i = 0; i < BH_WIRE_PODS; i++)
		w->sock[i] = -1;
	step = "creating the pods' network namespace";
	err = netns_new(&w->pods_ns);
	if (err)
		goto fail;
	step = "creating the node's network namespace";
	err = netns_new(&w->host_ns);
	if (err)
		goto fail;
	for (i = 0; i < BH_WIRE_PODS; i++) {
		snprintf(host, sizeof(host), "ewh%d", i);
		snprintf(pod, sizeof(pod), "ewp%d", i);
		step = "creating a veth pair";
		err = veth_create(host, pod, w->pods_ns);
		if (err)
			goto fail;
		step = "bringing the host veth up";
		err = link_up(host);
		if (err)
			goto fail;
		w->host_ifindex[i] = (int)if_nametoindex(host);
		step = "attaching from_container at TC ingress";
		err = wire_attach(h, w->host_ifindex[i]);
		if (err)
			goto fail;
		step = "setting up the pod end";
		err = wire_pod_end(w, i, pod);
		if (err)
			goto fail;
	}
	return 0;

fail:
	fprintf(stderr, "bh_wire_open: %s failed: %s\n", step, strerror(-err));
	bh_wire_close(w);
	return err;
}

void bh_wire_close(struct bh_wire *w)
{
	int i;

	/* the links go with the namespaces when the process exits */
	for (i = 0; i < BH_WIRE_PODS; i++) {
		if (w->sock[i] >= 0)
			close(w->sock[i]);
		w->sock[i] = -1;
	}
	if (w->host_ns >= 0)
		close(w->host_ns);
	if (w->pods_ns >= 0)
		close(w->pods_ns);
	w->host_ns = w->pods_ns = -1;
}

static __u64 egress_packets(const struct bh_counters *c)
{
	__u64 sum = 0;
	__u32 r;

	for (r = 0; r < EW_REASON_MAX; r++)
		sum += c->m[ew_metrics_index(r, EW_DIR_EGRESS)].packets;
	return sum;
}

int bh_wire_send(struct bh *h, struct bh_wire *w, int pod, const void *data,
		 size_t len)
{
	struct timespec pause = { .tv_nsec = 1000 * 1000 };
	struct bh_counters before, now;
	int err, tries;

	if (pod < 0 || pod >= BH_WIRE_PODS)
		return -EINVAL;
	err = bh_counters_read(h, &before);
	if (err)
		return err;
	if (send(w->sock[pod], data, len, 0) != (ssize_t)len) {
		err = -errno;
		fprintf(stderr, "bh_wire_send: cannot send %zu bytes out of ewp%d: %s\n",
			len, pod, strerror(-err));
		return err;
	}
	for (tries = 0; tries < 1000; tries++) {
		err = bh_counters_read(h, &now);
		if (err)
			return err;
		if (egress_packets(&now) > egress_packets(&before))
			return 0;
		nanosleep(&pause, NULL);
	}
	fprintf(stderr, "bh_wire_send: the program did not count the frame within 1 s\n");
	return -ETIMEDOUT;
}

int bh_wire_recv(struct bh_wire *w, int pod, void *buf, size_t size,
		 int timeout_ms)
{
	struct pollfd pfd = { .events = POLLIN };
	struct sockaddr_ll from;
	socklen_t fromlen;
	ssize_t n;
	int ready;

	if (pod < 0 || pod >= BH_WIRE_PODS)
		return -EINVAL;
	pfd.fd = w->sock[pod];
	for (;;) {
		ready = poll(&pfd, 1, timeout_ms);
		if (ready < 0)
			return -errno;
		if (!ready)
			return 0;
		fromlen = sizeof(from);
		n = recvfrom(w->sock[pod], buf, size, 0, (struct sockaddr *)&from, &fromlen);
		if (n < 0)
			return -errno;
		/* a packet socket also sees what it sent itself */
		if (from.sll_pkttype != PACKET_OUTGOING)
			return (int)n;
	}
}

const char *bh_verdict_name(int retval)
{
	switch (retval) {
	case TC_ACT_UNSPEC:
		return "TC_ACT_UNSPEC";
	case TC_ACT_OK:
		return "TC_ACT_OK";
	case TC_ACT_RECLASSIFY:
		return "TC_ACT_RECLASSIFY";
	case TC_ACT_SHOT:
		return "TC_ACT_SHOT";
	case TC_ACT_PIPE:
		return "TC_ACT_PIPE";
	case TC_ACT_STOLEN:
		return "TC_ACT_STOLEN";
	case TC_ACT_QUEUED:
		return "TC_ACT_QUEUED";
	case TC_ACT_REPEAT:
		return "TC_ACT_REPEAT";
	case TC_ACT_REDIRECT:
		return "TC_ACT_REDIRECT";
	default:
		return "TC_ACT_?";
	}
}

const char *bh_reason_name(uint32_t reason)
{
	static char buf[32];

	switch (reason) {
#define BH_REASON_CASE(name, code, str, desc)                                  \
	case code:                                                             \
		return str;
		EW_REASONS(BH_REASON_CASE)
#undef BH_REASON_CASE
	default:
		snprintf(buf, sizeof(buf), "reason-%u", reason);
		return buf;
	}
}
