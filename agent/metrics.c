// SPDX-License-Identifier: Apache-2.0
#include "metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "datapath.h"

static const double bounds[EW_HISTOGRAM_BUCKETS] = { EW_HISTOGRAM_BOUNDS };

/* The same names bpfctl prints; NULL for codes no reason has. */
static const char *const reason_names[EW_REASON_MAX] = {
#define EW_REASON_NAME(name, code, str, desc) [code] = str,
	EW_REASONS(EW_REASON_NAME)
#undef EW_REASON_NAME
};

void ew_histogram_observe(struct ew_histogram *h, double seconds)
{
	for (int i = 0; i < EW_HISTOGRAM_BUCKETS; i++)
		h->buckets[i] += seconds <= bounds[i];
	h->count++;
	h->sum += seconds;
}

/* --- collect ------------------------------------------------------------- */

/* Sums entry idx of a per-CPU array over every CPU; its value is size bytes
 * of 64-bit counters. */
static int sum_percpu(int fd, __u32 idx, void *sum, size_t size)
{
	int ncpus = libbpf_num_possible_cpus();
	size_t n = size / sizeof(__u64);
	__u64 total[n], *values;
	int err = -1;

	if (ncpus <= 0 || !(values = calloc(ncpus, size)))
		return -1;
	memset(total, 0, size);
	if (!bpf_map_lookup_elem(fd, &idx, values)) {
		for (int cpu = 0; cpu < ncpus; cpu++)
			for (size_t i = 0; i < n; i++)
				total[i] += values[cpu * n + i];
		err = 0;
	}
	memcpy(sum, total, size);
	free(values);
	return err;
}

/* Sees each key a map walk finds. */
typedef void (*ew_key_fn)(const void *key, void *ctx);

#define BATCH_ENTRIES 1024

/* Keys of a map, counted (and shown to fn, when set) with batch lookups:
 * the datapath adds and evicts conntrack entries meanwhile, and a batch
 * cursor (a hash bucket) survives that where a key walk starts over.
 * Returns -1, having seen no key, where the kernel has no batches for the
 * map's type. */
static int64_t count_in_batches(int fd, const struct bpf_map_info *info, ew_key_fn fn,
				void *ctx)
{
	size_t token_size = info->key_size > 8 ? info->key_size : 8;
	uint8_t *keys = calloc(BATCH_ENTRIES, info->key_size);
	uint8_t *values = calloc(BATCH_ENTRIES, info->value_size);
	uint8_t *in = calloc(2, token_size), *out = in ? in + token_size : NULL;
	int64_t n = 0;
	int err = 0;

	for (bool first = true; keys && values && in && !err; first = false) {
		__u32 count = BATCH_ENTRIES;

		err = bpf_map_lookup_batch(fd, first ? NULL : in, out, keys, values, &count,
					   NULL);
		if (err && errno != ENOENT) {
			n = first ? -1 : n; /* after the first, keys were seen */
			break;
		}
		for (__u32 i = 0; fn && i < count; i++)
			fn(keys + (size_t)i * info->key_size, ctx);
		n += count;
		memcpy(in, out, token_size);
	}
	free(keys);
	free(values);
	free(in);
	return keys && values && in ? n : -1;
}

/* The same by walking the keys one by one. */
static int64_t count_by_walk(int fd, const struct bpf_map_info *info, ew_key_fn fn,
			     void *ctx)
{
	uint8_t *key = calloc(2, info->key_size), *next = key ? key + info->key_size : NULL;
	int64_t n = 0;

	if (!key)
		return 0;
	for (void *prev = NULL; n < info->max_entries && !bpf_map_get_next_key(fd, prev, next);
	     prev = key) {
		if (fn)
			fn(next, ctx);
		memcpy(key, next, info->key_size);
		n++;
	}
	free(key);
	return n;
}

static uint64_t count_entries(int fd, ew_key_fn fn, void *ctx)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	int64_t n;

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	n = count_in_batches(fd, &info, fn, ctx);
	return n >= 0 ? (uint64_t)n : (uint64_t)count_by_walk(fd, &info, fn, ctx);
}

static void count_ct_type(const void *key, void *ctx)
{
	const struct ew_ct_key *k = key;
	uint64_t *by_type = ctx;

	if (k->type < EW_CT_TYPES)
		by_type[k->type]++;
}

