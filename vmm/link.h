/* link.h - the supervisor's links to its shards (link.c): calls nothing above it; control.c and supervise.c call it. */
#ifndef KVMLITE_LINK_H
#define KVMLITE_LINK_H

#include "supervisor.h"

/* An SQE from the supervisor's ring (links and client connections share it), submitting what is queued if it is full.
 */
struct io_uring_sqe *link_sqe(struct spawn *sv);
/* The link to the shard that holds guest id, or NULL. */
struct link *link_of(struct spawn *sv, u32 id);
/* Reads the link's socket if not already, and writes what it has to say (polling for room if need be). */
void link_arm(struct spawn *sv, struct link *l);
/* Gives back what a long line made its buffers take; counts them in out_held. */
void link_fit(struct spawn *sv, struct link *l);
/* A line (wire.h) to a shard: n bytes, a client's request with its tag, or a control of the supervisor's own. */
void link_send(struct spawn *sv, struct link *l, const char *line, size_t n);
void link_request(struct spawn *sv, struct link *l, u32 tag, const char *request, size_t len);
void link_control(struct spawn *sv, struct link *l, enum wire_control control, u32 id);

#endif
