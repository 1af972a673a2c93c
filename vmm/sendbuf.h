/* sendbuf.h - bytes on their way out through io_uring: to a socket, or at a file's end; the shard's one formatter. */
#ifndef KVMLITE_SENDBUF_H
#define KVMLITE_SENDBUF_H

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>

#include "types.h"

/*
 * The kernel reads [0, busy) while a write is in flight; new bytes go
 * after it; nothing moves until the write completes. A full buffer waits
 * for its reader (sendbuf_wait) rather than grow or drop.
 */
struct sendbuf {
	struct io_uring *ring; /* the ring its writes go through; NULL: bytes only gather (tests) */
	int file;	       /* the file's index among the ring's registered files */
	u64 user_data;	       /* what its write's completion carries */
	int fd;		       /* -1: none (bytes are dropped) */
	bool socket;	       /* send() rather than write() at the file's end */
	bool inflight;
	char *buf; /* cap bytes */
	size_t cap, len, busy;
	/* The owner's completion handler: sendbuf_wait() hands it every
	 * completion, this write's too (the owner decides what an error
	 * means, then calls sendbuf_done()). */
	void (*complete)(void *ctx, u64 user_data, int res);
	void *ctx;
};

/* Starts writing what is buffered, if nothing is in flight. */
void sendbuf_submit(struct sendbuf *b);
/* The write's completion: drops what was written; -EAGAIN writes it all again. */
void sendbuf_done(struct sendbuf *b, int res);
/* Waits until the write in flight completes, handing every completion to complete(). */
void sendbuf_wait(struct sendbuf *b);
/* Room for n (at most cap) more bytes at the buffer's end, waiting for
 * its reader if need be; the caller adds what it wrote to len. */
char *sendbuf_reserve(struct sendbuf *b, size_t n);
void sendbuf_put(struct sendbuf *b, const void *data, size_t n);
/* One line of at most 511 bytes; longer ones are cut. */
void sendbuf_printf(struct sendbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
