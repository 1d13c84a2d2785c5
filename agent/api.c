// SPDX-License-Identifier: Apache-2.0
#include "api.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "fs.h"
#include "log.h"
#include "netutil.h"

#define MAX_REQUEST 65536

int ew_api_listen(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		ew_error("api", "socket path %s is longer than %zu bytes", path,
			 sizeof(addr.sun_path) - 1);
		return -1;
	}
	ew_mkdir_parent(path);
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    chmod(path, 0600) || listen(fd, 64)) {
		ew_error("api", "cannot listen on %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static json_t *answer_error(const char *msg)
{
	return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

static json_t *answer_result(int ret, const char *err)
{
	return ret ? answer_error(err) : json_pack("{s:b}", "ok", 1);
}

static json_t *handle_add(struct ew_agent *a, json_t *req)
{
	const char *ip, *mac;
	struct ew_attachment at = { 0 };
	char err[512];

	if (json_unpack(req, "{s:s, s:s, s:s, s:s, s:s, s:s}", "namespace",
			&at.namespace, "name", &at.name, "containerID",
			&at.container_id, "ifname", &at.ifname, "ip", &ip, "mac", &mac))
		return answer_error("add needs string fields namespace, name, "
				    "containerID, ifname, ip and mac");
	if (ew_parse_ipv4(ip, &at.ip))
		return answer_error("add: ip is not a dotted IPv4 address");
	if (ew_parse_mac(mac, at.mac))
		return answer_error("add: mac is not of the form aa:bb:cc:dd:ee:ff");
	return answer_result(ew_agent_add(a, &at, err, sizeof(err)), err);
}

static json_t *handle_del(struct ew_agent *a, json_t *req)
{
	const char *ns, *name, *cid;

	if (json_unpack(req, "{s:s, s:s, s:s}", "namespace", &ns, "name", &name,
			"containerID", &cid))
		return answer_error("del needs string fields namespace, name and containerID");
	return answer_result(ew_agent_del(a, ns, name, cid),
			     "the datapath was not fully updated; see the agent's log");
}

static json_t *handle_check(struct ew_agent *a, json_t *req)
{
	const char *ns, *name;
	char err[512];

	if (json_unpack(req, "{s:s, s:s}", "namespace", &ns, "name", &name))
		return answer_error("check needs string fields namespace and name");
	return answer_result(ew_agent_check(a, ns, name, err, sizeof(err)), err);
}

static json_t *handle_status(struct ew_agent *a)
{
	return json_pack("{s:b, s:s, s:b, s:I, s:I, s:I}", "ok", 1, "node",
			 a->node, "ready", a->ready, "endpoints",
			 (json_int_t)ew_datapath_endpoint_count(a->dp),
			 "attachments", (json_int_t)a->attachments.n,
			 "storeErrors", (json_int_t)a->store_errors);
}

static json_t *dispatch(struct ew_agent *a, const char *line)
{
	json_error_t jerr;
	json_t *req = json_loads(line, 0, &jerr), *answer;
	const char *op;

	if (!req)
		return answer_error("request is not JSON");
	if (json_unpack(req, "{s:s}", "op", &op))
		answer = answer_error("request needs a string field op");
	else if (!strcmp(op, "ping"))
		answer = json_pack("{s:b, s:s}", "ok", 1, "node", a->node);
	else if (!strcmp(op, "status"))
		answer = handle_status(a);
	else if (!strcmp(op, "add"))
		answer = handle_add(a, req);
	else if (!strcmp(op, "del"))
		answer = handle_del(a, req);
	else if (!strcmp(op, "check"))
		answer = handle_check(a, req);
	else
		answer = answer_error("unknown op; expected ping, status, add, del or check");
	json_decref(req);
	return answer;
}

static ssize_t read_line(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len - 1) {
		ssize_t n = read(fd, buf + got, len - 1 - got);

		if (n <= 0)
			return n < 0 ? -1 : (ssize_t)got;
		got += n;
		if (memchr(buf + got - n, '\n', n))
			break;
	}
	buf[got] = '\0';
	return got;
}

void ew_api_serve_one(int listen_fd, struct ew_agent *a)
{
	static char buf[MAX_REQUEST];
	struct timeval timeout = { .tv_sec = 2 };
	json_t *answer;
	char *out;
	int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
	if (read_line(fd, buf, sizeof(buf)) <= 0) {
		close(fd);
		return;
	}
	answer = dispatch(a, buf);
	out = json_dumps(answer, JSON_COMPACT);
	if (out) {
		dprintf(fd, "%s\n", out);
		free(out);
	}
	json_decref(answer);
	close(fd);
}
