// SPDX-License-Identifier: Apache-2.0
#include "datapath.h"

#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <linux/magic.h>
#include <netinet/in.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <edgewire/abi.h>

#include "bpf_lxc.skel.h"
#include "bpf_overlay.skel.h"
#include "bpf_xdp.skel.h"
#include "fs.h"
#include "lb_apply.h"
#include "log.h"

/* Debian 12's UAPI headers predate tcx (Linux 6.6). */
#define EW_BPF_TCX_INGRESS 46
#define EW_BPF_TCX_EGRESS  47

struct ew_datapath {
	char *root;
	struct bpf_lxc *lxc;
	struct bpf_overlay *overlay;
	struct bpf_xdp *xdp;
	bool tcx;
};

static int check_bpffs(const char *root)
{
	struct statfs st;
	char maps[PATH_MAX];

	snprintf(maps, sizeof(maps), "%s/maps", root);
	if (ew_mkdir_p(maps)) {
		ew_error("datapath", "cannot create %s: %s", maps, strerror(errno));
		return -1;
	}
	if (statfs(root, &st) || st.f_type != BPF_FS_MAGIC) {
		ew_error("datapath", "%s is not on a bpf filesystem; mount one with "
			 "'mount -t bpf bpf /sys/fs/bpf' or pass --bpffs", root);
		return -1;
	}
	return 0;
}

/* Fails when a feature the datapath cannot work without is missing. */
static int probe_kernel(bool *redirect_peer)
{
	static const struct {
		enum bpf_map_type type;
		const char *name;
	} maps[] = {
		{ BPF_MAP_TYPE_HASH, "hash maps" },
		{ BPF_MAP_TYPE_LPM_TRIE, "LPM trie maps (Linux 4.11)" },
		{ BPF_MAP_TYPE_PERCPU_ARRAY, "per-CPU array maps (Linux 4.6)" },
	};
	if (libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SCHED_CLS, NULL) != 1) {
		ew_error("datapath", "kernel lacks BPF TC programs (sched_cls); "
			 "edgewire needs Linux 5.15 or newer with CONFIG_NET_CLS_BPF");
		return -1;
	}
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		if (libbpf_probe_bpf_map_type(maps[i].type, NULL) != 1) {
			ew_error("datapath", "kernel lacks BPF %s", maps[i].name);
			return -1;
		}
	}
	*redirect_peer = libbpf_probe_bpf_helper(BPF_PROG_TYPE_SCHED_CLS,
						 BPF_FUNC_redirect_peer, NULL) == 1;
	if (!*redirect_peer)
		ew_warn("datapath", "kernel lacks bpf_redirect_peer (Linux 5.10); "
			"pod-to-pod traffic will use bpf_redirect, which is slower");
	return 0;
}

/* A tcx attach of a loaded TC program to no interface fails with ENODEV
 * where tcx exists (Linux 6.6) and EINVAL where it does not; it changes
 * nothing either way. */
static bool probe_tcx(int prog_fd)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts);
	int fd = bpf_link_create(prog_fd, 0, EW_BPF_TCX_INGRESS, &opts);

	if (fd >= 0)
		close(fd);
	return fd == -ENODEV;
}

