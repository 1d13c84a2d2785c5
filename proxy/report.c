// SPDX-License-Identifier: Apache-2.0
/* ew_http_stats counts and HTTP events for bpfctl monitor. */
#include "report.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf_proxy.skel.h"
#include "log.h"

/* libbpf would create and pin a map whose pin is missing: the pins must be
 * the agent's, so the program is only loaded when both exist. */
static bool event_pins_exist(const char *maps_dir)
{
	static const char *const names[] = { EW_MAP_EVENTS, EW_MAP_EVENT_STATS };
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", maps_dir, names[i]);
		if (access(path, F_OK)) {
			ew_warn("proxy", "%s: %s; running without HTTP events", path,
				strerror(errno));
			return false;
		}
	}
	return true;
}

void report_open(struct report *r, int stats_fd, const char *maps_dir)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = maps_dir);

	*r = (struct report){ .stats_fd = stats_fd };
	if (!event_pins_exist(maps_dir))
		return;
	r->events = bpf_proxy__open_opts(&opts);
	if (r->events && !bpf_proxy__load(r->events))
		return;
	ew_warn("proxy",
		"cannot load the HTTP event program (bpf_proxy) with the maps "
		"pinned in %s: %s; running without HTTP events",
		maps_dir, strerror(errno));
	bpf_proxy__destroy(r->events);
	r->events = NULL;
}

void report_close(struct report *r)
{
	bpf_proxy__destroy(r->events);
	r->events = NULL;
}

void report_count(struct report *r, __u32 rule, enum ew_reason reason, enum ew_dir dir)
{
	struct ew_http_stats_key key = { .rule = rule, .reason = reason, .dir = dir };
	struct ew_http_stats value = { 0 };

	bpf_map_lookup_elem(r->stats_fd, &key, &value); /* absent: the first */
	value.requests++;
	if (!bpf_map_update_elem(r->stats_fd, &key, &value, BPF_ANY) || r->stats_warned)
		return;
	r->stats_warned = true;
	ew_warn("proxy", "cannot count a request in %s: %s; further failures are not "
		"logged", EW_MAP_HTTP_STATS, strerror(errno));
}

/* s, cut to fit text and NUL-terminated. */
static void copy_text(char *text, size_t size, struct ew_http_str s)
{
	size_t n = s.len < size - 1 ? s.len : size - 1;

	memcpy(text, s.p, n);
	text[n] = '\0';
}

void report_event_init(struct ew_http_event *e, const struct sockaddr_in *client,
		       const struct sockaddr_in *server, const struct ew_http_head *req,
		       enum ew_reason reason, enum ew_dir dir, __u32 rule)
{
	*e = (struct ew_http_event){
		.ev = {
			.type = EW_EVENT_HTTP,
			.reason = reason,
			.dir = dir,
			.protocol = IPPROTO_TCP,
			.saddr = client->sin_addr.s_addr,
			.daddr = server->sin_addr.s_addr,
			.sport = client->sin_port,
			.dport = server->sin_port,
			.len = req ? req->head_len : 0,
			.rule = rule,
		},
	};
	if (!req)
		return;
	copy_text(e->method, sizeof(e->method), req->method);
	copy_text(e->path, sizeof(e->path), req->target);
}

void report_event(struct report *r, struct ew_http_event *e, __u16 status)
{
	LIBBPF_OPTS(bpf_test_run_opts, run, .ctx_in = e, .ctx_size_in = sizeof(*e));

	if (!r->events)
		return;
	e->status = status;
	if (!bpf_prog_test_run_opts(bpf_program__fd(r->events->progs.emit_http_event),
				    &run) ||
	    r->events_warned)
		return;
	r->events_warned = true;
	ew_warn("proxy", "cannot emit an HTTP event: %s; further failures are not logged",
		strerror(errno));
}
