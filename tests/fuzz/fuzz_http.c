// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target of proxy/http.c. The first two bytes of an input choose a
 * split point and the request method a response answers; the rest is the
 * message. Each parser and the body feeder run on the whole message and on
 * it split in two, and must agree: a prefix gives INCOMPLETE or the whole
 * buffer's result, a body fed in two parts ends where it ends fed at once.
 * Every slice a head returns must lie in the buffer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#define check(cond)                                                                      \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond);       \
			abort();                                                         \
		}                                                                        \
	} while (0)

static void check_inside(struct ew_http_str s, const char *buf, size_t len)
{
	check(s.len <= len);
	check(!s.len || (s.p >= buf && s.p + s.len <= buf + len));
}

static void check_head(const struct ew_http_head *h, const char *buf, size_t len)
{
	check(h->head_len <= len && h->head_len <= EW_HTTP_MAX_HEAD);
	check(h->n_headers <= EW_HTTP_MAX_HEADERS);
	check_inside(h->method, buf, h->head_len);
	check_inside(h->target, buf, h->head_len);
	check_inside(h->host, buf, h->head_len);
	for (size_t i = 0; i < h->n_headers; i++) {
		check_inside(h->headers[i].name, buf, h->head_len);
		check_inside(h->headers[i].value, buf, h->head_len);
	}
	check(h->minor_version == 0 || h->minor_version == 1);
	check(h->body != EW_HTTP_BODY_LENGTH || h->body_length);
}

static bool same_str(struct ew_http_str a, struct ew_http_str b)
{
	return a.p == b.p && a.len == b.len;
}

static bool same_head(const struct ew_http_head *a, const struct ew_http_head *b)
{
	if (!same_str(a->method, b->method) || !same_str(a->target, b->target) ||
	    !same_str(a->host, b->host) || a->n_headers != b->n_headers)
		return false;
	for (size_t i = 0; i < a->n_headers; i++)
		if (!same_str(a->headers[i].name, b->headers[i].name) ||
		    !same_str(a->headers[i].value, b->headers[i].value))
			return false;
	return a->minor_version == b->minor_version && a->status == b->status &&
	       a->head_len == b->head_len && a->body == b->body &&
	       a->body_length == b->body_length && a->keep_alive == b->keep_alive;
}

/* Feeds buf[0..len) to a body started from h, at once and split; checks they
 * agree and returns the status of feeding at once. */
static enum ew_http_status check_body(const struct ew_http_head *h, const char *buf,
				      size_t len, size_t split)
{
	struct ew_http_body whole, part;
	enum ew_http_status st, st_part;
	size_t used, used_part, more;

	ew_http_body_start(&whole, h);
	st = ew_http_body_feed(&whole, buf, len, &used);
	check(used <= len);
	check(st != EW_HTTP_INCOMPLETE || used == len);

	ew_http_body_start(&part, h);
	st_part = ew_http_body_feed(&part, buf, split, &used_part);
	check(used_part <= split);
	if (st_part == EW_HTTP_INCOMPLETE) {
		check(used_part == split);
		st_part = ew_http_body_feed(&part, buf + split, len - split, &more);
		check(more <= len - split);
		used_part += more;
	}
	check(st_part == st);
	check(st != EW_HTTP_OK || used_part == used);
	return st;
}

typedef enum ew_http_status (*head_parser)(const char *buf, size_t len,
					   struct ew_http_str method,
					   struct ew_http_head *h);

static enum ew_http_status parse_request(const char *buf, size_t len,
					 struct ew_http_str method,
					 struct ew_http_head *h)
{
	return ew_http_parse_request(buf, len, h);
}

/* Parses a head at once and from a prefix, then measures the body after it. */
static void check_message(head_parser parse, struct ew_http_str method, const char *buf,
			  size_t len, size_t split)
{
	static struct ew_http_head whole, part;
	enum ew_http_status st = parse(buf, len, method, &whole);
	enum ew_http_status st_part = parse(buf, split, method, &part);

	check(st_part == EW_HTTP_INCOMPLETE || st_part == st);
	if (st_part == EW_HTTP_OK)
		check(same_head(&part, &whole));
	if (st != EW_HTTP_OK)
		return;
	check_head(&whole, buf, len);
	check_body(&whole, buf + whole.head_len, len - whole.head_len,
		   split > whole.head_len ? split - whole.head_len : 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct ew_http_head chunked = { .body = EW_HTTP_BODY_CHUNKED };
	static const struct ew_http_str methods[] = { { "GET", 3 }, { "HEAD", 4 } };
	struct ew_http_str method;
	size_t len, split;
	char *buf;

	if (size < 2)
		return 0;
	len = size - 2;
	split = ((size_t)data[0] << 8 | data[1]) % (len + 1);
	method = methods[data[0] & 1];
	/* A copy of exactly len bytes, so a read past the end is caught. */
	buf = malloc(len ? len : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 2, len);

	check_message(parse_request, method, buf, len, split);
	check_message(ew_http_parse_response, method, buf, len, split);
	check_body(&chunked, buf, len, split);
	free(buf);
	return 0;
}
