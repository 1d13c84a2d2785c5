// SPDX-License-Identifier: Apache-2.0
/*
 * IPAM is delegated: the plugin named by ipam.type runs with our stdin and
 * environment (CNI_COMMAND set per call) and prints a result or an error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cni.h"

/* An IPAM result or error is a few hundred bytes; more is not an answer. */
#define IPAM_OUTPUT_MAX (64 * 1024)

static int ipam_find(const char *type, const char *cni_path, char *out, size_t out_len,
		     struct cni_error *err)
{
	const char *dir, *end;

	for (dir = cni_path; *dir; dir = *end ? end + 1 : end) {
		end = strchrnul(dir, ':');
		if (end == dir)
			continue;
		snprintf(out, out_len, "%.*s/%s", (int)(end - dir), dir, type);
		if (access(out, X_OK) == 0)
			return 0;
	}
	return cni_fail(
	    err, CNI_ERR_INVALID_CONFIG,
	    "IPAM plugin \"%s\" (network config \"ipam.type\") is not in CNI_PATH=%s; "
	    "expected an executable of that name in one of those directories",
	    type, cni_path);
}

static void write_all(int fd, const char *data, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		/* A plugin that stopped reading says why in its exit status. */
		if (n < 0)
			return;
		data += n;
		len -= n;
	}
}

/* Up to IPAM_OUTPUT_MAX bytes, NUL-terminated; a plugin saying more gets EPIPE. */
static char *read_all(int fd)
{
	char *buf = calloc(1, IPAM_OUTPUT_MAX + 1);
	size_t len = 0;
	ssize_t n;

	while (buf && len < IPAM_OUTPUT_MAX) {
		n = read(fd, buf + len, IPAM_OUTPUT_MAX - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
	}
	return buf;
}

static __attribute__((noreturn)) void ipam_child(const char *path, const char *command,
						 int in, int out)
{
	signal(SIGPIPE, SIG_DFL);
	if (dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
	    setenv("CNI_COMMAND", command, 1))
		_exit(127);
	execl(path, path, (char *)NULL);
	fprintf(stderr, "edgewire-cni: cannot execute %s: %s\n", path, strerror(errno));
	_exit(127);
}

/* A failed plugin's error JSON is passed on as it is, naming the plugin. */
static int ipam_failure(const struct cni_conf *conf, const char *command, int status,
			const char *output, struct cni_error *err)
{
	json_t *root = json_loads(output, 0, NULL);
	json_t *code = json_object_get(root, "code");
	json_t *msg = json_object_get(root, "msg");
	json_t *details = json_object_get(root, "details");

	if (json_integer_value(code) > 0 && json_is_string(msg)) {
		cni_fail(err, (int)json_integer_value(code), "IPAM plugin %s %s: %s",
			 conf->ipam_type, command, json_string_value(msg));
		if (json_is_string(details))
			snprintf(err->details, sizeof(err->details), "%s",
				 json_string_value(details));
	} else {
		cni_fail(err, CNI_ERR_INTERNAL,
			 "IPAM plugin %s %s failed (%s %d) without a CNI error on "
			 "stdout; its output was: %.300s",
			 conf->ipam_type, command,
			 WIFEXITED(status) ? "exit status" : "signal",
			 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
			 output);
	}
	json_decref(root);
	return -1;
}

static int ipam_output_parse(const struct cni_conf *conf, const char *command,
			     const char *output, json_t **result, struct cni_error *err)
{
	json_error_t jerr;

	*result = json_loads(output, 0, &jerr);
	if (!*result)
		return cni_fail(err, CNI_ERR_INTERNAL,
				"IPAM plugin %s %s printed invalid JSON: line %d, column "
				"%d: %s; expected a CNI result object",
				conf->ipam_type, command, jerr.line, jerr.column,
				jerr.text);
	if (!json_is_object(*result))
		return cni_fail(err, CNI_ERR_INTERNAL,
				"IPAM plugin %s %s printed a JSON value that is not an "
				"object; expected a CNI result object",
				conf->ipam_type, command);
	return 0;
}

/* Runs the IPAM plugin; *result (when asked for) is its parsed output. */
static int ipam_exec(const struct cni_conf *conf, const struct cni_env *env,
		     const char *command, json_t **result, struct cni_error *err)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1};
	char path[PATH_MAX], *output = NULL;
	int status, ret = -1;
	pid_t pid;

	if (ipam_find(conf->ipam_type, env->path, path, sizeof(path), err))
		goto cleanup;
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) {
		cni_fail(err, CNI_ERR_INTERNAL, "cannot create pipes for IPAM: %s",
			 strerror(errno));
		goto cleanup;
	}
	pid = fork();
	if (pid < 0) {
		cni_fail(err, CNI_ERR_INTERNAL, "cannot fork for IPAM: %s",
			 strerror(errno));
		goto cleanup;
	}
	if (pid == 0)
		ipam_child(path, command, in[0], out[1]);
	close(in[0]);
	close(out[1]);
	in[0] = out[1] = -1;
	write_all(in[1], conf->raw, conf->raw_len);
	close(in[1]);
	in[1] = -1;
	output = read_all(out[0]);
	close(out[0]);
	out[0] = -1;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!output)
		cni_fail(err, CNI_ERR_INTERNAL, "out of memory reading IPAM output");
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		ipam_failure(conf, command, status, output, err);
	else if (!result || !ipam_output_parse(conf, command, output, result, err))
		ret = 0;
