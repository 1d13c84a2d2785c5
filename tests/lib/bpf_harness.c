// SPDX-License-Identifier: Apache-2.0
/* Loading and running the real datapath objects; see bpf_harness.h. */
#include "bpf_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <linux/neighbour.h>
#include <linux/pkt_cls.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <linux/veth.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>

#include <edgewire/maglev_table.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf_lxc.skel.h"
#include "bpf_overlay.skel.h"
#include "bpf_xdp.skel.h"

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

/* The object pins its maps by name; a test must never share them with a
 * running agent or another test, so no map gets a pin path. */
static int clear_pin_paths(struct bpf_object *obj, const char *what)
{
	struct bpf_map *map;
	int err;

	bpf_object__for_each_map(map, obj) {
		err = bpf_map__set_pin_path(map, NULL);
		if (err) {
			fprintf(stderr, "bh_open: cannot clear the pin path of %s map %s: %s\n",
				what, bpf_map__name(map), strerror(-err));
			return err;
		}
	}
	return 0;
}

/* obj (what) uses bpf_lxc's maps of the same name, as both use the same
 * pins in production. Internal maps (.rodata) and maps bpf_lxc lacks stay
 * obj's own. */
static int share_maps(struct bpf_object *obj, struct bpf_object *lxc, const char *what)
{
	struct bpf_map *map, *theirs;
	int err;

	bpf_object__for_each_map(map, obj) {
		if (bpf_map__is_internal(map))
			continue;
		theirs = bpf_object__find_map_by_name(lxc, bpf_map__name(map));
		if (!theirs)
			continue;
		err = bpf_map__reuse_fd(map, bpf_map__fd(theirs));
		if (err) {
			fprintf(stderr, "bh_open: %s cannot reuse map %s: %s\n", what,
				bpf_map__name(map), strerror(-err));
			return err;
		}
	}
	return 0;
}

static int open_failed(const char *what)
{
	int err = -errno;

	fprintf(stderr, "bh_open: cannot open the %s skeleton: %s\n", what, strerror(-err));
	return err;
}

/* Loads the skeleton s, opened after bpf_lxc was loaded, with no pins and
 * bpf_lxc's maps. */
static int load_with_lxc_maps(struct bh *h, struct bpf_object_skeleton *s,
			      const char *what)
{
	int err = clear_pin_paths(*s->obj, what);

	if (!err)
		err = share_maps(*s->obj, h->skel->obj, what);
	if (err)
		return err;
	err = bpf_object__load_skeleton(s);
	if (err)
		fprintf(stderr, "bh_open: cannot load %s: %s "
			"(run as root; EW_TEST_DEBUG=1 shows the verifier log)\n",
			what, strerror(-err));
	return err;
}

static int open_overlay(struct bh *h, const struct bh_opts *opts)
{
	int err;

	h->overlay = bpf_overlay__open();
	if (!h->overlay)
		return open_failed("bpf_overlay");
	if (opts)
		h->overlay->rodata->redirect_peer_unavailable =
			opts->redirect_peer_unavailable;
	err = load_with_lxc_maps(h, h->overlay->skeleton, "bpf_overlay");
	if (err)
		return err;
	h->underlay_prog_fd = bpf_program__fd(h->overlay->progs.from_underlay);
	return 0;
}

static int open_xdp(struct bh *h)
{
	int err;

	h->xdp = bpf_xdp__open();
	if (!h->xdp)
		return open_failed("bpf_xdp");
	err = load_with_lxc_maps(h, h->xdp->skeleton, "bpf_xdp");
	if (err)
		return err;
	h->netdev_prog_fd = bpf_program__fd(h->xdp->progs.from_netdev);
	return 0;
}