static int pin_program(struct ew_datapath *dp, struct bpf_program *prog)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/progs", dp->root);
	ew_mkdir_p(path);
	snprintf(path, sizeof(path), "%s/progs/%s", dp->root, bpf_program__name(prog));
	unlink(path);
	if (bpf_program__pin(prog, path)) {
		ew_error("datapath", "cannot pin program at %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Both objects name their maps alike; with one pin root they share them. */
static int load_programs(struct ew_datapath *dp, bool redirect_peer)
{
	char maps[PATH_MAX];
	int err;

	snprintf(maps, sizeof(maps), "%s/maps", dp->root);
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = maps);
	dp->lxc = bpf_lxc__open_opts(&opts);
	dp->overlay = bpf_overlay__open_opts(&opts);
	dp->xdp = bpf_xdp__open_opts(&opts);
	if (!dp->lxc || !dp->overlay || !dp->xdp) {
		ew_error("datapath", "cannot open the BPF programs: %s", strerror(errno));
		return -1;
	}
	dp->lxc->rodata->redirect_peer_unavailable = !redirect_peer;
	dp->overlay->rodata->redirect_peer_unavailable = !redirect_peer;
	err = bpf_lxc__load(dp->lxc);
	if (!err)
		err = bpf_overlay__load(dp->overlay);
	if (!err)
		err = bpf_xdp__load(dp->xdp);
	if (err) {
		ew_error("datapath", "cannot load the BPF programs: %s; if the pins "
			 "under %s come from an edgewire of another version, remove "
			 "them and restart", strerror(-err), maps);
		return -1;
	}
	return pin_program(dp, dp->lxc->progs.from_container) ||
	       pin_program(dp, dp->lxc->progs.to_container) ||
	       pin_program(dp, dp->overlay->progs.from_underlay) ||
	       pin_program(dp, dp->overlay->progs.from_host) ||
	       pin_program(dp, dp->xdp->progs.from_netdev);
}

struct ew_datapath *ew_datapath_open(const char *bpffs, enum ew_tc_attach attach)
{
	struct ew_datapath *dp = calloc(1, sizeof(*dp));
	bool redirect_peer;

	if (!dp || !(dp->root = strdup(bpffs)))
		goto fail;
	if (check_bpffs(dp->root) || probe_kernel(&redirect_peer))
		goto fail;
	if (load_programs(dp, redirect_peer))
		goto fail;
	dp->tcx = attach != EW_TC_ATTACH_CLSACT &&
		  probe_tcx(bpf_program__fd(dp->lxc->progs.from_container));
	if (!dp->tcx && attach == EW_TC_ATTACH_TCX) {
		ew_error("datapath", "kernel lacks tcx links (Linux 6.6) and "
			 "--tc-attach tcx was asked for; use auto or clsact");
		goto fail;
	}
	if (!dp->tcx && attach == EW_TC_ATTACH_AUTO)
		ew_info("datapath", "kernel lacks tcx links (Linux 6.6); attaching "
			"with clsact");
	ew_info("datapath", "loaded under %s; attach=%s redirect=%s", dp->root,
		dp->tcx ? "tcx" : "clsact",
		redirect_peer ? "redirect_peer" : "redirect");
	return dp;
fail:
	ew_datapath_close(dp);
	return NULL;
}

void ew_datapath_close(struct ew_datapath *dp)
{
	if (!dp)
		return;
	bpf_lxc__destroy(dp->lxc);
	bpf_overlay__destroy(dp->overlay);
	bpf_xdp__destroy(dp->xdp);
	free(dp->root);
	free(dp);
}

/* bpffs refuses names with a dot, which interface names (VLANs: eth0.100)
 * may have; they never have a colon, so dots become colons. */
static void link_pin_path(struct ew_datapath *dp, const char *name, char *buf,
			  size_t len)
{
	int n = snprintf(buf, len, "%s/links/", dp->root);

	for (char *c = buf + n, *end = buf + len - 1; *name && c < end; c++, name++) {
		*c = *name == '.' ? ':' : *name;
		c[1] = '\0';
	}
}

/* A pinned link keeps the program attached without the agent. An existing
 * pin is updated in place, which swaps programs without a gap; a pin whose
 * interface is gone fails the update and is replaced. */
static int attach_link(struct ew_datapath *dp, const char *pin, int ifindex,
		       int prog_fd, enum bpf_attach_type type)
{
	char path[PATH_MAX];
	int fd = -1, err = 0;

	snprintf(path, sizeof(path), "%s/links", dp->root);
	ew_mkdir_p(path);
	link_pin_path(dp, pin, path, sizeof(path));
	fd = bpf_obj_get(path);
	if (fd >= 0 && !bpf_link_update(fd, prog_fd, NULL))
		goto out;
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
	fd = bpf_link_create(prog_fd, ifindex, type, NULL);
	if (fd < 0) {
		err = fd;
		goto out;
	}
	if (bpf_obj_pin(fd, path))
		err = -errno;
out:
	if (fd >= 0)
		close(fd);
	return err;
}

static int attach_clsact(int ifindex, int prog_fd, bool egress)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = 1,
		    .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE);
	int err = bpf_tc_hook_create(&hook);

	if (err && err != -EEXIST)
		return err;
	return bpf_tc_attach(&hook, &opts);
}

/* The pin of an interface's TC egress link: links/<ifname>:egress. */
static void egress_pin(const char *ifname, char *buf, size_t len)
{
	snprintf(buf, len, "%s:egress", ifname);
}

