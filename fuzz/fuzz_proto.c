/* fuzz_proto.c - libFuzzer target: the control protocol's parsing, escaping, line assembly and id ranges. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proto.h"

/*
 * Everything in proto.c takes bytes from a client that may be hostile.
 * Inputs are copied into heap buffers of exactly their length, so a read
 * past an explicit length is an overflow AddressSanitizer reports. Each
 * piece is also checked against what docs/control-protocol.md and proto.h
 * say it does, written here a second time in the plainest way. The first
 * input byte picks the piece; the rest is its input.
 */

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		abort();
	return p;
}

static u8 *copy(const u8 *data, size_t len)
{
	return memcpy(xmalloc(len), data, len);
}

/* ---- proto_parse against the grammar of docs/control-protocol.md ---- */

static const char *const cmd_names[] = { "send", "req", "read", "watch", "list", "info", "stats", "stop" };
static const char *const state_names[] = { "running", "halted", "ended", "failed", "lost", "booted" };

static int name_index(const char *const *names, size_t n, const char *s, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(names[i]) == len && !memcmp(names[i], s, len))
			return (int)i;
	return -1;
}

/* A plain decimal number up to max: digits only, at least one. */
static bool decimal(const char *s, size_t len, u64 max, u64 *v)
{
	unsigned __int128 acc = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		acc = acc * 10 + (unsigned)(s[i] - '0');
		if (acc > max)
			return false;
	}
	*v = (u64)acc;
	return len > 0;
}

/* Where the first space is, or len: words are separated by single spaces. */
static size_t word(const char *s, size_t len)
{
	const char *sp = memchr(s, ' ', len);

	return sp ? (size_t)(sp - s) : len;
}

/* The expected result of parsing line, or the error text. */
static const char *expect_parse(const char *line, size_t len, struct proto_req *want)
{
	size_t w, rest_len;
	const char *rest;
	u64 v;
	int cmd;

	memset(want, 0, sizeof(*want));
	if (len && line[len - 1] == '\r') /* a \r before the \n is ignored */
		len--;
	w = word(line, len);
	cmd = name_index(cmd_names, ARRAY_SIZE(cmd_names), line, w);
	if (cmd < 0)
		return "unknown command";
	want->cmd = (enum proto_cmd)cmd;
	if (w == len) /* the command alone */
		return want->cmd == PROTO_LIST || want->cmd == PROTO_STATS || want->cmd == PROTO_STOP ? NULL : "bad id";
	rest = line + w + 1;
	rest_len = len - w - 1;
	if (want->cmd == PROTO_STATS)
		return "bad argument";
	if (want->cmd == PROTO_LIST) {
		if (name_index(state_names, ARRAY_SIZE(state_names), rest, rest_len) < 0)
			return "bad argument";
		want->arg = rest;
		want->arg_len = rest_len;
		return NULL;
	}
	w = word(rest, rest_len);
	if (!decimal(rest, w, UINT32_MAX, &v))
		return "bad id";
	want->has_id = true;
	want->id = (u32)v;
	if (want->cmd == PROTO_SEND || want->cmd == PROTO_REQ) {
		if (w + 1 >= rest_len)
			return "missing argument";
		want->arg = rest + w + 1; /* all the rest, spaces included */
		want->arg_len = rest_len - w - 1;
		return NULL;
	}
	if (w == rest_len)
		return NULL;
	if (want->cmd != PROTO_READ || !decimal(rest + w + 1, rest_len - w - 1, UINT64_MAX, &want->from))
		return "bad argument";
	want->has_from = true;
	return NULL;
}

static void fuzz_parse(const u8 *data, size_t len)
{
	char *line = (char *)copy(data, len);
	struct proto_req req, want;
	const char *err = NULL, *want_err = expect_parse(line, len, &want);
	int rc = proto_parse(line, len, &req, &err);

	if (want_err) {
		FUZZ_CHECK(rc == -1 && err && !strcmp(err, want_err));
	} else {
		FUZZ_CHECK(rc == 0);
		FUZZ_CHECK(req.cmd == want.cmd && req.has_id == want.has_id && req.id == want.id);
		FUZZ_CHECK(req.has_from == want.has_from && req.from == want.from);
		FUZZ_CHECK(req.arg == want.arg && req.arg_len == want.arg_len);
	}
	if (!rc && req.arg) { /* what the server does next with DATA/TEXT */
		u8 *out = xmalloc(req.arg_len);
		ssize_t n = proto_unescape(req.arg, req.arg_len, out, req.arg_len);

		FUZZ_CHECK(n >= -1 && n <= (ssize_t)req.arg_len);
		free(out);
	}
	free(line);
}

