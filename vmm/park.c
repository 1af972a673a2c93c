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

/*
 * KVM_GET/SET_MSRS on up to n entries, PARK_MSR_IO at a time (KVM takes
 * fewer than 256 per call): how many went through before the first one
 * KVM refused, or -1.
 */
static int park_msrs_batch(int vcpu_fd, unsigned long req, struct kvm_msr_entry *e, u32 n)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[PARK_MSR_IO];
	} b;
	u32 done = 0;
	int r;

	while (done < n) {
		b.hdr = (struct kvm_msrs){ .nmsrs = n - done < PARK_MSR_IO ? n - done : PARK_MSR_IO };
		memcpy(b.e, e + done, b.hdr.nmsrs * sizeof(*e));
		r = park_ioctl(vcpu_fd, req, &b);
		if (r < 0)
			return -1;
		memcpy(e + done, b.e, (u32)r * sizeof(*e));
		done += (u32)r;
		if ((u32)r < b.hdr.nmsrs)
			break; /* KVM stops at the first MSR it refuses */
	}
	return (int)done;
}

/* The same, all n or failure. */
static int park_msrs_io(int vcpu_fd, unsigned long req, struct kvm_msr_entry *e, u32 n)
{
	int r = park_msrs_batch(vcpu_fd, req, e, n);

	if (r >= 0 && (u32)r != n)
		errno = EINVAL;
	return r >= 0 && (u32)r == n ? 0 : -1;
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

/*
 * Without the MSR filter a guest reaches every MSR KVM serves, and the
 * index list names only some of them (not the MTRRs, the machine-check
 * banks, ...). So the whole of each block of MSR numbers is read: the
 * architectural ones, AMD64's, AMD's model-specific ones (KVM serves some
 * of these on every host), Hyper-V's and KVM's own (with PVM's).
 */
static const struct {
	u32 first, count;
} park_msr_blocks[] = {
	{ 0x00000000, 0x2000 },
	{ 0xc0000000, 0x2000 },
	{ 0xc0010000, 0x2000 },
	{ 0x40000000, 0x200 },
	{ 0x4b564d00, 0x100 },
};

/* Keeps a readable MSR if its value can also be put back; -1 if there are too many. */
static int park_msr_keep(struct msr_set *m, int vcpu_fd, struct kvm_msr_entry e)
{
	/* One the host cannot even write back as it is holds no state a
	 * guest can set (MTRRcap, PERF_STATUS, PVM's identification...). */
	if (e.index == MSR_IA32_TSC || park_msrs_io(vcpu_fd, KVM_SET_MSRS, &e, 1) < 0)
		return 0;
	for (u32 i = 0; i < m->n; i++)
		if (m->msr[i].index == e.index)
			return 0;
	if (m->n == PARK_MSR_MAX) {
		errno = E2BIG;
		return -1;
	}
	m->msr[m->n++] = e;
	return 0;
}

/* Every MSR of [first, first + count) that a fresh vCPU reads, into m. */
static int park_msrs_scan(struct msr_set *m, int vcpu_fd, u32 first, u32 count)
{
	static __thread struct kvm_msr_entry e[PARK_MSR_IO];
	u32 i = 0, n;
	int r;

	while (i < count) {
		n = count - i < PARK_MSR_IO ? count - i : PARK_MSR_IO;
		for (u32 j = 0; j < n; j++)
			e[j] = (struct kvm_msr_entry){ .index = first + i + j };
		r = park_msrs_batch(vcpu_fd, KVM_GET_MSRS, e, n);
		if (r < 0)
			return -1;
		for (int j = 0; j < r; j++)
			if (park_msr_keep(m, vcpu_fd, e[j]) < 0)
				return -1;
		i += (u32)r + 1; /* past the one refused */
	}
	return 0;
}

int park_msrs_probe(struct msr_set *m, const struct kvm *kvm, int fresh_vcpu_fd)
{
	struct {
		struct kvm_msr_list hdr;
		u32 index[PARK_MSR_MAX];
	} list = { .hdr.nmsrs = PARK_MSR_MAX };
	struct kvm_device_attr a = { .group = KVM_VCPU_TSC_CTRL, .attr = KVM_VCPU_TSC_OFFSET };

	m->n = 0;
	if (park_ioctl(fresh_vcpu_fd, KVM_HAS_DEVICE_ATTR, &a) < 0)
		return -1;
	/* With the filter a guest can change no MSR but EFER, which the
	 * segment registers carry, and only reads the TSC, which travels as
	 * its offset (vm.c, vm_msrs_allowed): there is no MSR to carry. */
	if (kvm->msr_filter)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(park_msr_blocks); i++)
		if (park_msrs_scan(m, fresh_vcpu_fd, park_msr_blocks[i].first, park_msr_blocks[i].count) < 0)
			return -1;
	/* And any MSR KVM names that lies outside these blocks. */
	if (park_ioctl(kvm->fd, KVM_GET_MSR_INDEX_LIST, &list) < 0)
		return -1;
	for (u32 i = 0; i < list.hdr.nmsrs; i++) {
		struct kvm_msr_entry e = { .index = list.index[i] };

		if (park_msrs_io(fresh_vcpu_fd, KVM_GET_MSRS, &e, 1) == 0 && park_msr_keep(m, fresh_vcpu_fd, e) < 0)
			return -1;
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
	static __thread struct kvm_xsave xs;			 /* 4 KiB, one per thread */
	static __thread struct kvm_msr_entry all[PARK_MSR_MAX]; /* 8 KiB */
	struct kvm_xcrs xcrs;
	struct park head = { .parked_at = clock_now(), .out_len = out_len, .out_from = out_from };
	struct park *p;
	u64 bv;
	int fd = vm->vcpu_fd;

	memcpy(all, m->msr, m->n * sizeof(*all));
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
		head.nmsrs += all[i].data != m->msr[i].data;
	p = malloc(sizeof(head) + head.xsave_len + head.nmsrs * sizeof(struct kvm_msr_entry) + out_len);
	if (!p)
		return NULL;
	*p = head;
	memcpy(p->data, xs.region, p->xsave_len);
	for (u32 i = 0, k = 0; i < m->n; i++)
		if (all[i].data != m->msr[i].data)
			park_msrs(p)[k++] = all[i];
	if (out_len)
		memcpy((u8 *)park_output(p), out, out_len);
	return p;
}

int park_restore(struct vm *vm, const struct park *p)
{
	static __thread struct kvm_xsave xs;
	struct kvm_xcrs xcrs = { .nr_xcrs = 1, .xcrs[0] = { .xcr = 0, .value = p->xcr0 } };
	static __thread struct kvm_msr_entry msrs[PARK_MSR_MAX];
	struct kvm_vcpu_events ev = p->events;
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
	static __thread struct kvm_msr_entry e[PARK_MSR_MAX];

	/* p's MSRs are a subset of m's, in m's order. */
	for (u32 k = 0, i = 0; k < p->nmsrs; k++, i++) {
		while (i < m->n && m->msr[i].index != park_msrs(p)[k].index)
			i++;
		if (i == m->n) {
			errno = EINVAL;
			return -1;
		}
		e[k] = m->msr[i];
	}
	return park_msrs_io(vcpu_fd, KVM_SET_MSRS, e, p->nmsrs);
}

int park_renew(struct vm *vm, const struct park *fresh)
{
	struct kvm_msr_entry tsc = { .index = MSR_IA32_TSC };
	u64 offset;

	if (park_restore(vm, fresh) < 0)
		return -1;
	/*
	 * A new vCPU's TSC counts from 0 at its creation: this one now counts
	 * from 0 here, so no guest learns how long its VM has been in use.
	 * Its offset and its TSC, read one after the other, say how far
	 * to move it.
	 */
	if (park_tsc_offset(vm->vcpu_fd, KVM_GET_DEVICE_ATTR, &offset) < 0 ||
	    park_msrs_io(vm->vcpu_fd, KVM_GET_MSRS, &tsc, 1) < 0)
		return -1;
	offset -= tsc.data;
	return park_tsc_offset(vm->vcpu_fd, KVM_SET_DEVICE_ATTR, &offset);
}
