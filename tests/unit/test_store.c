// SPDX-License-Identifier: Apache-2.0
/* The store reader: which files it reads, what it rejects and where. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_fixture.h"

TestSuite(store, .init = store_setup, .fini = store_teardown);

#define POD(name, ip)                                                                    \
	"apiVersion: v1\n"                                                               \
	"kind: Pod\n"                                                                    \
	"metadata: {name: " name ", namespace: shop}\n"                                  \
	"spec: {nodeName: node-a}\n"                                                     \
	"status: {podIP: " ip "}\n"

#define NODE(name, cidr)                                                                 \
	"apiVersion: v1\n"                                                               \
	"kind: Node\n"                                                                   \
	"metadata: {name: " name "}\n"                                                   \
	"spec: {podCIDR: " cidr "}\n"

/* --- what is read -------------------------------------------------------- */

Test(store, reads_every_document_of_a_file_and_skips_empty_ones)
{
	store_write(
	    "all.yaml",
	    "---\n"
	    "---\n" NODE("node-a", "10.244.1.0/24") "---\n"
						    "# only a comment\n"
						    "---\n" POD("web-1",
								"10.244.1.10") "---\n");
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	cr_assert_eq(model()->n_nodes, 1);
	cr_assert_eq(model()->n_pods, 1);
	cr_assert_eq(model()->pods[0].origin.line, 10);
	cr_assert_eq(model()->pods[0].origin.col, 1);
}

Test(store, expands_the_items_of_a_list)
{
	store_write("list.yaml",
		    "apiVersion: v1\n"
		    "kind: List\n"
		    "items:\n"
		    "  - {apiVersion: v1, kind: Namespace, metadata: {name: a}}\n"
		    "  - apiVersion: v1\n"
		    "    kind: Namespace\n"
		    "    metadata: {name: b}\n");
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	cr_assert_eq(model()->n_namespaces, 2);
	cr_assert_str_eq(model()->namespaces[1].name, "b");
	cr_assert_eq(model()->namespaces[1].origin.line, 5);
	cr_assert_eq(model()->namespaces[1].origin.col, 5);
}

Test(store, reads_json_and_yml_but_not_hidden_or_other_files)
{
	char *dir = store_path("dir.yaml");

	store_write("a.json", "{\"apiVersion\": \"v1\", \"kind\": \"Namespace\","
			      " \"metadata\": {\"name\": \"from-json\"}}\n");
	store_write("b.yml",
		    "{apiVersion: v1, kind: Namespace, metadata: {name: from-yml}}\n");
	store_write(".hidden.yaml",
		    "{apiVersion: v1, kind: Namespace, metadata: {name: hidden}}\n");
	store_write("notes.txt",
		    "{apiVersion: v1, kind: Namespace, metadata: {name: txt}}\n");
	cr_assert_eq(mkdir(dir, 0700), 0);
	free(dir);
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	cr_assert_eq(model()->n_namespaces, 2);
	cr_assert_not_null(ew_model_namespace(model(), "from-json"));
	cr_assert_not_null(ew_model_namespace(model(), "from-yml"));
}

/* A ConfigMap volume: name -> ..data/name, ..data -> ..<timestamp>/ */
static void configmap_publish(const char *version_dir, const char *pods)
{
	char *dir = store_path(version_dir), *file, *data = store_path("..data");
	char *tmp = store_path("..data_tmp");

	cr_assert_eq(mkdir(dir, 0700), 0);
	cr_assert_geq(asprintf(&file, "%s/pods.yaml", version_dir), 0);
	store_write(file, pods);
	cr_assert_eq(symlink(version_dir, tmp), 0);
	cr_assert_eq(rename(tmp, data), 0);
	free(file);
	free(dir);
	free(data);
	free(tmp);
}

Test(store, follows_configmap_symlinks_and_skips_their_dot_entries)
{
	char *link = store_path("pods.yaml");

	configmap_publish("..2026_01_01_00_00_00.1", POD("web-1", "10.244.1.10"));
	cr_assert_eq(symlink("..data/pods.yaml", link), 0);
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	cr_assert_eq(model()->n_pods, 1);
	cr_assert_str_eq(model()->pods[0].origin.file, "pods.yaml");

	configmap_publish("..2026_01_01_00_00_00.2", POD("web-2", "10.244.1.11"));
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	cr_assert_eq(model()->n_pods, 1);
	cr_assert_str_eq(model()->pods[0].name, "web-2");
	free(link);
}

