// SPDX-License-Identifier: Apache-2.0
/* The proxy's HTTP rules (l7-policy.json) and which of them judge a request. */
#include "l7policy.h"

#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#define L7_CONFIG_VERSION 1

const char *l7_dir_name(enum ew_dir dir)
{
	return dir == EW_DIR_INGRESS ? "ingress" : "egress";
}

/* ---- the config file -------------------------------------------------------- */

static void entry_free(struct l7_entry *e)
{
	for (size_t i = 0; i < e->n_rules; i++)
		ew_http_rule_free(&e->rules[i]);
	free(e->rules);
}

void l7_config_free(struct l7_config *cfg)
{
	for (size_t i = 0; i < cfg->n_entries; i++)
		entry_free(&cfg->entries[i]);
	free(cfg->entries);
	cfg->entries = NULL;
	cfg->n_entries = 0;
}

/* Where a problem is, as "entries[2].rules[0]", and what it is. */
struct load_ctx {
	const char *path;
	char where[64];
	char *problem;
	size_t problem_len;
};

__attribute__((format(printf, 2, 3))) static int load_fail(struct load_ctx *l,
							   const char *fmt, ...)
{
	int n = snprintf(l->problem, l->problem_len, "%s: %s%s", l->path, l->where,
			 l->where[0] ? ": " : "");
	va_list ap;

	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < l->problem_len)
		vsnprintf(l->problem + n, l->problem_len - n, fmt, ap);
	va_end(ap);
	return -1;
}

static int load_u32(struct load_ctx *l, const char *field, json_int_t v, __u32 min,
		    __u32 max, __u32 *out)
{
	if (v < min || v > max)
		return load_fail(l, "%s %lld is out of range; expected %u to %u", field,
				 (long long)v, min, max);
	*out = v;
	return 0;
}

static int load_headers(struct load_ctx *l, json_t *list, const char **names,
			size_t *n)
{
	size_t i;
	json_t *h;

	if (!json_is_array(list) || json_array_size(list) > EW_HTTP_RULE_MAX_HEADERS)
		return load_fail(l, "headers is not a list of at most %d strings",
				 EW_HTTP_RULE_MAX_HEADERS);
	json_array_foreach(list, i, h) {
		if (!json_is_string(h))
			return load_fail(l, "headers[%zu] is not a string; expected "
					 "\"Name\" or \"Name: value\"", i);
		names[i] = json_string_value(h);
	}
	*n = json_array_size(list);
	return 0;
}

static int load_rule(struct load_ctx *l, json_t *j, struct ew_http_rule *r)
{
	const char *headers[EW_HTTP_RULE_MAX_HEADERS];
	struct ew_http_rule_spec spec = { .headers = headers };
	json_t *header_list = NULL;
	json_error_t jerr;
	json_int_t rule;
	char err[256];
	__u32 id = 0;

	if (json_unpack_ex(j, &jerr, JSON_STRICT, "{s:I, s?s, s?s, s?s, s?o}", "rule",
			   &rule, "method", &spec.method, "path", &spec.path, "host",
			   &spec.host, "headers", &header_list))
		return load_fail(l,
				 "%s; expected {\"rule\": N} and any of method, path, "
				 "host (regular expressions) and headers (a list)",
				 jerr.text);
	if (load_u32(l, "rule", rule, 0, UINT32_MAX, &id))
		return -1;
	if (header_list && load_headers(l, header_list, headers, &spec.n_headers))
		return -1;
	if (ew_http_rule_compile(r, id, &spec, err, sizeof(err)))
		return load_fail(l, "%s", err);
	return 0;
}

static int load_rules(struct load_ctx *l, json_t *list, struct l7_entry *e)
{
	size_t len = strlen(l->where), i;
	json_t *j;

	if (!json_is_array(list))
		return load_fail(l, "rules is not a list; expected a list of http rules");
	e->rules = calloc(json_array_size(list) ?: 1, sizeof(*e->rules));
	if (!e->rules)
		return load_fail(l, "out of memory");
	json_array_foreach(list, i, j) {
		snprintf(l->where + len, sizeof(l->where) - len, ".rules[%zu]", i);
		if (load_rule(l, j, &e->rules[i]))
			return -1;
		e->n_rules++;
	}
	l->where[len] = '\0';
	return 0;
}

static int load_dir(struct load_ctx *l, const char *dir, __u8 *out)
{
	if (!strcmp(dir, "ingress"))
		*out = EW_DIR_INGRESS;
	else if (!strcmp(dir, "egress"))
		*out = EW_DIR_EGRESS;
	else
		return load_fail(l, "dir \"%s\" is not a direction; expected ingress or "
				 "egress", dir);
	return 0;
}

