/* machine.c - the machine a guest runs on: a KVM VM with its MSR filter, its one vCPU and the vCPU's kvm_run page. */
#include <errno.h>
#include <linux/kvm.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/uart16550.h"
#include "layout.h"
#include "machine.h"

const char *const machine_step_call[MACHINE_STEPS] = {
	[MACHINE_CREATE_VM] = "KVM_CREATE_VM",
	[MACHINE_CREATE_VCPU] = "KVM_CREATE_VCPU",
	[MACHINE_MAP_RUN] = "mmap of kvm_run",
};

/*
 * The MSRs a guest may touch at all. KVM_X86_SET_MSR_FILTER denies every
 * other rdmsr and wrmsr (KVM does not filter the x2APIC range 0x800-0x8ff,
 * which without an in-kernel local APIC raises #GP anyway), and KVM hands
 * those to us (KVM_EXIT_X86_RDMSR/WRMSR) to answer with #GP, as a CPU
 * without that MSR would. A boot sector needs none: these two are the ones
 * a guest finds on every x86, and each is already carried by parking
 * without a list of MSRs, so no MSR state can pass from one guest to the
 * next on a reused VM (docs/security.md).
 */
#define MSR_IA32_TSC 0x10
#define MSR_EFER     0xc0000080
static const struct {
	u32 index, access;
} machine_msrs_allowed[] = {
	{ MSR_IA32_TSC, KVM_MSR_FILTER_READ },			  /* what rdtsc reads; parking carries its offset */
	{ MSR_EFER, KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE }, /* in the segment registers (KVM_GET_SREGS) */
};

static int machine_msr_filter(int vm_fd)
{
	static u8 allow = 1; /* a bitmap of one MSR, allowed */
	struct kvm_enable_cap cap = { .cap = KVM_CAP_X86_USER_SPACE_MSR, .args[0] = KVM_MSR_EXIT_REASON_FILTER };
	struct kvm_msr_filter f = { .flags = KVM_MSR_FILTER_DEFAULT_DENY };

	for (size_t i = 0; i < ARRAY_SIZE(machine_msrs_allowed); i++)
		f.ranges[i] = (struct kvm_msr_filter_range){
			.flags = machine_msrs_allowed[i].access,
			.nmsrs = 1,
			.base = machine_msrs_allowed[i].index,
			.bitmap = &allow,
		};
	if (kvm_ioctl(vm_fd, KVM_ENABLE_CAP, &cap) < 0)
		return -1;
	return kvm_ioctl(vm_fd, KVM_X86_SET_MSR_FILTER, &f);
}

/*
 * The port writes that may wait in KVM's coalesced ring until the guest's
 * next exit instead of exiting each (kvm.c). A write belongs here when
 * nothing the guest can observe depends on it being handled at once:
 * vm_run() hands the ring to the devices, in order, before it looks at any
 * exit, so every `in` and every interrupt decision sees them done. What
 * can wait is the effect on interrupts: an EOI or an IMR write that lets
 * an interrupt through, or a THR write or IER bit that raises IRQ4, is
 * delivered at the guest's next exit (its `hlt`, an `in`, or the end of
 * its time slice) rather than at the write itself.
 *  - both ports of each 8259A: OCW2 (the EOI every handler writes), OCW3,
 *    the ICW1-4 sequence and the mask, which a boot writes 16 times;
 *  - all of COM1: THR (the bytes a guest sends, which it paces by reading
 *    LSR, an exit, once per 16 with the FIFO on) and the registers a boot
 *    sets up once (LCR, the divisor, FCR, MCR, IER);
 *  - the firmware's event port, which only records (bios.c).
 * Not the PIT: a count takes effect when it is written, and its time is
 * what the guest measures. Nor the firmware's disk and screen ports, whose
 * answers the guest reads from its memory without an exit.
 */
static const struct kvm_coalesced_mmio_zone machine_coalesced_ports[] = {
	{ .addr = PIC_MASTER_CMD, .size = 2, .pio = 1 },
	{ .addr = PIC_SLAVE_CMD, .size = 2, .pio = 1 },
	{ .addr = COM1_BASE, .size = COM1_PORTS, .pio = 1 },
	{ .addr = FW_EVENT_PORT, .size = 2, .pio = 1 },
};