Test(store, ignores_other_kinds_and_api_groups)
{
	store_write("other.yaml", "apiVersion: v1\n"
				  "kind: ConfigMap\n"
				  "metadata: {name: web}\n"
				  "---\n"
				  "apiVersion: discovery.k8s.io/v1beta1\n"
				  "kind: EndpointSlice\n"
				  "metadata: {name: web-abc}\n"
				  "---\n"
				  "apiVersion: apps/v1\n"
				  "kind: Pod\n"
				  "metadata: {name: not-a-v1-pod}\n"
				  "---\n"
				  "apiVersion: networking.k8s.io/v1\n"
				  "kind: Ingress\n"
				  "spec: [whatever]\n");
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	cr_assert_eq(model()->n_pods + model()->n_nodes + model()->n_namespaces +
			 model()->n_services + model()->n_slices,
		     0);
}

/* --- what is rejected, and where ------------------------------------------ */

Test(store, reports_yaml_syntax_errors_at_the_problem)
{
	store_write("bad.yaml", "apiVersion: v1\n"
				"kind: Namespace\n"
				"metadata: {name: a\n");
	cr_assert_eq(store_load(), -1);
	assert_only_diag("bad.yaml", 4, 1, "YAML syntax error", "flow mapping",
			 "line 3, column 11");
}

Test(store, reports_text_that_is_not_utf8_by_byte_offset)
{
	store_write("latin1.yaml",
		    "apiVersion: v1\nkind: Namespace\nmetadata: {name: caf\xe9}\n");
	cr_assert_eq(store_load(), -1);
	assert_only_diag("latin1.yaml", 0, 0, "YAML syntax error", "at byte 52", "UTF-8");
}

Test(store, rejects_documents_that_are_not_objects)
{
	store_write("a.yaml", "- apiVersion: v1\n");
	store_write("b.yaml", "kind: Pod\n"
			      "metadata: {name: a}\n");
	store_write("c.yaml", "apiVersion: v1\n"
			      "metadata: {name: a}\n");
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 3, "%s", diags_text());
	assert_diag("a.yaml", 1, 1, "Kubernetes object", "got a list");
	assert_diag("b.yaml", 1, 1, "apiVersion is missing");
	assert_diag("c.yaml", 1, 1, "kind is missing");
}

Test(store, reports_fields_of_the_wrong_type)
{
	store_write("pods.yaml", "apiVersion: v1\n"
				 "kind: Pod\n"
				 "metadata:\n"
				 "  name: web-1\n"
				 "  labels: [app, web]\n"
				 "spec:\n"
				 "  containers: {name: web}\n"
				 "status:\n"
				 "  podIP: {v4: 10.244.1.10}\n");
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 3, "%s", diags_text());
	assert_diag("pods.yaml", 5, 11, "Pod default/web-1",
		    "metadata.labels: expected a mapping, got a list");
	assert_diag("pods.yaml", 7, 15,
		    "spec.containers: expected a list, got a mapping");
	assert_diag("pods.yaml", 9, 10, "status.podIP: expected a string, got a mapping");
}

Test(store, requires_metadata_and_a_name)
{
	store_write("a.yaml", "apiVersion: v1\n"
			      "kind: Node\n");
	store_write("b.yaml", "apiVersion: v1\n"
			      "kind: Pod\n"
			      "metadata:\n"
			      "  namespace: shop\n");
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 2, "%s", diags_text());
	assert_diag("a.yaml", 1, 1, "Node", "metadata is missing");
	assert_diag("b.yaml", 4, 3, "Pod", "metadata.name is missing");
}

Test(store, checks_names_as_dns_labels_and_subdomains)
{
	store_write(
	    "a.yaml",
	    "{apiVersion: v1, kind: Namespace, metadata: {name: Shop}}\n"
	    "---\n"
	    "{apiVersion: v1, kind: Namespace, metadata: {name: "
	    "a234567890123456789012345678901234567890123456789012345678901234}}\n");
	store_write("b.yaml", "apiVersion: v1\n"
			      "kind: Pod\n"
			      "metadata: {name: web_1, namespace: shop.x}\n"
			      "spec: {nodeName: -node}\n");
	store_write(
	    "c.yaml",
	    "{apiVersion: v1, kind: Pod, metadata: {name: web-1.shop.example}}\n");
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 5, "%s", diags_text());
	assert_diag("a.yaml", 1, 52, "\"Shop\" is not a valid name", "DNS label");
	assert_diag("a.yaml", 3, 52, "metadata.name", "DNS label");
	assert_diag("b.yaml", 3, 18, "metadata.name \"web_1\"", "DNS subdomain");
	assert_diag("b.yaml", 3, 36, "metadata.namespace \"shop.x\"", "DNS label");
	assert_diag("b.yaml", 4, 18, "spec.nodeName \"-node\"", "DNS subdomain");
}

