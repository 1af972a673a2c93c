/* pool.h - a shard's KVM machines: the spare ones, parking a halted guest to free its machine, resuming it on another.
 */
#ifndef KVMLITE_POOL_H
#define KVMLITE_POOL_H

#include "shard_state.h"

/* A spare machine back to the pool, or closed if the pool is full. */
void pool_put(struct shard *s, struct machine *m);
/*
 * A machine for a guest to run on: a spare one from the pool; else a new
 * one, while the shard holds fewer than vm_max; else the machine of the
 * least recently active halted guest, which is parked for it. EAGAIN:
 * every machine carries a running guest; try again later. vm_ns, if not
 * NULL: the time KVM_CREATE_VM took for a new one (a stage time).
 */
int pool_get(struct shard *s, struct machine *m, const char **what, u64 *vm_ns);
/* Parks a halted guest; -1 (it stays as it was) if KVM refused. */
int pool_park(struct shard *s, struct guest *g);
/* Gives a parked guest a machine and its state back; -1 with EAGAIN (no
 * machine free) or EIO (failed: it is held and retried, reported failed). */
int pool_resume(struct shard *s, struct guest *g);
/* What a parked guest does, for people (vm_describe() on its record and its RAM). */
void pool_describe(struct shard *s, struct guest *g, char *buf, size_t len);
/* An ended guest gives back its machine and its RAM. */
void pool_release(struct shard *s, struct guest *g);
/* While idle: one more spare machine made ready; false when there is nothing to do. */
bool pool_refill(struct shard *s);

#endif
