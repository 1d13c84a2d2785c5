/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP/1.x message framing for the L7 proxy: request and response heads
 * parsed in place from a buffer that may hold less than one message or
 * more (pipelining), and bodies measured as they stream by.
 *
 * The parser is strict where leniency lets two parties disagree on where a
 * message ends (request smuggling) or what it names (RFC 9112):
 *   - lines end in CRLF; a bare CR or LF, a NUL or another control byte in
 *     the head is malformed;
 *   - the request line is exactly METHOD SP TARGET SP HTTP/1.0|HTTP/1.1;
 *     the method is a token, the target is an origin-form path (starts
 *     with '/', visible ASCII only) or "*" for OPTIONS; it is kept as sent,
 *     never decoded or normalised (policy matches what the server gets),
 *     and a path with a "." or ".." segment (its dots written or as %2e),
 *     which the server would resolve into another path, is malformed;
 *   - a header name is a token followed at once by ':' (no space before
 *     it); obsolete line folding is malformed;
 *   - Transfer-Encoding other than exactly "chunked" (once), Transfer-Encoding
 *     with Content-Length or in an HTTP/1.0 message, several Content-Length
 *     values that differ, or a Content-Length that is not a decimal number
 *     are malformed;
 *   - a request has at most one Host header, an HTTP/1.1 request exactly one.
 * Every violation is EW_HTTP_BAD: the proxy answers 400 and closes.
 */
#ifndef EW_PROXY_HTTP_H
#define EW_PROXY_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EW_HTTP_MAX_HEAD    16384 /* request line + headers; more: EW_HTTP_TOO_LARGE */
#define EW_HTTP_MAX_HEADERS 64

enum ew_http_status {
	EW_HTTP_OK,	    /* a whole head was parsed */
	EW_HTTP_INCOMPLETE, /* no complete head yet: read more and call again */
	EW_HTTP_BAD,	    /* malformed: 400 and close */
	EW_HTTP_TOO_LARGE,  /* head over EW_HTTP_MAX_HEAD or too many headers: 431 and close */
};

/* A slice of the caller's buffer; never NUL-terminated. */
struct ew_http_str {
	const char *p;
	size_t len;
};

struct ew_http_header {
	struct ew_http_str name, value; /* value without surrounding spaces and tabs */
};

enum ew_http_body_kind {
	EW_HTTP_BODY_NONE,	/* no body: the next message follows the head */
	EW_HTTP_BODY_LENGTH,	/* exactly body_length bytes, never 0 (Content-Length: 0 is NONE) */
	EW_HTTP_BODY_CHUNKED,	/* chunked transfer coding, trailers included */
	EW_HTTP_BODY_UNTIL_CLOSE, /* responses only: the body ends when the server closes */
};

struct ew_http_head {
	/* Requests: method, target, version. Responses: version and status. */
	struct ew_http_str method, target;
	int minor_version; /* 0 or 1 */
	int status;	   /* responses: 100-599 */
	struct ew_http_str host; /* requests: the Host header's value; len 0 when none */
	struct ew_http_header headers[EW_HTTP_MAX_HEADERS];
	size_t n_headers;
	size_t head_len;   /* bytes of the head, through the empty line */
	enum ew_http_body_kind body;
	uint64_t body_length; /* with EW_HTTP_BODY_LENGTH */
	bool keep_alive;   /* the connection may carry another message after this one */
};

/* Parses the request head at the start of buf[0..len). */
enum ew_http_status ew_http_parse_request(const char *buf, size_t len,
					  struct ew_http_head *req);

/* Parses the response head at the start of buf[0..len); request_method is
 * the method of the request it answers (a HEAD response has no body; nor
 * have 1xx, 204 and 304). A 1xx other than 101 is followed by the real
 * response to the same request. */
enum ew_http_status ew_http_parse_response(const char *buf, size_t len,
					   struct ew_http_str request_method,
					   struct ew_http_head *resp);

/* A body being measured; start it from a head, then feed it the bytes after
 * the head as they arrive. */
struct ew_http_body {
	enum ew_http_body_kind kind;
	uint64_t remaining; /* LENGTH: bytes left; CHUNKED: of the current chunk */
	int state;	    /* CHUNKED: where in the chunk syntax (private) */
};

void ew_http_body_start(struct ew_http_body *b, const struct ew_http_head *h);

/* Consumes at most len bytes of body from buf; *used says how many belong to
 * it. EW_HTTP_OK: the body (and the message) ended after *used bytes; the
 * next message starts there. EW_HTTP_INCOMPLETE: all len bytes were body,
 * more is to come. EW_HTTP_BAD: malformed chunk syntax. */
enum ew_http_status ew_http_body_feed(struct ew_http_body *b, const char *buf,
				      size_t len, size_t *used);

/* The value of the first header called name (case-insensitive), or NULL. */
const struct ew_http_str *ew_http_header_find(const struct ew_http_head *h,
					      const char *name);

#endif /* EW_PROXY_HTTP_H */
