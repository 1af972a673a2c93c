/* sendbuf.c - bytes on their way out through io_uring: submit, completion, short writes, -EAGAIN, waiting for room. */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "fault.h"
#include "sendbuf.h"

void sendbuf_submit(struct sendbuf *b)
{
	struct io_uring_sqe *sqe;

	if (b->inflight || b->len == 0 || !b->ring)
		return;
	if (b->fd < 0) {
		b->len = 0;
		return;
	}
	if (fault_next("write_eagain")) {
		/* Tests: as if the write had completed with -EAGAIN. */
		b->inflight = true;
		sendbuf_done(b, -EAGAIN);
		return;
	}
	sqe = io_uring_get_sqe(b->ring);
	if (!sqe)
		return; /* the ring is full: the next turn submits it */
	/* Tests make some writes short, as a full socket buffer would. */
	b->busy = b->len > 1 && fault_next("short_write") ? b->len / 2 : b->len;
	if (b->socket)
		io_uring_prep_send(sqe, b->file, b->buf, b->busy, MSG_NOSIGNAL);
	else
		io_uring_prep_write(sqe, b->file, b->buf, (unsigned)b->busy, (u64)-1); /* O_APPEND: at the end */
	sqe->flags |= IOSQE_FIXED_FILE; /* the ring reaches only its registered files (sandbox_ring_init) */
	io_uring_sqe_set_data64(sqe, b->user_data);
	b->inflight = true;
}

void sendbuf_done(struct sendbuf *b, int res)
{
	b->inflight = false;
	if (res == -EAGAIN || res == -EINTR) {
		b->busy = 0; /* nothing was written: all of it goes again */
		return;
	}
	if (res < 0) {
		b->len = b->busy = 0; /* the reader is gone: drop, do not retry */
		return;
	}
	/* Drop what was written; a short write's rest goes out next. */
	memmove(b->buf, b->buf + res, b->len - (size_t)res);
	b->len -= (size_t)res;
	b->busy = 0;
}

void sendbuf_wait(struct sendbuf *b)
{
	while (b->inflight) {
		struct io_uring_cqe *cqe;
		u64 ud;
		int res;

		io_uring_submit(b->ring);
		if (io_uring_wait_cqe(b->ring, &cqe) < 0)
			continue;
		ud = cqe->user_data;
		res = cqe->res;
		io_uring_cqe_seen(b->ring, cqe);
		b->complete(b->ctx, ud, res);
	}
}

/* An answer longer than the buffer is written in pieces of at most its
 * size (a shard's list), each reserved in turn. */
char *sendbuf_reserve(struct sendbuf *b, size_t n)
{
	assert(n <= b->cap);
	while (b->len + n > b->cap && b->len > 0) {
		if (!b->ring) {
			b->len = 0; /* nobody to wait for: drop */
			break;
		}
		sendbuf_submit(b);
		sendbuf_wait(b);
		if (b->fd < 0)
			b->len = 0;
	}
	return b->buf + b->len;
}

void sendbuf_put(struct sendbuf *b, const void *data, size_t n)
{
	memcpy(sendbuf_reserve(b, n), data, n);
	b->len += n;
}

void sendbuf_printf(struct sendbuf *b, const char *fmt, ...)
{
	va_list ap;
	char *p = sendbuf_reserve(b, 512);
	int n;

	va_start(ap, fmt);
	n = vsnprintf(p, 512, fmt, ap);
	va_end(ap);
	b->len += n < 512 ? (size_t)n : 511;
}
