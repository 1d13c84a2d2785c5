// SPDX-License-Identifier: Apache-2.0
/*
 * The proxy's event loop: the listener, the config file's directory
 * (inotify), SIGTERM and SIGINT (signalfd), a clock for the request timeout
 * (timerfd) and the connections' sockets.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"

/* A watch waiting for nothing is left out of epoll, which would still
 * report hangups and errors for it, again and again. */
static int watch_ctl(struct proxy *p, struct io_watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };
	int op = !w->events ? EPOLL_CTL_ADD : events ? EPOLL_CTL_MOD : EPOLL_CTL_DEL;

	if (w->events == events)
		return 0;
	if (epoll_ctl(p->epoll_fd, op, w->fd, &ev)) {
		ew_error("proxy", "epoll_ctl of fd %d: %s", w->fd, strerror(errno));
		return -1;
	}
	w->events = events;
	return 0;
}

int watch_add(struct proxy *p, struct io_watch *w, uint32_t events)
{
	w->events = 0;
	return watch_ctl(p, w, events);
}

void watch_set(struct proxy *p, struct io_watch *w, uint32_t events)
{
	watch_ctl(p, w, events);
}

void watch_del(struct proxy *p, struct io_watch *w)
{
	watch_ctl(p, w, 0);
}

/* ---- the listener --------------------------------------------------------- */

static void listener_ready(struct proxy *p, struct io_watch *w, uint32_t events)
{
	while (p->n_conns < PROXY_MAX_CONNS) {
		int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			conn_open(p, fd);
			continue;
		}
		if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
			return;
		ew_warn("proxy",
			"cannot accept a connection: %s; waiting for one to close",
			strerror(errno));
		break;
	}
	/* full: accepting again when a connection closes */
	watch_set(p, w, 0);
}

void proxy_conn_closed(struct proxy *p)
{
	p->n_conns--;
	watch_set(p, &p->listener, EPOLLIN);
}

/* ---- the config file -------------------------------------------------------- */

struct config_watch {
	struct io_watch w;
	char name[NAME_MAX + 1]; /* the file's, in the watched directory */
};

static void config_reload(struct proxy *p)
{
	if (l7_config_load(&p->config, p->config_path))
		ew_error("proxy", "%s; denying every request until it is fixed",
			 p->config.problem);
	else
		ew_info("proxy", "%s: %zu L7 policy entries", p->config_path,
			p->config.n_entries);
}

static void config_ready(struct proxy *p, struct io_watch *w, uint32_t events)
{
	struct config_watch *cw = (struct config_watch *)w;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool changed = false;
	ssize_t n;

	while ((n = read(w->fd, buf, sizeof(buf))) > 0) {
		for (char *at = buf; at < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)at;

			changed |= (ev->mask & IN_Q_OVERFLOW) ||
				   (ev->len && !strcmp(ev->name, cw->name));
			at += sizeof(*ev) + ev->len;
		}
	}
	if (changed)
		config_reload(p);
}

/* ---- the request timeout -------------------------------------------------- */

/* Connections are checked this often: they close within this much after
 * their timeout. */
#define EXPIRY_TICK_NS (250 * 1000000L)

static void expiry_ready(struct proxy *p, struct io_watch *w, uint32_t events)
{
	uint64_t ticks;

	if (read(w->fd, &ticks, sizeof(ticks)) == sizeof(ticks))
		conns_expire(p);
}

static int expiry_open(struct io_watch *w)
{
	struct itimerspec every = {
		.it_interval = { .tv_nsec = EXPIRY_TICK_NS },
		.it_value = { .tv_nsec = EXPIRY_TICK_NS },
	};
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);

	*w = (struct io_watch){ .fd = fd, .ready = expiry_ready };
	return w->fd < 0 || timerfd_settime(w->fd, 0, &every, NULL) ? -1 : 0;
}

/* ---- signals -------------------------------------------------------------- */

static void signal_ready(struct proxy *p, struct io_watch *w, uint32_t events)
{
	struct signalfd_siginfo si;

	if (read(w->fd, &si, sizeof(si)) == sizeof(si)) {
		ew_info("proxy", "%s: stopping", strsignal(si.ssi_signo));
		p->stopping = true;
	}
}

static int signals_open(struct io_watch *w)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -1;
	signal(SIGPIPE, SIG_IGN);
	*w = (struct io_watch){ .fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC),
				.ready = signal_ready };
	return w->fd < 0 ? -1 : 0;
}

/* The agent writes the config elsewhere and renames it into place: the
 * directory is watched, for a rename into it, a write or a removal. */
static int config_watch_open(struct config_watch *cw, const char *path)
{
	char dir[PATH_MAX], base[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", path);
	snprintf(base, sizeof(base), "%s", path);
	snprintf(cw->name, sizeof(cw->name), "%s", basename(base));
	cw->w = (struct io_watch){ .fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC),
				   .ready = config_ready };
	if (cw->w.fd < 0 ||
	    inotify_add_watch(cw->w.fd, dirname(dir), IN_MOVED_TO | IN_CLOSE_WRITE |
				      IN_DELETE | IN_MOVED_FROM | IN_CREATE) < 0) {
		ew_error("proxy", "cannot watch %s for changes of %s: %s; expected an "
			 "existing directory", dir, cw->name, strerror(errno));
		return -1;
	}
	return 0;
}

int proxy_run(struct proxy *p, int listen_fd)
{
	struct io_watch sig, expiry;
	struct config_watch cw;

	p->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	p->listener = (struct io_watch){ .fd = listen_fd, .ready = listener_ready };
	if (p->epoll_fd < 0 || signals_open(&sig) || expiry_open(&expiry) ||
	    config_watch_open(&cw, p->config_path) || watch_add(p, &sig, EPOLLIN) ||
	    watch_add(p, &expiry, EPOLLIN) || watch_add(p, &cw.w, EPOLLIN) ||
	    watch_add(p, &p->listener, EPOLLIN)) {
		ew_error("proxy", "cannot start the event loop: %s", strerror(errno));
		return -1;
	}
	config_reload(p);
	while (!p->stopping) {
		struct epoll_event evs[64];
		int n = epoll_wait(p->epoll_fd, evs, 64, -1);

		if (n < 0 && errno != EINTR) {
			ew_error("proxy", "epoll_wait: %s", strerror(errno));
			return -1;
		}
		for (int i = 0; i < n; i++) {
			struct io_watch *w = evs[i].data.ptr;

			w->ready(p, w, evs[i].events);
		}
		/* after the batch: a later event of it may be a closed one's */
		conns_free_closed(p);
	}
	return 0;
}