static void collect_maps(struct ew_agent *a, struct ew_metrics_snapshot *s)
{
	static const char *const maps[] = {
		EW_MAP_ENDPOINTS,     EW_MAP_ENDPOINT_NAMES, EW_MAP_ROUTES,
		EW_MAP_NODES,	      EW_MAP_LB_FRONTENDS,   EW_MAP_LB_BACKENDS,
		EW_MAP_LB_TABLES,     EW_MAP_LB_MAGLEV,	     EW_MAP_LB_AFFINITY,
		EW_MAP_CT,	      EW_MAP_IPCACHE,	     EW_MAP_POLICY,
		EW_MAP_IDENTITIES,    EW_MAP_POLICY_RULES,   EW_MAP_HTTP_STATS,
	};
	_Static_assert(sizeof(maps) / sizeof(maps[0]) <= EW_METRICS_MAPS, "maps fit");
	uint32_t capacity;

	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		int fd = ew_datapath_map_fd(a->dp, maps[i], &capacity);
		bool ct = !strcmp(maps[i], EW_MAP_CT);

		if (fd < 0)
			continue;
		s->maps[s->n_maps] = (struct ew_map_fill){
			maps[i], count_entries(fd, ct ? count_ct_type : NULL, s->conntrack),
			capacity
		};
		if (!strcmp(maps[i], EW_MAP_ENDPOINTS))
			s->endpoints = s->maps[s->n_maps].entries;
		s->n_maps++;
	}
}

static void collect_policy(struct ew_agent *a, struct ew_metrics_snapshot *s)
{
	struct ew_http_stats_key key, next;
	struct ew_http_stats v;
	int fd = ew_datapath_map_fd(a->dp, EW_MAP_VERDICTS, NULL);

	for (unsigned int verdict = 0; fd >= 0 && verdict < EW_VERDICT_MAX; verdict++)
		for (unsigned int dir = 0; dir < EW_DIR_MAX; dir++)
			sum_percpu(fd, ew_verdict_index(verdict, dir),
				   &s->policy_verdicts[verdict][dir], sizeof(uint64_t));
	/* Few keys (rules times three reasons), written by the proxy, which
	 * never deletes one: a walk sees each once. */
	fd = ew_datapath_map_fd(a->dp, EW_MAP_HTTP_STATS, NULL);
	for (void *prev = NULL; fd >= 0 && !bpf_map_get_next_key(fd, prev, &next);
	     prev = &key) {
		key = next;
		if (bpf_map_lookup_elem(fd, &key, &v) || key.reason >= EW_REASON_MAX ||
		    key.dir >= EW_DIR_MAX)
			continue;
		s->http_requests[key.reason][key.dir] += v.requests;
	}
}

void ew_metrics_collect(struct ew_agent *a, struct ew_metrics_snapshot *s)
{
	struct ew_event_stats events;
	int fd;

	*s = (struct ew_metrics_snapshot){
		.node = a->node,
		.version = EW_AGENT_VERSION,
		.store_errors = a->store_errors,
		.stats = a->stats,
	};
	fd = ew_datapath_map_fd(a->dp, EW_MAP_METRICS, NULL);
	for (unsigned int reason = 0; fd >= 0 && reason < EW_REASON_MAX; reason++) {
		for (unsigned int dir = 0; reason_names[reason] && dir < EW_DIR_MAX; dir++) {
			struct ew_metrics m;

			if (sum_percpu(fd, ew_metrics_index(reason, dir), &m, sizeof(m)))
				continue;
			s->verdicts[s->n_verdicts++] = (struct ew_verdict_count){
				reason, dir, m.packets, m.bytes
			};
		}
	}
	collect_policy(a, s);
	collect_maps(a, s);
	/* Older datapaths have no event counters: then the metrics are left out. */
	fd = ew_datapath_map_fd(a->dp, EW_MAP_EVENT_STATS, NULL);
	if (fd >= 0 && !sum_percpu(fd, 0, &events, sizeof(events))) {
		s->have_events = true;
		s->events_emitted = events.emitted;
		s->events_lost = events.lost;
		s->events_suppressed = events.suppressed;
	}
}

/* --- render -------------------------------------------------------------- */

