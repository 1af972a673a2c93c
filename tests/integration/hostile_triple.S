/* hostile_triple.S - hostile guest: triple-faults the CPU in real mode (empty IDT and int3, then a push with SP = 1). */
/*
 * Among mvm guests in hostile.sh: it must end as failed with the reason
 * "triple fault", its VM released, its neighbours untouched.
 *
 * First the classic: an IDT limit of 0, then int3. A CPU that honours the
 * limit cannot deliver the #BP, nor the #GP that follows, and shuts down.
 * This host's kvm_pvm emulates real mode and delivers real-mode interrupts
 * through base + 4 * n without checking the limit (seen with `kvmlite run
 * --firmware none`: lidt 0 and int3, or ud2, just went on through the IVT,
 * as guest/crash.S notes). So vectors 3 and 6 point at the second attempt,
 * which every x86 honours: a PUSH in real mode with SP = 1 has no room for
 * the #SS it would raise, and the processor shuts down (Intel SDM vol. 2,
 * PUSH, "Operation"). kvm_pvm exits with KVM_EXIT_SHUTDOWN there, when
 * the stack segment lies where there is no RAM.
 * crash.S (protected mode, ud2) is the built-in triple fault; this one
 * never leaves real mode.
 */
#include "diff.inc"
main:
	SAY "triple\n"
	movl $sp_one, 4 * 3		/* #BP delivered through the IVT after all: */
	movl $sp_one, 4 * 6		/* go on to the second attempt, at 0000:sp_one */
	lidt empty_idt
	int3
sp_one:
	mov $0xf000, %ax		/* the stack where there is no RAM: this host's */
	mov %ax, %ss			/* emulator checks the limit only on an access */
	mov $1, %sp			/* it cannot complete in RAM (with SS = 0 and */
					/* RAM at 0x10000 the push just wrapped) */
	push %ax
	jmp .				/* not reached */

empty_idt:
	.word 0				/* limit: not even vector 0 fits */
	.long 0
	SECTOR_END