int bh_open(struct bh *h, const struct bh_opts *opts)
{
	int err;

	memset(h, 0, sizeof(*h));
	libbpf_set_print(bh_libbpf_print);

	h->skel = bpf_lxc__open();
	if (!h->skel)
		return open_failed("bpf_lxc");
	err = clear_pin_paths(h->skel->obj, "bpf_lxc");
	if (err)
		goto fail;
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
	h->to_container_prog_fd = bpf_program__fd(h->skel->progs.to_container);
	h->endpoints_fd = bpf_map__fd(h->skel->maps.ew_endpoints);
	h->routes_fd = bpf_map__fd(h->skel->maps.ew_routes);
	h->metrics_fd = bpf_map__fd(h->skel->maps.ew_metrics);
	h->nodes_fd = bpf_map__fd(h->skel->maps.ew_nodes);
	h->config_fd = bpf_map__fd(h->skel->maps.ew_config);
	h->lb_frontends_fd = bpf_map__fd(h->skel->maps.ew_lb_frontends);
	h->lb_backends_fd = bpf_map__fd(h->skel->maps.ew_lb_backends);
	h->lb_maglev_fd = bpf_map__fd(h->skel->maps.ew_lb_maglev);
	h->lb_affinity_fd = bpf_map__fd(h->skel->maps.ew_lb_affinity);
	h->ct_fd = bpf_map__fd(h->skel->maps.ew_ct);
	h->ipcache_fd = bpf_map__fd(h->skel->maps.ew_ipcache);
	h->policy_fd = bpf_map__fd(h->skel->maps.ew_policy);
	h->verdicts_fd = bpf_map__fd(h->skel->maps.ew_verdicts);
	h->events_fd = bpf_map__fd(h->skel->maps.ew_events);

	err = open_overlay(h, opts);
	if (!err)
		err = open_xdp(h);
	if (err)
		goto fail;
	return 0;

fail:
	bh_close(h);
	return err;
}

void bh_close(struct bh *h)
{
	if (h->xdp)
		bpf_xdp__destroy(h->xdp);
	if (h->overlay)
		bpf_overlay__destroy(h->overlay);
	if (h->skel)
		bpf_lxc__destroy(h->skel);
	memset(h, 0, sizeof(*h));
}

int bh_add_endpoint(struct bh *h, uint32_t ip, uint32_t ifindex,
		    const uint8_t mac[6], const uint8_t node_mac[6])
{
	return bh_add_endpoint_identity(h, ip, ifindex, mac, node_mac, 0, 0);
}

int bh_add_endpoint_identity(struct bh *h, uint32_t ip, uint32_t ifindex,
			     const uint8_t mac[6], const uint8_t node_mac[6],
			     uint32_t identity, uint32_t flags)
{
	struct ew_endpoint_key key = { .ip = ip };
	struct ew_endpoint ep = { .ifindex = ifindex, .flags = flags, .identity = identity };
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
	static const uint8_t no_vtep[6];

	return bh_add_route_vtep(h, addr, prefixlen, node_ip, flags, no_vtep);
}

int bh_add_route_vtep(struct bh *h, uint32_t addr, uint32_t prefixlen,
		      uint32_t node_ip, uint32_t flags, const uint8_t vtep_mac[6])
{
	struct ew_route_key key = { .prefixlen = prefixlen, .addr = addr };
	struct ew_route route = { .node_ip = node_ip, .flags = flags };
	char text[INET_ADDRSTRLEN];

	memcpy(route.vtep_mac, vtep_mac, sizeof(route.vtep_mac));
	if (bpf_map_update_elem(h->routes_fd, &key, &route, BPF_ANY)) {
		fprintf(stderr, "bh_add_route: cannot add %s/%u: %s\n",
			inet_ntop(AF_INET, &addr, text, sizeof(text)), prefixlen,
			strerror(errno));
		return -errno;
	}
	return 0;
}

int bh_add_node(struct bh *h, uint32_t ip)
{
	struct ew_node_key key = { .ip = ip };
	struct ew_node_info info = { 0 };
	char text[INET_ADDRSTRLEN];

	if (bpf_map_update_elem(h->nodes_fd, &key, &info, BPF_ANY)) {
		fprintf(stderr, "bh_add_node: cannot add %s: %s\n",
			inet_ntop(AF_INET, &ip, text, sizeof(text)), strerror(errno));
		return -errno;
	}
	return 0;
}

int bh_set_config(struct bh *h, const struct ew_config *cfg)
{
	__u32 zero = 0;

	if (bpf_map_update_elem(h->config_fd, &zero, cfg, BPF_ANY)) {
		fprintf(stderr, "bh_set_config: cannot write ew_config: %s\n",
			strerror(errno));
		return -errno;
	}
	return 0;
}

/* --- services ------------------------------------------------------------------ */

/* 0 when the map operation fn just made returned ret = 0; else its errno,
 * negative, after saying on stderr that fn could not <verb> <what>. */
static int map_result(int ret, const char *fn, const char *verb, const char *what)
{
	int err;

	if (!ret)
		return 0;
	err = -errno;
	fprintf(stderr, "%s: cannot %s %s: %s\n", fn, verb, what, strerror(-err));
	return err;
}

static int map_write(int fd, const void *key, const void *val, const char *fn,
		     const char *what)
{
	return map_result(bpf_map_update_elem(fd, key, val, BPF_ANY), fn, "write", what);
}

