/* test_proto.c - control protocol: escaping, request parsing, line assembly, id ranges, hostile input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "proto.h"

/* Parses a C string through an exact-size heap copy, so ASan catches any read past len. */
static int parse(const char *s, struct proto_req *req, const char **err)
{
	size_t len = strlen(s);
	char *copy = malloc(len ? len : 1);
	int r;

	assert_non_null(copy);
	memcpy(copy, s, len);
	*err = NULL;
	r = proto_parse(copy, len, req, err);
	/* arg points into the copy: check it against the original before freeing */
	if (r == 0 && req->arg) {
		assert_true(req->arg >= copy && req->arg + req->arg_len <= copy + len);
		req->arg = s + (req->arg - copy);
	}
	free(copy);
	return r;
}

static void assert_parse_error(const char *line, const char *want)
{
	struct proto_req req;
	const char *err;

	if (parse(line, &req, &err) != -1)
		fail_msg("\"%s\" parsed, wanted error %s", line, want);
	assert_string_equal(err, want);
}

static void assert_arg(const struct proto_req *req, const char *want)
{
	assert_non_null(req->arg);
	assert_int_equal(req->arg_len, strlen(want));
	assert_memory_equal(req->arg, want, req->arg_len);
}

static void test_escape_round_trips_every_byte(void **state)
{
	u8 in[256], back[256];
	char out[PROTO_ESCAPED_MAX(256) + 1];
	size_t i;

	for (i = 0; i < 256; i++)
		in[i] = (u8)i;
	assert_int_equal(proto_escape(in, 256, out, sizeof(out)), 256);
	for (i = 0; out[i]; i++) /* answers are printable ASCII only */
		assert_true(out[i] >= 0x20 && out[i] <= 0x7e);
	assert_int_equal(proto_unescape(out, strlen(out), back, sizeof(back)), 256);
	assert_memory_equal(back, in, 256);
}

static void test_escape_uses_named_escapes_then_hex(void **state)
{
	const u8 in[] = "a \n\r\t\\\x00\x1f\x7f\x80\xff~";
	char out[64];

	assert_int_equal(proto_escape(in, sizeof(in) - 1, out, sizeof(out)), sizeof(in) - 1);
	assert_string_equal(out, "a \\n\\r\\t\\\\\\x00\\x1f\\x7f\\x80\\xff~");
}

