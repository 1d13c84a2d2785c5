// SPDX-License-Identifier: Apache-2.0
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "metrics.h"

/* The text of s as /metrics shows it. */
static char *render(const struct ew_metrics_snapshot *s)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	cr_assert_not_null(out);
	ew_metrics_render(out, s);
	cr_assert_eq(fclose(out), 0);
	return text;
}

static struct ew_metrics_snapshot snapshot(void)
{
	struct ew_metrics_snapshot s = {
		.node = "a\"b\\c\nd", /* every character a label value escapes */
		.version = "0.1.0",
		.n_verdicts = 2,
		.verdicts = {
			{ EW_REASON_FORWARD, EW_DIR_EGRESS, 10, 1000 },
			{ EW_REASON_DROP_NO_ENDPOINT, EW_DIR_INGRESS, 2, 120 },
		},
		.policy_verdicts = { [EW_VERDICT_ALLOWED] = { 4, 6 },
				     [EW_VERDICT_DENIED] = { 0, 2 } },
		.http_requests = { [EW_REASON_FORWARD] = { 0, 8 },
				   [EW_REASON_DROP_POLICY_DENIED] = { 0, 1 },
				   [EW_REASON_DROP_PROXY_UNREACHABLE] = { 3, 0 } },
		.endpoints = 3,
		.n_maps = 2,
		.maps = { { "ew_endpoints", 3, 4096 }, { "ew_routes", 2, 1024 } },
		.conntrack = { [EW_CT_SERVICE] = 2, [EW_CT_REPLY] = 2, [EW_CT_POLICY] = 5 },
		.store_errors = 1,
		.stats = { .store_loads = 4, .apply_failures = 1 },
		.have_events = true,
		.events_emitted = 9,
		.events_lost = 5,
		.events_suppressed = 7,
	};

	ew_histogram_observe(&s.stats.apply_seconds, 0.0005);
	ew_histogram_observe(&s.stats.apply_seconds, 0.003);
	ew_histogram_observe(&s.stats.apply_seconds, 2.0);
	ew_histogram_observe(&s.stats.change_seconds, 0.25); /* a bound counts in its bucket */
	return s;
}

