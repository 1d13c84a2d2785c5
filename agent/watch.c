// SPDX-License-Identifier: Apache-2.0
#include "watch.h"

#include <errno.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "log.h"

int ew_watch_open(const char *dir)
{
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	if (fd < 0 ||
	    inotify_add_watch(fd, dir, IN_CREATE | IN_DELETE | IN_MODIFY |
				       IN_CLOSE_WRITE | IN_MOVED_FROM |
				       IN_MOVED_TO | IN_ATTRIB) < 0) {
		ew_error("watch", "cannot watch %s: %s", dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int ew_watch_drain(int fd)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int events = 0;
	ssize_t len;

	while ((len = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + len;) {
			const struct inotify_event *ev = (const void *)p;

			events++;
			p += sizeof(*ev) + ev->len;
		}
	}
	return events;
}
