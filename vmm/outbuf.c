/* outbuf.c - a growable output buffer, written to a socket with non-blocking send(). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "outbuf.h"

void outbuf_put(struct outbuf *b, const char *s, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n)
			cap *= 2;
		p = realloc(b->buf, cap);
		if (!p)
			return; /* dropped; the connection is closed for being too far behind */
		b->buf = p;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, s, n);
	b->len += n;
}

size_t outbuf_vformat(char *tmp, const char *fmt, va_list ap)
{
	int n = vsnprintf(tmp, OUTBUF_LINE, fmt, ap);

	return n < 0 ? 0 : n < OUTBUF_LINE ? (size_t)n : OUTBUF_LINE - 1;
}

void outbuf_printf(struct outbuf *b, const char *fmt, ...)
{
	char tmp[OUTBUF_LINE];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = outbuf_vformat(tmp, fmt, ap);
	va_end(ap);
	outbuf_put(b, tmp, n);
}

/* Writes what it can now; returns false when the rest must wait for POLLOUT.
 * A peer that is gone (EPIPE, ECONNRESET) can take nothing more: the rest
 * is discarded, so that it is not kept, nor polled for, forever. */
bool outbuf_flush(int fd, struct outbuf *b)
{
	size_t done = 0;

	while (done < b->len) {
		ssize_t n = send(fd, b->buf + done, b->len - done, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN)) {
			b->len = 0;
			return true;
		}
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	if (done) /* (a dropped client's buffer is NULL: memmove must not see it) */
		memmove(b->buf, b->buf + done, b->len - done);
	b->len -= done;
	return b->len == 0;
}
