/* vm.c - one guest on KVM: creation, interrupt injection, KVM_RUN, and the exit dispatch to the devices. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "fault.h"
#include "kick.h"
#include "layout.h"
#include "machine.h"
#include "mem.h"
#include "trace.h"
#include "vm.h"

static void vm_drain(struct vm *vm);

static const char *const end_names[] = {
	[VM_END_NONE] = "running",
	[VM_END_HALT] = "halted",
	[VM_END_IDLE] = "idle forever",
	[VM_END_DEBUG_EXIT] = "debug exit",
	[VM_END_SHUTDOWN] = "triple fault",
	[VM_END_RESET] = "reset",
	[VM_END_FAIL_ENTRY] = "entry failure",
	[VM_END_INTERNAL_ERROR] = "internal error",
	[VM_END_SYSTEM_EVENT] = "system event",
	[VM_END_UNKNOWN_EXIT] = "unknown exit",
	[VM_END_HOST_ERROR] = "host error",
	[VM_END_STOPPED] = "stopped",
};

const char *vm_end_name(enum vm_end end)
{
	return (unsigned)end < ARRAY_SIZE(end_names) ? end_names[end] : "?";
}

void vm_set_why(struct vm *vm, const char *text)
{
	free(vm->why);
	/* Without memory the text is lost, not the guest: vm_why() falls
	 * back on the reason's name (fault point "why" for tests, fault.h). */
	vm->why = fault_hit("why", vm->index) ? NULL : strndup(text, VM_WHY_MAX - 1);
}

const char *vm_why(const struct vm *vm)
{
	return vm->why ? vm->why : vm_end_name(vm->end);
}

void vm_end(struct vm *vm, enum vm_end end, const char *fmt, ...)
{
	char why[VM_WHY_MAX];
	va_list ap;

	if (vm->state == VM_ENDED)
		return;
	vm->state = VM_ENDED;
	vm->end = end;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	vm_set_why(vm, why);
}

/* Where the guest was, for messages: CS:IP as a real-mode programmer reads it. */
static void vm_where(struct vm *vm, char *buf, size_t len)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;

	if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &regs) < 0 || ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		snprintf(buf, len, "at an unknown RIP");
	else
		snprintf(buf, len, "at CS:IP %04x:%04llx (RIP 0x%llx)", sregs.cs.selector, regs.rip & 0xffff, regs.rip);
}

/* The vector of the `int` that pushed the frame at SS:SP, if the IVT has
 * nothing for it (0000:0000): a BIOS call made with no firmware. 0 if not. */
static u8 vm_call_into_empty_ivt(const struct vm *vm, const struct kvm_regs *r, const struct kvm_sregs *sr)
{
	const u16 *frame = mem_guest_ptr(vm->ram, GUEST_RAM_SIZE, sr->ss.base + (r->rsp & 0xffff), 4);
	const u8 *op;
	const u32 *vec;

	if (!frame)
		return 0;
	op = mem_guest_ptr(vm->ram, GUEST_RAM_SIZE, ((u64)frame[1] << 4) + frame[0] - 2, 2);
	if (!op || op[0] != 0xcd || op[1] == 0)
		return 0;
	vec = mem_guest_ptr(vm->ram, GUEST_RAM_SIZE, IVT_ADDR + 4u * op[1], 4);
	return vec && *vec == 0 ? op[1] : 0;
}

