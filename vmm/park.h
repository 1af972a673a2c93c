/* park.h - a halted guest's vCPU state, saved so that its KVM VM can carry another guest, and restored. */
#ifndef KVMLITE_PARK_H
#define KVMLITE_PARK_H

#include <linux/kvm.h>

#include "vm.h"

/*
 * Everything of a guest that lived in KVM, and the output its ring held
 * (the ring's page is given back while parked). Device state and guest
 * RAM stay where they are: in the guest's struct vm and in the arena.
 */
struct park {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_vcpu_events events;
	struct kvm_debugregs debugregs;
	u64 xcr0;
	u64 tsc;       /* its TSC's offset from the host's (KVM_VCPU_TSC_OFFSET) */
	u64 parked_at; /* host clock then, ns */
	u32 xsave_len; /* 576 (x87 and SSE only) or the whole 4 KiB area */
	u32 out_len;   /* output bytes kept, after the XSAVE bytes */
	u32 counted;   /* what the parked guest takes in all, as its shard counted it */
	u64 out_from;  /* stream position of the first of them */
	u8 data[];     /* xsave_len bytes, then out_len bytes */
};

/* The state of `fresh`, a vCPU that has never run: what a reused VM is
 * made into before a new guest boots on it (park_renew). NULL, with why,
 * if parking is not possible on this host: then no VM is reused. */
struct park *park_probe(const struct kvm *kvm, struct vm *fresh, const char **why);
/* Saves vm's vCPU (the guest must be out of KVM_RUN) and out_len output
 * bytes from `out` (stream position out_from). NULL with errno on failure. */
struct park *park_save(struct vm *vm, const u8 *out, u32 out_len, u64 out_from);
/* The bytes of the output kept in p. */
const u8 *park_output(const struct park *p);
/* Puts the saved state into the vCPU vm is attached to. -1 with errno. */
int park_restore(struct vm *vm, const struct park *p);
/* Makes a reused vCPU what a new one is: fresh's state (park_probe) and a
 * TSC that counts from 0 now, but for its registers and segments, which
 * vm_boot() sets next from fresh's: the boot's reset state is all the
 * vCPU keeps of them. -1 with errno. */
int park_renew(struct vm *vm, const struct park *fresh);
/* Bytes a parked guest's record takes. */
size_t park_size(const struct park *p);

#endif
