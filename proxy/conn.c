// SPDX-License-Identifier: Apache-2.0
/*
 * One proxied connection: the client's requests judged one by one, in order,
 * and the allowed ones forwarded byte for byte to the original server from
 * the client's own address.
 *
 * One request is in flight at a time: the next one (pipelined or not) is
 * parsed only once the response to the previous one, the server's or the
 * proxy's own, has been written whole to the client, so answers keep their
 * order. Bytes wait in two bounded buffers, one per direction; a full buffer
 * stops reading from its side (backpressure).
 *
 *   from_client[0, req_owed)    the current request's bytes not yet written
 *                               upstream (allowed) or dropped (denied)
 *   from_server[0, resp_owed)   the current response's bytes not yet written
 *                               to the client
 *
 * and the bytes after those are not classified yet.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "proxy.h"

#define CONN_BUF_SIZE (64 * 1024)
#define CANNED_MAX    256

struct buf {
	size_t len;
	char data[CONN_BUF_SIZE];
};

enum conn_stage {
	STAGE_HEAD,	/* the next request's head is awaited */
	STAGE_BODY,	/* the current request's body passes (allowed) or is dropped */
	STAGE_RESPONSE, /* the request went upstream whole; its response is awaited */
	STAGE_TUNNEL,	/* after 101 Switching Protocols: every byte passes */
};

struct conn {
	struct proxy *p;
	struct io_watch client, server; /* server.fd -1: no upstream connection */
	struct sockaddr_in client_addr, server_addr;
	enum conn_stage stage;
	bool connecting;	 /* server: connect() not finished */
	bool client_eof;	 /* the client sends no more */
	bool close_when_flushed; /* the last answer is queued: close once it is out */
	bool closed;	 /* on p->closed, to be freed after this batch of events */
	struct conn *prev, *next; /* p->conns, while open */
	struct conn *next_closed;
	uint64_t waiting_since_ms; /* STAGE_HEAD: when the wait for a request began */

	struct buf from_client;
	size_t req_owed;
	bool forwarding; /* the current request is allowed */
	bool req_body_done;
	struct ew_http_body req_body;

	struct buf from_server;
	size_t resp_owed;
	bool resp_expected;  /* an allowed request awaits (the rest of) its response */
	bool resp_head_done; /* its final head was parsed: its body follows */
	bool resp_keep_alive;
	struct ew_http_body resp_body;
	char method[EW_HTTP_METHOD_LEN]; /* of the request it answers */

	bool event_pending; /* of the allowed request, sent with its status */
	struct ew_http_event event;

	/* An answer of the proxy's own, written before anything else. */
	char canned[CANNED_MAX];
	size_t canned_len, canned_off;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

static void buf_consume(struct buf *b, size_t n)
{
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

static const char *conn_name(const struct conn *c)
{
	static char name[64];
	char client[INET_ADDRSTRLEN], server[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &c->client_addr.sin_addr, client, sizeof(client));
	inet_ntop(AF_INET, &c->server_addr.sin_addr, server, sizeof(server));
	snprintf(name, sizeof(name), "%s:%u -> %s:%u", client,
		 ntohs(c->client_addr.sin_port), server, ntohs(c->server_addr.sin_port));
	return name;
}

static void conn_close(struct conn *c)
{
	if (c->event_pending)
		report_event(&c->p->report, &c->event, 0);
	watch_del(c->p, &c->client);
	close(c->client.fd);
	if (c->server.fd >= 0) {
		watch_del(c->p, &c->server);
		close(c->server.fd);
	}
	c->closed = true;
	if (c->prev)
		c->prev->next = c->next;
	else
		c->p->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next_closed = c->p->closed;
	c->p->closed = c;
	proxy_conn_closed(c->p);
}

void conns_free_closed(struct proxy *p)
{
	while (p->closed) {
		struct conn *c = p->closed;

		p->closed = c->next_closed;
		free(c);
	}
}

/* ---- answers of the proxy's own ------------------------------------------- */

static void answer(struct conn *c, int status, const char *reason, const char *body,
		   bool keep_alive)
{
	int n = snprintf(c->canned, sizeof(c->canned),
			 "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
			 "Content-Length: %zu\r\nConnection: %s\r\n\r\n%s",
			 status, reason, strlen(body),
			 keep_alive ? "keep-alive" : "close", body);

	c->canned_len = n;
	c->canned_off = 0;
	if (!keep_alive)
		c->close_when_flushed = true;
}

static void answer_and_close(struct conn *c, int status, const char *reason,
			     const char *body)
{
	answer(c, status, reason, body, false);
}

/* ---- the upstream connection ---------------------------------------------- */

static void server_ready(struct proxy *p, struct io_watch *w, uint32_t events);

/* From the client's own address, marked so the datapath knows it was
 * checked. Returns 0 or -errno. */
static int upstream_connect(struct conn *c)
{
	struct sockaddr_in from = { .sin_family = AF_INET,
				    .sin_addr = c->client_addr.sin_addr };
	int one = 1, mark = EW_MARK_FROM_PROXY, err;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) ||
	    /* the port is chosen at connect(), unique for the 4-tuple */
	    setsockopt(fd, SOL_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&from, sizeof(from)) ||
	    (connect(fd, (struct sockaddr *)&c->server_addr, sizeof(c->server_addr)) &&
	     errno != EINPROGRESS))
		goto fail;
	c->server = (struct io_watch){ .fd = fd, .ready = server_ready };
	c->connecting = true;
	if (!watch_add(c->p, &c->server, EPOLLOUT))
		return 0;
fail:
	err = -errno;
	close(fd);
	c->server.fd = -1;
	return err;
}