void vm_describe(const struct vm *vm, const struct kvm_regs *r, const struct kvm_sregs *sr, bool halted, char *buf,
		 size_t len)
{
	u16 cs = sr->cs.selector, ip = (u16)r->rip;
	u8 vec = vm->cfg.firmware ? 0 : vm_call_into_empty_ivt(vm, r, sr);
	const char *doing = halted ? "halted" : "running";

	if (vm->bios.missing_total)
		snprintf(buf, len,
			 "called int %02xh AH=%02x, which kvmlite's firmware does not provide (it returned CF set); %s "
			 "at "
			 "%04x:%04x",
			 vm->bios.missing_last >> 8, vm->bios.missing_last & 0xff, doing, cs, ip);
	else if (vec)
		snprintf(buf, len, "executing at %04x:%04x after int %02xh with an empty IVT: try --firmware pc", cs,
			 ip, vec);
	else if (!vm->cfg.firmware && sr->cs.base + ip < BDA_ADDR + 0x100)
		snprintf(buf, len,
			 "executing the empty IVT at %04x:%04x (a BIOS call with no firmware?): try --firmware pc", cs,
			 ip);
	else if (halted)
		snprintf(buf, len, "halted at %04x:%04x, waiting for an interrupt%s", cs, ip,
			 vm_deadline(vm) == UINT64_MAX ? " (its PIT is stopped: only COM1 input can wake it)" : "");
	else if (vm->cfg.firmware && cs == FIRMWARE_SEG)
		snprintf(buf, len, "running in kvmlite's firmware at %04x:%04x, inside a BIOS call", cs, ip);
	else
		snprintf(buf, len, "%s at %04x:%04x", doing, cs, ip);
}

int vm_describe_live(struct vm *vm, char *buf, size_t len)
{
	struct kvm_regs r;
	struct kvm_sregs sr;

	if (vm->vcpu_fd < 0 || kvm_ioctl(vm->vcpu_fd, KVM_GET_REGS, &r) < 0 ||
	    kvm_ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sr) < 0) {
		snprintf(buf, len, "%s", vm->state == VM_HALTED ? "halted" : "running");
		return -1;
	}
	vm_describe(vm, &r, &sr, vm->state == VM_HALTED, buf, len);
	return 0;
}

/*
 * All the guest's output goes out here: COM1, int 10h's characters, and
 * what the text buffer shows. Under QEMU the screen and the serial line
 * are two places; here they are one stream, so output from another source
 * than the last starts a new line if the last did not end one: a screen
 * line and a serial one never run together.
 */
static void vm_output(struct vm *vm, u8 byte, enum vm_out src)
{
	if (src != vm->out_src && vm->out_any && vm->out_last != '\n') {
		vm->out_last = '\n';
		if (vm->cfg.output)
			vm->cfg.output(vm->cfg.output_ctx, vm, '\n');
	}
	if (src != VM_OUT_VGA && vm->out_src == VM_OUT_VGA)
		vgatext_line_break(vm->vga);
	vm->out_src = src;
	vm->out_any = true;
	vm->out_last = byte;
	if (vm->cfg.output)
		vm->cfg.output(vm->cfg.output_ctx, vm, byte);
}

static void uart_to_vm(void *ctx, u8 byte)
{
	vm_output(ctx, byte, VM_OUT_SERIAL);
}

static void vga_to_vm(void *ctx, u8 byte)
{
	vm_output(ctx, byte, VM_OUT_VGA);
}

void vm_wire_devices(struct vm *vm)
{
	/* Devices in power-on state, wired as on a PC: PIT OUT0 and COM1 to
	 * the PIC pair, whose INT output vm_inject() reads. */
	pic_init(&vm->pic);
	pit_init(&vm->pit, (struct irq_line){ pic_set_irq, &vm->pic, IRQ_PIT }, clock_now());
	uart_init(&vm->uart, (struct irq_line){ pic_set_irq, &vm->pic, IRQ_COM1 }, uart_to_vm, vm);
	vm->state = VM_RUNNING;
}

/* The CPU state a guest starts in: real mode, at the firmware's reset
 * stub or directly at the boot sector, with the guest index in ESI. */
