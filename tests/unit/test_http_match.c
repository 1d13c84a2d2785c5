// SPDX-License-Identifier: Apache-2.0
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "match.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static struct ew_http_rule rule;

static void free_rule(void)
{
	ew_http_rule_free(&rule);
}

TestSuite(http_match, .fini = free_rule);

static void compile(const struct ew_http_rule_spec *spec)
{
	char err[256] = "";

	cr_assert_eq(ew_http_rule_compile(&rule, 7, spec, err, sizeof(err)), 0, "%s",
		     err);
}

/* The head of "METHOD TARGET HTTP/1.x" plus the header lines in headers;
 * the slices point into a buffer that lives as long as the test. */
static struct ew_http_head request(const char *method, const char *target, int minor,
				   const char *headers)
{
	static char bufs[8][1024];
	static size_t next;
	char *buf = bufs[next++ % N(bufs)];
	struct ew_http_head h;
	int n = snprintf(buf, sizeof(bufs[0]), "%s %s HTTP/1.%d\r\n%s\r\n", method,
			 target, minor, headers);

	cr_assert_eq(ew_http_parse_request(buf, n, &h), EW_HTTP_OK, "%s", buf);
	return h;
}

static bool path_matches(const char *target)
{
	struct ew_http_head h = request("GET", target, 1, "Host: a\r\n");

	return ew_http_rule_matches(&rule, &h);
}

static bool method_matches(const char *method)
{
	struct ew_http_head h = request(method, "/", 1, "Host: a\r\n");

	return ew_http_rule_matches(&rule, &h);
}

static bool headers_match(const char *headers)
{
	struct ew_http_head h = request("GET", "/", 1, headers);

	return ew_http_rule_matches(&rule, &h);
}

Test(http_match, path_is_anchored)
{
	compile(&(struct ew_http_rule_spec){ .path = "/public" });
	cr_assert(path_matches("/public"));
	cr_assert_not(path_matches("/public/x"));
	cr_assert_not(path_matches("/public?a=1"));
	cr_assert_not(path_matches("/x/public"));
	cr_assert_not(path_matches("/publi"));
}

Test(http_match, path_with_wildcard)
{
	compile(&(struct ew_http_rule_spec){ .path = "/public.*" });
	cr_assert(path_matches("/public"));
	cr_assert(path_matches("/public/x"));
	cr_assert(path_matches("/public?a=1"));
	cr_assert_not(path_matches("/private/public"));
}

Test(http_match, path_as_sent)
{
	compile(&(struct ew_http_rule_spec){ .path = "/public/.*" });
	cr_assert(path_matches("/public/%73ecret"), "matched as sent, not decoded");
	cr_assert_not(path_matches("/public%2Fsecret"), "an escaped slash is no slash");
	ew_http_rule_free(&rule);
	compile(&(struct ew_http_rule_spec){ .path = "/secret" });
	cr_assert_not(path_matches("//secret"), "nor normalised");
	cr_assert_not(path_matches("/%73ecret"));
}

Test(http_match, alternation_stays_anchored)
{
	compile(&(struct ew_http_rule_spec){ .path = "/a|/b" });
	cr_assert(path_matches("/a"));
	cr_assert(path_matches("/b"));
	cr_assert_not(path_matches("/a/x"));
	cr_assert_not(path_matches("/x/b"));
}

Test(http_match, unbalanced_paren_cannot_open_the_anchors)
{
	/* glibc reads the lone ')' as a literal: wrapped as ^(...)$ this would
	 * become "^(/a)|(/b))$" and match anything under /a. */
	compile(&(struct ew_http_rule_spec){ .path = "/a)|(/b)" });
	cr_assert(path_matches("/a)"));
	cr_assert(path_matches("/b"));
	cr_assert_not(path_matches("/a/secret"));
	cr_assert_not(path_matches("/a"));
}

Test(http_match, back_reference)
{
	compile(&(struct ew_http_rule_spec){ .path = "/(x+)/\\1" });
	cr_assert(path_matches("/xx/xx"));
	cr_assert_not(path_matches("/xx/x"));
}

Test(http_match, method_alternation)
{
	compile(&(struct ew_http_rule_spec){ .method = "GET|HEAD" });
	cr_assert(method_matches("GET"));
	cr_assert(method_matches("HEAD"));
	cr_assert_not(method_matches("POST"));
	cr_assert_not(method_matches("GETX"));
	cr_assert_not(method_matches("XHEAD"));
	cr_assert_not(method_matches("get"), "methods are case-sensitive");
}