/* bpf_map_lookup_elem(fd, key, val); only errors other than -ENOENT (a
 * missing entry is an answer) are reported. */
static int map_read(int fd, const void *key, void *val, const char *fn)
{
	int err;

	if (!bpf_map_lookup_elem(fd, key, val))
		return 0;
	err = -errno;
	if (err != -ENOENT)
		fprintf(stderr, "%s: lookup failed: %s\n", fn, strerror(-err));
	return err;
}

/* "10.0.1.20:8080" */
static const char *addr_port(char *buf, size_t size, uint32_t addr, uint16_t port)
{
	char ip[INET_ADDRSTRLEN];

	snprintf(buf, size, "%s:%u", inet_ntop(AF_INET, &addr, ip, sizeof(ip)), port);
	return buf;
}

int bh_add_backend(struct bh *h, uint32_t id, uint32_t addr, uint16_t port,
		   uint8_t flags)
{
	struct ew_lb_backend_key key = { .id = id };
	struct ew_lb_backend be = { .addr = addr, .port = htons(port), .flags = flags };
	char where[32], what[64];

	snprintf(what, sizeof(what), "backend %u (%s)", id,
		 addr_port(where, sizeof(where), addr, port));
	return map_write(h->lb_backends_fd, &key, &be, "bh_add_backend", what);
}

int bh_del_backend(struct bh *h, uint32_t id)
{
	struct ew_lb_backend_key key = { .id = id };
	char what[32];

	snprintf(what, sizeof(what), "backend %u", id);
	return map_result(bpf_map_delete_elem(h->lb_backends_fd, &key), "bh_del_backend",
			  "delete", what);
}

int bh_add_frontend(struct bh *h, uint32_t addr, uint16_t port, uint8_t proto,
		    uint32_t table_id, uint32_t table_size, uint16_t flags,
		    uint32_t affinity_timeout)
{
	struct ew_lb_frontend_key key = { .addr = addr, .port = htons(port), .proto = proto };
	struct ew_lb_frontend fe = {
		.table_id = table_id,
		.table_size = table_size,
		.affinity_timeout = affinity_timeout,
		.flags = flags,
	};
	char where[32], what[64];

	snprintf(what, sizeof(what), "frontend %s/%u",
		 addr_port(where, sizeof(where), addr, port), proto);
	return map_write(h->lb_frontends_fd, &key, &fe, "bh_add_frontend", what);
}

int bh_add_table(struct bh *h, uint32_t table_id, const uint32_t *backend_ids,
		 uint32_t size)
{
	int fd = ew_maglev_table_create(backend_ids, size), err = 0;

	if (fd < 0) {
		fprintf(stderr, "bh_add_table: cannot create table %u of %u slots: %s\n",
			table_id, size, strerror(-fd));
		return fd;
	}
	if (bpf_map_update_elem(h->lb_maglev_fd, &table_id, &fd, BPF_ANY)) {
		err = -errno;
		fprintf(stderr, "bh_add_table: cannot insert table %u into ew_lb_maglev: %s\n",
			table_id, strerror(-err));
	}
	close(fd); /* ew_lb_maglev holds the table now */
	return err;
}

/* --- network policy ------------------------------------------------------------ */

int bh_add_ipcache(struct bh *h, uint32_t addr, uint32_t prefixlen, uint32_t identity,
		   uint32_t cidr_identity)
{
	struct ew_ipcache_key key = { .prefixlen = prefixlen, .addr = addr };
	struct ew_ipcache id = { .identity = identity, .cidr_identity = cidr_identity };
	char ip[INET_ADDRSTRLEN], what[64];

	snprintf(what, sizeof(what), "ipcache entry %s/%u (identity %u)",
		 inet_ntop(AF_INET, &addr, ip, sizeof(ip)), prefixlen, identity);
	return map_write(h->ipcache_fd, &key, &id, "bh_add_ipcache", what);
}

/* The policy entry's key, and in what its description. */
static struct ew_policy_key policy_key(uint32_t subject, uint32_t peer, uint8_t dir,
				       uint8_t proto, uint16_t port, uint32_t prefixlen,
				       char *what, size_t len)
{
	snprintf(what, len, "policy entry %u -> %u %s %u/%u (/%u)", subject, peer,
		 dir == EW_DIR_INGRESS ? "ingress" : "egress", port, proto, prefixlen);
	return (struct ew_policy_key){
		.prefixlen = prefixlen, .subject = subject, .peer = peer,
		.dir = dir, .proto = proto, .port = htons(port),
	};
}

