// SPDX-License-Identifier: Apache-2.0
/*
 * ew-responder: the "application" inside every lab pod. It answers with its
 * name so a test can tell which backend a connection reached.
 *
 *   ew-responder --name NAME [--tcp PORT[,PORT...]] [--udp PORT[,PORT...]]
 *
 * TCP, HTTP: a request that starts with "METHOD " gets "HTTP/1.1 200 OK" with
 *   body "NAME\n". HTTP/1.1 connections stay open for more requests unless the
 *   client sends "Connection: close"; HTTP/1.0 ones close unless it sends
 *   "Connection: keep-alive".
 * TCP, plain: "NAME\n" is written, then the connection is closed, as soon as
 *   the first bytes arrive that cannot start an HTTP request line, or when the
 *   client half-closes (shuts down its sending side) without sending anything.
 * UDP: every datagram is answered with "NAME\n" to its sender.
 *
 * One process, one poll() loop, non-blocking sockets; SIGTERM/SIGINT exit 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_PORTS    32
#define MAX_CONNS    1000
#define MAX_NAME     200
#define IN_BUF	     8192
#define OUT_BUF	     8192
#define RESPONSE_MAX (MAX_NAME + 256) /* one HTTP response, headers included */

enum conn_mode { MODE_UNKNOWN, MODE_HTTP, MODE_PLAIN };

struct conn {
	int fd;
	enum conn_mode mode;
	bool close_after_write; /* last answer queued; close once it is out */
	size_t body_left;	/* request body bytes still to be discarded */
	size_t in_len, out_len, out_off;
	char in[IN_BUF];
	char out[OUT_BUF];
};

struct listener {
	int fd;
	int type; /* SOCK_STREAM or SOCK_DGRAM */
	int port;
};

/* What an HTTP request line starts with; anything else is plain TCP. */
static const char *methods[] = {
    "GET ",	"HEAD ",  "POST ",    "PUT ",	"DELETE ",
    "OPTIONS ", "PATCH ", "CONNECT ", "TRACE ",
};

static char name_line[MAX_NAME + 2]; /* "NAME\n" */
static size_t name_len;
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: ew-responder --name NAME [--tcp PORT[,PORT...]] [--udp "
		   "PORT[,PORT...]]\n"
		   "Answers every TCP connection, HTTP request and UDP datagram with "
		   "\"NAME\\n\".\n");
}

/* Parses "80,8080" into ports[]; returns the new count or -1 on a bad list. */
static int parse_ports(const char *list, int *ports, int n)
{
	char *copy = strdup(list), *save = NULL, *tok;

	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *end;
		long port = strtol(tok, &end, 10);

		if (*end || port < 1 || port > 65535 || n == MAX_PORTS) {
			fprintf(stderr,
				"ew-responder: bad port '%s' in '%s': expected 1-65535, "
				"at most %d ports\n",
				tok, list, MAX_PORTS);
			free(copy);
			return -1;
		}
		ports[n++] = (int)port;
	}
	free(copy);
	return n;
}

