/* park.h - a halted guest's vCPU state, saved so that its KVM VM can carry another guest, and restored. */
#ifndef KVMLITE_PARK_H
#define KVMLITE_PARK_H

#include <linux/kvm.h>

#include "vm.h"

#define PARK_MSR_MAX 160 /* MSRs KVM_GET_MSR_INDEX_LIST may name (41 on kvm_pvm, ~60 on VT-x) */

/*
 * The MSRs a vCPU has, with the values a freshly created vCPU holds. A
 * parked guest keeps only the MSRs it changed; a VM going back to the pool
 * gets those reset, so every guest starts on a vCPU as good as new.
 */
struct msr_set {
	u32 n;
	u32 index[PARK_MSR_MAX];
	u64 reset[PARK_MSR_MAX];
	u32 tsc_khz; /* the guest TSC runs on while parked, at this rate */
};

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
	u64 tsc;	/* guest TSC when parked */
	u64 parked_at;	/* host clock then, ns */
	u16 nmsrs;	/* changed MSRs, after the XSAVE bytes in data[] */
	u16 xsave_len;	/* 576 (x87 and SSE only) or the whole 4 KiB area */
	u32 out_len;	/* output bytes kept, after the MSRs */
	u32 counted;	/* what the parked guest takes in all, as its shard counted it */
	u64 out_from;	/* stream position of the first of them */
	u8 data[];	/* xsave_len bytes, nmsrs struct kvm_msr_entry, out_len bytes */
};

/* Reads the MSR list from /dev/kvm and the reset values from a vCPU that has never run. */
int park_msrs_probe(struct msr_set *m, int kvm_fd, int fresh_vcpu_fd);

/* Saves vm's vCPU (the guest must be out of KVM_RUN) and out_len output
 * bytes from `out` (stream position out_from). NULL with errno on failure. */
struct park *park_save(struct vm *vm, const struct msr_set *m, const u8 *out, u32 out_len, u64 out_from);
/* The bytes of the output kept in p. */
const u8 *park_output(const struct park *p);
/* Puts the saved state into the vCPU vm is attached to. -1 with errno. */
int park_restore(struct vm *vm, const struct park *p);
/* Resets the MSRs p's guest changed on the vCPU it leaves, so the next
 * guest finds reset values. -1 if one refuses: do not reuse that VM. */
int park_reset_msrs(int vcpu_fd, const struct park *p, const struct msr_set *m);
/* Bytes a parked guest's record takes. */
size_t park_size(const struct park *p);

#endif