int bh_add_policy(struct bh *h, uint32_t subject, uint32_t peer, uint8_t dir,
		  uint8_t proto, uint16_t port, uint32_t prefixlen, uint32_t rule)
{
	return bh_add_policy_flags(h, subject, peer, dir, proto, port, prefixlen, rule, 0);
}

int bh_add_policy_flags(struct bh *h, uint32_t subject, uint32_t peer, uint8_t dir,
			uint8_t proto, uint16_t port, uint32_t prefixlen, uint32_t rule,
			uint32_t flags)
{
	struct ew_policy_entry entry = { .rule = rule, .flags = flags };
	char what[96];
	struct ew_policy_key key = policy_key(subject, peer, dir, proto, port, prefixlen,
					      what, sizeof(what));

	return map_write(h->policy_fd, &key, &entry, "bh_add_policy", what);
}

int bh_del_policy(struct bh *h, uint32_t subject, uint32_t peer, uint8_t dir,
		  uint8_t proto, uint16_t port, uint32_t prefixlen)
{
	char what[96];
	struct ew_policy_key key = policy_key(subject, peer, dir, proto, port, prefixlen,
					      what, sizeof(what));

	return map_result(bpf_map_delete_elem(h->policy_fd, &key), "bh_del_policy", "delete",
			  what);
}

int bh_ct_lookup(struct bh *h, const struct ew_ct_key *key, struct ew_ct_entry *entry)
{
	return map_read(h->ct_fd, key, entry, "bh_ct_lookup");
}

int bh_ct_count(struct bh *h, uint8_t type)
{
	struct ew_ct_key key, next;
	const void *prev = NULL;
	int n = 0;

	while (!bpf_map_get_next_key(h->ct_fd, prev, &next)) {
		n += !type || next.type == type;
		key = next;
		prev = &key;
	}
	if (errno != ENOENT) {
		n = -errno;
		fprintf(stderr, "bh_ct_count: cannot walk ew_ct: %s\n", strerror(-n));
	}
	return n;
}

int bh_ct_update(struct bh *h, const struct ew_ct_key *key, const struct ew_ct_entry *entry)
{
	return map_write(h->ct_fd, key, entry, "bh_ct_update", "an ew_ct entry");
}

int bh_ct_delete(struct bh *h, const struct ew_ct_key *key)
{
	return map_result(bpf_map_delete_elem(h->ct_fd, key), "bh_ct_delete", "delete",
			  "an ew_ct entry");
}

int bh_affinity_lookup(struct bh *h, const struct ew_lb_affinity_key *key,
		       struct ew_lb_affinity *val)
{
	return map_read(h->lb_affinity_fd, key, val, "bh_affinity_lookup");
}

int bh_affinity_update(struct bh *h, const struct ew_lb_affinity_key *key,
		       const struct ew_lb_affinity *val)
{
	return map_write(h->lb_affinity_fd, key, val, "bh_affinity_update",
			 "an ew_lb_affinity entry");
}

/* --- running a program ------------------------------------------------------- */

static const char *prog_name(enum bh_prog prog)
{
	switch (prog) {
	case BH_FROM_CONTAINER:
		return "from_container";
	case BH_FROM_UNDERLAY:
		return "from_underlay";
	case BH_FROM_NETDEV:
		return "from_netdev";
	case BH_TO_CONTAINER:
		return "to_container";
	}
	return "?";
}

static int prog_fd(const struct bh *h, enum bh_prog prog)
{
	switch (prog) {
	case BH_FROM_CONTAINER:
		return h->prog_fd;
	case BH_FROM_UNDERLAY:
		return h->underlay_prog_fd;
	case BH_FROM_NETDEV:
		return h->netdev_prog_fd;
	case BH_TO_CONTAINER:
		return h->to_container_prog_fd;
	}
	return -1;
}

