/* SPDX-License-Identifier: Apache-2.0 */
/*
 * edgewire-proxy: one thread, one epoll loop, nonblocking sockets. Every fd
 * the loop waits on is an io_watch whose ready() runs when epoll reports it.
 */
#ifndef EW_PROXY_PROXY_H
#define EW_PROXY_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "l7policy.h"
#include "report.h"

/* Each connection holds two 64 KiB buffers: this bounds the proxy's memory
 * to about 128 MiB. */
#define PROXY_MAX_CONNS 1024

struct proxy;
struct conn;

struct io_watch {
	int fd;
	uint32_t events; /* what epoll waits for now */
	void (*ready)(struct proxy *p, struct io_watch *w, uint32_t events);
};

struct proxy {
	int epoll_fd;
	const char *config_path;
	/* A connection that waits longer than this for its next request head
	 * (keep-alive idle, or a head trickling in) is closed. */
	unsigned int request_timeout_ms;
	struct l7_config config;
	struct l7_maps maps;
	struct report report;
	struct io_watch listener;
	size_t n_conns;
	struct conn *conns;  /* open */
	struct conn *closed; /* closed in this batch of events, freed after it */
	bool stopping;
};

int watch_add(struct proxy *p, struct io_watch *w, uint32_t events);
/* Changes what w waits for; nothing to do when it already does. */
void watch_set(struct proxy *p, struct io_watch *w, uint32_t events);
void watch_del(struct proxy *p, struct io_watch *w);

/* Takes the accepted connection fd (its peer is the client, its local
 * address the original server); closes it on failure. */
void conn_open(struct proxy *p, int fd);

/* A connection was closed: the listener may accept again. */
void proxy_conn_closed(struct proxy *p);

/* Frees the connections closed since the last call. */
void conns_free_closed(struct proxy *p);

/* Closes the connections that waited too long for a request (408 when part
 * of one came). */
void conns_expire(struct proxy *p);

#endif /* EW_PROXY_PROXY_H */
