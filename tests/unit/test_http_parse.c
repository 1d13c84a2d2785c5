// SPDX-License-Identifier: Apache-2.0
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

/* Literals may hold a NUL: their length is taken from sizeof. */
#define LIT(s) s, sizeof(s) - 1

static const struct ew_http_str get = { "GET", 3 }, head = { "HEAD", 4 };

static void assert_str(struct ew_http_str s, const char *want)
{
	cr_assert_eq(s.len, strlen(want), "\"%.*s\" is not \"%s\"", (int)s.len, s.p,
		     want);
	cr_assert_arr_eq(s.p, want, s.len, "\"%.*s\" is not \"%s\"", (int)s.len, s.p,
			 want);
}

static void assert_bad_request(const char *buf, size_t len)
{
	struct ew_http_head h;

	cr_assert_eq(ew_http_parse_request(buf, len, &h), EW_HTTP_BAD, "not BAD: %.*s",
		     (int)len, buf);
}

static void assert_bad_response(const char *buf, size_t len)
{
	struct ew_http_head h;

	cr_assert_eq(ew_http_parse_response(buf, len, get, &h), EW_HTTP_BAD,
		     "not BAD: %.*s", (int)len, buf);
}

static void parse_request_ok(const char *buf, size_t len, struct ew_http_head *h)
{
	cr_assert_eq(ew_http_parse_request(buf, len, h), EW_HTTP_OK, "not OK: %.*s",
		     (int)len, buf);
}

static void parse_response_ok(const char *buf, size_t len, struct ew_http_str method,
			      struct ew_http_head *h)
{
	cr_assert_eq(ew_http_parse_response(buf, len, method, h), EW_HTTP_OK,
		     "not OK: %.*s", (int)len, buf);
}

static void assert_same_head(const struct ew_http_head *a, const struct ew_http_head *b)
{
	cr_assert(a->method.p == b->method.p && a->method.len == b->method.len);
	cr_assert(a->target.p == b->target.p && a->target.len == b->target.len);
	cr_assert(a->host.p == b->host.p && a->host.len == b->host.len);
	cr_assert_eq(a->minor_version, b->minor_version);
	cr_assert_eq(a->status, b->status);
	cr_assert_eq(a->n_headers, b->n_headers);
	cr_assert_arr_eq(a->headers, b->headers, a->n_headers * sizeof(a->headers[0]));
	cr_assert_eq(a->head_len, b->head_len);
	cr_assert_eq(a->body, b->body);
	cr_assert_eq(a->body_length, b->body_length);
	cr_assert_eq(a->keep_alive, b->keep_alive);
}

/* Feeds buf[0..len) to a body started from h in two calls split at split;
 * returns the status and in *used the bytes of body. */
static enum ew_http_status feed_split(const struct ew_http_head *h, const char *buf,
				      size_t len, size_t split, size_t *used)
{
	struct ew_http_body b;
	enum ew_http_status st;
	size_t more = 0;

	ew_http_body_start(&b, h);
	st = ew_http_body_feed(&b, buf, split, used);
	if (st != EW_HTTP_INCOMPLETE)
		return st;
	cr_assert_eq(*used, split, "INCOMPLETE consumes all it is given");
	st = ew_http_body_feed(&b, buf + split, len - split, &more);
	*used += more;
	return st;
}

static const struct ew_http_head chunked_head = { .body = EW_HTTP_BODY_CHUNKED };

static enum ew_http_status feed_chunked(const char *buf, size_t len, size_t *used)
{
	return feed_split(&chunked_head, buf, len, len, used);
}

/* --- requests ------------------------------------------------------------------ */

TestSuite(http_request);

