/* console.c - a guest's serial console as a shard keeps it: output ring, input queue, watchers, --log, a request's
 * answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "proto.h"
#include "wire.h"

u8 *console_page_get(struct console_pages *p)
{
	u8 *page = p->free;

	if (page) {
		memcpy(&p->free, page, sizeof(page));
		return page;
	}
	return p->arena + (size_t)p->used++ * GUEST_OUT_SIZE;
}

void console_page_put(struct console_pages *p, u8 *page)
{
	memcpy(page, &p->free, sizeof(page));
	p->free = page;
}

/*
 * Where output byte `pos` is kept, and how many of the bytes up to `to`
 * follow it there: the ring while the guest has one (up to the ring's
 * wrap), the park record while it is parked. pos must be at least
 * console_oldest().
 */
static const u8 *console_at(const struct console *c, u64 pos, u64 to, size_t *n)
{
	u32 off = (u32)(pos % GUEST_OUT_SIZE);

	if (!c->out) {
		*n = (size_t)(to - pos);
		return c->kept + (pos - c->kept_from);
	}
	*n = to - pos < GUEST_OUT_SIZE - off ? (size_t)(to - pos) : GUEST_OUT_SIZE - off;
	return c->out + off;
}

bool console_put(struct console *c, u8 byte)
{
	c->out[c->out_total % GUEST_OUT_SIZE] = byte;
	c->out_total++;
	return byte == '\n';
}

void console_send_output(const struct console *c, struct sendbuf *b, u64 from, u64 to)
{
	while (from < to) {
		size_t n;
		const u8 *src = console_at(c, from, to, &n);
		char *p = sendbuf_reserve(b, PROTO_ESCAPED_MAX(n) + 1);

		proto_escape(src, n, p, PROTO_ESCAPED_MAX(n) + 1);
		b->len += strlen(p);
		from += n;
	}
}

/* The pending request's answer: what the guest wrote since, up to the line's end (its \r left out). */
static void console_answer(struct console *c, struct sendbuf *b, u64 line_end)
{
	u64 from = c->req_pos, oldest = console_oldest(c);

	if (from < oldest)
		from = oldest;
	if (line_end > from && c->out[(line_end - 1) % GUEST_OUT_SIZE] == '\r')
		line_end--;
	sendbuf_printf(b, "%u ok ", c->req_tag);
	console_send_output(c, b, from, line_end);
	sendbuf_printf(b, "\n");
	c->req_deadline = UINT64_MAX;
}

/* --log: raw bytes as the guest wrote them, so a log reads like its console. */
void console_log_line(struct console *c, struct sendbuf *log, u32 id, bool add_newline)
{
	u64 from = c->log_pos, oldest = console_oldest(c);
	char *p = sendbuf_reserve(log, GUEST_OUT_SIZE + 17);
	size_t n = (size_t)snprintf(p, 16, "%u ", id), len = 0;

	if (from < oldest)
		from = oldest; /* a line longer than the ring: its start is gone */
	for (; from < c->out_total; from += len, n += len) {
		const u8 *src = console_at(c, from, c->out_total, &len);

		memcpy(p + n, src, len);
	}
	if (add_newline)
		p[n++] = '\n';
	log->len += n;
	c->log_pos = c->out_total;
}

void console_line_end(struct console *c, struct sendbuf *to, struct sendbuf *log, u32 id)
{
	if (c->req_deadline != UINT64_MAX)
		console_answer(c, to, c->out_total - 1);
	if (log->fd >= 0)
		console_log_line(c, log, id, false);
}

void console_send_watched(struct console *c, struct sendbuf *b, u32 id)
{
	u64 from = c->watch_pos, oldest = console_oldest(c);
	char line[WIRE_LINE_MAX];

	if (!c->watched || c->out_total <= c->watch_pos)
		return;
	sendbuf_put(b, line, wire_out_head_format(line, sizeof(line), id));
	console_send_output(c, b, from > oldest ? from : oldest, c->out_total);
	sendbuf_printf(b, "\n");
	c->watch_pos = c->out_total;
}

void console_send_read(const struct console *c, struct sendbuf *b, u32 tag, bool has_from, u64 from)
{
	u64 oldest = console_oldest(c);

	if (!has_from)
		from = oldest;
	if (from > c->out_total)
		from = c->out_total;
	sendbuf_printf(b, "%u ok %llu %llu ", tag, (unsigned long long)c->out_total,
		       (unsigned long long)(from < oldest ? oldest - from : 0));
	console_send_output(c, b, from < oldest ? oldest : from, c->out_total);
	sendbuf_printf(b, "\n");
}

u32 console_copy_kept(const struct console *c, u8 *dst)
{
	u64 from = console_oldest(c);
	size_t n, len = 0;

	for (n = 0; from + n < c->out_total; n += len) {
		const u8 *src = console_at(c, from + n, c->out_total, &len);

		memcpy(dst + n, src, len);
	}
	return (u32)n;
}

u8 *console_park(struct console *c, const u8 *kept, u64 kept_from)
{
	u8 *page = c->out;

	c->kept = kept;
	c->kept_from = kept_from;
	c->out = NULL;
	return page;
}

void console_unpark(struct console *c, u8 *page)
{
	c->out = page;
	for (u64 pos = c->kept_from; pos < c->out_total; pos++)
		c->out[pos % GUEST_OUT_SIZE] = c->kept[pos - c->kept_from];
	c->kept = NULL;
}

/* As QEMU's chardev does: the UART takes what its receiver has room for; the rest waits (uart_rx_feed). */
void console_feed(struct console *c, struct uart *uart)
{
	if (c->in_pos == c->in_len)
		return;
	c->in_pos += (u16)uart_rx_feed(uart, c->in + c->in_pos, c->in_len - c->in_pos);
	if (c->in_pos == c->in_len)
		console_free(c); /* all taken: the queue's bytes go until input comes again */
}

void console_free(struct console *c)
{
	free(c->in);
	c->in = NULL;
	c->in_pos = c->in_len = 0;
}

bool console_queue_input(struct console *c, const u8 *data, size_t n, struct uart *uart)
{
	if (c->in_pos > 0) { /* compact: keep the queue at the front */
		memmove(c->in, c->in + c->in_pos, c->in_len - c->in_pos);
		c->in_len -= c->in_pos;
		c->in_pos = 0;
	}
	if (n > (size_t)(GUEST_IN_SIZE - c->in_len) || (!c->in && !(c->in = malloc(GUEST_IN_SIZE))))
		return false;
	memcpy(c->in + c->in_len, data, n);
	c->in_len += (u16)n;
	console_feed(c, uart);
	return true;
}

void console_request(struct console *c, u32 tag, u64 deadline)
{
	c->req_tag = tag;
	c->req_pos = c->out_total;
	c->req_deadline = deadline;
}

void console_request_fail(struct console *c, struct sendbuf *b, const char *why)
{
	if (c->req_deadline == UINT64_MAX)
		return;
	sendbuf_printf(b, "%u error %s\n", c->req_tag, why);
	c->req_deadline = UINT64_MAX;
}
