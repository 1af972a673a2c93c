/* park.c - saves a halted guest's vCPU state so its KVM VM can carry another guest, and restores it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "park.h"

#define MSR_IA32_TSC	    0x10
#define XSAVE_LEGACY_LEN    576 /* the x87/SSE area (512) and the XSAVE header (64) */
#define XSAVE_HDR_XSTATE_BV 512 /* offset of XSTATE_BV: which components hold state */
#define X86_EFLAGS_IF	    0x200

/*
 * The TSC is carried as its offset from the host's TSC, not as a value:
 * the guest's TSC then keeps running while it is parked, exactly as if it
 * had stayed, whichever VM it resumes on (KVM_VCPU_TSC_OFFSET, Linux 5.16).
 * On kvm_pvm there is nothing to carry: PVM cannot offset a guest's TSC
 * (the offset reads 0 and writes are ignored), every vCPU's is the host's.
 */
static int park_tsc_offset(int vcpu_fd, unsigned long req, u64 *offset)
{
	struct kvm_device_attr a = {
		.group = KVM_VCPU_TSC_CTRL,
		.attr = KVM_VCPU_TSC_OFFSET,
		.addr = (u64)(uintptr_t)offset,
	};

	return kvm_ioctl(vcpu_fd, req, &a);
}

size_t park_size(const struct park *p)
{
	return sizeof(*p) + p->xsave_len + p->out_len;
}

const u8 *park_output(const struct park *p)
{
	return p->data + p->xsave_len;
}

/*
 * What a guest can change of its vCPU is exactly what is saved here. No
 * MSR is on the list: the MSR filter (machine.c, machine_msrs_allowed) lets a guest
 * write only EFER, which the segment registers carry, and read the TSC,
 * which travels as its offset; every other MSR raises #GP, so it holds on
 * every vCPU what KVM gave it at creation, whichever guests ran on it.
 * Pending events include, where KVM has KVM_CAP_X86_TRIPLE_FAULT_EVENT
 * (machine.c turns it on), a triple fault KVM queued but has not delivered.
 * CPUID is never set (a guest sees no features, hence no MSR that depends
 * on one), there is no in-kernel local APIC (so no x2APIC MSRs, no INIT or
 * SIPI: the MP state stays RUNNABLE), no SMM and no nested state.
 */
struct park *park_save(struct vm *vm, const u8 *out, u32 out_len, u64 out_from)
{
	static __thread struct kvm_xsave xs; /* 4 KiB, one per thread */
	struct kvm_xcrs xcrs;
	struct park head = { .parked_at = clock_now(), .out_len = out_len, .out_from = out_from };
	struct park *p;
	u64 bv;
	int fd = vm->vcpu_fd;

	if (kvm_ioctl(fd, KVM_GET_REGS, &head.regs) < 0 || kvm_ioctl(fd, KVM_GET_SREGS, &head.sregs) < 0 ||
	    kvm_ioctl(fd, KVM_GET_VCPU_EVENTS, &head.events) < 0 ||
	    kvm_ioctl(fd, KVM_GET_DEBUGREGS, &head.debugregs) < 0 || kvm_ioctl(fd, KVM_GET_XCRS, &xcrs) < 0 ||
	    kvm_ioctl(fd, KVM_GET_XSAVE, &xs) < 0 || park_tsc_offset(fd, KVM_GET_DEVICE_ATTR, &head.tsc) < 0)
		return NULL;
	for (u32 i = 0; i < xcrs.nr_xcrs; i++)
		if (xcrs.xcrs[i].xcr == 0)
			head.xcr0 = xcrs.xcrs[i].value;
	/* A guest that never enabled AVX and the like has only x87/SSE state:
	 * keep those 576 bytes rather than the whole 4 KiB area. */
	memcpy(&bv, (u8 *)xs.region + XSAVE_HDR_XSTATE_BV, sizeof(bv));
	head.xsave_len = (bv & ~3ull) ? sizeof(xs.region) : XSAVE_LEGACY_LEN;
	/*
	 * KVM_SET_XSAVE writes only the components XSTATE_BV names: one left
	 * out keeps what the vCPU's buffer held, the last guest's registers
	 * (fuzz_park found its XMM0 there). For SSE that can reach the next
	 * guest: the standard form of XRSTOR loads MXCSR from the buffer
	 * whatever XSTATE_BV says (Intel SDM vol. 1, 13.8.1). KVM_GET_XSAVE
	 * reports x87 and SSE state in full (their initial values when not in
	 * use), so naming both writes exactly that.
	 */
	bv |= 3;
	memcpy((u8 *)xs.region + XSAVE_HDR_XSTATE_BV, &bv, sizeof(bv));
	p = malloc(sizeof(head) + head.xsave_len + out_len);
	if (!p)
		return NULL;
	*p = head;
	memcpy(p->data, xs.region, p->xsave_len);
	if (out_len)
		memcpy((u8 *)park_output(p), out, out_len);
	return p;
}