Test(store, rejects_invalid_pod_cidrs)
{
	store_write(
	    "nodes.yaml",
	    NODE("a", "10.244.1.0") "---\n" NODE("b", "10.244.2.5/24") "---\n" NODE(
		"c", "10.244.3.0/33") "---\n" NODE("d", "10.244.4.0/0"));
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 4, "%s", diags_text());
	assert_diag("nodes.yaml", 4, 17, "Node a", "\"10.244.1.0\" is not an IPv4 CIDR");
	assert_diag("nodes.yaml", 9, 17,
		    "Node b: spec.podCIDR \"10.244.2.5/24\" has host bits set",
		    "expected the network address 10.244.2.0/24");
	assert_diag("nodes.yaml", 14, 17, "not an IPv4 CIDR", "1 to 32");
	assert_diag("nodes.yaml", 19, 17, "not an IPv4 CIDR");
}

Test(store, rejects_invalid_ip_addresses)
{
	store_write("pods.yaml", POD("web-1", "10.1.1.300"));
	store_write("nodes.yaml", "apiVersion: v1\n"
				  "kind: Node\n"
				  "metadata: {name: node-a}\n"
				  "status:\n"
				  "  addresses:\n"
				  "    - {type: InternalIP, address: 192.168.1}\n");
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 2, "%s", diags_text());
	assert_diag("pods.yaml", 5, 17,
		    "Pod shop/web-1: status.podIP \"10.1.1.300\" is not an IPv4 address; "
		    "expected a dotted quad such as 10.244.1.5");
	assert_diag("nodes.yaml", 6, 35, "status.addresses[0].address \"192.168.1\"",
		    "not an IPv4 address");
}

Test(store, rejects_bad_container_ports)
{
	store_write("pods.yaml", "apiVersion: v1\n"
				 "kind: Pod\n"
				 "metadata: {name: web-1}\n"
				 "spec:\n"
				 "  containers:\n"
				 "    - name: web\n"
				 "      ports:\n"
				 "        - containerPort: 0\n"
				 "        - containerPort: 65536\n"
				 "        - containerPort: http\n"
				 "        - containerPort: 80\n"
				 "          protocol: ICMP\n"
				 "        - protocol: UDP\n");
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 5, "%s", diags_text());
	assert_diag("pods.yaml", 8, 26, "spec.containers[0].ports[0].containerPort \"0\"",
		    "from 1 to 65535");
	assert_diag("pods.yaml", 9, 26, "\"65536\"", "from 1 to 65535");
	assert_diag("pods.yaml", 10, 26, "\"http\"", "from 1 to 65535");
	assert_diag("pods.yaml", 12, 21, "ports[3].protocol \"ICMP\"",
		    "TCP, UDP or SCTP");
	assert_diag("pods.yaml", 13, 11, "ports[4].containerPort is missing");
}

Test(store, rejects_bad_label_keys_and_values)
{
	store_write(
	    "ns.yaml",
	    "apiVersion: v1\n"
	    "kind: Namespace\n"
	    "metadata:\n"
	    "  name: shop\n"
	    "  labels:\n"
	    "    ok.example.com/team: shop\n"
	    "    \"has space\": x\n"
	    "    Bad_Prefix/x: y\n"
	    "    empty: \"\"\n"
	    "    long: a234567890123456789012345678901234567890123456789012345678901234\n"
	    "    dash: -x\n");
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 4, "%s", diags_text());
	assert_diag("ns.yaml", 7, 5, "Namespace shop", "label key \"has space\"",
		    "DNS subdomain prefix");
	assert_diag("ns.yaml", 8, 5, "label key \"Bad_Prefix/x\"");
	assert_diag("ns.yaml", 10, 11, "label long: value", "at most 63");
	assert_diag("ns.yaml", 11, 11, "label dash: value \"-x\"");
}

Test(store, reports_duplicates_at_the_second_pointing_at_the_first)
{
	store_write("a.yaml", POD("web-1", "10.244.1.10"));
	store_write("b.yaml", "{apiVersion: v1, kind: Namespace, metadata: {name: x}}\n"
			      "---\n" POD("web-1", "10.244.1.11"));
	cr_assert_eq(store_load(), -1);
	assert_only_diag("b.yaml", 3, 1, "Pod shop/web-1 is defined twice",
			 "first at a.yaml:1:1");
	cr_assert_eq(model()->n_pods, 1);
	cr_assert_eq(model()->pods[0].ip, inet_addr("10.244.1.10"));
	cr_assert_eq(model()->n_namespaces, 0, "b.yaml is not taken in part");
}

