// SPDX-License-Identifier: Apache-2.0
/*
 * The agent's socket API (docs/agent-api.md): connect, one JSON line out,
 * one JSON line back, close. Every failure is CNI error 11, try again later:
 * the agent may be restarting, or its store may not have caught up yet.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "cni.h"

#define AGENT_PING_TIMEOUT_S  2
#define AGENT_ADD_TIMEOUT_S   10 /* the agent programs the datapath before answering */
#define AGENT_DEL_TIMEOUT_S   5
#define AGENT_CHECK_TIMEOUT_S 2
#define AGENT_ANSWER_MAX      4096

/* What a request is about, for messages: "add for pod default/web". */
struct agent_request {
	const char *socket_path;
	const char *op;
	const struct cni_env *env; /* NULL for ping */
	int timeout_s;
};

static int agent_fail(const struct agent_request *req, struct cni_error *err,
		      const char *problem)
{
	if (!req->env)
		return cni_fail(err, CNI_ERR_TRY_AGAIN_LATER,
				"edgewire agent at %s: %s %s", req->socket_path, req->op,
				problem);
	return cni_fail(err, CNI_ERR_TRY_AGAIN_LATER,
			"edgewire agent at %s: %s for pod %s/%s %s", req->socket_path,
			req->op, req->env->pod_namespace, req->env->pod_name, problem);
}

static int agent_connect(const struct agent_request *req, int fd, struct cni_error *err)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct timeval timeout = {.tv_sec = req->timeout_s};
	char problem[512];

	if (strlen(req->socket_path) >= sizeof(addr.sun_path))
		return cni_fail(err, CNI_ERR_INVALID_CONFIG,
				"network config field \"agentSocket\" is %zu characters "
				"long; expected a path of at most %zu",
				strlen(req->socket_path), sizeof(addr.sun_path) - 1);
	strcpy(addr.sun_path, req->socket_path);
	/* On UNIX sockets the send timeout bounds connect() as well. */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout)) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) ||
	    connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		snprintf(
		    problem, sizeof(problem),
		    "failed: cannot connect: %s; expected edgewire-agent running on this "
		    "node and listening on the network config's \"agentSocket\"",
		    strerror(errno));
		return agent_fail(req, err, problem);
	}
	return 0;
}

static int agent_send(const struct agent_request *req, int fd, const char *line,
		      struct cni_error *err)
{
	size_t len = strlen(line);
	char problem[256];
	ssize_t n;

	while (len > 0) {
		n = send(fd, line, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(problem, sizeof(problem),
				 "failed: cannot send the request: %s",
				 errno == EAGAIN ? "timed out" : strerror(errno));
			return agent_fail(req, err, problem);
		}
		line += n;
		len -= n;
	}
	return 0;
}

/* Reads one line into answer, NUL-terminated, without its '\n'. */
static int agent_receive(const struct agent_request *req, int fd, char *answer,
			 size_t size, struct cni_error *err)
{
	char problem[256];
	size_t len = 0;
	ssize_t n;

	while (len < size - 1 && !memchr(answer, '\n', len)) {
		n = recv(fd, answer + len, size - 1 - len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			snprintf(problem, sizeof(problem), "got no answer within %d s",
				 req->timeout_s);
			return agent_fail(req, err, problem);
		}
		if (n < 0) {
			snprintf(problem, sizeof(problem),
				 "failed: cannot read the answer: %s", strerror(errno));
			return agent_fail(req, err, problem);
		}
		if (n == 0)
			break;
		len += n;
	}
	answer[len] = '\0';
	answer[strcspn(answer, "\n")] = '\0';
	if (len == 0)
		return agent_fail(
		    req, err,
		    "failed: the agent closed the connection without answering");
	return 0;
}

static int agent_answer_check(const struct agent_request *req, const char *answer,
			      struct cni_error *err)
{
	json_t *root = json_loads(answer, 0, NULL);
	json_t *ok = json_object_get(root, "ok");
	const char *error = json_string_value(json_object_get(root, "error"));
	char problem[1024];
	int ret = 0;

	if (!json_is_boolean(ok)) {
		snprintf(problem, sizeof(problem),
			 "got \"%.300s\"; expected a JSON line with \"ok\"", answer);
		ret = agent_fail(req, err, problem);
	} else if (!json_is_true(ok)) {
		snprintf(problem, sizeof(problem), "was refused: %s",
			 error ? error : "(the agent gave no reason)");
		ret = agent_fail(req, err, problem);
	}
	json_decref(root);
	return ret;
}

/* Sends body (consumed) with "op" added; 0 when the agent answered ok. */
static int agent_call(const struct agent_request *req, json_t *body,
		      struct cni_error *err)
{
	char answer[AGENT_ANSWER_MAX], *json = NULL, *line = NULL;
	int fd = -1, ret = -1;

	if (!body || json_object_set_new(body, "op", json_string(req->op)) ||
	    !(json = json_dumps(body, JSON_COMPACT)) ||
	    asprintf(&line, "%s\n", json) < 0) {
		line = NULL;
		cni_fail(err, CNI_ERR_INTERNAL, "out of memory for an agent request");
		goto cleanup;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		cni_fail(err, CNI_ERR_INTERNAL, "cannot create a UNIX socket: %s",
			 strerror(errno));
		goto cleanup;
	}
	if (agent_connect(req, fd, err) || agent_send(req, fd, line, err) ||
	    agent_receive(req, fd, answer, sizeof(answer), err))
		goto cleanup;
	ret = agent_answer_check(req, answer, err);
cleanup:
	if (fd >= 0)
		close(fd);
	free(line);
	free(json);
	json_decref(body);
	return ret;
}

int agent_ping(const char *socket_path, struct cni_error *err)
{
	struct agent_request req = {socket_path, "ping", NULL, AGENT_PING_TIMEOUT_S};

	return agent_call(&req, json_object(), err);
}

int agent_add(const char *socket_path, const struct cni_env *env, const char *host_ifname,
	      struct in_addr ip, const char *mac, struct cni_error *err)
{
	struct agent_request req = {socket_path, "add", env, AGENT_ADD_TIMEOUT_S};

	return agent_call(&req,
			  json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "namespace",
				    env->pod_namespace, "name", env->pod_name,
				    "containerID", env->container_id, "ifname",
				    host_ifname, "ip", inet_ntoa(ip), "mac", mac),
			  err);
}

int agent_del(const char *socket_path, const struct cni_env *env, struct cni_error *err)
{
	struct agent_request req = {socket_path, "del", env, AGENT_DEL_TIMEOUT_S};

	return agent_call(&req,
			  json_pack("{s:s, s:s, s:s}", "namespace", env->pod_namespace,
				    "name", env->pod_name, "containerID",
				    env->container_id),
			  err);
}

int agent_check(const char *socket_path, const struct cni_env *env, struct cni_error *err)
{
	struct agent_request req = {socket_path, "check", env, AGENT_CHECK_TIMEOUT_S};

	return agent_call(&req,
			  json_pack("{s:s, s:s}", "namespace", env->pod_namespace, "name",
				    env->pod_name),
			  err);
}
