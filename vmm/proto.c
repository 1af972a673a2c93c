/* proto.c - the control protocol's escaping, request parsing, line assembly and id ranges. */
#include <stdio.h>
#include <string.h>

#include <stdlib.h>

#include "proto.h"

/*
 * Everything here takes bytes from a hostile client: lengths are always
 * explicit, nothing relies on a NUL, and every index is checked before use.
 */

/* The named escapes as (letter, byte) pairs; any other byte needs \xHH. */
static int escape_pair(char c, int from_byte)
{
	static const char pairs[] = "n\nr\rt\t\\\\";
	size_t i;

	for (i = 0; i + 1 < sizeof(pairs); i += 2)
		if (pairs[i + from_byte] == c)
			return (u8)pairs[i + 1 - from_byte];
	return -1;
}

size_t proto_escape(const u8 *in, size_t len, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	if (!cap)
		return 0;
	for (i = 0; i < len; i++) {
		int name = escape_pair((char)in[i], 1);
		char e[4] = { '\\', (char)name };
		size_t el = 2;

		if (name < 0 && in[i] >= 0x20 && in[i] <= 0x7e) {
			e[0] = (char)in[i];
			el = 1;
		} else if (name < 0) {
			e[1] = 'x';
			e[2] = hex[in[i] >> 4];
			e[3] = hex[in[i] & 15];
			el = 4;
		}
		/* all of an escape or none of it: the caller resumes at byte i */
		if (el > cap - 1 - o)
			break;
		memcpy(out + o, e, el);
		o += el;
	}
	out[o] = '\0';
	return i;
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

ssize_t proto_unescape(const char *in, size_t len, u8 *out, size_t cap)
{
	size_t i = 0, o = 0;

	while (i < len) {
		int c = (u8)in[i++];

		if (c == '\\' && i >= len) {
			return -1; /* a lone backslash at the end */
		} else if (c == '\\' && in[i] == 'x') {
			/* exactly two digits, so "\x41" then "2" stays unambiguous */
			int hi = i + 1 < len ? hex_val(in[i + 1]) : -1;
			int lo = i + 2 < len ? hex_val(in[i + 2]) : -1;

			if (hi < 0 || lo < 0)
				return -1;
			c = hi << 4 | lo;
			i += 3;
		} else if (c == '\\') {
			c = escape_pair(in[i++], 0);
			if (c < 0)
				return -1;
		}
		if (o >= cap)
			return -1;
		out[o++] = (u8)c;
	}
	return (ssize_t)o;
}

/* A plain decimal number up to max: no sign, no spaces, not empty. */
static int parse_dec(const char *s, size_t len, u64 max, u64 *v)
{
	size_t i;

	*v = 0;
	if (!len)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (s[i] < '0' || s[i] > '9' || *v > (max - d) / 10)
			return -1;
		*v = *v * 10 + d;
	}
	return 0;
}

/* Splits s at its first space: returns the word's length; *rest is NULL when there is no space. */
static size_t split(const char *s, size_t len, const char **rest, size_t *rest_len)
{
	const char *sp = len ? memchr(s, ' ', len) : NULL;
	size_t wlen = sp ? (size_t)(sp - s) : len;

	*rest = sp ? sp + 1 : NULL;
	*rest_len = sp ? len - wlen - 1 : 0;
	return wlen;
}

static int lookup(const char *const *words, size_t n, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strlen(words[i]) == len && !memcmp(s, words[i], len))
			return (int)i;
	return -1;
}

static int fail(const char **err, const char *why)
{
	*err = why;
	return -1;
}

const char *const proto_states[] = { "running", "halted", "parked", "ended",  "failed",
				     "silent",	"lost",	  "booted", NULL };

