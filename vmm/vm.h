/* vm.h - one guest: its vCPU, its devices by value, its state; runs one KVM_RUN at a time for any scheduler. */
#ifndef KVMLITE_VM_H
#define KVMLITE_VM_H

#include <stdio.h>

#include "bios.h"
#include "clock.h"
#include "disk.h"
#include "devices/i8254.h"
#include "devices/i8259.h"
#include "devices/uart16550.h"
#include "devices/vgatext.h"
#include "kvm.h"
#include "loader.h"
#include "machine.h"
#include "trace.h"
#include "types.h"

/* A guest that has written nothing this long after it started is reported
 * silent, with what it does (vm_describe), by default (--boot-timeout). */
#define BOOT_TIMEOUT_S 5.0

/* The longest text of what happened to a guest (vm->why), with its NUL:
 * a wire line to the supervisor carries it whole. */
#define VM_WHY_MAX 128

struct kvm_run;
struct kvm_regs;
struct kvm_sregs;
struct vm;

/*
 * A guest is RUNNING (wants the CPU), HALTED (in `hlt` with interrupts on:
 * it needs no CPU until an interrupt is due) or ENDED (for a reason below;
 * its vCPU is never entered again). Who runs it, and on which thread, is
 * not the VM's business: vm_run() enters the guest once and returns.
 */
enum vm_state { VM_RUNNING, VM_HALTED, VM_ENDED };

/* Where a byte of a guest's output came from (vm_output() in vm.c) */
enum vm_out { VM_OUT_SERIAL, VM_OUT_TELETYPE, VM_OUT_VGA };

enum vm_end {
	VM_END_NONE,
	VM_END_HALT,	       /* hlt with interrupts off: nothing can wake it */
	VM_END_IDLE,	       /* hlt with interrupts on, but no source of interrupts is left */
	VM_END_DEBUG_EXIT,     /* wrote to the debug-exit port */
	VM_END_SHUTDOWN,       /* triple fault */
	VM_END_RESET,	       /* asked for a reset (port 0x64 or 0xcf9) */
	VM_END_FAIL_ENTRY,     /* the CPU refused to enter the guest */
	VM_END_INTERNAL_ERROR, /* KVM could not run it, e.g. emulation failure */
	VM_END_SYSTEM_EVENT,   /* KVM_EXIT_SYSTEM_EVENT */
	VM_END_UNKNOWN_EXIT,   /* an exit kvmlite does not handle */
	VM_END_HOST_ERROR,     /* an ioctl on the host side failed */
	VM_END_STOPPED,	       /* stopped by the user */
};

struct vm_stats {
	u64 exits, io_exits, kicks;
	u64 coalesced; /* port writes that waited in KVM's ring instead of exiting (machine.c) */
	u64 hlts, irqs_injected;
	u64 mmio_reads, mmio_writes;
	u64 vga_accesses; /* MMIO exits to the text buffer, not counted in mmio_* */
	u64 unknown_port_reads, unknown_port_writes;
	u64 msrs_refused; /* rdmsr/wrmsr outside the MSR filter's allowlist: #GP */
};

struct vm_config {
	u32 index;		       /* the guest's number, passed in ESI */
	bool firmware;		       /* start in the firmware (in RAM at FIRMWARE_ADDR), or straight at 0000:7c00 */
	const struct disk_image *disk; /* the image as the guest's hard disk (int 13h), shared */
	const struct trace *trace;     /* --trace: every exit is decoded there (the caller's); NULL for most guests */
	void (*output)(void *ctx, struct vm *vm, u8 byte); /* bytes the guest sends on COM1 */
	void *output_ctx;
};

