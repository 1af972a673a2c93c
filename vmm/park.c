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

static int park_ioctl(int fd, unsigned long req, void *arg)
{
	int r;

	do
		r = ioctl(fd, req, arg);
	while (r < 0 && (errno == EINTR || errno == EAGAIN));
	return r;
}

/* KVM_GET/SET_MSRS on n entries: all must go through. */
static int park_msrs_io(int vcpu_fd, unsigned long req, struct kvm_msr_entry *e, u32 n)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[PARK_MSR_MAX];
	} b = { .hdr.nmsrs = n };
	int r;

	if (n == 0)
		return 0;
	memcpy(b.e, e, n * sizeof(*e));
	r = park_ioctl(vcpu_fd, req, &b);
	if (r < 0)
		return -1;
	if ((u32)r != n) {
		errno = EINVAL; /* KVM stops at the first MSR it refuses */
		return -1;
	}
	memcpy(e, b.e, n * sizeof(*e));
	return 0;
}

/*
 * The TSC is carried as its offset from the host's TSC, not as a value:
 * the guest's TSC then keeps running while it is parked, exactly as if it
 * had stayed, whichever VM it resumes on (KVM_VCPU_TSC_OFFSET, Linux 5.16).
 */
static int park_tsc_offset(int vcpu_fd, unsigned long req, u64 *offset)
{
	struct kvm_device_attr a = {
		.group = KVM_VCPU_TSC_CTRL,
		.attr = KVM_VCPU_TSC_OFFSET,
		.addr = (u64)(uintptr_t)offset,
	};

	return park_ioctl(vcpu_fd, req, &a);
}

int park_msrs_probe(struct msr_set *m, int kvm_fd, int fresh_vcpu_fd)
{
	struct {
		struct kvm_msr_list hdr;
		u32 index[PARK_MSR_MAX];
	} list = { .hdr.nmsrs = PARK_MSR_MAX };
	struct kvm_msr_entry e;
	struct kvm_device_attr a = { .group = KVM_VCPU_TSC_CTRL, .attr = KVM_VCPU_TSC_OFFSET };

	memset(m, 0, sizeof(*m));
	if (park_ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, &list) < 0)
		return -1;
	if (park_ioctl(fresh_vcpu_fd, KVM_HAS_DEVICE_ATTR, &a) < 0)
		return -1;
	/* Keep what this vCPU can read; the TSC travels as an offset instead. */
	for (u32 i = 0; i < list.hdr.nmsrs; i++) {
		e = (struct kvm_msr_entry){ .index = list.index[i] };
		if (e.index == MSR_IA32_TSC || park_msrs_io(fresh_vcpu_fd, KVM_GET_MSRS, &e, 1) < 0)
			continue;
		m->index[m->n] = e.index;
		m->reset[m->n++] = e.data;
	}
	return 0;
}

size_t park_size(const struct park *p)
{
	return sizeof(*p) + p->xsave_len + p->nmsrs * sizeof(struct kvm_msr_entry) + p->out_len;
}

static struct kvm_msr_entry *park_msrs(const struct park *p)
{
	return (struct kvm_msr_entry *)(uintptr_t)(p->data + p->xsave_len);
}

const u8 *park_output(const struct park *p)
{
	return p->data + p->xsave_len + p->nmsrs * sizeof(struct kvm_msr_entry);
}

struct park *park_save(struct vm *vm, const struct msr_set *m, const u8 *out, u32 out_len, u64 out_from)
{
	static __thread struct kvm_xsave xs; /* 4 KiB, one per thread */
	struct kvm_msr_entry all[PARK_MSR_MAX];
	struct kvm_xcrs xcrs;
	struct park head = { .parked_at = clock_now(), .out_len = out_len, .out_from = out_from };
	struct park *p;
	u64 bv;
	int fd = vm->vcpu_fd;