static int attach_program(struct ew_datapath *dp, struct bpf_program *prog,
			  const char *ifname, int ifindex, bool egress)
{
	int prog_fd = bpf_program__fd(prog);
	char pin[IF_NAMESIZE + 8];
	int err;

	egress_pin(ifname, pin, sizeof(pin));
	if (dp->tcx)
		err = attach_link(dp, egress ? pin : ifname, ifindex, prog_fd,
				  egress ? EW_BPF_TCX_EGRESS : EW_BPF_TCX_INGRESS);
	else
		err = attach_clsact(ifindex, prog_fd, egress);
	if (err)
		ew_error("datapath", "cannot attach %s to %s (ifindex %d) with %s: %s",
			 bpf_program__name(prog), ifname, ifindex,
			 dp->tcx ? "tcx" : "clsact", strerror(-err));
	return err;
}

int ew_datapath_attach(struct ew_datapath *dp, const char *ifname, int ifindex)
{
	return attach_program(dp, dp->lxc->progs.from_container, ifname, ifindex, false) ||
	       attach_program(dp, dp->lxc->progs.to_container, ifname, ifindex, true);
}

static void unpin_link(struct ew_datapath *dp, const char *pin);

int ew_datapath_nodeport(struct ew_datapath *dp, const struct ew_underlay *u, bool on)
{
	char pin[IF_NAMESIZE + 8];
	int err;

	snprintf(pin, sizeof(pin), "xdp:%s", u->ifname);
	if (!on) {
		unpin_link(dp, pin);
		return 0;
	}
	err = attach_link(dp, pin, u->ifindex, bpf_program__fd(dp->xdp->progs.from_netdev),
			  BPF_XDP);
	if (err)
		ew_warn("datapath", "cannot attach the NodePort program to %s with "
			"XDP: %s; NodePorts are not reachable from outside the "
			"cluster", u->ifname, strerror(-err));
	else
		ew_info("datapath", "NodePort program attached to %s (XDP)", u->ifname);
	return err;
}

int ew_datapath_attach_underlay(struct ew_datapath *dp, const struct ew_underlay *u)
{
	int err = attach_program(dp, dp->overlay->progs.from_underlay, u->ifname,
				 u->ifindex, false) ||
		  attach_program(dp, dp->overlay->progs.from_host, u->ifname, u->ifindex,
				 true);

	if (err)
		return err;
	ew_info("datapath", "overlay on %s (ifindex %d, mtu %d)", u->ifname,
		u->ifindex, u->mtu);
	return 0;
}

static void unpin_link(struct ew_datapath *dp, const char *pin)
{
	char path[PATH_MAX];

	link_pin_path(dp, pin, path, sizeof(path));
	if (unlink(path) && errno != ENOENT)
		ew_warn("datapath", "cannot remove %s: %s", path, strerror(errno));
}

void ew_datapath_detach(struct ew_datapath *dp, const char *ifname)
{
	char pin[IF_NAMESIZE + 8];

	egress_pin(ifname, pin, sizeof(pin));
	unpin_link(dp, ifname);
	unpin_link(dp, pin);
}

/* Reads an interface's MAC and, when mtu is not NULL, its MTU. */
static int interface_facts(int sock, const char *ifname, uint8_t mac[6], int *mtu)
{
	struct ifreq ifr = { 0 };

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(sock, SIOCGIFHWADDR, &ifr))
		return -1;
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	if (mtu && ioctl(sock, SIOCGIFMTU, &ifr))
		return -1;
	if (mtu)
		*mtu = ifr.ifr_mtu;
	return 0;
}

void ew_datapath_resolve(struct ew_attachments *a)
{
	int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	for (size_t i = 0; i < a->n; i++) {
		struct ew_attachment *at = &a->items[i];

		at->ifindex = if_nametoindex(at->ifname);
		if (sock < 0 || interface_facts(sock, at->ifname, at->node_mac, NULL))
			at->ifindex = 0;
	}
	if (sock >= 0)
		close(sock);
}