struct vm {
	u32 index;
	enum vm_state state;
	enum vm_end end;
	u32 exit_code; /* the value written to the debug-exit port */
	char *why;     /* what happened (it ended, is silent, failed to resume), for people: allocated when it
			* happens (vm_set_why), NULL for most guests; read it with vm_why(), free it with the vm */
	int vcpu_fd;   /* the only fd a guest keeps after setup; -1 while it has no VM (parked) */
	int vm_fd;     /* -1, unless its VM will carry another guest later */
	struct kvm_run *run;
	struct kvm_coalesced_mmio_ring *ring; /* its machine's coalesced port writes (machine.c); NULL: none */
	int run_size;
	bool events_synced; /* run->s.regs.events is the vCPU's own: copied out at its last exit, not set by an ioctl since */
	u8 out_last;	    /* the last byte of its output (COM1, int 10h, the text buffer) */
	u8 out_src;	    /* where it came from: enum vm_out */
	bool out_any;	    /* it has written */
	u8 *ram;	    /* GUEST_RAM_SIZE bytes of the arena */
	struct uart uart;   /* COM1 */
	struct pit pit;
	struct pic pic;
	struct bios bios;    /* what the firmware said: when it was done, services it lacks */
	struct disk disk;    /* its hard disk: the shared image and the sectors it wrote */
	struct vgatext *vga; /* the text buffer, made on its first access: NULL for most guests */
	struct vm_stats stats;
	struct vm_config cfg;
};

/* Creates the KVM VM and vCPU, maps RAM (already holding the boot sector
 * and, if any, the firmware), sets the reset state. -1 with err on failure. */
int vm_init(struct vm *vm, const struct kvm *kvm, u8 *ram, const struct vm_config *cfg, char *err, size_t errlen);
/* Releases the guest's KVM VM and vCPU; its devices and state stay readable. */
void vm_destroy(struct vm *vm);

/*
 * The steps of vm_init, for a scheduler that moves guests between
 * machines (machine.c): vm_setup() prepares the guest without KVM;
 * vm_attach() maps the guest's RAM into a machine and vm_detach() takes
 * it out again, handing the machine back; vm_boot() sets the reset state.
 * On failure they return -1 with errno set and *what naming the call.
 */
void vm_setup(struct vm *vm, u8 *ram, const struct vm_config *cfg);
int vm_attach(struct vm *vm, const struct machine *m, int run_size, const char **what);
void vm_detach(struct vm *vm, struct machine *m);
/* base: the segment registers of a new vCPU (a reused one's, from park_probe());
 * NULL: the vCPU's own, as KVM made it. */
int vm_boot(struct vm *vm, const struct kvm_sregs *base, const char **what);
/* Puts the devices in their power-on state and wires their interrupts
 * (part of vm_init; unit tests use it to build a VM without KVM). */
void vm_wire_devices(struct vm *vm);

/* Enters the guest once (injecting a due interrupt first) and handles the exit. */
void vm_run(struct vm *vm);
/* Delivers what became due by `now` (PIT deadlines) and wakes a halted guest
 * that has an interrupt to take. */
void vm_advance(struct vm *vm, u64 now);
/* When this guest next needs attention without any input: UINT64_MAX if never. */
u64 vm_deadline(const struct vm *vm);
/* Ends the guest for a reason; it is never entered again. */
void vm_end(struct vm *vm, enum vm_end end, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Handles the exit described in vm->run (exposed for unit tests of the dispatch). */
void vm_handle_exit(struct vm *vm);

const char *vm_end_name(enum vm_end end);
/* Sets what happened to the guest, for people (at most VM_WHY_MAX - 1
 * bytes of text). The text is allocated only now: most guests never need
 * one, and a parked guest should not carry room for it. */
void vm_set_why(struct vm *vm, const char *text);
/* What vm_set_why() said; without a text (never set, or no memory for it)
 * the name of the reason it ended ("running" if it has not). */
const char *vm_why(const struct vm *vm);

/*
 * What a guest that has written nothing is doing, for people: where it
 * runs or sleeps, and the likeliest reason (a BIOS service the firmware
 * lacks, a BIOS call with no firmware). vm_describe() takes registers
 * from the caller (a parked guest's record); vm_describe_live() reads its
 * vCPU (-1 if it cannot: then only the state).
 */
void vm_describe(const struct vm *vm, const struct kvm_regs *r, const struct kvm_sregs *sr, bool halted, char *buf,
		 size_t len);
int vm_describe_live(struct vm *vm, char *buf, size_t len);

#endif