static int open_listener(int type, int port)
{
	struct sockaddr_in addr = {.sin_family = AF_INET,
				   .sin_port = htons(port),
				   .sin_addr.s_addr = htonl(INADDR_ANY)};
	int one = 1;
	int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 512) < 0)) {
		fprintf(stderr, "ew-responder: %s port %d: %s\n",
			type == SOCK_STREAM ? "tcp" : "udp", port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void queue(struct conn *c, const char *data, size_t len)
{
	if (len > OUT_BUF - c->out_len)
		len = OUT_BUF - c->out_len; /* cannot happen: callers check room first */
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
}

/* Could in[0..len) still become (or already be) an HTTP request line? */
static enum conn_mode sniff(const char *in, size_t len)
{
	bool maybe = false;

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		size_t m = strlen(methods[i]);

		if (len >= m && !memcmp(in, methods[i], m))
			return MODE_HTTP;
		if (len < m && !memcmp(in, methods[i], len))
			maybe = true;
	}
	return maybe ? MODE_UNKNOWN : MODE_PLAIN;
}

/* Value of header NAME in the header block hdr (NUL-terminated), or NULL. */
static const char *header(const char *hdr, const char *name)
{
	size_t n = strlen(name);

	for (const char *line = strchr(hdr, '\n'); line; line = strchr(line, '\n')) {
		line++;
		if (!strncasecmp(line, name, n) && line[n] == ':') {
			const char *v = line + n + 1;

			while (*v == ' ' || *v == '\t')
				v++;
			return v;
		}
	}
	return NULL;
}

/*
 * Answers every complete request in c->in while there is room for the answer.
 * A request is complete at the blank line that ends its headers; its body
 * (Content-Length) is read and discarded.
 */
static void serve_http(struct conn *c)
{
	for (;;) {
		if (c->body_left) {
			size_t n = c->body_left < c->in_len ? c->body_left : c->in_len;

			memmove(c->in, c->in + n, c->in_len - n);
			c->in_len -= n;
			c->body_left -= n;
			if (c->body_left)
				return;
		}
		if (c->close_after_write || !c->in_len ||
		    OUT_BUF - c->out_len < RESPONSE_MAX)
			return;

		char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
		size_t hdr_len = end ? (size_t)(end - c->in) + 4 : 0;

		if (!end) {
			end = memmem(c->in, c->in_len, "\n\n", 2);
			hdr_len = end ? (size_t)(end - c->in) + 2 : 0;
		}
		if (!end) {
			/* headers larger than in[]: give up on this client */
			if (c->in_len == IN_BUF)
				c->close_after_write = true;
			return;
		}
		char hdr[IN_BUF + 1];
		memcpy(hdr, c->in, hdr_len);
		hdr[hdr_len] = '\0';
		memmove(c->in, c->in + hdr_len, c->in_len - hdr_len);
		c->in_len -= hdr_len;

		const char *conn = header(hdr, "Connection");
		const char *clen = header(hdr, "Content-Length");
		char *eol = strchr(hdr, '\n'); /* end of the request line */
		if (eol > hdr && eol[-1] == '\r')
			eol--;
		bool http10 = eol - hdr >= 8 && !strncmp(eol - 8, "HTTP/1.0", 8);
		bool head = !strncmp(hdr, "HEAD ", 5);
		bool keep = http10 ? conn && !strncasecmp(conn, "keep-alive", 10)
				   : !(conn && !strncasecmp(conn, "close", 5));
		char resp[RESPONSE_MAX];
		int n = snprintf(resp, sizeof(resp),
				 "HTTP/1.1 200 OK\r\n"
				 "Content-Type: text/plain\r\n"
				 "Content-Length: %zu\r\n"
				 "Connection: %s\r\n"
				 "\r\n"
				 "%s",
				 name_len, keep ? "keep-alive" : "close",
				 head ? "" : name_line);

		queue(c, resp, (size_t)n);
		c->body_left = clen ? strtoul(clen, NULL, 10) : 0;
		if (!keep)
			c->close_after_write = true;
	}
}

/* Reads what the client sent; returns false when the connection is done. */
static bool conn_read(struct conn *c)
{
	bool eof = false;

	while (c->in_len < IN_BUF && !c->close_after_write) {
		ssize_t n = read(c->fd, c->in + c->in_len, IN_BUF - c->in_len);

		if (n > 0) {
			c->in_len += (size_t)n;
		} else if (n == 0) {
			eof = true;
			break;
		} else if (errno == EINTR) {
			continue;
		} else if (errno == EAGAIN) {
			break;
		} else {
			return false;
		}
		if (c->mode == MODE_UNKNOWN)
			c->mode = sniff(c->in, c->in_len);
		if (c->mode == MODE_HTTP)
			serve_http(c);
		if (c->mode == MODE_PLAIN)
			break;
	}
	if (c->mode != MODE_HTTP && !c->close_after_write &&
	    (eof || c->mode == MODE_PLAIN)) {
		queue(c, name_line, name_len);
		c->close_after_write = true;
	}
	if (eof && c->mode == MODE_HTTP)
		c->close_after_write = true; /* answer what came, then close */
	return true;
}

/* Writes pending output; returns false when the connection is done. */
static bool conn_write(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		if (n < 0)
			return false;
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	if (c->mode == MODE_HTTP)
		serve_http(c); /* requests that waited for room in out[] */
	if (c->out_len)
		return true;
	return !c->close_after_write;
}

static void answer_udp(int fd)
{
	char buf[2048];
	struct sockaddr_storage from;

	for (;;) {
		socklen_t flen = sizeof(from);
		ssize_t n =
		    recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);

		if (n < 0)
			return; /* EAGAIN: drained; others: nothing to answer */
		sendto(fd, name_line, name_len, 0, (struct sockaddr *)&from, flen);
	}
}