Test(http_match, host)
{
	struct ew_http_head with_port =
	    request("GET", "/", 1, "Host: api.example.com:8080\r\n");
	struct ew_http_head other = request("GET", "/", 1, "Host: apixexample.com\r\n");
	struct ew_http_head none = request("GET", "/", 0, "");
	struct ew_http_head plain = request("GET", "/", 1, "Host: api.example.com\r\n");

	compile(&(struct ew_http_rule_spec){ .host = "api\\.example\\.com" });
	cr_assert(ew_http_rule_matches(&rule, &plain));
	cr_assert_not(ew_http_rule_matches(&rule, &with_port));
	cr_assert_not(ew_http_rule_matches(&rule, &other));
	cr_assert_not(ew_http_rule_matches(&rule, &none), "HTTP/1.0 without Host");
	ew_http_rule_free(&rule);
	compile(&(struct ew_http_rule_spec){ .host = "api\\.example\\.com(:[0-9]+)?" });
	cr_assert(ew_http_rule_matches(&rule, &plain));
	cr_assert(ew_http_rule_matches(&rule, &with_port));
}

Test(http_match, header_present)
{
	static const char *const headers[] = { "X-Token" };

	compile(&(struct ew_http_rule_spec){ .headers = headers, .n_headers = 1 });
	cr_assert(headers_match("Host: a\r\nx-token: anything\r\n"));
	cr_assert(headers_match("Host: a\r\nX-TOKEN:\r\n"), "present, though empty");
	cr_assert_not(headers_match("Host: a\r\n"));
	cr_assert_not(headers_match("Host: a\r\nX-Tokens: 1\r\n"));
}

Test(http_match, header_value)
{
	static const char *const headers[] = { "X-Token:  secret\t" };

	compile(&(struct ew_http_rule_spec){ .headers = headers, .n_headers = 1 });
	cr_assert_str_eq(rule.headers[0].name, "X-Token");
	cr_assert_str_eq(rule.headers[0].value, "secret");
	cr_assert(headers_match("Host: a\r\nx-token: secret\r\n"));
	cr_assert(headers_match("Host: a\r\nX-Token: secret\r\nX-Token: secret\r\n"));
	cr_assert_not(headers_match("Host: a\r\nX-Token: Secret\r\n"),
		      "values are exact");
	cr_assert_not(headers_match("Host: a\r\nX-Token: secret2\r\n"));
	cr_assert_not(headers_match("Host: a\r\nX-Token: secre\r\n"));
	cr_assert_not(headers_match("Host: a\r\n"));
	cr_assert_not(headers_match("Host: a\r\nX-Token: secret\r\nX-Token: other\r\n"),
		      "the server may read the other one");
}

Test(http_match, header_empty_value)
{
	static const char *const headers[] = { "X-Empty:" };

	compile(&(struct ew_http_rule_spec){ .headers = headers, .n_headers = 1 });
	cr_assert_str_eq(rule.headers[0].value, "");
	cr_assert(headers_match("Host: a\r\nX-Empty:  \r\n"));
	cr_assert_not(headers_match("Host: a\r\nX-Empty: x\r\n"));
}

Test(http_match, every_listed_header)
{
	static const char *const headers[] = { "A", "B: 2" };

	compile(&(struct ew_http_rule_spec){ .headers = headers, .n_headers = 2 });
	cr_assert(headers_match("Host: h\r\nB: 2\r\nA: 1\r\n"));
	cr_assert_not(headers_match("Host: h\r\nA: 1\r\n"));
	cr_assert_not(headers_match("Host: h\r\nB: 2\r\n"));
}

Test(http_match, all_fields)
{
	static const char *const headers[] = { "X-Env: prod" };
	struct ew_http_head yes =
	    request("POST", "/v1/orders", 1, "Host: shop\r\nX-Env: prod\r\n");
	struct ew_http_head wrong_host =
	    request("POST", "/v1/orders", 1, "Host: shop2\r\nX-Env: prod\r\n");

	compile(&(struct ew_http_rule_spec){ .method = "POST",
					     .path = "/v[0-9]+/orders",
					     .host = "shop",
					     .headers = headers,
					     .n_headers = 1 });
	cr_assert_eq(rule.id, 7);
	cr_assert(ew_http_rule_matches(&rule, &yes));
	cr_assert_not(ew_http_rule_matches(&rule, &wrong_host));
}

Test(http_match, empty_rule_matches_all)
{
	struct ew_http_head requests[] = {
		request("GET", "/", 1, "Host: a\r\n"),
		request("DELETE", "/x?y", 1, "Host: b\r\nX: 1\r\n"),
		request("OPTIONS", "*", 0, ""),
	};

	compile(&(struct ew_http_rule_spec){ 0 });
	for (size_t i = 0; i < N(requests); i++)
		cr_assert(ew_http_rule_matches(&rule, &requests[i]), "request %zu", i);
}