static void upstream_failed(struct conn *c, int err)
{
	ew_warn("proxy", "%s: cannot connect to the server: %s", conn_name(c),
		strerror(err));
	if (c->event_pending) {
		c->event_pending = false;
		report_event(&c->p->report, &c->event, 503);
	}
	answer_and_close(c, 503, "Service Unavailable", "Service unavailable\n");
}

/* The server sends no more: what it sent still goes to the client, which is
 * closed after it. */
static void upstream_gone(struct conn *c)
{
	if (c->resp_head_done && c->resp_body.kind == EW_HTTP_BODY_UNTIL_CLOSE)
		c->resp_expected = false;
	watch_del(c->p, &c->server);
	close(c->server.fd);
	c->server.fd = -1;
	c->close_when_flushed = true;
}

/* ---- requests ------------------------------------------------------------- */

static void await_request(struct conn *c)
{
	c->stage = STAGE_HEAD;
	c->waiting_since_ms = now_ms();
}

/* A request that waits for "100 Continue" before sending its body would never
 * send it after a 403, and its body could not be told from the next request. */
static bool awaits_continue(const struct ew_http_head *req)
{
	const struct ew_http_str *expect = ew_http_header_find(req, "Expect");

	return req->body != EW_HTTP_BODY_NONE && expect && expect->len == 12 &&
	       !strncasecmp(expect->p, "100-continue", 12);
}

static void request_deny(struct conn *c, const struct ew_http_head *req)
{
	report_event(&c->p->report, &c->event, 403);
	answer(c, 403, "Forbidden", "Access denied\n",
	       req->keep_alive && !awaits_continue(req));
}

static void request_forward(struct conn *c, const struct ew_http_head *req)
{
	size_t n = req->method.len < sizeof(c->method) ? req->method.len :
							   sizeof(c->method) - 1;
	int err;

	c->forwarding = true;
	c->event_pending = true;
	c->resp_expected = true;
	c->resp_head_done = false;
	memcpy(c->method, req->method.p, n);
	c->method[n] = '\0';
	err = c->server.fd < 0 ? upstream_connect(c) : 0;
	if (err)
		upstream_failed(c, -err);
}

/* The rules for c now: the config and the maps may have changed since its
 * last request. */
static void conn_select(struct conn *c, struct l7_selection *sel)
{
	struct l7_conn lc = {
		.client = c->client_addr.sin_addr.s_addr,
		.server = c->server_addr.sin_addr.s_addr,
		.server_port = c->server_addr.sin_port,
	};
	int err = l7_select(&c->p->config, &c->p->maps, &lc, sel);

	if (err)
		ew_warn("proxy", "%s: cannot read the policy maps: %s; denying",
			conn_name(c), strerror(-err));
}

static void request_judge(struct conn *c, const struct ew_http_head *req)
{
	enum ew_reason reason;
	struct l7_selection sel;
	struct l7_verdict v;

	conn_select(c, &sel);
	v = l7_judge(&sel, req);
	reason = v.allowed ? EW_REASON_FORWARD : EW_REASON_DROP_POLICY_DENIED;
	/* every denial is logged; allowed requests at debug level */
	ew_log(v.allowed ? EW_LOG_DEBUG : EW_LOG_INFO, "proxy",
	       "%s: %.*s %.*s: %s (%s, rule %u)", conn_name(c), (int)req->method.len,
	       req->method.p, (int)req->target.len, req->target.p,
	       v.allowed ? "allowed" : "denied", l7_dir_name(v.dir), v.rule);
	report_count(&c->p->report, v.rule, reason, v.dir);
	report_event_init(&c->event, &c->client_addr, &c->server_addr, req, reason, v.dir,
			  v.rule);
	c->stage = STAGE_BODY;
	c->req_owed = req->head_len;
	c->req_body_done = req->body == EW_HTTP_BODY_NONE;
	ew_http_body_start(&c->req_body, req);
	if (v.allowed)
		request_forward(c, req);
	else
		request_deny(c, req);
}

