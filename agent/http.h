/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small HTTP/1.1 server for the agent's poll loop: GET only, one request
 * per connection, answered with "Connection: close". Nothing in it blocks:
 * sockets are non-blocking, a request is at most EW_HTTP_MAX_REQUEST bytes,
 * and a client that has not been answered and gone within EW_HTTP_TIMEOUT_MS
 * is cut off.
 */
#ifndef EW_HTTP_H
#define EW_HTTP_H

#include <poll.h>
#include <stddef.h>

#define EW_HTTP_MAX_CLIENTS 8
#define EW_HTTP_MAX_REQUEST 4096
#define EW_HTTP_TIMEOUT_MS 2000
/* The most pollfds ew_http_poll_fds fills: the listener and every client. */
#define EW_HTTP_POLL_FDS (1 + EW_HTTP_MAX_CLIENTS)

struct ew_http_response {
	int status;
	const char *content_type;
	char *body; /* malloc'd; the server frees it */
	size_t len;
};

/* Answers GET path (without its query); sets every field of res. */
typedef void ew_http_handler(void *ctx, const char *path, struct ew_http_response *res);

struct ew_http;

/* Listens on "HOST:PORT" (IPv4, or [IPv6]:PORT). NULL with the reason logged. */
struct ew_http *ew_http_listen(const char *addr, ew_http_handler *handler, void *ctx);
void ew_http_close(struct ew_http *h);

/* Fills fds with what the server waits for and returns how many (none when h
 * is NULL); lowers *timeout_ms to the nearest client deadline. */
int ew_http_poll_fds(struct ew_http *h, struct pollfd *fds, int *timeout_ms);

/* Does what poll reported for those fds and cuts off late clients. */
void ew_http_process(struct ew_http *h, const struct pollfd *fds, int n);

#endif /* EW_HTTP_H */
