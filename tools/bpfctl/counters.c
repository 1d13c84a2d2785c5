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
		printf("\ndrop events: %llu emitted, %llu suppressed by the rate limit, "
		       "%llu lost (bpfctl monitor shows them)\n",
		       (unsigned long long)t.emitted, (unsigned long long)t.suppressed,
		       (unsigned long long)t.lost);
	close(fd);
}

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
	int fd = open_map(c, EW_MAP_METRICS);
	struct table *t;

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
	if (!c->json)
		print_events_footer(c);
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