static const char golden[] =
	"# HELP edgewire_agent_info The agent's node and version.\n"
	"# TYPE edgewire_agent_info gauge\n"
	"edgewire_agent_info{node=\"a\\\"b\\\\c\\nd\",version=\"0.1.0\"} 1\n"
	"# HELP edgewire_datapath_packets_total Packets by verdict reason and direction (bpfctl reasons).\n"
	"# TYPE edgewire_datapath_packets_total counter\n"
	"edgewire_datapath_packets_total{reason=\"forward\",direction=\"egress\",verdict=\"forward\"} 10\n"
	"edgewire_datapath_packets_total{reason=\"no-endpoint\",direction=\"ingress\",verdict=\"drop\"} 2\n"
	"# HELP edgewire_datapath_bytes_total Bytes by verdict reason and direction (bpfctl reasons).\n"
	"# TYPE edgewire_datapath_bytes_total counter\n"
	"edgewire_datapath_bytes_total{reason=\"forward\",direction=\"egress\",verdict=\"forward\"} 1000\n"
	"edgewire_datapath_bytes_total{reason=\"no-endpoint\",direction=\"ingress\",verdict=\"drop\"} 120\n"
	"# HELP edgewire_policy_verdicts_total Packets of isolated pods that policy judged, by verdict and direction (those of tracked connections pass unjudged).\n"
	"# TYPE edgewire_policy_verdicts_total counter\n"
	"edgewire_policy_verdicts_total{verdict=\"allowed\",direction=\"egress\"} 4\n"
	"edgewire_policy_verdicts_total{verdict=\"allowed\",direction=\"ingress\"} 6\n"
	"edgewire_policy_verdicts_total{verdict=\"proxied\",direction=\"egress\"} 0\n"
	"edgewire_policy_verdicts_total{verdict=\"proxied\",direction=\"ingress\"} 0\n"
	"edgewire_policy_verdicts_total{verdict=\"denied\",direction=\"egress\"} 0\n"
	"edgewire_policy_verdicts_total{verdict=\"denied\",direction=\"ingress\"} 2\n"
	"# HELP edgewire_http_requests_total HTTP requests the L7 proxy judged, by reason and direction: forward (allowed), policy-denied (answered 403), malformed (400).\n"
	"# TYPE edgewire_http_requests_total counter\n"
	"edgewire_http_requests_total{reason=\"forward\",direction=\"egress\"} 0\n"
	"edgewire_http_requests_total{reason=\"forward\",direction=\"ingress\"} 8\n"
	"edgewire_http_requests_total{reason=\"malformed\",direction=\"egress\"} 0\n"
	"edgewire_http_requests_total{reason=\"malformed\",direction=\"ingress\"} 0\n"
	"edgewire_http_requests_total{reason=\"policy-denied\",direction=\"egress\"} 0\n"
	"edgewire_http_requests_total{reason=\"policy-denied\",direction=\"ingress\"} 1\n"
	"edgewire_http_requests_total{reason=\"proxy-unreachable\",direction=\"egress\"} 3\n"
	"# HELP edgewire_endpoints Pods of this node programmed in the datapath.\n"
	"# TYPE edgewire_endpoints gauge\n"
	"edgewire_endpoints 3\n"
	"# HELP edgewire_map_entries Entries in a datapath map.\n"
	"# TYPE edgewire_map_entries gauge\n"
	"edgewire_map_entries{map=\"ew_endpoints\"} 3\n"
	"edgewire_map_entries{map=\"ew_routes\"} 2\n"
	"# HELP edgewire_map_capacity Most entries a datapath map holds.\n"
	"# TYPE edgewire_map_capacity gauge\n"
	"edgewire_map_capacity{map=\"ew_endpoints\"} 4096\n"
	"edgewire_map_capacity{map=\"ew_routes\"} 1024\n"
	"# HELP edgewire_conntrack_entries Connection tracking entries (ew_ct) by type: service and reply (two per service connection), policy (one per connection policy allowed).\n"
	"# TYPE edgewire_conntrack_entries gauge\n"
	"edgewire_conntrack_entries{type=\"service\"} 2\n"
	"edgewire_conntrack_entries{type=\"reply\"} 2\n"
	"edgewire_conntrack_entries{type=\"policy\"} 5\n"
	"# HELP edgewire_store_errors Problems found by the last load of the store.\n"
	"# TYPE edgewire_store_errors gauge\n"
	"edgewire_store_errors 1\n"
	"# HELP edgewire_store_loads_total Loads of the store.\n"
	"# TYPE edgewire_store_loads_total counter\n"
	"edgewire_store_loads_total 4\n"
	"# HELP edgewire_apply_failures_total Applies that left the datapath not fully programmed.\n"
	"# TYPE edgewire_apply_failures_total counter\n"
	"edgewire_apply_failures_total 1\n"
	"# HELP edgewire_apply_duration_seconds Time to bring the datapath in line with the store.\n"
	"# TYPE edgewire_apply_duration_seconds histogram\n"
	"edgewire_apply_duration_seconds_bucket{le=\"0.001\"} 1\n"
	"edgewire_apply_duration_seconds_bucket{le=\"0.0025\"} 1\n"
	"edgewire_apply_duration_seconds_bucket{le=\"0.005\"} 2\n"
	"edgewire_apply_duration_seconds_bucket{le=\"0.01\"} 2\n"
	"edgewire_apply_duration_seconds_bucket{le=\"0.025\"} 2\n"
	"edgewire_apply_duration_seconds_bucket{le=\"0.05\"} 2\n"
	"edgewire_apply_duration_seconds_bucket{le=\"0.1\"} 2\n"
	"edgewire_apply_duration_seconds_bucket{le=\"0.25\"} 2\n"
	"edgewire_apply_duration_seconds_bucket{le=\"0.5\"} 2\n"
	"edgewire_apply_duration_seconds_bucket{le=\"1\"} 2\n"
	"edgewire_apply_duration_seconds_bucket{le=\"+Inf\"} 3\n"
	"edgewire_apply_duration_seconds_sum 2.0035\n"
	"edgewire_apply_duration_seconds_count 3\n"
	"# HELP edgewire_store_change_to_programmed_seconds Time from a store change seen to the datapath programmed.\n"
	"# TYPE edgewire_store_change_to_programmed_seconds histogram\n"
	"edgewire_store_change_to_programmed_seconds_bucket{le=\"0.001\"} 0\n"
	"edgewire_store_change_to_programmed_seconds_bucket{le=\"0.0025\"} 0\n"
	"edgewire_store_change_to_programmed_seconds_bucket{le=\"0.005\"} 0\n"
	"edgewire_store_change_to_programmed_seconds_bucket{le=\"0.01\"} 0\n"
	"edgewire_store_change_to_programmed_seconds_bucket{le=\"0.025\"} 0\n"
	"edgewire_store_change_to_programmed_seconds_bucket{le=\"0.05\"} 0\n"
	"edgewire_store_change_to_programmed_seconds_bucket{le=\"0.1\"} 0\n"
	"edgewire_store_change_to_programmed_seconds_bucket{le=\"0.25\"} 1\n"
	"edgewire_store_change_to_programmed_seconds_bucket{le=\"0.5\"} 1\n"
	"edgewire_store_change_to_programmed_seconds_bucket{le=\"1\"} 1\n"
	"edgewire_store_change_to_programmed_seconds_bucket{le=\"+Inf\"} 1\n"
	"edgewire_store_change_to_programmed_seconds_sum 0.25\n"
	"edgewire_store_change_to_programmed_seconds_count 1\n"
	"# HELP edgewire_events_emitted_total Datapath events put into the ring buffer (bpfctl monitor reads them).\n"
	"# TYPE edgewire_events_emitted_total counter\n"
	"edgewire_events_emitted_total 9\n"
	"# HELP edgewire_events_lost_total Datapath events lost because the ring buffer was full.\n"
	"# TYPE edgewire_events_lost_total counter\n"
	"edgewire_events_lost_total 5\n"
	"# HELP edgewire_events_suppressed_total Datapath events not sent because of the rate limit.\n"
	"# TYPE edgewire_events_suppressed_total counter\n"
	"edgewire_events_suppressed_total 7\n";