/* A label value: backslash, double quote and line feed are escaped. */
static void put_label(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\n')
			fputs("\\n", out);
		else if (*s == '\\' || *s == '"')
			fprintf(out, "\\%c", *s);
		else
			fputc(*s, out);
	}
}

static const char *dir_label(unsigned int dir)
{
	return dir == EW_DIR_EGRESS ? "egress" : "ingress";
}

static void family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void single(FILE *out, const char *name, const char *type,
		   const char *help, uint64_t value)
{
	family(out, name, type, help);
	fprintf(out, "%s %" PRIu64 "\n", name, value);
}

static void verdicts(FILE *out, const struct ew_metrics_snapshot *s,
		     const char *name, const char *help, bool bytes)
{
	family(out, name, "counter", help);
	for (size_t i = 0; i < s->n_verdicts; i++) {
		const struct ew_verdict_count *v = &s->verdicts[i];

		if (v->reason >= EW_REASON_MAX || !reason_names[v->reason])
			continue;
		fprintf(out, "%s{reason=\"%s\",direction=\"%s\",verdict=\"%s\"} %" PRIu64 "\n",
			name, reason_names[v->reason], dir_label(v->dir),
			ew_reason_is_drop(v->reason) ? "drop" : "forward",
			bytes ? v->bytes : v->packets);
	}
}

static const char *const verdict_names[EW_VERDICT_MAX] = {
	[EW_VERDICT_ALLOWED] = "allowed",
	[EW_VERDICT_PROXIED] = "proxied",
	[EW_VERDICT_DENIED] = "denied",
};

static void policy_verdicts(FILE *out, const struct ew_metrics_snapshot *s)
{
	const char *name = "edgewire_policy_verdicts_total";

	family(out, name, "counter",
	       "Packets of isolated pods that policy judged, by verdict and direction "
	       "(those of tracked connections pass unjudged).");
	for (unsigned int v = 0; v < EW_VERDICT_MAX; v++)
		for (unsigned int dir = 0; dir < EW_DIR_MAX; dir++)
			fprintf(out, "%s{verdict=\"%s\",direction=\"%s\"} %" PRIu64 "\n",
				name, verdict_names[v], dir_label(dir),
				s->policy_verdicts[v][dir]);
}

/* The reasons the proxy judges with are always there; others once seen. */
static void http_requests(FILE *out, const struct ew_metrics_snapshot *s)
{
	static const bool proxy_reason[EW_REASON_MAX] = {
		[EW_REASON_FORWARD] = true,
		[EW_REASON_DROP_POLICY_DENIED] = true,
		[EW_REASON_DROP_MALFORMED] = true,
	};
	const char *name = "edgewire_http_requests_total";

	family(out, name, "counter",
	       "HTTP requests the L7 proxy judged, by reason and direction: forward "
	       "(allowed), policy-denied (answered 403), malformed (400).");
	for (unsigned int reason = 0; reason < EW_REASON_MAX; reason++) {
		for (unsigned int dir = 0; reason_names[reason] && dir < EW_DIR_MAX; dir++) {
			uint64_t n = s->http_requests[reason][dir];

			if (n || proxy_reason[reason])
				fprintf(out, "%s{reason=\"%s\",direction=\"%s\"} %" PRIu64 "\n",
					name, reason_names[reason], dir_label(dir), n);
		}
	}
}

static void conntrack(FILE *out, const struct ew_metrics_snapshot *s)
{
	static const char *const types[EW_CT_TYPES] = {
		[EW_CT_SERVICE] = "service", [EW_CT_REPLY] = "reply", [EW_CT_POLICY] = "policy",
	};
	const char *name = "edgewire_conntrack_entries";

	family(out, name, "gauge",
	       "Connection tracking entries (ew_ct) by type: service and reply (two per "
	       "service connection), policy (one per connection policy allowed).");
	for (unsigned int t = 1; t < EW_CT_TYPES; t++)
		fprintf(out, "%s{type=\"%s\"} %" PRIu64 "\n", name, types[t],
			s->conntrack[t]);
}

static void maps(FILE *out, const struct ew_metrics_snapshot *s, const char *name,
		 const char *help, bool capacity)
{
	family(out, name, "gauge", help);
	for (size_t i = 0; i < s->n_maps; i++) {
		fprintf(out, "%s{map=\"", name);
		put_label(out, s->maps[i].name);
		fprintf(out, "\"} %" PRIu64 "\n",
			capacity ? s->maps[i].capacity : s->maps[i].entries);
	}
}