int proto_parse(const char *line, size_t len, struct proto_req *req, const char **err)
{
	static const char *const cmds[] = {
		[PROTO_SEND] = "send", [PROTO_REQ] = "req",   [PROTO_READ] = "read",   [PROTO_WATCH] = "watch",
		[PROTO_LIST] = "list", [PROTO_INFO] = "info", [PROTO_STATS] = "stats", [PROTO_STOP] = "stop",
	};
	const char *rest, *tail;
	size_t wlen, rest_len, tail_len;
	int cmd;
	u64 v;

	memset(req, 0, sizeof(*req));
	if (len && line[len - 1] == '\r')
		len--;
	wlen = split(line, len, &rest, &rest_len);
	cmd = lookup(cmds, ARRAY_SIZE(cmds), line, wlen);
	if (cmd < 0)
		return fail(err, "unknown command");
	req->cmd = (enum proto_cmd)cmd;

	if (req->cmd == PROTO_LIST || req->cmd == PROTO_STATS) {
		if (!rest)
			return 0;
		if (req->cmd == PROTO_STATS || lookup(proto_states, ARRAY_SIZE(proto_states) - 1, rest, rest_len) < 0)
			return fail(err, "bad argument");
		req->arg = rest;
		req->arg_len = rest_len;
		return 0;
	}
	if (req->cmd == PROTO_STOP && !rest)
		return 0;

	/* the rest start with an ID; a missing one is treated as an empty one */
	wlen = split(rest, rest_len, &tail, &tail_len);
	if (!rest || parse_dec(rest, wlen, UINT32_MAX, &v))
		return fail(err, "bad id");
	req->has_id = true;
	req->id = (u32)v;
	if (req->cmd == PROTO_SEND || req->cmd == PROTO_REQ) {
		/* DATA/TEXT may hold spaces, so it is all the rest of the line */
		if (!tail_len)
			return fail(err, "missing argument");
		req->arg = tail;
		req->arg_len = tail_len;
		return 0;
	}
	if (!tail)
		return 0;
	/* only read takes something after the ID */
	if (req->cmd != PROTO_READ || parse_dec(tail, tail_len, UINT64_MAX, &req->from))
		return fail(err, "bad argument");
	req->has_from = true;
	return 0;
}

void line_feed(struct line_reader *lr, const u8 *data, size_t n, void (*on_line)(void *ctx, char *line, size_t len),
	       void (*on_too_long)(void *ctx), void *ctx)
{
	while (n) {
		const u8 *nl = memchr(data, '\n', n);
		size_t take = nl ? (size_t)(nl - data) : n;
		size_t used = nl ? take + 1 : n;

		if (lr->skipping) {
			/* the rest of an overlong line: drop it, resume after its "\n" */
			lr->skipping = !nl;
		} else if (take > PROTO_LINE_MAX - lr->len) {
			/* report at once so the answer comes before any later line's */
			lr->len = 0;
			lr->skipping = !nl;
			on_too_long(ctx);
		} else {
			memcpy(lr->buf + lr->len, data, take);
			lr->len += take;
			if (nl) {
				/* NUL-terminated so callers may use string functions */
				lr->buf[lr->len] = '\0';
				on_line(ctx, lr->buf, lr->len);
				lr->len = 0;
			}
		}
		data += used;
		n -= used;
	}
}

size_t proto_ranges_write(u32 n, u32 base, bool (*in)(void *ctx, u32 id),
			  void (*out)(void *ctx, const char *s, size_t len), void *ctx)
{
	size_t pos = 0;
	u32 id = 0;

	/* in() may take a lock or walk shared memory: ask about each id once */
	while (id < n) {
		u32 first = id, last = id;
		char num[32];
		int l;

		if (!in(ctx, id++))
			continue;
		/* id stays <= n, so this cannot wrap even for n == UINT32_MAX */
		while (id < n && in(ctx, id++))
			last = id - 1;
		if (first == last)
			l = snprintf(num, sizeof(num), "%s%u", pos ? "," : "", base + first);
		else
			l = snprintf(num, sizeof(num), "%s%u-%u", pos ? "," : "", base + first, base + last);
		out(ctx, num, (size_t)l);
		pos += (size_t)l;
	}
	return pos;
}

/* proto_ranges() into a buffer, with snprintf's contract: count everything, store what fits. */
struct ranges_buf {
	bool (*in)(void *ctx, u32 id);
	void *ctx;
	char *out;
	size_t cap, pos;
};

static bool ranges_buf_in(void *ctx, u32 id)
{
	struct ranges_buf *r = ctx;

	return r->in(r->ctx, id);
}

static void ranges_buf_put(void *ctx, const char *s, size_t len)
{
	struct ranges_buf *r = ctx;

	for (size_t i = 0; i < len; i++, r->pos++)
		if (r->pos + 1 < r->cap)
			r->out[r->pos] = s[i];
}