static int machine_coalesce(int vm_fd)
{
	for (size_t i = 0; i < ARRAY_SIZE(machine_coalesced_ports); i++) {
		struct kvm_coalesced_mmio_zone z = machine_coalesced_ports[i];

		if (kvm_ioctl(vm_fd, KVM_REGISTER_COALESCED_MMIO, &z) < 0)
			return -1;
	}
	return 0;
}

/* The VM, its MSR filter, its coalesced ports, and a triple fault as a vCPU event. */
static int machine_create_vm(const struct kvm *kvm, struct machine *m, const char **what)
{
	/* A triple fault KVM has queued but not yet delivered (setting CR0.PG
	 * with unusable page tables queues one for the next entry) is then part
	 * of KVM_GET/SET_VCPU_EVENTS: parking carries it, and a reused vCPU is
	 * cleared of it (park.c). Without this, found by fuzz_park, a guest
	 * booted on such a vCPU triple-faulted at its first instruction. */
	struct kvm_enable_cap tf = { .cap = KVM_CAP_X86_TRIPLE_FAULT_EVENT, .args[0] = 1 };

	m->vm_fd = kvm_ioctl(kvm->fd, KVM_CREATE_VM, 0);
	if (m->vm_fd < 0)
		return -1;
	*what = "KVM_X86_SET_MSR_FILTER";
	if (kvm->msr_filter && machine_msr_filter(m->vm_fd) < 0)
		return -1;
	*what = "KVM_REGISTER_COALESCED_MMIO (pio)";
	if (kvm->coalesced_offset && machine_coalesce(m->vm_fd) < 0)
		return -1;
	*what = "KVM_ENABLE_CAP (KVM_CAP_X86_TRIPLE_FAULT_EVENT)";
	if (kvm->triple_fault_event && kvm_ioctl(m->vm_fd, KVM_ENABLE_CAP, &tf) < 0)
		return -1;
	return 0;
}

int machine_step(const struct kvm *kvm, struct machine *m, enum machine_step step, const char **what)
{
	void *run;

	*what = machine_step_call[step];
	switch (step) {
	case MACHINE_CREATE_VM:
		return machine_create_vm(kvm, m, what);
	case MACHINE_CREATE_VCPU:
		m->vcpu_fd = kvm_ioctl(m->vm_fd, KVM_CREATE_VCPU, 0);
		return m->vcpu_fd < 0 ? -1 : 0;
	default:
		run = mmap(NULL, (size_t)kvm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, m->vcpu_fd, 0);
		if (run == MAP_FAILED)
			return -1;
		m->run = run;
		if (kvm->coalesced_offset)
			m->ring = (struct kvm_coalesced_mmio_ring *)((u8 *)run + kvm->coalesced_offset);
		/* At every exit KVM copies the vCPU events into kvm_run, so
		 * vm_inject() can hand an interrupt in with KVM_RUN itself. */
		m->run->kvm_valid_regs = kvm->sync_events ? KVM_SYNC_X86_EVENTS : 0;
		return 0;
	}
}

int machine_create(const struct kvm *kvm, struct machine *m, const char **what)
{
	*m = MACHINE_NONE;
	for (int step = 0; step < MACHINE_STEPS; step++) {
		if (machine_step(kvm, m, step, what) < 0) {
			machine_destroy(m, kvm->run_size);
			return -1;
		}
	}
	return 0;
}

void machine_destroy(struct machine *m, int run_size)
{
	int saved = errno;

	if (m->run)
		munmap(m->run, (size_t)run_size);
	if (m->vcpu_fd >= 0)
		close(m->vcpu_fd);
	if (m->vm_fd >= 0)
		close(m->vm_fd);
	*m = MACHINE_NONE;
	errno = saved;
}

/* Guest RAM, firmware included, is memslot 0, from guest-physical 0, in
 * the guest's own slice of the arena: the VM's only memslot. */
int machine_map_ram(int vm_fd, u8 *ram)
{
	struct kvm_userspace_memory_region slot = {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = ram ? GUEST_RAM_SIZE : 0, /* size 0 deletes the slot */
		.userspace_addr = (u64)(uintptr_t)ram,
	};

	return kvm_ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &slot);
}
