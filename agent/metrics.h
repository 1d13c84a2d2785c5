/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the agent reports over HTTP (http.c serves it): /metrics in the
 * Prometheus text format 0.0.4, and /healthz. Collecting (reading the agent
 * and its maps into a snapshot) is kept apart from rendering (snapshot to
 * text), so the text can be tested from fixed inputs.
 */
#ifndef EW_METRICS_H
#define EW_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <edgewire/abi.h>

#include "http.h"

#define EW_AGENT_VERSION "0.1.0"

/* Upper bounds of the duration histograms' buckets, in seconds. */
#define EW_HISTOGRAM_BOUNDS 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1
#define EW_HISTOGRAM_BUCKETS 10

struct ew_histogram {
	uint64_t buckets[EW_HISTOGRAM_BUCKETS]; /* cumulative: observations <= bound */
	uint64_t count;
	double sum;
};

void ew_histogram_observe(struct ew_histogram *h, double seconds);

/* Kept by the agent as it works (struct ew_agent's stats). */
struct ew_agent_stats {
	uint64_t store_loads;
	uint64_t apply_failures;
	struct ew_histogram apply_seconds;  /* one reconcile */
	struct ew_histogram change_seconds; /* store change seen -> programmed */
};

struct ew_verdict_count {
	unsigned int reason, dir;
	uint64_t packets, bytes;
};

struct ew_map_fill {
	const char *name;
	uint64_t entries, capacity;
};

/* The maps /metrics counts the entries of: every hash, LRU and LPM map. */
#define EW_METRICS_MAPS 16

/* Conntrack entries by type (enum ew_ct_type, 0 unused). */
#define EW_CT_TYPES (EW_CT_POLICY + 1)

/* Everything /metrics shows, at one moment. */
struct ew_metrics_snapshot {
	const char *node, *version;
	size_t n_verdicts;
	struct ew_verdict_count verdicts[EW_REASON_MAX * EW_DIR_MAX];
	/* ew_verdicts: packets policy judged; ew_http_stats summed over
	 * rules: requests the L7 proxy judged (rules are left out, as there
	 * are as many as the cluster's policies have; bpfctl stats --http
	 * has them). */
	uint64_t policy_verdicts[EW_VERDICT_MAX][EW_DIR_MAX];
	uint64_t http_requests[EW_REASON_MAX][EW_DIR_MAX];
	uint64_t endpoints;
	size_t n_maps;
	struct ew_map_fill maps[EW_METRICS_MAPS];
	uint64_t conntrack[EW_CT_TYPES];
	uint64_t store_errors;
	struct ew_agent_stats stats;
	bool have_events; /* the datapath has ew_event_stats */
	uint64_t events_emitted, events_lost, events_suppressed;
};

struct ew_agent;

/* Reads the agent's counters and its maps. */
void ew_metrics_collect(struct ew_agent *a, struct ew_metrics_snapshot *s);

/* Writes the snapshot in the Prometheus text format 0.0.4. */
void ew_metrics_render(FILE *out, const struct ew_metrics_snapshot *s);

/* 200 with "ok" when the agent is ready and its last apply succeeded; 503
 * with the reason otherwise. The text (one line, no newline) goes to buf. */
int ew_health(const struct ew_agent *a, char *buf, size_t len);

/* The ew_http_handler for GET /metrics and /healthz; ctx is the agent. */
void ew_metrics_serve(void *ctx, const char *path, struct ew_http_response *res);

#endif /* EW_METRICS_H */
