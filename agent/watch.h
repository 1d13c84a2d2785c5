/* SPDX-License-Identifier: Apache-2.0 */
/* Change notification for the store directory. */
#ifndef EW_WATCH_H
#define EW_WATCH_H

/* An inotify fd that becomes readable when anything in dir changes,
 * including a ConfigMap mount's "..data" symlink swap (a rename into dir). */
int ew_watch_open(const char *dir);

/* Consumes pending events; returns how many there were. */
int ew_watch_drain(int fd);

#endif /* EW_WATCH_H */