	for (u32 i = 0; i < m->n; i++)
		all[i] = (struct kvm_msr_entry){ .index = m->index[i] };
	if (park_ioctl(fd, KVM_GET_REGS, &head.regs) < 0 || park_ioctl(fd, KVM_GET_SREGS, &head.sregs) < 0 ||
	    park_ioctl(fd, KVM_GET_VCPU_EVENTS, &head.events) < 0 ||
	    park_ioctl(fd, KVM_GET_DEBUGREGS, &head.debugregs) < 0 || park_ioctl(fd, KVM_GET_XCRS, &xcrs) < 0 ||
	    park_ioctl(fd, KVM_GET_XSAVE, &xs) < 0 || park_msrs_io(fd, KVM_GET_MSRS, all, m->n) < 0 ||
	    park_tsc_offset(fd, KVM_GET_DEVICE_ATTR, &head.tsc) < 0)
		return NULL;
	for (u32 i = 0; i < xcrs.nr_xcrs; i++)
		if (xcrs.xcrs[i].xcr == 0)
			head.xcr0 = xcrs.xcrs[i].value;
	/* A guest that never enabled AVX and the like has only x87/SSE state:
	 * keep those 576 bytes rather than the whole 4 KiB area. */
	memcpy(&bv, (u8 *)xs.region + XSAVE_HDR_XSTATE_BV, sizeof(bv));
	head.xsave_len = (bv & ~3ull) ? sizeof(xs.region) : XSAVE_LEGACY_LEN;
	for (u32 i = 0; i < m->n; i++)
		head.nmsrs += all[i].data != m->reset[i];
	p = malloc(sizeof(head) + head.xsave_len + head.nmsrs * sizeof(struct kvm_msr_entry) + out_len);
	if (!p)
		return NULL;
	*p = head;
	memcpy(p->data, xs.region, p->xsave_len);
	for (u32 i = 0, k = 0; i < m->n; i++)
		if (all[i].data != m->reset[i])
			park_msrs(p)[k++] = all[i];
	if (out_len)
		memcpy((u8 *)park_output(p), out, out_len);
	return p;
}

int park_restore(struct vm *vm, const struct park *p)
{
	static __thread struct kvm_xsave xs;
	struct kvm_xcrs xcrs = { .nr_xcrs = 1, .xcrs[0] = { .xcr = 0, .value = p->xcr0 } };
	struct kvm_vcpu_events ev = p->events;
	struct kvm_msr_entry msrs[PARK_MSR_MAX];
	u64 tsc = p->tsc;
	int fd = vm->vcpu_fd;

	memset(&xs, 0, sizeof(xs));
	memcpy(xs.region, p->data, p->xsave_len);
	memcpy(msrs, park_msrs(p), p->nmsrs * sizeof(*msrs));
	/* NMI and SIPI state are restored only when flagged as valid. */
	ev.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR;
	if (park_ioctl(fd, KVM_SET_SREGS, (void *)&p->sregs) < 0 || park_ioctl(fd, KVM_SET_REGS, (void *)&p->regs) < 0 ||
	    (p->xcr0 && park_ioctl(fd, KVM_SET_XCRS, &xcrs) < 0) || park_ioctl(fd, KVM_SET_XSAVE, &xs) < 0 ||
	    park_msrs_io(fd, KVM_SET_MSRS, msrs, p->nmsrs) < 0 || park_ioctl(fd, KVM_SET_VCPU_EVENTS, &ev) < 0 ||
	    park_ioctl(fd, KVM_SET_DEBUGREGS, (void *)&p->debugregs) < 0 ||
	    park_tsc_offset(fd, KVM_SET_DEVICE_ATTR, &tsc) < 0)
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

int park_reset_msrs(int vcpu_fd, const struct park *p, const struct msr_set *m)
{
	struct kvm_msr_entry e[PARK_MSR_MAX];

	for (u32 k = 0; k < p->nmsrs; k++) {
		e[k] = (struct kvm_msr_entry){ .index = park_msrs(p)[k].index };
		for (u32 i = 0; i < m->n; i++)
			if (m->index[i] == e[k].index)
				e[k].data = m->reset[i];
	}
	return park_msrs_io(vcpu_fd, KVM_SET_MSRS, e, p->nmsrs);
}