/* ---- proto_escape / proto_unescape ---- */

/* The length of one byte's escape: \n \r \t \\ are two, printable bytes one, the rest \xHH. */
static size_t escape_len(u8 b)
{
	if (b == '\n' || b == '\r' || b == '\t' || b == '\\')
		return 2;
	return b >= 0x20 && b <= 0x7e ? 1 : 4;
}

/* Escapes bytes into cap chars and checks the contract of proto.h; returns the bytes consumed. */
static size_t check_escape(const u8 *bytes, size_t len, char *out, size_t cap)
{
	size_t used = proto_escape(bytes, len, out, cap), olen;
	u8 *back;

	if (!cap) {
		FUZZ_CHECK(used == 0);
		return 0;
	}
	olen = strnlen(out, cap);
	FUZZ_CHECK(olen < cap && used <= len);
	for (size_t i = 0; i < olen; i++)
		FUZZ_CHECK(out[i] >= 0x20 && out[i] <= 0x7e); /* an answer line stays one printable line */
	/* It stops only where the next escape would not fit whole. */
	if (used < len)
		FUZZ_CHECK(olen + escape_len(bytes[used]) > cap - 1);
	/* And what it wrote decodes to exactly what it consumed. */
	back = xmalloc(used);
	FUZZ_CHECK(proto_unescape(out, olen, back, used) == (ssize_t)used);
	FUZZ_CHECK(!memcmp(back, bytes, used));
	free(back);
	return used;
}

static void fuzz_escape(const u8 *data, size_t len)
{
	struct fuzz_in in = { data, len };
	size_t cap = fuzz_u8(&in), n = in.left, big = PROTO_ESCAPED_MAX(n) + 1;
	u8 *bytes = copy(in.p, n), *dec = xmalloc(cap);
	char *out = xmalloc(cap), *all = xmalloc(big);
	ssize_t d;

	/* The input as raw bytes: escaped into a small buffer, and into one of the documented worst-case size. */
	check_escape(bytes, n, out, cap);
	FUZZ_CHECK(check_escape(bytes, n, all, big) == n);
	/* The input as escaped text from a client: decoded, it must escape back to text that decodes the same. */
	d = proto_unescape((const char *)bytes, n, dec, cap);
	FUZZ_CHECK(d >= -1 && d <= (ssize_t)cap && d <= (ssize_t)n);
	if (d > 0) {
		char *again = xmalloc(PROTO_ESCAPED_MAX((size_t)d) + 1);

		FUZZ_CHECK(check_escape(dec, (size_t)d, again, PROTO_ESCAPED_MAX((size_t)d) + 1) == (size_t)d);
		free(again);
	}
	free(bytes);
	free(dec);
	free(out);
	free(all);
}

/* ---- line_feed and line_buf_feed against a plain split at "\n" ---- */

#define STREAM_MAX 16384

struct event {
	size_t off, len; /* a line: where it is in the stream */
	bool too_long;
};

struct expect {
	const u8 *stream;
	struct event *ev;
	size_t n, next;
};

static void on_line(void *ctx, char *line, size_t len)
{
	struct expect *x = ctx;
	const struct event *e = &x->ev[x->next++];

	FUZZ_CHECK(x->next <= x->n && !e->too_long && e->len == len);
	FUZZ_CHECK(!memcmp(line, x->stream + e->off, len) && line[len] == '\0');
}

static void on_too_long(void *ctx)
{
	struct expect *x = ctx;

	FUZZ_CHECK(x->next < x->n && x->ev[x->next++].too_long);
}

/*
 * The events of a stream: each line ended by "\n", or "too long" once for a
 * line longer than limit (also for an unfinished one, reported at once).
 */
static size_t split_lines(const u8 *s, size_t len, size_t limit, struct event *ev)
{
	size_t n = 0, start = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != '\n')
			continue;
		if (i - start > limit)
			ev[n++] = (struct event){ .too_long = true };
		else if (i < len)
			ev[n++] = (struct event){ .off = start, .len = i - start };
		start = i + 1;
	}
	return n;
}

