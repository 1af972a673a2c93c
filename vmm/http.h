/* http.h - the HTTP/1.1 front door's pure parts: an incremental request parser, a router and a response writer. */
#ifndef KVMLITE_HTTP_H
#define KVMLITE_HTTP_H

#include <time.h>

#include "types.h"

/*
 * Limits (docs/http.md says why each status). A hostile client can make
 * the parser hold at most HTTP_HEAD_MAX bytes: it never allocates.
 */
#define HTTP_HEAD_MAX	       8192  /* request line, fields and the empty line, line ends included: 431 beyond */
#define HTTP_LINE_MAX	       4096  /* the request line without its line end: 414 beyond (its target is what grows) */
#define HTTP_BODY_MAX	       65536 /* a Content-Length body is read and thrown away up to this; 413 beyond */
/* "GET /PATH" as a guest is sent it: with its "\n" it must fit the guest's 256-byte input queue (GUEST_IN_SIZE) */
#define HTTP_GUEST_TEXT_MAX    255
/* The longest head http_head_write writes (the Date, a 20-digit length, the longest type and reason). */
#define HTTP_RESPONSE_HEAD_MAX 256
/* An error response's body at most: "STATUS REASON: DETAIL\n" */
#define HTTP_ERROR_BODY_MAX    256

enum http_method {
	HTTP_GET,
	HTTP_HEAD,
	HTTP_OTHER,   /* a method RFC 9110 §9 or RFC 5789 defines, not served here: 405 */
	HTTP_UNKNOWN, /* any other token: 501 (RFC 9110 §9.1) */
};

struct http_req {
	int status; /* 0: a request to route; else the error to answer, after which the connection closes */
	enum http_method method;
	const char *target; /* as received, inside the parser's buffer: valid until http_done() */
	size_t target_len;
	u8 minor;	      /* HTTP/1.minor: 0 or 1 (1.2 and later are read as 1.1, RFC 9110 §6.2) */
	bool keep_alive;      /* the connection goes on after the answer */
	bool expect_continue; /* Expect: 100-continue (it is never sent: see http.c) */
	u64 content_length;   /* body bytes after the head, thrown away by http_done() */

	/* what the fields said, for the checks at the end of the head */
	bool has_host, has_length, has_te, te_chunked, conn_close, conn_keep_alive, expect_other, too_large;
};

/*
 * One connection's parser. Bytes go in with http_feed(); http_next()
 * gives the requests one at a time, in order; http_done() says the one
 * given was answered, and only then is the next one looked at
 * (pipelining: RFC 9112 §9.3.2 wants answers in request order).
 */
struct http_parser {
	struct http_req req;
	enum { HTTP_S_LINE, HTTP_S_FIELDS, HTTP_S_READY, HTTP_S_CLOSED } state;
	size_t len;  /* bytes held in buf; the request being read starts at buf[0] */
	size_t line; /* where the line being read starts */
	size_t scan; /* where the search for its "\n" goes on */
	u64 skip;    /* body bytes of the request answered last, still to throw away */
	char buf[HTTP_HEAD_MAX];
};

void http_init(struct http_parser *p);
/*
 * Takes up to n bytes the client sent; returns how many it took. Fewer
 * than n (0 too) when the buffer is full of requests not yet answered:
 * keep the rest and feed it after http_done(). After the last answer
 * (an error, or a request that ends the connection) it takes all and
 * drops it, so a server can keep reading while it closes.
 */
size_t http_feed(struct http_parser *p, const void *data, size_t n);
/* The next request, the same one until http_done(), or NULL while more bytes are needed. */
const struct http_req *http_next(struct http_parser *p);
/* The request given by http_next() was answered: its bytes, and its body as it comes, are dropped. */
void http_done(struct http_parser *p);

enum http_route_kind {
	HTTP_ROUTE_GUEST,   /* GET /guests/ID/PATH: send the guest "GET /PATH" */
	HTTP_ROUTE_INFO,    /* GET /guests/ID: its info as JSON */
	HTTP_ROUTE_STATS,   /* GET /stats: the stats object */
	HTTP_ROUTE_METRICS, /* GET /metrics: Prometheus text */
};

struct http_route {
	enum http_route_kind kind;
	u32 id;		  /* GUEST, INFO */
	const char *path; /* GUEST: "/PATH", query included, as received (inside the request's target) */
	size_t path_len;
};

/*
 * Where a request (status 0) goes. Returns 0 with *r set, or the status
 * to answer instead: 400 (a target no GET has), 404 (names nothing
 * here), 405 (another method: answer with Allow), 414 (the guest's text
 * would not fit HTTP_GUEST_TEXT_MAX), 501 (a method unknown to HTTP).
 */
int http_route(const struct http_req *req, struct http_route *r);

/* The reason phrase of a status this server sends ("Not Found"), "" for others. */
const char *http_reason(int status);
/*
 * Writes a response head: the status line, Date (from now, seconds since
 * 1970), Content-Type (type, or none when NULL), Content-Length,
 * Connection, and Allow for 405. The caller sends length body bytes
 * after it, none for HEAD. Returns the head's length; like snprintf,
 * what did not fit is cut (NUL-terminated) when that is >= cap.
 */
size_t http_head_write(char *out, size_t cap, int status, const char *type, u64 length, bool keep_alive, time_t now);
/*
 * A whole error response: the head and the body "STATUS REASON\n", or
 * "STATUS REASON: DETAIL\n" (DETAIL cut to fit HTTP_ERROR_BODY_MAX), as
 * text/plain; the head alone for HEAD.
 */
size_t http_error_write(char *out, size_t cap, int status, bool keep_alive, bool head_only, time_t now,
			const char *detail);

#endif
