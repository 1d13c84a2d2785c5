/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's UNIX socket: one JSON request line, one JSON answer line
 * (docs/agent-api.md). */
#ifndef EW_API_H
#define EW_API_H

#include "agent.h"

#define EW_DEFAULT_SOCKET "/var/run/edgewire/agent.sock"

/* Returns the listening fd, or -1 with the reason logged. */
int ew_api_listen(const char *path);

/* Serves one connection waiting on the listening fd. */
void ew_api_serve_one(int listen_fd, struct ew_agent *a);

#endif /* EW_API_H */
