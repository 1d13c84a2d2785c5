// SPDX-License-Identifier: Apache-2.0
/* bpfctl stats, reasons, events: what the datapath counted, and what it means. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpfctl.h"
#include "table.h"

_Static_assert(sizeof(struct ew_metrics) % sizeof(__u64) == 0, "__u64 counters only");
_Static_assert(sizeof(struct ew_event_stats) % sizeof(__u64) == 0, "__u64 counters only");

/* Sums a per-CPU value made of __u64 counters over all possible CPUs. */
static int read_percpu_sum(int fd, __u32 key, __u64 *sum, size_t size)
{
	int ncpus = libbpf_num_possible_cpus();
	size_t words = size / sizeof(__u64);

	memset(sum, 0, size);
	if (ncpus <= 0)
		return -1;
	__u64 per_cpu[ncpus * words];

	if (bpf_map_lookup_elem(fd, &key, per_cpu))
		return -1;
	for (int cpu = 0; cpu < ncpus; cpu++)
		for (size_t w = 0; w < words; w++)
			sum[w] += per_cpu[cpu * words + w];
	return 0;
}

int read_event_totals(int fd, struct event_totals *t)
{
	struct ew_event_stats sum;

	*t = (struct event_totals){ 0 };
	if (read_percpu_sum(fd, 0, (__u64 *)&sum, sizeof(sum)))
		return -1;
	*t = (struct event_totals){ sum.emitted, sum.suppressed, sum.lost };
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
		printf("events: %llu emitted, %llu suppressed by the rate limit, "
		       "%llu lost (bpfctl monitor shows them)\n",
		       (unsigned long long)t.emitted, (unsigned long long)t.suppressed,
		       (unsigned long long)t.lost);
	close(fd);
}

/* --- policy verdicts and HTTP requests ------------------------------------------ */

/* What policy judged: ew_verdicts, and ew_http_stats summed over rules. */
struct policy_counts {
	__u64 packets[EW_VERDICT_MAX][EW_DIR_MAX];
	__u64 requests[EW_REASON_MAX][EW_DIR_MAX];
};

/* The reasons the proxy judges requests with: every row of them is in JSON. */
static const unsigned int http_reasons[] = {
	EW_REASON_FORWARD, EW_REASON_DROP_POLICY_DENIED, EW_REASON_DROP_MALFORMED,
};

static int cmp_http_key(const void *a, const void *b)
{
	const struct ew_http_stats_key *x = a, *y = b;

	if (x->rule != y->rule)
		return x->rule < y->rule ? -1 : 1;
	if (x->dir != y->dir)
		return x->dir > y->dir ? -1 : 1; /* ingress first */
	return (x->reason > y->reason) - (x->reason < y->reason);
}

static long read_http_stats(const struct ctl *c, struct ew_http_stats_key **keys,
			    struct ew_http_stats **values)
{
	return read_entries(c, EW_MAP_HTTP_STATS, sizeof(**keys), sizeof(**values),
			    cmp_http_key, (void **)keys, (void **)values);
}

static int read_policy_counts(const struct ctl *c, struct policy_counts *pc)
{
	struct ew_http_stats_key *keys;
	struct ew_http_stats *values;
	int fd = open_map(c, EW_MAP_VERDICTS);
	long n;

	*pc = (struct policy_counts){ 0 };
	if (fd < 0)
		return -1;
	for (unsigned int v = 0; v < EW_VERDICT_MAX; v++)
		for (unsigned int dir = 0; dir < EW_DIR_MAX; dir++)
			read_percpu_sum(fd, ew_verdict_index(v, dir), &pc->packets[v][dir],
					sizeof(__u64));
	close(fd);
	n = read_http_stats(c, &keys, &values);
	if (n < 0)
		return -1;
	for (long i = 0; i < n; i++)
		if (keys[i].reason < EW_REASON_MAX && keys[i].dir < EW_DIR_MAX)
			pc->requests[keys[i].reason][keys[i].dir] += values[i].requests;
	free(keys);
	free(values);
	return 0;
}

static __u64 both_dirs(const __u64 n[EW_DIR_MAX])
{
	return n[EW_DIR_EGRESS] + n[EW_DIR_INGRESS];
}

/* A line under the stats table: what policy judged, in both directions. */
static void print_policy_footer(const struct ctl *c)
{
	struct policy_counts pc;

	if (read_policy_counts(c, &pc))
		return;
	printf("\npolicy: %llu packets allowed, %llu proxied, %llu denied; HTTP: %llu "
	       "requests allowed, %llu denied, %llu malformed (bpfctl stats --policy "
	       "shows them by direction)\n",
	       (unsigned long long)both_dirs(pc.packets[EW_VERDICT_ALLOWED]),
	       (unsigned long long)both_dirs(pc.packets[EW_VERDICT_PROXIED]),
	       (unsigned long long)both_dirs(pc.packets[EW_VERDICT_DENIED]),
	       (unsigned long long)both_dirs(pc.requests[EW_REASON_FORWARD]),
	       (unsigned long long)both_dirs(pc.requests[EW_REASON_DROP_POLICY_DENIED]),
	       (unsigned long long)both_dirs(pc.requests[EW_REASON_DROP_MALFORMED]));
}