/* Bytes that are no request: 400 (431 for a head too large), and close. */
static void request_malformed(struct conn *c, enum ew_http_status st)
{
	struct ew_http_event event;
	struct l7_selection sel;
	enum ew_dir dir;

	conn_select(c, &sel);
	dir = l7_selection_dir(&sel);
	ew_info("proxy", "%s: malformed request%s", conn_name(c),
		 st == EW_HTTP_TOO_LARGE ? " (head too large)" : "");
	report_count(&c->p->report, 0, EW_REASON_DROP_MALFORMED, dir);
	report_event_init(&event, &c->client_addr, &c->server_addr, NULL,
			  EW_REASON_DROP_MALFORMED, dir, 0);
	if (st == EW_HTTP_TOO_LARGE) {
		report_event(&c->p->report, &event, 431);
		answer_and_close(c, 431, "Request Header Fields Too Large",
				 "Request header fields too large\n");
	} else {
		report_event(&c->p->report, &event, 400);
		answer_and_close(c, 400, "Bad Request", "Bad request\n");
	}
}

static bool request_head_advance(struct conn *c)
{
	struct ew_http_head req;
	enum ew_http_status st;

	/* one at a time: the previous answer is written whole first */
	if (c->resp_expected || c->canned_len || c->resp_owed || !c->from_client.len)
		return false;
	st = ew_http_parse_request(c->from_client.data, c->from_client.len, &req);
	if (st == EW_HTTP_INCOMPLETE)
		return false;
	if (st == EW_HTTP_OK)
		request_judge(c, &req);
	else
		request_malformed(c, st);
	return true;
}

/* Bad chunk syntax: 400 unless the server's answer has begun. */
static void request_body_malformed(struct conn *c)
{
	ew_info("proxy", "%s: malformed request body", conn_name(c));
	if (c->resp_head_done || c->resp_owed) {
		conn_close(c);
		return;
	}
	c->event_pending = false;
	c->resp_expected = false;
	answer_and_close(c, 400, "Bad Request", "Bad request\n");
}

static bool request_body_advance(struct conn *c)
{
	size_t used = 0;
	bool progress = false;

	if (!c->req_body_done && c->from_client.len > c->req_owed) {
		enum ew_http_status st;

		st = ew_http_body_feed(&c->req_body, c->from_client.data + c->req_owed,
				       c->from_client.len - c->req_owed, &used);
		if (st == EW_HTTP_BAD) {
			request_body_malformed(c);
			return true;
		}
		c->req_owed += used;
		c->req_body_done = st == EW_HTTP_OK;
		progress = true;
	}
	if (!c->forwarding && c->req_owed) {
		buf_consume(&c->from_client, c->req_owed);
		c->req_owed = 0;
		progress = true;
	}
	if (c->req_body_done && !c->req_owed) {
		if (c->forwarding)
			c->stage = STAGE_RESPONSE;
		else
			await_request(c);
		c->forwarding = false;
		progress = true;
	}
	return progress;
}

static bool request_advance(struct conn *c)
{
	if (c->close_when_flushed)
		return false;
	switch (c->stage) {
	case STAGE_HEAD:
		return request_head_advance(c);
	case STAGE_BODY:
		return request_body_advance(c);
	case STAGE_TUNNEL:
		c->req_owed = c->from_client.len;
		return false;
	case STAGE_RESPONSE:
		break;
	}
	return false;
}

/* ---- responses ------------------------------------------------------------ */

static void response_done(struct conn *c)
{
	c->resp_expected = false;
	c->resp_head_done = false;
	/* A server that answered before the whole request reached it, or that
	 * closes, leaves the connection no state for another request. */
	if (!c->resp_keep_alive || c->stage != STAGE_RESPONSE)
		c->close_when_flushed = true;
	else
		await_request(c);
}

static void response_status(struct conn *c, int status)
{
	if (!c->event_pending)
		return;
	c->event_pending = false;
	report_event(&c->p->report, &c->event, status);
}

