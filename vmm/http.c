/* http.c - HTTP/1.1 requests read from a byte stream, routed and answered (RFC 9110, 9112); no I/O, no state. */
#include <stdio.h>
#include <string.h>

#include "http.h"

/*
 * The parser is strict where leniency lets two readers of one stream
 * disagree on where a request ends (request smuggling, RFC 9112 §11.2):
 * one Content-Length of digits only, no Transfer-Encoding beside it, no
 * bare CR, no folded lines. A broken request gets its status and the
 * connection closes after the answer: bytes after a framing error cannot
 * be trusted to start a request.
 */

static u8 ascii_lower(u8 c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* tchar (RFC 9110 §5.6.2): what methods and field names are made of. */
static bool is_tchar(u8 c)
{
	return (c >= '0' && c <= '9') || (ascii_lower(c) >= 'a' && ascii_lower(c) <= 'z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* A run of tchar, at least one. */
static bool is_token(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_tchar((u8)s[i]))
			return false;
	return n > 0;
}

/* s[0..n) equals lower, ASCII case ignored (field names, RFC 9110 §5.1; options, §7.6.1). */
static bool token_is(const char *s, size_t n, const char *lower)
{
	if (strlen(lower) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (ascii_lower((u8)s[i]) != (u8)lower[i])
			return false;
	return true;
}

/* A comma-separated list (RFC 9110 §5.6.1), read element by element. */
struct list {
	const char *p, *end;
};

/* The next element, trimmed of spaces and tabs; empty elements are skipped, as §5.6.1 asks. */
static bool list_next(struct list *l, const char **elem, size_t *n)
{
	while (l->p < l->end) {
		const char *s = l->p, *comma = memchr(s, ',', (size_t)(l->end - s)), *e = comma ? comma : l->end;

		l->p = comma ? comma + 1 : l->end;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (s < e) {
			*elem = s;
			*n = (size_t)(e - s);
			return true;
		}
	}
	return false;
}

/* ---- the request line (RFC 9112 §3) ---- */

static enum http_method method_kind(const char *s, size_t n)
{
	/* RFC 9110 §9.3 and PATCH (RFC 5789): known, so 405 rather than 501 */
	static const char *const others[] = { "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH" };

	/* methods are case-sensitive (§9.1): "get" is not GET */
	if (n == 3 && !memcmp(s, "GET", 3))
		return HTTP_GET;
	if (n == 4 && !memcmp(s, "HEAD", 4))
		return HTTP_HEAD;
	for (size_t i = 0; i < ARRAY_SIZE(others); i++)
		if (strlen(others[i]) == n && !memcmp(s, others[i], n))
			return HTTP_OTHER;
	return HTTP_UNKNOWN;
}

/*
 * method SP request-target SP HTTP-version, single spaces (a recipient
 * MAY be lenient, §3; we are not). The target is taken as printable
 * ASCII without checking it against RFC 3986: it is passed on as
 * received, and the line's grammar already keeps spaces, CR and LF out.
 * A raw byte >= 0x80 is refused (400): no URI holds one (RFC 3986 §2),
 * and guessing the guest's encoding of it would be worse.
 */
static int request_line_parse(struct http_req *r, const char *s, size_t n)
{
	const char *end = s + n, *sp1 = memchr(s, ' ', n), *sp2, *v;

	if (!sp1)
		return 400;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1));
	if (!sp2) /* "GET /": HTTP/0.9's request, which had no version and gets no status line */
		return 400;
	if (!is_token(s, (size_t)(sp1 - s)) || sp2 == sp1 + 1)
		return 400;
	for (const char *t = sp1 + 1; t < sp2; t++)
		if ((u8)*t < 0x21 || (u8)*t > 0x7e)
			return 400;
	/* HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive (§2.3) */
	v = sp2 + 1;
	if (end - v != 8 || memcmp(v, "HTTP/", 5) || v[6] != '.' || v[5] < '0' || v[5] > '9' || v[7] < '0' ||
	    v[7] > '9')
		return 400;
	/* another major version is a protocol we do not speak (RFC 9110 §15.6.6); a later 1.x reads as 1.1 (§6.2) */
	if (v[5] != '1')
		return 505;
	r->minor = v[7] == '0' ? 0 : 1;
	r->method = method_kind(s, (size_t)(sp1 - s));
	r->target = sp1 + 1;
	r->target_len = (size_t)(sp2 - sp1 - 1);
	return 0;
}

/* ---- header fields (RFC 9112 §5, RFC 9110 §5) ---- */

/* Host = uri-host [ ":" port ] (RFC 9110 §7.2): reg-name, IPv4 or [IP-literal] characters; may be empty. */
static bool is_host(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		u8 c = (u8)s[i];

		if (!((c >= '0' && c <= '9') || (ascii_lower(c) >= 'a' && ascii_lower(c) <= 'z') ||
		      strchr("-._~%!$&'()*+,;=:[]", c)))
			return false;
	}
	return true;
}