static bool is_http_reason(unsigned int reason)
{
	for (size_t i = 0; i < ARRAY_SIZE(http_reasons); i++)
		if (http_reasons[i] == reason)
			return true;
	return false;
}

static struct table *verdicts_table(const struct ctl *c, const struct policy_counts *pc)
{
	static const struct table_column cols[] = {
		{ .key = "verdict", .heading = "VERDICT", .width = 9 },
		{ .key = "direction", .heading = "DIR", .width = 8, .gap = 1 },
		{ .key = "packets", .heading = "PACKETS", .width = 12, .right = true,
		  .gap = 1 },
	};
	struct table *t = TABLE_NEW(cols);

	for (unsigned int v = 0; v < EW_VERDICT_MAX; v++) {
		for (unsigned int dir = 0; dir < EW_DIR_MAX; dir++) {
			table_row(t, pc->packets[v][dir] || c->all);
			table_str(t, verdict_name(v));
			table_str(t, dir_name(dir));
			table_uint(t, pc->packets[v][dir]);
		}
	}
	return t;
}

/* Requests by reason: the proxy's reasons always (in JSON), others seen. */
static struct table *requests_table(const struct ctl *c, const struct policy_counts *pc)
{
	static const struct table_column cols[] = {
		{ .key = "verdict", .heading = "VERDICT", .width = 9 },
		{ .key = "reason", .heading = "REASON", .width = 14, .gap = 1 },
		{ .key = "code", .json_only = true },
		{ .key = "direction", .heading = "DIR", .width = 8, .gap = 1 },
		{ .key = "requests", .heading = "REQUESTS", .width = 11, .right = true,
		  .gap = 1 },
	};
	struct table *t = TABLE_NEW(cols);

	for (size_t i = 0; i < n_reasons; i++) {
		unsigned int code = reasons[i].code;

		for (unsigned int dir = 0; dir < EW_DIR_MAX; dir++) {
			__u64 n = pc->requests[code][dir];

			if (!n && !is_http_reason(code))
				continue;
			table_row(t, n || c->all);
			table_str(t, verdict_name(reason_verdict(code)));
			table_str(t, reasons[i].name);
			table_uint(t, code);
			table_str(t, dir_name(dir));
			table_uint(t, n);
		}
	}
	return t;
}

/* stats --policy: two tables, or one JSON object of both. */
static int stats_policy(const struct ctl *c)
{
	struct policy_counts pc;
	struct table *verdicts, *requests;
	json_t *doc;

	if (read_policy_counts(c, &pc))
		return 1;
	verdicts = verdicts_table(c, &pc);
	requests = requests_table(c, &pc);
	if (c->json) {
		doc = json_object();
		json_object_set(doc, "packets", table_json(verdicts));
		json_object_set(doc, "httpRequests", table_json(requests));
		json_print(doc);
		table_free(verdicts);
		table_free(requests);
		return 0;
	}
	printf("packets of isolated pods that policy judged (those of tracked "
	       "connections pass unjudged):\n");
	table_print(verdicts, false);
	printf("\nHTTP requests the L7 proxy judged:\n");
	table_print(requests, false);
	return 0;
}

/* stats --http: each rule's requests; those no rule allowed have none. */
static int stats_http(const struct ctl *c)
{
	static const struct table_column cols[] = {
		{ .key = "direction", .heading = "DIR", .width = 8 },
		{ .key = "verdict", .heading = "VERDICT", .width = 8, .gap = 1 },
		{ .key = "reason", .heading = "REASON", .width = 14, .gap = 1 },
		{ .key = "requests", .heading = "REQUESTS", .width = 10, .right = true,
		  .gap = 1 },
		{ .key = "rule", .json_only = true },
		{ .key = "ruleName", .heading = "RULE" },
	};
	struct ew_policy_rule_name name;
	struct ew_http_stats_key *keys;
	struct ew_http_stats *values;
	struct table *t;
	int rules_fd = open_map(c, EW_MAP_POLICY_RULES);
	long n = rules_fd < 0 ? -1 : read_http_stats(c, &keys, &values);

	if (n < 0) {
		if (rules_fd >= 0)
			close(rules_fd);
		return 1;
	}
	t = TABLE_NEW(cols);
	for (long i = 0; i < n; i++) {
		const struct ew_http_stats_key *k = &keys[i];
		const char *reason = reason_name(k->reason);

		table_row(t, values[i].requests || c->all);
		table_str(t, dir_name(k->dir));
		table_str(t, verdict_name(reason_verdict(k->reason)));
		table_str(t, reason);
		table_uint(t, values[i].requests);
		if (k->rule)
			table_uint(t, k->rule);
		else
			table_str(t, NULL);
		table_str(t, k->rule ? rule_name(rules_fd, k->rule, &name) : NULL);
	}
	table_print(t, c->json);
	close(rules_fd);
	free(keys);
	free(values);
	return 0;
}