static int load_entry(struct load_ctx *l, json_t *j, struct l7_entry *e)
{
	json_int_t subject, peer, port;
	json_t *rules;
	json_error_t jerr;
	const char *dir;
	__u32 port32 = 0;

	if (json_unpack_ex(j, &jerr, JSON_STRICT, "{s:I, s:s, s:I, s:I, s:o}", "subject",
			   &subject, "dir", &dir, "port", &port, "peer", &peer, "rules",
			   &rules))
		return load_fail(l, "%s; expected {\"subject\": N, \"dir\": \"ingress\" "
				 "or \"egress\", \"port\": N, \"peer\": N, "
				 "\"rules\": [...]}", jerr.text);
	if (load_u32(l, "subject", subject, 0, UINT32_MAX, &e->subject) ||
	    load_u32(l, "peer", peer, 0, UINT32_MAX, &e->peer) ||
	    load_u32(l, "port", port, 1, UINT16_MAX, &port32) ||
	    load_dir(l, dir, &e->dir))
		return -1;
	e->port = port32;
	return load_rules(l, rules, e);
}

static int entry_cmp(const void *a, const void *b)
{
	const struct l7_entry *x = a, *y = b;

	if (x->subject != y->subject)
		return x->subject < y->subject ? -1 : 1;
	if (x->dir != y->dir)
		return x->dir < y->dir ? -1 : 1;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	if (x->peer != y->peer)
		return x->peer < y->peer ? -1 : 1;
	return 0;
}

/* Entries are sorted for lookups; two with one key would make the rules of
 * a policy entry depend on which is found. */
static int sort_entries(struct load_ctx *l, struct l7_config *cfg)
{
	qsort(cfg->entries, cfg->n_entries, sizeof(*cfg->entries), entry_cmp);
	for (size_t i = 1; i < cfg->n_entries; i++) {
		const struct l7_entry *e = &cfg->entries[i];

		if (!entry_cmp(e - 1, e))
			return load_fail(l, "two entries for subject %u, dir %s, port %u, "
					 "peer %u; expected one entry per L7 policy entry",
					 e->subject, l7_dir_name(e->dir), e->port, e->peer);
	}
	return 0;
}

static int load_entries(struct load_ctx *l, json_t *list, struct l7_config *cfg)
{
	size_t i;
	json_t *j;

	cfg->entries = calloc(json_array_size(list) ?: 1, sizeof(*cfg->entries));
	if (!cfg->entries)
		return load_fail(l, "out of memory");
	json_array_foreach(list, i, j) {
		snprintf(l->where, sizeof(l->where), "entries[%zu]", i);
		if (load_entry(l, j, &cfg->entries[i])) {
			entry_free(&cfg->entries[i]);
			return -1;
		}
		cfg->n_entries++;
	}
	l->where[0] = '\0';
	return sort_entries(l, cfg);
}

static int load_document(struct load_ctx *l, json_t *doc, struct l7_config *cfg)
{
	json_error_t jerr;
	json_int_t version;
	json_t *entries;

	if (json_unpack_ex(doc, &jerr, JSON_STRICT, "{s:I, s:o}", "version", &version,
			   "entries", &entries))
		return load_fail(l, "%s; expected {\"version\": %d, \"entries\": [...]}",
				 jerr.text, L7_CONFIG_VERSION);
	if (version != L7_CONFIG_VERSION)
		return load_fail(l, "version %lld is not supported; expected %d (the agent "
				 "and the proxy come from different edgewire versions)",
				 (long long)version, L7_CONFIG_VERSION);
	if (!json_is_array(entries))
		return load_fail(l, "entries is not a list; expected a list of entries");
	return load_entries(l, entries, cfg);
}

int l7_config_load(struct l7_config *cfg, const char *path)
{
	struct load_ctx l = { .path = path, .problem = cfg->problem,
			      .problem_len = sizeof(cfg->problem) };
	json_error_t jerr;
	json_t *doc;
	int ret;

	l7_config_free(cfg);
	cfg->valid = false;
	doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc)
		return load_fail(&l, "line %d, column %d: %s", jerr.line, jerr.column,
				 jerr.text);
	ret = load_document(&l, doc, cfg);
	json_decref(doc);
	if (ret)
		l7_config_free(cfg);
	cfg->valid = !ret;
	return ret;
}

static const struct l7_entry *config_find(const struct l7_config *cfg, __u32 subject,
					  enum ew_dir dir, __u16 port, __u32 peer)
{
	struct l7_entry key = {
		.subject = subject, .peer = peer, .port = port, .dir = dir
	};

	return bsearch(&key, cfg->entries, cfg->n_entries, sizeof(*cfg->entries),
		       entry_cmp);
}

/* ---- the selection -------------------------------------------------------- */

/* 1: found, 0: not there, -errno: the map could not be read. */
static int map_find(int fd, const void *key, void *value)
{
	if (!bpf_map_lookup_elem(fd, key, value))
		return 1;
	return errno == ENOENT ? 0 : -errno;
}

/* As ipcache_lookup(): an address in no entry is world. */
static int ipcache_find(const struct l7_maps *maps, __u32 addr, struct ew_ipcache *id)
{
	struct ew_ipcache_key key = { .prefixlen = 32, .addr = addr };
	int found = map_find(maps->ipcache, &key, id);

	if (!found)
		*id = (struct ew_ipcache){ EW_IDENTITY_WORLD, EW_IDENTITY_WORLD };
	return found < 0 ? found : 0;
}

