// SPDX-License-Identifier: Apache-2.0
/* bpfctl monitor: drop events from the ring buffer, live, one line each. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpfctl.h"

/* A line about missed events after this much silence. */
#define MONITOR_SILENCE_NS (5 * NSEC_PER_SEC)
/* Longest wait in one poll, so a signal or deadline is noticed promptly. */
#define MONITOR_POLL_MS 200

static volatile sig_atomic_t monitor_stop;

static void monitor_on_signal(int sig)
{
	monitor_stop = 1;
}

struct monitor {
	const struct ctl *c;
	int stats_fd;
	__u64 start_ns;		      /* CLOCK_MONOTONIC; older events are backlog */
	__s64 wall_offset_ns;	      /* CLOCK_REALTIME - CLOCK_MONOTONIC */
	__u64 quiet_since_ns;	      /* last line printed, or last silence check */
	unsigned long shown;
	struct event_totals reported; /* counts up to the last "missed" line */
	struct identities ids;	      /* policy drops name both ends' */
};


/* The ABI leaves protocol and addresses 0 when the packet was not IPv4. */
static bool event_has_ipv4(const struct ew_event *e)
{
	return e->protocol || e->saddr || e->daddr;
}

static bool event_has_ports(const struct ew_event *e)
{
	return e->protocol == IPPROTO_TCP || e->protocol == IPPROTO_UDP;
}

/* Policy drops show the identities of both ends, looked up when shown. */
static bool event_has_identities(const struct ew_event *e)
{
	return event_has_ipv4(e) && (e->reason == EW_REASON_DROP_POLICY_DENIED ||
				     e->reason == EW_REASON_DROP_FRAGMENT ||
				     e->reason == EW_REASON_DROP_POLICY_FAILED);
}

static bool monitor_match(const struct ctl *c, const struct ew_event *e)
{
	const struct monitor_filter *f = &c->mon;
	bool ip_ok = !f->n_ips;

	if (f->reasons && (e->reason >= EW_REASON_MAX || !(f->reasons & (1ull << e->reason))))
		return false;
	if (c->proto >= 0 && e->protocol != c->proto)
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
	struct ew_identity_name a, b;
	__u32 sid, did;

	printf("%s drop %-16s %-7s %-15s %-4s %s -> %s len %u", when, reason,
	       dir_name(e->dir), ifname ? ifname : "-",
	       event_has_ipv4(e) ? proto_name(e->protocol, proto) : "-",
	       endpoint_str(e, e->saddr, e->sport, src),
	       endpoint_str(e, e->daddr, e->dport, dst), e->len);
	if (event_has_identities(e)) {
		sid = identity_of_addr(&m->ids, e->saddr).identity;
		did = identity_of_addr(&m->ids, e->daddr).identity;
		printf("  identity %u (%s) -> %u (%s)", sid,
		       identity_name(&m->ids, sid, &a), did,
		       identity_name(&m->ids, did, &b));
	}
	putchar('\n');
}

static void set_identity(json_t *o, const struct monitor *m, const char *key,
			 const char *name_key, const struct ew_event *e, __u32 addr)
{
	struct ew_identity_name buf;
	__u32 id;

	if (!event_has_identities(e)) {
		json_object_set_new(o, key, json_null());
		json_object_set_new(o, name_key, json_null());
		return;
	}
	id = identity_of_addr(&m->ids, addr).identity;
	json_object_set_new(o, key, json_integer(id));
	json_object_set_new(o, name_key, json_string(identity_name(&m->ids, id, &buf)));
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
	set_identity(o, m, "srcIdentity", "srcIdentityName", e, e->saddr);
	set_identity(o, m, "dstIdentity", "dstIdentityName", e, e->daddr);
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
	if (!monitor_match(m->c, e))
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

int cmd_monitor(const struct ctl *c)
{
	struct monitor m = { .c = c, .stats_fd = -1, .ids = { -1, -1 } };
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
	if (m.stats_fd < 0 || identities_open(c, &m.ids))
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
	identities_close(&m.ids);
	if (m.stats_fd >= 0)
		close(m.stats_fd);
	close(ring_fd);
	close(lock_fd);
	return ret;
}