static void accept_all(int lfd, struct conn **conns, size_t *nconns)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return; /* EAGAIN, or out of fds: retried on the next poll */
		if (*nconns == MAX_CONNS) {
			close(fd);
			continue;
		}
		struct conn *c = calloc(1, sizeof(*c));

		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		conns[(*nconns)++] = c;
	}
}

int main(int argc, char **argv)
{
	static struct conn *conns[MAX_CONNS];
	static struct pollfd pfds[2 * MAX_PORTS + MAX_CONNS];
	struct listener ls[2 * MAX_PORTS];
	int tcp[MAX_PORTS], udp[MAX_PORTS];
	int ntcp = 0, nudp = 0, nls = 0;
	size_t nconns = 0;
	const char *name = NULL;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
			usage(stdout);
			return 0;
		}
		if (strcmp(arg, "--name") && strcmp(arg, "--tcp") &&
		    strcmp(arg, "--udp")) {
			fprintf(stderr, "ew-responder: unknown option '%s'\n", arg);
			usage(stderr);
			return 2;
		}
		if (!val) {
			fprintf(stderr, "ew-responder: '%s' needs a value\n", arg);
			return 2;
		}
		if (!strcmp(arg, "--name"))
			name = val;
		else if (!strcmp(arg, "--tcp"))
			ntcp = parse_ports(val, tcp, ntcp);
		else
			nudp = parse_ports(val, udp, nudp);
		if (ntcp < 0 || nudp < 0)
			return 2;
		i++;
	}
	if (!name || !*name || strlen(name) > MAX_NAME || (!ntcp && !nudp)) {
		fprintf(stderr,
			"ew-responder: need --name (1-%d characters) and at least one "
			"--tcp or --udp port\n",
			MAX_NAME);
		usage(stderr);
		return 2;
	}
	name_len = (size_t)snprintf(name_line, sizeof(name_line), "%s\n", name);

	for (int i = 0; i < ntcp + nudp; i++) {
		struct listener *l = &ls[nls++];

		l->type = i < ntcp ? SOCK_STREAM : SOCK_DGRAM;
		l->port = i < ntcp ? tcp[i] : udp[i - ntcp];
		l->fd = open_listener(l->type, l->port);
		if (l->fd < 0)
			return 1;
	}

	struct sigaction sa = {.sa_handler =
				   on_signal}; /* no SA_RESTART: poll returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	fprintf(stderr, "ew-responder: %s: %d tcp and %d udp ports\n", name, ntcp, nudp);

	while (!stop) {
		size_t n = 0;

		for (int i = 0; i < nls; i++)
			pfds[n++] = (struct pollfd){.fd = ls[i].fd, .events = POLLIN};
		for (size_t i = 0; i < nconns; i++) {
			struct conn *c = conns[i];
			short ev = c->out_len ? POLLOUT : 0;

			if (!c->close_after_write && c->in_len < IN_BUF)
				ev |= POLLIN;
			pfds[n++] = (struct pollfd){.fd = c->fd, .events = ev};
		}
		if (poll(pfds, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("ew-responder: poll");
			return 1;
		}
		for (size_t i = nconns; i-- > 0;) {
			struct conn *c = conns[i];
			short re = pfds[nls + i].revents;
			bool alive = true;

			if (re & (POLLIN | POLLHUP | POLLERR))
				alive = conn_read(c);
			if (alive && c->out_len)
				alive = conn_write(c);
			else if (alive && c->close_after_write)
				alive = false;
			if (!alive) {
				close(c->fd);
				free(c);
				conns[i] = conns[--nconns];
			}
		}
		for (int i = 0; i < nls; i++) {
			if (!(pfds[i].revents & POLLIN))
				continue;
			if (ls[i].type == SOCK_STREAM)
				accept_all(ls[i].fd, conns, &nconns);
			else
				answer_udp(ls[i].fd);
		}
	}
	for (size_t i = 0; i < nconns; i++) {
		close(conns[i]->fd);
		free(conns[i]);
	}
	for (int i = 0; i < nls; i++)
		close(ls[i].fd);
	return 0;
}
