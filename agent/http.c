// SPDX-License-Identifier: Apache-2.0
#include "http.h"

#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/*
 * A client reads its request, writes the answer, then drains: closing a
 * socket with unread input (a POST body, say) makes the kernel send a reset,
 * which can destroy the answer before the client has read it. So the server
 * shuts down its side and reads until the client closes.
 */
enum client_state { READING, WRITING, DRAINING };

struct client {
	int fd;		    /* -1: a free slot */
	enum client_state state;
	long long deadline; /* CLOCK_MONOTONIC ms: cut off then */
	size_t got;	    /* bytes of req read */
	char *out;	    /* the answer, while WRITING */
	size_t out_len, sent;
	char req[EW_HTTP_MAX_REQUEST + 1];
};

struct ew_http {
	int fd;
	ew_http_handler *handler;
	void *ctx;
	struct client clients[EW_HTTP_MAX_CLIENTS];
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* "HOST:PORT" or "[HOST]:PORT" into host and port. */
static int split_addr(const char *addr, char *host, size_t len, const char **port)
{
	const char *colon = strrchr(addr, ':');
	size_t n = colon ? (size_t)(colon - addr) : 0;

	if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']') {
		addr++;
		n -= 2;
	}
	if (!n || n >= len || !colon[1])
		return -1;
	memcpy(host, addr, n);
	host[n] = '\0';
	*port = colon + 1;
	return 0;
}

struct ew_http *ew_http_listen(const char *addr, ew_http_handler *handler, void *ctx)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE };
	struct addrinfo *ai = NULL;
	struct ew_http *h = NULL;
	const char *port;
	char host[64];
	int one = 1, fd = -1;

	if (split_addr(addr, host, sizeof(host), &port) ||
	    getaddrinfo(host, port, &hints, &ai)) {
		ew_error("http", "cannot listen on '%s': expected IP:PORT such as "
			 "127.0.0.1:9962 or [::1]:9962", addr);
		return NULL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 16)) {
		ew_error("http", "cannot listen on %s: %s", addr, strerror(errno));
		goto fail;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		goto fail;
	*h = (struct ew_http){ .fd = fd, .handler = handler, .ctx = ctx };
	for (int i = 0; i < EW_HTTP_MAX_CLIENTS; i++)
		h->clients[i].fd = -1;
	freeaddrinfo(ai);
	return h;
fail:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return NULL;
}

static void client_close(struct client *c)
{
	close(c->fd);
	free(c->out);
	c->fd = -1;
	c->out = NULL;
}

void ew_http_close(struct ew_http *h)
{
	if (!h)
		return;
	for (int i = 0; i < EW_HTTP_MAX_CLIENTS; i++)
		if (h->clients[i].fd >= 0)
			client_close(&h->clients[i]);
	close(h->fd);
	free(h);
}

int ew_http_poll_fds(struct ew_http *h, struct pollfd *fds, int *timeout_ms)
{
	long long now = now_ms();
	bool room = false;
	int n = 0;

	for (int i = 0; h && i < EW_HTTP_MAX_CLIENTS; i++) {
		const struct client *c = &h->clients[i];
		long long left = c->deadline > now ? c->deadline - now : 0;

		if (c->fd < 0) {
			room = true;
			continue;
		}
		fds[n++] = (struct pollfd){ .fd = c->fd,
					    .events = c->state == WRITING ? POLLOUT : POLLIN };
		if (*timeout_ms < 0 || left < *timeout_ms)
			*timeout_ms = left;
	}
	/* With every slot taken, new clients wait in the backlog. */
	if (room)
		fds[n++] = (struct pollfd){ .fd = h->fd, .events = POLLIN };
	return n;
}

static const char *status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 431: return "Request Header Fields Too Large";
	case 503: return "Service Unavailable";
	default: return "Internal Server Error";
	}
}

static void write_answer(struct client *c)
{
	while (c->sent < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->sent, c->out_len - c->sent,
				 MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return; /* the rest when poll says there is room */
		if (n <= 0) {
			client_close(c);
			return;
		}
		c->sent += n;
	}
	free(c->out);
	c->out = NULL;
	shutdown(c->fd, SHUT_WR);
	c->state = DRAINING;
}

