// SPDX-License-Identifier: Apache-2.0
/* bpfctl monitor: events from the ring buffer (drops, policy verdicts, HTTP
 * requests), live, one line each. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stddef.h>
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
	int stats_fd, rules_fd;
	__u64 start_ns;		      /* CLOCK_MONOTONIC; older events are backlog */
	__s64 wall_offset_ns;	      /* CLOCK_REALTIME - CLOCK_MONOTONIC */
	__u64 quiet_since_ns;	      /* last line printed, or last silence check */
	unsigned long shown;
	struct event_totals reported; /* counts up to the last "missed" line */
	/* Records of an unknown type or of another size than their type's,
	 * and how many of them were reported. */
	unsigned long unreadable, unreadable_reported;
	struct identities ids;	      /* events of policy name both ends' */
};

static const char *const event_kinds[] = {
	[EW_EVENT_DROP] = "drop",
	[EW_EVENT_POLICY] = "policy",
	[EW_EVENT_HTTP] = "http",
};

int event_kind_by_name(const char *name)
{
	for (size_t t = 0; t < ARRAY_SIZE(event_kinds); t++)
		if (event_kinds[t] && !strcmp(name, event_kinds[t]))
			return (int)t;
	return -1;
}

/* The size of a record of type, 0 for a type this bpfctl does not know. */
static size_t event_size(__u8 type)
{
	switch (type) {
	case EW_EVENT_DROP:
	case EW_EVENT_POLICY:
		return sizeof(struct ew_event);
	case EW_EVENT_HTTP:
		return sizeof(struct ew_http_event);
	default:
		return 0;
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

/* Events of policy show the identities of both ends, looked up when shown:
 * policy drops, policy verdicts and HTTP requests. */
static bool event_has_identities(const struct ew_event *e)
{
	return event_has_ipv4(e) &&
	       (e->type != EW_EVENT_DROP || reason_is_policy_drop(e->reason));
}

static bool monitor_match(const struct ctl *c, const struct ew_event *e)
{
	const struct monitor_filter *f = &c->mon;
	bool ip_ok = !f->n_ips;

	if (f->reasons && (e->reason >= EW_REASON_MAX || !(f->reasons & (1ull << e->reason))))
		return false;
	if (f->kinds && !(f->kinds & (1u << e->type)))
		return false;
	if (f->verdicts && !(f->verdicts & (1u << reason_verdict(e->reason))))
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

/* What the proxy wrote of a request line: NUL-terminated within its field,
 * and bytes that are not printable ASCII as '?', so that a request cannot
 * write control sequences to the terminal or invalid UTF-8 to JSON. */
static char *request_text(const char *field, size_t size, char *buf)
{
	size_t i;

	for (i = 0; i < size - 1 && field[i]; i++)
		buf[i] = field[i] >= 0x20 && field[i] < 0x7f ? field[i] : '?';
	buf[i] = '\0';
	return buf;
}

/* What the event is, as the line starts: "drop policy-denied", "policy
 * allowed", "http denied". */
static char *event_what(const struct ew_event *e, const char *reason, char buf[40])
{
	if (e->type == EW_EVENT_DROP)
		snprintf(buf, 40, "drop %s", reason);
	else
		snprintf(buf, 40, "%s %s", event_kinds[e->type],
			 verdict_name(reason_verdict(e->reason)));
	return buf;
}

/* One line: what, where, the packet's addresses; then the request and its
 * status as an access log has them, or the length; the identities and the
 * rule where policy judged it. */
static void monitor_print_text(const struct monitor *m, const struct ew_event *e,
			       const char *when, const char *reason,
			       const char *ifname)
{
	const struct ew_http_event *h = (const void *)e;
	char what[40], src[24], dst[24], proto[8];
	char method[EW_HTTP_METHOD_LEN], path[EW_HTTP_PATH_LEN];
	struct ew_policy_rule_name rule;
	struct ew_identity_name a, b;
	__u32 sid, did;

	printf("%s %-21s %-7s %-15s %-4s %s -> %s", when, event_what(e, reason, what),
	       dir_name(e->dir), ifname ? ifname : "-",
	       event_has_ipv4(e) ? proto_name(e->protocol, proto) : "-",
	       endpoint_str(e, e->saddr, e->sport, src),
	       endpoint_str(e, e->daddr, e->dport, dst));
	if (e->type == EW_EVENT_HTTP)
		printf("  \"%s %s\" %u", request_text(h->method, sizeof(h->method), method),
		       request_text(h->path, sizeof(h->path), path), h->status);
	else
		printf(" len %u", e->len);
	if (event_has_identities(e)) {
		sid = identity_of_addr(&m->ids, e->saddr).identity;
		did = identity_of_addr(&m->ids, e->daddr).identity;
		printf("  identity %u (%s) -> %u (%s)", sid,
		       identity_name(&m->ids, sid, &a), did,
		       identity_name(&m->ids, did, &b));
	}
	if (e->rule)
		printf("  rule %s", rule_name(m->rules_fd, e->rule, &rule));
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

static void set_rule(json_t *o, const struct monitor *m, const struct ew_event *e)
{
	struct ew_policy_rule_name buf;
	const char *name = e->rule ? rule_name(m->rules_fd, e->rule, &buf) : NULL;

	json_object_set_new(o, "rule", e->rule ? json_integer(e->rule) : json_null());
	json_object_set_new(o, "ruleName", name ? json_string(name) : json_null());
}

static void set_request(json_t *o, const struct ew_http_event *h)
{
	char method[EW_HTTP_METHOD_LEN], path[EW_HTTP_PATH_LEN];

	request_text(h->method, sizeof(h->method), method);
	request_text(h->path, sizeof(h->path), path);
	json_object_set_new(o, "method", json_string(method));
	json_object_set_new(o, "path", json_string(path));
	json_object_set_new(o, "status", json_integer(h->status));
}

/* One JSON object a line, with the same members for every kind of event
 * (fields the packet does not have are null), and an HTTP request's too. */
static void monitor_print_json(const struct monitor *m, const struct ew_event *e,
			       const char *when, const char *reason,
			       const char *ifname)
{
	bool ipv4 = event_has_ipv4(e);
	char src[16], dst[16], proto[8];
	json_t *o;

	o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:i, s:s?, s:s?, s:s?, s:i, s:s?, "
		      "s:i, s:i}",
		      "time", when, "event", event_kinds[e->type], "verdict",
		      verdict_name(reason_verdict(e->reason)), "reason", reason, "code",
		      e->reason, "direction", dir_name(e->dir), "ifindex",
		      (int)e->ifindex, "interface", ifname, "proto",
		      ipv4 ? proto_name(e->protocol, proto) : NULL, "src",
		      ipv4 ? ip_str(e->saddr, src) : NULL, "sport", ntohs(e->sport),
		      "dst", ipv4 ? ip_str(e->daddr, dst) : NULL, "dport",
		      ntohs(e->dport), "len", (int)e->len);
	set_identity(o, m, "srcIdentity", "srcIdentityName", e, e->saddr);
	set_identity(o, m, "dstIdentity", "dstIdentityName", e, e->daddr);
	set_rule(o, m, e);
	if (e->type == EW_EVENT_HTTP)
		set_request(o, (const void *)e);
	json_dumpf(o, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(o);
}

/* A record this bpfctl can read: long enough for its type, which it knows. */
static bool record_readable(const void *data, size_t size)
{
	const struct ew_event *e = data;

	return size > offsetof(struct ew_event, type) && size == event_size(e->type);
}

/* ring_buffer sample callback: one record of ew_events. */
static int monitor_on_event(void *ctx, void *data, size_t size)
{
	struct monitor *m = ctx;
	const struct ew_event *e = data;
	char when[40], reason_buf[16], ifbuf[IF_NAMESIZE];
	const char *reason, *ifname;

	if (size >= sizeof(e->ts_ns) && e->ts_ns < m->start_ns)
		return 0;
	if (!record_readable(data, size)) {
		m->unreadable++;
		return 0;
	}
	if (m->c->mon.count && m->shown >= m->c->mon.count)
		return 0;
	if (!monitor_match(m->c, e))
		return 0;
	reason = reason_name(e->reason);
	if (!reason) {
		snprintf(reason_buf, sizeof(reason_buf), "reason-%u", e->reason);
		reason = reason_buf;
	}
	ifname = e->ifindex ? if_indextoname(e->ifindex, ifbuf) : NULL;
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

	FILE *out = m->c->json ? stderr : stdout;

	if (m->unreadable != m->unreadable_reported)
		fprintf(out, "(%lu records of an unknown type or size skipped: the "
			"datapath is of another edgewire version than this bpfctl)\n",
			m->unreadable - m->unreadable_reported);
	m->unreadable_reported = m->unreadable;
	if (read_event_totals(m->stats_fd, &now))
		return;
	suppressed = now.suppressed - m->reported.suppressed;
	lost = now.lost - m->reported.lost;
	m->reported = now;
	if (suppressed || lost)
		fprintf(out, "(%llu events suppressed by the rate limit, %llu lost)\n",
			(unsigned long long)suppressed, (unsigned long long)lost);
	fflush(out);
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
	struct monitor m = { .c = c, .stats_fd = -1, .rules_fd = -1, .ids = { -1, -1 } };
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
	if (m.stats_fd < 0 || identities_open(c, &m.ids) ||
	    (m.rules_fd = open_map(c, EW_MAP_POLICY_RULES)) < 0)
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
	if (m.rules_fd >= 0)
		close(m.rules_fd);
	if (m.stats_fd >= 0)
		close(m.stats_fd);
	close(ring_fd);
	close(lock_fd);
	return ret;
}