int bh_run_skb(struct bh *h, enum bh_prog prog, const void *data, size_t len,
	       const struct bh_skb *skb, struct bh_result *res)
{
	struct __sk_buff tc_ctx = {
		.ifindex = skb->ifindex,
		.gso_size = skb->gso_size,
		.gso_segs = skb->gso_segs,
	};
	/* no metadata: the packet starts at 0 and ends at its length */
	struct xdp_md xdp_ctx = {
		.data_end = (__u32)len,
		.ingress_ifindex = skb->ifindex,
	};
	bool xdp = prog == BH_FROM_NETDEV;
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = data,
		.data_size_in = (__u32)len,
		.data_out = res->data,
		.data_size_out = sizeof(res->data),
		.ctx_in = xdp ? (void *)&xdp_ctx : (void *)&tc_ctx,
		.ctx_size_in = xdp ? sizeof(xdp_ctx) : sizeof(tc_ctx),
		.repeat = 1,
	);
	int err;

	memset(res, 0, sizeof(*res));
	if (xdp && (skb->gso_size || skb->gso_segs)) {
		fprintf(stderr, "bh_run: from_netdev is XDP: a packet has no GSO fields\n");
		return -EINVAL;
	}
	err = bpf_prog_test_run_opts(prog_fd(h, prog), &opts);
	if (err) {
		err = -errno;
		fprintf(stderr, "bh_run: BPF_PROG_TEST_RUN of %s on a %zu-byte packet "
			"(ifindex %u) failed: %s\n",
			prog_name(prog), len, skb->ifindex, strerror(-err));
		return err;
	}
	res->retval = (int)opts.retval;
	res->len = opts.data_size_out;
	return 0;
}