/* extra: more header lines, each ending in CRLF, or "". */
static void respond(struct client *c, int status, const char *type,
		    const char *body, size_t len, const char *extra)
{
	char head[512];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n%s\r\n",
			 status, status_text(status), type, len, extra);

	if (n >= (int)sizeof(head) || !(c->out = malloc(n + len))) {
		client_close(c);
		return;
	}
	memcpy(c->out, head, n);
	if (len)
		memcpy(c->out + n, body, len);
	c->out_len = n + len;
	c->sent = 0;
	c->state = WRITING;
	write_answer(c);
}

static void respond_text(struct client *c, int status, const char *text,
			 const char *extra)
{
	respond(c, status, "text/plain; charset=utf-8", text, strlen(text), extra);
}

/* The request line is "METHOD TARGET HTTP/1.x"; headers are not looked at. */
static void answer(struct ew_http *h, struct client *c)
{
	struct ew_http_response res;
	char *method = c->req, *target, *version;

	c->req[strcspn(c->req, "\r\n")] = '\0';
	target = strchr(method, ' ');
	version = target ? strchr(target + 1, ' ') : NULL;
	if (!version || target[1] != '/' || strncmp(version + 1, "HTTP/1.", 7)) {
		respond_text(c, 400, "bad request: expected METHOD /PATH HTTP/1.x\n", "");
		return;
	}
	*target++ = '\0';
	*version = '\0';
	target[strcspn(target, "?")] = '\0';
	if (strcmp(method, "GET")) {
		respond_text(c, 405, "method not allowed: only GET\n", "Allow: GET\r\n");
		return;
	}
	h->handler(h->ctx, target, &res);
	respond(c, res.status, res.content_type, res.body, res.body ? res.len : 0, "");
	free(res.body);
}

static void read_request(struct ew_http *h, struct client *c)
{
	ssize_t n = recv(c->fd, c->req + c->got, EW_HTTP_MAX_REQUEST - c->got, 0);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) { /* gone, or an error, before a whole request */
		client_close(c);
		return;
	}
	c->got += n;
	c->req[c->got] = '\0';
	if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n"))
		answer(h, c);
	else if (c->got == EW_HTTP_MAX_REQUEST)
		respond_text(c, 431, "request too large\n", "");
}

static void drain(struct client *c)
{
	char buf[1024];
	ssize_t n = recv(c->fd, buf, sizeof(buf), 0);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
		client_close(c);
}

static void accept_clients(struct ew_http *h)
{
	for (int i = 0; i < EW_HTTP_MAX_CLIENTS; i++) {
		struct client *c = &h->clients[i];

		if (c->fd >= 0)
			continue;
		c->fd = accept4(h->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c->fd < 0)
			return;
		c->state = READING;
		c->deadline = now_ms() + EW_HTTP_TIMEOUT_MS;
		c->got = 0;
	}
}

void ew_http_process(struct ew_http *h, const struct pollfd *fds, int n)
{
	bool incoming = false;
	long long now;

	if (!h)
		return;
	for (int i = 0; i < n; i++) {
		if (!fds[i].revents)
			continue;
		if (fds[i].fd == h->fd) {
			incoming = true;
			continue;
		}
		for (int j = 0; j < EW_HTTP_MAX_CLIENTS; j++) {
			struct client *c = &h->clients[j];

			if (c->fd != fds[i].fd)
				continue;
			if (c->state == READING)
				read_request(h, c);
			else if (c->state == WRITING)
				write_answer(c);
			else
				drain(c);
			break;
		}
	}
	/* After the clients, so a new one cannot take the fd number of one
	 * closed above while fds still names it. */
	if (incoming)
		accept_clients(h);
	now = now_ms();
	for (int i = 0; i < EW_HTTP_MAX_CLIENTS; i++) {
		struct client *c = &h->clients[i];

		if (c->fd >= 0 && now >= c->deadline) {
			if (c->state != DRAINING)
				ew_debug("http", "client cut off: no whole request and "
					 "answer within %d ms", EW_HTTP_TIMEOUT_MS);
			client_close(c);
		}
	}
}
