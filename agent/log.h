/* SPDX-License-Identifier: Apache-2.0 */
/* Structured log lines on stderr: time, level, component, message. */
#ifndef EW_LOG_H
#define EW_LOG_H

enum ew_log_level { EW_LOG_DEBUG, EW_LOG_INFO, EW_LOG_WARN, EW_LOG_ERROR };

/* Returns -1 for a name other than debug, info, warn, error. */
int ew_log_set_level(const char *name);

__attribute__((format(printf, 3, 4))) void
ew_log(enum ew_log_level level, const char *component, const char *fmt, ...);

#define ew_debug(comp, ...) ew_log(EW_LOG_DEBUG, comp, __VA_ARGS__)
#define ew_info(comp, ...) ew_log(EW_LOG_INFO, comp, __VA_ARGS__)
#define ew_warn(comp, ...) ew_log(EW_LOG_WARN, comp, __VA_ARGS__)
#define ew_error(comp, ...) ew_log(EW_LOG_ERROR, comp, __VA_ARGS__)

/* Routes libbpf's own messages into ew_log as component "libbpf". */
void ew_log_capture_libbpf(void);

#endif /* EW_LOG_H */
