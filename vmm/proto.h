/* proto.h - the control protocol's pieces shared by server and clients: escaping, parsing, line assembly. */
#ifndef KVMLITE_PROTO_H
#define KVMLITE_PROTO_H

#include <sys/types.h>

#include "types.h"

#define PROTO_LINE_MAX 4096 /* longest request line, without its "\n" */
#define PROTO_REQ_TIMEOUT_MS 5000

/*
 * Escapes len bytes for an answer line: bytes outside 0x20-0x7e and '\\'
 * become \n \r \t \\ or \xHH. Writes at most cap - 1 chars plus a NUL,
 * never half an escape. Returns the number of input bytes consumed.
 */
size_t proto_escape(const u8 *in, size_t len, char *out, size_t cap);
/* Worst case of proto_escape's output for len bytes, without the NUL. */
#define PROTO_ESCAPED_MAX(len) ((len) * 4)
/*
 * Decodes C escapes (\n \r \t \\ \xHH). Returns the decoded length, or -1
 * for a malformed escape or when the result would exceed cap.
 */
ssize_t proto_unescape(const char *in, size_t len, u8 *out, size_t cap);

enum proto_cmd {
	PROTO_SEND,  /* send ID DATA */
	PROTO_REQ,   /* req ID TEXT */
	PROTO_READ,  /* read ID [FROM] */
	PROTO_WATCH, /* watch ID */
	PROTO_LIST,  /* list [STATE] */
	PROTO_INFO,  /* info ID */
	PROTO_STATS, /* stats */
	PROTO_STOP,  /* stop [ID] */
};

/* The STATEs `list STATE` takes, NULL-terminated ("booted" is not a state but a milestone). */
extern const char *const proto_states[];

struct proto_req {
	enum proto_cmd cmd;
	bool has_id;
	u32 id;
	bool has_from; /* read: FROM given */
	u64 from;
	const char *arg; /* send/req: the (still escaped) DATA/TEXT; list: STATE; else NULL */
	size_t arg_len;
};

/*
 * Parses one request line (without "\n"; a trailing "\r" is ignored).
 * Returns 0, or -1 with *err set to the text for "error TEXT":
 * "unknown command", "bad id", "missing argument", "bad argument".
 * arg points into line.
 */
int proto_parse(const char *line, size_t len, struct proto_req *req, const char **err);

/*
 * Assembles lines from a byte stream. Lines longer than PROTO_LINE_MAX are
 * reported once through on_too_long and skipped up to their "\n".
 */
struct line_reader {
	size_t len;
	bool skipping;
	char buf[PROTO_LINE_MAX + 1];
};

void line_feed(struct line_reader *lr, const u8 *data, size_t n, void (*on_line)(void *ctx, char *line, size_t len),
	       void (*on_too_long)(void *ctx), void *ctx);

/*
 * The same for the supervisor's links to its shards, whose lines can be far
 * longer than a client's (a `read` answer, `list` ranges): the buffer
 * grows as needed. Returns -1 when out of memory (the bytes are dropped).
 */
struct line_buf {
	char *buf;
	size_t len, cap;
};

int line_buf_feed(struct line_buf *lb, const u8 *data, size_t n, void (*on_line)(void *ctx, char *line, size_t len),
		  void *ctx);
void line_buf_free(struct line_buf *lb);

/*
 * Writes the ids 0..n-1 for which in(ctx, id) is true as ranges
 * ("0-1999,2001,2003-2010"; "" for none). Returns the length it needs,
 * like snprintf: output is cut (NUL-terminated) when that is >= cap.
 */
size_t proto_ranges(u32 n, bool (*in)(void *ctx, u32 id), void *ctx, char *out, size_t cap);

/*
 * The one range encoder: walks the ids 0..n-1, asking in(ctx, id) about
 * each once, and gives out(ctx, ...) each range of those in, base added,
 * as its text (",base+a-base+b": comma before all but the first), so that
 * an answer longer than any buffer can be written as it is found.
 * Returns the bytes given.
 */
size_t proto_ranges_write(u32 n, u32 base, bool (*in)(void *ctx, u32 id),
			  void (*out)(void *ctx, const char *s, size_t len), void *ctx);

/*
 * Joins lists of id ranges that come one after another (a shard's `list
 * STATE` answers, every id of a list above those of the lists before it)
 * into one list in which no two ranges touch: "0-149" then "150-299,400"
 * give "0-299,400", not "0-149,150-299,400". A list's last range is held
 * back until the next list shows whether it goes on; out() is given the
 * text as it can be written, proto_join_end() writes what is held. A
 * zeroed struct starts a join.
 */
struct proto_join {
	bool held, any; /* held: lo-hi waits; any: something was written (the next needs a comma) */
	u32 lo, hi;
};

void proto_join_feed(struct proto_join *j, const char *ranges, size_t len,
		     void (*out)(void *ctx, const char *s, size_t n), void *ctx);
void proto_join_end(struct proto_join *j, void (*out)(void *ctx, const char *s, size_t n), void *ctx);

#endif