int ew_datapath_find_underlay(uint32_t ip, struct ew_underlay *u)
{
	struct ifaddrs *addrs, *ifa;
	int sock, err = -1;

	if (getifaddrs(&addrs))
		return -1;
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	for (ifa = addrs; ifa && err; ifa = ifa->ifa_next) {
		const struct sockaddr_in *sin = (const void *)ifa->ifa_addr;

		if (!sin || sin->sin_family != AF_INET || sin->sin_addr.s_addr != ip)
			continue;
		*u = (struct ew_underlay){ .ifindex = if_nametoindex(ifa->ifa_name) };
		snprintf(u->ifname, sizeof(u->ifname), "%s", ifa->ifa_name);
		if (u->ifindex && sock >= 0)
			err = interface_facts(sock, u->ifname, u->mac, &u->mtu);
	}
	if (sock >= 0)
		close(sock);
	freeifaddrs(addrs);
	return err;
}

static void write_config(struct ew_datapath *dp, struct ew_config cfg)
{
	struct timespec now;
	__u32 zero = 0;

	clock_gettime(CLOCK_REALTIME, &now);
	cfg.abi_version = EW_ABI_VERSION;
	cfg.programmed_ns = now.tv_sec * 1000000000ull + now.tv_nsec;
	if (bpf_map_update_elem(bpf_map__fd(dp->lxc->maps.ew_config), &zero, &cfg, BPF_ANY))
		ew_error("datapath", "cannot write ew_config: %s", strerror(errno));
}

static struct ew_map_ref map_ref(const struct bpf_map *map)
{
	return (struct ew_map_ref){ .fd = bpf_map__fd(map), .name = bpf_map__name(map),
				    .max_entries = bpf_map__max_entries(map) };
}

static int apply_services(struct ew_datapath *dp, const struct ew_lb_desired *lb,
			  struct ew_apply_result *res)
{
	struct ew_lb_maps maps = {
		.frontends = map_ref(dp->lxc->maps.ew_lb_frontends),
		.backends = map_ref(dp->lxc->maps.ew_lb_backends),
		.tables = map_ref(dp->lxc->maps.ew_lb_tables),
		.maglev = map_ref(dp->lxc->maps.ew_lb_maglev),
	};

	return ew_lb_apply(&maps, lb, res);
}

/* The subjects (identities) some policy entry of could not be written. */
#define MAX_FAILED_SUBJECTS 64

struct failed_subjects {
	size_t n;
	bool all;   /* more than could be listed: every isolated pod */
	bool error; /* an error no entry can be told from: every isolated pod */
	uint32_t ids[MAX_FAILED_SUBJECTS];
};

static bool subject_failed(const struct failed_subjects *f, uint32_t identity)
{
	if (f->all || f->error)
		return true;
	for (size_t i = 0; i < f->n; i++)
		if (f->ids[i] == identity)
			return true;
	return false;
}

static void note_failed_subject(struct failed_subjects *f, uint32_t subject)
{
	if (subject_failed(f, subject))
		return;
	if (f->n == MAX_FAILED_SUBJECTS)
		f->all = true;
	else
		f->ids[f->n++] = subject;
}

/*
 * Writes policy entries; those that do not fit go to full, their subjects to
 * failed. Another error cannot be tied to its entry: every isolated pod
 * fails closed then.
 */
static void apply_policy_upserts(const struct ew_map_ref *m, const struct ew_map_state *ups,
				 struct ew_map_state *full, struct failed_subjects *failed,
				 struct ew_apply_result *res)
{
	size_t before = res->failures;

	ew_map_upsert(m, ups, full, res);
	if (res->failures != before)
		failed->error = true;
	for (size_t i = 0; i < full->n; i++) {
		const struct ew_policy_key *key = ew_map_state_key(full, i);

		note_failed_subject(failed, key->subject);
	}
}

/* The entries that found the map full, once the apply's deletes made room;
 * what still does not fit is an error, once for all of them, and failed
 * holds its subjects alone. */
static void retry_policy_upserts(const struct ew_map_ref *m, const struct ew_map_state *full,
				 struct failed_subjects *failed, struct ew_apply_result *res)
{
	struct ew_map_state still;

	ew_map_state_init(&still, full->key_size, full->value_size);
	*failed = (struct failed_subjects){ .error = failed->error };
	apply_policy_upserts(m, full, &still, failed, res);
	if (still.n)
		ew_error("datapath", "map %s is full (%u entries): %zu policy entries not "
			 "programmed", m->name, m->max_entries, still.n);
	res->failures += still.n;
	ew_map_state_free(&still);
}

