// SPDX-License-Identifier: Apache-2.0
#include "log.h"

#include <bpf/libbpf.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const level_names[] = { "debug", "info", "warn", "error" };
static enum ew_log_level min_level = EW_LOG_INFO;

int ew_log_set_level(const char *name)
{
	for (int l = EW_LOG_DEBUG; l <= EW_LOG_ERROR; l++) {
		if (!strcmp(name, level_names[l])) {
			min_level = l;
			return 0;
		}
	}
	return -1;
}

static void vlog(enum ew_log_level level, const char *component,
		 const char *fmt, va_list ap)
{
	char msg[2048], stamp[32];
	struct timespec now;
	struct tm tm;
	size_t len;

	if (level < min_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	len = strlen(msg);
	while (len && msg[len - 1] == '\n')
		msg[--len] = '\0';
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %-5s %-8s %s\n", stamp, now.tv_nsec / 1000000,
		level_names[level], component, msg);
}

void ew_log(enum ew_log_level level, const char *component, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, component, fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	enum ew_log_level ours = level == LIBBPF_WARN ? EW_LOG_WARN : EW_LOG_DEBUG;

	vlog(ours, "libbpf", fmt, ap);
	return 0;
}

void ew_log_capture_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}
