/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EW_PROXY_LOOP_H
#define EW_PROXY_LOOP_H

#include "proxy.h"

/* Reads p->config_path, then serves listen_fd until SIGTERM or SIGINT:
 * returns 0 then, -1 when the loop cannot run. */
int proxy_run(struct proxy *p, int listen_fd);

#endif /* EW_PROXY_LOOP_H */
