// SPDX-License-Identifier: Apache-2.0
/*
 * What the runtime hands the plugin: the CNI_* environment and the network
 * config on stdin. Everything is validated here, so later steps can trust it.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cni.h"

#define DEFAULT_AGENT_SOCKET "/var/run/edgewire/agent.sock"
#define MTU_MIN		     68
#define MTU_MAX		     65535

const char *const cni_supported_versions[] = {"0.3.0", "0.3.1", "0.4.0",
					      CNI_SPEC_VERSION};
const size_t cni_supported_versions_count =
    sizeof(cni_supported_versions) / sizeof(cni_supported_versions[0]);

static const char *const command_names[] = {
    [CNI_CMD_ADD] = "ADD",
    [CNI_CMD_DEL] = "DEL",
    [CNI_CMD_CHECK] = "CHECK",
    [CNI_CMD_VERSION] = "VERSION",
};

/* An unset and an empty variable mean the same to the runtime. */
static const char *env_get(const char *name)
{
	const char *value = getenv(name);

	return value && *value ? value : NULL;
}

int env_read_command(struct cni_env *env, struct cni_error *err)
{
	const char *command = env_get("CNI_COMMAND");
	size_t i;

	if (!command)
		return cni_fail(
		    err, CNI_ERR_INVALID_ENV,
		    "CNI_COMMAND is not set; expected ADD, DEL, CHECK or VERSION");
	for (i = 0; i < sizeof(command_names) / sizeof(command_names[0]); i++)
		if (strcmp(command, command_names[i]) == 0) {
			env->command = i;
			return 0;
		}
	return cni_fail(
	    err, CNI_ERR_INVALID_ENV,
	    "CNI_COMMAND=%s is not supported; expected ADD, DEL, CHECK or VERSION",
	    command);
}

static int env_require(const char *name, const char *expected, const char **value,
		       struct cni_error *err)
{
	*value = env_get(name);
	if (!*value)
		return cni_fail(err, CNI_ERR_INVALID_ENV, "%s is not set; expected %s",
				name, expected);
	return 0;
}

/* The spec: alphanumerics first, then alphanumerics, '_', '.' and '-'. */
static int container_id_check(const char *id, struct cni_error *err)
{
	const char *c;

	for (c = id; *c; c++)
		if (!isalnum((unsigned char)*c) && (c == id || !strchr("_.-", *c)))
			return cni_fail(err, CNI_ERR_INVALID_ENV,
					"CNI_CONTAINERID=%s has '%c' at position %zu; "
					"expected an alphanumeric first character, then "
					"alphanumerics, '_', '.' or '-'",
					id, *c, (size_t)(c - id) + 1);
	return 0;
}

static int ifname_check(const char *name, struct cni_error *err)
{
	const char *c;

	if (strlen(name) >= IFNAMSIZ || !strcmp(name, ".") || !strcmp(name, ".."))
		goto invalid;
	for (c = name; *c; c++)
		if (*c == '/' || *c == ':' || isspace((unsigned char)*c))
			goto invalid;
	return 0;
invalid:
	return cni_fail(err, CNI_ERR_INVALID_ENV,
			"CNI_IFNAME=%s is not a valid interface name; expected at most "
			"%d characters without '/', ':' or spaces",
			name, IFNAMSIZ - 1);
}

/* Copies the value of "KEY=VALUE" (part to end, '=' at eq) if KEY is key. */
static int cni_arg_take(const char *part, const char *eq, const char *end,
			const char *key, char *out, size_t size, struct cni_error *err)
{
	size_t len = end - eq - 1;

	if ((size_t)(eq - part) != strlen(key) || strncmp(part, key, eq - part))
		return 0;
	if (len == 0 || len >= size)
		return cni_fail(err, CNI_ERR_INVALID_ENV,
				"CNI_ARGS %s has %zu characters; expected 1 to %zu", key,
				len, size - 1);
	memcpy(out, eq + 1, len);
	out[len] = '\0';
	return 0;
}

/*
 * CNI_ARGS is "K=V;K=V". We need the pod's identity and ignore every other
 * key; IP= is read by host-local itself, which also needs IgnoreUnknown=1
 * from the runtime as it rejects our K8S_* keys otherwise.
 */