static int content_length_parse(struct http_req *r, const char *v, size_t n)
{
	/* 1*DIGIT (RFC 9110 §8.6); two of them, even equal, are refused rather than reconciled (RFC 9112 §6.3) */
	if (r->has_length || !n)
		return 400;
	r->has_length = true;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return 400;
		if (r->content_length <= HTTP_BODY_MAX) /* stays put once past the limit: no overflow */
			r->content_length = r->content_length * 10 + (u64)(v[i] - '0');
	}
	return 0;
}

/* A field we act on; the others are checked for syntax only and ignored. */
static int field_use(struct http_req *r, const char *name, size_t name_len, const char *v, size_t n)
{
	struct list l = { v, v + n };
	const char *e;
	size_t en;

	if (token_is(name, name_len, "host")) {
		/* more than one, or an invalid one: 400 (RFC 9112 §3.2) */
		if (r->has_host || !is_host(v, n))
			return 400;
		r->has_host = true;
	} else if (token_is(name, name_len, "content-length")) {
		return content_length_parse(r, v, n);
	} else if (token_is(name, name_len, "transfer-encoding")) {
		r->has_te = true;
		while (list_next(&l, &e, &en)) /* what counts is the final coding (RFC 9112 §6.3) */
			r->te_chunked = token_is(e, en, "chunked");
	} else if (token_is(name, name_len, "connection")) {
		while (list_next(&l, &e, &en)) {
			r->conn_close |= token_is(e, en, "close");
			r->conn_keep_alive |= token_is(e, en, "keep-alive");
		}
	} else if (token_is(name, name_len, "expect")) {
		while (list_next(&l, &e, &en)) {
			if (token_is(e, en, "100-continue"))
				r->expect_continue = true;
			else
				r->expect_other = true;
		}
	}
	return 0;
}

/* field-name ":" OWS field-value OWS (RFC 9112 §5.1). */
static int field_parse(struct http_req *r, const char *s, size_t n)
{
	const char *colon = memchr(s, ':', n), *v, *end = s + n;

	/* a line that starts with white space continues the one before (obs-fold) or, right
	 * after the request line, hides a field: both are refused (RFC 9112 §5.2, §2.2) */
	if (*s == ' ' || *s == '\t')
		return 400;
	/* no white space before the colon (§5.1): it is not a tchar, so is_token refuses it */
	if (!colon || !is_token(s, (size_t)(colon - s)))
		return 400;
	for (v = colon + 1; v < end && (*v == ' ' || *v == '\t'); v++)
		;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	return field_use(r, s, (size_t)(colon - s), v, (size_t)(end - v));
}

