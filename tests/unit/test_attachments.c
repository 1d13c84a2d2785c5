// SPDX-License-Identifier: Apache-2.0
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attachments.h"

static char dir[] = "/tmp/ew-attach-XXXXXX";

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	system(cmd);
}

static struct ew_attachment sample(const char *name, const char *ip)
{
	struct ew_attachment at = {
		.namespace = "shop", .name = (char *)name, .container_id = "cid-1",
		.ifname = "lxc123", .ip = inet_addr(ip),
		.mac = { 0x0a, 0x58, 0x0a, 0xf4, 0x01, 0x0a },
	};
	return at;
}

TestSuite(attachments, .init = setup, .fini = teardown);

Test(attachments, survive_a_restart)
{
	struct ew_attachments a, b;
	struct ew_attachment web = sample("web", "10.244.1.10");
	struct ew_attachment *got;

	cr_assert_eq(ew_attachments_load(&a, dir), 0);
	cr_assert_eq(a.n, 0);
	cr_assert_eq(ew_attachments_put(&a, &web), 0);
	cr_assert_eq(ew_attachments_load(&b, dir), 0);
	cr_assert_eq(b.n, 1);
	got = ew_attachments_find(&b, "shop", "web");
	cr_assert_not_null(got);
	cr_assert_str_eq(got->container_id, "cid-1");
	cr_assert_str_eq(got->ifname, "lxc123");
	cr_assert_eq(got->ip, web.ip);
	cr_assert_eq(memcmp(got->mac, web.mac, 6), 0);
	ew_attachments_free(&a);
	ew_attachments_free(&b);
}

Test(attachments, put_replaces_and_remove_checks_the_container)
{
	struct ew_attachments a, b;
	struct ew_attachment web = sample("web", "10.244.1.10");

	cr_assert_eq(ew_attachments_load(&a, dir), 0);
	cr_assert_eq(ew_attachments_put(&a, &web), 0);
	web.ip = inet_addr("10.244.1.11");
	cr_assert_eq(ew_attachments_put(&a, &web), 0);
	cr_assert_eq(a.n, 1);
	cr_assert_eq(ew_attachments_find(&a, "shop", "web")->ip, web.ip);
	cr_assert_eq(ew_attachments_remove(&a, "shop", "web", "other-cid"), 0);
	cr_assert_eq(a.n, 1);
	cr_assert_eq(ew_attachments_remove(&a, "shop", "web", "cid-1"), 1);
	cr_assert_eq(a.n, 0);
	cr_assert_eq(ew_attachments_load(&b, dir), 0);
	cr_assert_eq(b.n, 0, "the file must be gone too");
	ew_attachments_free(&a);
	ew_attachments_free(&b);
}

Test(attachments, a_corrupt_file_is_skipped)
{
	struct ew_attachments a, b;
	struct ew_attachment web = sample("web", "10.244.1.10");
	char path[256];
	FILE *f;

	cr_assert_eq(ew_attachments_load(&a, dir), 0);
	cr_assert_eq(ew_attachments_put(&a, &web), 0);
	snprintf(path, sizeof(path), "%s/attachments/shop_broken.json", dir);
	f = fopen(path, "w");
	fputs("{\"namespace\": \"shop\", \"name\": ", f);
	fclose(f);
	cr_assert_eq(ew_attachments_load(&b, dir), 0);
	cr_assert_eq(b.n, 1);
	cr_assert_not_null(ew_attachments_find(&b, "shop", "web"));
	ew_attachments_free(&a);
	ew_attachments_free(&b);
}
