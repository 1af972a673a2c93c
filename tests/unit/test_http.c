/* test_http.c - the HTTP parser (whole, split, pipelined, hostile), router and responses; addresses; info as JSON. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "frontdoor.h"
#include "http.h"
#include "json.h"

static struct http_parser *parser_new(void)
{
	struct http_parser *p = malloc(sizeof(*p));

	assert_non_null(p);
	http_init(p);
	return p;
}

/* Feeds all of s (it must all be taken) and gives the next request, or NULL. */
static const struct http_req *feed(struct http_parser *p, const char *s)
{
	assert_int_equal(http_feed(p, s, strlen(s)), strlen(s));
	return http_next(p);
}

/* The status one whole request gets (0: a request to route). */
static int status_of(const char *s)
{
	struct http_parser *p = parser_new();
	const struct http_req *r = feed(p, s);
	int status;

	if (!r)
		fail_msg("no request from \"%s\"", s);
	status = r->status;
	free(p);
	return status;
}

static void assert_target(const struct http_req *r, const char *want)
{
	assert_non_null(r);
	assert_int_equal(r->target_len, strlen(want));
	assert_memory_equal(r->target, want, strlen(want));
}

static void test_a_request_is_parsed(void **state)
{
	struct http_parser *p = parser_new();
	const struct http_req *r = feed(p, "GET /guests/1/hello HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n");

	assert_non_null(r);
	assert_int_equal(r->status, 0);
	assert_int_equal(r->method, HTTP_GET);
	assert_int_equal(r->minor, 1);
	assert_true(r->keep_alive);
	assert_target(r, "/guests/1/hello");
	free(p);
}

static void test_bytes_one_at_a_time_give_the_same_request(void **state)
{
	const char *s = "\r\nGET /stats?x=1 HTTP/1.1\nHost: a.b:80\r\nAccept: */*\n\n";
	struct http_parser *p = parser_new();
	const struct http_req *r = NULL;

	for (size_t i = 0; s[i]; i++) {
		assert_null(r);
		assert_int_equal(http_feed(p, s + i, 1), 1);
		r = http_next(p);
	}
	assert_int_equal(r->status, 0);
	assert_target(r, "/stats?x=1");
	free(p);
}

