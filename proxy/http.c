// SPDX-License-Identifier: Apache-2.0
/*
 * HTTP/1.x framing, strict as http.h says. A head is read a line at a time
 * from the start of the buffer, every byte checked once, so a call is O(len)
 * and a prefix of a buffer gives either EW_HTTP_INCOMPLETE or the result of
 * the whole buffer: every verdict depends only on bytes already scanned.
 */
#include <string.h>
#include <strings.h>

#include "http.h"

/* --- bytes and slices ------------------------------------------------------ */

static bool is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* A control byte that may not stand in a head line or chunk line (HTAB may). */
static bool is_forbidden(unsigned char c)
{
	return is_ctl(c) && c != '\t';
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static bool is_vchar(unsigned char c)
{
	return c > ' ' && c < 0x7f;
}

static bool is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int hex_value(unsigned char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Non-empty and made only of bytes that pass. */
static bool all_of(struct ew_http_str s, bool (*pass)(unsigned char))
{
	for (size_t i = 0; i < s.len; i++)
		if (!pass(s.p[i]))
			return false;
	return s.len > 0;
}

static bool str_eq(struct ew_http_str s, const char *lit)
{
	return s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

static bool str_eq_nocase(struct ew_http_str s, const char *lit)
{
	return s.len == strlen(lit) && strncasecmp(s.p, lit, s.len) == 0;
}

static struct ew_http_str trim_ows(struct ew_http_str s)
{
	while (s.len && is_ows(s.p[0])) {
		s.p++;
		s.len--;
	}
	while (s.len && is_ows(s.p[s.len - 1]))
		s.len--;
	return s;
}

/* *first gets *rest up to the first sep and *rest what follows it; without
 * a sep, *first gets all of *rest, *rest is left empty and false returned. */
static bool split_at(struct ew_http_str *rest, char sep, struct ew_http_str *first)
{
	const char *at = memchr(rest->p, sep, rest->len);

	*first = *rest;
	if (!at) {
		rest->p += rest->len;
		rest->len = 0;
		return false;
	}
	first->len = at - rest->p;
	rest->len -= first->len + 1;
	rest->p = at + 1;
	return true;
}

/* --- head lines ---------------------------------------------------------------- */

/* The lines of a head; end stops at EW_HTTP_MAX_HEAD, since a head must end
 * inside it. */
struct head_cursor {
	const char *buf;
	size_t pos, end;
	bool at_limit; /* end is EW_HTTP_MAX_HEAD: no more bytes can help */
};

static struct head_cursor head_cursor_init(const char *buf, size_t len)
{
	bool at_limit = len >= EW_HTTP_MAX_HEAD;

	return (struct head_cursor){
		.buf = buf,
		.end = at_limit ? EW_HTTP_MAX_HEAD : len,
		.at_limit = at_limit,
	};
}

/* The next line, without its CRLF. A CR not followed by LF and any control
 * byte but HTAB (bare LF and NUL among them) is malformed. */
static enum ew_http_status next_line(struct head_cursor *c, struct ew_http_str *line)
{
	for (size_t i = c->pos; i < c->end; i++) {
		unsigned char ch = c->buf[i];

		if (ch == '\r') {
			if (i + 1 == c->end)
				break;
			if (c->buf[i + 1] != '\n')
				return EW_HTTP_BAD;
			*line = (struct ew_http_str){ c->buf + c->pos, i - c->pos };
			c->pos = i + 2;
			return EW_HTTP_OK;
		}
		if (is_forbidden(ch))
			return EW_HTTP_BAD;
	}
	return c->at_limit ? EW_HTTP_TOO_LARGE : EW_HTTP_INCOMPLETE;
}

static bool parse_version(struct ew_http_str s, int *minor_version)
{
	if (str_eq(s, "HTTP/1.1"))
		*minor_version = 1;
	else if (str_eq(s, "HTTP/1.0"))
		*minor_version = 0;
	else
		return false;
	return true;
}

/* Whether p[0..len) is "." or "..", its dots written or percent-encoded. */
static bool is_dot_segment(const char *p, size_t len)
{
	size_t dots = 0;

	for (size_t i = 0; i < len; dots++) {
		if (p[i] == '.')
			i++;
		else if (len - i >= 3 && p[i] == '%' && p[i + 1] == '2' &&
			 (p[i + 2] == 'e' || p[i + 2] == 'E'))
			i += 3;
		else
			return false;
	}
	return dots == 1 || dots == 2;
}

/* Whether the path of target (up to its query) has a segment "." or "..",
 * which a server resolves (after decoding %2e) into another path than the
 * one the policy saw. */
static bool has_dot_segment(struct ew_http_str target)
{
	size_t end = 0, seg;

	while (end < target.len && target.p[end] != '?' && target.p[end] != '#')
		end++;
	for (size_t i = 0; i < end; i = seg) {
		seg = i + 1;
		while (seg < end && target.p[seg] != '/')
			seg++;
		if (is_dot_segment(target.p + i + 1, seg - i - 1))
			return true;
	}
	return false;
}

/* Origin-form without dot segments, or "*" for OPTIONS; kept as sent,
 * never decoded. */
static bool is_request_target(struct ew_http_str target, struct ew_http_str method)
{
	if (str_eq(target, "*"))
		return str_eq(method, "OPTIONS");
	return target.len && target.p[0] == '/' && all_of(target, is_vchar) &&
	       !has_dot_segment(target);
}

/* METHOD SP TARGET SP VERSION: neither a token nor a target holds a space,
 * so splitting at the first two spaces is the only reading. */
static bool parse_request_line(struct ew_http_str line, struct ew_http_head *h)
{
	struct ew_http_str version = line;

	return split_at(&version, ' ', &h->method) &&
	       split_at(&version, ' ', &h->target) && all_of(h->method, is_tchar) &&
	       is_request_target(h->target, h->method) &&
	       parse_version(version, &h->minor_version);
}

/* VERSION SP 3DIGIT [SP reason]: the reason is free text, and ignored. */
static bool parse_status_line(struct ew_http_str line, struct ew_http_head *h)
{
	struct ew_http_str rest = line, version, code;

	if (!split_at(&rest, ' ', &version) || !parse_version(version, &h->minor_version))
		return false;
	split_at(&rest, ' ', &code);
	if (code.len != 3 || !all_of(code, is_digit) || code.p[0] < '1' ||
	    code.p[0] > '5')
		return false;
	h->status = (code.p[0] - '0') * 100 + (code.p[1] - '0') * 10 + (code.p[2] - '0');
	return true;
}

/* NAME ":" OWS value OWS: a token right before the colon, so neither a space
 * before it nor a folded line (which starts with one) passes. */
static bool parse_header_line(struct ew_http_str line, struct ew_http_header *hd)
{
	struct ew_http_str value = line;

	if (!split_at(&value, ':', &hd->name) || !all_of(hd->name, is_tchar))
		return false;
	hd->value = trim_ows(value);
	return true;
}

/* --- what the headers say ------------------------------------------------------ */

struct head_fields {
	bool chunked;
	bool has_length;
	uint64_t length;
	size_t n_host;
	const struct ew_http_str *host;
	bool close, keep_alive; /* Connection options */
};

static bool parse_decimal(struct ew_http_str s, uint64_t *out)
{
	uint64_t n = 0;

	if (!all_of(s, is_digit))
		return false;
	for (size_t i = 0; i < s.len; i++) {
		unsigned d = s.p[i] - '0';

		if (n > (UINT64_MAX - d) / 10)
			return false;
		n = n * 10 + d;
	}
	*out = n;
	return true;
}

static void read_connection_options(struct ew_http_str value, struct head_fields *f)
{
	struct ew_http_str rest = value, option;
	bool more;

	do {
		more = split_at(&rest, ',', &option);
		option = trim_ows(option);
		if (str_eq_nocase(option, "close"))
			f->close = true;
		else if (str_eq_nocase(option, "keep-alive"))
			f->keep_alive = true;
	} while (more);
}

static bool read_header(const struct ew_http_header *hd, struct head_fields *f)
{
	uint64_t length;

	if (str_eq_nocase(hd->name, "Transfer-Encoding")) {
		/* A second one would make "chunked, chunked" or worse. */
		if (f->chunked || !str_eq(hd->value, "chunked"))
			return false;
		f->chunked = true;
	} else if (str_eq_nocase(hd->name, "Content-Length")) {
		if (!parse_decimal(hd->value, &length) ||
		    (f->has_length && length != f->length))
			return false;
		f->has_length = true;
		f->length = length;
	} else if (str_eq_nocase(hd->name, "Connection")) {
		read_connection_options(hd->value, f);
	} else if (str_eq_nocase(hd->name, "Host")) {
		f->n_host++;
		f->host = &hd->value;
	}
	return true;
}

static enum ew_http_status read_fields(const struct ew_http_head *h,
				       struct head_fields *f)
{
	memset(f, 0, sizeof(*f));
	for (size_t i = 0; i < h->n_headers; i++)
		if (!read_header(&h->headers[i], f))
			return EW_HTTP_BAD;
	/* Two framings, or chunked in HTTP/1.0 (which predates it and whose
	 * peers may ignore it), are how two parties disagree on the end. */
	if (f->chunked && (f->has_length || h->minor_version == 0))
		return EW_HTTP_BAD;
	return EW_HTTP_OK;
}

static enum ew_http_body_kind body_framing(const struct head_fields *f,
					   enum ew_http_body_kind otherwise)
{
	if (f->chunked)
		return EW_HTTP_BODY_CHUNKED;
	if (f->has_length)
		return f->length ? EW_HTTP_BODY_LENGTH : EW_HTTP_BODY_NONE;
	return otherwise;
}

static void set_body(struct ew_http_head *h, const struct head_fields *f,
		     enum ew_http_body_kind otherwise)
{
	h->body = body_framing(f, otherwise);
	h->body_length = h->body == EW_HTTP_BODY_LENGTH ? f->length : 0;
}

/* HTTP/1.1 keeps the connection unless told "close"; HTTP/1.0 closes it
 * unless told "keep-alive". */
static bool keeps_alive(int minor_version, const struct head_fields *f)
{
	return !f->close && (minor_version == 1 || f->keep_alive);
}

/* --- requests and responses ----------------------------------------------------- */

typedef bool (*start_line_parser)(struct ew_http_str line, struct ew_http_head *h);

/* The start line, the header lines through the empty line, and in *f what
 * they say. */
static enum ew_http_status parse_head(const char *buf, size_t len,
				      start_line_parser parse_start_line,
				      struct ew_http_head *h, struct head_fields *f)
{
	struct head_cursor c = head_cursor_init(buf, len);
	struct ew_http_str line;
	enum ew_http_status st;

	memset(h, 0, sizeof(*h));
	st = next_line(&c, &line);
	if (st != EW_HTTP_OK)
		return st;
	if (!parse_start_line(line, h))
		return EW_HTTP_BAD;
	for (;;) {
		st = next_line(&c, &line);
		if (st != EW_HTTP_OK)
			return st;
		if (!line.len)
			break;
		if (h->n_headers == EW_HTTP_MAX_HEADERS)
			return EW_HTTP_TOO_LARGE;
		if (!parse_header_line(line, &h->headers[h->n_headers++]))
			return EW_HTTP_BAD;
	}
	h->head_len = c.pos;
	return read_fields(h, f);
}

enum ew_http_status ew_http_parse_request(const char *buf, size_t len,
					  struct ew_http_head *req)
{
	struct head_fields f;
	enum ew_http_status st = parse_head(buf, len, parse_request_line, req, &f);

	if (st != EW_HTTP_OK)
		return st;
	if (f.n_host > 1 || (req->minor_version == 1 && !f.n_host))
		return EW_HTTP_BAD;
	if (f.host)
		req->host = *f.host;
	/* A request without framing headers has no body, never one until close. */
	set_body(req, &f, EW_HTTP_BODY_NONE);
	req->keep_alive = keeps_alive(req->minor_version, &f);
	return EW_HTTP_OK;
}

static bool response_has_body(int status, struct ew_http_str request_method)
{
	return !str_eq(request_method, "HEAD") && status >= 200 && status != 204 &&
	       status != 304;
}

enum ew_http_status ew_http_parse_response(const char *buf, size_t len,
					   struct ew_http_str request_method,
					   struct ew_http_head *resp)
{
	struct head_fields f;
	enum ew_http_status st = parse_head(buf, len, parse_status_line, resp, &f);

	if (st != EW_HTTP_OK)
		return st;
	if (response_has_body(resp->status, request_method))
		set_body(resp, &f, EW_HTTP_BODY_UNTIL_CLOSE);
	/* After 101 the connection carries another protocol; a body until
	 * close ends it. */
	resp->keep_alive = keeps_alive(resp->minor_version, &f) && resp->status != 101 &&
			   resp->body != EW_HTTP_BODY_UNTIL_CLOSE;
	return EW_HTTP_OK;
}

const struct ew_http_str *ew_http_header_find(const struct ew_http_head *h,
					      const char *name)
{
	for (size_t i = 0; i < h->n_headers; i++)
		if (str_eq_nocase(h->headers[i].name, name))
			return &h->headers[i].value;
	return NULL;
}

/* --- bodies ------------------------------------------------------------------------ */

/* ew_http_body.state of a chunked body: chunk-size [ext] CRLF data CRLF,
 * then 0 [ext] CRLF, trailer fields each ending in CRLF, and CRLF. */
enum chunk_state {
	CHUNK_SIZE_FIRST, /* the first hex digit of a size */
	CHUNK_SIZE,	  /* more hex digits, or what ends the size */
	CHUNK_SIZE_BWS,	  /* spaces after the size: only ';' may follow */
	CHUNK_EXT,	  /* extensions, skipped through CR */
	CHUNK_SIZE_LF,
	CHUNK_DATA,
	CHUNK_DATA_CR,
	CHUNK_DATA_LF,
	TRAILER_START, /* a trailer field's name, or the last CR */
	TRAILER_NAME,
	TRAILER_VALUE,
	TRAILER_LF,
	LAST_LF,
	CHUNKED_DONE,
};

void ew_http_body_start(struct ew_http_body *b, const struct ew_http_head *h)
{
	b->kind = h->body;
	b->remaining = h->body == EW_HTTP_BODY_LENGTH ? h->body_length : 0;
	b->state = CHUNK_SIZE_FIRST;
}

/* Moves to the next state; true, for the returns of chunk_syntax_byte(). */
static bool enter(struct ew_http_body *b, enum chunk_state next)
{
	b->state = next;
	return true;
}

/* Adds a hex digit to the size being read into b->remaining. */
static bool chunk_size_digit(struct ew_http_body *b, int digit)
{
	if (b->remaining > UINT64_MAX >> 4)
		return false;
	b->remaining = b->remaining << 4 | digit;
	b->state = CHUNK_SIZE;
	return true;
}

/* One byte of chunk syntax, anything but chunk data; false: malformed. */
static bool chunk_syntax_byte(struct ew_http_body *b, unsigned char c)
{
	switch (b->state) {
	case CHUNK_SIZE_FIRST:
		return hex_value(c) >= 0 && chunk_size_digit(b, hex_value(c));
	case CHUNK_SIZE:
		if (hex_value(c) >= 0)
			return chunk_size_digit(b, hex_value(c));
		if (c == '\r')
			return enter(b, CHUNK_SIZE_LF);
		if (is_ows(c))
			return enter(b, CHUNK_SIZE_BWS);
		return c == ';' && enter(b, CHUNK_EXT);
	case CHUNK_SIZE_BWS:
		return is_ows(c) || (c == ';' && enter(b, CHUNK_EXT));
	case CHUNK_EXT:
		if (c == '\r')
			return enter(b, CHUNK_SIZE_LF);
		return !is_forbidden(c);
	case CHUNK_SIZE_LF:
		return c == '\n' && enter(b, b->remaining ? CHUNK_DATA : TRAILER_START);
	case CHUNK_DATA_CR:
		return c == '\r' && enter(b, CHUNK_DATA_LF);
	case CHUNK_DATA_LF:
		return c == '\n' && enter(b, CHUNK_SIZE_FIRST);
	case TRAILER_START:
		if (c == '\r')
			return enter(b, LAST_LF);
		return is_tchar(c) && enter(b, TRAILER_NAME);
	case TRAILER_NAME:
		return is_tchar(c) || (c == ':' && enter(b, TRAILER_VALUE));
	case TRAILER_VALUE:
		if (c == '\r')
			return enter(b, TRAILER_LF);
		return !is_forbidden(c);
	case TRAILER_LF:
		return c == '\n' && enter(b, TRAILER_START);
	case LAST_LF:
		return c == '\n' && enter(b, CHUNKED_DONE);
	default: /* CHUNK_DATA and CHUNKED_DONE take no syntax */
		return false;
	}
}

static enum ew_http_status chunked_feed(struct ew_http_body *b, const char *buf,
					size_t len, size_t *used)
{
	size_t i = 0;

	while (i < len && b->state != CHUNKED_DONE) {
		if (b->state == CHUNK_DATA) {
			size_t n = len - i < b->remaining ? len - i : b->remaining;

			i += n;
			b->remaining -= n;
			if (!b->remaining)
				b->state = CHUNK_DATA_CR;
		} else if (!chunk_syntax_byte(b, buf[i++])) {
			*used = i;
			return EW_HTTP_BAD;
		}
	}
	*used = i;
	return b->state == CHUNKED_DONE ? EW_HTTP_OK : EW_HTTP_INCOMPLETE;
}

enum ew_http_status ew_http_body_feed(struct ew_http_body *b, const char *buf, size_t len,
				      size_t *used)
{
	switch (b->kind) {
	case EW_HTTP_BODY_LENGTH:
		*used = len < b->remaining ? len : b->remaining;
		b->remaining -= *used;
		return b->remaining ? EW_HTTP_INCOMPLETE : EW_HTTP_OK;
	case EW_HTTP_BODY_CHUNKED:
		return chunked_feed(b, buf, len, used);
	case EW_HTTP_BODY_UNTIL_CLOSE:
		*used = len;
		return EW_HTTP_INCOMPLETE;
	case EW_HTTP_BODY_NONE:
		break;
	}
	*used = 0;
	return EW_HTTP_OK;
}