Test(http_request, simple_get)
{
	static const char msg[] = "GET /index.html?q=%2e%2E/x HTTP/1.1\r\n"
				  "Host: example.com:8080\r\n"
				  "Accept:  \t*/*\t \r\n"
				  "\r\n";
	struct ew_http_head h;

	parse_request_ok(LIT(msg), &h);
	assert_str(h.method, "GET");
	assert_str(h.target, "/index.html?q=%2e%2E/x");
	assert_str(h.host, "example.com:8080");
	cr_assert_eq(h.minor_version, 1);
	cr_assert_eq(h.n_headers, 2);
	assert_str(h.headers[0].name, "Host");
	assert_str(h.headers[1].name, "Accept");
	assert_str(h.headers[1].value, "*/*");
	cr_assert_eq(h.head_len, sizeof(msg) - 1);
	cr_assert_eq(h.body, EW_HTTP_BODY_NONE);
	cr_assert(h.keep_alive);
}

Test(http_request, header_find_ignores_case)
{
	static const char msg[] =
	    "GET / HTTP/1.1\r\nHost: a\r\nX-Id: 1\r\nx-id: 2\r\n\r\n";
	struct ew_http_head h;

	parse_request_ok(LIT(msg), &h);
	assert_str(*ew_http_header_find(&h, "X-ID"), "1");
	assert_str(*ew_http_header_find(&h, "host"), "a");
	cr_assert_null(ew_http_header_find(&h, "X-I"));
	cr_assert_null(ew_http_header_find(&h, "Accept"));
}

Test(http_request, options_asterisk)
{
	struct ew_http_head h;

	parse_request_ok(LIT("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"), &h);
	assert_str(h.target, "*");
}

Test(http_request, empty_header_value)
{
	struct ew_http_head h;

	parse_request_ok(LIT("GET / HTTP/1.1\r\nHost:\r\nX-Empty:   \r\n\r\n"), &h);
	cr_assert_eq(h.host.len, 0);
	cr_assert_eq(h.headers[1].value.len, 0);
}

Test(http_request, http10_needs_no_host)
{
	struct ew_http_head h;

	parse_request_ok(LIT("GET / HTTP/1.0\r\n\r\n"), &h);
	cr_assert_eq(h.minor_version, 0);
	cr_assert_eq(h.host.len, 0);
}

Test(http_request, pipelined)
{
	static const char buf[] =
	    "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n"
	    "hello"
	    "PUT /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "3\r\nabc\r\n0\r\n\r\n"
	    "GET /c HTTP/1.1\r\nHost: h\r\n\r\n";
	const char *targets[] = { "/a", "/b", "/c" };
	size_t bodies[] = { 5, 13, 0 };
	size_t at = 0, len = sizeof(buf) - 1;

	for (size_t i = 0; i < 3; i++) {
		struct ew_http_head h;
		size_t used;

		parse_request_ok(buf + at, len - at, &h);
		assert_str(h.target, targets[i]);
		at += h.head_len;
		cr_assert_eq(feed_split(&h, buf + at, len - at, len - at, &used),
			     EW_HTTP_OK);
		cr_assert_eq(used, bodies[i], "message %zu", i);
		at += used;
	}
	cr_assert_eq(at, len);
}

Test(http_request, split_at_every_byte)
{
	static const char buf[] = "DELETE /items/7?force=1 HTTP/1.1\r\nHost: store\r\n"
				  "Content-Length: 2\r\n\r\n"
				  "{}GET / HTTP/1.1\r\n";
	size_t head_len = strstr(buf, "{}") - buf;
	struct ew_http_head whole, part;

	parse_request_ok(buf, head_len, &whole);
	cr_assert_eq(whole.head_len, head_len);
	for (size_t k = 0; k < head_len; k++)
		cr_assert_eq(ew_http_parse_request(buf, k, &part), EW_HTTP_INCOMPLETE,
			     "prefix of %zu bytes", k);
	for (size_t k = head_len; k < sizeof(buf); k++) {
		parse_request_ok(buf, k, &part);
		assert_same_head(&part, &whole);
	}
}

