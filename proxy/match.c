// SPDX-License-Identifier: Apache-2.0
/*
 * HTTP rules: regular expressions matched against whole fields, and header
 * rules.
 *
 * A pattern is compiled as written and matches a field when its match spans
 * the whole field: regexec() reports the leftmost-longest match, so if some
 * match covers [0, len) that is the one reported. Wrapping the pattern as
 * "^(...)$" would not anchor it: glibc reads an unbalanced ')' as a literal,
 * so "a)|(b)" would become "^(a)|(b))$", open at both ends; and the numbers
 * of back-references would shift by one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "match.h"

static int compile_pattern(regex_t *re, bool *has, const char *field, const char *pattern,
			   char *err, size_t errlen)
{
	char why[128];
	int rc;

	if (!pattern)
		return 0;
	rc = regcomp(re, pattern, REG_EXTENDED);
	if (rc) {
		regerror(rc, re, why, sizeof(why));
		snprintf(err, errlen, "%s \"%s\": %s", field, pattern, why);
		return -1;
	}
	*has = true;
	return 0;
}

/* A C string of s[0..len) without the spaces and tabs around it, or NULL. */
static char *strndup_trimmed(const char *s, size_t len)
{
	while (len && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	return strndup(s, len);
}

/* "Name" or "Name: value"; a name with a space in it could never match. */
static int compile_header(struct ew_http_rule *r, size_t i, const char *spec, char *err,
			  size_t errlen)
{
	size_t name_len = strcspn(spec, ":");
	const char *colon = spec[name_len] ? spec + name_len : NULL;

	if (!name_len || strcspn(spec, " \t") < name_len) {
		snprintf(err, errlen,
			 "headers[%zu] \"%s\": expected \"Name\" or \"Name: value\"", i,
			 spec);
		return -1;
	}
	r->headers[i].name = strndup(spec, name_len);
	if (colon)
		r->headers[i].value = strndup_trimmed(colon + 1, strlen(colon + 1));
	/* Counted now, so that ew_http_rule_free() frees what was allocated. */
	r->n_headers = i + 1;
	if (!r->headers[i].name || (colon && !r->headers[i].value)) {
		snprintf(err, errlen, "headers[%zu] \"%s\": out of memory", i, spec);
		return -1;
	}
	return 0;
}

static int compile_headers(struct ew_http_rule *r, const struct ew_http_rule_spec *spec,
			   char *err, size_t errlen)
{
	if (spec->n_headers > EW_HTTP_RULE_MAX_HEADERS) {
		snprintf(err, errlen, "headers: %zu given, at most %d", spec->n_headers,
			 EW_HTTP_RULE_MAX_HEADERS);
		return -1;
	}
	for (size_t i = 0; i < spec->n_headers; i++)
		if (compile_header(r, i, spec->headers[i], err, errlen))
			return -1;
	return 0;
}

int ew_http_rule_compile(struct ew_http_rule *r, uint32_t id,
			 const struct ew_http_rule_spec *spec, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->id = id;
	if (compile_pattern(&r->method, &r->has_method, "method", spec->method, err,
			    errlen) ||
	    compile_pattern(&r->path, &r->has_path, "path", spec->path, err, errlen) ||
	    compile_pattern(&r->host, &r->has_host, "host", spec->host, err, errlen) ||
	    compile_headers(r, spec, err, errlen)) {
		ew_http_rule_free(r);
		return -1;
	}
	return 0;
}

void ew_http_rule_free(struct ew_http_rule *r)
{
	if (r->has_method)
		regfree(&r->method);
	if (r->has_path)
		regfree(&r->path);
	if (r->has_host)
		regfree(&r->host);
	for (size_t i = 0; i < r->n_headers; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	memset(r, 0, sizeof(*r));
}

/* Whether the match of re spans all of s (see the top of the file). */
static bool field_matches(bool has, const regex_t *re, struct ew_http_str s)
{
	regmatch_t m;
	char *copy;
	bool whole;

	if (!has)
		return true;
	/* A NUL would end the copy early and let a prefix match; the parser
	 * never lets one through. */
	if (s.len && memchr(s.p, '\0', s.len))
		return false;
	copy = malloc(s.len + 1);
	if (!copy)
		return false;
	if (s.len)
		memcpy(copy, s.p, s.len);
	copy[s.len] = '\0';
	whole =
	    regexec(re, copy, 1, &m, 0) == 0 && m.rm_so == 0 && (size_t)m.rm_eo == s.len;
	free(copy);
	return whole;
}

static bool str_is(struct ew_http_str s, const char *lit, bool nocase)
{
	if (s.len != strlen(lit))
		return false;
	return !s.len ||
	       (nocase ? strncasecmp(s.p, lit, s.len) : memcmp(s.p, lit, s.len)) == 0;
}

/* The request has the header and, for a rule with a value, every header of
 * that name has exactly that value: of two, the server may read either. */
static bool header_rule_holds(const char *name, const char *value,
			      const struct ew_http_head *req)
{
	bool seen = false;

	for (size_t i = 0; i < req->n_headers; i++) {
		const struct ew_http_header *hd = &req->headers[i];

		if (!str_is(hd->name, name, true))
			continue;
		if (value && !str_is(hd->value, value, false))
			return false;
		seen = true;
	}
	return seen;
}

bool ew_http_rule_matches(const struct ew_http_rule *r, const struct ew_http_head *req)
{
	if (!field_matches(r->has_method, &r->method, req->method) ||
	    !field_matches(r->has_path, &r->path, req->target) ||
	    !field_matches(r->has_host, &r->host, req->host))
		return false;
	for (size_t i = 0; i < r->n_headers; i++)
		if (!header_rule_holds(r->headers[i].name, r->headers[i].value, req))
			return false;
	return true;
}

const struct ew_http_rule *ew_http_rules_match(const struct ew_http_rule *rules, size_t n,
					       const struct ew_http_head *req)
{
	for (size_t i = 0; i < n; i++)
		if (ew_http_rule_matches(&rules[i], req))
			return &rules[i];
	return NULL;
}
