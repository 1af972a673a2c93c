/* fuzz_exit.c - libFuzzer target: vm_handle_exit on random kvm_run contents; no access outside the I/O data. */
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "layout.h"
#include "vm.h"

typedef unsigned __int128 u128;

/*
 * The kvm_run mapping is shared with the kernel and vm.c trusts none of
 * it. Here it is a heap buffer of exactly run_size bytes, so AddressSanitizer
 * catches any access past the mapping; and the harness compares the buffer
 * before and after each exit, because the dispatch may write only the I/O
 * data of an `in` or the mmio.data of an MMIO read, nothing else. The VM is
 * built without KVM as tests/unit/test_vm_exit.c builds it: vcpu_fd -1,
 * so the ioctls that name the guest's CS:IP in messages fail harmlessly.
 */

static struct trace trace_sink; /* --trace output goes nowhere, but its formatting runs */
static u8 *ram;		 /* the guest's RAM: the firmware's ports (int 13h) reach into it */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	trace_sink.out = fopen("/dev/null", "w");
	ram = calloc(1, GUEST_RAM_SIZE);
	return 0;
}

/* Each device's ports, the ports around them, and wide accesses that straddle two devices or wrap at 0xffff. */
static const u16 ports[] = {
	COM1_BASE,	     COM1_BASE + 1,	  COM1_BASE + 2,  COM1_BASE + 3,   COM1_BASE + 4,	COM1_BASE + 5,
	COM1_BASE + 6,	     COM1_BASE + 7,	  COM1_BASE - 1,  PIT_BASE,	   PIT_BASE + 1,	PIT_BASE + 2,
	PIT_BASE + 3,	     PIT_BASE - 1,	  PIC_MASTER_CMD, PIC_MASTER_DATA, PIC_SLAVE_CMD,	PIC_SLAVE_DATA,
	PORT_SYSCTL_B,	     PORT_KBD_CMD,	  PORT_POST,	  PORT_RESET_CTRL, PORT_RESET_CTRL - 1, DEBUG_EXIT_PORT,
	DEBUG_EXIT_PORT + 1, DEBUG_EXIT_PORT - 1, 0xffff,	  0x1234,	   FW_EVENT_PORT,	FW_DISK_PORT,
	FW_SCREEN_PORT,
};

/* The exits KVM gives kvmlite; I/O four times over, as the bounds checks live there. */
static const u32 reasons[] = {
	KVM_EXIT_IO,
	KVM_EXIT_IO,
	KVM_EXIT_IO,
	KVM_EXIT_IO,
	KVM_EXIT_MMIO,
	KVM_EXIT_HLT,
	KVM_EXIT_INTR,
	KVM_EXIT_IRQ_WINDOW_OPEN,
	KVM_EXIT_SHUTDOWN,
	KVM_EXIT_FAIL_ENTRY,
	KVM_EXIT_INTERNAL_ERROR,
	KVM_EXIT_SYSTEM_EVENT,
	KVM_EXIT_X86_RDMSR,
	KVM_EXIT_X86_WRMSR,
};

struct rig {
	struct vm vm;
	struct kvm_run *run;
	u8 *before; /* the mapping as it was before the exit */
	int run_size;
	bool trace;
	u64 output; /* bytes the guest sent on COM1 */
};

static void rig_output(void *ctx, struct vm *vm, u8 byte)
{
	struct rig *r = ctx;

	(void)vm;
	(void)byte;
	r->output++;
}

/* A new guest in power-on state on the same mapping (a guest that ended is never entered again). */
static void rig_fresh_vm(struct rig *r)
{
	vgatext_free(r->vm.vga); /* what the last guest made */
	disk_free(&r->vm.disk);
	free(r->vm.why);
	memset(&r->vm, 0, sizeof(r->vm));
	r->vm.ram = ram;
	r->vm.run = r->run;
	r->vm.run_size = r->run_size;
	r->vm.vcpu_fd = -1;
	r->vm.cfg.trace = r->trace ? &trace_sink : NULL;
	r->vm.cfg.output = rig_output;
	r->vm.cfg.output_ctx = r;
	vm_wire_devices(&r->vm);
}