Test(http_match, empty_pattern_matches_empty_only)
{
	struct ew_http_head none = request("GET", "/", 0, "");
	struct ew_http_head some = request("GET", "/", 1, "Host: a\r\n");

	compile(&(struct ew_http_rule_spec){ .host = "" });
	cr_assert(ew_http_rule_matches(&rule, &none));
	cr_assert_not(ew_http_rule_matches(&rule, &some));
}

Test(http_match, first_matching_rule)
{
	struct ew_http_rule rules[3];
	struct ew_http_head get = request("GET", "/b", 1, "Host: a\r\n");
	struct ew_http_head put = request("PUT", "/b", 1, "Host: a\r\n");
	const struct ew_http_rule_spec specs[3] = {
		{ .path = "/a" },
		{ .method = "GET" },
		{ .path = "/.*" },
	};
	char err[128];

	for (uint32_t i = 0; i < N(rules); i++)
		cr_assert_eq(
		    ew_http_rule_compile(&rules[i], 10 + i, &specs[i], err, sizeof(err)),
		    0, "%s", err);
	cr_assert_eq(ew_http_rules_match(rules, N(rules), &get), &rules[1]);
	cr_assert_eq(ew_http_rules_match(rules, N(rules), &put), &rules[2]);
	cr_assert_null(ew_http_rules_match(rules, 2, &put), "denied");
	cr_assert_null(ew_http_rules_match(rules, 0, &get), "no rule, no request");
	for (size_t i = 0; i < N(rules); i++)
		ew_http_rule_free(&rules[i]);
}

/* --- errors and freeing ------------------------------------------------------------ */

static void assert_compile_error(const struct ew_http_rule_spec *spec, const char *want)
{
	char err[256] = "";

	cr_assert_eq(ew_http_rule_compile(&rule, 1, spec, err, sizeof(err)), -1);
	cr_assert(strstr(err, want), "\"%s\" does not say \"%s\"", err, want);
	cr_assert_not(rule.has_method || rule.has_path || rule.has_host || rule.n_headers,
		      "a failed compile leaves nothing to free");
}

Test(http_match, invalid_regex_names_the_field)
{
	assert_compile_error(&(struct ew_http_rule_spec){ .method = "GET(" },
			     "method \"GET(\": Unmatched ( or \\(");
	assert_compile_error(
	    &(struct ew_http_rule_spec){ .method = "GET", .path = "/a[" },
	    "path \"/a[\": ");
	assert_compile_error(&(struct ew_http_rule_spec){ .path = "/.*", .host = "a\\" },
			     "host \"a\\\": Trailing backslash");
	assert_compile_error(&(struct ew_http_rule_spec){ .path = "/x{2,1}" },
			     "path \"/x{2,1}\"");
}

Test(http_match, invalid_header_names_its_index)
{
	static const char *const space[] = { "A", "X Token: 1" };
	static const char *const empty[] = { "A", "B", "" };
	static const char *const no_name[] = { ": value" };
	static const char *const tab[] = { "X\t: value" };

	assert_compile_error(
	    &(struct ew_http_rule_spec){ .path = "/", .headers = space, .n_headers = 2 },
	    "headers[1] \"X Token: 1\": expected \"Name\" or \"Name: value\"");
	assert_compile_error(
	    &(struct ew_http_rule_spec){ .headers = empty, .n_headers = 3 },
	    "headers[2]");
	assert_compile_error(
	    &(struct ew_http_rule_spec){ .headers = no_name, .n_headers = 1 },
	    "headers[0]");
	assert_compile_error(
	    &(struct ew_http_rule_spec){ .headers = tab, .n_headers = 1 }, "headers[0]");
}

Test(http_match, too_many_headers)
{
	const char *headers[EW_HTTP_RULE_MAX_HEADERS + 1];

	for (size_t i = 0; i < N(headers); i++)
		headers[i] = "X";
	assert_compile_error(
	    &(struct ew_http_rule_spec){ .headers = headers, .n_headers = N(headers) },
	    "headers: 17 given, at most 16");
	compile(&(struct ew_http_rule_spec){ .headers = headers,
					     .n_headers = EW_HTTP_RULE_MAX_HEADERS });
	cr_assert_eq(rule.n_headers, EW_HTTP_RULE_MAX_HEADERS);
}

Test(http_match, free_clears_the_rule)
{
	static const char *const headers[] = { "A", "B: 2" };

	compile(&(struct ew_http_rule_spec){ .method = "GET",
					     .path = "/",
					     .host = "h",
					     .headers = headers,
					     .n_headers = 2 });
	cr_assert(rule.has_method && rule.has_path && rule.has_host);
	ew_http_rule_free(&rule);
	cr_assert_not(rule.has_method || rule.has_path || rule.has_host);
	cr_assert_eq(rule.n_headers, 0);
	ew_http_rule_free(&rule);
}