static void test_escape_never_splits_an_escape(void **state)
{
	const u8 in[] = { 'a', 0x01, 'b' };
	/* cap -> (consumed, output): "\x01" needs 4 chars, so it waits for cap 6 */
	const struct {
		size_t cap, used;
		const char *out;
	} cases[] = {
		{ 1, 0, "" },  { 2, 1, "a" },	   { 3, 1, "a" },	{ 4, 1, "a" },
		{ 5, 1, "a" }, { 6, 2, "a\\x01" }, { 7, 3, "a\\x01b" }, { 8, 3, "a\\x01b" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		char out[16];

		memset(out, '#', sizeof(out));
		assert_int_equal(proto_escape(in, sizeof(in), out, cases[i].cap), cases[i].used);
		assert_string_equal(out, cases[i].out);
		assert_int_equal(out[cases[i].cap], '#'); /* nothing past cap */
	}
	/* a named escape is two chars: cap 2 holds no room for "\n" */
	{
		char out[4];

		assert_int_equal(proto_escape((const u8 *)"\n", 1, out, 2), 0);
		assert_string_equal(out, "");
		assert_int_equal(proto_escape((const u8 *)"\n", 1, out, 3), 1);
		assert_string_equal(out, "\\n");
	}
}

static void test_escape_resumes_where_it_stopped(void **state)
{
	u8 in[300];
	char whole[PROTO_ESCAPED_MAX(300) + 1], pieces[PROTO_ESCAPED_MAX(300) + 1] = "";
	size_t i, done = 0;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (u8)(i * 37);
	proto_escape(in, sizeof(in), whole, sizeof(whole));
	while (done < sizeof(in)) {
		char out[7];
		size_t used = proto_escape(in + done, sizeof(in) - done, out, sizeof(out));

		assert_true(used > 0);
		strcat(pieces, out);
		done += used;
	}
	assert_string_equal(pieces, whole);
}

static void test_unescape_decodes_named_and_hex_any_case(void **state)
{
	const char in[] = "x\\n\\r\\t\\\\\\x4a\\x4B\\x00 y";
	u8 out[32];

	assert_int_equal(proto_unescape(in, strlen(in), out, sizeof(out)), 10);
	assert_memory_equal(out, "x\n\r\t\\JK\0 y", 10);
	/* "\x414" is 'A' then '4': exactly two digits, never three */
	assert_int_equal(proto_unescape("\\x414", 5, out, sizeof(out)), 2);
	assert_memory_equal(out, "A4", 2);
}

static void test_unescape_rejects_bad_hex(void **state)
{
	const char *bad[] = { "\\x", "\\x4", "a\\x4", "\\xg1", "\\x4g", "\\x 41", "\\x-1" };
	u8 out[16];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		if (proto_unescape(bad[i], strlen(bad[i]), out, sizeof(out)) != -1)
			fail_msg("\"%s\" accepted", bad[i]);
	/* the length bounds the digits even when the buffer goes on */
	assert_int_equal(proto_unescape("\\x41", 3, out, sizeof(out)), -1);
}

static void test_unescape_rejects_unknown_escape_and_lone_backslash(void **state)
{
	const char *bad[] = { "\\", "ab\\", "\\a", "\\0", "\\N", "\\ ", "\\\"" };
	u8 out[16];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		if (proto_unescape(bad[i], strlen(bad[i]), out, sizeof(out)) != -1)
			fail_msg("\"%s\" accepted", bad[i]);
	/* "\\\\" is one backslash, not a backslash and a lone one */
	assert_int_equal(proto_unescape("\\\\", 2, out, sizeof(out)), 1);
	assert_int_equal(out[0], '\\');
}

static void test_unescape_refuses_to_exceed_cap(void **state)
{
	u8 out[3];

	assert_int_equal(proto_unescape("abc", 3, out, 3), 3);
	assert_int_equal(proto_unescape("abcd", 4, out, 3), -1);
	assert_int_equal(proto_unescape("ab\\x41", 6, out, 2), -1);
	assert_int_equal(proto_unescape("", 0, out, 0), 0);
	assert_int_equal(proto_unescape("a", 1, out, 0), -1);
}

static void test_parse_send_keeps_spaces_in_data(void **state)
{
	struct proto_req req;
	const char *err;

	assert_int_equal(parse("send 7 a  b \\n ", &req, &err), 0);
	assert_int_equal(req.cmd, PROTO_SEND);
	assert_true(req.has_id);
	assert_int_equal(req.id, 7);
	assert_arg(&req, "a  b \\n ");
	/* only the single separating space goes: a second one is data */
	assert_int_equal(parse("send 0  x", &req, &err), 0);
	assert_arg(&req, " x");
}

static void test_parse_req_takes_text(void **state)
{
	struct proto_req req;
	const char *err;

	assert_int_equal(parse("req 12 uptime now", &req, &err), 0);
	assert_int_equal(req.cmd, PROTO_REQ);
	assert_int_equal(req.id, 12);
	assert_arg(&req, "uptime now");
	assert_false(req.has_from);
}

static void test_parse_send_and_req_need_an_argument(void **state)
{
	assert_parse_error("send 7", "missing argument");
	assert_parse_error("send 7 ", "missing argument");
	assert_parse_error("req 7", "missing argument");
	assert_parse_error("req 7 ", "missing argument");
}

static void test_parse_rejects_id_overflow(void **state)
{
	struct proto_req req;
	const char *err;

	assert_int_equal(parse("info 4294967295", &req, &err), 0);
	assert_int_equal(req.id, UINT32_MAX);
	assert_parse_error("info 4294967296", "bad id");
	assert_parse_error("info 42949672950", "bad id");
	assert_parse_error("send 99999999999999999999999 x", "bad id");
}

static void test_parse_rejects_malformed_ids(void **state)
{
	const char *bad[] = { "info",	   "info ",	  "info +1", "info -1",	    "info 1x", "info  1",
			      "info 0x10", "send x data", "read",    "watch \\x31", "stop x",  "stop " };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		assert_parse_error(bad[i], "bad id");
}

static void test_parse_read_with_and_without_from(void **state)
{
	struct proto_req req;
	const char *err;

	assert_int_equal(parse("read 3", &req, &err), 0);
	assert_int_equal(req.cmd, PROTO_READ);
	assert_int_equal(req.id, 3);
	assert_false(req.has_from);
	assert_null(req.arg);
	assert_int_equal(parse("read 3 18446744073709551615", &req, &err), 0);
	assert_true(req.has_from);
	assert_true(req.from == UINT64_MAX);
	assert_parse_error("read 3 18446744073709551616", "bad argument");
	assert_parse_error("read 3 ", "bad argument");
	assert_parse_error("read 3 -1", "bad argument");
	assert_parse_error("read 3 1 2", "bad argument");
}

static void test_parse_list_accepts_only_known_states(void **state)
{
	const char *states[] = { "running", "halted", "parked", "ended", "failed", "silent", "lost", "booted" };
	struct proto_req req;
	const char *err;
	char line[32];
	size_t i;

	assert_int_equal(parse("list", &req, &err), 0);
	assert_int_equal(req.cmd, PROTO_LIST);
	assert_null(req.arg);
	assert_false(req.has_id);
	for (i = 0; i < ARRAY_SIZE(states); i++) {
		snprintf(line, sizeof(line), "list %s", states[i]);
		assert_int_equal(parse(line, &req, &err), 0);
		assert_arg(&req, states[i]);
	}
	assert_parse_error("list bogus", "bad argument");
	assert_parse_error("list ", "bad argument");
	assert_parse_error("list RUNNING", "bad argument");
	assert_parse_error("list running x", "bad argument");
	assert_parse_error("list run", "bad argument");
}

static void test_parse_stats_takes_nothing(void **state)
{
	struct proto_req req;
	const char *err;

	assert_int_equal(parse("stats", &req, &err), 0);
	assert_int_equal(req.cmd, PROTO_STATS);
	assert_parse_error("stats ", "bad argument");
	assert_parse_error("stats now", "bad argument");
}

static void test_parse_stop_with_and_without_id(void **state)
{
	struct proto_req req;
	const char *err;

	assert_int_equal(parse("stop", &req, &err), 0);
	assert_int_equal(req.cmd, PROTO_STOP);
	assert_false(req.has_id);
	assert_int_equal(parse("stop 5", &req, &err), 0);
	assert_true(req.has_id);
	assert_int_equal(req.id, 5);
	assert_parse_error("stop 5 6", "bad argument");
}

static void test_parse_watch_and_info_take_only_an_id(void **state)
{
	struct proto_req req;
	const char *err;

	assert_int_equal(parse("watch 1", &req, &err), 0);
	assert_int_equal(req.cmd, PROTO_WATCH);
	assert_int_equal(parse("info 007", &req, &err), 0);
	assert_int_equal(req.cmd, PROTO_INFO);
	assert_int_equal(req.id, 7);
	assert_parse_error("watch 1 2", "bad argument");
	assert_parse_error("info 1 ", "bad argument");
}

static void test_parse_strips_cr(void **state)
{
	struct proto_req req;
	const char *err;

	assert_int_equal(parse("info 3\r", &req, &err), 0);
	assert_int_equal(req.id, 3);
	assert_int_equal(parse("stats\r", &req, &err), 0);
	assert_int_equal(parse("send 1 ab\r", &req, &err), 0);
	assert_arg(&req, "ab");
	assert_parse_error("send 1 \r", "missing argument");
	/* only one: a second '\r' is part of the line */
	assert_parse_error("stats\r\r", "unknown command");
	/* and only at the end */
	assert_int_equal(parse("send 1 a\rb", &req, &err), 0);
	assert_arg(&req, "a\rb");
}

static void test_parse_unknown_command(void **state)
{
	const char *bad[] = {
		"", "\r", " ", "SEND 1 x", "sen 1 x", "sendx 1 x", " send 1 x", "help", "stopp", "list\t"
	};
	struct proto_req req;
	const char *err = NULL;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		assert_parse_error(bad[i], "unknown command");
	/* a NUL inside the command word does not end it */
	assert_int_equal(proto_parse("stats\0", 6, &req, &err), -1);
	assert_string_equal(err, "unknown command");
}

static void test_parse_reads_only_len_bytes(void **state)
{
	struct proto_req req;
	const char *err;

	assert_int_equal(proto_parse("info 12345", 6, &req, &err), 0);
	assert_int_equal(req.id, 1);
	assert_int_equal(proto_parse("send 1 abc", 8, &req, &err), 0);
	assert_int_equal(req.arg_len, 1);
	assert_int_equal(proto_parse(NULL, 0, &req, &err), -1);
}

/* What line_feed handed over, for assertions. */
struct feed_log {
	int too_long;
	int lines;
	char line[8][PROTO_LINE_MAX + 1];
	size_t len[8];
};

static void log_line(void *ctx, char *line, size_t len)
{
	struct feed_log *log = ctx;

	/* callers may use string functions: NUL right after the line, no "\n" in it */
	assert_int_equal(line[len], '\0');
	assert_null(memchr(line, '\n', len));
	if (log->lines < 8) {
		memcpy(log->line[log->lines], line, len + 1);
		log->len[log->lines] = len;
	}
	log->lines++;
}

static void log_too_long(void *ctx)
{
	((struct feed_log *)ctx)->too_long++;
}

static void feed(struct line_reader *lr, struct feed_log *log, const char *s, size_t n)
{
	line_feed(lr, (const u8 *)s, n, log_line, log_too_long, log);
}

static void feed_str(struct line_reader *lr, struct feed_log *log, const char *s)
{
	feed(lr, log, s, strlen(s));
}

static void test_line_feed_joins_partial_lines(void **state)
{
	static struct line_reader lr;
	static struct feed_log log;

	feed_str(&lr, &log, "inf");
	feed_str(&lr, &log, "o 1");
	assert_int_equal(log.lines, 0);
	feed_str(&lr, &log, "\nsta");
	assert_int_equal(log.lines, 1);
	assert_string_equal(log.line[0], "info 1");
	feed_str(&lr, &log, "ts\n");
	assert_int_equal(log.lines, 2);
	assert_string_equal(log.line[1], "stats");
	assert_int_equal(log.too_long, 0);
}

static void test_line_feed_splits_several_lines_in_one_call(void **state)
{
	static struct line_reader lr;
	static struct feed_log log;

	feed_str(&lr, &log, "a\nbb\n\nccc");
	assert_int_equal(log.lines, 3);
	assert_string_equal(log.line[0], "a");
	assert_string_equal(log.line[1], "bb");
	assert_int_equal(log.len[2], 0); /* an empty line still gets an answer */
	feed_str(&lr, &log, "\n");
	assert_int_equal(log.lines, 4);
	assert_string_equal(log.line[3], "ccc");
}

static void test_line_feed_keeps_nul_bytes_in_len(void **state)
{
	static struct line_reader lr;
	static struct feed_log log;

	feed(&lr, &log, "a\0b\n", 4);
	assert_int_equal(log.lines, 1);
	assert_int_equal(log.len[0], 3);
	assert_memory_equal(log.line[0], "a\0b", 4);
}

static void test_line_feed_accepts_exact_max(void **state)
{
	static struct line_reader lr;
	static struct feed_log log;
	static char big[PROTO_LINE_MAX + 1];
	size_t i;

	memset(big, 'a', PROTO_LINE_MAX);
	big[PROTO_LINE_MAX] = '\n';
	feed(&lr, &log, big, sizeof(big));
	/* and the same line one byte at a time */
	for (i = 0; i < sizeof(big); i++)
		feed(&lr, &log, big + i, 1);
	assert_int_equal(log.too_long, 0);
	assert_int_equal(log.lines, 2);
	assert_int_equal(log.len[0], PROTO_LINE_MAX);
	assert_int_equal(log.len[1], PROTO_LINE_MAX);
	assert_int_equal(strlen(log.line[1]), PROTO_LINE_MAX);
}

static void test_line_feed_reports_too_long_once_and_resyncs(void **state)
{
	static struct line_reader lr;
	static struct feed_log log;
	static char big[3 * PROTO_LINE_MAX];

	memset(big, 'x', sizeof(big));
	feed(&lr, &log, big, PROTO_LINE_MAX + 1);
	assert_int_equal(log.too_long, 1); /* at once, before its "\n" */
	feed(&lr, &log, big, sizeof(big));
	feed_str(&lr, &log, "xxx\ninfo 1\n");
	assert_int_equal(log.too_long, 1);
	assert_int_equal(log.lines, 1);
	assert_string_equal(log.line[0], "info 1");
	/* an overlong line ended within the same call needs no skipping after it */
	memcpy(big + PROTO_LINE_MAX + 1, "\nstats\n", 7);
	feed(&lr, &log, big, PROTO_LINE_MAX + 8);
	assert_int_equal(log.too_long, 2);
	assert_int_equal(log.lines, 2);
	assert_string_equal(log.line[1], "stats");
}

static void test_line_feed_too_long_byte_by_byte(void **state)
{
	static struct line_reader lr;
	static struct feed_log log;
	const char *tail = "\nok\n";
	size_t i;

	feed_str(&lr, &log, "a\n");
	for (i = 0; i < 2 * PROTO_LINE_MAX; i++)
		feed(&lr, &log, "y", 1);
	for (i = 0; tail[i]; i++)
		feed(&lr, &log, tail + i, 1);
	assert_int_equal(log.too_long, 1);
	assert_int_equal(log.lines, 2);
	assert_string_equal(log.line[1], "ok");
}

struct id_set {
	const u32 *ids;
	size_t n;
	u32 calls;
};

static bool id_in(void *ctx, u32 id)
{
	struct id_set *s = ctx;
	size_t i;

	s->calls++;
	for (i = 0; i < s->n; i++)
		if (s->ids[i] == id)
			return true;
	return false;
}

static void test_ranges_compresses_runs(void **state)
{
	const u32 ids[] = { 0, 1, 2, 4, 6, 7, 8, 9, 11 };
	struct id_set s = { ids, ARRAY_SIZE(ids), 0 };
	char out[64];

	assert_int_equal(proto_ranges(12, id_in, &s, out, sizeof(out)), 12);
	assert_string_equal(out, "0-2,4,6-9,11");
	assert_int_equal(s.calls, 12); /* each id asked once */
	/* n cuts the last run short */
	assert_int_equal(proto_ranges(8, id_in, &s, out, sizeof(out)), 9);
	assert_string_equal(out, "0-2,4,6-7");
	s.n = 2;
	assert_int_equal(proto_ranges(5, id_in, &s, out, sizeof(out)), 3);
	assert_string_equal(out, "0-1");
}

static void test_ranges_empty_and_single(void **state)
{
	const u32 ids[] = { 2 };
	struct id_set s = { ids, ARRAY_SIZE(ids), 0 };
	char out[16] = "junk";

	assert_int_equal(proto_ranges(0, id_in, &s, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	assert_int_equal(proto_ranges(2, id_in, &s, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	assert_int_equal(proto_ranges(3, id_in, &s, out, sizeof(out)), 1);
	assert_string_equal(out, "2");
}

static void test_ranges_reports_needed_length_when_cut(void **state)
{
	const u32 ids[] = { 0, 1, 2, 4, 6, 7, 8, 9, 11 };
	struct id_set s = { ids, ARRAY_SIZE(ids), 0 };
	char out[16];

	memset(out, '#', sizeof(out));
	assert_int_equal(proto_ranges(12, id_in, &s, out, 5), 12);
	assert_string_equal(out, "0-2,");
	assert_int_equal(out[5], '#');
	assert_int_equal(proto_ranges(12, id_in, &s, out, 12), 12);
	assert_string_equal(out, "0-2,4,6-9,1"); /* cap == needed: cut, like snprintf */
	assert_int_equal(proto_ranges(12, id_in, &s, out, 13), 12);
	assert_string_equal(out, "0-2,4,6-9,11");
	assert_int_equal(proto_ranges(12, id_in, &s, out, 1), 12);
	assert_string_equal(out, "");
	assert_int_equal(proto_ranges(12, id_in, &s, NULL, 0), 12);
}

static bool id_all(void *ctx, u32 id)
{
	return true;
}

static void test_ranges_large_ids(void **state)
{
	char out[32];

	assert_int_equal(proto_ranges(100000, id_all, NULL, out, sizeof(out)), 7);
	assert_string_equal(out, "0-99999");
}

/* xorshift64: a fixed seed keeps a failure reproducible. */
static u64 next_rand(u64 *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void ignore_line(void *ctx, char *line, size_t len)
{
	struct proto_req req;
	const char *err;

	assert_int_equal(line[len], '\0');
	assert_true(len <= PROTO_LINE_MAX);
	proto_parse(line, len, &req, &err);
}

static void ignore_too_long(void *ctx)
{
	(*(int *)ctx)++;
}

static void test_random_input_never_crashes(void **state)
{
	/* mostly protocol-looking bytes, so the deeper paths get reached too */
	static const char alpha[] = "sendreqwatchlistinfostatsstoprunning 0123456789 \\x\\n\r\nAf";
	static struct line_reader lr;
	u64 seed = 0x9e3779b97f4a7c15ull;
	int too_long = 0, iter;

	for (iter = 0; iter < 20000; iter++) {
		size_t len = next_rand(&seed) % 64, cap = next_rand(&seed) % 80, i;
		char *in = malloc(len ? len : 1);
		u8 *out = malloc(cap ? cap : 1);
		char *esc = malloc(cap ? cap : 1);
		struct proto_req req;
		const char *err = NULL;
		ssize_t r;
		size_t used;

		assert_true(in && out && esc);
		for (i = 0; i < len; i++) {
			u64 v = next_rand(&seed);

			in[i] = v & 1 ? alpha[(v >> 8) % (sizeof(alpha) - 1)] : (char)(v >> 8);
		}
		if (proto_parse(in, len, &req, &err) == 0) {
			if (req.arg)
				assert_true(req.arg >= in && req.arg + req.arg_len <= in + len);
		} else {
			assert_non_null(err);
		}
		r = proto_unescape(in, len, out, cap);
		assert_true(r >= -1 && r <= (ssize_t)cap);
		if (cap) {
			used = proto_escape((const u8 *)in, len, esc, cap);
			assert_true(used <= len);
			assert_true(strlen(esc) < cap);
			r = proto_unescape(esc, strlen(esc), out, cap);
			assert_int_equal(r, used);
			assert_memory_equal(out, in, used);
		}
		line_feed(&lr, (const u8 *)in, len, ignore_line, ignore_too_long, &too_long);
		free(in);
		free(out);
		free(esc);
	}
}

struct joined {
	char text[256];
	size_t len;
	int writes;
};

static void join_out(void *ctx, const char *s, size_t n)
{
	struct joined *o = ctx;

	assert_true(n > 0 && o->len + n < sizeof(o->text));
	memcpy(o->text + o->len, s, n);
	o->len += n;
	o->text[o->len] = '\0';
	o->writes++;
}

/* The NULL-terminated lists joined as the supervisor joins the shards' `list STATE` parts. */
static const char *join(const char *first, ...)
{
	static struct joined o;
	struct proto_join j = { 0 };
	va_list ap;

	memset(&o, 0, sizeof(o));
	va_start(ap, first);
	for (const char *r = first; r; r = va_arg(ap, const char *))
		proto_join_feed(&j, r, strlen(r), join_out, &o);
	va_end(ap);
	proto_join_end(&j, join_out, &o);
	return o.text;
}

static void test_ranges_join_merges_ranges_that_go_on_in_the_next_list(void **state)
{
	assert_string_equal(join("0-149", "150-299", NULL), "0-299");
	assert_string_equal(join("0-99", "100-199", "200-299", NULL), "0-299");
	assert_string_equal(join("0-149", "150-299,400", NULL), "0-299,400");
	assert_string_equal(join("3,7-149", "150", NULL), "3,7-150");
	assert_string_equal(join("149", "150-299", NULL), "149-299");
	assert_string_equal(join("149", "150,152", NULL), "149-150,152");
	assert_string_equal(join("1,9", "10", "11-20,30", "31", NULL), "1,9-20,30-31");
	assert_string_equal(join("4294967294", "4294967295", NULL), "4294967294-4294967295");
}

static void test_ranges_join_keeps_ranges_apart_across_a_gap_or_an_empty_list(void **state)
{
	assert_string_equal(join("0-148", "150-299", NULL), "0-148,150-299");
	assert_string_equal(join("5", "7", NULL), "5,7");
	assert_string_equal(join("", "150-299", "", NULL), "150-299");
	assert_string_equal(join("0-9", "", "10-19", NULL), "0-19"); /* a shard with none between two that touch */
	assert_string_equal(join("", "", NULL), "");
	assert_string_equal(join("1-2,5-6,9", "11,13", NULL), "1-2,5-6,9,11,13");
}

/* A list's middle is written as it came, in one piece: a long answer is not rebuilt range by range. */
static void test_ranges_join_writes_the_middle_of_a_list_whole(void **state)
{
	static struct joined o;
	struct proto_join j = { 0 };
	const char *a = "0-9,20,30-39,50-59", *b = "60-69,80,90";

	proto_join_feed(&j, a, strlen(a), join_out, &o);
	assert_string_equal(o.text, "0-9,20,30-39"); /* 50-59 is held back */
	assert_int_equal(o.writes, 1);
	proto_join_feed(&j, b, strlen(b), join_out, &o);
	proto_join_end(&j, join_out, &o);
	assert_string_equal(o.text, "0-9,20,30-39,50-69,80,90");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_round_trips_every_byte),
		cmocka_unit_test(test_escape_uses_named_escapes_then_hex),
		cmocka_unit_test(test_escape_never_splits_an_escape),
		cmocka_unit_test(test_escape_resumes_where_it_stopped),
		cmocka_unit_test(test_unescape_decodes_named_and_hex_any_case),
		cmocka_unit_test(test_unescape_rejects_bad_hex),
		cmocka_unit_test(test_unescape_rejects_unknown_escape_and_lone_backslash),
		cmocka_unit_test(test_unescape_refuses_to_exceed_cap),
		cmocka_unit_test(test_parse_send_keeps_spaces_in_data),
		cmocka_unit_test(test_parse_req_takes_text),
		cmocka_unit_test(test_parse_send_and_req_need_an_argument),
		cmocka_unit_test(test_parse_rejects_id_overflow),
		cmocka_unit_test(test_parse_rejects_malformed_ids),
		cmocka_unit_test(test_parse_read_with_and_without_from),
		cmocka_unit_test(test_parse_list_accepts_only_known_states),
		cmocka_unit_test(test_parse_stats_takes_nothing),
		cmocka_unit_test(test_parse_stop_with_and_without_id),
		cmocka_unit_test(test_parse_watch_and_info_take_only_an_id),
		cmocka_unit_test(test_parse_strips_cr),
		cmocka_unit_test(test_parse_unknown_command),
		cmocka_unit_test(test_parse_reads_only_len_bytes),
		cmocka_unit_test(test_line_feed_joins_partial_lines),
		cmocka_unit_test(test_line_feed_splits_several_lines_in_one_call),
		cmocka_unit_test(test_line_feed_keeps_nul_bytes_in_len),
		cmocka_unit_test(test_line_feed_accepts_exact_max),
		cmocka_unit_test(test_line_feed_reports_too_long_once_and_resyncs),
		cmocka_unit_test(test_line_feed_too_long_byte_by_byte),
		cmocka_unit_test(test_ranges_compresses_runs),
		cmocka_unit_test(test_ranges_empty_and_single),
		cmocka_unit_test(test_ranges_reports_needed_length_when_cut),
		cmocka_unit_test(test_ranges_large_ids),
		cmocka_unit_test(test_ranges_join_merges_ranges_that_go_on_in_the_next_list),
		cmocka_unit_test(test_ranges_join_keeps_ranges_apart_across_a_gap_or_an_empty_list),
		cmocka_unit_test(test_ranges_join_writes_the_middle_of_a_list_whole),
		cmocka_unit_test(test_random_input_never_crashes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