static int cni_args_parse(struct cni_env *env, struct cni_error *err)
{
	const char *args = env_get("CNI_ARGS");
	const char *part, *end, *eq;

	for (part = args; part && *part; part = *end ? end + 1 : end) {
		end = strchrnul(part, ';');
		if (end == part)
			continue;
		eq = memchr(part, '=', end - part);
		if (!eq)
			return cni_fail(err, CNI_ERR_INVALID_ENV,
					"CNI_ARGS has \"%.*s\" without '='; expected "
					"KEY=VALUE pairs separated by ';'",
					(int)(end - part), part);
		if (cni_arg_take(part, eq, end, "K8S_POD_NAMESPACE", env->pod_namespace,
				 sizeof(env->pod_namespace), err) ||
		    cni_arg_take(part, eq, end, "K8S_POD_NAME", env->pod_name,
				 sizeof(env->pod_name), err))
			return -1;
	}
	if (!env->pod_namespace[0] || !env->pod_name[0])
		return cni_fail(err, CNI_ERR_INVALID_ENV,
				"CNI_ARGS has no %s (CNI_ARGS=\"%s\"); expected "
				"K8S_POD_NAMESPACE=<namespace>;K8S_POD_NAME=<name>",
				env->pod_namespace[0] ? "K8S_POD_NAME"
						      : "K8S_POD_NAMESPACE",
				args ? args : "");
	return 0;
}

/* For ADD, DEL and CHECK; env_read_command() has run. */
int env_read(struct cni_env *env, struct cni_error *err)
{
	if (env_require("CNI_CONTAINERID", "the container's ID", &env->container_id,
			err) ||
	    container_id_check(env->container_id, err))
		return -1;
	env->netns = env_get("CNI_NETNS");
	if (env->command != CNI_CMD_DEL && !env->netns)
		return cni_fail(err, CNI_ERR_INVALID_ENV,
				"CNI_NETNS is not set; expected the path of the pod's "
				"network namespace, e.g. /var/run/netns/cni-1234");
	if (env_require("CNI_IFNAME", "the interface name inside the pod, e.g. eth0",
			&env->ifname, err) ||
	    ifname_check(env->ifname, err))
		return -1;
	if (env_require("CNI_PATH",
			"a ':'-separated list of directories holding the IPAM plugin, "
			"e.g. /opt/cni/bin",
			&env->path, err))
		return -1;
	return cni_args_parse(env, err);
}