static void test_pipelined_requests_come_one_at_a_time_in_order(void **state)
{
	struct http_parser *p = parser_new();
	const struct http_req *r =
		feed(p, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nHEAD /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c");

	assert_target(r, "/a");
	assert_ptr_equal(http_next(p), r); /* the same one until it is answered */
	http_done(p);
	r = http_next(p);
	assert_target(r, "/b");
	assert_int_equal(r->method, HTTP_HEAD);
	http_done(p);
	assert_null(http_next(p));
	r = feed(p, " HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_target(r, "/c");
	free(p);
}

static void test_a_full_buffer_takes_the_rest_after_the_answer(void **state)
{
	struct http_parser *p = parser_new();
	char *many = malloc(3 * HTTP_HEAD_MAX);
	const char *one = "GET /x HTTP/1.1\r\nHost: x\r\n\r\n";
	size_t n = 0, taken, count = 0;

	assert_non_null(many);
	while (n + strlen(one) < 3 * HTTP_HEAD_MAX)
		n += (size_t)sprintf(many + n, "%s", one);
	taken = http_feed(p, many, n);
	assert_int_equal(taken, HTTP_HEAD_MAX); /* no more is held than the buffer */
	while (http_next(p)) {
		assert_int_equal(http_next(p)->status, 0);
		http_done(p);
		count++;
		taken += http_feed(p, many + taken, n - taken);
	}
	assert_int_equal(taken, n);
	assert_int_equal(count, n / strlen(one));
	free(many);
	free(p);
}

static void test_persistence_follows_the_version_and_connection(void **state)
{
	struct http_parser *p = parser_new();

	assert_false(feed(p, "GET / HTTP/1.0\r\n\r\n")->keep_alive);
	http_init(p);
	assert_true(feed(p, "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")->keep_alive);
	http_init(p);
	assert_false(feed(p, "GET / HTTP/1.1\r\nHost: x\r\nConnection: foo, close\r\n\r\n")->keep_alive);
	http_done(p);
	/* after a request that ends the connection, what follows is taken and dropped */
	assert_int_equal(http_feed(p, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27), 27);
	assert_null(http_next(p));
	free(p);
}

static void test_a_body_is_skipped_even_when_split(void **state)
{
	struct http_parser *p = parser_new();
	const struct http_req *r = feed(p, "GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhel");

	assert_int_equal(r->content_length, 10);
	http_done(p);
	assert_null(feed(p, "lo wo"));
	r = feed(p, "rlGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_target(r, "/b");
	free(p);
}

/* A request as bytes, NULs included. */
struct bytes {
	const char *s;
	size_t n;
};
#define BYTES(lit)                   \
	{                            \
		lit, sizeof(lit) - 1 \
	}

static void test_malformed_requests_are_400(void **state)
{
	static const struct bytes bad[] = {
		BYTES("GET /stats HTTP/1.1\r\n\r\n"),			    /* no Host */
		BYTES("GET /stats HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), /* two */
		BYTES("hello\r\n\r\n"),					    /* no request line */
		BYTES("GET /stats\r\n\r\n"),				    /* HTTP/0.9 */
		BYTES("GET  /stats HTTP/1.1\r\nHost: x\r\n\r\n"),	    /* two spaces */
		BYTES("GET /st\x80ts HTTP/1.1\r\nHost: x\r\n\r\n"),	    /* a raw byte >= 0x80 */
		BYTES("GET /stats http/1.1\r\nHost: x\r\n\r\n"),	    /* version case */
		BYTES("GET /stats HTTP/1.1\r\nHost: x\rY: z\r\n\r\n"),	    /* a bare CR */
		BYTES("GET /stats HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n"), /* obs-fold */
		BYTES("GET /stats HTTP/1.1\r\nHost : x\r\n\r\n"),	    /* space before the colon */
		BYTES("GET /stats HTTP/1.1\r\nHost: x\r\nA\0B: c\r\n\r\n"), /* NUL */
		BYTES("GET /stats HTTP/1.1\r\nHost: x y\r\n\r\n"),	    /* not a host */
		BYTES("GET /stats HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx"),
		BYTES("GET /stats HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\nx"),
		BYTES("GET /stats HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\nx"),
		BYTES("GET /stats HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
		BYTES("GET /stats HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"),
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct http_parser *p = parser_new();
		const struct http_req *r;

		assert_int_equal(http_feed(p, bad[i].s, bad[i].n), bad[i].n);
		r = http_next(p);
		if (!r || r->status != 400)
			fail_msg("request %zu: status %d, wanted 400", i, r ? r->status : -1);
		assert_false(r->keep_alive); /* nothing after a framing error is trusted */
		free(p);
	}
}

static void test_oversized_requests_get_413_414_431(void **state)
{
	char *s = malloc(2 * HTTP_HEAD_MAX);
	struct http_parser *p = parser_new();
	const struct http_req *r;
	size_t n;

	assert_non_null(s);
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 65537\r\n\r\n"), 413);
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
			 413);
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 65536\r\n\r\n"), 0);
	/* a request line past 4096 bytes: 414 as soon as it is known, before its end comes */
	memcpy(s, "GET /", 5);
	memset(s + 5, 'a', HTTP_LINE_MAX);
	assert_int_equal(http_feed(p, s, HTTP_LINE_MAX + 5), HTTP_LINE_MAX + 5);
	r = http_next(p);
	assert_non_null(r);
	assert_int_equal(r->status, 414);
	/* header fields filling the buffer with no end: 431 */
	http_init(p);
	n = (size_t)sprintf(s, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(s + n, 'b', HTTP_HEAD_MAX);
	assert_int_equal(http_feed(p, s, HTTP_HEAD_MAX + n), HTTP_HEAD_MAX);
	r = http_next(p);
	assert_non_null(r);
	assert_int_equal(r->status, 431);
	free(s);
	free(p);
}

static void test_versions_and_expectations(void **state)
{
	assert_int_equal(status_of("GET / HTTP/2.0\r\nHost: x\r\n\r\n"), 505);
	assert_int_equal(status_of("GET / HTTP/1.9\r\nHost: x\r\n\r\n"), 0); /* read as 1.1 */
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"), 411);
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n\r\n"), 417);

	struct http_parser *p = parser_new();
	const struct http_req *r =
		feed(p, "GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");

	assert_int_equal(r->status, 0);
	assert_false(r->keep_alive); /* the held-back body might come or not: the connection ends */
	free(p);
}

/* Routes a GET of target; returns http_route's answer. */
static int route(const char *method_target, struct http_route *out)
{
	char req[1024];
	struct http_parser *p = parser_new();
	const struct http_req *r;
	int status;

	snprintf(req, sizeof(req), "%s HTTP/1.1\r\nHost: x\r\n\r\n", method_target);
	r = feed(p, req);
	assert_non_null(r);
	assert_int_equal(r->status, 0);
	status = http_route(r, out);
	if (status == 0 && out->kind == HTTP_ROUTE_GUEST) { /* path points into the parser: copy it out */
		static char path[512];

		memcpy(path, out->path, out->path_len);
		out->path = path;
	}
	free(p);
	return status;
}

static void test_routes(void **state)
{
	struct http_route r;
	char long_target[400];

	assert_int_equal(route("GET /guests/1234/hello", &r), 0);
	assert_int_equal(r.kind, HTTP_ROUTE_GUEST);
	assert_int_equal(r.id, 1234);
	assert_int_equal(r.path_len, 6);
	assert_memory_equal(r.path, "/hello", 6);
	assert_int_equal(route("HEAD /guests/7/a/b?c=d", &r), 0);
	assert_int_equal(r.path_len, 8);
	assert_memory_equal(r.path, "/a/b?c=d", 8);
	assert_int_equal(route("GET /guests/0/", &r), 0);
	assert_int_equal(r.path_len, 1);
	assert_int_equal(route("GET /guests/4294967295", &r), 0);
	assert_int_equal(r.kind, HTTP_ROUTE_INFO);
	assert_int_equal(r.id, 4294967295u);
	assert_int_equal(route("GET /stats", &r), 0);
	assert_int_equal(r.kind, HTTP_ROUTE_STATS);
	assert_int_equal(route("GET /stats?pretty", &r), 0);
	assert_int_equal(r.kind, HTTP_ROUTE_STATS);
	assert_int_equal(route("GET /metrics", &r), 0);
	assert_int_equal(r.kind, HTTP_ROUTE_METRICS);
	assert_int_equal(route("GET http://example/guests/5/x", &r), 0); /* absolute-form */
	assert_int_equal(r.id, 5);
	assert_int_equal(route("GET /guests/4294967296/x", &r), 404);
	assert_int_equal(route("GET /guests//x", &r), 404);
	assert_int_equal(route("GET /guests/%31/x", &r), 404);
	assert_int_equal(route("GET /guests/", &r), 404);
	assert_int_equal(route("GET /", &r), 404);
	assert_int_equal(route("GET /statsx", &r), 404);
	assert_int_equal(route("GET *", &r), 400);
	assert_int_equal(route("POST /stats", &r), 405);
	assert_int_equal(route("DELETE /guests/1", &r), 405);
	assert_int_equal(route("get /stats", &r), 501); /* methods are case-sensitive */
	/* "GET /PATH\n" must fit the guest's 256-byte input queue */
	snprintf(long_target, sizeof(long_target), "GET /guests/1/%0*d", HTTP_GUEST_TEXT_MAX - 5, 0);
	assert_int_equal(route(long_target, &r), 0);
	assert_int_equal(4 + r.path_len, HTTP_GUEST_TEXT_MAX);
	snprintf(long_target, sizeof(long_target), "GET /guests/1/%0*d", HTTP_GUEST_TEXT_MAX - 4, 0);
	assert_int_equal(route(long_target, &r), 414);
}

static void test_responses(void **state)
{
	char out[512];
	size_t n;

	/* RFC 9110 §5.6.7's example date */
	n = http_head_write(out, sizeof(out), 200, "text/plain", 14, true, 784111777);
	assert_int_equal(n, strlen(out));
	assert_string_equal(out,
			    "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Type: text/plain\r\n"
			    "Content-Length: 14\r\nConnection: keep-alive\r\n\r\n");
	n = http_head_write(out, sizeof(out), 405, NULL, 0, false, 0);
	assert_non_null(strstr(out, "Allow: GET, HEAD\r\n"));
	assert_non_null(strstr(out, "Connection: close\r\n"));
	assert_null(strstr(out, "Content-Type"));
	n = http_error_write(out, sizeof(out), 503, false, false, 0, "guest not running");
	assert_int_equal(n, strlen(out));
	assert_non_null(strstr(
		out, "Content-Length: 43\r\nConnection: close\r\n\r\n503 Service Unavailable: guest not running\n"));
	n = http_error_write(out, sizeof(out), 404, true, true, 0, NULL);
	assert_non_null(strstr(out, "Content-Length: 14\r\n"));
	assert_int_equal(n, strlen(out)); /* HEAD: the head alone */
	assert_true(out[n - 1] == '\n' && out[n - 3] == '\n');
	/* too small a buffer: cut, NUL-terminated, the length it needed */
	n = http_error_write(out, 20, 404, true, false, 0, NULL);
	assert_true(n > 20);
	assert_int_equal(strlen(out), 19);
	for (int s = 100; s < 600; s++)
		if (*http_reason(s))
			assert_true(http_head_write(out, sizeof(out), s, "text/plain; version=0.0.4; charset=utf-8",
						    UINT64_MAX, true, 0) < HTTP_RESPONSE_HEAD_MAX);
}

static void test_addresses(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	char err[128];

	assert_int_equal(frontdoor_addr_parse("8080", &ss, &len, err, sizeof(err)), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohl(in4->sin_addr.s_addr), INADDR_LOOPBACK); /* 127.0.0.1 unless asked */
	assert_int_equal(ntohs(in4->sin_port), 8080);
	assert_int_equal(frontdoor_addr_parse("0.0.0.0:0", &ss, &len, err, sizeof(err)), 0);
	assert_int_equal(in4->sin_addr.s_addr, 0);
	assert_int_equal(frontdoor_addr_parse("[::1]:81", &ss, &len, err, sizeof(err)), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(ntohs(in6->sin6_port), 81);
	assert_int_equal(len, sizeof(*in6));
	static const char *const bad[] = {
		"localhost:80", "1.2.3.4:65536", ":80", "1.2.3.4", "", "[::1]", "1.2.3.4:-1"
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		err[0] = '\0';
		if (frontdoor_addr_parse(bad[i], &ss, &len, err, sizeof(err)) != -1)
			fail_msg("'%s' was taken", bad[i]);
		assert_true(err[0]);
	}
}

static void test_info_as_json(void **state)
{
	char out[256];
	const char *a = "halted booted=1 exits=42 out=007 cpu_us=0 reason=int 15h \"x\"\\y";

	size_t n = json_info(9, a, strlen(a), out, sizeof(out));

	assert_int_equal(n, strlen(out));
	assert_string_equal(out,
			    "{\"id\":9,\"state\":\"halted\",\"booted\":true,\"exits\":42,\"out\":\"007\",\"cpu_us\":0,"
			    "\"reason\":\"int 15h \\\"x\\\"\\\\y\"}");
	assert_int_equal(json_info(1, "booted=1", 8, out, sizeof(out)), 0);    /* no state */
	assert_int_equal(json_info(1, "x booted=2", 10, out, sizeof(out)), 0); /* not a boolean */
	assert_int_equal(json_info(1, "x =1", 4, out, sizeof(out)), 0);	       /* no key */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_request_is_parsed),
		cmocka_unit_test(test_bytes_one_at_a_time_give_the_same_request),
		cmocka_unit_test(test_pipelined_requests_come_one_at_a_time_in_order),
		cmocka_unit_test(test_a_full_buffer_takes_the_rest_after_the_answer),
		cmocka_unit_test(test_persistence_follows_the_version_and_connection),
		cmocka_unit_test(test_a_body_is_skipped_even_when_split),
		cmocka_unit_test(test_malformed_requests_are_400),
		cmocka_unit_test(test_oversized_requests_get_413_414_431),
		cmocka_unit_test(test_versions_and_expectations),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_responses),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_info_as_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
