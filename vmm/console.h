/* console.h - a guest's serial console as a shard keeps it: output ring, input queue, watchers, --log, a request's
 * answer. */
#ifndef KVMLITE_CONSOLE_H
#define KVMLITE_CONSOLE_H

#include <stdbool.h>

#include "devices/uart16550.h"
#include "sendbuf.h"
#include "types.h"

#define GUEST_OUT_SIZE 4096 /* each guest's output ring; older bytes are dropped and counted */
#define GUEST_IN_SIZE  256  /* input queued for a guest that it has not read yet */

/*
 * Everything a console writes goes to a sendbuf given to the call: the
 * supervisor's (answers, watched output) or the log's. Output byte p is at
 * out[p % GUEST_OUT_SIZE] while the guest has a ring; while it is parked
 * its ring's page is given back and what it kept is read from its park
 * record (kept, from kept_from on).
 */
struct console {
	u8 *out;	    /* GUEST_OUT_SIZE ring; NULL while parked */
	const u8 *kept;	    /* while parked: the output kept in its park record */
	u64 kept_from;	    /* the position of kept[0] */
	u64 out_total;	    /* bytes ever written by the guest */
	u64 watch_pos;	    /* output up to here has been sent to watchers */
	u64 log_pos;	    /* output up to here has been logged (whole lines only) */
	u64 req_pos;	    /* the pending request's answer starts here */
	u64 req_deadline;   /* UINT64_MAX: no request pending */
	u32 req_tag;	    /* the supervisor's tag for the pending request */
	u16 in_len, in_pos; /* queued input */
	bool watched;
	u8 *in; /* GUEST_IN_SIZE bytes while input waits for the UART, else NULL: most guests, parked ones above all */
};

/*
 * Output ring pages. A guest holds one while it has a VM; parking moves
 * what it holds into the park record and the page goes to a free list for
 * the next guest, never back to the kernel: in a process holding many KVM
 * VMs, every munmap or MADV_DONTNEED walks each VM's MMU notifier (about
 * 1 ms at 10,000 VMs here), while a page reused costs nothing.
 */
struct console_pages {
	u8 *arena; /* pages handed out in order... */
	u32 used;  /* ...this many so far */
	u8 *free;  /* given back, for reuse; a free page's first bytes link to the next */
};

u8 *console_page_get(struct console_pages *p);
void console_page_put(struct console_pages *p, u8 *page);

static inline void console_init(struct console *c)
{
	c->req_deadline = UINT64_MAX;
}

/* The oldest output byte still kept. */
static inline u64 console_oldest(const struct console *c)
{
	return c->out_total > GUEST_OUT_SIZE ? c->out_total - GUEST_OUT_SIZE : 0;
}

/* Every byte the guest writes; true at the end of a line. */
bool console_put(struct console *c, u8 byte);
/* At a line's end: the pending request's answer to `to`, the line to `log` (fd -1: no log). */
void console_line_end(struct console *c, struct sendbuf *to, struct sendbuf *log, u32 id);
/* --log: what is not logged yet as a line of its own, prefixed with the guest's id. */
void console_log_line(struct console *c, struct sendbuf *log, u32 id, bool add_newline);
/* Output bytes [from, to), escaped (proto_escape), to b. */
void console_send_output(const struct console *c, struct sendbuf *b, u64 from, u64 to);
/* "@out ID BYTES": what a watched guest wrote since the last time. */
void console_send_watched(struct console *c, struct sendbuf *b, u32 id);
/* The answer to `read [FROM]`: "TAG ok TOTAL DROPPED BYTES". */
void console_send_read(const struct console *c, struct sendbuf *b, u32 tag, bool has_from, u64 from);

/* Parking: the kept output copied to dst (at most GUEST_OUT_SIZE bytes, from
 * console_oldest()); the number of bytes. */
u32 console_copy_kept(const struct console *c, u8 *dst);
/* Parked: reads come from kept; the ring page is returned for reuse. */
u8 *console_park(struct console *c, const u8 *kept, u64 kept_from);
/* Resumed: the kept bytes [kept_from, out_total) go back into a ring page. */
void console_unpark(struct console *c, u8 *page);

/* Queues input for the UART; false when the queue has no room for it. */
bool console_queue_input(struct console *c, const u8 *data, size_t n, struct uart *uart);
/* Hands queued input to the UART whenever its receiver has room. */
void console_feed(struct console *c, struct uart *uart);
/* What the console holds apart from its ring: queued input. */
void console_free(struct console *c);

/* A request: its answer is the guest's next line, unless the deadline passes first. */
void console_request(struct console *c, u32 tag, u64 deadline);
/* No answer will come: "TAG error WHY" instead, if a request is pending. */
void console_request_fail(struct console *c, struct sendbuf *b, const char *why);

#endif
