/* fuzz_http.c - libFuzzer target: the HTTP front door's parser and router, on any bytes cut into any pieces. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http.h"

/*
 * Every byte an HTTP client sends reaches http_feed(). The first input
 * byte picks how the rest is cut into pieces (1 to 256 bytes, or whole);
 * the same stream is then parsed a second time one byte at a time, and
 * both parses must give the same requests, statuses and targets: where a
 * piece ends must not change what a request is (a difference would let
 * two readers of one stream disagree). Each request is routed, answered
 * (http_done) and checked against http.h: a status it may give, a target
 * inside the parser's buffer, a guest's text within HTTP_GUEST_TEXT_MAX.
 */

#define MAX_REQS 4096

struct seen {
	int status, route, kind;
	u32 id;
	size_t target_len, path_len;
	u32 target_hash;
};

static u32 hash(const char *s, size_t n)
{
	u32 h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (u8)s[i]) * 16777619u;
	return h;
}

static bool status_ok(int s)
{
	static const int known[] = { 0, 400, 411, 413, 414, 417, 431, 505 };

	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if (s == known[i])
			return true;
	return false;
}

/* Takes every request now ready; returns how many were seen so far. */
static size_t drain(struct http_parser *p, struct seen *out, size_t n)
{
	const struct http_req *r;

	while (n < MAX_REQS && (r = http_next(p))) {
		struct http_route rt;
		struct seen s;

		memset(&s, 0, sizeof(s)); /* compared with memcmp: padding too */
		s.status = r->status;

		FUZZ_CHECK(status_ok(r->status));
		FUZZ_CHECK(http_next(p) == r); /* the same one until answered */
		if (!r->status) {
			FUZZ_CHECK(r->target >= p->buf && r->target + r->target_len <= p->buf + sizeof(p->buf));
			FUZZ_CHECK(r->target_len > 0 && r->minor <= 1);
			s.target_len = r->target_len;
			s.target_hash = hash(r->target, r->target_len);
			s.route = http_route(r, &rt);
			FUZZ_CHECK(s.route == 0 || s.route == 400 || s.route == 404 || s.route == 405 ||
				   s.route == 414 || s.route == 501);
			if (s.route == 0) {
				s.kind = rt.kind;
				s.id = rt.id;
				if (rt.kind == HTTP_ROUTE_GUEST) {
					FUZZ_CHECK(rt.path >= r->target &&
						   rt.path + rt.path_len <= r->target + r->target_len);
					FUZZ_CHECK(4 + rt.path_len <= HTTP_GUEST_TEXT_MAX && rt.path[0] == '/');
					s.path_len = rt.path_len;
				}
			}
		} else {
			FUZZ_CHECK(!r->keep_alive); /* nothing after an error is read as a request */
		}
		out[n++] = s;
		http_done(p);
	}
	return n;
}

/* Feeds data in pieces of `piece` bytes (0: whole), answering requests as they come. */
static size_t parse(struct http_parser *p, const u8 *data, size_t len, size_t piece, struct seen *out)
{
	size_t n = 0, at = 0;

	http_init(p);
	while (at < len) {
		size_t want = piece && len - at > piece ? piece : len - at, took = http_feed(p, data + at, want);

		FUZZ_CHECK(took <= want);
		at += took;
		n = drain(p, out, n);
		/* nothing taken and no request ready: the buffer is full of an unfinished head, which is a 431 */
		if (!took && !http_next(p))
			break;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	static struct http_parser p1, p2;
	static struct seen a[MAX_REQS], b[MAX_REQS];
	size_t piece, na, nb;
	u8 *copy;

	if (size < 1)
		return 0;
	piece = data[0] ? data[0] : 0;
	copy = malloc(size - 1 ? size - 1 : 1); /* an exact-size copy: ASan sees any read past it */
	if (!copy)
		abort();
	memcpy(copy, data + 1, size - 1);
	na = parse(&p1, copy, size - 1, piece, a);
	nb = parse(&p2, copy, size - 1, 1, b);
	FUZZ_CHECK(na == nb);
	for (size_t i = 0; i < na; i++)
		FUZZ_CHECK(!memcmp(&a[i], &b[i], sizeof(a[i])));
	free(copy);
	return 0;
}
