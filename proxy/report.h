/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the proxy says about each request it judged: a count in the pinned
 * ew_http_stats (it is the map's only writer), and an event for bpfctl
 * monitor, written into ew_events by bpf/bpf_proxy.c under the datapath's
 * rate limit. Events are best effort: without the program the proxy runs on.
 */
#ifndef EW_PROXY_REPORT_H
#define EW_PROXY_REPORT_H

#include <stdbool.h>
#include <netinet/in.h>

#include <edgewire/abi.h>

#include "http.h"

struct bpf_proxy;

struct report {
	int stats_fd;
	struct bpf_proxy *events; /* NULL: no events */
	bool stats_warned, events_warned; /* each failure is logged once */
};

/* Loads the event program with ew_events and ew_event_stats reused from the
 * pins in maps_dir; when it cannot, says so once and runs without events. */
void report_open(struct report *r, int stats_fd, const char *maps_dir);
void report_close(struct report *r);

void report_count(struct report *r, __u32 rule, enum ew_reason reason, enum ew_dir dir);

/* The event of a request on client -> server (req NULL: none could be
 * parsed), to be sent with report_event() once its status is known. */
void report_event_init(struct ew_http_event *e, const struct sockaddr_in *client,
		       const struct sockaddr_in *server, const struct ew_http_head *req,
		       enum ew_reason reason, enum ew_dir dir, __u32 rule);
void report_event(struct report *r, struct ew_http_event *e, __u16 status);

#endif /* EW_PROXY_REPORT_H */
