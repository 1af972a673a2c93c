/* reuse.S - shows the CPU state it starts with, then changes it and sleeps: the next guest on its VM must see reset values. */
/*
 * Run many of these with --park always --resident 1: each is parked when it
 * halts and the next boots on the same KVM VM. Each must print the reset
 * state, never what the one before it left: "dr0 00", "cr0 10", "cr4 00",
 * "fs 00", "dirty". (x87 state cannot be dirtied here: kvm_pvm emulates real
 * mode, and KVM's emulator knows no fldcw.)
 */
#include "diff.inc"
main:
	mov %dr0, %eax			/* debug registers: KVM_SET_DEBUGREGS */
	or %ah, %al
	SHOW "dr0"
	mov %cr0, %eax			/* control registers: KVM_SET_SREGS */
	SHOW "cr0"
	mov %cr4, %eax
	SHOW "cr4"
	mov %fs, %ax			/* segments: KVM_SET_SREGS */
	SHOW "fs"
	/* now leave a mark in each, as a nosy or hostile guest might */
	mov $0x5a5a5a5a, %eax
	mov %eax, %dr0
	mov %cr0, %eax
	or $0x02, %al			/* CR0.MP: harmless in real mode */
	mov %eax, %cr0
	mov %cr4, %eax
	or $0x04, %al			/* CR4.TSD: harmless at CPL 0 */
	mov %eax, %cr4
	mov $0x1234, %ax
	mov %ax, %fs
	SAY "dirty\n"
	sti				/* no interrupt source: it sleeps until stopped */
1:	hlt
	jmp 1b
	SECTOR_END