/* The empty line: the head is whole. What the fields said together is checked now. */
static int head_end(struct http_req *r)
{
	if (r->has_te) {
		/* HTTP/1.0 has no transfer codings (RFC 9112 §6.1); with a Content-Length too, two
		 * readers may frame it differently (§6.3, §11.2); chunked not last: no framing at
		 * all (§6.3). Chunked last: we decode no bodies, and a server MAY ask for a
		 * Content-Length instead (§6.3: 411). */
		if (r->minor == 0 || r->has_length || !r->te_chunked)
			return 400;
		return 411;
	}
	if (r->minor >= 1 && !r->has_host) /* RFC 9112 §3.2 */
		return 400;
	if (r->content_length > HTTP_BODY_MAX)
		return 413;
	if (r->expect_other) /* the only expectation HTTP defines is 100-continue (RFC 9110 §10.1.1) */
		return 417;
	/*
	 * Persistence (RFC 9112 §9.3): HTTP/1.1 keeps the connection unless
	 * "close"; HTTP/1.0 closes it unless "keep-alive". 100 Continue is
	 * never sent: the answer does not depend on the body, so it is sent
	 * at once (RFC 9110 §10.1.1 allows that), and then the client may or
	 * may not send the body it held back; closing the connection is the
	 * one way to be sure not to read that body as the next request.
	 */
	r->keep_alive =
		!r->conn_close && (r->minor >= 1 || r->conn_keep_alive) && !(r->expect_continue && r->content_length);
	return 0;
}