/* Adds peer's policy entry, if any, to s: its rules, or the lift. */
static int side_add_peer(const struct l7_config *cfg, const struct l7_maps *maps,
			 struct ew_policy_key *key, __u32 peer, struct l7_side *s)
{
	struct ew_policy_entry pe;
	const struct l7_entry *e;
	int found;

	key->peer = peer;
	found = map_find(maps->policy, key, &pe);
	if (found <= 0)
		return found;
	if (!(pe.flags & EW_POLICY_L7)) {
		*s = (struct l7_side){ .checked = false, .lift_rule = pe.rule };
		return 0;
	}
	e = config_find(cfg, key->subject, key->dir, ntohs(key->port), peer);
	if (e)
		s->entries[s->n_entries++] = e;
	return 0;
}

/* The side of subject (dir) towards the peer at peer_addr, as policy_allows(). */
static int side_select(const struct l7_config *cfg, const struct l7_maps *maps,
		       __u32 subject, enum ew_dir dir, __u32 peer_addr, __u16 port,
		       struct l7_side *s)
{
	struct ew_policy_key key = {
		.prefixlen = EW_POLICY_PREFIX_FULL,
		.subject = subject,
		.dir = dir,
		.proto = IPPROTO_TCP,
		.port = port,
	};
	__u32 peers[L7_PEER_LOOKUPS];
	struct ew_ipcache id;
	size_t n = 0;
	int err;

	*s = (struct l7_side){ .checked = true };
	err = ipcache_find(maps, peer_addr, &id);
	if (err)
		return err;
	if (dir == EW_DIR_INGRESS && id.identity == EW_IDENTITY_HOST) {
		s->checked = false;
		return 0;
	}
	peers[n++] = id.identity;
	if (id.cidr_identity != id.identity)
		peers[n++] = id.cidr_identity;
	peers[n++] = EW_IDENTITY_ANY;
	for (size_t i = 0; i < n && s->checked; i++) {
		err = side_add_peer(cfg, maps, &key, peers[i], s);
		if (err)
			return err;
	}
	return 0;
}

/* The side of c in dir: checked when its pod (the server for ingress, the
 * client for egress) is an endpoint here with the L7 flag for dir. */
static int direction_select(const struct l7_config *cfg, const struct l7_maps *maps,
			    const struct l7_conn *c, enum ew_dir dir, struct l7_side *s)
{
	bool ingress = dir == EW_DIR_INGRESS;
	struct ew_endpoint_key key = { .ip = ingress ? c->server : c->client };
	__u32 flag = ingress ? EW_EP_INGRESS_L7 : EW_EP_EGRESS_L7;
	struct ew_endpoint ep;
	int found;

	*s = (struct l7_side){ .checked = false };
	found = map_find(maps->endpoints, &key, &ep);
	if (found <= 0 || !(ep.flags & flag))
		return found < 0 ? found : 0;
	return side_select(cfg, maps, ep.identity, dir, ingress ? c->client : c->server,
			   c->server_port, s);
}

/* Every direction checked, with no rule: nothing passes. */
static void select_deny_all(struct l7_selection *sel)
{
	for (int d = 0; d < EW_DIR_MAX; d++)
		sel->side[d] = (struct l7_side){ .checked = true };
}

int l7_select(const struct l7_config *cfg, const struct l7_maps *maps,
	      const struct l7_conn *c, struct l7_selection *sel)
{
	if (!cfg->valid) {
		select_deny_all(sel);
		return 0;
	}
	for (int d = 0; d < EW_DIR_MAX; d++) {
		int err = direction_select(cfg, maps, c, d, &sel->side[d]);

		if (err) {
			select_deny_all(sel);
			return err;
		}
	}
	return 0;
}

/* ---- the verdict ------------------------------------------------------------ */

static const struct ew_http_rule *side_match(const struct l7_side *s,
					     const struct ew_http_head *req)
{
	for (size_t i = 0; i < s->n_entries; i++) {
		const struct ew_http_rule *r;

		r = ew_http_rules_match(s->entries[i]->rules, s->entries[i]->n_rules,
					req);
		if (r)
			return r;
	}
	return NULL;
}

enum ew_dir l7_selection_dir(const struct l7_selection *sel)
{
	return sel->side[EW_DIR_EGRESS].checked ? EW_DIR_EGRESS : EW_DIR_INGRESS;
}

struct l7_verdict l7_judge(const struct l7_selection *sel, const struct ew_http_head *req)
{
	static const enum ew_dir order[] = { EW_DIR_EGRESS, EW_DIR_INGRESS };
	enum ew_dir first = l7_selection_dir(sel);
	struct l7_verdict v = { .allowed = true, .dir = first,
				.rule = sel->side[first].lift_rule };

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		const struct l7_side *s = &sel->side[order[i]];
		const struct ew_http_rule *r;

		if (!s->checked)
			continue;
		r = side_match(s, req);
		v = (struct l7_verdict){ .allowed = r != NULL, .rule = r ? r->id : 0,
					 .dir = order[i] };
		if (!r)
			break;
	}
	return v;
}