/* All of p but its registers, segments and TSC: XCR0, FPU and SSE, events, debug registers. */
static int park_restore_rest(int fd, const struct park *p)
{
	static __thread struct kvm_xsave xs;
	struct kvm_xcrs xcrs = { .nr_xcrs = 1, .xcrs[0] = { .xcr = 0, .value = p->xcr0 } };
	struct kvm_vcpu_events ev = p->events;

	memset(&xs, 0, sizeof(xs));
	memcpy(xs.region, p->data, p->xsave_len);
	/* NMI and SIPI state are restored only when flagged as valid. */
	ev.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR;
	if ((p->xcr0 && kvm_ioctl(fd, KVM_SET_XCRS, &xcrs) < 0) || kvm_ioctl(fd, KVM_SET_XSAVE, &xs) < 0 ||
	    kvm_ioctl(fd, KVM_SET_VCPU_EVENTS, &ev) < 0 || kvm_ioctl(fd, KVM_SET_DEBUGREGS, (void *)&p->debugregs) < 0)
		return -1;
	return 0;
}

int park_restore(struct vm *vm, const struct park *p)
{
	u64 tsc = p->tsc;
	int fd = vm->vcpu_fd;

	if (kvm_ioctl(fd, KVM_SET_SREGS, (void *)&p->sregs) < 0 || kvm_ioctl(fd, KVM_SET_REGS, (void *)&p->regs) < 0 ||
	    park_restore_rest(fd, p) < 0 || park_tsc_offset(fd, KVM_SET_DEVICE_ATTR, &tsc) < 0)
		return -1;
	/*
	 * kvm_run still describes the last exit of this VM's previous guest.
	 * vm_inject() reads from it whether an interrupt can go in now: say
	 * what holds for the guest restored here (it halted with IF set).
	 */
	vm->run->if_flag = !!(p->regs.rflags & X86_EFLAGS_IF);
	vm->run->ready_for_interrupt_injection = vm->run->if_flag && !p->events.interrupt.shadow;
	vm->run->immediate_exit = 0;
	return 0;
}

struct park *park_probe(const struct kvm *kvm, struct vm *fresh, const char **why)
{
	struct kvm_device_attr a = { .group = KVM_VCPU_TSC_CTRL, .attr = KVM_VCPU_TSC_OFFSET };
	struct park *p;

	*why = NULL;
	if (!kvm->msr_filter) {
		/* Then a guest reaches every MSR KVM serves, and some of them
		 * KVM will not let us put back: on kvm_pvm a guest's TSC write
		 * moves TSC_ADJUST, which ignores writes from the host without
		 * the CPUID bit, and PVM's 0x4b564d10 refuses them. A VM that
		 * cannot be made new again is not handed on. */
		*why = "KVM has no MSR filter (KVM_X86_SET_MSR_FILTER, Linux 5.10), so a reused VM could carry MSRs "
		       "from guest to guest";
		return NULL;
	}
	if (kvm_ioctl(fresh->vcpu_fd, KVM_HAS_DEVICE_ATTR, &a) < 0) {
		*why = "KVM cannot set a vCPU's TSC offset (Linux 5.16)";
		return NULL;
	}
	p = park_save(fresh, NULL, 0, 0);
	if (!p)
		*why = strerror(errno);
	return p;
}

int park_renew(struct vm *vm, const struct park *fresh)
{
	union { /* struct kvm_msrs with room for one entry */
		struct kvm_msrs hdr;
		u8 bytes[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
	} r = { .hdr.nmsrs = 1 };
	u64 offset;

	r.hdr.entries[0].index = MSR_IA32_TSC;
	/* Registers and segments: vm_boot() sets them next, from fresh's. */
	if (park_restore_rest(vm->vcpu_fd, fresh) < 0)
		return -1;
	/*
	 * A new vCPU's TSC counts from 0 at its creation (VT-x, SVM): this one
	 * now counts from 0 here, so that no guest learns how long its VM has
	 * been in use. Its offset and its TSC, read one after the other, say
	 * how far to move it. (On kvm_pvm every vCPU's TSC is the host's, new
	 * or not, and the offset cannot move: this changes nothing there.)
	 */
	if (park_tsc_offset(vm->vcpu_fd, KVM_GET_DEVICE_ATTR, &offset) < 0 ||
	    kvm_ioctl(vm->vcpu_fd, KVM_GET_MSRS, &r) != 1)
		return -1;
	offset -= r.hdr.entries[0].data;
	return park_tsc_offset(vm->vcpu_fd, KVM_SET_DEVICE_ATTR, &offset);
}