/* One line of the head, without its line end. Returns 0 or the status to answer. */
static int line_parse(struct http_parser *p, const char *s, size_t n)
{
	if (p->state == HTTP_S_LINE) {
		if (!n) /* empty lines before a request line are ignored (RFC 9112 §2.2) */
			return 0;
		if (n > HTTP_LINE_MAX) /* before any other check: the same answer as while the line still grows */
			return 414;
	}
	/* CR only in the line end (a bare CR, RFC 9112 §2.2), no NUL or other control byte
	 * in a field (RFC 9110 §5.5); HTAB only where white space may be */
	for (size_t i = 0; i < n; i++)
		if (((u8)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
			return 400;
	if (p->state == HTTP_S_LINE) {
		p->state = HTTP_S_FIELDS;
		return request_line_parse(&p->req, s, n);
	}
	if (!n) {
		p->state = HTTP_S_READY;
		return head_end(&p->req);
	}
	return field_parse(&p->req, s, n);
}

/* ---- the parser ---- */

void http_init(struct http_parser *p)
{
	memset(p, 0, offsetof(struct http_parser, buf));
	p->state = HTTP_S_LINE;
}

size_t http_feed(struct http_parser *p, const void *data, size_t n)
{
	size_t body = 0, room = sizeof(p->buf) - p->len;

	if (p->state == HTTP_S_CLOSED)
		return n;
	/* the rest of a body goes by without a copy (p->len is 0 then: see http_done) */
	if (p->skip) {
		body = n < p->skip ? n : (size_t)p->skip;
		p->skip -= body;
		data = (const u8 *)data + body;
		n -= body;
	}
	if (n > room)
		n = room;
	if (n)
		memcpy(p->buf + p->len, data, n);
	p->len += n;
	return body + n;
}

static const struct http_req *http_fail(struct http_parser *p, int status)
{
	p->req.status = status;
	p->req.keep_alive = false;
	p->state = HTTP_S_READY;
	return &p->req;
}

const struct http_req *http_next(struct http_parser *p)
{
	while (p->state == HTTP_S_LINE || p->state == HTTP_S_FIELDS) {
		char *lf = memchr(p->buf + p->scan, '\n', p->len - p->scan);
		size_t start = p->line, end;
		int status;

		if (!lf) {
			/* only new bytes are searched next time: byte-by-byte input costs no rescans */
			p->scan = p->len;
			/* a request line already too long (even if a CR comes next) is answered now */
			if (p->state == HTTP_S_LINE && p->len - p->line > HTTP_LINE_MAX + 1)
				return http_fail(p, 414);
			/* full with the head unfinished: header fields too large (RFC 6585 §5) */
			if (p->len == sizeof(p->buf))
				return http_fail(p, 431);
			return NULL;
		}
		end = (size_t)(lf - p->buf);
		p->line = p->scan = end + 1;
		if (end > start && p->buf[end - 1] == '\r') /* CRLF, or LF alone (RFC 9112 §2.2) */
			end--;
		status = line_parse(p, p->buf + start, end - start);
		if (status)
			return http_fail(p, status);
	}
	return p->state == HTTP_S_READY ? &p->req : NULL;
}

void http_done(struct http_parser *p)
{
	size_t head = p->line, body;

	if (p->state != HTTP_S_READY)
		return;
	/* after an error or "close", nothing more is read as a request (RFC 9112 §9.6) */
	if (p->req.status || !p->req.keep_alive) {
		p->state = HTTP_S_CLOSED;
		p->len = 0;
		return;
	}
	/* drop the head (leading empty lines too) and what is here of the body; the rest of the body is skipped as it
	 * comes */
	body = p->len - head < p->req.content_length ? p->len - head : (size_t)p->req.content_length;
	memmove(p->buf, p->buf + head + body, p->len - head - body);
	p->len -= head + body;
	p->skip = p->req.content_length - body;
	p->line = p->scan = 0;
	memset(&p->req, 0, sizeof(p->req));
	p->state = HTTP_S_LINE;
}

/* ---- routing ---- */

/* [s, e) equals the C string lit. */
static bool span_is(const char *s, const char *e, const char *lit)
{
	return (size_t)(e - s) == strlen(lit) && !memcmp(s, lit, (size_t)(e - s));
}

/*
 * An absolute-form target, which a server MUST accept (RFC 9112 §3.2.2):
 * "http://host/guests/1" has the path "/guests/1". False when t is not
 * one; *path is NULL when it has no path (the authority alone: the root,
 * which names nothing here).
 */
static bool absolute_path(const char *t, const char *end, const char **path)
{
	static const char *const schemes[] = { "http://", "https://" };

	for (size_t i = 0; i < ARRAY_SIZE(schemes); i++) {
		size_t n = strlen(schemes[i]);
		const char *a = t + n;

		if ((size_t)(end - t) < n || !token_is(t, n, schemes[i])) /* schemes ignore case (RFC 3986 §3.1) */
			continue;
		while (a < end && *a != '/' && *a != '?')
			a++;
		*path = a < end && *a == '/' ? a : NULL;
		return true;
	}
	return false;
}

/*
 * A guest id: decimal digits, a value up to UINT32_MAX, as the control
 * protocol takes it (leading zeros too). Anything else names no guest:
 * 404, not 400, since the request itself is well-formed (RFC 9110
 * §15.5.5). No percent-decoding: "/guests/%31" is not guest 1.
 */
static bool id_parse(const char *s, const char *e, u32 *id)
{
	u64 v = 0;

	if (s == e)
		return false;
	for (; s < e; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (u64)(*s - '0');
		if (v > UINT32_MAX)
			return false;
	}
	*id = (u32)v;
	return true;
}

int http_route(const struct http_req *req, struct http_route *r)
{
	const char *t = req->target, *end = t + req->target_len, *path_end, *id_end;

	/* only GET and HEAD are served; HEAD is GET without the body (RFC 9110 §9.3.2) */
	if (req->method == HTTP_UNKNOWN)
		return 501;
	if (req->method == HTTP_OTHER)
		return 405;
	if (*t != '/') {
		/* "*" and "host:port" belong to OPTIONS and CONNECT (RFC 9112 §3.2.3-4) */
		if (!absolute_path(t, end, &t))
			return 400;
		if (!t)
			return 404;
	}
	/* the query is matched by no route: "/stats?x" is /stats */
	path_end = memchr(t, '?', (size_t)(end - t));
	path_end = path_end ? path_end : end;
	memset(r, 0, sizeof(*r));
	if (span_is(t, path_end, "/stats")) {
		r->kind = HTTP_ROUTE_STATS;
		return 0;
	}
	if (span_is(t, path_end, "/metrics")) {
		r->kind = HTTP_ROUTE_METRICS;
		return 0;
	}
	if ((size_t)(path_end - t) <= 8 || memcmp(t, "/guests/", 8))
		return 404;
	id_end = memchr(t + 8, '/', (size_t)(path_end - t - 8));
	id_end = id_end ? id_end : path_end;
	if (!id_parse(t + 8, id_end, &r->id))
		return 404;
	if (id_end == path_end) {
		r->kind = HTTP_ROUTE_INFO;
		return 0;
	}
	/* the rest, the query with it, exactly as received: the guest gets "GET /PATH" */
	r->kind = HTTP_ROUTE_GUEST;
	r->path = id_end;
	r->path_len = (size_t)(end - id_end);
	return 4 + r->path_len > HTTP_GUEST_TEXT_MAX ? 414 : 0;
}

/* ---- responses ---- */

/* The statuses this server sends (RFC 9110 §15; 431: RFC 6585 §5). */
static const struct {
	int status;
	const char *reason;
} reasons[] = {
	{ 200, "OK" },
	{ 400, "Bad Request" },
	{ 404, "Not Found" },
	{ 405, "Method Not Allowed" },
	{ 411, "Length Required" },
	{ 413, "Content Too Large" },
	{ 414, "URI Too Long" },
	{ 417, "Expectation Failed" },
	{ 431, "Request Header Fields Too Large" },
	{ 500, "Internal Server Error" },
	{ 501, "Not Implemented" },
	{ 503, "Service Unavailable" },
	{ 504, "Gateway Timeout" },
	{ 505, "HTTP Version Not Supported" },
};

const char *http_reason(int status)
{
	for (size_t i = 0; i < ARRAY_SIZE(reasons); i++)
		if (reasons[i].status == status)
			return reasons[i].reason;
	return ""; /* the reason phrase may be empty (RFC 9112 §4) */
}

/*
 * Always HTTP/1.1, the version we conform to, even to a 1.0 client (RFC
 * 9110 §6.2). Date: an origin server with a clock must send it (RFC 9110
 * §6.6.1), as IMF-fixdate (§5.6.7), formatted here (strftime's names
 * follow the locale). Connection is always said, so a 1.0 client that
 * asked for keep-alive sees it granted (RFC 9112 Appendix C.2.2).
 */
size_t http_head_write(char *out, size_t cap, int status, const char *type, u64 length, bool keep_alive, time_t now)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	int n;

	if (!gmtime_r(&now, &tm))
		memset(&tm, 0, sizeof(tm)); /* a time beyond struct tm: say 1900 rather than nothing */
	n = snprintf(out, cap,
		     "HTTP/1.1 %d %s\r\n"
		     "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n"
		     "%s%s%s"
		     "Content-Length: %llu\r\n"
		     "Connection: %s\r\n"
		     "%s\r\n",
		     status, http_reason(status), days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
		     tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, type ? "Content-Type: " : "",
		     type ? type : "", type ? "\r\n" : "", (unsigned long long)length,
		     keep_alive ? "keep-alive" : "close",
		     status == 405 ? "Allow: GET, HEAD\r\n" : ""); /* 405 must say what is allowed (RFC 9110 §15.5.6) */
	return n < 0 ? 0 : (size_t)n;
}

size_t http_error_write(char *out, size_t cap, int status, bool keep_alive, bool head_only, time_t now,
			const char *detail)
{
	char body[HTTP_ERROR_BODY_MAX];
	int blen = snprintf(body, sizeof(body), "%d %s%s%.*s\n", status, http_reason(status), detail ? ": " : "",
			    (int)(sizeof(body) - 64), detail ? detail : "");
	size_t n = http_head_write(out, cap, status, "text/plain", (u64)blen, keep_alive, now);

	if (head_only)
		return n;
	if (n < cap)
		snprintf(out + n, cap - n, "%s", body);
	return n + (size_t)blen;
}