Test(store, rejects_a_pod_ip_used_twice)
{
	store_write("pods.yaml",
		    POD("web-1", "10.244.1.10") "---\n" POD("web-2", "10.244.1.10"));
	cr_assert_eq(store_load(), -1);
	assert_only_diag(
	    "pods.yaml", 7, 1, "Pod shop/web-2",
	    "10.244.1.10 is already the IP of Pod shop/web-1 at pods.yaml:1:1");
}

Test(store, rejects_overlapping_pod_cidrs)
{
	store_write("a.yaml", NODE("node-a", "10.244.0.0/16"));
	store_write("b.yaml", NODE("node-b", "10.244.1.0/24"));
	cr_assert_eq(store_load(), -1);
	assert_only_diag(
	    "b.yaml", 1, 1, "Node node-b",
	    "10.244.1.0/24 overlaps 10.244.0.0/16 of Node node-a at a.yaml:1:1");
	cr_assert_eq(model()->n_nodes, 1);
}

Test(store, rejects_a_pod_ip_outside_its_nodes_pod_cidr)
{
	store_write("nodes.yaml", NODE("node-a", "10.244.1.0/24"));
	store_write("pods.yaml", POD("web-1", "10.244.2.10"));
	cr_assert_eq(store_load(), -1);
	assert_only_diag(
	    "pods.yaml", 1, 1, "Pod shop/web-1",
	    "10.244.2.10 is outside spec.podCIDR 10.244.1.0/24 of its Node node-a");
}

Test(store, blames_a_later_node_whose_cidr_misses_its_pods)
{
	store_write("a-pods.yaml", POD("web-1", "10.244.2.10"));
	store_write("b-nodes.yaml", NODE("node-a", "10.244.1.0/24"));
	cr_assert_eq(store_load(), -1);
	assert_only_diag("b-nodes.yaml", 1, 1, "Node node-a",
			 "does not contain 10.244.2.10",
			 "Pod shop/web-1 at a-pods.yaml:1:1");
	cr_assert_eq(model()->n_pods, 1);
	cr_assert_eq(model()->n_nodes, 0);
}

/* --- reading only what changed ------------------------------------------------ */

/* A file rewritten in place with its size and mtime kept as they were. */
static void rewrite_keeping_mtime(const char *name, const char *text)
{
	char *path = store_path(name);
	struct stat st;
	FILE *f;

	cr_assert_eq(stat(path, &st), 0);
	f = fopen(path, "r+");
	cr_assert_not_null(f);
	cr_assert_eq(fputs(text, f) >= 0 && !fclose(f), true);
	cr_assert_eq(utimensat(AT_FDCWD, path, (struct timespec[]){ st.st_atim, st.st_mtim }, 0), 0);
	free(path);
}

/* A file that has not changed since it was read (and had settled: see
 * settled() in store.c) is not parsed again: the model keeps pointing into
 * the same version. A change shows in its ctime, even with its size and
 * mtime kept. */
Test(store, a_file_unchanged_since_read_is_not_parsed_again)
{
	const char *name;

	store_write("pods.yaml", POD("web-1", "10.244.1.10"));
	sleep(2); /* settles: file times have a clock tick's resolution */
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	name = model()->pods[0].name;
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	cr_assert_eq(model()->pods[0].name, name, "pods.yaml was parsed again");

	rewrite_keeping_mtime("pods.yaml", POD("web-2", "10.244.1.10"));
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	cr_assert_str_eq(model()->pods[0].name, "web-2", "the change was not seen");
}

/* --- last good state -------------------------------------------------------- */

Test(store, a_bad_file_keeps_its_last_good_objects_until_fixed_or_removed)
{
	store_write("pods.yaml", POD("web-1", "10.244.1.10"));
	cr_assert_eq(store_load(), 0, "%s", diags_text());

	store_write("pods.yaml",
		    POD("web-1", "10.244.1.10") "---\n" POD("web-2", "10.244.1.300"));
	cr_assert_eq(store_load(), -1);
	assert_only_diag("pods.yaml", 11, 17, "Pod shop/web-2", "not an IPv4 address");
	cr_assert_eq(model()->n_pods, 1);
	cr_assert_str_eq(model()->pods[0].name, "web-1");

	store_write("pods.yaml", "apiVersion: v1\nkind: [\n");
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(model()->n_pods, 1, "still the last good version");

	store_write("pods.yaml",
		    POD("web-1", "10.244.1.10") "---\n" POD("web-2", "10.244.1.11"));
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	cr_assert_eq(model()->n_pods, 2);
	cr_assert_eq(ew_model_pod(model(), "shop", "web-2")->ip,
		     inet_addr("10.244.1.11"));

	store_remove("pods.yaml");
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	cr_assert_eq(model()->n_pods, 0);
}

