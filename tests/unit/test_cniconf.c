// SPDX-License-Identifier: Apache-2.0
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cniconf.h"

static char dir[] = "/tmp/ew-cniconf-XXXXXX";
static char path[256];

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/05-edgewire.conflist", dir);
}

static void teardown(void)
{
	unlink(path);
	rmdir(dir);
}

TestSuite(cniconf, .init = setup, .fini = teardown);

Test(cniconf, names_the_plugin_socket_and_the_node_pod_cidr)
{
	json_error_t jerr;
	json_t *doc, *plugin;
	const char *subnet;

	cr_assert_eq(ew_cniconf_write(path, "/run/ew.sock", inet_addr("10.244.3.0"), 24,
				      1450), 0);
	doc = json_load_file(path, 0, &jerr);
	cr_assert_not_null(doc, "%s", jerr.text);
	cr_assert_str_eq(json_string_value(json_object_get(doc, "cniVersion")), "1.0.0");
	plugin = json_array_get(json_object_get(doc, "plugins"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(plugin, "type")), "edgewire-cni");
	cr_assert_str_eq(json_string_value(json_object_get(plugin, "agentSocket")),
			 "/run/ew.sock");
	cr_assert_eq(json_unpack(plugin, "{s:{s:[[{s:s}]]}}", "ipam", "ranges", "subnet",
				 &subnet), 0);
	cr_assert_str_eq(subnet, "10.244.3.0/24");
	cr_assert_eq(json_integer_value(json_object_get(plugin, "mtu")), 1450);
	json_decref(doc);
}

Test(cniconf, rewrites_only_on_change)
{
	struct stat before, after;

	cr_assert_eq(ew_cniconf_write(path, "/s", inet_addr("10.244.3.0"), 24, 0), 0);
	cr_assert_eq(stat(path, &before), 0);
	cr_assert_eq(ew_cniconf_write(path, "/s", inet_addr("10.244.3.0"), 24, 0), 0);
	cr_assert_eq(stat(path, &after), 0);
	cr_assert_eq(before.st_ino, after.st_ino, "an unchanged config was replaced");
	cr_assert_eq(ew_cniconf_write(path, "/s", inet_addr("10.244.4.0"), 24, 0), 0);
	cr_assert_eq(stat(path, &after), 0);
	cr_assert_neq(before.st_ino, after.st_ino, "a changed config was not replaced");
}

Test(cniconf, no_mtu_without_an_underlay)
{
	json_t *doc;

	cr_assert_eq(ew_cniconf_write(path, "/s", inet_addr("10.244.3.0"), 24, 0), 0);
	doc = json_load_file(path, 0, NULL);
	cr_assert_not_null(doc);
	cr_assert_null(json_object_get(json_array_get(json_object_get(doc, "plugins"), 0),
				       "mtu"));
	json_decref(doc);
}

Test(cniconf, creates_the_config_directory)
{
	char nested[300];

	snprintf(nested, sizeof(nested), "%s/etc/cni/net.d/05-edgewire.conflist", dir);
	cr_assert_eq(ew_cniconf_write(nested, "/s", inet_addr("10.244.3.0"), 24, 0), 0);
	cr_assert_eq(access(nested, R_OK), 0);
	unlink(nested);
	snprintf(nested, sizeof(nested), "rm -rf %s/etc", dir);
	cr_assert_eq(system(nested), 0);
}