static void response_tunnel(struct conn *c)
{
	c->stage = STAGE_TUNNEL;
	c->forwarding = true;
	c->resp_expected = false;
	c->req_owed = c->from_client.len;
	c->resp_owed = c->from_server.len;
}

static bool response_head_advance(struct conn *c)
{
	struct ew_http_str method = { c->method, strlen(c->method) };
	struct ew_http_head resp;
	enum ew_http_status st;

	st = ew_http_parse_response(c->from_server.data + c->resp_owed,
				    c->from_server.len - c->resp_owed, method, &resp);
	if (st == EW_HTTP_INCOMPLETE)
		return false;
	if (st != EW_HTTP_OK) {
		ew_warn("proxy", "%s: the server's response is malformed; closing",
			conn_name(c));
		conn_close(c);
		return false;
	}
	c->resp_owed += resp.head_len;
	if (resp.status == 101) {
		response_status(c, resp.status);
		response_tunnel(c);
	} else if (resp.status >= 200) {
		response_status(c, resp.status);
		c->resp_head_done = true;
		c->resp_keep_alive = resp.keep_alive;
		ew_http_body_start(&c->resp_body, &resp);
		if (resp.body == EW_HTTP_BODY_NONE)
			response_done(c);
	}
	return true;
}

static bool response_body_advance(struct conn *c)
{
	enum ew_http_status st;
	size_t used = 0;

	st = ew_http_body_feed(&c->resp_body, c->from_server.data + c->resp_owed,
			       c->from_server.len - c->resp_owed, &used);
	if (st == EW_HTTP_BAD) {
		ew_warn("proxy", "%s: the server's response body is malformed; closing",
			conn_name(c));
		conn_close(c);
		return false;
	}
	c->resp_owed += used;
	if (st == EW_HTTP_OK)
		response_done(c);
	return true;
}

static bool response_advance(struct conn *c)
{
	if (c->stage == STAGE_TUNNEL) {
		c->resp_owed = c->from_server.len;
		return false;
	}
	if (c->from_server.len == c->resp_owed)
		return false;
	if (!c->resp_expected) {
		ew_warn("proxy", "%s: the server sent bytes that answer no request; "
			"closing", conn_name(c));
		conn_close(c);
		return false;
	}
	if (!c->resp_head_done)
		return response_head_advance(c);
	return response_body_advance(c);
}

/* ---- the loop's side ------------------------------------------------------ */

static bool conn_flushed(const struct conn *c)
{
	return !c->canned_len && !c->resp_owed &&
	       (c->stage != STAGE_TUNNEL || !c->req_owed || c->server.fd < 0);
}

/* The client sends no more: close once the requests it sent are answered.
 * Idle, the loop just found no whole request left; a body cut short never
 * ends. */
static void client_done(struct conn *c)
{
	bool idle = c->stage == STAGE_HEAD && !c->resp_expected && !c->canned_len &&
		    !c->resp_owed;

	bool cut_short = c->stage == STAGE_BODY && !c->req_body_done;

	if (idle || cut_short || c->stage == STAGE_TUNNEL)
		c->close_when_flushed = true;
}

static void conn_sync_watches(struct conn *c)
{
	bool reading = !c->client_eof && !c->close_when_flushed;
	uint32_t client = 0, server = 0;

	if (reading && c->from_client.len < CONN_BUF_SIZE)
		client |= EPOLLIN;
	if (c->canned_len || c->resp_owed)
		client |= EPOLLOUT;
	watch_set(c->p, &c->client, client);
	if (c->server.fd < 0)
		return;
	if (c->connecting)
		server = EPOLLOUT;
	else if (c->from_server.len < CONN_BUF_SIZE)
		server = EPOLLIN;
	if (!c->connecting && c->req_owed && (c->forwarding || c->stage == STAGE_TUNNEL))
		server |= EPOLLOUT;
	watch_set(c->p, &c->server, server);
}

/* Runs both sides until neither moves, then closes c or sets what it waits for. */
static void conn_advance(struct conn *c)
{
	while (!c->closed && (request_advance(c) | response_advance(c)))
		;
	if (!c->closed && c->client_eof)
		client_done(c);
	if (!c->closed && c->close_when_flushed && conn_flushed(c))
		conn_close(c);
	if (!c->closed)
		conn_sync_watches(c);
}

/* Reads into b: 1 with bytes, 0 at the end of the stream, -1 on error
 * (errno), -2 when nothing is there yet. */