Test(store, a_file_that_never_was_good_contributes_nothing)
{
	store_write("pods.yaml",
		    POD("web-1", "10.244.1.10") "---\n" POD("web-2", "nope"));
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(model()->n_pods, 0);
}

Test(store, a_later_file_whose_last_good_version_conflicts_contributes_nothing)
{
	store_write("b.yaml", POD("web-2", "10.244.1.20"));
	cr_assert_eq(store_load(), 0, "%s", diags_text());

	store_write("a.yaml", POD("web-1", "10.244.1.20"));
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(fx.diags.n, 2, "%s", diags_text());
	assert_diag("b.yaml", 1, 1, "Pod shop/web-2", "already the IP of Pod shop/web-1");
	assert_diag("b.yaml", 0, 0, "last good version conflicts");
	cr_assert_eq(model()->n_pods, 1);
	cr_assert_str_eq(model()->pods[0].name, "web-1");

	store_remove("a.yaml");
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	cr_assert_str_eq(model()->pods[0].name, "web-2");
}

Test(store, an_unreadable_directory_keeps_the_model)
{
	char *moved;

	store_write("pods.yaml", POD("web-1", "10.244.1.10"));
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	cr_assert_geq(asprintf(&moved, "%s.moved", fx.dir), 0);
	cr_assert_eq(rename(fx.dir, moved), 0);
	cr_assert_eq(store_load(), -1);
	cr_assert_eq(rename(moved, fx.dir), 0);
	free(moved);
	assert_only_diag(fx.dir, 0, 0, "cannot read the store", "No such file");
	cr_assert_eq(model()->n_pods, 1);
}

/* --- diagnostics -------------------------------------------------------------- */

Test(diag, formats_as_file_line_col_message)
{
	struct ew_diags d = {0};
	char buf[128];

	ew_diag_add(&d, "pods.yaml", 12, 14, "bad %s", "thing");
	ew_diag_add(&d, "pods.yaml", 0, 0, "whole file");
	ew_diag_add(&d, NULL, 0, 0, "no file");
	cr_assert_eq(d.n, 3);
	cr_assert_str_eq(ew_diag_format(&d.items[0], buf, sizeof(buf)),
			 "pods.yaml:12:14: bad thing");
	cr_assert_str_eq(ew_diag_format(&d.items[1], buf, sizeof(buf)),
			 "pods.yaml: whole file");
	cr_assert_str_eq(ew_diag_format(&d.items[2], buf, sizeof(buf)), "no file");
	ew_diags_clear(&d);
	cr_assert_eq(d.n, 0);
	cr_assert_null(d.items);
}

Test(store, host_network_pods_are_not_endpoints_and_do_not_conflict)
{
	const struct ew_pod *p;

	store_write("pods.yaml",
		    "apiVersion: v1\nkind: Pod\nmetadata: {name: proxy-a, namespace: kube-system}\n"
		    "spec: {nodeName: node-a, hostNetwork: true}\nstatus: {podIP: 192.168.77.11}\n"
		    "---\n"
		    "apiVersion: v1\nkind: Pod\nmetadata: {name: exporter-a, namespace: kube-system}\n"
		    "spec: {nodeName: node-a, hostNetwork: true}\nstatus: {podIP: 192.168.77.11}\n");
	store_write("nodes.yaml", NODE("node-a", "10.244.1.0/24"));
	cr_assert_eq(store_load(), 0, "%s", diags_text());
	p = ew_model_pod(model(), "kube-system", "proxy-a");
	cr_assert_not_null(p);
	cr_assert(p->host_network);
	cr_assert_eq(p->ip, 0);
}

Test(store, host_network_must_be_a_boolean)
{
	store_write("pods.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n"
				 "spec: {nodeName: node-a, hostNetwork: yes-please}\n");
	cr_assert_eq(store_load(), -1);
	assert_only_diag("pods.yaml", 4, 39, "spec.hostNetwork", "boolean");
}