static void histogram(FILE *out, const char *name, const char *help,
		      const struct ew_histogram *h)
{
	family(out, name, "histogram", help);
	for (int i = 0; i < EW_HISTOGRAM_BUCKETS; i++)
		fprintf(out, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, bounds[i],
			h->buckets[i]);
	fprintf(out, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, h->count);
	fprintf(out, "%s_sum %.9g\n", name, h->sum);
	fprintf(out, "%s_count %" PRIu64 "\n", name, h->count);
}

void ew_metrics_render(FILE *out, const struct ew_metrics_snapshot *s)
{
	family(out, "edgewire_agent_info", "gauge", "The agent's node and version.");
	fputs("edgewire_agent_info{node=\"", out);
	put_label(out, s->node);
	fputs("\",version=\"", out);
	put_label(out, s->version);
	fputs("\"} 1\n", out);
	verdicts(out, s, "edgewire_datapath_packets_total",
		 "Packets by verdict reason and direction (bpfctl reasons).", false);
	verdicts(out, s, "edgewire_datapath_bytes_total",
		 "Bytes by verdict reason and direction (bpfctl reasons).", true);
	policy_verdicts(out, s);
	http_requests(out, s);
	single(out, "edgewire_endpoints", "gauge",
	       "Pods of this node programmed in the datapath.", s->endpoints);
	maps(out, s, "edgewire_map_entries", "Entries in a datapath map.", false);
	maps(out, s, "edgewire_map_capacity", "Most entries a datapath map holds.", true);
	conntrack(out, s);
	single(out, "edgewire_store_errors", "gauge",
	       "Problems found by the last load of the store.", s->store_errors);
	single(out, "edgewire_store_loads_total", "counter",
	       "Loads of the store.", s->stats.store_loads);
	single(out, "edgewire_apply_failures_total", "counter",
	       "Applies that left the datapath not fully programmed.",
	       s->stats.apply_failures);
	histogram(out, "edgewire_apply_duration_seconds",
		  "Time to bring the datapath in line with the store.",
		  &s->stats.apply_seconds);
	histogram(out, "edgewire_store_change_to_programmed_seconds",
		  "Time from a store change seen to the datapath programmed.",
		  &s->stats.change_seconds);
	if (!s->have_events)
		return;
	single(out, "edgewire_events_emitted_total", "counter",
	       "Datapath events put into the ring buffer (bpfctl monitor reads them).",
	       s->events_emitted);
	single(out, "edgewire_events_lost_total", "counter",
	       "Datapath events lost because the ring buffer was full.", s->events_lost);
	single(out, "edgewire_events_suppressed_total", "counter",
	       "Datapath events not sent because of the rate limit.",
	       s->events_suppressed);
}

/* --- serve --------------------------------------------------------------- */

int ew_health(const struct ew_agent *a, char *buf, size_t len)
{
	if (!a->ready)
		snprintf(buf, len, "not ready: the datapath has not been programmed yet%s%s",
			 a->apply_error[0] ? "; last apply failed: " : "", a->apply_error);
	else if (a->apply_error[0])
		snprintf(buf, len, "degraded: last apply failed: %s", a->apply_error);
	else
		snprintf(buf, len, "ok");
	return a->ready && !a->apply_error[0] ? 200 : 503;
}

void ew_metrics_serve(void *ctx, const char *path, struct ew_http_response *res)
{
	struct ew_agent *a = ctx;
	struct ew_metrics_snapshot s;
	char health[256];
	FILE *out;

	*res = (struct ew_http_response){ .status = 200,
					  .content_type = "text/plain; charset=utf-8" };
	out = open_memstream(&res->body, &res->len);
	if (!out) {
		res->status = 500;
		return;
	}
	if (!strcmp(path, "/metrics")) {
		ew_metrics_collect(a, &s);
		ew_metrics_render(out, &s);
		res->content_type = "text/plain; version=0.0.4; charset=utf-8";
	} else if (!strcmp(path, "/healthz")) {
		res->status = ew_health(a, health, sizeof(health));
		fprintf(out, "%s\n", health);
	} else {
		res->status = 404;
		fputs("not found; this agent serves /metrics and /healthz\n", out);
	}
	if (fclose(out))
		res->status = 500;
}
