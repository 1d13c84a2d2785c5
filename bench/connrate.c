// SPDX-License-Identifier: Apache-2.0
/*
 * ew-bench-connrate: short TCP connections per second between two pods.
 *
 *   server  accept, read one byte, answer one byte, close (as an HTTP/1.0
 *           server closes first; the TIME_WAIT stays on the server, so the
 *           client never runs out of ports)
 *   client  for a fixed time: connect, send one byte, read the answer and the
 *           server's FIN, close; in --threads threads
 *
 * So every connection is a full handshake, one round trip and a teardown:
 * the cost of a new flow through the datapath. The client prints one JSON
 * object; a failed connection is counted as an error, not retried.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS    64
#define IO_TIMEOUT_S   2
#define LISTEN_BACKLOG 1024

struct worker {
	pthread_t thread;
	int listen_fd;		 /* server */
	struct sockaddr_in addr; /* client: the server */
	double deadline;	 /* client: CLOCK_MONOTONIC seconds */
	long connections;	 /* client: completed */
	long errors;		 /* client: failed */
	char last_error[128];
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ew-bench-connrate server [--port P] [--threads N]\n"
		"       ew-bench-connrate client --addr IPV4 [--port P] [--seconds S] [--threads N]\n"
		"\n"
		"Short TCP connections per second. The server answers each connection's\n"
		"byte with one byte and closes; the client connects, exchanges the byte and\n"
		"waits for the close, for S seconds (default 3) in N threads (default 2),\n"
		"then prints {\"connections\",\"errors\",\"seconds\",\"per_second\"} as JSON.\n"
		"Port default 7000.\n");
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };

	return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	       setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void *serve(void *arg)
{
	struct worker *w = arg;
	char byte;
	int fd;

	for (;;) {
		fd = accept(w->listen_fd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
				continue;
			perror("ew-bench-connrate: accept");
			exit(1);
		}
		if (!set_timeouts(fd) && read(fd, &byte, 1) == 1)
			(void)!write(fd, &byte, 1);
		close(fd);
	}
	return NULL;
}

/* One connection; 0 or -1 with w->last_error set. */
static int one_connection(struct worker *w)
{
	const char *step = "socket";
	char byte = 'x', buf[4];
	int fd, ok = -1, one = 1;
	ssize_t n;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto out;
	step = "setsockopt";
	if (set_timeouts(fd) || setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
		goto out;
	step = "connect";
	if (connect(fd, (struct sockaddr *)&w->addr, sizeof(w->addr)))
		goto out;
	step = "write";
	if (write(fd, &byte, 1) != 1)
		goto out;
	step = "read the answer";
	if (read(fd, buf, sizeof(buf)) != 1)
		goto out;
	step = "read the close";
	n = read(fd, buf, sizeof(buf));
	if (n != 0) {
		if (n > 0)
			errno = EPROTO;
		goto out;
	}
	ok = 0;
out:
	if (ok)
		snprintf(w->last_error, sizeof(w->last_error), "%s: %s", step,
			 strerror(errno));
	if (fd >= 0)
		close(fd);
	return ok;
}

static void *client(void *arg)
{
	struct worker *w = arg;

	while (now_s() < w->deadline) {
		if (one_connection(w))
			w->errors++;
		else
			w->connections++;
	}
	return NULL;
}

static int run_server(int port, int threads)
{
	static struct worker workers[MAX_THREADS];
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_ANY),
	};
	int fd, one = 1, i;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || listen(fd, LISTEN_BACKLOG)) {
		fprintf(stderr, "ew-bench-connrate: cannot listen on port %d: %s\n", port,
			strerror(errno));
		return 1;
	}
	for (i = 0; i < threads; i++)
		workers[i].listen_fd = fd;
	for (i = 1; i < threads; i++) {
		if (pthread_create(&workers[i].thread, NULL, serve, &workers[i])) {
			fprintf(stderr, "ew-bench-connrate: cannot start a thread\n");
			return 1;
		}
	}
	serve(&workers[0]); /* until killed */
	return 0;
}

static int run_client(const char *addr, int port, double seconds, int threads)
{
	static struct worker workers[MAX_THREADS];
	long connections = 0, errors = 0;
	double start, elapsed;
	const char *last_error = "";
	int i;

	for (i = 0; i < threads; i++) {
		workers[i].addr.sin_family = AF_INET;
		workers[i].addr.sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, addr, &workers[i].addr.sin_addr) != 1) {
			fprintf(stderr, "ew-bench-connrate: --addr '%s' is not an IPv4 address\n",
				addr);
			return 2;
		}
	}
	start = now_s();
	for (i = 0; i < threads; i++) {
		workers[i].deadline = start + seconds;
		if (pthread_create(&workers[i].thread, NULL, client, &workers[i])) {
			fprintf(stderr, "ew-bench-connrate: cannot start a thread\n");
			return 1;
		}
	}
	for (i = 0; i < threads; i++) {
		pthread_join(workers[i].thread, NULL);
		connections += workers[i].connections;
		errors += workers[i].errors;
		if (workers[i].errors)
			last_error = workers[i].last_error;
	}
	elapsed = now_s() - start;
	printf("{\"connections\":%ld,\"errors\":%ld,\"seconds\":%.3f,\"per_second\":%.1f}\n",
	       connections, errors, elapsed, (double)connections / elapsed);
	if (errors)
		fprintf(stderr, "ew-bench-connrate: %ld connections to %s:%d failed, the last "
				"with %s\n",
			errors, addr, port, last_error);
	return connections ? 0 : 1;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "addr", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "seconds", required_argument, NULL, 's' },
		{ "threads", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *mode, *addr = NULL;
	int port = 7000, threads = 2, opt;
	double seconds = 3;
	char *end;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	mode = argv[1];
	optind = 2;
	while ((opt = getopt_long(argc, argv, "a:p:s:t:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'a':
			addr = optarg;
			break;
		case 'p':
			port = (int)strtol(optarg, &end, 10);
			if (*end || port < 1 || port > 65535) {
				fprintf(stderr, "ew-bench-connrate: --port '%s': expected 1 to 65535\n",
					optarg);
				return 2;
			}
			break;
		case 's':
			seconds = strtod(optarg, &end);
			if (*end || seconds <= 0 || seconds > 3600) {
				fprintf(stderr, "ew-bench-connrate: --seconds '%s': expected more "
						"than 0 and at most 3600\n",
					optarg);
				return 2;
			}
			break;
		case 't':
			threads = (int)strtol(optarg, &end, 10);
			if (*end || threads < 1 || threads > MAX_THREADS) {
				fprintf(stderr, "ew-bench-connrate: --threads '%s': expected 1 to %d\n",
					optarg, MAX_THREADS);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(mode, "server"))
		return run_server(port, threads);
	if (!strcmp(mode, "client")) {
		if (!addr) {
			fprintf(stderr, "ew-bench-connrate client: --addr is required\n");
			return 2;
		}
		return run_client(addr, port, seconds, threads);
	}
	fprintf(stderr, "ew-bench-connrate: unknown mode '%s'; expected server or client\n",
		mode);
	return 2;
}