/* Isolated pods whose policy is incomplete fail closed: EW_EP_POLICY_FAILED
 * until an apply writes all of it; each such identity is logged with log. */
static int endpoints_failing_closed(const struct ew_map_state *endpoints,
				    const struct failed_subjects *failed, bool log,
				    struct ew_map_state *out)
{
	ew_map_state_init(out, endpoints->key_size, endpoints->value_size);
	for (size_t i = 0; i < endpoints->n; i++) {
		struct ew_endpoint ep = *(const struct ew_endpoint *)ew_map_state_value(endpoints, i);

		if ((ep.flags & (EW_EP_INGRESS_ISOLATED | EW_EP_EGRESS_ISOLATED)) &&
		    subject_failed(failed, ep.identity)) {
			ep.flags |= EW_EP_POLICY_FAILED;
			if (log)
				ew_error("datapath", "policy of identity %u is incomplete: "
					 "its pods fail closed until there is room", ep.identity);
		}
		if (ew_map_state_put(out, ew_map_state_key(endpoints, i), &ep))
			return -1;
	}
	return ew_map_state_seal(out);
}

/* The endpoints again, once the retried policy entries decided which pods
 * still fail closed: those whose policy is whole now are let go. */
static int reisolate_endpoints(const struct ew_map_ref *m, const struct ew_map_state *endpoints,
			       const struct failed_subjects *failed, struct ew_apply_result *res)
{
	struct ew_map_plan plan = { 0 };
	struct ew_map_state eps;
	int err = endpoints_failing_closed(endpoints, failed, true, &eps) ||
		  ew_map_plan(&plan, m, &eps);

	if (!err)
		ew_map_upsert(m, &plan.upserts, NULL, res);
	ew_map_plan_free(&plan);
	ew_map_state_free(&eps);
	return err;
}

/*
 * Order: nodes and routes; policy entries, then the ipcache that gives
 * addresses their (maybe new) identities, then the endpoints whose identity
 * and isolation need both: an entry no address has the identity of yet
 * allows nothing, so no new connection is wrongly denied or allowed while
 * the apply runs. Then services; then everything that goes away,
 * endpoints (and their isolation) before the policy entries they used.
 * The names of identities, rules and endpoints (for bpfctl) come before
 * the entries that hold their numbers or addresses and go after them.
 */
int ew_datapath_apply(struct ew_datapath *dp, const struct ew_desired *d,
		      struct ew_config cfg, struct ew_apply_result *res)
{
	struct ew_map_plan nodes = { 0 }, routes = { 0 }, endpoints = { 0 };
	struct ew_map_plan ipcache = { 0 }, policy = { 0 }, ids = { 0 }, rules = { 0 };
	struct ew_map_plan names = { 0 };
	struct ew_map_ref nodes_map = map_ref(dp->lxc->maps.ew_nodes);
	struct ew_map_ref routes_map = map_ref(dp->lxc->maps.ew_routes);
	struct ew_map_ref endpoints_map = map_ref(dp->lxc->maps.ew_endpoints);
	struct ew_map_ref ipcache_map = map_ref(dp->lxc->maps.ew_ipcache);
	struct ew_map_ref policy_map = map_ref(dp->lxc->maps.ew_policy);
	struct ew_map_ref ids_map = map_ref(dp->lxc->maps.ew_identities);
	struct ew_map_ref rules_map = map_ref(dp->lxc->maps.ew_policy_rules);
	struct ew_map_ref names_map = map_ref(dp->lxc->maps.ew_endpoint_names);
	struct failed_subjects failed = { 0 };
	struct ew_map_state eps = { 0 }, policy_full;
	int err;

