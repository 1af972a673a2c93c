/* tickfloor.S - the raw tick floor's guest: a timer tick's path with nothing but KVM around it (bench/floor.c). */
#include "pc.inc"

/*
 * What one PIT tick of an idle guest costs at least: the host injects an
 * interrupt into a guest halted in `sti; hlt`, its handler sends the EOI
 * (one `out` to the master PIC) and returns, and the guest halts again.
 * bench/floor.c runs this with no PIT and no PIC: it injects TICK_VECTOR
 * itself, once per `hlt`, as fast as it can, and times N of them.
 *
 * Before that, OUT_COUNT EOI writes in a row with interrupts off: the cost
 * of one such `out` alone (exiting, or coalesced when bench/floor.c has
 * registered port 0x20 with KVM_REGISTER_COALESCED_MMIO).
 * Only instructions KVM's emulator knows: kvm_pvm emulates real mode.
 */
#define TICK_VECTOR 0x20	/* bench/floor.c injects the same vector */
#define OUT_COUNT 10000		/* bench/floor.c counts the outs it sees, so need not know this */

	.text
	.globl _start
_start:
	BOOT_PROLOGUE
	movl $tick, IVT_ADDR + 4 * TICK_VECTOR
	hlt				/* interrupts off: set up; the host starts timing */
	mov $OCW2_EOI, %al
	mov $OUT_COUNT, %cx
1:	out %al, $PIC_MASTER_CMD
	dec %cx
	jnz 1b
	hlt				/* interrupts off: the outs are done */
idle:
	sti				/* an interrupt injected at this hlt is taken at once */
	hlt
	jmp idle

/* The tick: EOI to the master 8259A (OCW2, non-specific), then back to idle
 * (AX needs no saving: the idle loop does not use it). */
tick:
	mov $OCW2_EOI, %al
	out %al, $PIC_MASTER_CMD
	iret

	SECTOR_END
