/* shard.h - one worker thread's share of a spawn: many guests run M:N, one io_uring, one socket to the supervisor. */
#ifndef KVMLITE_SHARD_H
#define KVMLITE_SHARD_H

#include "shard_state.h"

int shard_init(struct shard *s, u32 id, u32 first, u32 count, const struct kvm *kvm,
	       const struct guest_image *images, const struct spawn_opts *o, int sock, int log_fd, u32 vm_max);
/* The thread body: runs until the supervisor closes its socket. */
void *shard_main(void *arg);
void shard_free(struct shard *s);

#endif