	*res = (struct ew_apply_result){ 0 };
	ew_map_state_init(&policy_full, sizeof(struct ew_policy_key),
			  sizeof(struct ew_policy_entry));
	err = ew_map_plan(&nodes, &nodes_map, &d->nodes) ||
	      ew_map_plan(&routes, &routes_map, &d->routes) ||
	      ew_map_plan(&ipcache, &ipcache_map, &d->policy.ipcache) ||
	      ew_map_plan(&policy, &policy_map, &d->policy.policy) ||
	      ew_map_plan(&ids, &ids_map, &d->policy.identities) ||
	      ew_map_plan(&rules, &rules_map, &d->policy.rules) ||
	      ew_map_plan(&names, &names_map, &d->endpoint_names);
	if (!err) {
		write_config(dp, cfg);
		ew_map_upsert(&ids_map, &ids.upserts, &ids.retry, res);
		ew_map_upsert(&rules_map, &rules.upserts, &rules.retry, res);
		ew_map_upsert(&names_map, &names.upserts, &names.retry, res);
		ew_map_upsert(&nodes_map, &nodes.upserts, &nodes.retry, res);
		ew_map_upsert(&routes_map, &routes.upserts, &routes.retry, res);
		apply_policy_upserts(&policy_map, &policy.upserts, &policy_full, &failed, res);
		ew_map_upsert(&ipcache_map, &ipcache.upserts, &ipcache.retry, res);
		/* with entries to retry, the pods are logged once that is done */
		err = endpoints_failing_closed(&d->endpoints, &failed, !policy_full.n, &eps) ||
		      ew_map_plan(&endpoints, &endpoints_map, &eps);
	}
	if (!err) {
		ew_map_upsert(&endpoints_map, &endpoints.upserts, &endpoints.retry, res);
		apply_services(dp, &d->lb, res);
		ew_map_delete(&endpoints_map, &endpoints.deletes, res);
		ew_map_delete(&policy_map, &policy.deletes, res);
		ew_map_delete(&ipcache_map, &ipcache.deletes, res);
		ew_map_delete(&routes_map, &routes.deletes, res);
		ew_map_delete(&nodes_map, &nodes.deletes, res);
		ew_map_delete(&rules_map, &rules.deletes, res);
		ew_map_delete(&ids_map, &ids.deletes, res);
		ew_map_delete(&names_map, &names.deletes, res);
		/* A map full of entries that were going away has room now. */
		ew_map_upsert(&nodes_map, &nodes.retry, NULL, res);
		ew_map_upsert(&routes_map, &routes.retry, NULL, res);
		ew_map_upsert(&ipcache_map, &ipcache.retry, NULL, res);
		ew_map_upsert(&endpoints_map, &endpoints.retry, NULL, res);
		ew_map_upsert(&ids_map, &ids.retry, NULL, res);
		ew_map_upsert(&rules_map, &rules.retry, NULL, res);
		ew_map_upsert(&names_map, &names.retry, NULL, res);
		if (policy_full.n) {
			retry_policy_upserts(&policy_map, &policy_full, &failed, res);
			err = reisolate_endpoints(&endpoints_map, &d->endpoints, &failed, res);
		}
	}
	ew_map_state_free(&policy_full);
	ew_map_state_free(&eps);
	ew_map_plan_free(&nodes);
	ew_map_plan_free(&routes);
	ew_map_plan_free(&ipcache);
	ew_map_plan_free(&policy);
	ew_map_plan_free(&ids);
	ew_map_plan_free(&rules);
	ew_map_plan_free(&names);
	ew_map_plan_free(&endpoints);
	return err || res->failures ? -1 : 0;
}

size_t ew_datapath_endpoint_count(struct ew_datapath *dp)
{
	struct ew_endpoint_key key, next;
	int fd = bpf_map__fd(dp->lxc->maps.ew_endpoints);
	size_t n = 0;

	for (void *prev = NULL; !bpf_map_get_next_key(fd, prev, &next); prev = &key) {
		key = next;
		n++;
	}
	return n;
}

int ew_datapath_map_fd(struct ew_datapath *dp, const char *name,
		       uint32_t *max_entries)
{
	struct bpf_map *map = bpf_object__find_map_by_name(dp->lxc->obj, name);

	if (!map)
		map = bpf_object__find_map_by_name(dp->overlay->obj, name);
	if (!map)
		map = bpf_object__find_map_by_name(dp->xdp->obj, name);
	if (!map || bpf_map__fd(map) < 0)
		return -1;
	if (max_entries)
		*max_entries = bpf_map__max_entries(map);
	return bpf_map__fd(map);
}

bool ew_datapath_has_endpoint(struct ew_datapath *dp, uint32_t ip)
{
	struct ew_endpoint_key key = { .ip = ip };
	struct ew_endpoint ep;

	return !bpf_map_lookup_elem(bpf_map__fd(dp->lxc->maps.ew_endpoints), &key, &ep);
}
