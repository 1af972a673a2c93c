/* outbuf.h - a growable output buffer, written to a socket with non-blocking send(). */
#ifndef KVMLITE_OUTBUF_H
#define KVMLITE_OUTBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* The kernel never holds a pointer into it (no io_uring write): it may move. */
struct outbuf {
	char *buf;
	size_t len, cap;
};

/* Appends n bytes; on allocation failure they are dropped (the reader is
 * then too far behind and is hung up on by its owner). */
void outbuf_put(struct outbuf *b, const char *s, size_t n);
void outbuf_printf(struct outbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The one formatting of a line for a buffer: into tmp (OUTBUF_LINE bytes), cut to fit; its length.
 * outbuf_printf uses it, and so does a caller with its own accounting around outbuf_put (control.c). */
#define OUTBUF_LINE 1024
size_t outbuf_vformat(char *tmp, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Writes what it can now; returns false when the rest must wait for
 * POLLOUT. A peer that is gone (EPIPE, ECONNRESET) can take nothing more:
 * the rest is discarded, so that it is not kept, nor polled for, forever. */
bool outbuf_flush(int fd, struct outbuf *b);

#endif