static int vm_reset_cpu(struct vm *vm, const struct kvm_sregs *base)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = {
		.rflags = 0x2, /* bit 1 is always set; IF off */
		.rsi = vm->index,
		.rdx = BOOT_DRIVE,
		.rsp = BOOT_STACK,
	};

	if (base)
		sregs = *base;
	else if (kvm_ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return -1;
	/* KVM's reset state is already real mode; only the code segment moves.
	 * A real PC starts 16 bytes below the top of its ROM (physical
	 * 0xfffffff0); the firmware, in the guest's RAM, has its own such stub. */
	if (vm->cfg.firmware) {
		sregs.cs.selector = FIRMWARE_SEG;
		sregs.cs.base = (u64)FIRMWARE_SEG << 4;
		regs.rip = FIRMWARE_RESET_OFF;
	} else {
		sregs.cs.selector = 0;
		sregs.cs.base = 0;
		regs.rip = BOOT_ADDR;
	}
	sregs.ss.selector = sregs.ds.selector = sregs.es.selector = 0;
	sregs.ss.base = sregs.ds.base = sregs.es.base = 0;
	if (kvm_ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sregs) < 0 || kvm_ioctl(vm->vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return -1;
	return 0;
}

void vm_setup(struct vm *vm, u8 *ram, const struct vm_config *cfg)
{
	memset(vm, 0, sizeof(*vm));
	vm->cfg = *cfg;
	vm->index = cfg->index;
	vm->ram = ram;
	vm->vcpu_fd = vm->vm_fd = -1;
	vm->disk.img = cfg->disk;
	vm_wire_devices(vm);
}

int vm_attach(struct vm *vm, const struct machine *m, int run_size, const char **what)
{
	*what = "KVM_SET_USER_MEMORY_REGION (RAM)";
	if (machine_map_ram(m->vm_fd, vm->ram) < 0)
		return -1;
	vm->vm_fd = m->vm_fd;
	vm->vcpu_fd = m->vcpu_fd;
	vm->run = m->run;
	vm->ring = m->ring;
	vm->run_size = run_size;
	/* Until this guest's first exit, kvm_run's copy of the events is the
	 * last guest's (and parking or a reset sets them with an ioctl). */
	vm->events_synced = false;
	vm->run->kvm_dirty_regs = 0;
	return 0;
}

void vm_detach(struct vm *vm, struct machine *m)
{
	/* Deleting the slot also drops KVM's mappings of this guest's pages:
	 * the next guest on this VM cannot reach them. */
	if (machine_map_ram(vm->vm_fd, NULL) < 0) {
		/* Then the VM cannot be handed on safely: close it. */
		close(vm->vm_fd);
		vm->vm_fd = -1;
	}
	kick_forget(vm->run);
	vm_drain(vm); /* empty after every KVM_RUN already: none of it may reach the next guest */
	*m = (struct machine){
		.vm_fd = vm->vm_fd, .vcpu_fd = vm->vcpu_fd, .run = vm->run, .ring = vm->ring, .used = true
	};
	vm->vm_fd = vm->vcpu_fd = -1;
	vm->run = NULL;
	vm->ring = NULL;
}

int vm_boot(struct vm *vm, const struct kvm_sregs *base, const char **what)
{
	*what = "KVM_SET_SREGS/KVM_SET_REGS";
	if (vm_reset_cpu(vm, base) < 0)
		return -1;
	/* Nothing is known about interrupts until the first exit. */
	vm->run->if_flag = vm->run->ready_for_interrupt_injection = 0;
	vm->run->immediate_exit = 0;
	vm->state = VM_RUNNING;
	return 0;
}

int vm_init(struct vm *vm, const struct kvm *kvm, u8 *ram, const struct vm_config *cfg, char *err, size_t errlen)
{
	struct machine m;
	const char *what;

	vm_setup(vm, ram, cfg);
	if (machine_create(kvm, &m, &what) < 0)
		goto fail;
	if (vm_attach(vm, &m, kvm->run_size, &what) < 0) {
		machine_destroy(&m, kvm->run_size);
		goto fail;
	}
	/* The vCPU holds a reference to its VM: the VM fd is not needed any
	 * more, and every fd kept per guest counts against RLIMIT_NOFILE. */
	close(vm->vm_fd);
	vm->vm_fd = -1;
	if (vm_boot(vm, NULL, &what) < 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "guest %u: %s: %s", vm->index, what, strerror(errno));
	vm_destroy(vm);
	return -1;
}

void vm_destroy(struct vm *vm)
{
	struct machine m;

	if (vm->vcpu_fd >= 0 || vm->vm_fd >= 0) {
		kick_forget(vm->run);
		m = (struct machine){ .vm_fd = vm->vm_fd, .vcpu_fd = vm->vcpu_fd, .run = vm->run };
		machine_destroy(&m, vm->run_size);
	}
	vm->run = NULL;
	vm->ring = NULL;
	vm->vcpu_fd = vm->vm_fd = -1;
	if (vm->state != VM_ENDED)
		vm_end(vm, VM_END_STOPPED, "stopped");
}

/* ---- port I/O: the PC's I/O map, one byte-wide port at a time ---- */

static void vm_reset_request(struct vm *vm, u16 port)
{
	vm_end(vm, VM_END_RESET, "reset requested through port 0x%x", port);
}

/*
 * One byte at one port. The PC's legacy devices are all 8 bits wide, so a
 * wider access is split here, as the ISA bus would, before routing.
 */
static u8 vm_port_io8(struct vm *vm, u16 port, u8 val, bool is_write)
{
	if (port >= COM1_BASE && port < COM1_BASE + COM1_PORTS)
		return (u8)uart_io(&vm->uart, port - COM1_BASE, val, 1, is_write);
	if (port >= PIT_BASE && port < PIT_BASE + PIT_PORTS)
		return (u8)pit_io(&vm->pit, port - PIT_BASE, val, 1, is_write, clock_now());
	switch (port) {
	case PIC_MASTER_CMD:
	case PIC_MASTER_DATA:
		return (u8)pic_io(&vm->pic, port - PIC_MASTER_CMD, val, 1, is_write);
	case PIC_SLAVE_CMD:
	case PIC_SLAVE_DATA:
		return (u8)pic_io(&vm->pic, 2 + port - PIC_SLAVE_CMD, val, 1, is_write);
	case PORT_SYSCTL_B:
		if (!is_write)
			return pit_port61_read(&vm->pit, clock_now());
		pit_port61_write(&vm->pit, val, clock_now());
		return 0;
	case PORT_KBD_CMD:
		/* Only the reset pulse of the 8042 is modelled. Reads say
		 * "input buffer empty", so a guest that waits for it before
		 * sending 0xfe (as Linux does) does not spin. */
		if (is_write && val == KBD_CMD_RESET)
			vm_reset_request(vm, port);
		return 0;
	case PORT_POST:
		return 0xff; /* POST codes and I/O delays: a known sink */
	}
	if (port == PORT_RESET_CTRL) {
		if (is_write && (val & 0x04))
			vm_reset_request(vm, port);
		return 0;
	}
	/* No device: reads float high, writes vanish, both are counted. */
	if (is_write)
		vm->stats.unknown_port_writes++;
	else
		vm->stats.unknown_port_reads++;
	return 0xff;
}

/* An int 13h call the firmware handed over; one it lacks is counted as such. */
static void vm_disk_call(struct vm *vm, u32 frame)
{
	u8 fn;
	int r = disk_call(&vm->disk, vm->ram, GUEST_RAM_SIZE, frame, &fn);
	char what[48];

	if (r < 0)
		bios_event(&vm->bios, (u16)(0x1300 | fn), clock_now());
	if (vm->cfg.trace) {
		snprintf(what, sizeof(what), "AH=%02x -> %s%02x", fn,
			 r < 0 ? "not provided, AH=" : "AH=", r < 0 ? DISK_RET_EPARAM : r);
		trace_event(vm->cfg.trace, "int 13h", what);
	}
}

/* One `in` or `out` of 1, 2 or 4 bytes; data points into the kvm_run page. */
static void vm_pio(struct vm *vm, u16 port, bool is_write, int size, u8 *data)
{
	u32 val = 0;

	if (is_write)
		memcpy(&val, data, (size_t)size);
	if (port >= DEBUG_EXIT_PORT && port < DEBUG_EXIT_PORT + DEBUG_EXIT_PORTS) {
		/* QEMU's isa-debug-exit takes the whole value, not bytes. */
		if (is_write) {
			vm->exit_code = val;
			vm_end(vm, VM_END_DEBUG_EXIT, "debug exit with value 0x%x", val);
		} else {
			memset(data, 0xff, (size_t)size);
		}
		return;
	}
	if (port == FW_DISK_PORT) {
		/* The firmware's int 13h: the whole call is done here (disk.c). */
		if (is_write && size == 4)
			vm_disk_call(vm, val);
		else if (!is_write)
			memset(data, 0xff, (size_t)size);
		return;
	}
	if (port == FW_SCREEN_PORT) {
		/* int 10h teletype: the character the firmware put on the screen */
		if (is_write && size == 1) {
			if (vm->cfg.trace)
				trace_screen(vm->cfg.trace, "int 10h teletype", (u8)val);
			vm_output(vm, (u8)val, VM_OUT_TELETYPE);
		} else if (!is_write) {
			memset(data, 0xff, (size_t)size);
		}
		return;
	}
	if (port == FW_EVENT_PORT) {
		/* The firmware's word: not an 8-bit device. */
		if (is_write && size == 2)
			bios_event(&vm->bios, (u16)val, clock_now());
		else if (!is_write)
			memset(data, 0xff, (size_t)size);
		if (vm->cfg.trace)
			trace_pio(vm->cfg.trace, port, is_write, size, is_write ? val : 0xffffffff, uart_dlab(&vm->uart));
		return;
	}
	for (int i = 0; i < size; i++) {
		u8 b = vm_port_io8(vm, (u16)(port + i), (u8)(val >> (8 * i)), is_write);

		if (!is_write)
			data[i] = b;
	}
	if (vm->cfg.trace) {
		if (!is_write)
			memcpy(&val, data, (size_t)size);
		trace_pio(vm->cfg.trace, port, is_write, size, val, uart_dlab(&vm->uart));
	}
}

static void vm_exit_io(struct vm *vm)
{
	struct kvm_run *run = vm->run;
	size_t size = run->io.size, count = run->io.count;
	u64 offset = run->io.data_offset;

	vm->stats.io_exits++;
	/* KVM fills these, but nothing read from shared memory is trusted:
	 * the data must lie inside the kvm_run mapping. */
	if ((size != 1 && size != 2 && size != 4) || count == 0 || offset > (u64)vm->run_size ||
	    size * count > (u64)vm->run_size - offset) {
		vm_end(vm, VM_END_HOST_ERROR, "malformed I/O exit: port 0x%x size %zu count %zu offset %llu",
		       run->io.port, size, count, (unsigned long long)offset);
		return;
	}
	/* String I/O (rep outsb/insb) arrives as one exit with count > 1. */
	for (size_t i = 0; i < count && vm->state != VM_ENDED; i++)
		vm_pio(vm, run->io.port, run->io.direction == KVM_EXIT_IO_OUT, (int)size,
		       (u8 *)run + offset + i * size);
}

static void vm_exit_mmio(struct vm *vm)
{
	struct kvm_run *run = vm->run;
	u32 len = run->mmio.len > sizeof(run->mmio.data) ? sizeof(run->mmio.data) : run->mmio.len;
	u64 addr = run->mmio.phys_addr;

	/* The text buffer: made on a guest's first access to it, so that the
	 * many guests that never touch it pay nothing. */
	if (addr >= VGA_TEXT_ADDR && addr < VGA_TEXT_ADDR + VGA_TEXT_WINDOW) {
		if (!vm->vga)
			vm->vga = vgatext_new(vga_to_vm, vm);
		if (vm->vga) {
			vm->stats.vga_accesses++;
			if (vm->cfg.trace)
				trace_vga(vm->cfg.trace, addr, run->mmio.is_write, run->mmio.data, len);
			vgatext_io(vm->vga, (u32)(addr - VGA_TEXT_ADDR), run->mmio.data, len, run->mmio.is_write);
			return;
		}
	}

	/* There are no MMIO devices: this is memory the guest does not have.
	 * Reads see all ones. */
	if (run->mmio.is_write) {
		vm->stats.mmio_writes++;
	} else {
		vm->stats.mmio_reads++;
		memset(run->mmio.data, 0xff, len);
	}
	if (vm->cfg.trace)
		trace_mmio(vm->cfg.trace, run->mmio.phys_addr, run->mmio.is_write, len);
}

/* An rdmsr or wrmsr the MSR filter refused (see machine_msrs_allowed, machine.c): #GP. */
static void vm_exit_msr(struct vm *vm)
{
	struct kvm_run *run = vm->run;
	char what[48];

	run->msr.error = 1; /* KVM injects #GP when the guest is entered again */
	vm->stats.msrs_refused++;
	if (vm->cfg.trace) {
		snprintf(what, sizeof(what), "MSR 0x%08x: not allowed, #GP", run->msr.index);
		trace_event(vm->cfg.trace, run->exit_reason == KVM_EXIT_X86_RDMSR ? "rdmsr" : "wrmsr", what);
	}
}

/* KVM_COALESCED_MMIO_MAX: the entries of the ring's one page (4 KiB on x86, kvm.c) */
#define VM_RING_MAX ((4096 - sizeof(struct kvm_coalesced_mmio_ring)) / sizeof(struct kvm_coalesced_mmio))

/*
 * The port writes KVM kept in the coalesced ring since the last exit
 * (machine.c says which ports, and why they may wait), handed to the
 * devices in the order the guest made them. vm_run() does this before it
 * looks at the exit, so the exit, every read and every interrupt decision
 * see them done, exactly as if each had exited. The ring is shared memory:
 * an index or entry that KVM would never write ends the guest, nothing is
 * read outside the page.
 */
static void vm_drain(struct vm *vm)
{
	struct kvm_coalesced_mmio_ring *ring = vm->ring;
	u32 first, last;

	if (!ring)
		return;
	first = ring->first;
	last = __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE); /* the entries before it are written */
	while (first != last && vm->state != VM_ENDED) {
		struct kvm_coalesced_mmio *e = &ring->coalesced_mmio[first % VM_RING_MAX];

		if (first >= VM_RING_MAX || last >= VM_RING_MAX || !e->pio || e->phys_addr > 0xffff ||
		    (e->len != 1 && e->len != 2 && e->len != 4)) {
			vm_end(vm, VM_END_HOST_ERROR, "malformed coalesced write ring: first %u last %u", first, last);
			break;
		}
		vm->stats.coalesced++;
		vm_pio(vm, (u16)e->phys_addr, true, (int)e->len, e->data);
		first = (first + 1) % VM_RING_MAX;
	}
	/* Emptied (or, after a host error, abandoned): KVM may reuse every slot. */
	__atomic_store_n(&ring->first, last < VM_RING_MAX ? last : 0, __ATOMIC_RELEASE);
}

