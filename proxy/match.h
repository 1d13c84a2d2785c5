/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP rules of CiliumNetworkPolicy (toPorts[].rules.http[]) and whether a
 * request matches one. As in Cilium, method, path and host are regular
 * expressions (POSIX extended here) matched against the whole of the
 * method, the path as sent and the Host header: "/public" matches "/public"
 * and not "/public/x" or "/public?a=1"; "/public.*" matches all three. A
 * header is "Name" (present) or "Name: value" (present, and every header of
 * that name has exactly that value); every listed one must be there. A
 * field left out matches anything; a rule with no field matches every
 * request.
 */
#ifndef EW_PROXY_MATCH_H
#define EW_PROXY_MATCH_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"

#define EW_HTTP_RULE_MAX_HEADERS 16

struct ew_http_rule {
	uint32_t id;	  /* the ew_policy_rules number of the policy rule it is part of */
	bool has_method, has_path, has_host;
	regex_t method, path, host;
	size_t n_headers;
	struct {
		char *name, *value; /* value NULL: presence only */
	} headers[EW_HTTP_RULE_MAX_HEADERS];
};

/* The fields of one http[] entry, as written in the policy; NULL: absent.
 * headers[i] is "Name" or "Name: value". */
struct ew_http_rule_spec {
	const char *method, *path, *host;
	const char *const *headers;
	size_t n_headers;
};

/* Compiles spec into r. On error returns -1 with a message in err that says
 * which field is wrong and why, in the words of regerror(), e.g.
 * "path \"/a(\": Unmatched ( or \\(". */
int ew_http_rule_compile(struct ew_http_rule *r, uint32_t id,
			 const struct ew_http_rule_spec *spec, char *err, size_t errlen);

void ew_http_rule_free(struct ew_http_rule *r);

bool ew_http_rule_matches(const struct ew_http_rule *r, const struct ew_http_head *req);

/* The first of rules[0..n) that req matches, or NULL: the request is denied. */
const struct ew_http_rule *ew_http_rules_match(const struct ew_http_rule *rules, size_t n,
					       const struct ew_http_head *req);

#endif /* EW_PROXY_MATCH_H */
