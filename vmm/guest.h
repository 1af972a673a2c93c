/* guest.h - a guest's life in a shard: started on a machine, run a slice at a time, settled after every event, ended.
 */
#ifndef KVMLITE_GUEST_H
#define KVMLITE_GUEST_H

#include "shard_state.h"

/* Creates up to a batch of guests, in id order; false when no machine
 * could be had for the next (every one carries a running or held guest). */
bool guest_create_some(struct shard *s);
/* The next guest to run, round robin; NULL if none wants the CPU. */
struct guest *guest_next(struct shard *s);
/* Runs one guest until it halts, ends, or its slice (or CPU share) is over. */
void guest_run_slice(struct shard *s, struct guest *g);
/* The slice timer off, before the shard sleeps: slices leave it set for the next. */
void guest_disarm_kick(struct shard *s);
/* After anything happened to a guest (at `now`): files it where it belongs,
 * parks it, reports it silent or ended. */
void guest_settle(struct shard *s, struct guest *g, u64 now);
/* What `list` and `info` call its state: creating, running, halted, parked, silent, ended, failed. */
const char *guest_state(const struct guest *g);
/* Tells the supervisor what changed: guests created, parked, booted (stage times). */
void guest_report(struct shard *s);

#endif