int bh_run_prog(struct bh *h, enum bh_prog prog, const void *data, size_t len,
		uint32_t ifindex, struct bh_result *res)
{
	struct bh_skb skb = { .ifindex = ifindex };

	return bh_run_skb(h, prog, data, len, &skb, res);
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

int64_t bh_verdicts(struct bh *h, uint32_t verdict, uint32_t dir)
{
	int ncpus = libbpf_num_possible_cpus();
	uint32_t idx = ew_verdict_index(verdict, dir);
	uint64_t *percpu;
	int64_t sum = 0;

	if (ncpus <= 0)
		return -EINVAL;
	percpu = calloc((size_t)ncpus, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	if (bpf_map_lookup_elem(h->verdicts_fd, &idx, percpu)) {
		sum = -errno;
		fprintf(stderr, "bh_verdicts: cannot read ew_verdicts: %s\n", strerror(errno));
	}
	for (int cpu = 0; sum >= 0 && cpu < ncpus; cpu++)
		sum += percpu[cpu];
	free(percpu);
	return sum;
}

/* What bh_events_read() collects into. */
struct events_sink {
	struct ew_event *ev;
	size_t max, n;
	int err;
};

static int events_collect(void *ctx, void *data, size_t size)
{
	struct events_sink *sink = ctx;

	if (size != sizeof(struct ew_event)) {
		fprintf(stderr, "bh_events_read: a record of %zu bytes, want %zu\n", size,
			sizeof(struct ew_event));
		sink->err = -EPROTO;
	} else if (sink->n < sink->max) {
		memcpy(&sink->ev[sink->n], data, size);
	}
	sink->n++;
	return 0;
}

int bh_events_read(struct bh *h, struct ew_event *ev, size_t max)
{
	struct events_sink sink = { .ev = ev, .max = max };
	struct ring_buffer *ring;
	int err;

	/* the consumer position lives in the map: a new reader goes on from it */
	ring = ring_buffer__new(h->events_fd, events_collect, &sink, NULL);
	if (!ring) {
		err = -errno;
		fprintf(stderr, "bh_events_read: cannot open ew_events: %s\n", strerror(-err));
		return err;
	}
	err = ring_buffer__consume(ring);
	ring_buffer__free(ring);
	if (err < 0) {
		fprintf(stderr, "bh_events_read: cannot consume ew_events: %s\n", strerror(-err));
		return err;
	}
	return sink.err ? sink.err : (int)sink.n;
}

/* --- the wire: veth pairs in a private network namespace ---------------------- */

struct nl_req {
	struct nlmsghdr nh;
	union {
		struct ifinfomsg ifi; /* RTM_NEWLINK */
		struct ifaddrmsg ifa; /* RTM_NEWADDR */
	};
	char attrs[256];
};

/* A request of type with the flags beyond NLM_F_REQUEST | NLM_F_ACK, whose
 * fixed header (ifi or ifa, the caller's to fill) is hdr_len bytes. */
static void nl_begin(struct nl_req *req, __u16 type, __u16 flags, size_t hdr_len)
{
	memset(req, 0, sizeof(*req));
	req->nh.nlmsg_len = NLMSG_LENGTH(hdr_len);
	req->nh.nlmsg_type = type;
	req->nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	req->nh.nlmsg_seq = 1;
}

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

/* Sends req to the kernel and returns its answer: 0 or a negative errno. */
static int nl_talk(struct nl_req *req)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	char reply[1024];
	struct nlmsghdr *nh = (struct nlmsghdr *)reply;
	ssize_t n;
	int fd, err;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (sendto(fd, req, req->nh.nlmsg_len, 0, (struct sockaddr *)&kernel,
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

/* ip link add <host> type veth peer name <pod> netns <pod_ns> */
static int veth_create(const char *host, const char *pod, int pod_ns)
{
	struct ifinfomsg peer_ifi = { .ifi_family = AF_UNSPEC };
	struct rtattr *linkinfo, *data, *peer;
	__u32 ns_fd = (__u32)pod_ns;
	struct nl_req req;

	nl_begin(&req, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(req.ifi));
	req.ifi.ifi_family = AF_UNSPEC;
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
	return nl_talk(&req);
}

/* ip addr add <ip>/<prefixlen> dev <ifindex>, in the current namespace */
static int addr_add(int ifindex, uint32_t ip, uint8_t prefixlen)
{
	struct nl_req req;

	nl_begin(&req, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, sizeof(req.ifa));
	req.ifa = (struct ifaddrmsg){
		.ifa_family = AF_INET,
		.ifa_prefixlen = prefixlen,
		.ifa_index = (__u32)ifindex,
	};
	if (!nl_put(&req, IFA_LOCAL, &ip, sizeof(ip)) ||
	    !nl_put(&req, IFA_ADDRESS, &ip, sizeof(ip)))
		return -ENOSPC;
	return nl_talk(&req);
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

/* Writes value to the sysctl file at path, of the current namespace. */
static int sysctl_write(const char *path, const char *value)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	fputs(value, f);
	return fclose(f) ? -errno : 0;
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
	int err;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		err = sysctl_write(paths[i], "1\n");
		if (err && err != -ENOENT)
			return err;
	}
	return 0;
}

static int wire_attach(int prog_fd, int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, tc, .prog_fd = prog_fd, .handle = 1, .priority = 1);
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
		err = wire_attach(h->prog_fd, w->host_ifindex[i]);
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

/* Packets counted in direction dir, or in both for BH_ANY_DIR. */
#define BH_ANY_DIR EW_DIR_MAX

static __u64 packets_counted(const struct bh_counters *c, __u32 dir)
{
	__u64 sum = 0;
	__u32 r, d;

	for (r = 0; r < EW_REASON_MAX; r++)
		for (d = 0; d < EW_DIR_MAX; d++)
			if (dir == BH_ANY_DIR || d == dir)
				sum += c->m[ew_metrics_index(r, d)].packets;
	return sum;
}

/* Waits up to a second for a counter of dir to move past before. */
static int wait_counted(struct bh *h, const struct bh_counters *before, __u32 dir,
			const char *who)
{
	struct timespec pause = { .tv_nsec = 1000 * 1000 };
	struct bh_counters now;
	int err, tries;

	for (tries = 0; tries < 1000; tries++) {
		err = bh_counters_read(h, &now);
		if (err)
			return err;
		if (packets_counted(&now, dir) > packets_counted(before, dir))
			return 0;
		nanosleep(&pause, NULL);
	}
	fprintf(stderr, "%s: the program did not count the frame within 1 s\n", who);
	return -ETIMEDOUT;
}

int bh_wire_send(struct bh *h, struct bh_wire *w, int pod, const void *data,
		 size_t len)
{
	struct bh_counters before;
	int err;

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
	return wait_counted(h, &before, EW_DIR_EGRESS, "bh_wire_send");
}

/* A TCP segment's checksum as a sending stack leaves it for offload: the
 * pseudo header's sum, folded, not complemented. */
static void tcp_checksum_for_offload(uint8_t *frame, size_t len)
{
	struct iphdr *iph = (struct iphdr *)(frame + ETH_HLEN);
	size_t l4 = ETH_HLEN + (size_t)iph->ihl * 4;
	struct tcphdr *th = (struct tcphdr *)(frame + l4);

	th->check = (uint16_t)~pkt_csum(&iph->saddr, 8, IPPROTO_TCP + (uint32_t)(len - l4));
}

int bh_wire_send_tcp_gso(struct bh *h, struct bh_wire *w, int pod, const void *data,
			 size_t len, uint16_t mss)
{
	static uint8_t frame[65536];
	const struct iphdr *iph = (const struct iphdr *)((const uint8_t *)data + ETH_HLEN);
	struct virtio_net_hdr vnet = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
		.gso_size = mss,
		.csum_offset = offsetof(struct tcphdr, check),
	};
	struct iovec iov[2] = {
		{ .iov_base = &vnet, .iov_len = sizeof(vnet) },
		{ .iov_base = frame, .iov_len = len },
	};
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
	struct bh_counters before;
	const struct tcphdr *th;
	int on = 1, fd = -1, err;
	size_t l4;

	if (pod < 0 || pod >= BH_WIRE_PODS || len > sizeof(frame) ||
	    len < ETH_HLEN + sizeof(*iph) || iph->protocol != IPPROTO_TCP)
		return -EINVAL;
	l4 = ETH_HLEN + (size_t)iph->ihl * 4;
	th = (const struct tcphdr *)((const uint8_t *)data + l4);
	if (len < l4 + sizeof(*th))
		return -EINVAL;
	vnet.csum_start = (uint16_t)l4;
	vnet.hdr_len = (uint16_t)(l4 + (size_t)th->doff * 4);
	memcpy(frame, data, len);
	tcp_checksum_for_offload(frame, len);

	/* a socket of its own: the vnet header changes what recv returns too */
	if (setns(w->pods_ns, CLONE_NEWNET))
		return -errno;
	fd = wire_socket(w->pod_ifindex[pod]);
	err = fd < 0 ? fd : 0;
	if (!err && setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &on, sizeof(on)))
		err = -errno;
	if (setns(w->host_ns, CLONE_NEWNET) && !err)
		err = -errno;
	if (!err)
		err = bh_counters_read(h, &before);
	if (!err && sendmsg(fd, &msg, 0) != (ssize_t)(sizeof(vnet) + len))
		err = -errno;
	if (fd >= 0)
		close(fd);
	if (err) {
		fprintf(stderr, "bh_wire_send_tcp_gso: cannot send %zu bytes in %u-byte "
			"segments out of ewp%d: %s\n", len, mss, pod, strerror(-err));
		return err;
	}
	return wait_counted(h, &before, EW_DIR_EGRESS, "bh_wire_send_tcp_gso");
}

/* The next frame fd receives that it did not send itself (and, with
 * skip_arp, that is no ARP): its length, 0 on timeout or a negative errno. */
static int sock_recv(int fd, void *buf, size_t size, int timeout_ms, bool skip_arp)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct sockaddr_ll from;
	socklen_t fromlen;
	ssize_t n;
	int ready;

	for (;;) {
		ready = poll(&pfd, 1, timeout_ms);
		if (ready < 0)
			return -errno;
		if (!ready)
			return 0;
		fromlen = sizeof(from);
		n = recvfrom(fd, buf, size, 0, (struct sockaddr *)&from, &fromlen);
		if (n < 0)
			return -errno;
		/* a packet socket also sees what it sent itself */
		if (from.sll_pkttype == PACKET_OUTGOING)
			continue;
		if (skip_arp && from.sll_protocol == htons(ETH_P_ARP))
			continue;
		return (int)n;
	}
}