Test(http_request, content_length)
{
	struct ew_http_head h;

	parse_request_ok(
	    LIT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0012\r\n\r\n"), &h);
	cr_assert_eq(h.body, EW_HTTP_BODY_LENGTH);
	cr_assert_eq(h.body_length, 12);
	parse_request_ok(LIT("POST / HTTP/1.1\r\nHost: a\r\ncontent-length: 7\r\n"
			     "Content-Length: 7\r\n\r\n"),
			 &h);
	cr_assert_eq(h.body_length, 7, "the same value twice is one value");
	parse_request_ok(LIT("POST / HTTP/1.1\r\nHost: a\r\n"
			     "Content-Length: 18446744073709551615\r\n\r\n"),
			 &h);
	cr_assert_eq(h.body_length, UINT64_MAX);
	parse_request_ok(LIT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"),
			 &h);
	cr_assert_eq(h.body, EW_HTTP_BODY_NONE);
}

Test(http_request, length_body_split)
{
	static const char body[] = "0123456789NEXT";
	struct ew_http_head h = { .body = EW_HTTP_BODY_LENGTH, .body_length = 10 };

	for (size_t k = 0; k <= sizeof(body) - 1; k++) {
		size_t used;

		cr_assert_eq(feed_split(&h, LIT(body), k, &used), EW_HTTP_OK);
		cr_assert_eq(used, 10);
	}
}

/* --- strictness: each rule of http.h -------------------------------------------------
 */

TestSuite(http_strict);

Test(http_strict, bare_lf_ends_request_line)
{
	assert_bad_request(LIT("GET / HTTP/1.1\nHost: a\r\n\r\n"));
}

Test(http_strict, bare_lf_ends_header)
{
	assert_bad_request(LIT("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n"));
}

Test(http_strict, bare_lf_ends_head)
{
	assert_bad_request(LIT("GET / HTTP/1.1\r\nHost: a\r\n\n"));
}

Test(http_strict, bare_cr)
{
	assert_bad_request(LIT("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n"));
}

Test(http_strict, nul_in_header)
{
	assert_bad_request(LIT("GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n"));
}

Test(http_strict, control_byte_in_header)
{
	assert_bad_request(LIT("GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n"));
	assert_bad_request(LIT("GET / HTTP/1.1\r\nHost: a\r\nX: \x7f\r\n\r\n"));
}

Test(http_strict, control_byte_in_request_line)
{
	assert_bad_request(LIT("GET /\x1b HTTP/1.1\r\nHost: a\r\n\r\n"));
}

Test(http_strict, malformed_seen_before_head_ends)
{
	assert_bad_request(LIT("GET / HTTP/1.1\r\nHo\nst"));
}

Test(http_strict, request_line_extra_space)
{
	assert_bad_request(LIT("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"));
	assert_bad_request(LIT("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"));
	assert_bad_request(LIT(" GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
}

/* A server resolves dot segments: /public/../admin is /admin to it. */
Test(http_strict, dot_segments_in_the_path)
{
	assert_bad_request(LIT("GET /public/../admin HTTP/1.1\r\nHost: a\r\n\r\n"));
	assert_bad_request(LIT("GET /public/./x HTTP/1.1\r\nHost: a\r\n\r\n"));
	assert_bad_request(LIT("GET /.. HTTP/1.1\r\nHost: a\r\n\r\n"));
	assert_bad_request(LIT("GET /a/.?q HTTP/1.1\r\nHost: a\r\n\r\n"));
	assert_bad_request(LIT("GET /public/%2e%2E/admin HTTP/1.1\r\nHost: a\r\n\r\n"));
	assert_bad_request(LIT("GET /public/.%2e HTTP/1.1\r\nHost: a\r\n\r\n"));
}

/* Dots inside a segment, or after the query starts, are no dot segments. */
Test(http_request, dots_that_are_no_dot_segments)
{
	struct ew_http_head h;

	cr_assert_eq(ew_http_parse_request(LIT("GET /a..b/.x/x./.../%2e%2f HTTP/1.1\r\nHost: a\r\n\r\n"),
					   &h),
		     EW_HTTP_OK);
	cr_assert_eq(ew_http_parse_request(LIT("GET /a?p=/../ HTTP/1.1\r\nHost: a\r\n\r\n"), &h),
		     EW_HTTP_OK);
}

Test(http_strict, request_line_tab_for_space)
{
	assert_bad_request(LIT("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n"));
}

Test(http_strict, request_line_missing_part)
{
	assert_bad_request(LIT("GET /\r\nHost: a\r\n\r\n"));
	assert_bad_request(LIT("GET\r\nHost: a\r\n\r\n"));
	assert_bad_request(LIT("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"));
}

Test(http_strict, version_other_than_1_0_or_1_1)
{
	assert_bad_request(LIT("GET / HTTP/1.2\r\nHost: a\r\n\r\n"));
	assert_bad_request(LIT("GET / HTTP/2.0\r\nHost: a\r\n\r\n"));
	assert_bad_request(LIT("GET / http/1.1\r\nHost: a\r\n\r\n"));
	assert_bad_request(LIT("GET / HTTP/1.10\r\nHost: a\r\n\r\n"));
	assert_bad_request(LIT("GET / HTTP/1\r\nHost: a\r\n\r\n"));
}

Test(http_strict, method_not_a_token)
{
	assert_bad_request(LIT("GE(T / HTTP/1.1\r\nHost: a\r\n\r\n"));
	assert_bad_request(LIT("G\xc3\x89T / HTTP/1.1\r\nHost: a\r\n\r\n"));
}

Test(http_strict, target_not_origin_form)
{
	assert_bad_request(LIT("GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n"));
	assert_bad_request(LIT("CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n"));
	assert_bad_request(LIT("GET index.html HTTP/1.1\r\nHost: a\r\n\r\n"));
}

Test(http_strict, target_not_visible_ascii)
{
	assert_bad_request(LIT("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n"));
}

Test(http_strict, asterisk_only_for_options)
{
	assert_bad_request(LIT("GET * HTTP/1.1\r\nHost: a\r\n\r\n"));
	assert_bad_request(LIT("OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n"));
}

Test(http_strict, space_before_colon)
{
	assert_bad_request(LIT("GET / HTTP/1.1\r\nHost : a\r\n\r\n"));
	assert_bad_request(
	    LIT("GET / HTTP/1.1\r\nHost: a\r\nContent-Length\t: 5\r\n\r\n"));
}

Test(http_strict, header_name_not_a_token)
{
	assert_bad_request(LIT("GET / HTTP/1.1\r\nHost: a\r\nX(y): b\r\n\r\n"));
	assert_bad_request(LIT("GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n"));
}

Test(http_strict, header_without_colon)
{
	assert_bad_request(LIT("GET / HTTP/1.1\r\nHost: a\r\nX-Flag\r\n\r\n"));
}

Test(http_strict, obsolete_line_folding)
{
	assert_bad_request(LIT("GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n"));
	assert_bad_request(LIT("GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\tc\r\n\r\n"));
}

Test(http_strict, transfer_encoding_not_chunked)
{
	assert_bad_request(
	    LIT("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"));
	assert_bad_request(LIT(
	    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"));
	assert_bad_request(
	    LIT("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n"));
	assert_bad_request(
	    LIT("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n"));
}

Test(http_strict, transfer_encoding_twice)
{
	assert_bad_request(
	    LIT("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
		"Transfer-Encoding: chunked\r\n\r\n"));
}

Test(http_strict, transfer_encoding_with_content_length)
{
	assert_bad_request(LIT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
			       "Transfer-Encoding: chunked\r\n\r\n"));
	assert_bad_request(
	    LIT("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
		"Content-Length: 3\r\n\r\n"));
}

Test(http_strict, transfer_encoding_in_http10)
{
	assert_bad_request(LIT("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"));
	assert_bad_response(LIT("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"));
}

Test(http_strict, content_lengths_differ)
{
	assert_bad_request(LIT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
			       "Content-Length: 4\r\n\r\n"));
}

Test(http_strict, content_length_not_decimal)
{
	static const char *const values[] = {
		"",
		"-1",
		"+5",
		"0x10",
		"5, 5",
		"5 5",
		"1e3",
		"\xd9\xa5",
		"18446744073709551616",
		"99999999999999999999999",
	};
	char buf[256];

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		int n =
		    snprintf(buf, sizeof(buf),
			     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %s\r\n\r\n",
			     values[i]);
		assert_bad_request(buf, n);
	}
}

Test(http_strict, http11_without_host)
{
	assert_bad_request(LIT("GET / HTTP/1.1\r\nX: a\r\n\r\n"));
}

Test(http_strict, two_hosts)
{
	assert_bad_request(LIT("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n"));
	assert_bad_request(LIT("GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n"));
}

Test(http_strict, status_line)
{
	assert_bad_response(LIT("HTTP/1.1 20 OK\r\n\r\n"));
	assert_bad_response(LIT("HTTP/1.1 2000 OK\r\n\r\n"));
	assert_bad_response(LIT("HTTP/1.1 099 Low\r\n\r\n"));
	assert_bad_response(LIT("HTTP/1.1 600 High\r\n\r\n"));
	assert_bad_response(LIT("HTTP/1.1  200 OK\r\n\r\n"));
	assert_bad_response(LIT("HTTP/1.2 200 OK\r\n\r\n"));
	assert_bad_response(LIT("HTTP/1.1 2x0 OK\r\n\r\n"));
	assert_bad_response(LIT("HTTP/1.1 200 OK\n\r\n"));
}

/* --- limits ---------------------------------------------------------------------- */

TestSuite(http_limits);

/* A request whose head is exactly len bytes, padded by one header. */
static char *request_of_size(size_t len)
{
	static const char start[] = "GET / HTTP/1.1\r\nHost: a\r\nX: ",
			  end[] = "\r\n\r\n";
	char *buf = malloc(len + 1);
	size_t pad = len - (sizeof(start) - 1) - (sizeof(end) - 1);

	cr_assert_not_null(buf);
	memcpy(buf, start, sizeof(start) - 1);
	memset(buf + sizeof(start) - 1, 'x', pad);
	memcpy(buf + len - (sizeof(end) - 1), end, sizeof(end));
	return buf;
}

Test(http_limits, head_of_max_size)
{
	char *buf = request_of_size(EW_HTTP_MAX_HEAD);
	struct ew_http_head h;

	parse_request_ok(buf, EW_HTTP_MAX_HEAD, &h);
	cr_assert_eq(h.head_len, EW_HTTP_MAX_HEAD);
	free(buf);
}

Test(http_limits, head_over_max_size)
{
	char *buf = request_of_size(EW_HTTP_MAX_HEAD + 1);
	struct ew_http_head h;

	cr_assert_eq(ew_http_parse_request(buf, EW_HTTP_MAX_HEAD - 1, &h),
		     EW_HTTP_INCOMPLETE);
	cr_assert_eq(ew_http_parse_request(buf, EW_HTTP_MAX_HEAD, &h), EW_HTTP_TOO_LARGE,
		     "the last LF cannot fit any more");
	cr_assert_eq(ew_http_parse_request(buf, EW_HTTP_MAX_HEAD + 1, &h),
		     EW_HTTP_TOO_LARGE);
	free(buf);
}

Test(http_limits, endless_line)
{
	char *buf = malloc(EW_HTTP_MAX_HEAD * 2);
	struct ew_http_head h;

	cr_assert_not_null(buf);
	memcpy(buf, "GET /", 5);
	memset(buf + 5, 'a', EW_HTTP_MAX_HEAD * 2 - 5);
	cr_assert_eq(ew_http_parse_request(buf, EW_HTTP_MAX_HEAD * 2, &h),
		     EW_HTTP_TOO_LARGE);
	free(buf);
}

static size_t request_with_headers(char *buf, size_t size, size_t n_headers)
{
	size_t len = snprintf(buf, size, "GET / HTTP/1.1\r\nHost: a\r\n");

	for (size_t i = 1; i < n_headers; i++)
		len += snprintf(buf + len, size - len, "X-%zu: %zu\r\n", i, i);
	len += snprintf(buf + len, size - len, "\r\n");
	cr_assert_lt(len, size);
	return len;
}

Test(http_limits, too_many_headers)
{
	char buf[4096];
	struct ew_http_head h;
	size_t len = request_with_headers(buf, sizeof(buf), EW_HTTP_MAX_HEADERS);

	parse_request_ok(buf, len, &h);
	cr_assert_eq(h.n_headers, EW_HTTP_MAX_HEADERS);
	len = request_with_headers(buf, sizeof(buf), EW_HTTP_MAX_HEADERS + 1);
	cr_assert_eq(ew_http_parse_request(buf, len, &h), EW_HTTP_TOO_LARGE);
}

/* --- chunked bodies --------------------------------------------------------------- */

TestSuite(http_chunked);

Test(http_chunked, split_at_every_byte)
{
	static const char buf[] = "4;name=\"va lue\";x\r\nWiki\r\n"
				  "5 ; y\r\npedia\r\n"
				  "E\r\n in\r\n\r\nchunks.\r\n"
				  "000\r\n"
				  "Expires: never\r\nX-Sum:\t1 2\r\n"
				  "\r\n"
				  "GET / HTTP/1.1\r\n";
	size_t body_len = strstr(buf, "GET") - buf;

	for (size_t k = 0; k < sizeof(buf); k++) {
		size_t used;

		cr_assert_eq(feed_split(&chunked_head, LIT(buf), k, &used), EW_HTTP_OK,
			     "split at %zu", k);
		cr_assert_eq(used, body_len, "split at %zu", k);
	}
}

Test(http_chunked, byte_by_byte)
{
	static const char buf[] = "a\r\n0123456789\r\n0\r\n\r\n";
	struct ew_http_body b;
	size_t used, i;

	ew_http_body_start(&b, &chunked_head);
	for (i = 0; i + 1 < sizeof(buf) - 1; i++) {
		cr_assert_eq(ew_http_body_feed(&b, buf + i, 1, &used),
			     EW_HTTP_INCOMPLETE);
		cr_assert_eq(used, 1);
	}
	cr_assert_eq(ew_http_body_feed(&b, buf + i, 1, &used), EW_HTTP_OK);
	cr_assert_eq(ew_http_body_feed(&b, LIT("more"), &used), EW_HTTP_OK);
	cr_assert_eq(used, 0, "an ended body takes no more");
}

Test(http_chunked, size_overflow)
{
	size_t used;

	cr_assert_eq(feed_chunked(LIT("10000000000000000\r\n"), &used), EW_HTTP_BAD);
	cr_assert_eq(feed_chunked(LIT("ffffffffffffffff0\r\n"), &used), EW_HTTP_BAD);
	cr_assert_eq(feed_chunked(LIT("ffffffffffffffff\r\nabc"), &used),
		     EW_HTTP_INCOMPLETE, "2^64 - 1 fits");
	cr_assert_eq(
	    feed_chunked(LIT("00000000000000000000001\r\nx\r\n0\r\n\r\n"), &used),
	    EW_HTTP_OK, "leading zeros add nothing");
}

Test(http_chunked, trailers)
{
	static const char buf[] = "0\r\nA: 1\r\nB-2:\r\nc: x\t y\r\n\r\n!";
	size_t used;

	cr_assert_eq(feed_chunked(LIT(buf), &used), EW_HTTP_OK);
	cr_assert_eq(used, sizeof(buf) - 2);
}

Test(http_chunked, malformed)
{
	static const char *const bodies[] = {
		"\r\n",			    /* no size */
		"g\r\n",		    /* not hex */
		"-1\r\n",		    /* sign */
		"5\n",			    /* bare LF after the size */
		"5\rx",			    /* bare CR */
		"5 \r\n",		    /* spaces without an extension */
		"5;a\nb\r\n",		    /* bare LF in an extension */
		"5;a\x01\r\n",		    /* control byte in an extension */
		"3\r\nabcX",		    /* data longer than its size */
		"3\r\nabc\n",		    /* bare LF after data */
		"0\r\nX\r\n\r\n",	    /* trailer without a colon */
		"0\r\nX : y\r\n\r\n",	    /* space before the colon */
		"0\r\nA: 1\r\n folded\r\n", /* trailer line folding */
		"0\r\nA: 1\n\r\n",	    /* bare LF in trailers */
		"0\r\n\r\r",		    /* bare CR at the end */
	};

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		size_t used;

		cr_assert_eq(feed_chunked(bodies[i], strlen(bodies[i]), &used),
			     EW_HTTP_BAD, "body %zu: %s", i, bodies[i]);
	}
}

Test(http_chunked, request_head)
{
	struct ew_http_head h;

	parse_request_ok(
	    LIT("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  chunked \r\n\r\n"),
	    &h);
	cr_assert_eq(h.body, EW_HTTP_BODY_CHUNKED);
}

/* --- responses --------------------------------------------------------------------- */

TestSuite(http_response);

Test(http_response, with_length)
{
	struct ew_http_head h;

	parse_response_ok(LIT("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"), get,
			  &h);
	cr_assert_eq(h.status, 200);
	cr_assert_eq(h.minor_version, 1);
	cr_assert_eq(h.body, EW_HTTP_BODY_LENGTH);
	cr_assert_eq(h.body_length, 5);
	cr_assert_eq(h.head_len,
		     sizeof("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n") - 1);
	cr_assert(h.keep_alive);
}

Test(http_response, reason_optional)
{
	struct ew_http_head h;

	parse_response_ok(LIT("HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n"), get, &h);
	cr_assert_eq(h.status, 404);
	parse_response_ok(LIT("HTTP/1.1 503 \r\nContent-Length: 0\r\n\r\n"), get, &h);
	cr_assert_eq(h.status, 503);
	parse_response_ok(
	    LIT("HTTP/1.1 500 Internal  Server\tError\r\nContent-Length: 0\r\n\r\n"), get,
	    &h);
	cr_assert_eq(h.status, 500);
}

Test(http_response, head_has_no_body)
{
	struct ew_http_head h;

	parse_response_ok(LIT("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"), head, &h);
	cr_assert_eq(h.body, EW_HTTP_BODY_NONE);
	parse_response_ok(LIT("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
			  head, &h);
	cr_assert_eq(h.body, EW_HTTP_BODY_NONE);
	cr_assert(h.keep_alive);
}

Test(http_response, no_content_and_not_modified)
{
	struct ew_http_head h;

	parse_response_ok(LIT("HTTP/1.1 204 No Content\r\n\r\n"), get, &h);
	cr_assert_eq(h.body, EW_HTTP_BODY_NONE);
	cr_assert(h.keep_alive);
	parse_response_ok(LIT("HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n"),
			  get, &h);
	cr_assert_eq(h.body, EW_HTTP_BODY_NONE);
	cr_assert(h.keep_alive);
}

Test(http_response, informational_then_final)
{
	static const char buf[] = "HTTP/1.1 100 Continue\r\n\r\n"
				  "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
				  "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
	struct ew_http_head h;
	size_t at = 0;

	parse_response_ok(buf, sizeof(buf) - 1, get, &h);
	cr_assert_eq(h.status, 100);
	cr_assert_eq(h.body, EW_HTTP_BODY_NONE);
	cr_assert(h.keep_alive);
	at += h.head_len;
	parse_response_ok(buf + at, sizeof(buf) - 1 - at, get, &h);
	cr_assert_eq(h.status, 103);
	cr_assert_eq(h.body, EW_HTTP_BODY_NONE);
	at += h.head_len;
	parse_response_ok(buf + at, sizeof(buf) - 1 - at, get, &h);
	cr_assert_eq(h.status, 201);
	cr_assert_eq(h.body_length, 2);
	cr_assert_eq(at + h.head_len + 2, sizeof(buf) - 1);
}

Test(http_response, switching_protocols_ends_http)
{
	struct ew_http_head h;

	parse_response_ok(LIT("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			      "Connection: Upgrade\r\n\r\n"),
			  get, &h);
	cr_assert_eq(h.body, EW_HTTP_BODY_NONE);
	cr_assert_not(h.keep_alive);
}

Test(http_response, close_delimited)
{
	struct ew_http_head h;
	struct ew_http_body b;
	size_t used;

	parse_response_ok(LIT("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"), get,
			  &h);
	cr_assert_eq(h.body, EW_HTTP_BODY_UNTIL_CLOSE);
	cr_assert_not(h.keep_alive);
	ew_http_body_start(&b, &h);
	cr_assert_eq(ew_http_body_feed(&b, LIT("HTTP/1.1 200 OK\r\n\r\n"), &used),
		     EW_HTTP_INCOMPLETE);
	cr_assert_eq(used, sizeof("HTTP/1.1 200 OK\r\n\r\n") - 1);
}

Test(http_response, chunked)
{
	static const char buf[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
				  "2\r\nhi\r\n0\r\n\r\n";
	struct ew_http_head h;
	size_t used;

	parse_response_ok(buf, sizeof(buf) - 1, get, &h);
	cr_assert_eq(h.body, EW_HTTP_BODY_CHUNKED);
	cr_assert(h.keep_alive);
	cr_assert_eq(
	    feed_split(&h, buf + h.head_len, sizeof(buf) - 1 - h.head_len, 3, &used),
	    EW_HTTP_OK);
	cr_assert_eq(h.head_len + used, sizeof(buf) - 1);
}

Test(http_response, split_at_every_byte)
{
	static const char buf[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
	size_t head_len = sizeof(buf) - 1 - 3;
	struct ew_http_head whole, part;

	parse_response_ok(buf, head_len, get, &whole);
	for (size_t k = 0; k < head_len; k++)
		cr_assert_eq(ew_http_parse_response(buf, k, get, &part),
			     EW_HTTP_INCOMPLETE);
	for (size_t k = head_len; k < sizeof(buf); k++) {
		parse_response_ok(buf, k, get, &part);
		assert_same_head(&part, &whole);
	}
}

/* --- keep-alive --------------------------------------------------------------------- */

TestSuite(http_keep_alive);

static bool request_keeps_alive(const char *version, const char *headers)
{
	char buf[512];
	struct ew_http_head h;
	int n =
	    snprintf(buf, sizeof(buf), "GET / %s\r\nHost: a\r\n%s\r\n", version, headers);

	parse_request_ok(buf, n, &h);
	return h.keep_alive;
}

Test(http_keep_alive, http11_unless_close)
{
	cr_assert(request_keeps_alive("HTTP/1.1", ""));
	cr_assert(request_keeps_alive("HTTP/1.1", "Connection: keep-alive\r\n"));
	cr_assert(request_keeps_alive("HTTP/1.1", "Connection: closed, xclose\r\n"));
	cr_assert_not(request_keeps_alive("HTTP/1.1", "Connection: close\r\n"));
	cr_assert_not(
	    request_keeps_alive("HTTP/1.1", "Connection: Upgrade,  CLOSE \r\n"));
	cr_assert_not(
	    request_keeps_alive("HTTP/1.1", "Connection: te\r\nConnection: close\r\n"));
}

Test(http_keep_alive, http10_only_when_asked)
{
	cr_assert_not(request_keeps_alive("HTTP/1.0", ""));
	cr_assert(request_keeps_alive("HTTP/1.0", "Connection: Keep-Alive\r\n"));
	cr_assert(request_keeps_alive("HTTP/1.0", "Connection: te,keep-alive\r\n"));
	cr_assert_not(
	    request_keeps_alive("HTTP/1.0", "Connection: keep-alive, close\r\n"));
}

Test(http_keep_alive, responses)
{
	struct ew_http_head h;

	parse_response_ok(LIT("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n"), get, &h);
	cr_assert_not(h.keep_alive);
	parse_response_ok(LIT("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n"
			      "Connection: keep-alive\r\n\r\n"),
			  get, &h);
	cr_assert(h.keep_alive);
	parse_response_ok(
	    LIT("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n"), get,
	    &h);
	cr_assert_not(h.keep_alive);
	parse_response_ok(LIT("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n"), get,
			  &h);
	cr_assert_not(h.keep_alive, "a body until close ends the connection");
}