size_t proto_ranges(u32 n, bool (*in)(void *ctx, u32 id), void *ctx, char *out, size_t cap)
{
	struct ranges_buf r = { .in = in, .ctx = ctx, .out = out, .cap = cap };

	proto_ranges_write(n, 0, ranges_buf_in, ranges_buf_put, &r);
	if (cap)
		out[r.pos < cap ? r.pos : cap - 1] = '\0';
	return r.pos;
}

int line_buf_feed(struct line_buf *lb, const u8 *data, size_t n, void (*on_line)(void *ctx, char *line, size_t len),
		  void *ctx)
{
	size_t start = 0, scan;

	if (lb->len + n + 1 > lb->cap) {
		size_t cap = lb->cap ? lb->cap : 4096;
		char *p;

		while (cap < lb->len + n + 1)
			cap *= 2;
		p = realloc(lb->buf, cap);
		if (!p)
			return -1;
		lb->buf = p;
		lb->cap = cap;
	}
	memcpy(lb->buf + lb->len, data, n);
	scan = lb->len;
	lb->len += n;
	for (; scan < lb->len; scan++) {
		if (lb->buf[scan] != '\n')
			continue;
		lb->buf[scan] = '\0';
		on_line(ctx, lb->buf + start, scan - start);
		start = scan + 1;
	}
	memmove(lb->buf, lb->buf + start, lb->len - start);
	lb->len -= start;
	return 0;
}

void line_buf_free(struct line_buf *lb)
{
	free(lb->buf);
	*lb = (struct line_buf){ 0 };
}

/* The number that s[0..len) starts with (at most 10 digits), and how many digits it has. */
static size_t lead_number(const char *s, size_t len, u64 *v)
{
	size_t n = 0;

	for (*v = 0; n < len && n < 10 && s[n] >= '0' && s[n] <= '9'; n++)
		*v = *v * 10 + (u64)(s[n] - '0');
	return n;
}

/* The range "LO" or "LO-HI" at the start of s: its length, or 0 if there is none. */
static size_t range_parse(const char *s, size_t len, u32 *lo, u32 *hi)
{
	size_t n, m;
	u64 a, b;

	n = lead_number(s, len, &a);
	if (!n || a > UINT32_MAX)
		return 0;
	b = a;
	if (n < len && s[n] == '-') {
		m = lead_number(s + n + 1, len - n - 1, &b);
		if (!m || b > UINT32_MAX)
			return 0;
		n += 1 + m;
	}
	*lo = (u32)a;
	*hi = (u32)b;
	return n;
}

static void join_emit(struct proto_join *j, u32 lo, u32 hi, void (*out)(void *ctx, const char *s, size_t n), void *ctx)
{
	char buf[32];
	int n = lo == hi ? snprintf(buf, sizeof(buf), "%s%u", j->any ? "," : "", lo)
			 : snprintf(buf, sizeof(buf), "%s%u-%u", j->any ? "," : "", lo, hi);

	out(ctx, buf, (size_t)n);
	j->any = true;
}

void proto_join_feed(struct proto_join *j, const char *r, size_t len, void (*out)(void *ctx, const char *s, size_t n),
		     void *ctx)
{
	size_t first, last = len;
	u32 a, b, la, lb;

	if (!len)
		return;
	while (last > 0 && r[last - 1] != ',') /* the last range starts at r + last */
		last--;
	first = range_parse(r, len, &a, &b);
	if (!first || !range_parse(r + last, len - last, &la, &lb)) {
		/* not ranges: passed on as they are */
		proto_join_end(j, out, ctx);
		if (j->any)
			out(ctx, ",", 1);
		out(ctx, r, len);
		j->any = true;
		return;
	}
	if (j->held && (u64)a == (u64)j->hi + 1) {
		/* the held range goes on in this list */
		if (last == 0) {
			j->hi = b; /* and ends in it, or later */
			return;
		}
		join_emit(j, j->lo, b, out, ctx);
		if (last - 1 > first) /* ",R2,...,Rk-1" */
			out(ctx, r + first, last - 1 - first);
	} else {
		proto_join_end(j, out, ctx);
		if (last > 0) { /* "R1,...,Rk-1" */
			if (j->any)
				out(ctx, ",", 1);
			out(ctx, r, last - 1);
			j->any = true;
		}
	}
	j->held = true;
	j->lo = la;
	j->hi = lb;
}

void proto_join_end(struct proto_join *j, void (*out)(void *ctx, const char *s, size_t n), void *ctx)
{
	if (j->held)
		join_emit(j, j->lo, j->hi, out, ctx);
	j->held = false;
}
