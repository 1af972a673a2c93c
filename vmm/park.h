/* park.h - a halted guest's vCPU state, saved so that its KVM VM can carry another guest, and restored. */
#ifndef KVMLITE_PARK_H
#define KVMLITE_PARK_H

#include <linux/kvm.h>

#include "vm.h"

#define PARK_MSR_MAX 512 /* MSRs a guest may reach without the MSR filter (~270 on kvm_pvm) */
#define PARK_MSR_IO  128 /* MSRs per KVM_GET/SET_MSRS call (KVM takes fewer than 256) */

/*
 * The MSRs a guest can change, with the values a freshly created vCPU
 * holds (in msr[].data). None with the MSR filter (vm.c); without it,
 * every MSR KVM serves in the blocks a guest can address. A parked guest
 * keeps only the MSRs it changed; a VM going back to the pool gets those
 * reset, so every guest starts on a vCPU as good as new.
 */
struct msr_set {
	u32 n;
	struct kvm_msr_entry msr[PARK_MSR_MAX];
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

/* Finds the MSRs a guest can change, with their reset values, on a vCPU
 * that has never run (see struct msr_set). -1 with errno. */
int park_msrs_probe(struct msr_set *m, const struct kvm *kvm, int fresh_vcpu_fd);

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
/* Makes a reused vCPU what a new one is: the state saved from a vCPU that
 * never ran (`fresh`), and a TSC that counts from 0 now. -1 with errno. */
int park_renew(struct vm *vm, const struct park *fresh);
/* Bytes a parked guest's record takes. */
size_t park_size(const struct park *p);

#endif