int bh_wire_recv(struct bh_wire *w, int pod, void *buf, size_t size,
		 int timeout_ms)
{
	if (pod < 0 || pod >= BH_WIRE_PODS)
		return -EINVAL;
	return sock_recv(w->sock[pod], buf, size, timeout_ms, false);
}

/* --- the underlay: the other node at the far end of a veth -------------------- */

static int hwaddr_get(const char *name, uint8_t mac[6])
{
	struct ifreq ifr = { 0 };
	int fd, err = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		err = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	return err;
}

static int ethtool_set(const char *name, __u32 cmd, __u32 value)
{
	struct ethtool_value ev = { .cmd = cmd, .data = value };
	struct ifreq ifr = { 0 };
	int fd, err = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_data = (void *)&ev;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* One end of the underlay in the current namespace: up, addressed, MAC read. */
static int underlay_end(const char *name, uint32_t ip, int *ifindex, uint8_t mac[6])
{
	int err = link_up(name);

	if (err)
		return err;
	*ifindex = (int)if_nametoindex(name);
	if (!*ifindex)
		return -errno;
	err = addr_add(*ifindex, ip, BH_UNDERLAY_PREFIXLEN);
	return err ? err : hwaddr_get(name, mac);
}

/* The other node's end, inside its namespace, with a packet socket on it. */
static int underlay_peer_end(struct bh_wire *w, struct bh_underlay *u, uint32_t peer_ip)
{
	int err;

	if (setns(u->peer_ns, CLONE_NEWNET))
		return -errno;
	err = underlay_end("ewu1", peer_ip, &u->peer_ifindex, u->peer_mac);
	if (!err) {
		u->sock = wire_socket(u->peer_ifindex);
		if (u->sock < 0)
			err = u->sock;
	}
	if (setns(w->host_ns, CLONE_NEWNET) && !err)
		err = -errno;
	return err;
}

int bh_underlay_open(struct bh *h, struct bh_wire *w, struct bh_underlay *u,
		     uint32_t node_ip, uint32_t peer_ip)
{
	const char *step;
	int err;

	memset(u, 0, sizeof(*u));
	u->peer_ns = u->sock = -1;
	step = "creating the other node's network namespace";
	err = netns_new(&u->peer_ns);
	if (setns(w->host_ns, CLONE_NEWNET) && !err)
		err = -errno;
	if (err)
		goto fail;
	step = "creating the underlay veth pair";
	err = veth_create("ewu0", "ewu1", u->peer_ns);
	if (err)
		goto fail;
	step = "bringing up and addressing ewu0";
	err = underlay_end("ewu0", node_ip, &u->ifindex, u->mac);
	if (err)
		goto fail;
	step = "attaching from_underlay at TC ingress of ewu0";
	err = wire_attach(h->underlay_prog_fd, u->ifindex);
	if (err)
		goto fail;
	step = "setting up the other node's end";
	err = underlay_peer_end(w, u, peer_ip);
	if (err)
		goto fail;
	return 0;

fail:
	fprintf(stderr, "bh_underlay_open: %s failed: %s\n", step, strerror(-err));
	bh_underlay_close(u);
	return err;
}

void bh_underlay_close(struct bh_underlay *u)
{
	if (u->sock >= 0)
		close(u->sock);
	if (u->peer_ns >= 0)
		close(u->peer_ns);
	u->sock = u->peer_ns = -1;
}

int bh_underlay_no_offload(struct bh_underlay *u)
{
	int err;

	/* without checksum offload the kernel turns TSO off as well */
	err = ethtool_set("ewu0", ETHTOOL_STXCSUM, 0);
	if (!err)
		err = ethtool_set("ewu0", ETHTOOL_STSO, 0);
	if (err)
		fprintf(stderr, "bh_underlay_no_offload: cannot turn offloads of ewu0 off: %s\n",
			strerror(-err));
	return err;
}

int bh_underlay_send(struct bh *h, struct bh_underlay *u, const void *data, size_t len)
{
	struct bh_counters before;
	int err;

	err = bh_counters_read(h, &before);
	if (err)
		return err;
	if (send(u->sock, data, len, 0) != (ssize_t)len) {
		err = -errno;
		fprintf(stderr, "bh_underlay_send: cannot send %zu bytes out of ewu1: %s\n",
			len, strerror(-err));
		return err;
	}
	return wait_counted(h, &before, BH_ANY_DIR, "bh_underlay_send");
}

int bh_underlay_recv(struct bh_underlay *u, void *buf, size_t size, int timeout_ms)
{
	return sock_recv(u->sock, buf, size, timeout_ms, true);
}

/* A case of a switch on a named constant, answering its name. */
#define BH_CASE_NAME(v)                                                        \
	case v:                                                                \
		return #v

const char *bh_verdict_name(int retval)
{
	switch (retval) {
		BH_CASE_NAME(TC_ACT_UNSPEC);
		BH_CASE_NAME(TC_ACT_OK);
		BH_CASE_NAME(TC_ACT_RECLASSIFY);
		BH_CASE_NAME(TC_ACT_SHOT);
		BH_CASE_NAME(TC_ACT_PIPE);
		BH_CASE_NAME(TC_ACT_STOLEN);
		BH_CASE_NAME(TC_ACT_QUEUED);
		BH_CASE_NAME(TC_ACT_REPEAT);
		BH_CASE_NAME(TC_ACT_REDIRECT);
	default:
		return "TC_ACT_?";
	}
}

const char *bh_xdp_verdict_name(int retval)
{
	switch (retval) {
		BH_CASE_NAME(XDP_ABORTED);
		BH_CASE_NAME(XDP_DROP);
		BH_CASE_NAME(XDP_PASS);
		BH_CASE_NAME(XDP_TX);
		BH_CASE_NAME(XDP_REDIRECT);
	default:
		return "XDP_?";
	}
}

const char *bh_prog_verdict_name(enum bh_prog prog, int retval)
{
	return prog == BH_FROM_NETDEV ? bh_xdp_verdict_name(retval) : bh_verdict_name(retval);
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