static void fuzz_lines(const u8 *data, size_t len)
{
	struct fuzz_in in = { data, len };
	u8 *stream = xmalloc(STREAM_MAX);
	size_t cut[512], ncut = 0, n = 0, tail;
	struct line_reader *lr = xmalloc(sizeof(*lr)), *whole = xmalloc(sizeof(*whole));
	struct line_buf lb = { 0 };
	struct expect x = { stream, NULL, 0, 0 };

	/* The stream: literal pieces, and runs of one byte so lines longer than PROTO_LINE_MAX come cheaply. */
	while (in.left && ncut < ARRAY_SIZE(cut)) {
		u8 op = fuzz_u8(&in), b;
		size_t piece = op < 0x80 ? op + 1u : ((op & 0x7fu) + 1) * 64;

		if (piece > STREAM_MAX - n)
			break;
		b = fuzz_u8(&in);
		for (size_t i = 0; i < piece; i++)
			stream[n + i] = op < 0x80 && i ? fuzz_u8(&in) : b;
		n += piece;
		cut[ncut++] = n;
	}
	x.ev = xmalloc((n + 1) * sizeof(*x.ev));

	/* line_feed, fed piece by piece and all at once: the same lines either way. */
	x.n = split_lines(stream, n, PROTO_LINE_MAX, x.ev);
	memset(lr, 0, sizeof(*lr));
	for (size_t i = 0, from = 0; i < ncut; from = cut[i++])
		line_feed(lr, stream + from, cut[i] - from, on_line, on_too_long, &x);
	FUZZ_CHECK(x.next == x.n);
	x.next = 0;
	memset(whole, 0, sizeof(*whole));
	line_feed(whole, stream, n, on_line, on_too_long, &x);
	FUZZ_CHECK(x.next == x.n);

	/* line_buf_feed has no limit, and keeps the unfinished line. */
	x.n = split_lines(stream, n, SIZE_MAX, x.ev);
	x.next = 0;
	for (size_t i = 0, from = 0; i < ncut; from = cut[i++])
		FUZZ_CHECK(line_buf_feed(&lb, stream + from, cut[i] - from, on_line, &x) == 0);
	FUZZ_CHECK(x.next == x.n);
	tail = n - (x.n ? x.ev[x.n - 1].off + x.ev[x.n - 1].len + 1 : 0);
	FUZZ_CHECK(lb.len == tail && lb.len <= lb.cap && (!tail || !memcmp(lb.buf, stream + n - tail, tail)));
	line_buf_free(&lb);
	free(x.ev);
	free(lr);
	free(whole);
	free(stream);
}

/* ---- proto_ranges against a plain loop ---- */

struct members {
	const u8 *bits;
	size_t nbits;
	u32 asked; /* ids asked about so far: each once, in order */
};

static bool member(void *ctx, u32 id)
{
	struct members *m = ctx;

	FUZZ_CHECK(id == m->asked++); /* in() may be costly: each id once */
	return id < m->nbits && (m->bits[id / 8] >> (id % 8) & 1);
}

static void fuzz_ranges(const u8 *data, size_t len)
{
	struct fuzz_in in = { data, len };
	u32 n = fuzz_u16(&in) % 4096;
	size_t cap = fuzz_u16(&in) % 1024, pos = 0, got;
	struct members m = { in.p, in.left * 8, 0 };
	char *out = xmalloc(cap + 1), *want = xmalloc((size_t)n * 24 + 1);

	for (u32 id = 0; id < n;) {
		u32 first = id;

		if (!(id < m.nbits && (in.p[id / 8] >> (id % 8) & 1))) {
			id++;
			continue;
		}
		while (id + 1 < n && id + 1 < m.nbits && (in.p[(id + 1) / 8] >> ((id + 1) % 8) & 1))
			id++;
		pos += (size_t)sprintf(want + pos, first == id ? "%s%u" : "%s%u-%u", pos ? "," : "", first, id);
		id++;
	}
	out[cap] = 'x'; /* beyond cap: must stay untouched */
	got = proto_ranges(n, member, &m, out, cap);
	FUZZ_CHECK(m.asked == n);
	FUZZ_CHECK(got == pos); /* the length it needs, as snprintf */
	FUZZ_CHECK(out[cap] == 'x');
	if (cap) {
		size_t kept = pos < cap ? pos : cap - 1;

		FUZZ_CHECK(!memcmp(out, want, kept) && out[kept] == '\0');
	}
	free(out);
	free(want);
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	if (!size)
		return 0;
	switch (data[0] % 4) {
	case 0:
		fuzz_parse(data + 1, size - 1);
		break;
	case 1:
		fuzz_escape(data + 1, size - 1);
		break;
	case 2:
		fuzz_lines(data + 1, size - 1);
		break;
	default:
		fuzz_ranges(data + 1, size - 1);
		break;
	}
	return 0;
}