static int read_into(int fd, struct buf *b)
{
	ssize_t n = recv(fd, b->data + b->len, sizeof(b->data) - b->len, 0);

	if (n > 0)
		b->len += n;
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return -2;
	return n > 0 ? 1 : (int)n;
}

/* Writes len bytes of data: how many went, or -1 on error (errno). */
static ssize_t write_from(int fd, const char *data, size_t len)
{
	ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	return n;
}

static int client_write(struct conn *c)
{
	ssize_t n;

	if (c->canned_len) {
		n = write_from(c->client.fd, c->canned + c->canned_off,
			       c->canned_len - c->canned_off);
		if (n > 0 && (c->canned_off += n) == c->canned_len)
			c->canned_len = 0;
		return n < 0 ? -1 : 0;
	}
	n = write_from(c->client.fd, c->from_server.data, c->resp_owed);
	if (n > 0) {
		buf_consume(&c->from_server, n);
		c->resp_owed -= n;
	}
	return n < 0 ? -1 : 0;
}

static void client_ready(struct proxy *p, struct io_watch *w, uint32_t events)
{
	struct conn *c = (struct conn *)((char *)w - offsetof(struct conn, client));
	int got = -2;

	if (c->closed)
		return;
	if (events & EPOLLIN)
		got = read_into(c->client.fd, &c->from_client);
	if (got == 0)
		c->client_eof = true;
	if (got == -1 || ((events & EPOLLOUT) && client_write(c)) ||
	    ((events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLIN))) {
		ew_debug("proxy", "%s: the client is gone", conn_name(c));
		conn_close(c);
	}
	conn_advance(c);
}

static void server_connected(struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	c->connecting = false;
	if (getsockopt(c->server.fd, SOL_SOCKET, SO_ERROR, &err, &len))
		err = errno;
	if (!err)
		return;
	watch_del(c->p, &c->server);
	close(c->server.fd);
	c->server.fd = -1;
	upstream_failed(c, err);
}

static void server_write(struct conn *c)
{
	ssize_t n = write_from(c->server.fd, c->from_client.data, c->req_owed);

	if (n < 0) {
		upstream_gone(c);
		return;
	}
	buf_consume(&c->from_client, n);
	c->req_owed -= n;
}

static void server_ready(struct proxy *p, struct io_watch *w, uint32_t events)
{
	struct conn *c = (struct conn *)((char *)w - offsetof(struct conn, server));
	int got = -2;

	if (c->closed)
		return;
	if (c->connecting) {
		server_connected(c);
		conn_advance(c);
		return;
	}
	if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) &&
	    c->from_server.len < CONN_BUF_SIZE)
		got = read_into(c->server.fd, &c->from_server);
	if (got == 0 || got == -1)
		upstream_gone(c);
	else if (events & EPOLLOUT)
		server_write(c);
	conn_advance(c);
}

void conn_open(struct proxy *p, int fd)
{
	struct conn *c = calloc(1, sizeof(*c));
	socklen_t len = sizeof(c->client_addr);

	if (!c || getpeername(fd, (struct sockaddr *)&c->client_addr, &len) ||
	    (len = sizeof(c->server_addr),
	     getsockname(fd, (struct sockaddr *)&c->server_addr, &len)) ||
	    c->client_addr.sin_family != AF_INET) {
		ew_warn("proxy", "cannot take an accepted connection: %s",
			c ? strerror(errno) : "out of memory");
		free(c);
		close(fd);
		return;
	}
	c->p = p;
	c->client = (struct io_watch){ .fd = fd, .ready = client_ready };
	c->server.fd = -1;
	if (watch_add(p, &c->client, EPOLLIN)) {
		free(c);
		close(fd);
		return;
	}
	p->n_conns++;
	c->next = p->conns;
	if (p->conns)
		p->conns->prev = c;
	p->conns = c;
	await_request(c);
	ew_debug("proxy", "%s: accepted", conn_name(c));
}

void conns_expire(struct proxy *p)
{
	uint64_t now = now_ms();

	for (struct conn *c = p->conns, *next; c; c = next) {
		next = c->next;
		if (c->stage != STAGE_HEAD || c->resp_expected || c->close_when_flushed ||
		    now - c->waiting_since_ms < p->request_timeout_ms)
			continue;
		ew_debug("proxy", "%s: no request in %u ms; closing", conn_name(c),
			 p->request_timeout_ms);
		if (c->from_client.len && !c->canned_len && !c->resp_owed)
			answer_and_close(c, 408, "Request Timeout", "Request timeout\n");
		else
			conn_close(c);
		conn_advance(c);
	}
}