/* --- stats ----------------------------------------------------------------------- */

int cmd_stats(const struct ctl *c)
{
	static const struct table_column cols[] = {
		{ .key = "reason", .heading = "REASON", .width = 18 },
		{ .key = "code", .json_only = true },
		{ .key = "direction", .heading = "DIR", .width = 8, .gap = 1 },
		{ .key = "drop", .heading = "DROP", .width = 5, .gap = 1 },
		{ .key = "packets", .heading = "PACKETS", .width = 12, .right = true,
		  .gap = 1 },
		{ .key = "bytes", .heading = "BYTES", .width = 14, .right = true,
		  .gap = 1 },
	};
	struct table *t;
	int fd;

	if (c->policy && c->http) {
		fprintf(stderr, "bpfctl: stats --policy and --http are two views; "
			"give one of them\n");
		return 2;
	}
	if (c->policy)
		return stats_policy(c);
	if (c->http)
		return stats_http(c);
	fd = open_map(c, EW_MAP_METRICS);
	if (fd < 0)
		return 1;
	t = TABLE_NEW(cols);
	for (size_t i = 0; i < n_reasons; i++) {
		for (unsigned int dir = 0; dir < EW_DIR_MAX; dir++) {
			unsigned int code = reasons[i].code;
			struct ew_metrics m;

			if (read_percpu_sum(fd, ew_metrics_index(code, dir), (__u64 *)&m,
					    sizeof(m)))
				continue;
			/* JSON has every reason and direction, zeros included. */
			table_row(t, m.packets || c->all);
			table_str(t, reasons[i].name);
			table_uint(t, code);
			table_str(t, dir_name(dir));
			table_bool(t, ew_reason_is_drop(code));
			table_uint(t, m.packets);
			table_uint(t, m.bytes);
		}
	}
	close(fd);
	table_print(t, c->json);
	if (!c->json) {
		print_policy_footer(c);
		print_events_footer(c);
	}
	return 0;
}

int cmd_reasons(const struct ctl *c)
{
	static const struct table_column cols[] = {
		{ .key = "code", .width = 3, .right = true },
		{ .key = "reason", .width = 18 },
		{ .key = "drop", .json_only = true },
		{ .key = "description", .gap = 1 },
	};
	struct table *t = TABLE_NEW(cols);

	for (size_t i = 0; i < n_reasons; i++) {
		table_row(t, true);
		table_uint(t, reasons[i].code);
		table_str(t, reasons[i].name);
		table_bool(t, ew_reason_is_drop(reasons[i].code));
		table_str(t, reasons[i].desc);
	}
	table_print(t, c->json);
	return 0;
}

int cmd_events(const struct ctl *c)
{
	static const struct table_column cols[] = {
		{ .key = "event", .heading = "EVENTS", .width = 11 },
		{ .key = "total", .heading = "TOTAL", .width = 12, .right = true,
		  .gap = 1 },
	};
	struct event_totals e;
	int fd = open_map(c, EW_MAP_EVENT_STATS);
	struct table *t;

	if (fd < 0)
		return 1;
	if (read_event_totals(fd, &e)) {
		fprintf(stderr, "bpfctl: cannot read %s: %s\n", EW_MAP_EVENT_STATS,
			strerror(errno));
		close(fd);
		return 1;
	}
	close(fd);
	/* One record, not a list: JSON is an object. */
	if (c->json) {
		json_print(json_pack("{s:I, s:I, s:I, s:i, s:i}",
			"emitted", (json_int_t)e.emitted,
			"suppressed", (json_int_t)e.suppressed,
			"lost", (json_int_t)e.lost,
			"ratePerCpu", EW_EVENT_RATE, "burstPerCpu", EW_EVENT_BURST));
		return 0;
	}
	const struct {
		const char *name;
		__u64 total;
	} rows[] = { { "emitted", e.emitted }, { "suppressed", e.suppressed },
		     { "lost", e.lost } };

	t = TABLE_NEW(cols);
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		table_row(t, true);
		table_str(t, rows[i].name);
		table_uint(t, rows[i].total);
	}
	table_print(t, false);
	printf("\nrate limit: %d events a second per CPU, bursts of %d\n",
	       EW_EVENT_RATE, EW_EVENT_BURST);
	return 0;
}