static const char *json_kind(const json_t *value)
{
	switch (json_typeof(value)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a real number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

/* Fetches obj[key] of the given type; *value stays NULL when optional and absent. */
static int conf_field(json_t *obj, const char *path, const char *key, json_type type,
		      bool required, const char *expected, json_t **value,
		      struct cni_error *err)
{
	*value = json_object_get(obj, key);
	if (!*value && !required)
		return 0;
	if (!*value)
		return cni_fail(err, CNI_ERR_INVALID_CONFIG,
				"network config has no \"%s%s\"; expected %s", path, key,
				expected);
	if (json_typeof(*value) != type)
		return cni_fail(err, CNI_ERR_INVALID_CONFIG,
				"network config field \"%s%s\" is %s; expected %s", path,
				key, json_kind(*value), expected);
	return 0;
}

static int conf_string(json_t *obj, const char *path, const char *key, bool required,
		       const char *expected, const char **out, struct cni_error *err)
{
	json_t *value;

	if (conf_field(obj, path, key, JSON_STRING, required, expected, &value, err))
		return -1;
	if (value && !json_string_value(value)[0])
		return cni_fail(err, CNI_ERR_INVALID_CONFIG,
				"network config field \"%s%s\" is empty; expected %s",
				path, key, expected);
	*out = value ? json_string_value(value) : NULL;
	return 0;
}

static int conf_version(struct cni_conf *conf, struct cni_error *err)
{
	const char *version;
	size_t i;

	if (conf_string(conf->root, "", "cniVersion", true,
			"a string, one of 0.3.0, 0.3.1, 0.4.0, 1.0.0", &version, err))
		return -1;
	for (i = 0; i < cni_supported_versions_count; i++)
		if (strcmp(version, cni_supported_versions[i]) == 0) {
			conf->version = version;
			return 0;
		}
	return cni_fail(
	    err, CNI_ERR_INCOMPATIBLE_VERSION,
	    "cniVersion %s is not supported; expected one of 0.3.0, 0.3.1, 0.4.0, 1.0.0",
	    version);
}

static int conf_mtu(struct cni_conf *conf, struct cni_error *err)
{
	const char *expected =
	    "an integer from 68 to 65535, or no \"mtu\" to keep the kernel's default";
	json_t *mtu;

	if (conf_field(conf->root, "", "mtu", JSON_INTEGER, false, expected, &mtu, err))
		return -1;
	if (!mtu)
		return 0;
	if (json_integer_value(mtu) < MTU_MIN || json_integer_value(mtu) > MTU_MAX)
		return cni_fail(err, CNI_ERR_INVALID_CONFIG,
				"network config field \"mtu\" is %" JSON_INTEGER_FORMAT
				"; expected %s",
				json_integer_value(mtu), expected);
	conf->mtu = (int)json_integer_value(mtu);
	return 0;
}

static int conf_ipam(struct cni_conf *conf, struct cni_error *err)
{
	const char *expected_ipam =
	    "an object naming the IPAM plugin, e.g. "
	    "{\"type\":\"host-local\",\"ranges\":[[{\"subnet\":\"10.244.1.0/24\"}]]}";
	const char *expected_type =
	    "a string naming a plugin in CNI_PATH (no '/'), e.g. \"host-local\"";
	json_t *ipam;

	if (conf_field(conf->root, "", "ipam", JSON_OBJECT, true, expected_ipam, &ipam,
		       err) ||
	    conf_string(ipam, "ipam.", "type", true, expected_type, &conf->ipam_type,
			err))
		return -1;
	if (strchr(conf->ipam_type, '/'))
		return cni_fail(
		    err, CNI_ERR_INVALID_CONFIG,
		    "network config field \"ipam.type\" is \"%s\"; expected %s",
		    conf->ipam_type, expected_type);
	return 0;
}

static int stdin_read_all(struct cni_conf *conf, struct cni_error *err)
{
	size_t cap = 4096;
	char *grown;

	conf->raw = malloc(cap);
	while (conf->raw) {
		conf->raw_len +=
		    fread(conf->raw + conf->raw_len, 1, cap - conf->raw_len, stdin);
		if (conf->raw_len < cap)
			break;
		cap *= 2;
		grown = realloc(conf->raw, cap);
		if (!grown)
			free(conf->raw);
		conf->raw = grown;
	}
	if (!conf->raw)
		return cni_fail(err, CNI_ERR_INTERNAL,
				"out of memory reading the network config");
	if (ferror(stdin))
		return cni_fail(err, CNI_ERR_IO,
				"cannot read the network config from stdin: %s",
				strerror(errno));
	return 0;
}

int conf_read(struct cni_conf *conf, struct cni_error *err)
{
	const char *name, *type;
	json_error_t jerr;

	if (stdin_read_all(conf, err))
		return -1;
	conf->root = json_loadb(conf->raw, conf->raw_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!conf->root)
		return cni_fail(err, CNI_ERR_DECODE,
				"network config on stdin is not valid JSON: line %d, "
				"column %d: %s; expected one JSON object",
				jerr.line, jerr.column, jerr.text);
	if (!json_is_object(conf->root))
		return cni_fail(err, CNI_ERR_INVALID_CONFIG,
				"network config is %s; expected a JSON object",
				json_kind(conf->root));
	if (conf_version(conf, err) ||
	    conf_string(conf->root, "", "name", true,
			"a string naming the network, e.g. \"edgewire\"", &name, err) ||
	    conf_string(conf->root, "", "type", true,
			"a string naming this plugin, \"edgewire-cni\"", &type, err) ||
	    conf_string(conf->root, "", "agentSocket", false,
			"a string: the path of the agent's UNIX socket",
			&conf->agent_socket, err) ||
	    conf_mtu(conf, err) || conf_ipam(conf, err) ||
	    conf_field(conf->root, "", "prevResult", JSON_OBJECT, false,
		       "an object: the result of an earlier ADD", &conf->prev_result,
		       err))
		return -1;
	if (!conf->agent_socket)
		conf->agent_socket = DEFAULT_AGENT_SOCKET;
	return 0;
}

/* CHECK exists from 0.4.0 on. */
bool conf_version_before_0_4(const struct cni_conf *conf)
{
	return strncmp(conf->version, "0.3.", 4) == 0;
}

void conf_free(struct cni_conf *conf)
{
	json_decref(conf->root);
	free(conf->raw);
}