cleanup:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	free(output);
	return ret;
}

/* "a.b.c.d/len" */
static int cidr_parse(const char *text, struct in_addr *ip)
{
	char addr[INET_ADDRSTRLEN];
	const char *slash = strchr(text, '/');
	char *end;
	long len;

	if (!slash || slash - text >= (long)sizeof(addr))
		return -1;
	memcpy(addr, text, slash - text);
	addr[slash - text] = '\0';
	len = strtol(slash + 1, &end, 10);
	if (end == slash + 1 || *end || len < 0 || len > 32)
		return -1;
	return inet_pton(AF_INET, addr, ip) == 1 ? 0 : -1;
}

/*
 * The first IPv4 entry of result.ips: the datapath is IPv4-only. Pod traffic
 * leaves through the gateway, so a result without one is unusable.
 */
int ip_config_parse(json_t *result, const char *source, struct ip_config *ip,
		    struct cni_error *err)
{
	json_t *ips = json_object_get(result, "ips"), *entry;
	const char *address, *gateway;
	size_t i;

	json_array_foreach(ips, i, entry)
	{
		address = json_string_value(json_object_get(entry, "address"));
		gateway = json_string_value(json_object_get(entry, "gateway"));
		if (!address || cidr_parse(address, &ip->ip))
			continue;
		if (!gateway || inet_pton(AF_INET, gateway, &ip->gateway) != 1)
			return cni_fail(err, CNI_ERR_INVALID_CONFIG,
					"%s gives %s without an IPv4 gateway; expected "
					"one (host-local: the range's \"gateway\", by "
					"default the subnet's first address)",
					source, address);
		snprintf(ip->address, sizeof(ip->address), "%s", address);
		return 0;
	}
	return cni_fail(err, CNI_ERR_INVALID_CONFIG,
			"%s has no IPv4 address in \"ips\"; expected an entry like "
			"{\"address\":\"10.244.1.10/24\",\"gateway\":\"10.244.1.1\"}",
			source);
}

int ipam_del(const struct cni_conf *conf, const struct cni_env *env,
	     struct cni_error *err)
{
	return ipam_exec(conf, env, "DEL", NULL, err);
}

/* After a successful ADD whose result we cannot use: nothing may stay reserved. */
static void ipam_release_unused(const struct cni_conf *conf, const struct cni_env *env)
{
	struct cni_error err = {0};

	if (ipam_del(conf, env, &err))
		cni_warn("releasing the unusable IPAM address failed: %s", err.msg);
}

/* Either fills *ip or leaves no address reserved. */
int ipam_add(const struct cni_conf *conf, const struct cni_env *env, struct ip_config *ip,
	     struct cni_error *err)
{
	char source[128];
	json_t *result = NULL;
	int ret = -1;

	if (ipam_exec(conf, env, "ADD", &result, err))
		goto cleanup;
	snprintf(source, sizeof(source), "the result of IPAM plugin %s", conf->ipam_type);
	ret = ip_config_parse(result, source, ip, err);
	if (ret)
		ipam_release_unused(conf, env);
cleanup:
	json_decref(result);
	return ret;
}

int ipam_check(const struct cni_conf *conf, const struct cni_env *env,
	       struct cni_error *err)
{
	return ipam_exec(conf, env, "CHECK", NULL, err);
}
