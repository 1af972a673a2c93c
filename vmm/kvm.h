/* kvm.h - the host side of KVM: /dev/kvm, its version and capabilities, the backend in use. */
#ifndef KVMLITE_KVM_H
#define KVMLITE_KVM_H

#include "types.h"

struct kvm {
	int fd;			 /* /dev/kvm */
	int run_size;		 /* size of each vCPU's kvm_run mapping */
	char backend[16];	 /* kvm_intel, kvm_amd, kvm_pvm or "unknown" */
	bool msr_filter;	 /* every VM gets the MSR filter (machine.c); without it no VM is reused (park.c) */
	bool triple_fault_event; /* a queued triple fault is part of the vCPU events (Linux 6.0) */
	bool sync_events;	 /* kvm_run carries the vCPU events both ways (KVM_CAP_SYNC_REGS): vm_inject() */
	u32 coalesced_offset;	 /* where the coalesced-write ring lies in the vCPU mapping; 0: none (machine.c) */
};

/*
 * Opens /dev/kvm and checks everything kvmlite relies on. On failure returns
 * -1 with a one-line reason in err (no /dev/kvm, no permission, KVM too
 * old, a missing capability).
 */
int kvm_open(struct kvm *kvm, char *err, size_t errlen);
void kvm_close(struct kvm *kvm);
/* An ioctl on a KVM fd, retried while a signal interrupts it (EINTR) or the host is busy (EAGAIN). */
int kvm_ioctl(int fd, unsigned long req, void *arg);

#endif
