/* fault.h - fault injection for tests: KVMLITE_FAULT makes chosen host calls fail for chosen guests. */
#ifndef KVMLITE_FAULT_H
#define KVMLITE_FAULT_H

#include "types.h"

/*
 * KVMLITE_FAULT="POINT:ID:COUNT[,POINT:ID:COUNT...]". Tests use it to show
 * that a failure stays where it happened and nothing leaks; without the
 * variable each point costs one branch.
 *
 * fault_hit(point, id): the first COUNT times guest ID passes POINT, "fail
 * here". Points: "resume" (a parked guest getting a VM back), "sandbox"
 * (ID is a role: sandbox_probe()), "why" (no memory for the text of what
 * happened to the guest: vm_set_why()).
 *
 * fault_next(point): counts the calls at POINT in this process; calls ID
 * to ID + COUNT - 1 fail. Points: "create_vm", "create_vcpu", "mmap_run"
 * (the steps of making a machine, in shard.c), "short_write" (a shard's write to the
 * supervisor submitted with half its bytes), "write_eagain" (one that
 * completes with -EAGAIN, nothing written), "full_cq" (a shard's io_uring
 * with a completion queue of two that is kept overflowing), "msr_filter"
 * (kvm_open() takes KVM to have no MSR filter: parking is then off). The
 * counts are per process, kept under a lock: shard threads passing a point
 * at once fail it COUNT times in all.
 */
bool fault_hit(const char *point, u32 id);
bool fault_next(const char *point);

#endif
