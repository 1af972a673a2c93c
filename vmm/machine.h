/* machine.h - the machine a guest runs on: a KVM VM with its MSR filter, its one vCPU and the vCPU's kvm_run page. */
#ifndef KVMLITE_MACHINE_H
#define KVMLITE_MACHINE_H

#include "kvm.h"
#include "types.h"

struct kvm_run;
struct kvm_coalesced_mmio_ring;

/*
 * A guest normally keeps only the vCPU fd of its machine; a machine that
 * will carry other guests after this one (parking, park.c) keeps its VM
 * fd too, to move its RAM memslot.
 */
struct machine {
	int vm_fd;   /* -1 once closed */
	int vcpu_fd; /* -1: none */
	struct kvm_run *run;
	struct kvm_coalesced_mmio_ring *ring; /* port writes that wait for the next exit; NULL: none */
	bool used; /* has carried a guest: its CPU state is that guest's, not reset */
};

#define MACHINE_NONE ((struct machine){ .vm_fd = -1, .vcpu_fd = -1 })

/*
 * Making a machine takes three steps, each a host call that can fail: the
 * VM (with its MSR filter), its vCPU, the vCPU's kvm_run mapping.
 * machine_create() takes them all; a caller that times them or makes one
 * fail (tests) takes them one by one with machine_step(), which names in
 * *what the call that failed, and leaves what was made to
 * machine_destroy(). machine_step_call[] is each step's first call.
 */
enum machine_step { MACHINE_CREATE_VM, MACHINE_CREATE_VCPU, MACHINE_MAP_RUN, MACHINE_STEPS };
extern const char *const machine_step_call[MACHINE_STEPS];
int machine_step(const struct kvm *kvm, struct machine *m, enum machine_step step, const char **what);
/* A new machine, or -1 with errno and *what (nothing is left open). */
int machine_create(const struct kvm *kvm, struct machine *m, const char **what);
/* Closes what m holds (errno is kept) and makes it MACHINE_NONE. */
void machine_destroy(struct machine *m, int run_size);
/* Maps ram (GUEST_RAM_SIZE bytes) as the VM's only memslot; NULL deletes it. */
int machine_map_ram(int vm_fd, u8 *ram);

#endif