void vm_handle_exit(struct vm *vm)
{
	struct kvm_run *run = vm->run;
	char where[80];

	vm->stats.exits++;
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vm_exit_io(vm);
		return;
	case KVM_EXIT_HLT:
		vm->stats.hlts++;
		if (vm->cfg.trace)
			trace_event(vm->cfg.trace, "hlt",
				    run->if_flag ? "interrupts on: sleeps until one is due"
						 : "interrupts off: the guest is done");
		if (!run->if_flag)
			vm_end(vm, VM_END_HALT, "halted with interrupts off");
		else if (!pic_intr(&vm->pic))
			vm->state = VM_HALTED;
		return;
	case KVM_EXIT_MMIO:
		vm_exit_mmio(vm);
		return;
	case KVM_EXIT_X86_RDMSR:
	case KVM_EXIT_X86_WRMSR:
		vm_exit_msr(vm);
		return;
	case KVM_EXIT_IRQ_WINDOW_OPEN:
	case KVM_EXIT_INTR:
		return; /* injection happens before the next entry */
	case KVM_EXIT_SHUTDOWN:
		vm_where(vm, where, sizeof(where));
		vm_end(vm, VM_END_SHUTDOWN, "triple fault (KVM_EXIT_SHUTDOWN) %s", where);
		return;
	case KVM_EXIT_FAIL_ENTRY:
		vm_end(vm, VM_END_FAIL_ENTRY, "KVM_EXIT_FAIL_ENTRY: hardware entry failure reason 0x%llx",
		       (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		return;
	case KVM_EXIT_INTERNAL_ERROR:
		vm_where(vm, where, sizeof(where));
		vm_end(vm, VM_END_INTERNAL_ERROR, "KVM_EXIT_INTERNAL_ERROR: %s (suberror %u) %s",
		       run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ? "emulation failure" : "internal error",
		       run->internal.suberror, where);
		return;
	case KVM_EXIT_SYSTEM_EVENT:
		vm_end(vm, VM_END_SYSTEM_EVENT, "KVM_EXIT_SYSTEM_EVENT type %u", run->system_event.type);
		return;
	default:
		vm_where(vm, where, sizeof(where));
		vm_end(vm, VM_END_UNKNOWN_EXIT, "unhandled KVM exit reason %u %s", run->exit_reason, where);
		return;
	}
}

/*
 * Hands KVM the vector to deliver at the next entry. Every vCPU ioctl
 * loads the vCPU on this thread first, which costs as much as a short
 * exit on some backends (kvm_pvm reads MSRs for it), so where kvm_run
 * carries the vCPU events (KVM_CAP_SYNC_REGS) the interrupt rides in with
 * KVM_RUN itself: the events KVM copied out at the last exit, with this
 * interrupt marked injected (as KVM_SET_VCPU_EVENTS would), marked dirty.
 * Otherwise, or when those events are stale, KVM_INTERRUPT.
 */
static int vm_inject_vector(struct vm *vm, u8 vector)
{
	struct kvm_run *run = vm->run;
	struct kvm_interrupt irq = { .irq = vector };

	if (vm->events_synced) {
		run->s.regs.events.interrupt.injected = 1;
		run->s.regs.events.interrupt.nr = vector;
		run->s.regs.events.interrupt.soft = 0;
		run->kvm_dirty_regs |= KVM_SYNC_X86_EVENTS;
		return 0;
	}
	return ioctl(vm->vcpu_fd, KVM_INTERRUPT, &irq);
}

/*
 * The PIC's INT line goes to the CPU. Without an in-kernel irqchip KVM
 * accepts an interrupt only when the guest can take it now (IF set, no
 * interrupt shadow): then the vector from the INTA cycle goes in. Otherwise
 * ask KVM to exit as soon as the guest can take one.
 */
static void vm_inject(struct vm *vm)
{
	struct kvm_run *run = vm->run;

	run->request_interrupt_window = 0;
	if (!pic_intr(&vm->pic))
		return;
	if (run->ready_for_interrupt_injection && run->if_flag) {
		u8 vector = (u8)pic_intack(&vm->pic);

		if (vm_inject_vector(vm, vector) < 0) {
			vm_end(vm, VM_END_HOST_ERROR, "KVM_INTERRUPT: %s", strerror(errno));
			return;
		}
		vm->stats.irqs_injected++;
		if (vm->cfg.trace)
			trace_irq(vm->cfg.trace, vector);
		/* The guest cannot take another before this one's handler ran. */
		if (pic_intr(&vm->pic))
			run->request_interrupt_window = 1;
	} else {
		run->request_interrupt_window = 1;
	}
}

void vm_run(struct vm *vm)
{
	if (vm->state == VM_ENDED)
		return;
	vm->state = VM_RUNNING;
	vm_inject(vm);
	if (vm->state == VM_ENDED)
		return;
	kick_target(vm->run);
	int r = ioctl(vm->vcpu_fd, KVM_RUN, 0);

	/* Whatever the result, KVM copied the events out on its way back. */
	vm->events_synced = (vm->run->kvm_valid_regs & KVM_SYNC_X86_EVENTS) != 0;
	vm_drain(vm); /* the writes the guest made before this exit, first */
	if (r < 0) {
		vm->run->immediate_exit = 0;
		/* EINTR: kicked by a timer or another thread; EAGAIN: the host
		 * was busy (seen under load). Both just mean "enter again". */
		if (errno == EINTR || errno == EAGAIN)
			vm->stats.kicks++;
		else
			vm_end(vm, VM_END_HOST_ERROR, "KVM_RUN: %s", strerror(errno));
		return;
	}
	vm_handle_exit(vm);
}

void vm_advance(struct vm *vm, u64 now)
{
	if (vm->state == VM_ENDED)
		return;
	if (pit_next_deadline(&vm->pit) <= now)
		pit_advance(&vm->pit, now);
	if (vm->state == VM_HALTED && pic_intr(&vm->pic))
		vm->state = VM_RUNNING;
}

u64 vm_deadline(const struct vm *vm)
{
	return vm->state == VM_ENDED ? UINT64_MAX : pit_next_deadline(&vm->pit);
}