/* What KVM would put in kvm_run for an `in`/`out`, except that any field may be anything. */
static void fill_io(struct rig *r, struct fuzz_in *in)
{
	struct kvm_run *run = r->run;
	u8 b = fuzz_u8(in);
	u128 end;

	run->io.direction = b < 0xf0 ? (b & 1) : b;
	b = fuzz_u8(in);
	run->io.size = b < 0xf0 ? (u8)fuzz_size(in) : b;
	b = fuzz_u8(in);
	run->io.port = b < 0xc0 ? ports[b % ARRAY_SIZE(ports)] : fuzz_u16(in);
	b = fuzz_u8(in);
	run->io.count = b < 0xe0 ? b % 8 + 1u : b < 0xf0 ? fuzz_u16(in) : b == 0xf0 ? 0 : fuzz_u32(in);
	/* The offset: where KVM puts it (the second page), anywhere inside, near the end, or anything. */
	switch (fuzz_u8(in) % 4) {
	case 0:
		run->io.data_offset = r->run_size > 4096 ? 4096 : sizeof(struct kvm_run);
		break;
	case 1:
		run->io.data_offset = fuzz_u16(in) % ((u32)r->run_size + 16);
		break;
	case 2:
		run->io.data_offset = (u64)r->run_size - fuzz_u8(in) % 16;
		break;
	default:
		run->io.data_offset = fuzz_u64(in);
		break;
	}
	/* The data of an `out` that lies inside the mapping, its first 64 bytes (it may overlay the fields above). */
	end = (u128)run->io.data_offset + (u128)run->io.size * run->io.count;
	if (run->io.direction != KVM_EXIT_IO_OUT || end > (u128)r->run_size)
		return;
	for (u64 i = run->io.data_offset; i < (u64)end && i < run->io.data_offset + 64; i++)
		((u8 *)run)[i] = fuzz_u8(in);
}

/* Whether the I/O exit in kvm_run describes data that lies wholly inside the mapping. */
static bool io_sane(const struct rig *r)
{
	const struct kvm_run *run = r->run;
	u8 size = run->io.size;

	return (size == 1 || size == 2 || size == 4) && run->io.count &&
	       (u128)run->io.data_offset + (u128)size * run->io.count <= (u128)r->run_size;
}