Test(metrics, renders_every_family_once_with_escaped_labels)
{
	struct ew_metrics_snapshot s = snapshot();
	char *text = render(&s);

	cr_assert_str_eq(text, golden);
	free(text);
}

Test(metrics, leaves_event_counters_out_without_the_map)
{
	struct ew_metrics_snapshot s = snapshot();
	char *text;

	s.have_events = false;
	text = render(&s);
	cr_assert_null(strstr(text, "edgewire_events_"));
	/* Everything else is as before: the golden text up to the events. */
	cr_assert_eq(strncmp(text, golden, strlen(text)), 0);
	cr_assert_eq(strlen(text), (size_t)(strstr(golden, "# HELP edgewire_events_") - golden));
	free(text);
}

Test(metrics, skips_codes_that_are_no_reason)
{
	struct ew_metrics_snapshot s = snapshot();
	char *text;

	s.verdicts[0].reason = 6; /* between proxy (5) and malformed (16) */
	text = render(&s);
	cr_assert_null(strstr(text, "edgewire_datapath_packets_total{reason=\"forward\""));
	cr_assert_not_null(strstr(text, "reason=\"no-endpoint\""));
	free(text);
}

static int health(const struct ew_agent *a, char *buf)
{
	return ew_health(a, buf, 256);
}

Test(health, is_not_ready_until_programmed_once)
{
	struct ew_agent a = { .node = "node-a" };
	char buf[256];

	cr_assert_eq(health(&a, buf), 503);
	cr_assert_str_eq(buf, "not ready: the datapath has not been programmed yet");
	snprintf(a.apply_error, sizeof(a.apply_error), "3 map updates failed");
	cr_assert_eq(health(&a, buf), 503);
	cr_assert_str_eq(buf, "not ready: the datapath has not been programmed yet; "
			      "last apply failed: 3 map updates failed");
}

Test(health, is_degraded_when_the_last_apply_failed)
{
	struct ew_agent a = { .node = "node-a", .ready = true };
	char buf[256];

	snprintf(a.apply_error, sizeof(a.apply_error), "2 map updates failed");
	cr_assert_eq(health(&a, buf), 503);
	cr_assert_str_eq(buf, "degraded: last apply failed: 2 map updates failed");
	a.apply_error[0] = '\0';
	cr_assert_eq(health(&a, buf), 200);
	cr_assert_str_eq(buf, "ok");
}

Test(health, is_served_on_healthz_and_other_paths_are_not_found)
{
	struct ew_agent a = { .node = "node-a", .ready = true };
	struct ew_http_response res;

	ew_metrics_serve(&a, "/healthz", &res);
	cr_assert_eq(res.status, 200);
	cr_assert_eq(res.len, 3);
	cr_assert_eq(memcmp(res.body, "ok\n", 3), 0);
	free(res.body);
	a.ready = false;
	ew_metrics_serve(&a, "/healthz", &res);
	cr_assert_eq(res.status, 503);
	free(res.body);
	ew_metrics_serve(&a, "/nope", &res);
	cr_assert_eq(res.status, 404);
	free(res.body);
}