/* One exit: fill kvm_run, dispatch, check. */
static void rig_exit(struct rig *r, struct fuzz_in *in)
{
	struct kvm_run *run = r->run;
	struct vm *vm = &r->vm;
	u8 sel = fuzz_u8(in), devices[sizeof(vm->uart) + sizeof(vm->pit) + sizeof(vm->pic)];
	u64 lo = 0, hi = 0, output = r->output, n;
	enum vm_state state;
	u32 reason;
	bool sane, if_flag;

	vm->state = state = VM_RUNNING; /* as vm_run() sets it before it enters the guest */
	run->exit_reason = sel < 0xf0 ? reasons[sel % ARRAY_SIZE(reasons)] : fuzz_u32(in);
	run->if_flag = fuzz_u8(in) & 1;
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		fill_io(r, in);
		break;
	case KVM_EXIT_MMIO:
		run->mmio.phys_addr = fuzz_u64(in);
		n = fuzz_u8(in);
		run->mmio.len = n < 0xf0 ? (u32)n % 9 : fuzz_u32(in);
		run->mmio.is_write = fuzz_u8(in) & 1;
		for (int i = 0; i < 8; i++)
			run->mmio.data[i] = fuzz_u8(in);
		break;
	case KVM_EXIT_X86_RDMSR:
	case KVM_EXIT_X86_WRMSR:
		run->msr.index = fuzz_u32(in);
		run->msr.data = fuzz_u64(in);
		run->msr.error = fuzz_u8(in);
		break;
	default: /* the other exits read the first bytes of the union (fail_entry, internal, system_event) */
		for (int i = 0; i < 16; i++)
			((u8 *)&run->fail_entry)[i] = fuzz_u8(in);
		break;
	}
	reason = run->exit_reason;
	if_flag = run->if_flag;
	sane = reason == KVM_EXIT_IO && io_sane(r);
	/* The only bytes the dispatch may write: the data of an `in`, or mmio.data for a read. */
	if (sane && run->io.direction != KVM_EXIT_IO_OUT) {
		lo = run->io.data_offset;
		hi = lo + (u64)run->io.size * run->io.count;
	} else if (reason == KVM_EXIT_MMIO && !run->mmio.is_write) {
		lo = offsetof(struct kvm_run, mmio.data);
		hi = lo + (run->mmio.len < 8 ? run->mmio.len : 8);
	} else if (reason == KVM_EXIT_X86_RDMSR || reason == KVM_EXIT_X86_WRMSR) {
		lo = offsetof(struct kvm_run, msr.error); /* the answer: #GP */
		hi = lo + sizeof(run->msr.error);
	}
	memcpy(r->before, run, (size_t)r->run_size);
	memcpy(devices, &vm->uart, sizeof(vm->uart));
	memcpy(devices + sizeof(vm->uart), &vm->pit, sizeof(vm->pit));
	memcpy(devices + sizeof(vm->uart) + sizeof(vm->pit), &vm->pic, sizeof(vm->pic));

	vm_handle_exit(vm);

	FUZZ_CHECK(!memcmp(r->before, run, lo));
	FUZZ_CHECK(!memcmp(r->before + hi, (u8 *)run + hi, (size_t)r->run_size - hi));
	FUZZ_CHECK(vm->state != VM_ENDED || vm->why); /* an ended guest says why */
	FUZZ_CHECK(strnlen(vm_why(vm), VM_WHY_MAX) < VM_WHY_MAX);
	switch (reason) { /* saved: an `in` whose data overlays the header may have rewritten it */
	case KVM_EXIT_IO:
		if (sane) {
			FUZZ_CHECK(vm->end != VM_END_HOST_ERROR);
			break;
		}
		/* A malformed exit ends the guest and reaches no device. */
		FUZZ_CHECK(vm->state == VM_ENDED && vm->end == VM_END_HOST_ERROR);
		FUZZ_CHECK(!memcmp(devices, &vm->uart, sizeof(vm->uart)));
		FUZZ_CHECK(!memcmp(devices + sizeof(vm->uart), &vm->pit, sizeof(vm->pit)));
		FUZZ_CHECK(!memcmp(devices + sizeof(vm->uart) + sizeof(vm->pit), &vm->pic, sizeof(vm->pic)));
		FUZZ_CHECK(r->output == output);
		break;
	case KVM_EXIT_HLT:
		if (!if_flag)
			FUZZ_CHECK(vm->state == VM_ENDED && vm->end == VM_END_HALT);
		else /* asleep unless an interrupt is already waiting */
			FUZZ_CHECK(vm->state == (pic_intr(&vm->pic) ? VM_RUNNING : VM_HALTED));
		break;
	case KVM_EXIT_MMIO:
	case KVM_EXIT_INTR:
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		FUZZ_CHECK(vm->state == state); /* nothing to do before the next entry */
		break;
	case KVM_EXIT_SHUTDOWN:
		FUZZ_CHECK(vm->end == VM_END_SHUTDOWN);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		FUZZ_CHECK(vm->end == VM_END_FAIL_ENTRY);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		FUZZ_CHECK(vm->end == VM_END_INTERNAL_ERROR);
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		FUZZ_CHECK(vm->end == VM_END_SYSTEM_EVENT);
		break;
	case KVM_EXIT_X86_RDMSR: /* an MSR outside the allowlist: #GP, and the guest goes on */
	case KVM_EXIT_X86_WRMSR:
		FUZZ_CHECK(run->msr.error == 1 && vm->state == state);
		break;
	default:
		FUZZ_CHECK(vm->end == VM_END_UNKNOWN_EXIT);
		break;
	}
	if (vm->state == VM_ENDED)
		rig_fresh_vm(r);
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct rig r = { 0 };

	/* A mapping at least as large as struct kvm_run (KVM's is 3 pages on x86), of any size above. */
	r.run_size = (int)(sizeof(struct kvm_run) + fuzz_u16(&in) % (16384 - sizeof(struct kvm_run)));
	r.trace = fuzz_u8(&in) & 1;
	r.run = calloc(1, (size_t)r.run_size);
	r.before = malloc((size_t)r.run_size);
	if (!r.run || !r.before)
		abort();
	memset(ram, 0, GUEST_RAM_SIZE); /* each input from the same start */
	rig_fresh_vm(&r);
	for (int i = 0; in.left && i < 256; i++)
		rig_exit(&r, &in);
	vgatext_free(r.vm.vga);
	disk_free(&r.vm.disk);
	free(r.vm.why);
	free(r.run);
	free(r.before);
	return 0;
}
